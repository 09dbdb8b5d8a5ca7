"""Writers linear in rows (streamed workbook, GeoPackage through Arrow) and a report page that stays small.

Each writer is checked against a plain reference writer built in the test; the
city-size page is built from the real Hexi scorecard tiled 400 times — a
declared synthetic table, not a real district.
"""

from dataclasses import replace

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from servicecircle import goals, report, reportpage, texts


def _reference_workbook(path, scorecard):
    """The workbook cell by cell in openpyxl's ordinary (in-memory) mode: the documented look."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    table = scorecard.copy()
    table["level"] = table["level"].map(goals.LEVEL_ZH)
    table["kind"] = table["kind"].map(goals.KIND_ZH)
    table["passed"] = table["passed"].map({True: "达标", False: "未达标"}).fillna("未评估")
    zh = table.rename(columns=goals.SCORECARD_HEADERS_ZH)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for level in ("区", "街道", "社区"):
        part = zh[zh["层级"] == level]
        if len(part) == 0:
            continue
        ws = wb.create_sheet(level)
        for j, name in enumerate(part.columns, start=1):
            ws.cell(1, j, name).font = Font(bold=True)
        for i, values in enumerate(part.itertuples(index=False), start=2):
            failed = values[list(part.columns).index("是否达标")] == "未达标"
            for j, v in enumerate(values, start=1):
                cell = ws.cell(i, j, None if isinstance(v, float) and not np.isfinite(v) else v)
                if failed:
                    cell.fill = PatternFill("solid", fgColor="F8CBAD")
        ws.auto_filter.ref = ws.dimensions
        ws.freeze_panes = "A2"
        for j, col in enumerate(part.columns, start=1):
            ws.column_dimensions[get_column_letter(j)].width = max(8, min(60, int(part[col].astype(str).str.len().max()) + 2))
    wb.save(path)


def _read_workbook(path):
    wb = openpyxl.load_workbook(path)
    out = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        out[ws.title] = {
            "cells": [[(c.value, c.fill.fgColor.rgb if c.fill.fill_type else None, bool(c.font.b)) for c in row]
                      for row in ws.iter_rows()],
            "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.width}}
    return out


def test_streamed_workbook_reads_back_as_the_reference(hexi_goal_registry_run, tmp_path):
    # Hexi with the test registry: the bare sample reads no facility, so every row is 未评估, none 未达标.
    card = hexi_goal_registry_run.scorecard
    files = report.write_scorecard(tmp_path, card)
    _reference_workbook(tmp_path / "reference.xlsx", card)
    got, ref = _read_workbook(files["scorecard_xlsx"]), _read_workbook(tmp_path / "reference.xlsx")
    assert got["sheets"] == ["区", "街道", "社区", "街道一览", "社区一览"]  # the wide sheets: their own test
    got = {k: v for k, v in got.items() if k not in ("街道一览", "社区一览")}
    got["sheets"] = got["sheets"][:3]
    assert got == ref
    rows = got["社区"]["cells"]
    red = [r for r in rows[1:] if r[12][0] == "未达标"]
    assert red and all(c[1].endswith("F8CBAD") for r in red for c in r)  # the whole row, empty cells too
    assert all(c[2] for c in rows[0]) and len(rows) - 1 == (card["level"] == "community").sum()


def test_a_level_beyond_excel_rows_continues_on_the_next_sheet(hexi_run, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "EXCEL_MAX_ROWS", 501)  # 500 rows a sheet instead of 1,048,575
    files = report.write_scorecard(tmp_path, hexi_run.scorecard)
    wb = openpyxl.load_workbook(files["scorecard_xlsx"])
    n = (hexi_run.scorecard["level"] == "community").sum()
    names = [f"社区 {i}" if i > 1 else "社区" for i in range(1, -(-n // 500) + 1)]
    assert wb.sheetnames == ["区", "街道"] + names + ["街道一览", "社区一览"]
    ids = [row[1] for name in names for row in wb[name].iter_rows(min_row=2, values_only=True)]
    assert ids == hexi_run.scorecard.loc[hexi_run.scorecard["level"] == "community", "unit_id"].tolist()
    assert all(wb[name].freeze_panes == "A2" and wb[name].auto_filter.ref for name in names)


def test_wide_sheets_give_one_row_per_unit_and_a_value_and_verdict_per_goal(hexi_run, tmp_path):
    """社区一览 / 街道一览: each unit once, each goal's value and 达标/未达标 beside it, equal to the long table's
    rows; shares formatted as percentages, per-1,000 capacities with one decimal."""
    card = hexi_run.scorecard
    metrics = {g.key: g.metric for g in hexi_run.config.goals}
    files = report.write_scorecard(tmp_path, card, goal_metrics=metrics)
    wb = openpyxl.load_workbook(files["scorecard_xlsx"])
    for level, title in (("street", "街道一览"), ("community", "社区一览")):
        ws = wb[title]
        rows = list(ws.iter_rows(values_only=True))
        header, body = rows[0], rows[1:]
        long = card[card["level"] == level]
        assert [r[0] for r in body] == long.drop_duplicates("unit_id")["unit_id"].tolist()
        one = long.groupby(["unit_id", "goal"]).filter(lambda g: len(g) == 1)
        for goal, group in one.groupby("goal"):
            name = group["goal_name"].iloc[0]
            col = header.index(f"{name} 现状值")
            got = {r[0]: (r[col], r[col + 1]) for r in body}
            for unit, value, passed in zip(group["unit_id"], group["value"], group["passed"]):
                v, verdict = got[unit]
                assert (v is None and not np.isfinite(value)) or v == pytest.approx(value)
                assert verdict == {True: "达标", False: "未达标"}.get(passed, "未评估")
            fmt = ws.cell(row=2, column=col + 1).number_format
            assert fmt == {"population_within": "0.0%", "capacity_share": "0.0%", "capacity_per_1000": "0.0",
                           "units_with_facility": "#,##0", "area_per_capita": "#,##0.00"}[metrics[goal]]
    district = wb["区"]
    head = [c.value for c in district[1]]
    for row in district.iter_rows(min_row=2):
        goal = row[head.index("指标代码")].value
        if metrics[goal] in ("population_within", "capacity_share", "units_with_facility"):
            assert row[head.index("现状值")].number_format == "0.0%"


def _layer(path, layer):
    info = pyogrio.read_info(path, layer=layer)
    return (list(info["fields"]), list(info["dtypes"]), info["geometry_type"],
            gpd.read_file(path, layer=layer))


def _assert_layers_equal(frame, tmp_path, name):
    """Written through Arrow, read back as the row-by-row writer's layer: field types, values, geometries."""
    arrow, plain = tmp_path / f"{name}_arrow.gpkg", tmp_path / f"{name}_plain.gpkg"
    report.write_layer(frame, arrow, name)
    report._finite(frame).to_file(plain, layer=name, driver="GPKG", engine="pyogrio", use_arrow=False)
    *a_info, a = _layer(arrow, name)
    *b_info, b = _layer(plain, name)
    assert a_info == b_info
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True)
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0).all()
    return a


