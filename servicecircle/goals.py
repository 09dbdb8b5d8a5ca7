"""Policy goals: the goal table evaluated for the district, each street (街道) and each community (社区).

Users do not ask "what is the coverage"; they ask which communities fail the
一刻钟 goals, by how much, and what it would take. Each goal of
``config.goals`` (defaults in the packaged ``defaults.toml``, :data:`servicecircle.config.DEFAULT_GOALS`,
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

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import texts
from .communities import GroupSums, facility_units
from .config import Config, Goal
from .population import group_column

SCORECARD_COLUMNS = ["level", "unit_id", "unit_name", "unit_code", "street_name", "goal", "goal_name", "kind",
                     "meaning", "value", "target", "unit", "passed", "gap", "gap_text", "source"]

#: Chinese headers of scorecard.csv / scorecard.xlsx.
SCORECARD_HEADERS_ZH = {
    "level": "层级", "unit_id": "编号", "unit_name": "单位名称", "unit_code": "代码", "street_name": "所属街道",
    "goal": "指标代码", "goal_name": "指标", "kind": "性质", "meaning": "口径", "value": "现状值", "target": "目标值",
    "unit": "计量单位", "passed": "是否达标", "gap": "差距", "gap_text": "差距说明", "source": "依据",
}
#: Unit levels and goal kinds in Chinese, as the scorecard files write them (the catalogue's ``level.`` and ``kind.``).
LEVEL_ZH = texts.section("zh", "level.")
KIND_ZH = texts.section("zh", "kind.")


def _reach_flags(cells: pd.DataFrame, goal: Goal, config: Config) -> np.ndarray:
    """Per cell: within the goal's walk of every listed category."""
    flag = np.ones(len(cells), bool)
    for cat in goal.categories:
        t = cells[f"walk_time_s_{cat}"].to_numpy(float)
        if goal.metres is not None:
            flag &= t * config.categories[cat].speed_m_s <= goal.metres
        else:
            # load_config gives reach goals without metres the coverage threshold's minutes.
            assert goal.minutes is not None
            flag &= t <= goal.minutes * 60.0
    return flag


def _walk_text(goal: Goal, lang: str = "en") -> str:
    if goal.metres is not None:
        return texts.text(lang, "goal.walk_m", metres=goal.metres)
    return texts.text(lang, "goal.walk_min", minutes=goal.minutes)


#: The catalogue key of each unit the packaged goals use; any other unit is shown as written.
UNIT_KEYS = {"share": "goal.unit_share", "share of communities": "goal.unit_share_communities",
             "share of streets": "goal.unit_share_streets", "places per 1,000 residents": "goal.unit_places_per_1000",
             "share of places": "goal.unit_share_places",
             "beds per 1,000 residents aged 60+": "goal.unit_beds_per_1000_60plus",
             "m² per resident": "goal.unit_m2_per_resident"}


def unit_text(unit: str, lang: str) -> str:
    """A goal's unit in ``lang`` (the packaged units are in the catalogue; others as the goal table writes them)."""
    return texts.text(lang, UNIT_KEYS[unit]) if unit in UNIT_KEYS else unit


def capacity_text(name: str | None, lang: str) -> str:
    """A capacity column (``beds``, ``nursery_places`` …) in ``lang``, as written when the catalogue has no entry."""
    key = f"goal.cap_{name}"
    return texts.text(lang, key) if key in texts.TEXTS else str(name)


def category_label(config: Config, key: str, lang: str) -> str:
    """A category's label in ``lang``: the catalogue's ``goal.cat_KEY`` where the study area keeps the packaged
    (Chinese) label, else the label as the study area writes it."""
    entry = texts.TEXTS.get(f"goal.cat_{key}")
    label = config.categories[key].label
    return entry[lang] if entry is not None and label == entry["zh"] else label


def _who(origins: pd.DataFrame, group: str, lang: str) -> tuple[str, str, str | None]:
    """The residents column of ``group``, how to say it in ``lang``, and (None if there is) why it is not there.

    A group of an age (60+, small children) that the population does not hold falls back to
    all residents (:func:`~servicecircle.population.group_column`): the goal is then not assessed.
    """
    col, _ = group_column(origins, group)
    if col.startswith("residents_"):
        return col, texts.text(lang, f"goal.who_{col[len('residents_'):]}"), None
    if group == "all":
        return col, texts.text(lang, "goal.who_all"), None
    wanted = texts.text(lang, "goal.who_60plus" if group == "60plus" else
                        f"goal.who_{'0_3' if group == 'young' else group}")
    return col, texts.text(lang, "goal.who_all"), wanted


