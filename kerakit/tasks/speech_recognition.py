"""Speech recognition with Whisper: waveform -> log-mel -> transcript.

The data are 16 kHz waveforms and their transcripts (`spoken_digits` or
`audio:PATH`, `kerakit.data.audio`). Every clip becomes Whisper log-mel
features with keras-hub's `WhisperAudioConverter` (in numpy, before
training, on every backend), padded with silence to the longest clip of
the dataset in whole seconds (or to `model_kwargs.max_encoder_sequence_length`
frames, 100 a second). Transcripts are tokenised by characters (default)
or words, a vocabulary learned on the training transcripts
(`kerakit.data.text_pairs.PieceTokenizer`: 0 pad and decoder start, 1 end,
2 unknown); the model's `vocabulary_size`, `max_decoder_sequence_length`
and `max_encoder_sequence_length` come from the data.

Training feeds the decoder the transcript shifted right behind the start
id 0 and fits the next-id logits, weighted 1 on real ids (the end id
included) and 0 on padding. After training the test clips are decoded
greedily and by beam search (`kerakit.models.multimodal.whisper.
transcribe_tokens`); `metrics.json` records the character and word error
rates (`test.greedy_cer`, `greedy_wer`, `beam_cer`, `beam_wer`: edit
distance over the reference length, summed over the test split) and the
empty-transcript baseline (`test.empty_transcript_cer`, 1.0: every
reference character deleted). `decodes.tsv` lists every test reference and
both decodes. `kerakit.predict(run, "clip.wav" | [paths])` returns the
greedy transcripts.

Example:
>>> error_rate(["seven two"], ["seven too"]), error_rate(
...     ["seven two"], ["seven too"], words=True)
(0.1111111111111111, 0.5)
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data import audio
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.data.splits import check_splits
from kerakit.data.splits import fingerprint_parts
from kerakit.data.splits import given_splits
from kerakit.data.splits import split_raw
from kerakit.data.text_pairs import END_ID
from kerakit.data.text_pairs import TOKENIZERS
from kerakit.data.text_pairs import PieceTokenizer
from kerakit.data.text_pairs import TaggedPreprocessing
from kerakit.tasks.base import Task
from kerakit.tasks.text_classification import evaluate_plain
from kerakit.tasks.text_to_text import DECODES
from kerakit.tasks.text_to_text import NUM_BEAMS
from kerakit.tasks.text_to_text import TextToTextTask
from kerakit.tasks.text_to_text import decode_in_batches
from kerakit.tasks.text_to_text import normalise

FRAMES_PER_SECOND = 100


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance (substitutions, insertions, deletions).

    Example:
    >>> edit_distance("kitten", "sitting")
    3
    """
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def error_rate(references: Sequence[str], hypotheses: Sequence[str],
               words: bool = False) -> float:
    """Character (or word) error rate: total edits over total reference
    characters (words), on whitespace-normalised texts.

    Example:
    >>> error_rate(["one two"], [""]), error_rate(["one two"], [""], True)
    (1.0, 1.0)
    """
    edits = total = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref, hyp = normalise(ref), normalise(hyp)
        if words:
            ref, hyp = ref.split(), hyp.split()
        edits += edit_distance(ref, hyp)
        total += len(ref)
    return edits / max(total, 1)


