"""Population inputs: census totals and age shares, per-community tables, and a street-length proxy.

The spine estimates residents from OSM buildings. Real runs correct that
estimate with what the user knows, in this order:

1. a per-community (or per-street) table — residents, and optionally
   residents aged 60+ and 0–3 — is spread over the origins inside each unit
   in proportion to the building estimate;
2. otherwise a census district (2020 census, ``census_code``) scales the
   total to the district's real population; ``population_total`` does the
   same with a number;
3. age groups come from the table where it has them, else from the census
   district's shares (60+ and 0–4, the census bands nearest the policy's
   0–3), applied uniformly.

A population raster (GeoTIFF, people per pixel, e.g. WorldPop) replaces the
building estimate altogether; tables and census totals then scale it.

Where no building is mapped at all (road-line runs such as Tianjin Hexi),
residents are spread over H3 cells in proportion to the walkable street
length inside the study area — a proxy, labelled ``street_length`` in every
output, and scaled to the census total.

The building estimate (:func:`residential_origins`) puts residents where they live, at
*residential origins*:

* residential buildings — ``building`` in ``[population] residential_buildings``, or
  ``building=yes`` inside a ``landuse=residential`` area: footprint × levels
  (``building:levels``, else ``height`` / 3 m, else ``default_levels``) gives floor
  area, divided by ``floor_area_per_person_m2`` (default 40 m², near the 39.8 m² per
  urban resident of China's 2019 statistics);
* ``landuse=residential`` areas holding no residential building: each piece of the
  area inside an H3 cell × ``landuse_floor_area_ratio`` / floor area per person.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import arrays, h3cells, inputs, parallel, runcache
from .config import PopulationSettings
from .coords import WGS84
from .errors import InputError
from .network import WalkNetwork, points_along_edges
from .registries import header_key, names_match

log = logging.getLogger(__name__)

#: Age groups that flow through cells and communities, with their labels.
AGE_GROUPS = {"60plus": "aged 60+", "0_3": "aged 0–3", "0_4": "aged 0–4"}

TABLE_ALIASES = {
    "code": ("代码", "区划代码", "编码", "社区代码", "街道代码", "code"),
    "name": ("名称", "社区", "社区名称", "街道", "街道名称", "name"),
    "residents": ("人口", "常住人口", "人口数", "总人口", "residents", "population"),
    "residents_60plus": ("60岁以上", "60岁及以上", "60岁及以上人口", "老年人口", "aged_60plus", "residents_60plus"),
    "residents_0_3": ("0-3岁", "0到3岁", "0至3岁", "婴幼儿", "婴幼儿人口", "aged_0_3", "residents_0_3"),
}

#: Street-length proxy: one origin every this many metres along each edge.
PROXY_SPACING_M = 50.0


def _census_table(path: Path) -> pd.DataFrame:
    # calamine (Rust) reads the 3,358 × 153 workbook in ~0.9 s where openpyxl takes ~7 s; the same frame.
    return pd.read_excel(path, dtype={"区划代码": str}, engine="calamine")


def census_figures(path: Path, code: str, cache_dir: Path | None = None) -> dict:
    """Residents and age groups of one county-level unit of China's 2020 census table.

    Parameters
    ----------
    path : path
        ``census_county_2020_v1.xlsx`` (columns ``区划代码``, ``人口数_合计``,
        ``男_0岁`` … ``女_85岁以上``).
    code : str
        Six-digit division code, e.g. ``"120103"`` (河西区).
    cache_dir : path, optional
        Keep the figures there, keyed by the file's hash: parsing the
        3,358 × 153 workbook takes ~1 s, the district's row is a few bytes.

    Returns
    -------
    dict
        ``name``, ``total``, ``groups`` {"60plus": n, "0_4": n}.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(key="error.file_not_found", what=("error.what_census_file", {}), path=path)
    cached = None
    if cache_dir is not None:
        # The run's stage cache digests the same file: runcache remembers it, so it is read once.
        digest = runcache.file_digest(path)[:16]
        cached = Path(cache_dir) / f"census_{digest}_{code}.json"
        if cached.is_file():
            return dict(json.loads(cached.read_text(encoding="utf-8")), source=str(path))
    table = _census_table(path)
    if "区划代码" not in table.columns or "人口数_合计" not in table.columns:
        raise InputError(key="error.not_census_table", path=path)
    row = table[table["区划代码"].astype(str).str.strip() == str(code)]
    if len(row) != 1:
        raise InputError(key="error.census_code_not_found", path=path, code=repr(code))
    row = row.iloc[0]

    def band(*names: str) -> float:
        return float(sum(pd.to_numeric(row[f"{sex}_{n}"]) for n in names for sex in ("男", "女")))

    older = band("60到64岁", "65到69岁", "70到74岁", "75到79岁", "80到84岁", "85岁以上")
    young = band("0岁", "1到4岁")
    figures = {"name": f"{row['市']}{row['区县']}", "code": str(code), "total": float(row["人口数_合计"]),
               "groups": {"60plus": older, "0_4": young}, "source": str(path)}
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(figures, ensure_ascii=False), encoding="utf-8")
    return figures


