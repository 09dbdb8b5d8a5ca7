"""The numpy walk-network builder against osmnx: the same network from the same ways.

The local-file path reads walkable ways into arrays and nodes/simplifies them
by osmnx's rules (``osm.read_walkable_ways`` + ``network.network_from_ways``);
osmnx itself (``graph_from_xml`` + ``_from_osmnx``, the Overpass path) is the
independent reference, run on the same walkable ways.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import osmium
import pytest
import shapely

from conftest import CHENGDU_OSM, require_data
from servicecircle import network, osm


def _canonical_edges(lo, hi, coords_per_edge, lengths):
    """Edges as a sorted list of (lo osmid, hi osmid, vertex tuple read from the lower end, length)."""
    rows = []
    for a, b, c, length in zip(lo, hi, coords_per_edge, lengths):
        forward, backward = tuple(map(tuple, c)), tuple(map(tuple, c[::-1]))
        rows.append((int(a), int(b), min(forward, backward), float(length)))
    return sorted(rows)


def _network_edges(net: network.WalkNetwork):
    u, v = net.node_osmid[net.edge_u], net.node_osmid[net.edge_v]
    coords = [shapely.get_coordinates(g) for g in net.edge_geometry]
    return _canonical_edges(np.minimum(u, v), np.maximum(u, v), coords, net.edge_length_m)


def _simplified_edges(g: network.SimplifiedWays):
    u, v = g.node_id[g.edge_u], g.node_id[g.edge_v]
    coords = np.split(g.coords, np.cumsum(g.counts)[:-1])
    return _canonical_edges(np.minimum(u, v), np.maximum(u, v), coords, g.edge_length_m)


def _osmnx_undirected_edges(path: Path):
    """osmnx's own undirected walk graph of a file: node ids and canonical edges (WGS-84)."""
    import osmnx as ox

    und = ox.convert.to_undirected(osm.graph_from_file(path))
    nodes = np.sort(np.fromiter(und.nodes, dtype=np.int64))
    lo, hi, coords, lengths = [], [], [], []
    for u, v, data in und.edges(data=True):
        lo.append(min(u, v))
        hi.append(max(u, v))
        coords.append(shapely.get_coordinates(data["geometry"]))
        lengths.append(data["length"])
    return nodes, _canonical_edges(lo, hi, coords, lengths)


def _assert_same_edges(ours, theirs, *, length_tol=1e-6):
    assert len(ours) == len(theirs)
    assert Counter((a, b) for a, b, _, _ in ours) == Counter((a, b) for a, b, _, _ in theirs)
    for (a1, b1, c1, l1), (a2, b2, c2, l2) in zip(ours, theirs):
        assert (a1, b1) == (a2, b2)
        assert c1 == c2  # the very same vertices, in the same order from the same end
        assert abs(l1 - l2) <= length_tol


# --- the real Chengdu extract, built both ways once for the module -----------------------------------


@pytest.fixture(scope="module")
def chengdu_both():
    require_data(CHENGDU_OSM)
    ours = network.network_from_ways(osm.read_walkable_ways(CHENGDU_OSM), info={"source": str(CHENGDU_OSM)})
    theirs = network._from_osmnx(osm.graph_from_file(CHENGDU_OSM), {"source": str(CHENGDU_OSM)})
    return ours, theirs


@pytest.mark.slow  # osmnx builds the reference network from the Chengdu file (~5 s)
@pytest.mark.needs_data
def test_chengdu_numpy_builder_equals_osmnx(chengdu_both):
    ours, theirs = chengdu_both
    assert ours.crs == theirs.crs
    assert np.array_equal(np.sort(ours.node_osmid), np.sort(theirs.node_osmid))
    # node coordinates: the same doubles for the same OSM node
    o, t = np.argsort(ours.node_osmid), np.argsort(theirs.node_osmid)
    assert np.array_equal(ours.node_lonlat[o], theirs.node_lonlat[t])
    mine, ref = _network_edges(ours), _network_edges(theirs)
    _assert_same_edges(mine, ref)
    # Hausdorff distance per edge (metres, projected), as an independent geometric check
    order_ours = np.lexsort((ours.edge_length_m, *np.sort(np.c_[ours.node_osmid[ours.edge_u], ours.node_osmid[ours.edge_v]], axis=1).T[::-1]))
    order_ref = np.lexsort((theirs.edge_length_m, *np.sort(np.c_[theirs.node_osmid[theirs.edge_u], theirs.node_osmid[theirs.edge_v]], axis=1).T[::-1]))
    hausdorff = shapely.hausdorff_distance(ours.edge_geometry[order_ours], theirs.edge_geometry[order_ref])
    assert hausdorff.max() < 1e-6
    for key in ("components", "nodes", "edges"):
        assert ours.info[key] == theirs.info[key]
    for key in ("total_walkable_length_m", "largest_component_length_share"):
        assert ours.info[key] == pytest.approx(theirs.info[key], rel=1e-12)
    # both orient every geometry from its u node (the analysis measures positions from u)
    start = shapely.get_coordinates(shapely.get_point(ours.edge_geometry, 0))
    assert np.allclose(start, ours.node_xy[ours.edge_u], atol=1e-6)


