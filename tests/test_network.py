import numpy as np
import pytest
import shapely

from servicecircle import osm
from servicecircle.network import build_walk_network, load_network, snap_points


def test_walk_filter_follows_osmnx_rules():
    assert osm.is_walkable({"highway": "footway"})
    assert osm.is_walkable({"highway": "residential"})
    assert osm.is_walkable({"highway": "steps"})
    assert osm.is_walkable({"highway": "primary"})
    assert not osm.is_walkable({"highway": "motorway"})
    assert not osm.is_walkable({"highway": "motorway_link"})
    assert not osm.is_walkable({"highway": "cycleway"})
    assert not osm.is_walkable({"highway": "residential", "foot": "no"})
    assert not osm.is_walkable({"highway": "service", "access": "private"})
    assert not osm.is_walkable({"highway": "pedestrian", "area": "yes"})
    assert not osm.is_walkable({"building": "yes"})


def test_chengdu_network_is_undirected_metric_and_walkable(chengdu_run):
    net = chengdu_run.network
    assert net.crs == "EPSG:32648"  # UTM 48N for Chengdu
    assert net.n_nodes > 2500 and net.n_edges > 4000
    assert np.all(net.edge_length_m >= 0)
    # lengths in metres: the projected geometry length agrees with the great-circle length
    proj = shapely.length(net.edge_geometry)
    long = net.edge_length_m > 20
    assert np.median(np.abs(proj[long] / net.edge_length_m[long] - 1)) < 0.002
    # each geometry runs from its u node to its v node
    start = shapely.get_coordinates(shapely.get_point(net.edge_geometry, 0))
    assert np.percentile(np.hypot(*(start - net.node_xy[net.edge_u]).T), 99) < 0.5
    assert net.info["largest_component_length_share"] > 0.95
    m = net.csgraph()
    assert (m != m.T).nnz == 0  # symmetric = undirected


def test_network_cache_roundtrip_and_hit(chengdu_config, chengdu_run, tmp_path):
    net = build_walk_network(chengdu_config.area, chengdu_config.network)
    assert net.info["cache"] == "hit"
    from servicecircle.network import _source_key

    _, key = _source_key(chengdu_config.area, chengdu_config.network)
    files = list(chengdu_config.network.cache_dir.glob(f"walk_{key}.npz"))
    assert len(files) == 1  # one file per source (other study areas share the folder)
    again = load_network(files[0])
    assert np.array_equal(again.edge_u, chengdu_run.network.edge_u)
    assert np.allclose(again.edge_length_m, chengdu_run.network.edge_length_m)
    assert all(a.equals(b) for a, b in zip(again.edge_geometry[:50], chengdu_run.network.edge_geometry[:50]))
    # every array comes back bit for bit, geometries included
    ref = chengdu_run.network
    for name in ("node_osmid", "node_lonlat", "node_xy", "edge_u", "edge_v", "edge_length_m"):
        assert np.array_equal(getattr(again, name), getattr(ref, name))
    assert shapely.equals_exact(again.edge_geometry, ref.edge_geometry, 0).all()
    assert again.crs == ref.crs and again.info["components"] == ref.info["components"]


def test_snap_is_to_the_nearest_edge_not_node(chengdu_run):
    net = chengdu_run.network
    rng = np.random.default_rng(1)
    e = rng.choice(net.n_edges, 200)
    e = e[net.edge_length_m[e] > 60]
    mid = shapely.get_coordinates(shapely.line_interpolate_point(net.edge_geometry[e], 0.5, normalized=True))
    snap = snap_points(net, mid)
    assert np.all(snap.offset_m < 1e-6)
    # the midpoint is half-way along, far from both nodes
    assert np.allclose(snap.along_m, net.edge_length_m[snap.edge] / 2, atol=net.edge_length_m[snap.edge] * 0.02)
    brute = shapely.distance(shapely.points(mid)[:, None], net.edge_geometry[None, :]).min(axis=1)
    assert np.allclose(brute, snap.offset_m, atol=1e-6)


@pytest.mark.needs_data
def test_a_downloaded_polygon_is_read_in_its_declared_datum_and_keyed_by_it(chengdu_config):
    import geopandas as gpd

    from conftest import HEPING_GCJ02, require_data
    from servicecircle import coords, network

    require_data(HEPING_GCJ02)
    declared = chengdu_config.with_settings(area={"osm_file": None, "bbox": None, "place": None,
                                                  "polygon_file": HEPING_GCJ02, "polygon_coord_system": "gcj02"})
    polygon = network.download_area(declared.area)["polygon"]
    raw = gpd.read_file(HEPING_GCJ02).union_all()  # the file's degrees as written: GCJ-02
    # The query area is the WGS-84 outline: shifted forward to GCJ-02 it lands on the file's own (~1 m),
    # while the raw outline is hundreds of metres away from it.
    gx, gy = coords.wgs84_to_gcj02(np.array([polygon.centroid.x]), np.array([polygon.centroid.y]))
    assert abs(gx[0] - raw.centroid.x) < 2e-5 and abs(gy[0] - raw.centroid.y) < 2e-5
    assert polygon.centroid.distance(raw.centroid) > 0.003
    as_wgs84 = declared.with_settings(area={"polygon_coord_system": "wgs84"})
    assert network._source_key(declared.area, declared.network)[1] != network._source_key(as_wgs84.area,
                                                                                        as_wgs84.network)[1]
