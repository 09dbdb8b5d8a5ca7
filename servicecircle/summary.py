"""The summary of a run (``summary.json``, the console, the pages): headline figures per category.

Plain sentences say what was (not) found, so a zero is said plainly rather than shown as an empty layer.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from . import texts
from .config import CAPACITY_COLUMNS, Config
from .osm import ATTRIBUTION
from .population import age_groups

if TYPE_CHECKING:  # for annotations only
    from .inputs import InputReport


def category_notes(facilities: gpd.GeoDataFrame, config: Config, lang: str = "en") -> dict[str, str]:
    """A plain sentence per category saying what was (not) found, for summary and console (English)
    and the pages (``lang``); the sentences are the catalogue's ``notes.`` entries."""
    def t(which: str, **values) -> str:
        return texts.text(lang, f"notes.{which}", **values)

    notes = {}
    for key, cat in config.categories.items():
        rows = facilities[facilities["category"] == key]
        counted = rows[rows["counted"]]
        flagged = rows[~rows["counted"]]
        off = counted[counted["off_network"]]
        sources = counted["source"].value_counts().to_dict() if "source" in counted.columns else {}
        if len(counted) == 0:
            if config.facilities.registries:
                text = t(
                    "none_osm_or_registries" if config.area.uses_osm else "none_registries", label=cat.label, key=key
                )
            elif config.area.uses_osm:
                text = t("none_in_osm", label=cat.label, key=key)
            else:
                text = t("none_no_data", label=cat.label, key=key)
        else:
            parts = [t("from_source", n=n, source=_source_word(lang, src)) if src != "both" else t("from_both", n=n)
                     for src, n in sorted(sources.items())]
            text = t("found", n=len(counted), label=cat.label, key=key, parts=t("join").join(parts))
            if len(off):
                text += t("off_network", n=len(off))
        if len(flagged):
            text += t("not_counted", n=len(flagged), why=_flag_note(lang, key, cat.flag_note) or t("flagged"))
        notes[key] = text
    return notes


def _source_word(lang: str, source: str) -> str:
    """Where facilities came from (``osm``, ``registry``) in words of ``lang``."""
    key = f"notes.source_{source}"
    return texts.text(lang, key) if key in texts.TEXTS else source


def _flag_note(lang: str, category: str, note: str) -> str:
    """A category's ``flag_note`` in ``lang`` when it is the default one (a note of the user's own is theirs)."""
    key = f"notes.flag_note_{category}"
    return texts.text(lang, key) if key in texts.TEXTS and texts.TEXTS[key]["en"] == note else note


