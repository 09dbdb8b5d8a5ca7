"""The full analysis on Tianjin Hexi: road lines, 141 communities, 14 streets, census 2020 population."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import map_texts

HEXI_TOTAL, HEXI_60PLUS, HEXI_0_4 = 822_174, 230_176, 30_332  # census 2020, 河西区


def test_hexi_runs_on_road_lines_communities_and_streets(hexi_run):
    s = hexi_run.summary
    assert s["network"]["kind"] == "road lines" and s["network"]["largest_component_length_share"] >= 0.95
    assert len(hexi_run.communities) == 141 and len(hexi_run.streets) == 14
    assert s["communities_linked_to_streets"] == {"code": 141}
    # Residents: the census total, spread by street length (no buildings mapped), with census age shares.
    assert s["population_total"] == pytest.approx(HEXI_TOTAL)
    assert s["population_by_age_group"] == pytest.approx({"60plus": HEXI_60PLUS, "0_4": HEXI_0_4})
    assert s["population_method"]["from_street_length_proxy"] == pytest.approx(HEXI_TOTAL)
    comm, streets = hexi_run.communities, hexi_run.streets
    assert comm["residents"].sum() == pytest.approx(HEXI_TOTAL, rel=0.005)
    assert streets["residents"].sum() == pytest.approx(comm["residents"].sum(), rel=0.005)
    # Gated compounds with no street in the road file still get residents, and the report says so.
    assert (comm["residents"] > 0).all()
    report = pd.read_csv(hexi_run.files["input_report"], encoding="utf-8-sig")
    streetless = report[report["problem"].str.contains("内没有可步行道路")]  # zh, the default language
    assert 0 < len(streetless) < 10
    named = comm.set_index("source_row").loc[streetless["row"].astype(int), "name"]
    assert all(n in p for n, p in zip(named, streetless["problem"]))
    # Street figures are their communities' figures added up.
    by_street = comm.groupby("street_id")["residents_60plus"].sum()
    assert np.allclose(streets.set_index("street_id").loc[by_street.index, "residents_60plus"], by_street, rtol=0.02)


def test_hexi_without_facilities_says_so(hexi_run):
    for key in ("elder_care", "canteen", "nursery"):
        cat = hexi_run.summary["categories"][key]
        assert cat["facilities"] == 0 and cat["population_covered_share"] == 0.0
        assert "请导入登记表" in cat["note"]  # load a registry
    report = pd.read_csv(hexi_run.files["input_report"], encoding="utf-8-sig")
    assert "长达公寓" not in report.to_string()  # rows name file/row/field, the name is in the file
    assert report["problem"].str.contains("多边形无效").sum() == 1


@pytest.fixture(scope="session")
def hexi_with_registry(hexi_street_registry_run):
    """Test input (conftest): one elder-care centre (50 beds) and one nursery (40 places, affordable) per
    street, written as GCJ-02, and one canteen with a hostile name."""
    return hexi_street_registry_run


def test_hexi_registry_gives_every_street_its_centre_and_capacities(hexi_with_registry):
    streets, comm = hexi_with_registry.streets, hexi_with_registry.communities
    assert (streets["facilities_elder_care"] == 1).all()
    assert streets["beds_elder_care"].sum() == 14 * 50
    assert comm["beds_elder_care"].sum() == 14 * 50  # each centre counted in exactly one community
    # Each nursery (0.004° east of its street's point) lies in one community: every place counted, once.
    assert streets["nursery_places_nursery"].sum() == comm["nursery_places_nursery"].sum() == 14 * 40
    placed = hexi_with_registry.facilities.query("category == 'nursery'")
    assert placed["nursery_places"].sum() == 14 * 40 and placed["nursery_places_affordable"].sum() == 14 * 40
    s = hexi_with_registry.summary
    assert s["registries"][0]["rows_used"] == 29 and s["registries"][0]["warning"] is None
    assert s["categories"]["canteen"]["meals_per_day"] == 80
    elder = s["categories"]["elder_care"]
    assert 0 < elder["population_covered_share"] < 1
    assert 0 < elder["population_covered_share_60plus"] < 1
    assert (comm["covered_share_elder_care_60plus"].between(0, 1) | comm["covered_share_elder_care_60plus"].isna()).all()
    # Uncovered elderly per community add up to the district's uncovered elderly.
    uncovered = comm["uncovered_residents_elder_care_60plus"].sum()
    assert uncovered == pytest.approx(HEXI_60PLUS * (1 - elder["population_covered_share_60plus"]), rel=0.01)


def test_registry_names_are_escaped_on_the_map(hexi_with_registry):
    html = hexi_with_registry.files["map"].read_text(encoding="utf-8")
    assert "<img src=x onerror" not in html
    labels = map_texts(hexi_with_registry.files["map"], "facilities", "label")  # deflated in the page
    assert "&lt;img src=x onerror=alert(1)&gt;老年食堂" in labels
    assert not any("<img" in label for label in labels)


def test_hexi_capacity_access_shares_beds_among_the_elderly(hexi_with_registry):
    s = hexi_with_registry.summary["categories"]
    elder = s["elder_care"]["capacity_access"]
    # One street's representative point lies > 300 m from any walkable road: off the network, said so.
    off = s["elder_care"]["facilities_off_network"]
    assert off == 1 and elder["facilities_off_network"] == 1 and "不在步行路网上" in elder["note"]
    assert elder["demand"] == "residents_60plus" and elder["facilities_used"] == 14 - off
    assert elder["unit"] == "床位/千60岁及以上老年人"  # the run is in Chinese (lang zh, the default)
    # Every bed on the network reaches someone: the district figure is those beds over all 60+ residents.
    beds = 50 * (14 - off)
    assert elder["capacity_shared"] == beds and elder["capacity_reaching_nobody"] == 0
    assert elder["district_per_1000"] == pytest.approx(beds / HEXI_60PLUS * 1000, rel=1e-6)
    comm = hexi_with_registry.communities
    shared = (comm["fca_per_1000_elder_care"].fillna(0) * comm["residents_60plus"]).sum() / 1000
    assert shared == pytest.approx(beds, rel=1e-3)  # communities hold every origin of Hexi
    # Nurseries: places shared among children 0–4 (the census has no 0–3 band).
    assert s["nursery"]["capacity_access"]["demand"] == "residents_0_4"
    # Communities beyond every centre's walk get no beds at all, not a small number.
    far = comm["covered_share_elder_care_60plus"] == 0
    assert far.any() and (comm.loc[far, "fca_per_1000_elder_care"] == 0).all()


def test_hexi_blind_spots_shrink_with_the_registry(hexi_run, hexi_with_registry):
    before = hexi_run.blind_spots.query("category == 'elder_care'")
    after = hexi_with_registry.blind_spots.query("category == 'elder_care'")
    assert before["residents"].sum() == pytest.approx(HEXI_TOTAL, rel=1e-6)
    assert 0 < after["residents"].sum() < before["residents"].sum()
    assert after["nearest_walk_min"].gt(15).all() and after["nearest_facility_name"].str.endswith("综合养老服务中心").all()
    assert after["demand"].iloc[0] == "residents_60plus"
    html = hexi_with_registry.files["map"].read_text(encoding="utf-8")
    # Layer names reach the page JSON-escaped.
    assert json.dumps("15分钟）: 养老服务 (")[1:-1] in html
    # Whom a blind spot's demand counts, worded in the run's language on the map (the CSV keeps the column name).
    data = json.loads(re.search(r'<script type="application/json" id="sc-data">(.*?)</script>', html, re.S).group(1))
    assert data["datasets"]["blind"]["json"]["demand"] == ["60岁及以上老年人", "0–4岁婴幼儿"]


def test_streetless_communities_are_spread_and_marked(hexi_run):
    """仁湖里社区 has no street in the road file: its residents lie over its area, marked as an estimate."""
    cells, origins, comm = hexi_run.cells, hexi_run.origins, hexi_run.communities
    assert cells["residents"].sum() == pytest.approx(HEXI_TOTAL)  # spreading moves residents, adds none
    unit = hexi_run.unit_of_origin["community"]
    cid = comm.loc[comm["name"] == "仁湖里社区居委会", "community_id"].item()
    mine = origins[(unit == cid) & (origins["residents"] > 0)]  # (cell centres hold nobody)
    per_cell = mine.groupby("h3")["residents"].sum()
    assert mine["population_fallback"].all() and per_cell.sum() == pytest.approx(
        comm.loc[comm["community_id"] == cid, "residents"].item())
    # Once 27,190 residents in one cell; now no cell of it holds more than a dense street block's cells.
    assert len(per_cell) > 100 and per_cell.max() < 1_000
    fallback = origins["population_fallback"].to_numpy(bool)
    assert cells["population_fallback"].sum() == pytest.approx(origins.loc[fallback, "residents"].sum())
    assert (cells["population_fallback"] <= cells["residents"] + 1e-6).all()
    # The blind spots carry it, and no single-cell blind spot of a streetless community remains.
    spots = hexi_run.blind_spots
    assert spots.groupby("category")["population_fallback"].sum().to_numpy() == pytest.approx(
        cells.loc[cells["population_fallback"] > 0, "population_fallback"].sum())
    assert not ((spots["cells"] == 1) & (spots["population_fallback"] > 1_000)).any()
    written = pd.read_csv(hexi_run.files["blind_spots"], encoding="utf-8-sig")
    assert "population_fallback" in written.columns
    page = hexi_run.files["report"].read_text(encoding="utf-8")
    assert "按社区面积估算" in page
    assert "按社区面积均摊到网格估算" in hexi_run.files["map"].read_text(encoding="utf-8")
