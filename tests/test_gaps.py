"""Blind spots (clusters of uncovered populated cells) and the 医养结合 health-centre adjacency check.

The elder-care registry here is test input declared in conftest
(CHENGDU_TEST_REGISTRY): no public registry of Chengdu's elder-care centres exists.
"""


import math

import geopandas as gpd
import h3
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from conftest import map_texts
from servicecircle import access, gaps
from servicecircle.config import make_config
from servicecircle.population import group_column

from test_access import _points_of, split_graph  # the independent networkx construction


def test_walk_minutes_round_up_to_a_tenth():
    # 900.3 s is 15.005 min: beyond a 15-minute threshold, so it must not read 15.0.
    np.testing.assert_array_equal(gaps.walk_minutes_up([900.3, 900.0, 906.0, 906.01, 1000.0, 59.0]),
                                  [15.1, 15.0, 15.1, 15.2, 16.7, 1.0])
    assert f"{gaps.walk_minutes_up([900.3])[0]:.1f}" == "15.1"


def test_cell_clusters_join_cells_sharing_an_edge():
    centre = h3.latlng_to_cell(30.67, 104.08, 10)
    ring = sorted(h3.grid_ring(centre, 1))
    far = h3.latlng_to_cell(30.70, 104.10, 10)
    far_neighbour = sorted(h3.grid_ring(far, 1))[0]
    two_apart = sorted(h3.grid_ring(centre, 2))[0]
    cells = [far, centre, ring[0], far_neighbour, two_apart, ring[3]]
    labels = gaps.cell_clusters(cells)
    assert labels[0] == labels[3] == 0  # numbered by first appearance
    assert labels[1] == labels[2] == labels[5] == 1
    # a cell two rings away joins only if a cell between them is in the list
    touches = any(h3.grid_distance(two_apart, c) == 1 for c in (centre, ring[0], ring[3]))
    assert (labels[4] == 1) == touches
    assert len(gaps.cell_clusters([])) == 0


def _hand_cells():
    """Test input: a 19-cell disk with two uncovered populated pockets and an unpopulated uncovered cell."""
    centre = h3.latlng_to_cell(30.67, 104.08, 10)
    disk = sorted(h3.grid_disk(centre, 2))
    east = [c for c in disk if h3.grid_distance(centre, c) == 2][:1]
    pocket_a = [centre]
    pocket_b = [c for c in disk if h3.grid_distance(centre, c) == 2 and h3.grid_distance(east[0], c) <= 1]
    empty = [c for c in disk if c not in pocket_a + pocket_b and h3.grid_distance(centre, c) == 2][0]
    residents = {c: 0.0 for c in disk}
    residents.update({pocket_a[0]: 50.0})
    residents.update({c: 100.0 for c in pocket_b})
    covered = {c: c not in pocket_a + pocket_b + [empty] for c in disk}
    walk = {c: 600.0 if covered[c] else 1000.0 + 60 * i for i, c in enumerate(disk)}
    cells = gpd.GeoDataFrame({
        "h3": disk, "residents": [residents[c] for c in disk],
        "covered_elder_care": [covered[c] for c in disk], "walk_time_s_elder_care": [walk[c] for c in disk],
        "nearest_elder_care": [f"f{i}" for i in range(len(disk))],
    }, geometry=[shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in disk], crs="EPSG:4326")
    origins = pd.DataFrame({"h3": disk, "residents": [residents[c] for c in disk],
                            "residents_60plus": [residents[c] / 4 for c in disk]})
    return cells, origins, pocket_a, pocket_b, walk


def test_blind_spots_by_hand():
    cells, origins, pocket_a, pocket_b, walk = _hand_cells()
    config = make_config({"area": {"name": "t", "bbox": [104.0, 30.6, 104.2, 30.8]},
                          "categories": {"canteen": {"keywords": ["x"]}}})
    config = config.with_settings(categories={"elder_care": config.categories["elder_care"]})
    comms = pd.DataFrame({"community_id": [0, 1], "name": ["甲社区", "乙社区"]})
    unit = np.where(origins["h3"].isin(pocket_a), 0, 1)
    facs = pd.DataFrame({"facility_id": [f"f{i}" for i in range(len(cells))], "name": [f"站{i}" for i in range(len(cells))]})
    spots = gaps.blind_spots(cells, origins, unit, comms, facs, config)
    assert list(spots.columns[:-1]) == gaps.BLIND_SPOT_COLUMNS
    assert len(spots) == 2  # the unpopulated uncovered cell is no blind spot
    big, small = spots.iloc[0], spots.iloc[1]
    assert big["cells"] == len(pocket_b) and big["residents"] == 100.0 * len(pocket_b) and big["rank"] == 1
    assert big["demand_residents"] == 25.0 * len(pocket_b) and big["demand"] == "residents_60plus"
    assert small["residents"] == 50.0 and small["communities"] == "甲社区"
    # The shortest walk, rounded up to the tenth of a minute: beyond the threshold, it never reads as within.
    shortest = min(walk[c] for c in pocket_b)
    assert big["nearest_walk_min"] == pytest.approx(math.ceil(shortest / 6) / 10)
    assert shortest / 60 <= big["nearest_walk_min"] < shortest / 60 + 0.1
    assert (spots["population_fallback"] == 0).all()  # no origin rests on a fallback here
    best = min(pocket_b, key=lambda c: walk[c])
    i = list(cells["h3"]).index(best)
    assert big["nearest_facility_id"] == f"f{i}" and big["nearest_facility_name"] == f"站{i}"
    utm = "EPSG:32648"
    assert spots.to_crs(utm).area.iloc[0] == pytest.approx(cells.set_index("h3").loc[pocket_b].to_crs(utm).area.sum(),
                                                           rel=1e-6)


