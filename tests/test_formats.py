"""Local OSM formats give the same network; community polygons come from a file in any CRS."""

from dataclasses import replace

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

from conftest import CHENGDU_OSM
from servicecircle.config import Boundaries
from servicecircle import communities
from servicecircle.network import build_walk_network


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm.bz2"])
def test_pbf_and_bz2_give_the_same_network(suffix, chengdu_config, chengdu_run, tmp_path):
    copy = tmp_path / f"chengdu{suffix}"
    with osmium.SimpleWriter(str(copy)) as writer:  # a real PBF / bzip2 file of the same data
        for obj in osmium.FileProcessor(str(CHENGDU_OSM)):
            writer.add(obj)
    net = build_walk_network(replace(chengdu_config, osm_file=copy, cache_dir=tmp_path / "cache"))
    ref = chengdu_run.network
    assert net.info["cache"] == "miss"
    assert net.n_nodes == ref.n_nodes and net.n_edges == ref.n_edges
    assert net.total_length_m() == pytest.approx(ref.total_length_m(), rel=1e-9)
    assert np.array_equal(np.sort(net.node_osmid), np.sort(ref.node_osmid))


def test_communities_from_a_file_in_another_crs(chengdu_config, chengdu_run, tmp_path):
    # test input: two hand-drawn "communities" (not real boundaries), stored in UTM metres
    w, s, e, n = chengdu_run.cells.total_bounds  # the cells reach a little past the bbox
    mid = (w + e) / 2
    polys = gpd.GeoDataFrame({"社区名称": ["西半 <b>test</b>", "东半"]},
                             geometry=[shapely.box(w, s, mid, n), shapely.box(mid, s, e, n)], crs="EPSG:4326")
    path = tmp_path / "communities.gpkg"
    polys.to_crs(chengdu_run.network.crs).to_file(path)
    spec = Boundaries(path, "wgs84", None, "社区名称", None, None)
    config = replace(chengdu_config, communities=spec)
    comm = communities.load_communities(config, None)
    assert list(comm["name"]) == ["西半 <b>test</b>", "东半"]
    table = communities.aggregate(comm, chengdu_run.origins, chengdu_run.cells, chengdu_run.facilities, config)
    # the two halves tile the study area: their residents add up to the district's
    assert table["residents"].sum() == pytest.approx(chengdu_run.cells["residents"].sum(), rel=1e-9)
    covered = (table["residents"] * table["covered_share_health_centre"]).sum()
    assert covered == pytest.approx(chengdu_run.summary["categories"]["health_centre"]["population_covered"], rel=1e-9)
    assert table["facilities_health_centre"].sum() == (
        chengdu_run.facilities.query("category == 'health_centre' and counted").geometry.within(shapely.box(w, s, e, n)).sum())
    with pytest.raises(Exception, match="no field 'name'"):
        communities.load_communities(replace(config, communities=replace(spec, name_field="name")), None)
