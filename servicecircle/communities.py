"""Communities: aggregate residents and coverage to 社区/街道 polygons or named residential compounds.

Every residential origin carries the walk times and covered flags of its H3
cell, so a community's figures are its residents' share of the cell-level
result: the district total is the sum of its communities wherever they tile it.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

import shapely

from .config import Config
from .errors import InputError
from .inputs import InputReport, read_vector
from .osm import WGS84
from .grid import unit_mean
from .population import age_groups, group_column


def load_communities(config: Config, features: gpd.GeoDataFrame, report: InputReport | None = None) -> gpd.GeoDataFrame:
    """Community polygons (WGS-84) with ``community_id``, ``name``, ``code``, ``parent_code``.

    From the ``[communities]`` file when given (GeoJSON, Shapefile, GeoPackage
    in any CRS; GCJ-02/BD-09 when declared; GBK shapefiles without ``.cpg``
    read correctly; invalid polygons repaired and reported), else the named
    ``landuse=residential`` areas (residential compounds, 小区) of the OSM data.
    """
    spec = config.communities
    if spec is not None:
        gdf = _read_units(spec, "communities file", report)
        names, source = gdf["name"], str(spec.path)
        codes = gdf["code"]
        parents = gdf[spec.parent_field].astype(str) if spec.parent_field and spec.parent_field in gdf.columns else ""
    else:
        is_named = features["tags"].map(lambda t: t.get("landuse") == "residential") & (features["name"] != "")
        gdf = features[is_named & features.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()]
        names, codes, parents, source = gdf["name"], "", "", "OSM landuse=residential with a name"
        gdf = gdf.assign(geometry=gdf.geometry.make_valid())
    out = gpd.GeoDataFrame({"community_id": np.arange(len(gdf)), "name": np.asarray(names),
                            "code": codes if isinstance(codes, str) else np.asarray(codes),
                            "parent_code": parents if isinstance(parents, str) else np.asarray(parents),
                            "source": source,
                            "source_row": gdf["_row"].to_numpy() if "_row" in gdf.columns else -1},
                           geometry=gdf.geometry.to_numpy(), crs=WGS84)
    return out


def _read_units(spec, what: str, report: InputReport | None) -> gpd.GeoDataFrame:
    gdf = read_vector(spec.path, what=what, coord_system=spec.coord_system, encoding=spec.encoding,
                      report=report, polygons=True)
    if spec.name_field not in gdf.columns:
        raise InputError(f"{spec.path}: no field '{spec.name_field}' (fields: {', '.join(c for c in gdf.columns if c not in ('geometry', '_row'))})")
    gdf["name"] = gdf[spec.name_field].astype(str)
    code = spec.code_field
    gdf["code"] = gdf[code].astype(str).str.strip() if code and code in gdf.columns else ""
    return gdf


def load_streets(config: Config, report: InputReport | None = None) -> gpd.GeoDataFrame | None:
    """Street (街道) polygons with ``street_id``, ``name``, ``code``; None without a ``[streets]`` file."""
    if config.streets is None:
        return None
    gdf = _read_units(config.streets, "streets file", report)
    return gpd.GeoDataFrame({"street_id": np.arange(len(gdf)), "name": gdf["name"].to_numpy(),
                             "code": gdf["code"].to_numpy(), "source": str(config.streets.path)},
                            geometry=gdf.geometry.to_numpy(), crs=WGS84)


def link_streets(communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Give every community its street: by code (``parent_code`` = street ``code``), else spatially.

    The spatial rule is the street holding the largest part of the community;
    ``street_link`` says which rule applied ("code", "overlap" or "none").
    """
    out = communities.copy()
    out["street_id"], out["street_name"], out["street_link"] = -1, "", "none"
    if streets is None or len(streets) == 0 or len(out) == 0:
        return out
    by_code = dict(zip(streets["code"].astype(str), streets["street_id"]))
    sid = out["parent_code"].astype(str).map(by_code)
    out.loc[sid.notna(), "street_link"] = "code"
    out["street_id"] = sid.fillna(-1).astype(int)
    todo = out["street_id"] < 0
    if todo.any():
        utm = out.estimate_utm_crs()
        c, s = out[todo].to_crs(utm), streets.to_crs(utm)
        ci, si = s.sindex.query(c.geometry.values, predicate="intersects")
        overlap = shapely.area(shapely.intersection(c.geometry.values[ci], s.geometry.values[si]))
        pairs = pd.DataFrame({"c": c.index[ci], "s": streets["street_id"].to_numpy()[si], "a": overlap})
        best = pairs.sort_values(["c", "a"], ascending=[True, False]).drop_duplicates("c")
        best = best[best["a"] > 0]
        out.loc[best["c"], "street_id"] = best["s"].to_numpy()
        out.loc[best["c"], "street_link"] = "overlap"
    out["street_name"] = out["street_id"].map(dict(zip(streets["street_id"], streets["name"]))).fillna("")
    return out


