"""A declared-synthetic city for scale benchmarks: the real central-Chengdu OSM extract tiled k × k.

    python bench/synthetic_city.py --k 4 --out bench/out/scale/cities [--facilities 40] [--seed 11] [--force] [--check]

SYNTHETIC DATA. The city this writes is not a real place: it is the mid-2018
central-Chengdu OSM extract (``../shared/data/chengdu/chengdu_central.osm``,
read in place, never copied into the repository) repeated on a k × k grid of
tiles, each shifted by the extract's bounding-box width (east) and height
(north), with every node, way and relation id shifted by ``tile × stride`` so
that no two tiles share an id. Every object and tag is kept, so buildings and
residential land still give residents and OSM amenities still give
facilities. Neighbouring tiles are joined by short ``highway=footway`` ways
tagged ``note=synthetic stitch``, chosen once on the template between nodes of
the extract's main walkable component, so the tiled walk network is one
network. A *declared test registry* adds F facilities per category per tile at
seeded random street-side positions, every name saying it is synthetic.

The generated folder holds the city (``<name>.osm.pbf``), the registry
(``<name>_registry.csv``), a study-area file (``<name>.toml``) for
``servicecircle run`` and ``meta.json`` (what was generated, how long it took,
peak memory). A folder whose ``meta.json`` records the same parameters is
reused; ``--force`` regenerates it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
from osmium.osm.mutable import Node, Relation, Way
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from servicecircle.osm import is_walkable

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TEMPLATE_OSM = SHARED / "chengdu" / "chengdu_central.osm"
CHENGDU_CONFIG = ROOT / "data" / "chengdu.toml"

#: The extract's declared bounds (its ``<bounds>`` element): the tile size.
TEMPLATE_BOUNDS = (104.0421, 30.6528, 104.1296, 30.7279)  # west, south, east, north

#: Bumped whenever the output of the generator changes, so cached cities are rebuilt.
GENERATOR_VERSION = 1
DEFAULT_FACILITIES = 40
DEFAULT_SEED = 11
#: Stitch footways per shared tile edge.
STITCHES_PER_EDGE = 8
#: Stitch endpoints are looked for this far inside a tile's edge.
STITCH_MARGIN_M = 400.0
#: Registry points sit this far beside the street they were sampled on.
OFFSET_RANGE_M = (5.0, 30.0)
EARTH_RADIUS_M = 6_371_008.8
DECLARATION = ("DECLARED SYNTHETIC city: the 2018 central-Chengdu OSM extract tiled {k}×{k} with shifted ids, "
               "tiles stitched by synthetic footways, plus a declared synthetic test registry; not a real city")

#: Registry categories: the category word servicecircle.registries recognises,
#: the capacity column filled, and the range the capacity is drawn from.
REGISTRY_CATEGORIES = (
    ("elder_care", "养老服务中心", "床位", (20, 200)),
    ("canteen", "老年食堂", "日供餐", (50, 300)),
    ("nursery", "托育机构", "托位", (20, 150)),
    ("health_centre", "社区卫生服务中心", None, None),
)
REGISTRY_COLUMNS = ("名称", "类别", "经度", "纬度", "床位", "托位", "日供餐", "普惠")
#: Share of synthetic nurseries declared 普惠 (affordable).
AFFORDABLE_SHARE = 0.6


@dataclass(frozen=True)
class Template:
    """The extract held once in memory, in id order, ready to be repeated per tile.

    Attributes
    ----------
    node_id : ndarray of int64
        Node ids, ascending.
    node_lonlat : ndarray (n, 2)
        Node coordinates, WGS-84 degrees.
    node_tags : list of tuple
        Each node's tags as ``(key, value)`` pairs (empty tuple: untagged).
    ways : list of tuple
        ``(id, refs, tags)`` per way, ids ascending; ``refs`` an int64 array.
    relations : list of tuple
        ``(id, members, tags)``, ids ascending; ``members`` as ``(type, ref, role)``.
    stride : int
        A power of ten above every id in the file: the id shift between tiles.
    """

    node_id: np.ndarray
    node_lonlat: np.ndarray
    node_tags: list
    ways: list
    relations: list
    stride: int


@dataclass(frozen=True)
class SyntheticCity:
    """Paths of one generated city, what its ``meta.json`` records, and whether it was reused from disk."""

    folder: Path
    config: Path
    pbf: Path
    registry: Path
    meta: dict
    reused: bool


def city_name(k: int, facilities: int = DEFAULT_FACILITIES, seed: int = DEFAULT_SEED) -> str:
    """Folder and study-area name of a city: ``synthetic_city_k4`` (other F or seed added to it)."""
    name = f"synthetic_city_k{k}"
    if facilities != DEFAULT_FACILITIES:
        name += f"_f{facilities}"
    if seed != DEFAULT_SEED:
        name += f"_s{seed}"
    return name


def read_template(path: Path = TEMPLATE_OSM) -> Template:
    """Read the extract once with pyosmium: nodes, ways and relations with their tags.

    Parameters
    ----------
    path : path
        The OSM file to tile.

    Returns
    -------
    Template
    """
    node_rows, ways, relations = [], [], []
    for obj in osmium.FileProcessor(str(path)):
        tags = tuple((t.k, t.v) for t in obj.tags)
        if obj.is_node():
            node_rows.append((obj.id, obj.location.lon, obj.location.lat, tags))
        elif obj.is_way():
            ways.append((obj.id, np.array([n.ref for n in obj.nodes], dtype=np.int64), tags))
        elif obj.is_relation():
            relations.append((obj.id, tuple((m.type, m.ref, m.role) for m in obj.members), tags))
    node_rows.sort(key=lambda row: row[0])
    ways.sort(key=lambda row: row[0])
    relations.sort(key=lambda row: row[0])
    node_id = np.array([row[0] for row in node_rows], dtype=np.int64)
    largest = max(int(node_id.max()), max(w[0] for w in ways), max((r[0] for r in relations), default=0))
    return Template(node_id=node_id,
                    node_lonlat=np.array([(row[1], row[2]) for row in node_rows], dtype=np.float64),
                    node_tags=[row[3] for row in node_rows], ways=ways, relations=relations,
                    stride=10 ** len(str(largest)))


def _metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude at ``lat``.

    An equirectangular scale is exact to < 0.1 % across one 8 km tile, far
    finer than the stitch choice and the 5–30 m registry offsets need.
    """
    per_lat = EARTH_RADIUS_M * np.pi / 180
    return per_lat * np.cos(np.radians(lat)), per_lat


