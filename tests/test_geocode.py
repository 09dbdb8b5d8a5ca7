"""Geocoding of address-only registries through the real HTTP client against a loopback fixture server.

The server answers AMap ``/v3/geocode/geo``, Baidu ``/geocoding/v3/`` and Tencent
``/ws/geocoder/v1/`` in their documented JSON shapes (GCJ-02, BD-09, GCJ-02), with each
service's own precision words. The addresses and positions are test input, not real places.
"""

from __future__ import annotations

import logging
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
import shapely
from test_webmap import _JsonHandler

from servicecircle import coords, geocode, webmap
from servicecircle.config import Registry, load_config
from servicecircle.errors import InputError
from servicecircle.inputs import InputReport
from servicecircle.registries import GeocodeSetup, read_registry

KEY = "geo-secret-4711"
AREA = shapely.box(104.05, 30.65, 104.09, 30.69)  # the study area of these tests (WGS-84)

# Test input: address → (WGS-84 lon, lat, precision); each service words the precision its own way.
PLACES = {
    "测试路1号": (104.0650, 30.6650, "house"),
    "测试社区养老服务中心": (104.0700, 30.6700, "poi"),
    "测试路": (104.0750, 30.6750, "road"),
    "测试区": (104.0600, 30.6800, "district"),
    "外地路8号": (116.4000, 39.9000, "house"),  # a namesake far outside the study area
}
WORDS = {"amap": {"house": "门牌号", "poi": "兴趣点", "road": "道路", "district": "区县"},
         "baidu": {"house": "门址", "poi": "生活服务", "road": "道路", "district": "区县"},
         "tencent": {"house": 9, "poi": 11, "road": 7, "district": 2}}


