"""H3 grid: residents from OSM buildings, residential origins, and per-cell walk times.

Residents are estimated where they live, at *residential origins*:

* residential buildings — ``building`` in ``config.population.residential_buildings``, or
  ``building=yes`` inside a ``landuse=residential`` area: footprint × levels
  (``building:levels``, else ``height`` / 3 m, else ``config.population.default_levels``)
  gives floor area, divided by ``config.population.floor_area_per_person_m2`` (default
  40 m², near the 39.8 m² per urban resident of China's 2019 statistics);
* ``landuse=residential`` areas holding no residential building: each piece of
  the area inside an H3 cell × ``config.population.landuse_floor_area_ratio`` / floor area
  per person.

:mod:`servicecircle.population` then scales them to the user's population
inputs and adds age groups. Each origin is snapped
to the walk network; a cell's walk time is the resident-weighted median of
its origins' times (the cell centre is the origin of a cell without
residents), so a cell is *covered* when most of its residents are within the
threshold.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import access, arrays, h3cells, parallel
from .config import Config
from .inputs import read_vector
from .network import WalkNetwork, snap_points
from .osm import WGS84
from .population import age_groups, group_column, raster_origins, street_length_origins

_NUMBER_GROUP = r"(\d+(?:\.\d+)?)"


def study_area(config: Config, net: WalkNetwork, communities: gpd.GeoDataFrame | None = None) -> shapely.Polygon:
    """The study-area polygon (WGS-84): ``polygon_file``, else ``bbox``, else the communities
    from a communities file, else the network's extent."""
    if config.area.polygon_file is not None and config.area.polygon_file.is_file():
        return read_vector(config.area.polygon_file, what="area polygon file", coord_system=config.area.polygon_coord_system,
                           polygons=True).union_all()
    if config.area.bbox is not None:
        return shapely.box(*config.area.bbox)
    if config.communities is not None and communities is not None and len(communities):
        return shapely.make_valid(communities.union_all())
    return shapely.box(*net.node_lonlat.min(axis=0), *net.node_lonlat.max(axis=0))


def _levels(tags: pd.Series, default: float) -> np.ndarray:
    """Storeys of each building: ``building:levels``, else ``height`` / 3 m, else ``default`` (at least 1)."""
    out = np.full(len(tags), np.nan)
    for key, scale in (("building:levels", 1.0), ("height", 1 / 3.0)):
        text = tags.map(lambda t: t.get(key)).astype("string")
        value = pd.to_numeric(text.str.extract(_NUMBER_GROUP, expand=False), errors="coerce").to_numpy(float)
        take = np.isnan(out) & (value > 0)
        out[take] = np.maximum(1.0, value[take] * scale)
    return np.where(np.isnan(out), default, out)


def residential_origins(features: gpd.GeoDataFrame, area: shapely.Polygon, config: Config,
                        crs: str, net: WalkNetwork | None = None) -> gpd.GeoDataFrame:
    """Points where residents live, with estimated residents, inside the study area's cells.

    Where the features hold no residential building or land at all (a run on
    road lines alone), ``net`` gives street-length proxy origins instead
    (:func:`servicecircle.population.street_length_origins`).

    Returns
    -------
    GeoDataFrame
        ``origin_id``, ``h3``, ``method`` (building / landuse / cell_centre),
        ``floor_area_m2``, ``residents``, point geometry in ``crs``.
    """
    res = config.grid.h3_resolution
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
    residential = bvalue.isin(config.population.residential_buildings).to_numpy() | ((bvalue == "yes").to_numpy() & in_landuse)
    buildings, points = buildings[residential], points[residential]
    levels = _levels(buildings["tags"], config.population.default_levels)
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
            origins.append(_landuse_pieces(empty, crs, res, config.population.landuse_floor_area_ratio))
    table = pd.concat(origins, ignore_index=True)
    table = table[np.isin(table["h3"].to_numpy(np.uint64), grid_cells)]
    if len(table) == 0 and net is not None:
        table = street_length_origins(net, area, grid_cells, res)
    table["residents"] = table["floor_area_m2"] / config.population.floor_area_per_person_m2
    if config.population.raster is not None:
        # A population grid replaces the building estimate; it already counts people.
        table = raster_origins(config.population.raster, grid_cells, res, crs)

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
    return gpd.GeoDataFrame(table.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(table["x"], table["y"]), crs=crs)


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
    lonlat = shapely.get_coordinates(gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs).to_crs(WGS84).values)
    return h3cells.ids_of_points(lonlat[:, 0], lonlat[:, 1], res)


def origin_snap(origins: gpd.GeoDataFrame, net: WalkNetwork):
    """Where each origin joins the walk network (one snap, shared by every access computation)."""
    return snap_points(net, shapely.get_coordinates(origins.geometry.values))


