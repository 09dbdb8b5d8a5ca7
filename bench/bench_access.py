"""Benchmark (not a test): per-category travel times on the Chengdu graph against other methods.

    python bench/bench_access.py

Compares, for the health-centre category (the one with most facilities in OSM here):
  ours    servicecircle.access.nearest_distances (facility nodes + one compiled multi-source pass)
  (a)     the osmnx isochrone-example method: networkx ego_graph per facility + polygon of its nodes
  (b)     networkx multi_source_dijkstra_path_length on the same graph
  bare    scipy.sparse.csgraph.dijkstra(min_only=True) from the facilities' nearest nodes
and the whole Chengdu run, cold (network built) and warm (network cached).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from timing import ROOT, best_of  # noqa: E402  (also puts the repository on sys.path)

from servicecircle import access, load_config, run  # noqa: E402
from servicecircle.network import build_walk_network  # noqa: E402



def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sc-bench-"))
    config = load_config(ROOT / "data" / "chengdu.toml").with_settings(network={"cache_dir": tmp / "cache"}, output={"out_dir": tmp / "out"})

    t = time.perf_counter()
    result = run(config, progress=False)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    warm_result = run(config, progress=False)
    warm = time.perf_counter() - t
    network_cached = best_of(lambda: build_walk_network(config.area, config.network), 3)

    net = result.network
    fac = result.facilities[result.facilities["counted"] & ~result.facilities["off_network"]]
    category = "health_centre"
    graph = access.build_access_graph(net, fac)
    cat_rows = np.flatnonzero(graph.facilities["category"].to_numpy() == category)
    n_fac = len(cat_rows)

    # Like the bare call below, the graph is built once per run and reused by every category.
    ours = best_of(lambda: access.nearest_distances(graph, category))
    build = best_of(lambda: access.build_access_graph(net, fac))

    g = net.to_networkx()
    ends = np.where(graph.facilities["snap_along_m"].to_numpy() * 2 < net.edge_length_m[graph.facilities["snap_edge"]],
                    net.edge_u[graph.facilities["snap_edge"]], net.edge_v[graph.facilities["snap_edge"]])[cat_rows]
    xy = net.node_xy

    def osmnx_isochrones():
        # osmnx "isochrones" example: one ego_graph per facility and trip time, convex hull of its nodes
        for node in ends:
            for minutes in (5, 10, 15):
                sub = nx.ego_graph(g, int(node), radius=minutes * 60 * 1.0, distance="length")
                shapely.convex_hull(shapely.multipoints(xy[list(sub.nodes)]))

    iso = best_of(osmnx_isochrones, 1)
    nx_multi = best_of(lambda: nx.multi_source_dijkstra_path_length(g, set(ends.tolist()), weight="length"), 3)
    matrix = net.csgraph()
    bare = best_of(lambda: dijkstra(matrix, directed=False, indices=ends, min_only=True))

    print(f"Chengdu graph: {net.n_nodes:,} nodes, {net.n_edges:,} edges; {category}: {n_fac} facilities")
    print(f"ours (nearest walk time, one category) {ours * 1e3:8.2f} ms")
    print(f"(a) osmnx isochrone example            {iso * 1e3:8.2f} ms   ratio {iso / ours:8.1f}x  (target >= 100x)")
    print(f"(b) networkx multi-source Dijkstra     {nx_multi * 1e3:8.2f} ms   ratio {nx_multi / ours:8.1f}x  (target >= 5x)")
    print(f"bare scipy dijkstra(min_only=True)     {bare * 1e3:8.2f} ms   ours/bare {ours / bare:6.2f}x  (target <= 3x)")
    print(f"(building the access graph, once per run: {build * 1e3:.2f} ms)")
    print(f"whole run: cold {cold:.1f} s (target <= 60 s), warm {warm:.1f} s; cached network step {network_cached:.3f} s (target <= 5 s)")
    print("stage seconds, cold:", result.summary.get("seconds"))
    print("stage seconds, warm:", warm_result.summary.get("seconds"))


if __name__ == "__main__":
    main()
