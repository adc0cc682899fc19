"""GPT and T5 decoding through keras-hub's caches, against naive loops."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.transformer.gpt import generate_tokens
from kerakit.models.transformer.t5 import generate_text_tokens

V = 12


@pytest.fixture(scope="module")
def gpt():
    keras.utils.set_random_seed(1)
    return kerakit.build("gpt_tiny", vocabulary_size=V, sequence_length=10,
                         num_layers=2, hidden_dim=16, num_heads=2,
                         intermediate_dim=32, dropout=0.0)


@pytest.fixture(scope="module")
def t5():
    keras.utils.set_random_seed(2)
    return kerakit.build("t5_tiny", vocabulary_size=6, num_layers=1,
                         hidden_dim=16, num_heads=2, intermediate_dim=32,
                         dropout=0.0)


def _logits(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_gpt_greedy_equals_a_full_recompute_loop(gpt):
    prompt = np.array([[3, 4, 5], [7, 1, 2]])
    got = generate_tokens(gpt, prompt, 9)
    ids = np.zeros((2, 9), "int32")
    ids[:, :3] = prompt
    for t in range(3, 9):
        logits = _logits(gpt, {"token_ids": ids, "padding_mask":
                               np.ones_like(ids)})
        ids[:, t] = logits[:, t - 1].argmax(-1)
    np.testing.assert_array_equal(got, ids)


def test_gpt_samplers_and_stop_tokens(gpt):
    prompt = np.array([[3, 4], [5, 6]])
    for sampler in ("top_k", "top_p"):
        a = generate_tokens(gpt, prompt, 8, sampler=sampler, seed=3,
                            temperature=2.0, k=4, p=0.8)
        assert a.shape == (2, 8) and a.dtype == np.int32
        np.testing.assert_array_equal(a[:, :2], prompt)
        assert a.min() >= 0 and a.max() < V
    greedy = generate_tokens(gpt, prompt, 8)
    stop = int(greedy[0, 3])
    stopped = generate_tokens(gpt, prompt, 8, stop_token_ids=[stop])
    first = 2 + list(greedy[0, 2:]).index(stop)
    np.testing.assert_array_equal(stopped[0, :first + 1],
                                  greedy[0, :first + 1])
    assert not stopped[0, first + 1:].any()
    # Training state is untouched: no sampler left behind.
    assert not hasattr(gpt, "sampler")


def test_gpt_generation_compiles_once_per_setting(gpt):
    from kerakit.models.transformer import gpt as gpt_module

    prompt = np.array([[3, 4, 5]])
    first = generate_tokens(gpt, prompt, 10, sampler="top_p", seed=5)
    cached = dict(gpt_module._GENERATORS[gpt])
    # The same seed repeats its draw from the kept sampler and function.
    np.testing.assert_array_equal(
        generate_tokens(gpt, prompt, 10, sampler="top_p", seed=5), first)
    assert {k: v[1] for k, v in gpt_module._GENERATORS[gpt].items()} == {
        k: v[1] for k, v in cached.items()}
    # Without a seed the draws go on: 36 ids sampled at temperature 5 do
    # not all repeat (the chance that they would is far below 1e-9).
    draws = [generate_tokens(gpt, np.full((4, 1), 3), 10, sampler="top_k",
                             k=V, temperature=5.0) for _ in range(2)]
    assert not np.array_equal(*draws)


def test_gpt_generation_arguments_are_checked(gpt):
    with pytest.raises(ValueError, match="sequence_length"):
        generate_tokens(gpt, np.array([[1, 2]]), 11)
    with pytest.raises(ValueError, match="sampler must be"):
        generate_tokens(gpt, np.array([[1, 2]]), 5, sampler="beam")
    with pytest.raises(ValueError, match="integer array"):
        generate_tokens(gpt, np.array([1.0, 2.0]), 5)
    np.testing.assert_array_equal(
        generate_tokens(gpt, np.array([[1, 2]]), 2), [[1, 2]])


def _t5_inputs(source, decoder):
    return {"encoder_token_ids": source, "encoder_padding_mask": source != 0,
            "decoder_token_ids": decoder,
            "decoder_padding_mask": np.ones_like(decoder)}


def test_t5_greedy_equals_a_full_recompute_loop(t5):
    source = np.array([[4, 5, 3, 1, 0], [2, 3, 1, 0, 0]], "int32")
    got = generate_text_tokens(t5, source, 5, end_id=-1)  # never stops
    ids = np.zeros((2, 6), "int32")
    for t in range(1, 6):
        logits = _logits(t5, _t5_inputs(source, ids))
        ids[:, t] = logits[:, t - 1].argmax(-1)
    np.testing.assert_array_equal(got, ids[:, 1:])
    # With the end id, decoding keeps it and pads the rest with 0.
    end = int(ids[0, 2])
    stopped = generate_text_tokens(t5, source, 5, end_id=end)
    first = list(ids[0, 1:]).index(end)
    np.testing.assert_array_equal(stopped[0, :first + 1],
                                  ids[0, 1:first + 2])
    assert not stopped[0, first + 1:].any()


def test_t5_beam_search_finds_the_best_pair(t5):
    # With as many beams as tokens, two steps of beam search are exhaustive.
    source = np.array([[4, 5, 3, 1]], "int32")
    best, best_score = None, -np.inf
    for pair in itertools.product(range(6), repeat=2):
        dec = np.array([[0, *pair]], "int32")
        logp = keras.ops.convert_to_numpy(keras.ops.log_softmax(
            t5(_t5_inputs(source, dec), training=False)))
        score = logp[0, 0, pair[0]] + logp[0, 1, pair[1]]
        if score > best_score:
            best, best_score = pair, score
    got = generate_text_tokens(t5, source, 2, end_id=-1, sampler="beam",
                               num_beams=6)
    np.testing.assert_array_equal(got, [best])
    one = generate_text_tokens(t5, source, 4, sampler="beam", num_beams=1)
    np.testing.assert_array_equal(one, generate_text_tokens(t5, source, 4))
    with pytest.raises(ValueError, match="'greedy' or 'beam'"):
        generate_text_tokens(t5, source, 2, sampler="top_k")
