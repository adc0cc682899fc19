"""Recipes: TOML files naming the data, model, compile and fit settings.

A recipe loads into a frozen :class:`Recipe`. Every field is validated on
load: an unknown field, a wrong type or an unknown model, optimizer, loss or
metric name raises :class:`RecipeError`, naming the file, the field and the
allowed values. `recipe.compile(model)` is the only place that compiles.

Example:
>>> recipe = load_recipe("lenet_digits", {"epochs": 2})
>>> recipe.model, recipe.epochs, recipe.dataset["name"]
('lenet5', 2, 'digits')
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kerakit.precision import dtype_policy_scope
from kerakit.precision import resolve_precision
from kerakit.tasks import default_task
from kerakit.tasks import get_task
from kerakit.workflow import schema

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"


class RecipeError(ValueError):
    """A recipe file (or an override) is invalid; the message says why."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A validated recipe. Treat the dict fields as read-only.

    Attributes:
        name: Recipe name (the file stem unless the file sets it).
        description: One line shown by `kerakit recipes`.
        model: Registered model name (`kerakit list`).
        model_kwargs: Factory keyword arguments. `input_shape` and
            `num_classes` come from the dataset when omitted.
        dataset: Dataset settings: `name` (`"digits"`, `"tfds:mnist"`,
            `"npz:path"`, `"folder:path"`, `"generated:reversal"`, graphs:
            `"networkx:karate"`, `"planetoid:PATH"`, `"tudataset:PATH"`,
            `"graph:PATH"`),
            `splits`, fractions, `data_dir`, sizes of generated data.
        preprocessing: Normalisation, resizing, augmentation, one-hot, text.
        optimizer: `name`, `learning_rate`, `schedule` and optimizer kwargs.
        loss: Loss name, or a dict with `name` and loss kwargs; `"none"`
            when the model adds its own loss (VAE, GAN).
        metrics: Metric names.
        batch_size: Training batch size.
        epochs: Maximum number of epochs.
        patience: Early-stopping patience in epochs (0: never stop early).
        monitor: Logged quantity that selects the best epoch.
        seed: Seed of the splits, the weights and the augmentation.
        run_eagerly: Run steps eagerly, without graph compilation (for
            debugging, and for one-step smoke tests of large models).
        task: What the model is fitted against, evaluated on and what it
            writes (`kerakit.list_tasks()`: `"classification"`,
            `"regression"`, `"reconstruction"`, `"generative"`,
            `"seq2seq"`, `"node_classification"`,
            `"graph_classification"`); a recipe without one gets the
            model's default.
        precision: Keras dtype policy of the model (`"float32"`,
            `"mixed_bfloat16"`, `"mixed_float16"`), or `"auto"`: mixed
            bfloat16 on a CPU with native bfloat16, else float32
            (`kerakit.precision`).
        distribution: Data-parallel training (`processes`) and, on JAX,
            model parallelism (`model_parallel`); see
            `kerakit.workflow.distributed`.
        agent: Reinforcement learning (`task = "reinforcement_learning"`):
            the agent's `name` (`"dqn"`, `"reinforce"`, `"a2c"`),
            `steps_per_epoch` and its settings (`kerakit.rl`).
        source: The file the recipe came from.
        overrides: The dotted overrides applied on top of the file.
    """

    name: str
    model: str
    model_kwargs: dict
    dataset: dict
    preprocessing: dict
    optimizer: dict
    loss: Any
    metrics: tuple
    batch_size: int
    epochs: int
    patience: int
    monitor: str
    seed: int
    run_eagerly: bool = False
    precision: str = "float32"
    task: str = ""
    description: str = ""
    agent: dict = dataclasses.field(default_factory=dict)
    distribution: dict = dataclasses.field(default_factory=lambda: {
        "processes": 1, "model_parallel": 1})
    source: str = "<dict>"
    overrides: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved recipe as a JSON-friendly dict."""
        out = dataclasses.asdict(self)
        out["metrics"] = list(self.metrics)
        return out

    def fields(self) -> dict[str, Any]:
        """The resolved fields, as `recipe_from_dict` takes them back.

        Example:
        >>> r = load_recipe("lenet_digits", {"epochs": 2})
        >>> recipe_from_dict(r.fields()).fingerprint() == r.fingerprint()
        True
        """
        raw = self.to_dict()
        for key in ("source", "overrides"):
            raw.pop(key)
        return raw

    def fingerprint(self) -> str:
        """Return a short hash of the settings (not of the file path)."""
        data = self.to_dict()
        data.pop("source")
        data.pop("overrides")
        # How many processes train a run does not change what it computes,
        # so a run started on two processes continues on one, and back.
        data.pop("distribution")
        # The model's default task is left out, so that run directories
        # made before recipes named their task keep their names.
        if data["task"] == default_task(self.model, self.model_kwargs):
            data.pop("task")
        for path, default in schema.LATER_DEFAULTS.items():
            *parents, key = path
            node = data
            for part in parents:
                node = node[part]
            if node.get(key) == default:
                node.pop(key)
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def with_overrides(self, overrides: Mapping[str, Any]) -> Recipe:
        """Return a new validated recipe with dotted-key overrides applied.

        Example:
        >>> r = load_recipe("lenet_digits")
        >>> r.with_overrides({"optimizer.learning_rate": 0.01}).optimizer[
        ...     "learning_rate"]
        0.01
        """
        raw = self.fields()
        merged = {**self.overrides, **dict(overrides)}
        return _validate(_apply_overrides(raw, overrides, self.source),
                         self.source, merged)

    def model_arguments(self, input_shape: Any = None,
                        num_classes: int | None = None,
                        **from_data: Any) -> dict[str, Any]:
        """Return the factory kwargs, filling shape and classes if absent.

        `from_data` (`Splits.model_arguments`: a tokenizer's
        `vocabulary_size`, say) fills the arguments the model accepts and
        the recipe leaves out, like `input_shape` and `num_classes`.
        """
        kwargs = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in self.model_kwargs.items()}
        accepted = schema.model_parameters(self.model)
        if input_shape is not None and "input_shape" in accepted:
            kwargs.setdefault("input_shape", tuple(input_shape))
        if num_classes is not None and "num_classes" in accepted:
            kwargs.setdefault("num_classes", int(num_classes))
        for key, value in from_data.items():
            if key in accepted:
                kwargs.setdefault(key, value)
        return kwargs

    def build_model(self, input_shape: Any = None,
                    num_classes: int | None = None, *,
                    steps_per_epoch: int | None = None,
                    precision: str | None = None, **from_data: Any) -> Any:
        """Build the recipe's model from its seed and compile it.

        The model is built and compiled under its precision's dtype policy
        (`precision`, default the recipe's resolved for this CPU), so every
        layer takes it and mixed float16 gets Keras's loss scaling.

        Example:
        >>> r = load_recipe("mlp_digits")
        >>> r.build_model((64,), 10, precision="mixed_bfloat16").layers[
        ...     -1].dtype_policy.name
        'mixed_bfloat16'
        """
        import keras

        from kerakit.registry import build

        keras.utils.set_random_seed(self.seed)
        with dtype_policy_scope(precision or resolve_precision(
                self.precision)):
            model = build(self.model, **self.model_arguments(
                input_shape, num_classes, **from_data))
            return self.compile(model, steps_per_epoch=steps_per_epoch)

    def compile(self, model: Any, steps_per_epoch: int | None = None) -> Any:
        """Compile `model` with this recipe's optimizer, loss and metrics.

        Args:
            model: A `keras.Model`.
            steps_per_epoch: Batches per epoch; sets the length of a
                learning-rate schedule (default 100).

        Returns:
            The same model, compiled.
        """
        # A task whose sample weights are masks (graph nodes, padded
        # graph slots) has its loss average over the weighted examples and
        # its metrics weigh by them (Keras weighs `weighted_metrics` only).
        weighted = bool(self.task) and get_task(self.task).weighted_metrics
        metrics = schema.make_metrics(self.metrics)
        loss = (schema.make_loss(self.loss, weighted=True) if weighted
                else schema.make_loss(self.loss))
        model.compile(
            optimizer=schema.make_optimizer(self.optimizer, self.epochs,
                                            steps_per_epoch or 100),
            loss=loss,
            metrics=None if weighted else metrics,
            weighted_metrics=metrics if weighted else None,
            run_eagerly=self.run_eagerly,
        )
        return model


