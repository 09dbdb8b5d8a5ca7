"""Reading OpenStreetMap data: local files through pyosmium, Overpass through osmnx.

Both the network and the facility/building stages read OSM, so the readers
live here and return plain objects: an osmnx graph for the walk network, and a
GeoDataFrame of tagged features (``osm_type``, ``osm_id``, ``name``, ``tags``,
``geometry`` in WGS-84) for everything else.

pyosmium reads ``.osm``, ``.osm.xml``, ``.osm.bz2`` and ``.osm.pbf`` alike, so
one code path serves every local format. A local file's walkable ways are
streamed into flat numpy arrays (:func:`read_walkable_ways`) that
:mod:`servicecircle.network` nodes and simplifies by osmnx's own rules; an
Overpass download is built by osmnx itself (:func:`graph_from_overpass`).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, cast

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from .coords import WGS84
from .errors import InputError

if TYPE_CHECKING:
    import osmium
    import pyarrow as pa
    from osmium.osm import TagList

#: How OpenStreetMap data must be credited wherever it is shown (the ODbL's attribution).
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"

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


@lru_cache(maxsize=1)
def _compiled_walk_rules() -> tuple[tuple[str, re.Pattern | None, bool], ...]:
    # Compiled once: the filter runs on every highway way of a city file.
    return tuple((key, re.compile(regex) if regex is not None else None, negated)
                 for key, regex, negated in walk_filter_rules())


def is_walkable(tags: Mapping[str, str] | TagList) -> bool:
    """True when a way with these tags passes osmnx's ``walk`` filter.

    ``tags`` is any mapping with ``get`` (a dict, or pyosmium's tag list).
    """
    for key, regex, negated in _compiled_walk_rules():
        value = tags.get(key)
        if regex is None:
            if value is None:
                return False
        elif negated:
            # Overpass ["k"!~"re"] passes when the key is absent or does not match.
            if value is not None and regex.search(value):
                return False
        elif value is None or not regex.search(value):
            return False
    return True


def check_local_file(path: Path | str) -> Path:
    """``path`` as a :class:`~pathlib.Path`; a one-line :class:`InputError` unless it is a readable OSM file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(key="error.file_not_found", what=("error.what_osm_file", {}), path=path)
    if not path.name.lower().endswith(LOCAL_SUFFIXES):
        raise InputError(key="error.not_osm_file", path=path, suffixes=", ".join(LOCAL_SUFFIXES))
    return path


def _osmium_file(path: Path) -> str | osmium.io.File:
    import osmium

    # pyosmium picks the format from the suffix; '.osm.xml' needs telling.
    name = path.name.lower()
    if name.endswith(".xml"):
        return osmium.io.File(str(path), "osm")
    return str(path)


@dataclass(frozen=True)
class WalkableWays:
    """The walkable ways of an OSM file as flat arrays, one row per way node.

    Attributes
    ----------
    way_id : ndarray of int64, (n_ways,)
        OSM id of each way, in file order.
    offsets : ndarray of int64, (n_ways + 1,)
        Way ``i``'s nodes are rows ``offsets[i]:offsets[i + 1]`` of the arrays below.
    node_id : ndarray of int64, (n_refs,)
        OSM node id of each way node, in the way's order.
    lonlat : ndarray of float64, (n_refs, 2)
        WGS-84 degrees of each way node; NaN where the file lacks the node
        (an extract clipped without complete ways).
    """

    way_id: np.ndarray
    offsets: np.ndarray
    node_id: np.ndarray
    lonlat: np.ndarray

    @property
    def n_ways(self) -> int:
        return len(self.way_id)


#: Bytes of the intermediate OPL text parsed at a time: bounds the parser's memory.
_OPL_BLOCK_BYTES = 1 << 26


def read_walkable_ways(path: Path | str, *, location_storage: str = "flex_mem") -> WalkableWays:
    """Stream the ways passing :func:`is_walkable` out of a local OSM file.

    One pass of pyosmium entirely in C++ (no Python call per object): node
    locations go to its location cache, ways without ``highway`` are dropped,
    and the rest are written with their node locations as OPL text. That text
    is parsed back in blocks with Arrow: osmnx's walk filter is evaluated on
    whole columns of tag values, and the node lists become flat arrays. So
    nothing in Python runs per node, nor per way.

    Parameters
    ----------
    path : Path
        ``.osm``, ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf``.
    location_storage : str
        pyosmium node-location index (``flex_mem`` fits in memory up to
        country-sized files; see ``osmium.index.map_types()``).

    Returns
    -------
    WalkableWays
    """
    import osmium

    path = check_local_file(path)
    with tempfile.TemporaryDirectory(prefix="servicecircle-") as tmp:
        opl = Path(tmp) / "highways.opl"
        locations = osmium.NodeLocationsForWays(osmium.index.create_map(location_storage))
        locations.ignore_errors()  # a clipped extract lacks nodes: their locations stay undefined
        try:
            out = osmium.io.File(str(opl), "opl,add_metadata=false,locations_on_ways=true")
            with osmium.io.Reader(_osmium_file(path), osmium.osm.NODE | osmium.osm.WAY) as reader, \
                    osmium.SimpleWriter(out, overwrite=True) as writer:
                osmium.apply(reader, locations, osmium.filter.EntityFilter(osmium.osm.WAY),
                             osmium.filter.KeyFilter("highway"), writer)
        except RuntimeError as exc:
            raise InputError(key="error.cannot_read_osm", path=path, problem=exc) from None
        ways = _parse_opl_ways(opl)
    if ways.n_ways == 0:
        raise InputError(key="error.no_walkable_ways_file", path=path)
    return ways


# OPL (libosmium's writer) keeps printable ASCII but space, ",", "=", "@" and
# "%", and the code points U+00A1–U+05FF but U+00AD, as they are (UTF-8);
# everything else, CJK included, is written %hex%. A way node is
# n<id>x<lon>y<lat> ("n<id>xy" when the file lacks the node), nodes joined by ",".
def _opl_unescape(text: str) -> str:
    # A bare "%" is always escaped itself, so between "%"s alternate plain text and hex codes.
    parts = text.split("%")
    parts[1::2] = [chr(int(code, 16)) for code in parts[1::2]]
    return "".join(parts)


def _opl_plain(c: str) -> bool:
    code = ord(c)
    return ((0x21 <= code <= 0x7E and c not in ",=@%") or 0xA1 <= code <= 0xAC or 0xAE <= code <= 0x5FF)


def _opl_escape(text: str) -> str:
    return "".join(c if _opl_plain(c) else f"%{ord(c):02x}%" if ord(c) < 0x100 else f"%{ord(c):04x}%" for c in text)


def _walkable_mask(tags: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`is_walkable` over an Arrow column of OPL tag fields ("Tk=v,k2=v2"), as one boolean array.

    Each rule's value is cut out of the rows at once (RE2, in Arrow's C++);
    values holding an escape are unescaped and tested in Python, so an escape
    can neither hide nor fake a match.
    """
    import pyarrow.compute as pc

    rules = walk_filter_rules()
    keys = {key: re.escape(_opl_escape(key)) for key, _, _ in rules}
    # Most of the filter's keys are on few ways: one pass over every row finds
    # the rows holding any of them, and only those are searched key by key.
    rare = "|".join(pattern for key, pattern in keys.items() if key != "highway")
    rare_rows = np.flatnonzero(pc.match_substring_regex(tags, f"(?:^T|,)(?:{rare})=").to_numpy(zero_copy_only=False))
    everything = np.arange(len(tags))
    cut: dict[str, tuple] = {}

    def value_of(key: str) -> tuple:  # rows searched, the value (null where absent) in each, found or not
        if key not in cut:
            rows = everything if key == "highway" else rare_rows
            column = tags if key == "highway" else tags.take(rare_rows)
            values = pc.struct_field(pc.extract_regex(column, f"(?:^T|,){keys[key]}=(?P<v>[^,]*)"), "v")
            cut[key] = rows, values, values.is_valid().to_numpy(zero_copy_only=False)
        return cut[key]

    keep = np.ones(len(tags), dtype=bool)
    for key, regex, negated in rules:
        rows, values, found = value_of(key)
        present = np.zeros(len(tags), dtype=bool)
        present[rows[found]] = True
        if regex is None:
            keep &= present
            continue
        hit = pc.fill_null(pc.match_substring_regex(values, regex), False).to_numpy(zero_copy_only=False)
        escaped = np.flatnonzero(found & pc.fill_null(pc.match_substring(values, "%"), False).to_numpy(
            zero_copy_only=False))
        if len(escaped):
            compiled = re.compile(regex)
            hit[escaped] = [compiled.search(_opl_unescape(t)) is not None for t in values.take(escaped).to_pylist()]
        matched = np.zeros(len(tags), dtype=bool)
        matched[rows[found]] = hit[found]
        keep &= ~matched if negated else present & matched
    return keep


def _parse_opl_ways(opl: Path) -> WalkableWays:
    """The walkable ways of an OPL file written without metadata (lines "w<id> T<tags> N<nodes>")."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    empty = WalkableWays(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)))
    if opl.stat().st_size == 0:  # no highway at all (Arrow refuses an empty file)
        return empty
    # OPL escapes spaces inside fields, so a line is exactly three space-separated fields.
    reader = csv.open_csv(
        opl,
        read_options=csv.ReadOptions(column_names=["id", "tags", "nodes"], block_size=_OPL_BLOCK_BYTES),
        parse_options=csv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False),
        convert_options=csv.ConvertOptions(column_types={"id": pa.string(), "tags": pa.string(), "nodes": pa.string()}))
    way_ids, counts, node_ids, lonlats = [], [], [], []
    for batch in reader:
        keep = np.flatnonzero(_walkable_mask(batch.column("tags")))
        if len(keep) == 0:
            continue
        ids = pc.utf8_slice_codeunits(batch.column("id").take(keep), 1)
        way_ids.append(pc.cast(ids, pa.int64()).to_numpy())
        nodes = batch.column("nodes").take(keep)  # "Nn1x..y..,n2x..y.." per way
        n_nodes = pc.add(pc.count_substring(nodes, ","), 1).to_numpy()
        counts.append(np.where(pc.utf8_length(nodes).to_numpy() > 1, n_nodes, 0))
        # All node lists of the block in one byte string: each way's leading "N"
        # becomes a separator, then one node a line, "id,lon,lat".
        body = _joined_bytes(nodes)
        body = body.replace(b"N", b",").replace(b",", b"\n").translate(_OPL_NODE_TO_CSV, delete=b"n")
        table = csv.read_csv(
            pa.py_buffer(body),
            read_options=csv.ReadOptions(column_names=["id", "lon", "lat"]),
            convert_options=csv.ConvertOptions(
                column_types={"id": pa.int64(), "lon": pa.float64(), "lat": pa.float64()}
            ),
        )
        node_ids.append(table.column("id").to_numpy())
        lonlats.append(np.column_stack([table.column("lon").to_numpy(zero_copy_only=False),
                                        table.column("lat").to_numpy(zero_copy_only=False)]))
    if not way_ids:
        return empty
    way_counts = np.concatenate(counts).astype(np.int64)
    # OSM stores coordinates as integers of 1e-7 degree; rounding to that grid
    # gives exactly the double pyosmium (and osmnx's XML parser) would give.
    lonlat = np.rint(np.concatenate(lonlats) * 1e7) / 1e7
    return WalkableWays(way_id=np.concatenate(way_ids), offsets=np.concatenate([[0], np.cumsum(way_counts)]),
                        node_id=np.concatenate(node_ids), lonlat=lonlat)


