"""Policy goals: the goal table evaluated for the district, each street (街道) and each community (社区).

Users do not ask "what is the coverage"; they ask which communities fail the
一刻钟 goals, by how much, and what it would take. Each goal of
``config.goals`` (defaults in :data:`servicecircle.config.DEFAULT_GOALS`,
editable in the study-area file) is one of

``population_within``
    share of a group (all residents, aged 60+, small children) living within
    ``minutes`` walk (or ``metres`` of walked network) of every listed category;
``units_with_facility``
    share of communities (or streets) that have the category — in *both*
    meanings of 覆盖率, because plans use the word both ways: **contains**
    (a facility inside the unit) and **reach** (at least ``reach_share`` of
    the unit's group within the walk);
``capacity_per_1000``
    capacity (beds, nursery places …) per 1,000 of the group;
``capacity_share``
    one capacity as a share of another (affordable 普惠 places of all places);
``area_per_capita``
    facility floor (or footprint) area per resident, where it is known.

Every row of the resulting scorecard states its value, target, pass/fail and
the gap in the users' terms ("2 more communities need …", "37 places short",
"1,240 residents aged 60+ outside the 15-minute circle").
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from .config import Config, Goal
from .communities import facility_units
from .population import group_column

SCORECARD_COLUMNS = ["level", "unit_id", "unit_name", "unit_code", "street_name", "goal", "goal_name", "kind",
                     "meaning", "value", "target", "unit", "passed", "gap", "gap_text", "source"]

#: Chinese headers of scorecard.csv / scorecard.xlsx.
SCORECARD_HEADERS_ZH = {
    "level": "层级", "unit_id": "编号", "unit_name": "单位名称", "unit_code": "代码", "street_name": "所属街道",
    "goal": "指标代码", "goal_name": "指标", "kind": "性质", "meaning": "口径", "value": "现状值", "target": "目标值",
    "unit": "计量单位", "passed": "是否达标", "gap": "差距", "gap_text": "差距说明", "source": "依据",
}
LEVEL_ZH = {"district": "区", "street": "街道", "community": "社区"}
KIND_ZH = {"binding": "约束性", "advisory": "倡导性"}


def _reach_flags(cells: pd.DataFrame, goal: Goal, config: Config) -> pd.Series:
    """Per cell: within the goal's walk of every listed category."""
    flag = np.ones(len(cells), bool)
    for cat in goal.categories:
        t = cells[f"walk_time_s_{cat}"].to_numpy(float)
        if goal.metres is not None:
            flag &= t * config.categories[cat].speed_m_s <= goal.metres
        else:
            flag &= t <= goal.minutes * 60.0
    return pd.Series(flag, index=cells["h3"].to_numpy())


def _walk_text(goal: Goal) -> str:
    return f"{goal.metres:g} m walked" if goal.metres is not None else f"{goal.minutes:g} min walk"


def _fmt_share(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.0%}"


class _Units:
    """The district, its streets and communities, and which origins and facilities each holds."""

    def __init__(self, origins, unit_of_origin, communities, streets, facilities):
        self.origins = origins
        self.community = np.asarray(unit_of_origin.get("community", np.full(len(origins), -1)))
        self.street = np.asarray(unit_of_origin.get("street", np.full(len(origins), -1)))
        self.communities, self.streets = communities, streets
        counted = facilities[facilities["counted"] & ~facilities.get("off_network", False)]
        self.facilities = counted
        fac_comm = facility_units(counted, communities)
        self.fac_community = fac_comm
        street_of = dict(zip(communities["community_id"], communities.get("street_id", pd.Series(-1, index=communities.index))))
        self.fac_street = np.array([street_of.get(c, -1) for c in fac_comm], dtype=int)

    def levels(self):
        """(level, unit id, name, code, street name, origin mask, facility mask) for every unit."""
        yield "district", 0, "", "", "", np.ones(len(self.origins), bool), np.ones(len(self.facilities), bool)
        if self.streets is not None:
            for sid, name, code in zip(self.streets["street_id"], self.streets["name"], self.streets["code"]):
                yield "street", int(sid), name, code, name, self.street == sid, self.fac_street == sid
        comm = self.communities
        street_names = comm["street_name"] if "street_name" in comm else pd.Series("", index=comm.index)
        for cid, name, code, sname in zip(comm["community_id"], comm["name"], comm["code"], street_names):
            yield "community", int(cid), name, code, sname, self.community == cid, self.fac_community == cid


