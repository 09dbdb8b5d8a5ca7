"""Goal computations on a small hand-checkable case, the goal table in the config, and scorecard files."""

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from servicecircle import goals, report
from servicecircle.config import ConfigError, make_config

INF = np.inf

# Test input, small enough to check by hand: communities A, B (street S1) and C (street S2).
BOXES = {"A": shapely.box(0.00, 0, 0.01, 0.01), "B": shapely.box(0.01, 0, 0.02, 0.01), "C": shapely.box(0.02, 0, 0.03, 0.01)}
COMMUNITIES = gpd.GeoDataFrame({"community_id": [0, 1, 2], "name": list(BOXES), "code": ["a", "b", "c"],
                                "street_id": [0, 0, 1], "street_name": ["S1", "S1", "S2"]},
                               geometry=list(BOXES.values()), crs="EPSG:4326")
STREETS = gpd.GeoDataFrame({"street_id": [0, 1], "name": ["S1", "S2"], "code": ["s1", "s2"]},
                           geometry=[shapely.box(0, 0, 0.02, 0.01), BOXES["C"]], crs="EPSG:4326")
ORIGINS = pd.DataFrame({"h3": ["c1", "c2", "c3", "c4"], "residents": [100.0, 100.0, 200.0, 100.0],
                        "residents_60plus": [40.0, 10.0, 50.0, 20.0]})
UNITS = {"community": np.array([0, 0, 1, 2]), "street": np.array([0, 0, 0, 1])}
CELLS = pd.DataFrame({"h3": ["c1", "c2", "c3", "c4"],
                      "walk_time_s_elder_care": [600.0, 1200.0, 800.0, INF],
                      "walk_time_s_canteen": [300.0, 300.0, 1000.0, 300.0],
                      "walk_time_s_nursery": [100.0, INF, INF, INF]})
FACILITIES = gpd.GeoDataFrame({
    "category": ["elder_care", "elder_care", "nursery", "canteen"],
    "counted": True, "off_network": False,
    "beds": [30.0, np.nan, np.nan, np.nan], "nursery_places": [np.nan, np.nan, 2.0, np.nan],
    "nursery_places_affordable": [np.nan, np.nan, 2.0, np.nan], "floor_area_m2": np.nan,
    "footprint_m2": [50.0, np.nan, np.nan, np.nan],
}, geometry=[shapely.Point(0.005, 0.005), shapely.Point(0.015, 0.005), shapely.Point(0.006, 0.005),
             shapely.Point(0.025, 0.005)], crs="EPSG:4326")


@pytest.fixture(scope="module")
def card():
    config = make_config({"area": {"name": "test", "bbox": [0, 0, 0.03, 0.01]}})
    return goals.evaluate(config, CELLS, ORIGINS, UNITS, COMMUNITIES, STREETS, FACILITIES)


def row(card, level, unit, goal, meaning=None):
    part = card[(card["level"] == level) & (card["unit_name"] == unit) & (card["goal"] == goal)]
    if meaning:
        part = part[part["meaning"].str.startswith(meaning)]
    assert len(part) == 1, part
    return part.iloc[0]


def test_population_within_minutes_and_metres(card):
    r = row(card, "district", "test", "home_care_circle")
    # Only c1 is within 15 min of both elder care and a canteen: 40 of 120 aged 60+.
    assert r["value"] == pytest.approx(40 / 120) and r["passed"] == False  # noqa: E712
    assert r["gap"] == pytest.approx(0.9 * 120 - 40)
    assert "80 residents aged 60+ outside" in r["gap_text"] and "68 more" in r["gap_text"]
    # 1 km of walked network at 1 m/s: c1 (600 m) and c3 (800 m).
    assert row(card, "district", "test", "elder_1km_circle")["value"] == pytest.approx(90 / 120)
    assert row(card, "street", "S1", "elder_1km_circle")["value"] == pytest.approx(90 / 100)
    assert row(card, "community", "C", "elder_1km_circle")["value"] == 0


