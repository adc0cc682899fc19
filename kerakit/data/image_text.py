"""Image-text pairs: captioned digits made offline, and user folders.

Two sources, both without a download:

- `digit_captions`: scikit-learn's 1,797 real 8x8 digits, each with one
  caption drawn (seeded) from `caption_templates()`. Captions name the
  digit and describe the strokes of its glyph ("a loop at the top", "a
  flat bar at the top", ...; `DIGIT_SHAPES`). The stroke phrases are
  shared between classes, which is what makes zero-shot classification of
  a class never seen in training possible at all: a held-out class is
  described by its prompt (`class_prompt`) through phrases learned from
  other classes (attribute-based zero-shot, Lampert et al., 2009). The
  held-out class names themselves never occur in training captions, so
  they cannot help.
- `colored_digit_captions`: the same digits, each tinted in
  `tints_per_image` (default 2) of the ink colours red, green, blue and
  yellow (seeded choice, slight seeded jitter of the ink), 3,594 RGB
  images; classes are (colour, digit) pairs ("red seven", ids
  `colour * 10 + digit`) and captions come from varied templates over the
  colour and digit words (`COLORED_TEMPLATES`). Held out by default
  (`DEFAULT_HELD_OUT_COMBOS`): eight combinations, each of the digits 2,
  4, 6, 8 in two colours, each colour with two of those digits, so that
  telling them apart needs both the colour and the digit, while every
  colour and every digit is still trained in other combinations
  (compositional zero-shot). A digit source image is tinted either only
  in its digit's held-out colours or only in the others, so no held-out
  test image shares its handwriting with a training image
  (`ImageTextData.sources`).
- `pairs:PATH`: a folder of images plus `captions.tsv`, one
  `file<TAB>caption` line per image; labels are unknown (`-1`).

Splitting into train / validation / test is the task's job; held-out
classes (`ImageTextData.held_out`) belong to the test split only.

Example:
>>> data = load_image_text("digit_captions", {}, seed=0)
>>> data.images.shape, data.class_names[:3], data.held_out
((1797, 8, 8, 1), ['zero', 'one', 'two'], [6, 9])
>>> class_prompt("nine")
'a nine: a digit with a loop at the top and a straight vertical stroke'
>>> colored = load_image_text("colored_digit_captions", {}, seed=0)
>>> colored.images.shape, colored.class_names[12], len(colored.held_out)
((3594, 8, 8, 3), 'green two', 8)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six",
               "seven", "eight", "nine")
# The strokes of each glyph as scikit-learn's 8x8 digits draw them. Every
# phrase but "a round loop" (zero) describes at least two digits, so each
# held-out digit is described by phrases seen on other digits.
DIGIT_SHAPES: dict[str, tuple[str, ...]] = {
    "zero": ("a round loop", "curves on both sides"),
    "one": ("a straight vertical stroke", "no curves"),
    "two": ("a curve at the top", "a diagonal stroke", "a flat base"),
    "three": ("a curve at the top", "a curve at the bottom",
              "an open left side"),
    "four": ("a straight vertical stroke", "a sharp corner", "no curves"),
    "five": ("a flat bar at the top", "a curve at the bottom",
             "an open left side"),
    "six": ("a loop at the bottom", "a curve at the top"),
    "seven": ("a flat bar at the top", "a diagonal stroke", "no curves"),
    "eight": ("a loop at the top", "a loop at the bottom",
              "curves on both sides"),
    "nine": ("a loop at the top", "a straight vertical stroke"),
}
# Six and nine: each is described only by phrases learned from other
# digits, and they differ in where their loop is.
DEFAULT_HELD_OUT = (6, 9)
# Ink colours of `colored_digit_captions` (RGB, on a black background).
INK_COLORS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.15, 0.1), "green": (0.1, 0.9, 0.2),
    "blue": (0.15, 0.35, 1.0), "yellow": (1.0, 0.9, 0.1)}
COLORED_TEMPLATES = (
    "{a_colour} {digit}", "the digit {digit} written in {colour} ink",
    "a handwritten {digit} in {colour}", "{digit} in {colour}",
    "{a_colour} handwritten {digit}", "the number {digit}, drawn in "
    "{colour}", "{colour} ink showing the digit {digit}",
    "a picture of {a_digit} in {colour}")
# Digit d of 2, 4, 6, 8 is held out in colours k and k + 1 (k = its
# position): each held-out colour holds two digits, each digit two colours.
DEFAULT_HELD_OUT_COMBOS = ("red two", "green two", "green four",
                           "blue four", "blue six", "yellow six",
                           "yellow eight", "red eight")
CAPTIONS_FILE = "captions.tsv"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
_PROMPT_TEMPLATE = "{a_name}: a digit with {shapes}"


@dataclasses.dataclass
class ImageTextData:
    """Images with one caption each.

    Attributes:
        images: `(N, H, W, C)` float32 in `[0, 1]`.
        captions: One caption per image.
        labels: `(N,)` int class ids, `-1` when unknown (`pairs:PATH`).
        class_names: Name of each class (`[]` for `pairs:PATH`).
        held_out: Class ids kept out of train and validation (zero-shot
            classes), `[]` if none.
        sources: `(N,)` id of the source image each image was made from
            (tinted copies share one; splits keep them together), or
            `None` when every image is its own source.
    """

    images: np.ndarray
    captions: list[str]
    labels: np.ndarray
    class_names: list[str]
    held_out: list[int]
    sources: np.ndarray | None = None


def caption_templates() -> list[str]:
    """The caption templates of `digit_captions`.

    `{name}` is the class name (`{a_name}` with "a" or "an" before it)
    and `{shapes}` its stroke phrases joined with "and" (in a seeded
    order); a template may use either or both.

    Example:
    >>> caption_templates()[0]
    'a handwritten {name}'
    """
    return ["a handwritten {name}", "the digit {name}",
            "a small image of {a_name}", "a digit with {shapes}",
            "a handwritten digit with {shapes}", "{shapes}",
            "{a_name} drawn with {shapes}", _PROMPT_TEMPLATE]


def class_prompt(class_name: str) -> str:
    """The text that stands for a class in zero-shot classification.

    A digit name gets its name and all its stroke phrases, in the form of
    one of the caption templates; a (colour, digit) class of
    `colored_digit_captions` gets its first template ("a red seven"); any
    other name gets "a photo of NAME".

    Example:
    >>> class_prompt("eight")[:31]
    'an eight: a digit with a loop a'
    >>> class_prompt("yellow eight")
    'a yellow eight'
    >>> class_prompt("red car")
    'a photo of a red car'
    """
    name = str(class_name).strip()
    if name in DIGIT_SHAPES:
        return _PROMPT_TEMPLATE.format(
            a_name=with_article(name),
            shapes=" and ".join(DIGIT_SHAPES[name]))
    colour, _, digit = name.partition(" ")
    if colour in INK_COLORS and digit in DIGIT_NAMES:
        return _colored_caption(COLORED_TEMPLATES[0], colour, digit)
    return f"a photo of {name}" if name.lower().startswith(("a ", "an ")) \
        else f"a photo of {with_article(name)}"


def with_article(phrase: str) -> str:
    """`phrase` after "a", or "an" before a vowel letter.

    Example:
    >>> with_article("eight"), with_article("red eight")
    ('an eight', 'a red eight')
    """
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def _colored_caption(template: str, colour: str, digit: str) -> str:
    return template.format(colour=colour, digit=digit,
                           a_colour=with_article(colour),
                           a_digit=with_article(digit))


def load_image_text(name: str, spec: dict[str, Any],
                    seed: int) -> ImageTextData:
    """Load `digit_captions`, `colored_digit_captions` or `pairs:PATH`.

    Args:
        name: `"digit_captions"`, `"colored_digit_captions"` or
            `"pairs:PATH"`.
        spec: The recipe's dataset table. `held_out`: class ids (or, for
            `colored_digit_captions`, class names such as "red two") kept
            for zero-shot testing (`"default"`, the default: `[6, 9]`,
            or `DEFAULT_HELD_OUT_COMBOS`; `[]` for none). `tints_per_image`:
            colours each digit is drawn in (`colored_digit_captions`,
            default 2). `image_size`: `[height, width]` to resize
            `pairs:PATH` images to (required when their sizes differ).
        seed: Seeds the caption drawn for each image.

    Returns:
        An `ImageTextData`.

    Raises:
        ValueError: For an unknown name, bad held-out ids, or bad files.
        FileNotFoundError: For a missing folder or captions file.

    Example:
    >>> a = load_image_text("digit_captions", {"held_out": []}, seed=1)
    >>> b = load_image_text("digit_captions", {"held_out": []}, seed=1)
    >>> a.captions[:50] == b.captions[:50], a.held_out
    (True, [])
    """
    held_out = spec.get("held_out", "default")
    if isinstance(held_out, str) and held_out != "default":
        raise ValueError(
            f"dataset.held_out: {held_out!r} is not a list; give class ids "
            "or names (e.g. [6, 9] or ['red two']), [] for none, or "
            "'default'.")
    if name == "digit_captions":
        return _digit_captions(
            DEFAULT_HELD_OUT if held_out == "default" else held_out, seed)
    if name == "colored_digit_captions":
        return _colored_digit_captions(
            DEFAULT_HELD_OUT_COMBOS if held_out == "default" else held_out,
            int(spec.get("tints_per_image", 2)), seed)
    if name.startswith("pairs:"):
        return _pairs(name[len("pairs:"):], spec.get("image_size") or None)
    raise ValueError(f"Unknown image-text dataset {name!r}. Use "
                     "'digit_captions', 'colored_digit_captions' or "
                     "'pairs:PATH' (a folder of images "
                     f"plus {CAPTIONS_FILE}).")


def _digit_captions(held_out: Any, seed: int) -> ImageTextData:
    from sklearn.datasets import load_digits

    held = sorted({int(c) for c in held_out})
    if any(not 0 <= c < 10 for c in held) or len(held) == 10:
        raise ValueError(
            f"dataset.held_out: class ids must be in 0..9 and leave some "
            f"classes to train on. Received {list(held_out)}.")
    data = load_digits()
    images = (data.images / 16.0).astype("float32")[..., None]
    labels = data.target.astype("int64")
    rng = np.random.default_rng(seed)
    templates = caption_templates()
    captions = []
    for label in labels:
        name = DIGIT_NAMES[label]
        shapes = list(DIGIT_SHAPES[name])
        rng.shuffle(shapes)
        template = templates[rng.integers(len(templates))]
        captions.append(template.format(name=name, a_name=with_article(name),
                                        shapes=" and ".join(shapes)))
    return ImageTextData(images, captions, labels, list(DIGIT_NAMES), held)


def _colored_digit_captions(held_out: Any, tints: int,
                            seed: int) -> ImageTextData:
    from sklearn.datasets import load_digits

    colours = list(INK_COLORS)
    names = [f"{c} {d}" for c in colours for d in DIGIT_NAMES]
    ids = [names.index(c.strip()) if isinstance(c, str) and c.strip()
           in names else c if type(c) is int and 0 <= c < len(names)
           else None for c in held_out]
    held = sorted(set(ids) - {None})
    trained = [c for c in range(len(names)) if c not in held]
    if None in ids or {c // 10 for c in trained} != set(
            range(len(colours))) or {c % 10 for c in trained} != set(
            range(10)):
        raise ValueError(
            "dataset.held_out: give class names such as 'red two' (or ids "
            f"0..{len(names) - 1}) that leave every colour and every digit "
            f"in some trained combination. Received {list(held_out)}.")
    if not 1 <= tints <= len(colours):
        raise ValueError(f"dataset.tints_per_image must be in 1.."
                         f"{len(colours)}. Received {tints}.")
    data = load_digits()
    ink = (data.images / 16.0).astype("float32")
    rng = np.random.default_rng(seed)
    images, captions, labels, sources = [], [], [], []
    for source, (gray, digit) in enumerate(zip(ink, data.target)):
        held_colours = [c for c in range(len(colours))
                        if c * 10 + digit in held]
        # Tints all in the digit's held-out colours or all in the others,
        # so a source image is either zero-shot test data or not at all.
        pools = [p for p in (held_colours, [c for c in range(len(colours))
                                            if c not in held_colours]) if p]
        pool = pools[rng.integers(len(pools))]
        for colour in rng.permutation(pool)[:tints]:
            rgb = np.clip(np.asarray(INK_COLORS[colours[colour]])
                          + rng.normal(0, 0.06, 3), 0, 1)
            images.append(gray[..., None] * rgb * rng.uniform(0.75, 1.0))
            template = COLORED_TEMPLATES[rng.integers(len(COLORED_TEMPLATES))]
            captions.append(_colored_caption(
                template, colours[colour], DIGIT_NAMES[digit]))
            labels.append(colour * 10 + digit)
            sources.append(source)
    return ImageTextData(np.stack(images).astype("float32"), captions,
                         np.asarray(labels, "int64"), names, held,
                         np.asarray(sources, "int64"))


def split_pairs(data: ImageTextData, validation: float, test: float,
                seed: int) -> tuple[np.ndarray, ...]:
    """Train, validation, test and held-out positions of `data`.

    Images of held-out classes, and every image made from the same
    source, are held out (zero-shot test data); the other sources are
    split by the fractions, stratified by class when classes are known,
    and tinted copies of a source stay in one split.

    Example:
    >>> data = load_image_text("colored_digit_captions", {}, seed=0)
    >>> [len(p) for p in split_pairs(data, 0.1, 0.2, seed=0)]
    [1988, 284, 568, 754]
    """
    labels = data.labels
    sources = (np.arange(len(labels)) if data.sources is None
               else data.sources)
    held = np.isin(sources, sources[np.isin(labels, data.held_out)])
    rest = np.flatnonzero(~held)[np.unique(sources[~held],
                                           return_index=True)[1]]
    parts = _split(rest, labels[rest], validation, test, seed)
    return (*(np.flatnonzero(np.isin(sources, sources[p])) for p in parts),
            np.flatnonzero(held))


def _split(index: np.ndarray, labels: np.ndarray, validation: float,
           test: float, seed: int) -> tuple[np.ndarray, ...]:
    """Train / validation / test positions, stratified when labelled."""
    from sklearn.model_selection import train_test_split

    if not 0 < validation < 1 or not 0 < test < 1 or validation + test >= 1:
        raise ValueError(
            "dataset.validation_fraction and dataset.test_fraction must be "
            "in (0, 1) with a sum below 1. Received "
            f"{validation} and {test}.")
    known = labels if np.all(labels >= 0) else None
    try:
        rest, test_part = train_test_split(index, test_size=test,
                                           random_state=seed, stratify=known)
        rest_labels = None if known is None else labels[np.searchsorted(
            index, rest)]
        train, val = train_test_split(rest, test_size=validation / (1 - test),
                                      random_state=seed,
                                      stratify=rest_labels)
    except ValueError as err:
        raise ValueError(f"Cannot split {len(index)} image-caption pairs "
                        f"into train / validation / test: {err}") from None
    return np.sort(train), np.sort(val), np.sort(test_part)


def _pairs(path: str, size: Any) -> ImageTextData:
    root = Path(path).expanduser()
    table = root / CAPTIONS_FILE
    if not root.is_dir():
        raise FileNotFoundError(f"Image-text folder {path!r} not found.")
    if not table.is_file():
        raise FileNotFoundError(
            f"{table} not found: put one 'file<TAB>caption' line per image "
            f"in {CAPTIONS_FILE} next to the images.")
    files, captions = [], []
    lines = table.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        file, tab, caption = line.partition("\t")
        where = f"{table}, line {number}"
        if not tab or not caption.strip():
            raise ValueError(f"{where}: empty caption (or no TAB after the "
                             "file name). Write 'file<TAB>caption'.")
        if file in files:
            raise ValueError(f"{where}: image {file!r} is named twice; "
                             "give each image one caption line.")
        if not (root / file).is_file():
            raise FileNotFoundError(f"{where}: image {file!r} not found in "
                                    f"{root}.")
        files.append(file)
        captions.append(" ".join(caption.split()))
    if not files:
        raise ValueError(f"{table} lists no images.")
    images = [_read_image(root / file, size) for file in files]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise ValueError(
            f"Images in {root} have different shapes {sorted(shapes)}: set "
            "dataset.image_size = [height, width] to resize them.")
    return ImageTextData(np.stack(images).astype("float32") / 255.0,
                         captions, np.full(len(files), -1, "int64"), [], [])


def _read_image(path: Path, size: Any) -> np.ndarray:
    """`(height, width, 1 or 3)` uint8. Not `kerakit.data.datasets`'
    reader: that module dispatches to this one (no import cycles)."""
    from PIL import Image

    try:
        image = Image.open(path)
        image.load()
    # PIL: OSError for unknown or truncated files, SyntaxError for some
    # broken PNGs, DecompressionBombError for absurd sizes.
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: cannot read this image ({err}). Replace "
                         "it, or remove its line.") from None
    image = image.convert("L" if image.mode in _GRAY_MODES else "RGB")
    if size:
        image = image.resize((int(size[1]), int(size[0])))
    array = np.asarray(image, dtype="uint8")
    return array.reshape(*array.shape[:2], -1)
