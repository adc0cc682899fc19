"""MobileNet v3 Large and Small (Howard et al., 2019)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.models.cnn.mobilenet_v2 import check_multiplier
from kerakit.models.cnn.mobilenet_v2 import conv_bn
from kerakit.models.cnn.mobilenet_v2 import inverted_residual
from kerakit.models.cnn.mobilenet_v2 import make_divisible
from kerakit.models.cnn.mobilenet_v2 import scale_depths
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant

# One row per block: (kernel, expansion ratio, output channels,
# squeeze-excite, hard-swish, stride), the tables of the paper. Kernel 5,
# squeeze-excite and hard-swish become 3, off and ReLU when minimalistic.
# Consecutive rows of equal width form a stage (for `depth_multiplier`).
_BLOCKS = {
    "large": (
        (3, 1, 16, False, False, 1),
        (3, 4, 24, False, False, 2),
        (3, 3, 24, False, False, 1),
        (5, 3, 40, True, False, 2),
        (5, 3, 40, True, False, 1),
        (5, 3, 40, True, False, 1),
        (3, 6, 80, False, True, 2),
        (3, 2.5, 80, False, True, 1),
        (3, 2.3, 80, False, True, 1),
        (3, 2.3, 80, False, True, 1),
        (3, 6, 112, True, True, 1),
        (3, 6, 112, True, True, 1),
        (5, 6, 160, True, True, 2),
        (5, 6, 160, True, True, 1),
        (5, 6, 160, True, True, 1),
    ),
    "small": (
        (3, 1, 16, True, False, 2),
        (3, 72 / 16, 24, False, False, 2),
        (3, 88 / 24, 24, False, False, 1),
        (5, 4, 40, True, True, 2),
        (5, 6, 40, True, True, 1),
        (5, 6, 40, True, True, 1),
        (5, 3, 48, True, True, 1),
        (5, 3, 48, True, True, 1),
        (5, 6, 96, True, True, 2),
        (5, 6, 96, True, True, 1),
        (5, 6, 96, True, True, 1),
    ),
}
_LAST_WIDTH = {"large": 1280, "small": 1024}
_REFERENCE = (
    "Howard et al., 2019. Searching for MobileNetV3. "
    "https://arxiv.org/abs/1905.02244"
)
_KNOBS = (
    Knob("width", "width_multiplier", values=(0.5, 0.75, 1.0, 1.25)),
    Knob("depth", "depth_multiplier", values=(0.25, 0.5, 0.75, 1.0)),
)


def mobilenet_v3(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    size: str = "large",
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    minimalistic: bool = False,
    se_ratio: float = 0.25,
    last_width: int | None = None,
    include_top: bool = True,
    pooling: str | None = "avg",
    dropout: float = 0.2,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "mobilenet_v3",
) -> keras.Model:
    """Build MobileNet v3: inverted residuals with squeeze-excite, hard-swish.

    The block tables are the paper's (and `keras.applications`'): 15 blocks
    for `size="large"`, 11 for `"small"`. After the blocks a 1x1 conv
    widens to 6x the last width; the head is pool -> Dense(`last_width`,
    hard-swish) -> dropout -> Dense logits. keras.applications writes the two
    dense layers as 1x1 convs on the pooled map (same parameters) and adds a
    `Rescaling` layer; here inputs are used as given. Note that the head's
    extra dense layer belongs to `include_top`: with `include_top=False` the
    model ends at the pooled 1x1-conv features, as in keras.applications.

    Args:
        input_shape: Image shape without batch, at least 32x32; 1 or 3
            channels (any count works).
        num_classes: Number of output logits.
        size: `"large"` or `"small"` block table.
        width_multiplier: Scales block widths (rounded to multiples of 8);
            the stem stays at 16 and the head widens only above 1.
        depth_multiplier: Scales the blocks of each stage (a run of
            blocks with the same width in the table), keeping the first ones
            (rounded up, at least one). 0.25 leaves 6 (large) or 5 (small)
            blocks. Not keras.applications.MobileNet's depthwise multiplier.
        minimalistic: Use 3x3 kernels, ReLU and no squeeze-excite.
        se_ratio: Squeeze-excite bottleneck ratio.
        last_width: Units of the head's hidden dense layer; `None` gives
            1280 (large) or 1024 (small).
        include_top: Whether to add the classifier.
        pooling: Head pooling (`"avg"`, `"max"`, `"flatten"` or `None`; with
            `include_top=False`, `None` returns the feature map).
        dropout: Dropout before the classifier.
        classifier_activation: Activation of the output (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from images to logits (or features when
        `include_top=False`).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("mobilenet_v3_small", input_shape=(32, 32, 3),
    ...                   num_classes=10, depth_multiplier=0.25)
    >>> m.output_shape
    (None, 10)

    Reference:
        Howard et al., 2019. https://arxiv.org/abs/1905.02244
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    check_multiplier(name, "width_multiplier", width_multiplier)
    check_multiplier(name, "depth_multiplier", depth_multiplier)
    if size not in _BLOCKS:
        raise ValueError(
            f"{name}: size must be one of {sorted(_BLOCKS)}. "
            f"Received: size={size!r}"
        )
    if not 0 < se_ratio <= 1:
        raise ValueError(
            f"{name}: se_ratio must be in (0, 1]. Received: se_ratio="
            f"{se_ratio!r}"
        )
    if last_width is not None and last_width < 1:
        raise ValueError(
            f"{name}: last_width must be positive or None. Received: "
            f"last_width={last_width!r}"
        )
    heads.check_image_input(
        input_shape, model=name, data_format=fmt, min_size=32,
        need_static=pooling == "flatten",
    )
    swish = "relu" if minimalistic else "hard_silu"
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    width = 16
    x = conv_bn(inputs, width, 3, strides=2, activation=swish,
                data_format=fmt, dtype=dtype, name=f"{name}_stem")
    rows = []
    for _, stage in itertools.groupby(_BLOCKS[size], key=lambda r: r[2]):
        stage = list(stage)
        rows += stage[: scale_depths([len(stage)], depth_multiplier)[0]]
    for i, (kernel, ratio, out, se, hard, stride) in enumerate(rows, start=1):
        out = make_divisible(out * width_multiplier)
        x = inverted_residual(
            x, in_channels=width, expanded=make_divisible(width * ratio),
            out_channels=out, kernel_size=3 if minimalistic else kernel,
            strides=stride, activation=swish if hard else "relu",
            se_ratio=se_ratio if se and not minimalistic else None,
            data_format=fmt, dtype=dtype, name=f"{name}_block{i}",
        )
        width = out
    x = conv_bn(x, make_divisible(width * 6), 1, activation=swish,
                data_format=fmt, dtype=dtype, name=f"{name}_head")
    if not include_top:
        x = heads.pool(x, pooling, data_format=fmt, dtype=dtype, name=name)
        return keras.Model(inputs, x, name=name)
    last = last_width or _LAST_WIDTH[size]
    if width_multiplier > 1:
        last = make_divisible(last * width_multiplier)
    x = heads.pool(x, pooling or "avg", data_format=fmt, dtype=dtype,
                   name=name)
    x = keras.layers.Dense(last, activation=swish, dtype=dtype,
                           name=f"{name}_head_dense")(x)
    if dropout:
        x = keras.layers.Dropout(
            dropout, dtype=dtype, name=f"{name}_dropout"
        )(x)
    x = keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype=dtype,
        name=f"{name}_predictions",
    )(x)
    return keras.Model(inputs, x, name=name)


def _register_size(size: str, params: int) -> Any:
    fn = variant(
        mobilenet_v3, f"mobilenet_v3_{size}",
        f"MobileNet v3 {size.capitalize()} (see `mobilenet_v3`).", size=size,
    )
    return register(
        family="mobilenet",
        task="image_classification",
        tiny={
            "input_shape": (32, 32, 3),
            "num_classes": 3,
            "width_multiplier": 0.1,
            "depth_multiplier": 0.25,
            "last_width": 16,
            "dropout": 0.0,
        },
        reference=_REFERENCE,
        canonical={"input_shape": (224, 224, 3), "num_classes": 1000},
        params=params,
        knobs=_KNOBS,
    )(fn)


mobilenet_v3_large = _register_size("large", 5_507_432)
mobilenet_v3_small = _register_size("small", 2_554_968)