def test_both_meanings_of_coverage_rate(card):
    contains = row(card, "district", "test", "community_day_care", "contains")
    reach = row(card, "district", "test", "community_day_care", "reach")
    assert contains["value"] == pytest.approx(2 / 3) and contains["gap"] == 1
    assert "1 more communities need 养老服务 inside" in contains["gap_text"]
    # A: 40 of 50 aged 60+ within 15 min = 80 % (meets the 80 % level); B: all; C: none.
    assert reach["value"] == pytest.approx(2 / 3)
    assert row(card, "community", "A", "community_day_care", "reach")["passed"] == True  # noqa: E712
    assert row(card, "community", "C", "community_day_care", "contains")["passed"] == False  # noqa: E712
    assert row(card, "street", "S1", "community_day_care", "contains")["value"] == 1.0
    assert row(card, "street", "S2", "community_day_care", "contains")["gap"] == 1
    street = row(card, "district", "test", "street_care_centre", "contains")
    assert street["value"] == 0.5 and street["target"] == 1.0 and "1 more streets" in street["gap_text"]
    assert row(card, "street", "S2", "street_care_centre", "contains")["passed"] == False  # noqa: E712
    assert not ((card["level"] == "community") & (card["goal"] == "street_care_centre")).any()


def test_capacity_goals(card):
    places = row(card, "district", "test", "nursery_places_per_1000")
    assert places["value"] == pytest.approx(4.0) and places["gap"] == pytest.approx(0.25)  # 2 places for 500 residents
    assert row(card, "district", "test", "affordable_places_share")["value"] == 1.0
    beds = row(card, "district", "test", "elder_beds_per_1000")
    assert beds["value"] == pytest.approx(30 / 0.12) and "1 facilities without a known beds" in beds["gap_text"]
    land = row(card, "district", "test", "elder_land_per_capita")
    assert land["value"] == pytest.approx(50 / 500) and land["passed"] == True  # noqa: E712
    unknown = row(card, "community", "C", "nursery_places_per_1000")
    assert np.isnan(unknown["value"]) and unknown["passed"] is None and "unknown" in unknown["gap_text"]


def test_units_failing_binding_goals_come_first(card):
    order = card[card["level"] == "community"].drop_duplicates("unit_name")["unit_name"].tolist()
    assert order[0] == "C"  # C fails 社区日间照料机构覆盖率 (binding); A and B do not


def test_goal_table_is_editable_in_the_config():
    base = {"area": {"name": "t", "bbox": [0, 0, 1, 1]}}
    c = make_config({**base, "goals": {"elder_beds_per_1000": {"target": 40},
                                       "canteen_10min": {"name": "10分钟助餐圈", "metric": "population_within",
                                                         "categories": ["canteen"], "minutes": 10, "group": "60plus",
                                                         "target": 0.8, "kind": "binding"},
                                       "elder_land_per_capita": {"enabled": False}}})
    by_key = {g.key: g for g in c.goals}
    assert by_key["elder_beds_per_1000"].target == 40 and by_key["canteen_10min"].minutes == 10
    assert "elder_land_per_capita" not in by_key
    assert by_key["community_day_care"].reach_share == 0.8 and by_key["community_day_care"].kind == "binding"
    with pytest.raises(ConfigError, match="goals.x.metric"):
        make_config({**base, "goals": {"x": {"metric": "vibes", "categories": ["canteen"], "target": 1}}})
    with pytest.raises(ConfigError, match="goals.x.kind"):
        make_config({**base, "goals": {"x": {"metric": "population_within", "categories": ["canteen"], "target": 1,
                                             "kind": "must"}}})


def test_scorecard_files_hold_the_documented_columns(card, tmp_path):
    files = report.write_scorecard(tmp_path, card)
    table = pd.read_csv(files["scorecard_csv"], encoding="utf-8-sig")
    assert list(table.columns) == [goals.SCORECARD_HEADERS_ZH[c] for c in goals.SCORECARD_COLUMNS]
    assert set(table["是否达标"]) == {"达标", "未达标", "无法评估"}
    wb = openpyxl.load_workbook(files["scorecard_xlsx"])
    assert wb.sheetnames == ["区", "街道", "社区"]
    ws = wb["社区"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["层级", "编号", "单位名称"] and ws.auto_filter.ref and ws.freeze_panes == "A2"
    failed = [r for r in ws.iter_rows(min_row=2) if r[header.index("是否达标")].value == "未达标"]
    assert failed and all(c.fill.fgColor.rgb.endswith("F8CBAD") for c in failed[0])
    assert ws.max_row - 1 == (card["level"] == "community").sum()
