"""The shared standard model test, usable from pytest or by users.

`ModelTestCase().run_model_test(...)` checks, on whatever backend Keras runs:
forward shape (eager and symbolic) and finite output, the model name, a
`.keras` save/load round trip (the JSON config revives unchanged and gives
identical outputs), and that a few training steps on a fixed batch lower the
loss and change every trainable variable. `run_precision_test` checks a
mixed-precision build and `run_layout_test` the channels_first layout.

`sweep_case(name)` derives inputs, targets and loss for a registered model
from its task, so the registry itself drives the sweep test
(`tests/models/test_sweep.py`). This module never imports a backend library.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerakit import registry

# A task maps to a function (entry kwargs) -> SweepData. Families add theirs
# with `register_task_data`.
_TASK_DATA: dict[str, Callable[[Mapping[str, Any]], SweepData]] = {}


class SweepData:
    """Inputs, targets, loss and expected output shape for one sweep case."""

    def __init__(
        self,
        x: Any,
        y: Any,
        loss: Any,
        expected_output_shape: Any,
        fit_kwargs: Mapping[str, Any] | None = None,
        loss_key: str = "loss",
        expect_decrease: bool = True,
        learning_rate: float | None = None,
    ) -> None:
        self.x = x
        self.y = y
        self.loss = loss
        self.expected_output_shape = expected_output_shape
        self.fit_kwargs = dict(fit_kwargs or {})
        # Adversarial models (GANs) have no loss that must fall in a few
        # steps; they set expect_decrease=False and name the logged loss.
        self.loss_key = loss_key
        self.expect_decrease = expect_decrease
        # Deep fixed-depth networks (ResNet-50 and up, DenseNet) at tiny
        # widths are so sensitive that one Adam step of 1e-3 can raise the
        # loss; their registry entries ask for a smaller step.
        self.learning_rate = learning_rate


def register_task_data(task: str) -> Callable:
    """Register how the sweep makes data for models of `task`.

    Example:
    >>> @register_task_data("doc_example_task")
    ... def _data(kwargs):
    ...     return SweepData(np.ones((2, 3)), np.ones((2, 1)), "mse", (2, 1))
    """

    def wrap(fn: Callable) -> Callable:
        _TASK_DATA[task] = fn
        return fn

    return wrap


def _image_batch(kwargs: Mapping[str, Any], batch: int = 4) -> np.ndarray:
    shape = tuple(kwargs["input_shape"])
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(batch, *shape)).astype("float32")


@register_task_data("image_classification")
def _image_classification(kwargs: Mapping[str, Any]) -> SweepData:
    x = _image_batch(kwargs)
    num_classes = kwargs["num_classes"]
    y = np.arange(len(x)) % num_classes
    return SweepData(
        x,
        y,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (len(x), num_classes),
    )


def sweep_case(name: str) -> tuple[Callable, dict[str, Any], SweepData]:
    """Return `(factory, tiny kwargs, data)` for a registered model.

    Example:
    >>> fn, kwargs, data = sweep_case("lenet5")
    >>> data.expected_output_shape[1] == kwargs["num_classes"]
    True
    """
    entry = registry.get_entry(name)
    kwargs = dict(entry.tiny)
    if "data" in entry.test:
        # A model whose inputs do not follow from its task makes its own.
        data = entry.test["data"](kwargs)
    elif entry.task in _TASK_DATA:
        data = _TASK_DATA[entry.task](kwargs)
    else:
        raise ValueError(
            f"No sweep data for task {entry.task!r} of model {name!r}. "
            "Register it with kerakit.testing.register_task_data."
        )
    if "learning_rate" in entry.test:
        data.learning_rate = entry.test["learning_rate"]
    return entry.fn, kwargs, data


def _to_numpy(outputs: Any) -> list[np.ndarray]:
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)]
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        np.asarray(keras.ops.convert_to_numpy(o)).astype("float32")
        for o in outputs
    ]


def _shapes(outputs: Any) -> Any:
    if isinstance(outputs, dict):
        return {k: tuple(v.shape) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [tuple(o.shape) for o in outputs]
    return tuple(outputs.shape)


def _fits(symbolic: Any, got: Any) -> bool:
    """Whether symbolic shapes match eager ones; `None` is any size.

    A model that takes sequences of any length (a keras-hub transformer)
    has `None` for the steps as well as for the batch.
    """
    if isinstance(symbolic, dict) and isinstance(got, dict):
        return symbolic.keys() == got.keys() and all(
            _fits(symbolic[k], got[k]) for k in got)
    if isinstance(symbolic, list) and isinstance(got, list):
        return len(symbolic) == len(got) and all(map(_fits, symbolic, got))
    return len(symbolic) == len(got) and all(
        s is None or s == g for s, g in zip(symbolic, got, strict=True))


def _with_batch(shape: Any, batch: int | None) -> Any:
    if isinstance(shape, dict):
        return {k: _with_batch(v, batch) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_with_batch(s, batch) for s in shape]
    return (batch, *tuple(shape)[1:])


def assert_allclose_outputs(a: Any, b: Any, atol: float = 1e-5) -> None:
    """Assert two model outputs (tensors, lists or dicts) are allclose."""
    for left, right in zip(_to_numpy(a), _to_numpy(b), strict=True):
        np.testing.assert_allclose(left, right, atol=atol, rtol=1e-4)


class ModelTestCase:
    """The standard test every registered model passes on every backend."""

    fit_steps = 5
    learning_rate = 1e-3
    max_traced_layers = 40

    def run_model_test(
        self,
        fn: Callable[..., keras.Model],
        init_kwargs: Mapping[str, Any],
        input_data: Any,
        expected_output_shape: Any,
        *,
        targets: Any = None,
        loss: Any = None,
        fit_kwargs: Mapping[str, Any] | None = None,
        tmp_dir: str | None = None,
        loss_key: str = "loss",
        expect_decrease: bool = True,
        learning_rate: float | None = None,
    ) -> keras.Model:
        """Run every standard check and return the trained model.

        Args:
            fn: The factory.
            init_kwargs: Its (tiny) keyword arguments.
            input_data: A batch of inputs.
            expected_output_shape: Output shape including batch (a list or
                dict of shapes for several outputs).
            targets: Training targets; `None` with `loss=None` for models
                that train themselves (VAE, GAN).
            loss: Loss for `compile`; `None` when the model adds its own.
            fit_kwargs: Extra `fit` arguments.
            tmp_dir: Where to save; a temporary folder by default.
            loss_key: History key of the loss that must stay finite.
            expect_decrease: Whether that loss must fall (not for GANs).
            learning_rate: Adam step size for the training check
                (`ModelTestCase.learning_rate` by default).

        Example:
        >>> from kerakit.models.cnn.lenet import lenet5
        >>> kw = {"input_shape": (16, 16, 1), "num_classes": 3,
        ...       "conv_widths": (2, 4, 8), "dense_widths": (8,)}
        >>> x = np.ones((2, 16, 16, 1), "float32")
        >>> _ = ModelTestCase().run_model_test(lenet5, kw, x, (2, 3),
        ...         targets=np.array([0, 1]),
        ...         loss=keras.losses.SparseCategoricalCrossentropy(True))
        """
        keras.utils.set_random_seed(0)
        model = fn(**init_kwargs)
        outputs = self._check_shape(model, input_data, expected_output_shape)
        expected_name = init_kwargs.get("name", fn.__name__)
        if model.name != expected_name:
            raise AssertionError(
                f"model.name is {model.name!r}, expected {expected_name!r}"
            )
        with tempfile.TemporaryDirectory(dir=tmp_dir) as folder:
            self._check_saving(model, input_data, outputs, folder)
        self._check_training(model, input_data, targets, loss, fit_kwargs,
                             loss_key, expect_decrease,
                             learning_rate or self.learning_rate)
        return model

    def _check_shape(self, model: keras.Model, x: Any, expected: Any) -> Any:
        """Check output shapes and finiteness; return the outputs."""
        outputs = model(x, training=False)
        got = _shapes(outputs)
        if got != _with_batch(expected, expected_batch(expected)):
            raise AssertionError(f"output shape {got}, expected {expected}")
        # `model.output` keeps a dict of named outputs (CLIP's) as a dict;
        # a subclassed model (the GAN) has none.
        try:
            named = model.output
        except (AttributeError, ValueError):
            named = None
        symbolic = _shapes(named if isinstance(named, dict)
                           else model.outputs if len(model.outputs) > 1
                           else model.outputs[0])
        if not _fits(symbolic, got):
            raise AssertionError(
                f"symbolic output shape {symbolic} does not match {expected}"
            )
        for array in _to_numpy(outputs):
            if not np.all(np.isfinite(array)):
                raise AssertionError("model output is not finite")
        return outputs

    def _check_saving(self, model: keras.Model, x: Any, outputs: Any,
                      folder: str) -> None:
        # A `.keras` file is the JSON config plus the weights, so loading it
        # is the config round trip too: the revived config must equal the
        # original and, with the saved weights, give the same outputs.
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, compile=False)
        as_json = lambda m: json.loads(json.dumps(m.get_config()))  # noqa: E731
        if as_json(loaded) != as_json(model):
            raise AssertionError("config changed in a .keras round trip")
        assert_allclose_outputs(outputs, loaded(x, training=False))

    def _check_training(
        self,
        model: keras.Model,
        x: Any,
        y: Any,
        loss: Any,
        fit_kwargs: Mapping[str, Any] | None,
        loss_key: str = "loss",
        expect_decrease: bool = True,
        learning_rate: float = 1e-3,
    ) -> None:
        # TensorFlow traces the whole train step into a graph first, which
        # costs more than the five eager steps for any model beyond a few
        # dozen layers (ResNet-18: 9.5 s traced, 2.9 s eager; minutes for
        # DenseNet-201), and the maths is the same. Small models keep the
        # traced step, and the recipes, tuning and export tests train in
        # graph mode. (JAX is the other way round: its eager ops each
        # compile, so it keeps jit.)
        deep = (
            keras.backend.backend() == "tensorflow"
            and len(model.layers) > self.max_traced_layers
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=loss,
            run_eagerly=deep,
        )
        before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        kwargs = {"epochs": self.fit_steps, "verbose": 0, "shuffle": False}
        kwargs.update(fit_kwargs or {})
        batch = len(x[0] if isinstance(x, (list, tuple)) else
                    next(iter(x.values())) if isinstance(x, dict) else x)
        history = model.fit(x, y, batch_size=batch, **kwargs).history
        losses = history[loss_key]
        if not np.all(np.isfinite(losses)):
            raise AssertionError(f"training loss is not finite: {losses}")
        if expect_decrease and not losses[-1] < losses[0]:
            raise AssertionError(f"training did not lower the loss: {losses}")
        unchanged = [
            v.path
            for v, old in zip(model.trainable_variables, before, strict=True)
            if np.array_equal(keras.ops.convert_to_numpy(v), old)
        ]
        if unchanged:
            raise AssertionError(f"variables not trained: {unchanged}")

    def run_head_test(
        self, fn: Callable[..., keras.Model], init_kwargs: Mapping[str, Any],
        x: Any
    ) -> None:
        """Check the head contract of an image classifier.

        `include_top=False, pooling=None` gives a 4D feature map and
        `pooling="avg"` gives `(batch, features)`.
        """
        kwargs = {**init_kwargs, "include_top": False}
        features = fn(**{**kwargs, "pooling": None})(x, training=False)
        if len(features.shape) != 4:
            raise AssertionError(f"feature map shape {features.shape}")
        pooled = fn(**{**kwargs, "pooling": "avg"})(x, training=False)
        channels_last = keras.config.image_data_format() == "channels_last"
        width = features.shape[-1] if channels_last else features.shape[1]
        if tuple(pooled.shape) != (x.shape[0], width):
            raise AssertionError(f"pooled shape {pooled.shape}")

    def run_precision_test(
        self, fn: Callable[..., keras.Model], init_kwargs: Mapping[str, Any],
        input_data: Any, policies: Sequence[str] | None = None, *,
        train: bool = False, targets: Any = None, loss: Any = None,
        fit_kwargs: Mapping[str, Any] | None = None,
        loss_key: str = "loss",
    ) -> None:
        """Check builds in other precisions (the standard test's item 6).

        For each policy name (by default `"mixed_bfloat16"` and
        `"mixed_float16"`; `"bfloat16"` and `"float32"` work too), every
        layer, nested ones included, takes the policy (`dtype` reaches
        every layer), every float variable is in the policy's variable
        dtype, and every float output is finite and in its compute dtype
        (or, like keras-hub's language-model logits, its variable dtype).
        With `train`, one training step on `targets` (`loss=None` for a
        model that adds its own) keeps the loss finite and the variables in
        their dtype.

        Example:
        >>> from kerakit.models.mlp.mlp import mlp
        >>> ModelTestCase().run_precision_test(
        ...     mlp, {"input_shape": (3,), "num_classes": 2, "num_layers": 1,
        ...           "hidden_dim": 4}, np.ones((2, 3), "float32"))
        """
        for name in policies or ("mixed_bfloat16", "mixed_float16"):
            policy = keras.dtype_policies.get(name)
            model = fn(**{**init_kwargs, "dtype": name})
            self._check_policy(model, policy, input_data)
            if train:
                self._check_precision_step(model, policy, input_data,
                                           targets, loss, fit_kwargs,
                                           loss_key)

    def _check_policy(self, model: keras.Model, policy: Any,
                      input_data: Any) -> None:
        name = policy.name
        wrong = [
            f"{layer.path}: {layer.dtype_policy.name}"
            for layer in _all_layers(model)
            # Inputs have a dtype, not a policy, and a nested model
            # computes nothing itself: its layers carry the policy.
            if not isinstance(layer, (keras.layers.InputLayer, keras.Model))
            and layer.dtype_policy.name != name
        ]
        if wrong:
            raise AssertionError(f"layers without dtype={name!r}: {wrong}")
        self._check_variable_dtypes(model, policy)
        outputs = keras.tree.flatten(model(input_data, training=False))
        # keras-hub's language-model heads return float32 logits under a
        # mixed policy on purpose (a softmax over a large vocabulary loses
        # precision in 16 bits), so the variable dtype is right too.
        allowed = {policy.compute_dtype, policy.variable_dtype}
        wrong = [
            str(o.dtype) for o in outputs
            if _is_float(o.dtype)
            and keras.backend.standardize_dtype(o.dtype) not in allowed
        ]
        if wrong:
            raise AssertionError(
                f"{name}: outputs in {wrong}, not {policy.compute_dtype}"
            )
        for array in _to_numpy(outputs):
            if not np.all(np.isfinite(array.astype("float32"))):
                raise AssertionError(f"{name}: output is not finite")

    @staticmethod
    def _check_variable_dtypes(model: keras.Model, policy: Any) -> None:
        wrong = [
            f"{v.path}: {v.dtype}" for v in model.variables
            if _is_float(v.dtype) and v.dtype != policy.variable_dtype
        ]
        if wrong:
            raise AssertionError(
                f"{policy.name}: variables not in {policy.variable_dtype}: "
                f"{wrong}"
            )

    def _check_precision_step(
        self, model: keras.Model, policy: Any, x: Any, y: Any, loss: Any,
        fit_kwargs: Mapping[str, Any] | None, loss_key: str,
    ) -> None:
        # Eager where tracing costs more than the step (as in
        # `_check_training`); JAX keeps jit, its eager ops each compile.
        deep = (keras.backend.backend() == "tensorflow"
                and len(model.layers) > self.max_traced_layers)
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=loss,
                      run_eagerly=deep)
        kwargs = {"verbose": 0, "shuffle": False, **(fit_kwargs or {}),
                  "epochs": 1}
        batch = len(x[0] if isinstance(x, (list, tuple)) else
                    next(iter(x.values())) if isinstance(x, dict) else x)
        losses = model.fit(x, y, batch_size=batch, **kwargs).history[
            loss_key]
        if not np.all(np.isfinite(losses)):
            raise AssertionError(
                f"{policy.name}: training loss is not finite: {losses}")
        self._check_variable_dtypes(model, policy)

    def run_layout_test(
        self, fn: Callable[..., keras.Model], init_kwargs: Mapping[str, Any],
        *, atol: float = 1e-4,
    ) -> tuple[keras.Model, keras.Model]:
        """Check that channels_first matches channels_last (item 8).

        `init_kwargs["input_shape"]` is `(H, W, C)`; the model is built in
        both layouts. On every backend: every layer of the channels_last
        model (sub-models included) has a namesake in the channels_first
        one, which may add layout adapters such as a `Permute`; each layer
        that takes a `data_format` has it set to channels_first there, with
        its 4D symbolic outputs the channels_last ones with the channel
        axis moved, and so do the model outputs (others are unchanged);
        and the channels_first model takes the channels_last weights
        (kernel layouts do not depend on `data_format`, so a missed
        batch-norm axis shows here). Where channels_first convolutions run
        (not on TensorFlow's CPU, whose Conv2D kernels are NHWC only), the
        same weights must also give the same outputs on transposed images
        (4D outputs transposed back), so the layout is handled everywhere:
        batch-norm axes, concatenations, and the feature order of Flatten
        and Reshape.

        Returns:
            `(channels_last model, channels_first model)`, same weights.

        Example:
        >>> from kerakit.models.cnn.lenet import lenet5
        >>> last, first = ModelTestCase().run_layout_test(lenet5, {
        ...     "input_shape": (16, 16, 1), "num_classes": 3,
        ...     "conv_widths": (2, 4, 8), "dense_widths": (8,)})
        >>> first.input_shape
        (None, 1, 16, 16)
        """
        h, w, c = init_kwargs["input_shape"]
        last = fn(**{**init_kwargs, "data_format": "channels_last"})
        first = fn(**{**init_kwargs, "input_shape": (c, h, w),
                      "data_format": "channels_first"})
        in_first = dict(_named_layers(first))
        for key, layer in _named_layers(last):
            if key not in in_first:
                raise AssertionError(f"no layer {key!r} in channels_first")
            twin = in_first[key]
            if getattr(twin, "data_format", None) is None:
                continue
            if twin.data_format != "channels_first":
                raise AssertionError(
                    f"{key}: data_format={twin.data_format!r} in the "
                    "channels_first model"
                )
            _check_moved_channels(key, _output_shapes(layer),
                                  _output_shapes(twin))
        _check_moved_channels(
            "outputs", [tuple(t.shape) for t in keras.tree.flatten(
                last.outputs)],
            [tuple(t.shape) for t in keras.tree.flatten(first.outputs)],
        )
        first.set_weights(last.get_weights())
        if not channels_first_runs():
            return last, first
        x = np.random.default_rng(0).uniform(size=(2, h, w, c))
        x = x.astype("float32")
        out_last = keras.tree.flatten(last(x, training=False))
        out_first = [
            keras.ops.transpose(o, (0, 2, 3, 1)) if len(o.shape) == 4 else o
            for o in keras.tree.flatten(
                first(np.transpose(x, (0, 3, 1, 2)), training=False)
            )
        ]
        for array in _to_numpy(out_last):
            if not np.all(np.isfinite(array)):
                raise AssertionError("model output is not finite")
        assert_allclose_outputs(out_last, out_first, atol=atol)
        return last, first


def channels_first_runs() -> bool:
    """Whether this backend can run channels_first convolutions here.

    TensorFlow's CPU Conv2D supports only NHWC ("The Conv2D op currently
    only supports the NHWC tensor format on the CPU"); JAX and torch run
    both layouts, and TensorFlow does on a GPU.
    """
    if keras.backend.backend() != "tensorflow":
        return True
    return any(str(d).lower().startswith("gpu")
               for d in keras.distribution.list_devices())


def _check_moved_channels(what: str, last: list[tuple],
                          first: list[tuple]) -> None:
    """4D shapes in `first` are those of `last` with channels moved."""
    want = [(s[0], s[3], s[1], s[2]) if len(s) == 4 else s for s in last]
    if first != want:
        raise AssertionError(
            f"{what}: channels_first shapes {first}, expected {want} "
            f"(channels_last {last})"
        )


def _all_layers(model: keras.Layer) -> list[keras.Layer]:
    """Every layer of a model, depth first, nested models included."""
    return [layer for _, layer in _named_layers(model)]


def _named_layers(model: keras.Layer,
                  prefix: str = "") -> list[tuple[str, keras.Layer]]:
    """`(nested name, layer)` for every layer, nested models included."""
    found = []
    for layer in getattr(model, "layers", []):
        key = f"{prefix}{layer.name}"
        found.append((key, layer))
        if isinstance(layer, keras.Model):
            found.extend(_named_layers(layer, f"{key}/"))
    return found


def _output_shapes(layer: keras.Layer) -> list[tuple]:
    """Symbolic output shapes of a layer's first call (none if uncalled)."""
    try:
        outputs = layer.output
    except (AttributeError, ValueError):
        return []
    return [tuple(o.shape) for o in keras.tree.flatten(outputs)]


def _is_float(dtype: Any) -> bool:
    return "float" in keras.backend.standardize_dtype(dtype)


def expected_batch(shape: Any) -> int:
    """Return the batch size of an expected shape (first entry)."""
    if isinstance(shape, dict):
        return expected_batch(next(iter(shape.values())))
    if isinstance(shape, list):
        return expected_batch(shape[0])
    return shape[0]
