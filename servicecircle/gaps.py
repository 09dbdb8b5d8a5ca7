"""Gaps for action: blind spots of each category and the 医养结合 adjacency check.

* A *blind spot* is a connected cluster of populated H3 cells outside every
  15-minute circle of a category (cells joined when they share an edge,
  :func:`h3ronpy.grid_disk`); each is listed with its residents, the residents of
  the category's demand group, the communities holding them, and the walk
  to the nearest facility — how far the circle falls short.
* The *health-centre adjacency* check lists every elder-care facility with
  the walk to the nearest health centre (社区卫生服务中心, clinic, hospital), and
  flags those farther than ``config.gaps.health_max_walk_min``: the 医养结合 plans
  ask for care facilities next to health services.
"""

from __future__ import annotations

import geopandas as gpd
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import connected_components

from . import access, arrays, h3cells, texts
from .communities import GroupSums
from .config import Category, Config, GapSettings
from .coords import WGS84
from .network import Snap
from .population import group_column

BLIND_SPOT_COLUMNS = ["blind_spot_id", "category", "rank", "cells", "residents", "demand_residents", "demand",
                      "nearest_walk_min", "nearest_facility_id", "nearest_facility_name", "communities",
                      "population_fallback"]
ADJACENCY_COLUMNS = ["facility_id", "name", "source", "care_category", "health_category", "walk_min_to_health",
                     "nearest_health_id", "nearest_health_name", "max_walk_min", "checked", "adjacent", "note"]


def walk_minutes_up(seconds: ArrayLike) -> np.ndarray:
    """Walk times in minutes rounded *up* to 0.1 min.

    A blind spot's cells lie beyond the threshold, if only by a second:
    rounded to the nearest tenth, 900.3 s would read "15.0 min" in a list of
    places outside the 15-minute circle. Rounded up it reads 15.1. (The
    1e-9 keeps a time of exactly n tenths, e.g. 906 s, at 15.1, not 15.2.)
    """
    return np.ceil(np.asarray(seconds, dtype=float) / 6.0 - 1e-9) / 10.0


def cell_clusters(cells: ArrayLike) -> np.ndarray:
    """Connected-component label of each H3 cell, neighbours being cells that share an edge.

    Labels are numbered in order of each cluster's first cell in ``cells``.
    The neighbours of all cells come from one ``h3ronpy.grid_disk`` call
    (the h3 package has no vectorised one), matched to the list by a sorted search.
    """
    return _clusters_of_ids(h3cells.to_int(cells))


