"""Work on every core: vectorised calls over blocks of rows in threads, GIL-bound writers in a forked process.

GEOS (shapely 2), h3o and Arrow release the GIL inside their vectorised
calls, so one call over a city's million rows can be split into a block per
core and run in threads: no processes, no copies of the inputs.

GDAL's GeoPackage writer, pandas' CSV writer and pickling hold the GIL, so
threads cannot run them beside the other writers. :class:`Forked` runs such
work in a child forked from this process: the child sees the run's tables
copy-on-write (nothing is pickled to it), and only its small result comes back.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

#: Fewer rows than this per block are not worth a thread.
MIN_BLOCK_ROWS = 10_000


def workers_for(n_rows: int) -> int:
    """Threads for ``n_rows`` rows: one per core, each with at least :data:`MIN_BLOCK_ROWS`."""
    return max(1, min(os.cpu_count() or 1, n_rows // MIN_BLOCK_ROWS))


def map_blocks(func: Callable, *arrays: np.ndarray) -> Any:
    """``func(*arrays)`` computed on blocks of rows in parallel threads, the results joined.

    ``func`` must work row by row (row i of the result depends on row i of
    each input only) and return one array or a tuple of arrays, each with a row
    per input row. The result equals ``func(*arrays)``.
    """
    n = len(arrays[0])
    workers = workers_for(n)
    if workers == 1:
        return func(*arrays)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda i: func(*(a[bounds[i]:bounds[i + 1]] for a in arrays)), range(workers)))
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate([p[j] for p in parts]) for j in range(len(parts[0])))
    return np.concatenate(parts)


#: Work handed to a forked child, by token: the child reads it from its copy of this memory.
_FORKED_WORK: dict[int, tuple] = {}


def _run_forked(token: int) -> Any:
    func, args = _FORKED_WORK[token]
    return func(*args)


def can_fork() -> bool:
    """Whether :class:`Forked` runs its work in a child (Linux: fork is the platform's own way)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class Forked:
    """``func(*args)`` in a child process forked now, beside whatever this process does next.

    Where forking is not the platform's way (macOS, Windows) the call runs
    here, when :meth:`result` is asked for. ``func`` must not change what it
    shares with this process (the child's changes would be lost) and must
    return something small and picklable.
    """

    def __init__(self, func: Callable, *args: Any, fork: bool = True):
        self._pool = None
        self._call = (func, args)
        if fork and can_fork():
            token = id(self)
            _FORKED_WORK[token] = self._call
            try:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
                self._future: Future = self._pool.submit(_run_forked, token)  # the child is forked here
            finally:
                del _FORKED_WORK[token]

    def result(self) -> Any:
        """The call's result (its exception raised here); waits for the child."""
        if self._pool is None:
            func, args = self._call
            return func(*args)
        try:
            return self._future.result()
        finally:
            self._pool.shutdown()
