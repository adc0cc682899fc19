"""Speech datasets: WAV folders and spoken digits, as 16 kHz waveforms.

Dataset names:
    `audio:PATH`: a folder of WAV files plus `transcripts.tsv`, one
        `file<TAB>text` line per clip (`file` relative to the folder).
        Every clip is read with `scipy.io.wavfile`, mixed down to mono,
        scaled to [-1, 1] and resampled to 16 kHz
        (`scipy.signal.resample_poly`). A file that is not a WAV, is empty
        or unreadable, a listed file that is missing, a WAV without a
        transcript or an empty transcript is an error naming the file.
    `spoken_digits`: utterances of 1-4 English digit words ("seven two
        nine") built at load time from the clips kerakit ships
        (`spoken_digits.npz`: ten voices of espeak-ng, a free speech
        synthesiser, each saying zero..nine, stored as 8 kHz 8-bit mu-law
        telephone speech; made by `scripts/make_spoken_digits.py`). The
        words of an utterance come from one voice, joined by seeded
        pauses, with a random gain, speed (x0.9-1.1) and light background
        noise (20-35 dB below the speech). Two voices are held out: test utterances use only them,
        training and validation only the other eight, so the test
        measures recognition of unheard voices.

Waveforms are float32 object arrays (clips differ in length); transcripts
are `str`. `log_mel` turns waveforms into keras-hub's Whisper log-mel
features (numpy, every backend).

Example:
>>> (x, y), (tx, ty) = spoken_digits(10, seed=0)
>>> len(x), len(tx), x[0].dtype, set(" ".join(y).split()) <= set(DIGITS)
(8, 2, dtype('float32'), True)
"""

from __future__ import annotations

import csv
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from kerakit.data.datasets import RawData
from kerakit.data.splits import DataError

SAMPLE_RATE = 16_000
TRANSCRIPTS = "transcripts.tsv"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven",
          "eight", "nine")
CLIPS_FILE = "spoken_digits.npz"


