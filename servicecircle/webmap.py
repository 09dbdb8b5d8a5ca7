"""Facilities from web-map POI search (AMap, Baidu, Tencent): search, paging, splitting, caching, backoff.

One small API: :func:`search_pois` returns every POI a service holds in a box for a
list of keywords, converted to WGS-84 and sorted by (service, id). Every response is
cached on disk under ``cache_dir/webmap`` keyed by a digest of the request without the
key, so a rerun is offline and free. The base URL of each service can be replaced
(``base_url``), which is how the tests point the same HTTP code at a loopback server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import shapely

from . import coords
from .errors import InputError

SERVICES = ("amap", "baidu", "tencent")
BASE_URLS = {"amap": "https://restapi.amap.com", "baidu": "https://api.map.baidu.com",
             "tencent": "https://apis.map.qq.com"}
# The datum each service's coordinates are given in.
DATUMS = {"amap": "gcj02", "baidu": "bd09", "tencent": "gcj02"}
# Page size and the most results a single query can page through (beyond it: split the box).
PAGE_SIZE = {"amap": 25, "baidu": 20, "tencent": 20}
RESULT_CAP = {"amap": 200, "baidu": 150, "tencent": 200}
# Status codes meaning "too many requests this second": back off and retry. The daily-quota codes
# (AMap 10003, Baidu 302, Tencent 121) are not among them: waiting a second does not help, the run stops.
QPS_CODES = {"amap": {"10004", "10014", "10019", "10020", "10021"}, "baidu": {"401", "402"},
             "tencent": {"120"}}
MAX_RETRIES = 4
MIN_SPLIT_DEG = 0.002  # about 200 m: a smaller box that still hits the cap is taken as it is
#: An AMap query polygon is the part of the study area in the box, grown by this much (about 60 m) and then
#: simplified by half of it, so that it still holds every point of the part in few vertices.
POLYGON_MARGIN_DEG = 0.0006


@dataclass(frozen=True)
class Client:
    """How to talk to one service: its name, key, base URL and cache folder."""

    service: str
    key: str
    base_url: str
    cache_dir: Path
    refresh: bool = False
    timeout_s: float = 10.0
    backoff_s: float = 1.0


class _HideKeys(logging.Filter):
    """Masks every key a client holds in urllib3's records (its DEBUG lines carry the full URL)."""

    keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(k in text for k in self.keys):
            for key in self.keys:
                text = text.replace(key, "***")
            record.msg, record.args = text, ()
        return True


_HIDE_KEYS = _HideKeys()
logging.getLogger("urllib3.connectionpool").addFilter(_HIDE_KEYS)


def make_client(*, service: str, key_env: str, cache_dir: Path, base_url: str | None = None,
                refresh: bool = False, backoff_s: float = 1.0) -> Client:
    """A :class:`Client` with its key read from the environment variable ``key_env``.

    A missing key is only an error once a request must go out: a cached rerun needs none.
    """
    key = os.environ.get(key_env, "")
    if key:
        _HIDE_KEYS.keys.add(key)
    return Client(service=service, key=key, base_url=(base_url or BASE_URLS[service]),
                  cache_dir=Path(cache_dir) / "webmap" / service, refresh=refresh, backoff_s=backoff_s)


