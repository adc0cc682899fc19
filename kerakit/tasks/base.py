"""The task interface: what a recipe fits against, evaluates and writes.

A :class:`Task` stands between the workflow (`kerakit.workflow.training`,
which owns the run directory, resuming, best weights, early stopping and the
single test evaluation) and a model. A task

- checks a recipe's task-specific fields (`check_recipe`) and supplies the
  defaults a recipe may omit (`defaults`: loss, metrics, monitor);
- loads and checks the data it needs (`load_splits`: labels, NaN, shapes,
  before any training);
- feeds the prepared splits to the model (`fit_data`, `train_batches`) and
  runs the training loop (`fit`);
- evaluates a split with its own metrics (`evaluate`);
- writes its own artifacts after training (`report`: samples, decodes);
- post-processes predictions (`predict`, `describe_predictions`).

`fit` calls `model.fit` by default. A task that owns its loop (an RL agent
with an environment and no dataset, say) overrides `fit` and calls the
workflow's callbacks itself: `on_train_begin`, then `on_epoch_begin` /
`on_epoch_end(epoch, logs)` once per evaluation period with the monitored
value in `logs`, then `on_train_end`; the run callback then keeps the best
weights, stops early and checkpoints exactly as for `model.fit`. It stops
when `model.stop_training` becomes true.

Example:
>>> from kerakit.tasks import get_task
>>> task = get_task("classification")
>>> task.defaults["loss"], task.defaults["monitor"]
('sparse_categorical_crossentropy', 'val_accuracy')
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from typing import ClassVar

import keras
import numpy as np

from kerakit.data.datasets import load_dataset
from kerakit.data.preprocessing import Preprocessor
from kerakit.data.preprocessing import TrainBatches
from kerakit.data.sharding import DataShard
from kerakit.data.splits import Splits
from kerakit.data.splits import check_splits
from kerakit.data.splits import given_splits
from kerakit.data.splits import prepare_splits
from kerakit.data.splits import split_raw


class Task:
    """Base class of every task; subclasses set the class attributes.

    Attributes:
        name: The task's name in recipes (`task = "classification"`).
        description: One line for `kerakit tasks`.
        model_tasks: Registry task labels (`kerakit.model_info(m)["task"]`)
            for which this task is the default.
        defaults: Recipe fields a recipe may omit: `loss`, `metrics`,
            `monitor`.
        weighted_metrics: The sample weights the task feeds are masks
            (graph nodes, padded graph slots): `Recipe.compile` passes the
            metrics as Keras `weighted_metrics` and has the loss average
            over the weighted examples (`mean_with_sample_weight`).
        owns_tokenizer: The task learns its tokenizer and sizes the
            model's vocabulary from it (language modelling): its
            `check_recipe` checks the `preprocessing` tokenizer fields
            instead of the schema's generic text-classification rules.
        loss_scaling: Training goes through Keras's own train step, which
            scales the loss under mixed float16; a task whose models or
            agents compute their own gradients sets it False, and the
            schema refuses `precision = "mixed_float16"` for it.
        data_parallel: The task trains data-parallel over processes
            (`fit` cuts every global batch with its `shard`, and the loss
            of a batch is the mean of its rows' losses). A task whose loss
            couples the rows of a batch (contrastive pairs), whose batch is
            one graph, or that owns its loop sets it False, and the
            workflow refuses `--processes` for it.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    model_tasks: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"], "monitor": "val_accuracy"}
    weighted_metrics: ClassVar[bool] = False
    owns_tokenizer: ClassVar[bool] = False
    loss_scaling: ClassVar[bool] = True
    data_parallel: ClassVar[bool] = True
    # keras-hub's task models (`GPT2CausalLM`, `BertTextClassifier`,
    # `T5Seq2SeqLM`) wrap `fit` in their preprocessing pipeline, which takes
    # arrays or tf.data / grain datasets but not the `keras.utils.PyDataset`
    # of shuffled (re-masked, augmented) batches; built without a
    # preprocessor that pipeline does nothing, so a task for them trains
    # through `keras.Model.fit` itself.
    plain_keras_loop: ClassVar[bool] = False

    # ------------------------------------------------------------ recipes
    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Refuse recipe settings that contradict this task.

        Args:
            fields: The validated recipe fields.
            loss_name: The loss's name (`"none"` when the model owns it).

        Raises:
            ValueError: `"FIELD: what is wrong and what to do"`.
        """
        if loss_name == "none":
            raise ValueError(
                f"loss: is 'none' but task = {self.name!r} fits the model "
                "against targets: name a loss, or use task = 'generative' "
                "for a model that adds its own loss (VAE, GAN).")
        if fields["preprocessing"]["one_hot"]:
            raise ValueError(
                "preprocessing.one_hot: only applies to task = "
                f"'classification'. Received task = {self.name!r}.")

    # --------------------------------------------------------------- data
    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load, split, check and preprocess a recipe's data.

        Everything is checked before training starts (`check_raw`), so
        bad data never costs a training run.
        """
        raw = load_dataset(dataset)
        given = given_splits(raw)
        check_splits(given, raw.name)
        self.check_raw(given, raw, dict(model_kwargs or {}))
        parts = split_raw(raw, dataset, seed)
        return prepare_splits(raw, parts, preprocessing, self.encode_labels)

    def encode_labels(self, preprocessor: Any, y: Any) -> np.ndarray:
        """Labels as the model is fitted against them (class ids here)."""
        return preprocessor.encode_labels(y)

    def check_raw(self, parts: dict[str, tuple], raw: Any,
                  model_kwargs: dict[str, Any]) -> None:
        """Task-specific checks of the raw `(x, y)` splits by name, before
        any carving (labels); none here."""

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(x, y)` of one split packed as `fit`/`evaluate` arguments."""
        return x, y

    def train_batches(self, splits: Splits, batch_size: int, seed: int,
                      epoch: int) -> keras.utils.PyDataset:
        """Shuffled (and augmented, if the recipe says so) batches."""
        return _PackedBatches(self, *splits.train, batch_size,
                              splits.preprocessor, seed=seed, epoch=epoch)

    def count_examples(self, splits: Splits) -> dict[str, int]:
        """Examples per split, as `metrics.json` reports them."""
        return {name: len(getattr(splits, name)[0])
                for name in ("train", "validation", "test")}

    def steps_per_epoch(self, splits: Splits, batch_size: int) -> int:
        """Optimizer steps per epoch (sets learning-rate schedules)."""
        return -(-len(splits.train[0]) // batch_size)

    # ----------------------------------------------------------- training
    def validation(self, model: keras.Model, splits: Splits,
                   batch_size: int, seed: int) -> tuple[Any, list]:
        """`(validation_data, callbacks)` that log `val_*` every epoch.

        The callbacks run before the workflow's (best weights read the
        `val_*` logs they add).
        """
        return self.fit_data(*splits.validation), []

    def fit(self, model: keras.Model, splits: Splits, *, batch_size: int,
            seed: int, epochs: int, initial_epoch: int,
            callbacks: list[keras.callbacks.Callback],
            verbose: Any = "auto", run_dir: Path | None = None,
            shard: DataShard = DataShard()) -> None:
        """Train from `initial_epoch` to `epochs`, calling `callbacks`.

        `run_dir` is the run directory, for a task that keeps more state
        than the model's weights between epochs (an agent's replay buffer);
        the workflow passes it, and `clear_run_files` must know the names.
        `shard` is this process's share of every training batch in a
        data-parallel run (`kerakit.data.sharding`); validation stays whole
        on every process, so all of them take the same early-stopping
        decisions.
        """
        validation, first = self.validation(model, splits, batch_size, seed)
        fit = (functools.partial(keras.Model.fit, model)
               if self.plain_keras_loop else model.fit)
        fit(
            shard.batches(self.train_batches(splits, batch_size, seed,
                                             initial_epoch)),
            validation_data=validation, validation_batch_size=batch_size,
            epochs=epochs, initial_epoch=initial_epoch,
            callbacks=[*first, *callbacks], verbose=verbose)

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Metrics of a compiled model on one preprocessed split."""
        packed = self.fit_data(*pair)
        out = model.evaluate(*packed, batch_size=batch_size,
                             return_dict=True, verbose=0)
        return {k: float(v) for k, v in out.items()}

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """Write the task's artifacts after training; return what goes into
        `metrics.json` (a `"test"` entry is merged into the test metrics).
        """
        return {}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> Any:
        """Read a run's saved `preprocessing.json` (the object
        `load_splits` put in `Splits.preprocessor`)."""
        return Preprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> Any:
        """Model inputs for `kerakit.predict(run, inputs)`, or `None` for
        the standard path (arrays, image files and texts, transformed by
        the saved `Preprocessor`).

        A task whose inputs are not arrays (graphs) reads them here;
        `recipe` is the run's recipe (its dataset with the path recorded
        at training time), so `inputs=None` may mean "the run's data".
        """
        return None

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """Predictions for preprocessed inputs `x`: `{"outputs": array}`."""
        return {"outputs": np.asarray(model.predict(x, verbose=0))}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """Lines that `kerakit predict` prints, one per input."""
        return [f"{i}\t" + np.array2string(np.asarray(row), precision=4,
                                           threshold=12)
                for i, row in enumerate(next(iter(out.values())))]


class _PackedBatches(TrainBatches):
    """`TrainBatches` packed by the task (`Task.fit_data`).

    A reconstruction task's target is the (augmented) input the model sees.
    """

    def __init__(self, task: Task, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.task = task

    def __getitem__(self, index: int) -> Any:
        packed = self.task.fit_data(*super().__getitem__(index))
        return packed[0] if len(packed) == 1 else packed
