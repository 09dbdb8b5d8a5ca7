"""Gaps for action: blind spots of each category and the 医养结合 adjacency check.

* A *blind spot* is a connected cluster of populated H3 cells outside every
  15-minute circle of a category (cells joined when they share an edge,
  :func:`h3.grid_ring`); each is listed with its residents, the residents of
  the category's demand group, the communities holding them, and the walk
  to the nearest facility — how far the circle falls short.
* The *health-centre adjacency* check lists every elder-care facility with
  the walk to the nearest health centre (社区卫生服务中心, clinic, hospital), and
  flags those farther than ``config.health_max_walk_min``: the 医养结合 plans
  ask for care facilities next to health services.
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from . import access
from .config import Config
from .network import Snap
from .osm import WGS84
from .population import group_column

BLIND_SPOT_COLUMNS = ["blind_spot_id", "category", "rank", "cells", "residents", "demand_residents", "demand",
                      "nearest_walk_min", "nearest_facility_id", "nearest_facility_name", "communities"]
ADJACENCY_COLUMNS = ["facility_id", "name", "source", "care_category", "health_category", "walk_min_to_health",
                     "nearest_health_id", "nearest_health_name", "max_walk_min", "adjacent", "note"]


def cell_clusters(cells: list[str]) -> np.ndarray:
    """Connected-component label of each H3 cell, neighbours being cells that share an edge.

    Labels are numbered in order of each cluster's first cell in ``cells``.
    """
    n = len(cells)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    index = {c: i for i, c in enumerate(cells)}
    # h3 has no vectorised neighbour call; one grid_ring per cell is cheap (µs each).
    pairs = [(i, index[nb]) for i, c in enumerate(cells) for nb in h3.grid_ring(c, 1) if nb in index]
    rows = np.array([p[0] for p in pairs], dtype=np.int64)
    cols = np.array([p[1] for p in pairs], dtype=np.int64)
    adjacency = sp.csr_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    # Relabel by first appearance, so labels do not depend on the solver's numbering.
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[labels]


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
        category largest first. ``nearest_walk_min`` is the shortest walk
        from any of the cluster's cells (NaN where the category has no
        facility within reach at all).
    """
    names = dict(zip(facilities["facility_id"], facilities["name"])) if len(facilities) else {}
    comm_name = dict(zip(communities["community_id"], communities["name"])) if len(communities) else {}
    records, geoms = [], []
    for key, category in config.categories.items():
        demand_col, who = group_column(origins, category.demand_group)
        gap = cells[(cells["residents"] > 0) & ~cells[f"covered_{key}"].astype(bool)].reset_index(drop=True)
        if len(gap) == 0:
            continue
        label = cell_clusters(list(gap["h3"]))
        demand = pd.Series(origins[demand_col].to_numpy(float), index=origins["h3"].to_numpy()).groupby(level=0).sum()
        gap["demand"] = gap["h3"].map(demand).fillna(0.0).to_numpy()
        gap["cluster"] = label
        cell_cluster = dict(zip(gap["h3"], label))
        in_gap = origins["h3"].map(cell_cluster)
        by_comm = pd.DataFrame({"cluster": in_gap, "cid": unit_of_origin, "w": origins["residents"].to_numpy()})
        by_comm = by_comm[by_comm["cluster"].notna() & (by_comm["cid"] >= 0)]
        by_comm = by_comm.groupby(["cluster", "cid"])["w"].sum().reset_index()
        by_comm = by_comm.sort_values(["cluster", "w", "cid"], ascending=[True, False, True], kind="stable")
        comm_of = {int(c): [comm_name.get(i, str(i)) for i in grp["cid"]] for c, grp in by_comm.groupby("cluster")}
        walk = gap[f"walk_time_s_{key}"].to_numpy(float)
        summary = []
        for c, idx in gap.groupby("cluster").indices.items():
            finite = np.isfinite(walk[idx])
            best = idx[np.argmin(np.where(finite, walk[idx], np.inf))] if finite.any() else None
            summary.append((int(c), idx, float(gap["residents"].to_numpy()[idx].sum()),
                            float(gap["demand"].to_numpy()[idx].sum()), best))
        summary.sort(key=lambda s: (-s[2], s[0]))  # most residents first
        for rank, (c, idx, residents, demand_sum, best) in enumerate(summary, start=1):
            near_id = str(gap[f"nearest_{key}"].iat[best]) if best is not None else ""
            comms = comm_of.get(c, [])
            records.append((f"{key}-{rank}", key, rank, len(idx), residents, demand_sum, who,
                            walk[best] / 60.0 if best is not None else np.nan, near_id, names.get(near_id, ""),
                            "、".join(comms[:5]) + (f" 等{len(comms)}个社区" if len(comms) > 5 else "")))
            geoms.append(shapely.union_all(gap.geometry.values[idx]))
    frame = pd.DataFrame(records, columns=BLIND_SPOT_COLUMNS)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84) if geoms else gpd.GeoSeries([], crs=WGS84),
                            crs=WGS84)


