import inspect
import io
import json
import math
from contextlib import redirect_stdout

import keras
import numpy as np
import pytest

from kerakit import cli
from kerakit import components


def test_kinds_and_required_entries():
    assert {"layers", "activations", "optimizers", "losses", "regularizers",
            "callbacks", "preprocessing"} <= set(components.kinds())
    required = {
        "layers": ["conv1d", "conv2d", "conv3d", "dense", "simple_rnn",
                   "lstm", "gru", "bidirectional", "multi_head_attention",
                   "max_pooling2d", "average_pooling2d",
                   "batch_normalization", "layer_normalization",
                   "instance_normalization", "dropout", "drop_path",
                   "embedding", "conv2d_transpose", "gcn_conv", "gat_conv",
                   "patch_embedding"],
        "activations": ["relu", "sigmoid", "tanh", "gelu", "leaky_relu",
                        "swish", "softmax"],
        "optimizers": ["sgd", "adam", "rmsprop", "adamw", "adagrad",
                       "nadam", "lamb"],
        "schedules": ["step", "cosine", "linear_warmup"],
        "losses": ["categorical_crossentropy",
                   "sparse_categorical_crossentropy", "binary_crossentropy",
                   "mean_squared_error", "mean_absolute_error", "huber",
                   "kl_divergence", "dice", "ctc", "triplet", "info_nce"],
        "regularizers": ["l1", "l2", "l1l2", "weight_decay", "distillation"],
        "callbacks": ["early_stopping"],
        "preprocessing": ["normalization", "rescaling", "random_flip",
                          "random_rotation", "random_crop",
                          "random_translation", "gaussian_noise",
                          "resizing", "pad_sequences", "word_tokenizer",
                          "wordpiece", "bpe", "pca", "tsne",
                          "feature_selection", "gaussian_denoise",
                          "image_patches", "images_to_tensor"],
    }
    for kind, names in required.items():
        assert set(names) <= set(components.list(kind)), kind


# Kinds whose every entry is a Keras class of one base.
_BASES = {"layers": keras.layers.Layer,
          "optimizers": keras.optimizers.Optimizer,
          "losses": keras.losses.Loss, "metrics": keras.metrics.Metric,
          "callbacks": keras.callbacks.Callback}


def test_every_entry_resolves_and_has_a_one_line_description():
    for kind, name, _, description in components.table():
        assert description and "\n" not in description, (kind, name)
        entry = components.lookup(kind, name)
        factory = entry.factory()
        # The target's attribute itself, not a stand-in of another name.
        attribute = entry.target.partition(":")[2].split(".")[-1]
        assert callable(factory) and factory.__name__ == attribute, (
            kind, name, entry.target)
        if kind in _BASES:
            assert inspect.isclass(factory), (kind, name)
            assert issubclass(factory, _BASES[kind]), (kind, name)


@pytest.mark.parametrize("spelling", ["LeakyReLU", "leaky_relu",
                                      "leaky-relu", "Leaky ReLU"])
def test_case_and_separator_insensitive(spelling):
    fn = components.get("activations", spelling)
    assert fn is components.get("activations", "leaky_relu")
    out = fn(keras.ops.convert_to_tensor([-1.0]))
    assert float(out[0]) == pytest.approx(-0.01)


@pytest.mark.parametrize("kind,alias,cls", [
    ("layers", "linear", "Dense"),
    ("layers", "Conv2D", "Conv2D"),
    ("losses", "cross_entropy", "SparseCategoricalCrossentropy"),
    ("losses", "MSE", "MeanSquaredError"),
    ("losses", "mae", "MeanAbsoluteError"),
    ("optimizers", "rmsprop", "RMSprop"),
    ("callbacks", "EarlyStopping", "EarlyStopping"),
    ("regularizers", "L1L2", "L1L2"),
    ("preprocessing", "RandomFlip", "RandomFlip"),
])
def test_aliases(kind, alias, cls):
    kwargs = {"units": 3} if cls == "Dense" else (
        {"filters": 2, "kernel_size": 3} if cls == "Conv2D" else {})
    assert type(components.get(kind, alias, **kwargs)).__name__ == cls


