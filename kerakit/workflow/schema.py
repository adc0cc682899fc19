"""The recipe schema: every field, its type, default and allowed values.

:func:`validate` turns the raw TOML dict into the fields of a
`kerakit.workflow.recipes.Recipe`, filling defaults, and raises :class:`SchemaError`
naming the field and the allowed values on any mistake. Optimizer, loss and
metric names resolve through `kerakit.components` when it is present, else
through Keras.

Example:
>>> "adam" in names("optimizers")
True
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import keras

from kerakit.data.generated import GENERATED
from kerakit.data.preprocessing import rescale_factor as data_rescale_factor
from kerakit.precision import RECIPE_PRECISIONS
from kerakit.tasks import default_task
from kerakit.tasks import get_task
from kerakit.tasks import list_tasks

REQUIRED = object()
_MAX_SEED = 2**32 - 2


class SchemaError(ValueError):
    """A recipe field is invalid."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One recipe field: accepted types, default and allowed values."""

    types: tuple
    default: Any = REQUIRED
    choices: tuple | Callable[[], list[str]] | None = None
    minimum: float | None = None
    doc: str = ""


_TYPE_WORDS = {bool: "true/false", int: "an integer", float: "a number",
               str: "a string", list: "a list", dict: "a table"}

DATASET = {
    "name": Field((str,), "digits", doc="digits | tfds:NAME | npz:PATH | "
                  "folder:PATH | generated:reversal | graphs: "
                  "networkx:karate | networkx:cycles_vs_paths | "
                  "planetoid:DIR | tudataset:DIR | graph:PATH | text: "
                  "text:PATH | python_docstrings | reinforcement "
                  "learning: gym:ENV_ID (e.g. gym:CartPole-v1)"),
    "train_split": Field((str,), "train"),
    "validation_split": Field((str,), "", doc="empty: carve from train"),
    "test_split": Field((str,), "test"),
    "validation_fraction": Field((float,), 0.1, minimum=0.0),
    "test_fraction": Field((float,), 0.2, minimum=0.0),
    "data_dir": Field((str,), ""),
    "image_size": Field((list,), [], doc="[height, width] for folders"),
    "limit": Field((int,), 0, minimum=0, doc="cap examples per split"),
    # Sizes of a generated dataset (`generated:TASK`); ignored otherwise.
    "examples": Field((int,), 2000, minimum=3, doc="generated: examples"),
    "sequence_length": Field((int,), 5, minimum=1,
                             doc="generated: tokens per source"),
    "vocabulary_size": Field((int,), 10, minimum=4,
                             doc="generated: ids 0-2 are pad/start/end"),
    "direction": Field((str,), "to_words",
                       choices=("to_words", "to_digits"),
                       doc="generated:number_words: digits -> words, or "
                       "words -> digits"),
    "held_out": Field((list, str), "default", doc="digit_captions: class "
                      "ids kept out of training, for zero-shot testing "
                      "(colored_digit_captions: names, e.g. 'red two'); "
                      "'default': the dataset's own; [] holds none out"),
    "labels_per_class": Field((int,), 0, minimum=0,
                              doc="a graph without masks: training nodes "
                              "per class (0: split all nodes by the "
                              "fractions)"),
    # The evaluation and test episodes of `gym:ENV_ID` (fixed seeds).
    "validation_episodes": Field((int,), 10, minimum=1,
                                 doc="gym: evaluation episodes per epoch"),
    "test_episodes": Field((int,), 100, minimum=1,
                           doc="gym: test episodes, run once at the end"),
}

# Generated datasets (`dataset.name = "generated:NAME"`).
GENERATED_TASKS = GENERATED

# The `target` field of older recipes (and of stored runs), now `task`.
_TARGET_TASKS = {"inputs": "reconstruction", "none": "generative",
                 "teacher_forcing": "seq2seq"}

# Fields added after recipes were first fingerprinted: a resolved recipe
# leaves them out of its fingerprint while they hold these defaults, so
# existing run directories keep their names.
LATER_DEFAULTS = {
    ("dataset", "examples"): 2000,
    ("dataset", "sequence_length"): 5,
    ("dataset", "vocabulary_size"): 10,
    ("preprocessing", "vocabulary_size"): 0,
    ("dataset", "labels_per_class"): 0,
    ("dataset", "held_out"): "default",
    ("dataset", "direction"): "to_words",
    ("preprocessing", "row_normalize"): False,
    ("dataset", "validation_episodes"): 10,
    ("dataset", "test_episodes"): 100,
    ("agent",): {},
    ("precision",): "float32",
}