def test_geopackage_layers_read_back_as_before(chengdu_run, tmp_path):
    r = chengdu_run
    for name, frame in (("cells", r.cells), ("communities", r.communities), ("facilities", r.facilities),
                        ("blind_spots", r.blind_spots)):
        _assert_layers_equal(frame, tmp_path, name)


def test_geopackage_types_booleans_ints_empty_strings_and_infinity(tmp_path):
    """Test input: one column of each kind a run writes, unreachable walks as inf, registry fields mixed."""
    frame = gpd.GeoDataFrame({
        "covered": [True, False, True], "count": np.array([1, 0, 7], dtype=np.int64), "name": ["甲", "", "丙"],
        "walk_s": [60.0, np.inf, np.nan], "beds": pd.Series([30, None, "12张"], dtype=object),
        "affordable": pd.Series([True, None, False], dtype=object),
    }, geometry=[shapely.Point(104.0, 30.6), shapely.Point(104.1, 30.7), shapely.Point(104.2, 30.8)], crs="EPSG:4326")
    back = _assert_layers_equal(frame, tmp_path, "t")
    assert back["covered"].tolist() == [True, False, True] and back["count"].dtype == np.int64
    assert back["name"].tolist() == ["甲", "", "丙"] and np.isnan(back["walk_s"].iloc[1])
    assert back["beds"].tolist()[0] == "30" and back["beds"].tolist()[2] == "12张" and pd.isna(back["beds"].iloc[1])


# ---------------------------------------------------------------------------------------------------------------
# The report page at city size.