def test_swish_beta_and_layer_defaults():
    swish = components.get("activations", "swish", beta=2.0)
    assert swish.get_config() == {"beta": 2.0}
    layer = components.get("layers", "leaky_relu")
    assert layer.negative_slope == pytest.approx(0.01)
    assert components.get("layers", "drop_path", rate=0.2).rate == 0.2


def test_regularisers_and_callbacks():
    wd = components.get("regularizers", "weight_decay", rate=0.02)
    assert wd.get_config()["l2"] == pytest.approx(0.01)
    stop = components.get("callbacks", "early_stopping", patience=3)
    assert stop.patience == 3


def test_partial_entries():
    pad = components.get("preprocessing", "padding", maxlen=2)
    assert pad([[1, 2, 3]]).tolist() == [[2, 3]]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="Did you mean: .*leaky_relu"):
        components.get("activations", "leaky_rel")
    with pytest.raises(ValueError, match="kind activations"):
        components.get("losses", "gelu")


def test_unknown_kind_lists_kinds():
    with pytest.raises(ValueError, match="Kinds: layers, activations"):
        components.list("widgets")
    assert components.list("Loss") == components.list("losses")


def test_bad_arguments_are_clear():
    with pytest.raises((TypeError, ValueError),
                       match="Cannot build optimizers 'adam'.*momentum"):
        components.get("optimizers", "adam", momentum=0.9)
    with pytest.raises(TypeError, match="takes no arguments"):
        components.get("activations", "relu", alpha=1)


def test_objects_pass_through():
    loss = keras.losses.Huber()
    assert components.get("losses", loss) is loss


def test_cli_lists_components(capsys):
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert cli.main(["components", "losses"]) == 0
    text = buffer.getvalue()
    assert "info_nce" in text and "Triplet" in text
    assert cli.main(["components", "widgets"]) == 2
    assert "Kinds:" in capsys.readouterr().err
    rows = components.table()
    # One row per canonical name, and the rows survive JSON unchanged.
    assert len(rows) == sum(len(components.list(k))
                            for k in components.kinds())
    assert json.loads(json.dumps(rows)) == [list(row) for row in rows]
    assert ["losses", "info_nce", "contrastive, clip_loss, nt_xent",
            components.describe("losses", "info_nce")] in json.loads(
        json.dumps(rows))


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), -float("inf"),
                                  -1e-3, np.float32("nan")])
def test_non_finite_or_negative_learning_rate_is_refused(rate):
    with pytest.raises(ValueError, match="learning_rate must be a finite "
                       "number >= 0") as info:
        components.get("optimizers", "adam", learning_rate=rate)
    assert "optimizers 'adam'" in str(info.value)
    with pytest.raises(ValueError, match="initial_learning_rate must be"):
        components.get("schedules", "cosine", initial_learning_rate=rate,
                       decay_steps=10)


def test_valid_learning_rates_still_build():
    assert math.isclose(float(components.get(
        "optimizers", "adam", learning_rate=3e-4).learning_rate), 3e-4,
        rel_tol=1e-6)
    assert float(components.get("optimizers", "sgd",
                                learning_rate=0.0).learning_rate) == 0.0
    # A schedule as the rate is Keras's to check, not refused.
    schedule = components.get("schedules", "cosine",
                              initial_learning_rate=0.1, decay_steps=10)
    sgd = components.get("optimizers", "sgd", learning_rate=schedule)
    assert sgd._learning_rate is schedule


@pytest.mark.parametrize("kind", ["losses", "optimizers", "layers"])
def test_none_name_is_refused_with_how_to_pick(kind):
    with pytest.raises(TypeError, match="name=None") as info:
        components.get(kind, None)
    text = str(info.value)
    assert f"kerakit components {kind}" in text
    assert f"get({kind!r}, {components.list(kind)[0]!r})" in text
