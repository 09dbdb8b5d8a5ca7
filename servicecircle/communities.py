"""Communities: aggregate residents and coverage to 社区/街道 polygons or named residential compounds.

Every residential origin carries the walk times and covered flags of its H3
cell, so a community's figures are its residents' share of the cell-level
result: the district total is the sum of its communities wherever they tile it.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .config import Config
from .errors import InputError
from .osm import WGS84


def load_communities(config: Config, features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Community polygons (WGS-84) with ``community_id`` and ``name``.

    From ``config.communities_file`` when given (any CRS GeoPandas reads),
    else the named ``landuse=residential`` areas (residential compounds, 小区)
    of the OSM data.
    """
    if config.communities_file is not None:
        path = config.communities_file
        if not path.is_file():
            raise InputError(f"communities file not found: {path}")
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputError(f"{path}: cannot read ({exc})") from None
        if config.community_name_field not in gdf.columns:
            raise InputError(f"{path}: no field '{config.community_name_field}' (fields: {', '.join(map(str, gdf.columns))})")
        if gdf.crs is None:
            raise InputError(f"{path}: no coordinate reference system declared")
        gdf = gdf.to_crs(WGS84)
        names = gdf[config.community_name_field].astype(str)
        source = str(path)
    else:
        is_named = features["tags"].map(lambda t: t.get("landuse") == "residential") & (features["name"] != "")
        gdf = features[is_named & features.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()]
        names = gdf["name"]
        source = "OSM landuse=residential with a name"
    out = gpd.GeoDataFrame({"community_id": np.arange(len(gdf)), "name": names.to_numpy(), "source": source},
                           geometry=gdf.geometry.make_valid().to_numpy(), crs=WGS84)
    return out


def assign_origins(origins: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> np.ndarray:
    """Community id of each origin (-1 outside all). Nested polygons: the smallest wins."""
    comm = communities.to_crs(origins.crs)
    found = np.full(len(origins), -1, dtype=np.int64)
    if len(comm) == 0 or len(origins) == 0:
        return found
    pt, poly = comm.sindex.query(origins.geometry.values, predicate="within")
    pairs = pd.DataFrame({"pt": pt, "cid": comm["community_id"].to_numpy()[poly], "area": comm.area.to_numpy()[poly]})
    pairs = pairs.sort_values(["pt", "area", "cid"]).drop_duplicates("pt")
    found[pairs["pt"].to_numpy()] = pairs["cid"].to_numpy()
    return found


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if weights.sum() <= 0:
        return np.nan
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1] - 1e-9)])


def aggregate(communities: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
              facilities: gpd.GeoDataFrame, config: Config) -> gpd.GeoDataFrame:
    """Per community: residents, covered shares, uncovered residents, facilities, walk-time stats.

    Parameters
    ----------
    communities : GeoDataFrame
        From :func:`load_communities`.
    origins : GeoDataFrame
        Residential origins with ``h3`` and ``residents``.
    cells : GeoDataFrame
        From :func:`servicecircle.grid.build_cells`.
    facilities : GeoDataFrame
        All snapped facilities (counted or not).
    config : Config

    Returns
    -------
    GeoDataFrame
        Columns ``community_id``, ``name``, ``residents`` and per category
        ``covered_share_<cat>``, ``uncovered_residents_<cat>``,
        ``facilities_<cat>``, ``mean_walk_min_<cat>``, ``p95_walk_min_<cat>``,
        ``speed_m_s_<cat>``;
        plus ``complete_share``. Walk times are NaN where residents cannot reach
        any facility of the category.
    """
    cid = assign_origins(origins, communities)
    cell_idx = cells.set_index("h3")
    pieces = pd.DataFrame({"cid": cid, "residents": origins["residents"].to_numpy(), "h3": origins["h3"].to_numpy()})
    pieces = pieces[pieces["cid"] >= 0]
    out = communities.copy()
    res = pieces.groupby("cid")["residents"].sum()
    out["residents"] = out["community_id"].map(res).fillna(0.0)
    fac_in = _facilities_inside(communities, facilities)
    for key in config.categories:
        covered = cell_idx[f"covered_{key}"].reindex(pieces["h3"]).to_numpy(bool)
        minutes = cell_idx[f"walk_time_s_{key}"].reindex(pieces["h3"]).to_numpy(float) / 60.0
        cov = pd.Series(pieces["residents"].to_numpy() * covered, index=pieces["cid"]).groupby(level=0).sum()
        covered_res = out["community_id"].map(cov).fillna(0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"covered_share_{key}"] = np.where(out["residents"] > 0, covered_res / out["residents"], np.nan)
        out[f"uncovered_residents_{key}"] = out["residents"] - covered_res
        out[f"facilities_{key}"] = out["community_id"].map(fac_in.get(key, {})).fillna(0).astype(int)
        out[f"speed_m_s_{key}"] = config.categories[key].speed_m_s  # every output states its speed
        mean, p95 = {}, {}
        for c, idx in pieces.groupby("cid").indices.items():
            w, m = pieces["residents"].to_numpy()[idx], minutes[idx]
            finite = np.isfinite(m)
            if w.sum() > 0 and finite[w > 0].all():
                mean[c] = float(np.average(m, weights=w))
                p95[c] = _weighted_quantile(m, w, 0.95)
        out[f"mean_walk_min_{key}"] = out["community_id"].map(mean)
        out[f"p95_walk_min_{key}"] = out["community_id"].map(p95)
    complete = cell_idx["complete"].reindex(pieces["h3"]).to_numpy(bool)
    comp = pd.Series(pieces["residents"].to_numpy() * complete, index=pieces["cid"]).groupby(level=0).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["complete_share"] = np.where(out["residents"] > 0, out["community_id"].map(comp).fillna(0.0) / out["residents"], np.nan)
    return out


def _facilities_inside(communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> dict[str, dict[int, int]]:
    """Counted facilities of each category inside each community."""
    counted = facilities[facilities["counted"]]
    if len(counted) == 0 or len(communities) == 0:
        return {}
    pt, poly = communities.sindex.query(counted.geometry.values, predicate="within")
    pairs = pd.DataFrame({"category": counted["category"].to_numpy()[pt], "cid": communities["community_id"].to_numpy()[poly]})
    return {cat: grp.groupby("cid").size().to_dict() for cat, grp in pairs.groupby("category")}
