"""Maps: ``map.html``, the interactive map of one run, light at any size.

Why the page is written here and not by folium
----------------------------------------------
folium writes one GeoJSON feature, marker or popup string per cell, facility
and community, per layer: the page and the browser's DOM grow with the city
(28.7 MB on a 3×3 tiled sample; hundreds of MB for a city), and its element
ids are random, so two runs never give the same bytes. No maintained package
that pip installs renders H3 cells from their ids in the browser (h3-js is on
npm only), so the page carries compact tables instead and draws them itself:

* every table is a set of typed columns (integers quantised to what a screen
  shows: 1e-5° ≈ 1 m, tenths of a minute, whole residents), delta-coded along
  a spatial order (H3 id order for cells, a Z-order curve for facilities and
  rings), byte-shuffled (all low bytes, then all next bytes …), deflated with
  :mod:`zlib` and written as base85 text; the browser inflates it with its
  built-in ``DecompressionStream`` (no library);
* cells are one table for every category (geometry once; walk time, class,
  nearest facility, blind-spot cluster per category), plus coarser H3 parents
  (resident-weighted medians) shown when zoomed out;
* a small ``L.GridLayer`` subclass (Leaflet core) draws each layer on canvas
  tiles through a bucket index, which also answers clicks; popups are built on
  click from the tables (``templates/map.js``).

The page itself is ``templates/map.html`` (with the legend and panel partials),
rendered by :mod:`servicecircle.pages` with autoescape; its texts come from the
catalogue :mod:`servicecircle.texts`. Texts that reach the page's script in its
JSON and tables (facility and community names, file names, notes, layer labels)
are HTML-escaped once here, when packed (:func:`_escaped_series`) and when the
layer and UI descriptions are written (:func:`_script_texts`); the script
inserts those strings as HTML and composes the rest from numbers only.
"""

from __future__ import annotations

import os
import re
import string
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import h3
import h3ronpy
import h3ronpy.vector
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely
from numpy.typing import ArrayLike
from pyproj import Transformer

from . import arrays, pages, texts
from .config import BASEMAPS, CAPACITY_FIELDS, Config
from .coords import WGS84, utm_crs, wgs84_to_gcj02
from .osm import ATTRIBUTION

if TYPE_CHECKING:  # annotations only: siting and the results record would be imported for nothing
    from .results import RunResult
    from .siting import SitingResult

#: One colour per category, in the categories' order, on the map and the report page's charts alike.
CATEGORY_COLOURS = ["#6a3d9a", "#ff7f00", "#1f78b4", "#33a02c", "#b15928", "#e31a1c", "#a6cee3"]

#: Tile services. AMap and Tencent draw their streets in GCJ-02 (config.BASEMAPS).
#: Their URL templates are the ones Leaflet's Chinese tile-provider plugins use
#: (Tencent numbers rows from the south: Leaflet's ``{-y}``).
TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "OpenStreetMap (WGS-84)", ATTRIBUTION, {}),
    "amap": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
             "高德地图 AMap (GCJ-02)", "© 高德地图 AMap", {"subdomains": "1234"}),
    "tencent": ("https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={-y}&type=vector&styleid=3",
                "腾讯地图 Tencent (GCJ-02)", "© 腾讯地图 Tencent", {"subdomains": "0123"}),
}

#: Display simplification of service areas and proposed-site areas (projected metres): the
#: GeoPackage keeps the exact geometry; 2 m is under a pixel up to zoom 16 and lets the page
#: drop the vertices the street-side buffers put every few decimetres along each street.
AREA_SIMPLIFY_M = 2.0
#: The tolerance used instead when the exteriors alone would take half the vertex budget.
AREA_SIMPLIFY_MAX_M = 5.0
#: Holes smaller than this (m²) are left out of the displayed service areas: a 10 m × 10 m
#: hole is about 4 × 4 pixels at zoom 16, and a city's merged area has many thousands of them.
AREA_MIN_HOLE_M2 = 100.0
#: Vertices of all displayed service areas together (about 3 bytes each in the page); past it,
#: the smallest holes are left out (the legend says from which area on).
AREA_VERTEX_BUDGET = 1_000_000
#: Display simplification of community and blind-spot outlines (degrees, ≈ 1 m), below the 1e-5° rounding scale.
OUTLINE_SIMPLIFY_DEG = 1e-5
#: Coarser H3 levels shown when zoomed out: the cells' resolution minus each of these.
COARSE_STEPS = (2, 3, 4)
#: The finest level whose mean edge is at least this many pixels is drawn (templates/map.js).
MIN_EDGE_PX = 3.0
#: Communities failing a binding goal listed in the map's scorecard panel; the rest are in scorecard.xlsx.
PANEL_COMMUNITIES = 200
#: zlib level: 6 is within a few per cent of 9 on these columns and several times faster on a city.
ZLIB_LEVEL = 6
#: Quantisation of displayed coordinates: 1e-5° (~1 m), all a screen shows.
QUANTUM = 1e5
UNREACHABLE = np.uint32(0xFFFFFFFF)

#: Facility fields shown in popups (their labels are ``popup.<field>`` in :mod:`servicecircle.texts`).
#: A facility popup's fields: its capacities (floor area is not shown) and two registry attributes.
_POPUP_FIELDS = tuple(c for c in CAPACITY_FIELDS if c != "floor_area_m2") + ("ownership", "address")


def _t(config: Config, key: str, **kw) -> str:
    """A map text (``map.<key>`` in :mod:`servicecircle.texts`, or ``key`` itself when it has a prefix)."""
    return texts.text(config.output.lang, key if "." in key else f"map.{key}", **kw)


def gcj02_display(config: Config) -> bool:
    """Whether overlays are shifted to GCJ-02 to sit on the basemap's streets."""
    return BASEMAPS[config.output.basemap] == "gcj02"


def display_frame(frame: gpd.GeoDataFrame, config: Config) -> gpd.GeoDataFrame:
    """A copy in WGS-84 degrees for the map: shifted to GCJ-02 under a GCJ-02 basemap (display only),
    rounded to 1e-5° (~1 m), which is all a screen shows and keeps the page small."""
    out = frame.to_crs(WGS84)
    out["geometry"] = shapely.transform(out.geometry.values, lambda xy: _display_ints(xy, config) / QUANTUM)
    return out


def display_point(lon: float, lat: float, config: Config) -> tuple[float, float]:
    """(lat, lon) of a point as the map shows it, shifted and rounded like :func:`display_frame`."""
    q = _display_ints(np.array([[lon, lat]], dtype=float), config)[0] / QUANTUM
    return float(q[1]), float(q[0])


