"""Population inputs: population_total, census totals and age shares, per-community tables."""


import numpy as np
import pandas as pd
import pytest

from servicecircle import communities, population
from servicecircle.errors import InputError
from servicecircle.inputs import InputReport

from conftest import CENSUS, require_data



def _inputs_of(config):
    """The settings apply_inputs reads, from a study area's config."""
    return {"settings": config.population, "population_total": config.area.population_total,
            "cache_dir": config.network.cache_dir}

def test_population_total_scales_the_estimate(chengdu_config, chengdu_run):
    scaled = chengdu_config.with_settings(area={"population_total": 1_000_000.0})
    origins, info = population.apply_inputs(chengdu_run.origins, chengdu_run.communities, None, {}, **_inputs_of(scaled),
                                            report=InputReport())
    assert np.isclose(origins["residents"].sum(), 1_000_000.0)
    ratio = origins["residents"].to_numpy() / np.maximum(chengdu_run.origins["residents"].to_numpy(), 1e-12)
    assert np.allclose(ratio[chengdu_run.origins["residents"] > 0], 1_000_000.0 / chengdu_run.origins["residents"].sum())
    assert "population_total" in info["scaled_to"]


@pytest.mark.slow  # parses the census workbook (~5 s, once per session: conftest._census_parsed_once)
@pytest.mark.needs_data
def test_census_figures_for_hexi_district():
    require_data(CENSUS)
    hexi = population.census_figures(CENSUS, "120103")
    # The published 2020 figures for 河西区 (shared/data README).
    assert hexi["total"] == 822_174
    assert hexi["groups"] == {"60plus": 230_176, "0_4": 30_332}
    with pytest.raises(InputError, match="census_code '999999' not found") as caught:
        population.census_figures(CENSUS, "999999")
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    assert caught.value.worded("zh") == f"{CENSUS}：未找到 census_code '999999'（应为六位区划代码，例如 120103）"
    assert caught.value.worded("en") == str(caught.value)


def test_community_table_is_distributed_inside_each_community(hexi_run, hexi_config, tmp_path):
    comm = hexi_run.communities.set_index("code")
    codes = list(comm.index[:3])
    # Test input: a per-community table (no such public table exists); one row by name
    # without the 居委会 suffix, one unknown code, one unreadable number.
    table = pd.DataFrame({
        "社区代码": codes + ["", "120103999999", codes[0][:-1] + "9"],
        "社区名称": ["", "", "", comm["name"].iloc[5].replace("居委会", ""), "不存在社区", "坏行"],
        "常住人口": ["5000", "8,000", "12000", "7000", "999", "约三千"],
        "60岁及以上": ["1500", "2000", "", "2100", "", ""],
    })
    path = tmp_path / "population.xlsx"
    table.to_excel(path, index=False)
    config = hexi_config.with_settings(population={"table": path, "table_level": "community", "raster": None, "census_file": None, "census_code": None})
    origins = hexi_run.origins
    unit = communities.assign_origins(origins, hexi_run.communities)
    report = InputReport()
    scaled, info = population.apply_inputs(origins, hexi_run.communities, None, {"community": unit}, **_inputs_of(config),
                                           report=report)
    per = pd.Series(scaled["residents"].to_numpy()).groupby(unit).sum()
    cid = hexi_run.communities.set_index("code")["community_id"]
    assert per[cid[codes[0]]] == pytest.approx(5000)
    assert per[cid[codes[1]]] == pytest.approx(8000)
    assert per[cid[codes[2]]] == pytest.approx(12000)
    assert per[hexi_run.communities["community_id"].iloc[5]] == pytest.approx(7000)
    # Within a community, origins keep their relative weights.
    inside = (unit == cid[codes[0]]) & (origins["residents"].to_numpy() > 0)
    ratio = scaled["residents"].to_numpy()[inside] / origins["residents"].to_numpy()[inside]
    assert np.allclose(ratio, ratio[0])
    # Age groups from the table: 60+ where given; elsewhere the table's overall share.
    old = pd.Series(scaled["residents_60plus"].to_numpy()).groupby(unit).sum()
    assert old[cid[codes[0]]] == pytest.approx(1500)
    overall = (1500 + 2000 + 2100) / (5000 + 8000 + 7000)
    assert old[cid[codes[2]]] == pytest.approx(12000 * overall)
    problems = report.frame()
    assert problems["problem"].str.contains("no community or street matches '120103999999'").any()
    assert problems["problem"].str.contains("not a number of residents: '约三千'").any()
    populated = int((hexi_run.communities["residents"] > 0).sum())
    assert (problems["problem"].str.startswith("no row for community")).sum() == populated - 4
    assert len(problems) == 2 + populated - 4
    assert info["age_groups_from"] == "population table"


