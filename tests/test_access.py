"""Walk times and service areas, cross-checked against networkx Dijkstra on the same graph.

Each check runs on a synthetic lattice (conftest.grid_case: barrier, bent and parallel streets, a loop, a
dead end; quick and without data) and on the real Chengdu run (slow).
"""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
import shapely

from conftest import AccessCase
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


@pytest.fixture(scope="module", params=["grid", pytest.param("chengdu", marks=[pytest.mark.slow, pytest.mark.needs_data])])
def case(request):
    """Each check on the synthetic lattice (conftest.grid_case: quick, no data) and on the real Chengdu run."""
    if request.param == "grid":
        return request.getfixturevalue("grid_case")
    r = request.getfixturevalue("chengdu_run")
    usable = r.facilities[r.facilities["counted"] & ~r.facilities["off_network"]]
    return AccessCase("chengdu", r.network, usable, r.config, r.origins, r.service_areas, r.merged_service_areas,
                      improved_nodes=100, reached_origins=1000)


@pytest.fixture(scope="module")
def graph(case):
    return access.build_access_graph(case.network, case.facilities)


def _points_of(fac):
    return [(("fac", i), e, a, o) for i, e, a, o in zip(fac.index, fac["snap_edge"], fac["snap_along_m"], fac["snap_offset_m"])]