def _clusters_of_ids(ids: np.ndarray) -> np.ndarray:
    """:func:`cell_clusters` of cells given as uint64 ids."""
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    disk = pa.array(h3ronpy.grid_disk(pa.array(ids), 1))  # each cell and its ring: a cell joins itself too
    offsets, neighbours = disk.offsets.to_numpy(), disk.values.to_numpy(zero_copy_only=False)
    source = np.repeat(np.arange(n), np.diff(offsets))
    order = np.argsort(ids, kind="stable")
    at = np.minimum(np.searchsorted(ids[order], neighbours), n - 1)
    listed = ids[order][at] == neighbours
    adjacency = sp.csr_matrix((np.ones(int(listed.sum()), dtype=np.int8), (source[listed], order[at[listed]])),
                              shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    # Relabel by first appearance, so labels do not depend on the solver's numbering.
    _, first = np.unique(labels, return_index=True)
    rank = np.argsort(np.argsort(first))
    return rank[labels]


def union_by_group(geometries: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Union of the polygons of each group, for polygons that tile without overlap (H3 cells of one resolution).

    One ``shapely.coverage_union_all(..., axis=1)`` call per size class: the
    groups of each class are rows of a block padded with None (which the union
    ignores), classes doubling in width, so the padding never exceeds the
    polygons themselves. A coverage union is exact here because neighbouring
    H3 cells share their edges vertex for vertex.
    """
    out = np.empty(n_groups, dtype=object)
    if n_groups == 0:
        return out
    order = np.argsort(groups, kind="stable")
    sizes = np.bincount(groups, minlength=n_groups)
    starts = np.cumsum(sizes) - sizes
    width = 1 << np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64)
    for w in arrays.unique(width):
        rows = np.flatnonzero(width == w)
        count = sizes[rows]
        row = np.repeat(np.arange(len(rows)), count)
        col = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        block = np.full((len(rows), int(w)), None, dtype=object)
        block[row, col] = geometries[order[np.repeat(starts[rows], count) + col]]
        out[rows] = shapely.coverage_union_all(block, axis=1)
    return out


def _first_names(cluster: np.ndarray, names: np.ndarray, n_clusters: int, shown: int = 5) -> np.ndarray:
    """Per cluster: its first ``shown`` names joined by 、 and, when there are more, how many in all.

    ``cluster`` must be sorted (each cluster's names in the order to show).
    """
    text = np.full(n_clusters, "", dtype=object)
    if len(cluster) == 0:
        return text
    starts = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    place = np.arange(len(cluster)) - np.repeat(starts, np.diff(np.r_[starts, len(cluster)]))
    for j in range(shown):  # one vectorised step per shown name, not per cluster
        at = place == j
        if j == 0:
            text[cluster[at]] = names[at]
        else:
            text[cluster[at]] = text[cluster[at]] + "、" + names[at]
    total = np.bincount(cluster, minlength=n_clusters)
    more = total > shown
    text[more] = text[more] + np.char.mod(" 等%d个社区", total[more]).astype(object)
    return text


# Long on purpose: clusters of every category from one neighbour graph, then their figures in grouped passes.
def blind_spots(cells: gpd.GeoDataFrame, origins: pd.DataFrame, unit_of_origin: np.ndarray,
                communities: pd.DataFrame, facilities: pd.DataFrame, config: Config) -> gpd.GeoDataFrame:
    """Connected clusters of populated cells outside every circle of each category.

    Parameters
    ----------
    cells : GeoDataFrame
        From :func:`servicecircle.grid.build_cells`.
    origins : DataFrame
        Residential origins (``h3``, ``residents``, age groups).
    unit_of_origin : ndarray
        Community id of each origin (-1 outside all).
    communities : DataFrame
        With ``community_id`` and ``name``.
    facilities : DataFrame
        All facilities (``facility_id``, ``name``), for the nearest one's name.
    config : Config

    Returns
    -------
    GeoDataFrame
        :data:`BLIND_SPOT_COLUMNS` and the cluster's outline (WGS-84), per
        category largest first (ties: the cluster whose first cell comes
        first). ``residents`` and ``demand_residents`` are sums over the
        cluster's cells, ``population_fallback`` those of them placed by a
        fallback (a community with no street inside: an estimate, the pages
        say so); ``nearest_walk_min`` is the shortest walk from any of its
        cells, rounded up to 0.1 min (:func:`walk_minutes_up`; NaN where the
        category has no facility within reach at all) and ``nearest_facility_id`` that cell's nearest facility (the
        first such cell on a tie); ``communities`` names up to five
        communities holding its residents, most residents first. Every step
        is one grouped pass over the gap cells or origins, not a loop per cluster.
    """
    fac_names = _lookup(facilities["facility_id"], facilities["name"]) if len(facilities) else pd.Series(dtype=object)
    comm_names = _lookup(communities["community_id"], communities["name"]) if len(communities) else \
        pd.Series(dtype=object)
    weights = origins["residents"].to_numpy()
    unit = np.asarray(unit_of_origin)
    # Cells as 64-bit ids and each origin's cell by a sorted search: no string hashing per category.
    cell_ids = h3cells.to_int(cells["h3"].to_numpy())
    by_id = np.argsort(cell_ids, kind="stable")
    origin_cell = by_id[np.minimum(np.searchsorted(cell_ids[by_id], h3cells.to_int(origins["h3"].to_numpy())),
                                   max(len(cells) - 1, 0))]
    demand_of: dict[str, np.ndarray] = {}  # per demand column: its residents per cell
    columns: dict[str, list] = {c: [] for c in BLIND_SPOT_COLUMNS}
    geoms = []
    for key, category in config.categories.items():
        demand_col, who = group_column(origins, category.demand_group)
        in_gap = ((cells["residents"] > 0) & ~cells[f"covered_{key}"].astype(bool)).to_numpy()
        gap_at = np.flatnonzero(in_gap)
        if len(gap_at) == 0:
            continue
        gap = cells.iloc[gap_at].reset_index(drop=True)
        label = _clusters_of_ids(cell_ids[gap_at])
        n = int(label.max()) + 1
        if demand_col not in demand_of:
            # pandas' grouped sum over each cell's origins, as the cell figures are summed.
            per_cell = pd.Series(origins[demand_col].to_numpy(float)).groupby(origin_cell).sum()
            demand_of[demand_col] = per_cell.reindex(np.arange(len(cells))).fillna(0.0).to_numpy()
        cell_demand = demand_of[demand_col][gap_at]
        by_cluster = GroupSums(label, n)
        residents, demand_sum = by_cluster(gap["residents"].to_numpy(float)), by_cluster(cell_demand)
        fallback = by_cluster(gap["population_fallback"].to_numpy(float)) if "population_fallback" in gap.columns \
            else np.zeros(n)
        size = np.bincount(label, minlength=n)
        # The cell of each cluster with the shortest walk: first of the cluster sorted by walk.
        walk = gap[f"walk_time_s_{key}"].to_numpy(float)
        finite = np.isfinite(walk)
        by_walk = np.lexsort((np.where(finite, walk, np.inf), label))
        best = by_walk[np.r_[True, label[by_walk][1:] != label[by_walk][:-1]]]  # indexed by cluster label
        reached = finite[best]
        near_id = np.where(reached, pd.Series(gap[f"nearest_{key}"].to_numpy()[best], dtype=object).astype(str),
                           "").astype(object)
        near_min = np.where(reached, walk_minutes_up(walk[best]), np.nan)
        near_name = pd.Series(near_id, dtype=object).map(fac_names).astype(object)
        near_name = near_name.where(near_name.notna(), "").to_numpy(dtype=object)
        # Residents of each (cluster, community), most residents first.
        cluster_of_cell = np.full(len(cells), -1)
        cluster_of_cell[gap_at] = label
        cluster = cluster_of_cell[origin_cell]
        inside = (cluster >= 0) & (unit >= 0)
        by_comm = pd.DataFrame({"cluster": cluster[inside], "cid": unit[inside], "w": weights[inside]})
        by_comm = by_comm.groupby(["cluster", "cid"])["w"].sum().reset_index()
        by_comm = by_comm.sort_values(["cluster", "w", "cid"], ascending=[True, False, True], kind="stable")
        cid = by_comm["cid"].to_numpy()
        names = pd.Series(cid).map(comm_names)
        names = names.where(names.notna(), pd.Series(cid).astype(str)).to_numpy(dtype=object)
        comm_text = _first_names(by_comm["cluster"].to_numpy(), names, n)
        ranked = np.lexsort((np.arange(n), -residents))  # most residents first
        rank = np.arange(1, n + 1)
        columns["blind_spot_id"] += [f"{key}-{r}" for r in rank.tolist()]
        columns["category"] += [key] * n
        columns["rank"] += rank.tolist()
        columns["cells"] += size[ranked].tolist()
        columns["residents"] += residents[ranked].tolist()
        columns["demand_residents"] += demand_sum[ranked].tolist()
        # The demand's column name (residents_60plus …), not words: blind_spots.csv is written once for every
        # language (its cache key has none); the map words it in the run's language (maps.blind_spot_table).
        columns["demand"] += [demand_col] * n
        columns["nearest_walk_min"] += near_min[ranked].tolist()
        columns["nearest_facility_id"] += near_id[ranked].tolist()
        columns["nearest_facility_name"] += near_name[ranked].tolist()
        columns["communities"] += comm_text[ranked].tolist()
        columns["population_fallback"] += fallback[ranked].tolist()
        geoms.append(union_by_group(gap.geometry.to_numpy(), label, n)[ranked])
    if not geoms:
        return gpd.GeoDataFrame(pd.DataFrame([], columns=BLIND_SPOT_COLUMNS), geometry=gpd.GeoSeries([], crs=WGS84),
                                crs=WGS84)
    return gpd.GeoDataFrame(pd.DataFrame(columns, columns=BLIND_SPOT_COLUMNS),
                            geometry=gpd.GeoSeries(np.concatenate(geoms), crs=WGS84), crs=WGS84)


def _lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """``values`` indexed by ``keys``, the last of a repeated key winning (as a dict built from the pairs)."""
    table = pd.Series(values.to_numpy(), index=keys.to_numpy())
    return table[~table.index.duplicated(keep="last")]


def health_adjacency(graph: access.AccessGraph, facilities: pd.DataFrame, *, settings: GapSettings,
                     categories: dict[str, Category], lang: str = "zh") -> pd.DataFrame:
    """Walk from each care facility to the nearest health centre, and whether it is within the limit.

    Care facilities off the network, or in a run without the health
    category (or without any health facility on the network), are listed with
    ``checked`` False and a note (in ``lang``) saying why instead of a walk:
    a check not run is not a failure. ``adjacent`` is only meaningful where ``checked``.

    Returns
    -------
    DataFrame
        :data:`ADJACENCY_COLUMNS`, one row per counted facility of
        ``settings.care_category``.
    """
    care_key, health_key = settings.care_category, settings.health_category
    limit = settings.health_max_walk_min
    care = facilities[(facilities["category"] == care_key) & facilities["counted"]]
    if len(care) == 0:
        return pd.DataFrame(columns=ADJACENCY_COLUMNS)
    out = pd.DataFrame({"facility_id": care["facility_id"].to_numpy(), "name": care["name"].to_numpy(),
                        "source": care["source"].to_numpy() if "source" in care else "osm",
                        "care_category": care_key, "health_category": health_key,
                        "walk_min_to_health": np.nan, "nearest_health_id": "", "nearest_health_name": "",
                        "max_walk_min": limit, "checked": False, "adjacent": False, "note": ""})
    if health_key not in categories:
        out["note"] = texts.text(lang, "adjacency.no_health_category", key=health_key)
        return out
    g = graph.facilities
    health_rows = g[g["category"] == health_key]
    if len(health_rows) == 0:
        out["note"] = texts.text(lang, "adjacency.no_health_facility", label=categories[health_key].label)
        return out
    on_net = ~care["off_network"].to_numpy(bool)
    node_d, node_near = access.nearest_distances(graph, health_key)
    snap = Snap(care["snap_edge"].to_numpy(np.int64)[on_net], care["snap_along_m"].to_numpy(float)[on_net],
                care["snap_offset_m"].to_numpy(float)[on_net])
    dist, near = access.point_distances(graph.net, snap, node_d, health_rows, node_near)
    speed = categories[care_key].speed_m_s
    minutes = dist / speed / 60.0
    ids = g["facility_id"].to_numpy()
    names = g["name"].to_numpy()
    idx = np.flatnonzero(on_net)
    out.loc[idx, "walk_min_to_health"] = np.where(np.isfinite(minutes), minutes, np.nan)
    out.loc[idx, "nearest_health_id"] = np.where(near >= 0, ids[np.maximum(near, 0)], "")
    out.loc[idx, "nearest_health_name"] = np.where(near >= 0, names[np.maximum(near, 0)], "")
    out["adjacent"] = out["walk_min_to_health"].to_numpy(float) <= limit
    out["checked"] = on_net
    out.loc[~on_net, "note"] = texts.text(lang, "adjacency.off_network")
    reached = out["walk_min_to_health"].notna()
    out.loc[on_net & ~reached.to_numpy(), "note"] = texts.text(lang, "adjacency.unreachable")
    return out


def adjacency_in_language(adjacency: pd.DataFrame, lang: str, *, settings: GapSettings,
                          categories: dict[str, Category]) -> pd.DataFrame:
    """The check's notes in ``lang`` (a cached check may have been made by a run in another language)."""
    if len(adjacency) == 0 or "note" not in adjacency:
        return adjacency
    health = categories.get(settings.health_category)
    values = {"key": settings.health_category, "label": health.label if health else settings.health_category}
    mapping = {}
    for key in ("adjacency.no_health_category", "adjacency.no_health_facility", "adjacency.off_network",
                "adjacency.unreachable"):
        wanted = texts.text(lang, key, **values)
        for other in texts.LANGUAGES:
            if other != lang:
                mapping[texts.text(other, key, **values)] = wanted
    notes = adjacency["note"].astype(object)
    if not notes.isin(list(mapping)).any():
        return adjacency
    out = adjacency.copy()
    out["note"] = notes.map(lambda n: mapping.get(n, n))
    return out
