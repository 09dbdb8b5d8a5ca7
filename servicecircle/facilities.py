"""Facilities: OSM tags + Chinese name keywords → categorised points snapped to the walk network."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import coords
from .config import Category, Config
from .network import WalkNetwork, snap_points
from .osm import WGS84

FACILITY_COLUMNS = [
    "facility_id", "category", "name", "source", "osm_type", "osm_id", "match",
    "counted", "flag_note", "footprint_m2",
]


def _rule_matches(rule: dict, tags: dict) -> bool:
    for key, wanted in rule.items():
        value = tags.get(key)
        if value is None:
            return False
        if wanted is True:
            continue
        values = {v.strip() for v in value.split(";")}  # OSM multi-values: "a;b"
        if isinstance(wanted, str):
            wanted = (wanted,)
        if not values.intersection(wanted):
            return False
    return True


def match_category(category: Category, tags: dict, name: str) -> tuple[str, bool] | None:
    """How a feature matches ``category``: ``(match, counted)`` or None.

    ``match`` is ``"tag"`` or ``"keyword"``; ``counted`` is False for flagged
    matches (e.g. kindergartens for the nursery category) unless the category
    counts them.
    """
    excluded = any(k in name for k in category.exclude_keywords)
    if any(_rule_matches(r, tags) for r in category.tag_rules):
        return "tag", True
    if not excluded and any(k in name for k in category.keywords):
        return "keyword", True
    if any(_rule_matches(r, tags) for r in category.flagged_tag_rules):
        return "tag", category.count_flagged
    if not excluded and any(k in name for k in category.flagged_keywords):
        return "keyword", category.count_flagged
    return None


def find_facilities(features: gpd.GeoDataFrame, config: Config) -> gpd.GeoDataFrame:
    """Classify OSM features into the facility categories of ``config``.

    A feature may belong to several categories (a 养老服务中心 with a 老年食堂
    is both); it then appears once per category. Polygons and ways become their
    representative point; their footprint area is kept.

    Parameters
    ----------
    features : GeoDataFrame
        From :func:`servicecircle.osm.features_from_file` (WGS-84).
    config : Config

    Returns
    -------
    GeoDataFrame
        One row per (feature, category), WGS-84 points, columns
        :data:`FACILITY_COLUMNS`.
    """
    rows = []
    for osm_type, osm_id, name, tags, geom in zip(
        features["osm_type"], features["osm_id"], features["name"], features["tags"], features.geometry
    ):
        for key, category in config.categories.items():
            found = match_category(category, tags, name or "")
            if found is None:
                continue
            match, counted = found
            flag = "" if counted else category.flag_note or "listed, not counted"
            rows.append((f"osm/{osm_type}/{osm_id}/{key}", key, name or "", "osm", osm_type, osm_id,
                         match, counted, flag, geom))
    frame = pd.DataFrame(rows, columns=FACILITY_COLUMNS[:-1] + ["geometry"])
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84)
    if len(gdf):
        utm = gdf.estimate_utm_crs()
        projected = gdf.geometry.to_crs(utm)
        gdf["footprint_m2"] = np.where(projected.geom_type.str.contains("Polygon"), projected.area, np.nan)
        gdf["geometry"] = shapely.point_on_surface(gdf.geometry.values)
    else:
        gdf["footprint_m2"] = pd.Series(dtype=float)
    # Typed even when empty, so boolean masks stay masks.
    gdf = gdf.astype({"counted": bool, "osm_id": np.int64, "footprint_m2": float})
    return gdf[FACILITY_COLUMNS + ["geometry"]].reset_index(drop=True)


def snap_facilities(facilities: gpd.GeoDataFrame, net: WalkNetwork, max_snap_m: float) -> gpd.GeoDataFrame:
    """Join every facility to the nearest point of the nearest walkable edge.

    Adds ``snap_edge``, ``snap_along_m`` (from the edge's ``u`` end),
    ``snap_offset_m`` (the walk from the facility to the street, counted in
    travel times) and ``off_network`` (farther than ``max_snap_m``: listed in
    every output, but reaches nobody).
    """
    out = facilities.copy()
    xy = shapely.get_coordinates(out.geometry.to_crs(net.crs).values) if len(out) else np.zeros((0, 2))
    snap = snap_points(net, xy)
    out["snap_edge"] = snap.edge
    out["snap_along_m"] = snap.along_m
    out["snap_offset_m"] = snap.offset_m
    out["off_network"] = snap.offset_m > max_snap_m
    return out


def counted_facilities(facilities: gpd.GeoDataFrame, category: str) -> gpd.GeoDataFrame:
    """Facilities of ``category`` that enter travel times: counted and on the network."""
    mask = (facilities["category"] == category) & facilities["counted"] & ~facilities["off_network"]
    return facilities[mask]


def likely_coord_system(points: gpd.GeoDataFrame, declared: str, net: WalkNetwork) -> tuple[str | None, dict]:
    """Which coordinate system puts a registry's points on the walk network.

    Re-reads the points as if their degrees were in each other system and
    compares the median distance to the nearest street. Registry points sit
    in or beside buildings, so some distance is normal; a file whose points
    come within half the distance (and < 40 m) when read as another system was
    almost certainly declared wrong.

    Returns
    -------
    (system or None, {system: median distance in metres})
    """
    if len(points) < 3:
        return None, {}
    lon, lat = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    # Back to the degrees as written in the file, then re-read as each candidate.
    raw_lon, raw_lat = coords.from_wgs84(lon, lat, declared)
    medians = {}
    for system in coords.SYSTEMS:
        wlon, wlat = coords.to_wgs84(raw_lon, raw_lat, system)
        xy = shapely.get_coordinates(gpd.GeoSeries(gpd.points_from_xy(wlon, wlat), crs=WGS84).to_crs(net.crs).values)
        medians[system] = float(np.median(snap_points(net, xy).offset_m))
    best = min(medians, key=medians.get)
    if best != declared and medians[best] < 0.5 * medians[declared] and medians[best] < 40.0:
        return best, medians
    return None, medians