def test_chengdu_blind_spots_partition_the_uncovered_residents(chengdu_run):
    spots, cells = chengdu_run.blind_spots, chengdu_run.cells
    for key in ("health_centre", "elder_care"):
        part = spots[spots["category"] == key]
        uncovered = cells.loc[(cells["residents"] > 0) & ~cells[f"covered_{key}"], "residents"].sum()
        assert part["residents"].sum() == pytest.approx(uncovered)
        assert part["residents"].is_monotonic_decreasing
        # Clusters are maximal: no cell of one touches a cell of another.
        members = {}
        for sid, geom in zip(part["blind_spot_id"], part.geometry):
            for c in h3.geo_to_cells(geom.buffer(-1e-5), 10):
                members[c] = sid
        for c, sid in members.items():
            assert all(members.get(nb, sid) == sid for nb in h3.grid_ring(c, 1))
    health = spots[spots["category"] == "health_centre"]
    assert (health["nearest_walk_min"] > 15).all() and health["nearest_facility_name"].ne("").any()
    # No elder-care facility at all: one blind spot per island of residents, with no walk to state.
    assert spots.loc[spots["category"] == "elder_care", "nearest_walk_min"].isna().all()
    s = chengdu_run.summary["categories"]["elder_care"]
    assert s["blind_spots"] == (spots["category"] == "elder_care").sum()
    assert chengdu_run.summary["health_adjacency"]["note"] == "没有需要核查的养老服务设施"


@pytest.fixture(scope="session")
def care_run(chengdu_registry_run):
    """Chengdu with the shared test registry (conftest.CHENGDU_TEST_REGISTRY): four elder-care homes, one next
    to a hospital and two far from any (one with a hostile name), 130 beds known, and one nursery (40 places)."""
    return chengdu_registry_run


def test_health_adjacency_against_networkx(care_run):
    adj = care_run.adjacency.set_index("name")
    assert list(care_run.adjacency.columns) == gaps.ADJACENCY_COLUMNS
    assert len(adj) == 4
    facs = care_run.facilities
    usable = facs[facs["counted"] & ~facs["off_network"]]
    graph = access.build_access_graph(care_run.network, usable)
    health = graph.facilities[graph.facilities["category"] == "health_centre"]
    care = graph.facilities[graph.facilities["category"] == "elder_care"]
    pts = _points_of(health) + [(("care", n), e, a, o) for n, e, a, o in
                                zip(care["name"], care["snap_edge"], care["snap_along_m"], care["snap_offset_m"])]
    g = split_graph(care_run.network, pts)
    ref = nx.multi_source_dijkstra_path_length(g, [("fac", i) for i in health.index], weight="w")
    for name in care["name"]:
        assert adj.loc[name, "walk_min_to_health"] == pytest.approx(ref[("care", name)] / 60, abs=1e-6)
    assert adj.loc["测试颐养院（医院旁）", "adjacent"] and adj.loc["测试颐养院（医院旁）", "walk_min_to_health"] < 3
    assert adj.loc["测试颐养院（医院旁）", "nearest_health_name"] == "成都市中医医院"
    far = adj["walk_min_to_health"] > 10
    assert far.sum() == 2, adj["walk_min_to_health"]  # two of the four are > 10 min from every health centre
    assert (adj["adjacent"] == ~far).all()
    s = care_run.summary["health_adjacency"]
    assert s["checked"] == 4 and s["adjacent"] + s["not_adjacent"] == 4 and s["adjacent"] == (~far).sum()
    care_texts = map_texts(care_run.files["map"], "facilities", "care_text")  # the care homes' popup lines
    assert len(care_texts) == 4 and all(t.startswith("医养结合：步行 ") for t in care_texts)
    assert any("分钟到 成都市中医医院（未超出 10 分钟）" in t for t in care_texts)
    assert sum("（超出 10 分钟）" in t for t in care_texts) == 2 and not any("&lt;" in t for t in care_texts)
    written = pd.read_csv(care_run.files["health_adjacency"], encoding="utf-8-sig")
    assert len(written) == 4 and list(written.columns) == gaps.ADJACENCY_COLUMNS


