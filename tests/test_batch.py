"""Batch on Dask gives the same answer as one run: the middle of the Chengdu sample split into four declared
TEST districts (quadrants of a 3.8 × 4 km box two kilometres inside the sample's edge, so the single run of the
whole sample has no edge effect there; test input, not real 区县 boundaries)."""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CHENGDU_CONFIG, HEXI_CONFIG, SHARED, closed_port, require_data, write_batch_file

from servicecircle import batch

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]

SAMPLE = (104.0421, 30.6528, 104.1296, 30.7279)  # the Chengdu sample's bbox (the single run's study area)
WEST, SOUTH, EAST, NORTH = 104.0658, 30.6703, 104.1058, 30.7063  # the batch's four districts together
MID_X, MID_Y = (WEST + EAST) / 2, (SOUTH + NORTH) / 2


def _quadrants() -> dict:
    boxes = {"T1": (WEST, MID_Y, MID_X, NORTH), "T2": (MID_X, MID_Y, EAST, NORTH),
             "T3": (WEST, SOUTH, MID_X, MID_Y), "T4": (MID_X, SOUTH, EAST, MID_Y)}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"adcode": code, "name": f"TEST quadrant {code}"},
         "geometry": shapely.geometry.mapping(shapely.box(*b))} for code, b in boxes.items()]}


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory, cache_dir):
    folder = tmp_path_factory.mktemp("batch")
    (folder / "test_districts.geojson").write_text(json.dumps(_quadrants()))
    return write_batch_file(
        folder / "batch.toml", f'base = "{CHENGDU_CONFIG}"\ndistricts_file = "test_districts.geojson"\n'
        'code_field = "adcode"\nname_field = "name"\nout_dir = "dask"\n', cache_dir=cache_dir,
        # a TEST goal on all residents (the sample has no age groups): a district row every district can assess
        more='[batch.overrides.goals.test_health_all]\nname = "TEST health centre within 15 min"\nkind = "advisory"\n'
        'metric = "population_within"\ncategories = ["health_centre"]\nminutes = 15\ngroup = "all"\ntarget = 0.5\n'
        'unit = "share"\nsource = "test input"\n')


@pytest.fixture(scope="module")
def dask_batch(batch_file):
    """The four quadrants on a two-worker LocalCluster: the batch every test below reads."""
    return batch.run_batch(batch.load_batch(batch_file), workers=2, echo=lambda line: None)


def test_cells_equal_single_run(dask_batch, chengdu_run):
    assert not dask_batch["failed"]
    whole = pd.DataFrame(chengdu_run.cells)
    merged = dask_batch["cells"]
    assert not merged["h3"].duplicated().any()
    # every cell of the four districts (by centre): there the single run is more than a walk (0.9 km) and the
    # snapping distance (0.3 km) from its study area's edge, so neither run has an edge effect
    assert shapely.contains(shapely.box(*SAMPLE).buffer(-0.015), shapely.box(WEST, SOUTH, EAST, NORTH))
    centre = shapely.centroid(chengdu_run.cells.geometry.to_crs(4326).values)
    whole = whole[shapely.contains_xy(shapely.box(WEST, SOUTH, EAST, NORTH), shapely.get_x(centre),
                                      shapely.get_y(centre))]
    joined = whole.merge(merged, on="h3", suffixes=("_whole", "_batch"))
    assert len(joined) == len(whole) == len(merged) > 0
    times = [c for c in whole.columns if c.startswith("t_") or c.endswith("_s") or "min" in c]
    worst = 0.0
    for col in [c for c in whole.columns if c not in ("h3", "geometry")]:
        a, b = joined[f"{col}_whole"], joined[f"{col}_batch"]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6, rtol=0, equal_nan=True, err_msg=col)
            if col in times:
                worst = max(worst, float(np.nanmax(np.abs(a - b), initial=0.0)))
        else:
            assert (a.astype(str) == b.astype(str)).all(), col
    print(f"max walk-time difference {worst:.3g} s over {len(joined)} cells")


