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
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from . import osm, roadlines
from .config import Config
from .errors import InputError

log = logging.getLogger(__name__)

#: Bump when the cached array layout changes.
CACHE_FORMAT = 1


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

    @property
    def n_nodes(self) -> int:
        return len(self.node_osmid)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def csgraph(self, extra_u=(), extra_v=(), extra_w=(), n_extra: int = 0) -> sp.csr_matrix:
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
        g.add_weighted_edges_from(zip(self.edge_u.tolist(), self.edge_v.tolist(), self.edge_length_m.tolist()), weight="length")
        return g

    def total_length_m(self) -> float:
        return float(self.edge_length_m.sum())


def _from_osmnx(graph: nx.MultiDiGraph, info: dict) -> WalkNetwork:
    """Arrays of the largest connected component of an osmnx graph, projected to UTM."""
    import osmnx as ox

    und = ox.convert.to_undirected(graph)
    nodes = np.fromiter(und.nodes, dtype=np.int64, count=und.number_of_nodes())
    if len(nodes) == 0 or und.number_of_edges() == 0:
        raise InputError(f"{info.get('source')}: no walkable ways in this area")
    index = {n: i for i, n in enumerate(nodes.tolist())}
    lonlat = np.array([[und.nodes[n]["x"], und.nodes[n]["y"]] for n in nodes.tolist()])
    eu, ev, length, geoms = [], [], [], []
    for u, v, data in und.edges(data=True):
        eu.append(index[u])
        ev.append(index[v])
        length.append(data["length"])
        geoms.append(data.get("geometry"))
    return assemble(nodes, lonlat, eu, ev, length, geoms, info)


def assemble(node_id: np.ndarray, lonlat: np.ndarray, eu, ev, length, geom: np.ndarray, info: dict) -> WalkNetwork:
    """A :class:`WalkNetwork` from WGS-84 node and edge arrays: largest component, projected to UTM.

    ``geom`` holds WGS-84 line geometries (or None for a straight edge).
    """
    eu, ev = np.asarray(eu, dtype=np.int64), np.asarray(ev, dtype=np.int64)
    length = np.asarray(length, dtype=np.float64)
    nodes = np.asarray(node_id, dtype=np.int64)
    straight = shapely.linestrings(np.stack([lonlat[eu], lonlat[ev]], axis=1))
    geom = np.array([g if g is not None else s for g, s in zip(geom, straight)], dtype=object)

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
    length, geom = length[keep_edge], geom[keep_edge]
    nodes, lonlat = nodes[keep_node], lonlat[keep_node]

    crs = _utm_crs(lonlat)
    to_xy = pyproj.Transformer.from_crs(osm.WGS84, crs, always_xy=True)
    x, y = to_xy.transform(lonlat[:, 0], lonlat[:, 1])
    node_xy = np.column_stack([x, y])
    geom = shapely.transform(geom, lambda c: np.column_stack(to_xy.transform(c[:, 0], c[:, 1])))
    # Orient every geometry from u to v so positions along it are measured from u.
    starts = shapely.get_coordinates(shapely.get_point(geom, 0))
    flip = np.hypot(*(starts - node_xy[eu]).T) > np.hypot(*(starts - node_xy[ev]).T)
    geom[flip] = shapely.reverse(geom[flip])
    info["nodes"], info["edges"] = int(len(nodes)), int(len(eu))
    return WalkNetwork(crs, nodes, lonlat, node_xy, eu, ev, length, geom, info)


def _utm_crs(lonlat: np.ndarray) -> str:
    lon, lat = float(np.mean(lonlat[:, 0])), float(np.mean(lonlat[:, 1]))
    found = pyproj.database.query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=pyproj.aoi.AreaOfInterest(lon, lat, lon, lat))
    return f"EPSG:{found[0].code}"


def _source_key(config: Config) -> tuple[dict, str]:
    """Describe the network source and hash it, with everything that shapes the result."""
    if config.roads is not None:
        spec = config.roads
        if not spec.path.is_file():
            raise InputError(f"road-line file not found: {spec.path}")
        digest = hashlib.sha256()
        for sibling in sorted(spec.path.parent.glob(spec.path.stem + ".*")):  # .shp, .dbf, .prj, .cpg …
            digest.update(sibling.name.encode() + sibling.read_bytes())
        source = {"kind": "roads", "path": str(spec.path), "sha256": digest.hexdigest(),
                  "settings": [spec.coord_system, spec.encoding, spec.class_field, list(spec.walkable_classes),
                               spec.layer_field, spec.bridge_field, spec.tunnel_field]}
        key = hashlib.sha256(json.dumps(dict(source, format=CACHE_FORMAT), sort_keys=True).encode()).hexdigest()[:16]
        return source, key
    if config.osm_file is not None and config.osm_file.exists():
        digest = hashlib.sha256(config.osm_file.read_bytes()).hexdigest()
        source = {"kind": "file", "path": str(config.osm_file), "sha256": digest}
    else:
        source = {"kind": "overpass", "bbox": config.bbox, "place": config.place,
                  "polygon_file": str(config.polygon_file) if config.polygon_file else None}
    keyed = dict(source, format=CACHE_FORMAT, osmnx=version("osmnx"), walk_filter=osm.walk_filter_rules())
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return source, key


