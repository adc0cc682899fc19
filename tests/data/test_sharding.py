"""Each process's share of the global batches (kerakit.data.sharding)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerakit.data.sharding import DataShard


class _Batches(keras.utils.PyDataset):
    """Global batches of `rows` examples, `size` per batch, numbered."""

    def __init__(self, rows: int, size: int):
        super().__init__()
        self.rows, self.size, self.epochs = rows, size, 0

    def __len__(self) -> int:
        return -(-self.rows // self.size)

    def __getitem__(self, index):
        ids = np.arange(index * self.size, min(self.rows,
                                               (index + 1) * self.size))
        return {"x": ids, "mask": ids % 2 == 0}, ids * 10

    def on_epoch_end(self):
        self.epochs += 1


def test_every_example_is_seen_once_across_the_processes():
    shards = [DataShard(i, 2).batches(_Batches(20, 8)) for i in range(2)]
    seen = sorted(int(v) for shard in shards for i in range(len(shard))
                  for v in shard[i][0]["x"])
    assert seen == list(range(20))  # the last batch (4 rows) splits 2 + 2
    x, y = shards[1][0]
    np.testing.assert_array_equal(x["x"], [4, 5, 6, 7])
    np.testing.assert_array_equal(x["mask"], [True, False, True, False])
    np.testing.assert_array_equal(y, [40, 50, 60, 70])


def test_a_last_batch_that_does_not_divide_is_padded_with_its_own_rows():
    # 19 rows, batches of 8: the last batch (16, 17, 18) is padded to 4
    # rows with its first, as DistributedSampler pads an epoch.
    shards = [DataShard(i, 2).batches(_Batches(19, 8)) for i in range(2)]
    assert [len(s) for s in shards] == [3, 3]
    assert [s[2][0]["x"].tolist() for s in shards] == [[16, 17], [18, 16]]
    assert shards[1][2][1].tolist() == [180, 160]
    # 17 rows: one row left for 3 processes, each takes it.
    shards = [DataShard(i, 3).batches(_Batches(17, 8)) for i in range(3)]
    assert [s[2][0]["x"].tolist() for s in shards] == [[16]] * 3
    seen = {int(v) for s in shards for i in range(len(s))
            for v in s[i][0]["x"]}
    assert seen == set(range(17))  # every example at least once


def test_the_global_batches_still_hear_the_epoch_end():
    batches = _Batches(16, 8)
    DataShard(0, 2).batches(batches).on_epoch_end()
    assert batches.epochs == 1


def test_one_process_takes_everything_unchanged():
    batches = _Batches(16, 8)
    assert DataShard().batches(batches) is batches


def test_an_index_outside_the_count_is_refused():
    with pytest.raises(ValueError, match="index must lie in 0..count-1"):
        DataShard(2, 2)
