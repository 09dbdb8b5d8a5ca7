"""Benchmark (not a test): the input stages of issue 3 on the real Tianjin Hexi data.

    python bench/bench_inputs.py

  coords   GCJ-02 → WGS-84 for 100,000 points: ours (vectorised numpy, iterated to < 1 mm)
           against the PyPI package coordTransform called per point (if installed; its inverse
           is one step, 1–2 m) — the way registries are usually converted row by row
  noding   Hexi road lines → junctions: ours (GEOS node per level + vectorised splitting)
           against unary_union of all lines (the usual one-liner, which also wrongly joins
           bridges to the roads below — timed only as the speed reference)
  run      the whole Hexi run (141 communities, 14 streets, census scaling), cold and warm
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from timing import ROOT, best_of  # noqa: E402  (also puts the repository on sys.path)

from servicecircle import coords, load_config, roadlines, run  # noqa: E402



def bench_coords() -> None:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(117.1, 117.3, 100_000), rng.uniform(39.0, 39.2, 100_000)
    ours = best_of(lambda: coords.gcj02_to_wgs84(lon, lat))
    print(f"coords   ours (100,000 points, exact)      {ours * 1000:8.1f} ms")
    try:
        import coordTransform as ct
    except ImportError:
        print("coords   coordTransform not installed: pip install coordtransform to compare")
        return
    other = best_of(lambda: [ct.gcj02_to_wgs84(x, y) for x, y in zip(lon.tolist(), lat.tolist())], repeat=1)
    wlon, wlat = coords.gcj02_to_wgs84(lon[:1000], lat[:1000])
    theirs = np.array([ct.gcj02_to_wgs84(x, y) for x, y in zip(lon[:1000].tolist(), lat[:1000].tolist())])
    err = np.hypot((theirs[:, 0] - wlon) * 86_000, (theirs[:, 1] - wlat) * 111_000).max()
    print(f"coords   coordTransform per point          {other * 1000:8.1f} ms   → ours is {other / ours:.1f}× faster; "
          f"their one-step inverse is off by up to {err:.2f} m")


def bench_noding(config) -> None:
    lines, _ = roadlines.read_road_lines(config.network.roads)
    geoms, level = lines.geometry.values, lines["level"].to_numpy()
    ours = best_of(lambda: roadlines.node_lines(geoms, level))
    union = best_of(lambda: shapely.get_parts(shapely.union_all(geoms)))
    n_nodes = len(roadlines.node_lines(geoms, level)[0])
    print(f"noding   ours ({len(geoms)} lines → {n_nodes} junctions) {ours * 1000:8.1f} ms")
    print(f"noding   unary_union of all lines          {union * 1000:8.1f} ms   → ours/union = {ours / union:.2f}×")


def bench_run(config) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config.with_settings(network={"cache_dir": Path(tmp) / "cache"}, output={"out_dir": Path(tmp) / "out"})
        t = time.perf_counter()
        run(cfg, progress=False)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        result = run(cfg, progress=False)
        warm = time.perf_counter() - t
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items())
    print(f"run      Hexi cold {cold:.1f} s, warm {warm:.1f} s  ({stages})")


if __name__ == "__main__":
    hexi = load_config(ROOT / "data" / "hexi.toml")
    bench_coords()
    bench_noding(hexi)
    bench_run(hexi)