@pytest.mark.parametrize("category", ["health_centre", "nursery"])
def test_node_times_match_networkx_dijkstra(graph, case, category):
    net = case.network
    fac = graph.facilities[graph.facilities["category"] == category]
    assert len(fac) > 0
    g = split_graph(net, _points_of(fac))
    ref = nx.multi_source_dijkstra_path_length(g, [("fac", i) for i in fac.index], weight="w")
    dist, nearest = access.nearest_distances(graph, category)
    speed = case.config.categories[category].speed_m_s
    sample = np.random.default_rng(7).choice(net.n_nodes, min(400, net.n_nodes), replace=False)
    ours = dist[sample] / speed
    theirs = np.array([ref.get(int(n), np.inf) for n in sample]) / speed
    assert np.all(np.isfinite(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert np.all(nearest[sample] >= 0)


def test_origin_times_match_networkx_including_same_edge(graph, case):
    """Residential origins, including ones placed on a facility's own edge."""
    net = case.network
    fac = graph.facilities[graph.facilities["category"] == "health_centre"]
    rng = np.random.default_rng(3)
    xy = shapely.get_coordinates(case.origins.geometry.values)[rng.choice(len(case.origins), 150, replace=False)]
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


def test_adding_a_facility_never_raises_any_time(graph, case):
    net = case.network
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
    assert np.sum(after < before - 1) > case.improved_nodes


def test_service_areas_contain_what_is_reached_and_nothing_far(graph, case):
    net, config = case.network, case.config
    areas = case.service_areas
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


def test_catchments_are_sparse_and_exact(graph, case):
    rows = np.flatnonzero(graph.facilities["category"].to_numpy() == "health_centre")
    # A tiny block forces one compiled search per facility: the blocking must not change any distance.
    for block in (access.DENSE_BLOCK_BYTES, 8 * 4000):
        reach = access.catchments(graph, rows, 900.0, block_bytes=block)
        assert reach.shape == (len(rows), case.network.n_nodes)
        assert reach.nnz < 0.5 * reach.shape[0] * reach.shape[1]
        assert reach.data.max() <= 900.0
        # The local searches equal one search of the whole network per facility (independent of the tiling).
        n = case.network.n_nodes
        full = dijkstra(graph.matrix, directed=False, indices=n + rows, limit=900.0)[:, :n]
        dense = reach.toarray()
        np.testing.assert_allclose(dense, np.where(np.isfinite(full), np.maximum(full, 1e-9), 0.0), rtol=0, atol=1e-9)
    best = np.asarray(reach.tocsc().max(axis=0).todense()).ravel()  # any facility reaching the node
    dist, _ = access.nearest_distances(graph, "health_centre")
    assert np.array_equal(best > 0, dist <= 900.0)


def test_two_step_fca_by_hand():
    # Test input: facility A (10 beds) reaches origins 0 and 1, B (6 beds) reaches 1 and 2.
    times = sp.csr_matrix(np.array([[120.0, 700.0, 0.0], [0.0, 400.0, 890.0]]))
    demand = np.array([10.0, 30.0, 20.0])
    ratio, acc = access.two_step_fca(times, np.array([10.0, 6.0]), demand, (5, 10, 15))
    np.testing.assert_allclose(ratio, [10 / 40, 6 / 50])
    np.testing.assert_allclose(acc, [0.25, 0.25 + 0.12, 0.12])
    # Stepped decay 1 / 0.68 / 0.22 for 0–5 / 5–10 / 10–15 min.
    ratio, acc = access.two_step_fca(times, np.array([10.0, 6.0]), demand, (5, 10, 15), (1.0, 0.68, 0.22))
    ra, rb = 10 / (10 * 1.0 + 30 * 0.22), 6 / (30 * 0.68 + 20 * 0.22)
    np.testing.assert_allclose(ratio, [ra, rb])
    np.testing.assert_allclose(acc, [ra, 0.22 * ra + 0.68 * rb, 0.22 * rb])
    # Whatever the decay, the capacity shared out is the capacity of facilities someone reaches.
    assert acc @ demand == pytest.approx(16.0)


def test_two_step_fca_leaves_out_capacity_nobody_reaches():
    times = sp.csr_matrix(np.array([[60.0, 0.0], [0.0, 0.0]]))
    ratio, acc = access.two_step_fca(times, np.array([5.0, 7.0]), np.array([2.0, 3.0]), (15,))
    assert ratio[0] == 2.5 and np.isnan(ratio[1])
    np.testing.assert_allclose(acc, [2.5, 0.0])


def test_decay_weights_at_the_band_edges():
    t = np.array([0.0, 300.0, 300.1, 600.0, 900.0, 900.1])
    np.testing.assert_allclose(access.decay_weights(t, (5, 10, 15)), [1, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(access.decay_weights(t, (15, 5, 10), (1.0, 0.68, 0.22)), [1, 1, 0.68, 0.68, 0.22, 0])


@pytest.mark.parametrize("decay", ["binary", "stepped"])
def test_origin_capacity_access_matches_networkx_2sfca(graph, case, decay):
    """2SFCA of test capacities given to the health centres, against networkx Dijkstra and plain loops."""
    from dataclasses import replace


    config = case.config
    cats = dict(config.categories)
    cats["health_centre"] = replace(cats["health_centre"], capacity="beds", demand_group="all")
    config = config.with_settings(access={"decay": decay}, categories=cats)
    fac = graph.facilities.copy()
    is_health = (fac["category"] == "health_centre").to_numpy()
    # Test input: made-up capacities, one facility with none (left out of 2SFCA).
    fac["beds"] = np.where(is_health, 10.0 * (np.arange(len(fac)) % 7 + 1), np.nan)
    unknown = np.flatnonzero(is_health)[3]
    fac.loc[unknown, "beds"] = np.nan
    test_graph = access.AccessGraph(graph.net, fac, graph.matrix)
    origins = case.origins
    ours, info = access.origin_capacity_access(origins, test_graph, categories=config.categories,
                                                settings=config.access)
    assert info["health_centre"]["facilities_without_capacity"] == 1
    assert info["health_centre"]["facilities_used"] == is_health.sum() - 1

    net = case.network
    supply = fac[is_health & fac["beds"].notna()]
    snap = snap_points(net, shapely.get_coordinates(origins.geometry.values))
    g = split_graph(net, _points_of(supply) + [(("o", k), e, a, o) for k, (e, a, o) in
                                               enumerate(zip(snap.edge, snap.along_m, snap.offset_m))])
    speed = config.categories["health_centre"].speed_m_s
    limit_s = 15 * 60
    weights = {"binary": [(900, 1.0)], "stepped": [(300, 1.0), (600, 0.68), (900, 0.22)]}[decay]

    def w(t):
        return next((wt for lim, wt in weights if t <= lim), 0.0)

    demand = origins["residents"].to_numpy()
    reach = {}
    for i in supply.index:
        d = nx.single_source_dijkstra_path_length(g, ("fac", i), cutoff=limit_s * speed + 1e-6, weight="w")
        reach[i] = {n[1]: t / speed for n, t in d.items() if isinstance(n, tuple) and n[0] == "o" and t / speed <= limit_s}
    ratio = {i: supply.at[i, "beds"] / sum(w(t) * demand[k] for k, t in r.items())
             for i, r in reach.items() if sum(w(t) * demand[k] for k, t in r.items()) > 0}
    theirs = np.zeros(len(origins))
    for i, r in reach.items():
        for k, t in r.items():
            theirs[k] += w(t) * ratio.get(i, 0.0)
    np.testing.assert_allclose(ours["fca_per_1000_health_centre"].to_numpy(), theirs * 1000, rtol=1e-9, atol=1e-9)
    assert (theirs > 0).sum() > case.reached_origins
    assert theirs @ demand == pytest.approx(sum(supply.at[i, "beds"] for i in ratio))


def test_merged_areas_come_from_the_one_multi_source_pass(graph, case):
    """Merged areas: every node reached within 15 min inside, nothing reached only after 16, nested,
    and never smaller than the union of the facilities' own areas (round-off aside)."""
    net, config = case.network, case.config
    merged = case.merged_service_areas.set_index(["category", "minutes"]).geometry
    points = shapely.points(net.node_xy)
    for category in ("health_centre", "nursery"):
        fac = graph.facilities[graph.facilities["category"] == category]
        speed = config.categories[category].speed_m_s
        g = split_graph(net, _points_of(fac))
        ref = nx.multi_source_dijkstra_path_length(g, [("fac", i) for i in fac.index], weight="w")
        minutes = np.full(net.n_nodes, np.inf)
        for k, d in ref.items():
            if isinstance(k, int):
                minutes[k] = d / speed / 60
        poly = merged.loc[(category, 15.0)]
        assert np.all(shapely.covers(poly, points[minutes <= 15]))
        walked = net.edge_geometry[(minutes[net.edge_u] <= 15) | (minutes[net.edge_v] <= 15)]
        for node in np.flatnonzero((minutes > 16) & shapely.covers(poly, points)):
            assert shapely.distance(points[node], walked).min() <= access.WALKED_LINE_M + 1e-6  # as above
        for small, large in ((5.0, 10.0), (10.0, 15.0)):  # nested, to the 1 mm grid the tiles are merged on
            inner = merged.loc[(category, small)]
            assert inner.difference(merged.loc[(category, large)]).area < 1e-3 * inner.length
        own = case.service_areas
        for m in (5.0, 15.0):
            union = shapely.union_all(own[(own["category"] == category) & (own["minutes"] == m)].geometry.values)
            # Slivers of buffered-curve round-off only: well under a square metre per km of outline.
            assert union.difference(merged.loc[(category, m)]).area < 1e-3 * union.length
            assert merged.loc[(category, m)].area >= union.area - 1e-3 * union.length


def test_cell_service_areas_agree_with_the_covered_flags(chengdu_run):
    from servicecircle import grid

    config, cells = chengdu_run.config, chengdu_run.cells
    areas = grid.cell_service_areas(cells, categories=config.categories,
                                   thresholds_min=config.access.thresholds_min, crs=chengdu_run.network.crs).set_index(["category", "minutes"])
    assert "elder_care" not in areas.index.get_level_values(0)  # no facility: no area, as with street buffers
    area = areas.loc[("health_centre", 15.0)].geometry
    centres = cells.to_crs(chengdu_run.network.crs).geometry.centroid.values
    inside = shapely.covers(area, centres)
    np.testing.assert_array_equal(inside, cells["covered_health_centre"].to_numpy(bool))
    # the outline is exactly the covered hexagons, merged
    covered = cells[cells["covered_health_centre"]].to_crs(chengdu_run.network.crs)
    assert area.area == pytest.approx(covered.area.sum(), rel=1e-6)
