import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from kerakit.data.features import gaussian_denoise
from kerakit.data.features import image_patches
from kerakit.data.features import images_to_tensor
from kerakit.data.features import pca
from kerakit.data.features import select_features
from kerakit.data.features import tsne


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data[:200], data.target[:200]


def test_select_features_keeps_informative_columns(digits):
    x, y = digits
    rng = np.random.default_rng(0)
    noisy = np.concatenate([rng.normal(size=(200, 3)), x], axis=1)
    xs, selector = select_features(noisy, y, k=10)
    assert xs.shape == (200, 10)
    assert min(selector.get_support(indices=True)) >= 3
    with pytest.raises(ValueError, match="1 <= k"):
        select_features(x, y, k=0)
    with pytest.raises(ValueError, match="score must be one of"):
        select_features(x, y, score="gini")


def test_pca_and_tsne(digits):
    x, _ = digits
    z, model = pca(x.reshape(200, 8, 8), n_components=5)
    assert z.shape == (200, 5)
    ratios = model.explained_variance_ratio_
    assert np.all(np.diff(ratios) <= 1e-12)
    np.testing.assert_allclose(z, model.transform(x), atol=1e-8)
    with pytest.raises(ValueError, match="n_components"):
        pca(x, n_components=100000)
    emb = tsne(x[:40], perplexity=10)
    assert emb.shape == (40, 2) and np.all(np.isfinite(emb))
    with pytest.raises(ValueError, match="perplexity"):
        tsne(x[:5])


def test_gaussian_denoise_reduces_noise(digits):
    x, _ = digits
    clean = gaussian_denoise(x.reshape(200, 8, 8, 1) / 16.0, sigma=1.0)
    rng = np.random.default_rng(0)
    noisy = clean + rng.normal(scale=0.3, size=clean.shape)
    denoised = gaussian_denoise(noisy, sigma=1.0)
    assert np.mean((denoised - clean) ** 2) < 0.5 * np.mean(
        (noisy - clean) ** 2)
    # Channels are filtered independently; channels-first matches.
    two = np.concatenate([noisy, np.zeros_like(noisy)], axis=-1)
    out = gaussian_denoise(two, 1.0)
    assert np.all(out[..., 1] == 0)
    first = gaussian_denoise(two.transpose(0, 3, 1, 2), 1.0,
                             data_format="channels_first")
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), out, atol=1e-6)


def test_image_patches_round_trip():
    images = np.arange(2 * 4 * 6 * 3).reshape(2, 4, 6, 3)
    patches = image_patches(images, (2, 3))
    assert patches.shape == (2, 4, 18)
    np.testing.assert_array_equal(patches[0, 1].reshape(2, 3, 3),
                                  images[0, 0:2, 3:6])
    first = image_patches(images.transpose(0, 3, 1, 2), (2, 3),
                          data_format="channels_first")
    np.testing.assert_array_equal(first, patches)


def test_images_to_tensor(tmp_path):
    paths = []
    for i in range(2):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.full((6, 4, 3), 51 * i, "uint8")).save(path)
        paths.append(str(path))
    batch = images_to_tensor(paths)
    assert batch.shape == (2, 6, 4, 3) and batch.dtype == np.float32
    assert batch.max() == pytest.approx(0.2)
    resized = images_to_tensor([np.zeros((4, 4, 3)), np.zeros((8, 8, 3))],
                               size=(4, 4))
    assert resized.shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match="size=\\(height, width\\)"):
        images_to_tensor([np.zeros((4, 4)), np.zeros((5, 5))])