def street_length_origins(net: WalkNetwork, area: shapely.Polygon | shapely.MultiPolygon, grid_cells: np.ndarray,
                          res: int) -> pd.DataFrame:
    """Proxy origins every :data:`PROXY_SPACING_M` along the network inside ``area`` (WGS-84),
    weighted by the length they stand for. ``grid_cells`` and the table's ``h3`` are uint64 cell ids."""
    edge, _, n_points, pts = points_along_edges(net, PROXY_SPACING_M, np.ceil)
    xy = shapely.get_coordinates(pts)
    weight = net.edge_length_m[edge] / n_points
    lonlat = shapely.get_coordinates(gpd.GeoSeries(pts, crs=net.crs).to_crs(WGS84).values)
    cells = h3cells.ids_of_points(lonlat[:, 0], lonlat[:, 1], res)
    table = pd.DataFrame({"method": "street_length", "floor_area_m2": weight, "x": xy[:, 0], "y": xy[:, 1],
                          "osm_id": -1, "h3": cells})
    inside = shapely.contains_xy(area, lonlat[:, 0], lonlat[:, 1])
    return table[inside & np.isin(cells, grid_cells)]


def fill_streetless_communities(origins: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, unit: np.ndarray,
                                res: int, report: inputs.InputReport,
                                path: Path | str) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Street-length proxy only: give communities with no walkable street inside the median density.

    Gated compounds often have no street in a road file, yet people live
    there; left alone they would count zero residents. Each gets its area ×
    the median proxy weight per m² of the communities that do hold streets,
    spread over its area: the polygon is cut by the H3 cells of the grid it
    touches and every piece gets an origin weighted by its share of the
    community's area — one point holding a whole community would make a
    blind spot of a single cell that nothing in the data supports. Those
    origins are marked ``population_fallback`` (every other origin False),
    so cells, blind spots and the map can say their residents are an
    estimate resting on the fallback; each community gets a line in the report.
    """
    proxy = (origins["method"] == "street_length").to_numpy()
    if not proxy.any() or len(communities) == 0:
        return origins, unit
    crs = origins.crs
    comm = communities.to_crs(crs)
    weight = pd.Series(origins["floor_area_m2"].to_numpy() * proxy).groupby(unit).sum()
    area = pd.Series(comm.area.to_numpy(), index=comm["community_id"].to_numpy())
    held = weight[weight.index >= 0]
    held = held[held > 0]
    density = float(np.median(held / area[held.index])) if len(held) else 0.0
    empty = comm[~comm["community_id"].isin(held.index)].reset_index(drop=True)
    if len(empty) == 0 or density <= 0:
        return origins, unit
    per_weight = origins.loc[proxy, "residents"].sum() / origins.loc[proxy, "floor_area_m2"].sum()
    owner, piece_cells, pieces = _pieces_in_grid(empty, origins["h3"].to_numpy(dtype=object), crs, res)
    # A community too small to hold a piece in any grid cell keeps one origin at its representative point.
    alone = np.setdiff1d(np.arange(len(empty)), owner)
    if len(alone):
        pts = shapely.point_on_surface(np.asarray(empty.geometry.values)[alone])
        lonlat = shapely.get_coordinates(gpd.GeoSeries(pts, crs=crs).to_crs(WGS84).values)
        owner = np.concatenate([owner, alone])
        piece_cells = np.concatenate([piece_cells, h3cells.cells_of_points(lonlat[:, 0], lonlat[:, 1], res)])
        pieces = np.concatenate([pieces, pts])
    order = np.argsort(owner, kind="stable")
    owner, piece_cells, pieces = owner[order], piece_cells[order], pieces[order]
    piece_area = np.maximum(shapely.area(pieces), 0.0)
    owner_area = np.bincount(owner, weights=piece_area, minlength=len(empty))
    # Each community's pieces share its weight by area; a lone point (area 0) takes it all.
    share = np.where(owner_area[owner] > 0, piece_area / np.where(owner_area[owner] > 0, owner_area[owner], 1.0), 1.0)
    comm_weight = area[empty["community_id"]].to_numpy() * density
    extra = gpd.GeoDataFrame({
        "method": "street_length", "floor_area_m2": comm_weight[owner] * share,
        "osm_id": -1, "h3": piece_cells, "population_fallback": True,
    }, geometry=shapely.point_on_surface(pieces), crs=crs)
    extra["residents"] = extra["floor_area_m2"] * per_weight
    n_cells = np.bincount(owner, minlength=len(empty))
    for row, name, n in zip(empty["source_row"], empty["name"], n_cells):
        report.say(path, row if row >= 0 else None, "geometry", "no_street_inside", "spread_over_area", name=name, n=n)
    out = pd.concat([origins.assign(population_fallback=False), extra], ignore_index=True)
    out["origin_id"] = np.arange(len(out))
    return (gpd.GeoDataFrame(out, geometry="geometry", crs=crs),
            np.r_[unit, empty["community_id"].to_numpy()[owner]])


def _pieces_in_grid(polygons: gpd.GeoDataFrame, grid_cells: np.ndarray, crs: str,
                    res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each polygon (in ``crs``) cut by the H3 cells it touches, keeping pieces in ``grid_cells`` (strings).

    Returns (polygon index, cell string, piece geometry in ``crs``) of every
    non-empty piece, in one overlay over all polygons at once.
    """
    owner, cells = h3cells.cells_touching(np.asarray(polygons.to_crs(WGS84).geometry.values), res)
    in_grid = np.isin(cells, h3cells.to_int(np.unique(grid_cells)))
    owner, cells = owner[in_grid], cells[in_grid]
    hexes = np.asarray(gpd.GeoSeries(h3cells.polygons(cells), crs=WGS84).to_crs(crs).values)
    pieces = shapely.intersection(hexes, np.asarray(polygons.geometry.values)[owner])
    keep = shapely.area(pieces) > 0
    return owner[keep], h3cells.strings(cells[keep]), pieces[keep]


