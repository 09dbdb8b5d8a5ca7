"""Access: walk times to the nearest facility and service areas, by compiled shortest paths.

Facilities sit on edges, not nodes. Each counted on-network facility becomes
an extra graph node joined to both ends of the edge it snapped to, with the
walk from the facility to the street included in those joins. Then

* the walk distance from every node to the nearest facility of a category is
  one ``scipy.sparse.csgraph.dijkstra(min_only=True)`` call with that
  category's facility nodes as sources, and
* each facility's service area comes from a batched, distance-limited
  ``dijkstra`` whose rows are kept sparse (the catchments), never a dense
  facility × node matrix of the whole network.

A facility node cannot shorten other paths: passing through it costs
``2 * offset + edge length``, never less than the edge itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from .config import Config
from .network import Snap, WalkNetwork, edge_tree

#: Streets first reached this long after a threshold count as 'not reached'
#: when trimming a service area (see :func:`_service_area`).
FAR_MARGIN_S = 60.0
#: Half-width (m) of the walked streets kept in a service area after trimming.
WALKED_LINE_M = 1.0


@dataclass
class AccessGraph:
    """The walk network plus one node per facility (row ``i`` of ``facilities`` → node ``n + i``)."""

    net: WalkNetwork
    facilities: gpd.GeoDataFrame
    matrix: sp.csr_matrix

    @property
    def facility_nodes(self) -> np.ndarray:
        return self.net.n_nodes + np.arange(len(self.facilities))


def build_access_graph(net: WalkNetwork, facilities: gpd.GeoDataFrame) -> AccessGraph:
    """Join snapped facilities to the network as extra nodes.

    Parameters
    ----------
    net : WalkNetwork
    facilities : GeoDataFrame
        Snapped facilities that enter travel times (see
        :func:`servicecircle.facilities.counted_facilities`).
    """
    facilities = facilities.reset_index(drop=True)
    snap = _snap_of(facilities)
    to_u, to_v = snap.node_distances(net)
    fac_node = net.n_nodes + np.arange(len(facilities))
    extra_u = np.r_[fac_node, fac_node]
    extra_v = np.r_[net.edge_u[snap.edge], net.edge_v[snap.edge]]
    matrix = net.csgraph(extra_u, extra_v, np.r_[to_u, to_v], n_extra=len(facilities))
    return AccessGraph(net, facilities, matrix)


def _snap_of(facilities: pd.DataFrame) -> Snap:
    return Snap(facilities["snap_edge"].to_numpy(np.int64), facilities["snap_along_m"].to_numpy(float),
                facilities["snap_offset_m"].to_numpy(float))


def nearest_distances(graph: AccessGraph, category: str) -> tuple[np.ndarray, np.ndarray]:
    """Walk distance (m) from every network node to the nearest facility of ``category``.

    One multi-source Dijkstra pass. Returns ``(distance_m, nearest)`` where
    ``nearest`` is the row of ``graph.facilities`` reached first (-1 where
    none: no facility of the category, or a disconnected node).
    """
    n = graph.net.n_nodes
    rows = np.flatnonzero(graph.facilities["category"].to_numpy() == category)
    if len(rows) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    dist, _, source = dijkstra(graph.matrix, directed=False, indices=graph.net.n_nodes + rows,
                               min_only=True, return_predecessors=True)
    nearest = np.where(source[:n] >= 0, source[:n] - n, -1)
    return dist[:n], nearest.astype(np.int64)


def point_distances(net: WalkNetwork, snap: Snap, node_distance: np.ndarray,
                    facilities: pd.DataFrame | None = None, node_nearest: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Walk distance from snapped points (e.g. residential origins) to the nearest facility.

    A point on edge (u, v) walks to the street, then along the edge to u or v
    and on from there; a facility on the very same edge is also reached
    directly along it.

    Parameters
    ----------
    net : WalkNetwork
    snap : Snap
        Where the points join the network.
    node_distance : ndarray
        From :func:`nearest_distances`.
    facilities : DataFrame, optional
        The category's snapped facilities (rows of the access graph), for the
        same-edge case.
    node_nearest : ndarray, optional
        From :func:`nearest_distances`; when given, the nearest facility row of
        each point is returned too.

    Returns
    -------
    distance_m, nearest : ndarray
    """
    length = net.edge_length_m[snap.edge]
    via_u = node_distance[net.edge_u[snap.edge]] + snap.along_m
    via_v = node_distance[net.edge_v[snap.edge]] + (length - snap.along_m)
    use_v = via_v < via_u
    dist = np.where(use_v, via_v, via_u)
    if node_nearest is not None:
        nearest = np.where(use_v, node_nearest[net.edge_v[snap.edge]], node_nearest[net.edge_u[snap.edge]])
    else:
        nearest = np.full(len(dist), -1, dtype=np.int64)
    if facilities is not None and len(facilities) and len(dist):
        point, f, d = _same_edge(snap, facilities)
        if len(point):
            same = pd.DataFrame({"point": point, "d": d, "row": facilities.index.to_numpy()[f]})
            best = same.sort_values(["point", "d", "row"]).drop_duplicates("point")
            p = best["point"].to_numpy()
            better = best["d"].to_numpy() < dist[p]
            dist[p[better]] = best["d"].to_numpy()[better]
            nearest[p[better]] = best["row"].to_numpy()[better]
    return dist + snap.offset_m, nearest


