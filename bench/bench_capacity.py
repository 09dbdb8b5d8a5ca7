"""Benchmark (not a test): capacity-aware access (2SFCA) at district scale, against PySAL's ``access``.

    python bench/bench_capacity.py [--facilities 2000]

Instance: the real Tianjin Hexi run (road lines, 141 communities, census
population) with N synthetic facilities (seeded, spread along the walkable
edges, 10–200 places each; synthetic test input, not real facilities).

  ours     servicecircle.access.origin_capacity_access: sparse facility → origin walks
           (batched, distance-limited compiled Dijkstra) and the 2SFCA on the sparse matrix
  access   PySAL access (pip install access) Access.two_stage_fca on the same walk table
           (the arithmetic only: it takes the costs as given), if installed; results compared
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from timing import ROOT, best_of  # noqa: E402  (also puts the repository on sys.path)

from servicecircle import access, load_config, run  # noqa: E402
from servicecircle.network import points_along_edges, snap_points  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--facilities", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sc-bench-"))
    config = load_config(ROOT / "data" / "hexi.toml").with_settings(network={"cache_dir": tmp / "cache"}, output={"out_dir": tmp / "out"})
    result = run(config, write=False, progress=False)
    net, origins = result.network, result.origins

    rng = np.random.default_rng(0)
    xy = shapely.get_coordinates(points_along_edges(net, 25.0)[3])
    xy = xy[np.sort(rng.choice(len(xy), args.facilities, replace=False))]
    snap = snap_points(net, xy)
    facs = pd.DataFrame({"facility_id": [f"bench/{i}" for i in range(len(xy))], "category": "nursery",
                         "snap_edge": snap.edge, "snap_along_m": snap.along_m, "snap_offset_m": snap.offset_m,
                         "nursery_places": rng.integers(10, 200, len(xy)).astype(float)})
    graph = access.build_access_graph(net, facs)
    for decay in ("binary", "stepped"):
        cfg = config.with_settings(access={"decay": decay})
        t = best_of(lambda: access.origin_capacity_access(origins, graph, categories=cfg.categories, settings=cfg.access), repeat=3)
        print(f"ours     2SFCA {decay:<8} {args.facilities:,} facilities × {len(origins):,} origins: {t:.3f} s")
    ours, _ = access.origin_capacity_access(origins, graph, categories=config.categories, settings=config.access)

    try:
        from access import Access
    except ImportError:
        print("access   not installed (pip install access) — no comparison")
        return
    osnap = snap_points(net, shapely.get_coordinates(origins.geometry.values))
    speed = config.categories["nursery"].speed_m_s
    dist = access.origin_catchments(graph, np.arange(len(facs)), osnap, 900 * speed).tocoo()
    demand_col = "residents_0_4" if "residents_0_4" in origins else "residents"
    cost = pd.DataFrame({"origin": dist.col, "dest": dist.row, "cost": dist.data / speed})
    demand = pd.DataFrame({"origin": np.arange(len(origins)), "pop": origins[demand_col].to_numpy()})
    supply = pd.DataFrame({"dest": np.arange(len(facs)), "places": facs["nursery_places"].to_numpy()})

    def pysal():
        a = Access(demand_df=demand, demand_index="origin", demand_value="pop", supply_df=supply,
                   supply_index="dest", supply_value="places", cost_df=cost, cost_origin="origin",
                   cost_dest="dest", cost_name="cost")
        return a.two_stage_fca(max_cost=900)

    t0 = time.perf_counter()
    theirs = pysal()
    t_theirs = time.perf_counter() - t0
    t_ours = best_of(lambda: access.two_step_fca(dist.tocsr() / speed, facs["nursery_places"].to_numpy(),
                                                 demand["pop"].to_numpy(), config.access.thresholds_min), repeat=3)
    col = theirs.columns[0] if hasattr(theirs, "columns") else None
    values = (theirs[col] if col else theirs).reindex(np.arange(len(origins))).fillna(0).to_numpy()
    diff = np.nanmax(np.abs(values * 1000 - ours["fca_per_1000_nursery"].to_numpy()))
    print(f"access   two_stage_fca on the same {len(cost):,} walks: {t_theirs:.2f} s vs ours {t_ours * 1000:.1f} ms "
          f"→ {t_theirs / t_ours:,.0f}× ; largest difference {diff:.2e} places per 1,000")


if __name__ == "__main__":
    main()