_OPL_NODE_TO_CSV = bytes.maketrans(b"xy", b",,")


def _joined_bytes(strings: pa.Array | pa.ChunkedArray) -> bytes:
    """The bytes of an Arrow string array's values, one after another (no separator)."""
    import pyarrow as pa

    strings = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]
    return strings.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def write_walkable_xml(path: Path | str, out: Path) -> int:
    """Write the walkable ways of ``path`` and the nodes they use to an OSM XML file ``out``.

    Returns the number of ways written. This is what osmnx's
    ``graph_from_xml`` reads in :func:`graph_from_file`.
    """
    import osmium

    path = check_local_file(path)
    count = 0
    try:
        with osmium.BackReferenceWriter(str(out), ref_src=_osmium_file(path), overwrite=True) as writer:
            for way in osmium.FileProcessor(_osmium_file(path), osmium.osm.WAY).with_filter(
                    osmium.filter.KeyFilter("highway")):
                if is_walkable(way.tags):
                    writer.add_way(way)
                    count += 1
    except RuntimeError as exc:
        raise InputError(key="error.cannot_read_osm", path=path, problem=exc) from None
    return count


def graph_from_file(path: Path | str) -> nx.MultiDiGraph:
    """osmnx's simplified, bidirectional walk graph of a local OSM file.

    The reference the numpy builder (:func:`servicecircle.network.network_from_ways`)
    is tested and benchmarked against; the pipeline does not use it. The
    walkable ways and their nodes go to a temporary OSM XML file that
    ``osmnx.graph_from_xml`` builds and simplifies.
    """
    import osmnx as ox

    with tempfile.TemporaryDirectory(prefix="servicecircle-") as tmp:
        walk_xml = Path(tmp) / "walk.osm"
        if write_walkable_xml(path, walk_xml) == 0:
            raise InputError(key="error.no_walkable_ways_file", path=path)
        return ox.graph_from_xml(walk_xml, bidirectional=True, simplify=True, retain_all=True)


