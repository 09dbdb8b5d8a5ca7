"""Siting: where the next elder-care centre, canteen or nursery covers the most uncovered residents.

Existing facilities stay. Candidates are walkable network locations on a
regular spacing, or the user's own candidate file (vacant buildings, 闲置用房,
parcels), less any exclusion polygons. A candidate *covers* a residential
origin when the walk between them is within the category's coverage
threshold; coverage sets are kept as one sparse candidate × origin matrix.

* :func:`greedy` — lazy-greedy maximum coverage (Minoux's accelerated greedy:
  stale gains only ever fall, so a candidate whose recomputed gain still tops
  the heap is the true best); within (1 − 1/e) of optimal.
* :func:`exact` — the maximum-coverage MILP solved by HiGHS through
  ``scipy.optimize.milp`` (no external solver), for instances small enough,
  so the report can say how far greedy is from optimal.
* :class:`WhatIf` — add one site and re-score only what it reaches.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from . import access, arrays, communities, grid, inputs
from .config import Config
from .coords import WGS84, gcj02_to_bd09, wgs84_to_gcj02
from .errors import InputError
from .network import WalkNetwork, points_along_edges, snap_points
from .population import group_column
from .results import RunResult

# --------------------------------------------------------------------------- candidates

def network_candidates(net: WalkNetwork, spacing_m: float,
                       area: shapely.Polygon | shapely.MultiPolygon | None = None) -> gpd.GeoDataFrame:
    """Candidate sites every ``spacing_m`` along every walkable edge (inside ``area``, WGS-84, if given)."""
    edge, step, _, pts = points_along_edges(net, spacing_m, np.floor)
    pts = gpd.GeoSeries(pts, crs=net.crs)
    out = gpd.GeoDataFrame({"candidate_id": [f"net/{e}/{s}" for e, s in zip(edge, step)], "source": "network"},
                           geometry=pts.to_crs(WGS84).values, crs=WGS84)
    if area is not None:
        out = out[shapely.contains_xy(area, out.geometry.x.to_numpy(), out.geometry.y.to_numpy())]
    return out.reset_index(drop=True)


def file_candidates(path: str | Path, coord_system: str, report: inputs.InputReport | None = None) -> gpd.GeoDataFrame:
    """Candidate sites from a file of points or polygons (their representative point); names kept."""
    gdf = inputs.read_vector(path, what="candidate file", coord_system=coord_system, report=report)
    name = next((c for c in ("name", "名称", "地址", "address") if c in gdf.columns), None)
    ids = gdf[name].astype(str) if name else gdf["_row"].map(lambda r: f"row {r}")
    return gpd.GeoDataFrame({"candidate_id": [f"file/{r}" for r in gdf["_row"]], "name": ids.to_numpy(),
                             "source": str(path)}, geometry=shapely.point_on_surface(gdf.geometry.values), crs=WGS84)


def exclude(candidates: gpd.GeoDataFrame, path: str | Path, coord_system: str) -> gpd.GeoDataFrame:
    """Drop candidates inside any exclusion polygon (parks, water, protected land …)."""
    zones = inputs.read_vector(path, what="exclusion file", coord_system=coord_system, polygons=True)
    if len(zones) == 0:
        return candidates
    hit, _ = zones.sindex.query(candidates.geometry.values, predicate="within")
    keep = np.ones(len(candidates), bool)
    keep[arrays.unique(hit)] = False
    return candidates[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- coverage sets

# --------------------------------------------------------------------------- solvers

@dataclass
class Solution:
    """Chosen candidates in order, each one's marginal weight, and the covered weight after each."""

    chosen: list[int]
    marginal: list[float]
    covered: list[float]
    total_weight: float
    base_covered: float
    seconds: float = 0.0
    method: str = "greedy"
    optimal: bool | None = None

    @property
    def curve(self) -> pd.DataFrame:
        """k → covered share (k = 0 is the existing facilities alone)."""
        shares = [(self.base_covered + c) / self.total_weight if self.total_weight > 0 else np.nan
                  for c in [0.0] + list(np.cumsum(self.marginal))]
        return pd.DataFrame({"k": np.arange(len(shares)), "covered_share": shares})