AUGMENT = {
    "flip": Field((str,), "none",
                  choices=("none", "horizontal", "vertical", "both")),
    "rotation": Field((float,), 0.0, minimum=0.0, doc="max degrees"),
    "translation": Field((float,), 0.0, minimum=0.0,
                         doc="max shift, fraction of the size"),
    "noise": Field((float,), 0.0, minimum=0.0, doc="Gaussian std"),
}

PREPROCESSING = {
    "rescale": Field((float, str), 1.0, doc='a number or "1/255"'),
    "standardize": Field((bool,), False),
    "image_size": Field((list,), [], doc="[height, width] model input"),
    "resize_method": Field((str,), "bilinear",
                           choices=("bilinear", "nearest", "pad")),
    "channels": Field((int,), 0, choices=(0, 1, 3)),
    "one_hot": Field((bool,), False),
    "augment": AUGMENT,
    "sequence_length": Field((int,), 0, minimum=0),
    "padding": Field((str,), "post", choices=("post", "pre")),
    "truncating": Field((str,), "post", choices=("post", "pre")),
    "tokenizer": Field((str,), "", choices=("", "word", "wordpiece", "char",
                                            "bpe", "preset"),
                       doc="text inputs: word | wordpiece (learned on the "
                       "training split); empty for numeric inputs; "
                       "language modelling: char (default) | wordpiece | "
                       "bpe | preset"),
    "vocabulary_size": Field((int,), 0, minimum=0,
                             doc="tokenizer: most ids, padding and OOV "
                             "included"),
    "row_normalize": Field((bool,), False,
                           doc="graphs: divide each node's features by "
                           "their sum (Planetoid/GCN)"),
}

# Tables that take extra keys (optimizer kwargs, checked separately).
_OPEN_TABLES = {"optimizer"}

SCHEDULES = ("constant", "cosine", "exponential")

OPTIMIZER = {
    "name": Field((str,), "adam", choices=lambda: names("optimizers")),
    "learning_rate": Field((float,), 1e-3, minimum=0.0),
    "schedule": Field((str,), "constant", choices=SCHEDULES),
    "decay_rate": Field((float,), 0.5, minimum=0.0,
                        doc="exponential: factor per epoch"),
    "warmup_epochs": Field((int,), 0, minimum=0),
}

DISTRIBUTION = {
    "processes": Field((int,), 1, minimum=1,
                       doc="data-parallel training processes on this "
                       "machine (kerakit train --processes overrides it)"),
    "model_parallel": Field((int,), 1, minimum=1,
                            doc="JAX: devices that share each model's "
                            "large kernels and embeddings (Keras "
                            "ModelParallel); 1: data parallel only"),
}

TOP = {
    "name": Field((str,)),
    "description": Field((str,), ""),
    "model": Field((str,), choices=lambda: _model_names()),
    "model_kwargs": Field((dict,), {}),
    "dataset": DATASET,
    "preprocessing": PREPROCESSING,
    "optimizer": OPTIMIZER,
    "task": Field((str,), "", choices=lambda: list_tasks(),
                  doc="what the model is fitted against (kerakit tasks); "
                  "empty: the model's default"),
    "loss": Field((str, dict), "sparse_categorical_crossentropy",
                  doc='a loss name or table; "none" with task = '
                  '"generative"; default: the task\'s'),
    "metrics": Field((list,), ["accuracy"], doc="default: the task's"),
    "batch_size": Field((int,), 32, minimum=1),
    "epochs": Field((int,), 10, minimum=1),
    "patience": Field((int,), 5, minimum=0),
    "monitor": Field((str,), "val_accuracy", doc="default: the task's"),
    "seed": Field((int,), 0, minimum=0),
    "run_eagerly": Field((bool,), False, doc="no graph compilation (debug)"),
    "precision": Field((str,), "float32", choices=RECIPE_PRECISIONS,
                       doc="the model's dtype policy, or onednn_bfloat16 "
                       "(TensorFlow's bfloat16 graph rewrite); auto: "
                       "bfloat16 on a CPU with native bfloat16, else "
                       "float32"),
    "distribution": DISTRIBUTION,
    "agent": Field((dict,), {}, doc="task = 'reinforcement_learning': name "
                   "= dqn | reinforce | a2c, steps_per_epoch and the "
                   "agent's settings (kerakit.rl.agent_defaults); the task "
                   "checks them"),
}


