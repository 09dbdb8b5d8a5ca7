"""The online path, for real: osmnx talks HTTP to a local fixture Overpass server, then to its own cache.

The server answers from the real Chengdu extract (clipped to a small box), so what osmnx
downloads is real OSM data; nothing in servicecircle or osmnx is mocked.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from conftest import CHENGDU_OSM, closed_port, require_data, write_batch_file
from servicecircle import load_config, osm, run

BOX = (104.060, 30.660, 104.080, 30.680)  # west, south, east, north: about 2 × 2 km


def _clip_elements() -> tuple[list, list]:
    from osmnx import _osm_xml

    elements = _osm_xml._overpass_json_from_xml(Path(CHENGDU_OSM), "utf-8")["elements"]
    w, s, e, n = BOX
    nodes = {el["id"]: el for el in elements if el["type"] == "node" and w <= el["lon"] <= e and s <= el["lat"] <= n}
    ways = [el for el in elements if el["type"] == "way" and all(r in nodes for r in el["nodes"])]
    walk = [el for el in ways if "highway" in el.get("tags", {}) and osm.is_walkable(el["tags"])]
    return list(nodes.values()) + walk, list(nodes.values()) + ways


def _start_server():
    """The fixture Overpass server on a free loopback port, osmnx pointed at it: ``(server, queries, restore)``."""
    network_elements, feature_elements = _clip_elements()
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # osmnx asks /status before querying
            body = b"Connected as: 1\nCurrent time: 2026-01-01T00:00:00Z\nAnnounced endpoint: none\nRate limit: 2\n2 slots available now.\nCurrently running queries (pid, space limit, time limit, start time):\n"
            self._send(body, "text/plain")

        def do_POST(self):
            data = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())["data"][0]
            queries.append(data)
            elements = network_elements if '["highway"]' in data else feature_elements
            self._send(json.dumps({"version": 0.6, "elements": elements}).encode(), "application/json")

        def _send(self, body, kind):
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    import osmnx as ox

    old = ox.settings.overpass_url
    ox.settings.overpass_url = f"http://127.0.0.1:{server.server_address[1]}/api"

    def restore():
        server.shutdown()
        ox.settings.overpass_url = old

    return server, queries, restore


@pytest.fixture(scope="module")
def overpass_server():
    require_data(CHENGDU_OSM)
    server, queries, restore = _start_server()
    yield server, queries
    restore()


@pytest.mark.slow  # two runs of a 2 × 2 km area, cold caches (what this test checks)
@pytest.mark.needs_data
def test_download_when_the_osm_file_is_absent_then_cache(overpass_server, tmp_path):
    server, queries = overpass_server
    base = load_config(Path(__file__).resolve().parents[1] / "data" / "chengdu.toml")
    config = base.with_settings(area={"osm_file": tmp_path / "absent.osm", "bbox": BOX}, network={"cache_dir": tmp_path / "cache"}, output={"out_dir": tmp_path / "out"})
    first = run(config, progress=False)
    assert first.network.info["source"].startswith("Overpass")
    assert first.network.n_nodes > 200
    assert len(queries) >= 2  # the walk network and the features were really requested over HTTP
    assert any("walk" not in q and "amenity" in q for q in queries)
    assert list((tmp_path / "cache" / "overpass").glob("*.json"))  # osmnx's own response cache
    assert (tmp_path / "out" / "summary.json").is_file()
    assert first.cells["residents"].sum() > 0

    server.shutdown()  # from now on nothing answers: the second run lives on the caches
    asked = len(queries)
    second = run(config, progress=False)
    assert len(queries) == asked
    assert second.network.info["cache"] == "hit"
    assert second.summary["population_total"] == pytest.approx(first.summary["population_total"])
    assert len(second.facilities) == len(first.facilities)


def test_no_overpass_to_reach_is_one_clear_error(tmp_path):
    """Offline (or on an intranet): a closed local port stands for an unreachable Overpass API."""
    import osmnx as ox

    from servicecircle.errors import InputError

    port = closed_port()
    base = load_config(Path(__file__).resolve().parents[1] / "data" / "chengdu.toml")
    config = base.with_settings(area={"osm_file": tmp_path / "absent.osm", "bbox": BOX}, network={"cache_dir": tmp_path / "cache"}, output={"out_dir": tmp_path / "out"})
    old = ox.settings.overpass_url, ox.settings.overpass_rate_limit
    # osmnx waits 60 s after a failed status check; the test asks it not to check.
    ox.settings.overpass_url, ox.settings.overpass_rate_limit = f"http://127.0.0.1:{port}/api", False
    try:
        with pytest.raises(InputError) as error:
            run(config, write=False, progress=False)
    finally:
        ox.settings.overpass_url, ox.settings.overpass_rate_limit = old
    message = str(error.value)
    assert "\n" not in message and message.startswith("cannot download from the Overpass API")
    assert f"127.0.0.1:{port}" in message and "osm_file" in message
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    zh = error.value.worded("zh")
    assert zh.startswith(f"无法从 Overpass API（http://127.0.0.1:{port}/api）下载") and "osm_file" in zh
    assert error.value.worded("en") == message


@pytest.mark.slow  # two small districts, cold caches
@pytest.mark.needs_data
def test_batch_asks_overpass_per_district(tmp_path):
    """A batch over a base config without an OSM file: each district asks Overpass for its own run area (and
    its OSM compounds around it), never for the base config's whole bbox (here the whole sample, 8 × 8 km)."""
    import re

    import shapely

    from servicecircle import batch

    require_data(CHENGDU_OSM)
    server, queries, restore = _start_server()
    try:
        w, s, e, n = BOX
        halves = {"W1": (w, s, (w + e) / 2, n), "E1": ((w + e) / 2, s, e, n)}  # TEST districts: test input
        (tmp_path / "districts.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"adcode": code, "name": f"TEST {code}"},
             "geometry": shapely.geometry.mapping(shapely.box(*b))} for code, b in halves.items()]}))
        base = Path(__file__).resolve().parents[1] / "data" / "chengdu.toml"
        write_batch_file(tmp_path / "batch.toml", f'base = "{base}"\ndistricts_file = "districts.geojson"\nout_dir = "out"\n',
                         cache_dir=tmp_path / "cache", more=f'[batch.overrides.area]\nosm_file = "{tmp_path / "absent.osm"}"\n')
        result = batch.run_batch(batch.load_batch(tmp_path / "batch.toml"), serial=True, echo=lambda line: None)
    finally:
        restore()
    assert not result["failed"] and set(result["cells"]["district"]) == set(halves)
    asked = [shapely.Polygon([(float(lon), float(lat)) for lat, lon in
                              zip(*[iter(re.search(r"poly:['\"]([^'\"]+)", q).group(1).split())] * 2)])
             for q in queries if "poly:" in q]
    assert len(asked) >= 4  # per district: its compounds' surroundings, its network and its features
    # every query lies within a district's surroundings (the longest walk twice, ~2.4 km), so none is the base
    # config's bbox (the whole sample, wider than the union of the surroundings)
    near = shapely.union_all([shapely.box(b[0] - 0.03, b[1] - 0.03, b[2] + 0.03, b[3] + 0.03) for b in halves.values()])
    assert all(near.covers(a) for a in asked), [a.bounds for a in asked]
