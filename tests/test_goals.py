"""Goal computations on a small hand-checkable case, the goal table in the config, and scorecard files."""

import math
import re

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
    return goals.evaluate(config, CELLS, ORIGINS, UNITS, COMMUNITIES, STREETS, FACILITIES, lang="en",
                          compounds=False)


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
    assert "1 more communities need elder care inside" in contains["gap_text"]
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
    assert np.isnan(unknown["value"]) and unknown["passed"] is None and "not assessed" in unknown["gap_text"]


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
    assert set(table["是否达标"]) == {"达标", "未达标", "未评估"}
    wb = openpyxl.load_workbook(files["scorecard_xlsx"])
    assert wb.sheetnames[:3] == ["区", "街道", "社区"] and set(wb.sheetnames[3:]) <= {"街道一览", "社区一览"}
    ws = wb["社区"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["层级", "编号", "单位名称"] and ws.auto_filter.ref and ws.freeze_panes == "A2"
    failed = [r for r in ws.iter_rows(min_row=2) if r[header.index("是否达标")].value == "未达标"]
    assert failed and all(c.fill.fgColor.rgb.endswith("F8CBAD") for c in failed[0])
    assert ws.max_row - 1 == (card["level"] == "community").sum()


# ---------------------------------------------------------------------------------------------------------------
# The vectorised scorecard against a per-unit reference written from goals.evaluate's docstring.

def _reference_scorecard(config, cells, origins, unit_of_origin, communities, streets, facilities, district=None):
    """The scorecard unit by unit: a boolean mask over all origins and facilities per unit (slow, plain)."""
    from servicecircle.communities import facility_units
    from servicecircle.population import group_column

    fac = facilities[facilities["counted"] & ~facilities["off_network"]]
    fac_comm = facility_units(fac, communities)
    fac = pd.DataFrame(fac.drop(columns="geometry"))  # located: only attributes are read from here on
    street_of = dict(zip(communities["community_id"], communities["street_id"])) if "street_id" in communities else {}
    fac_street = np.array([street_of.get(c, -1) for c in fac_comm])
    n = len(origins)
    comm_of = np.asarray(unit_of_origin.get("community", np.full(n, -1)))
    street_o = np.asarray(unit_of_origin.get("street", np.full(n, -1)))
    cats = fac["category"].to_numpy()
    fallback = district or config.area.name
    units = [("district", 0, fallback, "", "", np.ones(n, bool), np.ones(len(fac), bool))]
    if streets is not None:
        units += [("street", int(s), name or fallback, code, name, street_o == s, fac_street == s)
                  for s, name, code in zip(streets["street_id"], streets["name"], streets["code"])]
    snames = communities["street_name"] if "street_name" in communities else [""] * len(communities)
    units += [("community", int(c), name or fallback, code, sname, comm_of == c, fac_comm == c)
              for c, name, code, sname in zip(communities["community_id"], communities["name"], communities["code"],
                                              snames)]
    cell_at = {h: i for i, h in enumerate(cells["h3"])}
    at = np.array([cell_at[h] for h in origins["h3"]])

    reached_by_goal = {}  # each goal's origins reached, the same for every unit: computed once per goal

    def reached(goal):
        if goal.key not in reached_by_goal:
            reached_by_goal[goal.key] = _reached(goal)
        return reached_by_goal[goal.key]

    def _reached(goal):
        ok = np.ones(n, bool)
        for c in goal.categories:
            t = cells[f"walk_time_s_{c}"].to_numpy(float)[at]
            ok &= (t * config.categories[c].speed_m_s <= goal.metres) if goal.metres is not None \
                else (t <= goal.minutes * 60.0)
        return ok

    def share(x):
        return "–" if not np.isfinite(x) else f"{x:.0%}"

    def walk_text(goal):
        return f"{goal.metres:g} m walked" if goal.metres is not None else f"{goal.minutes:g} min walk"

    def capacity(facs, name):
        if name not in facs.columns:
            return None
        v = pd.to_numeric(facs[name], errors="coerce")
        return None if v.notna().sum() == 0 else (float(v.sum()), int(v.isna().sum()))

    def base_result(goal, omask, fmask):
        col, _ = group_column(origins, goal.group)
        w = origins[col].to_numpy()[omask]
        s = float((w * reached(goal)[omask]).sum() / w.sum()) if w.sum() > 0 else np.nan
        contains = all((cats[fmask] == c).any() for c in goal.categories)
        return contains, bool(np.isfinite(s) and s >= goal.reach_share), s

    def rows_of(level, uid, omask, fmask, goal):
        col, who = group_column(origins, goal.group)
        w = origins[col].to_numpy()
        pop = float(w[omask].sum())
        label = " + ".join(config.categories[c].label for c in goal.categories)
        if goal.metric == "population_within":
            covered = float((w[omask] * reached(goal)[omask]).sum())
            s = covered / pop if pop > 0 else np.nan
            ok = bool(s >= goal.target) if pop > 0 else None
            gap = max(0.0, goal.target * pop - covered)
            text = (f"{pop - covered:,.0f} {who} outside the {walk_text(goal)} of {label}"
                    + ("" if ok else f"; {gap:,.0f} more must be reached for {share(goal.target)}")) if pop > 0 \
                else f"no {who} here"
            return [(f"reach: {who} within {walk_text(goal)} of {label}", s, goal.target, goal.unit, ok, gap, text)]
        if goal.metric == "units_with_facility":
            meanings = [f"contains: a {label} facility inside the {goal.unit_level}",
                        f"reach: ≥ {goal.reach_share:.0%} of {who} within {walk_text(goal)} of {label}"]
            if level == goal.unit_level:
                contains, ok_reach, s = base_result(goal, omask, fmask)
                return [(meanings[0], float(contains), 1.0, "yes = 1", contains, 0.0 if contains else 1.0,
                         "has one" if contains else f"no {label} facility inside"),
                        (meanings[1], float(ok_reach), 1.0, "yes = 1", ok_reach, 0.0 if ok_reach else 1.0,
                         f"{share(s)} of {who} within {walk_text(goal)}"
                         + ("" if ok_reach else f" (< {goal.reach_share:.0%})"))]
            members = [u for u in units if u[0] == goal.unit_level]
            if level == "street" and goal.unit_level == "community":
                members = [u for u in members if street_of.get(u[1], -1) == uid] if street_of else []
            elif level != "district":
                return []
            if not members:
                return []
            results = [base_result(goal, m[5], m[6]) for m in members]
            noun = "communities" if goal.unit_level == "community" else "streets"
            out = []
            for i in (0, 1):
                met = sum(bool(r[i]) for r in results)
                s = met / len(members)
                need = max(0, math.ceil(goal.target * len(members) - 1e-9) - met)
                ok = s >= goal.target - 1e-12
                where = "inside" if i == 0 else f"within {walk_text(goal)}"
                out.append((meanings[i], s, goal.target, goal.unit, ok, float(need),
                            f"{met} of {len(members)} {noun} ({share(s)})"
                            + ("" if ok else f"; {need} more {noun} need {label} {where}")))
            return out
        facs = fac[fmask]
        facs = facs[facs["category"].isin(goal.categories)]
        if goal.metric == "area_per_capita":
            area = pd.to_numeric(facs["floor_area_m2"], errors="coerce") if "floor_area_m2" in facs \
                else pd.Series(np.nan, index=facs.index)
            if "footprint_m2" in facs:
                area = area.fillna(pd.to_numeric(facs["footprint_m2"], errors="coerce"))
            if area.notna().sum() == 0:
                return [(f"floor area of {label} per resident", np.nan, goal.target, goal.unit, None, np.nan,
                         f"unknown: no {label} facility here has a known floor area")]
            total, unknown = float(area.sum()), int(area.isna().sum())
            value = total / pop if pop > 0 else np.nan
            short = max(0.0, goal.target * pop - total)
            ok = bool(value >= goal.target) if pop > 0 else None
            return [(f"floor area of {label} per {who}", value, goal.target, goal.unit, ok, short,
                     f"{total:,.0f} m² for {pop:,.0f} {who}" + ("" if ok or pop <= 0 else f"; {short:,.0f} m² short")
                     + (f" ({unknown} facilities of unknown area counted as 0)" if unknown else ""))]
        cap = capacity(facs, goal.capacity)
        if cap is None:
            return [(f"{goal.capacity} of {label}", np.nan, goal.target, goal.unit, None, np.nan,
                     f"unknown: no {label} facility here has a known {goal.capacity} — load a registry with capacities")]
        total, unknown = cap
        note = f" ({unknown} facilities without a known {goal.capacity} counted as 0)" if unknown else ""
        if goal.metric == "capacity_per_1000":
            value = total / (pop / 1000.0) if pop > 0 else np.nan
            short = max(0.0, goal.target * pop / 1000.0 - total)
            ok = bool(value >= goal.target) if pop > 0 else None
            return [(f"{goal.capacity} per 1,000 {who}", value, goal.target, goal.unit, ok, short,
                     f"{total:,.0f} {goal.capacity} for {pop:,.0f} {who}"
                     + ("" if ok or pop <= 0 else f"; {short:,.0f} {goal.capacity} short") + note)]
        of = capacity(facs, goal.of_capacity)
        of_total = of[0] if of else 0.0
        value = total / of_total if of_total > 0 else np.nan
        short = max(0.0, goal.target * of_total - total)
        ok = bool(value >= goal.target) if of_total > 0 else None
        return [(f"{goal.capacity} / {goal.of_capacity}", value, goal.target, goal.unit, ok, short,
                 f"{total:,.0f} of {of_total:,.0f} {goal.of_capacity}"
                 + ("" if ok or of_total <= 0 else f"; {short:,.0f} more must be {goal.capacity}") + note)]

    records = []
    for rank, (level, uid, name, code, sname, omask, fmask) in enumerate(units):
        unit_rows = [(goal, r) for goal in config.goals for r in rows_of(level, uid, omask, fmask, goal)]
        fails = any(goal.kind == "binding" and r[4] is False for goal, r in unit_rows)
        for k, (goal, r) in enumerate(unit_rows):
            key = ({"district": 0, "street": 1, "community": 2}[level], 0 if fails else 1, name, uid, k)
            records.append((key, dict(level=level, unit_id=uid, unit_name=name, unit_code=code, street_name=sname,
                                      goal=goal.key, goal_name=goal.name, kind=goal.kind, meaning=r[0], value=r[1],
                                      target=r[2], unit=r[3], passed=r[4], gap=r[5], gap_text=r[6],
                                      source=goal.source)))
    records.sort(key=lambda kv: kv[0])
    return pd.DataFrame([r for _, r in records], columns=goals.SCORECARD_COLUMNS)


def _assert_scorecards_equal(config, run_result, tmp_path):
    """Vectorised == reference, value for value and byte for byte in scorecard.csv / scorecard.xlsx."""
    district = (run_result.summary["population_method"].get("census") or {}).get("name")
    args = (config, run_result.cells, run_result.origins, run_result.unit_of_origin, run_result.communities,
            run_result.streets, run_result.facilities, district)
    card = goals.evaluate(*args, lang="en", compounds=False)
    reference = _reference_scorecard(*args)
    # Exact: every per-unit sum is numpy's own sum of that unit's values, in the same order. The texts are
    # composed from the catalogue (tests below check them); a row not assessed (no facility of the category,
    # no age group) has passed None where the reference, which knows no such rule, says True or False.
    _compare(card, reference)
    a = report.write_scorecard(tmp_path / "vectorised", card)
    assert a["scorecard_csv"].stat().st_size > 0
    return card


def _compare(card, reference):
    numbers = [c for c in goals.SCORECARD_COLUMNS if c not in ("meaning", "gap_text", "passed", "unit")]
    pd.testing.assert_frame_equal(card[numbers], reference[numbers], check_exact=True)
    assessed = card["passed"].notna()
    assert card.loc[assessed, "passed"].tolist() == reference.loc[assessed, "passed"].tolist()
    assert reference.loc[~assessed & reference["passed"].notna(), "gap_text"].notna().all()
    assert card.loc[~assessed & reference["passed"].notna(), "gap_text"].str.startswith("not assessed").all()


def test_hand_case_equals_the_reference(card):
    config = make_config({"area": {"name": "test", "bbox": [0, 0, 0.03, 0.01]}})
    ref = _reference_scorecard(config, CELLS, ORIGINS, UNITS, COMMUNITIES, STREETS, FACILITIES)
    _compare(card, ref)


def test_chengdu_scorecard_equals_the_reference(chengdu_run, tmp_path):
    card = _assert_scorecards_equal(chengdu_run.config, chengdu_run, tmp_path)
    # No facility in the sample: no goal can be assessed, so none fails (each row says why).
    assert (card["level"] == "community").sum() > 1000
    assert card["passed"].isna().all() and card["gap_text"].str.startswith("not assessed").all()


def test_hexi_scorecard_equals_the_reference(hexi_run, tmp_path):
    card = _assert_scorecards_equal(hexi_run.config, hexi_run, tmp_path)
    assert set(card["level"]) == {"district", "street", "community"}


@pytest.fixture(scope="session")
def hexi_registry_run(hexi_goal_registry_run):
    """Hexi with a test registry (conftest, not real facilities): elder-care centres in two of three streets,
    beds and floor areas known for some, nurseries with places (some affordable) and canteens in some
    communities."""
    return hexi_goal_registry_run


def test_hexi_with_registry_scorecard_equals_the_reference(hexi_registry_run, tmp_path):
    card = _assert_scorecards_equal(hexi_registry_run.config, hexi_registry_run, tmp_path)
    # The registry makes every kind of row non-trivial: counts, capacities, pass and fail at every level.
    for goal in ("community_day_care", "street_care_centre", "elder_beds_per_1000", "nursery_places_per_1000",
                 "affordable_places_share", "elder_land_per_capita", "home_care_circle"):
        rows = card[card["goal"] == goal]
        assert rows["value"].notna().any(), goal
    street = card[(card["level"] == "street") & (card["goal"] == "street_care_centre")
                  & card["meaning"].str.startswith("contains")]
    assert 0 < street["passed"].sum() < len(street) == 14  # two of three streets were given a centre
    beds = card[(card["level"] == "district") & (card["goal"] == "elder_beds_per_1000")].iloc[0]
    assert "without a known beds counted as 0" in beds["gap_text"]
    assert set(card.loc[card["level"] == "community", "passed"].dropna()) == {True, False}


# ---- the scorecard in the run language (issue 13, points 2, 6, 7)

#: Latin words of three letters or more, except the codes a Chinese scorecard keeps (OSM, H3, 2SFCA).
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])(?!(?:OSM|H3|2SFCA)(?![A-Za-z]))[A-Za-z]{3,}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
TEXT_COLUMNS = ("meaning", "gap_text", "unit")


