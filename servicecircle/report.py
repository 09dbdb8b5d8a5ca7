"""Report: summary figures and the files of a run (GeoPackage, CSV, JSON)."""

from __future__ import annotations

import codecs
import json
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from . import texts, xlsx as xlsx_writer
from .config import Config
from .population import age_groups

ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"

#: Rows of one worksheet in Excel and WPS (header included).
EXCEL_MAX_ROWS = xlsx_writer.EXCEL_MAX_ROWS


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
            if config.registries:
                text = t("none_osm_or_registries" if config.uses_osm else "none_registries", label=cat.label, key=key)
            elif config.uses_osm:
                text = t("none_in_osm", label=cat.label, key=key)
            else:
                text = t("none_no_data", label=cat.label, key=key)
        else:
            parts = [t("from_source", n=n, source=src) if src != "both" else t("from_both", n=n)
                     for src, n in sorted(sources.items())]
            text = t("found", n=len(counted), label=cat.label, key=key, parts=t("join").join(parts))
            if len(off):
                text += t("off_network", n=len(off))
        if len(flagged):
            text += t("not_counted", n=len(flagged), why=cat.flag_note or t("flagged"))
        notes[key] = text
    return notes


def summarise(config: Config, net_info: dict, facilities: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
              communities: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, *, streets: gpd.GeoDataFrame | None = None,
              population_info: dict | None = None, registry_info: list | None = None,
              input_report=None, scorecard: pd.DataFrame | None = None, capacity_access: dict | None = None,
              blind_spots: pd.DataFrame | None = None, adjacency: pd.DataFrame | None = None) -> dict:
    """The run's headline figures (``summary.json``).

    Coverage shares are resident-weighted means of the cells' covered flags.
    """
    residents = cells["residents"].to_numpy()
    total = float(residents.sum())
    notes = category_notes(facilities, config)

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
        for cap in ("beds", "nursery_places", "nursery_places_affordable", "meals_per_day"):
            if cap in counted.columns and pd.to_numeric(counted[cap], errors="coerce").notna().any():
                cats[key][cap] = float(pd.to_numeric(counted[cap], errors="coerce").sum())
        if capacity_access and key in capacity_access:
            cats[key]["capacity_access"] = _capacity_access_summary(capacity_access[key], cells, key, cat.label,
                                                                    int(counted["off_network"].sum()))
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
        "area": config.name,
        "software": f"servicecircle {version('servicecircle')}",
        "config_hash": config.config_hash,
        "speed_m_s": config.speed_m_s,
        "speed_profile": config.speed_profile,
        "thresholds_min": list(config.thresholds_min),
        "coverage_threshold_min": config.coverage_threshold_min,
        "street_buffer_m": config.street_buffer_m,
        "h3_resolution": config.h3_resolution,
        "population_total": total,
        "population_method": {
            "from_buildings": float(methods.get("building", 0.0)),
            "from_residential_landuse": float(methods.get("landuse", 0.0)),
            "from_street_length_proxy": float(methods.get("street_length", 0.0)),
            "scaled_to": population_info.get("scaled_to"),
            "age_groups_from": population_info.get("age_groups_from"),
            "census": population_info.get("census"),
            "default_levels": config.default_levels,
            "floor_area_per_person_m2": config.floor_area_per_person_m2,
            "landuse_floor_area_ratio": config.landuse_floor_area_ratio,
        },
        "population_by_age_group": {g: float(cells[f"residents_{g}"].sum()) for g in groups},
        "cells": int(len(cells)),
        "cells_populated": int((residents > 0).sum()),
        "communities": int(len(communities)),
        "communities_source": str(communities["source"].iloc[0]) if len(communities) else None,
        "streets": None if streets is None else int(len(streets)),
        "communities_linked_to_streets": communities["street_link"].value_counts().to_dict() if "street_link" in communities else {},
        "registries": registry_info or [],
        "input_problems": input_report.summary() if input_report is not None else {},
        "goals": _district_goals(scorecard),
        "capacity_access_decay": {"decay": config.decay, "step_weights": list(config.step_weights)
                                  if config.decay == "stepped" else None},
        "health_adjacency": _adjacency_summary(adjacency, config),
        "network": net_info,
        "categories": cats,
        "complete_circle_categories": list(config.complete_circle),
        "complete_circle_share": share(cells["complete"]),
        **{f"complete_circle_share_{g}": group_share(cells["complete"], g) for g in groups},
        "attribution": ATTRIBUTION,
    }