def _model_names() -> list[str]:
    from kerakit.registry import list_models

    return list_models()


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", name).lower()


def _classes(module: Any, base: type) -> dict[str, type]:
    skip = {"Loss", "Optimizer", "Metric", "LossScaleOptimizer",
            "MultiOptimizer", "MeanMetricWrapper", "Mean", "Sum"}
    return {
        _snake(n): c for n, c in vars(module).items()
        if inspect.isclass(c) and issubclass(c, base) and n not in skip
    }


def _keras_classes(kind: str) -> dict[str, type]:
    if kind == "optimizers":
        found = _classes(keras.optimizers, keras.optimizers.Optimizer)
        found.setdefault("rmsprop", keras.optimizers.RMSprop)
        found.setdefault("sgd", keras.optimizers.SGD)
        found.setdefault("adamw", keras.optimizers.AdamW)
        return found
    if kind == "losses":
        return _classes(keras.losses, keras.losses.Loss)
    return _classes(keras.metrics, keras.metrics.Metric)


def _components() -> Any:
    try:
        from kerakit import components
    except ImportError:
        return None
    return components


def names(kind: str) -> list[str]:
    """Allowed names for `kind` in `("optimizers", "losses", "metrics")`.

    Example:
    >>> "sparse_categorical_crossentropy" in names("losses")
    True
    """
    found = set(_keras_classes(kind))
    if kind == "metrics":
        found.add("accuracy")
    components = _components()
    if components is not None:
        try:
            found.update(components.list(kind))
        except (AttributeError, KeyError, ValueError, TypeError):
            pass
    return sorted(found)


def _make(kind: str, name: str, kwargs: dict) -> Any:
    cls = _keras_classes(kind).get(name)
    if cls is not None:
        return cls(**kwargs)
    return _components().get(kind, name, **kwargs)


def _signature_params(kind: str, name: str) -> list[str] | None:
    cls = _keras_classes(kind).get(name)
    if cls is None:
        return None  # a component: it validates its own kwargs.
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self"
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def model_parameters(model: str) -> list[str]:
    """Return the keyword arguments a registered model accepts."""
    from kerakit.registry import get_entry

    sig = inspect.signature(get_entry(model).fn)
    return list(sig.parameters)


# ----------------------------------------------------------------- checking
def _fail(path: str, problem: str, allowed: Any = None) -> None:
    text = f"field {path!r}: {problem}"
    if allowed is not None:
        text += f" Allowed: {', '.join(map(str, allowed))}."
    raise SchemaError(text)


def _check_type(path: str, value: Any, field: Field) -> Any:
    for kind in field.types:
        if kind is float and isinstance(value, int) and not isinstance(
                value, bool):
            return float(value)
        if kind is int and isinstance(value, bool):
            continue
        if isinstance(value, kind):
            return value
    words = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in field.types)
    _fail(path, f"must be {words}. Received: {value!r} "
          f"({type(value).__name__}).")
    return None


def _check_field(path: str, value: Any, field: Field) -> Any:
    value = _check_type(path, value, field)
    if isinstance(value, float) and not math.isfinite(value):
        _fail(path, f"must be finite. Received: {value!r}.")
    if field.minimum is not None and isinstance(value, (int, float)) and (
            value < field.minimum):
        _fail(path, f"must be >= {field.minimum}. Received: {value!r}.")
    choices = field.choices() if callable(field.choices) else field.choices
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value), map(str, choices), 1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        _fail(path, f"unknown value {value!r}.{hint}", choices)
    return value