def graph_from_overpass(*, bbox: tuple[float, float, float, float] | None = None, place: str | None = None,
                        polygon: shapely.Polygon | shapely.MultiPolygon | None = None,
                        cache_dir: Path) -> nx.MultiDiGraph:
    """Download the walk graph through osmnx/Overpass; responses are cached in ``cache_dir``."""
    import osmnx as ox
    import requests  # osmnx's HTTP client

    _configure_osmnx_cache(cache_dir)
    # The same keywords for each query, spelled out so each is checked against osmnx's signature.
    try:
        if bbox is not None:
            return ox.graph_from_bbox(bbox, network_type="walk", simplify=True, retain_all=True)
        if place is not None:
            return ox.graph_from_place(place, network_type="walk", simplify=True, retain_all=True)
        assert polygon is not None, "graph_from_overpass needs bbox, place or polygon"
        return ox.graph_from_polygon(polygon, network_type="walk", simplify=True, retain_all=True)
    except ox._errors.InsufficientResponseError as exc:
        raise InputError(key="error.osm_no_walkable_ways", problem=exc) from None
    except requests.RequestException as exc:
        raise _unreachable(exc) from None


def _unreachable(exc: Exception) -> InputError:
    """One line for a download that could not be made (offline, intranet, proxy, server down)."""
    import osmnx as ox

    return InputError(key="error.overpass_unreachable", url=ox.settings.overpass_url, problem=type(exc).__name__)