def _unassessed(rows: dict, why: str | list[str], lang: str) -> dict:
    """The rows of a goal that cannot be assessed: passed unknown (neither met nor failed), 未评估 and why."""
    m = len(rows["pos"])
    whys = why if isinstance(why, list) else [why] * m
    rows["passed"] = [None] * m
    rows["gap_text"] = [texts.text(lang, "goal.not_assessed_why", why=w) for w in whys]
    return rows


def _fmt_share(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.0%}"


def _truthy(values: np.ndarray) -> np.ndarray:
    """Python truthiness of each element (an empty name falls back to the district's)."""
    return np.frompyfunc(bool, 1, 1)(values).astype(bool) if len(values) else np.zeros(0, bool)


def _positive_part(x: np.ndarray) -> np.ndarray:
    """``max(0, x)`` elementwise, 0 for NaN (as Python's ``max(0.0, nan)``)."""
    return np.where(x > 0, x, 0.0)


def _passed(ok: np.ndarray, scored: np.ndarray) -> list:
    """True/False where the unit is scored, None (not scored) elsewhere."""
    out = ok.astype(object)
    out[~scored] = None
    return out.tolist()


def _sums(unit: np.ndarray, values: np.ndarray, n: int, whole: bool) -> np.ndarray:
    """Sum of ``values`` per unit position (``unit`` -1: in no unit), all units in one grouped pass.

    Each unit's sum is numpy's own sum of that unit's values
    (:class:`~servicecircle.communities.GroupSums`), so the figures equal a
    sum over each unit's rows bit for bit. ``whole``: one unit holding every value.
    """
    values = np.asarray(values, dtype=float)
    if whole:
        return np.array([values.sum()])
    return GroupSums(unit, n)(values)


def _counts(unit: np.ndarray, flags: np.ndarray, n: int) -> np.ndarray:
    """How many flagged items each unit position holds."""
    keep = (unit >= 0) & flags
    return np.bincount(unit[keep], minlength=n)


@dataclass
class _Level:
    """The units of one level (the district, its streets or its communities) and where origins and facilities lie."""

    name: str
    rank: int  # scorecard order of the levels
    ids: np.ndarray
    names: np.ndarray
    codes: np.ndarray
    street_names: np.ndarray
    origin_unit: np.ndarray  # per origin: position of its unit in ``ids``, -1 in none
    facility_unit: np.ndarray  # per counted facility: position of its unit in ``ids``, -1 in none
    _origin_sums: GroupSums | None = field(default=None, repr=False)
    _populations: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def origin_sums(self, values: np.ndarray) -> np.ndarray:
        """Per unit: the sum of ``values`` (one per origin) over its origins."""
        if self.name == "district":
            return np.array([np.asarray(values, dtype=float).sum()])
        if self._origin_sums is None:  # the grouping is built once per level and reused by every goal
            self._origin_sums = GroupSums(self.origin_unit, self.n)
        return self._origin_sums(values)

    def population(self, column: str, weights: np.ndarray) -> np.ndarray:
        """Per unit: the residents of ``column`` (``weights``, one per origin); each column summed once."""
        if column not in self._populations:
            self._populations[column] = self.origin_sums(weights)
        return self._populations[column]

    def facility_sums(self, values: np.ndarray, selected: np.ndarray) -> np.ndarray:
        """Per unit: the sum of ``values`` (one per counted facility) over its ``selected`` facilities."""
        return _sums(self.facility_unit[selected], np.asarray(values, float)[selected], self.n,
                     self.name == "district")


def _names(values: ArrayLike, fallback: str) -> np.ndarray:
    names = np.asarray(values, dtype=object)
    return np.where(_truthy(names), names, fallback).astype(object)