def raster_origins(path: Path, grid_cells: np.ndarray, res: int, crs: str) -> pd.DataFrame:
    """One origin per populated pixel of a population raster (e.g. WorldPop GeoTIFF), at its centre.

    The pixel value is the number of residents; nodata and values ≤ 0 are
    skipped. Pixels are summed into H3 cells by their centre. ``grid_cells`` and
    the table's ``h3`` are uint64 cell ids.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(key="error.file_not_found", what=("error.what_population_raster", {}), path=path)
    try:
        import rasterio
    except ImportError:  # an optional extra: most runs estimate residents from buildings or tables
        raise InputError(key="error.raster_needs_rasterio", path=path) from None
    try:
        with rasterio.open(path) as src:
            values = src.read(1, masked=True).astype(float).filled(0.0)
            transform, src_crs = src.transform, src.crs
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(key="error.cannot_read", path=path, what=("error.what_population_raster", {}),
                         problem=exc) from None
    if src_crs is None:
        raise InputError(key="error.raster_no_crs", path=path)
    rows, cols = np.nonzero(np.nan_to_num(values) > 0)
    t, c, r = transform, cols + 0.5, rows + 0.5  # pixel centres through the affine geotransform
    xs, ys = t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f
    pts = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=src_crs)
    lonlat = shapely.get_coordinates(pts.to_crs(WGS84).values)
    xy = shapely.get_coordinates(pts.to_crs(crs).values)
    cells = h3cells.ids_of_points(lonlat[:, 0], lonlat[:, 1], res)
    table = pd.DataFrame({"method": "raster", "floor_area_m2": 0.0, "x": xy[:, 0], "y": xy[:, 1], "osm_id": -1,
                          "h3": cells, "residents": values[rows, cols]})
    return table[np.isin(cells, grid_cells)]


def read_population_table(spec: PopulationSettings, report: inputs.InputReport) -> pd.DataFrame:
    """The per-unit population table: ``code``, ``name``, ``residents`` and any ``residents_<group>``."""
    assert spec.table is not None  # read only when [population] table is set (apply_inputs)
    table = inputs.read_table(spec.table, what="population table", encoding=spec.table_encoding)
    headers = [c for c in table.columns if not c.startswith("_")]
    explicit = dict(spec.table_columns)
    found = {f: c for f, c in explicit.items() if c in headers}
    keyed = {header_key(h): h for h in headers}
    for field, aliases in TABLE_ALIASES.items():
        for alias in aliases:
            key = header_key(alias)
            if field not in found and key in keyed:
                found[field] = keyed[key]
    if "residents" not in found or not ({"code", "name"} & set(found)):
        raise InputError(key="error.population_columns", path=spec.table, columns=", ".join(headers))
    out = pd.DataFrame({"_row": table["_row"]})
    out["code"] = table[found["code"]].astype(str) if "code" in found else ""
    out["name"] = table[found["name"]].astype(str) if "name" in found else ""
    keep = np.ones(len(table), bool)
    for field in [f for f in ("residents", "residents_60plus", "residents_0_3") if f in found]:
        raw_text = table[found[field]].astype(str).str.replace(",", "").str.strip()
        values = pd.to_numeric(raw_text, errors="coerce")
        # A blank age-group cell is simply unknown; a blank or unreadable total is a problem.
        bad = (values.isna() & ((raw_text != "") | (field == "residents"))) | (values < 0)
        for row, raw in zip(table.loc[bad, "_row"], table.loc[bad, found[field]]):
            report.say(spec.table, row, found[field], "not_residents",
                       "row_dropped" if field == "residents" else "age_blank", value=raw)
        if field == "residents":
            keep &= values.notna().to_numpy() & (values >= 0).to_numpy()
        out[field] = values
    return out[keep].reset_index(drop=True)


def _match_units(table: pd.DataFrame, units: gpd.GeoDataFrame, id_field: str, path: Path,
                 report: inputs.InputReport) -> pd.Series:
    """Unit id of each table row: by code when both have codes, else by name (containment allowed)."""
    codes = dict(zip(units["code"].astype(str), units[id_field])) if "code" in units.columns else {}
    found = []
    for row, code, name in zip(table["_row"], table["code"], table["name"]):
        uid = codes.get(str(code).strip()) if code else None
        if uid is None and name:
            hits = [u for u, n in zip(units[id_field], units["name"]) if names_match(name, n)]
            uid = hits[0] if len(hits) == 1 else None
        if uid is None:
            report.say(path, row, "code/name", "no_unit_match", "row_not_used", value=code or name)
        found.append(-1 if uid is None else uid)
    return pd.Series(found, index=table.index)


def apply_inputs(origins: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None,
                 unit_of_origin: dict[str, np.ndarray], *, settings: PopulationSettings,
                 population_total: float | None, cache_dir: Path | None, report: inputs.InputReport
                 ) -> tuple[gpd.GeoDataFrame, dict]:
    """Scale the estimated residents to the population inputs and add ``residents_<group>`` columns.

    Returns the origins and a description of what was applied (for the summary).
    """
    spec = settings
    out = origins.drop(columns=[f"residents_{g}" for g in AGE_GROUPS if f"residents_{g}" in origins.columns])
    info: dict = {"scaled_to": None, "age_groups_from": None}
    census = None
    if spec.census_file is not None:
        assert spec.census_code is not None  # PopulationSettings._resolve: census_file and census_code go together
        census = census_figures(spec.census_file, spec.census_code, cache_dir)
    if census:
        info["census"] = census
    def counted_total() -> float:  # the residents the total counts: all, or those of census_area_file's cells
        return float(out["residents"].to_numpy(float)[_in_census_area(out, spec.census_area_file)].sum())

    if spec.table is not None:
        _scale_to_table(out, spec, communities, streets, unit_of_origin, report, info)
    elif census:
        total = counted_total()
        if total > 0:
            out["residents"] *= census["total"] / total
        info["scaled_to"] = report.text("census_total", name=census["name"], total=census["total"])
    elif population_total is not None and (total := counted_total()) > 0:
        out["residents"] *= population_total / total
        info["scaled_to"] = report.text("population_total", total=population_total)
    if census:
        for group, n in census["groups"].items():
            col = f"residents_{group}"
            if col not in out.columns:
                out[col] = out["residents"] * (n / census["total"])
                info["age_groups_from"] = info["age_groups_from"] or report.text("census_shares", name=census["name"])
    return out, info


def _in_census_area(origins: gpd.GeoDataFrame, path: Path | None) -> np.ndarray:
    """Per origin: its H3 cell's centre lies in the polygon of ``path`` (all True without one). One H3 call
    over the distinct cells and one point-in-polygon pass."""
    if path is None or len(origins) == 0:
        return np.ones(len(origins), dtype=bool)
    area = inputs.read_vector(path, what="area polygon file", coord_system="wgs84", polygons=True).union_all()
    cells, owner = np.unique(origins["h3"].to_numpy(dtype=object).astype(str), return_inverse=True)
    lon, lat = h3cells.centres(cells)
    return shapely.contains_xy(area, lon, lat)[owner]


def _scale_to_table(out: gpd.GeoDataFrame, spec: PopulationSettings, communities: gpd.GeoDataFrame,
                    streets: gpd.GeoDataFrame | None, unit_of_origin: dict[str, np.ndarray],
                    report: inputs.InputReport, info: dict) -> None:
    """Spread a per-unit population table over the origins of each unit (in place), in proportion to the estimate."""
    assert spec.table is not None  # called only with [population] table set (apply_inputs)
    level = spec.table_level
    units = communities if level == "community" else streets
    id_field = "community_id" if level == "community" else "street_id"
    if units is None or len(units) == 0:
        raise InputError(key="error.population_units", path=spec.table, level=(f"error.level_{level}", {}))
    weight = out["residents"].to_numpy(float)
    table = read_population_table(spec, report)
    table["unit"] = _match_units(table, units, id_field, spec.table, report)
    table = table[table["unit"] >= 0].drop(columns="_row").groupby("unit").sum(numeric_only=True, min_count=1)
    unit = unit_of_origin[level]
    est = pd.Series(weight).groupby(unit).sum()
    matched = table.index.intersection(est[est > 0].index)
    factor = pd.Series(1.0, index=est.index)
    factor[matched] = table.loc[matched, "residents"] / est[matched]
    overall = table.loc[matched, "residents"].sum() / est[matched].sum() if len(matched) else 1.0
    names = dict(zip(units[id_field], units["name"]))
    for uid in est.index:
        if uid >= 0 and uid not in table.index and est[uid] > 0:
            report.say(spec.table, None, "residents", "no_row_for", "scaled_overall",
                       level=report.text("level_" + level), name=names.get(uid, uid), factor=overall)
            factor[uid] = overall
    for uid in table.index.difference(matched):
        report.say(spec.table, None, "residents", "no_origin", "not_placed",
                   level=report.text("level_" + level), name=names.get(uid, uid))
    out["residents"] = weight * factor.reindex(unit).fillna(overall).to_numpy()
    info["scaled_to"] = report.text("scaled_to", level=report.text("level_" + level), table=spec.table)
    for group in ("60plus", "0_3"):
        col = f"residents_{group}"
        if col in table.columns:
            known = table[col].notna() & (table["residents"] > 0)
            share = table.loc[known, col] / table.loc[known, "residents"]
            # Units with no figure for the group take the table's overall share.
            overall_share = table.loc[known, col].sum() / table.loc[known, "residents"].sum() if known.any() else np.nan
            out[col] = out["residents"].to_numpy() * pd.Series(unit).map(share).fillna(overall_share).to_numpy()
            info["age_groups_from"] = report.text("population_table")


def age_groups(frame: pd.DataFrame) -> list[str]:
    """The age groups present as ``residents_<group>`` columns, in :data:`AGE_GROUPS` order."""
    return [g for g in AGE_GROUPS if f"residents_{g}" in frame.columns]


def group_column(frame: pd.DataFrame, group: str) -> tuple[str, str]:
    """The residents column a goal's group uses, and how to say it (falls back to all residents)."""
    wanted = {"60plus": ["60plus"], "young": ["0_3", "0_4"], "0_3": ["0_3"], "0_4": ["0_4"], "all": []}[group]
    for g in wanted:
        if f"residents_{g}" in frame.columns:
            return f"residents_{g}", f"residents {AGE_GROUPS[g]}"
    if wanted:
        return "residents", "residents (all ages: no age data loaded)"
    return "residents", "residents"