def greedy(cover: sp.csr_matrix, weight: np.ndarray, k: int | None = None, target_weight: float | None = None,
           base_covered: float = 0.0) -> Solution:
    """Lazy-greedy maximum coverage.

    Parameters
    ----------
    cover : sparse (candidates × demand)
        Non-zero where a candidate covers a demand point.
    weight : ndarray
        Demand weights still uncovered (0 for demand already covered).
    k : int, optional
        Number of sites; or
    target_weight : float, optional
        Stop as soon as this much weight is covered (fewest sites).
    """
    t0 = time.perf_counter()
    cover = (cover != 0).astype(np.float64).tocsr()
    remaining = np.asarray(weight, dtype=np.float64).copy()
    gains = cover @ remaining
    heap = [(-g, j) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    marginal: list[float] = []
    covered: list[float] = []
    total = 0.0
    limit = k if k is not None else cover.shape[0]
    while heap and len(chosen) < limit and (target_weight is None or total < target_weight - 1e-9):
        neg, j = heapq.heappop(heap)
        cols = cover.indices[cover.indptr[j]:cover.indptr[j + 1]]
        gain = float(remaining[cols].sum())
        if gain <= 0:
            continue
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, j))  # stale: put back with its true gain
            continue
        chosen.append(int(j))
        marginal.append(gain)
        total += gain
        covered.append(total)
        remaining[cols] = 0.0
    return Solution(chosen, marginal, covered, float(np.sum(weight)) + base_covered, base_covered,
                    time.perf_counter() - t0)