def _capacity_access_summary(info: dict, cells: pd.DataFrame, key: str, label: str, off_network: int = 0) -> dict:
    """District figure of a category's 2SFCA: capacity within reach per 1,000 of its demand group."""
    out = dict(info, facilities_off_network=off_network)
    col = f"fca_per_1000_{key}"
    demand = cells[info["demand"]].to_numpy(float) if info["demand"] in cells else cells["residents"].to_numpy(float)
    values = cells[col].to_numpy(float) if col in cells else np.full(len(cells), np.nan)
    ok = np.isfinite(values) & (demand > 0)
    out["district_per_1000"] = float(np.average(values[ok], weights=demand[ok])) if ok.any() and demand[ok].sum() > 0 else None
    if info["facilities_used"] == 0:
        out["note"] = (f"no {label} facility with a known {info['capacity']} — 2SFCA needs a registry with capacities"
                       + (f" ({info['facilities_without_capacity']} facilities have none)" if info["facilities_without_capacity"] else ""))
    elif info["facilities_without_capacity"]:
        out["note"] = f"{info['facilities_without_capacity']} {label} facilities have no {info['capacity']} and are left out of 2SFCA"
    if off_network:
        text = f"{off_network} {label} facilities are off the walk network and share no {info['capacity']}"
        out["note"] = f"{out['note']}; {text}" if out.get("note") else text
    return out


def _adjacency_summary(adjacency: pd.DataFrame | None, config: Config) -> dict:
    """How many care facilities lie within the walk of a health centre (医养结合)."""
    care = config.categories.get(config.care_category)
    out = {"care_category": config.care_category, "health_category": config.health_category,
           "max_walk_min": config.health_max_walk_min}
    if adjacency is None or len(adjacency) == 0:
        label = care.label if care else config.care_category
        out.update(checked=0, adjacent=0, not_adjacent=0, note=f"no {label} facility to check")
        return out
    measured = adjacency["walk_min_to_health"].notna()
    out.update(checked=int(len(adjacency)), adjacent=int(adjacency["adjacent"].sum()),
               not_adjacent=int((~adjacency["adjacent"].astype(bool)).sum()),
               not_measured=int((~measured).sum()),
               median_walk_min=float(adjacency.loc[measured, "walk_min_to_health"].median()) if measured.any() else None)
    notes = sorted(set(adjacency["note"]) - {""})
    if notes:
        out["note"] = "; ".join(notes)
    return out