def _synthetic_city_scorecard(scorecard, copies):
    """Declared synthetic: the real scorecard's street and community rows repeated with new unit ids."""
    units = scorecard[scorecard["level"] != "district"]
    parts = [scorecard[scorecard["level"] == "district"]]
    for k in range(copies):
        part = units.copy()
        part["unit_id"] = part["unit_id"] + k * 100_000
        part["unit_name"] = part["unit_name"] + f"（合成{k}）"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _reference_worst(scorecard, level, limit, failing_only):
    """Units ranked unit by unit: most binding goals failed, then most goals failed, then scorecard order."""
    part = scorecard[scorecard["level"] == level]
    seen = list(dict.fromkeys(part["unit_id"]))
    score = {}
    for uid in seen:
        rows = part[part["unit_id"] == uid]
        failed = rows["passed"] == False  # noqa: E712
        score[uid] = (int((failed & (rows["kind"] == "binding")).sum()), int(failed.sum()))
    ranked = sorted(seen, key=lambda u: (-score[u][0], -score[u][1], seen.index(u)))
    if failing_only:
        ranked = [u for u in ranked if score[u][0] > 0]
    return ranked[:limit] if len(seen) > limit or failing_only else ranked


def test_scorecard_shown_is_whole_when_small_and_the_worst_units_when_large(hexi_goal_registry_run):
    # Hexi with the test registry: the bare sample reads no facility, so every row is 未评估, none 未达标.
    card = hexi_goal_registry_run.scorecard
    shown, rows, units = reportpage.scorecard_shown(card)
    pd.testing.assert_frame_equal(shown, card[card["level"] != "district"])  # the samples: today's table
    assert rows == units == 0
    shown, rows, units = reportpage.scorecard_shown(card, max_rows=100, max_units=5)
    streets = list(dict.fromkeys(shown.loc[shown["level"] == "street", "unit_id"]))
    comms = list(dict.fromkeys(shown.loc[shown["level"] == "community", "unit_id"]))
    assert streets == _reference_worst(card, "street", 5, False)
    assert comms == _reference_worst(card, "community", 5, True) and len(comms) == 5
    assert rows == (card["level"] != "district").sum() - len(shown)
    assert units == card.loc[card["level"] != "district", ["level", "unit_id"]].drop_duplicates().shape[0] - 10


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_city_size_report_page_stays_small(hexi_run, lang):
    big = _synthetic_city_scorecard(hexi_run.scorecard, 400)  # ~700,000 rows, a city's worth
    assert len(big) > 600_000
    care = pd.DataFrame({c: [""] * 1000 for c in ("facility_id", "name", "source", "nearest_health_id",
                                                  "nearest_health_name", "note")})
    care["name"] = [f"测试养老设施{i}" for i in range(1000)]  # test input: 1,000 care facilities
    care["walk_min_to_health"] = np.linspace(0, 30, 1000)
    care["adjacent"] = care["walk_min_to_health"] <= 10
    # Test input: Hexi's blind spots listed twice (the copy ranked after), more than the page's 5 per category.
    spots = pd.concat([hexi_run.blind_spots, hexi_run.blind_spots.assign(rank=hexi_run.blind_spots["rank"] + 5)],
                      ignore_index=True)
    result = replace(hexi_run, scorecard=big, adjacency=care, blind_spots=spots,
                     config=hexi_run.config.with_settings(output={"lang": lang}))
    html = reportpage.build_page(result)
    assert len(html.encode("utf-8")) < 3_000_000
    labels = texts.section(lang, "report.")
    _, rows, units = reportpage.scorecard_shown(big)
    assert labels["scorecard_capped"].format(units=reportpage.PAGE_MAX_UNITS, rows=rows, more=units) in html
    assert labels["adjacency_capped"].format(shown=200, n=800) in html
    assert html.count("测试养老设施") == 200 and "测试养老设施999" in html  # the farthest first
    shown_spots = int((spots["rank"] <= 5).sum())
    assert len(spots) > shown_spots  # Hexi has more blind spots than the page lists: it says how many more
    assert labels["blind_more"].format(n=len(spots) - shown_spots) in html


def test_newest_osm_timestamp_across_read_blocks(tmp_path, monkeypatch):
    """Test input: a small OSM file read in 50-byte blocks, so timestamps straddle block boundaries."""
    stamps = ["2018-05-01T10:00:00Z", "2019-03-07T08:30:00Z", "2017-12-31T23:59:59Z"]
    body = "".join(f'<node id="{i}" lat="30.6" lon="104.0" timestamp="{t}" version="1"/>\n'
                   for i, t in enumerate(stamps))
    path = tmp_path / "a.osm"
    path.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n{body}</osm>\n", encoding="utf-8")
    monkeypatch.setattr(reportpage, "OSM_READ_BLOCK", 50)
    assert reportpage._osm_date(path) == "; newest element 2019-03-07T08:30:00Z"
    path.write_text("<osm>\n<node id=\"1\" lat=\"30.6\" lon=\"104.0\"/>\n</osm>\n", encoding="utf-8")
    assert reportpage._osm_date(path) == "; the file carries no element timestamps"