def exact(cover: sp.csr_matrix, weight: np.ndarray, k: int, time_limit_s: float = 60.0,
          base_covered: float = 0.0) -> Solution:
    """Maximum coverage with ``k`` sites as a MILP (HiGHS via ``scipy.optimize.milp``).

    max Σ w_i y_i  s.t.  y_i ≤ Σ_{j covers i} x_j,  Σ x_j ≤ k,  x binary, 0 ≤ y ≤ 1.
    (y may be continuous: for binary x an optimal y is 0/1 anyway.)
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0 = time.perf_counter()
    cover = (cover != 0).astype(np.float64).tocsc()
    weight = np.asarray(weight, dtype=np.float64)
    demand = np.flatnonzero((weight > 0) & (np.diff(cover.indptr) > 0))
    n_c, n_d = cover.shape[0], len(demand)
    c = np.r_[np.zeros(n_c), -weight[demand]]
    sub = cover[:, demand].T.tocsr()  # demand × candidates
    a_cover = sp.hstack([-sub, sp.identity(n_d, format="csr")]).tocsr()  # y_i − Σ x_j ≤ 0
    a_k = sp.csr_matrix(np.r_[np.ones(n_c), np.zeros(n_d)][None, :])
    constraints = [LinearConstraint(a_cover, -np.inf, 0.0), LinearConstraint(a_k, 0, k)]
    integrality = np.r_[np.ones(n_c), np.zeros(n_d)]
    res = milp(c, constraints=constraints, integrality=integrality, bounds=Bounds(0, 1),
               options={"time_limit": time_limit_s, "disp": False})
    if res.x is None:
        raise RuntimeError(f"MILP found no solution: {res.message}")
    x = res.x[:n_c] > 0.5
    chosen = list(np.flatnonzero(x))
    # Report in greedy order of marginal gains so the curve reads the same way.
    remaining = weight.copy()
    cover_r = cover.tocsr()
    marginal = []
    order = []
    pool = set(chosen)
    while pool:
        best = max(pool, key=lambda j: (remaining[cover_r.indices[cover_r.indptr[j]:cover_r.indptr[j + 1]]].sum(), -j))
        cols = cover_r.indices[cover_r.indptr[best]:cover_r.indptr[best + 1]]
        marginal.append(float(remaining[cols].sum()))
        remaining[cols] = 0.0
        order.append(int(best))
        pool.remove(best)
    sol = Solution(order, marginal, list(np.cumsum(marginal)), float(weight.sum()) + base_covered, base_covered,
                   time.perf_counter() - t0, "milp", optimal=res.status == 0)
    return sol


# --------------------------------------------------------------------------- a siting run

@dataclass
class SitingResult:
    category: str
    weight_column: str
    solution: Solution
    sites: gpd.GeoDataFrame
    curve: pd.DataFrame
    communities: pd.DataFrame
    service_areas: gpd.GeoDataFrame
    exact: Solution | None = None
    info: dict = field(default_factory=dict)


def weight_column(origins: pd.DataFrame, weight: str) -> str:
    """The origins column used as demand: ``residents``, or an age group (falls back to residents)."""
    return "residents" if weight in ("residents", "all") else group_column(origins, weight)[0]


#: The age groups a siting weight names, and the category demand groups it agrees with.
_WEIGHT_GROUPS = {"60plus": {"60plus"}, "young": {"young", "0_3", "0_4"}, "0_3": {"young", "0_3"},
                  "0_4": {"young", "0_4"}}


def check_weight(category: str, demand_group: str, weight: str) -> None:
    """Refuse a demand weight that makes no sense for the category (children for a canteen, 60+ for a nursery).

    All residents always make sense; an age group only for a category serving that group, or one
    serving everybody (``demand_group = "all"``).
    """
    if weight in ("residents", "all"):
        return
    if weight not in _WEIGHT_GROUPS:
        raise InputError(key="error.weight_unknown", weight=repr(weight))
    if demand_group != "all" and demand_group not in _WEIGHT_GROUPS[weight]:
        raise InputError(key="error.weight_not_served", weight=weight, category=category, group=demand_group)


def _coverage_steps(result: RunResult, category: str, weight_col: str, times_s: np.ndarray, cover: sp.csr_matrix,
                    chosen: list[int], speed_m_s: float, limit_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Covered shares after each chosen site, counted as the run counts them, and when each origin joined.

    The run calls a cell covered when the residents' median walk of its origins is within the
    threshold (:func:`servicecircle.grid.build_cells`); the shares here follow that rule, so the
    share before any site is the run's own. Each step re-scores only the cells whose origins the
    site brings closer (one grouped median over them).

    Returns
    -------
    shares : ndarray, (len(chosen) + 1,)
        Share of ``weight_col`` in covered cells before and after each site.
    joined : ndarray of int
        Per origin, the 1-based step whose site first brings it within the threshold (0: never, or
        within already).
    """
    cells = result.cells
    origin_cell = pd.Index(cells["h3"]).get_indexer(result.origins["h3"])
    weight = cells[weight_col if weight_col in cells else "residents"].fillna(0).to_numpy(float)
    total = weight.sum()
    cell_time = cells[f"walk_time_s_{category}"].to_numpy(float).copy()
    residents = result.origins["residents"].to_numpy(float)
    order = np.argsort(origin_cell, kind="stable")
    bounds = np.searchsorted(origin_cell[order], np.arange(len(cells) + 1))
    t = np.asarray(times_s, dtype=float).copy()
    joined = np.zeros(len(t), np.int64)

    def share() -> float:
        return float(weight[cell_time <= limit_s].sum() / total) if total > 0 else np.nan

    shares = [share()]
    for step, j in enumerate(chosen, start=1):  # a loop over the few chosen sites, each step vectorised
        row = cover.getrow(j)
        new_t = row.data / speed_m_s
        better = new_t < t[row.indices]
        reached, new_t = row.indices[better], new_t[better]
        joined[reached[(t[reached] > limit_s) & (new_t <= limit_s)]] = step
        t[reached] = new_t
        touched = arrays.unique(origin_cell[reached])
        counts = bounds[touched + 1] - bounds[touched]
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        members = order[np.repeat(bounds[touched], counts) + offsets]
        medians = grid.weighted_median(origin_cell[members], t[members], residents[members])
        cell_time[medians.index.to_numpy(dtype=np.int64)] = medians.to_numpy()
        shares.append(share())
    return np.asarray(shares), joined