def test_communities_equal_single_run(dask_batch, chengdu_run):
    """Every community of the four districts, those on the split lines included, goes to one district with the
    whole run's figures."""
    whole = pd.DataFrame(batch.clip_to_district(chengdu_run.cells.iloc[:0], chengdu_run.communities,
                                                shapely.box(WEST, SOUTH, EAST, NORTH))[1])
    merged = dask_batch["communities"]
    key = ["name", "rep_lon", "rep_lat"]
    assert not merged.duplicated(key).any()
    joined = whole.merge(merged, on=key, suffixes=("_whole", "_batch"))
    assert len(joined) == len(whole) == len(merged) > 0
    on_split = shapely.intersects(shapely.from_wkt([f"MULTILINESTRING(({MID_X} {SOUTH}, {MID_X} {NORTH}), "
                                                       f"({WEST} {MID_Y}, {EAST} {MID_Y}))"]),
                                  chengdu_run.communities.geometry.to_crs(4326).values[whole.index.to_numpy()])
    print(f"{len(joined)} communities compared, {int(on_split.sum())} on the split lines")
    assert int(on_split.sum()) > 0  # the split lines cross communities that are compared
    worst = 0.0
    for col in [c for c in whole.columns if c not in (*key, "geometry")]:
        a, b = joined[f"{col}_whole"], joined[f"{col}_batch"]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6, rtol=0, equal_nan=True, err_msg=col)
            worst = max(worst, float((a - b).abs().fillna(0.0).max()))
        else:
            assert (a.astype(str) == b.astype(str)).all(), col
    print(f"max community difference {worst:.3g} (residents, shares, walk statistics)")


def test_serial_equals_dask(batch_file, dask_batch):
    """Two of the districts again, serially, in another folder (the cached analysis is keyed by the area file's
    content, so only the scheduling and the writing differ): the same rows as on Dask."""
    settings = batch.load_batch(batch_file)
    two = dataclasses.replace(settings, districts=settings.districts[:2], out_dir=settings.out_dir.parent / "serial")
    serial = batch.run_batch(two, serial=True, echo=lambda line: None)
    assert not serial["failed"] and not any(d["cached"] for d in serial["districts"].values())
    codes = [d.code for d in two.districts]
    for table in ("cells", "communities"):
        on_dask = dask_batch[table][dask_batch[table]["district"].isin(codes)].reset_index(drop=True)
        assert len(on_dask) > 0
        pd.testing.assert_frame_equal(serial[table].drop(columns="geometry"), on_dask.drop(columns="geometry"))


def test_a_list_of_configs_gives_the_same_districts(batch_file, dask_batch, tmp_path):
    """``configs = [...]``: two study-area configs (the Chengdu sample's config with the T1 and T2 quadrants as
    their bbox and name; test input) run as districts: the same rows as the districts file's T1 and T2."""
    text = CHENGDU_CONFIG.read_text(encoding="utf-8")
    osm = (CHENGDU_CONFIG.parent / re.search(r'osm_file = "([^"]+)"', text).group(1)).resolve()
    boxes = {"T1": (WEST, MID_Y, MID_X, NORTH), "T2": (MID_X, MID_Y, EAST, NORTH)}
    for code, box in boxes.items():
        own = re.sub(r'name = "chengdu_central"', f'name = "{code}"', text)
        own = re.sub(r'osm_file = "[^"]+"', f'osm_file = "{osm}"', own)
        own = re.sub(r"bbox = \[[^\]]+\]", f"bbox = {list(box)}", own)
        (tmp_path / f"{code}.toml").write_text(own, encoding="utf-8")
    overrides = batch_file.read_text(encoding="utf-8").split("[batch.overrides.network]", 1)[1]
    (tmp_path / "configs.toml").write_text('[batch]\nconfigs = ["T2.toml", "T1.toml"]\nout_dir = "out"\n'
                                           "[batch.overrides.network]" + overrides, encoding="utf-8")
    settings = batch.load_batch(tmp_path / "configs.toml")
    assert [(d.code, d.name) for d in settings.districts] == [("T1", "T1"), ("T2", "T2")]
    result = batch.run_batch(settings, serial=True, echo=lambda line: None)
    assert not result["failed"]
    for table in ("cells", "communities"):
        on_dask = dask_batch[table][dask_batch[table]["district"].isin(boxes)].reset_index(drop=True)
        pd.testing.assert_frame_equal(result[table].drop(columns="geometry"), on_dask.drop(columns="geometry"))
    (tmp_path / "both.toml").write_text('[batch]\nconfigs = ["T1.toml"]\nbase = "T1.toml"\n', encoding="utf-8")
    with pytest.raises(batch.ConfigError, match="without base and districts_file") as caught:
        batch.load_batch(tmp_path / "both.toml")
    assert "不能与 base、districts_file 同时给出" in caught.value.worded("zh")