def _configure_osmnx_cache(cache_dir: Path) -> None:
    import osmnx as ox

    ox.settings.use_cache = True
    ox.settings.cache_folder = str(Path(cache_dir) / "overpass")


def _keep_feature(tags: Mapping[str, str]) -> bool:
    return any(k in tags for k in FEATURE_KEYS)


def features_from_file(path: str | Path, keep: Callable = _keep_feature, *, roads: bool = False) -> gpd.GeoDataFrame:
    """Tagged nodes, ways and areas of a local OSM file as a WGS-84 GeoDataFrame.

    Closed ways and multipolygon relations become (multi)polygons, open ways
    linestrings and nodes points. Road ways without facility tags are skipped:
    they are the network, not features.

    One pyosmium pass does the bulk in C++: objects without one of
    :data:`FEATURE_KEYS` are dropped (a city's millions of untagged nodes never
    reach Python), the tagged nodes and ways are written as OPL text, and only
    the assembled areas come to Python, for their WKB. The location cache and
    the area assembler sit before the filters, so they still see every node,
    way and relation. The OPL lines are then read back, tags split from text
    (pyosmium's per-tag objects cost more than the rest of the pass), and
    geometries made in one vectorised shapely call per kind. With ``roads``, road ways (that
    also pass ``keep``) are kept too: the siting report names the nearest road of a site.
    """
    import osmium
    from osmium.geom import WKBFactory

    path = check_local_file(path)
    wkb = WKBFactory()
    areas: list[tuple] = []  # (kind, id, WKB, tags or None for a way's area: the way's tags)
    with tempfile.TemporaryDirectory(prefix="servicecircle-") as tmp:
        opl = Path(tmp) / "features.opl"
        try:
            out = osmium.io.File(str(opl), "opl,add_metadata=false,locations_on_ways=true")
            with osmium.SimpleWriter(out, overwrite=True) as writer:
                processor = (
                    osmium.FileProcessor(_osmium_file(path))
                    .with_areas()
                    .with_locations()
                    .with_filter(osmium.filter.EntityFilter(osmium.osm.NODE | osmium.osm.WAY | osmium.osm.AREA))
                    .with_filter(osmium.filter.KeyFilter(*FEATURE_KEYS))
                    .with_filter(writer)  # writes the nodes and ways; areas pass on
                    .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))
                )
                for entity in processor:
                    # The last EntityFilter lets only areas through; pyosmium's
                    # iterator is typed with the union of every OSM kind.
                    area = cast(osmium.osm.Area, entity)
                    try:
                        shape = wkb.create_multipolygon(area)
                    except (RuntimeError, osmium.InvalidLocationError):
                        continue  # an area whose nodes lie outside the clip: no geometry to give
                    if area.from_way():
                        areas.append(("way", area.orig_id(), shape, None))
                    else:
                        areas.append(("relation", area.orig_id(), shape, dict(area.tags)))
        except RuntimeError as exc:
            raise InputError(key="error.cannot_read_osm", path=path, problem=exc) from None
        area_ways = {a[1] for a in areas if a[0] == "way"}
        nodes, node_lonlat, way_tags, open_ways = _read_feature_opl(opl, area_ways, roads)
    check = None if keep is _keep_feature else keep  # the C++ filter already applies the default

    def wanted(tags: dict) -> bool:
        return (roads or "highway" not in tags or "amenity" in tags) and (check is None or check(tags))

    shapes: list[tuple] = []
    for kind, osm_id, shape, tags in areas:
        tags = way_tags[osm_id] if tags is None else tags
        if wanted(tags):
            shapes.append((kind, osm_id, tags, shape))
    kept_ways = [(w, t) for w, t in open_ways if wanted(t[0])]
    node_rows = [i for i, (_, tags) in enumerate(nodes) if wanted(tags)]
    points = shapely.points(node_lonlat[node_rows].reshape(-1, 2))
    rows = [("node", nodes[i][0], nodes[i][1], g) for i, g in zip(node_rows, points)]
    # A closed way that assembled into an area is kept once, as the area.
    lines = shapely.linestrings(np.concatenate([t[1] for _, t in kept_ways]).reshape(-1, 2),
                                indices=np.repeat(np.arange(len(kept_ways)), [len(t[1]) for _, t in kept_ways])
                                ) if kept_ways else []
    rows += [("way", w, t[0], g) for (w, t), g in zip(kept_ways, lines)]
    geoms = shapely.from_wkb(np.array([r[3] for r in shapes], dtype=object))
    rows += [(r[0], r[1], r[2], g) for r, g in zip(shapes, geoms)]
    return features_frame(rows)


