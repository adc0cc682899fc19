"""Feature processing on numpy arrays: selection, PCA / t-SNE, denoising,
image patches and image-to-tensor conversion.

These run on the host before training (scikit-learn, SciPy, NumPy), so they
are the same on every Keras backend. Functions that fit something return
the fitted scikit-learn object too, to transform test data the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

_SCORES = ("f_classif", "mutual_info", "chi2", "f_regression")


def select_features(x: Any, y: Any, k: int = 10,
                    score: str = "f_classif") -> tuple[np.ndarray, Any]:
    """Keep the `k` features that score best against the targets.

    Args:
        x: `(samples, features)` array.
        y: Targets `(samples,)`.
        k: Features to keep (at most the number of features).
        score: `"f_classif"` (ANOVA F), `"mutual_info"`, `"chi2"`
            (non-negative `x`) or `"f_regression"`.

    Returns:
        `(x_selected, selector)`; `selector.get_support(indices=True)` gives
        the kept columns and `selector.transform` applies it to new data.

    Example:
    >>> x = np.array([[0, 5.0], [1, 5.1], [0.1, 4.9], [0.9, 5.0]])
    >>> xs, sel = select_features(x, np.array([0, 1, 0, 1]), k=1)
    >>> sel.get_support(indices=True).tolist()
    [0]
    """
    from sklearn import feature_selection as fs

    x = np.asarray(x)
    functions = {"f_classif": fs.f_classif,
                 "mutual_info": fs.mutual_info_classif,
                 "chi2": fs.chi2, "f_regression": fs.f_regression}
    if score not in functions:
        raise ValueError(f"score must be one of {_SCORES}. Received "
                         f"{score!r}")
    if x.ndim != 2 or not 1 <= k <= x.shape[1]:
        raise ValueError(
            "select_features needs x of shape (samples, features) and "
            f"1 <= k <= features. Received x {x.shape}, k={k}"
        )
    selector = fs.SelectKBest(functions[score], k=k).fit(x, np.asarray(y))
    return selector.transform(x), selector


def _flat(x: Any, name: str) -> np.ndarray:
    x = np.asarray(x, dtype="float64")
    if x.ndim < 2:
        raise ValueError(f"{name} needs (samples, ...) data. Received shape "
                         f"{x.shape}")
    return x.reshape(len(x), -1)


def pca(x: Any, n_components: int | float = 2, whiten: bool = False,
        seed: int = 0) -> tuple[np.ndarray, Any]:
    """Project onto the principal components (flattens non-batch axes).

    Args:
        x: `(samples, ...)` array.
        n_components: Components to keep, or a fraction of variance in
            `(0, 1)` to keep.
        whiten: Scale components to unit variance.
        seed: Random state of the solver.

    Returns:
        `(x_reduced, fitted sklearn PCA)`.

    Example:
    >>> z, model = pca(np.random.default_rng(0).normal(size=(20, 5)), 2)
    >>> z.shape, model.explained_variance_ratio_.shape
    ((20, 2), (2,))
    """
    from sklearn.decomposition import PCA

    data = _flat(x, "pca")
    if isinstance(n_components, int) and not (
        1 <= n_components <= min(data.shape)
    ):
        raise ValueError(
            f"n_components must be in [1, {min(data.shape)}] for data of "
            f"shape {data.shape}. Received {n_components}"
        )
    model = PCA(n_components=n_components, whiten=whiten, random_state=seed)
    return model.fit_transform(data), model


def tsne(x: Any, n_components: int = 2, perplexity: float = 30.0,
         seed: int = 0) -> np.ndarray:
    """Embed samples in 2 (or 3) dimensions with t-SNE, for plotting.

    t-SNE has no `transform` for new points; fit on everything to show.

    Example:
    >>> z = tsne(np.random.default_rng(0).normal(size=(12, 4)), perplexity=3)
    >>> z.shape
    (12, 2)
    """
    from sklearn.manifold import TSNE

    data = _flat(x, "tsne")
    if not 0 < perplexity < len(data):
        raise ValueError(
            f"perplexity must be in (0, samples={len(data)}). Received "
            f"{perplexity}; try min(30, samples / 4)."
        )
    model = TSNE(n_components=n_components, perplexity=perplexity,
                 random_state=seed, init="pca")
    return model.fit_transform(data)


def _spatial_axes(ndim: int, data_format: str | None,
                  channel_axis: bool) -> tuple[int, ...]:
    if not channel_axis:
        return tuple(range(1, ndim))
    if (data_format or "channels_last") == "channels_last":
        return tuple(range(1, ndim - 1))
    return tuple(range(2, ndim))


def gaussian_denoise(x: Any, sigma: float = 1.0, channel_axis: bool = True,
                     data_format: str | None = None) -> np.ndarray:
    """Smooth each sample with a Gaussian filter (a simple denoiser).

    Filters the spatial (or time) axes only, never across the batch or the
    channels.

    Args:
        x: `(batch, ..., channels)` images or signals (or without a channel
            axis when `channel_axis=False`).
        sigma: Standard deviation of the kernel, in pixels.
        channel_axis: Whether `x` has a channel axis.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:
    >>> img = np.zeros((1, 5, 5, 1)); img[0, 2, 2, 0] = 1.0
    >>> out = gaussian_denoise(img, sigma=1.0)
    >>> round(float(out.sum()), 3), bool(out[0, 2, 2, 0] < 1)
    (1.0, True)
    """
    from scipy import ndimage

    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 + int(channel_axis) or sigma < 0:
        raise ValueError(
            "gaussian_denoise needs (batch, ..., channels) data and "
            f"sigma >= 0. Received shape {x.shape}, sigma={sigma}"
        )
    axes = _spatial_axes(x.ndim, data_format, channel_axis)
    sigmas = [sigma if axis in axes else 0.0 for axis in range(x.ndim)]
    return ndimage.gaussian_filter(x, sigma=sigmas, mode="reflect")


def image_patches(images: Any, patch_size: int | tuple[int, int],
                  data_format: str | None = None) -> np.ndarray:
    """Cut images into non-overlapping patches, row-major.

    Args:
        images: `(batch, height, width, channels)` (or channels-first).
        patch_size: Patch side or `(height, width)`; sides that do not
            divide the image drop the remainder.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Returns:
        `(batch, num_patches, patch_h * patch_w * channels)`.

    Example:
    >>> image_patches(np.zeros((2, 8, 8, 3)), 4).shape
    (2, 4, 48)
    """
    x = np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"image_patches needs (batch, h, w, c) images. "
                         f"Received shape {x.shape}")
    if (data_format or "channels_last") == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    ph, pw = ((patch_size, patch_size) if isinstance(patch_size, int)
              else tuple(patch_size))
    b, h, w, c = x.shape
    if not (1 <= ph <= h and 1 <= pw <= w):
        raise ValueError(f"Patch {(ph, pw)} does not fit images {h}x{w}.")
    gh, gw = h // ph, w // pw
    x = x[:, : gh * ph, : gw * pw]
    x = x.reshape(b, gh, ph, gw, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, gh * gw, ph * pw * c)


def images_to_tensor(images: Sequence[Any] | Any,
                     size: tuple[int, int] | None = None,
                     scale: bool = True,
                     color_mode: str = "rgb") -> np.ndarray:
    """Format conversion: image files, PIL images or arrays to a batch.

    Args:
        images: File paths, PIL images, `(h, w[, c])` arrays, or one
            `(batch, h, w, c)` array.
        size: `(height, width)` to resize to; required when sizes differ.
        scale: Divide 8-bit values by 255 to get floats in `[0, 1]`.
        color_mode: `"rgb"`, `"grayscale"` or `"rgba"` for files.

    Returns:
        float32 `(batch, height, width, channels)`.

    Example:
    >>> images_to_tensor([np.full((2, 2), 255, "uint8")]).tolist()
    [[[[1.0], [1.0]], [[1.0], [1.0]]]]
    """
    import keras

    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    arrays = []
    for item in images:
        if isinstance(item, (str, os.PathLike)):
            item = keras.utils.load_img(item, color_mode=color_mode,
                                        target_size=size)
        array = np.asarray(item)
        if array.ndim == 2:
            array = array[..., None]
        if size is not None and array.shape[:2] != tuple(size):
            # Arrays here are (h, w, c) whatever the global image layout.
            array = keras.ops.convert_to_numpy(keras.ops.image.resize(
                array.astype("float32"), size, data_format="channels_last"))
        arrays.append(array)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            f"Images have different shapes {sorted(shapes)}; pass "
            "size=(height, width) to resize them."
        )
    batch = np.stack(arrays).astype("float32")
    return batch / 255.0 if scale else batch