@pytest.mark.slow
@pytest.mark.needs_data
def test_chengdu_build_is_deterministic(chengdu_both):
    ours, _ = chengdu_both
    again = network.network_from_ways(osm.read_walkable_ways(CHENGDU_OSM), info={"source": str(CHENGDU_OSM)})
    assert np.array_equal(again.edge_u, ours.edge_u) and np.array_equal(again.edge_v, ours.edge_v)
    assert np.array_equal(again.edge_length_m, ours.edge_length_m)
    assert shapely.equals_exact(again.edge_geometry, ours.edge_geometry, 0).all()


@pytest.mark.needs_data
def test_reader_matches_a_plain_pyosmium_pass(tmp_path):
    ways = osm.read_walkable_ways(CHENGDU_OSM)
    # independent: every way, its tags as a dict, its node list read object by object
    ids, refs, lonlat = [], [], []
    for way in osmium.FileProcessor(str(CHENGDU_OSM)).with_locations():
        if way.is_way() and osm.is_walkable(dict(way.tags)):
            ids.append(way.id)
            for node in way.nodes:
                refs.append(node.ref)
                lonlat.append((node.lon, node.lat))
    assert np.array_equal(ways.way_id, ids)
    assert np.array_equal(ways.node_id, refs)
    assert np.array_equal(ways.lonlat, np.array(lonlat))  # exactly pyosmium's doubles
    assert ways.offsets[-1] == len(refs) and np.all(np.diff(ways.offsets) >= 1)
    # '.osm.xml' is read as XML too, to the same arrays
    xml = tmp_path / "chengdu.osm.xml"
    xml.write_bytes(CHENGDU_OSM.read_bytes())
    again = osm.read_walkable_ways(xml)
    assert np.array_equal(again.node_id, ways.node_id) and np.array_equal(again.lonlat, ways.lonlat)


def test_vectorised_walk_filter_equals_is_walkable_on_tricky_tags(tmp_path):
    # SYNTHETIC ways, one a tag case: escapes (non-ASCII, ",", "=", "%", spaces) must neither hide nor fake a match.
    cases = [
        {"highway": "footway"}, {"highway": "footway", "foot": "no"}, {"highway": "footway", "foot": "no;私有"},
        {"highway": "footway", "foot": "私有"}, {"highway": "footway", "foot": "yes"}, {"highway": "footway", "foot": "unknown"},
        {"highway": "residential", "access": "private"}, {"highway": "residential", "access": "私人 private"},
        {"highway": "residential", "access": "pri%vate"}, {"highway": "residential", "access": "pri,vate"},
        {"highway": "service", "service": "private"}, {"highway": "service", "service": "driveway"},
        {"highway": "pedestrian", "area": "yes"}, {"highway": "pedestrian", "area": "no"}, {"highway": "pedestrian", "area": "是yes"},
        {"highway": "motorway"}, {"highway": "motorway_link"}, {"highway": "cycleway"}, {"highway": "步道"},
        {"highway": "foot=way"}, {"highway": "construction"}, {"highway": "primary", "sidewalk": "separate"},
        {"highway": "primary", "sidewalk:left": "separate"}, {"highway": "primary", "sidewalk:both": "both"},
        {"highway": "primary", "sidewalk:right": "separate", "name": "人民中路 separate"},
        {"highway": "primary", "name": "foot=no,access=private"}, {"highway": "track", "foot": "designated"},
        {"highway": "", "foot": "yes"}, {"building": "yes"}, {"highway": "steps", "access": ""},
        {"highway": "footway", "foot": 'no & "quoted" <x>'}, {"highway": "footway", "foot": "nö"},
        {"highway": "footway", "foot": "noé"}, {"highway": "footway", "access": "частный private"},
        {"highway": "footway", "foot": "n\u00ado"}, {"highway": "footway", "foot": "n%o"}, {"highway": "living_street", "access": "<private>"},
    ]
    nodes = {1: (0, 0), 2: (1, 0)}
    path = _write_osm_xml(tmp_path / "tags.osm", nodes, [(100 + i, [1, 2], t) for i, t in enumerate(cases)])
    expected = [100 + i for i, t in enumerate(cases) if osm.is_walkable(t)]
    assert 0 < len(expected) < len(cases)
    assert osm.read_walkable_ways(path).way_id.tolist() == expected


