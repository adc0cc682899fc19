"""Text classification with BERT: raw texts in, class probabilities out.

The texts of any text dataset (`python_docstrings:kind`, `tfds:imdb_reviews`,
an `.npz` of strings) are tokenised by WordPiece learned on the training
split only, or by the tokenizer of the model's preset (`preprocessing.
tokenizer = "preset"` with `model_kwargs.preset = DIR`), and packed as
`[CLS] pieces [SEP]` (`kerakit.data.bert_inputs`). The model takes
`{"token_ids", "segment_ids", "padding_mask"}` and returns logits
(`kerakit.build("bert_tiny", ...)`, `head = "classifier"`). The vocabulary
is saved in the run's `preprocessing.json`, so `kerakit.predict(run,
["some text"])` takes raw strings. The model's `vocabulary_size` and
`sequence_length` come from the tokenizer when the recipe leaves them out.

`metrics.json` also records the majority-class accuracy on the test split
(`baseline`), the score of a model that ignores the text.

Example:
>>> task = TextClassificationTask()
>>> x, y = task.fit_data(np.array([[1, 7, 2, 0]]), np.array([1]))
>>> sorted(x), x["padding_mask"].tolist()
(['padding_mask', 'segment_ids', 'token_ids'], [[True, True, True, False]])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.bert_inputs import BERT_TOKENIZERS
from kerakit.data.bert_inputs import BertTextPreprocessor
from kerakit.data.bert_inputs import bert_features
from kerakit.data.bert_inputs import check_texts
from kerakit.data.datasets import load_dataset
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.data.splits import check_splits
from kerakit.data.splits import fingerprint_parts
from kerakit.data.splits import given_splits
from kerakit.data.splits import split_raw
from kerakit.data.text import as_texts
from kerakit.data.text import is_text
from kerakit.tasks.classification import ClassificationTask


def check_text_recipe(task: str, fields: dict[str, Any], loss_name: str,
                      tokenizers: tuple[str, ...]) -> None:
    """Refuse text settings a text task cannot honour (`"FIELD: ..."`).

    Args:
        task: The task's name, for the messages.
        fields: The validated recipe fields.
        loss_name: The loss's name.
        tokenizers: The `preprocessing.tokenizer` values the task takes.
    """
    if loss_name == "none":
        raise ValueError(f"loss: is 'none' but task = {task!r} fits the "
                         "model against targets: name a loss, e.g. "
                         "'sparse_categorical_crossentropy'.")
    pre = fields["preprocessing"]
    if pre["tokenizer"] not in tokenizers:
        raise ValueError(
            f"preprocessing.tokenizer: task = {task!r} takes one of "
            f"{', '.join(map(repr, tokenizers))} (learned on the training "
            f"split). Received: {pre['tokenizer']!r}.")
    if pre["one_hot"] or pre["standardize"] or pre["image_size"] or any(
            v not in (0, 0.0, "none") for v in pre["augment"].values()):
        raise ValueError(
            "preprocessing: one_hot, standardize, image_size and augment "
            f"apply to arrays and images, not to texts (task = {task!r}).")
    kwargs = fields["model_kwargs"]
    if pre["tokenizer"] == "preset" and not kwargs.get("preset"):
        raise ValueError(
            "preprocessing.tokenizer: 'preset' reads the tokenizer of "
            "model_kwargs.preset (a keras-hub preset folder on disk), but "
            "model_kwargs.preset is not set: set it, or use 'wordpiece'.")
    for key in ("vocabulary_size", "sequence_length"):
        model_value, data_value = kwargs.get(key), pre[key]
        if isinstance(model_value, int) and data_value and (
                model_value < data_value):
            raise ValueError(
                f"model_kwargs.{key}: is {model_value} but preprocessing."
                f"{key} is {data_value}: the model needs room for every id "
                f"and position; leave model_kwargs.{key} out (it comes from "
                "the tokenizer) or raise it.")


def bert_preprocessor(preprocessing: dict[str, Any],
                      model_kwargs: dict[str, Any], texts: Any,
                      raw: Any = None) -> BertTextPreprocessor:
    """A `BertTextPreprocessor` from a recipe, fitted on training `texts`.

    The preset's tokenizer is read here (the data layer cannot import the
    models layer).
    """
    preset = model_kwargs.get("preset") or ""
    pre = BertTextPreprocessor(
        tokenizer=preprocessing.get("tokenizer") or "wordpiece",
        sequence_length=preprocessing.get("sequence_length") or 128,
        vocabulary_size=preprocessing.get("vocabulary_size", 0),
        preset=str(preset),
        num_classes=getattr(raw, "num_classes", 0),
        class_names=list(getattr(raw, "class_names", [])))
    tokenizer = None
    if pre.tokenizer == "preset":
        from kerakit.models.transformer.presets import load_preset_tokenizer

        tokenizer = load_preset_tokenizer(preset)
    return pre.fit(texts, tokenizer)


def model_sizes(pre: BertTextPreprocessor,
                model_kwargs: dict[str, Any]) -> dict[str, int]:
    """The model arguments the tokenizer fixes (none with a preset, whose
    own config fixes them)."""
    if model_kwargs.get("preset"):
        return {}
    return {"vocabulary_size": len(pre.vocabulary),
            "sequence_length": pre.sequence_length}


def check_text_splits(parts: dict[str, tuple], dataset: str,
                      targets: bool = False) -> None:
    """Refuse splits whose inputs (and, with `targets`, targets) are not
    non-empty texts."""
    for name, (x, y) in parts.items():
        for what, values in (("inputs", x), ("targets", y))[:1 + targets]:
            if not is_text(values):
                kind = getattr(np.asarray(values), "dtype", type(values))
                raise DataError(
                    f"dataset {dataset!r}: the {name} {what} are {kind} "
                    "values, not texts: a text task takes strings (e.g. "
                    "python_docstrings:kind, tfds:imdb_reviews, an .npz of "
                    "str arrays).")
            try:
                check_texts(as_texts(values), f"dataset {dataset!r}: the "
                            f"{name} {what}")
            except ValueError as err:
                raise DataError(str(err)) from None


def evaluate_plain(model: keras.Model, x: Any, y: Any, weights: Any,
                   batch_size: int) -> dict[str, float]:
    """`keras.Model.evaluate` (see `Task.plain_keras_loop`) as a dict of
    floats."""
    out = keras.Model.evaluate(model, x, y, sample_weight=weights,
                               batch_size=batch_size, return_dict=True,
                               verbose=0)
    return {k: float(v) for k, v in out.items()}


def texts_to_predict(inputs: Any) -> list[str]:
    """The raw strings given to `kerakit.predict` on a text run."""
    if inputs is None or not is_text(inputs):
        raise ValueError(
            "A text run predicts on texts: give a string or a list of "
            f"strings. Received: {type(inputs).__name__}.")
    texts = as_texts(inputs)
    check_texts(texts, "the inputs")
    return texts


class TextClassificationTask(ClassificationTask):
    """Raw texts and class ids -> BERT logits (see the module doc)."""

    name = "text_classification"
    description = ("texts -> BERT [CLS] logits; WordPiece learned on the "
                   "training split (or a preset's); predict takes strings")
    model_tasks = ("text_classification",)
    owns_tokenizer = True
    plain_keras_loop = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """A WordPiece or preset tokenizer, the classifier head."""
        check_text_recipe(self.name, fields, loss_name, BERT_TOKENIZERS)
        head = fields["model_kwargs"].get("head", "classifier")
        if head != "classifier":
            raise ValueError(
                f"model_kwargs.head: is {head!r}; text classification needs "
                "head = 'classifier' (head = 'masked_lm' goes with task = "
                "'masked_language_modeling').")

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load and check texts and labels, learn the tokenizer on the
        training split, pack every split."""
        model_kwargs = dict(model_kwargs or {})
        raw = load_dataset(dataset)
        given = given_splits(raw)
        check_splits(given, raw.name)
        check_text_splits(given, raw.name)
        self.check_raw(given, raw, model_kwargs)
        parts = split_raw(raw, dataset, seed)
        pre = bert_preprocessor(preprocessing, model_kwargs,
                                as_texts(parts[0][0]), raw)
        prepared = [(pre.transform(x), np.asarray(y).astype("int64"))
                    for x, y in parts]
        return Splits(*prepared, (pre.sequence_length,), raw.num_classes,
                      list(raw.class_names), pre, fingerprint_parts(parts),
                      model_sizes(pre, model_kwargs))

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(bert_features(x), y)`."""
        return bert_features(x), y

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Loss and accuracy of one split."""
        return evaluate_plain(model, *self.fit_data(*pair), None, batch_size)

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """`{"baseline": majority-class accuracy on test}`."""
        train_y, test_y = splits.train[1], splits.test[1]
        majority = int(np.bincount(train_y).argmax())
        return {"baseline": {
            "majority_class": splits.class_names[majority] if (
                majority < len(splits.class_names)) else str(majority),
            "test_accuracy": float(np.mean(test_y == majority))}}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> BertTextPreprocessor:
        """The run's `BertTextPreprocessor` (vocabulary included)."""
        return BertTextPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> np.ndarray:
        """Raw strings to packed ids."""
        return preprocessor.transform(texts_to_predict(inputs))

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """`{"classes", "class_names", "probabilities"}` for packed ids."""
        logits = keras.Model.predict(model, bert_features(x), verbose=0)
        return self.predict_logits(logits, class_names)
