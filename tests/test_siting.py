"""Siting: solvers against brute force and the MILP optimum, coverage sets, Chengdu runs, what-if, CLI."""

import json
import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely

from servicecircle import access, grid, siting
from servicecircle.errors import InputError
from servicecircle.network import snap_points


def random_instance(seed, n_cand=25, n_dem=60, density=0.12):
    rng = np.random.default_rng(seed)
    cover = sp.random(n_cand, n_dem, density=density, random_state=rng, format="csr")
    cover.data[:] = 1.0
    weight = rng.integers(1, 100, n_dem).astype(float)
    return cover, weight


def brute_force(cover, weight, k):
    dense = cover.toarray() > 0
    best = 0.0
    for combo in itertools.combinations(range(dense.shape[0]), k):
        best = max(best, weight[dense[list(combo)].any(axis=0)].sum())
    return best


@pytest.mark.parametrize("seed", range(6))
def test_exact_agrees_with_brute_force_on_tiny_instances(seed):
    cover, weight = random_instance(seed, n_cand=9, n_dem=25, density=0.2)
    for k in (1, 2, 3):
        sol = siting.exact(cover, weight, k)
        assert sum(sol.marginal) == pytest.approx(brute_force(cover, weight, k))
        assert len(sol.chosen) <= k and sol.optimal


@pytest.mark.parametrize("seed", range(12))
def test_greedy_bounds_against_best_single_site_and_the_optimum(seed):
    cover, weight = random_instance(100 + seed)
    single = (cover > 0).astype(float) @ weight
    for k in (1, 3, 5):
        g = siting.greedy(cover, weight, k=k)
        opt = sum(siting.exact(cover, weight, k).marginal)
        assert sum(g.marginal) >= single.max() - 1e-9
        assert sum(g.marginal) >= (1 - 1 / np.e) * opt - 1e-9
        assert sum(g.marginal) <= opt + 1e-9
        assert all(a >= b - 1e-9 for a, b in zip(g.marginal, g.marginal[1:]))  # diminishing returns
    assert siting.greedy(cover, weight, k=1).marginal[0] == single.max()


def test_target_stops_at_the_fewest_greedy_sites():
    cover, weight = random_instance(7, n_cand=40, n_dem=200, density=0.05)
    full = siting.greedy(cover, weight, k=40)
    goal = 0.5 * weight.sum()
    g = siting.greedy(cover, weight, target_weight=goal)
    assert g.covered[-1] >= goal and (len(g.chosen) == 1 or g.covered[-2] < goal)
    assert g.chosen == full.chosen[:len(g.chosen)]


def test_origin_catchments_match_the_nearest_facility_pass(chengdu_run):
    """Each candidate's coverage row equals the independent single-facility walk distance to every origin."""
    net, origins = chengdu_run.network, chengdu_run.origins
    cands = siting.network_candidates(net, 400.0, chengdu_run.area).iloc[::40].reset_index(drop=True)
    snap = snap_points(net, shapely.get_coordinates(cands.geometry.to_crs(net.crs).values))
    cands = cands.assign(category="candidate", snap_edge=snap.edge, snap_along_m=snap.along_m,
                         snap_offset_m=snap.offset_m)
    graph = access.build_access_graph(net, cands)
    osnap = snap_points(net, shapely.get_coordinates(origins.geometry.values))
    cover = access.origin_catchments(graph, np.arange(len(cands)), osnap, 900.0)
    assert len(cands) >= 10
    for j in range(len(cands)):
        single = access.build_access_graph(net, cands.iloc[[j]].reset_index(drop=True))
        node_d, _ = access.nearest_distances(single, "candidate")
        d, _ = access.point_distances(net, osnap, node_d, single.facilities)
        row = cover.getrow(j).toarray().ravel()
        within = d <= 900.0
        assert np.array_equal(row > 0, within)
        assert np.allclose(row[within], np.maximum(d[within], 1e-9), atol=1e-6)


@pytest.fixture(scope="module")
def chengdu_siting(chengdu_run):
    return siting.site(chengdu_run, "nursery", k=6, spacing_m=150.0, service_areas=True)


