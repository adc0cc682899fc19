"""Search spaces for hyper-parameter tuning: TOML files and registry knobs.

A search space names a recipe and the hyper-parameters to vary. Each
hyper-parameter is named by the recipe key it overrides, exactly as
`Recipe.with_overrides` spells it:

| hyper-parameter | sets |
|---|---|
| `optimizer.learning_rate` | the optimizer's learning rate |
| `optimizer.name` | the optimizer (e.g. `["adam", "sgd"]`) |
| `batch_size` | the batch size of `fit` |
| `model_kwargs.<arg>` | factory argument `<arg>` (`model_kwargs.num_layers`) |
| `model` | the registered model, for depth knobs that switch variants |

Each default is the recipe's own value, so the default configuration of a
space reproduces the recipe, and every tuner runs it as its first trial
(`kerakit.tuning.search`). A space file (`tuning/*.toml`) looks like:

```toml
recipe = "mlp_digits"            # name in recipes/ or a path
knobs = ["depth"]                # ranges from the model's registry knobs
tuner = "random"                 # optional: random|bayesian|hyperband|grid
max_trials = 8                   # optional

[hyperparameters]
"optimizer.learning_rate" = { min = 1e-4, max = 1e-2, log = true }
batch_size = { values = [16, 32, 64] }
"model_kwargs.dropout" = { min = 0.0, max = 0.5, step = 0.1 }
```

Without a file, `auto_space(recipe)` searches the learning rate (log scale,
a decade either side of the recipe's), the batch size (half, same, double)
and the model's depth knob.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

_SPEC_KEYS = {"type", "values", "min", "max", "step", "log"}
_TOP_KEYS = {"recipe", "knobs", "tuner", "max_trials", "objective",
             "hyperparameters", "overrides"}
_OPTIMIZER_KEYS = ("name", "learning_rate", "weight_decay", "momentum",
                   "beta_1", "beta_2", "epsilon", "clipnorm")
TUNERS = ("random", "bayesian", "hyperband", "grid")
SPACES_DIR = Path(__file__).resolve().parents[2] / "tuning"


def _encode(value: Any) -> Any:
    """KerasTuner choices hold scalars only: lists travel as JSON text."""
    return json.dumps(value) if isinstance(value, (list, tuple)) else value


def _decode(value: Any, encoded: bool) -> Any:
    if encoded and isinstance(value, str):
        return tuple(json.loads(value))
    return value


@dataclasses.dataclass(frozen=True)
class HyperParam:
    """One hyper-parameter: the recipe key it sets and its range.

    Args:
        name: Recipe override key, e.g. `"optimizer.learning_rate"`.
        kind: `"choice"`, `"int"` or `"float"`.
        default: The recipe's value (what `HyperParameters()` gives).
        values: Choices, for `kind="choice"`.
        min_value: Lower bound of an int or float range.
        max_value: Upper bound of an int or float range.
        step: Step of the range (`None`: continuous floats, 1 for ints).
        log: Sample on a log scale.
    """

    name: str
    kind: str
    default: Any
    values: tuple = ()
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def encoded(self) -> bool:
        """Whether choices are lists, stored as JSON text in KerasTuner."""
        return any(isinstance(v, (list, tuple)) for v in self.values)

    def declare(self, hp: Any) -> Any:
        """Declare this on a `keras_tuner.HyperParameters`; return the value.

        Example:
        >>> import keras_tuner
        >>> p = HyperParam("batch_size", "choice", 32, values=(16, 32))
        >>> p.declare(keras_tuner.HyperParameters())
        32
        """
        sampling = "log" if self.log else "linear"
        if self.kind == "choice":
            value = hp.Choice(self.name, [_encode(v) for v in self.values],
                              default=_encode(self.default))
        elif self.kind == "int":
            # On a log scale KerasTuner's step multiplies (it must be > 1);
            # None samples every integer of the range.
            step = (int(self.step) if self.step and self.step > 1
                    else None if self.log else 1)
            value = hp.Int(self.name, int(self.min_value),
                           int(self.max_value), step=step,
                           sampling=sampling, default=int(self.default))
        else:
            value = hp.Float(self.name, float(self.min_value),
                             float(self.max_value), step=self.step,
                             sampling=sampling, default=float(self.default))
        return _decode(value, self.encoded)

    def decode(self, value: Any) -> Any:
        """Turn a value stored by KerasTuner back into the recipe value."""
        return _decode(value, self.encoded)

    def encode(self, value: Any) -> Any:
        """Turn a recipe value into the value KerasTuner stores.

        Example:
        >>> p = HyperParam("model_kwargs.dense_widths", "choice", (84,),
        ...                values=((84,), (120, 84)))
        >>> p.encode((120, 84))
        '[120, 84]'
        """
        if self.kind == "int":
            return int(value)
        if self.kind == "float":
            return float(value)
        return _encode(value)

    def checked_values(self) -> tuple:
        """The values tried on the model before a search (`check_values`).

        Every choice; every integer of a linear int range of at most 16
        values; otherwise the bounds (a factory rejects a float range at
        its ends, e.g. a dropout above 1).

        Example:
        >>> HyperParam("model_kwargs.num_layers", "int", 2, min_value=1,
        ...            max_value=4).checked_values()
        (1, 2, 3, 4)
        >>> HyperParam("optimizer.learning_rate", "float", 1e-3,
        ...            min_value=1e-4, max_value=1e-2, log=True
        ...            ).checked_values()
        (0.0001, 0.01)
        """
        if self.kind == "choice":
            return tuple(self.values)
        if self.kind == "int":
            low, high = int(self.min_value), int(self.max_value)
            every = range(low, high + 1, int(self.step or 1))
            if not self.log and len(every) <= 16:
                return tuple(every)
            return (low, high)
        return (float(self.min_value), float(self.max_value))

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly description."""
        out = {"name": self.name, "kind": self.kind, "default": self.default}
        if self.kind == "choice":
            out["values"] = list(self.values)
        else:
            out.update(min=self.min_value, max=self.max_value,
                       step=self.step, log=self.log)
        return out