def _same_edge(snap: Snap, facilities: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points and facilities snapped to the same edge, which reach each other directly along it.

    Returns ``(point, facility, distance_m)``: the point's index in ``snap``,
    the facility's position in ``facilities``, and the walk along the edge plus
    the facility's walk to the street (the point's own is left to the caller).
    """
    same = pd.DataFrame({"edge": snap.edge, "point": np.arange(len(snap.edge)), "along": snap.along_m}).merge(
        pd.DataFrame({"edge": facilities["snap_edge"].to_numpy(), "f": np.arange(len(facilities)),
                      "f_along": facilities["snap_along_m"].to_numpy(), "f_off": facilities["snap_offset_m"].to_numpy()}),
        on="edge")
    return (same["point"].to_numpy(), same["f"].to_numpy(),
            (same["f_off"] + (same["along"] - same["f_along"]).abs()).to_numpy())


def catchments(graph: AccessGraph, rows: np.ndarray, limit_m: float, batch: int = 256) -> sp.csr_matrix:
    """Sparse walk distances from each facility in ``rows`` to the nodes within ``limit_m``.

    Row ``i`` of the result belongs to ``graph.facilities`` row ``rows[i]``;
    columns are network nodes; stored values are distances (m), with exact
    zeros stored as a tiny epsilon so that they are not confused with
    'not reached'. Facilities are searched in batches, each one compiled
    Dijkstra call, so memory stays ``batch × nodes`` at most.
    """
    n = graph.net.n_nodes
    blocks = []
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        dist = dijkstra(graph.matrix, directed=False, indices=n + chunk, limit=limit_m)[:, :n]
        dist[np.isfinite(dist)] = np.maximum(dist[np.isfinite(dist)], 1e-9)
        dist[~np.isfinite(dist)] = 0.0
        blocks.append(sp.csr_matrix(dist))
    if not blocks:
        return sp.csr_matrix((0, n))
    return sp.vstack(blocks).tocsr()


def origin_catchments(graph: AccessGraph, rows: np.ndarray, origin_snap, limit_m: float) -> sp.csr_matrix:
    """Walk distance (m) from facilities ``rows`` of ``graph`` to every origin within ``limit_m``.

    Built from the sparse node catchments: an origin on edge (u, v) is reached
    through u or v (plus its walk along the edge and to the street), or
    directly along a shared edge. Returns a (len(rows) × origins) CSR matrix;
    stored values are distances, never below 1e-9.
    """
    net = graph.net
    node = catchments(graph, rows, limit_m)
    n_orig = len(origin_snap.edge)
    L = net.edge_length_m[origin_snap.edge]
    parts = []
    for ends, extra in ((net.edge_u[origin_snap.edge], origin_snap.along_m),
                        (net.edge_v[origin_snap.edge], L - origin_snap.along_m)):
        sub = node[:, ends].tocoo()  # facility × origin, through that end
        parts.append((sub.row, sub.col, sub.data + extra[sub.col] + origin_snap.offset_m[sub.col]))
    point, f, d = _same_edge(origin_snap, graph.facilities.iloc[rows])
    if len(point):
        parts.append((f, point, origin_snap.offset_m[point] + d))
    r = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    d = np.concatenate([p[2] for p in parts])
    keep = d <= limit_m
    r, c, d = r[keep], c[keep], np.maximum(d[keep], 1e-9)
    # The shortest of the ways in per (facility, origin).
    order = np.lexsort((d, c, r))
    r, c, d = r[order], c[order], d[order]
    first = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])]
    return sp.csr_matrix((d[first], (r[first], c[first])), shape=(len(rows), n_orig))


def decay_weights(walk_time_s: np.ndarray, thresholds_min, step_weights=None) -> np.ndarray:
    """Weight of a walk of ``walk_time_s`` in the capacity-aware access.

    Binary decay (``step_weights`` None): 1 within the largest threshold, else
    0. Stepped decay: the weight of the first threshold band the walk falls
    in, e.g. 1.00 up to 5 min, 0.68 up to 10, 0.22 up to 15, then 0.
    """
    t = np.asarray(walk_time_s, dtype=float)
    limits = np.sort(np.asarray(thresholds_min, dtype=float)) * 60.0
    if step_weights is None:
        return (t <= limits[-1]).astype(float)
    weights = np.r_[np.asarray(step_weights, dtype=float), 0.0]
    return weights[np.searchsorted(limits, t, side="left")]


def two_step_fca(walk_time_s: sp.csr_matrix, capacity: np.ndarray, demand: np.ndarray, thresholds_min,
                 step_weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Two-step floating catchment: capacity shared out among the people who can reach it.

    Step 1 gives each facility j its supply ratio
    ``R_j = S_j / sum_k W(t_kj) P_k`` over the origins k within reach; step 2
    gives each origin ``A_k = sum_j W(t_kj) R_j`` — the capacity per person
    within reach once every facility's capacity has been shared out. With
    every W = 1 within the threshold this is Luo & Wang's 2SFCA (2003), with
    stepped W Luo & Qi's enhanced 2SFCA (2009).

    Parameters
    ----------
    walk_time_s : sparse matrix (facilities × origins)
        Stored walk times (s) of the pairs within reach (see
        :func:`origin_catchments`, divided by the walking speed).
    capacity : ndarray
        ``S_j`` per facility (beds, places, meals a day).
    demand : ndarray
        ``P_k`` per origin: the residents the capacity serves.
    thresholds_min, step_weights
        As :func:`decay_weights`.

    Returns
    -------
    ratio, accessibility : ndarray
        ``R_j`` per facility (NaN where nobody is within reach: its capacity
        serves nobody here) and ``A_k`` per origin (capacity per person).
    """
    weights = walk_time_s.tocsr(copy=True)
    weights.data = decay_weights(weights.data, thresholds_min, step_weights)
    weights.eliminate_zeros()
    reached = weights @ np.asarray(demand, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reached > 0, np.asarray(capacity, dtype=float) / reached, np.nan)
    accessibility = weights.T @ np.nan_to_num(ratio, nan=0.0)
    return ratio, np.asarray(accessibility).ravel()


