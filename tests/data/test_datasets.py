"""Dataset sources: digits, .npz, image folders and TFDS (offline)."""

from __future__ import annotations


import numpy as np
import pytest

from kerakit.data.datasets import DatasetUnavailableError
from kerakit.data.datasets import load_dataset
from kerakit.data.datasets import read_image


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


@pytest.mark.parametrize("arrays, words", [
    ({"x_train": np.zeros((10, 4)), "y_train": np.zeros(9, "int64")},
     "x_train has 10 examples but y_train has 9 labels"),
    ({"x_train": np.zeros((4, 3)), "y_train": np.zeros(4, "int64"),
      "x_test": np.zeros((3, 3)), "y_test": np.zeros(2, "int64")},
     "x_test has 3 examples but y_test has 2 labels"),
    ({"x": np.zeros((3, 2)), "y": np.array(1)},
     "x has 3 examples but y has no labels"),
    ({"x_train": np.zeros((4, 8, 8, 1)), "y_train": np.zeros(4, "int64"),
      "x_val": np.zeros((2, 8, 8)), "y_val": np.zeros(2, "int64")},
     r"x_val have shape \(8, 8\) but those of x_train have \(8, 8, 1\)"),
    ({"x_train": np.zeros((0, 3)), "y_train": np.zeros(0, "int64")},
     "x_train holds no examples"),
    ({"x": np.array([1, "a", None], dtype=object), "y": np.zeros(3)},
     "holds an object array, which kerakit never loads"),
])
def test_npz_inconsistent_arrays_name_the_file_and_arrays(tmp_path, arrays,
                                                          words):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=words) as info:
        load_dataset({"name": f"npz:{path}"})
    assert str(info.value).startswith(f"{path}: ")


def test_npz_that_is_no_archive_names_the_file(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.zeros(4, "int64"))
    path.write_bytes(path.read_bytes()[:60])  # truncated
    with pytest.raises(ValueError, match="cannot read it as an .npz") as info:
        load_dataset({"name": str(path)})
    assert str(info.value).startswith(f"{path}: ")
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(path)
    with pytest.raises(ValueError, match="holds one array"):
        load_dataset({"name": str(path)})
    folder = tmp_path / "f.npz"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_dataset({"name": str(folder)})


@pytest.mark.parametrize("content", [b"not an image", b""])
def test_unreadable_image_in_folder_is_named(tmp_path, content):
    _write_images(tmp_path)
    bad = tmp_path / "train" / "dog" / "broken.png"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="cannot read this image") as info:
        load_dataset({"name": f"folder:{tmp_path}"})
    assert str(info.value).startswith(f"{bad}: ")


def test_truncated_image_is_named(tmp_path):
    from PIL import Image

    path = tmp_path / "cut.png"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), "uint8")
    Image.fromarray(noise).save(path)  # noise: ~4 KB of compressed pixels
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="cannot read this image"):
        read_image(path)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="tfds:NAME"):
        load_dataset({"name": "mnist"})


@pytest.fixture(scope="module")
def tfds():
    # A required dependency: a broken install must fail here, not skip.
    import tensorflow_datasets

    return tensorflow_datasets


def test_tfds_mock_data_gives_arrays_and_metadata(tfds):
    with tfds.testing.mock_data(num_examples=7):
        raw = load_dataset({"name": "tfds:mnist", "limit": 5})
    assert raw.train[0].shape == (5, 28, 28, 1)
    assert raw.train[0].dtype == np.uint8
    assert raw.num_classes == 10 and raw.value_max == 255.0
    assert raw.test is not None and raw.validation is None


def test_tfds_missing_data_fails_fast_and_says_how(tfds, tmp_path,
                                                   monkeypatch):
    # Fast because nothing is downloaded: with download=True TFDS retries the
    # network for minutes (FACTS.md). Checked on the call, not with a clock.
    calls = []
    real_load = tfds.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tfds, "load", spy)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset({"name": "tfds:mnist", "data_dir": str(tmp_path)})
    assert calls and all(call["download"] is False for call in calls)
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