def test_population_raster_is_summed_into_cells(chengdu_config, chengdu_run, tmp_path):
    import h3
    import rasterio
    from affine import Affine

    from servicecircle import grid

    # Test input: a 20 × 20 grid of 0.002° pixels inside central Chengdu; pixel (i, j) holds i + j people.
    west, north, size = 104.06, 30.71, 0.002
    values = np.add.outer(np.arange(20), np.arange(20)).astype("float32")
    values[3, 4] = -1  # nodata
    path = tmp_path / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", height=20, width=20, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(size, 0, west, 0, -size, north), nodata=-1) as dst:
        dst.write(values, 1)
    config = chengdu_config.with_settings(population={"table": None, "raster": path, "census_file": None, "census_code": None})
    area = grid.study_area(config.area, chengdu_run.network)
    origins = population.residential_origins(chengdu_run.origins.iloc[:0].assign(tags=[]), area, settings=config.population,
                                             h3_resolution=config.grid.h3_resolution, crs=chengdu_run.network.crs)
    got = origins[origins["method"] == "raster"].groupby("h3")["residents"].sum()
    expected = {}
    for i in range(20):
        for j in range(20):
            if values[i, j] > 0:
                cell = h3.latlng_to_cell(north - (i + 0.5) * size, west + (j + 0.5) * size, config.grid.h3_resolution)
                expected[cell] = expected.get(cell, 0.0) + float(values[i, j])
    assert got.to_dict() == pytest.approx(expected)
    assert origins["residents"].sum() == pytest.approx(values[values > 0].sum())


def test_street_table_by_name_sets_every_street_total(hexi_run, hexi_config, tmp_path):
    streets = communities.load_streets(hexi_config.streets)
    units = communities.rollup_geometry(streets, hexi_run.communities)
    unit = communities.assign_origins(hexi_run.origins, units, "street_id")
    # Test input: a per-street table by name only, 10,000 × (street number + 1) residents, GBK CSV.
    table = pd.DataFrame({"街道名称": streets["name"], "人口": [10_000 * (i + 1) for i in range(len(streets))]})
    path = tmp_path / "streets.csv"
    table.to_csv(path, index=False, encoding="gbk")
    config = hexi_config.with_settings(population={"table": path, "table_level": "street"})
    report = InputReport()
    scaled, info = population.apply_inputs(hexi_run.origins, hexi_run.communities, streets, {"street": unit},
                                           **_inputs_of(config), report=report)
    per = pd.Series(scaled["residents"].to_numpy()).groupby(unit).sum()
    assert per.loc[streets["street_id"]].to_numpy() == pytest.approx(table["人口"].to_numpy())
    assert len(report.frame()) == 0 and "per street" in info["scaled_to"]
    # Census age shares still apply where the table has no age columns.
    assert scaled["residents_60plus"].sum() == pytest.approx(scaled["residents"].sum() * 230_176 / 822_174)


@pytest.mark.slow  # parses the census workbook, unless a test before did
@pytest.mark.needs_data
def test_census_figures_are_cached_by_file_hash(tmp_path):
    require_data(CENSUS)
    first = population.census_figures(CENSUS, "120103", tmp_path)
    cached = list(tmp_path.glob("census_*_120103.json"))
    assert len(cached) == 1
    assert population.census_figures(CENSUS, "120103", tmp_path) == first


# The building estimate (population.residential_origins).

