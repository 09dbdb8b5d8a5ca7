"""Benchmark (not a test): matching a registry's community names to a city's community polygons.

    python bench/bench_name_match.py

The coordinate-system check (servicecircle.datumcheck) asks, per registry row, which community polygons
carry the name its row gives. Names are SYNTHETIC (random 3–6 characters + 社区, declared test input).
Compared: the indexed match the package uses, and the rule applied to every name × polygon pair
(servicecircle.registries.names_match, as before), where that pairwise pass is small enough to run.
"""

from __future__ import annotations

import time

import numpy as np

from timing import best_of  # noqa: E402  (also puts the repository on sys.path)

from servicecircle import datumcheck  # noqa: E402
from servicecircle.registries import names_match  # noqa: E402

CHARS = list("福建路台北大沽富裕广场南华龙海公寓东舍宅贺金水江新苑阳山静才榕天园里")
SIZES = [(300, 141), (2_000, 1_500), (6_000, 5_000), (20_000, 15_000)]
PAIRWISE_MAX = 3_000_000  # name × polygon pairs the pairwise pass is run for


def synthetic_names(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.array(["".join(rng.choice(CHARS, rng.integers(3, 7))) + "社区" for _ in range(n)], dtype=object)


def pairwise(values: np.ndarray, names: np.ndarray) -> set[int]:
    unique = sorted({datumcheck.normalise_name(v) for v in values})
    keys = [datumcheck.unit_key(n) for n in names]
    return {i * len(names) + g for i, u in enumerate(unique) for g, (n, k) in enumerate(zip(names, keys))
            if u and (names_match(u, n) or datumcheck.unit_key(u) == k != "")}


def main() -> None:
    rng = np.random.default_rng(1)
    print("SYNTHETIC names | registry rows | polygons | indexed s | pairwise s | same pairs")
    for rows, polygons in SIZES:
        values, names = synthetic_names(rng, rows), synthetic_names(rng, polygons)
        indexed = best_of(lambda: datumcheck._name_match(values, names), repeat=3)
        pairs = set(datumcheck._name_match(values, names)[1].tolist())
        if rows * polygons <= PAIRWISE_MAX:
            start = time.perf_counter()
            same = pairwise(values, names) == pairs
            slow = f"{time.perf_counter() - start:.2f}"
        else:
            slow, same = "not run", "–"
        print(f"| {rows:,} | {polygons:,} | {indexed:.3f} | {slow} | {same} |")


if __name__ == "__main__":
    main()