def origin_walk_times(origins: gpd.GeoDataFrame, graph: access.AccessGraph, config: Config,
                      snap=None, node_distances: dict | None = None) -> pd.DataFrame:
    """Walk time (s) from every origin to the nearest counted facility of each category.

    ``snap``: from :func:`origin_snap`; ``node_distances``: ``{category:
    access.nearest_distances(...)}``; each computed here when not given.
    Returns a frame with ``walk_time_s_<cat>`` and ``nearest_<cat>`` (facility id) per category.
    """
    net = graph.net
    if snap is None:
        snap = origin_snap(origins, net)
    out = pd.DataFrame(index=origins.index)
    out["snap_offset_m"] = snap.offset_m
    ids = graph.facilities["facility_id"].to_numpy() if len(graph.facilities) else np.array([], dtype=object)
    for key, category in config.categories.items():
        node_d, node_near = (node_distances or {}).get(key) or access.nearest_distances(graph, key)
        fac = graph.facilities[graph.facilities["category"] == key]
        dist, near = access.point_distances(net, snap, node_d, fac, node_near)
        out[f"walk_time_s_{key}"] = dist / category.speed_m_s
        out[f"nearest_{key}"] = np.where(near >= 0, ids[np.maximum(near, 0)] if len(ids) else "", "")
    return out


def origin_capacity_access(origins: gpd.GeoDataFrame, graph: access.AccessGraph, config: Config,
                           snap=None) -> tuple[pd.DataFrame, dict]:
    """Capacity-aware access (2SFCA) of every origin, per category that has a capacity.

    Each category's capacity (``Category.capacity``: beds, meals a day,
    nursery places) is shared out among its demand group (``demand_group``:
    60+ for elder care and canteens, 0–3 — else 0–4, else everyone — for
    nurseries) within the largest threshold's walk, decayed as
    ``config.access.decay`` says. Facilities whose capacity is unknown take no part
    and are counted in the returned info.

    Returns
    -------
    frame : DataFrame
        ``fca_per_1000_<cat>``: capacity within reach per 1,000 of the demand
        group, per origin (NaN where the category has no known capacity).
    info : dict
        Per category: capacity field, demand column, facilities used and left
        out, decay, and the capacity shared out.
    """
    if snap is None:
        snap = origin_snap(origins, graph.net)
    out = pd.DataFrame(index=origins.index)
    info = {}
    steps = config.access.step_weights if config.access.decay == "stepped" else None
    fac = graph.facilities
    for key, category in config.categories.items():
        if category.capacity is None:
            continue
        demand_col, who = group_column(origins, category.demand_group)
        rows = np.flatnonzero(fac["category"].to_numpy() == key) if len(fac) else np.array([], dtype=int)
        cap = (pd.to_numeric(fac[category.capacity], errors="coerce").to_numpy(float)[rows]
               if category.capacity in fac.columns else np.full(len(rows), np.nan))
        known = np.isfinite(cap)
        entry = {"capacity": category.capacity, "demand": demand_col, "demand_label": who, "decay": config.access.decay,
                 "facilities_used": int(known.sum()), "facilities_without_capacity": int((~known).sum()),
                 "unit": f"{category.capacity} per 1,000 {who}"}
        if not known.any():
            out[f"fca_per_1000_{key}"] = np.nan
            entry["capacity_shared"] = 0.0
            info[key] = entry
            continue
        limit_m = config.access.coverage_threshold_min * 60 * category.speed_m_s
        dist = access.origin_catchments(graph, rows[known], snap, limit_m)
        dist.data = dist.data / category.speed_m_s
        demand = origins[demand_col].to_numpy(float)
        ratio, acc = access.two_step_fca(dist, cap[known], demand, config.access.thresholds_min, steps)
        out[f"fca_per_1000_{key}"] = acc * 1000.0
        entry["capacity_shared"] = float(np.nansum(np.where(np.isfinite(ratio), cap[known], 0.0)))
        entry["capacity_reaching_nobody"] = float(cap[known][~np.isfinite(ratio)].sum())
        info[key] = entry
    return out, info