def _fail(source: str, message: str) -> None:
    raise ValueError(f"{source}: {message}")


def parse_param(name: str, spec: Any, default: Any, source: str) -> HyperParam:
    """Read one `[hyperparameters]` entry into a checked `HyperParam`.

    Example:
    >>> parse_param("batch_size", {"values": [16, 32]}, 32, "x.toml").kind
    'choice'
    """
    if not isinstance(spec, dict):
        _fail(source, f"hyper-parameter {name!r} needs a table such as "
              "{ values = [16, 32] } or { min = 1e-4, max = 1e-2, log = "
              f"true }}. Received: {spec!r}")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        _fail(source, f"hyper-parameter {name!r} has unknown keys {unknown}; "
              f"allowed: {sorted(_SPEC_KEYS)}.")
    kind = spec.get("type")
    if kind is None:
        if "values" in spec:
            kind = "choice"
        elif all(isinstance(spec.get(k), int) for k in ("min", "max")) and (
                isinstance(spec.get("step", 1), int) and not spec.get("log")):
            kind = "int"
        else:
            kind = "float"
    if kind not in ("choice", "int", "float"):
        _fail(source, f"hyper-parameter {name!r}: type must be choice, int "
              f"or float. Received: type={kind!r}")
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            _fail(source, f"hyper-parameter {name!r} has an empty range: "
                  "give at least one value, e.g. values = [16, 32].")
        values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        if isinstance(default, list):
            default = tuple(default)
        if default not in values:
            _fail(source, f"hyper-parameter {name!r}: the recipe's value "
                  f"{default!r} is not among values={list(values)}. Add it, "
                  "so that the default trial reproduces the recipe.")
        return HyperParam(name, "choice", default, values=values)
    if "min" not in spec or "max" not in spec:
        _fail(source, f"hyper-parameter {name!r} needs both min and max "
              "(or values = [...]).")
    low, high, step = spec["min"], spec["max"], spec.get("step")
    log = bool(spec.get("log", False))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in (low, high)):
        _fail(source, f"hyper-parameter {name!r}: min and max must be "
              f"numbers. Received: min={low!r}, max={high!r}")
    if low > high or (step is not None and step <= 0):
        _fail(source, f"hyper-parameter {name!r} has an empty range: "
              f"min={low!r}, max={high!r}, step={step!r}. Use min <= max "
              "and step > 0.")
    if log and low <= 0:
        _fail(source, f"hyper-parameter {name!r}: a log range needs "
              f"min > 0. Received: min={low!r}")
    if (not isinstance(default, (int, float)) or isinstance(default, bool)
            or not low <= default <= high):
        _fail(source, f"hyper-parameter {name!r}: the recipe's value "
              f"{default!r} is outside [{low}, {high}]. Widen the range, so "
              "that the default trial reproduces the recipe.")
    if kind == "int" and log and step is not None:
        step = None if step <= 1 else step
    return HyperParam(name, kind, default, min_value=low, max_value=high,
                      step=step, log=log)