def test_capacity_access_in_a_run(care_run):
    s = care_run.summary["categories"]
    elder = s["elder_care"]["capacity_access"]
    assert elder["decay"] == "stepped" and elder["facilities_used"] == 3 and elder["facilities_without_capacity"] == 1
    assert "不计入 2SFCA" in elder["note"]  # left out of 2SFCA (zh, the run's language)
    cells, comms = care_run.cells, care_run.communities
    # District figure: the 130 beds shared out, per 1,000 residents (Chengdu has no age data).
    assert elder["district_per_1000"] == pytest.approx(130 / cells["residents"].sum() * 1000)
    assert (cells["fca_per_1000_elder_care"] > 0).sum() > 20
    assert (cells["fca_per_1000_elder_care"] * cells["residents"]).sum() / 1000 == pytest.approx(130)
    nursery = s["nursery"]["capacity_access"]
    assert nursery["facilities_used"] == 1 and nursery["capacity_shared"] == 40
    assert (comms["fca_per_1000_nursery"].fillna(0) * comms["residents"]).sum() / 1000 <= 40 + 1e-6
    assert comms["fca_per_1000_canteen"].isna().all()  # no canteen: no number, not zero
    assert "fca_per_1000_elder_care" in pd.read_csv(care_run.files["csv"], encoding="utf-8-sig").columns


# ---------------------------------------------------------------------------------------------------------------
# The vectorised clusters and blind spots against a cluster-by-cluster reference.

def _reference_clusters(cells):
    """Clusters by h3-py's ring of each cell and networkx's components, numbered by first appearance."""
    index = {c: i for i, c in enumerate(cells)}
    g = nx.Graph()
    g.add_nodes_from(range(len(cells)))
    g.add_edges_from((i, index[nb]) for i, c in enumerate(cells) for nb in h3.grid_ring(c, 1) if nb in index)
    label = np.empty(len(cells), dtype=np.int64)
    for k, comp in enumerate(sorted(nx.connected_components(g), key=min)):
        label[list(comp)] = k
    return label


def _reference_blind_spots(cells, origins, unit_of_origin, communities, facilities, config):
    """Blind spots one cluster at a time: masks, numpy sums and shapely.union_all per cluster."""
    names = dict(zip(facilities["facility_id"], facilities["name"]))
    comm_name = dict(zip(communities["community_id"], communities["name"]))
    records, geoms = [], []
    for key, category in config.categories.items():
        col, _who = group_column(origins, category.demand_group)
        gap = cells[(cells["residents"] > 0) & ~cells[f"covered_{key}"].astype(bool)].reset_index(drop=True)
        if len(gap) == 0:
            continue
        label = _reference_clusters(list(gap["h3"]))
        demand = pd.Series(origins[col].to_numpy(float), index=origins["h3"].to_numpy()).groupby(level=0).sum()
        cell_demand = gap["h3"].map(demand).fillna(0.0).to_numpy()
        cluster_of = dict(zip(gap["h3"], label))
        walk = gap[f"walk_time_s_{key}"].to_numpy(float)
        held_by = {}  # cluster → community → its residents' weights
        for h, cid, w in zip(origins["h3"], unit_of_origin, origins["residents"]):
            if h in cluster_of and cid >= 0:
                held_by.setdefault(cluster_of[h], {}).setdefault(cid, []).append(w)
        spots = []
        for c in range(label.max() + 1):
            idx = np.flatnonzero(label == c)
            finite = np.isfinite(walk[idx])
            best = idx[np.argmin(np.where(finite, walk[idx], np.inf))] if finite.any() else None
            held = held_by.get(c, {})
            ranked = sorted(held, key=lambda cid: (-pd.Series(held[cid]).sum(), cid))  # pandas sums, as groupby does
            comms = [comm_name.get(cid, str(cid)) for cid in ranked]
            fallback = gap["population_fallback"].to_numpy()[idx].sum() if "population_fallback" in gap else 0.0
            spots.append((c, idx, gap["residents"].to_numpy()[idx].sum(), cell_demand[idx].sum(), best, comms,
                          fallback))
        spots.sort(key=lambda s: (-s[2], s[0]))
        for rank, (c, idx, residents, dem, best, comms, fallback) in enumerate(spots, start=1):
            near = str(gap[f"nearest_{key}"].iat[best]) if best is not None else ""
            records.append((f"{key}-{rank}", key, rank, len(idx), residents, dem, col,
                            math.ceil(walk[best] / 6.0 - 1e-9) / 10 if best is not None else np.nan, near, names.get(near, ""),
                            "、".join(comms[:5]) + (f" 等{len(comms)}个社区" if len(comms) > 5 else ""),
                            float(fallback)))
            geoms.append(shapely.union_all(gap.geometry.values[idx]))
    return pd.DataFrame(records, columns=gaps.BLIND_SPOT_COLUMNS), np.array(geoms, dtype=object)


