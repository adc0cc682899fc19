"""Searching a transformer recipe whose model sizes come from the data."""

from __future__ import annotations

import csv

import kerakit


def test_gpt_char_space_searches_depth_on_a_tiny_text(tmp_path):
    # The language-modelling task learns its tokenizer and sizes the model
    # from it (vocabulary, positions): every trial's build gets them too.
    text = tmp_path / "tiny.txt"
    text.write_text("\n".join(f"line {i % 7} of the tiny text, again."
                              for i in range(200)), encoding="utf-8")
    overrides = {"dataset.name": f"text:{text}", "epochs": 1,
                 "dataset.limit": 16, "preprocessing.sequence_length": 16,
                 "model_kwargs.hidden_dim": 16, "model_kwargs.num_heads": 2,
                 "model_kwargs.intermediate_dim": 32}
    result = kerakit.tune("gpt_char", max_trials=2, overrides=overrides,
                          directory=tmp_path / "search", retrain=False,
                          verbose=False)
    with open(tmp_path / "search" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["COMPLETED"] * 2
    assert all(float(r["val_loss"]) > 0 for r in rows)
    assert "model_kwargs.num_layers" in result.best_hyperparameters
