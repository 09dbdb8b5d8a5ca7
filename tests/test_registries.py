"""Facility registries: formats, encodings, headers, row validation, coordinate systems, OSM merge.

Every registry here is test input built in the test: no public registry of
Chinese elder-care centres, canteens or nurseries exists for the sample areas.
"""

import json

import numpy as np
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from servicecircle import coords, registries
from servicecircle.config import ConfigError, Registry, make_config
from servicecircle.inputs import InputReport

# Test input: three facilities with Chinese headers, near central Chengdu (WGS-84).
TEST_ROWS = [
    {"机构名称": "锦江区测试日间照料中心", "类别": "日间照料中心", "经度": "104.0800", "纬度": "30.6600",
     "地址": "测试路1号", "床位(张)": "30", "托位": "", "日供餐": "120", "是否普惠": "是", "性质": "公建民营"},
    {"机构名称": "测试长者食堂", "类别": "老年食堂", "经度": "104.0850", "纬度": "30.6650",
     "地址": "测试路2号", "床位(张)": "", "托位": "", "日供餐": "200份", "是否普惠": "", "性质": "民办"},
    {"机构名称": "测试托育中心", "类别": "托育机构", "经度": "104.0900", "纬度": "30.6700",
     "地址": "测试路3号", "床位(张)": "", "托位": "60", "日供餐": "", "是否普惠": "普惠", "性质": "公办"},
]


def _spec(path, **kw):
    base = dict(path=path, coord_system="wgs84", encoding=None, sheet=None, category=None, columns=(),
                category_values=())
    return Registry(**{**base, **kw})


def _config():
    return make_config({"area": {"name": "t", "bbox": [104.0, 30.6, 104.2, 30.8]}})


def _read(path, config=None, **kw):
    report = InputReport()
    return registries.read_registry(_spec(path, **kw), (config or _config()).categories, report), report.frame()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_chinese_encoding(tmp_path, encoding):
    path = tmp_path / f"registry_{encoding}.csv"
    pd.DataFrame(TEST_ROWS).to_csv(path, index=False, encoding=encoding)
    reg, problems = _read(path)
    assert list(reg["name"]) == [r["机构名称"] for r in TEST_ROWS]
    assert list(reg["category"]) == ["elder_care", "canteen", "nursery"]
    assert reg["beds"].iloc[0] == 30 and reg["meals_per_day"].iloc[1] == 200 and reg["nursery_places"].iloc[2] == 60
    assert list(reg["affordable"]) == [True, None, True]
    assert reg["nursery_places_affordable"].iloc[2] == 60
    assert list(reg["ownership"]) == ["公建民营", "民办", "公办"]
    assert (reg["source"] == "registry").all() and len(problems) == 0


def test_xlsx_with_english_headers_and_one_coordinate_column(tmp_path):
    path = tmp_path / "registry.xlsx"
    rows = [{"Name": r["机构名称"], "Type": r["类别"], "Location": f"{r['经度']},{r['纬度']}", "Beds": r["床位(张)"]}
            for r in TEST_ROWS]
    pd.DataFrame(rows).to_excel(path, index=False)
    reg, problems = _read(path)
    assert len(reg) == 3 and len(problems) == 0
    assert reg.geometry.x.round(4).tolist() == [104.08, 104.085, 104.09]


def test_geojson_registry_and_explicit_column_mapping(tmp_path):
    path = tmp_path / "registry.geojson"
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(r["经度"]), float(r["纬度"])]},
                 "properties": {"全称": r["机构名称"], "服务": r["类别"], "容量": r["托位"] or r["床位(张)"]}}
                for r in TEST_ROWS]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8")
    reg, problems = _read(path, columns=(("name", "全称"), ("category", "服务"), ("beds", "容量")))
    assert list(reg["name"]) == [r["机构名称"] for r in TEST_ROWS]
    assert reg["beds"].iloc[0] == 30 and len(problems) == 0


