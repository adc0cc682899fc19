"""Generated datasets: small synthetic tasks made on the fly, no files.

`reversal_task` makes the sequence-reversal task (`dataset.name =
"generated:reversal"` in a recipe) in the seq2seq token convention: 0 pad,
1 start, 2 end, real tokens from 3.

Example:
>>> x, y = reversal_task(2, length=3)
>>> x["source"].shape, y.shape
((2, 3), (2, 4))
"""

from __future__ import annotations

import numpy as np

GENERATED = ("reversal",)


def reversal_task(num_examples: int, *, vocabulary_size: int = 10,
                  length: int = 5, seed: int = 0,
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Generate a sequence-reversal task in the seq2seq token convention.

    Sources are `length` random tokens in `[3, vocabulary_size)`; targets
    are the reversed source followed by `end_id=2`.

    Args:
        num_examples: Number of sequences.
        vocabulary_size: Token ids are below it (at least 4).
        length: Tokens per source.
        seed: Seed of the random sources.

    Returns:
        `({"source": (n, length), "target_in": (n, length + 1)},
        target_out (n, length + 1))`, all int32; `target_in` is the
        teacher-forcing input (start id, then the reversed source).

    Example:
    >>> x, y = reversal_task(2, length=3)
    >>> bool((y[:, :3] == x["source"][:, ::-1]).all())
    True
    """
    rng = np.random.default_rng(seed)
    source = rng.integers(3, vocabulary_size, size=(num_examples, length))
    target_out = np.concatenate(
        [source[:, ::-1], np.full((num_examples, 1), 2)], axis=1)
    target_in = np.concatenate(
        [np.ones((num_examples, 1)), source[:, ::-1]], axis=1)
    return ({"source": source.astype("int32"),
             "target_in": target_in.astype("int32")},
            target_out.astype("int32"))
