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

from . import arrays
from .config import CAPACITY_COLUMNS, Boundaries, Category
from .coords import WGS84, utm_crs
from .errors import InputError
from .grid import unit_mean
from .inputs import InputReport, read_vector
from .population import age_groups, group_column


def load_communities(spec: Boundaries | None, features: gpd.GeoDataFrame,
                     report: InputReport | None = None) -> gpd.GeoDataFrame:
    """Community polygons (WGS-84) with ``community_id``, ``name``, ``code``, ``parent_code``.

    From the ``[communities]`` file when given (GeoJSON, Shapefile, GeoPackage
    in any CRS; GCJ-02/BD-09 when declared; GBK shapefiles without ``.cpg``
    read correctly; invalid polygons repaired and reported), else the named
    ``landuse=residential`` areas (residential compounds, 小区) of the OSM data.
    ``spec`` is the study area's ``config.communities`` (None: no file).
    """
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


def _read_units(spec: Boundaries, what: str, report: InputReport | None) -> gpd.GeoDataFrame:
    gdf = read_vector(spec.path, what=what, coord_system=spec.coord_system, encoding=spec.encoding,
                      report=report, polygons=True)
    if spec.name_field not in gdf.columns:
        raise InputError(key="error.no_field", path=spec.path, field=spec.name_field,
                         fields=", ".join(c for c in gdf.columns if c not in ("geometry", "_row")))
    gdf["name"] = gdf[spec.name_field].astype(str)
    code = spec.code_field
    gdf["code"] = gdf[code].astype(str).str.strip() if code and code in gdf.columns else ""
    return gdf