def assign_origins(origins: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, id_field: str = "community_id") -> np.ndarray:
    """Unit id of each origin (-1 outside all). Nested polygons: the smallest wins."""
    comm = communities.to_crs(origins.crs)
    found = np.full(len(origins), -1, dtype=np.int64)
    if len(comm) == 0 or len(origins) == 0:
        return found
    pt, poly = comm.sindex.query(origins.geometry.values, predicate="within")
    pairs = pd.DataFrame({"pt": pt, "cid": comm[id_field].to_numpy()[poly], "area": comm.area.to_numpy()[poly]})
    pairs = pairs.sort_values(["pt", "area", "cid"]).drop_duplicates("pt")
    found[pairs["pt"].to_numpy()] = pairs["cid"].to_numpy()
    return found


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if weights.sum() <= 0:
        return np.nan
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1] - 1e-9)])


def rollup_geometry(streets: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Streets whose geometry is the union of their communities (the street polygon where none links).

    Street figures are computed on this geometry so that they are exactly the
    sums of their communities' figures even where the street and community
    files disagree at the edges (they do in Hexi, by up to a sixth of a street).
    """
    linked = communities[communities["street_id"] >= 0]
    dissolved = linked.dissolve(by="street_id").geometry
    geometry = streets["street_id"].map(dissolved)
    out = streets.copy()
    out["geometry"] = [g if g is not None and not pd.isna(g) else s for g, s in zip(geometry, streets.geometry)]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=streets.crs)


CAPACITY_TOTALS = ("beds", "nursery_places", "nursery_places_affordable", "meals_per_day", "floor_area_m2")


def aggregate(units: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
              facilities: gpd.GeoDataFrame, config: Config, id_field: str = "community_id",
              unit_of_origin: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Per community (or street): residents, covered shares, facilities, capacities, walk-time stats.

    Parameters
    ----------
    units : GeoDataFrame
        Communities from :func:`load_communities` (or streets, with ``id_field="street_id"``).
    origins : GeoDataFrame
        Residential origins with ``h3``, ``residents`` and any ``residents_<group>``.
    cells : GeoDataFrame
        From :func:`servicecircle.grid.build_cells`.
    facilities : GeoDataFrame
        All snapped facilities (counted or not).
    config : Config
    unit_of_origin : ndarray, optional
        Precomputed :func:`assign_origins`.

    Returns
    -------
    GeoDataFrame
        ``residents`` (and ``residents_<group>``) and per category
        ``covered_share_<cat>`` (and ``covered_share_<cat>_<group>``),
        ``uncovered_residents_<cat>`` (and per group), ``facilities_<cat>``,
        capacity totals ``<capacity>_<cat>`` where known, ``mean_walk_min_<cat>``,
        ``p95_walk_min_<cat>``, ``speed_m_s_<cat>``, ``fca_per_1000_<cat>`` (2SFCA
        capacity within reach per 1,000 of the category's demand group, where
        the origins carry it); plus ``complete_share``.
        Walk times are NaN where residents cannot reach any facility of the category.
    """
    cid = assign_origins(origins, units, id_field) if unit_of_origin is None else unit_of_origin
    groups = age_groups(origins)
    cell_idx = cells.set_index("h3")
    pieces = pd.DataFrame({"cid": cid, "residents": origins["residents"].to_numpy(), "h3": origins["h3"].to_numpy()})
    for g in groups:
        pieces[f"residents_{g}"] = origins[f"residents_{g}"].to_numpy()
    pieces = pieces[pieces["cid"] >= 0]
    out = units.copy()
    ids = out[id_field]
    sums = pieces.groupby("cid").sum(numeric_only=True)
    for col in ["residents"] + [f"residents_{g}" for g in groups]:
        out[col] = ids.map(sums[col]).fillna(0.0) if col in sums else 0.0
    fac_in, cap_in = _facilities_inside(units, facilities, id_field)

    def share(flag: np.ndarray, col: str) -> tuple[pd.Series, pd.Series]:
        covered = ids.map(pd.Series(pieces[col].to_numpy() * flag, index=pieces["cid"]).groupby(level=0).sum()).fillna(0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.Series(np.where(out[col] > 0, covered / out[col], np.nan), index=out.index), out[col] - covered

    for key in config.categories:
        covered = cell_idx[f"covered_{key}"].reindex(pieces["h3"]).to_numpy(bool)
        minutes = cell_idx[f"walk_time_s_{key}"].reindex(pieces["h3"]).to_numpy(float) / 60.0
        out[f"covered_share_{key}"], out[f"uncovered_residents_{key}"] = share(covered, "residents")
        for g in groups:
            out[f"covered_share_{key}_{g}"], out[f"uncovered_residents_{key}_{g}"] = share(covered, f"residents_{g}")
        out[f"facilities_{key}"] = ids.map(fac_in.get(key, {})).fillna(0).astype(int)
        for cap in CAPACITY_TOTALS:
            if (key, cap) in cap_in:
                out[f"{cap}_{key}"] = ids.map(cap_in[(key, cap)]).fillna(0.0)
        out[f"speed_m_s_{key}"] = config.categories[key].speed_m_s  # every output states its speed
        mean, p95 = {}, {}
        for c, idx in pieces.groupby("cid").indices.items():
            w, m = pieces["residents"].to_numpy()[idx], minutes[idx]
            finite = np.isfinite(m)
            if w.sum() > 0 and finite[w > 0].all():
                mean[c] = float(np.average(m, weights=w))
                p95[c] = _weighted_quantile(m, w, 0.95)
        out[f"mean_walk_min_{key}"] = ids.map(mean)
        if f"fca_per_1000_{key}" in origins.columns:
            demand = origins[group_column(origins, config.categories[key].demand_group)[0]].to_numpy(float)
            keep = cid >= 0
            out[f"fca_per_1000_{key}"] = ids.map(unit_mean(
                cid[keep], origins[f"fca_per_1000_{key}"].to_numpy(float)[keep], demand[keep]))
        out[f"p95_walk_min_{key}"] = ids.map(p95)
    complete = cell_idx["complete"].reindex(pieces["h3"]).to_numpy(bool)
    out["complete_share"], _ = share(complete, "residents")
    return out


def facility_units(facilities: gpd.GeoDataFrame, units: gpd.GeoDataFrame, id_field: str = "community_id") -> np.ndarray:
    """The id of the unit (community or street) each facility lies in, -1 outside all.

    A point on a shared border counts once, in the first unit, so that totals
    over units add up to the district's.
    """
    unit_of = np.full(len(facilities), -1, dtype=np.int64)
    if len(facilities) == 0 or len(units) == 0:
        return unit_of
    pt, poly = units.sindex.query(facilities.geometry.values, predicate="within")
    first = ~pd.Series(pt).duplicated().to_numpy()
    unit_of[pt[first]] = units[id_field].to_numpy()[poly[first]]
    return unit_of


def _facilities_inside(units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                       id_field: str) -> tuple[dict[str, dict[int, int]], dict[tuple[str, str], dict[int, float]]]:
    """Counted facilities of each category inside each unit, and their capacity totals."""
    counted = facilities[facilities["counted"]]
    unit_of = facility_units(counted, units, id_field)
    inside = unit_of >= 0
    if not inside.any():
        return {}, {}
    pairs = pd.DataFrame({"category": counted["category"].to_numpy()[inside], "cid": unit_of[inside]})
    counts = {cat: grp.groupby("cid").size().to_dict() for cat, grp in pairs.groupby("category")}
    caps = {}
    for cap in CAPACITY_TOTALS:
        if cap not in counted.columns:
            continue
        values = pd.to_numeric(counted[cap], errors="coerce").to_numpy()[inside]
        for cat, grp in pairs.assign(v=values).groupby("category"):
            if grp["v"].notna().any():
                caps[(cat, cap)] = grp.groupby("cid")["v"].sum(min_count=1).fillna(0.0).to_dict()
    return counts, caps
