"""Synthesise the spoken digit clips kerakit ships (`spoken_digits`).

Run once, where espeak-ng is installed (`apt-get install espeak-ng`):

    python scripts/make_spoken_digits.py [OUT.npz]

Each English voice below (an espeak-ng voice, a variant, a speaking rate
in words per minute and a pitch 0-99) says the ten digit words `zero` ..
`nine`. Each clip is trimmed of leading and trailing silence, resampled
from espeak-ng's 22,050 Hz to 8 kHz (`scipy.signal.resample_poly`) and
stored as 8-bit mu-law (`mu_law_encode`) in one compressed `.npz`
(`kerakit/data/spoken_digits.npz` by default): `audio` (all clips end to end), `offsets` (clip `i` is
`audio[offsets[i]:offsets[i + 1]]`), `words`, `voice_ids`, `voices` (the
espeak-ng settings of each voice) and `test_voices` (the voices that
`kerakit.data.audio.spoken_digits` keeps for the test split). The CI
machines have no espeak-ng: tests and recipes use the committed file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven",
         "eight", "nine")
# (voice[+variant], words per minute, pitch); the last two are held out.
VOICES = (
    ("en-us", 150, 50), ("en-gb", 175, 40), ("en-gb-x-rp+f2", 140, 60),
    ("en-gb-x-gbclan", 160, 35), ("en-gb-x-gbcwmd+m3", 185, 50),
    ("en-us+f3", 165, 65), ("en-us+klatt", 150, 45), ("en-gb+f4", 155, 70),
    ("en-gb-scotland", 160, 45), ("en-029+f3", 150, 60),
)
TEST_VOICES = (8, 9)
# Telephone speech (8 kHz, 8-bit mu-law, like G.711 and the Free Spoken
# Digit Dataset's rate) keeps the file small; `kerakit.data.audio` decodes
# and resamples the clips to 16 kHz when it loads them.
RATE = 8_000


def trim(clip: np.ndarray, rate: int, level: float = 0.02) -> np.ndarray:
    """Drop leading and trailing samples quieter than `level` x the peak,
    keeping 20 ms on each side."""
    loud = np.flatnonzero(np.abs(clip) > level * np.abs(clip).max())
    margin = rate // 50
    return clip[max(0, loud[0] - margin):loud[-1] + margin]


def synthesise(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """One word as float32 samples at `RATE`, in [-1, 1]."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.wav"
        subprocess.run(["espeak-ng", "-w", str(path), "-v", voice, "-s",
                        str(speed), "-p", str(pitch), word], check=True)
        rate, samples = wavfile.read(path)
    clip = trim(samples.astype("float32") / 32768.0, rate)
    common = gcd(RATE, rate)
    return resample_poly(clip, RATE // common, rate // common).astype(
        "float32")


def mu_law_encode(clip: np.ndarray, mu: int = 255) -> np.ndarray:
    """G.711-style mu-law companding to int8 (telephone speech: 8 bits a
    sample keep quiet sounds audible at half the bytes of int16;
    `kerakit.data.audio.mu_law_decode` inverts it)."""
    clip = np.clip(clip, -1, 1)
    curve = np.sign(clip) * np.log1p(mu * np.abs(clip)) / np.log1p(mu)
    return np.round(curve * 127).astype("int8")


def main(out: str = "kerakit/data/spoken_digits.npz") -> None:
    """Write every voice's ten words to `out`."""
    clips, words, voice_ids = [], [], []
    for index, (voice, speed, pitch) in enumerate(VOICES):
        for word in WORDS:
            clips.append(synthesise(word, voice, speed, pitch))
            words.append(word)
            voice_ids.append(index)
    pcm = [mu_law_encode(c) for c in clips]
    offsets = np.cumsum([0] + [len(c) for c in pcm])
    np.savez_compressed(
        out, audio=np.concatenate(pcm), offsets=offsets,
        words=np.array(words), voice_ids=np.array(voice_ids, "int16"),
        voices=np.array([f"{v} -s {s} -p {p}" for v, s, p in VOICES]),
        test_voices=np.array(TEST_VOICES, "int16"), rate=RATE)
    seconds = offsets[-1] / RATE
    print(f"{out}: {len(pcm)} clips, {seconds:.1f} s of speech, "
          f"{Path(out).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(*sys.argv[1:])