def main_walk_segments(template: Template) -> tuple[np.ndarray, np.ndarray]:
    """Segments of walkable ways in the extract's largest walkable component.

    Walkable means osmnx's ``walk`` filter, as :func:`servicecircle.osm.is_walkable`
    applies it when the pipeline builds its network, so the component found
    here is the one the pipeline keeps.

    Returns
    -------
    seg_a, seg_b : ndarray of int64
        Node indices (into ``template.node_id``) of each segment's ends.
    """
    a_parts, b_parts = [], []
    for _, refs, tags in template.ways:
        if len(refs) >= 2 and is_walkable(dict(tags)):
            a_parts.append(refs[:-1])
            b_parts.append(refs[1:])
    a_ref, b_ref = np.concatenate(a_parts), np.concatenate(b_parts)
    n = len(template.node_id)
    a = np.searchsorted(template.node_id, a_ref).clip(max=n - 1)
    b = np.searchsorted(template.node_id, b_ref).clip(max=n - 1)
    # Clipped ways may name nodes the extract does not hold: such segments have no geometry.
    present = (template.node_id[a] == a_ref) & (template.node_id[b] == b_ref)
    a, b = a[present], b[present]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    on_walk = np.zeros(n, dtype=bool)
    on_walk[a] = on_walk[b] = True
    main = np.bincount(label[on_walk]).argmax()
    keep = label[a] == main
    return a[keep], b[keep]


def _inside(lonlat: np.ndarray) -> np.ndarray:
    west, south, east, north = TEMPLATE_BOUNDS
    return (lonlat[:, 0] >= west) & (lonlat[:, 0] <= east) & (lonlat[:, 1] >= south) & (lonlat[:, 1] <= north)


