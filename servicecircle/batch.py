"""Many districts at once: ``servicecircle batch BATCH.toml``.

Each district is one task: the base study-area config run on the district's polygon **buffered by the
longest walk** (max threshold × fastest speed, plus the snapping distance) united with every community
assigned to the district, buffered the same way (so a community reaching past the district is counted
whole), then clipped back to the district: cells whose centre lies in the district, communities whose
representative point does (a community on a split line goes to exactly one district). The merged
outputs: ``cells.csv``, ``communities.csv``, ``summary.json``, ``scorecard.xlsx`` (with goals) and the
overview page ``index.html``. The task takes paths and small settings
only; the worker reads the OSM file and the district polygon itself.

Batch file::

    [batch]
    base = "chengdu.toml"              # the study-area config every district starts from
    districts_file = "districts.geojson"
    coord_system = "gcj02"             # datum of districts_file
    code_field = "adcode"              # 区划代码
    name_field = "name"
    census = true                      # census_code = the district's code (needs [population] census_file)
    out_dir = "../maps/batch"
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import pandas as pd
import shapely

from . import texts
from .coords import utm_crs
from .errors import ConfigError
from .inputs import read_vector

#: Written last in a district folder: its presence means the district finished with these settings.
MARKER = "batch_done.json"


@dataclass(frozen=True)
class District:
    """One district of a batch: its code, name and WGS-84 polygon (as WKB, small to ship)."""

    code: str
    name: str
    polygon_wkb: bytes


@dataclass(frozen=True)
class BatchSettings:
    """The ``[batch]`` table, paths resolved against the batch file's folder."""

    base: Path
    districts: tuple[District, ...]
    out_dir: Path
    census: bool
    overrides: dict