def _walked_parts(net: WalkNetwork, node_dist: np.ndarray, budget: float, own_edge: int, own_along: float,
                  own_rest: float) -> tuple[np.ndarray, list[tuple[int, float, float]]]:
    """Edges walked whole, and (edge, start_m, end_m) pieces walked in part, within ``budget``.

    The facility's own edge is walked both ways from where the facility joins
    it (``own_rest`` metres either side), besides from its two ends.
    """
    L = net.edge_length_m
    from_u = np.clip(budget - node_dist[net.edge_u], 0, L)  # an unreached end gives no reach
    from_v = np.clip(budget - node_dist[net.edge_v], 0, L)
    whole = (from_u + from_v >= L) & ((from_u > 0) | (from_v > 0))
    pieces = [(int(e), 0.0, float(from_u[e])) for e in np.flatnonzero(~whole & (from_u > 0))]
    pieces += [(int(e), float(L[e] - from_v[e]), float(L[e])) for e in np.flatnonzero(~whole & (from_v > 0))]
    if own_rest > 0:
        pieces.append((own_edge, max(0.0, own_along - own_rest), min(float(L[own_edge]), own_along + own_rest)))
    return whole, pieces


def _unwalked_parts(net: WalkNetwork, whole: np.ndarray, pieces: list, near: np.ndarray) -> list:
    """Lines of the edges in ``near`` that are not walked (complement of the walked parts)."""
    L = net.edge_length_m
    walked: dict[int, list] = {}
    for e, a, b in pieces:
        walked.setdefault(e, []).append((a, b))
    lines = []
    for e in near[~whole[near]]:
        gaps, pos = [], 0.0
        for a, b in sorted(walked.get(int(e), [])):
            if a > pos:
                gaps.append((pos, a))
            pos = max(pos, b)
        if pos < L[e]:
            gaps.append((pos, float(L[e])))
        lines += [_piece(net, int(e), a, b) for a, b in gaps if b - a > 1e-6]
    return lines


def _piece(net: WalkNetwork, e: int, start_m: float, end_m: float):
    length = net.edge_length_m[e]
    if length <= 0:
        return net.edge_geometry[e]
    return substring(net.edge_geometry[e], start_m / length, end_m / length, normalized=True)


