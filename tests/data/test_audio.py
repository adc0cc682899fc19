"""Speech data: WAV reading and resampling, audio folders, spoken digits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from kerakit.data import audio
from kerakit.data.splits import DataError


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.sin(2 * np.pi * 440 * t)


def _folder(tmp_path, lines: list[str], files: dict | None = None):
    for name, (rate, samples) in (files or {}).items():
        wavfile.write(tmp_path / name, rate, samples)
    (tmp_path / audio.TRANSCRIPTS).write_text("\n".join(lines) + "\n")
    return tmp_path


def test_read_wav_scales_mixes_down_and_resamples(tmp_path):
    pcm = (_tone(0.5, 8000) * 16000).astype("int16")
    wavfile.write(tmp_path / "a.wav", 8000, np.stack([pcm, pcm], 1))
    wave = audio.read_wav(tmp_path / "a.wav")
    assert wave.dtype == np.float32 and wave.shape == (8000,)
    assert 0.4 < np.abs(wave).max() < 0.55  # 16000 / 32768, resampled
    wavfile.write(tmp_path / "b.wav", 16000, _tone(0.25, 16000)
                  .astype("float32"))
    assert audio.read_wav(tmp_path / "b.wav").shape == (4000,)
    wavfile.write(tmp_path / "c.wav", 44100, (_tone(1.0, 44100) * 1e4)
                  .astype("int16"))
    assert audio.read_wav(tmp_path / "c.wav").shape == (16000,)


@pytest.mark.parametrize("content, words", [
    (b"", "the file is empty"),
    (b"not a wav at all", "not a readable WAV file"),
])
def test_bad_wav_files_are_named(tmp_path, content, words):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"bad.wav: {words}"):
        audio.read_wav(path)


def test_audio_folder_reads_in_transcript_order(tmp_path):
    clip = (_tone(0.2, 16000) * 1e4).astype("int16")
    folder = _folder(tmp_path, ["b.wav\tone  two", "a.wav\tthree"],
                     {"a.wav": (16000, clip), "b.wav": (8000, clip)})
    waves, texts, names = audio.load_audio_folder(folder)
    assert names == ["b.wav", "a.wav"]
    assert texts.tolist() == ["one two", "three"]
    assert [len(w) for w in waves] == [6400, 3200]
    raw = audio.load_audio_data({"name": f"audio:{folder}", "limit": 1})
    assert len(raw.train[0]) == 1 and raw.test is None


@pytest.mark.parametrize("lines, files, words", [
    (None, {}, "no transcripts.tsv"),
    (["a.wav"], {"a.wav": 1}, "expected `file<TAB>text`"),
    (["a.wav\t  "], {"a.wav": 1}, "empty transcript"),
    (["a.wav\tone", "a.wav\ttwo"], {"a.wav": 1}, "listed twice"),
    (["a.wav\tone"], {"a.wav": 1, "b.wav": 1}, "b.wav: has no line"),
    (["a.wav\tone", "gone.wav\ttwo"], {"a.wav": 1}, "gone.wav: no such"),
])
def test_bad_audio_folders_are_explained(tmp_path, lines, files, words):
    clip = np.zeros(800, "int16")
    for name in files:
        wavfile.write(tmp_path / name, 16000, clip)
    if lines is not None:
        (tmp_path / audio.TRANSCRIPTS).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=words):
        audio.load_audio_folder(tmp_path)


def test_spoken_digits_are_seeded_and_hold_voices_out():
    (x, y), (tx, ty) = audio.spoken_digits(40, seed=3)
    (x2, y2), _ = audio.spoken_digits(40, seed=3)
    assert len(x) == 32 and len(tx) == 8
    assert y.tolist() == y2.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(x, x2))
    for text in [*y, *ty]:
        assert 1 <= len(text.split()) <= 4
        assert set(text.split()) <= set(audio.DIGITS)
    assert all(np.isfinite(w).all() and np.abs(w).max() <= 1 for w in x)
    assert audio.longest_seconds([*x, *tx]) <= 4
    clips = audio.digit_clips()
    held_out = set(clips["test_voices"].tolist())
    assert held_out and held_out < set(clips["voice_ids"].tolist())
    assert len(clips["voices"]) == 10  # espeak-ng settings, one per voice


def test_log_mel_matches_whisper_frames():
    features = audio.log_mel([np.zeros(100, "float32"),
                              _tone(1.5, 16000).astype("float32")], 2,
                             num_mels=16, batch_size=1)
    assert features.shape == (2, 200, 16) and features.dtype == np.float32
    assert np.isfinite(features).all()
    # Speech frames carry more energy than the silence padding after them.
    assert features[1, :100].mean() > features[1, 180:].mean()
