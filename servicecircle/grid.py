"""H3 grid: the study area, per-cell residents and walk times, and cell-based service areas.

The residents come from :mod:`servicecircle.population` as *residential origins*
(the building estimate, scaled to the population inputs), their walk times from
:mod:`servicecircle.access`. A cell's walk time is the resident-weighted median
of its origins' times (the cell centre is the origin of a cell without
residents), so a cell is *covered* when most of its residents are within the
threshold.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike

from . import h3cells
from .config import AreaSettings, Category, complete_circle
from .coords import WGS84
from .inputs import read_vector
from .network import WalkNetwork
from .population import age_groups, group_column


def study_area(area: AreaSettings, net: WalkNetwork,
               communities: gpd.GeoDataFrame | None = None) -> shapely.Polygon | shapely.MultiPolygon:
    """The study-area polygon (WGS-84): ``polygon_file``, else ``bbox``, else ``communities`` (give them
    only when they come from a communities file), else the network's extent."""
    if area.polygon_file is not None and area.polygon_file.is_file():
        return read_vector(
            area.polygon_file,
            what="area polygon file",
            coord_system=area.polygon_coord_system,
            polygons=True,
        ).union_all()
    if area.bbox is not None:
        return shapely.box(*area.bbox)
    if communities is not None and len(communities):
        return shapely.make_valid(communities.union_all())
    return shapely.box(*net.node_lonlat.min(axis=0), *net.node_lonlat.max(axis=0))