def test_residents_come_from_buildings_and_residential_land(chengdu_run):
    origins = chengdu_run.origins
    by = origins.groupby("method")["residents"].sum()
    assert by["building"] > 0 and by["landuse"] > 0
    assert by.get("cell_centre", 0) == 0
    assert np.isclose(origins["residents"].sum(), chengdu_run.cells["residents"].sum())
    c = chengdu_run.config
    b = origins[origins["method"] == "building"]
    np.testing.assert_allclose(b["residents"], b["floor_area_m2"] / c.population.floor_area_per_person_m2)


def _streetless_case():
    """Test input: two 600 m × 600 m communities side by side near Hexi (UTM 50N); the west one has 36
    street-length origins of weight 100 (1 m² of floor area each), the east one none (a gated compound)."""
    import geopandas as gpd
    import shapely

    from servicecircle import h3cells
    from servicecircle.coords import WGS84

    crs = "EPSG:32650"
    x0, y0 = 489_000.0, 4_325_000.0
    west, east = shapely.box(x0, y0, x0 + 600, y0 + 600), shapely.box(x0 + 600, y0, x0 + 1200, y0 + 600)
    comms = gpd.GeoDataFrame({"community_id": [0, 1], "name": ["西社区", "东园社区"], "source_row": [1, 2]},
                             geometry=[west, east], crs=crs)
    gx, gy = np.meshgrid(x0 + 50 + 100 * np.arange(6), y0 + 50 + 100 * np.arange(6))
    pts = gpd.GeoSeries(gpd.points_from_xy(gx.ravel(), gy.ravel()), crs=crs)
    lonlat = shapely.get_coordinates(pts.to_crs(WGS84).values)
    origins = gpd.GeoDataFrame({"method": "street_length", "floor_area_m2": 100.0, "osm_id": -1,
                                "h3": h3cells.cells_of_points(lonlat[:, 0], lonlat[:, 1], 10), "residents": 2.5},
                               geometry=pts.values, crs=crs)
    # The grid: every cell whose centre lies in either community (as residential_origins makes it), each
    # present among the origins (cell-centre origins hold the empty ones).
    area = gpd.GeoSeries([shapely.union(west, east)], crs=crs).to_crs(WGS84).iloc[0]
    grid = h3cells.cells_in(area, 10)
    empty = np.setdiff1d(grid, origins["h3"].to_numpy(dtype=object))
    centres = gpd.GeoSeries(gpd.points_from_xy(*h3cells.centres(empty)), crs=WGS84).to_crs(crs)
    origins = pd.concat([origins, gpd.GeoDataFrame({"method": "cell_centre", "floor_area_m2": 0.0, "osm_id": -1,
                                                    "h3": empty, "residents": 0.0}, geometry=centres.values, crs=crs)],
                        ignore_index=True)
    return gpd.GeoDataFrame(origins, geometry="geometry", crs=crs), comms, grid


def test_streetless_community_is_spread_over_its_cells_by_area():
    import h3
    import shapely

    origins, comms, grid = _streetless_case()
    unit = communities.assign_origins(origins, comms)
    report = InputReport()
    out, out_unit = population.fill_streetless_communities(origins, comms, unit, 10, report, "comms.geojson")
    added = out.iloc[len(origins):]
    assert added["population_fallback"].all() and not out.iloc[:len(origins)]["population_fallback"].any()
    assert (out_unit[len(origins):] == 1).all()
    # The west community's density (3,600 of weight on 0.36 km²) times the east's equal area: 3,600 of weight,
    # 2.5 residents per 100 of weight → 90 residents, all placed.
    assert added["floor_area_m2"].sum() == pytest.approx(3_600.0)
    assert added["residents"].sum() == pytest.approx(90.0)
    # Not one point: every grid cell the compound overlaps by more than a sliver holds some of them,
    # in proportion to the overlap, measured here cell by cell with h3-py's own hexagons.
    east_ll = comms.to_crs("EPSG:4326").geometry.iloc[1]
    overlap = {c: shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]).intersection(east_ll).area
               for c in grid}
    overlap = {c: a for c, a in overlap.items() if a > 0}
    per_cell = added.groupby("h3")["residents"].sum()
    assert set(per_cell.index) == set(overlap) and len(per_cell) >= 10
    share = pd.Series(overlap) / sum(overlap.values())
    np.testing.assert_allclose(per_cell.loc[share.index].to_numpy() / 90.0, share.to_numpy(), atol=2e-3)
    # Every origin lies inside the compound, so streets and cells see it where it is.
    assert shapely.contains_xy(comms.geometry.iloc[1].buffer(1e-6), *shapely.get_coordinates(added.geometry.values).T).all()
    [line] = report.rows
    assert line["row"] == 2 and "东园社区" in line["problem"] and f"{len(per_cell)} H3 cells" in line["action"]
    assert "population_fallback" in line["action"]