_NUMBER_GROUP = r"(\d+(?:\.\d+)?)"


def _levels(tags: pd.Series, default: float) -> np.ndarray:
    """Storeys of each building: ``building:levels``, else ``height`` / 3 m, else ``default`` (at least 1)."""
    out = np.full(len(tags), np.nan)
    for key, scale in (("building:levels", 1.0), ("height", 1 / 3.0)):
        text = tags.map(lambda t, key=key: t.get(key)).astype("string")
        value = pd.to_numeric(text.str.extract(_NUMBER_GROUP, expand=False), errors="coerce").to_numpy(float)
        take = np.isnan(out) & (value > 0)
        out[take] = np.maximum(1.0, value[take] * scale)
    return np.where(np.isnan(out), default, out)


def residential_origins(features: gpd.GeoDataFrame, area: shapely.Polygon | shapely.MultiPolygon, *,
                        settings: PopulationSettings, h3_resolution: int, crs: str,
                        net: WalkNetwork | None = None) -> gpd.GeoDataFrame:
    """Points where residents live, with estimated residents, inside the study area's cells.

    Where the features hold no residential building or land at all (a run on
    road lines alone), ``net`` gives street-length proxy origins instead
    (:func:`street_length_origins`); a population raster in ``settings``
    replaces the estimate (:func:`raster_origins`).

    Returns
    -------
    GeoDataFrame
        ``origin_id``, ``h3``, ``method`` (building / landuse / cell_centre),
        ``floor_area_m2``, ``residents``, point geometry in ``crs``.
    """
    res = h3_resolution
    # Cells as uint64 ids until the table is done: set operations on a city's strings cost minutes.
    grid_cells = h3cells.ids_in(area, res)
    polys = features[features.geom_type.isin(["Polygon", "MultiPolygon"])]
    is_landuse = polys["tags"].map(lambda t: t.get("landuse") == "residential").to_numpy(bool)
    landuse = polys[is_landuse].to_crs(crs)
    building_value = polys["tags"].map(lambda t: t.get("building"))
    buildings = polys[building_value.notna().to_numpy() & ~is_landuse].to_crs(crs)
    bvalue = building_value[buildings.index]

    # building=yes counts only inside residential land; named types count anywhere.
    points = buildings.geometry.representative_point()
    in_landuse = np.zeros(len(buildings), bool)
    if len(landuse) and len(buildings):
        hit, _ = landuse.sindex.query(points.values, predicate="within")
        in_landuse[arrays.unique(hit)] = True
    residential = bvalue.isin(settings.residential_buildings).to_numpy() | ((bvalue == "yes").to_numpy() & in_landuse)
    buildings, points = buildings[residential], points[residential]
    levels = _levels(buildings["tags"], settings.default_levels)
    floor = buildings.area.to_numpy() * levels

    origins = [pd.DataFrame({"method": "building", "floor_area_m2": floor, "x": points.x.to_numpy(),
                             "y": points.y.to_numpy(), "osm_id": buildings["osm_id"].to_numpy()})]
    origins[0]["h3"] = _cells_of(origins[0][["x", "y"]].to_numpy(), crs, res)

    # Residential land without any mapped residential building: spread by area, cut by cell.
    if len(landuse):
        has_building = np.zeros(len(landuse), bool)
        if len(points):
            hit, _ = points.sindex.query(landuse.geometry.values, predicate="contains")
            has_building[arrays.unique(hit)] = True
        empty = landuse[~has_building]
        if len(empty):
            origins.append(_landuse_pieces(empty, crs, res, settings.landuse_floor_area_ratio))
    table = pd.concat(origins, ignore_index=True)
    table = table[np.isin(table["h3"].to_numpy(np.uint64), grid_cells)]
    if len(table) == 0 and net is not None:
        table = street_length_origins(net, area, grid_cells, res)
    table["residents"] = table["floor_area_m2"] / settings.floor_area_per_person_m2
    if settings.raster is not None:
        # A population grid replaces the building estimate; it already counts people.
        table = raster_origins(settings.raster, grid_cells, res, crs)

    # Cells without residents still get a travel time, measured from their centre.
    missing = grid_cells[~np.isin(grid_cells, table["h3"].to_numpy(np.uint64))]
    if len(missing):
        xy = _project(np.column_stack(h3cells.centres(missing)), crs)
        table = pd.concat([table, pd.DataFrame({
            "method": "cell_centre", "floor_area_m2": 0.0, "x": xy[:, 0], "y": xy[:, 1],
            "osm_id": -1, "h3": missing, "residents": 0.0})], ignore_index=True)
    table = table.astype({"h3": np.uint64}).sort_values(["h3", "method", "osm_id", "x", "y"], kind="stable")
    table = table.reset_index(drop=True)
    table["h3"] = h3cells.strings(table["h3"].to_numpy())  # one resolution: numeric order is hexadecimal order
    table["origin_id"] = np.arange(len(table))
    return gpd.GeoDataFrame(
        table.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(table["x"], table["y"]), crs=crs
    )