def _service_area(net: WalkNetwork, node_dist: np.ndarray, budget: float, margin: float, street_m: float,
                  snap_edge: int, snap_along: float, snap_offset: float, facility_xy: np.ndarray):
    """Polygon of the land within ``street_m`` of the network walked within ``budget`` metres.

    Land within half ``street_m`` of a street reached only after
    ``budget + margin`` is cut away: it lies across a barrier from the walked
    streets, e.g. by a parallel road that joins them far away. The walked
    streets themselves always stay in.
    """
    if budget < snap_offset:
        return shapely.Polygon()
    whole, pieces = _walked_parts(net, node_dist, budget, snap_edge, snap_along, budget - snap_offset)
    foot = shapely.line_interpolate_point(net.edge_geometry[snap_edge], snap_along / max(net.edge_length_m[snap_edge], 1e-9), normalized=True)
    lines = list(net.edge_geometry[whole]) + [_piece(net, e, a, b) for e, a, b in pieces]
    lines.append(shapely.LineString([facility_xy, shapely.get_coordinates(foot)[0]]))
    walked = shapely.multilinestrings(lines)
    area = shapely.buffer(walked, street_m, quad_segs=4)
    far_budget = budget + margin
    whole2, pieces2 = _walked_parts(net, node_dist, far_budget, snap_edge, snap_along, far_budget - snap_offset)
    near = edge_tree(net).query(area)
    far = _unwalked_parts(net, whole2, pieces2, np.sort(near))
    if far:
        area = shapely.difference(area, shapely.buffer(shapely.multilinestrings(far), street_m / 2, quad_segs=4))
        # The walked streets themselves always stay in, even where a street not
        # reached runs closer than half the street-side distance.
        area = shapely.union(area, shapely.buffer(walked, WALKED_LINE_M, quad_segs=2))
    return area


def service_areas(graph: AccessGraph, config: Config) -> gpd.GeoDataFrame:
    """The 5/10/15-minute (``config.thresholds_min``) service area of every facility.

    Each area is the network a facility actually reaches — whole edges, the
    partly walked last edges and the walk to the street — buffered by
    ``config.street_buffer_m``, less the land nearer to streets reached only a
    minute later (across a barrier: no convex hulls, no leaking over rivers). Areas of one facility are nested because the
    walked network of a shorter time is part of that of a longer one.

    Returns
    -------
    GeoDataFrame
        ``facility_id``, ``category``, ``minutes``, ``speed_m_s``,
        ``street_buffer_m``, ``area_m2`` and the polygon, in ``net.crs``.
    """
    net, fac = graph.net, graph.facilities
    records, geoms = [], []
    if len(fac) == 0:
        return _areas_frame(records, geoms, net.crs)
    xy = shapely.get_coordinates(fac.geometry.to_crs(net.crs).values)
    for category in sorted(fac["category"].unique()):
        rows = np.flatnonzero(fac["category"].to_numpy() == category)
        speed = config.categories[category].speed_m_s
        limit = (max(config.thresholds_min) * 60 + FAR_MARGIN_S) * speed
        reach = catchments(graph, rows, limit)
        for i, row in enumerate(rows):
            node_dist = np.full(net.n_nodes, np.inf)
            start, end = reach.indptr[i], reach.indptr[i + 1]
            node_dist[reach.indices[start:end]] = reach.data[start:end]
            larger = None
            for minutes in sorted(config.thresholds_min, reverse=True):
                area = _service_area(
                    net, node_dist, minutes * 60 * speed, FAR_MARGIN_S * speed, config.street_buffer_m,
                    int(fac.at[row, "snap_edge"]), float(fac.at[row, "snap_along_m"]),
                    float(fac.at[row, "snap_offset_m"]), xy[row])
                # Walked streets are nested; clipping makes the polygons nested too,
                # despite the round-off of buffered curves.
                larger = area if larger is None else _polygonal(shapely.intersection(area, larger))
                geoms.append(larger)
                records.append((fac.at[row, "facility_id"], category, minutes, speed))
    return _areas_frame(records, geoms, net.crs, config.street_buffer_m)


def _polygonal(geom):
    """Drop the points and lines an overlay can leave beside its polygons."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


def _areas_frame(records, geoms, crs, buffer_m=np.nan) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(records, columns=["facility_id", "category", "minutes", "speed_m_s"])
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs) if geoms else gpd.GeoSeries([], crs=crs), crs=crs)
    gdf["street_buffer_m"] = buffer_m
    gdf["area_m2"] = gdf.area
    return gdf


def merged_service_areas(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One service area per (category, minutes): the union over the category's facilities."""
    if len(areas) == 0:
        return areas.iloc[0:0].drop(columns=["facility_id"])
    merged = areas.dissolve(by=["category", "minutes"], aggfunc={"speed_m_s": "first", "street_buffer_m": "first"})
    merged = merged.reset_index()
    merged["area_m2"] = merged.area
    return merged