def unit_mean(groups: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.Series:
    """Weighted mean of ``values`` per group, NaN values left out (NaN where a group weighs nothing)."""
    values = np.asarray(values, dtype=float)
    weights = np.where(np.isfinite(values), np.asarray(weights, dtype=float), 0.0)
    frame = pd.DataFrame({"g": groups, "vw": np.nan_to_num(values) * weights, "w": weights})
    sums = frame.groupby("g")[["vw", "w"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(sums["w"] > 0, sums["vw"] / sums["w"], np.nan), index=sums.index)


def weighted_median(groups: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.Series:
    """Weighted median of ``values`` per group (lower median; unweighted where a group weighs 0)."""
    codes, labels = pd.factorize(np.asarray(groups), sort=True)
    median = _median_of_codes(codes, np.asarray(values, dtype=float), np.asarray(weights, dtype=float))
    return pd.Series(median, index=pd.Index(labels))


def _median_of_codes(codes: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`weighted_median` on integer group codes 0 … n−1, every code present."""
    frame = pd.DataFrame({"g": codes, "v": values, "w": weights})
    total = frame.groupby("g")["w"].transform("sum")
    frame["w"] = np.where(total > 0, frame["w"], 1.0)
    frame = frame.iloc[np.lexsort((values, codes))]  # stable: ties keep their order
    cum = frame.groupby("g")["w"].cumsum()
    half = frame.groupby("g")["w"].transform("sum") / 2.0
    return frame[cum >= half - 1e-12].groupby("g")["v"].first().to_numpy()


def build_cells(origins: gpd.GeoDataFrame, times: pd.DataFrame, config: Config) -> gpd.GeoDataFrame:
    """Aggregate origins to H3 cells: residents, walk time per category, covered and complete flags.

    Returns
    -------
    GeoDataFrame
        One row per cell (WGS-84 hexagons) with ``h3``, ``residents``,
        ``walk_time_s_<cat>``, ``covered_<cat>``, ``nearest_<cat>``, ``speed_m_s_<cat>``,
        ``fca_per_1000_<cat>`` (demand-weighted mean of the origins' 2SFCA, where
        the origins carry it) and ``complete``.
    """
    limit_s = config.access.coverage_threshold_min * 60
    # Cells as integer codes, so every group-by below is over integers, not a city's strings.
    code, ids = pd.factorize(origins["h3"].to_numpy(dtype=object), sort=True)
    w = origins["residents"].to_numpy(float)
    cells = pd.DataFrame({"h3": np.asarray(ids, dtype=object)})

    def total(values):
        return pd.Series(np.asarray(values, dtype=float)).groupby(code).sum().to_numpy()

    cells["residents"] = total(w)
    for g in age_groups(origins):
        cells[f"residents_{g}"] = total(origins[f"residents_{g}"])
    first = np.r_[True, np.diff(code[np.argsort(code, kind="stable")]) != 0]
    for key in config.categories:
        t = times[f"walk_time_s_{key}"].to_numpy(float)
        cells[f"walk_time_s_{key}"] = _median_of_codes(code, t, w)
        cells[f"covered_{key}"] = cells[f"walk_time_s_{key}"] <= limit_s
        cells[f"speed_m_s_{key}"] = config.categories[key].speed_m_s
        quickest = np.lexsort((t, code))  # per cell, the origin nearest a facility first
        cells[f"nearest_{key}"] = times[f"nearest_{key}"].to_numpy(dtype=object)[quickest[first]]
        if f"fca_per_1000_{key}" in origins.columns:
            demand = origins[group_column(origins, config.categories[key].demand_group)[0]].to_numpy(float)
            cells[f"fca_per_1000_{key}"] = unit_mean(code, origins[f"fca_per_1000_{key}"].to_numpy(float),
                                                     demand).to_numpy()
    cells["complete"] = np.logical_and.reduce([cells[f"covered_{k}"] for k in config.complete_circle]) \
        if config.complete_circle else False
    return gpd.GeoDataFrame(cells, geometry=h3cells.polygons(cells["h3"].to_numpy(dtype=object)), crs=WGS84)


def cell_service_areas(cells: gpd.GeoDataFrame, config: Config, crs: str) -> gpd.GeoDataFrame:
    """Merged service areas drawn from the grid: per (category, minutes), the cells within the walk.

    The city-scale alternative to :func:`servicecircle.access.merged_service_areas`
    (``[output] service_areas = "cells"``): a cell belongs to the area when its
    walk time — from its residents' origins, or its centre where nobody lives —
    is within the threshold, so the area agrees cell for cell with the covered
    flags. Neighbouring cells are merged by :class:`servicecircle.h3cells.Outlines`.

    Returns
    -------
    GeoDataFrame
        ``category``, ``minutes``, geometry, ``speed_m_s``, ``street_buffer_m``
        (NaN: not street buffers), ``area_m2``, in ``crs``.
    """
    records, geoms = [], []
    outlines = h3cells.Outlines(cells["h3"].to_numpy(dtype=object), cells.geometry.values)
    for key, category in config.categories.items():
        t = cells[f"walk_time_s_{key}"].to_numpy(float)
        if not np.isfinite(t).any():
            continue  # no facility of the category reaches anyone: no area, as with street buffers
        for minutes in sorted(config.access.thresholds_min):
            parts = outlines.of(t <= minutes * 60.0)
            records.append((key, minutes, category.speed_m_s))
            geoms.append(shapely.multipolygons(parts) if len(parts) else shapely.MultiPolygon())
    frame = pd.DataFrame(records, columns=["category", "minutes", "speed_m_s"])
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84).to_crs(crs)
    gdf = gdf.sort_values(["category", "minutes"], kind="stable").reset_index(drop=True)
    gdf = gdf[["category", "minutes", "geometry", "speed_m_s"]]
    gdf["street_buffer_m"] = np.nan
    gdf["area_m2"] = gdf.area
    return gdf
