"""Dataset loading: TFDS, scikit-learn digits, `.npz` files, image folders.

Every source returns numpy arrays in a :class:`RawData`, plus metadata
(number of classes, class names, raw value range) so that a recipe may omit
`num_classes` and `input_shape`. Nothing here downloads: TFDS datasets load
with `download=False` and, when missing, fail at once with
:class:`DatasetUnavailableError` saying how to prepare them.

Dataset names:
    `digits`: scikit-learn's 1,797 real 8x8 digits (offline).
    `tfds:NAME`: a prepared TensorFlow Datasets dataset, e.g. `tfds:mnist`,
        or text such as `tfds:imdb_reviews` (inputs: an object array of
        `str`, decoded from UTF-8 bytes).
    `npz:PATH` (or a path ending in `.npz`): arrays `x_train`, `y_train`,
        optionally `x_val`/`y_val` and `x_test`/`y_test` (or just `x`, `y`);
        `x` may be numbers or strings (text for a recipe tokenizer).
    `folder:PATH` (or a directory): `PATH/SPLIT/LABEL/*.png` or
        `PATH/LABEL/*.png` image files.
    `generated:reversal`: `examples` random token sequences (x, of
        `sequence_length` ids in `[3, vocabulary_size)`) and their reversal
        followed by the end id 2 (y), from
        `kerakit.data.generated.reversal_task` with a fixed seed.
    `generated:number_words`: `examples` distinct numbers below 10,000
        as digits (x) and English words (y); `python_docstrings:kind`: the
        first paragraph of each standard-library docstring (x) and what it
        documents (y: module, class, function); both offline, from
        `kerakit.data.text_pairs`.

Example:
>>> raw = load_dataset({"name": "digits"})
>>> raw.train[0].shape, raw.num_classes, raw.test is None
((1797, 8, 8, 1), 10, True)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Offline text datasets of `kerakit.data.text_pairs`.
TEXT_PAIRS = ("generated:number_words", "python_docstrings:kind")

Arrays = tuple[np.ndarray, np.ndarray]


class DatasetUnavailableError(FileNotFoundError):
    """The dataset is not on this machine; the message says how to get it."""


@dataclasses.dataclass
class RawData:
    """Arrays as the source gives them, before preprocessing.

    Attributes:
        name: Dataset name from the recipe.
        train: `(x, y)` of the training split.
        validation: `(x, y)` or `None` when the source has none.
        test: `(x, y)` or `None` when the source has none.
        num_classes: Number of classes.
        class_names: Name of each class.
        value_max: Largest raw input value (16 for digits, 255 for images;
            1 for text).
    """

    name: str
    train: Arrays
    validation: Arrays | None
    test: Arrays | None
    num_classes: int
    class_names: list[str]
    value_max: float


def load_dataset(spec: dict[str, Any]) -> RawData:
    """Load the dataset a recipe's `[dataset]` table names.

    Args:
        spec: The recipe's dataset table (`name`, splits, `data_dir`,
            `image_size`, `limit`); missing keys take their defaults.

    Returns:
        A `RawData`; `limit` > 0 keeps only that many examples per split.
    """
    spec = {"train_split": "train", "validation_split": "",
            "test_split": "test", "data_dir": "", "image_size": [],
            "limit": 0, "examples": 2000, "sequence_length": 5,
            "vocabulary_size": 10, **spec}
    name = spec["name"]
    if name == "digits":
        raw = _load_digits()
    elif name in TEXT_PAIRS:
        from kerakit.data.text_pairs import load_text_pairs

        pairs, classes = load_text_pairs(name, spec)
        raw = RawData(name, pairs, None, None, len(classes), classes, 1.0)
    elif name in ("digit_captions", "colored_digit_captions") or \
            name.startswith("pairs:"):
        # Images (x) and their captions (y); the contrastive and matching
        # tasks read `kerakit.data.image_text` themselves.
        from kerakit.data.image_text import load_image_text

        pairs = load_image_text(name, spec, seed=0)
        raw = RawData(name, (pairs.images, np.array(pairs.captions,
                                                     dtype=object)),
                      None, None, len(pairs.class_names),
                      pairs.class_names, 1.0)
    elif name.startswith("generated:"):
        raw = _load_generated(name[10:], spec)
    elif name.startswith("tfds:"):
        raw = _load_tfds(name[5:], spec)
    elif name.startswith("npz:") or name.endswith(".npz"):
        raw = _load_npz(name.removeprefix("npz:"))
    elif name.startswith("folder:") or os.path.isdir(name):
        raw = _load_folder(name.removeprefix("folder:"), spec["image_size"])
    else:
        raise ValueError(
            f"Unknown dataset {name!r}. Use 'digits', 'tfds:NAME' (e.g. "
            "'tfds:mnist'), 'npz:PATH', 'folder:PATH' or "
            "'generated:reversal'."
        )
    raw.name = name
    if spec["limit"]:
        n = spec["limit"]
        for attr in ("train", "validation", "test"):
            part = getattr(raw, attr)
            if part is not None:
                setattr(raw, attr, (part[0][:n], part[1][:n]))
    return raw


def _load_digits() -> RawData:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.astype("float32")[..., None]
    y = data.target.astype("int64")
    return RawData("digits", (x, y), None, None, 10,
                   [str(c) for c in data.target_names], 16.0)


def _load_generated(task: str, spec: dict[str, Any]) -> RawData:
    if task != "reversal":
        raise ValueError(f"Unknown generated dataset {task!r}. Known: "
                         "'generated:reversal', 'generated:number_words'.")
    from kerakit.data.generated import reversal_task

    vocabulary = int(spec["vocabulary_size"])
    x, y = reversal_task(int(spec["examples"]), vocabulary_size=vocabulary,
                         length=int(spec["sequence_length"]), seed=0)
    return RawData(f"generated:{task}", (x["source"], y), None, None,
                   vocabulary, [str(i) for i in range(vocabulary)],
                   float(vocabulary - 1))


def decode_text(x: np.ndarray) -> np.ndarray:
    """Bytes strings (TFDS text, `S` arrays) to an object array of `str`.

    Other arrays come back unchanged.

    Example:
    >>> decode_text(np.array([b"caf\\xc3\\xa9"], dtype=object)).tolist()
    ['café']
    """
    if x.dtype.kind == "S" or (x.dtype == object and x.size and isinstance(
            x.flat[0], bytes)):
        out = np.empty(x.shape, dtype=object)
        out.flat[:] = [t.decode("utf-8", "replace") if isinstance(
            t, bytes) else str(t) for t in x.flat]
        return out
    return x


def _to_arrays(ds: Any) -> Arrays:
    import tensorflow_datasets as tfds

    xs, ys = [], []
    for x, y in tfds.as_numpy(ds.batch(4096)):
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError("The TFDS split is empty.")
    return decode_text(np.concatenate(xs)), np.concatenate(ys).astype(
        "int64")


def _load_tfds(name: str, spec: dict[str, Any]) -> RawData:
    import tensorflow_datasets as tfds

    data_dir = spec["data_dir"] or None
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or (
        "~/tensorflow_datasets")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"Unknown TFDS dataset {name!r}. See "
            "https://www.tensorflow.org/datasets/catalog/overview."
        ) from None
    info = builder.info
    if not info.supervised_keys:
        raise ValueError(f"TFDS dataset {name!r} has no (input, label) "
                         "supervised keys; kerakit needs them.")
    label = info.features[info.supervised_keys[1]]
    num_classes = int(getattr(label, "num_classes", 0) or 0)
    names = list(getattr(label, "names", None) or range(num_classes))
    feature = info.features[info.supervised_keys[0]]
    value_max = 255.0 if "uint8" in str(getattr(feature, "dtype", "")) else (
        1.0)

    def load(split: str) -> Arrays | None:
        if not split:
            return None
        if spec["limit"] and "[" not in split:
            split = f"{split}[:{spec['limit']}]"
        try:
            ds = tfds.load(name, split=split, as_supervised=True,
                           download=False, data_dir=data_dir)
        except (AssertionError, FileNotFoundError) as err:
            raise DatasetUnavailableError(
                f"TFDS dataset {name!r} is not prepared in {where} "
                f"({str(err).splitlines()[0][:120]}). kerakit never "
                "downloads at run time. Prepare it once where there is "
                f"network: `tfds build {name}` (or python -c \"import "
                f"tensorflow_datasets as tfds; tfds.builder('{name}')."
                "download_and_prepare()\"), then copy the folder here and "
                "set dataset.data_dir (--set dataset.data_dir=PATH) or "
                "TFDS_DATA_DIR. Offline alternative: the 'digits' dataset."
            ) from None
        except ValueError as err:
            if "split" in str(err).lower():
                raise ValueError(
                    f"TFDS dataset {name!r} has no split {split!r}: {err}"
                ) from None
            raise
        return _to_arrays(ds)

    return RawData(
        name, load(spec["train_split"]), load(spec["validation_split"]),
        load(spec["test_split"]), num_classes, [str(n) for n in names],
        value_max,
    )


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of an `.npz` file; a damaged file names itself."""
    import zipfile

    if not os.path.isfile(path):
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"Dataset file {path!r} is a directory: give an .npz file, "
                "or name the folder with 'folder:PATH' for image files.")
        raise FileNotFoundError(f"Dataset file {path!r} not found.")
    how = "Write it with numpy.savez(path, x_train=..., y_train=...)."
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(
                f"{path}: holds one array (.npy format), not named arrays. "
                f"{how}")
        with data:
            return dict(data)
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: cannot read it as an .npz archive "
                         f"({err}). {how}") from None
    except ValueError as err:
        text = str(err)
        if "allow_pickle" in text:
            text = (f"{path}: holds an object array, which kerakit never "
                    "loads (unpickling can run code): save text as a str "
                    "array, e.g. numpy.array(texts, dtype=str).")
        raise ValueError(text if text.startswith(path) else (
            f"{path}: {text}")) from None