@dataclasses.dataclass
class SpeechPreprocessor(TaggedPreprocessing):
    """Log-mel settings and the transcript tokenizer of a speech run.

    Attributes:
        kind: Always `"speech_recognition"`.
        tokenizer: `"char"` or `"word"` (`PieceTokenizer`).
        seconds: Audio length of every example (padded or cut).
        num_mels: Mel bands per frame.
        target_length: Transcript ids per example, end id included.
        vocabulary: The learned pieces (ids from 3).

    Example:
    >>> pre = SpeechPreprocessor("char", 1, 8).fit(["one two"])
    >>> pre.decode(pre.encode(["two one"])), pre.target_length
    (['two one'], 8)
    """

    tokenizer: str = "char"
    seconds: int = 1
    num_mels: int = 80
    target_length: int = 0
    vocabulary: list = dataclasses.field(default_factory=list)
    kind: str = "speech_recognition"

    def __post_init__(self) -> None:
        self._tok = PieceTokenizer(self.tokenizer, self.vocabulary)

    augment = property(lambda self: {}, doc="Features are not augmented.")
    class_names = property(lambda self: [], doc="No classes.")

    @property
    def num_ids(self) -> int:
        """Ids the tokenizer emits, the special ones included."""
        return len(self._tok.vocabulary)

    def fit(self, texts: Sequence[str]) -> SpeechPreprocessor:
        """Learn the pieces and the transcript length (training texts)."""
        self._tok.fit(texts)
        self.vocabulary = self._tok.vocabulary[3:]
        self.target_length = 1 + max(len(self._tok.pieces(t))
                                     for t in texts)
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """`(n, target_length)` ids (truncated, end id, padding)."""
        out = np.zeros((len(texts), self.target_length), "int32")
        for row, text in enumerate(texts):
            ids = [*self._tok.encode(text)[:self.target_length - 1], END_ID]
            out[row, :len(ids)] = ids
        return out

    def decode(self, ids: np.ndarray) -> list[str]:
        """Texts of rows of ids (each up to its first end id)."""
        return [self._tok.decode(row) for row in np.asarray(ids).tolist()]

    def features(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Whisper log-mel features `(n, 100 * seconds, num_mels)`."""
        return audio.log_mel(waveforms, self.seconds, self.num_mels)


@dataclasses.dataclass
class SpeechSplits(Splits):
    """`Splits` plus the raw transcripts of each split (references of the
    error rates, unaffected by the tokenizer)."""

    texts: dict = dataclasses.field(default_factory=dict)


def _speech_dataset(name: str) -> bool:
    return name == "spoken_digits" or name.startswith("audio:")


class SpeechRecognitionTask(Task):
    """Waveforms -> transcripts with a Whisper model (see module doc)."""

    name = "speech_recognition"
    description = ("waveforms -> log-mel -> transcript (Whisper, teacher "
                   "forcing); greedy and beam CER/WER; decodes.tsv")
    model_tasks = ("speech_recognition",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_loss"}
    weighted_metrics = True
    owns_tokenizer = True
    plain_keras_loop = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Speech data, a character or word tokenizer, whole seconds."""
        if loss_name == "none":
            raise ValueError(
                f"loss: is 'none' but task = {self.name!r} fits the model "
                "against transcripts: use 'sparse_categorical_crossentropy'.")
        name = fields["dataset"]["name"]
        if not _speech_dataset(name):
            raise ValueError(
                f"dataset.name: task = {self.name!r} reads speech: "
                f"'spoken_digits' or 'audio:PATH' (WAV files plus "
                f"{audio.TRANSCRIPTS}). Received: {name!r}.")
        pre = fields["preprocessing"]
        if pre["tokenizer"] not in ("", *TOKENIZERS):
            raise ValueError(
                f"preprocessing.tokenizer: task = {self.name!r} takes "
                "'char' (default) or 'word', learned on the training "
                f"transcripts. Received: {pre['tokenizer']!r}.")
        if pre["one_hot"] or pre["standardize"] or pre["image_size"] or any(
                v not in (0, 0.0, "none") for v in pre["augment"].values()):
            raise ValueError(
                "preprocessing: one_hot, standardize, image_size and augment "
                f"do not apply to speech (task = {self.name!r}).")
        frames = fields["model_kwargs"].get("max_encoder_sequence_length")
        if frames is not None and (not isinstance(frames, int) or frames < 1
                                   or frames % FRAMES_PER_SECOND):
            raise ValueError(
                "model_kwargs.max_encoder_sequence_length: must be whole "
                "seconds of mel frames (a multiple of 100); leave it out to "
                f"fit the longest clip. Received: {frames!r}.")

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load and check the clips, learn the tokenizer on the training
        transcripts, compute every split's log-mel features."""
        kwargs = dict(model_kwargs or {})
        raw = audio.load_audio_data(dataset)
        check_splits(given_splits(raw), raw.name)
        parts = split_raw(raw, dataset, seed)
        for split, (waves, texts) in zip(("train", "validation", "test"),
                                         parts):
            if not len(waves):
                raise DataError(
                    f"dataset {raw.name!r}: the {split} split is empty; "
                    "add clips or change the split fractions.")
        frames = kwargs.get("max_encoder_sequence_length")
        seconds = (frames // FRAMES_PER_SECOND if frames else
                   max(audio.longest_seconds(w) for w, _ in parts))
        pre = SpeechPreprocessor(
            tokenizer=preprocessing.get("tokenizer") or "char",
            seconds=seconds, num_mels=int(kwargs.get("num_mels", 80)),
        ).fit([str(t) for t in parts[0][1]])
        texts = [[normalise(t) for t in y] for _, y in parts]
        prepared = [(pre.features(w), pre.encode(t))
                    for (w, _), t in zip(parts, texts)]
        return SpeechSplits(
            *prepared, (seconds * FRAMES_PER_SECOND, pre.num_mels), 0, [],
            pre, fingerprint_parts([(x, np.array(t, dtype=object))
                                    for (x, _), t in zip(prepared, texts)]),
            {"vocabulary_size": pre.num_ids,
             "max_decoder_sequence_length": pre.target_length + 1,
             "max_encoder_sequence_length": seconds * FRAMES_PER_SECOND},
            dict(zip(("train", "validation", "test"), texts)))

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(Whisper inputs, targets, weights)`: the decoder reads the
        transcript shifted right behind the start id 0; padding weighs 0.

        Example:
        >>> x, y, w = SpeechRecognitionTask().fit_data(
        ...     np.zeros((1, 4, 2)), np.array([[7, 1, 0]]))
        >>> x["decoder_token_ids"].tolist(), w.tolist()
        ([[0, 7, 1]], [[1.0, 1.0, 0.0]])
        """
        inputs, y, weights = TextToTextTask().fit_data(
            np.zeros((len(y), 1), "int32"), y)
        return ({"encoder_features": np.asarray(x, "float32"),
                 "decoder_token_ids": inputs["decoder_token_ids"],
                 "decoder_padding_mask": inputs["decoder_padding_mask"]},
                y, weights)

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Teacher-forced loss and per-id accuracy over real target ids."""
        return evaluate_plain(model, *self.fit_data(*pair), batch_size)

    @staticmethod
    def decode(model: keras.Model, pre: SpeechPreprocessor,
               features: np.ndarray, sampler: str = "greedy",
               batch_size: int = 128) -> list[str]:
        """Transcripts of log-mel features (`"greedy"` or `"beam"`)."""
        from kerakit.models.multimodal.whisper import transcribe_tokens

        return decode_in_batches(transcribe_tokens, model, pre, features,
                                 sampler, batch_size)

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """Decode the test clips greedily and by beam search; write
        `decodes.tsv`; return the error rates and the empty baseline."""
        pre = splits.preprocessor
        references = splits.texts["test"]
        decoded = {s: self.decode(model, pre, splits.test[0], s)
                   for s in ("greedy", "beam")}
        test = {}
        for sampler, texts in (("empty_transcript", [""] * len(references)),
                               *decoded.items()):
            test[f"{sampler}_cer"] = error_rate(references, texts)
            test[f"{sampler}_wer"] = error_rate(references, texts, True)
        tmp = run_dir / f"{DECODES}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(["reference", "greedy", "beam"])
            writer.writerows(zip(references, decoded["greedy"],
                                 decoded["beam"]))
        os.replace(tmp, run_dir / DECODES)
        return {"test": test,
                "decodes": {"path": DECODES, "count": len(references),
                            "num_beams": NUM_BEAMS}}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> SpeechPreprocessor:
        """The run's `SpeechPreprocessor` (vocabulary included)."""
        return SpeechPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> tuple:
        """WAV paths to log-mel features (checked against the run's audio
        length)."""
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not inputs or not all(
                isinstance(p, (str, os.PathLike)) for p in inputs):
            raise ValueError(
                "A speech run predicts on WAV files: give a path or a list "
                f"of paths. Received: {type(inputs).__name__}.")
        waves = [audio.read_wav(p) for p in inputs]
        for path, wave in zip(inputs, waves):
            if len(wave) > preprocessor.seconds * audio.SAMPLE_RATE:
                raise ValueError(
                    f"{path}: {len(wave) / audio.SAMPLE_RATE:.2f} s long; "
                    f"this run's model hears {preprocessor.seconds} s at "
                    "most. Cut the clip into shorter pieces.")
        return preprocessor.features(waves), preprocessor

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"texts": greedy transcripts}`."""
        features, pre = x
        return {"texts": self.decode(model, pre, features)}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """The transcript of each input."""
        return [f"{i}\t{text}" for i, text in enumerate(out["texts"])]
