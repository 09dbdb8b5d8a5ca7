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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from . import arrays
from .config import AccessSettings, Category
from .network import Snap, WalkNetwork, edge_tree, snap_points
from .population import group_column

#: Streets first reached this long after a threshold count as 'not reached'
#: when trimming a service area (see :func:`_service_area`).
FAR_MARGIN_S = 60.0
#: Half-width (m) of the walked streets kept in a service area after trimming.
WALKED_LINE_M = 1.0
#: Memory (bytes) of the dense block one compiled search of :func:`catchments` returns.
DENSE_BLOCK_BYTES = 128 * 2**20
#: Least ratio assumed between a straight line and the walk it spans (see :func:`_euclid_slack`).
EUCLID_SLACK = 1.02


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
    # The matrix is symmetric by construction, so a directed search is the undirected one
    # (and skips scipy's transposed copy of a city-size matrix).
    dist, _, source = dijkstra(graph.matrix, directed=True, indices=graph.net.n_nodes + rows,
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
        pd.DataFrame(
            {
                "edge": facilities["snap_edge"].to_numpy(),
                "f": np.arange(len(facilities)),
                "f_along": facilities["snap_along_m"].to_numpy(),
                "f_off": facilities["snap_offset_m"].to_numpy(),
            }
        ),
        on="edge",
    )
    return (same["point"].to_numpy(), same["f"].to_numpy(),
            (same["f_off"] + (same["along"] - same["f_along"]).abs()).to_numpy())


def _foot_xy(net: WalkNetwork, edge: np.ndarray, along_m: np.ndarray) -> np.ndarray:
    """Where points snapped at ``along_m`` on ``edge`` meet the street (projected metres)."""
    length = np.maximum(net.edge_length_m[edge], 1e-9)
    foot = shapely.line_interpolate_point(net.edge_geometry[edge], np.clip(along_m / length, 0.0, 1.0),
                                          normalized=True)
    return shapely.get_coordinates(foot).reshape(-1, 2)


def _euclid_slack(net: WalkNetwork) -> float:
    """Largest ratio of straight-line (projected) to walked distance on this network, with a margin.

    Edge weights are great-circle lengths on a sphere, node positions are UTM
    metres: the projection's scale (≤ 1.001 inside a zone) and the sphere's
    lengths make a straight line up to a few per mille longer than the walk it
    spans. A walk of ``d`` metres therefore never leaves the disk of radius
    ``d * slack`` around its start, which is what makes local searches exact.
    """
    slack = net._euclid_slack
    if slack is None:
        long = net.edge_length_m > 10.0
        ratio = shapely.length(net.edge_geometry[long]) / net.edge_length_m[long] if long.any() else np.ones(1)
        slack = max(EUCLID_SLACK, 1.01 * float(np.max(ratio)))
        net._euclid_slack = slack
    return slack


