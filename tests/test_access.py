"""Walk times and service areas, cross-checked against networkx Dijkstra on the same graph."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from servicecircle import access
from servicecircle.network import snap_points


def split_graph(net, points):
    """networkx graph of ``net`` with each snapped point inserted *into* its edge.

    ``points``: list of (name, edge, along_m, offset_m). The edge is cut at every
    point on it, so points on the same edge reach each other along it: an
    independent construction, not the facility-node shortcut of servicecircle.
    """
    g = nx.Graph()
    by_edge = {}
    for name, e, along, off in points:
        by_edge.setdefault(int(e), []).append((float(along), name, float(off)))
    for e, (u, v, length) in enumerate(zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length_m.tolist())):
        if u == v and e not in by_edge:
            continue
        stops = [(0.0, u)] + [(a, ("on", n)) for a, n, _ in sorted(by_edge.get(e, []))] + [(length, v)]
        for (a0, n0), (a1, n1) in zip(stops[:-1], stops[1:]):
            if n0 == n1:
                continue
            w = a1 - a0
            if not g.has_edge(n0, n1) or g[n0][n1]["w"] > w:
                g.add_edge(n0, n1, w=w)
        for a, n, off in by_edge.get(e, []):
            g.add_edge(n, ("on", n), w=off)
    return g


@pytest.fixture(scope="module")
def graph(chengdu_run):
    usable = chengdu_run.facilities[chengdu_run.facilities["counted"] & ~chengdu_run.facilities["off_network"]]
    return access.build_access_graph(chengdu_run.network, usable)


def _points_of(fac):
    return [(("fac", i), e, a, o) for i, e, a, o in zip(fac.index, fac["snap_edge"], fac["snap_along_m"], fac["snap_offset_m"])]


@pytest.mark.parametrize("category", ["health_centre", "nursery"])
def test_node_times_match_networkx_dijkstra(graph, chengdu_run, category):
    net = chengdu_run.network
    fac = graph.facilities[graph.facilities["category"] == category]
    assert len(fac) > 0
    g = split_graph(net, _points_of(fac))
    ref = nx.multi_source_dijkstra_path_length(g, [("fac", i) for i in fac.index], weight="w")
    dist, nearest = access.nearest_distances(graph, category)
    speed = chengdu_run.config.categories[category].speed_m_s
    sample = np.random.default_rng(7).choice(net.n_nodes, 400, replace=False)
    ours = dist[sample] / speed
    theirs = np.array([ref.get(int(n), np.inf) for n in sample]) / speed
    assert np.all(np.isfinite(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert np.all(nearest[sample] >= 0)


def test_origin_times_match_networkx_including_same_edge(graph, chengdu_run):
    """Residential origins, including ones placed on a facility's own edge."""
    net = chengdu_run.network
    fac = graph.facilities[graph.facilities["category"] == "health_centre"]
    rng = np.random.default_rng(3)
    xy = shapely.get_coordinates(chengdu_run.origins.geometry.values)[rng.choice(len(chengdu_run.origins), 150, replace=False)]
    # origins a few metres along a facility's own edge, both sides of it
    own = shapely.line_interpolate_point(net.edge_geometry[fac["snap_edge"].to_numpy()],
                                         np.clip(fac["snap_along_m"].to_numpy() + 15, 0, None))
    xy = np.vstack([xy, shapely.get_coordinates(own) + 5.0])
    snap = snap_points(net, xy)
    node_d, node_near = access.nearest_distances(graph, "health_centre")
    dist, _ = access.point_distances(net, snap, node_d, fac, node_near)
    pts = _points_of(fac) + [(("o", k), e, a, o) for k, (e, a, o) in enumerate(zip(snap.edge, snap.along_m, snap.offset_m))]
    g = split_graph(net, pts)
    ref = nx.multi_source_dijkstra_path_length(g, [("fac", i) for i in fac.index], weight="w")
    theirs = np.array([ref.get(("o", k), np.inf) for k in range(len(xy))])
    np.testing.assert_allclose(dist, theirs, rtol=0, atol=1e-6)


def test_adding_a_facility_never_raises_any_time(graph, chengdu_run):
    net = chengdu_run.network
    before, _ = access.nearest_distances(graph, "nursery")
    rng = np.random.default_rng(11)
    edges = rng.choice(net.n_edges, 5, replace=False)
    extra = pd.DataFrame({  # test input: five hypothetical nurseries on random streets
        "facility_id": [f"test/{e}" for e in edges], "category": "nursery",
        "snap_edge": edges, "snap_along_m": net.edge_length_m[edges] / 3, "snap_offset_m": 20.0,
    })
    bigger = pd.concat([graph.facilities, extra], ignore_index=True)
    after, _ = access.nearest_distances(access.build_access_graph(net, bigger), "nursery")
    assert np.all(after <= before + 1e-9)
    assert np.sum(after < before - 1) > 100


def test_service_areas_contain_what_is_reached_and_nothing_far(graph, chengdu_run):
    net, config = chengdu_run.network, chengdu_run.config
    areas = chengdu_run.service_areas
    fac = graph.facilities
    points = shapely.points(net.node_xy)
    fac_xy = fac.geometry.to_crs(net.crs)
    assert set(areas["facility_id"]) == set(fac["facility_id"])
    for row in fac.index:
        speed = config.categories[fac.at[row, "category"]].speed_m_s
        g = split_graph(net, [("f", fac.at[row, "snap_edge"], fac.at[row, "snap_along_m"], fac.at[row, "snap_offset_m"])])
        ref = nx.single_source_dijkstra_path_length(g, "f", cutoff=17 * 60 * speed, weight="w")
        minutes = np.full(net.n_nodes, np.inf)
        for k, d in ref.items():
            if isinstance(k, int):
                minutes[k] = d / speed / 60
        mine = areas[areas["facility_id"] == fac.at[row, "facility_id"]].set_index("minutes").geometry
        poly = mine.loc[15.0]
        assert poly.contains(fac_xy.loc[row])
        assert np.all(shapely.covers(poly, points[minutes <= 15]))
        far_inside = np.flatnonzero((minutes > 16) & shapely.covers(poly, points))
        # The only exception: a dead end mapped onto a walked street without a
        # junction (an OSM 'almost junction'), i.e. within a metre of it.
        walked = net.edge_geometry[(minutes[net.edge_u] <= 15) | (minutes[net.edge_v] <= 15)]
        for node in far_inside:
            assert shapely.distance(points[node], walked).min() <= access.WALKED_LINE_M + 1e-6
        # nested: 5 inside 10 inside 15
        assert mine.loc[5.0].difference(mine.loc[10.0]).area < 1e-2
        assert mine.loc[10.0].difference(mine.loc[15.0]).area < 1e-2  # m², overlay round-off


def test_catchments_are_sparse_and_exact(graph, chengdu_run):
    rows = np.flatnonzero(graph.facilities["category"].to_numpy() == "health_centre")
    reach = access.catchments(graph, rows, 900.0, batch=7)
    assert reach.shape == (len(rows), chengdu_run.network.n_nodes)
    assert reach.nnz < 0.5 * reach.shape[0] * reach.shape[1]
    assert reach.data.max() <= 900.0
    best = np.asarray(reach.tocsc().max(axis=0).todense()).ravel()  # any facility reaching the node
    dist, _ = access.nearest_distances(graph, "health_centre")
    assert np.array_equal(best > 0, dist <= 900.0)
