"""The files of a run: the GeoPackage, the CSV tables, ``summary.json``, the scorecard and the siting files.

The figures they hold are computed elsewhere (the summary in :mod:`servicecircle.summary`); this module
only writes.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from . import xlsx as xlsx_writer
from .coords import WGS84

if TYPE_CHECKING:  # names for annotations only: the import graph stays as it is
    from .inputs import InputReport
    from .siting import CapacityPlan, SitingResult

#: Rows of one worksheet in Excel and WPS (header included).
EXCEL_MAX_ROWS = xlsx_writer.EXCEL_MAX_ROWS


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


def write_geopackage(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """A GeoPackage of ``layers`` (name → frame), written whole: an old file's layers never linger."""
    path.unlink(missing_ok=True)
    for name, frame in layers.items():
        write_layer(frame, path, name)
    return path


def write_outputs(out_dir: Path, summary: dict, facilities: gpd.GeoDataFrame, service_areas: gpd.GeoDataFrame,
                  merged_areas: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
                  communities: gpd.GeoDataFrame, *, streets: gpd.GeoDataFrame | None = None,
                  blind_spots: gpd.GeoDataFrame | None = None,
                  input_report: InputReport | None = None, base: Path | None = None) -> dict[str, Path]:
    """Write ``servicecircle.gpkg``, ``communities.csv`` (and ``streets.csv``) and ``input_report.csv``
    into ``out_dir`` (``summary.json`` is :func:`write_summary`'s, the gap tables :func:`write_gaps`').

    File names in the tables are written relative to ``base`` (the study-area file's folder).
    """
    from .inputs import relative_paths

    out_dir.mkdir(parents=True, exist_ok=True)
    facilities, communities = relative_paths(facilities, base), relative_paths(communities, base)
    streets = None if streets is None else relative_paths(streets, base)
    speeds = {key: c["speed_m_s"] for key, c in summary["categories"].items()}
    facilities = facilities.assign(speed_m_s=facilities["category"].map(speeds))
    layers = {"facilities": facilities, "service_areas": service_areas.to_crs(cells.crs),
              "service_areas_merged": merged_areas.to_crs(cells.crs), "cells": cells, "communities": communities}
    if streets is not None:
        layers["streets"] = streets
    if blind_spots is not None and len(blind_spots):
        layers["blind_spots"] = blind_spots
    gpkg = write_geopackage(out_dir / "servicecircle.gpkg", layers)
    csv = out_dir / "communities.csv"
    _finite(communities.drop(columns="geometry")).to_csv(csv, index=False, encoding="utf-8-sig", float_format="%.6g")
    files = {"gpkg": gpkg, "csv": csv}
    if streets is not None:
        files["streets_csv"] = out_dir / "streets.csv"
        _finite(streets.drop(columns="geometry")).to_csv(files["streets_csv"], index=False, encoding="utf-8-sig",
                                                         float_format="%.6g")
    if input_report is not None:
        files["input_report"] = input_report.write(out_dir / "input_report.csv", base)
        if input_report.geocode_review is not None:
            files["geocode_review"] = input_report.write_review(out_dir / "geocode_review.csv", base)
    return files


def write_summary(out_dir: Path, summary: dict, base: Path | None = None) -> Path:
    """``summary.json``: the run's headline figures (and its timings); paths relative to ``base``."""
    from .inputs import relative_paths

    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "summary.json"
    text = json.dumps(relative_paths(summary, base), ensure_ascii=False, indent=2, default=_json_default)
    js.write_text(text, encoding="utf-8")
    return js


def _json_default(value: object) -> int | float | str | None:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    return str(value)


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


#: The scorecard files' verdicts (one wording for the long and the wide sheets).
PASSED_ZH = {True: "达标", False: "未达标"}
NOT_ASSESSED_ZH = "未评估"

#: Number format of a goal's value and target per metric (the gap of a share is a count of people or units).
_VALUE_FORMATS = {"population_within": "percent", "units_with_facility": "percent", "capacity_share": "percent",
                  "capacity_per_1000": "decimal1", "area_per_capita": "decimal2"}


def _value_formats(goal: pd.Series, level: pd.Series, goal_metrics: Mapping[str, str]) -> np.ndarray:
    """Per scorecard row, the number format of its value and target (a unit's yes = 1 is an integer)."""
    metric = goal.map(goal_metrics).to_numpy(object)
    fmt = pd.Series(metric).map(_VALUE_FORMATS).to_numpy(object)
    return np.where((metric == "units_with_facility") & (level.to_numpy(object) != "district"), "integer", fmt)