def resample(samples: np.ndarray, rate: int,
             target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a waveform from `rate` to `target` Hz (polyphase filter).

    Example:
    >>> resample(np.zeros(8000, "float32"), 8000).shape
    (16000,)
    """
    if rate == target:
        return samples.astype("float32")
    from scipy.signal import resample_poly

    common = math.gcd(int(rate), int(target))
    return resample_poly(samples, target // common,
                         int(rate) // common).astype("float32")


def read_wav(path: str | Path) -> np.ndarray:
    """A WAV file as mono float32 samples in [-1, 1] at 16 kHz.

    Raises:
        DataError: The file is missing, empty, not a WAV or unreadable;
            the message names the file and the fix.

    Example:
    >>> read_wav("no/such.wav")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kerakit.data.splits.DataError: no/such.wav: no such file...
    """
    from scipy.io import wavfile

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file. Check the name in "
                        f"{TRANSCRIPTS} or add the file.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty. Re-export it as a "
                        "WAV file or remove it and its transcript line.")
    try:
        rate, samples = wavfile.read(path)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(
            f"{path}: not a readable WAV file ({err}). Convert it to PCM "
            "WAV (e.g. `ffmpeg -i IN OUT.wav`) or remove it and its "
            "transcript line.") from None
    samples = np.asarray(samples)
    if samples.dtype.kind in "iu":
        info = np.iinfo(samples.dtype)
        middle = (int(info.max) + int(info.min) + 1) / 2
        samples = (samples.astype("float32") - middle) / (info.max - middle)
    samples = samples.astype("float32")
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise DataError(f"{path}: the WAV file holds no samples. Remove it "
                        "and its transcript line.")
    if not np.all(np.isfinite(samples)):
        raise DataError(f"{path}: the WAV file holds NaN or infinite "
                        "samples. Re-export it.")
    return resample(samples, rate)


def read_transcripts(folder: Path) -> dict[str, str]:
    """`{file name: text}` from `folder/transcripts.tsv` (checked)."""
    table = folder / TRANSCRIPTS
    if not table.is_file():
        raise DataError(
            f"{folder}: no {TRANSCRIPTS}. An audio dataset is a folder of "
            f"WAV files plus {TRANSCRIPTS} with one `file<TAB>text` line "
            "per file.")
    texts: dict[str, str] = {}
    with open(table, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(
                handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not "".join(row).strip():
                continue
            where = f"{table}, line {number}"
            if len(row) != 2:
                raise DataError(f"{where}: expected `file<TAB>text`, found "
                                f"{len(row)} field(s). Separate the file "
                                "name and its text with one tab.")
            name, text = row[0].strip(), " ".join(row[1].split())
            if not text:
                raise DataError(f"{where}: {name!r} has an empty "
                                "transcript. Write its text or drop it.")
            if name in texts:
                raise DataError(f"{where}: {name!r} is listed twice. Keep "
                                "one line per file.")
            texts[name] = text
    if not texts:
        raise DataError(f"{table}: no transcripts. Add one `file<TAB>text` "
                        "line per WAV file.")
    return texts


def load_audio_folder(folder: str | Path
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Waveforms, transcripts and file names of an `audio:PATH` folder.

    Files are taken in the order of `transcripts.tsv`. A `.wav` file in the
    folder without a transcript line is an error (a clip silently left
    out is a wrong dataset).

    Returns:
        `(waveforms, texts, names)`: object arrays of float32 waveforms and
        of `str`, and the file names.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"audio:{folder}: no such folder. Give a folder of "
                        f"WAV files plus {TRANSCRIPTS}.")
    texts = read_transcripts(folder)
    unlisted = sorted(p.name for p in folder.glob("*")
                      if p.suffix.lower() == ".wav" and p.name not in texts)
    if unlisted:
        raise DataError(
            f"{folder / unlisted[0]}: has no line in {TRANSCRIPTS} "
            f"({len(unlisted)} WAV file(s) without one). Add its "
            "transcript or move the file out of the folder.")
    waves = np.empty(len(texts), dtype=object)
    waves[:] = [read_wav(folder / name) for name in texts]
    return waves, np.array(list(texts.values()), dtype=object), list(texts)


def mu_law_decode(codes: np.ndarray, mu: int = 255) -> np.ndarray:
    """8-bit mu-law codes (int8, as `scripts/make_spoken_digits.py` stores
    the clips) back to float32 samples in [-1, 1].

    Example:
    >>> mu_law_decode(np.array([-127, 0, 127], "int8")).tolist()
    [-1.0, 0.0, 1.0]
    """
    curve = codes.astype("float32") / 127
    return (np.sign(curve) * np.expm1(np.abs(curve) * np.log1p(mu)) / mu
            ).astype("float32")


def digit_clips() -> dict[str, np.ndarray]:
    """The shipped espeak-ng digit clips (`spoken_digits.npz`), as arrays.

    Example:
    >>> clips = digit_clips()
    >>> len(clips["words"]), int(clips["rate"])
    (100, 8000)
    """
    source = resources.files("kerakit.data") / CLIPS_FILE
    with source.open("rb") as handle, np.load(handle) as data:
        return {key: data[key] for key in data.files}


def spoken_digits(examples: int, *, seed: int = 0,
                  test_fraction: float = 0.2) -> tuple[tuple, tuple]:
    """Utterances of 1-4 digit words from the shipped clips (module doc).

    Args:
        examples: Utterances in all; `round(examples * test_fraction)` of
            them (at least 1) use the held-out voices.
        seed: Seed of every draw (words, voices, pauses, gain, noise).
        test_fraction: Share of test utterances.

    Returns:
        `((waveforms, texts), (test waveforms, test texts))`, object
        arrays.
    """
    if examples < 3:
        raise DataError("dataset.examples must be at least 3 for "
                        f"'spoken_digits'. Received {examples}.")
    clips = digit_clips()
    rate = int(clips["rate"])
    offsets, audio = clips["offsets"], clips["audio"]
    words = [str(w) for w in clips["words"]]
    by_voice: dict[int, dict[str, np.ndarray]] = {}
    for i, voice in enumerate(clips["voice_ids"].tolist()):
        pcm = mu_law_decode(audio[offsets[i]:offsets[i + 1]])
        by_voice.setdefault(voice, {})[words[i]] = resample(pcm, rate)
    held_out = set(clips["test_voices"].tolist())
    train_voices = sorted(set(by_voice) - held_out)
    num_test = min(examples - 2, max(1, round(examples * test_fraction)))
    rng = np.random.default_rng(seed)
    parts = []
    for count, voices in ((examples - num_test, train_voices),
                          (num_test, sorted(held_out))):
        waves = np.empty(count, dtype=object)
        texts = np.empty(count, dtype=object)
        for row in range(count):
            said = list(rng.choice(DIGITS, size=rng.integers(1, 5)))
            waves[row] = _utterance(
                [by_voice[voices[rng.integers(len(voices))]][w]
                 for w in said], rng)
            texts[row] = " ".join(said)
        parts.append((waves, texts))
    return parts[0], parts[1]


def _utterance(words: list[np.ndarray], rng: np.random.Generator
               ) -> np.ndarray:
    """Words joined by pauses, sped up or slowed, scaled, with noise."""
    pieces = [np.zeros(int(rng.uniform(0.05, 0.2) * SAMPLE_RATE))]
    for word in words:
        pieces += [word, np.zeros(int(rng.uniform(0.03, 0.25)
                                      * SAMPLE_RATE))]
    speech = np.concatenate(pieces)
    speed = int(rng.integers(90, 111))  # percent: pitch and tempo change
    speech = resample(speech, speed, 100) if speed != 100 else speech
    speech = speech * rng.uniform(0.3, 1.0)
    loudness = np.sqrt(np.mean(speech ** 2))
    noise = rng.normal(size=speech.shape) * loudness * 10 ** (
        -rng.uniform(20, 35) / 20)
    return np.clip(speech + noise, -1, 1).astype("float32")


def load_audio_data(spec: dict[str, Any]) -> RawData:
    """The `RawData` of a recipe's `spoken_digits` or `audio:PATH` dataset
    (`spec`: its `[dataset]` table; `limit` > 0 caps each split).

    Example:
    >>> raw = load_audio_data({"name": "spoken_digits", "examples": 5})
    >>> len(raw.train[0]), len(raw.test[0]), raw.num_classes
    (4, 1, 0)
    """
    name = spec["name"]
    if name == "spoken_digits":
        train, test = spoken_digits(
            int(spec.get("examples", 2000)), seed=0,
            test_fraction=float(spec.get("test_fraction", 0.2)))
        raw = RawData(name, train, None, test, 0, [], 1.0)
    elif name.startswith("audio:"):
        waves, texts, _ = load_audio_folder(name[len("audio:"):])
        raw = RawData(name, (waves, texts), None, None, 0, [], 1.0)
    else:
        raise ValueError(f"Unknown audio dataset {name!r}: use "
                         "'spoken_digits' or 'audio:PATH'.")
    limit = int(spec.get("limit", 0))
    if limit:
        raw.train = (raw.train[0][:limit], raw.train[1][:limit])
        if raw.test is not None:
            raw.test = (raw.test[0][:limit], raw.test[1][:limit])
    return raw


def longest_seconds(waveforms: Any) -> int:
    """Whole seconds that hold the longest waveform (at least 1).

    Example:
    >>> longest_seconds([np.zeros(16000), np.zeros(16001)])
    2
    """
    return max(1, max(math.ceil(len(w) / SAMPLE_RATE) for w in waveforms))


def log_mel(waveforms: Any, seconds: int, num_mels: int = 80,
            batch_size: int = 64) -> np.ndarray:
    """Whisper log-mel features of 16 kHz waveforms (keras-hub's
    `WhisperAudioConverter`, run in numpy).

    Each waveform is padded with silence or cut to `seconds`; the result
    has 100 frames a second.

    Args:
        waveforms: A sequence of 1-D float arrays at 16 kHz.
        seconds: Audio length of every example.
        num_mels: Mel bands.
        batch_size: Waveforms converted at a time (bounds the memory).

    Returns:
        float32 `(len(waveforms), 100 * seconds, num_mels)`.

    Example:
    >>> log_mel([np.zeros(8000, "float32")], 1, num_mels=8).shape
    (1, 100, 8)
    """
    import keras_hub

    converter = keras_hub.layers.WhisperAudioConverter(
        num_mels=num_mels, max_audio_length=int(seconds),
        sampling_rate=SAMPLE_RATE, dtype="float32")
    out = np.zeros((len(waveforms), 100 * int(seconds), num_mels), "float32")
    for start in range(0, len(waveforms), batch_size):
        chunk = [np.asarray(w, "float32")
                 for w in waveforms[start:start + batch_size]]
        out[start:start + len(chunk)] = np.asarray(converter(chunk))
    return out