def _model_info(model: str) -> dict[str, Any]:
    from kerakit.registry import model_info

    return model_info(model)


def _factory_arguments(model: str) -> dict[str, Any]:
    return _model_info(model)["arguments"]


def recipe_value(recipe: Any, name: str, source: str) -> Any:
    """Return the recipe's current value for hyper-parameter `name`.

    Raises a `ValueError` that lists the valid names when `name` is not a
    recipe key a tuner may set.
    """
    head, _, tail = name.partition(".")
    known = ["batch_size", "model", "optimizer.learning_rate",
             "optimizer.name", "model_kwargs.<factory argument>"]
    if head in ("batch_size", "model") and not tail:
        return getattr(recipe, head)
    if head == "optimizer" and tail:
        if tail in recipe.optimizer or tail in _OPTIMIZER_KEYS:
            return recipe.optimizer.get(tail)
    elif head == "model_kwargs" and tail:
        arguments = _factory_arguments(recipe.model)
        if tail in arguments and tail not in ("input_shape", "num_classes",
                                              "name"):
            return recipe.model_kwargs.get(tail, arguments[tail])
        close = difflib.get_close_matches(tail, list(arguments), n=1)
        hint = f" Did you mean 'model_kwargs.{close[0]}'?" if close else ""
        _fail(source, f"unknown hyper-parameter {name!r}: {recipe.model} "
              f"has no argument {tail!r}.{hint} Its arguments: "
              f"{', '.join(arguments)}.")
    elif head in ("epochs", "patience") and not tail:
        return getattr(recipe, head)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    _fail(source, f"unknown hyper-parameter {name!r}.{hint} Names are the "
          f"recipe keys they set: {', '.join(known)}.")


def knob_param(recipe: Any, kind: str, source: str,
               widen: bool = False) -> HyperParam:
    """Turn the registry knob `kind` of the recipe's model into a param.

    Args:
        recipe: The recipe whose model declares the knob.
        kind: Knob kind, e.g. `"depth"`.
        source: Where the request came from, for error messages.
        widen: Add the recipe's value to the range when it lies outside
            (automatic spaces); otherwise that is an error.
    """
    knobs = _model_info(recipe.model)["knobs"]
    if kind not in knobs:
        _fail(source, f"model {recipe.model!r} has no {kind!r} knob; its "
              f"knobs: {sorted(knobs) or 'none'}. Name the factory argument "
              "in [hyperparameters] instead, e.g. "
              "\"model_kwargs.<arg>\" = { values = [...] }.")
    knob = knobs[kind]
    name = "model" if knob["arg"] == "model" else f"model_kwargs.{knob['arg']}"
    default = recipe_value(recipe, name, source)
    if "values" in knob:
        values = [list(v) if isinstance(v, (list, tuple)) else v
                  for v in knob["values"]]
        if widen and _listify(default) not in values:
            values.append(_listify(default))
        return parse_param(name, {"values": values}, default, source)
    low, high = knob["min_value"], knob["max_value"]
    if widen and isinstance(default, (int, float)):
        low, high = min(low, default), max(high, default)
    spec = {"min": low, "max": high, "log": bool(knob.get("log"))}
    if knob.get("step") is not None:
        spec["step"] = knob["step"]
    return parse_param(name, spec, default, source)