def stitch_pairs(template: Template, main_nodes: np.ndarray, *, axis: int) -> np.ndarray:
    """Template node pairs joining one tile to its east (``axis=0``) or north (``axis=1``) neighbour.

    The shared edge is cut into :data:`STITCHES_PER_EDGE` equal bands; in each
    band, of the main-component nodes within :data:`STITCH_MARGIN_M` of the
    near edge (tile ``t``) and of the far edge (neighbour, shifted by one tile),
    the closest pair is joined. Chosen once, the same pairs stitch every tile pair.

    Returns
    -------
    ndarray (m, 2) of int64
        Node indices (into ``template.node_id``): the node in the tile, the node in its neighbour.
    """
    lonlat = template.node_lonlat
    lo, hi = TEMPLATE_BOUNDS[axis], TEMPLATE_BOUNDS[axis + 2]
    side_lo, side_hi = TEMPLATE_BOUNDS[1 - axis], TEMPLATE_BOUNDS[3 - axis]
    per_deg = np.array(_metres_per_degree(float(lonlat[:, 1].mean())))
    margin = STITCH_MARGIN_M / per_deg[axis]
    candidates = main_nodes[_inside(lonlat[main_nodes])]
    near = candidates[lonlat[candidates, axis] >= hi - margin]
    far = candidates[lonlat[candidates, axis] <= lo + margin]
    shift = np.zeros(2)
    shift[axis] = hi - lo
    edges = np.linspace(side_lo, side_hi, STITCHES_PER_EDGE + 1)
    near_band = np.searchsorted(edges, lonlat[near, 1 - axis], side="right") - 1
    far_band = np.searchsorted(edges, lonlat[far, 1 - axis], side="right") - 1
    pairs = []
    for band in range(STITCHES_PER_EDGE):  # a handful of bands, on the template only
        a, b = near[near_band == band], far[far_band == band]
        if len(a) == 0 or len(b) == 0:
            continue
        gap_m = ((lonlat[a, None, :] - lonlat[None, b, :] - shift) * per_deg)
        best = np.argmin(np.hypot(gap_m[..., 0], gap_m[..., 1]))
        pairs.append((a[best // len(b)], b[best % len(b)]))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def tile_shift(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tile ``t = j·k + i`` (column i east, row j north): its shift in degrees and its tile number."""
    west, south, east, north = TEMPLATE_BOUNDS
    i, j = np.meshgrid(np.arange(k), np.arange(k))
    i, j = i.ravel(), j.ravel()
    return np.column_stack([i * (east - west), j * (north - south)]), j * k + i


def registry_table(template: Template, seg_a: np.ndarray, seg_b: np.ndarray, *, k: int, facilities: int,
                   seed: int) -> pd.DataFrame:
    """The declared synthetic test registry: ``facilities`` per category per tile.

    Positions are drawn uniformly by length along the template's walkable
    main-component segments inside the tile, then moved 5–30 m to a random
    side, perpendicular to the segment (registries list buildings beside the
    street, not points on it). One seeded generator draws everything, so the
    same seed gives the same file.

    Returns
    -------
    DataFrame
        One row per facility, columns :data:`REGISTRY_COLUMNS` (text, as written).
    """
    lonlat = template.node_lonlat
    keep = _inside(lonlat[seg_a]) & _inside(lonlat[seg_b])
    seg_a, seg_b = seg_a[keep], seg_b[keep]
    per_deg = np.array(_metres_per_degree(float(lonlat[:, 1].mean())))
    start_m, end_m = lonlat[seg_a] * per_deg, lonlat[seg_b] * per_deg
    vector = end_m - start_m
    length = np.hypot(vector[:, 0], vector[:, 1])
    cumulative = np.cumsum(length)
    n_cat = len(REGISTRY_CATEGORIES)
    total = k * k * n_cat * facilities
    rng = np.random.default_rng(seed)
    position = rng.random(total) * cumulative[-1]
    seg = np.searchsorted(cumulative, position, side="right").clip(max=len(length) - 1)
    seg_length = np.maximum(length[seg], 1e-9)
    along = ((position - (cumulative[seg] - length[seg])) / seg_length).clip(0, 1)
    normal = np.column_stack([-vector[seg, 1], vector[seg, 0]]) / seg_length[:, None]
    offset = rng.uniform(*OFFSET_RANGE_M, total) * rng.choice([-1.0, 1.0], total)
    point_m = start_m[seg] + along[:, None] * vector[seg] + offset[:, None] * normal
    # Rows run tile by tile, then category, then number within the category.
    tile, rest = np.divmod(np.arange(total), n_cat * facilities)
    cat, number = np.divmod(rest, facilities)
    shifts, _ = tile_shift(k)
    point = point_m / per_deg + shifts[tile]
    draw = rng.random(total)
    affordable = rng.random(total) < AFFORDABLE_SHARE
    words = np.array([word for _, word, _, _ in REGISTRY_CATEGORIES], dtype=object)
    table = pd.DataFrame({
        "名称": "合成测试" + pd.Series(words[cat]) + "-t" + pd.Series(tile).astype(str) + "-"
              + pd.Series(number).astype(str),
        "类别": words[cat],
        "经度": np.char.mod("%.7f", point[:, 0]),
        "纬度": np.char.mod("%.7f", point[:, 1]),
    })
    for index, (key, _, column, bounds) in enumerate(REGISTRY_CATEGORIES):
        if column is not None:
            value = np.floor(bounds[0] + draw * (bounds[1] - bounds[0] + 1)).astype(np.int64).astype(str)
            table[column] = np.where(cat == index, value, "")
    for column in REGISTRY_COLUMNS:
        if column not in table:
            table[column] = ""
    nursery = cat == [key for key, *_ in REGISTRY_CATEGORIES].index("nursery")
    table["普惠"] = np.where(nursery, np.where(affordable, "是", "否"), "")
    return table[list(REGISTRY_COLUMNS)]


def write_pbf(path: Path, template: Template, stitches: dict[int, np.ndarray], *, k: int) -> dict:
    """Stream the tiled city into an ``.osm.pbf`` with :class:`osmium.SimpleWriter`.

    Nodes, then ways, then relations, each in ascending id order: tile ``t``'s
    ids are the template's plus ``t × stride`` and stitch ways take ids above
    every tile's, so writing tile by tile in template order is already sorted.
    pyosmium's writer takes one object per call (it has no bulk interface),
    so the loops below are per object by necessity; memory stays that of the
    template.

    Returns
    -------
    dict
        Counts of nodes, ways, relations and stitch ways written.
    """
    shifts, _ = tile_shift(k)
    west, south, east, north = TEMPLATE_BOUNDS
    header = osmium.io.Header()
    header.set("generator", "servicecircle bench/synthetic_city.py (declared synthetic)")
    header.add_box(osmium.osm.Box(west, south, west + k * (east - west), south + k * (north - south)))
    stride = template.stride
    n_stitch = 0
    with osmium.SimpleWriter(str(path), header=header, overwrite=True) as writer:
        for t in range(k * k):
            ids = (template.node_id + t * stride).tolist()
            lon = (template.node_lonlat[:, 0] + shifts[t, 0]).tolist()
            lat = (template.node_lonlat[:, 1] + shifts[t, 1]).tolist()
            for node_id, x, y, tags in zip(ids, lon, lat, template.node_tags):
                writer.add_node(Node(id=node_id, location=(x, y), tags=tags) if tags
                                else Node(id=node_id, location=(x, y)))
        for t in range(k * k):
            shift = t * stride
            for way_id, refs, tags in template.ways:
                writer.add_way(Way(id=way_id + shift, nodes=(refs + shift).tolist(), tags=tags))
        stitch_id = k * k * stride
        for t in range(k * k):
            i, j = t % k, t // k
            for axis, neighbour, exists in ((0, t + 1, i + 1 < k), (1, t + k, j + 1 < k)):
                if not exists:
                    continue
                for a, b in stitches[axis]:
                    stitch_id += 1
                    n_stitch += 1
                    writer.add_way(Way(id=stitch_id, nodes=[int(template.node_id[a]) + t * stride,
                                                            int(template.node_id[b]) + neighbour * stride],
                                       tags=(("highway", "footway"), ("note", "synthetic stitch"))))
        for t in range(k * k):
            shift = t * stride
            for rel_id, members, tags in template.relations:
                writer.add_relation(Relation(id=rel_id + shift, tags=tags,
                                             members=[(kind, ref + shift, role) for kind, ref, role in members]))
    tiles = k * k
    return {"nodes": tiles * len(template.node_id), "ways": tiles * len(template.ways) + n_stitch,
            "relations": tiles * len(template.relations), "stitch_ways": n_stitch}


def write_registry(path: Path, table: pd.DataFrame) -> None:
    """The registry as UTF-8 CSV with BOM (how Excel saves Chinese CSV files)."""
    table.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def _health_centre_section() -> str:
    """The ``[categories.health_centre]`` table of ``data/chengdu.toml``, verbatim, so the two stay alike."""
    text = CHENGDU_CONFIG.read_text(encoding="utf-8")
    start = text.index("[categories.health_centre]")
    following = text.find("\n[", start + 1)
    return text[start:] if following < 0 else text[start:following + 1]


def write_config(path: Path, *, name: str, k: int, pbf: Path, registry: Path) -> None:
    """A study-area TOML for the city, modelled on ``data/chengdu.toml``; cache and outputs inside the folder."""
    west, south, east, north = TEMPLATE_BOUNDS
    bbox = [west, south, round(west + k * (east - west), 7), round(south + k * (north - south), 7)]
    path.write_text(f"""# {DECLARATION.format(k=k)}.
# Written by bench/synthetic_city.py; paths are relative to this file.

[area]
name = "{name}"
data_date = "synthetic (tiled from the 2018 Chengdu OSM extract)"
osm_file = "{pbf.name}"
bbox = {json.dumps(bbox)}

[network]
cache_dir = "cache"
max_snap_m = 300

[access]
speed_profile = "default"
thresholds_min = [5, 10, 15]
street_buffer_m = 50

[grid]
h3_resolution = 10

[output]
dir = "out"

[[facilities.registries]]
file = "{registry.name}"
coord_system = "wgs84"

{_health_centre_section()}""", encoding="utf-8")


def _source_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def generate_city(*, k: int, out_dir: Path, facilities: int = DEFAULT_FACILITIES, seed: int = DEFAULT_SEED,
                  source: Path = TEMPLATE_OSM, force: bool = False) -> SyntheticCity:
    """Generate (or reuse) the declared synthetic k × k city under ``out_dir``.

    Parameters
    ----------
    k : int
        Tiles per side (k × k tiles of the extract).
    out_dir : path
        Parent folder; the city goes into ``out_dir / city_name(...)``.
    facilities : int
        Registry facilities per category per tile.
    seed : int
        Seed of the registry positions and capacities.
    source : path
        The OSM extract tiled (read only).
    force : bool
        Regenerate even when a city with the same parameters exists.

    Returns
    -------
    SyntheticCity
    """
    if k < 1 or facilities < 0:
        raise ValueError(f"need k >= 1 and facilities >= 0, got k={k}, facilities={facilities}")
    name = city_name(k, facilities, seed)
    folder = Path(out_dir) / name
    paths = {"config": folder / f"{name}.toml", "pbf": folder / f"{name}.osm.pbf",
             "registry": folder / f"{name}_registry.csv"}
    params = {"k": k, "facilities_per_category_per_tile": facilities, "seed": seed, "source": str(source),
              "source_sha256": _source_sha256(source), "generator_version": GENERATOR_VERSION}
    meta_path = folder / "meta.json"
    if not force and meta_path.is_file() and all(p.is_file() for p in paths.values()):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("params") == params:
            return SyntheticCity(folder, meta=meta, reused=True, **paths)
    folder.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)  # written last: its presence marks a complete city
    t0 = time.perf_counter()
    template = read_template(source)
    seg_a, seg_b = main_walk_segments(template)
    main_nodes = np.unique(np.concatenate([seg_a, seg_b]))
    stitches = {axis: stitch_pairs(template, main_nodes, axis=axis) for axis in (0, 1)}
    t_template = time.perf_counter() - t0
    partial = paths["pbf"].with_name(paths["pbf"].name + ".partial.osm.pbf")
    counts = write_pbf(partial, template, stitches, k=k)
    os.replace(partial, paths["pbf"])
    t_pbf = time.perf_counter() - t0 - t_template
    registry = registry_table(template, seg_a, seg_b, k=k, facilities=facilities, seed=seed)
    write_registry(paths["registry"], registry)
    write_config(paths["config"], name=name, k=k, pbf=paths["pbf"], registry=paths["registry"])
    stitch_m = {}
    per_deg = np.array(_metres_per_degree(float(template.node_lonlat[:, 1].mean())))
    for axis, pairs in stitches.items():
        shift = np.zeros(2)
        shift[axis] = TEMPLATE_BOUNDS[axis + 2] - TEMPLATE_BOUNDS[axis]
        gap = (template.node_lonlat[pairs[:, 1]] + shift - template.node_lonlat[pairs[:, 0]]) * per_deg
        stitch_m["east" if axis == 0 else "north"] = np.round(np.hypot(gap[:, 0], gap[:, 1]), 1).tolist()
    meta = {
        "synthetic": True,
        "declaration": DECLARATION.format(k=k),
        "name": name,
        "params": params,
        "template": {"nodes": len(template.node_id), "ways": len(template.ways),
                     "relations": len(template.relations), "id_stride": template.stride,
                     "main_walk_nodes": int(len(main_nodes))},
        "written": counts,
        "stitch_length_m": stitch_m,
        "registry_rows": len(registry),
        "pbf_bytes": paths["pbf"].stat().st_size,
        "registry_bytes": paths["registry"].stat().st_size,
        "seconds": {"template": round(t_template, 2), "pbf": round(t_pbf, 2),
                    "total": round(time.perf_counter() - t0, 2)},
        # ru_maxrss is in KiB on Linux: the generator's whole-process peak.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return SyntheticCity(folder, meta=meta, reused=False, **paths)


def verify_city(city: SyntheticCity) -> dict:
    """Read the written PBF back and check it independently of how it was written.

    Checks that objects come as nodes, then ways, then relations with strictly
    ascending ids, that the counts are those in ``meta.json``, that every way's
    nodes are present (so stitches join real nodes), and that the node
    extent is the template's shifted by k − 1 tiles.

    Returns
    -------
    dict
        What was counted; raises ``AssertionError`` on the first failed check.
    """
    order = {"n": 0, "w": 1, "r": 2}
    last_kind, last_id = -1, -1
    counts = {"n": 0, "w": 0, "r": 0}
    stitch_ways = 0
    node_ids = array("q")  # 8 bytes a node: a 1 M-node city's ~9 M raw nodes in ~70 MB
    lon_range = [np.inf, -np.inf]
    missing_refs = 0
    node_index = np.empty(0, dtype=np.int64)
    for obj in osmium.FileProcessor(str(city.pbf)):
        kind = order[obj.type_str()]
        assert kind > last_kind or (kind == last_kind and obj.id > last_id), f"out of order at {obj.type_str()}{obj.id}"
        if kind != last_kind and kind == 1:
            node_index = np.frombuffer(node_ids, dtype=np.int64)
        last_kind, last_id = kind, obj.id
        counts[obj.type_str()] += 1
        if kind == 0:
            node_ids.append(obj.id)
            lon_range[0], lon_range[1] = min(lon_range[0], obj.location.lon), max(lon_range[1], obj.location.lon)
        elif kind == 1:
            refs = np.array([n.ref for n in obj.nodes], dtype=np.int64)
            if obj.tags.get("note") == "synthetic stitch":
                stitch_ways += 1
                found = np.searchsorted(node_index, refs).clip(max=len(node_index) - 1)
                missing_refs += int((node_index[found] != refs).sum())
    written = city.meta["written"]
    assert counts == {"n": written["nodes"], "w": written["ways"], "r": written["relations"]}, counts
    assert stitch_ways == written["stitch_ways"], stitch_ways
    assert missing_refs == 0, f"{missing_refs} stitch ends name absent nodes"
    k = city.meta["params"]["k"]
    template = read_template(Path(city.meta["params"]["source"]))
    width = TEMPLATE_BOUNDS[2] - TEMPLATE_BOUNDS[0]
    expected = (template.node_lonlat[:, 0].min(), template.node_lonlat[:, 0].max() + (k - 1) * width)
    assert np.allclose(lon_range, expected, atol=1e-6), (lon_range, expected)
    return {"nodes": counts["n"], "ways": counts["w"], "relations": counts["r"], "stitch_ways": stitch_ways}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, required=True, help="tiles per side")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "scale" / "cities",
                        help="parent folder of the generated city")
    parser.add_argument("--facilities", type=int, default=DEFAULT_FACILITIES,
                        help="registry facilities per category per tile")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="regenerate an existing city")
    parser.add_argument("--check", action="store_true", help="read the PBF back and verify it")
    args = parser.parse_args(argv)
    city = generate_city(k=args.k, out_dir=args.out, facilities=args.facilities, seed=args.seed, force=args.force)
    meta = city.meta
    print(f"SYNTHETIC: {meta['declaration']}")
    print(f"{'reused' if city.reused else 'generated'} {city.folder}: {meta['written']['nodes']:,} nodes, "
          f"{meta['written']['ways']:,} ways ({meta['written']['stitch_ways']:,} stitches), "
          f"{meta['written']['relations']:,} relations, {meta['registry_rows']:,} registry rows, "
          f"PBF {meta['pbf_bytes'] / 1e6:.1f} MB; generation {meta['seconds']['total']} s, "
          f"peak RSS {meta['peak_rss_mb']:.0f} MB")
    if args.check:
        print("verified:", verify_city(city))
    print(city.config)


if __name__ == "__main__":
    sys.exit(main())
