"""Geocoding of registry addresses through AMap, Baidu or Tencent, with the service's precision.

The requests go through :func:`servicecircle.webmap.get_json`: the same HTTP code, retries,
backoff and on-disk cache (``cache_dir/webmap/<service>``, keyed by the request without the key)
as POI search. Each address is asked once; the answer's position is converted to WGS-84 with
:mod:`servicecircle.coords` and its precision kept as the service words it (``level``) and as a
rank comparable across services (:data:`PRECISIONS`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import coords, webmap

#: Precision names, finest first; ``min_precision`` = "poi" uses 门牌号 and 兴趣点 answers.
PRECISIONS = ("house", "poi", "road", "town", "district")

# Each service's level words → precision. An AMap or Baidu level not listed is a kind of POI
# (Baidu names them by trade: 餐饮, 教育 …) unless it is unknown.
_LEVELS = {
    # AMap's list as of its 2023-12 update (门址, 小巷 and 住宅区 added then).
    "amap": {"门牌号": "house", "门址": "house", "单元号": "house", "楼层": "house", "房间": "house",
             "兴趣点": "poi", "住宅区": "poi", "公交地铁站点": "poi", "道路": "road", "道路交叉路口": "road",
             "小巷": "road", "乡镇": "town", "村庄": "town",
             "开发区": "town", "热点商圈": "town", "区县": "district", "市": "district", "省": "district",
             "国家": "district"},
    "baidu": {"门址": "house", "道路": "road", "交叉路口": "road", "桥": "road", "乡镇": "town", "村庄": "town",
              "商圈": "town", "区县": "district", "城市": "district", "省": "district", "国家": "district"},
    # Tencent's level is a number: 1 city … 7 road, 8 road feature, 9 house number, 10 estate/building, 11 POI.
    "tencent": {"1": "district", "2": "district", "3": "town", "4": "town", "5": "town", "6": "town", "7": "road",
                "8": "road", "9": "house", "10": "poi", "11": "poi"},
}
_UNKNOWN = {"", "未知", "unknown", "UNKNOWN"}
def no_result(service: str, code: str, message: str) -> bool:
    """Whether a refusal means "no such address": Tencent 347 查询无结果, Baidu status 1 worded 无相关结果
    (Baidu's status 1 is also its internal error, which is not cached as an answer)."""
    return (service == "tencent" and code == "347") or (service == "baidu" and code == "1" and "无相关结果" in message)


def precision_of(service: str, level: str) -> str:
    """The precision (one of :data:`PRECISIONS`, or "" when unknown) of a service's level text."""
    if level in _UNKNOWN:
        return ""
    found = _LEVELS[service].get(level)
    if found is None and service != "tencent":
        return "poi"
    return found or ""


def precise_enough(precision: str, min_precision: str) -> bool:
    """Whether ``precision`` is ``min_precision`` or finer (an unknown one never is)."""
    return precision in PRECISIONS and PRECISIONS.index(precision) <= PRECISIONS.index(min_precision)


def _request(service: str, address: str, city: str | None) -> tuple[str, dict[str, Any]]:
    if service == "amap":
        return "/v3/geocode/geo", {"address": address, **({"city": city} if city else {})}
    if service == "baidu":
        return "/geocoding/v3/", {"address": address, "output": "json", **({"city": city} if city else {})}
    # Tencent takes no city: the city is written into the address when it is not already there.
    return "/ws/geocoder/v1/", {"address": address if not city or address.startswith(city) else city + address}


def _answer(service: str, body: dict) -> tuple[float, float, str]:
    """``(lon, lat, level)`` in the service's datum; NaN and "" when the answer holds no position."""
    if service == "amap":
        found = body.get("geocodes") or []
        if not found or not isinstance(found[0].get("location"), str):
            return np.nan, np.nan, ""
        lon, lat = (float(v) for v in found[0]["location"].split(","))
        return lon, lat, str(found[0].get("level", ""))
    result = body.get("result")
    if not isinstance(result, dict) or "location" not in result:
        return np.nan, np.nan, ""
    loc = result["location"]
    return float(loc["lng"]), float(loc["lat"]), str(result.get("level", ""))


def geocode(client: webmap.Client, *, addresses: Sequence[str], city: str | None = None) -> pd.DataFrame:
    """Each address's position (WGS-84), level and precision, one request per distinct address.

    Parameters
    ----------
    client : webmap.Client
        From :func:`servicecircle.webmap.make_client`.
    addresses : sequence of str
        The addresses, in the order of the rows they come from.
    city : str, optional
        City or district sent with every address (AMap ``city``, Baidu ``city``, Tencent: prefixed).

    Returns
    -------
    DataFrame
        One row per address, in order: ``lon``, ``lat`` (WGS-84, NaN when not found), ``level``
        (the service's own text), ``precision`` (:func:`precision_of`).

    Raises
    ------
    InputError
        From :func:`servicecircle.webmap.get_json` (a bad key, quota, retries exhausted).
    """
    distinct = list(dict.fromkeys(addresses))
    found = []
    for address in distinct:
        path, params = _request(client.service, address, city)
        body = webmap.get_json(client, path, params, empty=functools.partial(no_result, client.service))
        found.append(_answer(client.service, body))
    table = pd.DataFrame(found, columns=["lon", "lat", "level"], index=distinct)
    lon, lat = coords.to_wgs84(table["lon"].to_numpy(float), table["lat"].to_numpy(float),
                               webmap.DATUMS[client.service])
    table["lon"], table["lat"] = lon, lat
    table["precision"] = [precision_of(client.service, v) for v in table["level"]]
    return table.loc[list(addresses)].reset_index(drop=True)
