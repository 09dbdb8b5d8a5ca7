"""Chinese web-map coordinates: GCJ-02 (AMap, Tencent) and BD-09 (Baidu) ↔ WGS-84.

Coordinates copied from Chinese web maps are not WGS-84. GCJ-02 is WGS-84
pushed by a deterministic, published obfuscation (the "offset" is a few
hundred metres and varies smoothly); BD-09 is GCJ-02 rotated and shifted
once more. OpenStreetMap, GPS and our walk network are WGS-84, so every input
declares which system it holds and is converted here before it meets them.

Written by hand, deliberately: PROJ/pyproj cannot express the GCJ-02 offset,
and the PyPI packages that implement it (eviltransform, coord-convert,
coordTransform) are scalar, per-point Python with a one-step inverse good to
1–2 m, and are not maintained by the field. The forward formulas are the
published ones (see googollee/eviltransform, MIT); here they are vectorised
with numpy and both inverses are solved by fixed-point iteration to < 1 mm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Longitudes or latitudes in degrees: an array, a sequence or one number.
Degrees = np.ndarray | Sequence[float] | float

#: An array of geometries or one geometry: shapely's vectorised functions give back the same kind.
_Geometries = TypeVar("_Geometries", np.ndarray, BaseGeometry)

#: The coordinate systems an input may declare.
SYSTEMS = ("wgs84", "gcj02", "bd09")

#: The CRS of WGS-84 degrees, which every frame between the stages is in unless it says otherwise.
WGS84 = "EPSG:4326"

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formulas.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def in_china(lon: Degrees, lat: Degrees) -> np.ndarray:
    """Rough mainland-China box inside which GCJ-02 applies (outside, GCJ-02 = WGS-84)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (degrees) at WGS-84 (lon, lat)."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: Degrees, lat: Degrees) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → GCJ-02 (arrays or scalars of degrees)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], lon: Degrees, lat: Degrees,
            start: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(w) = (lon, lat) by fixed-point iteration w ← w − (forward(w) − target).

    Converges because both offsets vary slowly (their derivative is ~1e-5).
    """
    t_lon, t_lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    w_lon, w_lat = start
    for _ in range(30):
        f_lon, f_lat = forward(w_lon, w_lat)
        e_lon, e_lat = f_lon - t_lon, f_lat - t_lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if np.all(np.abs(e_lon) < 1e-10) and np.all(np.abs(e_lat) < 1e-10):  # ~0.01 mm
            break
    return w_lon, w_lat


def gcj02_to_wgs84(lon: Degrees, lat: Degrees) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS-84, exact to < 1 mm."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(wgs84_to_gcj02, lon, lat, (lon, lat))


def gcj02_to_bd09(lon: Degrees, lat: Degrees) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: Degrees, lat: Degrees) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02: Baidu's published inverse (~0.2 m), refined to < 1 mm."""
    x, y = np.asarray(lon, dtype=float) - 0.0065, np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, lon, lat, (z * np.cos(theta), z * np.sin(theta)))


def _identity(lon: Degrees, lat: Degrees) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


_TO_WGS84 = {"wgs84": _identity, "gcj02": gcj02_to_wgs84,
             "bd09": lambda lon, lat: gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))}
_FROM_WGS84 = {"wgs84": _identity, "gcj02": wgs84_to_gcj02,
               "bd09": lambda lon, lat: gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))}


def _converter(table: dict, system: str) -> Callable[[Degrees, Degrees], tuple[np.ndarray, np.ndarray]]:
    if system not in table:
        raise ValueError(f"unknown coordinate system {system!r} (choose {', '.join(SYSTEMS)})")
    return table[system]


def to_wgs84(lon: Degrees, lat: Degrees, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert degrees held in ``system`` ("wgs84", "gcj02" or "bd09") to WGS-84."""
    return _converter(_TO_WGS84, system)(lon, lat)


def from_wgs84(lon: Degrees, lat: Degrees, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 degrees to ``system`` (e.g. to draw on GCJ-02 tiles)."""
    return _converter(_FROM_WGS84, system)(lon, lat)


def geometry_to_wgs84(geometry: _Geometries, system: str) -> _Geometries:
    """Shapely geometries (array or single) in ``system`` degrees → WGS-84 degrees."""
    if system == "wgs84":
        return geometry

    def move(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(to_wgs84(coords[:, 0], coords[:, 1], system))

    return shapely.transform(geometry, move)


def utm_crs(lon: Degrees, lat: Degrees) -> str:
    """The WGS-84 UTM zone (``EPSG:326zz`` north, ``327zz`` south) of the mean of the points
    (give a bounding box's corners for its centre, as ``estimate_utm_crs`` does).

    The zone number is arithmetic (6° zones from 180° W); asking pyproj's
    database instead (``estimate_utm_crs``) costs half a second per call. The
    Norway and Svalbard exceptions do not reach China, the only place the
    coordinates of this tool come from.
    """
    lon, lat = float(np.mean(lon)), float(np.mean(lat))
    zone = int(np.clip(np.floor((lon + 180.0) / 6.0) + 1, 1, 60))
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