def load_streets(spec: Boundaries | None, report: InputReport | None = None) -> gpd.GeoDataFrame | None:
    """Street (街道) polygons with ``street_id``, ``name``, ``code``; None without a ``[streets]`` file (``spec``)."""
    if spec is None:
        return None
    gdf = _read_units(spec, "streets file", report)
    return gpd.GeoDataFrame({"street_id": np.arange(len(gdf)), "name": gdf["name"].to_numpy(),
                             "code": gdf["code"].to_numpy(), "source": str(spec.path)},
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
        west, south, east, north = out.total_bounds
        utm = utm_crs([west, east], [south, north])
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


def assign_origins(
    origins: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, id_field: str = "community_id"
) -> np.ndarray:
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


class GroupSums:
    """Sums of values per group, each bit for bit numpy's own ``sum`` of that group's values (in input order).

    ``np.bincount`` adds a group's values one after another; numpy's ``sum``
    adds an array pairwise (eight interleaved partial sums over blocks of 128
    values, halves above that), so the two differ in the last bits, and a
    figure summed per unit would change with the method. This adds every group
    the way numpy adds one, for all groups at once: a few vectorised steps per
    position in a block and per halving, never a step per group. The grouping
    (sort order, halvings, blocks) is built once and reused for every column.

    Parameters
    ----------
    groups : ndarray
        Group of each value, 0 … ``n_groups`` − 1; negative: in no group.
    n_groups : int
    """

    BLOCK, UNROLL = 128, 8  # numpy's pairwise block size and unrolling

    def __init__(self, groups: np.ndarray, n_groups: int):
        groups = np.asarray(groups, dtype=np.int64)
        items = np.flatnonzero(groups >= 0)
        member = groups[items]
        # Stable, so each group keeps its input order; 16-bit keys sort by radix.
        key = member.astype(np.uint16) if n_groups <= 1 << 16 else member
        self.order = items[np.argsort(key, kind="stable")]
        self.n_groups = n_groups
        length = np.bincount(member, minlength=n_groups).astype(np.int64)
        start = np.cumsum(length) - length
        starts, lengths, self.splits = [start], [length], []
        count, todo = n_groups, np.flatnonzero(length > self.BLOCK)
        while len(todo):  # halve every piece longer than a block, as numpy does
            s, n = np.concatenate(starts)[todo], np.concatenate(lengths)[todo]
            half = n // 2 - (n // 2) % self.UNROLL
            left = count + np.arange(len(todo))
            right = left + len(todo)
            count += 2 * len(todo)
            starts += [s, s + half]
            lengths += [half, n - half]
            self.splits.append((todo, left, right))
            todo = np.concatenate([left, right])[np.concatenate([half, n - half]) > self.BLOCK]
        self.n_nodes = count
        start, length = np.concatenate(starts), np.concatenate(lengths)
        leaf = length <= self.BLOCK
        short = np.flatnonzero(leaf & (length < self.UNROLL))
        self.short = (short, self._in_order(start[short], length[short]))
        self.blocks = []
        long = np.flatnonzero(leaf & (length >= self.UNROLL))
        rows = length[long] // self.UNROLL
        for r in arrays.unique(rows):  # leaves grouped by how many rows of eight they fill
            ids = long[rows == r]
            s, used = start[ids], int(r) * self.UNROLL
            grid = s[:, None, None] + np.arange(used).reshape(int(r), self.UNROLL)
            self.blocks.append((ids, grid, self._in_order(s + used, length[ids] - used)))

    @classmethod
    def _in_order(cls, start: np.ndarray, length: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """For pieces shorter than eight: which pieces take a j-th value, and where it is."""
        steps = []
        for j in range(cls.UNROLL - 1):
            which = np.flatnonzero(length > j)
            if len(which) == 0:
                break
            steps.append((which, start[which] + j))
        return steps

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` (one per item given to the constructor) per group."""
        a = np.asarray(values, dtype=float)[self.order]
        total = np.zeros(self.n_nodes)
        ids, steps = self.short
        res = np.zeros(len(ids))
        for which, at in steps:
            res[which] = res[which] + a[at]
        total[ids] = res
        for ids, grid, steps in self.blocks:
            block = a[grid]
            p = block[:, 0, :].copy()
            for i in range(1, block.shape[1]):
                p += block[:, i, :]
            res = ((p[:, 0] + p[:, 1]) + (p[:, 2] + p[:, 3])) + ((p[:, 4] + p[:, 5]) + (p[:, 6] + p[:, 7]))
            for which, at in steps:
                res[which] = res[which] + a[at]
            total[ids] = res
        for parent, left, right in reversed(self.splits):
            total[parent] = total[left] + total[right]
        return total[:self.n_groups]


class WalkStats:
    """Weighted mean and weighted quantile of walk minutes per group, all groups in one sorted pass.

    The grouping (group codes and their sums) is built once and reused for
    every category's minutes. A group is described only where it weighs
    something and every origin with a weight has a finite walk; elsewhere it
    is absent (NaN once mapped). The quantile is the first value, in ascending
    order (ties in input order), whose cumulative weight within its group
    reaches ``q × total − 1e-9``.

    Parameters
    ----------
    groups : ndarray
        Group (unit id) of each origin.
    weights : ndarray
        Residents of each origin.
    """

    def __init__(self, groups: np.ndarray, weights: np.ndarray):
        self.weights = np.asarray(weights, dtype=float)
        self.codes, self.ids = pd.factorize(np.asarray(groups), sort=True)
        self.n = len(self.ids)
        self.sums = GroupSums(self.codes, self.n)
        self.total = self.sums(self.weights)

    def __call__(self, minutes: np.ndarray, q: float = 0.95) -> tuple[pd.Series, pd.Series]:
        """(mean, quantile) of ``minutes`` (one per origin, inf where nothing is reached), indexed by group id."""
        minutes = np.asarray(minutes, dtype=float)
        n, codes, weights = self.n, self.codes, self.weights
        if n == 0:
            empty = pd.Series([], index=pd.Index(self.ids), dtype=float)
            return empty, empty.copy()
        unreached = np.bincount(codes, weights=(weights > 0) & ~np.isfinite(minutes), minlength=n) > 0
        described = (self.total > 0) & ~unreached
        with np.errstate(invalid="ignore", divide="ignore"):
            # An unreached origin of weight 0 makes inf × 0 = NaN, and the mean NaN, as numpy.average does.
            mean = self.sums(minutes * weights) / self.total
        # Sorted by (group, minutes); lexsort is stable, so ties keep the input order.
        order = np.lexsort((minutes, codes))
        sorted_codes, sorted_minutes = codes[order], minutes[order]
        cum = pd.Series(weights[order]).groupby(sorted_codes, sort=False).cumsum().to_numpy()
        last = np.flatnonzero(np.r_[sorted_codes[1:] != sorted_codes[:-1], True])
        threshold = q * cum[last] - 1e-9
        hit = np.flatnonzero(cum >= threshold[sorted_codes])
        first = hit[np.r_[True, sorted_codes[hit][1:] != sorted_codes[hit][:-1]]] if len(hit) else hit
        quantile = np.full(n, np.nan)
        quantile[sorted_codes[first]] = sorted_minutes[first]
        index = pd.Index(self.ids[described])
        return pd.Series(mean[described], index=index), pd.Series(quantile[described], index=index)


def walk_stats(groups: np.ndarray, minutes: np.ndarray, weights: np.ndarray,
               q: float = 0.95) -> tuple[pd.Series, pd.Series]:
    """Weighted mean and ``q`` quantile of ``minutes`` per group (:class:`WalkStats` for one column)."""
    return WalkStats(groups, weights)(minutes, q)


def rollup_geometry(streets: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Streets whose geometry is the union of their communities (the street polygon where none links).

    Street figures are computed on this geometry so that they are exactly the
    sums of their communities' figures even where the street and community
    files disagree at the edges (they do in Hexi, by up to a sixth of a street).
    """
    linked = communities[communities["street_id"] >= 0]
    dissolved = linked.dissolve(by="street_id").geometry
    geometry = streets["street_id"].map(dissolved).to_numpy()
    out = streets.copy()
    out["geometry"] = np.where(pd.isna(geometry), streets.geometry.to_numpy(), geometry)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=streets.crs)


CAPACITY_TOTALS = CAPACITY_COLUMNS


def aggregate(units: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
              facilities: gpd.GeoDataFrame, categories: dict[str, Category], id_field: str = "community_id",
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
    categories : dict of Category
        The study area's categories (``config.categories``).
    id_field : str
        ``community_id``, or ``street_id`` for streets.
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
    pieces = pd.DataFrame({"cid": cid, "residents": origins["residents"].to_numpy()})
    for g in groups:
        pieces[f"residents_{g}"] = origins[f"residents_{g}"].to_numpy()
    inside = np.asarray(cid) >= 0
    pieces = pieces[inside]
    # Each origin's cell, looked up once (not once per category and column).
    at = pd.Index(cells["h3"]).get_indexer(origins["h3"])[inside]

    def of_cells(column: str, empty: float) -> np.ndarray:
        """A cell column at each origin's cell (``empty`` for an origin in no cell)."""
        return np.append(cells[column].to_numpy(), empty)[at]

    out = units.copy()
    ids = out[id_field]
    sums = pieces.groupby("cid").sum(numeric_only=True)
    for col in ["residents"] + [f"residents_{g}" for g in groups]:
        out[col] = ids.map(sums[col]).fillna(0.0) if col in sums else 0.0
    fac_in, cap_in = _facilities_inside(units, facilities, id_field)

    # Covered residents of every (flag, group) pair, summed per unit in one grouped pass.
    flags: dict[str | None, np.ndarray] = {key: of_cells(f"covered_{key}", False).astype(bool)
                                           for key in categories}
    flags[None] = of_cells("complete", False).astype(bool)
    weight_cols = ["residents"] + [f"residents_{g}" for g in groups]
    covered_sums = pd.DataFrame({(key, col): pieces[col].to_numpy() * flag for key, flag in flags.items()
                                 for col in (weight_cols if key is not None else ["residents"])}
                                ).groupby(pieces["cid"].to_numpy()).sum()

    def share(key: str | None, col: str) -> tuple[pd.Series, pd.Series]:
        covered = ids.map(covered_sums[(key, col)]).fillna(0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.Series(np.where(out[col] > 0, covered / out[col], np.nan), index=out.index), out[col] - covered

    stats = WalkStats(pieces["cid"].to_numpy(), pieces["residents"].to_numpy())
    for key in categories:
        minutes = of_cells(f"walk_time_s_{key}", np.nan).astype(float) / 60.0
        out[f"covered_share_{key}"], out[f"uncovered_residents_{key}"] = share(key, "residents")
        for g in groups:
            out[f"covered_share_{key}_{g}"], out[f"uncovered_residents_{key}_{g}"] = share(key, f"residents_{g}")
        out[f"facilities_{key}"] = ids.map(fac_in.get(key, {})).fillna(0).astype(int)
        for cap in CAPACITY_TOTALS:
            if (key, cap) in cap_in:
                out[f"{cap}_{key}"] = ids.map(cap_in[(key, cap)]).fillna(0.0)
        out[f"speed_m_s_{key}"] = categories[key].speed_m_s  # every output states its speed
        mean, p95 = stats(minutes, 0.95)
        out[f"mean_walk_min_{key}"] = ids.map(mean)
        if f"fca_per_1000_{key}" in origins.columns:
            demand = origins[group_column(origins, categories[key].demand_group)[0]].to_numpy(float)
            keep = cid >= 0
            out[f"fca_per_1000_{key}"] = ids.map(unit_mean(
                cid[keep], origins[f"fca_per_1000_{key}"].to_numpy(float)[keep], demand[keep]))
        out[f"p95_walk_min_{key}"] = ids.map(p95)
    out["complete_share"], _ = share(None, "residents")
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