def test_rerun_uses_finished_districts(batch_file, dask_batch):
    lines: list[str] = []
    again = batch.run_batch(batch.load_batch(batch_file), serial=True, echo=lines.append)
    assert all(d["cached"] for d in again["districts"].values())
    assert sum("已完成，沿用" in line for line in lines) == 4  # console lines worded in the run's language (zh)


def test_merged_scorecard_and_overview(batch_file, dask_batch):
    """One scorecard.xlsx (city sheet, then a sheet per district in code order) and an index.html linking each
    district's report and map."""
    out = batch.load_batch(batch_file).out_dir
    with zipfile.ZipFile(out / "scorecard.xlsx") as book:
        sheets = re.findall(r'<sheet name="([^"]+)"', book.read("xl/workbook.xml").decode())
    assert sheets == ["全市", "T1", "T2", "T3", "T4"]
    codes = ["T1", "T2", "T3", "T4"]
    cards = batch.read_scorecards(out, codes, names={c: c for c in codes})
    assert set(cards) == set(codes) and (cards["T3"]["区县代码"] == "T3").all()
    # a district's sheet holds its own communities' rows only: together every community once per goal
    per_goal = pd.concat(cards.values()).query("层级 == '小区（OSM）'").groupby("指标代码")["编号"]
    assert (per_goal.nunique() == per_goal.size()).all()
    assert (per_goal.nunique() == len(dask_batch["communities"])).all()
    page = (out / "index.html").read_text(encoding="utf-8")
    for code in ("T1", "T2", "T3", "T4"):
        assert f'href="{code}/index.html"' in page and f'href="{code}/map.html"' in page
        assert (out / code / "index.html").is_file() and (out / code / "map.html").is_file()
    assert page.count("<tr><td>TEST quadrant") == 4 and "完成" in page
    # each row counts its district row's goals: met, failed and not assessed (Chengdu has no elder-care data)
    for code in codes:
        verdicts = cards[code].query("层级 == '区'")["是否达标"].value_counts()
        row = re.search(rf"<tr><td>TEST quadrant {code}</td>.*?</tr>", page, re.S).group(0)
        counts = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', row)]
        assert counts == [verdicts.get("达标", 0), verdicts.get("未达标", 0), verdicts.get("未评估", 0)]
        assert counts[2] > 0
    residents = dask_batch["cells"].groupby("district")["residents"].sum()
    assert f"{residents['T1']:,.0f}" in page