def evaluate(config: Config, cells: pd.DataFrame, origins: pd.DataFrame, unit_of_origin: dict,
             communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame,
             district_name: str | None = None) -> pd.DataFrame:
    """The scorecard: one row per (unit, goal, meaning), columns :data:`SCORECARD_COLUMNS`.

    Rows come level by level (district, streets, communities); within a level,
    units failing any binding goal come first.
    """
    units = _Units(origins, unit_of_origin, communities, streets, facilities)
    cell_h3 = origins["h3"].to_numpy()
    rows: list[dict] = []
    # Per-unit "has it" results of units_with_facility goals, reused by the levels above.
    base: dict[tuple[str, str], dict[int, tuple[bool, bool]]] = {}
    for goal in config.goals:
        if goal.metric == "units_with_facility":
            base[(goal.key, goal.unit_level)] = {}
    unit_list = list(units.levels())
    # Each goal's reach flag per origin, computed once (not once per unit).
    flags_of = {goal.key: _reach_flags(cells, goal, config).reindex(cell_h3).to_numpy(bool) for goal in config.goals
                if goal.metric in ("population_within", "units_with_facility")}
    # First pass: base units of units_with_facility goals.
    for level, uid, name, code, sname, omask, fmask in unit_list:
        for goal in config.goals:
            if goal.metric == "units_with_facility" and level == goal.unit_level:
                col, _ = group_column(origins, goal.group)
                flags = flags_of[goal.key][omask]
                w = origins[col].to_numpy()[omask]
                share = float((w * flags).sum() / w.sum()) if w.sum() > 0 else np.nan
                cats = units.facilities["category"].to_numpy()[fmask]
                contains = all((cats == c).any() for c in goal.categories)
                base[(goal.key, level)][uid] = (contains, bool(np.isfinite(share) and share >= goal.reach_share), share)
    for level, uid, name, code, sname, omask, fmask in unit_list:
        head = {"level": level, "unit_id": uid, "unit_name": name or (district_name or config.name), "unit_code": code,
                "street_name": sname}
        for goal in config.goals:
            for row in _goal_rows(goal, level, uid, omask, fmask, units, flags_of.get(goal.key), origins, config, base):
                rows.append({**head, "goal": goal.key, "goal_name": goal.name, "kind": goal.kind,
                             "source": goal.source, **row})
    table = pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
    return _order(table)


def _order(table: pd.DataFrame) -> pd.DataFrame:
    if len(table) == 0:
        return table
    failing = table[(table["kind"] == "binding") & (table["passed"] == False)]  # noqa: E712 - NaN is "not scored"
    fail_units = set(zip(failing["level"], failing["unit_id"]))
    table["_fails"] = [0 if (lv, u) in fail_units else 1 for lv, u in zip(table["level"], table["unit_id"])]
    table["_level"] = table["level"].map({"district": 0, "street": 1, "community": 2})
    table["_goal"] = table.groupby(["level", "unit_id"]).cumcount()
    table = table.sort_values(["_level", "_fails", "unit_name", "unit_id", "_goal"], kind="stable")
    return table.drop(columns=["_fails", "_level", "_goal"]).reset_index(drop=True)