def load_batch(path: str | Path) -> BatchSettings:
    """Read and validate a batch file.

    Parameters
    ----------
    path : path
        The batch TOML file.

    Returns
    -------
    BatchSettings
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"batch file not found: {path}")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("batch")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: missing [batch] table")
    for key in ("base", "districts_file"):
        if key not in table:
            raise ConfigError(f"{path}: batch.{key} missing")
    base_dir = path.parent
    frame = read_vector(base_dir / table["districts_file"], what="districts file",
                        coord_system=table.get("coord_system", "wgs84"), polygons=True)
    code_field, name_field = table.get("code_field", "adcode"), table.get("name_field", "name")
    for field in (code_field, name_field):
        if field not in frame.columns:
            raise ConfigError(f"{path}: batch code_field/name_field {field!r} not a field of the districts file "
                              f"(fields: {', '.join(map(str, frame.columns))})")
    frame = frame.assign(_code=frame[code_field].astype(str)).sort_values("_code")
    if frame["_code"].duplicated().any():
        raise ConfigError(f"{path}: batch.code_field {code_field!r} repeats a code")
    districts = tuple(District(code=c, name=str(n), polygon_wkb=shapely.to_wkb(g))
                      for c, n, g in zip(frame["_code"], frame[name_field], frame.geometry))
    return BatchSettings(base=(base_dir / table["base"]).resolve(), districts=districts,
                         out_dir=(base_dir / table.get("out_dir", "batch_out")).resolve(),
                         census=bool(table.get("census", False)), overrides=dict(table.get("overrides", {})))


def walk_reach_m(config: Any) -> float:
    """The longest walk any category allows, plus the snapping distance: the district buffer, metres."""
    speeds = [config.access.speed_m_s] + [c.speed_m_s for c in config.categories.values()]
    thresholds = list(config.access.thresholds_min) + [c.threshold_min for c in config.categories.values()
                                                        if getattr(c, "threshold_min", None)]
    return max(thresholds) * 60.0 * max(speeds) + float(config.network.max_snap_m)


def run_area(polygon: shapely.Geometry, communities: gpd.GeoSeries, metres: float) -> shapely.Geometry:
    """The district's run area (WGS-84): the district and every community assigned to it, each buffered by ``metres``.

    A community is assigned to the district its representative point falls in (as :func:`clip_to_district`
    does), and is covered whole: its residents walk from anywhere inside it, so the walk reach is added
    around the community's polygon too. One vectorised buffer and union.

    Parameters
    ----------
    polygon : shapely geometry
        The district, WGS-84.
    communities : GeoSeries
        Every community polygon of the base study area (any CRS).
    metres : float
        The walk reach (:func:`walk_reach_m`).
    """
    c = polygon.centroid
    wgs = communities.to_crs(4326).values
    rep = shapely.point_on_surface(wgs)
    assigned = wgs[shapely.contains_xy(polygon, shapely.get_x(rep), shapely.get_y(rep))]
    metric = gpd.GeoSeries([polygon, *assigned], crs=4326).to_crs(utm_crs(c.x, c.y))
    return gpd.GeoSeries([shapely.union_all(metric.buffer(metres).values)], crs=metric.crs).to_crs(4326).iloc[0]


#: Bumped when the rule for a district's run area changes, so finished districts are rerun.
AREA_RULE = "district and its communities, buffered by the walk reach"


def _area_file(area: shapely.Geometry, *, cache_dir: Path) -> Path:
    """The run area as GeoJSON named by its content, under the network cache: the cached analysis is keyed by
    the area file's path too, so the same district in another output folder (a rerun elsewhere, serial
    after Dask) reuses it."""
    text = gpd.GeoDataFrame(geometry=[area], crs=4326).to_json()
    path = cache_dir / "batch_areas" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.geojson"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # atomic: two workers may write the same district's area
    return path


def settings_digest(*, base: Path, district: District, overrides: dict) -> str:
    """What a district's result depends on: the base config's text, the polygon and the overrides."""
    h = hashlib.sha256(base.read_bytes())
    h.update(district.polygon_wkb)
    h.update(AREA_RULE.encode())
    h.update(json.dumps(overrides, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def run_district(*, base: str, district: District, out_dir: str, overrides: dict, census: bool) -> dict:
    """Run one district (the task a worker runs); write its outputs and clipped tables to ``out_dir``.

    Returns
    -------
    dict
        ``code``, ``name``, ``seconds``, ``folder``, ``cached``.
    """
    from .communities import load_communities
    from .config import load_config
    from .pipeline import load_features, run

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = settings_digest(base=Path(base), district=district, overrides=overrides)
    marker = folder / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("digest") == digest:
        return {**json.loads(marker.read_text()), "cached": True}
    start = time.perf_counter()
    polygon = shapely.from_wkb(district.polygon_wkb)
    probe = load_config(base, overrides=overrides)
    buffered = run_area(polygon, load_communities(probe.communities, load_features(probe)).geometry,
                        walk_reach_m(probe))
    area_file = _area_file(buffered, cache_dir=Path(probe.network.cache_dir))
    shutil.copyfile(area_file, folder / "area_buffered.geojson")  # for the user to see what the district ran on
    area = {**overrides.get("area", {}), "name": district.code, "polygon_file": str(area_file),
            "polygon_coord_system": "wgs84", "bbox": None}
    sections = {**overrides, "area": area, "output": {**overrides.get("output", {}), "dir": str(folder)}}
    if census:
        sections["population"] = {**overrides.get("population", {}), "census_code": district.code}
    result = run(load_config(base, overrides=sections), write=True, progress=False)
    cells, communities = clip_to_district(result.cells, result.communities, polygon)
    with open(folder / "clipped.pkl", "wb") as fh:
        pickle.dump({"cells": cells.assign(district=district.code),
                     "communities": communities.assign(district=district.code),
                     "summary": result.summary}, fh)
    import resource  # POSIX: the worker process's peak memory, for the benchmark's per-worker figure

    done = {"code": district.code, "name": district.name, "digest": digest, "folder": str(folder),
            "seconds": time.perf_counter() - start,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    marker.write_text(json.dumps(done, ensure_ascii=False))
    return {**done, "cached": False}


def clip_to_district(cells: gpd.GeoDataFrame, communities: gpd.GeoDataFrame,
                     polygon: shapely.Geometry) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells whose centre is in the district, communities whose representative point is (vectorised)."""
    def inside(frame: gpd.GeoDataFrame, points: Callable) -> pd.Series:
        pts = points(frame.geometry.to_crs(4326))
        return pd.Series(shapely.contains_xy(polygon, shapely.get_x(pts), shapely.get_y(pts)), index=frame.index)

    keep_cells = cells[inside(cells, lambda g: shapely.centroid(g.values))]
    keep_comm = communities[inside(communities, lambda g: shapely.point_on_surface(g.values))]
    rep = shapely.point_on_surface(keep_comm.geometry.to_crs(4326).values)
    keep_comm = keep_comm.assign(rep_lon=shapely.get_x(rep).round(7), rep_lat=shapely.get_y(rep).round(7))
    return pd.DataFrame(keep_cells), pd.DataFrame(keep_comm)