def summarise(config: Config, net_info: dict, facilities: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
              communities: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, *, streets: gpd.GeoDataFrame | None = None,
              population_info: dict | None = None, registry_info: list | None = None,
              input_report: InputReport | None = None, scorecard: pd.DataFrame | None = None,
              capacity_access: dict | None = None,
              blind_spots: pd.DataFrame | None = None, adjacency: pd.DataFrame | None = None) -> dict:
    """The run's headline figures (``summary.json``).

    Coverage shares are resident-weighted means of the cells' covered flags.
    """
    residents = cells["residents"].to_numpy()
    total = float(residents.sum())
    lang = config.output.lang
    notes = category_notes(facilities, config, lang)

    def share(flag: pd.Series) -> float | None:
        return float((residents * flag.to_numpy(bool)).sum() / total) if total > 0 else None

    groups = age_groups(cells)

    def group_share(flag: pd.Series, g: str) -> float | None:
        w = cells[f"residents_{g}"].to_numpy()
        return float((w * flag.to_numpy(bool)).sum() / w.sum()) if w.sum() > 0 else None

    cats = {}
    for key, cat in config.categories.items():
        rows = facilities[facilities["category"] == key]
        counted = rows[rows["counted"]]
        cats[key] = {
            "label": cat.label,
            "speed_m_s": cat.speed_m_s,
            "facilities": int(len(counted)),
            "facilities_off_network": int(counted["off_network"].sum()),
            "facilities_listed_not_counted": int((~rows["counted"]).sum()),
            "population_covered_share": share(cells[f"covered_{key}"]),
            "population_covered": float((residents * cells[f"covered_{key}"].to_numpy(bool)).sum()),
            "note": notes[key],
        }
        for g in groups:
            cats[key][f"population_covered_share_{g}"] = group_share(cells[f"covered_{key}"], g)
        for cap in (c for c in CAPACITY_COLUMNS if c != "floor_area_m2"):  # floor area: the area goal
            if cap in counted.columns and pd.to_numeric(counted[cap], errors="coerce").notna().any():
                cats[key][cap] = float(pd.to_numeric(counted[cap], errors="coerce").sum())
        if capacity_access and key in capacity_access:
            cats[key]["capacity_access"] = _capacity_access_summary(capacity_access[key], cells, key, cat.label,
                                                                    int(counted["off_network"].sum()), lang)
        if blind_spots is not None:
            spots = blind_spots[blind_spots["category"] == key]
            cats[key]["blind_spots"] = int(len(spots))
            cats[key]["blind_spot_residents"] = float(spots["residents"].sum())
            cats[key]["largest_blind_spots"] = [
                {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                for r in spots.drop(columns="geometry").head(5).to_dict("records")]
    methods = origins.groupby("method")["residents"].sum().to_dict()
    population_info = population_info or {}
    return {
        "area": config.area.name,
        "software": f"servicecircle {version('servicecircle')}",
        "config_hash": config.config_hash,
        "speed_m_s": config.access.speed_m_s,
        "speed_profile": config.access.speed_profile,
        "thresholds_min": list(config.access.thresholds_min),
        "coverage_threshold_min": config.access.coverage_threshold_min,
        "street_buffer_m": config.access.street_buffer_m,
        "h3_resolution": config.grid.h3_resolution,
        "population_total": total,
        "population_method": {
            "from_buildings": float(methods.get("building", 0.0)),
            "from_residential_landuse": float(methods.get("landuse", 0.0)),
            "from_street_length_proxy": float(methods.get("street_length", 0.0)),
            "scaled_to": population_info.get("scaled_to"),
            "age_groups_from": population_info.get("age_groups_from"),
            "census": population_info.get("census"),
            "default_levels": config.population.default_levels,
            "floor_area_per_person_m2": config.population.floor_area_per_person_m2,
            "landuse_floor_area_ratio": config.population.landuse_floor_area_ratio,
        },
        "population_by_age_group": {g: float(cells[f"residents_{g}"].sum()) for g in groups},
        "cells": int(len(cells)),
        "cells_populated": int((residents > 0).sum()),
        "communities": int(len(communities)),
        "communities_source": str(communities["source"].iloc[0]) if len(communities) else None,
        "streets": None if streets is None else int(len(streets)),
        "communities_linked_to_streets": communities["street_link"].value_counts().to_dict()
        if "street_link" in communities
        else {},
        "registries": registry_info or [],
        "input_problems": input_report.summary() if input_report is not None else {},
        "goals": _district_goals(scorecard),
        "capacity_access_decay": {
            "decay": config.access.decay,
            "step_weights": list(config.access.step_weights) if config.access.decay == "stepped" else None,
        },
        "health_adjacency": _adjacency_summary(adjacency, config, lang),
        "network": net_info,
        "categories": cats,
        "complete_circle_categories": list(config.complete_circle),
        "complete_circle_share": share(cells["complete"]),
        **{f"complete_circle_share_{g}": group_share(cells["complete"], g) for g in groups},
        "attribution": ATTRIBUTION,
    }


def _capacity_access_summary(info: dict, cells: pd.DataFrame, key: str, label: str, off_network: int = 0,
                             lang: str = "en") -> dict:
    """District figure of a category's 2SFCA: capacity within reach per 1,000 of its demand group."""
    out = dict(info, facilities_off_network=off_network)

    def t(which: str, **values: object) -> str:
        return texts.text(lang, "summary." + which, **values)

    capacity = texts.capacity_word(lang, info["capacity"])
    # The unit in the run's language (access words it in English for its own log): capacity per 1,000 of whom.
    who = texts.demand_words(lang, info["demand"])
    if info["demand"] == "residents" and "no age data" in str(info.get("demand_label", "")):
        who += texts.text(lang, "console.demand_no_ages")
    out["unit"] = t("fca_unit", capacity=capacity, who=who)
    col = f"fca_per_1000_{key}"
    demand = cells[info["demand"]].to_numpy(float) if info["demand"] in cells else cells["residents"].to_numpy(float)
    values = cells[col].to_numpy(float) if col in cells else np.full(len(cells), np.nan)
    ok = np.isfinite(values) & (demand > 0)
    out["district_per_1000"] = (
        float(np.average(values[ok], weights=demand[ok])) if ok.any() and demand[ok].sum() > 0 else None
    )
    if info["facilities_used"] == 0:
        out["note"] = t("fca_none", label=label, capacity=capacity) + (
            t("fca_none_count", n=info["facilities_without_capacity"]) if info["facilities_without_capacity"] else "")
    elif info["facilities_without_capacity"]:
        out["note"] = t("fca_without", n=info["facilities_without_capacity"], label=label, capacity=capacity)
    if off_network:
        text = t("fca_off_network", n=off_network, label=label, capacity=capacity)
        out["note"] = out["note"] + t("join") + text if out.get("note") else text
    return out


def _adjacency_summary(adjacency: pd.DataFrame | None, config: Config, lang: str = "en") -> dict:
    """How many care facilities lie within the walk of a health centre (医养结合)."""
    care = config.categories.get(config.gaps.care_category)
    out = {"care_category": config.gaps.care_category, "health_category": config.gaps.health_category,
           "max_walk_min": config.gaps.health_max_walk_min}
    if adjacency is None or len(adjacency) == 0:
        label = care.label if care else config.gaps.care_category
        out.update(checked=0, adjacent=0, not_adjacent=0, note=texts.text(lang, "summary.no_care", label=label))
        return out
    measured = adjacency["walk_min_to_health"].notna()
    out.update(
        checked=int(len(adjacency)),
        adjacent=int(adjacency["adjacent"].sum()),
        not_adjacent=int((~adjacency["adjacent"].astype(bool)).sum()),
        not_measured=int((~measured).sum()),
        median_walk_min=float(adjacency.loc[measured, "walk_min_to_health"].median()) if measured.any() else None,
    )
    notes = sorted(set(adjacency["note"]) - {""})
    if notes:
        out["note"] = texts.text(lang, "summary.join").join(notes)
    return out


def _district_goals(scorecard: pd.DataFrame | None) -> list[dict]:
    """The district rows of the scorecard, for summary.json."""
    if scorecard is None or len(scorecard) == 0:
        return []
    rows = scorecard[scorecard["level"] == "district"]
    keep = ["goal", "goal_name", "kind", "meaning", "value", "target", "unit", "passed", "gap", "gap_text"]
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in rows[keep].to_dict("records")]
