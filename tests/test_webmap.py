"""POI search through the real HTTP client against a loopback fixture server (test input, not real POIs).

The server answers in AMap's documented ``/v3/place/polygon`` JSON shape: paged results, a
``count`` at the result cap (so the client must split the box), an invalid key, a QPS error
and a slow answer. Nothing in the client is mocked.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CHENGDU_CONFIG

from servicecircle import coords, run, webmap
from servicecircle.config import Geocoder, Registry, WebmapSource, load_config
from servicecircle.errors import InputError

BBOX = (104.060, 30.660, 104.080, 30.680)  # west, south, east, north (WGS-84), inside the Chengdu sample

# Test input: (id, name, WGS-84 lon, lat); the server hands them out in GCJ-02, as AMap does.
FIXTURE_POIS = [
    ("T001", "测试社区养老服务中心", 104.0650, 30.6650),
    ("T002", "测试长者食堂", 104.0750, 30.6750),
    ("T003", "人民食堂", 104.0660, 30.6700),  # a restaurant: trap
    ("T004", "测试老年大学", 104.0700, 30.6620),  # a school: trap
    ("T005", "测试母婴店", 104.0720, 30.6680),  # a shop: trap
    ("T006", "测试妇幼保健院", 104.0770, 30.6630),  # a hospital: trap
    ("T007", "测试社区托育中心", 104.0610, 30.6790),
    ("T008", "测试幼儿用品店托育", 104.0630, 30.6610),  # a shop with 托育 in its name: excluded by 用品
]


def _gcj(lon, lat):
    x, y = coords.wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


class _JsonHandler(BaseHTTPRequestHandler):
    """Answers JSON, quietly."""

    def _send(self, body):
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _serve():
    """Start the fixture AMap server on a free loopback port: ``(base_url, requests seen, mode, server)``."""
    seen: list[dict] = []
    mode = {"value": "ok", "qps_left": 0}

    class Handler(_JsonHandler):
        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            seen.append(q)
            if q.get("key") != "test-key":
                return self._send({"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"})
            if mode["qps_left"] > 0:
                mode["qps_left"] -= 1
                return self._send({"status": "0", "info": "CUQPS_HAS_EXCEEDED_THE_LIMIT", "infocode": "10020"})
            if mode["value"] == "slow":
                time.sleep(0.5)
            # AMap's polygon: two corners (top left, bottom right) of a rectangle, or a closed ring
            points = [tuple(float(v) for v in p.split(",")) for p in q["polygon"].split("|")]
            if len(points) == 2:
                (w, n), (e, s) = points
                region = shapely.box(w, s, e, n)
            else:
                assert points[0] == points[-1] and len(points) >= 4  # AMap: first and last pair the same
                region = shapely.Polygon(points)
            w, s, e, n = region.bounds
            hits = []
            for pid, name, lon, lat in FIXTURE_POIS:
                x, y = _gcj(lon, lat)
                if region.covers(shapely.Point(x, y)) and any(ch in name for ch in q["keywords"]):
                    hits.append({"id": pid, "name": name, "typecode": "", "address": "测试路1号",
                                 "location": f"{x:.6f},{y:.6f}"})
            count = len(hits)
            if mode["value"] == "cap" and e - w > 0.01:
                count = webmap.RESULT_CAP["amap"]  # a big box claims the cap: the client must split
            size, page = int(q["offset"]), int(q["page"])
            self._send({"status": "1", "info": "OK", "infocode": "10000", "count": str(count),
                        "pois": hits[(page - 1) * size:page * size]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_address[1]}", seen, mode, server


@pytest.fixture()
def amap_server():
    served = _serve()
    yield served
    served[3].shutdown()
    served[3].server_close()


def _client(base, tmp_path, monkeypatch, key="test-key", **kw):
    monkeypatch.setenv("TEST_AMAP_KEY", key)
    return webmap.make_client(service="amap", key_env="TEST_AMAP_KEY", cache_dir=tmp_path, base_url=base,
                              backoff_s=0.01, **kw)


def _categories():
    return load_config(CHENGDU_CONFIG).categories  # the default category rules


KEYWORDS = {"elder_care": ("养老", "老年"), "canteen": ("食堂",), "nursery": ("托育", "母婴", "妇幼")}


def test_search_classifies_and_drops_traps(amap_server, tmp_path, monkeypatch):
    base, seen, mode, _ = amap_server
    client = _client(base, tmp_path, monkeypatch)
    pois = webmap.search_pois(client, bbox=BBOX, keywords=KEYWORDS)
    assert sorted(pois["poi_id"]) == [p[0] for p in FIXTURE_POIS]
    # GCJ-02 → WGS-84 back to the known point within 1 m (1e-5° ≈ 1 m).
    known = {p[0]: (p[2], p[3]) for p in FIXTURE_POIS}
    for pid, lon, lat in zip(pois["poi_id"], pois["lon"], pois["lat"]):
        assert abs(lon - known[pid][0]) < 1e-5 and abs(lat - known[pid][1]) < 1e-5
    assert all("key" not in p.name for p in (tmp_path / "webmap" / "amap").iterdir())
    assert not any("test-key" in p.read_text() for p in (tmp_path / "webmap" / "amap").iterdir())
    found, counts = webmap.classify_pois(pois, _categories())
    counted = found[found["counted"]]
    assert dict(zip(counted["name"], counted["category"])) == {
        "测试社区养老服务中心": "elder_care", "测试长者食堂": "canteen", "测试社区托育中心": "nursery"}
    assert set(found["source"]) == {"amap"} and found["facility_id"].str.startswith("amap/T").all()
    row = counts.set_index("category").loc["nursery"]
    assert row["kept"] == 1 and row["excluded"] == 1  # 测试幼儿用品店托育: 托育 ruled out by 用品
    assert row["excluded_by"] == {"用品": 1}
    # The rerun is offline: the server sees nothing new.
    n = len(seen)
    again = webmap.search_pois(client, bbox=BBOX, keywords=KEYWORDS)
    assert len(seen) == n and again.equals(pois)


def test_result_cap_splits_the_box(amap_server, tmp_path, monkeypatch):
    base, seen, mode, _ = amap_server
    mode["value"] = "cap"
    stats = webmap.SearchStats()
    pois = webmap.search_pois(_client(base, tmp_path, monkeypatch), bbox=BBOX, keywords={"canteen": ("食堂",)},
                              stats=stats)
    assert stats.splits >= 1 and sorted(pois["poi_id"]) == ["T002", "T003"]


def test_amap_is_asked_by_the_study_area_polygon(amap_server, tmp_path, monkeypatch):
    """A triangular TEST study area: AMap gets a closed ring around it (in GCJ-02), POIs beyond it are not
    handed out, and on the cap only the quarters holding some of the area are asked."""
    base, seen, mode, _ = amap_server
    west, south, east, north = BBOX
    triangle = shapely.Polygon([(west, south), (east, south), (west, north)])  # below the west-south/north-east line
    words = {"x": ("测试",)}
    pois = webmap.search_pois(_client(base, tmp_path, monkeypatch), area=triangle, keywords=words)
    ring = [tuple(float(v) for v in p.split(",")) for p in seen[-1]["polygon"].split("|")]
    assert len(ring) >= 4 and ring[0] == ring[-1]
    gcj = shapely.Polygon(ring)
    corner = _gcj(east, north)
    assert not gcj.covers(shapely.Point(corner)) and gcj.covers(shapely.Point(_gcj(west, south)))
    inside = {pid for pid, name, lon, lat in FIXTURE_POIS
              if shapely.distance(triangle, shapely.Point(lon, lat)) < 1e-4 and "测试" in name}
    assert set(pois["poi_id"]) == inside and 0 < len(inside) < 7
    # on the cap the box is quartered: the north-east quarter lies beyond the triangle's edge and is never asked
    mode["value"] = "cap"
    seen.clear()
    stats = webmap.SearchStats()
    webmap.search_pois(_client(base, tmp_path / "cap", monkeypatch), area=triangle, keywords=words, stats=stats)
    def region(q):  # a ring, or the two corners of a rectangle (a quarter lying wholly inside the triangle)
        points = [tuple(float(v) for v in p.split(",")) for p in q["polygon"].split("|")]
        return shapely.Polygon(points) if len(points) > 2 else shapely.box(points[0][0], points[1][1], points[1][0],
                                                                              points[0][1])

    asked = [region(q) for q in seen]
    assert stats.splits >= 1 and any(q["polygon"].count("|") > 1 for q in seen)
    ne_quarter = shapely.box(*_gcj((west + east) / 2 + 1e-4, (south + north) / 2 + 1e-4), *_gcj(east, north))
    assert not any(a.intersection(ne_quarter).area > 0.5 * ne_quarter.area for a in asked)


def test_paging_reads_every_page(amap_server, tmp_path, monkeypatch):
    base, seen, mode, _ = amap_server
    monkeypatch.setitem(webmap.PAGE_SIZE, "amap", 1)
    pois = webmap.search_pois(_client(base, tmp_path, monkeypatch), bbox=BBOX, keywords={"x": ("测试",)})
    assert len(pois) == 7 and max(int(q["page"]) for q in seen) == 7


def test_qps_error_backs_off_and_retries(amap_server, tmp_path, monkeypatch):
    base, seen, mode, _ = amap_server
    mode["qps_left"] = 2
    pois = webmap.search_pois(_client(base, tmp_path, monkeypatch), bbox=BBOX, keywords={"canteen": ("食堂",)})
    assert len(pois) == 2 and len(seen) == 3


def test_invalid_key_is_one_line_without_the_key(amap_server, tmp_path, monkeypatch):
    base, *_ = amap_server
    with pytest.raises(InputError) as err:
        webmap.search_pois(_client(base, tmp_path, monkeypatch, key="wrong-secret"), bbox=BBOX,
                           keywords={"canteen": ("食堂",)})
    assert "10001" in str(err.value) and "wrong-secret" not in str(err.value) and "\n" not in str(err.value)
    # the console words it in the run's language
    zh = err.value.worded("zh")
    assert "拒绝" in zh and "配额" in zh and "10001" in zh and "wrong-secret" not in zh


def test_timeout_retries_then_fails(amap_server, tmp_path, monkeypatch):
    base, seen, mode, _ = amap_server
    mode["value"] = "slow"
    client = _client(base, tmp_path, monkeypatch)
    client = webmap.Client(**{**client.__dict__, "timeout_s": 0.1})
    with pytest.raises(InputError, match="ReadTimeout"):
        webmap.search_pois(client, bbox=BBOX, keywords={"canteen": ("食堂",)})
    assert len(seen) == webmap.MAX_RETRIES


@dataclass
class ChengduPoiRuns:
    first: object  # RunResult with the fixture server up
    again: object  # RunResult recomputed with the server stopped: from the POI cache only
    requests: int  # requests the server answered


@pytest.fixture(scope="module")
def chengdu_poi_runs(chengdu_config, tmp_path_factory):
    base, seen, _, server = _serve()
    tmp = tmp_path_factory.mktemp("chengdu_webmap")
    source = WebmapSource(service="amap", key_env="TEST_AMAP_KEY", base_url=base, types=(), refresh=False)
    # Test input: a registry naming the fixture canteen 20 m from its POI: the two are one facility.
    registry = tmp / "registry.csv"
    pd.DataFrame([{"机构名称": "测试长者食堂", "经度": 104.0752, "纬度": 30.6750}]).to_csv(registry, index=False)
    spec = Registry(path=registry, coord_system="wgs84", encoding=None, sheet=None, category="canteen", columns=(),
                    category_values=())
    # Test input: an address-only 民政局-style list, geocoded by the loopback AMap geocoder of test_geocode.
    from test_geocode import KEY as GEO_KEY
    from test_geocode import ROWS as GEO_ROWS
    from test_geocode import _serve as serve_geocoders

    geo_base, geo_seen, geo_server = serve_geocoders()
    listed = tmp / "名录.csv"
    pd.DataFrame(GEO_ROWS).to_csv(listed, index=False)
    geo_spec = Registry(path=listed, coord_system="wgs84", encoding=None, sheet=None, category="elder_care",
                        columns=(), category_values=())
    geocoder = Geocoder(service="amap", key_env="TEST_GEO_KEY", base_url=geo_base, city="成都市")
    # The part of the Chengdu sample around the fixture POIs and geocoded rows (a walk beyond them), on the
    # session's cache (its walk network; the POI responses are cached there too): the runs cost a fraction.
    west, south, east, north = BBOX
    config = chengdu_config.with_settings(facilities={"webmap": (source,), "registries": (spec, geo_spec),
                                                      "geocoder": geocoder},
                                          area={"bbox": (west - 0.012, south - 0.012, east + 0.012, north + 0.012)},
                                          output={"out_dir": tmp / "out", "facility_areas": "none",
                                                  "service_areas": "cells"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_AMAP_KEY", "test-key")
        patch.setenv("TEST_GEO_KEY", GEO_KEY)
        first = run(config, progress=False)
        for stop in (server, geo_server):
            stop.shutdown()
            stop.server_close()
        n = len(seen)
        patch.delenv("TEST_AMAP_KEY")  # no key and no server: only the cache can answer
        patch.delenv("TEST_GEO_KEY")
        again = run(config.with_settings(output={"out_dir": tmp / "out2", "facility_areas": "none",
                                                 "service_areas": "cells"}), progress=False, reuse=False)
    assert len(seen) == n and len(geo_seen) == len(GEO_ROWS)
    return ChengduPoiRuns(first, again, n)


@pytest.mark.slow
@pytest.mark.needs_data
def test_chengdu_run_counts_fixture_pois(chengdu_poi_runs):
    first = chengdu_poi_runs.first
    facs = first.facilities
    poi = facs[facs["source"] == "amap"]
    assert set(poi.loc[poi["counted"], "name"]) == {"测试社区养老服务中心", "测试社区托育中心"}
    assert poi["poi_id"].str.startswith("T").all() and (poi["fetched"] == dt.date.today().isoformat()).all()
    assert (poi["address"] == "测试路1号").all()
    canteen = facs[facs["name"] == "测试长者食堂"]
    assert len(canteen) == 1 and canteen["source"].iat[0] == "both"  # merged, the registry's row wins
    for trap in ("人民食堂", "测试老年大学", "测试母婴店", "测试妇幼保健院", "测试幼儿用品店托育"):
        assert not poi.loc[poi["name"] == trap, "counted"].any()
    assert ((facs["category"] == "elder_care") & facs["counted"]).sum() >= 1
    assert ((facs["category"] == "canteen") & facs["counted"]).sum() >= 1
    entry = next(r for r in first.summary["registries"] if "webmap" in r)
    assert entry["webmap"] == "amap" and entry["fetched_on"] == dt.date.today().isoformat()
    by_category = {c["category"]: c for c in entry["categories"]}
    assert by_category["canteen"]["merged"] == 1 and by_category["elder_care"]["merged"] == 0
    # The fixture server matches any character of the keyword, so 人民食堂 comes back for 长者食堂: fetched, not kept.
    assert by_category["canteen"]["kept"] == 1 and by_category["canteen"]["not_matched"] >= 1
    assert chengdu_poi_runs.requests == entry["requests"] > 0
    page = (first.config.output.out_dir / "index.html").read_text(encoding="utf-8")
    assert "网络地图兴趣点" in page and f"amap，{entry['fetched_on']} 获取" in page


@pytest.mark.slow
@pytest.mark.needs_data
def test_chengdu_rerun_offline_is_identical(chengdu_poi_runs):
    first, again = chengdu_poi_runs.first, chengdu_poi_runs.again
    a = (first.config.output.out_dir / "communities.csv").read_bytes()
    b = (again.config.output.out_dir / "communities.csv").read_bytes()
    assert a == b
    assert first.summary["registries"] == again.summary["registries"]


@pytest.mark.slow
@pytest.mark.needs_data
def test_chengdu_run_geocodes_the_address_registry(chengdu_poi_runs):
    from test_geocode import KEY as GEO_KEY

    first, again = chengdu_poi_runs.first, chengdu_poi_runs.again
    facs = first.facilities
    geo = facs[facs["geocode_level"].fillna("") != ""]
    assert dict(zip(geo["name"], geo["geocode_level"])) == {"甲养老服务中心": "门牌号", "乙养老服务中心": "兴趣点"}
    entry = next(r for r in first.summary["registries"] if r.get("file", "").endswith("名录.csv"))
    assert entry["rows_geocoded"] == entry["rows_used"] == 2
    out = first.config.output.out_dir
    review = pd.read_csv(out / "geocode_review.csv", encoding="utf-8-sig")
    assert list(review["row"]) == [4, 5, 6, 7] and review["file"].str.endswith("名录.csv").all()
    assert list(review["name"]) == ["丙养老服务中心", "丁养老服务中心", "戊养老服务中心", "己养老服务中心"]
    lines = pd.read_csv(out / "input_report.csv", encoding="utf-8-sig", dtype=str)
    assert sorted(lines.loc[lines["file"].str.endswith("名录.csv"), "row"].astype(int)) == [4, 5, 6, 7]
    again_out = again.config.output.out_dir
    assert (out / "geocode_review.csv").read_bytes() == (again_out / "geocode_review.csv").read_bytes()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "地址解析" in page and "登记表中 2 行按地址解析坐标" in page  # the methods panel
    root = out.parent
    assert not any(GEO_KEY in p.read_text(encoding="utf-8", errors="replace") for p in root.rglob("*")
                   if p.is_file() and p.suffix in (".csv", ".json", ".html", ".txt"))


@pytest.mark.slow
@pytest.mark.needs_data
def test_console_names_the_exclude_keyword(chengdu_poi_runs, capsys):
    from servicecircle import cli

    cli._print_inputs_and_files(chengdu_poi_runs.first)
    assert "用品 ×1" in capsys.readouterr().out  # 测试幼儿用品店托育, ruled out of the nurseries by 用品


def _serve_baidu_tencent():
    """Fixture Baidu ``place/v2/search`` (BD-09, 0-based pages) and Tencent ``ws/place/v1/search`` (GCJ-02)."""
    seen: list[dict] = []

    class Handler(_JsonHandler):
        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            seen.append(q)
            baidu = url.path == "/place/v2/search"
            if q.get("ak" if baidu else "key") != "test-key":
                return self._send({"status": 240 if baidu else 311, "message": "test: key refused"})
            box = q["bounds"] if baidu else q["boundary"][len("rectangle("):-1]
            s_, w, n, e = (float(v) for v in box.split(","))
            word = q["query" if baidu else "keyword"]
            hits = []
            for pid, name, lon, lat in FIXTURE_POIS:
                x, y = _gcj(lon, lat)
                if baidu:
                    bx, by = coords.gcj02_to_bd09(np.array([x]), np.array([y]))
                    x, y = float(bx[0]), float(by[0])
                if w <= x < e and s_ <= y < n and any(ch in name for ch in word):
                    hits.append((pid, name, x, y))
            size = int(q["page_size"])
            page = int(q["page_num"]) if baidu else int(q["page_index"]) - 1
            part = hits[page * size:(page + 1) * size]
            if baidu:
                body = {"status": 0, "message": "ok", "total": len(hits), "results": [
                    {"uid": p, "name": nm, "address": "测试路", "location": {"lng": x, "lat": y}}
                    for p, nm, x, y in part]}
            else:
                body = {"status": 0, "message": "query ok", "count": len(hits), "data": [
                    {"id": p, "title": nm, "address": "测试路", "category": "测试", "location": {"lng": x, "lat": y}}
                    for p, nm, x, y in part]}
            self._send(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", seen, server


@pytest.mark.parametrize("service", ["baidu", "tencent"])
def test_baidu_and_tencent_shapes_and_datums(service, tmp_path, monkeypatch):
    base, seen, server = _serve_baidu_tencent()
    try:
        monkeypatch.setenv("TEST_KEY", "test-key")
        monkeypatch.setitem(webmap.PAGE_SIZE, service, 2)  # several pages for 7 matches
        client = webmap.make_client(service=service, key_env="TEST_KEY", cache_dir=tmp_path, base_url=base)
        pois = webmap.search_pois(client, bbox=BBOX, keywords={"x": ("测试",)})
        assert len(pois) == 7 and len(seen) == 4
        known = {p[0]: (p[2], p[3]) for p in FIXTURE_POIS}
        err = [max(abs(lo - known[i][0]), abs(la - known[i][1])) for i, lo, la in zip(pois["poi_id"], pois["lon"],
                                                                                     pois["lat"])]
        assert max(err) < 1e-5  # BD-09 / GCJ-02 back to WGS-84 within about 1 m
        monkeypatch.setenv("TEST_KEY", "wrong")
        bad = webmap.make_client(service=service, key_env="TEST_KEY", cache_dir=tmp_path / "other", base_url=base)
        with pytest.raises(InputError, match="refused"):
            webmap.search_pois(bad, bbox=BBOX, keywords={"x": ("测试",)})
    finally:
        server.shutdown()
        server.server_close()


def test_webmap_table_needs_service_and_key_env(tmp_path):
    from servicecircle.errors import ConfigError

    base = (CHENGDU_CONFIG.read_text(encoding="utf-8").replace('"../../shared', '"/work/shared')
            .replace('"../maps', f'"{tmp_path}/maps'))
    for table, key in (('service = "amap"', "key_env"), ('service = "google"\nkey_env = "K"', "service")):
        path = tmp_path / "area.toml"
        path.write_text(base + f"\n[[facilities.webmap]]\n{table}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=f"facilities.webmap\\[0\\].{key}"):
            load_config(path)