def test_fallback_residents_reach_cells_and_blind_spots():
    from servicecircle import gaps, grid as grid_module
    from servicecircle.config import make_config

    origins, comms, _ = _streetless_case()
    unit = communities.assign_origins(origins, comms)
    out, out_unit = population.fill_streetless_communities(origins, comms, unit, 10, InputReport(), "c.geojson")
    config = make_config({"area": {"name": "t", "bbox": [117.0, 39.0, 117.1, 39.1]},
                          "categories": {"canteen": {"keywords": ["x"]}}})
    config = config.with_settings(categories={"canteen": config.categories["canteen"]})
    times = pd.DataFrame({"walk_time_s_canteen": np.full(len(out), np.inf), "nearest_canteen": ""})
    cells = grid_module.build_cells(out, times, categories=config.categories, coverage_threshold_min=15)
    assert cells["population_fallback"].sum() == pytest.approx(90.0)
    assert cells["residents"].sum() == pytest.approx(90.0 + 36 * 2.5)
    flagged = cells["population_fallback"] > 0
    assert (cells.loc[flagged, "population_fallback"] <= cells.loc[flagged, "residents"] + 1e-9).all()
    spots = gaps.blind_spots(cells, out, out_unit, comms, pd.DataFrame({"facility_id": [], "name": []}), config)
    assert spots["population_fallback"].sum() == pytest.approx(90.0)
    # Without the fallback column (building or raster runs) every cell says 0.
    plain = grid_module.build_cells(origins, times.iloc[:len(origins)], categories=config.categories,
                                    coverage_threshold_min=15)
    assert (plain["population_fallback"] == 0).all()


def test_a_total_counts_the_cells_of_its_census_area(tmp_path):
    """SYNTHETIC origins on a row of H3 cells: with census_area_file the total is held by the residents of the
    cells whose centre lies in that polygon, and every other origin is scaled by the same factor."""
    import json

    import geopandas as gpd
    import shapely

    from servicecircle import h3cells
    from servicecircle.config import make_config

    lon = np.linspace(104.00, 104.02, 21)
    lat = np.full(21, 30.60)
    cells = h3cells.cells_of_points(lon, lat, 10)
    origins = gpd.GeoDataFrame({"residents": np.arange(1.0, 22.0), "h3": cells},
                               geometry=shapely.points(lon, lat), crs="EPSG:4326")
    (tmp_path / "west.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {},
        "geometry": shapely.geometry.mapping(shapely.box(103.99, 30.59, 104.0101, 30.61))}]}), encoding="utf-8")
    config = make_config({"area": {"name": "t", "bbox": [103.9, 30.5, 104.1, 30.7], "population_total": 1000.0},
                          "population": {"census_area_file": "west.geojson"}}, base_dir=tmp_path)
    scaled, _ = population.apply_inputs(origins, origins.iloc[:0], None, {}, **_inputs_of(config), report=InputReport())
    c_lon, c_lat = h3cells.centres(cells)
    west = shapely.contains_xy(shapely.box(103.99, 30.59, 104.0101, 30.61), c_lon, c_lat)
    assert 0 < west.sum() < len(west)
    assert scaled["residents"].to_numpy()[west].sum() == pytest.approx(1000.0)
    factor = scaled["residents"].to_numpy() / origins["residents"].to_numpy()
    assert np.allclose(factor, factor[0])  # the rest by the same factor