def run_batch(settings: BatchSettings, *, serial: bool = False, scheduler: str | None = None,
              workers: int | None = None, lang: str = "zh", echo: Callable[[str], None] = print) -> dict:
    """Run every district (serially or on Dask), then merge the finished ones.

    Parameters
    ----------
    settings : BatchSettings
        The batch (:func:`load_batch`).
    serial : bool
        No Dask: the districts one after another in this process.
    scheduler : str, optional
        Address of an existing Dask scheduler; default a ``LocalCluster``.
    workers : int, optional
        The ``LocalCluster``'s workers (default: the cores).
    lang : {"zh", "en"}
        Language of the console lines and the overview page.
    echo : callable
        Where a progress line goes (``print``).

    Returns
    -------
    dict
        ``cells``, ``communities`` (merged DataFrames), ``districts`` (per-district status), ``failed``.
    """
    jobs: list[dict[str, Any]] = [dict(base=str(settings.base), district=d, out_dir=str(settings.out_dir / d.code),
                 overrides=settings.overrides, census=settings.census) for d in settings.districts]
    status: dict[str, dict] = {}

    def record(code: str, outcome: dict | BaseException) -> None:
        if isinstance(outcome, BaseException):
            status[code] = {"code": code, "error": f"{type(outcome).__name__}: {outcome}"}
            echo(texts.text(lang, "batch.error", code=code, error=status[code]["error"]))
        else:
            status[code] = outcome
            took = (texts.text(lang, "batch.cached") if outcome["cached"]
                    else texts.text(lang, "batch.seconds", seconds=outcome["seconds"]))
            echo(texts.text(lang, "batch.done", code=code, name=outcome["name"], took=took))

    if serial:
        for job in jobs:
            try:
                record(job["district"].code, run_district(**job))
            except Exception as exc:  # a failing district is reported; the others go on
                traceback.print_exc()
                record(job["district"].code, exc)
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler is None:
            n = workers or os.cpu_count() or 1
            import psutil

            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   memory_limit=int(psutil.virtual_memory().total / n), dashboard_address=None)
        client = Client(scheduler or cluster)
        try:
            futures = {client.submit(run_district, **job, pure=False): job["district"].code for job in jobs}
            for future in as_completed(futures):
                code = futures[future]
                error = future.exception()
                record(code, error if error is not None else future.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    outcome = merge(settings, status, lang=lang)
    echo(texts.text(lang, "batch.wrote", path=settings.out_dir / "index.html"))
    return outcome


def merge(settings: BatchSettings, status: dict[str, dict], *, lang: str = "zh") -> dict:
    """Merge the finished districts' clipped tables, sorted by district code then ids; write them."""
    cells, communities, summaries = [], [], {}
    for code in sorted(status):
        if "error" in status[code]:
            continue
        with open(settings.out_dir / code / "clipped.pkl", "rb") as fh:
            part = pickle.load(fh)
        cells.append(part["cells"])
        communities.append(part["communities"])
        summaries[code] = part["summary"]
    merged_cells = pd.concat(cells, ignore_index=True) if cells else pd.DataFrame()
    merged_comm = pd.concat(communities, ignore_index=True) if communities else pd.DataFrame()
    if len(merged_cells):
        merged_cells = merged_cells.sort_values(["district", "h3"], ignore_index=True)
    if len(merged_comm):
        merged_comm = merged_comm.sort_values(["district", "rep_lon", "rep_lat"], ignore_index=True)
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    merged_cells.drop(columns="geometry", errors="ignore").to_csv(settings.out_dir / "cells.csv", index=False)
    merged_comm.drop(columns="geometry", errors="ignore").to_csv(settings.out_dir / "communities.csv", index=False)
    failed = sorted(c for c, s in status.items() if "error" in s)
    names = {code: status[code].get("name", code) for code in status}
    finished = [code for code in sorted(status) if "error" not in status[code]]
    own = dict(list(merged_comm.groupby("district")["community_id"])) if len(merged_comm) else {}
    scorecards = read_scorecards(settings.out_dir, finished, names=names, communities=own)
    merged_scorecard(settings.out_dir, scorecards, names=names)
    write_overview(settings, status, merged_cells, scorecards, lang=lang)
    (settings.out_dir / "summary.json").write_text(json.dumps(
        {"districts": {c: status[c] for c in sorted(status)}, "failed": failed, "summaries": summaries},
        ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return {"cells": merged_cells, "communities": merged_comm, "districts": status, "failed": failed}


#: The district columns put before a district's scorecard rows in the merged workbook.
DISTRICT_COLUMNS_ZH = ("区县代码", "区县名称")


def read_scorecards(out_dir: Path, codes: list[str], *, names: dict[str, str],
                    communities: dict[str, pd.Series] | None = None) -> dict[str, pd.DataFrame]:
    """The finished districts' ``scorecard.csv`` (code order), each row led by the district's code and name.

    With ``communities`` (district code → the ``community_id`` of its clipped communities), a district's
    community rows are only its own communities' (the run area's other communities belong to a neighbour).

    Parameters
    ----------
    out_dir : Path
        The batch's output folder (a sub-folder per district code).
    codes : list of str
        The finished districts; those without a scorecard (no goals) are left out.
    names : dict
        District code → name.
    communities : dict, optional
        District code → its communities' ids.
    """
    from .goals import LEVEL_ZH

    tables = {}
    for code in sorted(codes):
        path = out_dir / code / "scorecard.csv"
        if path.is_file():
            table = pd.read_csv(path, encoding="utf-8-sig", dtype={"编号": str, "代码": str})
            if communities is not None and code in communities:
                community_row = table["层级"].isin([LEVEL_ZH["community"], LEVEL_ZH["compound"]]).to_numpy()
                own = table["编号"].isin(communities[code].astype(str)).to_numpy()
                table = table[~community_row | own].reset_index(drop=True)
            tables[code] = pd.concat([pd.DataFrame({DISTRICT_COLUMNS_ZH[0]: code, DISTRICT_COLUMNS_ZH[1]: names[code]},
                                                   index=table.index), table], axis=1)
    return tables


def _district_rows(table: pd.DataFrame) -> pd.DataFrame:
    from .goals import LEVEL_ZH

    return table[table["层级"] == LEVEL_ZH["district"]]


def merged_scorecard(out_dir: Path, tables: dict[str, pd.DataFrame], *, names: dict[str, str]) -> Path | None:
    """One ``scorecard.xlsx`` for the batch: a city sheet, then a sheet per district (its ``scorecard.csv``).

    The city sheet puts the districts' district-level rows side by side (a value and a met/failed column
    per district, one row per goal); a district's sheet starts every row with its code and name.
    Districts in code order; none written when no district has a scorecard (the base config has no goals).

    Parameters
    ----------
    out_dir : Path
        The batch's output folder.
    tables : dict
        District code → its scorecard (:func:`read_scorecards`).
    names : dict
        District code → name.

    Returns
    -------
    Path or None
        The workbook written.
    """
    from . import xlsx

    if not tables:
        return None
    city = None
    for code, table in tables.items():
        rows = _district_rows(table)
        side = rows[["指标代码", "现状值", "是否达标"]].rename(columns={
            "现状值": f"{code} {names[code]} 现状值", "是否达标": f"{code} {names[code]} 是否达标"})
        city = (rows[["指标代码", "指标", "目标值", "计量单位"]].merge(side, on="指标代码") if city is None
                else city.merge(side, on="指标代码", how="outer", sort=False))
    assert city is not None
    sheets = [("全市", city, (city.filter(like="是否达标") == "未达标").any(axis=1).to_numpy())]
    sheets += [(code[:31], t, (t["是否达标"] == "未达标").to_numpy()) for code, t in tables.items()]
    return xlsx.write_workbook(out_dir / "scorecard.xlsx", sheets, fill_rgb="F8CBAD")


def write_overview(settings: BatchSettings, status: dict[str, dict], cells: pd.DataFrame,
                   scorecards: dict[str, pd.DataFrame], *, lang: str = "zh") -> Path:
    """The batch's ``index.html``: a row per district (residents and covered shares of its own cells,
    goals met and failed, ok or the error) linking to the district's ``index.html`` and ``map.html``.

    Parameters
    ----------
    settings : BatchSettings
        The batch (its base config names the categories).
    status : dict
        District code → its outcome (``error`` when it failed).
    cells : DataFrame
        The merged cells (``district``, ``residents``, ``covered_<category>``).
    scorecards : dict
        District code → its scorecard (:func:`read_scorecards`).
    lang : {"zh", "en"}
        Language of the page.
    """
    from . import pages
    from .config import load_config
    from .report import PASSED_ZH

    categories = load_config(settings.base, overrides=settings.overrides).categories
    keys = [k for k in categories if f"covered_{k}" in cells.columns]
    rows = []
    for code in sorted(status):
        row: dict[str, Any] = {"code": code, "name": status[code].get("name", code), "error": status[code].get("error")}
        if row["error"] is None:
            part = cells[cells["district"] == code]
            weight = part["residents"].to_numpy(float)
            total = float(weight.sum())
            row["residents"] = f"{total:,.0f}"
            row["shares"] = [f"{(weight * part[f'covered_{k}'].to_numpy(bool)).sum() / total:.1%}" if total > 0 else "—"
                             for k in keys]
            passed = _district_rows(scorecards[code])["是否达标"] if code in scorecards else pd.Series(dtype=str)
            row["met"], row["failed"] = int((passed == PASSED_ZH[True]).sum()), int((passed == PASSED_ZH[False]).sum())
        rows.append(row)
    page = pages.render("batch.html", lang, html_lang="zh-CN" if lang == "zh" else "en",
                        labels=[categories[k].label for k in keys], rows=rows)
    path = settings.out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
