"""Facilities: OSM tags + Chinese name keywords → categorised points snapped to the walk network."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import coords, texts
from .config import Category
from .coords import WGS84
from .inputs import InputReport
from .network import WalkNetwork, snap_points

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


class _TagTable:
    """Tag values of many features, one column per key, read once and shared by every rule."""

    def __init__(self, tags: pd.Series):
        self.tags = tags
        self.columns: dict[str, pd.Series] = {}
        self.tokens: dict[str, pd.DataFrame] = {}

    def column(self, key: str) -> pd.Series:
        if key not in self.columns:
            self.columns[key] = self.tags.map(lambda t: t.get(key))
        return self.columns[key]

    def has_any(self, key: str, wanted: tuple[str, ...]) -> np.ndarray:
        """Whether the key holds one of ``wanted``, among its ``;``-separated values (OSM multi-values)."""
        if key not in self.tokens:
            values = self.column(key).dropna().astype(str)
            parts = values.str.split(";").explode().str.strip()
            self.tokens[key] = pd.DataFrame({"row": parts.index.to_numpy(), "value": parts.to_numpy()})
        tok = self.tokens[key]
        out = np.zeros(len(self.tags), bool)
        out[tok["row"].to_numpy()[tok["value"].isin(wanted).to_numpy()]] = True
        return out

    def matches(self, rules: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Whether each feature matches any of the tag ``rules`` (the same test as :func:`_rule_matches`)."""
        hit = np.zeros(len(self.tags), bool)
        for rule in rules:
            ok = np.ones(len(self.tags), bool)
            for key, wanted in rule.items():
                if wanted is True:
                    ok &= self.column(key).notna().to_numpy()
                else:
                    ok &= self.has_any(key, (wanted,) if isinstance(wanted, str) else tuple(wanted))
            hit |= ok
        return hit


def _contains_any(names: pd.Series, words: Sequence[str]) -> np.ndarray:
    if not words:
        return np.zeros(len(names), bool)
    return names.str.contains("|".join(re.escape(w) for w in words), regex=True).to_numpy(bool)


def find_facilities(features: gpd.GeoDataFrame, categories: dict[str, Category]) -> gpd.GeoDataFrame:
    """Classify OSM features into ``categories``.

    A feature may belong to several categories (a 养老服务中心 with a 老年食堂
    is both); it then appears once per category. Polygons and ways become their
    representative point; their footprint area is kept. The rules are those of
    :func:`match_category`, applied to all features at once (one column per tag
    key, one regular expression per keyword list).

    Parameters
    ----------
    features : GeoDataFrame
        From :func:`servicecircle.osm.features_from_file` (WGS-84).
    categories : dict of Category
        The study area's categories (``config.categories``), in their order.

    Returns
    -------
    GeoDataFrame
        One row per (feature, category), WGS-84 points, columns
        :data:`FACILITY_COLUMNS`.
    """
    # Only features with a name or a tag some rule asks about can match anything.
    keys = {k for c in categories.values() for r in c.tag_rules + c.flagged_tag_rules for k in r}
    names_all = features["name"].fillna("").astype(str)
    candidate = (names_all != "").to_numpy() | features["tags"].map(lambda t: not keys.isdisjoint(t)).to_numpy(bool)
    feats = features[candidate]
    names = names_all[candidate]
    table = _TagTable(feats["tags"].reset_index(drop=True))
    names = names.reset_index(drop=True)
    parts = []
    for order, (key, category) in enumerate(categories.items()):
        excluded = _contains_any(names, category.exclude_keywords)
        tag = table.matches(category.tag_rules)
        word = ~tag & ~excluded & _contains_any(names, category.keywords)
        flag_tag = ~tag & ~word & table.matches(category.flagged_tag_rules)
        flag_word = ~tag & ~word & ~flag_tag & ~excluded & _contains_any(names, category.flagged_keywords)
        found = tag | word | flag_tag | flag_word
        counted = tag | word | ((flag_tag | flag_word) & category.count_flagged)
        rows = np.flatnonzero(found)
        parts.append(pd.DataFrame({
            "_feature": rows, "_category": order, "category": key,
            "match": np.where((tag | flag_tag)[rows], "tag", "keyword"), "counted": counted[rows],
            "flag_note": np.where(counted[rows], "", category.flag_note or "listed, not counted")}))
    hits = pd.concat(parts, ignore_index=True).sort_values(["_feature", "_category"], kind="stable")
    src = feats.iloc[hits["_feature"].to_numpy()]
    osm_type, osm_id = src["osm_type"].to_numpy(), src["osm_id"].to_numpy()
    frame = pd.DataFrame({
        "facility_id": [f"osm/{t}/{i}/{k}" for t, i, k in zip(osm_type, osm_id, hits["category"])],
        "category": hits["category"].to_numpy(), "name": names.to_numpy()[hits["_feature"].to_numpy()],
        "source": "osm", "osm_type": osm_type, "osm_id": osm_id, "match": hits["match"].to_numpy(),
        "counted": hits["counted"].to_numpy(bool), "flag_note": hits["flag_note"].to_numpy()})
    gdf = gpd.GeoDataFrame(frame, geometry=src.geometry.to_numpy(), crs=WGS84)
    if len(gdf):
        west, south, east, north = gdf.total_bounds  # the zone of the centre, as estimate_utm_crs
        utm = coords.utm_crs([west, east], [south, north])
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


def report_off_network(facilities: gpd.GeoDataFrame, report: InputReport, *, osm_file: str | Path | None,
                       max_snap_m: float) -> None:
    """One input-report line per facility too far from every walkable street to reach anybody.

    A registry facility is named by its file and row, an OSM one by the OSM file and its id; the line
    gives the distance, so the office can tell a misplaced point from a facility on a private road.
    """
    off = facilities[facilities["off_network"].to_numpy(bool)]
    if not len(off):
        return
    lang = report.lang
    from_registry = off["registry_file"].notna().to_numpy() if "registry_file" in off else np.zeros(len(off), bool)
    for reg, (_, f) in zip(from_registry, off.iterrows()):  # only the facilities off the network, a handful
        problem = texts.text(lang, "facility.off_network", name=f["name"] or f["facility_id"],
                             category=f["category"], metres=f["snap_offset_m"], limit=max_snap_m)
        action = texts.text(lang, "facility.off_network_action")
        if reg:
            report.add(f["registry_file"], f["registry_row"], "lon/lat", problem, action)
        else:
            report.add(osm_file or "OSM", None, f"{f['osm_type']}/{f['osm_id']}", problem, action)


def counted_facilities(facilities: gpd.GeoDataFrame, category: str) -> gpd.GeoDataFrame:
    """Facilities of ``category`` that enter travel times: counted and on the network."""
    mask = (facilities["category"] == category) & facilities["counted"] & ~facilities["off_network"]
    return facilities[mask]