class _Units:
    """The district, its streets and communities, and which origins and facilities each holds.

    Every lookup is one hashed pass over all origins or facilities
    (:meth:`pandas.Index.get_indexer`), never a mask per unit.
    """

    def __init__(self, origins: pd.DataFrame, unit_of_origin: dict, communities: gpd.GeoDataFrame,
                 streets: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame, district_name: str):
        n_origins = len(origins)
        counted = facilities[facilities["counted"] & ~facilities.get("off_network", False)]
        self.facilities = counted
        self.streets = streets
        none = np.full(n_origins, -1)
        fac_comm = facility_units(counted, communities)
        comm_index = pd.Index(communities["community_id"].to_numpy())
        comm_street = (communities["street_id"].to_numpy() if "street_id" in communities
                       else np.full(len(communities), -1))
        self.levels = [_Level("district", 0, np.array([0]), np.array([district_name], dtype=object),
                              np.array([""], dtype=object), np.array([""], dtype=object),
                              np.zeros(n_origins, dtype=np.int64), np.zeros(len(counted), dtype=np.int64))]
        # Position in the street list of each community's street (None: the communities name no street).
        self.community_street = None
        if streets is not None:
            street_index = pd.Index(streets["street_id"].to_numpy())
            fac_comm_pos = comm_index.get_indexer(fac_comm)
            fac_street = np.where(fac_comm_pos >= 0, comm_street[np.maximum(fac_comm_pos, 0)], -1) \
                if len(comm_street) else np.full(len(fac_comm), -1)
            self.levels.append(_Level(
                "street", 1, streets["street_id"].to_numpy(), _names(streets["name"], district_name),
                np.asarray(streets["code"], dtype=object), np.asarray(streets["name"], dtype=object),
                street_index.get_indexer(np.asarray(unit_of_origin.get("street", none))),
                street_index.get_indexer(fac_street)))
            if "street_id" in communities:
                self.community_street = street_index.get_indexer(comm_street)
        street_names = communities["street_name"] if "street_name" in communities else \
            pd.Series("", index=communities.index)
        self.levels.append(_Level(
            "community", 2, communities["community_id"].to_numpy(), _names(communities["name"], district_name),
            np.asarray(communities["code"], dtype=object), np.asarray(street_names, dtype=object),
            comm_index.get_indexer(np.asarray(unit_of_origin.get("community", none))),
            comm_index.get_indexer(fac_comm)))
        self.by_name = {level.name: level for level in self.levels}