def wide_scorecard(scorecard: pd.DataFrame, level: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per unit of ``level`` (street or community), per goal its value and 达标/未达标 side by side.

    A goal scored in two meanings (contains and reach) gets a pair of columns for each. Returns the
    table (Chinese headers) and the goal keys of its value columns, in order.
    """
    from .goals import SCORECARD_HEADERS_ZH

    part = scorecard[scorecard["level"] == level]
    variant = part.groupby(["unit_id", "goal"], sort=False).cumcount().to_numpy()
    part = part.assign(variant=variant)
    keys = part[["goal", "goal_name", "variant", "meaning"]].drop_duplicates(["goal", "variant"])
    n_variants = keys.groupby("goal")["variant"].transform("size").to_numpy()
    units = part.drop_duplicates("unit_id")[["unit_id", "unit_name", "unit_code", "street_name"]]
    wide = units.rename(columns=SCORECARD_HEADERS_ZH).reset_index(drop=True)
    index = pd.MultiIndex.from_frame(part[["unit_id", "goal", "variant"]])
    value = pd.Series(part["value"].to_numpy(float), index=index)
    passed = pd.Series(part["passed"].map(PASSED_ZH).fillna(NOT_ASSESSED_ZH).to_numpy(object),
                       index=index)
    order, value_keys = pd.Index(units["unit_id"]), []
    for (goal, name, k, meaning), n in zip(keys.itertuples(index=False, name=None), n_variants):
        label = name if n == 1 else f"{name}（{str(meaning).split(':')[0].split('：')[0][:12]}）"
        at = pd.MultiIndex.from_arrays([order, np.full(len(order), goal, object), np.full(len(order), k)])
        wide[f"{label} 现状值"] = value.reindex(at).to_numpy()
        wide[f"{label} 是否达标"] = passed.reindex(at).to_numpy()
        value_keys.append(goal)
    return wide, value_keys


def write_scorecard(out_dir: Path, scorecard: pd.DataFrame, *, goal_metrics: Mapping[str, str] | None = None,
                    compounds: bool = False) -> dict[str, Path]:
    """``scorecard.csv`` (all levels) and ``scorecard.xlsx`` (one sheet per level, then 街道一览 and 社区一览:
    one row per unit, one pair of columns per goal), Chinese headers.

    Failed rows are filled red in the workbook; every sheet has a filter row and
    a frozen header so it can be sorted and filtered in Excel/WPS; with ``goal_metrics``
    (goal key → metric) values and targets carry number formats (percent, one decimal …).
    The workbook is written a column at a time (:mod:`servicecircle.xlsx`): linear in rows,
    memory bounded by a chunk of rows. ``compounds``: the communities are OSM residential
    compounds (no community file), labelled 小区（OSM）, not 社区. Rows not assessed read 未评估.
    """
    from .goals import KIND_ZH, LEVEL_ZH, SCORECARD_HEADERS_ZH

    out_dir.mkdir(parents=True, exist_ok=True)
    table = scorecard.copy()
    levels = {**LEVEL_ZH, "community": LEVEL_ZH["compound"]} if compounds else LEVEL_ZH
    table["level"] = table["level"].map(levels)
    table["kind"] = table["kind"].map(KIND_ZH)
    table["passed"] = table["passed"].map(PASSED_ZH).fillna(NOT_ASSESSED_ZH)
    zh = table.rename(columns=SCORECARD_HEADERS_ZH)
    csv = write_table_csv(zh, out_dir / "scorecard.csv")

    metrics = dict(goal_metrics or {})
    value_format = _value_formats(scorecard["goal"], scorecard["level"], metrics)
    sheets: list[tuple] = []
    for level in (levels["district"], levels["street"], levels["community"]):
        rows = (zh["层级"] == level).to_numpy()
        part, formats = _finite(zh[rows]), value_format[rows]
        # A sheet holds at most 1,048,576 rows (Excel's limit): a larger level continues on "社区 2", ….
        for i, start in enumerate(range(0, len(part), EXCEL_MAX_ROWS - 1)):
            chunk = part.iloc[start:start + EXCEL_MAX_ROWS - 1]
            fmt = formats[start:start + EXCEL_MAX_ROWS - 1]
            sheets.append((level if i == 0 else f"{level} {i + 1}", chunk, (chunk["是否达标"] == "未达标").to_numpy(),
                           {"现状值": fmt, "目标值": fmt, "差距": np.where(fmt == "decimal2", "decimal2", "integer")}))
    for level, title in (("street", "街道一览"), ("community", "小区（OSM）一览" if compounds else "社区一览")):
        wide, goals_in_order = wide_scorecard(scorecard, level)
        if len(wide) and len(wide) < EXCEL_MAX_ROWS:
            failing = (wide.filter(like="是否达标") == "未达标").any(axis=1).to_numpy()
            formats = {col: _VALUE_FORMATS.get(metrics.get(goal, ""))
                       if metrics.get(goal) != "units_with_facility" else "integer"
                       for col, goal in zip(wide.filter(like="现状值").columns, goals_in_order)}
            sheets.append((title, _finite(wide), failing, formats))
    xlsx = xlsx_writer.write_workbook(out_dir / "scorecard.xlsx", sheets, fill_rgb="F8CBAD")
    return {"scorecard_csv": csv, "scorecard_xlsx": xlsx}


def write_siting(out_dir: Path, res: SitingResult) -> dict[str, Path]:
    """``siting_<cat>.csv`` (ranked sites), ``siting_<cat>_curve.csv`` (k → covered share),
    ``siting_<cat>_communities.csv`` (before/after), GeoPackage layers of the proposed sites
    and their service areas, and the sites as ``siting_<cat>.geojson`` and ``siting_<cat>.kml``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cat = res.category
    files = {"sites": out_dir / f"siting_{cat}.csv", "curve": out_dir / f"siting_{cat}_curve.csv",
             "communities": out_dir / f"siting_{cat}_communities.csv", "gpkg": out_dir / f"siting_{cat}.gpkg"}
    res.sites.drop(columns="geometry").to_csv(files["sites"], index=False, encoding="utf-8-sig", float_format="%.7g")
    res.curve.to_csv(files["curve"], index=False, float_format="%.6g")
    res.communities.to_csv(files["communities"], index=False, encoding="utf-8-sig", float_format="%.6g")
    # GeoJSON (RFC 7946: WGS-84) and KML (WGS-84, opens in Google Earth and most GIS) of the sites, for
    # planners who do not use a GeoPackage; the CSV holds the GCJ-02 and BD-09 positions for AMap/Baidu.
    files["geojson"] = out_dir / f"siting_{cat}.geojson"
    files["kml"] = out_dir / f"siting_{cat}.kml"
    res.sites.to_file(files["geojson"], driver="GeoJSON", engine="pyogrio")
    kml = res.sites.assign(label=[f"#{r} {cat}" for r in res.sites["rank"]],
                           where=(res.sites["street"].astype(str) + " " + res.sites["community"].astype(str) + " "
                                  + res.sites["nearest_road"].astype(str)).str.strip())
    kml_columns = ["label", "where", "rank", "lon", "lat", "lon_gcj02", "lat_gcj02", "covered_share_after", "geometry"]
    kml[kml_columns].to_file(files["kml"], driver="KML", engine="pyogrio",
                             dataset_options={"NameField": "label", "DescriptionField": "where"})
    layers = {"proposed_sites": res.sites}
    if len(res.service_areas):
        layers["proposed_service_areas"] = res.service_areas.to_crs(WGS84)
    write_geopackage(files["gpkg"], layers)
    return files


def write_capacity_plan(out_dir: Path, plan: CapacityPlan) -> dict[str, Path]:
    """``capacity_plan_<cat>.csv`` (per facility: demand within reach, capacity per 1,000, ``to_add``) and
    ``capacity_plan_<cat>_unreached.csv`` (per community: the need no facility reaches)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"facilities": out_dir / f"capacity_plan_{plan.category}.csv",
             "unreached": out_dir / f"capacity_plan_{plan.category}_unreached.csv"}
    plan.facilities.to_csv(files["facilities"], index=False, encoding="utf-8-sig", float_format="%.6g")
    plan.communities.to_csv(files["unreached"], index=False, encoding="utf-8-sig", float_format="%.6g")
    return files


def write_gaps(out_dir: Path, blind_spots: gpd.GeoDataFrame | None,
               adjacency: pd.DataFrame | None) -> dict[str, Path]:
    """``blind_spots.csv`` and ``health_adjacency.csv`` (the blind spots' layer is :func:`write_outputs`').

    Either may be None (not written here): the adjacency notes are in the run's language, so the
    pipeline writes that file with the scorecard, the blind spots with the language-free tables.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    if blind_spots is not None:
        files["blind_spots"] = out_dir / "blind_spots.csv"
        _finite(blind_spots.drop(columns="geometry")).to_csv(files["blind_spots"], index=False,
                                                             encoding="utf-8-sig", float_format="%.6g")
    if adjacency is not None:
        files["health_adjacency"] = out_dir / "health_adjacency.csv"
        _finite(adjacency).to_csv(files["health_adjacency"], index=False, encoding="utf-8-sig", float_format="%.6g")
    return files