def _finite(frame: pd.DataFrame) -> pd.DataFrame:
    """Unreachable (infinite) times are written as empty values, never as a number."""
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].replace([np.inf, -np.inf], np.nan)
    return out


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns (mixed registry fields: numbers, text, None) as text, nulls kept.

    Arrow needs one type per column; GDAL's row-by-row writer stored these
    columns as text, so their values are written as the same strings
    (``str(value)``) and the layers read back as before.
    """
    objects = [c for c in frame.columns if c != frame.geometry.name and frame[c].dtype == object]
    if not objects:
        return frame
    out = frame.copy()
    for col in objects:
        values = out[col]
        out[col] = values.astype(str).where(values.notna(), None).astype("string[pyarrow]")
    return out


def write_layer(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """Write one GeoPackage layer through pyogrio's Arrow path.

    The Arrow path hands GDAL whole columns instead of one Python value per
    field and row, so writing costs linear time with a small constant at a
    million cells. Infinite values are written as nulls (:func:`_finite`).
    """
    _text_columns(_finite(frame)).to_file(path, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=True)


def write_outputs(out_dir: Path, summary: dict, facilities: gpd.GeoDataFrame, service_areas: gpd.GeoDataFrame,
                  merged_areas: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
                  communities: gpd.GeoDataFrame, *, streets: gpd.GeoDataFrame | None = None,
                  input_report=None) -> dict[str, Path]:
    """Write ``servicecircle.gpkg``, ``communities.csv`` (and ``streets.csv``) and ``input_report.csv``
    into ``out_dir`` (``summary.json`` is :func:`write_summary`'s)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gpkg = out_dir / "servicecircle.gpkg"
    gpkg.unlink(missing_ok=True)  # layers are rewritten whole, never appended to an old run
    speeds = {key: c["speed_m_s"] for key, c in summary["categories"].items()}
    facilities = facilities.assign(speed_m_s=facilities["category"].map(speeds))
    layers = {"facilities": facilities, "service_areas": service_areas.to_crs(cells.crs),
              "service_areas_merged": merged_areas.to_crs(cells.crs), "cells": cells, "communities": communities}
    if streets is not None:
        layers["streets"] = streets
    for name, frame in layers.items():
        write_layer(frame, gpkg, name)
    csv = out_dir / "communities.csv"
    _finite(communities.drop(columns="geometry")).to_csv(csv, index=False, encoding="utf-8-sig", float_format="%.6g")
    files = {"gpkg": gpkg, "csv": csv}
    if streets is not None:
        files["streets_csv"] = out_dir / "streets.csv"
        _finite(streets.drop(columns="geometry")).to_csv(files["streets_csv"], index=False, encoding="utf-8-sig",
                                                         float_format="%.6g")
    if input_report is not None:
        files["input_report"] = input_report.write(out_dir / "input_report.csv")
    return files


def write_summary(out_dir: Path, summary: dict) -> Path:
    """``summary.json``: the run's headline figures (and its timings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "summary.json"
    js.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8")
    return js


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    return str(value)


def _district_goals(scorecard: pd.DataFrame | None) -> list[dict]:
    """The district rows of the scorecard, for summary.json."""
    if scorecard is None or len(scorecard) == 0:
        return []
    rows = scorecard[scorecard["level"] == "district"]
    keep = ["goal", "goal_name", "kind", "meaning", "value", "target", "unit", "passed", "gap", "gap_text"]
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in rows[keep].to_dict("records")]


def significant(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (what ``%.6g`` keeps), in one numpy pass.

    Non-finite values stay as they are; the result's shortest decimal form has
    at most ``digits`` digits.
    """
    values = np.asarray(values, dtype=float)
    out = values.copy()
    finite = np.isfinite(values) & (values != 0)
    x = values[finite]
    shift = digits - 1 - np.floor(np.log10(np.abs(x))).astype(int)
    # Powers of ten are exact up to 1e22: scale by one, never by its (inexact) reciprocal.
    up, down = 10.0 ** np.clip(shift, 0, None), 10.0 ** np.clip(-shift, 0, None)
    out[finite] = np.where(shift >= 0, np.round(x * up) / up, np.round(x / down) * down)
    return out


def write_table_csv(frame: pd.DataFrame, path: Path, *, digits: int = 6) -> Path:
    """A large table as CSV through Arrow's writer (UTF-8 with BOM, for Excel and WPS).

    pandas' writer formats every value in Python: 12 s for a city's 630,000
    scorecard rows, Arrow's 1 s. Numbers are rounded to ``digits`` significant
    digits and written in plain decimals; text is quoted; missing and infinite
    values are empty.
    """
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_float_dtype(values):
            rounded = significant(values.to_numpy(float), digits)
            columns[str(name)] = pa.array(np.where(np.isfinite(rounded), rounded, np.nan), from_pandas=True)
        elif values.dtype == object:
            columns[str(name)] = xlsx_writer.text_array(values)
        else:
            columns[str(name)] = pa.array(values, from_pandas=True)
    with open(path, "wb") as handle:
        handle.write(codecs.BOM_UTF8)
        pa_csv.write_csv(pa.table(columns), handle, pa_csv.WriteOptions(quoting_style="needed"))
    return path


def write_scorecard(out_dir: Path, scorecard: pd.DataFrame) -> dict[str, Path]:
    """``scorecard.csv`` (all levels) and ``scorecard.xlsx`` (one sheet per level), Chinese headers.

    Failed rows are filled red in the workbook; every sheet has a filter row and
    a frozen header so it can be sorted and filtered in Excel/WPS. The workbook
    is written a column at a time (:mod:`servicecircle.xlsx`): linear in rows,
    memory bounded by a chunk of rows.
    """
    from .goals import KIND_ZH, LEVEL_ZH, SCORECARD_HEADERS_ZH

    out_dir.mkdir(parents=True, exist_ok=True)
    table = scorecard.copy()
    table["level"] = table["level"].map(LEVEL_ZH)
    table["kind"] = table["kind"].map(KIND_ZH)
    table["passed"] = table["passed"].map({True: "达标", False: "未达标"}).fillna("无法评估")
    zh = table.rename(columns=SCORECARD_HEADERS_ZH)
    csv = write_table_csv(zh, out_dir / "scorecard.csv")

    sheets = []
    for level in ("区", "街道", "社区"):
        part = _finite(zh[zh["层级"] == level])
        # A sheet holds at most 1,048,576 rows (Excel's limit): a larger level continues on "社区 2", ….
        for i, start in enumerate(range(0, len(part), EXCEL_MAX_ROWS - 1)):
            chunk = part.iloc[start:start + EXCEL_MAX_ROWS - 1]
            sheets.append((level if i == 0 else f"{level} {i + 1}", chunk, (chunk["是否达标"] == "未达标").to_numpy()))
    xlsx = xlsx_writer.write_workbook(out_dir / "scorecard.xlsx", sheets, fill_rgb="F8CBAD")
    return {"scorecard_csv": csv, "scorecard_xlsx": xlsx}


def write_siting(out_dir: Path, res) -> dict[str, Path]:
    """``siting_<cat>.csv`` (ranked sites), ``siting_<cat>_curve.csv`` (k → covered share),
    ``siting_<cat>_communities.csv`` (before/after) and GeoPackage layers of the proposed sites
    and their service areas."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cat = res.category
    files = {"sites": out_dir / f"siting_{cat}.csv", "curve": out_dir / f"siting_{cat}_curve.csv",
             "communities": out_dir / f"siting_{cat}_communities.csv", "gpkg": out_dir / f"siting_{cat}.gpkg"}
    res.sites.drop(columns="geometry").to_csv(files["sites"], index=False, encoding="utf-8-sig", float_format="%.7g")
    res.curve.to_csv(files["curve"], index=False, float_format="%.6g")
    res.communities.to_csv(files["communities"], index=False, encoding="utf-8-sig", float_format="%.6g")
    files["gpkg"].unlink(missing_ok=True)
    res.sites.to_file(files["gpkg"], layer="proposed_sites", driver="GPKG", engine="pyogrio")
    if len(res.service_areas):
        res.service_areas.to_crs("EPSG:4326").to_file(files["gpkg"], layer="proposed_service_areas", driver="GPKG",
                                                      engine="pyogrio")
    return files


def write_gaps(out_dir: Path, blind_spots: gpd.GeoDataFrame, adjacency: pd.DataFrame) -> dict[str, Path]:
    """``blind_spots.csv`` (and a ``blind_spots`` layer in the GeoPackage) and ``health_adjacency.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"blind_spots": out_dir / "blind_spots.csv", "health_adjacency": out_dir / "health_adjacency.csv"}
    _finite(blind_spots.drop(columns="geometry")).to_csv(files["blind_spots"], index=False, encoding="utf-8-sig",
                                                         float_format="%.6g")
    if len(blind_spots):
        write_layer(blind_spots, out_dir / "servicecircle.gpkg", "blind_spots")
    _finite(adjacency).to_csv(files["health_adjacency"], index=False, encoding="utf-8-sig", float_format="%.6g")
    return files
