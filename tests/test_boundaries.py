"""Boundary files: GCJ-02 outlines of real districts, GBK shapefiles, community → street hierarchy."""


import geopandas as gpd
import numpy as np
import pytest
import shapely

from conftest import HEPING_GCJ02, HEXI, SHARED
from servicecircle import communities, inputs
from servicecircle.config import Boundaries

pytestmark = pytest.mark.needs_data  # every test reads the Hexi and Heping samples

COMMUNITIES = HEXI / "hexi_communities.geojson"
STREETS = HEXI / "hexi_streets.geojson"


def _hexi_outline(utm):
    comm = inputs.read_vector(COMMUNITIES, what="communities", polygons=True).to_crs(utm)
    union = comm.union_all()
    return shapely.MultiLineString([p.exterior for p in getattr(union, "geoms", [union])]), union


@pytest.mark.parametrize("system,check", [("gcj02", lambda d: d < 50), ("wgs84", lambda d: d > 200)])
def test_heping_gcj02_boundary_meets_hexi_after_conversion(system, check):
    """Heping (published in GCJ-02) borders Hexi (WGS-84): converted, the shared border lines up."""
    utm = "EPSG:32650"
    outline, _ = _hexi_outline(utm)
    heping = inputs.read_vector(HEPING_GCJ02, what="Heping boundary", coord_system=system, polygons=True).to_crs(utm)
    vertices = shapely.points(shapely.get_coordinates(heping.geometry.values))
    dist = shapely.distance(vertices, outline)
    near = dist < 600
    assert near.sum() >= 3
    assert check(dist[near].mean()), dist[near].mean()


def test_hexi_district_outline_in_gcj02_matches_its_communities():
    utm = "EPSG:32650"
    _, union = _hexi_outline(utm)
    overlap = {}
    for system in ("gcj02", "wgs84"):
        districts = inputs.read_vector(SHARED / "tianjin_heping" / "tianjin_districts_gcj02.geojson",
                                       what="districts", coord_system=system, polygons=True)
        hexi = districts[districts["adcode"].astype(str) == "120103"].to_crs(utm).union_all()
        overlap[system] = hexi.intersection(union).area / hexi.union(union).area
    # The published outline is simplified (32 vertices) and takes in the river, so not 1.0;
    # unconverted, the ~440 m shift costs a fifth of the overlap (0.91 vs 0.73 measured).
    assert overlap["gcj02"] > 0.85 and overlap["gcj02"] > overlap["wgs84"] + 0.1


def test_gbk_shapefile_without_cpg_and_gcj02_declared(tmp_path):
    # Test input: two Hexi community polygons written as a GBK shapefile, in GCJ-02, with no .cpg.
    comm = inputs.read_vector(COMMUNITIES, what="communities", polygons=True).iloc[:2]
    lonlat = comm.geometry.values
    from servicecircle import coords

    gcj = shapely.transform(lonlat, lambda c: np.column_stack(coords.from_wgs84(c[:, 0], c[:, 1], "gcj02")))
    path = tmp_path / "two.shp"
    gpd.GeoDataFrame({"名称": comm["name"].to_numpy(), "code": comm["code"].to_numpy()}, geometry=gcj,
                     crs="EPSG:4326").to_file(path, encoding="gbk")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert b"\xb8\xa3" in path.with_suffix(".dbf").read_bytes()  # 福 in GBK: really GBK on disk
    back = inputs.read_vector(path, what="communities", coord_system="gcj02", polygons=True)
    assert list(back["名称"]) == list(comm["name"])
    moved = shapely.hausdorff_distance(back.to_crs("EPSG:32650").geometry.values, comm.to_crs("EPSG:32650").geometry.values)
    assert np.all(moved < 0.5)  # metres, after the GCJ-02 → WGS-84 round trip


def test_invalid_polygons_are_repaired_and_reported():
    report = inputs.InputReport()
    comm = inputs.read_vector(COMMUNITIES, what="communities", report=report, polygons=True)
    assert len(comm) == 141 and comm.is_valid.all()
    rows = report.frame()
    assert len(rows) == 1 and "Self-intersection" in rows["problem"].iloc[0]
    bad = comm[comm["_row"] == int(rows["row"].iloc[0])]
    assert bad["name"].iloc[0] == "长达公寓社区居委会" and rows["action"].iloc[0] == "repaired with make_valid"


def _config(hexi_config, parent_field="parentcode"):
    return hexi_config.with_settings(communities=Boundaries(COMMUNITIES, "wgs84", None, "name", "code", parent_field))


def test_communities_roll_up_to_streets_by_code_and_by_overlap(hexi_config):
    streets = communities.load_streets(hexi_config.streets)
    by_code = communities.link_streets(communities.load_communities(_config(hexi_config).communities, None), streets)
    assert len(streets) == 14 and len(by_code) == 141
    assert (by_code["street_link"] == "code").all()
    # The code rule: a community's 12-digit code starts with its street's first 9 digits.
    street_code = by_code["street_id"].map(dict(zip(streets["street_id"], streets["code"])))
    assert (by_code["code"].str[:9] == street_code.str[:9]).all()
    # Without code fields the spatial rule (largest overlap) finds the same streets.
    spatial = communities.link_streets(communities.load_communities(_config(hexi_config, None).communities, None), streets)
    assert (spatial["street_link"] == "overlap").all()
    agree = (spatial["street_id"].to_numpy() == by_code["street_id"].to_numpy()).mean()
    assert agree >= 0.97, agree
    assert by_code.groupby("street_name").size().min() >= 3


def test_study_area_polygon_declared_gcj02(hexi_run, tmp_path):
    from servicecircle import grid

    config = hexi_run.config.with_settings(area={"polygon_file": HEPING_GCJ02, "polygon_coord_system": "gcj02"})
    area = grid.study_area(config.area, hexi_run.network)
    raw = config.with_settings(area={"polygon_coord_system": "wgs84"})
    shifted = grid.study_area(raw.area, hexi_run.network)
    utm = "EPSG:32650"
    a, b = gpd.GeoSeries([area, shifted], crs="EPSG:4326").to_crs(utm)
    assert a.area == pytest.approx(b.area, rel=0.01)  # the same outline …
    assert 300 < a.centroid.distance(b.centroid) < 700  # … moved by the GCJ-02 offset


def test_input_file_errors_are_worded_in_chinese_under_zh(tmp_path):
    from servicecircle.errors import InputError

    with pytest.raises(InputError, match="communities file not found: ") as caught:
        inputs.read_vector(tmp_path / "nowhere.geojson", what="communities file")
    assert caught.value.worded("zh") == f"社区边界文件不存在：{tmp_path / 'nowhere.geojson'}"
    assert caught.value.worded("en") == str(caught.value)
    (tmp_path / "people.dbf").write_bytes(b"")
    with pytest.raises(InputError, match=r"population table must be .csv or .xlsx \(got '.dbf'\)") as caught:
        inputs.read_table(tmp_path / "people.dbf", what="population table")
    assert caught.value.worded("zh").endswith("：人口表应为 .csv 或 .xlsx 文件（实为 '.dbf'）")
    assert caught.value.worded("en") == str(caught.value)