def _greedy_counted_by_cells(cover: sp.csr_matrix, demand: np.ndarray, k: int | None, target: float | None,
                             target_weight: float | None, base: float, total: float,
                             steps: Callable[[Solution], tuple[np.ndarray, np.ndarray]]
                             ) -> tuple[Solution, np.ndarray, np.ndarray]:
    """The greedy's sites with the run's covered shares after each (``steps``: :func:`_coverage_steps`).

    The greedy counts origins; the run counts cells (their median walk). With a ``target`` share,
    stop at the first site where the cells reach it, going on along the same greedy order if the
    origins got there first.
    """
    sol = greedy(cover, demand, k=k, target_weight=target_weight, base_covered=base)
    shares, joined = steps(sol)
    if target is None:
        return sol, shares, joined
    if shares[-1] < target:
        sol = greedy(cover, demand, target_weight=max(0.0, total - base), base_covered=base)
        shares, joined = steps(sol)
    reached = np.flatnonzero(shares >= target)
    n = int(reached[0]) if len(reached) else len(sol.chosen)
    sol = replace(sol, chosen=sol.chosen[:n], marginal=sol.marginal[:n], covered=sol.covered[:n])
    return sol, shares[:n + 1], np.where(joined <= n, joined, 0)


def _where(sites: gpd.GeoDataFrame, result: RunResult, roads: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Each site's community and street, and its nearest named road with the distance to it (metres)."""
    out = pd.DataFrame(index=range(len(sites)))
    comms = result.communities.to_crs(WGS84).reset_index(drop=True)
    site_idx, comm_idx = comms.sindex.query(sites.geometry.values, predicate="intersects")
    first = pd.Series(comm_idx).groupby(site_idx).min() if len(site_idx) else pd.Series(dtype=np.int64)
    out["community"] = ""
    out["street"] = ""
    if len(first):
        unit = comms.iloc[first.to_numpy()]
        out.loc[first.index, "community"] = unit["name"].fillna("").astype(str).to_numpy()
        if "street_name" in unit:
            out.loc[first.index, "street"] = unit["street_name"].fillna("").astype(str).to_numpy()
    out["nearest_road"] = ""
    out["nearest_road_m"] = np.nan
    if roads is not None and len(roads) and len(sites):
        crs = result.network.crs
        lines = roads.to_crs(crs)
        pts = sites.to_crs(crs).geometry.values
        (site_i, road_i), dist = lines.sindex.nearest(pts, return_distance=True, return_all=False)
        out.loc[site_i, "nearest_road"] = lines["name"].iloc[road_i].to_numpy()
        out.loc[site_i, "nearest_road_m"] = np.round(dist, 1)
    return out


# Long on purpose: candidates, coverage sets, the greedy, the exact bound and the tables it returns share
# one set of arrays, built once.
def site(
    result: RunResult,
    category: str,
    *,
    k: int | None = None,
    target: float | None = None,
    weight: str = "residents",
    candidates: gpd.GeoDataFrame | None = None,
    spacing_m: float = 100.0,
    exact_limit: int = 3000,
    service_areas: bool = True,
    roads: gpd.GeoDataFrame | None = None,
) -> SitingResult:
    """Recommend new sites for ``category`` on top of a finished run (:class:`~servicecircle.results.RunResult`).

    Parameters
    ----------
    k, target : int or float
        Add ``k`` sites, or the fewest sites reaching ``target`` covered share of the demand weight.
    weight : str
        Demand: ``residents``, ``60plus`` or ``young`` (0–3, else 0–4 years).
    candidates : GeoDataFrame, optional
        WGS-84 candidate points (:func:`file_candidates`); default every ``spacing_m`` along the network.
    roads : GeoDataFrame, optional
        Named roads (WGS-84 lines with ``name``, :func:`servicecircle.network.named_roads`): each
        site's nearest is named.
    exact_limit : int
        Also solve the MILP when candidates × demand points with weight stay below
        ``exact_limit`` × 1,000, to report greedy's distance from optimal.
    """
    config: Config = result.config
    if category not in config.categories:
        raise InputError(key="error.unknown_category_have", category=repr(category), have=", ".join(config.categories))
    check_weight(category, config.categories[category].demand_group, weight)
    if (k is None) == (target is None):
        raise InputError(key="error.site_add_or_target")
    net = result.network
    cat = config.categories[category]
    limit_m = config.access.coverage_threshold_min * 60 * cat.speed_m_s
    col = weight_column(result.origins, weight)
    origins = result.origins
    w_all = origins[col].to_numpy(float)
    times = result.origin_times[f"walk_time_s_{category}"].to_numpy(float)
    covered_before = times <= config.access.coverage_threshold_min * 60
    if candidates is None:
        candidates = network_candidates(net, spacing_m, result.area)
    if len(candidates) == 0:
        raise InputError(key="error.no_candidate_sites")
    cand = candidates.assign(category=category, counted=True)
    snap = snap_points(net, shapely.get_coordinates(cand.geometry.to_crs(net.crs).values))
    cand = cand.assign(snap_edge=snap.edge, snap_along_m=snap.along_m, snap_offset_m=snap.offset_m,
                       off_network=snap.offset_m > config.network.max_snap_m)
    cand = cand[~cand["off_network"]].reset_index(drop=True)
    graph = access.build_access_graph(net, cand)
    origin_snap = access.origin_snap(origins, net)
    t0 = time.perf_counter()
    cover = access.origin_catchments(graph, np.arange(len(cand)), origin_snap, limit_m)
    build_s = time.perf_counter() - t0
    demand = np.where(covered_before, 0.0, w_all)
    base = float(w_all[covered_before].sum())
    total = float(w_all.sum())
    target_weight = None if target is None else max(0.0, target * total - base)
    limit_s = config.access.coverage_threshold_min * 60

    def steps(sol: Solution) -> tuple[np.ndarray, np.ndarray]:
        return _coverage_steps(result, category, col, times, cover, sol.chosen, cat.speed_m_s, limit_s)

    sol, shares, joined = _greedy_counted_by_cells(cover, demand, k, target, target_weight, base, total, steps)
    best_exact = None
    active = int(((cover != 0) @ (demand > 0)).astype(bool).sum()) if len(cand) else 0
    if k is not None and len(cand) * max(1, int((demand > 0).sum())) <= exact_limit * 1000 and active:
        try:
            best_exact = exact(cover, demand, k, base_covered=base)
        except RuntimeError:  # no incumbent within the time limit: greedy stands alone
            best_exact = None

    # Sites, in the order chosen: where they are in every datum a planner's tools use, what they add.
    chosen = cand.iloc[sol.chosen]
    lon, lat = chosen.geometry.x.to_numpy(), chosen.geometry.y.to_numpy()
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    bd_lon, bd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
    sites = gpd.GeoDataFrame({
        "rank": np.arange(1, len(chosen) + 1), "candidate_id": chosen["candidate_id"].to_numpy(),
        "name": chosen["name"].to_numpy() if "name" in chosen else "", "category": category,
        "lon": np.round(lon, 7), "lat": np.round(lat, 7),
        "lon_gcj02": np.round(gcj_lon, 7), "lat_gcj02": np.round(gcj_lat, 7),
        "lon_bd09": np.round(bd_lon, 7), "lat_bd09": np.round(bd_lat, 7),
    }, geometry=chosen.geometry.to_numpy(), crs=WGS84)
    sites = pd.concat([sites, _where(sites, result, roads)], axis=1)
    # What each site brings within the threshold (origins no earlier site or facility reached), per group.
    for group_col in ["residents"] + [c for c in origins.columns if c.startswith("residents_")]:
        added = np.bincount(joined, weights=origins[group_col].to_numpy(float), minlength=len(chosen) + 1)[1:]
        sites[f"new_{group_col}_covered"] = np.round(added, 3)
    sites["covered_share_after"] = shares[1:]

    # Before/after per community, with the same cell rules as the main run.
    new_d = np.full(len(origins), np.inf)
    if sol.chosen:
        sub = cover[sol.chosen].tocoo()  # per reached origin, the nearest chosen site
        np.minimum.at(new_d, sub.col, sub.data)
    after_times = result.origin_times.copy()
    after_times[f"walk_time_s_{category}"] = np.minimum(times, new_d / cat.speed_m_s)
    cells_after = grid.build_cells(origins, after_times, categories=config.categories,
                                  coverage_threshold_min=config.access.coverage_threshold_min)
    comm_after = communities.aggregate(result.communities[["community_id", "name", "code", "geometry"]], origins,
                                       cells_after, result.facilities, config.categories,
                                       unit_of_origin=result.unit_of_origin["community"])
    share_col = f"covered_share_{category}" + ("" if col == "residents" else "_" + col.removeprefix("residents_"))
    before = result.communities.set_index("community_id")[share_col]
    table = pd.DataFrame({"community_id": comm_after["community_id"], "name": comm_after["name"],
                          "covered_share_before": comm_after["community_id"].map(before).to_numpy(),
                          "covered_share_after": comm_after[share_col].to_numpy()})
    table["change"] = table["covered_share_after"] - table["covered_share_before"]
    table = table.sort_values(["change", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)

    areas = gpd.GeoDataFrame(
        columns=["facility_id", "category", "minutes", "geometry"], geometry="geometry", crs=net.crs
    )
    if service_areas and sol.chosen:
        proposed = cand.iloc[sol.chosen].assign(facility_id=[f"proposed/{r}" for r in range(1, len(sol.chosen) + 1)])
        areas = access.facility_service_areas(access.build_access_graph(net, proposed.reset_index(drop=True)),
                                              categories=config.categories, settings=config.access)
    info = {
        "candidates": int(len(cand)),
        "demand_points": int((demand > 0).sum()),
        "coverage_build_s": round(build_s, 3),
        "greedy_s": round(sol.seconds, 4),
        "limit_m": limit_m,
        "weight": col,
        "covered_share_before": float(shares[0]) if total > 0 else None,
        "covered_share_after": float(shares[-1]) if total > 0 else None,
    }
    if best_exact is not None:
        opt = sum(best_exact.marginal)
        info.update(exact_covered=opt, greedy_covered=float(sum(sol.marginal)), exact_s=round(best_exact.seconds, 3),
                    greedy_over_optimal=(float(sum(sol.marginal)) / opt) if opt > 0 else 1.0,
                    exact_optimal=best_exact.optimal)
    curve = pd.DataFrame({"k": np.arange(len(shares)), "covered_share": shares})
    return SitingResult(category, col, sol, sites, curve, table, areas, best_exact, info)


# --------------------------------------------------------------------------- what-if

class WhatIf:
    """Add one site and re-score only what it reaches (≤ 100 ms on the Chengdu sample).

    Built once from a finished run; :meth:`add` then costs one distance-limited
    Dijkstra from the new site and a re-score of the cells whose origins it
    reaches.
    """

    def __init__(self, result: RunResult, category: str, weight: str = "residents"):
        self.result, self.category = result, category
        config, net = result.config, result.network
        self.cat = config.categories[category]
        self.limit_s = config.access.coverage_threshold_min * 60
        self.limit_m = self.limit_s * self.cat.speed_m_s
        self.col = weight_column(result.origins, weight)
        self.weight = result.origins[self.col].to_numpy(float)
        self.residents = result.origins["residents"].to_numpy(float)
        self.snap = access.origin_snap(result.origins, net)
        self.times = result.origin_times[f"walk_time_s_{category}"].to_numpy(float).copy()
        self.cells = result.origins["h3"].to_numpy()
        self.base = net.csgraph(n_extra=1)  # the network with one free slot for the new site
        self.cell_time = result.cells.set_index("h3")[f"walk_time_s_{category}"].copy()
        self.origin_of_cell = pd.Series(np.arange(len(self.cells))).groupby(self.cells).indices

    def covered_share(self) -> float:
        cells = self.result.cells.set_index("h3")
        res = cells[self.col] if self.col in cells else cells["residents"]
        return float((res * (self.cell_time <= self.limit_s)).sum() / res.sum())

    def add(self, lon: float, lat: float) -> dict:
        """Add a site at WGS-84 (lon, lat); keep it; return what changed."""
        net = self.result.network
        xy = shapely.get_coordinates(gpd.GeoSeries([shapely.Point(lon, lat)], crs=WGS84).to_crs(net.crs).values)
        s = snap_points(net, xy)
        e = int(s.edge[0])
        to_u, to_v = s.node_distances(net)
        n = net.n_nodes
        m = self.base
        extra = sp.csr_matrix(([to_u[0], to_v[0], to_u[0], to_v[0]],
                               ([n, n, net.edge_u[e], net.edge_v[e]], [net.edge_u[e], net.edge_v[e], n, n])),
                              shape=m.shape)
        m = m + extra
        d = dijkstra(m, directed=False, indices=n, limit=self.limit_m)[:n]
        # The origins walk to the new site as to any facility, the same-edge rule included.
        site = pd.DataFrame({"snap_edge": s.edge, "snap_along_m": s.along_m, "snap_offset_m": s.offset_m})
        via, _ = access.point_distances(net, self.snap, d, facilities=site)
        new_t = via / self.cat.speed_m_s
        better = new_t < self.times
        newly = better & (self.times > self.limit_s) & (new_t <= self.limit_s)
        self.times = np.where(better, new_t, self.times)
        touched = np.unique(self.cells[better])
        before = (self.cell_time.loc[touched] <= self.limit_s).copy() if len(touched) else pd.Series(dtype=bool)
        if len(touched):  # re-score only the cells the new site reaches, in one grouped pass
            idx = np.concatenate([self.origin_of_cell[c] for c in touched])
            medians = grid.weighted_median(self.cells[idx], self.times[idx], self.residents[idx])
            self.cell_time.loc[medians.index] = medians.to_numpy()
        after = self.cell_time.loc[touched] <= self.limit_s if len(touched) else pd.Series(dtype=bool)
        return {"newly_covered_weight": float(self.weight[newly].sum()), "cells_rescored": int(len(touched)),
                "cells_newly_covered": int((after & ~before).sum()), "covered_share": self.covered_share()}


# --------------------------------------------------------------------------- capacity plan

@dataclass
class CapacityPlan:
    """Where added beds or places serve the most unmet demand (:func:`capacity_plan`).

    ``facilities``: per existing facility with a known capacity, the demand within its reach, its
    capacity per 1,000 of it, and ``to_add``, its share of the unmet need. ``communities``: per
    community, the need no facility with a known capacity reaches (new sites are needed there, not
    more places). ``info``: the standard and the totals.
    """

    category: str
    capacity: str
    facilities: pd.DataFrame
    communities: pd.DataFrame
    info: dict = field(default_factory=dict)


def capacity_goal(config: Config, category: str) -> tuple[float, str, str] | None:
    """(target per 1,000, population group, goal key) of the category's first ``capacity_per_1000`` goal."""
    capacity = config.categories[category].capacity
    for goal in config.goals:
        if goal.enabled and goal.metric == "capacity_per_1000" and category in goal.categories \
                and goal.capacity == capacity:
            return goal.target, goal.group, goal.key
    return None


def capacity_plan(result: RunResult, category: str, *, per_1000: float | None = None,
                  group: str | None = None) -> CapacityPlan:
    """Where added capacity (beds, places, meals) serves the most unmet demand.

    The standard is ``per_1000`` of ``group`` (default: the category's ``capacity_per_1000`` goal,
    e.g. 4.5 nursery places per 1,000 residents). Capacity is shared out as in the run's 2SFCA (the
    same walk limit and decay): each origin k gets ``A_k`` per person within reach, and its unmet
    need is ``max(0, per_1000 / 1000 − A_k) × P_k``. That need is split among the facilities that
    reach k in proportion to their decay weights (as step 1 of the 2SFCA splits demand), so the
    facilities' ``to_add`` plus the need no facility reaches add up to the whole unmet need.
    Raising each facility by its ``to_add`` lifts its own catchment towards the standard; the
    unreached need calls for new sites (:func:`site`).
    """
    config: Config = result.config
    if category not in config.categories:
        raise InputError(key="error.unknown_category_have", category=repr(category), have=", ".join(config.categories))
    cat = config.categories[category]
    if cat.capacity is None:
        raise InputError(key="error.no_capacity_field", category=category)
    goal = capacity_goal(config, category)
    if per_1000 is None:
        if goal is None:
            raise InputError(key="error.no_capacity_goal", category=category, capacity=cat.capacity)
        per_1000, goal_group, _ = goal
        group = group or goal_group
    group = group or "all"
    facs = result.facilities
    facs = facs[(facs["category"] == category) & facs["counted"] & ~facs["off_network"]].reset_index(drop=True)
    cap = (pd.to_numeric(facs[cat.capacity], errors="coerce").to_numpy(float) if cat.capacity in facs
           else np.full(len(facs), np.nan))
    known = np.isfinite(cap)
    if not known.any():
        raise InputError(key="error.no_known_capacity", category=category, capacity=cat.capacity)
    facs, cap = facs[known].reset_index(drop=True), cap[known]
    origins = result.origins
    demand_col, who = group_column(origins, group)
    demand = origins[demand_col].to_numpy(float)
    settings = config.access
    steps = settings.step_weights if settings.decay == "stepped" else None
    limit_m = settings.coverage_threshold_min * 60 * cat.speed_m_s
    graph = access.build_access_graph(result.network, facs)
    walk = access.origin_catchments(graph, np.arange(len(facs)), access.origin_snap(origins, result.network), limit_m)
    walk.data = walk.data / cat.speed_m_s
    ratio, per_person = access.two_step_fca(walk, cap, demand, settings.thresholds_min, steps)
    weights = walk.copy()
    weights.data = access.decay_weights(weights.data, settings.thresholds_min, steps)
    weights.eliminate_zeros()
    need = np.maximum(0.0, per_1000 / 1000.0 - per_person) * demand
    reach_weight = np.asarray(weights.sum(axis=0)).ravel()
    reached = reach_weight > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        split = np.where(reached, need / reach_weight, 0.0)
    to_add = weights @ split
    within = weights @ demand
    table = pd.DataFrame({
        "facility_id": facs["facility_id"].to_numpy(), "name": facs["name"].fillna("").astype(str).to_numpy(),
        cat.capacity: cap, f"{demand_col}_within_reach": np.round(within, 1),
        "per_1000_now": np.round(np.where(np.isfinite(ratio), ratio * 1000.0, np.nan), 2),
        "to_add": np.ceil(np.round(to_add, 6)).astype(np.int64),
    })
    table = table.sort_values(["to_add", "facility_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    unit = result.unit_of_origin.get("community") if isinstance(result.unit_of_origin, dict) else None
    comms = pd.DataFrame(columns=["community_id", "name", "need_unreached"])
    if unit is not None and (~reached).any():
        unit = np.asarray(unit)
        mask = ~reached & (unit >= 0) & (need > 0)
        sums = pd.Series(need[mask]).groupby(unit[mask]).sum()
        names = result.communities.set_index("community_id")["name"]
        comms = pd.DataFrame({"community_id": sums.index.to_numpy(), "name": names.reindex(sums.index).to_numpy(),
                              "need_unreached": np.round(sums.to_numpy(), 1)})
        comms = comms.sort_values(["need_unreached", "community_id"], ascending=[False, True],
                                  kind="stable").reset_index(drop=True)
    total_demand = float(demand.sum())
    info = {
        "per_1000": float(per_1000), "group": group, "demand": demand_col, "demand_label": who,
        "capacity_now": float(cap.sum()), "facilities": int(len(facs)),
        "district_shortfall": max(0.0, per_1000 * total_demand / 1000.0 - float(cap.sum())),
        "need_total": float(need.sum()), "need_reached": float(need[reached].sum()),
        "need_unreached": float(need[~reached].sum()), "to_add_total": int(table["to_add"].sum()),
    }
    return CapacityPlan(category, cat.capacity, table, comms, info)