def _serve():
    """The three geocoders on one loopback port: ``(base_url, requests seen, server)``."""
    seen: list[dict] = []

    class Handler(_JsonHandler):
        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            seen.append({"path": url.path, **q})
            service = {"/v3/geocode/geo": "amap", "/geocoding/v3/": "baidu", "/ws/geocoder/v1/": "tencent"}[url.path]
            if q.get("ak" if service == "baidu" else "key") != KEY:
                return self._send({"amap": {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"},
                                   "baidu": {"status": 200, "message": "APP不存在，AK有误请检查再重试"},
                                   "tencent": {"status": 311, "message": "key格式错误"}}[service])
            address = q["address"]
            if service == "tencent":
                address = address.removeprefix("成都市")  # the client writes the city into the address
            place = PLACES.get(address)
            if place is None:  # each service's "no result"
                return self._send({"amap": {"status": "1", "info": "OK", "infocode": "10000", "count": "0",
                                            "geocodes": []},
                                   "baidu": {"status": 1, "msg": "Internal Service Error:无相关结果", "results": []},
                                   "tencent": {"status": 347, "message": "查询无结果"}}[service])
            x, y = coords.wgs84_to_gcj02(np.array([place[0]]), np.array([place[1]]))
            if service == "baidu":
                x, y = coords.gcj02_to_bd09(x, y)
            lon, lat, level = float(x[0]), float(y[0]), WORDS[service][place[2]]
            if service == "amap":
                body = {"status": "1", "info": "OK", "infocode": "10000", "count": "1", "geocodes": [
                    {"formatted_address": "四川省成都市" + address, "country": "中国", "province": "四川省",
                     "city": "成都市", "district": "青羊区", "adcode": "510105", "location": f"{lon:.6f},{lat:.6f}",
                     "level": level}]}
            elif service == "baidu":
                body = {"status": 0, "result": {"location": {"lng": lon, "lat": lat}, "precise": 1,
                                                "confidence": 80, "comprehension": 100, "level": level}}
            else:
                body = {"status": 0, "message": "query ok", "result": {
                    "title": address, "location": {"lng": lon, "lat": lat}, "ad_info": {"adcode": "510105"},
                    "similarity": 0.8, "deviation": 1000, "reliability": 7, "level": level}}
            self._send(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", seen, server


@pytest.fixture()
def geo_server():
    base, seen, server = _serve()
    yield base, seen
    server.shutdown()
    server.server_close()


def _categories():
    from conftest import CHENGDU_CONFIG

    return load_config(CHENGDU_CONFIG).categories


def _registry(tmp_path, rows):
    path = tmp_path / "名录.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return Registry(path=path, coord_system="wgs84", encoding=None, sheet=None, category="elder_care", columns=(),
                    category_values=())


# Test input: an address-only registry as a 民政局 list gives it (name and address, no coordinates).
ROWS = [{"机构名称": "甲养老服务中心", "地址": "测试路1号"},
        {"机构名称": "乙养老服务中心", "地址": "测试社区养老服务中心"},
        {"机构名称": "丙养老服务中心", "地址": "测试路"}, {"机构名称": "丁养老服务中心", "地址": "测试区"},
        {"机构名称": "戊养老服务中心", "地址": "外地路8号"}, {"机构名称": "己养老服务中心", "地址": "查无此址"}]


def _setup(service, base, tmp_path, monkeypatch, key=KEY):
    monkeypatch.setenv("TEST_GEO_KEY", key)
    client = webmap.make_client(service=service, key_env="TEST_GEO_KEY", cache_dir=tmp_path / "cache",
                                base_url=base, backoff_s=0.01)
    return GeocodeSetup(client=client, city="成都市", area=AREA)


@pytest.mark.parametrize("service", ["amap", "baidu", "tencent"])
def test_address_only_registry_is_geocoded(service, geo_server, tmp_path, monkeypatch):
    base, seen = geo_server
    spec = _registry(tmp_path, ROWS)
    report = InputReport(lang="en", geocode_review=[])
    reg = read_registry(spec, _categories(), report, geocoder=_setup(service, base, tmp_path, monkeypatch))
    # 门牌号 and 兴趣点 are used; 道路, 区县, the namesake outside and the unknown address are not.
    assert list(reg["name"]) == ["甲养老服务中心", "乙养老服务中心"]
    assert list(reg["geocode_level"]) == [str(WORDS[service]["house"]), str(WORDS[service]["poi"])]
    for (x, y), address in zip(shapely.get_coordinates(reg.geometry.values), ["测试路1号", "测试社区养老服务中心"]):
        assert abs(x - PLACES[address][0]) < 1e-5 and abs(y - PLACES[address][1]) < 1e-5  # about 1 m
    lines = report.frame()
    assert list(lines["row"]) == [4, 5, 6, 7] and set(lines["field"]) == {"地址"}
    assert lines["action"].str.contains("geocode_review.csv").all()
    review = pd.read_csv(report.write_review(tmp_path / "geocode_review.csv"), dtype={"level": str})
    assert list(review.columns) == ["file", "row", "name", "address", "service", "level", "lon", "lat", "why"]
    assert list(review["name"]) == ["丙养老服务中心", "丁养老服务中心", "戊养老服务中心", "己养老服务中心"]
    assert list(review["level"].fillna("")) == [str(WORDS[service]["road"]), str(WORDS[service]["district"]),
                                               str(WORDS[service]["house"]), ""]
    assert (review["service"] == service).all() and np.isnan(review["lon"].iat[3])
    assert abs(review["lon"].iat[2] - 116.4) < 1e-5 and "outside the study area" in review["why"].iat[2]
    assert service != "amap" or {q["city"] for q in seen} == {"成都市"}
    # The rerun is answered by the cache: the server sees nothing new.
    n = len(seen)
    again = read_registry(spec, _categories(), InputReport(geocode_review=[]),
                          geocoder=_setup(service, base, tmp_path, monkeypatch))
    assert len(seen) == n == len(ROWS) and len(again) == 2
    report.write(tmp_path / "input_report.csv")
    assert not any(KEY in p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file())
    assert not any(KEY in p.name for p in tmp_path.rglob("*"))


def test_min_precision_road_uses_road_rows(geo_server, tmp_path, monkeypatch):
    base, _ = geo_server
    setup = _setup("amap", base, tmp_path, monkeypatch)
    road = GeocodeSetup(client=setup.client, city=None, min_precision="road")
    reg = read_registry(_registry(tmp_path, ROWS[:4]), _categories(), InputReport(), geocoder=road)
    assert list(reg["geocode_level"]) == ["门牌号", "兴趣点", "道路"]


def test_blank_coordinates_beside_filled_ones(geo_server, tmp_path, monkeypatch):
    base, _ = geo_server
    rows = [{"机构名称": "甲养老服务中心", "经度": "104.08", "纬度": "30.68", "地址": "测试区"},
            {"机构名称": "乙养老服务中心", "经度": "", "纬度": "", "地址": "测试路1号"}]
    spec = _registry(tmp_path, rows)
    reg = read_registry(spec, _categories(), InputReport(), geocoder=_setup("amap", base, tmp_path, monkeypatch))
    assert list(reg["geocode_level"]) == ["", "门牌号"]  # a row's own coordinates are never replaced
    # Without a geocoder the blank row gets a line saying what to do; an address-only file stops in one line.
    report = InputReport(lang="en")
    assert list(read_registry(spec, _categories(), report)["name"]) == ["甲养老服务中心"]
    [line] = report.rows
    assert line["row"] == 3 and line["field"] == "地址" and "[facilities.geocoder]" in line["action"]
    with pytest.raises(InputError, match=r"\[facilities.geocoder\]") as err:
        read_registry(_registry(tmp_path, ROWS), _categories(), InputReport())
    assert "\n" not in str(err.value)
    assert "[facilities.geocoder]" in err.value.worded("zh") and "没有坐标列" in err.value.worded("zh")


@pytest.mark.parametrize("service", ["amap", "baidu", "tencent"])
def test_invalid_key_is_one_line_without_the_key(service, geo_server, tmp_path, monkeypatch):
    base, _ = geo_server
    setup = _setup(service, base, tmp_path, monkeypatch, key="wrong-secret-99")
    with pytest.raises(InputError, match="refused") as err:
        read_registry(_registry(tmp_path, ROWS), _categories(), InputReport(), geocoder=setup)
    assert "wrong-secret-99" not in str(err.value) and "\n" not in str(err.value)


def test_key_never_reaches_the_log(geo_server, tmp_path, monkeypatch, caplog):
    base, _ = geo_server
    caplog.set_level(logging.DEBUG, logger="urllib3")
    setup = _setup("amap", base, tmp_path, monkeypatch)
    found = geocode.geocode(setup.client, addresses=["测试路1号"], city=None)
    assert found["precision"].tolist() == ["house"]
    assert any("/v3/geocode/geo" in r.getMessage() for r in caplog.records)  # urllib3 did log the request
    assert not any(KEY in r.getMessage() for r in caplog.records) and KEY not in caplog.text


def test_precision_words_of_each_service():
    assert [geocode.precision_of("amap", w) for w in ("门牌号", "兴趣点", "道路", "乡镇", "区县", "未知")] == [
        "house", "poi", "road", "town", "district", ""]
    assert geocode.precision_of("baidu", "教育") == "poi" and geocode.precision_of("tencent", "9") == "house"
    assert geocode.precise_enough("house", "poi") and not geocode.precise_enough("road", "poi")
    assert not geocode.precise_enough("", "district")
    # Baidu's status 1 is "no result" only when it says so; its internal error is never cached as an answer.
    assert geocode.no_result("baidu", "1", "Internal Service Error:无相关结果")
    assert not geocode.no_result("baidu", "1", "服务器内部错误") and geocode.no_result("tencent", "347", "查询无结果")


def test_geocoder_table_is_read_and_checked(tmp_path):
    from conftest import CHENGDU_CONFIG

    from servicecircle.errors import ConfigError

    base = (CHENGDU_CONFIG.read_text(encoding="utf-8").replace('"../../shared', '"/work/shared')
            .replace('"../maps', f'"{tmp_path}/maps'))
    path = tmp_path / "area.toml"
    path.write_text(base + '\n[facilities.geocoder]\nservice = "baidu"\nkey_env = "BAIDU_AK"\ncity = "成都市"\n',
                    encoding="utf-8")
    geo = load_config(path).facilities.geocoder
    assert (geo.service, geo.key_env, geo.city, geo.min_precision) == ("baidu", "BAIDU_AK", "成都市", "poi")
    for table, key in (('service = "amap"', "key_env"), ('service = "amap"\nkey_env = "K"\nmin_precision = "street"',
                                                         "min_precision")):
        path.write_text(base + f"\n[facilities.geocoder]\n{table}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=f"facilities.geocoder.{key}"):
            load_config(path)
