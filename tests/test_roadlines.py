"""Road-line networks: noding where lines really meet, on small cases and on Tianjin Hexi's shapefile."""

from dataclasses import replace

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from conftest import HEXI
from servicecircle import inputs, roadlines
from servicecircle.config import WALKABLE_ROAD_CLASSES, RoadLines
from servicecircle.errors import InputError
from servicecircle.network import assemble, network_from_road_lines

ROADS = HEXI / "hexi_roads.shp"


def _graph(lines, level):
    nodes, eu, ev, length, geom, _ = roadlines.node_lines(np.array(lines, dtype=object), np.asarray(level))
    g = nx.MultiGraph()
    g.add_nodes_from(range(len(nodes)))
    g.add_weighted_edges_from(zip(eu.tolist(), ev.tolist(), length.tolist()), weight="length")
    return nodes, g


# Test input: a cross of two streets ~1.1 km long at 39.1 N, in degrees.
EW = shapely.LineString([(117.20, 39.10), (117.21, 39.10)])
NS = shapely.LineString([(117.205, 39.095), (117.205, 39.105)])


def test_streets_crossing_on_the_ground_are_joined():
    nodes, g = _graph([EW, NS], [0, 0])
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 4  # four arms meet in one junction
    assert nx.is_connected(g)
    centre = int(np.argmin(np.hypot(*(nodes - [117.205, 39.10]).T)))
    assert g.degree(centre) == 4


def test_a_bridge_does_not_join_the_road_it_passes_over():
    nodes, g = _graph([EW, NS], [0, 1])  # NS is a bridge (another level)
    assert g.number_of_edges() == 2 and not nx.is_connected(g)


def test_shared_vertices_join_whatever_the_level():
    # A bridge ending on a vertex of the ground street (a shared OSM node) is reachable.
    ramp = shapely.LineString([(117.205, 39.10), (117.205, 39.105)])
    street = shapely.LineString([(117.20, 39.10), (117.205, 39.10), (117.21, 39.10)])
    nodes, g = _graph([street, ramp], [0, 1])
    assert nx.is_connected(g) and g.number_of_edges() == 3
    # Lengths are great-circle metres: 0.005° of latitude ≈ 556 m.
    lengths = sorted(d["length"] for *_, d in g.edges(data=True))
    assert lengths[-1] == pytest.approx(556, abs=2)


def test_level_ids_follow_layer_bridge_and_tunnel():
    lv = roadlines.level_ids(np.array([0, 0, 1, 1, 0]), np.array([False, True, True, True, False]),
                             np.array([False, False, False, False, True]))
    assert lv[2] == lv[3] and len(set(lv[[0, 1, 2, 4]])) == 4
    assert list(roadlines.truthy(gpd.pd.Series(["T", "F", None, "yes", "0"]))) == [True, False, False, True, False]


def _hexi_spec():
    return RoadLines(ROADS, "wgs84", None, "fclass", WALKABLE_ROAD_CLASSES, "layer", "bridge", "tunnel")


@pytest.mark.needs_data
def test_hexi_gbk_shapefile_reads_chinese_names():
    roads = inputs.read_vector(ROADS, what="roads")  # GBK .dbf, no .cpg
    assert {"南京路", "围堤道", "珠江道"} <= set(roads["Name"].dropna())


@pytest.mark.needs_data
def test_hexi_network_is_noded_and_mostly_one_component():
    spec = _hexi_spec()
    net = network_from_road_lines(spec)
    assert net.info["largest_component_length_share"] >= 0.95
    # Noding neither loses nor invents length (lines are cut, never moved).
    lines, _ = roadlines.read_road_lines(spec)
    total = roadlines.great_circle_lengths(*_coords_and_index(lines.geometry.values))
    assert net.info["total_walkable_length_m"] == pytest.approx(total.sum(), rel=1e-9)
    # Without noding (lines joined only at their own ends) the network falls apart.
    ends = shapely.get_coordinates(shapely.boundary(lines.geometry.values))
    assert net.n_nodes > 0.5 * len(np.unique(np.round(ends * 1e7), axis=0))


def _coords_and_index(geoms):
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    return xy, idx, len(geoms)


@pytest.mark.needs_data
def test_hexi_no_same_level_edges_cross_and_bridges_keep_their_crossings():
    lines, _ = roadlines.read_road_lines(_hexi_spec())
    nodes, eu, ev, length, geom, level = roadlines.node_lines(lines.geometry.values, lines["level"].to_numpy())
    tree = shapely.STRtree(geom)
    a, b = tree.query(geom, predicate="crosses")  # interiors meet at a point that is not a node
    same = level[a] == level[b]
    assert same.sum() == 0
    # Real bridges over real streets: crossings between different levels exist and stay unjoined.
    assert (~same).sum() > 10
    # An independent check of connectivity: networkx on the same arrays finds the same components.
    net = assemble(np.arange(len(nodes)), nodes, eu, ev, length, geom, {})
    g = nx.MultiGraph()
    g.add_weighted_edges_from(zip(eu.tolist(), ev.tolist(), length.tolist()), weight="length")
    longest = max(nx.connected_components(g), key=lambda c: g.subgraph(c).size(weight="length"))
    assert net.n_nodes == len(longest)
    assert net.total_length_m() == pytest.approx(g.subgraph(longest).size(weight="length"), rel=1e-12)


def test_any_line_file_with_its_own_class_column(tmp_path):
    # Test input: a planning-bureau style GeoJSON with a Chinese class column and GCJ-02 degrees.
    from servicecircle import coords

    def gcj(line):
        return shapely.transform(line, lambda c: np.column_stack(coords.from_wgs84(c[:, 0], c[:, 1], "gcj02")))

    lines = gpd.GeoDataFrame({"道路等级": ["支路", "人行道", "快速路"]},
                             geometry=[gcj(EW), gcj(NS), gcj(shapely.LineString([(117.20, 39.099), (117.21, 39.099)]))],
                             crs="EPSG:4326")
    path = tmp_path / "roads.geojson"
    lines.to_file(path)
    spec = RoadLines(path, "gcj02", None, "道路等级", ("支路", "人行道"), "layer", "bridge", "tunnel")
    net = network_from_road_lines(spec)
    assert net.n_edges == 4 and net.info["classes_left_out"] == {"快速路": 1}
    # Converted back to WGS-84: the junction is where the test input put it.
    centre = net.node_lonlat[np.argmin(np.hypot(*(net.node_lonlat - [117.205, 39.10]).T))]
    assert np.allclose(centre, [117.205, 39.10], atol=1e-7)
    with pytest.raises(InputError, match="no field 'fclass'") as caught:
        network_from_road_lines(replace(spec, class_field="fclass"))
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    assert "：缺少道路等级字段 'fclass'（现有字段：" in caught.value.worded("zh")
    assert caught.value.worded("zh").endswith("；请设置 network.class_field")
    assert caught.value.worded("en") == str(caught.value)