def test_bad_rows_are_reported_and_good_rows_kept(tmp_path):
    rows = TEST_ROWS + [
        {"机构名称": "缺坐标养老院", "类别": "养老院", "经度": "", "纬度": ""},                        # row 5
        {"机构名称": "坏坐标养老院", "类别": "养老院", "经度": "东经104度", "纬度": "30.66"},           # row 6
        {"机构名称": "颠倒托育园", "类别": "托育机构", "经度": "30.6720", "纬度": "104.0950"},         # row 7
        {"机构名称": "海外养老院", "类别": "养老院", "经度": "2.35", "纬度": "48.85"},                 # row 8
        {"机构名称": "健身房", "类别": "健身房", "经度": "104.08", "纬度": "30.66"},                    # row 9
        {"机构名称": "锦江区测试日间照料中心", "类别": "日间照料", "经度": "104.08001", "纬度": "30.66001"},  # row 10
        {"机构名称": "若干床养老院", "类别": "养老院", "经度": "104.07", "纬度": "30.65", "床位(张)": "若干"},  # row 11
        {"机构名称": "", "类别": "助餐点", "经度": "104.075", "纬度": "30.655"},                       # row 12
    ]
    path = tmp_path / "registry.csv"
    pd.DataFrame(rows).fillna("").to_csv(path, index=False, encoding="utf-8-sig")
    reg, problems = _read(path)
    by_row = {int(r): p for r, p in zip(problems["row"], problems.to_dict("records"))}
    assert by_row[5]["problem"].startswith("missing coordinate") and by_row[5]["action"] == "dropped"
    assert by_row[6]["field"] == "经度" and "not a number" in by_row[6]["problem"]
    assert "swapped" in by_row[7]["problem"] and by_row[7]["action"] == "used swapped back"
    assert "outside China" in by_row[8]["problem"]
    assert "unknown category '健身房'" in by_row[9]["problem"] and by_row[9]["field"] == "类别"
    assert "duplicate of row 2" in by_row[10]["problem"]
    assert by_row[11]["field"] == "床位(张)" and by_row[11]["action"] == "left blank"
    assert by_row[12]["problem"] == "missing name" and by_row[12]["action"].startswith("kept")
    assert set(problems["file"]) == {str(path)}
    kept = set(reg["registry_row"])
    assert kept == {2, 3, 4, 7, 11, 12}
    swapped = reg[reg["registry_row"] == 7].geometry.iloc[0]
    assert (round(swapped.x, 4), round(swapped.y, 4)) == (104.095, 30.672)
    assert np.isnan(reg.loc[reg["registry_row"] == 11, "beds"].iloc[0])


def test_gcj02_and_bd09_registries_are_converted(tmp_path):
    lon, lat = np.array([104.08, 104.09]), np.array([30.66, 30.67])
    for system in ("gcj02", "bd09"):
        slon, slat = coords.from_wgs84(lon, lat, system)
        path = tmp_path / f"{system}.csv"
        pd.DataFrame({"名称": ["甲托育中心", "乙托育中心"], "类别": "托育", "经度": slon, "纬度": slat}).to_csv(path, index=False)
        reg, _ = _read(path, coord_system=system)
        assert np.allclose(reg.geometry.x, lon, atol=1e-8) and np.allclose(reg.geometry.y, lat, atol=1e-8)
        raw, _ = _read(path)  # the same file taken as WGS-84 is hundreds of metres off
        assert np.all(np.abs(raw.geometry.x.to_numpy() - lon) > 0.001)


def gpd_points(points, crs):
    import geopandas as gpd

    return gpd.GeoDataFrame(geometry=gpd.GeoSeries(points, crs=crs).to_crs("EPSG:4326"))


def gpd_from_lonlat(lon, lat):
    import geopandas as gpd

    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def test_registry_and_osm_merge_by_distance_and_name(chengdu_run, tmp_path):
    osm = chengdu_run.facilities
    osm = osm[(osm["source"] == "osm") & (osm["category"] == "health_centre") & (osm["name"].str.len() >= 4)]
    target = osm.iloc[0]
    utm = chengdu_run.network.crs
    p = gpd_points([target.geometry], "EPSG:4326").to_crs(utm).geometry.iloc[0]

    def at(dx):
        return gpd_points([shapely.Point(p.x + dx, p.y)], utm).geometry.iloc[0]

    # Test input: the same hospital 40 m away under a longer official name; the same name 500 m away;
    # a different name 20 m away.
    rows = [(f"{target['name']}（总院）", at(40), 800.0), (target["name"], at(500), 10.0), ("测试社区卫生服务站", at(20), 5.0)]
    path = tmp_path / "health.csv"
    pd.DataFrame({"名称": [r[0] for r in rows], "类别": "社区卫生服务中心", "经度": [r[1].x for r in rows],
                  "纬度": [r[1].y for r in rows], "床位": [r[2] for r in rows]}).to_csv(path, index=False)
    reg, _ = _read(path, chengdu_run.config)
    merged = registries.merge_with_osm(osm, reg, distance_m=100.0)
    assert len(merged) == len(osm) + 2  # one pair became one facility
    both = merged[merged["source"] == "both"]
    assert len(both) == 1
    assert both["osm_id"].iloc[0] == target["osm_id"] and both["beds"].iloc[0] == 800  # registry attributes win
    assert both["name"].iloc[0] == rows[0][0]
    assert (merged["source"] == "registry").sum() == 2
    assert registries.names_match("河西区友谊路社区日间照料中心", "友谊路社区日间照料中心")
    assert not registries.names_match("人民医院", "人民食堂")


