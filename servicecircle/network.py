"""Walk network: OSM ways → an undirected, projected graph held as flat arrays.

The analysis needs three views of the same network: a compact sparse matrix
for compiled shortest paths, edge geometries for snapping points and drawing
service areas, and (for tests and notebooks) a networkx graph. All three come
from the arrays of one :class:`WalkNetwork`, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import breadth_first_order, connected_components

from . import osm, parallel, roadlines, runcache, texts
from .config import AreaSettings, NetworkSettings, RoadLines
from .coords import WGS84, utm_crs
from .errors import InputError

log = logging.getLogger(__name__)

#: Bump when the cached array layout, or what builds it, changes.
#: 2: local files built by :func:`network_from_ways` (edge order changed), stored uncompressed.
CACHE_FORMAT = 2


@dataclass
class WalkNetwork:
    """An undirected walk network in a local metric CRS.

    Attributes
    ----------
    crs : str
        The projected CRS (UTM zone of the area) of ``node_xy`` and geometries.
    node_osmid : ndarray of int64
        OSM node id of each node.
    node_lonlat, node_xy : ndarray (n, 2)
        Node coordinates in WGS-84 degrees and in metres.
    edge_u, edge_v : ndarray of int64
        Node indices of each edge; ``edge_geometry[i]`` runs from ``edge_u[i]``
        to ``edge_v[i]``.
    edge_length_m : ndarray of float64
        Great-circle length along the way, metres (osmnx's ``length``).
    edge_geometry : ndarray of shapely LineString
        Projected edge geometries.
    info : dict
        Where the network came from and what was kept.

    The last three fields are caches filled on first use (not arguments, not
    compared): the edges' STR-tree (:func:`edge_tree`), the straight-line to
    walk ratio and the edge vertices of :mod:`servicecircle.access`.
    """

    crs: str
    node_osmid: np.ndarray
    node_lonlat: np.ndarray
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_geometry: np.ndarray
    info: dict = field(default_factory=dict)
    _tree: shapely.STRtree | None = field(default=None, init=False, repr=False, compare=False)
    _euclid_slack: float | None = field(default=None, init=False, repr=False, compare=False)
    _vertices: tuple[np.ndarray, ...] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_osmid)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def csgraph(self, extra_u: ArrayLike = (), extra_v: ArrayLike = (), extra_w: ArrayLike = (),
                n_extra: int = 0) -> sp.csr_matrix:
        """Symmetric sparse adjacency (metres) for scipy.sparse.csgraph.

        Parallel edges keep their shortest length (a sparse matrix would sum
        them). ``extra_*`` add edges to ``n_extra`` extra nodes numbered after
        the network's nodes, e.g. facilities joined to the edge they sit on.
        """
        u = np.concatenate([self.edge_u, np.asarray(extra_u, dtype=np.int64)])
        v = np.concatenate([self.edge_v, np.asarray(extra_v, dtype=np.int64)])
        w = np.concatenate([self.edge_length_m, np.asarray(extra_w, dtype=np.float64)])
        keep = u != v
        u, v, w = u[keep], v[keep], w[keep]
        a, b = np.minimum(u, v), np.maximum(u, v)
        order = np.lexsort((w, b, a))
        a, b, w = a[order], b[order], w[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, w = a[first], b[first], w[first]
        # A zero weight would vanish from a sparse matrix; a nanometre keeps the edge.
        w = np.maximum(w, 1e-9)
        n = self.n_nodes + n_extra
        m = sp.coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
        return m.tocsr()

    def to_networkx(self) -> nx.MultiGraph:
        """The network as a networkx MultiGraph with ``length`` in metres (node = index)."""
        g = nx.MultiGraph()
        g.add_nodes_from(range(self.n_nodes))
        g.add_weighted_edges_from(
            zip(self.edge_u.tolist(), self.edge_v.tolist(), self.edge_length_m.tolist()), weight="length"
        )
        return g

    def total_length_m(self) -> float:
        return float(self.edge_length_m.sum())


def _from_osmnx(graph: nx.MultiDiGraph, info: dict) -> WalkNetwork:
    """Arrays of the largest connected component of an osmnx graph, projected to UTM."""
    import osmnx as ox

    und = ox.convert.to_undirected(graph)
    nodes = np.fromiter(und.nodes, dtype=np.int64, count=und.number_of_nodes())
    if len(nodes) == 0 or und.number_of_edges() == 0:
        raise InputError(key="error.no_walkable_ways_area", path=info.get("source"))
    index = {n: i for i, n in enumerate(nodes.tolist())}
    lonlat = np.array([[und.nodes[n]["x"], und.nodes[n]["y"]] for n in nodes.tolist()])
    eu, ev, length, geoms = [], [], [], []
    for u, v, data in und.edges(data=True):
        eu.append(index[u])
        ev.append(index[v])
        length.append(data["length"])
        geoms.append(data.get("geometry"))
    return assemble(nodes, lonlat, eu, ev, length, np.array(geoms, dtype=object), info)


@dataclass(frozen=True)
class SimplifiedWays:
    """The simplified, undirected walk graph of a set of OSM ways, as arrays (WGS-84).

    Attributes
    ----------
    node_id : ndarray of int64
        OSM id of each kept node (ascending).
    node_lonlat : ndarray (n, 2)
        Its WGS-84 degrees.
    edge_u, edge_v : ndarray of int64
        Node indices of each edge's two ends.
    edge_length_m : ndarray of float64
        Sum of the great-circle lengths of the OSM segments merged into the edge.
    coords : ndarray (m, 2)
        Every edge's vertices from ``edge_u`` to ``edge_v``, edge after edge.
    counts : ndarray of int64
        Vertices per edge (at least 2).
    """

    node_id: np.ndarray
    node_lonlat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    coords: np.ndarray
    counts: np.ndarray


# Long on purpose: one pass of array steps in the order of osmnx's own simplification rules, so the two can be
# read side by side; split apart, each step would hand half-built arrays to the next.
def simplify_ways(ways: osm.WalkableWays) -> SimplifiedWays:
    """Node OSM ways at shared nodes and merge degree-2 chains, by osmnx's rules, in array operations.

    This reproduces ``osmnx.graph_from_xml(bidirectional=True, simplify=True,
    retain_all=True)`` followed by ``osmnx.convert.to_undirected`` (osmnx 2.x):

    * each way's consecutive repeated nodes are dropped; every pair of
      consecutive nodes is a segment, walkable both ways;
    * on that bidirectional graph a node is interstitial (``_is_endpoint`` is
      false) exactly when it touches 2 segments and has 2 distinct
      neighbours: with every segment in both directions its degree is twice its
      segment count, so osmnx's "2 neighbours and degree 2 or 4" can only mean
      that (no node self-loops before simplification, and none lacks in- or
      out-edges unless it has no segment at all, which makes it an endpoint);
    * chains of segments through interstitial nodes become one edge between
      their endpoints (possibly the same node: a loop), length the sum of the
      segments' ``osmnx.distance.great_circle`` lengths, geometry the chain of
      node coordinates; chains with no endpoint are isolated rings, dropped
      (``remove_rings=True``); nodes with no segment stay, as osmnx keeps them;
    * undirected like ``to_undirected``: the two directions of a street are one
      edge; parallel edges are kept unless they come from the same way with
      the same geometry (osmnx's duplicate test compares ``osmid`` and
      geometry), which between two endpoints means the same way's repeated
      segment. A merged chain never duplicates another: its interstitial nodes
      are its own.

    Ways are split where the file lacks a node (osmnx cannot build such a
    file at all).

    Parameters
    ----------
    ways : WalkableWays

    Returns
    -------
    SimplifiedWays
        Nodes in ascending OSM id; edges ordered by their end nodes, each
        running from the lower-numbered one (``edge_u <= edge_v``).
    """
    from osmnx.distance import great_circle

    n_refs = len(ways.node_id)
    way_of_ref = np.repeat(np.arange(ways.n_ways), np.diff(ways.offsets))
    same_way = way_of_ref[1:] == way_of_ref[:-1]
    # osmnx drops a way's consecutive duplicate nodes (itertools.groupby) before pairing them.
    keep = np.ones(n_refs, dtype=bool)
    keep[1:] = ~same_way | (ways.node_id[1:] != ways.node_id[:-1])
    ref, lonlat, way_of_ref = ways.node_id[keep], ways.lonlat[keep], way_of_ref[keep]
    located = ~np.isnan(lonlat).any(axis=1)
    node_id, first, ref_node = _unique_first_inverse(ref)
    node_lonlat = lonlat[first]
    node_located = located[first]
    n = len(node_id)

    # Segments: consecutive nodes of one way, both located.
    seg = np.flatnonzero((way_of_ref[1:] == way_of_ref[:-1]) & located[1:] & located[:-1])
    seg_a, seg_b, seg_way = ref_node[seg], ref_node[seg + 1], way_of_ref[seg]
    seg_len = great_circle(lonlat[seg, 1], lonlat[seg, 0], lonlat[seg + 1, 1], lonlat[seg + 1, 0])
    n_seg = len(seg)

    # osmnx's endpoint test: interstitial = 2 segments and 2 distinct neighbours.
    touches = np.bincount(seg_a, minlength=n) + np.bincount(seg_b, minlength=n)
    pair = np.sort(np.minimum(seg_a, seg_b) * n + np.maximum(seg_a, seg_b))
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]]  # distinct neighbour pairs
    neighbours = np.bincount(pair // n, minlength=n) + np.bincount(pair % n, minlength=n)
    interstitial = (touches == 2) & (neighbours == 2)

    # Segments meeting at an interstitial node belong to one chain: join them in
    # a graph of segments, whose components are the chains (a lone segment
    # between two endpoints is a chain of one).
    inc_node = np.concatenate([seg_a, seg_b])
    inc_seg = np.concatenate([np.arange(n_seg), np.arange(n_seg)])
    inner = interstitial[inc_node]
    order = np.argsort(inc_node[inner], kind="stable")
    pairs = inc_seg[inner][order].reshape(-1, 2)  # each interstitial node: its two segments
    # Order each chain from one end in one pass: link every chain's far end
    # segment to the next chain's near end, so that all chains with an
    # endpoint form one long path, and walk it breadth-first from its first
    # segment (on a path that is simply the path's order: linear time, where
    # a depth-first pass from a virtual root of a million chains is not in
    # scipy). Rings (chains with no endpoint) stay off the path, never reached:
    # osmnx's remove_rings.
    joined = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_seg, n_seg))
    _, chain_of_seg = connected_components(joined, directed=False)
    ends = np.flatnonzero(~interstitial[seg_a] | ~interstitial[seg_b])  # ascending
    ends = ends[np.argsort(chain_of_seg[ends], kind="stable")]
    walk = np.zeros(0, dtype=np.int64)
    if len(ends):
        group = np.r_[0, np.flatnonzero(np.diff(chain_of_seg[ends])) + 1]
        near, far = ends[group], ends[np.r_[group[1:], len(ends)] - 1]  # the same segment for a chain of one
        path = sp.coo_matrix((np.ones(len(pairs) + len(near) - 1),
                              (np.r_[pairs[:, 0], far[:-1]], np.r_[pairs[:, 1], near[1:]])), shape=(n_seg, n_seg))
        walk = breadth_first_order(path.tocsr(), int(near[0]), directed=False, return_predecessors=False)

    # Orient the segments along their chain: a chain's first segment leaves its
    # endpoint; every later one leaves the node it shares with the one before.
    a, b, chain = seg_a[walk], seg_b[walk], chain_of_seg[walk]
    head = np.ones(len(walk), dtype=bool)
    head[1:] = chain[1:] != chain[:-1]
    prev_a, prev_b = np.r_[-1, a[:-1]], np.r_[-1, b[:-1]]
    from_a = np.where(head, ~interstitial[a], (a == prev_a) | (a == prev_b))
    p = np.where(from_a, a, b)
    q = np.where(from_a, b, a)
    chain_start = np.flatnonzero(head)
    chain_len = np.diff(np.r_[chain_start, len(walk)])
    edge_u, edge_v = p[chain_start], q[chain_start + chain_len - 1]
    edge_length = np.add.reduceat(seg_len[walk], chain_start) if len(walk) else np.zeros(0)
    # Vertex sequence of each chain: the start node of each segment, then the chain's last node.
    n_chain = len(chain_start)
    vertex = np.empty(len(walk) + n_chain, dtype=np.int64)
    chain_of_walk = np.cumsum(head) - 1
    vertex[np.arange(len(walk)) + chain_of_walk] = p
    vertex[chain_start + chain_len + np.arange(n_chain)] = edge_v  # chain c's last vertex, shifted by c
    counts = chain_len + 1

    # to_undirected's duplicate test: a one-segment edge repeated by the same
    # way between the same nodes is one street (same osmid, same geometry).
    lo, hi = np.minimum(edge_u, edge_v), np.maximum(edge_u, edge_v)
    edge_way = seg_way[walk][chain_start]
    single = chain_len == 1
    dup = np.zeros(n_chain, dtype=bool)
    cand = np.flatnonzero(single)
    key = np.lexsort((cand, edge_way[cand], hi[cand], lo[cand]))
    c = cand[key]
    same = (lo[c][1:] == lo[c][:-1]) & (hi[c][1:] == hi[c][:-1]) & (edge_way[c][1:] == edge_way[c][:-1])
    dup[c[1:][same]] = True

    # Kept nodes: endpoints (with or without segments) that the file locates.
    keep_node = node_located & ~interstitial
    new_index = np.cumsum(keep_node) - 1
    keep_edge = ~dup
    # A deterministic edge order: by end nodes, then length, then chain order.
    lo_k, hi_k, len_k = lo[keep_edge], hi[keep_edge], edge_length[keep_edge]
    edge_order = np.flatnonzero(keep_edge)[np.lexsort((np.arange(len(lo_k)), len_k, hi_k, lo_k))]
    # Every edge runs from its lower to its higher node (by OSM id), its vertices with it.
    u, v = new_index[edge_u[edge_order]], new_index[edge_v[edge_order]]
    turn = u > v
    vertex_start = np.r_[0, np.cumsum(counts)[:-1]]
    out_counts = counts[edge_order]
    out_start = np.repeat(vertex_start[edge_order], out_counts)
    within = np.arange(out_counts.sum()) - np.repeat(np.r_[0, np.cumsum(out_counts)[:-1]], out_counts)
    within = np.where(np.repeat(turn, out_counts), np.repeat(out_counts, out_counts) - 1 - within, within)
    coords = node_lonlat[vertex[out_start + within]]
    return SimplifiedWays(node_id=node_id[keep_node], node_lonlat=node_lonlat[keep_node],
                          edge_u=np.minimum(u, v), edge_v=np.maximum(u, v),
                          edge_length_m=edge_length[edge_order], coords=coords, counts=out_counts)


def _unique_first_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(values, return_index=True, return_inverse=True)`` by one stable argsort.

    numpy 2.4's hash-based ``np.unique`` took 25 s on the 4.8 M node ids of a
    million-node city, where sorting takes 0.2 s.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], order[new], inverse


def network_from_ways(ways: osm.WalkableWays, *, info: dict) -> WalkNetwork:
    """The walk network of OSM ways: :func:`simplify_ways`, then :func:`assemble`.

    Parameters
    ----------
    ways : WalkableWays
        From :func:`servicecircle.osm.read_walkable_ways`.
    info : dict
        Where the ways came from (``source``); extended with what was kept.

    Returns
    -------
    WalkNetwork
    """
    graph = simplify_ways(ways)
    if len(graph.edge_u) == 0:
        raise InputError(key="error.no_walkable_ways_area", path=info.get("source"))
    info = dict(info, osm_ways=int(ways.n_ways), osm_way_nodes=int(len(ways.node_id)))
    return assemble_arrays(graph.node_id, graph.node_lonlat, graph.edge_u, graph.edge_v, graph.edge_length_m,
                           coords=graph.coords, counts=graph.counts, info=info)


def assemble(node_id: np.ndarray, lonlat: np.ndarray, eu: np.ndarray | list[int], ev: np.ndarray | list[int],
             length: np.ndarray | list[float], geom: np.ndarray, info: dict) -> WalkNetwork:
    """A :class:`WalkNetwork` from WGS-84 node and edge arrays: largest component, projected to UTM.

    ``geom`` holds WGS-84 line geometries (or None for a straight edge).
    """
    eu, ev = np.asarray(eu, dtype=np.int64), np.asarray(ev, dtype=np.int64)
    length = np.asarray(length, dtype=np.float64)
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    geom = np.asarray(geom, dtype=object)
    missing = shapely.is_missing(geom)
    counts = np.where(missing, 2, shapely.get_num_coordinates(geom)).astype(np.int64)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    coords = np.empty((int(counts.sum()), 2))
    present = np.flatnonzero(~missing)
    given, given_edge = shapely.get_coordinates(geom[present], return_index=True)
    given_start = np.r_[0, np.cumsum(counts[present])[:-1]]
    rank = np.arange(len(given)) - given_start[given_edge]
    coords[start[present[given_edge]] + rank] = given
    straight = np.flatnonzero(missing)
    coords[start[straight]], coords[start[straight] + 1] = lonlat[eu[straight]], lonlat[ev[straight]]
    return assemble_arrays(node_id, lonlat, eu, ev, length, coords=coords, counts=counts, info=info)


def assemble_arrays(node_id: np.ndarray, lonlat: np.ndarray, eu: np.ndarray, ev: np.ndarray, length: np.ndarray, *,
                    coords: np.ndarray, counts: np.ndarray, info: dict) -> WalkNetwork:
    """:func:`assemble` with edge geometries as flat WGS-84 vertices: ``counts[i]`` per edge, in order.

    Everything is one array operation over all edges: the largest component
    kept, vertices projected in one call, each geometry turned to run from
    ``u`` to ``v``, and the LineStrings made in one ``shapely.linestrings``.
    """
    eu, ev = np.asarray(eu, dtype=np.int64), np.asarray(ev, dtype=np.int64)
    length = np.asarray(length, dtype=np.float64)
    nodes = np.asarray(node_id, dtype=np.int64)
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    counts = np.asarray(counts, dtype=np.int64)
    edge_of_vertex = np.repeat(np.arange(len(eu)), counts)

    # Keep the largest connected component: fragments cut off at the edge of an
    # extract, or footways with no mapped link, would give unreachable origins.
    n = len(nodes)
    adj = sp.coo_matrix((np.ones(len(eu)), (eu, ev)), shape=(n, n))
    n_comp, labels = connected_components(adj, directed=False)
    comp_length = np.bincount(labels[eu], weights=length, minlength=n_comp)
    main = int(np.argmax(comp_length))
    info = dict(info, components=int(n_comp), total_walkable_length_m=float(length.sum()),
                largest_component_length_share=float(comp_length[main] / length.sum()))
    keep_node = labels == main
    keep_edge = keep_node[eu]
    new_index = np.cumsum(keep_node) - 1
    eu, ev = new_index[eu[keep_edge]], new_index[ev[keep_edge]]
    length, counts = length[keep_edge], counts[keep_edge]
    coords = np.asarray(coords, dtype=np.float64)[keep_edge[edge_of_vertex]]
    nodes, lonlat = nodes[keep_node], lonlat[keep_node]

    crs = utm_crs(lonlat[:, 0], lonlat[:, 1])
    to_xy = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    node_xy = np.column_stack(to_xy.transform(lonlat[:, 0], lonlat[:, 1]))
    xy = np.column_stack(to_xy.transform(coords[:, 0], coords[:, 1]))
    # Orient every geometry from u to v so positions along it are measured from u.
    start = np.r_[0, np.cumsum(counts)[:-1]]
    first = xy[start]
    flip = np.hypot(*(first - node_xy[eu]).T) > np.hypot(*(first - node_xy[ev]).T)
    edge_of_vertex = np.repeat(np.arange(len(eu)), counts)
    offset = np.arange(len(xy)) - start[edge_of_vertex]
    reversed_at = start[edge_of_vertex] + counts[edge_of_vertex] - 1 - offset
    xy = xy[np.where(flip[edge_of_vertex], reversed_at, np.arange(len(xy)))]
    geom = shapely.linestrings(xy, indices=edge_of_vertex)
    info["nodes"], info["edges"] = int(len(nodes)), int(len(eu))
    return WalkNetwork(crs, nodes, lonlat, node_xy, eu, ev, length, geom, info)


def _source_key(area: AreaSettings, settings: NetworkSettings) -> tuple[dict, str]:
    """Describe the network source and hash it, with everything that shapes the result."""
    source: dict[str, Any]
    if settings.roads is not None:
        spec = settings.roads
        if not spec.path.is_file():
            raise InputError(key="error.file_not_found", what=("error.what_road_line_file", {}), path=spec.path)
        source = {"kind": "roads", "path": str(spec.path), "sha256": runcache.file_digest(spec.path),
                  "settings": [spec.coord_system, spec.encoding, spec.class_field, list(spec.walkable_classes),
                               spec.layer_field, spec.bridge_field, spec.tunnel_field]}
        key = hashlib.sha256(json.dumps(dict(source, format=CACHE_FORMAT), sort_keys=True).encode()).hexdigest()[:16]
        return source, key
    if area.osm_file is not None and area.osm_file.exists():
        source = {"kind": "file", "path": str(area.osm_file), "sha256": runcache.file_digest(area.osm_file)}
    else:
        # A polygon is keyed by its contents and datum: an edited or re-declared file is downloaded again.
        polygon = area.polygon_file
        source = {"kind": "overpass", "bbox": area.bbox, "place": area.place,
                  "polygon_file": str(polygon) if polygon else None,
                  "polygon_sha256": runcache.file_digest(polygon) if polygon and polygon.is_file() else None,
                  "polygon_coord_system": area.polygon_coord_system if polygon else None}
    # osmnx's version stands for its walk filter and simplification rules; reading the
    # filter itself would import osmnx (0.4 s) on every cached run.
    keyed = dict(source, format=CACHE_FORMAT, osmnx=version("osmnx"))
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return source, key


def build_walk_network(area: AreaSettings, settings: NetworkSettings, *, use_cache: bool = True) -> WalkNetwork:
    """Build (or load from cache) the walk network of the study area.

    The source is ``area.osm_file`` when it exists; otherwise ``bbox``,
    ``place`` or ``polygon_file`` is downloaded through osmnx/Overpass, its
    responses cached under ``settings.cache_dir``. The built network is cached
    there too, keyed by a hash of the source file's bytes (or the query), the
    osmnx version and the walk filter, so a second run does not rebuild it.

    Parameters
    ----------
    area : AreaSettings
        Where the OSM data comes from (``[area]``).
    settings : NetworkSettings
        The road-line source, if any, and the cache folder (``[network]``).
    use_cache : bool
        Read and write the network cache.

    Returns
    -------
    WalkNetwork
    """
    source, key = _source_key(area, settings)
    cache_file = Path(settings.cache_dir) / f"walk_{key}.npz"
    if use_cache and cache_file.is_file():
        net = load_network(cache_file)
        net.info["cache"] = "hit"
        return net
    t0 = time.perf_counter()
    if source["kind"] == "roads":
        assert settings.roads is not None  # _source_key gives "roads" only when they are set
        net = network_from_road_lines(settings.roads)
    elif source["kind"] == "file":
        # Not osmnx here: its simplification holds the whole graph in networkx,
        # nodes and edges as Python dicts. Measured on the declared-synthetic
        # tiled Chengdu (bench/synthetic_city.py): 2.2 GB and 54 s at 12 k
        # simplified nodes, 8.1 GB and 11 min at 49 k, so about 180 GB at a
        # city's million nodes. The numpy builder applies osmnx's own rules to
        # flat arrays and gives the same network (tests/test_network_build.py):
        # 1.1 M nodes in 35 s and 2.5 GB peak on the same shared 2-core machine.
        assert area.osm_file is not None  # _source_key gives "file" only for an existing osm_file
        net = network_from_ways(osm.read_walkable_ways(area.osm_file), info={"source": source["path"]})
    else:
        if area.osm_file is not None:
            log.warning("OSM file %s not found: downloading the area from OpenStreetMap", area.osm_file,
                        extra=texts.logged("log.osm_download", path=area.osm_file))
        graph = osm.graph_from_overpass(cache_dir=settings.cache_dir, **download_area(area))
        net = _from_osmnx(graph, {"source": f"Overpass {source}"})
    net.info["build_seconds"] = round(time.perf_counter() - t0, 2)
    if use_cache:
        save_network(net, cache_file)
    net.info["cache"] = "miss"
    return net


def named_roads(area: AreaSettings, settings: NetworkSettings) -> gpd.GeoDataFrame:
    """The named roads of the network's source, to say where a point is (WGS-84 lines with ``name``).

    From the road-line file's ``name`` field, or the named ``highway`` ways of the OSM file. Empty
    when the source holds no names (an area downloaded through Overpass is not fetched again for this).
    """
    empty = gpd.GeoDataFrame({"name": pd.Series(dtype=str)}, geometry=gpd.GeoSeries([], crs=WGS84).values,
                             crs=WGS84)
    if settings.roads is not None:
        lines, _ = roadlines.read_road_lines(settings.roads)
        field = next((c for c in lines.columns if str(c).lower() in ("name", "名称", "路名", "道路名称")), None)
        if field is None:
            return empty
        roads = lines[[field, "geometry"]].rename(columns={field: "name"})
    elif area.osm_file is not None and Path(area.osm_file).is_file():
        feats = osm.features_from_file(area.osm_file, lambda tags: "highway" in tags and "name" in tags, roads=True)
        if not len(feats):
            return empty
        feats = feats[feats.geom_type.isin(["LineString", "MultiLineString"])]
        roads = feats[["name", "geometry"]]
    else:
        return empty
    names = roads["name"].fillna("").astype(str).str.strip()
    return gpd.GeoDataFrame({"name": names.to_numpy()}, geometry=roads.geometry.values, crs=WGS84)[
        (names != "").to_numpy()].reset_index(drop=True)


def network_from_road_lines(spec: RoadLines) -> WalkNetwork:
    """Walk network from a road-line file: walkable classes, noded where lines really meet."""
    lines, info = roadlines.read_road_lines(spec)
    if len(lines) == 0:
        raise InputError(key="error.no_walkable_lines", path=spec.path, classes=", ".join(spec.walkable_classes[:5]))
    node_lonlat, eu, ev, length, geom, _ = roadlines.node_lines(lines.geometry.values, lines["level"].to_numpy())
    info = dict(info, source=str(spec.path), kind="road lines")
    return assemble(np.arange(len(node_lonlat)), node_lonlat, eu, ev, length, geom, info)


def download_area(area: AreaSettings) -> dict:
    """Keyword arguments naming the Overpass query area of ``area``."""
    if area.bbox is not None:
        return {"bbox": area.bbox}
    if area.place is not None:
        return {"place": area.place}
    if area.polygon_file is not None:
        from .inputs import read_vector

        if not area.polygon_file.is_file():
            raise InputError(key="error.file_not_found", what=("error.what_area_polygon_file", {}),
                             path=area.polygon_file)
        # Read as the study area is (grid.study_area): in its declared datum, repaired.
        return {"polygon": read_vector(area.polygon_file, what="area polygon file",
                                       coord_system=area.polygon_coord_system, polygons=True).union_all()}
    raise InputError(key="error.osm_file_not_found_no_download", path=area.osm_file)


def save_network(net: WalkNetwork, path: Path) -> None:
    """Write the arrays of ``net`` to an ``.npz`` (no pickles).

    Uncompressed: at a million nodes zlib took 27 s to write and 2.4 s to read
    back what is written in 0.8 s and read in 1.0 s (170 MB instead of 98 MB).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    coords = shapely.get_coordinates(net.edge_geometry)
    counts = shapely.get_num_coordinates(net.edge_geometry)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # two processes building the same network never share it
    np.savez(
        tmp, node_osmid=net.node_osmid, node_lonlat=net.node_lonlat, node_xy=net.node_xy,
        edge_u=net.edge_u, edge_v=net.edge_v, edge_length_m=net.edge_length_m,
        geom_coords=coords, geom_counts=counts, crs=np.array(net.crs),
        info=np.array(json.dumps(net.info, default=str)),
    )
    tmp.replace(path)  # atomic: an interrupted run never leaves a half-written cache


def load_network(path: Path) -> WalkNetwork:
    """Read a network written by :func:`save_network`."""
    with np.load(path, allow_pickle=False) as z:
        counts = z["geom_counts"]
        geom = shapely.linestrings(z["geom_coords"], indices=np.repeat(np.arange(len(counts)), counts))
        return WalkNetwork(
            crs=str(z["crs"]), node_osmid=z["node_osmid"], node_lonlat=z["node_lonlat"], node_xy=z["node_xy"],
            edge_u=z["edge_u"], edge_v=z["edge_v"], edge_length_m=z["edge_length_m"],
            edge_geometry=np.asarray(geom, dtype=object), info=json.loads(str(z["info"])),
        )


@dataclass
class Snap:
    """Where points join the network.

    Attributes
    ----------
    edge : ndarray of int64
        Index of the nearest edge.
    along_m : ndarray of float64
        Distance along that edge from its ``u`` node, in the edge's length units.
    offset_m : ndarray of float64
        Straight-line distance from the point to the edge (walked too).
    """

    edge: np.ndarray
    along_m: np.ndarray
    offset_m: np.ndarray

    def node_distances(self, net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
        """Walking distance from each point to the ``u`` and ``v`` end of its edge."""
        length = net.edge_length_m[self.edge]
        return self.offset_m + self.along_m, self.offset_m + (length - self.along_m)


def snap_points(net: WalkNetwork, xy: np.ndarray) -> Snap:
    """Snap projected points to the nearest point on the nearest edge (not the nearest node).

    Parameters
    ----------
    net : WalkNetwork
    xy : ndarray (m, 2)
        Points in ``net.crs``.

    Returns
    -------
    Snap
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return Snap(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    tree = edge_tree(net)
    points = shapely.points(xy)
    edge_idx, dist = _nearest_edges(tree, points)
    geom = net.edge_geometry[edge_idx]
    frac = shapely.line_locate_point(geom, points, normalized=True)
    # Position measured along the projected line, expressed in the edge's own
    # (great-circle) length so it adds up with the graph weights.
    along = np.clip(frac, 0.0, 1.0) * net.edge_length_m[edge_idx]
    return Snap(edge_idx.astype(np.int64), along, dist)


def _nearest_edges(tree: shapely.STRtree, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance to the nearest edge of every point (the first on a tie).

    GEOS releases the GIL in the nearest-neighbour search (~12 us a point): a
    city's million origins are searched in a block per core.
    """
    def nearest(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (point_idx, edge_idx), dist = tree.query_nearest(block, return_distance=True, all_matches=False)
        order = np.argsort(point_idx, kind="stable")
        return edge_idx[order], dist[order]

    return parallel.map_blocks(nearest, points)


def edge_tree(net: WalkNetwork) -> shapely.STRtree:
    """The STR-tree of ``net``'s edge geometries, built once and kept on ``net``."""
    tree = net._tree
    if tree is None:
        tree = shapely.STRtree(net.edge_geometry)
        net._tree = tree
    return tree


def points_along_edges(net: WalkNetwork, spacing_m: float,
                       rounding: Callable[[np.ndarray], np.ndarray] = np.ceil) -> tuple[np.ndarray, ...]:
    """Points spread evenly along every edge, about ``spacing_m`` apart, each in the middle of its stretch.

    ``rounding`` (``np.ceil`` or ``np.floor``) turns length / spacing into the
    number of points on an edge (at least one). Returns ``(edge, step, n_points
    per point's edge, projected points)``.
    """
    n_points = np.maximum(1, rounding(net.edge_length_m / spacing_m)).astype(int)
    edge = np.repeat(np.arange(net.n_edges), n_points)
    step = np.concatenate([np.arange(k) for k in n_points])
    frac = (step + 0.5) / n_points[edge]
    return edge, step, n_points[edge], shapely.line_interpolate_point(net.edge_geometry[edge], frac, normalized=True)