# --- a hand-made test file: every case of osmnx's simplification -------------------------------------

# SYNTHETIC test data: node id -> (x, y) on a 0.0005° grid near Chengdu. Not a real place.
_NODES = {
    1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (1, 1), 5: (1, -1), 6: (3, 0.2), 7: (4, 0.1), 8: (5, 0), 9: (6, 0),
    10: (7, 1), 11: (7, -1), 14: (1.5, -1.5), 15: (2, -1), 16: (2, -0.5), 17: (1, 2), 18: (1.5, 2.5),
    19: (2, 3), 20: (10, 5), 21: (11, 5), 22: (11, 6), 23: (10, 6), 40: (12, 0), 41: (0, -3), 42: (3, 3),
    51: (3, 3.5), 52: (4, 3.5), 60: (5, 1), 61: (5, 2), 62: (5.5, 2.5), 63: (6, 3), 64: (7, 3), 65: (7, 4),
    66: (6, 4),
}
_WAYS = [  # (way id, nodes, tags)
    (101, [1, 2, 3], {"highway": "residential"}),                  # crossing at 2 with way 102
    (102, [4, 2, 5], {"highway": "footway"}),
    (103, [3, 6, 7, 8], {"highway": "residential", "oneway": "yes"}),  # 6, 7 interstitial; one-way walks both ways
    (104, [8, 9], {"highway": "service"}),
    (105, [9, 10, 11, 9], {"highway": "footway"}),               # closed way on a stick: a loop edge 9-9
    (106, [20, 21, 22, 23, 20], {"highway": "footway"}),          # an isolated ring: osmnx removes it
    (108, [5, 14, 15, 3], {"highway": "path", "oneway": "-1"}),    # two chains between 5 and 3 ...
    (109, [5, 16, 3], {"highway": "path"}),                       # ... of different geometry: both kept
    (110, [4, 17], {"highway": "footway"}),                       # two ways over the same segment: both kept
    (111, [4, 17], {"highway": "steps"}),
    (112, [17, 18, 17], {"highway": "footway"}),                  # one way over a segment twice: one edge
    (113, [18, 18, 19], {"highway": "footway"}),                  # a repeated node is dropped; 19 interstitial
    (114, [40], {"highway": "footway"}),                          # a one-node way: an isolated node
    (115, [1, 41], {"highway": "motorway"}),                      # not walkable
    (116, [3, 42], {"highway": "footway", "foot": "no"}),         # not walkable
    (117, [19, 51, 52], {"highway": "footway"}),                  # 51 has 2 neighbours but 3 segments: kept
    (118, [51, 52], {"highway": "footway"}),
    (119, [8, 60, 61], {"highway": "living_street"}),             # a chain through two ways
    (120, [61, 62, 63], {"highway": "living_street"}),
    (121, [63, 64, 65], {"highway": "footway"}),                  # a loop from 63 through two open ways
    (122, [65, 66, 63], {"highway": "footway"}),
]


