"""Image-text pairs: captioned digits and `pairs:PATH` folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kerakit.data.image_text import DIGIT_NAMES
from kerakit.data.image_text import DIGIT_SHAPES
from kerakit.data.image_text import caption_templates
from kerakit.data.image_text import class_prompt
from kerakit.data.image_text import load_image_text


def test_digit_captions_are_real_digits_with_seeded_captions():
    data = load_image_text("digit_captions", {}, seed=0)
    assert data.images.shape == (1797, 8, 8, 1)
    assert data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() == 1.0
    assert len(data.captions) == 1797 and data.held_out == [6, 9]
    assert data.class_names == list(DIGIT_NAMES)
    assert set(np.unique(data.labels)) == set(range(10))
    for caption, label in zip(data.captions, data.labels):
        name = DIGIT_NAMES[label]
        # each caption names its digit or describes its strokes (or both)
        assert name in caption.split() or any(
            shape in caption for shape in DIGIT_SHAPES[name])
    again = load_image_text("digit_captions", {}, seed=0)
    other = load_image_text("digit_captions", {}, seed=1)
    assert again.captions == data.captions != other.captions
    assert len(set(data.captions)) > 100  # varied templates and orders


def test_every_template_is_used_and_formats():
    data = load_image_text("digit_captions", {"held_out": [3]}, seed=0)
    assert data.held_out == [3]
    templates = caption_templates()
    for template in templates:
        assert "name}" in template or "{shapes}" in template
    prefixes = {t.split("{")[0] for t in templates if t.split("{")[0]}
    assert all(any(c.startswith(p) for c in data.captions) for p in prefixes)


def test_held_out_digits_are_described_by_phrases_of_other_digits():
    for held in (6, 9):
        others = {s for name, shapes in DIGIT_SHAPES.items()
                  if name != DIGIT_NAMES[held] for s in shapes}
        assert set(DIGIT_SHAPES[DIGIT_NAMES[held]]) <= others


def test_class_prompt():
    assert class_prompt("nine") == ("a nine: a digit with a loop at the top "
                                    "and a straight vertical stroke")
    assert class_prompt("cat") == "a photo of a cat"
    assert class_prompt("an owl") == "a photo of an owl"


def test_bad_names_and_held_out_are_refused():
    with pytest.raises(ValueError, match="digit_captions"):
        load_image_text("digits_captions", {}, seed=0)
    with pytest.raises(ValueError, match="held_out"):
        load_image_text("digit_captions", {"held_out": [10]}, seed=0)
    with pytest.raises(ValueError, match="held_out"):
        load_image_text("digit_captions", {"held_out": list(range(10))}, 0)


def _folder(tmp_path, lines, sizes=((6, 5), (6, 5))):
    for i, size in enumerate(sizes):
        Image.fromarray(np.full(size + (3,), 40 * i, "uint8")).save(
            tmp_path / f"im{i}.png")
    (tmp_path / "captions.tsv").write_text("\n".join(lines) + "\n")
    return f"pairs:{tmp_path}"


def test_pairs_folder_loads(tmp_path):
    name = _folder(tmp_path, ["im0.png\ta  red   square", "",
                              "im1.png\tanother square"])
    data = load_image_text(name, {}, seed=0)
    assert data.images.shape == (2, 6, 5, 3)
    assert data.captions == ["a red square", "another square"]
    assert data.labels.tolist() == [-1, -1] and data.class_names == []
    assert data.held_out == []
    assert np.allclose(data.images[1], 40 / 255)


def test_pairs_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image_text(f"pairs:{tmp_path / 'nope'}", {}, seed=0)
    with pytest.raises(FileNotFoundError, match="captions.tsv"):
        load_image_text(f"pairs:{tmp_path}", {}, seed=0)
    name = _folder(tmp_path, ["im0.png\tone", "im0.png\tagain"])
    with pytest.raises(ValueError, match="named twice"):
        load_image_text(name, {}, seed=0)
    name = _folder(tmp_path, ["im0.png\t  "])
    with pytest.raises(ValueError, match="empty caption"):
        load_image_text(name, {}, seed=0)
    name = _folder(tmp_path, ["missing.png\tcaption"])
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image_text(name, {}, seed=0)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    name = _folder(tmp_path, ["bad.png\tcaption"])
    with pytest.raises(ValueError, match="bad.png: cannot read"):
        load_image_text(name, {}, seed=0)
    name = _folder(tmp_path, ["im0.png\ta", "im1.png\tb"],
                   sizes=((6, 5), (4, 4)))
    with pytest.raises(ValueError, match="image_size"):
        load_image_text(name, {}, seed=0)
    data = load_image_text(name, {"image_size": [3, 3]}, seed=0)
    assert data.images.shape == (2, 3, 3, 3)


def test_articles_and_colored_prompts():
    assert class_prompt("eight").startswith("an eight: a digit with")
    captions = load_image_text("digit_captions", {}, seed=0).captions
    assert not any(" a eight" in c or c.startswith("a eight")
                   for c in captions)
    assert class_prompt("red eight") == "a red eight"
    assert class_prompt("owl") == "a photo of an owl"


@pytest.fixture(scope="module")
def colored():
    return load_image_text("colored_digit_captions", {}, seed=0)


def test_colored_digits_are_tinted_real_digits(colored):
    assert colored.images.shape == (2 * 1797, 8, 8, 3)
    assert colored.images.dtype == np.float32
    assert 0.0 <= colored.images.min() and colored.images.max() <= 1.0
    assert len(colored.class_names) == 40
    assert colored.class_names[:2] == ["red zero", "red one"]
    # two tints of each source image, in two different colours
    assert np.bincount(colored.sources).tolist() == [2] * 1797
    colours = colored.labels // 10
    assert (colours[0::2] != colours[1::2]).all()
    assert (colored.labels[0::2] % 10 == colored.labels[1::2] % 10).all()
    # the ink is the strongest in the channels of its colour
    reds = colored.images[colours == 0].sum(axis=(0, 1, 2))
    assert reds[0] > 3 * reds[1] and reds[0] > 3 * reds[2]


def test_colored_held_out_combinations(colored):
    names = colored.class_names
    held = [names[c] for c in colored.held_out]
    assert held == ["red two", "red eight", "green two", "green four",
                    "blue four", "blue six", "yellow six", "yellow eight"]
    trained = set(np.unique(colored.labels)) - set(colored.held_out)
    # every colour and every digit is still trained in other combinations
    assert {c // 10 for c in trained} == set(range(4))
    assert {c % 10 for c in trained} == set(range(10))
    # telling held-out classes apart needs both colour and digit
    for c in colored.held_out:
        assert sum(h // 10 == c // 10 for h in colored.held_out) == 2
        assert sum(h % 10 == c % 10 for h in colored.held_out) == 2
    # a source image is either all held-out or not at all
    is_held = np.isin(colored.labels, colored.held_out)
    assert (is_held[0::2] == is_held[1::2]).all()
    assert 0.1 < is_held.mean() < 0.3
    # held-out names never occur together in a seen caption
    seen = [c for c, h in zip(colored.captions, is_held) if not h]
    assert not any("red" in c.split() and "two" in c.replace(",", "")
                   .split() for c in seen)


def test_colored_captions_are_varied_and_seeded(colored):
    for caption, label in zip(colored.captions[:200], colored.labels):
        colour, digit = colored.class_names[label].split()
        words = caption.replace(",", "").split()
        assert colour in words and digit in words
    prefixes = {c.split()[0] + c.split()[1] for c in colored.captions}
    assert len(prefixes) >= 6 and len(set(colored.captions)) > 200
    again = load_image_text("colored_digit_captions", {}, seed=0)
    other = load_image_text("colored_digit_captions", {}, seed=1)
    assert again.captions == colored.captions != other.captions
    np.testing.assert_array_equal(again.images, colored.images)
    assert not np.array_equal(other.labels, colored.labels)


def test_colored_held_out_and_tints_are_checked():
    data = load_image_text("colored_digit_captions", {
        "held_out": ["blue seven", 3], "tints_per_image": 1}, seed=0)
    assert data.held_out == [3, 27] and len(data.labels) == 1797
    for held_out in (["purple two"], [40], ["red"],
                     [f"red {d}" for d in DIGIT_NAMES]):
        with pytest.raises(ValueError, match="held_out"):
            load_image_text("colored_digit_captions",
                            {"held_out": held_out}, seed=0)
    with pytest.raises(ValueError, match="tints_per_image"):
        load_image_text("colored_digit_captions", {"tints_per_image": 5}, 0)