def _goal_rows(goal: Goal, level: str, uid: int, omask, fmask, units: _Units, origin_flags, origins, config,
               base) -> list[dict]:
    col, who = group_column(origins, goal.group)
    pop = float(origins[col].to_numpy()[omask].sum())
    label = " + ".join(config.categories[c].label for c in goal.categories)

    if goal.metric == "population_within":
        flags = origin_flags[omask]
        covered = float((origins[col].to_numpy()[omask] * flags).sum())
        share = covered / pop if pop > 0 else np.nan
        passed = bool(share >= goal.target) if pop > 0 else None
        outside = pop - covered
        gap = max(0.0, goal.target * pop - covered)
        text = (f"{outside:,.0f} {who} outside the {_walk_text(goal)} of {label}"
                + ("" if passed else f"; {gap:,.0f} more must be reached for {_fmt_share(goal.target)}")) if pop > 0 \
            else f"no {who} here"
        return [dict(meaning=f"reach: {who} within {_walk_text(goal)} of {label}", value=share, target=goal.target,
                     unit=goal.unit, passed=passed, gap=gap, gap_text=text)]

    if goal.metric == "units_with_facility":
        noun = "communities" if goal.unit_level == "community" else "streets"
        walk = _walk_text(goal)
        meanings = [("contains", f"contains: a {label} facility inside the {goal.unit_level}"),
                    ("reach", f"reach: ≥ {goal.reach_share:.0%} of {who} within {walk} of {label}")]
        out = []
        results = base[(goal.key, goal.unit_level)]
        for i, (short, meaning) in enumerate(meanings):
            if level == goal.unit_level:
                contains, reached, share = results.get(uid, (False, False, np.nan))
                ok = contains if short == "contains" else reached
                if short == "contains":
                    text = "has one" if ok else f"no {label} facility inside"
                else:
                    text = f"{_fmt_share(share)} of {who} within {walk}" + ("" if ok else f" (< {goal.reach_share:.0%})")
                out.append(dict(meaning=meaning, value=float(ok), target=1.0, unit="yes = 1", passed=ok,
                                gap=0.0 if ok else 1.0, gap_text=text))
                continue
            if goal.unit_level == "street" and level == "community":
                continue  # a street goal says nothing about one community
            members = _members(units, level, uid, goal.unit_level)
            if not members:
                continue
            met = sum(1 for m in members if results.get(m, (False, False, 0))[i])
            share = met / len(members)
            need = max(0, math.ceil(goal.target * len(members) - 1e-9) - met)
            passed = share >= goal.target - 1e-12
            text = (f"{met} of {len(members)} {noun} ({_fmt_share(share)})"
                    + ("" if passed else f"; {need} more {noun} need {label} "
                       + ("inside" if short == "contains" else f"within {walk}")))
            out.append(dict(meaning=meaning, value=share, target=goal.target, unit=goal.unit, passed=passed,
                            gap=float(need), gap_text=text))
        return out

    facs = units.facilities[fmask]
    facs = facs[facs["category"].isin(goal.categories)]
    if goal.metric in ("capacity_per_1000", "capacity_share"):
        cap = _capacity(facs, goal.capacity)
        if cap is None:
            return [dict(meaning=f"{goal.capacity} of {label}", value=np.nan, target=goal.target, unit=goal.unit,
                         passed=None, gap=np.nan, gap_text=f"unknown: no {label} facility here has a known {goal.capacity} "
                                                         "— load a registry with capacities")]
        total, unknown = cap
        note = f" ({unknown} facilities without a known {goal.capacity} counted as 0)" if unknown else ""
        if goal.metric == "capacity_per_1000":
            value = total / (pop / 1000.0) if pop > 0 else np.nan
            short = max(0.0, goal.target * pop / 1000.0 - total)
            passed = bool(value >= goal.target) if pop > 0 else None
            text = (f"{total:,.0f} {goal.capacity} for {pop:,.0f} {who}"
                    + ("" if passed or pop <= 0 else f"; {short:,.0f} {goal.capacity} short") + note)
            return [dict(meaning=f"{goal.capacity} per 1,000 {who}", value=value, target=goal.target, unit=goal.unit,
                         passed=passed, gap=short, gap_text=text)]
        denom = _capacity(facs, goal.of_capacity)
        of_total = denom[0] if denom else 0.0
        value = total / of_total if of_total > 0 else np.nan
        short = max(0.0, goal.target * of_total - total)
        passed = bool(value >= goal.target) if of_total > 0 else None
        text = (f"{total:,.0f} of {of_total:,.0f} {goal.of_capacity}"
                + ("" if passed or of_total <= 0 else f"; {short:,.0f} more must be {goal.capacity}") + note)
        return [dict(meaning=f"{goal.capacity} / {goal.of_capacity}", value=value, target=goal.target, unit=goal.unit,
                     passed=passed, gap=short, gap_text=text)]

    # area_per_capita: registry floor area, else the OSM footprint.
    area = pd.to_numeric(facs.get("floor_area_m2", pd.Series(np.nan, index=facs.index)), errors="coerce")
    if "footprint_m2" in facs:
        area = area.fillna(pd.to_numeric(facs["footprint_m2"], errors="coerce"))
    if len(facs) == 0 or area.notna().sum() == 0:
        return [dict(meaning=f"floor area of {label} per resident", value=np.nan, target=goal.target, unit=goal.unit,
                     passed=None, gap=np.nan, gap_text=f"unknown: no {label} facility here has a known floor area")]
    total = float(area.sum())
    value = total / pop if pop > 0 else np.nan
    short = max(0.0, goal.target * pop - total)
    passed = bool(value >= goal.target) if pop > 0 else None
    unknown = int(area.isna().sum())
    text = (f"{total:,.0f} m² for {pop:,.0f} {who}" + ("" if passed or pop <= 0 else f"; {short:,.0f} m² short")
            + (f" ({unknown} facilities of unknown area counted as 0)" if unknown else ""))
    return [dict(meaning=f"floor area of {label} per {who}", value=value, target=goal.target, unit=goal.unit,
                 passed=passed, gap=short, gap_text=text)]


def _capacity(facs: pd.DataFrame, field: str) -> tuple[float, int] | None:
    """Total of a capacity field and how many facilities lack it; None when nobody has it."""
    if field not in facs.columns:
        return None
    values = pd.to_numeric(facs[field], errors="coerce")
    if values.notna().sum() == 0:
        return None
    return float(values.sum()), int(values.isna().sum())


def _members(units: _Units, level: str, uid: int, base_level: str) -> list[int]:
    """Ids of the base units (communities or streets) inside a unit of ``level``."""
    if base_level == "street":
        return [] if units.streets is None else (list(units.streets["street_id"]) if level == "district" else [])
    comm = units.communities
    if level == "district":
        return list(comm["community_id"])
    if level == "street" and "street_id" in comm:
        return list(comm.loc[comm["street_id"] == uid, "community_id"])
    return []
