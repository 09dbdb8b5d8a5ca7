"""Shared by the benchmarks: the repository root on sys.path, and best-of-N timing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmark the working tree, installed or not


def best_of(fn, repeat: int = 5) -> float:
    """Fastest of ``repeat`` calls, in seconds (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