def _npz_pairs(path: str, arrays: dict[str, np.ndarray]
               ) -> dict[str, tuple[str, str]]:
    """The `(x, y)` array names of each split, checked against each other.

    Every x array needs one label per example, and every split the same
    example shape, or training would fail (or mislead) long after loading.
    """
    found = {}
    for split, stems in (("train", ("train",)),
                         ("validation", ("val", "validation")),
                         ("test", ("test",))):
        for stem in stems:
            if f"x_{stem}" in arrays and f"y_{stem}" in arrays:
                found[split] = (f"x_{stem}", f"y_{stem}")
                break
    if "train" not in found and "x" in arrays and "y" in arrays:
        found["train"] = ("x", "y")
    if "train" not in found:
        raise ValueError(
            f"{path}: needs arrays x_train and y_train (optionally x_val, "
            f"y_val, x_test, y_test), or x and y. Found: {sorted(arrays)}."
        )
    x_train = arrays[found["train"][0]]
    for x_name, y_name in found.values():
        x, y = arrays[x_name], arrays[y_name]
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(
                f"{path}: {x_name} has {len(x) if x.ndim else 'no'} "
                f"examples but {y_name} has {len(y) if y.ndim else 'no'} "
                f"labels: give {y_name} one label per example of {x_name}."
            )
        if not len(x):
            raise ValueError(f"{path}: {x_name} holds no examples.")
        if x.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"{path}: the examples of {x_name} have shape {x.shape[1:]} "
                f"but those of {found['train'][0]} have "
                f"{x_train.shape[1:]}: every split needs the same shape."
            )
    return found