def health_adjacency(graph: access.AccessGraph, facilities: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Walk from each care facility to the nearest health centre, and whether it is within the limit.

    Care facilities off the network, or in a run without the health
    category, are listed with a note instead of a walk.

    Returns
    -------
    DataFrame
        :data:`ADJACENCY_COLUMNS`, one row per counted facility of
        ``config.care_category``.
    """
    care_key, health_key = config.care_category, config.health_category
    limit = config.health_max_walk_min
    care = facilities[(facilities["category"] == care_key) & facilities["counted"]]
    if len(care) == 0:
        return pd.DataFrame(columns=ADJACENCY_COLUMNS)
    out = pd.DataFrame({"facility_id": care["facility_id"].to_numpy(), "name": care["name"].to_numpy(),
                        "source": care["source"].to_numpy() if "source" in care else "osm",
                        "care_category": care_key, "health_category": health_key,
                        "walk_min_to_health": np.nan, "nearest_health_id": "", "nearest_health_name": "",
                        "max_walk_min": limit, "adjacent": False, "note": ""})
    if health_key not in config.categories:
        out["note"] = f"no {health_key} category configured: add one to check 医养结合 adjacency"
        return out
    g = graph.facilities
    health_rows = g[g["category"] == health_key]
    if len(health_rows) == 0:
        out["note"] = f"no {config.categories[health_key].label} facility on the network"
        return out
    on_net = ~care["off_network"].to_numpy(bool)
    node_d, node_near = access.nearest_distances(graph, health_key)
    snap = Snap(care["snap_edge"].to_numpy(np.int64)[on_net], care["snap_along_m"].to_numpy(float)[on_net],
                care["snap_offset_m"].to_numpy(float)[on_net])
    dist, near = access.point_distances(graph.net, snap, node_d, health_rows, node_near)
    speed = config.categories[care_key].speed_m_s
    minutes = dist / speed / 60.0
    ids = g["facility_id"].to_numpy()
    names = g["name"].to_numpy()
    idx = np.flatnonzero(on_net)
    out.loc[idx, "walk_min_to_health"] = np.where(np.isfinite(minutes), minutes, np.nan)
    out.loc[idx, "nearest_health_id"] = np.where(near >= 0, ids[np.maximum(near, 0)], "")
    out.loc[idx, "nearest_health_name"] = np.where(near >= 0, names[np.maximum(near, 0)], "")
    out["adjacent"] = out["walk_min_to_health"].to_numpy(float) <= limit
    out.loc[~on_net, "note"] = "off the walk network: no walk measured"
    reached = out["walk_min_to_health"].notna()
    out.loc[on_net & ~reached.to_numpy(), "note"] = "no health centre reachable on foot"
    return out
