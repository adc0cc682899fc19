"""Local keras-hub presets: saved tiny backbones load back with a new head."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.transformer import load_preset_tokenizer
from kerakit.models.transformer import presets


def _text_inputs(steps=6, segments=False):
    ids = np.arange(2 * steps).reshape(2, steps) % 19 + 1
    x = {"token_ids": ids.astype("int32"),
         "padding_mask": np.ones((2, steps), "int32")}
    if segments:
        x["segment_ids"] = np.zeros((2, steps), "int32")
    return x


def _same_weights(a, b):
    assert len(a.weights) == len(b.weights)
    for left, right in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(left, right)


def _backbone(model):
    if hasattr(model, "backbone"):  # a keras-hub task
        return model.backbone
    return model.get_layer(f"{model.name}_backbone")


def test_bert_preset_with_tokenizer(tmp_path):
    hub = presets.keras_hub()
    tiny = kerakit.build("bert_tiny", vocabulary_size=20, sequence_length=8,
                         num_layers=1, hidden_dim=8, num_heads=2,
                         intermediate_dim=16, include_top=False)
    tiny.save_to_preset(str(tmp_path))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat"]
    hub.models.BertTokenizer(vocabulary=vocab).save_to_preset(str(tmp_path))

    model = kerakit.build("bert_tiny", num_classes=3, preset=str(tmp_path))
    assert model.name == "bert_tiny" and model.output_shape == (None, 3)
    _same_weights(model.backbone, tiny)
    x = _text_inputs(segments=True)
    expected = tiny(x)["sequence_output"]
    got = model.backbone(x)["sequence_output"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got),
                               keras.ops.convert_to_numpy(expected),
                               atol=1e-6)
    tokenizer = load_preset_tokenizer(tmp_path)
    ids = keras.ops.convert_to_numpy(tokenizer(["the cat"]))
    assert ids.tolist() == [[5, 6]]


def test_gpt_t5_vit_swin_presets_give_the_saved_outputs(tmp_path):
    cases = {
        "gpt_tiny": ({**kerakit.registry.get_entry("gpt_tiny").tiny},
                     _text_inputs(), {}),
        "t5_tiny": (kerakit.registry.get_entry("t5_tiny").tiny, {
            "encoder_token_ids": np.ones((2, 5), "int32"),
            "encoder_padding_mask": np.ones((2, 5), "int32"),
            "decoder_token_ids": np.zeros((2, 3), "int32"),
            "decoder_padding_mask": np.ones((2, 3), "int32")}, {}),
        "vit_ti16": (kerakit.registry.get_entry("vit_ti16").tiny,
                     np.ones((2, 8, 8, 3), "float32"), {"num_classes": 3}),
        "swin_t": (kerakit.registry.get_entry("swin_t").tiny,
                   np.ones((2, 8, 8, 3), "float32"), {"num_classes": 3}),
    }
    for name, (tiny, x, head) in cases.items():
        saved = kerakit.build(name, **tiny)
        folder = tmp_path / name
        _backbone(saved).save_to_preset(str(folder))
        loaded = kerakit.build(name, preset=str(folder), dropout=0.0, **head)
        _same_weights(_backbone(loaded), _backbone(saved))
        if name.startswith(("gpt", "t5")):  # no new head: same logits
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(loaded(x)),
                keras.ops.convert_to_numpy(saved(x)), atol=1e-5)
        else:
            assert loaded.output_shape == (None, 3)
        # A size that disagrees with the preset is refused, by name.
        with pytest.raises(ValueError, match="the preset fixes num_layers"
                           if "swin" not in name else "stage_depths"):
            kerakit.build(name, preset=str(folder),
                          **({"stage_depths": (1, 1)} if "swin" in name
                             else {"num_layers": 3}))


@pytest.mark.parametrize("preset", ["bert_base_en_uncased", "/no/such/dir"])
def test_preset_must_be_a_local_folder(preset):
    with pytest.raises(ValueError, match="is not a local folder.*never "
                       "downloads"):
        kerakit.build("bert", preset=preset)


def test_preset_of_another_model_and_missing_tokenizer(tmp_path):
    kerakit.build("gpt_tiny", **kerakit.registry.get_entry(
        "gpt_tiny").tiny).backbone.save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match="holds a GPT2Backbone, not a "
                       "BertBackbone"):
        kerakit.build("bert", preset=str(tmp_path))
    with pytest.raises(ValueError, match="no tokenizer.json"):
        load_preset_tokenizer(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(ValueError, match="has no config.json"):
        kerakit.build("gpt", preset=str(tmp_path))
