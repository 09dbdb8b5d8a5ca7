"""Many districts at once: ``servicecircle batch BATCH.toml``.

Each district is one task: the base study-area config run on the district's polygon **buffered by the
longest walk** (max threshold × fastest speed, plus the snapping distance) united with every community
assigned to the district, buffered the same way (so a community reaching past the district is counted
whole), then clipped back to the district: cells whose centre lies in the district, communities whose
representative point does (a community on a split line goes to exactly one district); the goals are
judged on the district's own units (:func:`district_scorecard`). The merged outputs: ``cells.csv``,
``communities.csv``, ``summary.json``, ``scorecard.xlsx`` (with goals) and the overview page ``index.html``.
The task takes paths and small settings only; the worker reads the OSM file and the district polygon itself.

Batch file::

    [batch]
    base = "chengdu.toml"              # the study-area config every district starts from
    districts_file = "districts.geojson"
    coord_system = "gcj02"             # datum of districts_file
    code_field = "adcode"              # 区划代码
    name_field = "name"
    census = true                      # census_code = the district's code (needs [population] census_file)
    out_dir = "../maps/batch"

or a district per study-area config: ``configs = ["hexi.toml", "heping.toml"]`` (no ``base``).
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
import numpy as np
import pandas as pd
import shapely

from . import h3cells, texts
from .communities import facility_units
from .coords import utm_crs
from .errors import ConfigError, ServiceCircleError
from .inputs import read_vector

#: Written last in a district folder: its presence means the district finished with these settings.
MARKER = "batch_done.json"


@dataclass(frozen=True)
class District:
    """One district of a batch: its code, name and WGS-84 polygon (as WKB, small to ship), and the config it
    runs (``""``: the batch's ``base``)."""

    code: str
    name: str
    polygon_wkb: bytes
    config: str = ""


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
        raise ConfigError(key="error.batch_missing", path=path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("batch")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(key="error.batch_not_toml", path=path, error=exc) from None
    if not isinstance(table, dict):
        raise ConfigError(key="error.batch_no_table", path=path)
    base_dir = path.parent
    overrides = dict(table.get("overrides", {}))
    out_dir = (base_dir / table.get("out_dir", "batch_out")).resolve()
    if "configs" in table:
        if "districts_file" in table or "base" in table:
            raise ConfigError(key="error.batch_configs_and_base", path=path)
        configs = table["configs"]
        if not isinstance(configs, list) or not configs or not all(isinstance(c, str) for c in configs):
            raise ConfigError(key="error.batch_configs_list", path=path)
        districts = tuple(sorted((district_of_config((base_dir / c).resolve(), overrides) for c in configs),
                                 key=lambda d: d.code))
        codes = [d.code for d in districts]
        if len(set(codes)) < len(codes):
            raise ConfigError(key="error.batch_same_code", path=path,
                              codes=", ".join(sorted({c for c in codes if codes.count(c) > 1})))
        # Each config keeps its own [population]; the first names the categories of the overview.
        return BatchSettings(base=Path(districts[0].config), districts=districts, out_dir=out_dir, census=False,
                             overrides=overrides)
    for key in ("base", "districts_file"):
        if key not in table:
            raise ConfigError(key="error.batch_key_missing", path=path, key_name=key)
    return BatchSettings(base=(base_dir / table["base"]).resolve(), districts=_districts_of_file(path, table),
                         out_dir=out_dir, census=bool(table.get("census", False)), overrides=overrides)


def _districts_of_file(path: Path, table: dict) -> tuple[District, ...]:
    """The districts of ``batch.districts_file``, in code order."""
    base_dir = path.parent
    frame = read_vector(base_dir / table["districts_file"], what="districts file",
                        coord_system=table.get("coord_system", "wgs84"), polygons=True)
    code_field, name_field = table.get("code_field", "adcode"), table.get("name_field", "name")
    for field in (code_field, name_field):
        if field not in frame.columns:
            raise ConfigError(key="error.batch_no_field", path=path, field=field,
                              fields=", ".join(map(str, frame.columns)))
    frame = frame.assign(_code=frame[code_field].astype(str)).sort_values("_code")
    if frame["_code"].duplicated().any():
        raise ConfigError(key="error.batch_code_repeats", path=path, field=code_field)
    return tuple(District(code=c, name=str(n), polygon_wkb=shapely.to_wkb(g))
                 for c, n, g in zip(frame["_code"], frame[name_field], frame.geometry))


def district_of_config(path: Path, overrides: dict) -> District:
    """A study-area config as a batch district: code its ``population.census_code`` (else ``area.name``), name
    ``area.name``, polygon its study area (``polygon_file``, else ``bbox``, else the union of its communities
    file, as :func:`servicecircle.grid.study_area` reads them)."""
    from .communities import load_communities
    from .config import load_config
    from .grid import study_area

    config = load_config(path, overrides=overrides)
    area = config.area
    if area.polygon_file is None and area.bbox is None and config.communities is None:
        raise ConfigError(key="error.batch_no_area", path=path)
    comms = load_communities(config.communities, None) if config.communities is not None else None  # type: ignore[arg-type]
    polygon = study_area(area, None, comms)  # type: ignore[arg-type]  # the network only for none of the three
    code = str(config.population.census_code or area.name)
    return District(code=code, name=area.name, polygon_wkb=shapely.to_wkb(polygon), config=str(path))


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
    assigned = wgs[_inside(polygon, rep)]
    metric = gpd.GeoSeries([polygon, *assigned], crs=4326).to_crs(utm_crs(c.x, c.y))
    return gpd.GeoSeries([shapely.union_all(metric.buffer(metres).values)], crs=metric.crs).to_crs(4326).iloc[0]


#: Bumped when the rule for a district's run area changes, so finished districts are rerun.
AREA_RULE = ("district and its communities, buffered by the walk reach; goals on its own units; "
             "OSM only if the base reads it; census scaled on the district's cells")


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

    base = district.config or base
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = settings_digest(base=Path(base), district=district, overrides=overrides)
    marker = folder / MARKER
    finished = json.loads(marker.read_text()) if marker.is_file() else {}
    if finished.get("digest") == digest:
        return {**finished, "cached": True}
    start = time.perf_counter()
    polygon = shapely.from_wkb(district.polygon_wkb)
    probe = load_config(base, overrides=overrides)
    reads_osm = probe.area.uses_osm  # before any override below: a road-line base stays without OSM
    reach = walk_reach_m(probe)
    if probe.communities is not None:
        comms = load_communities(probe.communities, None).geometry  # type: ignore[arg-type]  # a file: no features
    elif reads_osm:
        if not (probe.area.osm_file is not None and probe.area.osm_file.exists()):
            # Compounds from Overpass: ask for the district's surroundings, not the base config's whole area.
            near = gpd.GeoSeries([polygon], crs=4326).to_crs(utm_crs(polygon.centroid.x, polygon.centroid.y))
            bounds = list(near.buffer(2 * reach).to_crs(4326).iloc[0].bounds)
            probe = load_config(base, overrides={**overrides, "area": {**overrides.get("area", {}), "bbox": bounds,
                                                                       "place": None}})
        comms = load_communities(None, load_features(probe)).geometry
    else:
        comms = gpd.GeoSeries([], crs=4326)  # neither a communities file nor OSM: the district alone
    buffered = run_area(polygon, comms, reach)
    cache_dir = Path(probe.network.cache_dir)
    area_file = _area_file(buffered, cache_dir=cache_dir)
    shutil.copyfile(area_file, folder / "area_buffered.geojson")  # for the user to see what the district ran on
    # The run-area polygon is the area (a place or bbox of the base would be asked first, for the whole city),
    # and only draws it: a base without OSM data (road lines) stays without.
    area = {**overrides.get("area", {}), "name": district.code, "polygon_file": str(area_file),
            "polygon_coord_system": "wgs84", "bbox": None, "place": None, "osm_features": reads_osm}
    sections = {**overrides, "area": area, "output": {**overrides.get("output", {}), "dir": str(folder)}}
    # A census (or population_total) counts the district, not its buffered run area: scale so that the
    # district's own cells hold it, the surroundings by the same factor.
    sections["population"] = {**overrides.get("population", {}),
                              "census_area_file": str(_area_file(polygon, cache_dir=cache_dir))}
    if census:
        sections["population"]["census_code"] = district.code
    result = run(load_config(base, overrides=sections), write=True, progress=False)
    cells, communities = clip_to_district(result.cells, result.communities, polygon)
    if result.scorecard is not None and len(result.scorecard):
        from .report import write_scorecard

        own = district_scorecard(result, polygon, own_cells=cells["h3"].to_numpy(),
                                 own_communities=communities["community_id"].to_numpy(), name=district.name)
        write_scorecard(folder / OWN_SCORECARD_DIR, own, compounds=result.config.communities is None,
                        goal_metrics={g.key: g.metric for g in result.config.goals})
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


#: The district's scorecard on its own units (:func:`district_scorecard`), in the district's folder.
OWN_SCORECARD_DIR = "district_scorecard"


def _inside(polygon: shapely.Geometry, points: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(polygon, shapely.get_x(points), shapely.get_y(points))


def district_scorecard(result: Any, polygon: shapely.Geometry, *, own_cells: np.ndarray, own_communities: np.ndarray,
                       name: str) -> pd.DataFrame:
    """The goals of one district judged on what is its own, not on the buffered area it ran on.

    The run area reaches into the neighbours (so that walks across the border count), and the run's own
    scorecard judges that whole area. Here, as the merged tables clip:

    - the district row of a goal on residents or capacity (``population_within``, ``capacity_*``,
      ``area_per_capita``) counts the residents of the district's own cells (cells by centre, the partition
      of ``cells.csv``: the districts' rows add up to the city) and the facilities inside the district;
    - street and community rows are those of the streets and communities assigned to the district (by
      representative point), each over all of its residents wherever they live (a community crossing the
      line is judged whole, with the figures one run of the whole city gives it);
    - the district row of a ``units_with_facility`` goal is the share of those communities (streets) that
      meet it.

    Two goal evaluations (:func:`servicecircle.goals.evaluate`), each one vectorised pass.

    Parameters
    ----------
    result : RunResult
        The district's run on its buffered area.
    polygon : shapely geometry
        The district, WGS-84.
    own_cells : ndarray
        ``h3`` of the district's own cells (:func:`clip_to_district`).
    own_communities : ndarray
        ``community_id`` of the communities assigned to the district (:func:`clip_to_district`).
    name : str
        The district's name, for its rows.

    Returns
    -------
    DataFrame
        Scorecard rows (:data:`servicecircle.goals.SCORECARD_COLUMNS`): the district's, then its streets',
        then its communities'.
    """
    from .goals import evaluate

    config, origins, units = result.config, result.origins, result.unit_of_origin
    all_comms = result.communities
    comms = all_comms[all_comms["community_id"].isin(own_communities)]
    streets = result.streets
    street_comms = comms  # own communities, and the neighbours' ones lying in an own street
    if streets is not None:
        rep = shapely.point_on_surface(streets.geometry.to_crs(4326).values)
        streets = streets[_inside(polygon, rep)]
        if "street_id" in all_comms:
            street_comms = all_comms[all_comms["community_id"].isin(own_communities)
                                     | all_comms["street_id"].isin(streets["street_id"])]
    facs = result.facilities
    counted = (facs["counted"] & ~facs.get("off_network", False)).to_numpy(bool)
    present = set(facs.loc[counted, "category"])  # the run's: a category it holds is assessed in every district
    fac_points = shapely.point_on_surface(facs.geometry.to_crs(4326).values)
    fac_in_district = _inside(polygon, fac_points)

    def subset(keep: np.ndarray) -> tuple[pd.DataFrame, dict]:
        return origins[keep], {level: np.asarray(ids)[keep] for level, ids in units.items()}

    def judged(keep: np.ndarray, units_of: gpd.GeoDataFrame, fac_keep: np.ndarray) -> pd.DataFrame:
        part, part_units = subset(keep)
        return evaluate(config, result.cells, part, part_units, units_of, streets, facs[fac_keep], name,
                        present_categories=present)

    # Residents of the district's cells, facilities inside it: the district rows of resident and capacity goals.
    by_cells = judged(origins["h3"].isin(own_cells).to_numpy(), comms, fac_in_district)
    # Every resident of its own communities, wherever they live: the community rows, and the district rows of
    # goals on communities (the share of its communities meeting them).
    in_comm = np.isin(np.asarray(units["community"]), own_communities)
    by_comms = judged(in_comm, comms, fac_in_district | np.isin(facility_units(facs, comms), own_communities))
    # Every resident and facility of its own streets (a neighbour's community lying in one included): the street
    # rows, and the district rows of goals on streets.
    by_streets = by_comms
    if streets is not None and "street" in units:
        in_street = in_comm | np.isin(np.asarray(units["street"]), streets["street_id"].to_numpy())
        in_street_comms = np.isin(facility_units(facs, street_comms), street_comms["community_id"].to_numpy())
        by_streets = judged(in_street, street_comms, fac_in_district | in_street_comms)
    on_streets = {g.key for g in config.goals if g.metric == "units_with_facility" and g.unit_level == "street"}
    on_comms = {g.key for g in config.goals if g.metric == "units_with_facility"} - on_streets

    def rows(card: pd.DataFrame, level: str, goals: set[str] | None = None) -> pd.DataFrame:
        keep = card["level"] == level
        return card[keep & card["goal"].isin(goals)] if goals is not None else card[keep]

    district = pd.concat([by_cells[(by_cells["level"] == "district") & ~by_cells["goal"].isin(on_streets | on_comms)],
                          rows(by_comms, "district", on_comms), rows(by_streets, "district", on_streets)])
    order = {g.key: i for i, g in enumerate(config.goals)}
    district = district.iloc[np.argsort(district["goal"].map(order).to_numpy(), kind="stable")]
    return pd.concat([district, rows(by_streets, "street"), rows(by_comms, "community")], ignore_index=True)


def clip_to_district(cells: gpd.GeoDataFrame, communities: gpd.GeoDataFrame,
                     polygon: shapely.Geometry) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells whose centre is in the district, communities whose representative point is (vectorised)."""
    # a cell's centre as H3 gives it, as the census scaling counts the district's cells (population)
    lon, lat = h3cells.centres(cells["h3"].to_numpy())
    keep_cells = cells[shapely.contains_xy(polygon, lon, lat)]
    rep = shapely.point_on_surface(communities.geometry.to_crs(4326).values)
    own = _inside(polygon, rep)
    keep_comm = communities[own].assign(rep_lon=shapely.get_x(rep[own]).round(7),
                                        rep_lat=shapely.get_y(rep[own]).round(7))
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
            words = outcome.worded(lang) if isinstance(outcome, ServiceCircleError) else str(outcome)
            status[code] = {"code": code, "error": f"{type(outcome).__name__}: {words}"}
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
    scorecards = read_scorecards(settings.out_dir, finished, names=names)
    merged_scorecard(settings.out_dir, scorecards, names=names)
    write_overview(settings, status, merged_cells, scorecards, lang=lang)
    (settings.out_dir / "summary.json").write_text(json.dumps(
        {"districts": {c: status[c] for c in sorted(status)}, "failed": failed, "summaries": summaries},
        ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return {"cells": merged_cells, "communities": merged_comm, "districts": status, "failed": failed}


#: The district columns put before a district's scorecard rows in the merged workbook.
DISTRICT_COLUMNS_ZH = ("区县代码", "区县名称")


def read_scorecards(out_dir: Path, codes: list[str], *, names: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The finished districts' own scorecards (:func:`district_scorecard`, code order), each row led by the
    district's code and name.

    Parameters
    ----------
    out_dir : Path
        The batch's output folder (a sub-folder per district code).
    codes : list of str
        The finished districts; those without a scorecard (no goals) are left out.
    names : dict
        District code → name.
    """
    tables = {}
    for code in sorted(codes):
        path = out_dir / code / OWN_SCORECARD_DIR / "scorecard.csv"
        if path.is_file():
            table = pd.read_csv(path, encoding="utf-8-sig", dtype={"编号": str, "代码": str})
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
    from .report import NOT_ASSESSED_ZH, PASSED_ZH

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
            # A district whose config lacks a category (configs mode) has no figure for it: "—", not a share.
            row["share_values"] = [float((weight * part[f"covered_{k}"].fillna(False).to_numpy(bool)).sum() / total)
                                   if total > 0 and part[f"covered_{k}"].notna().any() else float("nan")
                                   for k in keys]
            row["shares"] = [f"{v:.1%}" if np.isfinite(v) else "—" for v in row["share_values"]]
            passed = _district_rows(scorecards[code])["是否达标"] if code in scorecards else pd.Series(dtype=str)
            row["met"], row["failed"] = int((passed == PASSED_ZH[True]).sum()), int((passed == PASSED_ZH[False]).sum())
            row["unassessed"] = int((passed == NOT_ASSESSED_ZH).sum())
        rows.append(row)
    from .printpage import NO_DATA_COLOUR, SHARE_CLASSES, SHARE_COLOURS

    bounds = [f"{b:.0%}" for b in SHARE_CLASSES]
    legend = list(zip(SHARE_COLOURS, [f"< {bounds[0]}", *(f"{a}–{b}" for a, b in zip(bounds, bounds[1:])),
                                      f"≥ {bounds[-1]}"]))
    page = pages.render("batch.html", lang, html_lang="zh-CN" if lang == "zh" else "en",
                        labels=[categories[k].label for k in keys], rows=rows, legend=legend, no_data=NO_DATA_COLOUR,
                        maps=overview_maps(settings.districts, rows, [categories[k].label for k in keys]))
    path = settings.out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


#: Size of an overview map (px): two to a row.
OVERVIEW_MAP_PX = (420, 360)


def overview_maps(districts: tuple[District, ...], rows: list[dict], labels: list[str]) -> list[dict]:
    """One SVG map per category for the overview page: every district filled by its covered share (the
    print page's classes), linked to its own map; grey where it failed. Inline, so it shows offline.

    Parameters
    ----------
    districts : tuple of District
        The batch's districts (their polygons).
    rows : list of dict
        The overview rows (``code``, ``name``, ``error``, ``share_values`` per category).
    labels : list of str
        The categories' labels, in the order of ``share_values``.

    Returns
    -------
    list of dict
        Per category: ``label``, ``width``, ``height`` and ``districts`` (``code``, ``name``, ``d`` the path,
        ``fill``, ``share`` text, ``x``/``y`` of its label, ``link``). Names stay text, escaped by the template.
    """
    from .printpage import NO_DATA_COLOUR, share_colours, svg_paths, svg_view

    if not districts:
        return []
    geoms = shapely.from_wkb([d.polygon_wkb for d in districts])
    view = svg_view(np.asarray(shapely.total_bounds(geoms), float), OVERVIEW_MAP_PX)
    west, north, sx, sy = view
    paths = svg_paths(geoms, view)
    label_at = shapely.point_on_surface(geoms)
    by_code = {r["code"]: r for r in rows}
    out = []
    for i, label in enumerate(labels):
        shapes = []
        for d, path, point in zip(districts, paths, label_at):
            row = by_code.get(d.code, {"error": "not run"})
            ok = row.get("error") is None
            share = row["share_values"][i] if ok else float("nan")
            shapes.append({"code": d.code, "name": d.name, "d": path, "link": ok,
                           "fill": str(share_colours(np.array([share]))[0]) if ok else NO_DATA_COLOUR,
                           "share": f"{share:.1%}" if np.isfinite(share) else "—",
                           "x": round((shapely.get_x(point) - west) * sx, 1),
                           "y": round((north - shapely.get_y(point)) * sy, 1)})
        out.append({"label": label, "width": OVERVIEW_MAP_PX[0], "height": OVERVIEW_MAP_PX[1], "districts": shapes})
    return out