def test_overview_reports_a_failed_district(tmp_path):
    """A failed district is a row with its error (escaped) and no links; the others keep theirs; English on ask."""
    districts = (batch.District("A1", "TEST <A1>", shapely.to_wkb(shapely.box(104.0, 30.6, 104.1, 30.7))),
                 batch.District("B2", "TEST B2", shapely.to_wkb(shapely.box(104.1, 30.6, 104.2, 30.7))))
    settings = batch.BatchSettings(base=CHENGDU_CONFIG, districts=districts, out_dir=tmp_path, census=False,
                                   overrides={})
    # C3's config (configs mode) has no canteen category: its rows hold no canteen figure
    cells = pd.DataFrame({"district": ["A1", "A1", "C3"], "residents": [30.0, 10.0, 5.0],
                          "covered_elder_care": [True, False, True], "covered_canteen": [True, True, np.nan]})
    status = {"A1": {"code": "A1", "name": "TEST <A1>"}, "B2": {"code": "B2", "error": "InputError: <bad> file"},
              "C3": {"code": "C3", "name": "TEST C3"}}
    page = batch.write_overview(settings, status, cells, {}, lang="en").read_text(encoding="utf-8")
    assert 'href="A1/index.html"' in page and 'href="B2/index.html"' not in page
    assert "failed: InputError: &lt;bad&gt; file" in page and "75.0%" in page and "100.0%" in page
    assert "Districts" in page and "区县" not in page
    # the overview map: one per category, each district a path filled by its share and linked to its own map
    # (a failed one grey, without a link); names stay text
    svgs = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="districts".*?</svg>', page, re.S)
    assert len(svgs) == 2
    elder, canteen = svgs
    assert elder.count('<a href="A1/map.html">') == 1 and "B2/map.html" not in elder
    assert 'fill="#a6d96a"' in elder and 'fill="#1a9641"' in canteen  # 75 % and 100 % in the print classes
    assert elder.count('fill="#dddddd"') == 1 and "TEST &lt;A1&gt; A1: 75.0%" in elder and "<A1>" not in page
    c3 = re.search(r"<tr><td>TEST C3</td>.*?</tr>", page, re.S).group(0)
    assert '<td class="num">100.0%</td><td class="num">—</td>' in c3  # elder care 100 %, canteen: no figure


def test_district_rows_judge_the_districts_own_cells(batch_file, dask_batch, chengdu_run):
    """A district's row counts the residents of its own cells, not of the buffered area it ran on: recomputed
    from the merged cells.csv (walk time against the goal's 15 minutes); its community rows are the single run's."""
    out = batch.load_batch(batch_file).out_dir
    codes = ["T1", "T2", "T3", "T4"]
    cards = batch.read_scorecards(out, codes, names={c: c for c in codes})
    cells = pd.read_csv(out / "cells.csv", dtype={"district": str})
    for code in codes:
        row = cards[code].query("层级 == '区' and 指标代码 == 'test_health_all'")
        assert len(row) == 1
        own = cells[cells["district"] == code]
        reached = float((own["residents"] * (own["walk_time_s_health_centre"] <= 900)).sum())
        assert row["现状值"].iloc[0] == pytest.approx(reached / own["residents"].sum(), abs=5e-5)
        # the run's own scorecard judged the buffered area: more residents, another figure
        buffered = pd.read_csv(out / code / "scorecard.csv", encoding="utf-8-sig")
        assert buffered.query("层级 == '区' and 指标代码 == 'test_health_all'")["现状值"].iloc[0] != \
            row["现状值"].iloc[0]
    # community rows: the single run's, for every community of the four districts
    inside = set(dask_batch["communities"]["community_id"].astype(str))
    whole = chengdu_run.scorecard.query("level == 'community'")
    whole = whole[whole["unit_id"].astype(str).isin(inside)]
    merged = pd.concat(cards.values()).query("层级 == '小区（OSM）'")
    joined = whole.assign(编号=whole["unit_id"].astype(str), 指标代码=whole["goal"], 口径=whole["meaning"]).merge(
        merged, on=["编号", "指标代码", "口径"])
    assert len(joined) == len(whole) > 0
    np.testing.assert_allclose(joined["value"].to_numpy(float), joined["现状值"].to_numpy(float), atol=5e-5,
                               equal_nan=True)


