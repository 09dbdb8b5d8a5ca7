"""Local OSM formats give the same network; community polygons come from a file in any CRS."""

import functools
from dataclasses import replace

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

from conftest import CHENGDU_OSM
from servicecircle.config import Boundaries
from servicecircle import communities
from servicecircle.errors import InputError
from servicecircle.network import build_walk_network


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm.bz2"])
def test_pbf_and_bz2_give_the_same_network(suffix, chengdu_config, chengdu_run, tmp_path):
    copy = tmp_path / f"chengdu{suffix}"
    with osmium.SimpleWriter(str(copy)) as writer:  # a real PBF / bzip2 file of the same data
        for obj in osmium.FileProcessor(str(CHENGDU_OSM)):
            writer.add(obj)
    config = chengdu_config.with_settings(area={"osm_file": copy}, network={"cache_dir": tmp_path / "cache"})
    net = build_walk_network(config.area, config.network)
    ref = chengdu_run.network
    assert net.info["cache"] == "miss"
    assert net.n_nodes == ref.n_nodes and net.n_edges == ref.n_edges
    assert net.total_length_m() == pytest.approx(ref.total_length_m(), rel=1e-9)
    assert np.array_equal(np.sort(net.node_osmid), np.sort(ref.node_osmid))
    # the same file content in another container builds the very same arrays
    assert np.array_equal(net.node_osmid, ref.node_osmid)
    assert np.array_equal(net.edge_u, ref.edge_u) and np.array_equal(net.edge_v, ref.edge_v)
    assert np.array_equal(net.edge_length_m, ref.edge_length_m)
    assert shapely.equals_exact(net.edge_geometry, ref.edge_geometry, 0).all()


def test_communities_from_a_file_in_another_crs(chengdu_config, chengdu_run, tmp_path):
    # test input: two hand-drawn "communities" (not real boundaries), stored in UTM metres
    w, s, e, n = chengdu_run.cells.total_bounds  # the cells reach a little past the bbox
    mid = (w + e) / 2
    polys = gpd.GeoDataFrame({"社区名称": ["西半 <b>test</b>", "东半"]},
                             geometry=[shapely.box(w, s, mid, n), shapely.box(mid, s, e, n)], crs="EPSG:4326")
    path = tmp_path / "communities.gpkg"
    polys.to_crs(chengdu_run.network.crs).to_file(path)
    spec = Boundaries(path, "wgs84", None, "社区名称", None, None)
    config = chengdu_config.with_settings(communities=spec)
    comm = communities.load_communities(config.communities, None)
    assert list(comm["name"]) == ["西半 <b>test</b>", "东半"]
    table = communities.aggregate(comm, chengdu_run.origins, chengdu_run.cells, chengdu_run.facilities,
                                  config.categories)
    # the two halves tile the study area: their residents add up to the district's
    assert table["residents"].sum() == pytest.approx(chengdu_run.cells["residents"].sum(), rel=1e-9)
    covered = (table["residents"] * table["covered_share_health_centre"]).sum()
    assert covered == pytest.approx(chengdu_run.summary["categories"]["health_centre"]["population_covered"], rel=1e-9)
    assert table["facilities_health_centre"].sum() == (
        chengdu_run.facilities.query("category == 'health_centre' and counted").geometry.within(shapely.box(w, s, e, n)).sum())
    with pytest.raises(InputError, match="no field 'name'") as caught:
        communities.load_communities(replace(spec, name_field="name"), None)
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    assert "：缺少字段 'name'（现有字段：" in caught.value.worded("zh")
    assert caught.value.worded("en") == str(caught.value)


def _features_by_plain_pass(path, keep=lambda tags: True):
    """The expected feature rows, from one plain pyosmium pass over every object (no C++ filter)."""
    from osmium.geom import WKBFactory

    wkb = WKBFactory()
    rows, area_ways, open_ways = [], set(), {}
    for obj in osmium.FileProcessor(str(path)).with_areas().with_locations():
        tags = dict(obj.tags)
        if not any(k in tags for k in ("amenity", "social_facility", "healthcare", "building", "landuse", "name")):
            continue
        if not keep(tags) or ("highway" in tags and "amenity" not in tags):
            continue
        try:
            if obj.is_node():
                rows.append(("node", obj.id, tags, shapely.Point(obj.location.lon, obj.location.lat)))
            elif obj.is_area():
                if obj.from_way():
                    area_ways.add(obj.orig_id())
                rows.append(("way" if obj.from_way() else "relation", obj.orig_id(), tags,
                             shapely.from_wkb(wkb.create_multipolygon(obj))))
            elif obj.is_way() and len(obj.nodes) >= 2:
                open_ways[obj.id] = ("way", obj.id, tags, shapely.from_wkb(wkb.create_linestring(obj)))
        except (RuntimeError, osmium.InvalidLocationError):
            continue
    rows.extend(v for k, v in open_ways.items() if k not in area_ways)
    rows.sort(key=lambda r: ({"node": 0, "way": 1, "relation": 2}[r[0]], r[1]))
    return rows


@functools.lru_cache(maxsize=1)
def _chengdu_plain_pass():
    """The plain pass over the whole Chengdu file, made once for both cases below."""
    return tuple(_features_by_plain_pass(CHENGDU_OSM))