def catchments(graph: AccessGraph, rows: np.ndarray, limit_m: float, *,
               block_bytes: int = DENSE_BLOCK_BYTES) -> sp.csr_matrix:
    """Sparse walk distances from each facility in ``rows`` to the nodes within ``limit_m``.

    Row ``i`` of the result belongs to ``graph.facilities`` row ``rows[i]``;
    columns are network nodes; stored values are distances (m), with exact
    zeros stored as a tiny epsilon so that they are not confused with
    'not reached'.

    Each search runs on the local piece of the network that a walk of
    ``limit_m`` can reach at all: facilities are grouped in square tiles of
    twice the reach, and each tile's facilities search the subgraph of nodes
    within the reach of the tile (a walk never strays farther in a straight
    line than it walks, see :func:`_euclid_slack`), so distances up to
    ``limit_m`` are exact and a search costs what it reaches, not the whole
    network. Every compiled ``dijkstra`` call returns a dense block of
    facilities × local nodes, never more than ``block_bytes``.
    """
    net = graph.net
    n = net.n_nodes
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0 or n == 0:
        return sp.csr_matrix((len(rows), n))
    fac = graph.facilities
    foot = _foot_xy(net, fac["snap_edge"].to_numpy(np.int64)[rows], fac["snap_along_m"].to_numpy(float)[rows])
    reach = limit_m * _euclid_slack(net) + 1.0
    side = 2.0 * reach
    origin = np.minimum(net.node_xy.min(axis=0), foot.min(axis=0)) - side
    fac_tile = np.floor((foot - origin) / side).astype(np.int64)
    node_tile = np.floor((net.node_xy - origin) / side).astype(np.int64)
    span = int(max(node_tile[:, 1].max(), fac_tile[:, 1].max())) + 3  # keys of one column stay below the next

    def key(t: np.ndarray) -> np.ndarray:
        return t[:, 0] * span + t[:, 1]

    node_order = np.argsort(key(node_tile), kind="stable")
    node_keys = key(node_tile)[node_order]
    fac_order = np.argsort(key(fac_tile), kind="stable")
    tiles, first = np.unique(key(fac_tile)[fac_order], return_index=True)
    bounds = np.r_[first, len(rows)]
    # The 3 × 3 block of node tiles around each facility tile, as three runs of consecutive keys.
    lo = np.stack([np.searchsorted(node_keys, tiles + dx * span - 1, "left") for dx in (-1, 0, 1)], axis=1)
    hi = np.stack([np.searchsorted(node_keys, tiles + dx * span + 1, "right") for dx in (-1, 0, 1)], axis=1)
    local_of = np.full(graph.matrix.shape[0], -1, dtype=np.int64)
    out_r, out_c, out_d = [], [], []
    for t in range(len(tiles)):  # one compiled search per tile of facilities, not per facility
        members = fac_order[bounds[t]:bounds[t + 1]]
        near = node_order[np.concatenate([np.arange(a, b) for a, b in zip(lo[t], hi[t])])]
        tx, ty = divmod(int(tiles[t]), span)
        box_lo = origin + np.array([tx, ty]) * side - reach
        box_hi = box_lo + side + 2 * reach
        xy = net.node_xy[near]
        near = np.sort(near[np.all((xy >= box_lo) & (xy <= box_hi), axis=1)])
        local = np.concatenate([near, n + rows[members]])
        local_of[local] = np.arange(len(local))
        part = graph.matrix[local]
        cols = local_of[part.indices]
        keep = cols >= 0
        src = np.repeat(np.arange(len(local)), np.diff(part.indptr))
        sub = sp.csr_matrix((part.data[keep], (src[keep], cols[keep])), shape=(len(local), len(local)))
        local_of[local] = -1
        per_block = max(1, int(block_bytes // (8 * len(local))))
        for start in range(0, len(members), per_block):
            chunk = np.arange(start, min(start + per_block, len(members)))
            # The matrix is symmetric by construction, so a directed search is the undirected one.
            dist = dijkstra(sub, directed=True, indices=len(near) + chunk, limit=limit_m)[:, :len(near)]
            r, c = np.nonzero(np.isfinite(dist))
            out_r.append(members[chunk][r])
            out_c.append(near[c])
            out_d.append(np.maximum(dist[r, c], 1e-9))
    r, c, d = (np.concatenate(x) for x in (out_r, out_c, out_d))
    return sp.csr_matrix((d, (r, c)), shape=(len(rows), n))


def origin_catchments(graph: AccessGraph, rows: np.ndarray, origin_snap: Snap, limit_m: float) -> sp.csr_matrix:
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


def decay_weights(walk_time_s: np.ndarray, thresholds_min: Sequence[float],
                  step_weights: Sequence[float] | None = None) -> np.ndarray:
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


def two_step_fca(walk_time_s: sp.csr_matrix, capacity: np.ndarray, demand: np.ndarray, thresholds_min: Sequence[float],
                 step_weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
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


# --------------------------------------------------------------------------- service areas
#
# A service area is the land within ``street_buffer_m`` of the network walked
# within the budget — whole edges, the partly walked last stretch of edges and
# the walk from the facility to its street — less the land within half that
# distance of streets first reached more than FAR_MARGIN_S later (they lie
# across a barrier from the walked streets, e.g. a parallel road that joins
# them far away), the walked streets themselves always kept. Everything below
# works on arrays of (group, edge) pairs, a group being one facility, or one
# tile of a category's merged area, so one vectorised shapely call serves all.


def _edge_vertices(net: WalkNetwork) -> tuple[np.ndarray, ...]:
    """Every edge geometry's vertices with their distance along the edge (cached on ``net``).

    Returns ``(xy, first, along, key, base)``: vertex coordinates, the index of
    each edge's first vertex, each vertex's projected distance from its edge's
    start, a key increasing over all vertices (``base[edge] + along``) for
    vectorised searches, and each edge's ``base``.
    """
    cached = net._vertices
    if cached is None:
        xy, owner = shapely.get_coordinates(net.edge_geometry, return_index=True)
        first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        counts = np.diff(np.r_[first, len(xy)])
        step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
        step[first] = 0.0
        along = np.cumsum(step)
        along -= np.repeat(along[first], counts)
        proj_length = along[first + counts - 1]
        base = np.r_[0.0, np.cumsum(proj_length[:-1] + 1.0)]  # a metre between edges keeps keys apart
        cached = (xy, first, along, np.repeat(base, counts) + along, base)
        net._vertices = cached
    return cached


def _substrings(net: WalkNetwork, edge: np.ndarray, start_m: np.ndarray, end_m: np.ndarray) -> np.ndarray:
    """The stretches of ``edge`` from ``start_m`` to ``end_m`` (in the edge's own length units).

    What ``shapely.ops.substring`` does for one line, for many at once:
    positions are fractions of the edge's length applied to its projected
    geometry; the ends are interpolated and the vertices between kept.
    """
    xy, first, along, key, base = _edge_vertices(net)
    if len(edge) == 0:
        return np.array([], dtype=object)
    length = np.maximum(net.edge_length_m[edge], 1e-9)
    last = np.r_[first[1:], len(xy)][edge] - 1
    proj = along[last]
    pa = np.clip(start_m / length, 0.0, 1.0) * proj
    pb = np.clip(end_m / length, 0.0, 1.0) * proj
    lo = np.searchsorted(key, base[edge] + pa, "right")  # first vertex beyond the start
    hi = np.searchsorted(key, base[edge] + pb, "left")  # first vertex at or beyond the end

    def point(pos: np.ndarray, seg: np.ndarray) -> np.ndarray:
        seg = np.clip(seg, first[edge], last - 1)
        span = along[seg + 1] - along[seg]
        t = np.where(span > 0, (pos - along[seg]) / np.where(span > 0, span, 1.0), 0.0)
        return xy[seg] + t[:, None] * (xy[seg + 1] - xy[seg])

    inner = np.maximum(hi - lo, 0)
    counts = inner + 2
    ends = np.cumsum(counts)
    starts = ends - counts
    coords = np.empty((int(ends[-1]), 2))
    coords[starts] = point(pa, lo - 1)
    coords[ends - 1] = point(pb, hi - 1)
    piece = np.repeat(np.arange(len(edge)), inner)
    slot = np.arange(len(piece)) - np.repeat(np.cumsum(inner) - inner, inner)
    coords[starts[piece] + 1 + slot] = xy[lo[piece] + slot]
    return shapely.linestrings(coords, indices=np.repeat(np.arange(len(edge)), counts))


def _walked_intervals(length: np.ndarray, du: np.ndarray, dv: np.ndarray,
                      budget: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For (group, edge) pairs whose ends are ``du``/``dv`` metres away: walked whole, or in part.

    Returns ``(whole, pair, start_m, end_m)``: a flag per pair, and the
    stretches walked in from either end of the pairs not walked whole.
    """
    from_u = np.clip(budget - du, 0.0, length)  # an unreached end gives no reach
    from_v = np.clip(budget - dv, 0.0, length)
    whole = (from_u + from_v >= length) & ((from_u > 0) | (from_v > 0))
    part_u, part_v = ~whole & (from_u > 0), ~whole & (from_v > 0)
    pair = np.r_[np.flatnonzero(part_u), np.flatnonzero(part_v)]
    start = np.r_[np.zeros(int(part_u.sum())), (length - from_v)[part_v]]
    end = np.r_[from_u[part_u], length[part_v]]
    return whole, pair, start, end


def _own_stretches(fac: pd.DataFrame, length: np.ndarray, budget: float) -> tuple[np.ndarray, ...]:
    """Each facility's own edge, walked both ways from where it joins it: ``(facility, edge, start, end)``."""
    rest = budget - fac["snap_offset_m"].to_numpy(float)
    on = np.flatnonzero(rest > 0)
    edge = fac["snap_edge"].to_numpy(np.int64)[on]
    along = fac["snap_along_m"].to_numpy(float)[on]
    return on, edge, np.maximum(0.0, along - rest[on]), np.minimum(length[edge], along + rest[on])


def _unwalked(length: np.ndarray, whole: np.ndarray, pair: np.ndarray, start: np.ndarray,
              end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The complement of walked stretches on each pair's edge: ``(pair, start, end)`` of what is left."""
    order = np.lexsort((start, pair))
    pair, start, end = pair[order], start[order], end[order]
    reach = pd.Series(end).groupby(pair).cummax().to_numpy()  # walked up to here, within each pair
    head = np.r_[True, pair[1:] != pair[:-1]]
    before = np.r_[0.0, reach[:-1]]
    before[head] = 0.0
    tail = np.r_[pair[1:] != pair[:-1], True]
    untouched = np.setdiff1d(np.flatnonzero(~whole), pair)
    gap_pair = np.r_[pair, pair[tail], untouched]
    gap_start = np.r_[before, reach[tail], np.zeros(len(untouched))]
    gap_end = np.r_[start, length[pair[tail]], length[untouched]]
    real = (gap_end - gap_start > 1e-6) & ~whole[gap_pair]
    return gap_pair[real], gap_start[real], gap_end[real]


def _union_by_group(geoms: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """The union of ``geoms`` within each group, in a few vectorised calls (``None`` where a group is empty).

    Groups are padded into 2-D arrays, one per power-of-two group size (so
    padding never doubles the work), each reduced by one ``union_all(axis=1)``
    — GEOS's cascaded union of each row, the fastest way to merge many
    overlapping street buffers (3× faster than buffering a MultiLineString).
    """
    out = np.full(n_groups, None, dtype=object)
    if len(geoms) == 0:
        return out
    order = np.argsort(group, kind="stable")
    group, geoms = group[order], geoms[order]
    counts = np.bincount(group, minlength=n_groups)
    slot = np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)
    size = np.where(counts > 0, 2 ** np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64), 0)
    for width in arrays.unique(size[size > 0]):
        members = np.flatnonzero(size == width)
        row = np.full(n_groups, -1, dtype=np.int64)
        row[members] = np.arange(len(members))
        take = row[group] >= 0
        block = np.full((len(members), int(counts[members].max())), None, dtype=object)
        block[row[group[take]], slot[take]] = geoms[take]
        out[members] = shapely.union_all(block, axis=1)
    return out


def _area_polygons(walked: np.ndarray, walked_group: np.ndarray, far: np.ndarray, far_group: np.ndarray,
                   n_groups: int, street_m: float) -> np.ndarray:
    """Per group: the land within ``street_m`` of its walked lines, less land near its far streets."""
    area = _union_by_group(shapely.buffer(walked, street_m, quad_segs=4), walked_group, n_groups)
    area[[a is None for a in area]] = shapely.Polygon()
    cut = _union_by_group(shapely.buffer(far, street_m / 2, quad_segs=4), far_group, n_groups)
    has = np.flatnonzero([c is not None for c in cut])
    if len(has):
        # The walked streets themselves always stay in, even where a street not
        # reached runs closer than half the street-side distance.
        mine = np.isin(walked_group, has)
        thin = _union_by_group(shapely.buffer(walked[mine], WALKED_LINE_M, quad_segs=2), walked_group[mine], n_groups)
        kept = shapely.difference(area[has], cut[has])
        area[has] = np.where([t is None for t in thin[has]], kept, shapely.union(kept, thin[has]))
    return area


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Drop the points and lines an overlay can leave beside its polygons (elementwise)."""
    geoms = np.asarray(geoms, dtype=object)
    mixed = np.flatnonzero(shapely.get_type_id(geoms) == 7)
    if len(mixed):
        parts, owner = shapely.get_parts(geoms[mixed], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (3, 6))
        fixed = np.full(len(mixed), shapely.Polygon(), dtype=object)
        poly = shapely.get_parts(parts[keep])  # multipolygons into polygons
        owner = np.repeat(owner[keep], shapely.get_num_geometries(parts[keep]))
        if len(poly):
            shapely.multipolygons(poly, indices=owner, out=fixed)
        geoms = geoms.copy()
        geoms[mixed] = fixed
    return geoms


def _lookup(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows[i], cols[i]]`` for sparse distances: ``inf`` where nothing is stored."""
    if matrix.nnz == 0:
        return np.full(len(rows), np.inf)
    matrix.sort_indices()
    n_cols = matrix.shape[1]
    stored = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr)) * n_cols + matrix.indices
    wanted = np.asarray(rows, dtype=np.int64) * n_cols + cols
    pos = np.minimum(np.searchsorted(stored, wanted), len(stored) - 1)
    return np.where(stored[pos] == wanted, matrix.data[pos], np.inf)


def _access_lines(net: WalkNetwork, fac: pd.DataFrame) -> np.ndarray:
    """The walk from each facility to the point where it joins its street."""
    foot = _foot_xy(net, fac["snap_edge"].to_numpy(np.int64), fac["snap_along_m"].to_numpy(float))
    xy = shapely.get_coordinates(fac.geometry.to_crs(net.crs).values).reshape(-1, 2)
    return shapely.linestrings(np.stack([xy, foot], axis=1))


def _walked_lines(net: WalkNetwork, pair_group: np.ndarray, pair_edge: np.ndarray, du: np.ndarray, dv: np.ndarray,
                  budget: float, fac: gpd.GeoDataFrame, fac_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines walked within ``budget`` for (group, edge) pairs, plus the facilities' own stretches and walks
    to the street. Returns ``(lines, group)``."""
    length = net.edge_length_m[pair_edge]
    whole, part, start, end = _walked_intervals(length, du, dv, budget)
    own, own_edge, own_start, own_end = _own_stretches(fac, net.edge_length_m, budget)
    reaches = fac["snap_offset_m"].to_numpy(float) <= budget
    lines = np.concatenate([net.edge_geometry[pair_edge[whole]],
                            _substrings(net, np.r_[pair_edge[part], own_edge], np.r_[start, own_start],
                                        np.r_[end, own_end]),
                            _access_lines(net, fac[reaches]) if reaches.any() else np.array([], dtype=object)])
    group = np.r_[pair_group[whole], pair_group[part], fac_group[own], fac_group[reaches]].astype(np.int64)
    keep = shapely.length(lines) > 1e-9
    return lines[keep], group[keep]


def _far_lines(net: WalkNetwork, pair_group: np.ndarray, pair_edge: np.ndarray, du: np.ndarray, dv: np.ndarray,
               budget: float, fac: gpd.GeoDataFrame, fac_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stretches of the (group, edge) pairs' edges *not* walked within ``budget``: ``(lines, group)``."""
    length = net.edge_length_m[pair_edge]
    whole, part, start, end = _walked_intervals(length, du, dv, budget)
    own, own_edge, own_start, own_end = _own_stretches(fac, net.edge_length_m, budget)
    # The facilities' own stretches belong to their (group, edge) pair, where there is one.
    pairs = pd.DataFrame({"g": pair_group, "e": pair_edge, "p": np.arange(len(pair_edge))})
    own_pair = pd.DataFrame({"g": fac_group[own], "e": own_edge}).merge(pairs, on=["g", "e"], how="left")["p"]
    found = own_pair.notna().to_numpy()
    gap_pair, gap_start, gap_end = _unwalked(
        length, whole, np.r_[part, own_pair[found].to_numpy(np.int64)], np.r_[start, own_start[found]],
        np.r_[end, own_end[found]])
    lines = _substrings(net, pair_edge[gap_pair], gap_start, gap_end)
    return lines, pair_group[gap_pair].astype(np.int64)


def _near_pairs(net: WalkNetwork, lines: np.ndarray, group: np.ndarray, distance: float) -> tuple[np.ndarray, ...]:
    """Unique (group, edge) pairs of the edges within ``distance`` of each group's walked lines."""
    line, edge = edge_tree(net).query(lines, predicate="dwithin", distance=distance)
    pairs = np.unique(np.column_stack([group[line], edge]).astype(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def facility_service_areas(graph: AccessGraph, *, categories: dict[str, Category], settings: AccessSettings,
                           rows: np.ndarray | None = None, batch: int = 256) -> gpd.GeoDataFrame:
    """The 5/10/15-minute (``settings.thresholds_min``) service area of each facility.

    Each area is the network the facility actually reaches — whole edges, the
    partly walked last edges and the walk to the street — buffered by
    ``settings.street_buffer_m``, less the land nearer to streets reached only a
    minute later (across a barrier: no convex hulls, no leaking over rivers).
    Areas of one facility are nested because the walked network of a shorter
    time is part of that of a longer one. A facility's area costs what it
    reaches (its sparse catchment and the edges there), never the whole network;
    facilities are done ``batch`` at a time, each step one vectorised call.

    Parameters
    ----------
    graph : AccessGraph
    categories : dict of Category
        The study area's categories (their walking speeds).
    settings : AccessSettings
        The thresholds and the street-side buffer (``config.access``).
    rows : ndarray, optional
        Rows of ``graph.facilities`` to draw (default all).

    Returns
    -------
    GeoDataFrame
        ``facility_id``, ``category``, ``minutes``, ``speed_m_s``,
        ``street_buffer_m``, ``area_m2`` and the polygon, in ``net.crs``;
        facilities in row order, thresholds largest first.
    """
    net, fac = graph.net, graph.facilities
    rows = np.arange(len(fac)) if rows is None else np.asarray(rows, dtype=np.int64)
    street_m = settings.street_buffer_m
    minutes = sorted(settings.thresholds_min, reverse=True)
    records, geoms = [], []
    incidence = sp.csr_matrix((np.ones(2 * net.n_edges), (np.r_[net.edge_u, net.edge_v],
                                                          np.r_[np.arange(net.n_edges), np.arange(net.n_edges)])),
                              shape=(net.n_nodes, net.n_edges))
    fac_category = fac["category"].to_numpy()
    for category in sorted(set(fac_category[rows])):
        cat_rows = rows[fac_category[rows] == category]
        speed = categories[category].speed_m_s
        margin = FAR_MARGIN_S * speed
        limit = max(minutes) * 60 * speed + margin
        for start in range(0, len(cat_rows), batch):
            chunk = cat_rows[start:start + batch]
            sub = fac.iloc[chunk]
            reach = catchments(graph, chunk, limit)
            touched = (reach @ incidence).tocoo()  # the edges at a reached node, per facility
            group, edge = touched.row.astype(np.int64), touched.col.astype(np.int64)
            du, dv = _lookup(reach, group, net.edge_u[edge]), _lookup(reach, group, net.edge_v[edge])
            own = np.arange(len(chunk))
            larger = None
            for m in minutes:
                budget = m * 60 * speed
                lines, line_group = _walked_lines(net, group, edge, du, dv, budget, sub, own)
                near_g, near_e = _near_pairs(net, lines, line_group, 1.5 * street_m)
                nu = _lookup(reach, near_g, net.edge_u[near_e])
                nv = _lookup(reach, near_g, net.edge_v[near_e])
                far, far_group = _far_lines(net, near_g, near_e, nu, nv, budget + margin, sub, own)
                area = _area_polygons(lines, line_group, far, far_group, len(chunk), street_m)
                # An area reaches nobody when the walk to the street alone is over budget.
                area[sub["snap_offset_m"].to_numpy(float) > budget] = shapely.Polygon()
                # Walked streets are nested; clipping makes the polygons nested too,
                # despite the round-off of buffered curves.
                larger = area if larger is None else _polygonal(shapely.intersection(area, larger))
                records.append(pd.DataFrame({"_row": chunk, "facility_id": sub["facility_id"].to_numpy(),
                                             "category": category, "minutes": m, "speed_m_s": speed}))
                geoms.append(larger)
    if not records:
        return _areas_frame([], [], net.crs, street_m)
    frame = pd.concat(records, ignore_index=True)
    frame["geometry"] = np.concatenate(geoms)
    # Category by category, facility by facility, largest threshold first.
    frame = frame.sort_values(["category", "_row", "minutes"], ascending=[True, True, False], kind="stable")
    return _areas_frame(frame[["facility_id", "category", "minutes", "speed_m_s"]].itertuples(index=False),
                        list(frame["geometry"]), net.crs, street_m)


#: Side (m) of the tiles a category's merged area is built in (see :func:`merged_service_areas`).
AREA_TILE_M = 1500.0


def _tiles_of(lines: np.ndarray, pad: float, origin: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """(line, tile key) for every tile each line comes within ``pad`` of."""
    box = shapely.bounds(lines)
    lo = np.floor((box[:, :2] - pad - origin) / side).astype(np.int64)
    hi = np.floor((box[:, 2:] + pad - origin) / side).astype(np.int64)
    nx, ny = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    count = nx * ny
    line = np.repeat(np.arange(len(lines)), count)
    k = np.arange(len(line)) - np.repeat(np.cumsum(count) - count, count)
    tx = lo[line, 0] + k // ny[line]
    ty = lo[line, 1] + k % ny[line]
    return line, tx * TILE_KEY_SPAN + ty


#: Tile keys are ``column * TILE_KEY_SPAN + row``.
TILE_KEY_SPAN = 1 << 24


def merged_service_areas(graph: AccessGraph, *, categories: dict[str, Category], settings: AccessSettings,
                         node_distances: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> gpd.GeoDataFrame:
    """One service area per (category, minutes), from the category's one multi-source pass.

    The same definition as :func:`facility_service_areas`, applied to the
    distance from every node to the *nearest* facility: the land within the
    street-side distance of every street walked within the threshold from any
    facility, less land near streets no facility reaches within a minute more.
    (It contains the union of the facilities' own areas; it can be a little
    larger, where a street one facility reaches only late is reached in time
    from another.) Built in square tiles of :data:`AREA_TILE_M`, each tile's
    lines buffered and clipped to the tile in one vectorised call, the tiles
    then unioned on a 1 mm grid: linear in the network, never one polygon per
    facility.

    Parameters
    ----------
    graph : AccessGraph
    categories : dict of Category
        The study area's categories (their walking speeds).
    settings : AccessSettings
        The thresholds and the street-side buffer (``config.access``).
    node_distances : dict, optional
        ``{category: (distance_m, nearest)}`` from :func:`nearest_distances`,
        when already computed.

    Returns
    -------
    GeoDataFrame
        ``category``, ``minutes``, geometry, ``speed_m_s``, ``street_buffer_m``,
        ``area_m2`` in ``net.crs``.
    """
    net, fac = graph.net, graph.facilities
    street_m = settings.street_buffer_m
    records, geoms = [], []
    origin = np.floor(net.node_xy.min(axis=0)) - AREA_TILE_M
    fac_category = fac["category"].to_numpy() if len(fac) else np.array([], dtype=object)
    for category in sorted(set(fac_category)):
        speed = categories[category].speed_m_s
        margin = FAR_MARGIN_S * speed
        known = (node_distances or {}).get(category)
        dist = nearest_distances(graph, category)[0] if known is None else known[0]
        cat_fac = fac[fac_category == category]
        one = np.zeros(len(cat_fac), dtype=np.int64)
        all_edges = np.arange(net.n_edges)
        zeros = np.zeros(net.n_edges, dtype=np.int64)
        du, dv = dist[net.edge_u], dist[net.edge_v]
        larger_keys, larger = np.zeros(0, np.int64), np.zeros(0, dtype=object)
        for m in sorted(settings.thresholds_min, reverse=True):
            budget = m * 60 * speed
            lines, _ = _walked_lines(net, zeros, all_edges, du, dv, budget, cat_fac, one)
            if len(lines) == 0:
                continue
            _, near = _near_pairs(net, lines, np.zeros(len(lines), np.int64), 1.5 * street_m)
            far, _ = _far_lines(net, np.zeros(len(near), np.int64), near, du[near], dv[near], budget + margin,
                                cat_fac, one)
            w_line, w_key = _tiles_of(lines, street_m + 1.0, origin, AREA_TILE_M)
            f_line, f_key = _tiles_of(far, street_m / 2 + 1.0, origin, AREA_TILE_M) if len(far) else (
                np.zeros(0, np.int64), np.zeros(0, np.int64))
            keys = arrays.unique(w_key)  # only tiles with walked lines hold any area
            f_in = np.isin(f_key, keys)
            tx, ty = keys // TILE_KEY_SPAN, keys % TILE_KEY_SPAN
            x0, y0 = origin[0] + tx * AREA_TILE_M, origin[1] + ty * AREA_TILE_M
            boxes = shapely.box(x0, y0, x0 + AREA_TILE_M, y0 + AREA_TILE_M)
            tiled = _area_polygons(lines[w_line], np.searchsorted(keys, w_key), far[f_line[f_in]],
                                   np.searchsorted(keys, f_key[f_in]), len(keys), street_m)
            pieces = _polygonal(shapely.intersection(tiled, boxes))
            if len(larger_keys):  # nested like the facilities' areas: clipped by the larger threshold's tile
                at = np.minimum(np.searchsorted(larger_keys, keys), len(larger_keys) - 1)
                outer = np.where(larger_keys[at] == keys, larger[at], shapely.Polygon())
                pieces = _polygonal(shapely.intersection(pieces, outer))
            larger_keys, larger = keys, pieces
            records.append((category, m, speed))
            geoms.append(shapely.union_all(pieces, grid_size=0.001))
    frame = pd.DataFrame(records, columns=["category", "minutes", "speed_m_s"])
    gdf = gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geoms, crs=net.crs) if geoms else gpd.GeoSeries([], crs=net.crs), crs=net.crs
    )
    gdf = gdf.sort_values(["category", "minutes"], kind="stable").reset_index(drop=True)
    gdf = gdf[["category", "minutes", "geometry", "speed_m_s"]]
    gdf["street_buffer_m"] = street_m
    gdf["area_m2"] = gdf.area
    return gdf


def _areas_frame(records: Iterable[tuple], geoms: list, crs: str, buffer_m: float = np.nan) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(list(records), columns=["facility_id", "category", "minutes", "speed_m_s"])
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs) if len(geoms) else gpd.GeoSeries([], crs=crs),
                           crs=crs)
    gdf["street_buffer_m"] = buffer_m
    gdf["area_m2"] = gdf.area
    return gdf


def origin_snap(origins: gpd.GeoDataFrame, net: WalkNetwork) -> Snap:
    """Where each origin joins the walk network (one snap, shared by every access computation)."""
    return snap_points(net, shapely.get_coordinates(origins.geometry.values))


def origin_walk_times(origins: gpd.GeoDataFrame, graph: AccessGraph, *, categories: dict[str, Category],
                      snap: Snap | None = None, node_distances: dict | None = None) -> pd.DataFrame:
    """Walk time (s) from every origin to the nearest counted facility of each category.

    ``snap``: from :func:`origin_snap`; ``node_distances``: ``{category:
    nearest_distances(...)}``; each computed here when not given.
    Returns a frame with ``walk_time_s_<cat>`` and ``nearest_<cat>`` (facility id) per category.
    """
    net = graph.net
    if snap is None:
        snap = origin_snap(origins, net)
    out = pd.DataFrame(index=origins.index)
    out["snap_offset_m"] = snap.offset_m
    ids = graph.facilities["facility_id"].to_numpy() if len(graph.facilities) else np.array([], dtype=object)
    for key, category in categories.items():
        node_d, node_near = (node_distances or {}).get(key) or nearest_distances(graph, key)
        fac = graph.facilities[graph.facilities["category"] == key]
        dist, near = point_distances(net, snap, node_d, fac, node_near)
        out[f"walk_time_s_{key}"] = dist / category.speed_m_s
        out[f"nearest_{key}"] = np.where(near >= 0, ids[np.maximum(near, 0)] if len(ids) else "", "")
    return out


def origin_capacity_access(origins: gpd.GeoDataFrame, graph: AccessGraph, *, categories: dict[str, Category],
                           settings: AccessSettings, snap: Snap | None = None) -> tuple[pd.DataFrame, dict]:
    """Capacity-aware access (2SFCA) of every origin, per category that has a capacity.

    Each category's capacity (``Category.capacity``: beds, meals a day,
    nursery places) is shared out among its demand group (``demand_group``:
    60+ for elder care and canteens, 0–3 — else 0–4, else everyone — for
    nurseries) within the largest threshold's walk, decayed as
    ``settings.decay`` says. Facilities whose capacity is unknown take no part
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
    steps = settings.step_weights if settings.decay == "stepped" else None
    fac = graph.facilities
    for key, category in categories.items():
        if category.capacity is None:
            continue
        demand_col, who = group_column(origins, category.demand_group)
        rows = np.flatnonzero(fac["category"].to_numpy() == key) if len(fac) else np.array([], dtype=int)
        cap = (pd.to_numeric(fac[category.capacity], errors="coerce").to_numpy(float)[rows]
               if category.capacity in fac.columns else np.full(len(rows), np.nan))
        known = np.isfinite(cap)
        entry = {"capacity": category.capacity, "demand": demand_col, "demand_label": who, "decay": settings.decay,
                 "facilities_used": int(known.sum()), "facilities_without_capacity": int((~known).sum()),
                 "unit": f"{category.capacity} per 1,000 {who}"}
        if not known.any():
            out[f"fca_per_1000_{key}"] = np.nan
            entry["capacity_shared"] = 0.0
            info[key] = entry
            continue
        limit_m = settings.coverage_threshold_min * 60 * category.speed_m_s
        dist = origin_catchments(graph, rows[known], snap, limit_m)
        dist.data = dist.data / category.speed_m_s
        demand = origins[demand_col].to_numpy(float)
        ratio, acc = two_step_fca(dist, cap[known], demand, settings.thresholds_min, steps)
        out[f"fca_per_1000_{key}"] = acc * 1000.0
        entry["capacity_shared"] = float(np.nansum(np.where(np.isfinite(ratio), cap[known], 0.0)))
        entry["capacity_reaching_nobody"] = float(cap[known][~np.isfinite(ratio)].sum())
        info[key] = entry
    return out, info
