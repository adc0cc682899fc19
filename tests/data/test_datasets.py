"""Dataset sources: digits, .npz, image folders and TFDS (offline)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kerakit.data.datasets import DatasetUnavailableError
from kerakit.data.datasets import load_dataset


def test_digits_metadata_and_limit():
    raw = load_dataset({"name": "digits", "limit": 50})
    assert raw.train[0].shape == (50, 8, 8, 1)
    assert raw.num_classes == 10 and raw.value_max == 16.0
    assert raw.validation is None and raw.test is None


def test_npz_with_and_without_splits(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=rng.random((6, 5)), y_train=[0, 1, 2, 0, 1, 2],
             x_test=rng.random((3, 5)), y_test=[0, 1, 3])
    raw = load_dataset({"name": str(path)})
    assert raw.num_classes == 4
    assert raw.test[0].shape == (3, 5) and raw.validation is None
    np.savez(path, x=rng.random((4, 2)), y=[0, 1, 0, 1])
    raw = load_dataset({"name": f"npz:{path}"})
    assert raw.train[0].shape == (4, 2) and raw.test is None
    np.savez(path, a=np.ones(2))
    with pytest.raises(ValueError, match="x_train and y_train"):
        load_dataset({"name": str(path)})
    with pytest.raises(FileNotFoundError):
        load_dataset({"name": "npz:/nonexistent.npz"})


def _write_images(root, size=(6, 6)):
    from PIL import Image

    for split in ("train", "test"):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(2):
                array = np.full(size, 40 * i, dtype="uint8")
                Image.fromarray(array).save(folder / f"{i}.png")


def test_image_folder(tmp_path):
    _write_images(tmp_path)
    raw = load_dataset({"name": f"folder:{tmp_path}"})
    assert raw.class_names == ["cat", "dog"]
    assert raw.train[0].shape == (4, 6, 6, 1) and raw.test[1].tolist() == [
        0, 0, 1, 1]
    flat = load_dataset({"name": str(tmp_path / "train"),
                         "image_size": [4, 5]})
    assert flat.train[0].shape == (4, 4, 5, 1) and flat.test is None


def test_image_folder_needs_one_size(tmp_path):
    from PIL import Image

    _write_images(tmp_path)
    Image.fromarray(np.zeros((3, 3), "uint8")).save(
        tmp_path / "train" / "cat" / "odd.png")
    with pytest.raises(ValueError, match="image_size"):
        load_dataset({"name": f"folder:{tmp_path}"})


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="tfds:NAME"):
        load_dataset({"name": "mnist"})


@pytest.fixture(scope="module")
def tfds():
    return pytest.importorskip("tensorflow_datasets")


def test_tfds_mock_data_gives_arrays_and_metadata(tfds):
    with tfds.testing.mock_data(num_examples=7):
        raw = load_dataset({"name": "tfds:mnist", "limit": 5})
    assert raw.train[0].shape == (5, 28, 28, 1)
    assert raw.train[0].dtype == np.uint8
    assert raw.num_classes == 10 and raw.value_max == 255.0
    assert raw.test is not None and raw.validation is None


def test_tfds_missing_data_fails_fast_and_says_how(tfds, tmp_path):
    start = time.time()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset({"name": "tfds:mnist", "data_dir": str(tmp_path)})
    assert time.time() - start < 30
    message = str(info.value)
    assert "tfds build mnist" in message and "data_dir" in message
    assert str(tmp_path) in message
    with pytest.raises(ValueError, match="Unknown TFDS dataset"):
        load_dataset({"name": "tfds:no_such_dataset_xyz"})


def test_tfds_local_data_dir_offline(tfds, tmp_path):
    builder_cls = _tiny_builder(tfds)
    builder_cls(data_dir=str(tmp_path)).download_and_prepare()
    raw = load_dataset({"name": "tfds:kerakit_tiny_shapes",
                        "data_dir": str(tmp_path)})
    assert raw.train[0].shape == (6, 8, 8, 1)
    assert raw.test[0].shape == (3, 8, 8, 1)
    assert raw.class_names == ["a", "b", "c"]


_BUILDER = []


def _tiny_builder(tfds):
    """A 3-class dataset of 8x8 images, prepared from memory (no network)."""
    if _BUILDER:
        return _BUILDER[0]

    class KerakitTinyShapes(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
                }),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6),
                    "test": self._generate_examples(3)}

        def _generate_examples(self, n):
            for i in range(n):
                image = np.full((8, 8, 1), 30 * i, dtype="uint8")
                yield i, {"image": image, "label": i % 3}

    _BUILDER.append(KerakitTinyShapes)
    return KerakitTinyShapes