def _check_table(path: str, raw: Any, table: dict,
                 extra_ok: bool = False) -> dict:
    if not isinstance(raw, dict):
        _fail(path or "<top>", f"must be a table. Received: {raw!r}.")
    out, extra = {}, {}
    for key, value in raw.items():
        sub = f"{path}.{key}" if path else key
        if key not in table:
            if extra_ok:
                extra[key] = value
                continue
            close = difflib.get_close_matches(key, list(table), 1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            _fail(sub, f"is not a recipe field.{hint}", list(table))
        spec = table[key]
        out[key] = (_check_table(sub, value, spec, sub in _OPEN_TABLES)
                    if isinstance(spec, dict)
                    else _check_field(sub, value, spec))
    for key, spec in table.items():
        if key in out:
            continue
        if isinstance(spec, dict):
            out[key] = _check_table(f"{path}.{key}".strip("."), {}, spec)
        elif spec.default is REQUIRED:
            _fail(f"{path}.{key}".strip("."), "is required.")
        else:
            out[key] = _copy(spec.default)
    out.update(extra)
    return out


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else (
        dict(value) if isinstance(value, dict) else value)


def _check_kwargs(path: str, kind: str, name: str, kwargs: dict) -> None:
    accepted = _signature_params(kind, name)
    if accepted is None:
        return
    for key in kwargs:
        if key not in accepted:
            _fail(f"{path}.{key}", f"is not an argument of {kind[:-1]} "
                  f"{name!r}.", sorted(accepted))


def rescale_factor(value: float | str) -> float:
    """Parse `rescale` (`kerakit.data.preprocessing.rescale_factor`),
    raising `SchemaError` on a bad value.

    Example:
    >>> rescale_factor("1/255") == 1 / 255
    True
    """
    try:
        return data_rescale_factor(value)
    except ValueError as err:
        raise SchemaError(str(err)) from None


def _resolve_task(raw: dict) -> None:
    """Fill `task` (from `target` in older recipes, else the model's
    default) and the task's defaults for `loss`, `metrics`, `monitor`."""
    target = raw.pop("target", None)
    if target is not None:
        if target not in (*_TARGET_TASKS, "labels"):
            _fail("target", f"is {target!r}; this field is now 'task' "
                  f"(one of {', '.join(list_tasks())}).")
        mapped = _TARGET_TASKS.get(target, "")
        if raw.get("task") and mapped and raw["task"] != mapped:
            _fail("target", f"is {target!r} (task {mapped!r}) but task is "
                  f"{raw['task']!r}: target is now 'task'; remove it.")
        raw.setdefault("task", mapped)
    model = raw.get("model")
    if not raw.get("task") and isinstance(model, str):
        try:
            kwargs = raw.get("model_kwargs")
            raw["task"] = default_task(
                model, kwargs if isinstance(kwargs, dict) else None)
        except ValueError:
            return  # an unknown model is reported by its own field
    if isinstance(raw.get("task"), str) and raw["task"] in list_tasks():
        for key, value in get_task(raw["task"]).defaults.items():
            raw.setdefault(key, copy.deepcopy(value))


def _check_task(fields: dict, loss_name: str) -> None:
    """Check the task against loss, metrics and a generated dataset."""
    try:
        get_task(fields["task"]).check_recipe(fields, loss_name)
    except ValueError as err:
        path, _, problem = str(err).partition(": ")
        _fail(path, problem)
    dataset = fields["dataset"]
    # generated:number_words holds texts (kerakit.data.text_pairs).
    if not dataset["name"].startswith("generated:") or dataset[
            "name"] == "generated:number_words":
        return
    generated = tuple(f"generated:{task}" for task in GENERATED_TASKS)
    _check_field("dataset.name", dataset["name"],
                 Field((str,), choices=generated))
    length = fields["preprocessing"]["sequence_length"]
    if length != dataset["sequence_length"]:
        _fail("preprocessing.sequence_length", f"must equal "
              f"dataset.sequence_length ({dataset['sequence_length']}) for "
              f"{dataset['name']!r}, so the token ids stay integers. "
              f"Received: {length!r}.")
    vocabulary = fields["model_kwargs"].get("vocabulary_size")
    if isinstance(vocabulary, int) and vocabulary < dataset[
            "vocabulary_size"]:
        _fail("model_kwargs.vocabulary_size", f"is {vocabulary} but "
              f"dataset.vocabulary_size is {dataset['vocabulary_size']}: "
              "the model needs an embedding row for every token id.")


def _check_tokenizer(fields: dict) -> None:
    """Check a text tokenizer's settings against each other and the model.

    The model's `vocabulary_size` is not derived from the data: the recipe
    sets it, at least `preprocessing.vocabulary_size`, so every id the
    tokenizer can emit has an embedding row.
    """
    pre = fields["preprocessing"]
    tokenizer = pre["tokenizer"]
    if not tokenizer:
        if pre["vocabulary_size"]:
            _fail("preprocessing.vocabulary_size", "only applies with "
                  "preprocessing.tokenizer (text inputs): set tokenizer = "
                  "'word' or remove vocabulary_size.")
        return
    if pre["sequence_length"] < 1:
        _fail("preprocessing.sequence_length", f"must be >= 1 with "
              f"preprocessing.tokenizer = {tokenizer!r}: each text becomes "
              "that many token ids. Set e.g. sequence_length = 200.")
    if pre["vocabulary_size"] < 3:
        _fail("preprocessing.vocabulary_size", f"must be >= 3 with "
              f"preprocessing.tokenizer = {tokenizer!r} (the most ids the "
              "tokenizer may learn, padding and out-of-vocabulary "
              f"included). Received: {pre['vocabulary_size']!r}; set e.g. "
              "vocabulary_size = 20000.")
    if any(v not in (0, 0.0, "none") for v in pre["augment"].values()):
        _fail("preprocessing.augment", "applies to images and numbers, not "
              "to token ids: remove it when preprocessing.tokenizer is set.")
    if "vocabulary_size" not in model_parameters(fields["model"]):
        return
    model_size = fields["model_kwargs"].get("vocabulary_size")
    if not isinstance(model_size, int) or model_size < pre[
            "vocabulary_size"]:
        _fail("model_kwargs.vocabulary_size", f"must be >= "
              f"preprocessing.vocabulary_size ({pre['vocabulary_size']}) "
              "so every token id has an embedding row: set "
              f"model_kwargs.vocabulary_size = {pre['vocabulary_size']}. "
              f"Received: {model_size!r}.")


def _check_distribution(fields: dict[str, Any]) -> None:
    processes = fields["distribution"]["processes"]
    if processes == 1:
        return
    if not get_task(fields["task"]).data_parallel:
        _fail("distribution.processes", f"task = {fields['task']!r} does "
              "not train data-parallel (its batches cannot be shared out "
              "row by row): set processes = 1.")
    if fields["batch_size"] % processes:
        _fail("distribution.processes", f"{processes} processes cannot "
              f"share batch_size = {fields['batch_size']} evenly: make the "
              "batch size a multiple of the process count.")


def validate(raw: dict) -> dict[str, Any]:
    """Validate a raw recipe dict; return the fields of a `Recipe`."""
    raw = dict(raw)
    _resolve_task(raw)
    fields = _check_table("", raw, TOP)
    opt = fields["optimizer"]
    extra = {k: v for k, v in opt.items() if k not in OPTIMIZER}
    _check_kwargs("optimizer", "optimizers", opt["name"], extra)
    loss = fields["loss"]
    loss_name = loss if isinstance(loss, str) else loss.get("name")
    _check_field("loss" if isinstance(loss, str) else "loss.name",
                 loss_name, Field((str,), choices=lambda: [
                     *names("losses"), "none"]))
    if isinstance(loss, dict):
        kwargs = {k: v for k, v in loss.items() if k != "name"}
        _check_kwargs("loss", "losses", loss_name, kwargs)
    metrics = fields["metrics"]
    for i, metric in enumerate(metrics):
        _check_field(f"metrics[{i}]", metric,
                     Field((str,), choices=lambda: names("metrics")))
    fields["metrics"] = tuple(metrics)
    _check_task(fields, loss_name)
    if fields["agent"] and not getattr(get_task(fields["task"]),
                                       "trains_agent", False):
        _fail("agent", "applies only to task = 'reinforcement_learning' "
              f"(an agent on an environment); task is {fields['task']!r}: "
              "remove the [agent] table.")
    _check_distribution(fields)
    if (fields["precision"] == "mixed_float16"
            and not get_task(fields["task"]).loss_scaling):
        _fail("precision", "mixed_float16 needs loss scaling, which "
              f"task = {fields['task']!r} does not apply (its models "
              "compute their own gradients): use 'mixed_bfloat16', which "
              "keeps float32's range, or 'float32'.")
    if not get_task(fields["task"]).owns_tokenizer:
        _check_tokenizer(fields)
    allowed = ["loss", "val_loss"] + [
        p + m for m in metrics for p in ("", "val_")]
    if loss_name == "none":
        # The model logs its own names (a GAN: d_loss, g_loss, ...); the
        # trainer checks the monitor against them after the first epoch.
        if not re.fullmatch(r"(val_)?[a-z][a-z0-9_]*", fields["monitor"]):
            _fail("monitor", "must name a logged quantity such as "
                  f"'val_loss'. Received: {fields['monitor']!r}.")
    else:
        _check_field("monitor", fields["monitor"],
                     Field((str,), choices=tuple(allowed)))
    if fields["seed"] > _MAX_SEED:
        # numpy seeds are 32-bit, and the validation split uses seed + 1.
        _fail("seed", f"must be <= {_MAX_SEED}. Received: "
              f"{fields['seed']!r}.")
    rescale_factor(fields["preprocessing"]["rescale"])
    for key in ("dataset.image_size", "preprocessing.image_size"):
        section, sub = key.split(".")
        size = fields[section][sub]
        if size and (len(size) != 2 or not all(
                isinstance(s, int) and s > 0 for s in size)):
            _fail(key, f"must be [height, width] (positive integers). "
                  f"Received: {size!r}.")
    one_hot = fields["preprocessing"]["one_hot"]
    if one_hot and loss_name.startswith("sparse_"):
        _fail("preprocessing.one_hot", f"is true but loss {loss_name!r} "
              "expects integer labels: use "
              f"{loss_name.removeprefix('sparse_')!r} or one_hot = false.")
    from kerakit.registry import check_kwargs
    from kerakit.registry import get_entry

    entry = get_entry(fields["model"])
    try:
        check_kwargs(entry.fn, fields["model_kwargs"], f"{entry.name}()")
    except TypeError as err:
        raise SchemaError(f"field 'model_kwargs': {err}") from None
    return fields


# ---------------------------------------------------------------- building
def make_loss(loss: str | dict, weighted: bool = False) -> Any:
    """Build the loss object; cross-entropies default to `from_logits`.

    `"none"` gives `None`: the model adds its own loss. With `weighted`
    (a task whose sample weights are masks: `Task.weighted_metrics`), a
    Keras loss defaults to `reduction="mean_with_sample_weight"`, the mean
    over the weighted examples rather than over every row of the batch.
    """
    if loss == "none":
        return None
    if isinstance(loss, str):
        name, kwargs = loss, {}
    else:
        name = loss["name"]
        kwargs = {k: v for k, v in loss.items() if k != "name"}
    accepted = _signature_params("losses", name) or []
    if "from_logits" in accepted:
        kwargs.setdefault("from_logits", True)
    if weighted and "reduction" in accepted:
        kwargs.setdefault("reduction", "mean_with_sample_weight")
    return _make("losses", name, kwargs)


def make_metrics(metrics: tuple) -> list:
    """Keras metric strings as they are; other names via components."""
    out = []
    for name in metrics:
        try:
            keras.metrics.get(name)
            out.append(name)
        except ValueError:
            out.append(_components().get("metrics", name))
    return out


def make_optimizer(opt: dict, epochs: int, steps_per_epoch: int) -> Any:
    """Build the optimizer with its learning-rate schedule."""
    lr = opt["learning_rate"]
    total = max(1, epochs * steps_per_epoch)
    warmup = min(opt["warmup_epochs"] * steps_per_epoch, total - 1)
    if opt["schedule"] == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr, total - warmup, warmup_target=(
                lr if warmup else None), warmup_steps=warmup)
    elif opt["schedule"] == "exponential":
        lr = keras.optimizers.schedules.ExponentialDecay(
            lr, steps_per_epoch, opt["decay_rate"])
    kwargs = {k: v for k, v in opt.items() if k not in OPTIMIZER}
    return _make("optimizers", opt["name"], {"learning_rate": lr, **kwargs})