def _load_npz(path: str) -> RawData:
    arrays = _read_npz(path)
    names = _npz_pairs(path, arrays)

    def pair(split: str) -> Arrays | None:
        if split not in names:
            return None
        x_name, y_name = names[split]
        # Labels keep their dtype: the task checks them (class ids must be
        # whole numbers; regression targets are real values).
        return decode_text(arrays[x_name]), np.asarray(arrays[y_name])

    train = pair("train")
    labels = np.concatenate([p[1] for p in (train, pair("validation"),
                                            pair("test")) if p is not None])
    whole = labels.size and labels.dtype.kind in "iufb" and bool(
        np.all(np.isfinite(labels)) and np.all(np.mod(labels, 1) == 0))
    num_classes = int(labels.max()) + 1 if whole else 0
    class_names = [str(n) for n in arrays.get("class_names",
                                              range(num_classes))]
    x = train[0]
    if x.dtype.kind in "UO":  # text
        value_max = 1.0
    else:
        value_max = 255.0 if x.dtype == np.uint8 else float(np.max(x) or 1.0)
    return RawData(path, train, pair("validation"), pair("test"),
                   num_classes, class_names, value_max)


def read_image(path: str | os.PathLike, size: Any = None) -> np.ndarray:
    """Read an image file into an `(height, width, channels)` uint8 array.

    Args:
        path: Image file.
        size: Optional `(height, width)` to resize to.

    Raises:
        ValueError: Naming the file, when it is not an image PIL can read.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            gray = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            image = image.convert("L" if gray else "RGB")
            if size:
                image = image.resize((int(size[1]), int(size[0])))
            array = np.asarray(image, dtype="uint8")
    # PIL raises OSError for unknown or truncated files, SyntaxError for
    # some broken PNGs and DecompressionBombError for absurd sizes.
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as err:
        raise ValueError(
            f"{path}: cannot read this image ({err}). Replace the file, or "
            "remove it from the dataset."
        ) from None
    return array[..., None] if array.ndim == 2 else array


def _read_class_dirs(root: Path, classes: list[str],
                     size: Any) -> Arrays:
    images, labels = [], []
    for index, label in enumerate(classes):
        folder = root / label
        files = sorted(p for p in folder.glob("*")
                       if p.suffix.lower() in _IMAGE_SUFFIXES) if (
            folder.is_dir()) else []
        for file in files:
            images.append(read_image(file, size))
            labels.append(index)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"Images under {root} have different sizes {sorted(shapes)}: "
            "set dataset.image_size = [height, width] to resize them."
        )
    if not images:
        raise ValueError(f"No image files ({', '.join(_IMAGE_SUFFIXES)}) "
                         f"under {root}/<label>/.")
    return np.stack(images), np.asarray(labels, dtype="int64")


def _load_folder(path: str, size: Any) -> RawData:
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder {path!r} not found.")
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir())
    splits = {"train", "validation", "val", "test"}
    if "train" in subdirs and set(subdirs) <= splits:
        classes = sorted({p.name for s in subdirs
                          for p in (root / s).iterdir() if p.is_dir()})
        parts = {s: _read_class_dirs(root / s, classes, size)
                 for s in subdirs}
        validation = parts.get("validation", parts.get("val"))
        train, test = parts["train"], parts.get("test")
    else:
        classes = subdirs
        train, validation, test = _read_class_dirs(root, classes, size), (
            None), None
    return RawData(path, train, validation, test, len(classes), classes,
                   255.0)