def test_siting_on_chengdu_raises_coverage_monotonically(chengdu_siting, chengdu_run):
    curve = chengdu_siting.curve["covered_share"].to_numpy()
    assert len(curve) == 7 and np.all(np.diff(curve) > 0)
    sites = chengdu_siting.sites
    assert list(sites["rank"]) == [1, 2, 3, 4, 5, 6]
    assert shapely.contains_xy(chengdu_run.area, sites["lon"], sites["lat"]).all()
    assert sites["covered_share_after"].is_monotonic_increasing
    info = chengdu_siting.info
    assert info["covered_share_after"] > info["covered_share_before"]
    # Communities never lose coverage from new sites, and some gain.
    change = chengdu_siting.communities["change"].dropna()
    assert (change >= -1e-12).all() and (change > 0).sum() >= 6
    areas = chengdu_siting.service_areas
    assert set(areas["minutes"]) == {5.0, 10.0, 15.0} and areas["facility_id"].nunique() == 6


def test_siting_with_candidates_exclusions_and_target(chengdu_run, tmp_path):
    import geopandas as gpd

    # Test input: six candidate buildings (闲置用房) as points, one inside an exclusion zone.
    pts = siting.network_candidates(chengdu_run.network, 500.0, chengdu_run.area).iloc[::50].head(6)
    path = tmp_path / "vacant.geojson"
    gpd.GeoDataFrame({"name": [f"闲置用房{i}" for i in range(len(pts))]}, geometry=pts.geometry.values,
                     crs="EPSG:4326").to_file(path)
    cands = siting.file_candidates(path, "wgs84")
    zone = tmp_path / "park.geojson"
    gpd.GeoDataFrame(geometry=[pts.geometry.iloc[0].buffer(0.0005)], crs="EPSG:4326").to_file(zone)
    kept = siting.exclude(cands, zone, "wgs84")
    assert len(kept) == len(cands) - 1 and "闲置用房0" not in set(kept["name"])
    res = siting.site(chengdu_run, "health_centre", target=0.3, candidates=kept, service_areas=False)
    shares = res.sites["covered_share_after"].to_numpy()
    assert shares[-1] >= 0.3 and (len(shares) == 1 or shares[-2] < 0.3)  # the fewest sites that reach it
    assert set(res.sites["name"]) <= set(kept["name"])
    with pytest.raises(InputError, match="either the number of sites"):
        siting.site(chengdu_run, "nursery", k=2, target=0.5)


def share_with_sites(run, category, sites):
    """The covered share of ``category`` with ``sites`` ([(lon, lat)]) added as facilities, recomputed
    independently: through the main pass (graph, nearest distances, cells rebuilt)."""
    import geopandas as gpd

    net = run.network
    existing = run.facilities
    existing = existing[(existing["category"] == category) & existing["counted"] & ~existing["off_network"]]
    pts = gpd.GeoSeries(gpd.points_from_xy(*zip(*sites)), crs="EPSG:4326")
    snap = snap_points(net, shapely.get_coordinates(pts.to_crs(net.crs).values))
    new = pd.DataFrame({"category": category, "snap_edge": snap.edge, "snap_along_m": snap.along_m,
                        "snap_offset_m": snap.offset_m, "facility_id": [f"new{i}" for i in range(len(sites))]})
    facs = pd.concat([existing[new.columns], new], ignore_index=True)
    graph = access.build_access_graph(net, gpd.GeoDataFrame(facs))
    times = run.origin_times.copy()
    node_d, _ = access.nearest_distances(graph, category)
    osnap = snap_points(net, shapely.get_coordinates(run.origins.geometry.values))
    d, _ = access.point_distances(net, osnap, node_d, graph.facilities)
    times[f"walk_time_s_{category}"] = d / run.config.categories[category].speed_m_s
    cells = grid.build_cells(run.origins, times, categories=run.config.categories,
                             coverage_threshold_min=run.config.access.coverage_threshold_min)
    covered = cells.set_index("h3")[f"covered_{category}"]
    res = cells.set_index("h3")["residents"]
    return float((res * covered).sum() / res.sum())


def test_what_if_matches_a_full_recompute(chengdu_run):
    what = siting.WhatIf(chengdu_run, "nursery")
    before = what.covered_share()
    sites = [(104.08, 30.69), (104.10, 30.70)]
    for lon, lat in sites:
        out = what.add(lon, lat)
    assert out["covered_share"] > before
    assert out["covered_share"] == pytest.approx(share_with_sites(chengdu_run, "nursery", sites), abs=1e-9)


