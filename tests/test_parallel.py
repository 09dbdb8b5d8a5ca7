"""Blocks of rows in threads give exactly the one-call result; a forked call gives its own result."""

import numpy as np
import pytest
import shapely

from servicecircle import parallel


def test_blocks_in_threads_equal_one_call(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_BLOCK_ROWS", 100)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    rng = np.random.default_rng(7)
    boxes = shapely.box(*rng.uniform(0, 10, (1003, 2)).T, *(rng.uniform(0, 10, (1003, 2)) + 1).T)
    discs = shapely.buffer(shapely.points(rng.uniform(0, 11, (1003, 2))), 1.5)
    seen = []

    def cut(a, b):
        seen.append(len(a))
        return shapely.intersection(a, b)

    got = parallel.map_blocks(cut, boxes, discs)
    assert sorted(seen) == [250, 251, 251, 251]  # four blocks, every row in one of them
    assert shapely.equals_exact(got, shapely.intersection(boxes, discs), 0).all()

    def area_and_length(a):  # a tuple of results is joined element by element
        return shapely.area(a), shapely.length(a)

    area, length = parallel.map_blocks(area_and_length, discs)
    np.testing.assert_array_equal(area, shapely.area(discs))
    np.testing.assert_array_equal(length, shapely.length(discs))


def test_few_rows_stay_in_one_call(monkeypatch):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    calls = []
    parallel.map_blocks(lambda a: calls.append(len(a)) or a, np.arange(parallel.MIN_BLOCK_ROWS * 2 - 1))
    assert calls == [parallel.MIN_BLOCK_ROWS * 2 - 1]


def _sum_and_pid(values):
    import os

    return int(values.sum()), os.getpid()


def _fails():
    raise ValueError("a clear error from the child")


def test_forked_call_sees_this_memory_and_returns_its_result():
    import os
    import sys

    from servicecircle.parallel import Forked

    values = np.arange(1_000_000)  # read by the child copy-on-write, never pickled to it
    total, pid = Forked(_sum_and_pid, values).result()
    assert total == int(values.sum())
    assert (pid != os.getpid()) == sys.platform.startswith("linux")
    assert Forked(_sum_and_pid, values, fork=False).result() == (total, os.getpid())
    with pytest.raises(ValueError, match="clear error"):
        Forked(_fails).result()