def test_cell_clusters_equal_a_ring_by_ring_reference(chengdu_run):
    cells = chengdu_run.cells
    for key in ("health_centre", "nursery", "elder_care"):
        gap = list(cells.loc[(cells["residents"] > 0) & ~cells[f"covered_{key}"], "h3"])
        labels = gaps.cell_clusters(gap)
        assert labels.max() > 0 or key == "elder_care"
        np.testing.assert_array_equal(labels, _reference_clusters(gap))


def test_union_by_group_equals_union_all_per_group():
    """Test input: clusters of H3 cells of many sizes (one of 1,261 cells), unioned at once and one by one."""
    centre = h3.latlng_to_cell(30.67, 104.08, 10)
    cells = sorted(h3.grid_disk(centre, 25))
    rng = np.random.default_rng(0)
    group = np.where(np.array([h3.grid_distance(centre, c) for c in cells]) <= 20, 0, rng.integers(1, 40, len(cells)))
    polys = np.array([shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells])
    merged = gaps.union_by_group(polys, group, 41)
    for g in range(41):
        ref = shapely.union_all(polys[group == g])
        assert shapely.area(shapely.symmetric_difference(merged[g], ref)) < 1e-16 * max(ref.area, 1e-12), g
        assert shapely.is_valid(merged[g])


@pytest.mark.slow  # each case is a full run on a real sample
@pytest.mark.needs_data
@pytest.mark.parametrize("which", ["chengdu_run", "hexi_run", "care_run"])
def test_blind_spots_equal_the_per_cluster_reference(which, request):
    r = request.getfixturevalue(which)
    spots = gaps.blind_spots(r.cells, r.origins, r.unit_of_origin["community"], r.communities, r.facilities, r.config)
    ref, geoms = _reference_blind_spots(r.cells, r.origins, r.unit_of_origin["community"], r.communities,
                                       r.facilities, r.config)
    assert len(ref) > 0
    pd.testing.assert_frame_equal(pd.DataFrame(spots.drop(columns="geometry")), ref, check_exact=True)
    utm = r.network.crs
    a = gpd.GeoSeries(spots.geometry.values, crs="EPSG:4326").to_crs(utm)
    b = gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(utm)
    assert a.symmetric_difference(b).area.max() < 1e-6  # m²: the same outlines


def test_adjacency_without_a_health_category_is_not_checked():
    """A check not run is no failure: without a health category every care facility reads 未检查 and why."""
    config = make_config({"area": {"name": "test", "bbox": [0, 0, 0.03, 0.01]}})
    categories = {k: v for k, v in config.categories.items() if k != config.gaps.health_category}
    facilities = pd.DataFrame({"facility_id": ["a", "b"], "name": ["甲", "乙"], "category": "elder_care",
                               "counted": True, "source": "osm", "off_network": False})
    adj = gaps.health_adjacency(None, facilities, settings=config.gaps, categories=categories, lang="zh")
    assert list(adj.columns) == gaps.ADJACENCY_COLUMNS
    assert not adj["checked"].any() and adj["walk_min_to_health"].isna().all()
    assert adj["note"].str.contains("未配置health_centre类别").all()
    en = gaps.health_adjacency(None, facilities, settings=config.gaps, categories=categories, lang="en")
    assert en["note"].str.startswith("no health_centre category configured").all()


def test_hexi_adjacency_reads_not_checked_on_the_page_and_map(hexi_goal_registry_run):
    """Hexi with the test registry: elder-care centres and no health category (Hexi configures none)."""
    from servicecircle import maps, reportpage

    run_result = hexi_goal_registry_run
    adj = run_result.adjacency
    assert "health_centre" not in run_result.config.categories and len(adj)
    assert not adj["checked"].any() and not adj["adjacent"].any()
    assert adj["note"].str.contains("未配置").all()
    table = reportpage._gaps(run_result, run_result.config)["adjacency"]
    marks = [row[3] for row in table["rows"]]
    assert marks and all(m.text == "未检查" for m in marks)
    index = pd.Index(run_result.facilities["facility_id"].astype(str))
    _, care_texts = maps._health_walk(adj, index, "zh")
    assert care_texts and all(t.startswith("医养结合：未检查（") for t in care_texts)
