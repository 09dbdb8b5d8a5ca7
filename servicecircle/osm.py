"""Reading OpenStreetMap data: local files through pyosmium, Overpass through osmnx.

Both the network and the facility/building stages read OSM, so the readers
live here and return plain objects: an osmnx graph for the walk network, and a
GeoDataFrame of tagged features (``osm_type``, ``osm_id``, ``name``, ``tags``,
``geometry`` in WGS-84) for everything else.

pyosmium reads ``.osm``, ``.osm.xml``, ``.osm.bz2`` and ``.osm.pbf`` alike, so
one code path serves every local format; osmnx then builds and simplifies the
graph exactly as it does for its own downloads.
"""

from __future__ import annotations

import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable

import geopandas as gpd
import networkx as nx
import shapely

from .errors import InputError

WGS84 = "EPSG:4326"
LOCAL_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2", ".osm.pbf", ".pbf")

# Keys that make a feature worth keeping for facilities and residents.
FEATURE_KEYS = ("amenity", "social_facility", "healthcare", "building", "landuse", "name")


@lru_cache(maxsize=1)
def walk_filter_rules() -> tuple[tuple[str, str | None, bool], ...]:
    """osmnx's ``walk`` way filter as (key, regex or None, negated) rules.

    The rules are parsed from osmnx's own Overpass filter so that a local file
    keeps exactly the ways an Overpass download with ``network_type="walk"``
    would keep: highways without ``area=yes``, ``access=private``, ``foot=no``,
    motorways, cycleways, construction and the like.
    """
    import osmnx as ox
    from osmnx import _overpass  # the filter text is only exposed privately

    text = _overpass._get_network_filter("walk")
    rules = []
    for key, op, regex in re.findall(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]', text):
        rules.append((key, regex if op else None, op == "!~"))
    if not rules or rules[0][0] != "highway":  # pragma: no cover - osmnx changed its format
        raise RuntimeError(f"cannot parse osmnx {ox.__version__} walk filter: {text}")
    return tuple(rules)


def is_walkable(tags: dict[str, str]) -> bool:
    """True when a way with these tags passes osmnx's ``walk`` filter."""
    for key, regex, negated in walk_filter_rules():
        value = tags.get(key)
        if regex is None:
            if value is None:
                return False
        elif negated:
            # Overpass ["k"!~"re"] passes when the key is absent or does not match.
            if value is not None and re.search(regex, value):
                return False
        elif value is None or not re.search(regex, value):
            return False
    return True


def check_local_file(path: Path) -> Path:
    """Raise a one-line :class:`InputError` unless ``path`` is a readable OSM file."""
    if not path.is_file():
        raise InputError(f"OSM file not found: {path}")
    if not path.name.lower().endswith(LOCAL_SUFFIXES):
        raise InputError(f"{path}: not an OSM file (expected one of {', '.join(LOCAL_SUFFIXES)})")
    return path


def _osmium_file(path: Path):
    import osmium

    # pyosmium picks the format from the suffix; '.osm.xml' needs telling.
    name = path.name.lower()
    if name.endswith(".xml"):
        return osmium.io.File(str(path), "osm")
    return str(path)


def graph_from_file(path: Path) -> nx.MultiDiGraph:
    """Build osmnx's walk graph (not yet simplified-to-undirected) from a local OSM file.

    Ways failing :func:`is_walkable` are dropped with pyosmium; the walkable ways
    and the nodes they reference are written to a temporary OSM XML file that
    osmnx turns into a simplified, bidirectional graph.
    """
    import osmium
    import osmnx as ox

    check_local_file(path)
    with tempfile.TemporaryDirectory(prefix="servicecircle-") as tmp:
        walk_xml = Path(tmp) / "walk.osm"
        count = 0
        try:
            with osmium.BackReferenceWriter(str(walk_xml), ref_src=_osmium_file(path), overwrite=True) as writer:
                for way in osmium.FileProcessor(_osmium_file(path), osmium.osm.WAY):
                    if "highway" in way.tags and is_walkable(dict(way.tags)):
                        writer.add_way(way)
                        count += 1
        except RuntimeError as exc:
            raise InputError(f"{path}: cannot read OSM data ({exc})") from None
        if count == 0:
            raise InputError(f"{path}: no walkable ways (osmnx 'walk' rules) in this file")
        return ox.graph_from_xml(walk_xml, bidirectional=True, simplify=True, retain_all=True)


