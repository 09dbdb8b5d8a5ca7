"""Road-line files (e.g. Geofabrik free shapefiles) → noded walk-network arrays.

Road lines from shapefiles are not split at junctions: a street crossing
another is one line passing over the other's interior. Routing needs nodes
wherever two lines *really* meet, and nowhere else:

* lines that share a vertex meet there (in OSM-derived data a shared vertex
  is a shared OSM node), whatever their layer;
* lines that cross between vertices meet at the crossing only when both are
  on the same level — same ``layer`` and same bridge/tunnel status — so a
  bridge or an underpass does not join the road it passes over.

Noding uses shapely's ``node`` (GEOS) per level; splitting at shared vertices
is vectorised over all coordinates at once.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import inputs
from .config import RoadLines
from .errors import InputError

_TRUE = {"t", "true", "yes", "y", "1", "是"}
_KEY_SCALE = 1e7  # vertices equal to 1e-7° (~1 cm) are the same point
_EARTH_RADIUS_M = 6_371_009.0  # as osmnx's great-circle lengths


def truthy(values: pd.Series) -> np.ndarray:
    """Geofabrik-style flags ("T"/"F", "yes", 1) as booleans; blanks are False."""
    return values.fillna("").astype(str).str.strip().str.lower().isin(_TRUE).to_numpy()


def level_ids(layer: np.ndarray, bridge: np.ndarray, tunnel: np.ndarray) -> np.ndarray:
    """One integer per distinct (layer, bridge, tunnel) level."""
    table = pd.DataFrame({"layer": np.nan_to_num(np.asarray(layer, dtype=float)), "b": bridge, "t": tunnel})
    return table.groupby(["layer", "b", "t"], sort=True).ngroup().to_numpy()


def great_circle_lengths(coords: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Length (m) of each of ``n`` lines whose lon/lat vertices are ``coords`` grouped by ``seg``."""
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    same = seg[1:] == seg[:-1]
    dlat, dlon = lat[1:] - lat[:-1], lon[1:] - lon[:-1]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    step = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return np.bincount(seg[:-1][same], weights=step[same], minlength=n)


def node_lines(lines: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split WGS-84 lines where they really meet and number the junctions.

    Parameters
    ----------
    lines : ndarray of LineString
        WGS-84 road lines (MultiLineStrings exploded beforehand).
    level : ndarray of int
        Level of each line (:func:`level_ids`); crossings join only within a level.

    Returns
    -------
    node_lonlat : ndarray (n, 2)
    edge_u, edge_v : ndarray of int64
    length_m : ndarray of float64
        Great-circle length of each edge.
    geometry : ndarray of LineString
        WGS-84, running from ``edge_u`` to ``edge_v``.
    edge_level : ndarray of int
        The level of the line each edge came from.
    """
    piece_list: list[np.ndarray] = []
    level_list: list[np.ndarray] = []
    for lv in np.unique(level):
        group = lines[level == lv]
        parts = shapely.get_parts(shapely.node(shapely.multilinestrings(group)))
        piece_list.append(parts)
        level_list.append(np.full(len(parts), lv))
    pieces = np.concatenate(piece_list) if piece_list else np.array([], dtype=object)
    piece_level = np.concatenate(level_list) if level_list else np.array([], dtype=int)
    keep = shapely.length(pieces) > 0
    pieces, piece_level = pieces[keep], piece_level[keep]
    if len(pieces) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2)), empty, empty, np.zeros(0), np.array([], dtype=object), empty

    xy, idx = shapely.get_coordinates(pieces, return_index=True)
    key = np.round(xy * _KEY_SCALE).astype(np.int64)
    _, vertex = np.unique(key, axis=0, return_inverse=True)
    vertex = vertex.ravel()
    counts = np.bincount(idx, minlength=len(pieces))
    first = np.r_[0, np.cumsum(counts)[:-1]]
    last = first + counts - 1
    is_end = np.zeros(len(xy), bool)
    is_end[first] = is_end[last] = True

    # Junction vertices: every piece end (GEOS split the pieces of one level
    # where they cross or touch), plus any vertex shared by pieces of different levels.
    junction = np.zeros(vertex.max() + 1, bool)
    junction[vertex[is_end]] = True
    pairs = np.unique(np.column_stack([vertex, piece_level[idx]]), axis=0)
    junction |= np.bincount(pairs[:, 0], minlength=len(junction)) >= 2

    # Split at interior junctions: the vertex is repeated, ending one edge and starting the next.
    split = junction[vertex] & ~is_end
    rep = 1 + split.astype(np.int64)
    xy2, vertex2, idx2 = np.repeat(xy, rep, axis=0), np.repeat(vertex, rep), np.repeat(idx, rep)
    second_copy = np.zeros(len(xy2), bool)
    second_copy[np.cumsum(rep)[split] - 1] = True
    new_piece = np.r_[True, idx2[1:] != idx2[:-1]]
    seg = np.cumsum(new_piece | second_copy) - 1
    n_seg = int(seg[-1]) + 1
    geometry = shapely.linestrings(xy2, indices=seg)
    seg_first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    seg_last = np.r_[seg_first[1:] - 1, len(seg) - 1]
    length = great_circle_lengths(xy2, seg, n_seg)

    used, node_of = np.unique(np.r_[vertex2[seg_first], vertex2[seg_last]], return_inverse=True)
    eu, ev = node_of[:n_seg], node_of[n_seg:]
    node_lonlat = np.zeros((len(used), 2))
    node_lonlat[eu] = xy2[seg_first]
    node_lonlat[ev] = xy2[seg_last]
    edge_level = piece_level[idx2[seg_first]]
    good = length > 0
    return (node_lonlat, eu[good].astype(np.int64), ev[good].astype(np.int64), length[good], geometry[good],
            edge_level[good])


def read_road_lines(spec: RoadLines, report: inputs.InputReport | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """The walkable lines of a road-line file (WGS-84), with their ``level``, and counts for the summary.

    Lines of other classes are left out (counted per class in the returned
    info); lines with no class are reported and left out.
    """
    gdf = inputs.read_vector(spec.path, what="road-line file", coord_system=spec.coord_system,
                             encoding=spec.encoding, report=report)
    if spec.class_field not in gdf.columns:
        raise InputError(key="error.no_class_field", path=spec.path, field=spec.class_field,
                         fields=", ".join(c for c in gdf.columns if c not in ("geometry", "_row")))
    cls = gdf[spec.class_field].fillna("").astype(str).str.strip()
    if report is not None:
        for row in gdf.loc[cls == "", "_row"]:
            report.say(spec.path, row, spec.class_field, "no_road_class", "left_out_network")
    walkable = cls.isin(spec.walkable_classes).to_numpy()
    gdf = gdf[walkable].explode(index_parts=False).reset_index(drop=True)
    gdf = gdf[gdf.geom_type == "LineString"]

    def column(name: str) -> pd.Series:
        return gdf[name] if name in gdf.columns else pd.Series("", index=gdf.index)

    layer = pd.to_numeric(column(spec.layer_field), errors="coerce").fillna(0).to_numpy()
    gdf = gdf.assign(level=level_ids(layer, truthy(column(spec.bridge_field)), truthy(column(spec.tunnel_field))))
    info = {"lines_read": int(len(walkable)), "lines_walkable": int(walkable.sum()),
            "classes_left_out": cls[~walkable].value_counts().sort_index().to_dict()}
    return gdf, info
