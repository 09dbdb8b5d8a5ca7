"""Batch benchmark on the SYNTHETIC tiled city (``bench/synthetic_city.py``, declared synthetic, not a real
place): the city split into d × d rectangular districts, run serially and on LocalClusters of 1 and 2 workers.

Measured: wall time of each mode and the peak resident memory of the process that ran each district
(serial: the one process, growing; Dask: each worker). Projected (not measured): with N workers and
D ≥ N districts of similar size the Dask wall time is about serial × max(1, ceil(D / N)) / D plus the
cluster start-up, and each worker's peak stays at one district's.

    PYTHONPATH=. python bench/bench_batch.py --k 2 --d 2 [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_city import generate_city  # noqa: E402

from servicecircle import batch  # noqa: E402


def district_file(path: Path, bbox: list[float], d: int) -> None:
    """d × d rectangles over the city's bbox, codes S11… (SYNTHETIC test districts)."""
    west, south, east, north = bbox
    dx, dy = (east - west) / d, (north - south) / d
    features = [{"type": "Feature", "properties": {"adcode": f"S{i + 1}{j + 1}", "name": f"SYNTHETIC {i + 1},{j + 1}"},
                 "geometry": {"type": "Polygon", "coordinates": [[
                     [west + i * dx, south + j * dy], [west + (i + 1) * dx, south + j * dy],
                     [west + (i + 1) * dx, south + (j + 1) * dy], [west + i * dx, south + (j + 1) * dy],
                     [west + i * dx, south + j * dy]]]}} for i in range(d) for j in range(d)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=2, help="tiles per side of the synthetic city")
    parser.add_argument("--d", type=int, default=2, help="districts per side")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="LocalCluster sizes to time (each after the serial run, each on its own cold cache)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    city = generate_city(k=args.k, out_dir=work / "cities")
    bbox = tomllib.loads(city.config.read_text())["area"]["bbox"]
    district_file(work / "districts.geojson", bbox, args.d)
    rows = []
    for mode in ("serial", *(f"dask{n}" for n in args.workers)):
        (work / f"{mode}.toml").write_text(
            f'[batch]\nbase = "{city.config}"\ndistricts_file = "districts.geojson"\nout_dir = "{mode}"\n'
            # each mode its own cache: a cold run each (the run-area files are named by content, so a shared cache
            # would hand the second mode the first one's analyses)
            f'[batch.overrides.network]\ncache_dir = "{work / f"cache_{mode}"}"\n', encoding="utf-8")
        start = time.perf_counter()
        out = batch.run_batch(batch.load_batch(work / f"{mode}.toml"), serial=mode == "serial",
                              workers=None if mode == "serial" else int(mode[4:]))
        wall = time.perf_counter() - start
        peak = max(s.get("peak_rss_mb", 0.0) for s in out["districts"].values())
        rows.append((mode, wall, peak, len(out["failed"])))
    print(f"SYNTHETIC city k={args.k}, {args.d}x{args.d} districts (measured; daskN = LocalCluster of N workers)")
    print(f"{'mode':8} {'wall s':>8} {'peak MB/proc':>13} {'failed':>6}")
    for mode, wall, peak, failed in rows:
        print(f"{mode:8} {wall:8.1f} {peak:13.0f} {failed:6d}")
    serial = rows[0][1]
    print(f"projected, N workers on N × this machine's cores, D = {args.d * args.d} districts of similar size: "
          f"≈ {serial / (args.d * args.d):.0f} s × ceil(D / N) + cluster start-up")


if __name__ == "__main__":
    main()
