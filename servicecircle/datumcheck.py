"""Which coordinate system a registry really holds: evidence that is sharp at the right alignment.

A registry declares ``coord_system`` (wgs84, gcj02 or bd09). Read under each
of the three hypotheses, its points land in three places a few hundred metres
apart. The distance to the nearest street cannot tell them apart (in a dense
street grid a 500 m shift lands as near a street as none), but two things can:

``community`` / ``street``
    a row naming its 社区 or 街道 should fall inside the polygon of that name;
``parcel``
    a facility sits on its parcel: inside an OSM building or a residential
    (or other built-up landuse) polygon, not on a road.

How often that happens by chance is measured at control positions: the
hypothesis' position moved by the vectors to the other hypotheses' positions
rotated to ten other bearings (30° … 330°, not 0° or 180°) — displacements of
the datum shift's size that no datum produces; controls landing within
:data:`EXCLUDE_M` of any hypothesis are not used. The chance rate of a point
is the higher of the two vectors' (Laplace-smoothed) control rates: chance
falls with distance, and a wrong hypothesis may lie at either distance from
the true one, so the lower would flatter it. Per point and hypothesis, a hit
at the hypothesis against the point's chance rate gives a log-likelihood
ratio of "aligned" versus "chance" (:func:`score`). Advice is given only
when one hypothesis beats every other by :data:`MARGIN` (ln 1000) and beats
chance by as much: "confirmed" when it is the declared one,
"switch" otherwise; anything less is "cannot_tell", never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from . import coords
from .registries import normalise_name

#: The log-likelihood margin one hypothesis needs over every other, and over chance (odds 1000 : 1).
MARGIN = float(np.log(1000.0))

#: Points with evidence needed before any verdict but "cannot_tell".
MIN_POINTS = 5

#: Bearings (degrees) the offset vectors are rotated to for the control positions (never 0° or 180°,
#: which would land on another hypothesis).
ROTATIONS = (30.0, 60.0, 90.0, 120.0, 150.0, 210.0, 240.0, 270.0, 300.0, 330.0)

#: Controls closer than this (m) to any hypothesis' position are not used (they would measure alignment).
EXCLUDE_M = 200.0

#: OSM tags whose polygons are parcels a facility sits on.
PARCEL_LANDUSE = ("residential", "commercial", "retail", "education", "institutional", "religious")
PARCEL_AMENITY = ("social_facility", "nursing_home", "kindergarten", "childcare", "hospital", "clinic", "school",
                  "community_centre", "restaurant", "doctors")

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0


@dataclass
class Evidence:
    """What the points of a registry can be checked against (WGS-84 polygons)."""

    #: OSM buildings and built-up landuse polygons.
    parcels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    #: unit kind ("community", "street") → (names, polygons).
    units: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def parcels_from_features(features: gpd.GeoDataFrame | None) -> np.ndarray:
    """The polygons of OSM buildings, built-up landuse and facility grounds among ``features``."""
    if features is None or not len(features):
        return np.empty(0, dtype=object)
    polygonal = features.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    tags = features["tags"].to_numpy(dtype=object)
    wanted = np.fromiter(((t.get("building", "no") != "no") or t.get("landuse") in PARCEL_LANDUSE
                          or t.get("amenity") in PARCEL_AMENITY for t in tags), dtype=bool, count=len(tags))
    return features.geometry.to_numpy()[polygonal & wanted]


def evidence_for_run(features: gpd.GeoDataFrame | None, communities: gpd.GeoDataFrame | None,
                     streets: gpd.GeoDataFrame | None) -> Evidence:
    """The evidence of a run: its OSM parcels and the named polygons of its communities and streets."""
    units = {}
    for kind, frame in (("community", communities), ("street", streets)):
        if frame is not None and len(frame) and "name" in frame.columns:
            units[kind] = (frame["name"].fillna("").astype(str).to_numpy(dtype=object), frame.geometry.to_numpy())
    return Evidence(parcels_from_features(features), units)


def _positions(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(3, n, 2) WGS-84 degrees of the raw points read as each of :data:`coords.SYSTEMS`."""
    return np.stack([np.column_stack(coords.to_wgs84(lon, lat, h)) for h in coords.SYSTEMS])