def _opl_tags(field: str) -> dict[str, str]:
    """An OPL tag field without its "T" ("k=v,k2=v2", escaped) as a dict."""
    tags: dict[str, str] = {}
    if field:
        for pair in field.split(","):
            key, _, value = pair.partition("=")
            if "%" in pair:
                key, value = _opl_unescape(key), _opl_unescape(value)
            tags[key] = value
    return tags


def _read_feature_opl(opl: Path, area_ways: set[int], roads: bool = False
                      ) -> tuple[list, np.ndarray, dict[int, dict[str, str]], list]:
    """Nodes and ways of a feature OPL file: ``(nodes, node_lonlat, way_tags, open_ways)``.

    ``nodes`` holds ``(id, tags)`` of located nodes, ``node_lonlat`` their
    degrees; ``way_tags`` the tags of the ways in ``area_ways`` (their
    areas' tags); ``open_ways`` ``(id, (tags, vertices))`` of the other ways
    that have a line: locations all known, consecutive repeats dropped, at
    least two left (what pyosmium's ``create_linestring`` gives or refuses). Road ways without
    an amenity are skipped unless ``roads``.
    """
    nodes, lonlat, way_tags, open_ways = [], [], {}, []
    with open(opl, encoding="utf-8", newline="\n") as lines:  # OPL escapes every other line break
        for line in lines:
            fields = line.rstrip("\n").split(" ")
            osm_id = int(fields[0][1:])
            if line[0] == "n":
                x, y = fields[2][1:], fields[3][1:]
                if x and y:  # an invalid location has none: no point to give
                    nodes.append((osm_id, _opl_tags(fields[1][1:])))
                    lonlat.append((float(x), float(y)))
            elif line[0] == "w":
                if osm_id in area_ways:
                    way_tags[osm_id] = _opl_tags(fields[1][1:])
                    continue
                tag_field = fields[1]
                # a road without amenity is never a feature: skip its nodes unparsed
                if not roads and ("Thighway=" in tag_field or ",highway=" in tag_field) and not (
                        "Tamenity=" in tag_field or ",amenity=" in tag_field):
                    continue
                vertices = _opl_way_vertices(fields[2][1:])
                if vertices is not None:
                    open_ways.append((osm_id, (_opl_tags(tag_field[1:]), vertices)))
    return nodes, np.array(lonlat, dtype=np.float64).reshape(-1, 2), way_tags, open_ways