def test_a_road_line_district_from_the_tianjin_districts_file(tmp_path, monkeypatch):
    """Real data: 河西区 taken from the Tianjin districts file (GCJ-02 declared, 区划代码 adcode) over the Hexi
    road-line config, census = true. The base reads no OSM data, so neither does the district's run (its
    run-area polygon only draws the area; Overpass is pointed at a closed port, which would fail the run);
    the district's own cells hold its census row and every one of the 141 communities is assigned to it."""
    import geopandas as gpd
    import osmnx as ox

    districts = SHARED / "tianjin_heping" / "tianjin_districts_gcj02.geojson"
    require_data(districts)
    frame = gpd.read_file(districts)
    frame[frame["adcode"].astype(str) == "120103"][["adcode", "name", "geometry"]].to_file(
        tmp_path / "hexi_district.geojson", driver="GeoJSON")
    monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{closed_port()}/api")
    write_batch_file(tmp_path / "batch.toml", f'base = "{HEXI_CONFIG}"\ndistricts_file = "hexi_district.geojson"\n'
                     'coord_system = "gcj02"\ncode_field = "adcode"\nname_field = "name"\ncensus = true\nout_dir = "out"\n',
                     cache_dir=tmp_path / "cache")
    result = batch.run_batch(batch.load_batch(tmp_path / "batch.toml"), serial=True, echo=lambda line: None)
    assert not result["failed"], result["districts"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["summaries"]["120103"]
    census = summary["population_method"]["census"]
    assert census["code"] == "120103" and census["name"] == "天津市河西区"
    assert summary["population_total"] > census["total"]  # the run area: the district and its surroundings
    assert len(result["communities"]) == 141 and set(result["communities"]["district"]) == {"120103"}
    # the census counts the district: its own cells (by centre in the outline) hold it, not the buffered run area
    assert result["cells"]["residents"].sum() == pytest.approx(census["total"], rel=1e-9)

    # The same base without its communities and streets files (a road-line area with nothing else): still no
    # OSM, the district alone buffered, no community rows
    text = HEXI_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"\[(communities|streets)\][^\[]*", "", text).replace('"../../shared/', f'"{SHARED.parent}/')
    (tmp_path / "roads_only.toml").write_text(text, encoding="utf-8")
    settings = batch.load_batch(tmp_path / "batch.toml")
    bare = batch.run_batch(dataclasses.replace(settings, base=tmp_path / "roads_only.toml", out_dir=tmp_path / "bare"),
                           serial=True, echo=lambda line: None)
    assert not bare["failed"], bare["districts"]
    assert len(bare["communities"]) == 0
    assert bare["cells"]["residents"].sum() == pytest.approx(census["total"], rel=1e-9)


def test_a_district_without_a_category_inside_is_still_judged_on_it(chengdu_run):
    """A district holding no health centre whose residents walk to one across its border: its row is judged
    (the run has health centres), with the share of its own cells' residents reached, not "no facility"."""
    goal = dataclasses.replace(next(g for g in chengdu_run.config.goals if g.metric == "population_within"),
                               key="test_health_all", name="TEST", categories=("health_centre",), group="all",
                               minutes=15.0, metres=None)
    result = dataclasses.replace(chengdu_run, config=chengdu_run.config.with_settings(goals=(goal,)))
    cells = chengdu_run.cells
    centre = shapely.centroid(cells.geometry.to_crs(4326).values)
    facs = chengdu_run.facilities
    health = facs[(facs["category"] == "health_centre") & facs["counted"]].geometry.to_crs(4326).to_numpy()
    far = shapely.distance(centre[:, None], health[None, :]).min(axis=1) > 0.006  # ~600 m from every one
    reached = (cells["walk_time_s_health_centre"] <= 900).to_numpy() & (cells["residents"] > 0).to_numpy() & far
    x, y = shapely.get_x(centre[reached][0]), shapely.get_y(centre[reached][0])
    polygon = shapely.box(x - 0.002, y - 0.002, x + 0.002, y + 0.002)  # TEST district: ~400 × 440 m
    assert not shapely.contains(polygon, health).any()
    own_cells, own_comms = batch.clip_to_district(cells, chengdu_run.communities, polygon)
    card = batch.district_scorecard(result, polygon, own_cells=own_cells["h3"].to_numpy(),
                                    own_communities=own_comms["community_id"].to_numpy(), name="TEST")
    [row] = card[(card["level"] == "district") & (card["goal"] == "test_health_all")].to_dict("records")
    assert row["passed"] is not None
    inside = own_cells["walk_time_s_health_centre"] <= 900
    assert row["value"] == pytest.approx((own_cells["residents"] * inside).sum() / own_cells["residents"].sum())
    assert row["value"] > 0
