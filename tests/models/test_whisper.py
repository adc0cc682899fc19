"""Whisper: precision, the tied head, decoding, canonical size (the
standard model test runs in test_sweep.py for each registered Whisper)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit import registry
from kerakit.models.multimodal.whisper import sinusoids
from kerakit.models.multimodal.whisper import transcribe_tokens
from kerakit.models.multimodal.whisper import whisper_model
from kerakit.testing import ModelTestCase
from kerakit.testing import sweep_case


def _tiny(**overrides) -> keras.Model:
    return kerakit.build("whisper_micro", **{
        **registry.get_entry("whisper_micro").tiny, **overrides})


def test_mixed_precision():
    # The standard model test runs in tests/models/test_sweep.py for every
    # registered Whisper; mixed precision is its item 6.
    fn, kwargs, data = sweep_case("whisper_micro")
    policies = ["mixed_bfloat16"] + (
        [] if keras.backend.backend() == "torch" else ["mixed_float16"])
    ModelTestCase().run_precision_test(fn, kwargs, data.x, policies)


def test_knobs_and_tied_output_layer():
    model = _tiny(num_layers=2, hidden_dim=24, num_heads=3, dropout=0.1)
    backbone = model.backbone
    assert (backbone.num_layers, backbone.hidden_dim, backbone.num_heads,
            backbone.dropout) == (2, 24, 3, 0.1)
    # The logits reuse the token embedding: no weights beyond the backbone.
    assert model.count_params() == backbone.count_params()
    table = keras.ops.convert_to_numpy(
        backbone.encoder_position_embedding.position_embeddings)
    np.testing.assert_allclose(table, sinusoids(32, 24), atol=1e-6)
    knobs = kerakit.model_info("whisper")["knobs"]
    assert {"depth", "width", "heads", "dropout"} <= set(knobs)


@pytest.mark.parametrize("kwargs, words", [
    ({"num_heads": 3}, "hidden_dim must be a multiple of num_heads"),
    ({"max_encoder_sequence_length": 63}, "must be even"),
    ({"num_mels": 0}, "num_mels must be a positive integer"),
    ({"dropout": 1.0}, "dropout must be in"),
])
def test_bad_arguments_are_explained(kwargs, words):
    with pytest.raises(ValueError, match=words):
        _tiny(**kwargs)


def test_greedy_decoding_follows_the_full_model():
    keras.utils.set_random_seed(2)
    model = _tiny()
    features = np.random.default_rng(0).normal(size=(3, 40, 8)).astype(
        "float32")
    ids = transcribe_tokens(model, features, 4, end_id=-1)
    # Step by step with the whole model: the argmax continues each prefix.
    prefix = np.zeros((3, 1), "int32")
    for step in range(4):
        logits = keras.ops.convert_to_numpy(model({
            "encoder_features": features, "decoder_token_ids": prefix,
            "decoder_padding_mask": np.ones_like(prefix)}))
        prefix = np.concatenate([prefix, logits[:, -1:].argmax(-1)], 1)
    np.testing.assert_array_equal(ids, prefix[:, 1:])
    single_beam = transcribe_tokens(model, features, 4, end_id=-1,
                                    sampler="beam", num_beams=1)
    np.testing.assert_array_equal(single_beam, ids)


def test_decoding_stops_at_the_end_id_and_checks_arguments():
    model = _tiny()
    features = np.zeros((2, 20, 8), "float32")
    ids = transcribe_tokens(model, features, 5)
    for row in ids:
        ends = np.flatnonzero(row == 1)
        if len(ends):
            assert not row[ends[0] + 1:].any()
    with pytest.raises(ValueError, match="max_length must be in 1..31"):
        transcribe_tokens(model, features, 32)
    with pytest.raises(ValueError, match="sampler must be"):
        transcribe_tokens(model, features, 3, sampler="top_k")
    with pytest.raises(ValueError, match="encoder_features must be"):
        transcribe_tokens(model, features[0], 3)


def test_builder_needs_sizes():
    with pytest.raises(ValueError, match="must be given"):
        whisper_model(10)


@pytest.mark.large
def test_whisper_tiny_canonical_count():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    for name in ("whisper", "whisper_tiny"):
        assert kerakit.build(name).count_params() == 37_760_640
        keras.backend.clear_session()