def find_recipe(name_or_path: str | os.PathLike) -> Path:
    """Resolve a recipe name (`"lenet_digits"`) or path to a file.

    Example:
    >>> find_recipe("lenet_digits").name
    'lenet_digits.toml'
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if path.is_dir():
            raise IsADirectoryError(
                f"Recipe path {str(path)!r} is a directory: give a recipe "
                f"file (.toml), e.g. {str(path / 'NAME.toml')!r}.")
        if not path.is_file():
            raise FileNotFoundError(f"Recipe file {str(path)!r} not found.")
        return path
    for folder in _recipe_dirs():
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    names = list_recipes()
    close = difflib.get_close_matches(str(name_or_path), names, n=3)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise FileNotFoundError(
        f"Unknown recipe {str(name_or_path)!r}.{hint} Shipped recipes: "
        f"{', '.join(names)}; or give the path of a .toml file."
    )


def _recipe_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("KERAKIT_RECIPES_DIR"):
        dirs.append(Path(os.environ["KERAKIT_RECIPES_DIR"]))
    dirs += [Path.cwd() / "recipes", RECIPES_DIR]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def list_recipes() -> list[str]:
    """Return the names of the shipped recipes, sorted.

    Example:
    >>> "lenet_digits" in list_recipes()
    True
    """
    return sorted({p.stem for d in _recipe_dirs() for p in d.glob("*.toml")})


def load_recipe(
    path_or_name: str | os.PathLike | Recipe,
    overrides: Mapping[str, Any] | None = None,
) -> Recipe:
    """Load, validate and (optionally) override a recipe.

    Args:
        path_or_name: A shipped recipe name, a `.toml` path or a `Recipe`.
        overrides: Dotted keys to replace, e.g. `{"epochs": 3,
            "optimizer.learning_rate": 1e-3, "model_kwargs.dropout": 0.1}`.

    Returns:
        A frozen, validated `Recipe`.

    Raises:
        RecipeError: When a field is unknown, ill-typed or out of range.

    Example:
    >>> load_recipe("lenet_digits", {"batch_size": 64}).batch_size
    64
    """
    if isinstance(path_or_name, Recipe):
        return path_or_name.with_overrides(overrides or {})
    path = find_recipe(path_or_name)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{path}: not valid TOML: {err}") from None
    raw.setdefault("name", path.stem)
    if overrides:
        raw = _apply_overrides(raw, overrides, str(path))
    return _validate(raw, str(path), dict(overrides or {}))


def recipe_from_dict(data: Mapping[str, Any],
                     source: str = "<dict>") -> Recipe:
    """Validate a recipe given as a dict (same fields as the TOML file).

    Example:
    >>> r = recipe_from_dict({"name": "x", "model": "lenet5"})
    >>> r.dataset["name"], r.loss
    ('digits', 'sparse_categorical_crossentropy')
    """
    return _validate(copy.deepcopy(dict(data)), source, {})


def _apply_overrides(raw: dict, overrides: Mapping[str, Any],
                     source: str) -> dict:
    raw = copy.deepcopy(raw)
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(
                    f"{source}: override {key!r}: "
                    f"{'.'.join(parts[:i + 1])!r} is not a table, so it "
                    "has no sub-fields."
                )
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return raw


def _validate(raw: dict, source: str, overrides: dict) -> Recipe:
    try:
        fields = schema.validate(raw)
    except schema.SchemaError as err:
        raise RecipeError(f"{source}: {err}") from None
    return Recipe(**fields, source=source, overrides=dict(overrides))
