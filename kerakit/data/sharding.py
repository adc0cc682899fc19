"""Each training process's share of every global batch (data parallelism).

In a data-parallel run every process loads the same splits and draws the
same seeded, shuffled global batches; :class:`DataShard` gives process `i`
of `n` rows `[i*k, (i+1)*k)` of each batch, `k = rows // n`. So every
example is seen once per epoch across the processes, the global batch (and
the gradient averaged over it) is the one a single process would use, and no
process needs to talk to another about data.

Every process must take a step with as many rows as the others (JAX's
global arrays need equal shares, and the averaged gradients weigh the
processes equally), so a last batch whose rows do not divide by `n` is
padded with its own first rows, as PyTorch's `DistributedSampler` pads an
epoch: every example is seen at least once per epoch, fewer than `n` of
them twice (different ones every epoch, because the shuffle is seeded per
epoch). Only then does the run differ from one process, in that last step.
A recipe whose batch size the process count does not divide is refused
earlier, by the workflow.

Example:
>>> import numpy as np
>>> shard = DataShard(index=1, count=2)
>>> x, y = shard.rows((np.arange(8), np.arange(8) * 10))
>>> x.tolist(), y.tolist()
([4, 5, 6, 7], [40, 50, 60, 70])
>>> DataShard().rows(np.arange(3)).tolist()
[0, 1, 2]
>>> shard.rows(np.arange(3)).tolist()  # padded to 4 rows: 0 1 2 0
[2, 0]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np


@dataclasses.dataclass(frozen=True)
class DataShard:
    """Process `index` of `count` in a data-parallel run (`0, 1`: alone)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"DataShard: index must lie in 0..count-1; received index="
                f"{self.index}, count={self.count}.")

    def rows(self, batch: Any) -> Any:
        """This process's rows of one global batch (any nest of arrays)."""
        if self.count == 1:
            return batch
        rows = _rows(batch)
        share = -(-rows // self.count)
        # Padded cyclically with the batch's first rows (module doc).
        take = np.arange(self.index * share, (self.index + 1) * share) % rows
        return keras.tree.map_structure(
            lambda a: a if a is None else np.take(np.asarray(a), take,
                                                  axis=0), batch)

    def batches(self, dataset: keras.utils.PyDataset
                ) -> keras.utils.PyDataset:
        """`dataset` (global batches) cut to this process's rows."""
        return dataset if self.count == 1 else _ShardedBatches(dataset, self)


def _rows(batch: Any) -> int:
    leaves = [a for a in keras.tree.flatten(batch) if a is not None]
    return len(leaves[0])


class _ShardedBatches(keras.utils.PyDataset):
    """A `PyDataset` of global batches, cut to one process's rows."""

    def __init__(self, dataset: keras.utils.PyDataset, shard: DataShard):
        super().__init__()
        self.dataset = dataset
        self.shard = shard

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.shard.rows(self.dataset[index])

    def on_epoch_begin(self) -> None:
        """Forwarded to the global batches."""
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        """Let the global batches reshuffle for the next epoch."""
        self.dataset.on_epoch_end()
