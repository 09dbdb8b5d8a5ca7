"""Vectorised calls over blocks of rows on every core.

GEOS (shapely 2), h3o and Arrow release the GIL inside their vectorised
calls, so one call over a city's million rows can be split into a block per
core and run in threads: no processes, no copies of the inputs.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

#: Fewer rows than this per block are not worth a thread.
MIN_BLOCK_ROWS = 10_000


def workers_for(n_rows: int) -> int:
    """Threads for ``n_rows`` rows: one per core, each with at least :data:`MIN_BLOCK_ROWS`."""
    return max(1, min(os.cpu_count() or 1, n_rows // MIN_BLOCK_ROWS))


def map_blocks(func: Callable, *arrays: np.ndarray):
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