def _scorecard(run_result, lang, **kw):
    district = (run_result.summary["population_method"].get("census") or {}).get("name")
    return goals.evaluate(run_result.config, run_result.cells, run_result.origins, run_result.unit_of_origin,
                          run_result.communities, run_result.streets, run_result.facilities, district, lang=lang,
                          **kw)


def _words(card, pattern):
    return sorted({w for c in TEXT_COLUMNS for t in card[c].astype(str) for w in pattern.findall(t)})


@pytest.mark.slow  # the sample runs it words (built here when no earlier test has)
@pytest.mark.parametrize("name", ["hexi_run", "chengdu_run", "hexi_goal_registry_run"])
def test_scorecard_texts_are_in_the_run_language(name, request):
    run_result = request.getfixturevalue(name)
    zh, en = _scorecard(run_result, "zh"), _scorecard(run_result, "en")
    assert _words(zh, LATIN_WORD) == []
    assert _words(en, CJK) == []
    # The goal key stays machine-readable, and the numbers do not depend on the language.
    assert zh["goal"].tolist() == en["goal"].tolist()
    for c in ("value", "target", "gap"):
        pd.testing.assert_series_equal(zh[c], en[c])
    assert zh["passed"].tolist() == en["passed"].tolist()


def test_an_unassessable_goal_reads_not_assessed_and_is_neither_met_nor_failed(hexi_run, tmp_path):
    # The Hexi sample reads no facility at all: no goal can be assessed, and none fails.
    card = _scorecard(hexi_run, "zh")
    beds = card[(card["goal"] == "elder_beds_per_1000") & (card["level"] == "district")].iloc[0]
    assert beds["passed"] is None and beds["gap_text"] == "未评估：数据中没有养老服务设施（可导入登记表）"
    assert card["passed"].isna().all()
    unknown = card["passed"].isna()
    assert unknown.any() and card.loc[unknown, "gap_text"].str.startswith(("未评估", "本单位无")).all()
    files = report.write_scorecard(tmp_path, card)
    table = pd.read_csv(files["scorecard_csv"], encoding="utf-8-sig")
    assert (table["是否达标"] == "未评估").sum() == int(unknown.sum())
    # Not assessed is not failed: it does not make a unit a failing one (they come first), nor count as met.
    assert not (card.loc[unknown, "passed"] == False).any()  # noqa: E712