def _controls(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Control positions (3, 2, r, n, 2) around each hypothesis, by the other hypothesis whose offset vector is
    rotated and by rotation, and whether each may be used (3, 2, r, n)."""
    lat0 = np.deg2rad(np.nanmean(pos[..., 1])) if pos.size else 0.0
    scale = np.array([_M_PER_DEG_LON * np.cos(lat0), _M_PER_DEG_LAT])
    metres = pos * scale
    out, ok = [], []
    angles = np.deg2rad(np.asarray(ROTATIONS))
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    for h in range(3):
        mine = []
        for g in range(3):
            if g == h:
                continue
            v = metres[g] - metres[h]  # (n, 2)
            rx = cos * v[:, 0] - sin * v[:, 1]  # (r, n)
            ry = sin * v[:, 0] + cos * v[:, 1]
            mine.append(np.stack([metres[h][:, 0] + rx, metres[h][:, 1] + ry], axis=-1))
        ctrl = np.stack(mine)  # (2, r, n, 2) metres
        near = np.zeros(ctrl.shape[:3], dtype=bool)
        for g in range(3):
            near |= np.hypot(ctrl[..., 0] - metres[g][:, 0], ctrl[..., 1] - metres[g][:, 1]) < EXCLUDE_M
        # Where the hypotheses coincide (outside China) the vectors are ~0: no control is usable.
        out.append(ctrl / scale)
        ok.append(~near)
    return np.stack(out), np.stack(ok)


def _hits_parcels(points: np.ndarray, parcels: np.ndarray) -> np.ndarray:
    """Whether each point (m, 2) lies inside any parcel."""
    hit = np.zeros(len(points), dtype=bool)
    if len(parcels) and len(points):
        idx, _ = shapely.STRtree(parcels).query(shapely.points(points), predicate="within")
        hit[idx] = True
    return hit


def _hits_units(points: np.ndarray, row: np.ndarray, pairs: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Whether point k (m, 2) lies inside a polygon whose name matches its row's name: ``pairs`` holds the
    matching (name, polygon) pairs as ``name * len(polygons) + polygon`` (:func:`_name_match`)."""
    hit = np.zeros(len(points), dtype=bool)
    if len(points):
        pi, gi = shapely.STRtree(polygons).query(shapely.points(points), predicate="within")
        good = np.isin(row[pi] * len(polygons) + gi, pairs)
        hit[pi[good]] = True
    return hit


#: Endings of unit names left out when comparing them (福建路社区居委会, 福建路社区 and 福建路 are one community).
UNIT_SUFFIXES = ("社区居民委员会", "社区居委会", "居民委员会", "街道办事处", "居委会", "街道办", "社区", "街道",
                 "村委会", "镇", "乡")


def unit_key(name: str) -> str:
    """A unit's name without its ending (:data:`UNIT_SUFFIXES`), normalised as registry names are."""
    key = normalise_name(name)
    for suffix in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[:-len(suffix)]
    return key


def _name_match(values: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the index of its normalised value among the unique ones, and the matching unique value ×
    polygon pairs, sorted, as ``value * len(names) + polygon``: the value and the polygon's name match
    (:func:`~servicecircle.registries.names_match`) or are the same name without its ending (:func:`unit_key`).

    The containment rule (the shorter name, of ≥ 4 characters, inside the longer) is answered from indexes of
    the polygon names (by name, by key, by every substring of ≥ 4 characters), so the cost grows with the
    names, not with names × polygons: a city's registry against its thousands of communities.
    """
    keys = np.array([normalise_name(v) for v in values], dtype=str) if len(values) else np.array([], dtype=str)
    unique, inverse = np.unique(keys, return_inverse=True)
    by_name: dict[str, list[int]] = {}
    by_key: dict[str, list[int]] = {}
    containing: dict[str, set[int]] = {}  # substring of ≥ 4 characters → polygons whose name holds it
    for g, name in enumerate(names):
        norm = normalise_name(name)
        if not norm:
            continue
        by_name.setdefault(norm, []).append(g)
        if key := unit_key(norm):
            by_key.setdefault(key, []).append(g)
        for size in range(4, len(norm) + 1):
            for start in range(len(norm) - size + 1):
                containing.setdefault(norm[start:start + size], set()).add(g)
    m = len(names)
    pairs: list[int] = []
    for i, value in enumerate(unique):
        if not value:
            continue
        found = set(by_name.get(value, ())) | set(by_key.get(unit_key(value), ()))
        if len(value) >= 4:
            found |= containing.get(value, set())  # a longer (or equal) polygon name holding the value
            for size in range(4, len(value)):  # a shorter polygon name (≥ 4 characters) inside the value
                for start in range(len(value) - size + 1):
                    found.update(by_name.get(value[start:start + size], ()))
        pairs.extend(i * m + g for g in found)
    return np.asarray(inverse, dtype=np.int64).reshape(-1), np.unique(np.asarray(pairs, dtype=np.int64))


def chance_rate(control_hits: np.ndarray, control_n: np.ndarray) -> np.ndarray:
    """Per point, the higher of the two offset vectors' (axis 0) Laplace-smoothed control rates
    ``(c + 1) / (m + 2)``: never 0 or 1 (with 10 controls a hit where none of them hits counts ln 12 at most)."""
    return np.max((control_hits + 1.0) / (control_n + 2.0), axis=0)


def score(hit: np.ndarray, p: np.ndarray) -> float:
    """Log-likelihood ratio of "aligned" (one hit rate q for all points, fitted) against "chance" (each point's
    chance rate ``p``): positive when the points hit more often than chance, negative when less."""
    n = len(hit)
    if n == 0:
        return 0.0
    k = int(hit.sum())
    q = (k + 0.5) / (n + 1.0)
    llr = float(np.sum(np.where(hit, np.log(q / p), np.log((1 - q) / (1 - p)))))
    return abs(llr) if k / n > p.mean() else -abs(llr)


def check(lon: np.ndarray, lat: np.ndarray, declared: str, evidence: Evidence,
          names: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The verdict on the raw coordinates ``lon``, ``lat`` (degrees as in the file) declared ``declared``.

    ``names`` gives per point the community / street its row names ("" for none), by unit kind.

    Returns
    -------
    dict
        ``verdict`` ("confirmed", "switch", "cannot_tell"), ``declared``, ``suggested`` (the system to
        switch to, else None), ``points`` (points with evidence), ``scores`` (per system),
        ``evidence`` (per kind: points, and per system hits and the mean raw control rate).
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    n = len(lon)
    pos = _positions(lon, lat)
    ctrl, ok = _controls(pos)
    c = ctrl.shape[1] * ctrl.shape[2]
    # Every position of every hypothesis and control, one array: one spatial query per kind of evidence.
    flat = np.concatenate([pos.reshape(-1, 2), ctrl.reshape(-1, 2)])
    row = np.concatenate([np.tile(np.arange(n), 3), np.tile(np.arange(n), 3 * c)])
    kinds: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # kind → (hits of all positions, points with evidence)
    if len(evidence.parcels) and n:
        bounds = shapely.total_bounds(evidence.parcels)
        inside = ((pos[..., 0] >= bounds[0]) & (pos[..., 0] <= bounds[2])
                  & (pos[..., 1] >= bounds[1]) & (pos[..., 1] <= bounds[3])).any(axis=0)
        kinds["parcel"] = (_hits_parcels(flat, evidence.parcels), inside)
    for kind, (unit_names, polygons) in evidence.units.items():
        values = (names or {}).get(kind)
        if values is None or not n:
            continue
        point_name, pairs = _name_match(np.asarray(values, dtype=object), unit_names)
        named = np.zeros(int(point_name.max(initial=-1)) + 1, dtype=bool)
        named[pairs // max(len(unit_names), 1)] = True
        has = named[point_name]
        if has.any():
            kinds[kind] = (_hits_units(flat, point_name[row], pairs, polygons), has)
    scores = dict.fromkeys(coords.SYSTEMS, 0.0)
    detail: dict[str, Any] = {}
    with_evidence = np.zeros(n, dtype=bool)
    for kind, (hits, has) in kinds.items():
        at = hits[:3 * n].reshape(3, n)
        around = hits[3 * n:].reshape(ok.shape) & ok  # (3, 2, r, n)
        control_hits, used = around.sum(axis=2), ok.sum(axis=2)  # (3, 2, n)
        with_evidence |= has
        detail[kind] = {"points": int(has.sum()), "hits": {}, "chance": {}}
        for h, system in enumerate(coords.SYSTEMS):
            chance = chance_rate(control_hits[h][:, has], used[h][:, has])
            scores[system] += score(at[h][has], chance)
            detail[kind]["hits"][system] = int(at[h][has].sum())
            # Shown: the raw control rate (the higher of the two vectors'), not the smoothed one scored.
            raw = np.max(control_hits[h][:, has] / np.maximum(used[h][:, has], 1), axis=0)
            detail[kind]["chance"][system] = round(float(raw.mean()), 3) if has.any() else None
    points = int(with_evidence.sum())
    best = max(coords.SYSTEMS, key=lambda s: scores[s])
    runner_up = max(scores[s] for s in coords.SYSTEMS if s != best)
    decided = points >= MIN_POINTS and scores[best] >= MARGIN and scores[best] - runner_up >= MARGIN
    verdict = "cannot_tell" if not decided else "confirmed" if best == declared else "switch"
    return {"verdict": verdict, "declared": declared, "suggested": best if verdict == "switch" else None,
            "points": points, "min_points": MIN_POINTS, "scores": {s: round(v, 2) for s, v in scores.items()},
            "evidence": detail}


def check_registry(registry: gpd.GeoDataFrame, declared: str, evidence: Evidence) -> dict[str, Any]:
    """:func:`check` on a registry as :func:`servicecircle.registries.read_registry` gives it (WGS-84 points
    converted from ``declared``; the raw coordinates are recovered exactly by the forward conversion)."""
    xy = shapely.get_coordinates(registry.geometry.to_numpy()) if len(registry) else np.zeros((0, 2))
    lon, lat = coords.from_wgs84(xy[:, 0], xy[:, 1], declared)
    names = {kind: registry[kind].fillna("").astype(str).to_numpy(dtype=object)
             for kind in ("community", "street") if kind in registry.columns}
    return check(lon, lat, declared, evidence, names)


def summary_numbers(result: dict[str, Any], system: str) -> tuple[int, int, float]:
    """Hits, trials and mean chance rate over every kind of evidence, for ``system`` (for the texts)."""
    hits = trials = 0
    chance = 0.0
    for d in result["evidence"].values():
        if d["points"]:
            hits += d["hits"][system]
            trials += d["points"]
            chance += (d["chance"][system] or 0.0) * d["points"]
    return hits, trials, chance / trials if trials else 0.0