def test_siting_starts_at_the_runs_coverage_and_ends_at_a_recompute_with_its_sites(chengdu_run):
    """The share before any site is the run's own (cells by their median walk, not origins), and the
    share after each site is what the main pass gives with the sites added as facilities."""
    res = siting.site(chengdu_run, "health_centre", k=3, spacing_m=300.0, service_areas=False)
    run_share = chengdu_run.summary["categories"]["health_centre"]["population_covered_share"]
    assert res.info["covered_share_before"] == pytest.approx(run_share, abs=1e-12)
    assert res.curve["covered_share"].iloc[0] == pytest.approx(run_share, abs=1e-12)
    sites = list(zip(res.sites["lon"], res.sites["lat"]))
    for k in (1, 3):
        assert res.sites["covered_share_after"].iloc[k - 1] == pytest.approx(
            share_with_sites(chengdu_run, "health_centre", sites[:k]), abs=1e-6)


def test_siting_weights_must_fit_the_category(chengdu_run):
    with pytest.raises(InputError, match="canteen serves 60plus") as caught:
        siting.site(chengdu_run, "canteen", k=1, weight="young")
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    assert caught.value.worded("zh") == ("--weight young：canteen 的服务对象为 60plus（其 demand_group），不是 young；"
                                         "请按 residents 或 60plus 为选址加权")
    assert caught.value.worded("en") == str(caught.value)
    with pytest.raises(InputError, match="nursery serves young"):
        siting.site(chengdu_run, "nursery", k=1, weight="60plus")
    with pytest.raises(InputError, match="expected residents"):
        siting.site(chengdu_run, "nursery", k=1, weight="kids")


def test_sites_say_where_they_are_in_every_datum_unit_and_road(hexi_run):
    """Hexi: each site's GCJ-02 and BD-09 positions invert to its WGS-84 one, its community and street
    are the polygons holding it, and its nearest road is the nearest named line by brute force."""
    from servicecircle import coords, network

    config = hexi_run.config
    roads = network.named_roads(config.area, config.network)
    assert len(roads) > 500
    res = siting.site(hexi_run, "elder_care", k=4, spacing_m=400.0, service_areas=False, roads=roads)
    sites = res.sites
    lon, lat = coords.gcj02_to_wgs84(sites["lon_gcj02"], sites["lat_gcj02"])
    assert np.allclose(lon, sites["lon"], atol=2e-6) and np.allclose(lat, sites["lat"], atol=2e-6)
    blon, blat = coords.to_wgs84(sites["lon_bd09"], sites["lat_bd09"], "bd09")
    assert np.allclose(blon, sites["lon"], atol=2e-6) and np.allclose(blat, sites["lat"], atol=2e-6)
    comms = hexi_run.communities.to_crs(4326)
    for row in sites.itertuples():
        holding = comms[comms.geometry.intersects(row.geometry)]
        assert row.community == (holding["name"].iloc[0] if len(holding) else "")
        if len(holding):
            assert row.street == holding["street_name"].iloc[0] and row.street
        metres = roads.to_crs(hexi_run.network.crs).distance(
            gpd_point(row.lon, row.lat).to_crs(hexi_run.network.crs).iloc[0])
        assert row.nearest_road_m == pytest.approx(metres.min(), abs=0.06)
        assert row.nearest_road in set(roads["name"][metres <= metres.min() + 1e-6])
    # What each site adds, per group, sums to what it brings to the weight column.
    assert (sites["new_residents_60plus_covered"] <= sites["new_residents_covered"] + 1e-9).all()
    assert np.allclose(sites["new_residents_covered"], res.solution.marginal, atol=1e-3)


def gpd_point(lon, lat):
    import geopandas as gpd

    return gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326")