def _opl_way_vertices(field: str) -> np.ndarray | None:
    """A way's distinct consecutive locations from its OPL node list, or None when it has no line."""
    refs = field.split(",") if field else []
    if len(refs) < 2:
        return None
    coords: list[tuple[float, float]] = []
    for ref in refs:
        _, _, location = ref.partition("x")
        lon, _, lat = location.partition("y")
        if not lon or not lat:
            return None  # a node outside the clip
        point = (float(lon), float(lat))
        if not coords or coords[-1] != point:
            coords.append(point)
    return np.array(coords) if len(coords) >= 2 else None


def features_from_overpass(*, bbox: tuple[float, float, float, float] | None = None, place: str | None = None,
                           polygon: shapely.Polygon | shapely.MultiPolygon | None = None,
                           cache_dir: Path) -> gpd.GeoDataFrame:
    """Download tagged features through osmnx/Overpass, in the same shape as :func:`features_from_file`."""
    import osmnx as ox
    import requests  # osmnx's HTTP client

    _configure_osmnx_cache(cache_dir)
    tags: dict[str, bool | str | list[str]] = {k: True for k in FEATURE_KEYS}
    try:
        if bbox is not None:
            gdf = ox.features_from_bbox(bbox, tags)
        elif place is not None:
            gdf = ox.features_from_place(place, tags)
        else:
            gdf = ox.features_from_polygon(polygon, tags)
    except ox._errors.InsufficientResponseError:
        return features_frame([])
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    gdf = gdf.reset_index()
    tag_cols = [c for c in gdf.columns if c not in ("element", "id", "geometry", "nodes", "ways")]
    rows = []
    for element, osm_id, geom, tag_values in zip(
        gdf["element"], gdf["id"], gdf.geometry, gdf[tag_cols].itertuples(index=False)
    ):
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