def test_significant_rounds_as_printf_does():
    """The vectorised rounding keeps what ``%.6g`` keeps, over twelve orders of magnitude and the extremes."""
    rng = np.random.default_rng(7)
    values = np.r_[rng.lognormal(0, 6, 50_000) * rng.choice([-1, 1], 50_000),
                   0.0, -0.0, 0.5, 1 / 3, 2 / 3, 999_999.5, 59_786_794.0, 1e-300, 1.7e308]
    expected = np.array([float("%.6g" % v) for v in values])
    assert np.array_equal(report.significant(values), expected)
    assert np.isnan(report.significant(np.array([np.nan]))[0])
    assert np.isposinf(report.significant(np.array([np.inf]))[0])


def test_scorecard_csv_reads_back_as_pandas_writes_it(hexi_run, tmp_path):
    """Arrow's CSV, read back, is the table pandas' own writer (``%.6g``) gives for the same scorecard."""
    files = report.write_scorecard(tmp_path, hexi_run.scorecard)
    assert files["scorecard_csv"].read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel and WPS need
    table = hexi_run.scorecard.copy()
    table["level"] = table["level"].map(goals.LEVEL_ZH)
    table["kind"] = table["kind"].map(goals.KIND_ZH)
    table["passed"] = table["passed"].map({True: "达标", False: "未达标"}).fillna("未评估")
    reference = tmp_path / "pandas.csv"
    report._finite(table.rename(columns=goals.SCORECARD_HEADERS_ZH)).to_csv(
        reference, index=False, encoding="utf-8-sig", float_format="%.6g")
    got, expected = (pd.read_csv(p, encoding="utf-8-sig") for p in (files["scorecard_csv"], reference))
    assert len(got) == len(hexi_run.scorecard)
    pd.testing.assert_frame_equal(got, expected)


def test_chart_legends_sit_under_the_plot_and_the_chart_widens_for_them():
    from servicecircle import reportpage

    long_name = "养老服务 (≥30 分钟 / 无法到达: 822,174) " * 3  # wider than the 600 px chart
    chart = reportpage.line_chart([(long_name, np.arange(3.0), np.arange(3.0)), ("托育", np.arange(3.0), np.ones(3))],
                                  "分钟", str, "c")
    texts = [p for p in chart["parts"] if p["tag"] == "text" and p["text"] in (long_name, "托育")]
    assert [float(t["attrs"]["y"]) for t in texts] == [260 + 6 + 9, 260 + 6 + 16 + 9]  # under the plot
    assert chart["height"] == 260 + 6 + 2 * 16
    # 11 px per CJK character at least: the chart is wide enough for the longest entry.
    wide = sum(ord(c) >= 0x2E80 for c in long_name)
    assert chart["width"] >= float(texts[0]["attrs"]["x"]) + 11 * wide + 5 * (len(long_name) - wide)
    bars = reportpage.bar_chart(["0–10", "10–20"], [("老年助餐", np.array([1, 2]))], "%", "b")
    assert bars["width"] == 600 and bars["height"] == 260 + 6 + 16


def test_no_output_holds_an_absolute_path_of_the_analysts_machine(hexi_run):
    """Outputs are handed on: files are named relative to the study-area file's folder, never by the
    analyst's absolute paths (here the shared data folder and the test's own folders)."""
    from pathlib import Path

    out_dir = Path(hexi_run.config.output.out_dir)
    given = Path(hexi_run.config.communities.path)
    roots = {str(given.parent.parent), str(given.resolve().parent.parent)}  # as reached, and behind any link
    written = [p for p in out_dir.iterdir() if p.is_file()]
    assert {"summary.json", "communities.csv", "input_report.csv", "servicecircle.gpkg"} <= {p.name for p in written}
    for path in written:
        data = path.read_bytes()
        assert not any(root.encode() in data for root in roots), path.name
    report_rows = pd.read_csv(out_dir / "input_report.csv", encoding="utf-8-sig")
    assert len(report_rows) and report_rows["file"].str.startswith("../").all()