def test_a_poi_and_its_osm_feature_are_one_facility_and_keep_their_flags():
    """Test input: two OSM features and three web-map POIs (WGS-84, central Chengdu)."""
    osm = gpd.GeoDataFrame({"facility_id": ["osm/1", "osm/2"], "category": ["nursery", "nursery"],
                            "name": ["阳光托育中心", "小星星幼儿园"], "source": "osm", "osm_type": "node",
                            "osm_id": [1, 2], "match": "tag", "counted": [True, False]},
                           geometry=gpd.points_from_xy([104.0700, 104.0800], [30.6600, 30.6600]), crs="EPSG:4326")
    pois = gpd.GeoDataFrame({"facility_id": ["amap/B1/nursery", "amap/B2/nursery", "amap/B3/nursery"],
                             "category": "nursery", "name": ["阳光托育中心（锦江店）", "小星星幼儿园", "彩虹托育园"],
                             "source": "amap", "osm_type": "amap", "osm_id": [0, 1, 2],
                             "match": ["keyword", "flagged", "keyword"], "counted": [True, False, True],
                             "poi_id": ["B1", "B2", "B3"]},
                            geometry=gpd.points_from_xy([104.0703, 104.0801, 104.0900], [30.6600, 30.6600, 30.6700]),
                            crs="EPSG:4326")
    merged = registries.merge_with_osm(osm, pois, distance_m=100.0, own_flags=True).set_index("facility_id")
    assert sorted(merged.index) == ["amap/B1/nursery", "amap/B2/nursery", "amap/B3/nursery"]  # OSM rows taken over
    assert merged.loc["amap/B1/nursery", "source"] == "amap+osm" and merged.loc["amap/B1/nursery", "osm_id"] == 1
    assert not merged.loc["amap/B2/nursery", "counted"]  # a flagged 幼儿园 stays uncounted
    assert merged.loc["amap/B3/nursery", "source"] == "amap" and merged.loc["amap/B3/nursery", "counted"]


def test_registry_config_is_validated():
    base = {"area": {"name": "t", "bbox": [104.0, 30.6, 104.2, 30.8]}}
    with pytest.raises(ConfigError, match=r"facilities.registries\[0\].coord_system"):
        make_config({**base, "facilities": {"registries": [{"file": "x.csv", "coord_system": "gcj-02"}]}})
    with pytest.raises(ConfigError, match=r"facilities.registries\[0\].category"):
        make_config({**base, "facilities": {"registries": [{"file": "x.csv", "category": "gym"}]}})
    cfg = make_config({**base, "facilities": {"registries": [{"file": "x.csv", "coord_system": "bd09",
                                                              "category_values": {"照料站": "elder_care"}}]}})
    assert cfg.facilities.registries[0].coord_system == "bd09" and cfg.facilities.merge_distance_m == 100.0


@pytest.mark.slow  # a full run on the Chengdu sample
def test_a_run_with_a_registry_reports_and_carries_capacities(chengdu_config, tmp_path):
    from servicecircle import run

    rows = TEST_ROWS + [{"机构名称": "海外养老院", "类别": "养老院", "经度": "2.35", "纬度": "48.85"},
                        {"机构名称": "远处养老院", "类别": "养老院", "经度": "104.30", "纬度": "30.90"}]
    path = tmp_path / "registry.csv"
    pd.DataFrame(rows).fillna("").to_csv(path, index=False, encoding="gbk")
    # Service areas are not this test's subject: drawn as cells and not per facility, to keep the run short.
    config = chengdu_config.with_settings(facilities={"registries": (_spec(path),)}, output={"out_dir": tmp_path / "out", "facility_areas": "none", "service_areas": "cells"})
    result = run(config, progress=False)
    facs = result.facilities
    assert set(facs.loc[facs["source"] == "registry", "name"]) == {r["机构名称"] for r in TEST_ROWS}
    report = pd.read_csv(result.files["input_report"], encoding="utf-8-sig")
    assert list(report.columns) == ["file", "row", "field", "problem", "action"]
    assert sorted(report["row"]) == [5, 6]
    assert "位于研究区外" in report.loc[report["row"] == 6, "problem"].iloc[0]  # outside the study area (zh)
    s = result.summary["categories"]
    assert s["elder_care"]["facilities"] == 1 and s["elder_care"]["population_covered_share"] > 0
    assert s["nursery"]["nursery_places"] == 60 and s["elder_care"]["beds"] == 30
    # The nursery's 60 places are counted in the community holding it, once, and nowhere else (the column
    # is there only when some community holds places).
    comms = result.communities
    holds = comms.geometry.covers(shapely.Point(float(TEST_ROWS[2]["经度"]), float(TEST_ROWS[2]["纬度"])))
    assert holds.sum() <= 1
    assert comms.get("nursery_places_nursery", pd.Series(0.0)).sum() == 60 * holds.sum()
    # The facilities layer carries the registry attributes.
    layer = result.facilities.set_index("name")
    assert layer.loc["测试托育中心", "ownership"] == "公办" and layer.loc["测试托育中心", "affordable"] == True  # noqa: E712


def test_an_unknown_category_read_from_the_name_is_reported_on_the_name_field(tmp_path):
    path = tmp_path / "r.csv"  # test input: no category column, so the names' keywords decide
    pd.DataFrame({"机构名称": ["测试日间照料中心", "测试健身房"], "经度": [104.08, 104.09], "纬度": [30.65, 30.66]}
                 ).to_csv(path, index=False, encoding="utf-8-sig")
    facs, report = _read(path)
    assert list(facs["category"]) == ["elder_care"]
    unknown = report[report["problem"].str.startswith("unknown category")]
    assert len(unknown) == 1 and unknown["field"].iloc[0] == "机构名称" and "测试健身房" in unknown["problem"].iloc[0]