def test_a_goal_without_any_facility_of_its_category_is_not_assessed():
    config = make_config({"area": {"name": "test", "bbox": [0, 0, 0.03, 0.01]}})
    no_canteen = FACILITIES[FACILITIES["category"] != "canteen"]
    card = goals.evaluate(config, CELLS, ORIGINS, UNITS, COMMUNITIES, STREETS, no_canteen, lang="zh",
                          compounds=False)
    rows = card[card["goal"] == "home_care_circle"]
    assert rows["passed"].isna().all()
    assert rows["gap_text"].str.contains("未评估：数据中没有老年助餐设施").all()
    # Other goals are still scored.
    assert card.loc[card["goal"] == "elder_1km_circle", "passed"].notna().any()


def test_chengdu_compounds_are_labelled_and_carry_no_community_goal(chengdu_run, tmp_path):
    assert chengdu_run.config.communities is None  # no community file: the units are OSM residential compounds
    card = _scorecard(chengdu_run, "zh")
    for key in ("community_day_care", "community_nursery"):
        rows = card[card["goal"] == key]
        assert len(rows) == 1 and rows.iloc[0]["level"] == "district", key
        assert rows.iloc[0]["passed"] is None
        assert "无社区边界文件，OSM小区不能代替社区" in rows.iloc[0]["gap_text"]
    files = report.write_scorecard(tmp_path, card, compounds=True)
    table = pd.read_csv(files["scorecard_csv"], encoding="utf-8-sig")
    assert "小区（OSM）" in set(table["层级"]) and "社区" not in set(table["层级"])
    en = _scorecard(chengdu_run, "en")
    assert "OSM residential compounds cannot stand in" in en.loc[en["goal"] == "community_day_care",
                                                                 "gap_text"].iloc[0]


def test_registry_scorecard_zh_reads_chinese(hexi_goal_registry_run):
    """With facilities, capacities and floor areas every kind of text occurs: all Chinese with lang zh."""
    card = _scorecard(hexi_goal_registry_run, "zh")
    assert card["passed"].isin([True]).any() and card["passed"].isin([False]).any()
    text = " ".join(card["gap_text"])
    for word in ("床位缺口", "托位", "还需", "名60岁及以上老年人在", "m²", "未评估"):
        assert word in text, word
    assert set(card["unit"]) <= {"比例", "社区比例", "街道比例", "托位/千人", "托位比例", "床位/千名老年人", "m²/人",
                                 "是 = 1"}