def _display_ints(xy: np.ndarray, config: Config) -> np.ndarray:
    """WGS-84 (lon, lat) → the displayed position in integer 1e-5° units (GCJ-02 under a GCJ-02 basemap).

    ``np.round(x, 5)`` is ``rint(x * 1e5) / 1e5``: these integers divided by 1e5 are exactly
    the rounded degrees, in Python and in the browser.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if gcj02_display(config) and len(xy):
        xy = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    return np.rint(xy * QUANTUM).astype(np.int64)


def _classes(config: Config) -> list[tuple]:
    """Walk-time classes from the configured thresholds (default 0–5, 5–10, 10–15, > 15)."""
    colours = ["#1a9850", "#91cf60", "#fee08b", "#fdae61", "#f46d43"]
    edges = [0.0, *config.access.thresholds_min]
    unit = _t(config, "minutes")
    out = [
        (a, b, f"{a:g}–{b:g} {unit}", colours[i % len(colours)]) for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))
    ]
    return out + [(edges[-1], np.inf, f"> {edges[-1]:g} {unit} ({_t(config, 'gap')})", "#d7191c")]


def _class_codes(minutes: np.ndarray, classes: list[tuple]) -> np.ndarray:
    """Per value: its class index (low 4 bits) and 16 when it is a gap (unreachable or beyond the last threshold).

    The class boundaries and the gap rule are the ones the legend states: ``lo ≤ m < hi``, and the gap
    outline beyond the coverage threshold.
    """
    code = np.zeros(len(minutes), dtype=np.uint8)
    for i, (lo, hi, _, _) in enumerate(classes):
        inside = (minutes >= lo) & (minutes < hi) if np.isfinite(hi) else ~(minutes < lo)
        code[inside] = i
    gap = ~np.isfinite(minutes) | (minutes > classes[-1][0])
    return code | (gap.astype(np.uint8) << 4)


def value_text(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if is_share(unit):
        return f"{value:.0%}"
    return f"{value:,.2f}"


def is_share(unit: str) -> bool:
    """Whether a scorecard unit (English, or Chinese as the catalogue's ``goal.unit_*`` give it) is a share."""
    return "share" in unit or "比例" in unit


def short_meaning(meaning: str) -> str:
    """The 口径 word of a scorecard meaning: what comes before its colon (``reach:`` or ``可达：``)."""
    return re.split("[:：]", meaning, maxsplit=1)[0]


# --------------------------------------------------------------------------- compact columns

def _escaped_series(values) -> pd.Series:
    """HTML-escaped texts (as ``html.escape`` with quotes), one vectorised pass over the whole column; missing → ''."""
    s = pd.Series(values, dtype=object)
    s = s.where(s.notna(), "").astype("str")
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        s = s.str.replace(old, new, regex=False)
    return s


def _escaped(values) -> list[str]:
    return _escaped_series(values).tolist()


def _texts(values) -> list[str]:
    """Texts as they are (missing → ''), for the UI description that :func:`_script_texts` escapes."""
    s = pd.Series(values, dtype=object)
    return s.where(s.notna(), "").astype("str").tolist()


def _zigzag(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    z = (v << 1) ^ (v >> 63)
    if len(z) and (z.max() > 0xFFFFFFFF or z.min() < 0):
        raise ValueError("value out of the 32-bit range of the map's integer columns")
    return z.astype(np.uint32)


def _narrow(z: np.ndarray) -> tuple[np.ndarray, str]:
    """Unsigned codes in the narrowest of u1/u2/u4 that holds them (fewer bytes to deflate)."""
    top = int(z.max()) if len(z) else 0
    dtype = "u1" if top < 1 << 8 else "u2" if top < 1 << 16 else "u4"
    return z.astype("<" + dtype), dtype


class _Pack:
    """The columns of one table of the page, byte-shuffled and deflated together.

    Codecs (decoded by ``templates/map.js``):

    ``raw``
        the values as they are (``u1``/``i1``/``u2``/``i2``/``u4``/``i4``/``f4``/``f8``);
    ``zdelta``
        signed integers as zigzag-coded differences to the previous value (in the narrowest
        of ``u1``/``u2``/``u4``): runs and slow changes along the spatial order become small
        numbers with zero high bytes;
    ``mdelta``
        unsigned 32-bit lanes as differences modulo 2³² (the two halves of H3 ids);
    ``zigzag``
        signed integers zigzag-coded as they are, narrowed likewise (ring residuals, see
        :func:`_ring_residuals`);
    ``text``
        strings: HTML-escaped, joined by newlines, UTF-8 bytes (decoded on first use).

    Byte shuffling puts the i-th byte of every value together, so deflate sees long runs
    of zero high bytes; the browser undoes it while copying into the typed array.
    """

    def __init__(self, n: int):
        self.n = int(n)
        self.parts: list[bytes] = []
        self.columns: dict[str, list] = {}
        self.json: dict[str, list] = {}
        self.offset = 0

    def add(self, name: str, values: ArrayLike, codec: str = "raw", dtype: str | None = None) -> None:
        """Append a column (``codec`` as in the class docstring; ``dtype`` for raw columns, default from the values)."""
        values = np.asarray(values)
        if codec == "zdelta":
            data, dtype = _narrow(_zigzag(np.diff(values.astype(np.int64), prepend=np.int64(0))))
        elif codec == "mdelta":
            v = values.astype(np.uint32)
            data, dtype = np.diff(v, prepend=np.uint32(0)).astype(np.uint32), "u4"
        elif codec == "zigzag":
            data, dtype = _narrow(_zigzag(values))
        elif codec == "raw":
            dtype = dtype or {"uint8": "u1", "int8": "i1", "uint16": "u2", "int16": "i2", "uint32": "u4",
                              "int32": "i4", "float32": "f4", "float64": "f8", "bool": "u1"}[values.dtype.name]
            data = values.astype("<" + dtype)
        else:
            raise ValueError(codec)
        data = np.ascontiguousarray(data, dtype=np.dtype("<" + dtype))
        raw = data.view(np.uint8).reshape(len(data), data.itemsize).T.tobytes()
        self.columns[name] = [dtype, codec, self.offset, int(len(data))]
        self.parts.append(raw)
        self.offset += len(raw)

    def text(self, name: str, values: Sequence | pd.Series | np.ndarray) -> None:
        """A string column, deflated with the rest (read once, when a popup first needs it)."""
        joined = "\n".join(_escaped_series(values).str.replace("\n", " ", regex=False).tolist()) if len(values) else ""
        data = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
        self.add(name, data)
        self.columns[name][1] = "text"

    def plain(self, name: str, values: Sequence | pd.Series | np.ndarray) -> None:
        """A string column written as plain (escaped) JSON text, readable without decoding."""
        self.json[name] = _escaped(values)

    def factor(self, name: str, values: Sequence | pd.Series | np.ndarray) -> None:
        """A string column of few distinct values: codes (``-1`` missing or empty) and the distinct values."""
        s = pd.Series(values, dtype=object)
        s = s.where(pd.notna(s) & (s.astype(str) != ""), None)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        self.add(name, codes.astype(np.int64), "zdelta")
        self.json[name] = _escaped(list(uniques))

    def finish(self) -> tuple[str, dict]:
        return _text_of(zlib.compress(b"".join(self.parts), ZLIB_LEVEL)), {"n": self.n, "columns": self.columns,
                                                                           "json": self.json}


#: RFC 1924 base85 digits (Python's ``base64.b85encode``), ``<`` replaced by ``.`` (see :func:`_text_of`).
_B85 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;.=>?@^_`{|}~",
                     dtype=np.uint8)


def _text_of(data: bytes) -> str:
    """Bytes as page text: base85 (RFC 1924 digits; 5 characters per 4 bytes, where base64 takes 5⅓),
    with ``<`` written as ``.`` (not a digit) so that no markup can ever start inside the text.

    The same characters as ``base64.b85encode(data)`` (with that one substitution), vectorised:
    the standard library's encoder is a Python loop over every 4 bytes.
    """
    n = len(data)
    padded = np.frombuffer(data + b"\0" * (-n % 4), dtype=">u4").astype(np.uint64)
    digits = np.empty((len(padded), 5), dtype=np.uint8)
    for k in range(4, -1, -1):
        padded, digits[:, k] = np.divmod(padded, np.uint64(85))
    text = _B85[digits].tobytes()
    return text[:len(text) - (-n % 4)].decode("ascii")


def _ring_residuals(q: np.ndarray, counts: np.ndarray, pattern: bool) -> np.ndarray:
    """Rings of integer vertices as small residuals (inverse in ``decodeRings`` of ``templates/map.js``).

    A ring's first vertex is coded as the step from the previous ring's first vertex, every
    other vertex as the step (edge vector) from the vertex before it. With ``pattern`` the
    edge vector is further coded as its difference to the same edge of the previous ring when
    both rings have as many vertices: neighbouring H3 cells have nearly identical shapes, so
    those differences are mostly 0 or ±1.
    """
    n = len(q)
    out = np.zeros_like(q)
    if n == 0:
        return out
    counts = counts.astype(np.int64)
    starts = np.cumsum(counts) - counts
    first = np.zeros(n, bool)
    first[starts] = True
    out[starts] = np.diff(q[starts], axis=0, prepend=np.zeros((1, 2), dtype=q.dtype))
    edge = np.zeros_like(q)
    edge[1:] = q[1:] - q[:-1]
    rest = ~first
    out[rest] = edge[rest]
    if pattern:
        ring = np.repeat(np.arange(len(counts)), counts)
        same = rest & (ring > 0)
        same[same] = counts[ring[same]] == counts[ring[same] - 1]
        k = np.flatnonzero(same)
        out[k] = edge[k] - edge[k - counts[ring[k]]]
    return out


def _add_rings(pack: _Pack, q: np.ndarray, counts: np.ndarray, pattern: bool = False, prefix: str = "") -> None:
    res = _ring_residuals(q, counts, pattern)
    pack.add(prefix + "nv", counts.astype(np.uint32) if counts.max(initial=0) > 255 else counts.astype(np.uint8))
    pack.add(prefix + "vx", res[:, 0], "zigzag")
    pack.add(prefix + "vy", res[:, 1], "zigzag")


@dataclass
class _Rings:
    """Polygon rings in the source CRS: vertices (closing vertex dropped), vertices per ring,
    whether each ring is an exterior, its feature, and its area (CRS units², shoelace)."""

    xy: np.ndarray
    counts: np.ndarray
    exterior: np.ndarray
    feature: np.ndarray
    area: np.ndarray
    crs: object


def _rings(geoms, crs, *, simplify: float) -> _Rings:
    """The rings of (multi)polygons, each simplified on its own (Douglas–Peucker, ``simplify`` in CRS units).

    Ring by ring rather than topology-preserving over the whole geometry: that one checks every
    ring against every other and is far from linear on a city's merged area with tens of
    thousands of holes; a display can live with a hole that touches its shell after simplifying.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, feature = shapely.get_parts(geoms, return_index=True) if len(geoms) else (np.zeros(0, object),
                                                                                      np.zeros(0, np.int64))
    polygon = shapely.get_type_id(parts) == 3
    parts, feature = parts[polygon], feature[polygon]
    rings, part = shapely.get_rings(parts, return_index=True) if len(parts) else (np.zeros(0, object),
                                                                                  np.zeros(0, np.int64))
    exterior = np.r_[True, part[1:] != part[:-1]] if len(part) else np.zeros(0, bool)
    if simplify > 0 and len(rings):
        rings = shapely.simplify(rings, simplify, preserve_topology=False)
    counts = shapely.get_num_coordinates(rings).astype(np.int64)
    xy = shapely.get_coordinates(rings)
    xy = np.delete(xy, np.cumsum(counts) - 1, axis=0) if len(xy) else xy
    counts = np.maximum(counts - 1, 0)
    ring_of = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    nxt = np.arange(1, len(xy) + 1)
    nxt[starts[counts > 0] + counts[counts > 0] - 1] = starts[counts > 0]
    area = np.abs(np.bincount(ring_of, xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1], minlength=len(counts))) / 2 \
        if len(xy) else np.zeros(len(counts))
    return _Rings(xy, counts, exterior, feature[part] if len(part) else np.zeros(0, np.int64), area, crs)


def _resimplify(r: _Rings, tolerance: float) -> _Rings:
    """The same rings simplified again with a larger tolerance (ring by ring, like :func:`_rings`)."""
    valid = r.counts >= 3  # the others were already degenerate: they stay empty
    if not valid.any():
        return r
    xy = r.xy[np.repeat(valid, r.counts)]
    counts = r.counts[valid]
    closed = np.insert(xy, np.cumsum(counts), xy[np.cumsum(counts) - counts], axis=0)
    rings = shapely.linearrings(closed, indices=np.repeat(np.arange(len(counts)), counts + 1))
    rings = shapely.simplify(rings, tolerance, preserve_topology=False)
    kept = shapely.get_num_coordinates(rings).astype(np.int64)
    xy = shapely.get_coordinates(rings)
    xy = np.delete(xy, np.cumsum(kept) - 1, axis=0) if len(xy) else xy
    out = np.zeros(len(r.counts), dtype=np.int64)
    out[valid] = np.maximum(kept - 1, 0)
    return _Rings(xy, out, r.exterior, r.feature, r.area, r.crs)


def _keep_largest_holes(layers: list[_Rings], budget: int, min_hole: float) -> float:
    """Drop holes, smallest first, until all layers together hold at most ``budget`` vertices.

    Exteriors always stay (they are the area); holes below ``min_hole`` always go. Modifies the
    layers in place and returns the area (CRS units²) of the largest hole left out (``min_hole``
    when only the tiny ones went).
    """
    if not layers:
        return min_hole
    area = np.concatenate([r.area[~r.exterior] for r in layers])
    count = np.concatenate([r.counts[~r.exterior] for r in layers])
    fixed = sum(int(r.counts[r.exterior].sum()) for r in layers)
    order = np.argsort(-area, kind="stable")
    fits = (fixed + np.cumsum(count[order]) <= budget) & (area[order] >= min_hole)
    n_keep = int(np.argmin(fits)) if not fits.all() else len(fits)
    keep_hole = np.zeros(len(area), bool)
    keep_hole[order[:n_keep]] = True
    cut = max(float(area[order[n_keep]]), min_hole) if n_keep < len(order) else min_hole
    start = 0
    for r in layers:
        holes = np.flatnonzero(~r.exterior)
        keep = r.exterior.copy()
        keep[holes] = keep_hole[start:start + len(holes)]
        start += len(holes)
        vert = np.repeat(keep, r.counts)
        r.xy, r.counts, r.exterior, r.feature, r.area = (r.xy[vert], r.counts[keep], r.exterior[keep],
                                                         r.feature[keep], r.area[keep])
    return cut


def _part1by1(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                        (2, 0x3333333333333333), (1, 0x5555555555555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def _display_rings(r: _Rings, config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rings as the page draws them: (displayed 1e-5° integer vertices, vertices per ring, feature per ring).

    Repeated vertices after rounding and rings of fewer than three vertices (with their holes) are
    dropped; exteriors turn anticlockwise and holes clockwise, so one nonzero-rule fill draws many
    features with their holes; rings are ordered by feature, then along a Z-order curve of their
    first vertex, so that consecutive rings start close to each other (small deltas).
    """
    xy, counts, exterior, feature = r.xy, r.counts, r.exterior, r.feature
    if len(counts) == 0:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if r.crs is not None and not pyproj.CRS(r.crs).equals(pyproj.CRS(WGS84)) and len(xy):
        lon, lat = Transformer.from_crs(r.crs, WGS84, always_xy=True).transform(xy[:, 0], xy[:, 1])
        xy = np.column_stack([lon, lat])
    q = _display_ints(xy, config)
    ring_of = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    prev = np.roll(np.arange(len(q)), 1)
    has = counts > 0
    prev[starts[has]] = starts[has] + counts[has] - 1  # a ring's first vertex is compared with its last
    distinct = np.any(q != q[prev], axis=1)
    q, ring_of = q[distinct], ring_of[distinct]
    counts = np.bincount(ring_of, minlength=len(counts))
    alive = counts >= 3
    shell = np.maximum.accumulate(np.where(exterior, np.arange(len(exterior)), 0))
    alive &= alive[shell]  # holes die with their shell
    q, ring_of = q[alive[ring_of]], ring_of[alive[ring_of]]
    counts, exterior, feature = counts[alive], exterior[alive], feature[alive]
    # Orientation from the shoelace sum of each ring; reverse the rings that turn the wrong way.
    starts = np.cumsum(counts) - counts
    ring_of = np.repeat(np.arange(len(counts)), counts)
    nxt = np.arange(1, len(q) + 1)
    nxt[starts + counts - 1] = starts
    x, y = q[:, 0].astype(np.float64), q[:, 1].astype(np.float64)
    area2 = np.bincount(ring_of, x * y[nxt] - x[nxt] * y, minlength=len(counts))
    flip = (area2 > 0) != exterior
    pos = np.arange(len(q)) - starts[ring_of]
    q = q[np.where(flip[ring_of], starts[ring_of] + counts[ring_of] - 1 - pos, np.arange(len(q)))]
    # Spatial order of the rings within each feature.
    first = q[starts] - q[starts].min(axis=0) if len(starts) else np.zeros((0, 2), np.int64)
    z = _part1by1(first[:, 0]) | (_part1by1(first[:, 1]) << np.uint64(1))
    ring_order = np.lexsort((z, feature))
    new_counts = counts[ring_order]
    new_starts = np.repeat(starts[ring_order], new_counts)
    within = np.arange(new_counts.sum()) - np.repeat(np.cumsum(new_counts) - new_counts, new_counts)
    vert_order = new_starts + within
    return q[vert_order], new_counts, feature[ring_order]


# --------------------------------------------------------------------------- the page

class MapPage:
    """The map being assembled: layers (labels, kinds, styles), tables and what the legend shows.

    :func:`build_map` makes one; :func:`add_blind_spots`, :func:`add_proposed_sites` and
    :func:`add_scorecard` add to it; :func:`write_map` writes it. The cell and scorecard
    tables stay open until the page is rendered (blind spots and the panel add columns).
    """

    def __init__(self, config: Config):
        self.config = config
        self.packs: dict[str, _Pack] = {}
        self.layers: list[dict] = []
        self.ui: dict = {}
        self.legend: dict = {}  # what templates/map_legend.html shows
        self.view: dict = {}
        self.facility_index: pd.Index = pd.Index([], dtype=str)
        self.community_ids: np.ndarray | None = None
        self.community_residents: np.ndarray | None = None
        self.cell_order = np.zeros(0, np.uint64)  # H3 ids of the populated cells, in the page's order
        self.cell_q = np.zeros((0, 2), np.int64)  # their displayed vertices
        self.cell_counts = np.zeros(0, np.int64)
        self.scorecard_rows: tuple | None = None

    def dataset(self, name: str, pack: _Pack) -> None:
        self.packs[name] = pack

    def layer(self, label: str, kind: str, show: bool, **options: Any) -> None:
        self.layers.append({"label": label, "kind": kind, "show": bool(show), **options})

    def finish(self) -> tuple[dict[str, str], dict[str, dict]]:
        """Every table deflated and as text (in parallel: zlib releases the GIL), and their descriptions."""
        names = list(self.packs)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            done = list(pool.map(lambda k: self.packs[k].finish(), names))
        return {k: d[0] for k, d in zip(names, done)}, {k: d[1] for k, d in zip(names, done)}


def build_map(config: Config, cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
              merged_areas: gpd.GeoDataFrame | None, communities: gpd.GeoDataFrame, notes: dict[str, str],
              area_bounds: tuple[float, float, float, float], adjacency: pd.DataFrame | None = None,
              scorecard: pd.DataFrame | None = None) -> MapPage:
    """The interactive map of one run.

    Layers: walk time per category (populated cells; coarser H3 parents when zoomed out;
    click a cell for its residents and the walk to, and name of, the nearest facility of every
    category; gap cells outlined), the complete circle, 5/10/15-minute service areas per
    category, facility markers per category (care facilities with their walk to a health
    centre, from ``adjacency``), communities coloured by complete-circle share (click one for
    its scorecard rows). Under a GCJ-02 basemap every overlay is shifted to GCJ-02 for display.

    Parameters
    ----------
    config : Config
    cells : GeoDataFrame
        The run's H3 cells (WGS-84 polygons, columns as :func:`servicecircle.grid.build_cells`).
    facilities : GeoDataFrame
        WGS-84 points.
    merged_areas : GeoDataFrame or None
        Service areas per category and threshold (any projected CRS), or None.
    communities : GeoDataFrame
    notes : dict
        Per category, what was found (:func:`servicecircle.summary.category_notes`).
    area_bounds : tuple
        West, south, east, north of the study area (WGS-84).
    adjacency : DataFrame, optional
        The 医养结合 check (:func:`servicecircle.gaps.health_adjacency`).
    scorecard : DataFrame, optional

    Returns
    -------
    MapPage
    """
    page = MapPage(config)
    west, south, east, north = area_bounds
    sw, ne = display_point(west, south, config), display_point(east, north, config)
    page.view = {"bounds": [list(sw), list(ne)]}
    classes = _classes(config)
    cats = list(config.categories.items())
    page.ui = {
        "lang": config.output.lang,
        "categories": [{"key": k, "label": c.label, "colour": CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]}
                       for i, (k, c) in enumerate(cats)],
        "classes": [{"label": n, "colour": c} for _, _, n, c in classes],
        # The map texts without a placeholder, and those the script fills itself (templates/map.js: fmt).
        "text": {**{k: v for k, v in texts.section(config.output.lang, "map.").items() if "{" not in v},
                 **texts.section(config.output.lang, "script.")},
        "threshold": config.access.coverage_threshold_min,
        "within": _t(config, "within", t=config.access.coverage_threshold_min),
        "complete_label": _t(config, "complete", t=config.access.coverage_threshold_min),
        "popup_fields": [_t(config, f"popup.{field}") for field in _POPUP_FIELDS],
        "min_edge_px": MIN_EDGE_PX,
    }
    if config.output.basemap != "none":
        url, _, attr, extra = TILES[config.output.basemap]
        page.ui["tiles"] = {"url": url, "attribution": attr, **extra}

    _add_facilities(page, facilities, adjacency)
    _add_cells(page, cells, classes)
    for i, (key, cat) in enumerate(cats):
        page.layer(f"{_t(config, 'walk_time')}: {cat.label} ({key})", "walk", i == 0, category=i)
    page.layer(
        _t(config, "complete", t=config.access.coverage_threshold_min) + f" ({', '.join(config.complete_circle)})",
        "complete",
        False,
    )
    areas, area_note = _service_area_rings(merged_areas, cats, config)
    for i, (key, cat) in enumerate(cats):
        for minutes in sorted(config.access.thresholds_min, reverse=True):
            name = None
            if (key, minutes) in areas:
                name = f"area_{i}_{minutes:g}"
                _add_polygons(page, name, areas[(key, minutes)], 1)
            page.layer(f"{_t(config, 'service_area', m=minutes)}: {cat.label}", "area", False, dataset=name,
                       category=i)
        page.layer(f"{_t(config, 'facilities')}: {cat.label} ({key})", "facilities", True, category=i)
    if len(communities):
        _add_communities(page, communities)
        page.layer(_t(config, "communities"), "communities", False, dataset="communities")
    if scorecard is not None and len(scorecard):
        _add_scorecard_table(page, scorecard)
    speed = _t(config, "speed", v=config.access.speed_m_s, p=config.access.speed_profile)
    page.legend = _legend(config, classes, notes, speed, area_note)
    estimated = float(cells["population_fallback"].sum()) if "population_fallback" in cells else 0.0
    if estimated > 0:  # the residents of streetless communities are an estimate: the legend says how many
        page.legend["fallback_note"] = _t(config, "legend.population_fallback", n=f"{estimated:,.0f}")
    return page


def _service_area_rings(merged_areas, cats, config: Config) -> tuple[dict, str]:
    """Display rings of every merged service area, under one vertex budget for the whole page.

    Simplified by :data:`AREA_SIMPLIFY_M` (then :data:`AREA_SIMPLIFY_MAX_M` if the exteriors alone
    exceed the budget); holes under :data:`AREA_MIN_HOLE_M2` left out, and more of the smallest ones
    while the page's service areas would hold more than :data:`AREA_VERTEX_BUDGET` vertices. The
    legend states what was left out; the GeoPackage keeps the exact areas.
    """
    out: dict = {}
    if merged_areas is None or len(merged_areas) == 0:
        return out, ""
    frame = merged_areas
    if frame.crs is None or not frame.crs.is_projected:
        west, south, east, north = frame.to_crs(WGS84).total_bounds
        frame = frame.to_crs(utm_crs([west, east], [south, north]))
    tolerance = AREA_SIMPLIFY_M
    for key, _ in cats:
        for minutes in config.access.thresholds_min:
            part = frame[(frame["category"] == key) & (frame["minutes"] == minutes)]
            if len(part):
                out[(key, minutes)] = _rings(part.geometry.values, frame.crs, simplify=tolerance)
    if sum(int(r.counts[r.exterior].sum()) for r in out.values()) > AREA_VERTEX_BUDGET // 2:
        # Simplifying the 2 m rings again at 5 m: fewer vertices to visit than the exact rings.
        tolerance = AREA_SIMPLIFY_MAX_M
        out = {k: _resimplify(r, tolerance) for k, r in out.items()}
    cut = _keep_largest_holes(list(out.values()), AREA_VERTEX_BUDGET, AREA_MIN_HOLE_M2)
    return out, _t(config, "legend.area_note", tolerance=tolerance, cut=cut)


def _add_facilities(page: MapPage, facilities: gpd.GeoDataFrame, adjacency) -> None:
    """The facility table: displayed position, category, flags, capacities, source, names (plain JSON)."""
    config = page.config
    n = len(facilities)
    keys = list(config.categories)
    fac = facilities[facilities["category"].isin(keys)].reset_index(drop=True) if n else facilities
    n = len(fac)
    pack = _Pack(n)
    if n:
        # Within each category along a Z-order curve: neighbouring cells then name neighbouring
        # facility numbers, and positions step by little (both compress to fewer bytes).
        qz = _display_ints(shapely.get_coordinates(fac.geometry.values), config)
        qz = qz - qz.min(axis=0)
        z = _part1by1(qz[:, 0]) | (_part1by1(qz[:, 1]) << np.uint64(1))
        code = pd.Categorical(fac["category"], categories=keys).codes
        fac = fac.iloc[np.lexsort((z, code))].reset_index(drop=True)
    page.facility_index = pd.Index(fac["facility_id"].astype(str)) if n else pd.Index([], dtype=str)
    xy = shapely.get_coordinates(fac.geometry.values) if n else np.zeros((0, 2))
    q = _display_ints(xy, config)
    pack.add("x", q[:, 0], "zdelta")
    pack.add("y", q[:, 1], "zdelta")
    cat = pd.Categorical(fac["category"], categories=keys).codes if n else np.zeros(0, np.int8)
    pack.add("cat", np.asarray(cat, dtype=np.int64), "zdelta")
    counted = fac["counted"].to_numpy(bool) if n else np.zeros(0, bool)
    off = fac["off_network"].fillna(False).to_numpy(bool) if "off_network" in fac and n else np.zeros(n, bool)
    names = fac["name"].fillna("").astype(str) if n else pd.Series([], dtype=str)
    named = names.str.len().to_numpy() > 0
    pack.add("flags", (counted.astype(np.uint8) | (off.astype(np.uint8) << 1) | (named.astype(np.uint8) << 2)))
    # Names (the facility id for an unnamed one), deflated with the rest: a city's are megabytes of text.
    pack.text(
        "label",
        np.where(named, names.to_numpy(dtype=object), fac["facility_id"].astype(str).to_numpy(dtype=object))
        if n
        else [],
    )
    pack.factor("flag_note", fac["flag_note"] if "flag_note" in fac else [None] * n)
    source = fac["source"].fillna("osm").astype(str) if "source" in fac else pd.Series(["osm"] * n, dtype=str)
    pack.factor("source", source)
    osm_id = (pd.to_numeric(fac["osm_id"], errors="coerce").to_numpy(float, copy=True) if "osm_id" in fac
              else np.full(n, np.nan))
    osm_id[(osm_id == -1) | ~source.isin(["osm", "both"]).to_numpy()] = np.nan
    pack.add("osm_id", osm_id)
    pack.factor("osm_type", fac["osm_type"] if "osm_type" in fac else [None] * n)
    registry = source.isin(["registry", "both"]).to_numpy()
    if "registry_file" in fac and n:
        files = fac["registry_file"].astype("str").where(pd.Series(registry) & fac["registry_file"].notna())
        files = files.str.replace("\\", "/", regex=False).str.rsplit("/", n=1).str[-1]  # the file's name
    else:
        files = [None] * n
    pack.factor("registry_file", files)
    row = (pd.to_numeric(fac["registry_row"], errors="coerce").to_numpy(float, copy=True) if "registry_row" in fac
           else np.full(n, np.nan))
    row[~registry] = np.nan
    pack.add("registry_row", row)
    shown = []
    for i, field in enumerate(_POPUP_FIELDS):
        if field not in fac:
            continue
        values = fac[field]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            pack.add(f"p{i}", pd.to_numeric(values, errors="coerce").to_numpy(float))
            shown.append([i, "number"])
        else:
            pack.factor(f"p{i}", values)
            shown.append([i, "text"])
    if "affordable" in fac:
        pack.add("affordable", _tristate(fac["affordable"]))
    # 医养结合: the walk of each care facility to the nearest health centre, as text (one per care facility).
    care_row, care_text = _health_walk(adjacency, page.facility_index, config.output.lang)
    pack.add("care_row", care_row, "zdelta")
    pack.text("care_text", care_text)
    page.dataset("facilities", pack)
    page.ui["facility_fields"] = shown


def _tristate(values: pd.Series) -> np.ndarray:
    """True → 1, False → 0, anything else (None, NaN: not known) → -1."""
    v = pd.Series(values, dtype=object)
    yes = v.map({True: 1, False: 0}).astype("float64").fillna(-1)
    return yes.to_numpy().astype(np.int8)


def _fixed1(values: np.ndarray) -> np.ndarray:
    """``f"{v:.1f}"`` of non-negative finite values, vectorised (integer tenths to text)."""
    tenths = np.rint(np.asarray(values, float) * 10).astype(np.int64)
    return np.char.add(np.char.add((tenths // 10).astype(str), "."), (tenths % 10).astype(str))


def _format_series(template: str, **values: pd.Series) -> pd.Series:
    """``template.format`` row by row, vectorised: its literal parts and the ``values`` concatenated
    (placeholders take no format spec)."""
    out = None
    for literal, field, spec, _ in string.Formatter().parse(template):
        if spec:
            raise ValueError(f"no format spec in a vectorised text: {template!r}")
        for part in ([literal] if literal else []) + ([values[field]] if field is not None else []):
            out = part if out is None else out + part
    return out


def _plain(values) -> pd.Series:
    s = pd.Series(values, dtype=object)
    return s.where(s.notna(), "").astype("str")


def _health_walk(adjacency, index: pd.Index, lang: str = "zh") -> tuple[np.ndarray, list[str]]:
    """Per care facility of the adjacency check: its facility row, and its walk to the nearest health centre.

    Plain text: the facility table's text columns are escaped when packed (:meth:`_Pack.text`).
    """
    if adjacency is None or len(adjacency) == 0:
        return np.zeros(0, np.int64), []
    adj = adjacency.reset_index(drop=True)
    rows = index.get_indexer(adj["facility_id"].astype(str))
    walk = adj["walk_min_to_health"].to_numpy(float)
    finite = np.isfinite(walk)
    name = _plain(adj["nearest_health_name"])
    name = name.where(name != "", _plain(adj["nearest_health_id"]))
    verdict = np.where(adj["adjacent"].fillna(False).to_numpy(bool), texts.text(lang, "popup.care_within"),
                       texts.text(lang, "popup.care_beyond"))
    limits, which = np.unique(adj["max_walk_min"].to_numpy(float), return_inverse=True)
    limit = pd.Series(
        np.array([f"{v:g}" for v in limits], dtype=object)[which.ravel()]
    )  # formats the few distinct limits
    checked = adj["checked"].fillna(False).to_numpy(bool) if "checked" in adj else np.ones(len(adj), bool)
    measured = _format_series(texts.text(lang, "popup.care_walk"), walk=pd.Series(_fixed1(np.where(finite, walk, 0))),
                              name=name, verdict=pd.Series(verdict), limit=limit)
    note = _format_series(texts.text(lang, "popup.care_note"),
                          note=_plain(adj["note"] if "note" in adj else [""] * len(adj)))
    unchecked = _format_series(texts.text(lang, "popup.care_unchecked"),
                               note=_plain(adj["note"] if "note" in adj else [""] * len(adj)))
    text = measured.where(finite, note.where(checked, unchecked))
    keep = rows >= 0
    return rows[keep], text[keep].tolist()


def _h3_uint64(ids) -> np.ndarray:
    return np.asarray(h3ronpy.cells_parse(pa.array(np.asarray(ids, dtype=object).astype(str))), dtype=np.uint64)


def _cell_rings(polygons: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Exterior vertices of cell polygons in displayed 1e-5° integers, without the closing vertex."""
    ring = shapely.get_exterior_ring(polygons)
    counts = shapely.get_num_coordinates(ring).astype(np.int64)
    xy = np.delete(shapely.get_coordinates(ring), np.cumsum(counts) - 1, axis=0)
    return _display_ints(xy, config), counts - 1


def _weighted_median(group: np.ndarray, value: np.ndarray, weight: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group: the first value (ascending; inf last) whose cumulative weight reaches half the group's weight."""
    order = np.lexsort((value, group))
    g, v, w = group[order], value[order], weight[order]
    cum = np.cumsum(w)
    total = np.bincount(g, w, minlength=n_groups)
    before = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    target = before + total / 2.0 - 1e-9 * np.maximum(total, 1.0)
    pos = np.searchsorted(cum, target, side="left")
    last = np.cumsum(np.bincount(g, minlength=n_groups)) - 1
    pos = np.minimum(pos, last)
    return v[pos]


def _add_cells(page: MapPage, cells: gpd.GeoDataFrame, classes: list[tuple]) -> None:
    """The cell table of every level: populated cells (full resolution) and coarser H3 parents."""
    config = page.config
    cats = list(config.categories)
    populated = cells[cells["residents"].to_numpy(float) > 0] if len(cells) else cells
    ids = _h3_uint64(populated["h3"]) if len(populated) else np.zeros(0, np.uint64)
    order = np.argsort(ids, kind="stable")  # H3 order is a spatial order: neighbours stay close
    populated, ids = populated.iloc[order], ids[order]
    residents = populated["residents"].to_numpy(float)
    res = config.grid.h3_resolution
    levels = []
    page.cell_order = ids

    # Full resolution.
    pack = _Pack(len(populated))
    q, counts = _cell_rings(populated.geometry.values, config) if len(populated) else (np.zeros((0, 2), np.int64),
                                                                                      np.zeros(0, np.int64))
    _add_h3(pack, ids)
    _add_rings(pack, q, counts, pattern=True)
    pack.add("res", np.rint(residents).astype(np.uint32))
    fallback = populated["population_fallback"].to_numpy(float) if "population_fallback" in populated else None
    if fallback is not None and (fallback > 0).any():  # only runs with such estimates carry the column
        pack.add("fb", np.rint(fallback).astype(np.uint32))
    covered = {}
    for c, key in enumerate(cats):
        minutes = populated[f"walk_time_s_{key}"].to_numpy(float) / 60.0
        _add_walk(pack, c, minutes, classes)
        near = populated[f"nearest_{key}"].fillna("").astype(str) if len(populated) else pd.Series([], dtype=str)
        pack.add(f"f{c}", page.facility_index.get_indexer(near), "zdelta")
        covered[key] = populated[f"covered_{key}"].fillna(False).to_numpy(bool) if len(populated) else np.zeros(0, bool)
        pack.add(f"c{c}", covered[key].astype(np.uint16) * 1000)
    complete = populated["complete"].fillna(False).to_numpy(bool) if len(populated) else np.zeros(0, bool)
    pack.add("cmp", complete.astype(np.uint16) * 1000)
    page.dataset("cells", pack)  # blind spots add their columns before the page is written
    page.cell_q, page.cell_counts = q, counts
    levels.append({"res": res, "dataset": "cells", "edge_m": h3.average_hexagon_edge_length(res, "m"), "full": True})

    # Coarser levels: resident sums, resident-weighted median walks, covered and complete shares.
    for step in COARSE_STEPS:
        r = res - step
        if r < 0 or len(populated) == 0:
            continue
        parents = np.asarray(h3ronpy.change_resolution(pa.array(ids), r), dtype=np.uint64)
        uniq, inv = np.unique(parents, return_inverse=True)
        m = len(uniq)
        cp = _Pack(m)
        poly = shapely.from_wkb(np.asarray(pa.array(h3ronpy.vector.cells_to_wkb_polygons(pa.array(uniq))),
                                           dtype=object))
        pq, pc = _cell_rings(poly, config)
        _add_h3(cp, uniq)
        _add_rings(cp, pq, pc, pattern=True)
        total = np.bincount(inv, residents, minlength=m)
        cp.add("res", np.rint(total).astype(np.uint32))
        for c, key in enumerate(cats):
            minutes = populated[f"walk_time_s_{key}"].to_numpy(float) / 60.0
            _add_walk(cp, c, _weighted_median(inv, minutes, residents, m), classes)
            share = np.bincount(inv, residents * covered[key], minlength=m) / total
            cp.add(f"c{c}", np.rint(share * 1000).astype(np.uint16))
        cp.add("cmp", np.rint(np.bincount(inv, residents * complete, minlength=m) / total * 1000).astype(np.uint16))
        name = f"cells_r{r}"
        page.dataset(name, cp)
        levels.append({"res": r, "dataset": name, "edge_m": h3.average_hexagon_edge_length(r, "m"), "full": False,
                       "label": _t(config, "aggregate", r=r)})
    page.ui["levels"] = levels


def _add_h3(pack: _Pack, ids: np.ndarray) -> None:
    """H3 ids as two 32-bit lanes: the high lane is nearly constant, the low one grows along the order."""
    pack.add("hhi", (ids >> np.uint64(32)).astype(np.uint32), "mdelta")
    pack.add("hlo", (ids & np.uint64(0xFFFFFFFF)).astype(np.uint32), "mdelta")


def _add_walk(pack: _Pack, c: int, minutes: np.ndarray, classes: list[tuple]) -> None:
    """Walk time of category ``c``: tenths of a minute (``UNREACHABLE`` when none) and its class code."""
    finite = np.isfinite(minutes)
    tenths = np.full(len(minutes), UNREACHABLE, dtype=np.uint32)
    tenths[finite] = np.minimum(np.rint(minutes[finite] * 10), float(UNREACHABLE) - 1).astype(np.uint32)
    pack.add(f"w{c}", tenths, "mdelta")  # modular: the UNREACHABLE sentinel is the top of the range
    pack.add(f"k{c}", _class_codes(minutes, classes))


def _add_polygons(page: MapPage, name: str, rings: _Rings, n_features: int, extra=None) -> None:
    """A polygon table: display rings (see :func:`_display_rings`), their features, and ``extra`` columns."""
    q, counts, feature = _display_rings(rings, page.config)
    pack = _Pack(n_features)
    _add_rings(pack, q, counts)
    pack.add("rf", feature, "zdelta")
    if extra is not None:
        extra(pack)
    page.dataset(name, pack)


def _add_communities(page: MapPage, communities: gpd.GeoDataFrame) -> None:
    comm = communities.reset_index(drop=True)
    page.community_ids = comm["community_id"].to_numpy()
    page.community_residents = comm["residents"].fillna(0).to_numpy(float)
    share = comm["complete_share"].fillna(0).to_numpy(float) if "complete_share" in comm else np.zeros(len(comm))

    def extra(pack: _Pack) -> None:
        pack.add("res", np.rint(comm["residents"].fillna(0).to_numpy(float)).astype(np.uint32))
        pack.add("pct", np.rint(share * 1000).astype(np.uint16))  # tenths of a per cent
        pack.add("style", np.where(share >= 0.9, 0, np.where(share >= 0.6, 1, 2)).astype(np.uint8))
        pack.text("name", comm["name"].fillna("").astype(str))

    geoms = comm.to_crs(WGS84).geometry.values

    def with_labels(pack: _Pack) -> None:
        extra(pack)
        _add_label_anchors(pack, geoms, page.config)

    rings = _rings(geoms, WGS84, simplify=OUTLINE_SIMPLIFY_DEG)
    _add_polygons(page, "communities", rings, len(comm), extra=with_labels)


def _add_label_anchors(pack: _Pack, geoms, config: Config) -> None:
    """Where the script writes each feature's name, and how much room the feature has for it.

    ``lx``/``ly``: a point inside the feature (shapely's point on surface, displayed like every
    vertex); ``ew``/``eh``: the feature's displayed width and height (1e-5° units), from which the
    script decides per zoom whether the name fits (so the same names show in every tile).
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms):
        anchor = _display_ints(shapely.get_coordinates(shapely.point_on_surface(geoms)), config)
        bounds = shapely.bounds(geoms)
        low = _display_ints(bounds[:, :2], config)
        high = _display_ints(bounds[:, 2:], config)
        extent = np.maximum(high - low, 0)
    else:
        anchor = extent = np.zeros((0, 2), np.int64)
    pack.add("lx", anchor[:, 0], "zdelta")
    pack.add("ly", anchor[:, 1], "zdelta")
    pack.add("ew", extent[:, 0].astype(np.uint32))
    pack.add("eh", extent[:, 1].astype(np.uint32))


def add_outlines(m: MapPage, *, area: shapely.Geometry | None, area_name: str,
                 streets: gpd.GeoDataFrame | None, communities: gpd.GeoDataFrame) -> None:
    """District, street and community outlines with their names, shown by default.

    They give the map context that needs no basemap tiles: on an intranet that cannot reach a tile
    server (or with ``basemap = "none"``) the page still shows where each street and community is.
    Names are drawn by the script where the feature is wide enough on screen for them.

    Parameters
    ----------
    m : MapPage
    area : shapely geometry or None
        The study-area polygon (WGS-84), outlined as the district.
    area_name : str
        Its name (e.g. the census district's), written inside it.
    streets : GeoDataFrame or None
        Street (街道) polygons with ``name``.
    communities : GeoDataFrame
        The community units; their outlines reuse the ``communities`` table of :func:`build_map`.
    """
    levels: list[tuple[str, str, Any, Any]] = []
    if area is not None and not shapely.is_empty(area):
        levels.append(("district", "outline_district", np.array([area], dtype=object), [area_name]))
    if streets is not None and len(streets):
        street_frame = streets.to_crs(WGS84)
        levels.append(("street", "outline_streets", street_frame.geometry.values,
                       street_frame["name"].fillna("").astype(str)))
    for level, name, geoms, names in levels:
        def extra(pack: _Pack, geoms=geoms, names=names) -> None:
            pack.text("name", names)
            _add_label_anchors(pack, geoms, m.config)

        rings = _rings(geoms, WGS84, simplify=OUTLINE_SIMPLIFY_DEG)
        _add_polygons(m, name, rings, len(geoms), extra=extra)
        m.layer(_t(m.config, f"outline_{level}"), "outline", True, dataset=name, level=level)
    if len(communities) and "communities" in m.packs:
        m.layer(_t(m.config, "outline_community"), "outline", True, dataset="communities", level="community")


def _hundredths(value: np.ndarray) -> np.ndarray:
    """Scorecard values in hundredths, what the page prints (whole per cent of a share, two decimals otherwise).

    Integers in float64 (exact to 2⁵³, and their low mantissa bytes are zero, which deflate
    removes); NaN when there is no value.
    """
    v = np.asarray(value, dtype=float)
    return np.where(np.isfinite(v), np.rint(v * 100), np.nan)


def _add_scorecard_table(page: MapPage, scorecard: pd.DataFrame) -> None:
    """The scorecard as columns: goal (name, kind, meaning, unit), unit, value, target, pass, gap text.

    Community popups read their rows through a row index sorted by community; the panel
    (:func:`add_scorecard`) lists a bounded selection of rows.
    """
    kinds = texts.section(page.config.output.lang, "kind.")
    sc = scorecard.reset_index(drop=True)
    n = len(sc)
    pack = _Pack(n)
    variant = sc[["goal_name", "kind", "meaning", "unit"]].astype(str)
    codes, uniq = pd.factorize(pd.MultiIndex.from_frame(variant))
    goals = pd.DataFrame(list(uniq), columns=["goal_name", "kind", "meaning", "unit"])
    page.ui["goals"] = [
        {"name": a, "kind": kinds.get(k, k), "meaning": b, "short": c, "share": is_share(u)}
        for a, k, b, c, u in zip(_texts(goals["goal_name"]), goals["kind"], _texts(goals["meaning"]),
                                 _texts(goals["meaning"].map(short_meaning)), goals["unit"])]
    pack.add("g", codes.astype(np.int64), "zdelta")
    level = sc["level"].astype(str).to_numpy()
    uid = pd.to_numeric(sc["unit_id"], errors="coerce").fillna(-1).to_numpy(np.int64)
    # Units: community rows point at the community table; others at a short list of names.
    comm_row = np.full(n, -1, dtype=np.int64)
    if page.community_ids is not None:
        comm_row = np.where(level == "community", pd.Index(page.community_ids).get_indexer(uid), -1)
    other = np.flatnonzero(comm_row < 0)
    other_codes = np.full(n, -1, dtype=np.int64)
    if len(other):
        other_codes[other] = pd.MultiIndex.from_arrays([level[other], uid[other]]).factorize()[0]
    _, first = np.unique(other_codes[other], return_index=True)  # codes number units by first row
    page.ui["units"] = _texts(sc["unit_name"].to_numpy()[other[first]])
    pack.add("u", np.where(comm_row >= 0, comm_row, -(other_codes + 1)), "zdelta")
    pack.add("v", _hundredths(pd.to_numeric(sc["value"], errors="coerce").to_numpy(float)))
    pack.add("t", _hundredths(pd.to_numeric(sc["target"], errors="coerce").to_numpy(float)))
    pack.add("p", _tristate(sc["passed"]))
    gap_codes, gap_uniq = pd.factorize(sc["gap_text"].fillna("").astype(str))
    pack.add("x", gap_codes.astype(np.uint32))  # codes of unrelated rows: no order to delta along
    pack.text("gaps", list(gap_uniq))
    # Rows of each community, in scorecard order: a CSR index over the community table.
    if page.community_ids is not None and len(page.community_ids):
        rows = np.flatnonzero(comm_row >= 0)
        rows = rows[np.argsort(comm_row[rows], kind="stable")]
        offsets = np.r_[0, np.cumsum(np.bincount(comm_row[rows], minlength=len(page.community_ids)))]
        pack.add("crow", rows, "zdelta")
        pack.add("coff", offsets, "zdelta")
    page.dataset("scorecard", pack)  # the panel adds its rows before the page is written
    page.scorecard_rows = (level, uid, sc)


def add_scorecard(m: MapPage, scorecard: pd.DataFrame | None) -> None:
    """A collapsible scorecard panel: the district, every street, and the communities failing a binding goal.

    Communities are capped at :data:`PANEL_COMMUNITIES` (most binding failures first, then most
    residents, then scorecard order), with a line saying how many more are in scorecard.xlsx;
    the page builds the rows from the scorecard table when the panel is opened.
    """
    if scorecard is None or len(scorecard) == 0:
        return
    levels = texts.section(m.config.output.lang, "level.")
    if m.config.communities is None:  # the communities are OSM residential compounds
        levels["community"] = levels["compound"]
    if m.scorecard_rows is None:
        _add_scorecard_table(m, scorecard)
    assert m.scorecard_rows is not None  # set by _add_scorecard_table just above
    level, uid, sc = m.scorecard_rows
    binding_fail = (sc["kind"].astype(str).to_numpy() == "binding") & (_tristate(sc["passed"]) == 0)
    rows: list[int] = []
    sections: list[dict] = []
    for lv in ("district", "street", "community"):
        at = np.flatnonzero(level == lv)
        if len(at) == 0:
            continue
        fails = pd.Series(binding_fail[at]).groupby(uid[at]).sum()
        failing = fails[fails > 0]
        shown, more = at, 0
        if lv == "community":
            units = failing.index.to_numpy()
            residents = np.zeros(len(units))
            if m.community_ids is not None and m.community_residents is not None:
                at_row = pd.Index(m.community_ids).get_indexer(units)
                residents = np.where(at_row >= 0, m.community_residents[np.maximum(at_row, 0)], 0.0)
            first = pd.Series(np.arange(len(at)), index=uid[at]).groupby(level=0).first().reindex(units).to_numpy()
            rank = np.lexsort((first, -residents, -failing.to_numpy()))
            keep = units[rank[:PANEL_COMMUNITIES]]
            more = max(0, len(units) - PANEL_COMMUNITIES)
            shown = at[np.isin(uid[at], keep)]
            # Keep the panel's order: the chosen units by rank, each unit's rows in scorecard order.
            pos = pd.Series(np.arange(len(keep)), index=keep)
            shown = shown[np.lexsort((shown, pos.reindex(uid[shown]).to_numpy()))]
        n_units = len(arrays.unique(uid[at]))
        summary = (_t(m.config, "panel.district") if lv == "district" else
                   _t(m.config, "panel_level", level=levels[lv], units=f"{n_units:,}", fails=f"{len(failing):,}"))
        sections.append({"summary": summary, "start": len(rows), "count": int(len(shown)),
                         "open": lv == "district",
                         "more": _t(m.config, "panel_more", n=f"{more:,}") if more else ""})
        rows.extend(shown.tolist())
    m.packs["scorecard"].add("panel", np.asarray(rows, dtype=np.int64), "zdelta")
    m.ui["panel"] = sections


def add_blind_spots(m: MapPage, blind_spots: gpd.GeoDataFrame, config: Config) -> None:
    """One layer per category: the connected clusters of populated cells outside every circle.

    Drawn from the cell table: each populated cell knows, per category, whether it lies in a
    cluster (the cluster polygon holding its centre), which one, and which of its edges bound
    the cluster, so a cluster is filled cell by cell and outlined along its boundary only.
    Clusters are numbered in the page by their first cell in H3 order, so that the cluster
    numbers along the cells change rarely and by little.
    """
    threshold = config.access.coverage_threshold_min
    cats = list(config.categories.items())
    spots = blind_spots.reset_index(drop=True) if blind_spots is not None and len(blind_spots) else gpd.GeoDataFrame()
    pack = m.packs["cells"]
    n_cells = pack.n
    # A cluster polygon is the union of its cells (WGS-84), so a cell belongs to the cluster holding its centre.
    centres = shapely.points(_h3_centres(m.cell_order)) if n_cells and len(spots) else None
    members, page_order = [], []
    for c, (key, cat) in enumerate(cats):
        part = spots.index[spots["category"] == key].to_numpy() if len(spots) else np.zeros(0, np.int64)
        cluster = np.full(n_cells, -1, dtype=np.int64)
        if len(part) and n_cells:
            cell, poly = shapely.STRtree(spots.geometry.values[part]).query(centres, predicate="within")
            cluster[cell] = part[poly]
        first = pd.Series(np.arange(n_cells)[cluster >= 0]).groupby(cluster[cluster >= 0]).first()
        seen = first.sort_values(kind="stable").index.to_numpy()
        page_order.append(np.concatenate([seen, np.setdiff1d(part, seen)]))
        members.append(cluster)
        no_facility = len(part) and spots.loc[part, "nearest_walk_min"].isna().all()
        suffix = f"{len(part)}" + (f", {_t(config, 'no_facility_at_all')}" if no_facility else "")
        m.layer(f"{_t(config, 'blind', t=threshold)}: {cat.label} ({suffix})", "blind", False, category=c)
    order = np.concatenate(page_order) if page_order else np.zeros(0, np.int64)
    page_row = np.full(len(spots), -1, dtype=np.int64)
    page_row[order] = np.arange(len(order))
    for c, cluster in enumerate(members):
        inside = cluster >= 0
        # Bit 15 of the edge mask: the cell is in a cluster; cluster numbers are listed for those cells only.
        pack.add(f"e{c}", _boundary_edges(m.cell_q, m.cell_counts, inside) | (inside.astype(np.uint16) << 15))
        pack.add(f"b{c}", page_row[cluster[inside]], "zdelta")
    table = _Pack(len(order))
    if len(order):
        spots = spots.iloc[order].reset_index(drop=True)
        table.add("rank", spots["rank"].to_numpy(np.int64), "zdelta")
        table.add("cells", spots["cells"].to_numpy(np.int64), "zdelta")
        table.add("res", np.rint(spots["residents"].to_numpy(float)).astype(np.uint32))
        table.add("dres", np.rint(spots["demand_residents"].fillna(0).to_numpy(float)).astype(np.uint32))
        if "population_fallback" in spots and (spots["population_fallback"].fillna(0) > 0).any():
            table.add("fb", np.rint(spots["population_fallback"].fillna(0).to_numpy(float)).astype(np.uint32))
        walk = spots["nearest_walk_min"].to_numpy(float)
        tenths = np.full(len(walk), UNREACHABLE, dtype=np.uint32)
        tenths[np.isfinite(walk)] = np.rint(walk[np.isfinite(walk)] * 10).astype(np.uint32)
        table.add("walk", tenths, "mdelta")
        table.factor("demand", spots["demand"].map(lambda col: texts.demand_words(config.output.lang, col)))
        # The nearest facility as a row of the facility table (its name is there); a name only when it is not.
        ids = spots["nearest_facility_id"].fillna("").astype(str)
        row = m.facility_index.get_indexer(ids) if m.facility_index is not None else np.full(len(ids), -1)
        table.add("near_row", row, "zdelta")
        name = spots["nearest_facility_name"].fillna("").astype(str)
        table.text("near", name.where(row < 0, "").where(lambda t: t != "", ids.where(row < 0, "")))
        table.text("communities", spots["communities"].fillna("").astype(str))
    m.dataset("blind", table)


def _h3_centres(ids: np.ndarray) -> np.ndarray:
    """WGS-84 (lon, lat) of H3 cell centres, vectorised."""
    batch = pa.record_batch(h3ronpy.vector.cells_to_coordinates(pa.array(ids)))
    return np.column_stack([batch.column("lng").to_numpy(), batch.column("lat").to_numpy()])


def _boundary_edges(q: np.ndarray, counts: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Per cell, a bit per edge (bit j: vertex j to j+1) set where the edge bounds the member cells.

    Member cells that share an edge have the same two displayed vertices there; an edge seen
    once among the members is on the boundary. (Cells sharing an edge are in the same cluster:
    clusters are the connected components of exactly that neighbourhood.)
    """
    mask = np.zeros(len(counts), dtype=np.uint16)
    if not member.any():
        return mask
    counts = counts.astype(np.int64)
    starts = np.cumsum(counts) - counts
    ring = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(len(q)) - starts[ring]
    nxt = np.where(pos + 1 < counts[ring], np.arange(len(q)) + 1, starts[ring])
    sel = np.flatnonzero(member[ring])
    a, b = q[sel], q[nxt[sel]]
    pack_a = (a[:, 0] + (1 << 27)) << 28 | (a[:, 1] + (1 << 27))
    pack_b = (b[:, 0] + (1 << 27)) << 28 | (b[:, 1] + (1 << 27))
    lo, hi = np.minimum(pack_a, pack_b), np.maximum(pack_a, pack_b)
    order = np.lexsort((hi, lo))
    lo, hi = lo[order], hi[order]
    same_next = np.r_[(lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1]), False]
    shared = same_next | np.r_[False, same_next[:-1]]
    outer = sel[order][~shared]
    np.bitwise_or.at(mask, ring[outer], (np.uint16(1) << pos[outer].astype(np.uint16)))
    return mask


def add_proposed_sites(m: MapPage, res: SitingResult, config: Config) -> None:
    """Proposed sites (numbered by rank) and their 15-minute service areas, in their own layer."""
    sites = res.sites.reset_index(drop=True)
    areas = res.service_areas
    name = None
    if len(areas):
        top = areas[areas["minutes"] == areas["minutes"].max()]
        name = f"proposed_areas_{len(m.layers)}"
        rings = _rings(top.geometry.values, areas.crs, simplify=AREA_SIMPLIFY_M)
        _keep_largest_holes([rings], AREA_VERTEX_BUDGET, AREA_MIN_HOLE_M2)
        _add_polygons(m, name, rings, len(top))
    pack = _Pack(len(sites))
    q = _display_ints(sites[["lon", "lat"]].to_numpy(float), config) if len(sites) else np.zeros((0, 2), np.int64)
    pack.add("x", q[:, 0], "zdelta")
    pack.add("y", q[:, 1], "zdelta")
    pack.add("rank", sites["rank"].to_numpy(np.int64), "zdelta")
    pack.add("lon", sites["lon"].to_numpy(float))
    pack.add("lat", sites["lat"].to_numpy(float))
    pack.add("gain", sites[f"new_{res.weight_column}_covered"].to_numpy(float))
    pack.add("glon", sites["lon_gcj02"].to_numpy(float))
    pack.add("glat", sites["lat_gcj02"].to_numpy(float))
    where = [_t(config, "popup.proposed_where", street=st, community=cm, road=rd) if (st or cm or rd) else ""
             for st, cm, rd in zip(sites["street"], sites["community"], sites["nearest_road"])]
    pack.text("where", where)
    pack.add("after", sites["covered_share_after"].to_numpy(float))
    pack.plain("tooltip", [_t(config, "popup.proposed_tooltip", rank=r) for r in sites["rank"].tolist()])
    sites_name = f"proposed_{len(m.layers)}"
    m.dataset(sites_name, pack)
    m.layer(f"{_t(config, 'proposed')}: {res.category} ({len(sites)})", "proposed", True, dataset=sites_name,
            areas=name, category_name=res.category, weight=res.weight_column)


def _legend(config: Config, classes: list[tuple], notes: dict[str, str], speed_text: str,
            area_note: str = "") -> dict:
    """What the legend (``templates/map_legend.html``) shows: classes, categories, notes, basemap."""
    if config.output.basemap == "none":
        base = _t(config, "basemap_none")
    else:
        base = f"{TILES[config.output.basemap][1]} — " + _t(config, "shifted" if gcj02_display(config) else "wgs")
    coarse = _t(config, "coarse", r="/".join(str(config.grid.h3_resolution - k) for k in COARSE_STEPS
                                              if config.grid.h3_resolution - k >= 0))
    return {
        "speed": speed_text, "coarse": coarse, "area_note": area_note, "basemap": base,
        "classes": [{"label": n, "colour": c, "gap": not np.isfinite(hi)} for _, hi, n, c in classes],
        "categories": [{"key": key, "label": cat.label, "colour": CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]}
                       for i, (key, cat) in enumerate(config.categories.items())],
        "notes": list(notes.values()),
        "fallback_note": "",  # build_map fills it when residents rest on the area fallback
    }


#: Keys of the map's layer and UI descriptions whose strings are not text for HTML (tile URL templates).
_NOT_TEXT = frozenset({"url"})


def _script_texts(value, key: str | None = None):
    """The layer and UI descriptions with every string HTML-escaped, once, in this one place.

    The page's script inserts those strings as HTML (layer control labels, popups, the panel)
    and composes the rest from numbers only; the strings of the tables are escaped likewise
    when they are packed (:func:`_escaped_series`). Tile URL templates stay as they are.
    """
    if isinstance(value, str):
        return value if key in _NOT_TEXT else escape(value)
    if isinstance(value, dict):
        return {k: _script_texts(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_script_texts(v) for v in value]
    return value


def render_map(m: MapPage, offline: bool = True) -> str:
    """The page's HTML (``templates/map.html``): Leaflet from its CDN, or inline with ``offline``."""
    config = m.config
    blobs, datasets = m.finish()
    layers = {"layers": _script_texts(m.layers), "view": m.view}
    ui = _script_texts(m.ui)
    return pages.render(
        "map.html", config.output.lang,
        name=config.area.name, legend=m.legend, attribution=ATTRIBUTION, panel="panel" in m.ui, offline=offline,
        head_assets=pages.asset_tags(pages.leaflet_assets(), offline),
        sort_assets=pages.asset_tags([pages.SORT_JS], offline),
        body_assets=pages.asset_tags([pages.MAP_JS], offline),
        layers=layers, data={"ui": ui, "datasets": datasets},
        blobs=[{"name": k, "text": pages.script_text(v)} for k, v in blobs.items()],
    )


def write_map(m: MapPage, out_dir: Path, offline: bool = True) -> Path:
    """Write ``map.html``; with ``offline``, Leaflet is inlined from the installed ``xstatic-leaflet``."""
    path = Path(out_dir) / "map.html"
    path.write_text(render_map(m, offline=offline), encoding="utf-8")
    return path


def write_run_map(result: RunResult, *, siting_result: SitingResult | None = None,
                  merged_areas: gpd.GeoDataFrame | None = None) -> Path:
    """Build and write ``map.html`` of a run (:class:`servicecircle.results.RunResult`).

    Parameters
    ----------
    result : RunResult
    siting_result : SitingResult, optional
        Proposed sites, drawn in their own layer.
    merged_areas : GeoDataFrame, optional
        Service areas per category and threshold; default ``result.merged_service_areas``.

    Returns
    -------
    Path
        The written ``map.html`` in ``result.config.output.out_dir``.
    """
    from .summary import category_notes

    config = result.config
    merged = getattr(result, "merged_service_areas", None) if merged_areas is None else merged_areas
    notes = category_notes(result.facilities, config, config.output.lang)
    m = build_map(config, result.cells, result.facilities, merged, result.communities, notes, result.area.bounds,
                  adjacency=result.adjacency, scorecard=result.scorecard)
    census = (result.summary.get("population_method") or {}).get("census") or {}
    add_outlines(m, area=result.area, area_name=census.get("name") or config.area.name, streets=result.streets,
                 communities=result.communities)
    add_blind_spots(m, result.blind_spots, config)
    if siting_result is not None:
        add_proposed_sites(m, siting_result, config)
    add_scorecard(m, result.scorecard)
    return write_map(m, config.output.out_dir, offline=config.output.offline)