def test_site_command_writes_its_files(chengdu_run, tmp_path):
    from servicecircle.pipeline import site_and_write

    result = replace(chengdu_run, config=chengdu_run.config.with_settings(output={"out_dir": tmp_path}))
    res = site_and_write(result, category="nursery", add=2, spacing_m=200.0)
    files = res.info["files"]
    table = pd.read_csv(files["sites"], encoding="utf-8-sig")
    assert list(table["rank"]) == [1, 2] and {"lon", "lat", "covered_share_after"} <= set(table.columns)
    curve = pd.read_csv(files["curve"])
    assert list(curve["k"]) == [0, 1, 2]
    import pyogrio

    for kind in ("geojson", "kml"):
        back = pyogrio.read_dataframe(files[kind])
        assert len(back) == 2 and back.crs.to_epsg() == 4326
        assert np.allclose(back.geometry.x, table["lon"], atol=1e-6) and np.allclose(back.geometry.y, table["lat"], atol=1e-6)
    assert "#1 nursery" in files["kml"].read_text(encoding="utf-8")
    html = files["map"].read_text(encoding="utf-8")
    assert json.dumps("拟建选址: nursery (2)")[1:-1] in html and "拟建 #1" in html  # sc-data is UTF-8, sc-layers ASCII
    page = files["report"].read_text(encoding="utf-8")
    assert 'id="chart-siting-curve"' in page and page.count('class="series"', page.index("chart-siting-curve")) >= 1


def test_capacity_plan_splits_the_unmet_need_among_the_facilities_that_reach_it(hexi_goal_registry_run, chengdu_run):
    """Hexi with the test registry's nurseries (places known): the standard is the config's goal (4.5
    places per 1,000 residents); the need within reach plus the need beyond every nursery is the whole
    unmet need, adding each nursery's places shrinks the need it was given, and a category without
    capacities is refused in words."""
    from servicecircle import access

    run = hexi_goal_registry_run
    plan = siting.capacity_plan(run, "nursery")
    info = plan.info
    assert info["per_1000"] == 4.5 and info["demand"] == "residents"
    facs = run.facilities[(run.facilities["category"] == "nursery") & run.facilities["counted"]
                          & ~run.facilities["off_network"]]
    assert info["capacity_now"] == pytest.approx(pd.to_numeric(facs["nursery_places"]).sum())
    assert info["district_shortfall"] == pytest.approx(4.5 * run.origins["residents"].sum() / 1000
                                                       - info["capacity_now"])
    assert info["need_reached"] + info["need_unreached"] == pytest.approx(info["need_total"])
    assert info["need_reached"] <= info["to_add_total"] <= info["need_reached"] + len(plan.facilities)
    # A surplus in one place serves nobody elsewhere: the need is at least the district's shortfall.
    assert info["need_total"] >= info["district_shortfall"] - 1e-6
    assert plan.facilities["to_add"].is_monotonic_decreasing
    assert plan.communities["need_unreached"].sum() == pytest.approx(info["need_unreached"],
                                                                     abs=0.1 * len(plan.communities) + 1e-6)
    # Independently of the plan's split: the nurseries with their places added, through the same 2SFCA.
    settings = run.config.access
    facs = facs.set_index("facility_id").loc[plan.facilities["facility_id"]].reset_index()
    graph = access.build_access_graph(run.network, facs)
    speed = run.config.categories["nursery"].speed_m_s
    walk = access.origin_catchments(graph, np.arange(len(facs)), access.origin_snap(run.origins, run.network),
                                    settings.coverage_threshold_min * 60 * speed)
    walk.data = walk.data / speed
    residents = run.origins["residents"].to_numpy(float)

    def need(places):
        _, per_person = access.two_step_fca(walk, places, residents, settings.thresholds_min,
                                            settings.step_weights if settings.decay == "stepped" else None)
        reached = np.asarray(walk.sum(axis=0)).ravel() > 0
        return float((np.maximum(0.0, 4.5e-3 - per_person) * residents)[reached].sum())

    before = need(plan.facilities["nursery_places"].to_numpy(float))
    after = need(plan.facilities["nursery_places"].to_numpy(float) + plan.facilities["to_add"].to_numpy(float))
    assert before == pytest.approx(info["need_reached"], rel=1e-9)
    assert after < 0.5 * before
    with pytest.raises(InputError, match="no capacity field"):
        siting.capacity_plan(chengdu_run, "health_centre")
    with pytest.raises(InputError, match="no elder_care facility has a known beds"):
        siting.capacity_plan(chengdu_run, "elder_care")