@pytest.mark.slow  # a plain Python pass over every object of the Chengdu file (~3 s)
@pytest.mark.needs_data
@pytest.mark.parametrize("keep", [None, "buildings"])
def test_features_filtered_in_cpp_equal_a_plain_pass(keep):
    from servicecircle import osm

    keep_fn = (lambda tags: "building" in tags) if keep else None
    got = osm.features_from_file(CHENGDU_OSM, keep_fn) if keep else osm.features_from_file(CHENGDU_OSM)
    # The plain pass keeps an object exactly when its own tags pass: filtering the whole pass is that pass.
    expected = [r for r in _chengdu_plain_pass() if keep_fn is None or keep_fn(r[2])]
    assert len(got) == len(expected) > (100 if keep else 1000)
    assert list(got["osm_type"]) == [r[0] for r in expected]
    assert list(got["osm_id"]) == [r[1] for r in expected]
    assert list(got["tags"]) == [r[2] for r in expected]
    assert list(got["name"]) == [r[2].get("name", "") for r in expected]
    assert shapely.equals_exact(got.geometry.values, np.array([r[3] for r in expected], dtype=object), 0).all()
    assert got.crs == "EPSG:4326"
    assert {"node", "way", "relation"} <= set(got["osm_type"]) or keep


def test_features_of_tricky_objects_equal_a_plain_pass(tmp_path):
    # SYNTHETIC test file (not a real place): tag texts that OPL must escape, lines pyosmium refuses, areas.
    from xml.sax.saxutils import quoteattr

    from servicecircle import osm

    def node(i, x, y, **tags):
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        return f'<node id="{i}" version="1" lat="{30.66 + 0.0005 * y:.7f}" lon="{104.06 + 0.0005 * x:.7f}">{body}</node>'

    def way(i, refs, **tags):
        return (f'<way id="{i}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                + "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()) + "</way>")

    objects = [
        node(1, 0, 0, amenity="social_facility", name="幸福 老年,食堂=%@ 100%"), node(2, 1, 0, name="Café ß Ωmega ä-ö"),
        node(3, 2, 0, highway="bus_stop", name="公交站"), node(4, 3, 0, highway="crossing", amenity="bench"),
        node(5, 4, 0), node(6, 0, 1), node(7, 1, 1), node(8, 1, 2), node(9, 0, 2), node(10, 5, 5), node(11, 5, 5),
        node(12, 6, 5), node(13, 3, 3), node(14, 4, 3), node(15, 4, 4), node(16, 3, 4), node(17, 7, 7),
        node(18, 8, 7), node(19, 8, 8), node(20, 7, 8), node(21, 9, 9, **{"name:en": "A node = key, with spaces", "name": "x"}),
        way(100, [6, 7, 8, 9, 6], building="residential", **{"building:levels": "6"}),   # a closed way: an area
        way(101, [10, 11, 12], amenity="parking", name="停车场"),              # 10 and 11 share a location
        way(102, [10, 11], amenity="bench"),                                   # all nodes at one place: no line
        way(103, [1, 999, 2], landuse="grass"),                                 # a node outside the clip
        way(104, [13, 14, 15, 16, 13], area="no", name="环路"),                  # closed but area=no: a line
        way(105, [1, 2, 3], highway="residential", name="人民路"),               # a named road: the network
        way(106, [3, 4], highway="service", amenity="parking_aisle"),          # a road with amenity: kept
        way(107, [17, 18, 19, 20, 17]), way(108, [5], name="一个点"),
        way(109, [21, 21, 5], healthcare="clinic"),                              # a repeated node
        '<relation id="200" version="1"><member type="way" ref="107" role="outer"/>'
        '<tag k="type" v="multipolygon"/><tag k="landuse" v="residential"/><tag k="name" v="小区 ä"/></relation>',
    ]
    path = tmp_path / "tricky.osm"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n' + "\n".join(objects) + "\n</osm>\n",
                    encoding="utf-8")
    got = osm.features_from_file(path)
    # A plain string path reads the same (scripts and notebooks pass strings).
    as_text = osm.features_from_file(str(path))
    assert list(zip(as_text["osm_id"], as_text["tags"])) == list(zip(got["osm_id"], got["tags"]))
    assert shapely.equals_exact(as_text.geometry.values, got.geometry.values, 0).all()
    expected = _features_by_plain_pass(path)
    assert [(r[0], r[1]) for r in expected] == list(zip(got["osm_type"], got["osm_id"]))
    assert list(got["tags"]) == [r[2] for r in expected]
    assert shapely.equals_exact(got.geometry.values, np.array([r[3] for r in expected], dtype=object), 0).all()
    # and what that must be, by hand
    assert set(zip(got["osm_type"], got["osm_id"])) == {
        ("node", 1), ("node", 2), ("node", 4), ("node", 21), ("way", 100), ("way", 101), ("way", 104),
        ("way", 106), ("way", 109), ("relation", 200)}
    assert got.set_index("osm_id").loc[1, "name"] == "幸福 老年,食堂=%@ 100%"
    assert got.set_index("osm_id").loc[101].geometry.equals(
        shapely.LineString([(104.0625, 30.6625), (104.063, 30.6625)]))