def _landuse_pieces(landuse: gpd.GeoDataFrame, crs: str, res: int, far: float) -> pd.DataFrame:
    """Intersect residential land with the H3 cells that touch it; one origin per piece."""
    lonlat = landuse.to_crs(WGS84)
    owner, cells = h3cells.cells_touching(lonlat.geometry.values, res)
    hexes = np.asarray(gpd.GeoSeries(h3cells.polygons(cells), crs=WGS84).to_crs(crs).values)
    pieces = parallel.map_blocks(shapely.intersection, hexes, np.asarray(landuse.geometry.values)[owner])
    area = shapely.area(pieces)
    keep = area > 1.0
    pts = shapely.get_coordinates(shapely.point_on_surface(pieces[keep])).reshape(-1, 2)
    return pd.DataFrame({"method": "landuse", "floor_area_m2": area[keep] * far, "x": pts[:, 0], "y": pts[:, 1],
                         "osm_id": lonlat["osm_id"].to_numpy()[owner[keep]], "h3": cells[keep]})


def _project(lonlat: np.ndarray, crs: str) -> np.ndarray:
    pts = gpd.GeoSeries(gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=WGS84).to_crs(crs)
    return shapely.get_coordinates(pts.values).reshape(-1, 2)


def _cells_of(xy: np.ndarray, crs: str, res: int) -> np.ndarray:
    if len(xy) == 0:
        return np.zeros(0, dtype=np.uint64)
    lonlat = shapely.get_coordinates(
        gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs).to_crs(WGS84).values
    )
    return h3cells.ids_of_points(lonlat[:, 0], lonlat[:, 1], res)