def build_walk_network(config: Config, *, use_cache: bool = True) -> WalkNetwork:
    """Build (or load from cache) the walk network of the study area.

    The source is ``config.osm_file`` when it exists; otherwise ``bbox``,
    ``place`` or ``polygon_file`` is downloaded through osmnx/Overpass, its
    responses cached under ``config.cache_dir``. The built network is cached
    there too, keyed by a hash of the source file's bytes (or the query), the
    osmnx version and the walk filter, so a second run does not rebuild it.

    Parameters
    ----------
    config : Config
    use_cache : bool
        Read and write the network cache.

    Returns
    -------
    WalkNetwork
    """
    source, key = _source_key(config)
    cache_file = Path(config.cache_dir) / f"walk_{key}.npz"
    if use_cache and cache_file.is_file():
        net = load_network(cache_file)
        net.info["cache"] = "hit"
        return net
    t0 = time.perf_counter()
    if source["kind"] == "roads":
        net = network_from_road_lines(config.roads)
    elif source["kind"] == "file":
        net = _from_osmnx(osm.graph_from_file(config.osm_file), {"source": source["path"]})
    else:
        if config.osm_file is not None:
            log.warning("OSM file %s not found: downloading the area from OpenStreetMap", config.osm_file)
        graph = osm.graph_from_overpass(cache_dir=config.cache_dir, **download_area(config))
        net = _from_osmnx(graph, {"source": f"Overpass {source}"})
    net.info["build_seconds"] = round(time.perf_counter() - t0, 2)
    if use_cache:
        save_network(net, cache_file)
    net.info["cache"] = "miss"
    return net


def network_from_road_lines(spec) -> WalkNetwork:
    """Walk network from a road-line file: walkable classes, noded where lines really meet."""
    lines, info = roadlines.read_road_lines(spec)
    if len(lines) == 0:
        raise InputError(f"{spec.path}: no walkable lines (classes {', '.join(spec.walkable_classes[:5])} …)")
    node_lonlat, eu, ev, length, geom, _ = roadlines.node_lines(lines.geometry.values, lines["level"].to_numpy())
    info = dict(info, source=str(spec.path), kind="road lines")
    return assemble(np.arange(len(node_lonlat)), node_lonlat, eu, ev, length, geom, info)


def download_area(config: Config) -> dict:
    """Keyword arguments naming the Overpass query area of ``config``."""
    if config.bbox is not None:
        return {"bbox": config.bbox}
    if config.place is not None:
        return {"place": config.place}
    if config.polygon_file is not None:
        import geopandas as gpd

        if not config.polygon_file.is_file():
            raise InputError(f"area polygon file not found: {config.polygon_file}")
        return {"polygon": gpd.read_file(config.polygon_file).to_crs(osm.WGS84).union_all()}
    raise InputError(f"OSM file not found: {config.osm_file} (and no bbox, place or polygon_file to download instead)")


def save_network(net: WalkNetwork, path: Path) -> None:
    """Write the arrays of ``net`` to a compressed ``.npz`` (no pickles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    coords = shapely.get_coordinates(net.edge_geometry)
    counts = shapely.get_num_coordinates(net.edge_geometry)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
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
    (point_idx, edge_idx), dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    order = np.argsort(point_idx, kind="stable")
    edge_idx, dist = edge_idx[order], dist[order]
    geom = net.edge_geometry[edge_idx]
    frac = shapely.line_locate_point(geom, points, normalized=True)
    # Position measured along the projected line, expressed in the edge's own
    # (great-circle) length so it adds up with the graph weights.
    along = np.clip(frac, 0.0, 1.0) * net.edge_length_m[edge_idx]
    return Snap(edge_idx.astype(np.int64), along, dist)


def edge_tree(net: WalkNetwork) -> shapely.STRtree:
    tree = getattr(net, "_tree", None)
    if tree is None:
        tree = shapely.STRtree(net.edge_geometry)
        net._tree = tree
    return tree


def points_along_edges(net: WalkNetwork, spacing_m: float, rounding=np.ceil) -> tuple[np.ndarray, ...]:
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