def evaluate(config: Config, cells: pd.DataFrame, origins: pd.DataFrame, unit_of_origin: dict,
             communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame,
             district_name: str | None = None, *, lang: str | None = None,
             compounds: bool | None = None, present_categories: set[str] | None = None) -> pd.DataFrame:
    """The scorecard: one row per (unit, goal, meaning), columns :data:`SCORECARD_COLUMNS`.

    Units are the district (``unit_id`` 0: every origin and every counted,
    on-network facility), each street and each community; an origin belongs
    to the street and community ``unit_of_origin`` gives it, a facility to
    the community it lies in (:func:`~servicecircle.communities.facility_units`)
    and to that community's street. ``pop`` is the sum of the goal group's
    residents over the unit's origins; ``reached`` the same sum over origins
    whose cell is within the goal's walk of every listed category.

    ``population_within``
        value ``reached / pop``; passed when ≥ target; gap
        ``max(0, target × pop − reached)`` residents. Not scored where pop = 0.
    ``units_with_facility``
        For each base unit (``goal.unit_level``) two rows: *contains* (1 when
        a facility of every listed category lies inside) and *reach* (1 when
        ``reached / pop ≥ reach_share``); gap 1 when not met. Above the base
        level (district; streets over their communities) value = share of
        member units meeting it, gap = how many more must
        (``ceil(target × members − 1e-9) − met``); no row where a unit has no
        member, and none for a community under a street goal.
    ``capacity_per_1000``
        ``total`` capacity of the unit's facilities of the categories (unknown
        ones counted as 0); value ``total / (pop / 1000)``; gap
        ``max(0, target × pop / 1000 − total)``. Not known where no such
        facility has the capacity.
    ``capacity_share``
        value ``total / of_total``; gap ``max(0, target × of_total − total)``.
    ``area_per_capita``
        floor area (else footprint) ``total``; value ``total / pop``; gap
        ``max(0, target × pop − total)`` m².

    Every goal is evaluated in one grouped pass per level over all origins and
    facilities (:class:`~servicecircle.communities.GroupSums`, equal bit for
    bit to summing each unit's own rows), never once per unit. Rows come
    level by level (district, streets, communities); within a level, units
    failing any binding goal come first, then by name and id; a unit's rows
    follow the goal table's order.

    Texts (meanings, gap texts, units) are composed in ``lang`` (default
    ``config.output.lang``) from the catalogue's ``goal.`` entries; ``goal`` keeps
    the goal's key for scripts. A goal that cannot be assessed — no facility of its
    categories in the data, an age group the population does not hold, no
    capacity known — has ``passed`` None (neither met nor failed) and a gap text
    saying 未评估 and why. Where the communities are OSM residential compounds
    (``config.communities`` None), goals of 社区 (``unit_level`` community) are
    not scored on them: one district row says so (``compounds`` overrides that test).
    ``present_categories`` (default: those of ``facilities``) are the categories the data holds facilities
    of: a part of a run (a batch district) is handed only its own facilities, yet a category the run has
    is assessed there, not "no facility in the data".
    """
    lang = lang or config.output.lang
    compounds = config.communities is None if compounds is None else compounds
    units = _Units(origins, unit_of_origin, communities, streets, facilities, district_name or config.area.name)
    # The cell of each origin, looked up once for every goal.
    origin_cell = pd.Index(cells["h3"]).get_indexer(origins["h3"])
    blocks: list[tuple[int, _Level, dict]] = []
    cats = units.facilities["category"].to_numpy()
    present = set(cats) if present_categories is None else set(present_categories)
    for gi, goal in enumerate(config.goals):
        col, who, no_age = _who(origins, goal.group, lang)
        weights = origins[col].to_numpy(float)
        label = texts.text(lang, "goal.and").join(category_label(config, c, lang) for c in goal.categories)
        missing = [c for c in goal.categories if c not in present]
        goal_blocks: list[tuple[_Level, dict]] = []
        if goal.metric == "units_with_facility" and goal.unit_level == "community" and compounds:
            # OSM residential compounds are no 社区: the goal is reported once, for the district, as not assessed.
            district = units.levels[0]
            rows = _block(np.arange(1), 0, meaning=texts.text(lang, "goal.contains_meaning", label=label,
                                                              level=texts.text(lang, "level.community")),
                          value=np.full(1, np.nan), target=goal.target, unit=unit_text(goal.unit, lang),
                          passed=[None], gap=np.full(1, np.nan), gap_text=[""])
            blocks.append((gi, district, _unassessed(rows, texts.text(lang, "goal.no_community_file"), lang)))
            continue
        if goal.metric in ("population_within", "units_with_facility"):
            # The goal's reach flag per origin, computed once for all units.
            flags = np.append(_reach_flags(cells, goal, config), False)[origin_cell]  # in no cell: not reached
        if goal.metric == "population_within":
            for level in units.levels:
                goal_blocks.append((level, _population_within(goal, level, col, weights, flags, who, label, lang)))
        elif goal.metric == "units_with_facility":
            goal_blocks += _units_with_facility(goal, units, col, weights, flags, who, label, lang, compounds)
        else:
            for level in units.levels:
                goal_blocks.append((level, _capacity_rows(goal, level, units.facilities, col, weights, who, label,
                                                          lang)))
        for level, rows in goal_blocks:
            if missing:
                missing_label = texts.text(lang, "goal.and").join(category_label(config, c, lang) for c in missing)
                rows = _unassessed(rows, texts.text(lang, "goal.no_facility", label=missing_label), lang)
            elif no_age is not None and goal.metric != "capacity_share":
                rows = _unassessed(rows, [texts.text(lang, "goal.no_age_data", who=no_age, text=t)
                                          for t in rows["gap_text"]], lang)
            blocks.append((gi, level, rows))
    return _assemble(config, units, blocks)