def _listify(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def auto_space(recipe: Any, source: str = "auto") -> list[HyperParam]:
    """Learning rate, batch size and depth knob around a recipe's values.

    The learning rate spans a decade either side of the recipe's (log
    scale), the batch size is half, equal or double the recipe's, and depth
    comes from the model's registry knob (skipped with a note when the model
    declares none).
    """
    params = []
    lr = recipe.optimizer.get("learning_rate")
    if isinstance(lr, (int, float)) and lr > 0:
        params.append(parse_param(
            "optimizer.learning_rate",
            {"min": lr / 10, "max": lr * 10, "log": True}, lr, source))
    size = int(recipe.batch_size)
    sizes = sorted({max(1, size // 2), size, size * 2})
    params.append(parse_param("batch_size", {"values": sizes}, size, source))
    if "depth" in _model_info(recipe.model)["knobs"]:
        params.append(knob_param(recipe, "depth", source, widen=True))
    else:
        print(f"note: {recipe.model} declares no depth knob; tuning the "
              "learning rate and batch size only.")
    return params


def read_space_file(path: Path) -> dict[str, Any]:
    """Read and shape-check a search-space TOML file."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        _fail(str(path), f"unknown keys {unknown}; allowed: "
              f"{sorted(_TOP_KEYS)}.")
    if "recipe" not in data:
        _fail(str(path), "name the recipe to tune: recipe = \"lenet_digits\".")
    if not data.get("hyperparameters") and not data.get("knobs"):
        _fail(str(path), "the space is empty: add [hyperparameters] entries "
              "or knobs = [\"depth\"].")
    return data


def space_params(recipe: Any, data: dict[str, Any],
                 source: str) -> list[HyperParam]:
    """Build every `HyperParam` of a space file's data, checked."""
    params = {}
    for kind in data.get("knobs", []):
        param = knob_param(recipe, kind, source)
        params[param.name] = param
    for name, spec in data.get("hyperparameters", {}).items():
        if name in params:
            _fail(source, f"{name!r} is set both by a knob and by "
                  "[hyperparameters]; keep one.")
        default = recipe_value(recipe, name, source)
        params[name] = parse_param(name, spec, default, source)
    return list(params.values())


def check_params(recipe: Any, params: list[HyperParam], source: str) -> None:
    """Try each range's end values on the recipe and registry, no training.

    Catches values the recipe or the model factory would reject (a variant
    that does not accept the recipe's model arguments, a negative dropout)
    before the first trial.
    """
    from kerakit.registry import check_kwargs
    from kerakit.registry import get_entry

    for param in params:
        ends = (param.values if param.kind == "choice"
                else (param.min_value, param.max_value))
        for value in ends:
            if param.kind == "int":
                value = int(value)
            try:
                trial = recipe.with_overrides({param.name: value})
                entry = get_entry(trial.model)
                kwargs = {k: tuple(v) if isinstance(v, list) else v
                          for k, v in trial.model_kwargs.items()}
                check_kwargs(entry.fn, kwargs, f"{trial.model}()")
            except (TypeError, ValueError, KeyError) as err:
                _fail(source, f"hyper-parameter {param.name!r} value "
                      f"{value!r} is not valid for this recipe: {err}")
    if not params:
        _fail(source, "the search space is empty.")


def find_space_file(ref: str | os.PathLike) -> Path | None:
    """Return the search-space file `ref` names, or None for a recipe.

    A `.toml` path is a space file when it has `[hyperparameters]` or
    `knobs`; a bare name is looked up in `./tuning/` and the shipped
    `tuning/` folder, and otherwise means a recipe.

    Example:
    >>> find_space_file("lenet_digits").name
    'lenet_digits.toml'
    """
    path = Path(ref)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text()
        is_space = "hyperparameters" in text or "knobs" in text
        return path if is_space and "recipe" in text else None
    if path.suffix:
        return None
    for folder in (Path.cwd() / "tuning", SPACES_DIR):
        candidate = folder / f"{ref}.toml"
        if candidate.is_file():
            return candidate
    return None


def list_spaces() -> list[str]:
    """Names of the shipped search spaces.

    Example:
    >>> "mlp_digits" in list_spaces()
    True
    """
    dirs = {Path.cwd() / "tuning", SPACES_DIR}
    return sorted({p.stem for d in dirs if d.is_dir()
                   for p in d.glob("*.toml")})


_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "perplexity")


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A recipe and the hyper-parameters to search (see `search_space`).

    Attributes:
        name: Space name (file stem, or the recipe name for automatic ones).
        recipe: The base `kerakit.workflow.recipes.Recipe`.
        params: The `HyperParam`s, named by the recipe keys they set.
        source: The space file, or `"auto"`.
        tuner: Default tuner of the space.
        max_trials: Default number of trials (`None`: the tuner decides).
    """

    name: str
    recipe: Any
    params: tuple[HyperParam, ...]
    source: str = "auto"
    tuner: str = "random"
    max_trials: int | None = 10

    @property
    def objective(self) -> str:
        """The recipe's monitored validation metric, e.g. `val_accuracy`."""
        return self.recipe.monitor

    @property
    def direction(self) -> str:
        """`"min"` for losses and errors, else `"max"`."""
        name = self.objective.lower()
        return "min" if any(s in name for s in _LOWER_IS_BETTER) else "max"

    def as_dict(self) -> dict[str, Any]:
        """JSON description: recipe fields and every hyper-parameter."""
        recipe = self.recipe.to_dict()
        for key in ("source", "overrides"):
            recipe.pop(key, None)
        return {"name": self.name, "source": self.source,
                "recipe": recipe, "objective": self.objective,
                "direction": self.direction,
                "params": [p.as_dict() for p in self.params]}