def _digest(path: str, params: dict[str, Any]) -> str:
    # The key is left out: the cache file's name never carries it, and a new key reuses the cache.
    text = json.dumps([path, sorted(params.items())], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _status(service: str, body: dict) -> tuple[bool, str, str]:
    """``(ok, code, message)`` of a response body, in each service's own wording."""
    if service == "amap":
        return str(body.get("status")) == "1", str(body.get("infocode", "")), str(body.get("info", ""))
    # Baidu's geocoder words its refusals in "msg", its place search in "message".
    return str(body.get("status")) == "0", str(body.get("status", "")), str(body.get("message", body.get("msg", "")))


def get_json(client: Client, path: str, params: dict[str, Any], *,
             empty: Callable[[str, str], bool] | None = None) -> dict:
    """One request, from the cache when it holds it; retried on timeouts, 5xx and QPS errors.

    ``empty(code, message)`` tells a refusal that means an empty answer (a geocoder's "no result"):
    it is cached and returned like a good one.

    Raises
    ------
    InputError
        On a bad key or exhausted quota (one line, without the key), or when retries run out.
    """
    cache = client.cache_dir / f"{_digest(path, params)}.json"
    if cache.exists() and not client.refresh:
        return json.loads(cache.read_text(encoding="utf-8"))["body"]
    if not client.key:
        raise InputError(key="error.webmap_no_key", service=client.service, path=path)
    key_name = "key" if client.service != "baidu" else "ak"
    problem: Any = ""
    for attempt in range(MAX_RETRIES):
        if attempt:
            time.sleep(client.backoff_s * 2 ** (attempt - 1))
        try:
            resp = requests.get(client.base_url.rstrip("/") + path, params={**params, key_name: client.key},
                                timeout=client.timeout_s)
        except requests.RequestException as exc:
            problem = type(exc).__name__
            continue
        if resp.status_code >= 500:
            problem = f"HTTP {resp.status_code}"
            continue
        try:
            body = resp.json()
        except ValueError:
            problem = ("error.not_json", {})
            continue
        ok, code, message = _status(client.service, body)
        if ok or (empty is not None and empty(code, message)):
            cache.parent.mkdir(parents=True, exist_ok=True)
            fetched = dt.date.today().isoformat()
            cache.write_text(json.dumps({"fetched": fetched, "path": path, "params": params, "body": body},
                                        ensure_ascii=False), encoding="utf-8")
            return body
        if code in QPS_CODES[client.service]:
            problem = ("error.rate_limit", {"code": code, "info": message})
            continue
        raise InputError(key="error.webmap_refused", service=client.service, code=code, info=message)
    raise InputError(key="error.webmap_failed", service=client.service, path=path, times=MAX_RETRIES,
                     problem=problem)


def _amap_polygon(part: shapely.Geometry, box: tuple[float, float, float, float]) -> str:
    """AMap's ``polygon`` parameter for the part of the study area in ``box`` (service datum): the box's two
    corners (top left, bottom right) where the part fills it, else a closed ring around the part, grown and
    simplified (:data:`POLYGON_MARGIN_DEG`; a part in pieces by its convex hull): AMap takes one ring."""
    west, south, east, north = box
    if shapely.equals(part, shapely.box(*box)):
        return f"{west:.6f},{north:.6f}|{east:.6f},{south:.6f}"
    grown = shapely.buffer(part, POLYGON_MARGIN_DEG, quad_segs=2)
    ring = grown if isinstance(grown, shapely.Polygon) else shapely.convex_hull(grown)
    xy = shapely.get_coordinates(shapely.simplify(ring, POLYGON_MARGIN_DEG / 2).exterior)
    return "|".join(f"{x:.6f},{y:.6f}" for x, y in xy)  # the exterior ring is closed: first point = last


def _region(service: str, part: shapely.Geometry, box: tuple[float, float, float, float]) -> dict[str, str]:
    """Where a query looks, worded once per box: AMap by the polygon of ``part``; Baidu and Tencent by its bounds."""
    if service == "amap":
        return {"polygon": _amap_polygon(part, box)}
    west, south, east, north = shapely.bounds(part)
    if service == "baidu":
        return {"bounds": f"{south:.6f},{west:.6f},{north:.6f},{east:.6f}"}
    return {"boundary": f"rectangle({south:.6f},{west:.6f},{north:.6f},{east:.6f})"}


def _page_params(service: str, region: dict[str, str], keyword: str, page: int,
                 types: str) -> tuple[str, dict[str, Any]]:
    """The request of one page of ``keyword`` in ``region`` (:func:`_region`)."""
    if service == "amap":
        params: dict[str, Any] = {**region, "keywords": keyword,
                                  "offset": PAGE_SIZE[service], "page": page, "extensions": "base"}
        if types:
            params["types"] = types
        return "/v3/place/polygon", params
    if service == "baidu":
        return "/place/v2/search", {"query": keyword, **region,
                                    "page_size": PAGE_SIZE[service], "page_num": page - 1, "output": "json",
                                    "scope": 1, "coord_type": 3}
    return "/ws/place/v1/search", {"keyword": keyword, **region,
                                   "page_size": PAGE_SIZE[service], "page_index": page}


def _rows(service: str, body: dict) -> tuple[list[dict], int]:
    """The POIs of one page as plain rows (service datum) and the total the service reports."""
    if service == "amap":
        rows = []
        for p in body.get("pois", []):
            lon, lat = (float(v) for v in str(p["location"]).split(","))
            rows.append({"poi_id": str(p["id"]), "name": str(p.get("name", "")),
                         "type_code": str(p.get("typecode", "")),
                         "address": p.get("address") if isinstance(p.get("address"), str) else "",
                         "lon": lon, "lat": lat})
        return rows, int(body.get("count", 0) or 0)
    if service == "baidu":
        rows = [{"poi_id": str(p["uid"]), "name": str(p.get("name", "")),
                 "type_code": str(p.get("detail_info", {}).get("tag", "")), "address": str(p.get("address", "")),
                 "lon": float(p["location"]["lng"]), "lat": float(p["location"]["lat"])}
                for p in body.get("results", [])]
        return rows, int(body.get("total", 0) or 0)
    rows = [{"poi_id": str(p["id"]), "name": str(p.get("title", "")), "type_code": str(p.get("category", "")),
             "address": str(p.get("address", "")), "lon": float(p["location"]["lng"]),
             "lat": float(p["location"]["lat"])} for p in body.get("data", [])]
    return rows, int(body.get("count", 0) or 0)


def _quarters(box: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    west, south, east, north = box
    mx, my = (west + east) / 2, (south + north) / 2
    return [(west, south, mx, my), (mx, south, east, my), (west, my, mx, north), (mx, my, east, north)]


@dataclass
class SearchStats:
    """How much a search cost: requests made (network or cache) and boxes split for hitting the cap."""

    requests: int = 0
    splits: int = 0


def _search_box(client: Client, box: tuple[float, float, float, float], keyword: str, types: str,
                stats: SearchStats, area: shapely.Geometry | None = None) -> list[dict]:
    """The POIs of ``keyword`` in the part of ``area`` (service datum; None: all of it) inside ``box``; a box
    that hits the service's cap is split in four, and a quarter holding none of the area is never asked."""
    part = shapely.box(*box) if area is None else shapely.intersection(area, shapely.box(*box))
    if part.is_empty or part.area == 0:
        return []
    region = _region(client.service, part, box)
    path, params = _page_params(client.service, region, keyword, 1, types)
    body = get_json(client, path, params)
    stats.requests += 1
    rows, total = _rows(client.service, body)
    cap = RESULT_CAP[client.service]
    if total >= cap and box[2] - box[0] > MIN_SPLIT_DEG:
        # The service pages through at most ``cap`` results: fewer, smaller boxes see them all.
        stats.splits += 1
        return [r for quarter in _quarters(box) for r in _search_box(client, quarter, keyword, types, stats, area)]
    size = PAGE_SIZE[client.service]
    pages = min(-(-total // size), -(-cap // size))
    for page in range(2, pages + 1):
        path, params = _page_params(client.service, region, keyword, page, types)
        more, _ = _rows(client.service, get_json(client, path, params))
        stats.requests += 1
        if not more:
            break
        rows.extend(more)
    return rows


def search_pois(client: Client, *, keywords: dict[str, tuple[str, ...]],
                bbox: tuple[float, float, float, float] | None = None, area: shapely.Geometry | None = None,
                types: dict[str, str] | None = None, stats: SearchStats | None = None) -> pd.DataFrame:
    """Every POI the service holds in ``area`` (or ``bbox``) for each category's keywords, in WGS-84.

    AMap is asked by polygon (the part of the area in each box), Baidu and Tencent by the bounds of that
    part; boxes split on the result cap, and a box holding none of the area is never asked.

    Parameters
    ----------
    client : Client
        From :func:`make_client`.
    keywords : dict
        Category → the keywords searched for it.
    bbox : tuple of float, optional
        West, south, east, north in WGS-84 degrees (converted to the service's datum); default the area's.
    area : shapely geometry, optional
        The study area, WGS-84; converted to the service's datum vertex by vertex.
    types : dict, optional
        Category → the service's type codes (``|``-separated, AMap only), a filter on the query.
    stats : SearchStats, optional
        Counts the requests and splits.

    Returns
    -------
    DataFrame
        One row per POI (duplicates across keywords and boxes removed): ``source``, ``poi_id``,
        ``name``, ``type_code``, ``address``, ``lon``, ``lat`` (WGS-84), ``queried_for`` (the
        categories whose queries found it, ``;``-separated), ``fetched`` (date), sorted by
        (source, poi_id).
    """
    stats = stats if stats is not None else SearchStats()
    datum = DATUMS[client.service]
    in_datum = None if area is None else shapely.transform(
        area, lambda xy: np.column_stack(coords.from_wgs84(xy[:, 0], xy[:, 1], datum)))
    if bbox is not None:
        west, south, east, north = bbox
        xs, ys = coords.from_wgs84(np.array([west, east]), np.array([south, north]), datum)
        box = (float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1]))
    elif in_datum is not None:
        # The area's own bounds in the service's datum (the offset varies along the area: corners converted
        # alone could leave a sliver of it outside the box).
        west, south, east, north = (float(v) for v in shapely.bounds(in_datum))
        box = (west, south, east, north)
    else:
        raise ValueError("search_pois needs bbox or area")
    rows = [{**r, "queried_for": category} for category, words in keywords.items() for word in words
            for r in _search_box(client, box, word, (types or {}).get(category, ""), stats, in_datum)]
    frame = pd.DataFrame(rows, columns=["poi_id", "name", "type_code", "address", "lon", "lat", "queried_for"])
    # The categories whose queries found each POI, so the summary can say what each search brought.
    queried = frame.groupby("poi_id")["queried_for"].agg(lambda c: ";".join(sorted(set(c))))
    frame = frame.drop_duplicates("poi_id").copy()
    frame["queried_for"] = frame["poi_id"].map(queried)
    lon, lat = coords.to_wgs84(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), datum)
    frame["lon"], frame["lat"] = lon, lat
    frame.insert(0, "source", client.service)
    frame["fetched"] = fetch_date(client)
    return frame.sort_values(["source", "poi_id"], kind="stable").reset_index(drop=True)


def fetch_date(client: Client) -> str:
    """The newest fetch date among the service's cached responses (for the methods panel), or ''."""
    dates = [json.loads(p.read_text(encoding="utf-8")).get("fetched", "") for p in client.cache_dir.glob("*.json")]
    return max(dates, default="")


def classify_pois(pois: pd.DataFrame, categories: dict) -> tuple[Any, pd.DataFrame]:
    """POIs classified by the category rules (name keywords with exclusions; type codes never alone).

    The same vectorised :func:`servicecircle.facilities.find_facilities` as for OSM features
    classifies them; the service's type code rides along as a tag no rule asks about, so it
    can never make a match by itself.

    Returns
    -------
    (GeoDataFrame, DataFrame)
        The facilities (``source`` the service, ``facility_id`` ``<service>/<poi id>/<category>``,
        with ``poi_id``, ``type_code``, ``address``, ``fetched``), and per category the counts
        ``fetched`` (POIs found by its keywords), ``kept``, ``excluded`` and ``excluded_by``
        (exclude keyword → POIs it ruled out).
    """
    import geopandas as gpd

    from .coords import WGS84
    from .facilities import _contains_any, find_facilities

    features = gpd.GeoDataFrame(
        {"name": pois["name"].to_numpy(), "tags": [{"typecode": t} for t in pois["type_code"]],
         "osm_type": pois["source"].to_numpy(), "osm_id": np.arange(len(pois), dtype=np.int64)},
        geometry=gpd.points_from_xy(pois["lon"], pois["lat"]), crs=WGS84)
    found = find_facilities(features, categories)
    src = pois.iloc[found["osm_id"].to_numpy()]
    found["facility_id"] = [f"{s}/{i}/{c}" for s, i, c in zip(src["source"], src["poi_id"], found["category"])]
    found["source"] = src["source"].to_numpy()
    for column in ("poi_id", "type_code", "address", "fetched"):
        found[column] = src[column].to_numpy()
    names = pois["name"].fillna("").astype(str)
    queried = pois["queried_for"].fillna("").astype(str).str.split(";")
    counts = []
    for key, category in categories.items():
        fetched = queried.map(lambda q, k=key: k in q).to_numpy(bool)
        kept = int(((found["category"] == key) & found["counted"]).sum())
        matched = np.zeros(len(pois), bool)
        matched[found.loc[found["category"] == key, "osm_id"].to_numpy()] = True  # listed, counted or flagged
        excluded = fetched & _contains_any(names, category.keywords) & _contains_any(names, category.exclude_keywords)
        # The exclude keyword that ruled each one out (the first of the category's list it contains).
        by_word = names[excluded].map(lambda n, c=category: next(w for w in c.exclude_keywords if w in n))
        counts.append({"category": key, "fetched": int(fetched.sum()), "kept": kept,
                       "excluded": int(excluded.sum()),  # named like one, but an exclude keyword rules it out
                       "excluded_by": {w: int(c) for w, c in sorted(by_word.value_counts().items())},
                       "not_matched": int((fetched & ~matched & ~excluded).sum())})
    return found, pd.DataFrame(counts)