def _assemble(config: Config, units: _Units, blocks: list[tuple[int, _Level, dict]]) -> pd.DataFrame:
    """One table from the row blocks, in scorecard order (see :func:`evaluate`).

    The order is decided per unit (a sort of unit names, not of rows), and the
    rows follow their unit, goal and meaning: one ``lexsort`` over the rows.
    """
    if not blocks:
        return pd.DataFrame([], columns=SCORECARD_COLUMNS)
    goals = config.goals
    # Rank of every unit: by level, failing a binding goal first, then by name and id.
    failing = {level.name: np.zeros(level.n, bool) for level in units.levels}
    for gi, level, rows in blocks:
        if goals[gi].kind == "binding":
            failed = np.fromiter((p is False for p in rows["passed"]), dtype=bool, count=len(rows["pos"]))
            failing[level.name][rows["pos"][failed]] = True
    unit_rank, offset = {}, 0
    for level in units.levels:
        order = np.lexsort((level.ids, level.names, ~failing[level.name]))
        rank = np.empty(level.n, dtype=np.int64)
        rank[order] = offset + np.arange(level.n)
        unit_rank[level.name], offset = rank, offset + level.n
    cols: dict[str, list] = {c: [] for c in SCORECARD_COLUMNS}
    keys: dict[str, list] = {"unit": [], "goal": [], "sub": []}
    for gi, level, rows in blocks:
        pos, m = rows["pos"], len(rows["pos"])
        goal = goals[gi]
        cols["level"].append(np.full(m, level.name, dtype=object))
        cols["unit_id"].append(level.ids[pos].astype(np.int64))
        cols["unit_name"].append(level.names[pos])
        cols["unit_code"].append(level.codes[pos])
        cols["street_name"].append(level.street_names[pos])
        for c, v in (("goal", goal.key), ("goal_name", goal.name), ("kind", goal.kind), ("source", goal.source)):
            cols[c].append(np.full(m, v, dtype=object))
        for c in ("meaning", "value", "target", "unit", "passed", "gap", "gap_text"):
            cols[c].append(np.asarray(rows[c], dtype=float if c in ("value", "target", "gap") else object))
        keys["unit"].append(unit_rank[level.name][pos])
        keys["goal"].append(np.full(m, gi))
        keys["sub"].append(rows["sub"])
    order = np.lexsort([np.concatenate(keys[k]) for k in ("sub", "goal", "unit")])
    data = {}
    for c in SCORECARD_COLUMNS:
        values = np.concatenate(cols[c])[order]
        # Lists of Python objects: pandas infers each column's type as it does for a table built row by row.
        data[c] = values if values.dtype != object else values.tolist()
    return pd.DataFrame(data, columns=SCORECARD_COLUMNS)


def _block(pos: np.ndarray, sub: ArrayLike, **columns: Any) -> dict:
    """Rows of one goal at one level: unit positions, meaning number, and the scorecard columns."""
    m = len(pos)
    out: dict[str, np.ndarray | list] = {"pos": np.asarray(pos, dtype=np.int64),
                                         "sub": np.broadcast_to(np.asarray(sub), (m,))}
    for key, value in columns.items():
        out[key] = value if isinstance(value, (list, np.ndarray)) else [value] * m
    return out


def _population_within(goal: Goal, level: _Level, col: str, weights: np.ndarray, flags: np.ndarray, who: str,
                       label: str, lang: str) -> dict:
    pop = level.population(col, weights)
    covered = level.origin_sums(weights * flags)
    scored = pop > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(scored, covered / pop, np.nan)
    ok = share >= goal.target
    gap = _positive_part(goal.target * pop - covered)
    walk, target = _walk_text(goal, lang), _fmt_share(goal.target)
    t = texts.TEXTS
    outside, more, nobody = (t[k][lang] for k in ("goal.outside", "goal.more_reached", "goal.nobody"))
    # One string per row is the scorecard's content; everything numeric above is one pass per level.
    text = [(outside.format(n=o, who=who, walk=walk, label=label)
             + ("" if k else more.format(n=g, target=target))) if s else nobody.format(who=who)
            for o, g, k, s in zip((pop - covered).tolist(), gap.tolist(), ok.tolist(), scored.tolist())]
    return _block(np.arange(level.n), 0,
                  meaning=texts.text(lang, "goal.reach_meaning", who=who, walk=walk, label=label), value=share,
                  target=goal.target, unit=unit_text(goal.unit, lang), passed=_passed(ok, scored), gap=gap,
                  gap_text=text)