def _write_osm_xml(path: Path, nodes=_NODES, ways=_WAYS) -> Path:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="servicecircle test (synthetic)">']
    for node_id, (x, y) in sorted(nodes.items()):
        lines.append(f'  <node id="{node_id}" version="1" lat="{30.66 + 0.0005 * y:.7f}" lon="{104.06 + 0.0005 * x:.7f}"/>')
    for way_id, refs, tags in ways:
        lines.append(f'  <way id="{way_id}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k={quoteattr(k)} v={quoteattr(v)}/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_simplification_case_matches_osmnx(tmp_path):
    path = _write_osm_xml(tmp_path / "synthetic_cases.osm")
    graph = network.simplify_ways(osm.read_walkable_ways(path))
    ours = _simplified_edges(graph)
    nodes, theirs = _osmnx_undirected_edges(path)
    assert np.array_equal(graph.node_id, nodes)
    _assert_same_edges(ours, theirs)
    assert np.all(graph.edge_u <= graph.edge_v)
    first = np.r_[0, np.cumsum(graph.counts)[:-1]]
    assert np.array_equal(graph.coords[first], graph.node_lonlat[graph.edge_u])  # vertices run from u ...
    assert np.array_equal(graph.coords[first + graph.counts - 1], graph.node_lonlat[graph.edge_v])  # ... to v

    # What the cases must give, stated by hand (so the test fails if both builders went wrong alike):
    assert set(graph.node_id.tolist()) == {1, 2, 3, 4, 5, 8, 9, 17, 18, 40, 51, 52, 63}
    pairs = Counter((a, b) for a, b, _, _ in ours)
    assert pairs[(9, 9)] == 1 and pairs[(63, 63)] == 1  # loops kept as edges
    assert pairs[(3, 5)] == 2  # two chains of different geometry
    assert pairs[(4, 17)] == 2  # two ways over one segment
    assert pairs[(17, 18)] == 1  # one way over a segment twice
    assert pairs[(51, 52)] == 2 and pairs[(18, 51)] == 1  # through 19, across ways 113 and 117
    assert pairs[(2, 3)] == 1 and pairs[(3, 8)] == 1 and pairs[(8, 63)] == 1
    assert not {20, 21, 22, 23, 41, 42} & set(graph.node_id.tolist())
    assert sum(pairs.values()) == 17
    # the chain 8-60-61-62-63 crosses two ways: its length is the sum of its four segments
    from osmnx.distance import great_circle

    chain = np.array([_NODES[n] for n in (8, 60, 61, 62, 63)])
    lon, lat = 104.06 + 0.0005 * chain[:, 0], 30.66 + 0.0005 * chain[:, 1]
    expected = sum(great_circle(lat[i], lon[i], lat[i + 1], lon[i + 1]) for i in range(4))
    (length,) = [l for a, b, _, l in ours if (a, b) == (8, 63)]
    assert length == pytest.approx(expected, abs=1e-9)

    # components before keeping the largest: main network, 40 alone (the ring is gone)
    net = network.network_from_ways(osm.read_walkable_ways(path), info={"source": "synthetic"})
    assert net.info["components"] == 2
    assert 40 not in net.node_osmid.tolist() and net.n_edges == 17


def test_a_way_through_a_missing_node_is_split_there(tmp_path):
    # SYNTHETIC: way 1 references node 999, which the (clipped) file lacks; osmnx cannot build this file.
    nodes = {1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (3, 0), 5: (2, 1)}
    path = _write_osm_xml(tmp_path / "clipped.osm", nodes,
                          [(1, [1, 2, 999, 3, 4], {"highway": "footway"}), (2, [3, 5], {"highway": "footway"})])
    ways = osm.read_walkable_ways(path)
    assert np.isnan(ways.lonlat[ways.node_id == 999]).all()
    graph = network.simplify_ways(ways)
    pairs = Counter((a, b) for a, b, _, _ in _simplified_edges(graph))
    assert pairs == Counter({(1, 2): 1, (4, 5): 1})  # 3 joins 4 and 5 only: interstitial, merged
    assert 999 not in graph.node_id.tolist()


def test_no_walkable_way_is_a_one_line_error(tmp_path):
    from servicecircle.errors import InputError

    path = _write_osm_xml(tmp_path / "motorway.osm", {1: (0, 0), 2: (1, 0)}, [(1, [1, 2], {"highway": "motorway"})])
    with pytest.raises(InputError, match="no walkable ways"):
        osm.read_walkable_ways(path)
    no_roads = _write_osm_xml(tmp_path / "bench.osm", {1: (0, 0), 2: (1, 0)}, [(1, [1, 2], {"building": "yes"})])
    with pytest.raises(InputError, match="no walkable ways"):
        osm.read_walkable_ways(no_roads)


def test_assemble_fills_straight_edges_and_orients_geometry_from_u():
    # SYNTHETIC three-node network: edge 0 straight (None), edge 1 drawn from v to u, edge 2 from u to v.
    lonlat = np.array([[104.060, 30.660], [104.061, 30.660], [104.061, 30.661]])
    bent = shapely.LineString([[104.0612, 30.6605], [104.061, 30.660]])
    geom = np.array([None,
                     shapely.LineString([lonlat[2], [104.0612, 30.6605], lonlat[1]]),
                     shapely.LineString([lonlat[0], [104.0605, 30.6608], lonlat[2]])], dtype=object)
    net = network.assemble(np.array([7, 8, 9]), lonlat, [0, 1, 0], [1, 2, 2], [96.0, 120.0, 160.0], geom, {})
    assert bent.length > 0
    assert shapely.get_num_coordinates(net.edge_geometry).tolist() == [2, 3, 3]
    start = shapely.get_coordinates(shapely.get_point(net.edge_geometry, 0))
    end = shapely.get_coordinates(shapely.get_point(net.edge_geometry, -1))
    assert np.allclose(start, net.node_xy[net.edge_u]) and np.allclose(end, net.node_xy[net.edge_v])
    # the middle vertex survives the flip, projected like the nodes
    import pyproj

    to_xy = pyproj.Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)
    assert np.allclose(shapely.get_coordinates(net.edge_geometry[1])[1], to_xy.transform(104.0612, 30.6605))