def graph_from_overpass(*, bbox=None, place=None, polygon=None, cache_dir: Path) -> nx.MultiDiGraph:
    """Download the walk graph through osmnx/Overpass; responses are cached in ``cache_dir``."""
    import osmnx as ox

    _configure_osmnx_cache(cache_dir)
    kwargs = dict(network_type="walk", simplify=True, retain_all=True)
    try:
        if bbox is not None:
            return ox.graph_from_bbox(bbox, **kwargs)
        if place is not None:
            return ox.graph_from_place(place, **kwargs)
        return ox.graph_from_polygon(polygon, **kwargs)
    except ox._errors.InsufficientResponseError as exc:
        raise InputError(f"OpenStreetMap returned no walkable ways for this area ({exc})") from None


def _configure_osmnx_cache(cache_dir: Path) -> None:
    import osmnx as ox

    ox.settings.use_cache = True
    ox.settings.cache_folder = str(Path(cache_dir) / "overpass")


def _keep_feature(tags) -> bool:
    return any(k in tags for k in FEATURE_KEYS)


def features_from_file(path: Path, keep: Callable = _keep_feature) -> gpd.GeoDataFrame:
    """Tagged nodes, ways and areas of a local OSM file as a WGS-84 GeoDataFrame.

    Closed ways and multipolygon relations become (multi)polygons, open ways
    linestrings and nodes points. Road ways without facility tags are skipped:
    they are the network, not features.
    """
    import osmium
    from osmium.geom import WKBFactory

    check_local_file(path)
    wkb = WKBFactory()
    rows: list[tuple] = []
    area_ways: set[int] = set()
    open_ways: dict[int, tuple] = {}
    try:
        processor = osmium.FileProcessor(_osmium_file(path)).with_areas().with_locations()
        for obj in processor:
            tags = obj.tags
            if not _keep_feature(tags) or not keep(tags):
                continue
            if "highway" in tags and "amenity" not in tags:
                continue
            tag_dict = dict(tags)
            try:
                if obj.is_node():
                    geom = shapely.Point(obj.location.lon, obj.location.lat)
                    rows.append(("node", obj.id, tag_dict, geom))
                elif obj.is_area():
                    geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                    kind = "way" if obj.from_way() else "relation"
                    if obj.from_way():
                        area_ways.add(obj.orig_id())
                    rows.append((kind, obj.orig_id(), tag_dict, geom))
                elif obj.is_way() and len(obj.nodes) >= 2:
                    geom = shapely.from_wkb(wkb.create_linestring(obj))
                    open_ways[obj.id] = ("way", obj.id, tag_dict, geom)
            except (RuntimeError, osmium.InvalidLocationError):
                continue  # a way whose nodes lie outside the clip: no geometry to give
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read OSM data ({exc})") from None
    # A closed way that assembled into an area is kept once, as the area.
    rows.extend(v for k, v in open_ways.items() if k not in area_ways)
    return features_frame(rows)


def features_from_overpass(*, bbox=None, place=None, polygon=None, cache_dir: Path) -> gpd.GeoDataFrame:
    """Download tagged features through osmnx/Overpass, in the same shape as :func:`features_from_file`."""
    import osmnx as ox

    _configure_osmnx_cache(cache_dir)
    tags = {k: True for k in FEATURE_KEYS}
    try:
        if bbox is not None:
            gdf = ox.features_from_bbox(bbox, tags)
        elif place is not None:
            gdf = ox.features_from_place(place, tags)
        else:
            gdf = ox.features_from_polygon(polygon, tags)
    except ox._errors.InsufficientResponseError:
        return features_frame([])
    gdf = gdf.reset_index()
    tag_cols = [c for c in gdf.columns if c not in ("element", "id", "geometry", "nodes", "ways")]
    rows = []
    for element, osm_id, geom, tag_values in zip(gdf["element"], gdf["id"], gdf.geometry, gdf[tag_cols].itertuples(index=False)):
        tag_dict = {k: str(v) for k, v in zip(tag_cols, tag_values) if isinstance(v, str) or (v == v and v is not None)}
        if "highway" in tag_dict and "amenity" not in tag_dict:
            continue
        rows.append((element, int(osm_id), tag_dict, geom))
    return features_frame(rows)


def features_frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    rows.sort(key=lambda r: ({"node": 0, "way": 1, "relation": 2}[r[0]], r[1]))  # deterministic order
    return gpd.GeoDataFrame(
        {
            "osm_type": [r[0] for r in rows],
            "osm_id": [int(r[1]) for r in rows],
            "name": [r[2].get("name", "") for r in rows],
            "tags": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=WGS84,
    )