def _units_with_facility(goal: Goal, units: _Units, col: str, weights: np.ndarray, flags: np.ndarray, who: str,
                         label: str, lang: str, compounds: bool = False) -> list[tuple[_Level, dict]]:
    assert goal.unit_level is not None  # Goal._resolve: a units_with_facility goal names its unit level
    base = units.by_name.get(goal.unit_level)
    if base is None:
        return []  # a street goal in a run without streets
    t = texts.TEXTS
    noun = texts.text(lang, "goal.noun_street" if goal.unit_level == "street" else
                      "goal.noun_compound" if compounds else "goal.noun_community")
    walk = _walk_text(goal, lang)
    pop = base.population(col, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(pop > 0, base.origin_sums(weights * flags) / pop, np.nan)
    cats = units.facilities["category"].to_numpy()
    contains = np.ones(base.n, bool)
    for c in goal.categories:
        contains &= _counts(base.facility_unit, cats == c, base.n) > 0
    reached = np.isfinite(share) & (share >= goal.reach_share)
    met_flags = [contains, reached]
    reach_share = f"{goal.reach_share:.0%}"
    level_word = (texts.text(lang, "level.street") if goal.unit_level == "street" else
                  texts.text(lang, "level.compound" if compounds else "level.community"))
    if lang == "en":
        level_word = goal.unit_level  # as the English scorecard always wrote it
    meanings = [texts.text(lang, "goal.contains_meaning", label=label, level=level_word),
                texts.text(lang, "goal.share_meaning", share=reach_share, who=who, walk=walk, label=label)]
    unit = unit_text(goal.unit, lang)
    out = []
    for level in units.levels:
        if level is base:
            has_one, none_inside = t["goal.has_one"][lang], t["goal.none_inside"][lang].format(label=label)
            within, below = t["goal.share_within"][lang], t["goal.below"][lang].format(share=reach_share)
            row_texts = [[has_one if ok else none_inside for ok in contains.tolist()],
                         [within.format(share=_fmt_share(s), who=who, walk=walk) + ("" if ok else below)
                          for s, ok in zip(share.tolist(), reached.tolist())]]
            for i, ok in enumerate(met_flags):
                out.append((level, _block(np.arange(base.n), i, meaning=meanings[i], value=ok.astype(float),
                                          target=1.0, unit=texts.text(lang, "goal.yes_1"), passed=ok.tolist(),
                                          gap=(~ok).astype(float), gap_text=row_texts[i])))
            continue
        # Which unit of this level each base unit is a member of.
        if level.name == "district":
            member_of = np.zeros(base.n, dtype=np.int64)
        elif level.name == "street" and base.name == "community" and units.community_street is not None:
            member_of = units.community_street
        else:
            continue  # a street goal says nothing about one community
        members = _counts(member_of, np.ones(base.n, bool), level.n)
        pos = np.flatnonzero(members > 0)
        n = members[pos]
        met_text = t["goal.members_met"][lang]
        for i, flag in enumerate(met_flags):
            met = _counts(member_of, flag, level.n)[pos]
            unit_share = met / n
            need = np.maximum(0, np.ceil(goal.target * n - 1e-9).astype(np.int64) - met)
            ok = unit_share >= goal.target - 1e-12
            more = t["goal.more_inside" if i == 0 else "goal.more_within"][lang]
            text = [met_text.format(m=m, k=k, noun=noun, share=_fmt_share(s))
                    + ("" if p else more.format(d=d, noun=noun, label=label, walk=walk))
                    for m, k, s, p, d in zip(met.tolist(), n.tolist(), unit_share.tolist(), ok.tolist(),
                                             need.tolist())]
            out.append((level, _block(pos, i, meaning=meanings[i], value=unit_share, target=goal.target,
                                      unit=unit, passed=ok.tolist(), gap=need.astype(float), gap_text=text)))
    return out


def _capacity_rows(goal: Goal, level: _Level, facilities: pd.DataFrame, col: str, weights: np.ndarray, who: str,
                   label: str, lang: str) -> dict:
    """``capacity_per_1000``, ``capacity_share`` or ``area_per_capita`` of every unit of a level."""
    n = level.n
    selected = facilities["category"].isin(goal.categories).to_numpy() & (level.facility_unit >= 0)
    pop = level.population(col, weights)
    t = texts.TEXTS

    def capacity(values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per unit: total (unknown as 0), facilities without a value, and whether any has one."""
        if values is None:
            return np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, bool)
        missing = np.isnan(values)
        known = _counts(level.facility_unit, selected & ~missing, n) > 0
        return (level.facility_sums(np.where(missing, 0.0, values), selected),
                _counts(level.facility_unit, selected & missing, n), known)

    def column(name: str | None) -> np.ndarray | None:
        if name is None or name not in facilities.columns:
            return None
        return pd.to_numeric(facilities[name], errors="coerce").to_numpy(float)

    cap = capacity_text(goal.capacity, lang)
    if goal.metric == "area_per_capita":
        area = column("floor_area_m2")
        footprint = column("footprint_m2")
        if area is None:
            area = np.full(len(facilities), np.nan)
        if footprint is not None:
            area = np.where(np.isnan(area), footprint, area)
        total, unknown, known = capacity(area)
        unknown_text = texts.text(lang, "goal.not_assessed_why", why=texts.text(lang, "goal.no_area", label=label))
        unknown_meaning = texts.text(lang, "goal.area_unknown_meaning", label=label)
        meaning = texts.text(lang, "goal.area_meaning", label=label, who=who)
        scored = pop > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(scored, total / pop, np.nan)
        short = _positive_part(goal.target * pop - total)
        body, short_t, unknown_t = (t[k][lang] for k in ("goal.area_text", "goal.area_short", "goal.area_unknown"))
        text = [body.format(total=tt, pop=p, who=who) + ("" if ok or not s else short_t.format(n=g))
                + (unknown_t.format(n=u) if u else "")
                for tt, p, ok, s, g, u in zip(total.tolist(), pop.tolist(), (value >= goal.target).tolist(),
                                              scored.tolist(), short.tolist(), unknown.tolist())]
    else:
        total, unknown, known = capacity(column(goal.capacity))
        unknown_text = texts.text(lang, "goal.not_assessed_why",
                                  why=texts.text(lang, "goal.no_capacity", label=label, capacity=cap))
        unknown_meaning = texts.text(lang, "goal.capacity_meaning", capacity=cap, label=label)
        unknown_t = t["goal.capacity_unknown"][lang]
        notes = [unknown_t.format(n=u, capacity=cap) if u else "" for u in unknown.tolist()]
        if goal.metric == "capacity_per_1000":
            meaning = texts.text(lang, "goal.per1000_meaning", capacity=cap, who=who)
            scored = pop > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(scored, total / (pop / 1000.0), np.nan)
            short = _positive_part(goal.target * pop / 1000.0 - total)
            body, short_t = t["goal.per1000_text"][lang], t["goal.capacity_short"][lang]
            text = [body.format(total=tt, capacity=cap, pop=p, who=who)
                    + ("" if ok or not s else short_t.format(n=g, capacity=cap)) + note
                    for tt, p, ok, s, g, note in zip(total.tolist(), pop.tolist(), (value >= goal.target).tolist(),
                                                     scored.tolist(), short.tolist(), notes)]
        else:  # capacity_share
            of_total, _, of_known = capacity(column(goal.of_capacity))
            of_total = np.where(of_known, of_total, 0.0)
            of = capacity_text(goal.of_capacity, lang)
            meaning = texts.text(lang, "goal.share_of_meaning", capacity=cap, of=of)
            scored = of_total > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(scored, total / of_total, np.nan)
            short = _positive_part(goal.target * of_total - total)
            body, short_t = t["goal.share_of_text"][lang], t["goal.share_of_short"][lang]
            text = [body.format(total=tt, total_of=o, of=of, capacity=cap)
                    + ("" if ok or not s else short_t.format(n=g, capacity=cap)) + note
                    for tt, o, ok, s, g, note in zip(total.tolist(), of_total.tolist(),
                                                     (value >= goal.target).tolist(), scored.tolist(),
                                                     short.tolist(), notes)]
    ok = value >= goal.target
    # Units where no facility states the figure get a row saying so instead of a number.
    return _block(np.arange(n), 0,
                  meaning=np.where(known, meaning, unknown_meaning).astype(object).tolist(),
                  value=np.where(known, value, np.nan), target=goal.target, unit=unit_text(goal.unit, lang),
                  passed=_passed(ok, known & scored), gap=np.where(known, short, np.nan),
                  gap_text=np.where(known, np.asarray(text, dtype=object), unknown_text).tolist())