def unit_mean(groups: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.Series:
    """Weighted mean of ``values`` per group, NaN values left out (NaN where a group weighs nothing)."""
    values = np.asarray(values, dtype=float)
    weights = np.where(np.isfinite(values), np.asarray(weights, dtype=float), 0.0)
    frame = pd.DataFrame({"g": groups, "vw": np.nan_to_num(values) * weights, "w": weights})
    sums = frame.groupby("g")[["vw", "w"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(sums["w"] > 0, sums["vw"] / sums["w"], np.nan), index=sums.index)


def weighted_median(groups: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.Series:
    """Weighted median of ``values`` per group (lower median; unweighted where a group weighs 0)."""
    codes, labels = pd.factorize(np.asarray(groups), sort=True)
    median = _median_of_codes(codes, np.asarray(values, dtype=float), np.asarray(weights, dtype=float))
    return pd.Series(median, index=pd.Index(labels))


def _median_of_codes(codes: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`weighted_median` on integer group codes 0 … n−1, every code present."""
    frame = pd.DataFrame({"g": codes, "v": values, "w": weights})
    total = frame.groupby("g")["w"].transform("sum")
    frame["w"] = np.where(total > 0, frame["w"], 1.0)
    frame = frame.iloc[np.lexsort((values, codes))]  # stable: ties keep their order
    cum = frame.groupby("g")["w"].cumsum()
    half = frame.groupby("g")["w"].transform("sum") / 2.0
    return frame[cum >= half - 1e-12].groupby("g")["v"].first().to_numpy()


def build_cells(origins: gpd.GeoDataFrame, times: pd.DataFrame, *, categories: dict[str, Category],
                coverage_threshold_min: float) -> gpd.GeoDataFrame:
    """Aggregate origins to H3 cells: residents, walk time per category, covered and complete flags.

    Returns
    -------
    GeoDataFrame
        One row per cell (WGS-84 hexagons) with ``h3``, ``residents``,
        ``population_fallback`` (those of its residents placed by a fallback, not
        by data about the cell: see :func:`servicecircle.population.fill_streetless_communities`),
        ``walk_time_s_<cat>``, ``covered_<cat>``, ``nearest_<cat>``, ``speed_m_s_<cat>``,
        ``fca_per_1000_<cat>`` (demand-weighted mean of the origins' 2SFCA, where
        the origins carry it) and ``complete``.
    """
    limit_s = coverage_threshold_min * 60
    # Cells as integer codes, so every group-by below is over integers, not a city's strings.
    code, ids = pd.factorize(origins["h3"].to_numpy(dtype=object), sort=True)
    w = origins["residents"].to_numpy(float)
    cells = pd.DataFrame({"h3": np.asarray(ids, dtype=object)})

    def total(values: ArrayLike) -> np.ndarray:
        return pd.Series(np.asarray(values, dtype=float)).groupby(code).sum().to_numpy()

    cells["residents"] = total(w)
    # Residents whose place rests on a fallback (a community with no street inside, spread over its area):
    # an estimate the map and the blind spots say is one.
    fallback = origins["population_fallback"].to_numpy(bool) if "population_fallback" in origins.columns \
        else np.zeros(len(origins), bool)
    cells["population_fallback"] = total(np.where(fallback, w, 0.0))
    for g in age_groups(origins):
        cells[f"residents_{g}"] = total(origins[f"residents_{g}"])
    first = np.r_[True, np.diff(code[np.argsort(code, kind="stable")]) != 0]
    for key in categories:
        t = times[f"walk_time_s_{key}"].to_numpy(float)
        cells[f"walk_time_s_{key}"] = _median_of_codes(code, t, w)
        cells[f"covered_{key}"] = cells[f"walk_time_s_{key}"] <= limit_s
        cells[f"speed_m_s_{key}"] = categories[key].speed_m_s
        quickest = np.lexsort((t, code))  # per cell, the origin nearest a facility first
        cells[f"nearest_{key}"] = times[f"nearest_{key}"].to_numpy(dtype=object)[quickest[first]]
        if f"fca_per_1000_{key}" in origins.columns:
            demand = origins[group_column(origins, categories[key].demand_group)[0]].to_numpy(float)
            cells[f"fca_per_1000_{key}"] = unit_mean(code, origins[f"fca_per_1000_{key}"].to_numpy(float),
                                                     demand).to_numpy()
    circle = complete_circle(categories)
    cells["complete"] = np.logical_and.reduce([cells[f"covered_{k}"] for k in circle]) if circle else False
    return gpd.GeoDataFrame(cells, geometry=h3cells.polygons(cells["h3"].to_numpy(dtype=object)), crs=WGS84)


def cell_service_areas(cells: gpd.GeoDataFrame, *, categories: dict[str, Category], thresholds_min: tuple[float, ...],
                       crs: str) -> gpd.GeoDataFrame:
    """Merged service areas drawn from the grid: per (category, minutes), the cells within the walk.

    The city-scale alternative to :func:`servicecircle.access.merged_service_areas`
    (``[output] service_areas = "cells"``): a cell belongs to the area when its
    walk time — from its residents' origins, or its centre where nobody lives —
    is within the threshold, so the area agrees cell for cell with the covered
    flags. Neighbouring cells are merged by :class:`servicecircle.h3cells.Outlines`.

    Returns
    -------
    GeoDataFrame
        ``category``, ``minutes``, geometry, ``speed_m_s``, ``street_buffer_m``
        (NaN: not street buffers), ``area_m2``, in ``crs``.
    """
    records, geoms = [], []
    outlines = h3cells.Outlines(cells["h3"].to_numpy(dtype=object), cells.geometry.values)
    for key, category in categories.items():
        t = cells[f"walk_time_s_{key}"].to_numpy(float)
        if not np.isfinite(t).any():
            continue  # no facility of the category reaches anyone: no area, as with street buffers
        for minutes in sorted(thresholds_min):
            parts = outlines.of(t <= minutes * 60.0)
            records.append((key, minutes, category.speed_m_s))
            geoms.append(shapely.multipolygons(parts) if len(parts) else shapely.MultiPolygon())
    frame = pd.DataFrame(records, columns=["category", "minutes", "speed_m_s"])
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84).to_crs(crs)
    gdf = gdf.sort_values(["category", "minutes"], kind="stable").reset_index(drop=True)
    gdf = gdf[["category", "minutes", "geometry", "speed_m_s"]]
    gdf["street_buffer_m"] = np.nan
    gdf["area_m2"] = gdf.area
    return gdf
