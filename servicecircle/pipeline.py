"""The whole run: each stage of the pipeline called once, in order, data flowing one way."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from . import (
    access,
    communities,
    coords,
    datumcheck,
    facilities,
    gaps,
    goals,
    grid,
    maps,
    network,
    osm,
    parallel,
    population,
    printpage,
    registries,
    report,
    reportpage,
    runcache,
    siting,
    texts,
    webmap,
)
from .config import STREET_AREAS_MAX_EDGES, Config
from .inputs import InputReport
from .results import RunResult
from .summary import summarise

log = logging.getLogger(__name__)

_T = TypeVar("_T")

STAGES = ["walk network", "OSM features", "boundaries", "facilities", "population", "walk times", "capacity access",
          "grid", "communities", "gaps", "goals", "service areas (wait)", "outputs"]


def load_features(config: Config) -> gpd.GeoDataFrame:
    """OSM features of the study area: from the local file, else downloaded through osmnx.

    A run on road lines alone (no OSM file, place, bbox or polygon) has no OSM
    features: its facilities come from registries and its residents from the
    population inputs.
    """
    if config.area.osm_file is not None and config.area.osm_file.exists():
        return osm.features_from_file(config.area.osm_file)
    if not config.area.uses_osm:
        return osm.features_frame([])
    return osm.features_from_overpass(cache_dir=config.network.cache_dir, **network.download_area(config.area))


#: Settings that shape only the pages (map and report), never a computed figure or table.
PAGE_SETTINGS = ("output.lang", "output.offline", "output.basemap")

#: Settings that shape only the written files (folders, the settings file's text, the pages).
OUTPUT_ONLY = ("output.out_dir", "network.cache_dir", "source_text") + PAGE_SETTINGS

#: Settings the cached analysis and goals are keyed by though they shape no figure: the run's language, as
#: they hold worded lines (input_report.csv, the notes per category, the registry checks, the scorecard).
WORDED = ("output.lang",)

#: What the analysis and the goals leave out of their cache keys.
NOT_IN_ANALYSIS = tuple(k for k in OUTPUT_ONLY if k not in WORDED)

#: The stages whose results are cached together as one analysis (see :func:`analyse`); the goals are cached apart.
ANALYSIS_STAGES = [s for s in STAGES[1:-1] if s != "goals"]


@dataclass
class Analysis:
    """What the stages from the OSM features to the blind spots produced (cached as one result)."""

    facilities: gpd.GeoDataFrame
    registry_info: list
    service_areas: gpd.GeoDataFrame
    merged_service_areas: gpd.GeoDataFrame
    origins: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame | None
    input_report: InputReport
    unit_of_origin: dict
    origin_times: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    adjacency: pd.DataFrame
    area: shapely.Polygon | shapely.MultiPolygon
    population_info: dict
    capacity_access_info: dict
    service_area_plan: dict
    seconds: dict


def run(config: Config, *, write: bool = True, progress: bool = True, reuse: bool = True) -> RunResult:
    """Run the analysis for one study area.

    Parameters
    ----------
    config : Config
        From :func:`servicecircle.config.load_config`.
    write : bool
        Write ``index.html``, ``servicecircle.gpkg``, ``communities.csv`` and
        ``summary.json`` into ``config.output.out_dir``.
    progress : bool
        Show a progress bar over the stages.
    reuse : bool
        Reuse the analysis and the goals a run with the same inputs cached
        under ``config.network.cache_dir``, and leave output files that are up to date
        (:mod:`servicecircle.runcache`); False computes and writes everything
        (the walk network still comes from its own cache).

    Returns
    -------
    RunResult
    """
    bar = tqdm(total=len(STAGES), desc=config.area.name, unit="stage", disable=not progress)
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def done(stage: str, stages: int = 1) -> None:
        now = time.perf_counter()
        seconds[stage] = round(now - clock[0], 3)
        clock[0] = now
        bar.set_postfix_str(stage)
        bar.update(stages)

    net = network.build_walk_network(config.area, config.network)
    done("walk network")
    cache = runcache.StageCache(config.network.cache_dir, config.area.name) if reuse else None
    analysis_key = runcache.settings_key(config, leave_out=NOT_IN_ANALYSIS + ("goals",))
    goals_key = runcache.settings_key(config, leave_out=NOT_IN_ANALYSIS)
    a = cache.load("analysis", analysis_key) if cache else None
    to_store = {}
    if a is None:
        # The goals of a new analysis are new too: they are evaluated inside it, beside the service areas.
        a, scorecard = analyse(config, net, done)
        seconds.update(a.seconds)
        if cache:
            to_store = {"analysis": (analysis_key, a), "goals": (goals_key, scorecard)}
    else:
        assert cache is not None  # the analysis came from the cache
        done("analysis (cached)", len(ANALYSIS_STAGES))
        scorecard = cache.load("goals", goals_key)
        if scorecard is None:
            scorecard = evaluate_goals(config, a.cells, a.origins, a.unit_of_origin, a.communities, a.streets,
                                       a.facilities, a.population_info)
            cache.store("goals", goals_key, scorecard)
            done("goals")
        else:
            done("goals (cached)", 1)
        # An analysis cached by a run in another language: its 医养结合 notes in this run's language.
        a = dataclasses.replace(a, adjacency=gaps.adjacency_in_language(
            a.adjacency, config.output.lang, settings=config.gaps, categories=config.categories))
    summary = summarise(config, net.info, a.facilities, a.cells, a.communities, a.origins, streets=a.streets,
                               population_info=a.population_info, registry_info=a.registry_info,
                               input_report=a.input_report, scorecard=scorecard,
                               capacity_access=a.capacity_access_info, blind_spots=a.blind_spots,
                               adjacency=a.adjacency)
    summary["service_areas"] = a.service_area_plan
    result = RunResult(config=config, network=net, facilities=a.facilities, service_areas=a.service_areas,
                       origins=a.origins, cells=a.cells, communities=a.communities, streets=a.streets,
                       input_report=a.input_report, scorecard=scorecard, unit_of_origin=a.unit_of_origin,
                       origin_times=a.origin_times, blind_spots=a.blind_spots, adjacency=a.adjacency, area=a.area,
                       summary=summary, seconds=seconds, merged_service_areas=a.merged_service_areas)
    if write:
        keys = {"tables": analysis_key, "scorecard": goals_key,
                "pages": runcache.settings_key(config, leave_out=set(OUTPUT_ONLY) - set(PAGE_SETTINGS),
                                               extra=runcache.file_stamps(config))}
        result.files = write_run_outputs(result, keys, reuse=reuse, store=(cache, to_store) if to_store else None)
    elif to_store:
        assert cache is not None  # to_store is filled only when there is a cache
        _store_all(cache, to_store)
    done("outputs")
    bar.close()
    summary["seconds"] = seconds
    return result


def _write_tables(result: RunResult) -> dict[str, Path]:
    """The GeoPackage and the CSV tables of a run (in sequence: GDAL's and pandas' writers hold the GIL)."""
    out_dir = result.config.output.out_dir
    files = report.write_outputs(out_dir, result.summary, result.facilities, result.service_areas,
                                 result.merged_service_areas, result.cells, result.communities,
                                 streets=result.streets, blind_spots=result.blind_spots,
                                 input_report=result.input_report, base=result.config.base_dir)
    files.update(report.write_gaps(out_dir, result.blind_spots, None))
    return files


def _write_scorecard(result: RunResult) -> dict[str, Path]:
    """The files in the run's language: the scorecard and the 医养结合 check."""
    out_dir = result.config.output.out_dir
    files = report.write_scorecard(out_dir, result.scorecard, compounds=result.config.communities is None,
                                   goal_metrics={g.key: g.metric for g in result.config.goals})
    files.update(report.write_gaps(out_dir, None, result.adjacency))
    return files


def _tables_and_store(result: RunResult | None, store: tuple | None) -> dict[str, Path] | None:
    """The tables of ``result`` (if given), then the cache's ``store`` (if given): the work done aside."""
    files = _write_tables(result) if result is not None else None
    if store is not None:
        _store_all(*store)
    return files


def _store_all(cache: runcache.StageCache, results: dict) -> None:
    """Store each ``stage: (key, value)``; a failure (disk full …) costs the next run its reuse, not this run."""
    for stage, (key, value) in results.items():
        try:
            cache.store(stage, key, value)
        except OSError as exc:
            log.warning("%s: could not cache the %s (%s); the next run computes it again", cache.folder, stage, exc,
                        extra=texts.logged("log.cache_not_written", folder=cache.folder, stage=stage, error=exc))


#: Cells from which the GeoPackage, the CSVs and the cache are written in a forked child beside
#: the scorecard and the pages (below, forking costs more than it saves).
FORK_MIN_CELLS = 100_000


def write_run_outputs(result: RunResult, keys: dict[str, str], *, reuse: bool = True,
                      store: tuple | None = None) -> dict[str, Path]:
    """Write every output of a run; with ``reuse``, a group of files written from the same key and
    untouched since is left as it is (``summary.json``, which holds the run's timings, is always written).

    At city size the GeoPackage and CSV writers (``tables``) and the storing of
    the cache run in a child process forked from this one, beside the
    scorecard and page writers here: all of them hold the GIL, so threads
    could not overlap them (measured), and the child reads the run's tables
    copy-on-write instead of receiving a copy.

    Parameters
    ----------
    result : RunResult
    keys : dict
        The key of each group: ``tables`` (GeoPackage and CSVs), ``scorecard``, ``pages`` (map and report).
    reuse : bool
    store : (StageCache, dict), optional
        Results to store in the cache (``stage: (key, value)``), beside the writers.
    """
    out_dir = result.config.output.out_dir
    manifest = runcache.OutputManifest(out_dir)
    current = {group: manifest.current(group, keys[group]) if reuse else None
               for group in ("tables", "scorecard", "pages")}
    written = [group for group, files in current.items() if files is None]
    kept = [str(p) for files in current.values() if files is not None for p in files.values()]
    for group in written:
        manifest.forget(group)  # a run stopped midway leaves these files unrecorded, so rewritten next time
    out_dir.mkdir(parents=True, exist_ok=True)
    need_tables = current["tables"] is None
    aside = None
    if need_tables or store:
        aside = parallel.Forked(_tables_and_store, result if need_tables else None, store,
                                fork=len(result.cells) >= FORK_MIN_CELLS)
    writers = {"scorecard": lambda: _write_scorecard(result),
               "pages": lambda: write_html(result, merged_areas=result.merged_service_areas)}
    for group, write in writers.items():
        if current[group] is None:
            current[group] = group_files = write()
            manifest.record(group, keys[group], group_files)
    if aside is not None:
        tables = aside.result()
        if need_tables:
            current["tables"] = tables
            manifest.record("tables", keys["tables"], tables)
    files: dict[str, Path] = {}
    for group in ("tables", "scorecard", "pages"):
        done_files = current[group]
        assert done_files is not None  # each group was kept above or has just been written
        files.update(done_files)
    result.summary["outputs_written"], result.summary["outputs_kept"] = written, kept
    files["summary"] = report.write_summary(out_dir, result.summary, result.config.base_dir)
    return files


def evaluate_goals(config: Config, cells: gpd.GeoDataFrame, origins: gpd.GeoDataFrame, unit_of_origin: dict,
                   comms: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None, facs: gpd.GeoDataFrame,
                   population_info: dict) -> pd.DataFrame:
    """The scorecard: every goal at every level (:func:`servicecircle.goals.evaluate`)."""
    census = population_info.get("census")
    return goals.evaluate(config, cells, origins, unit_of_origin, comms, streets, facs,
                          census.get("name") if census else None, lang=config.output.lang)


def analyse(config: Config, net: network.WalkNetwork,
            done: Callable[[str], None]) -> tuple[Analysis, pd.DataFrame]:
    """The stages from the OSM features to the goals, on the walk network ``net``.

    ``done(stage)`` is called as each stage ends (it times them); the
    analysis' ``seconds`` holds only the stages that ran in threads beside
    others. Returns the analysis and the scorecard.
    """
    seconds = {}
    report_rows = InputReport(lang=config.output.lang)
    features = load_features(config)
    done("OSM features")
    comms = communities.load_communities(config.communities, features, report_rows)
    streets = communities.load_streets(config.streets, report_rows)
    comms = communities.link_streets(comms, streets)
    area = grid.study_area(config.area, net, comms if config.communities is not None else None)
    done("boundaries")
    facs, registry_info = find_all_facilities(config, features, net, area, report_rows,
                                               datumcheck.evidence_for_run(features, comms, streets))
    facilities.report_off_network(facs, report_rows, osm_file=config.area.osm_file,
                                  max_snap_m=config.network.max_snap_m)
    done("facilities")
    usable = facs[facs["counted"] & ~facs["off_network"]]
    graph = access.build_access_graph(net, usable)
    origins = population.residential_origins(features, area, settings=config.population,
                                             h3_resolution=config.grid.h3_resolution, crs=net.crs, net=net)
    del features
    unit_of_origin = {"community": communities.assign_origins(origins, comms)}
    origins, unit_of_origin["community"] = population.fill_streetless_communities(
        origins, comms, unit_of_origin["community"], config.grid.h3_resolution, report_rows,
        config.communities.path if config.communities else "communities")
    if streets is not None:
        street_units = communities.rollup_geometry(streets, comms)
        outlines = streets.geometry.to_numpy()
        unit_of_origin["street"] = communities.assign_origins(origins, street_units, "street_id")
    origins, pop_info = population.apply_inputs(
        origins, comms, streets, unit_of_origin, settings=config.population,
        population_total=config.area.population_total, cache_dir=config.network.cache_dir, report=report_rows)
    done("population")
    snap = access.origin_snap(origins, net)
    node_distances = {key: access.nearest_distances(graph, key) for key in config.categories}
    times = access.origin_walk_times(origins, graph, categories=config.categories, snap=snap,
                                     node_distances=node_distances)
    done("walk times")
    fca, fca_info = access.origin_capacity_access(origins, graph, categories=config.categories,
                                                  settings=config.access, snap=snap)
    origins = origins.join(fca)
    done("capacity access")
    plan = service_area_plan(config, net, graph, node_distances)
    # Service areas are GEOS and numpy work that mostly releases the GIL: they run
    # in threads beside the grid, communities and gaps here — per facility and
    # merged side by side (on Chengdu the longest stage), cell outlines as soon
    # as the cells exist. The outlines' Python parts do contend with the stages
    # here (at 1 M nodes the overlap saves ~8 s of ~50, measured).
    with ThreadPoolExecutor(max_workers=2) as pool:
        areas_task, merged_task = _service_area_tasks(pool, graph, config, node_distances, plan)
        cells = grid.build_cells(origins, times, categories=config.categories,
                                 coverage_threshold_min=config.access.coverage_threshold_min)
        if merged_task is None:
            merged_task = pool.submit(_timed, time.perf_counter(), functools.partial(
                grid.cell_service_areas, categories=config.categories, thresholds_min=config.access.thresholds_min,
                crs=net.crs), cells)
        done("grid")
        comms = communities.aggregate(comms, origins, cells, facs, config.categories,
                                      unit_of_origin=unit_of_origin["community"])
        if streets is not None:
            streets = communities.aggregate(street_units, origins, cells, facs, config.categories, "street_id",
                                            unit_of_origin["street"])
            streets["geometry"] = outlines  # figures roll up from communities; the map shows the street's own outline
        done("communities")
        spots = gaps.blind_spots(cells, origins, unit_of_origin["community"], comms, facs, config)
        adjacency = gaps.health_adjacency(graph, facs, settings=config.gaps, categories=config.categories,
                                           lang=config.output.lang)
        done("gaps")
        scorecard = evaluate_goals(config, cells, origins, unit_of_origin, comms, streets, facs, pop_info)
        done("goals")
        (areas, areas_seconds), (merged, merged_seconds) = areas_task.result(), merged_task.result()
    done("service areas (wait)")
    # Side by side, overlapping the stages above: the stage's own time is the longer task's.
    seconds["service areas"] = max(areas_seconds, merged_seconds)
    return Analysis(facs, registry_info, areas, merged, origins, cells, comms, streets, report_rows, unit_of_origin,
                    times, spots, adjacency, area, pop_info, fca_info, plan, seconds), scorecard


def service_area_plan(config: Config, net: network.WalkNetwork, graph: access.AccessGraph,
                      node_distances: dict) -> dict:
    """Which service areas a run draws, and a sentence saying so (for summary, console and report).

    Per-facility areas cost what each facility reaches, but a city's thousands
    of facilities make that minutes: above ``[output] facility_areas``
    facilities they are left out unless asked for. Merged areas are street-side
    buffers (``streets``) while the edges they walk, summed over categories and
    thresholds, stay within :data:`config.STREET_AREAS_MAX_EDGES` (with
    ``service_areas = "auto"``), H3 cells (``cells``) above.
    """
    n = len(graph.facilities)
    limit = config.output.facility_areas
    per_facility = limit == "all" or (not isinstance(limit, str) and n <= limit)
    walked = 0
    for key, (dist, _) in node_distances.items():
        nearer = np.minimum(dist[net.edge_u], dist[net.edge_v])
        speed = config.categories[key].speed_m_s
        walked += sum(int((nearer <= m * 60 * speed).sum()) for m in config.access.thresholds_min)
    method = config.output.service_areas
    if method == "auto":
        method = "streets" if walked <= STREET_AREAS_MAX_EDGES else "cells"
    lang = config.output.lang
    if per_facility:
        note = texts.text(lang, "areas.all", n=n)
    elif limit == "none":
        note = texts.text(lang, "areas.none")
    else:
        note = texts.text(lang, "areas.too_many", n=n, limit=limit)
    how = texts.text(lang, "areas.streets" if method == "streets" else "areas.cells",
                     b=config.access.street_buffer_m, r=config.grid.h3_resolution)
    return {"per_facility": per_facility, "facilities": n, "facility_areas": limit, "method": method,
            "walked_edges": walked, "note": note, "method_note": how}


def _timed(start: float, build: Callable[..., _T], *args: Any) -> tuple[_T, float]:
    """``build(*args)`` and the seconds from ``start`` until it was done."""
    value = build(*args)
    return value, round(time.perf_counter() - start, 3)


def _service_area_tasks(pool: ThreadPoolExecutor, graph: access.AccessGraph, config: Config,
                        node_distances: dict, plan: dict) -> tuple[Future, Future | None]:
    """Futures of the per-facility areas and of the street-side merged areas (None with the
    cells method: those wait for the cells), each giving (areas, seconds)."""
    start = time.perf_counter()
    which = None if plan["per_facility"] else np.zeros(0, np.int64)
    cats, settings = config.categories, config.access
    per_facility = pool.submit(_timed, start, functools.partial(
        access.facility_service_areas, categories=cats, settings=settings, rows=which), graph)
    merged = pool.submit(_timed, start, functools.partial(
        access.merged_service_areas, categories=cats, settings=settings, node_distances=node_distances), graph) \
        if plan["method"] == "streets" else None
    return per_facility, merged


def find_all_facilities(config: Config, features: gpd.GeoDataFrame, net: network.WalkNetwork,
                        area: shapely.Polygon | shapely.MultiPolygon,
                        report_rows: InputReport,
                        evidence: datumcheck.Evidence | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """OSM facilities merged with every registry, snapped to the network.

    Registry points farther from the study area than the longest walk of any
    category are reported and left out. Each registry's coordinate system is
    checked against ``evidence`` (:mod:`servicecircle.datumcheck`: points inside
    the community / street they name, on OSM buildings and residential parcels);
    one that is clearly in another system gets a warning and an input-report line
    naming it (its points are still used as declared).
    """
    facs = facilities.find_facilities(features, config.categories)
    info = []
    for source in config.facilities.webmap:
        pois, counts = webmap_facilities(config, source, area)
        # A POI that is an OSM feature (same category, matching name, within the merge distance) is one
        # facility: the POI's position and attributes, the OSM id and footprint (source "amap+osm").
        facs = (registries.merge_with_osm(facs, pois, config.facilities.merge_distance_m, own_flags=True)
                if len(pois) else facs)
        took = facs[facs["source"].astype(str).str.startswith(f"{source.service}+")]["category"].value_counts()
        for row in counts["categories"]:
            row["merged_osm"] = int(took.get(row["category"], 0))
        info.append({**counts, "_ids": list(pois["facility_id"])})
    reach_m = max(c.speed_m_s for c in config.categories.values()) * config.access.coverage_threshold_min * 60
    utm = net.crs
    area_utm = gpd.GeoSeries([area], crs=coords.WGS84).to_crs(utm).iloc[0]
    geocoder = registry_geocoder(config, area)
    if geocoder is not None:
        report_rows.geocode_review = report_rows.geocode_review or []
    for spec in config.facilities.registries:
        reg = registries.read_registry(spec, config.categories, report_rows, geocoder=geocoder)
        read = len(reg)
        if read:
            dist = reg.geometry.to_crs(utm).distance(area_utm).to_numpy()
            far = dist > reach_m
            for row, d in zip(reg.loc[far, "registry_row"], dist[far]):
                report_rows.say(spec.path, row, "lon/lat", "outside_area", "dropped", km=d / 1000, reach=reach_m)
            reg = reg[~far]
        check = registry_datum_check(reg, spec.path, spec.coord_system, evidence or datumcheck.Evidence(),
                                     config.output.lang)
        # The console prints the warning with the registry's line (cli), from the summary: cached runs too.
        warning = check["text"] if check["verdict"] == "switch" else None
        if warning:
            report_rows.add(spec.path, None, "coord_system",
                            texts.text(config.output.lang, "datum.report_problem", declared=spec.coord_system,
                                       suggested=check["suggested"]),
                            texts.text(config.output.lang, "datum.report_action", declared=spec.coord_system,
                                       suggested=check["suggested"]))
        facs = registries.merge_with_osm(facs, reg, config.facilities.merge_distance_m)
        info.append({"file": str(spec.path), "coord_system": spec.coord_system, "rows_used": int(len(reg)),
                     "rows_valid": int(read), "coordinate_check": check, "warning": warning,
                     **({"rows_geocoded": int((reg["geocode_level"] != "").sum())} if geocoder is not None else {})})
    # A POI merged into a registry row is that row now (source "both"): its own id is gone.
    left = set(facs["facility_id"])
    for web in (i for i in info if "webmap" in i):
        gone = pd.Series([f for f in web.pop("_ids") if f not in left], dtype=object)
        merged = gone.str.rsplit("/", n=1).str[-1].value_counts()
        for row in web["categories"]:
            row["merged"] = int(merged.get(row["category"], 0))
    facs = facs.sort_values(["category", "facility_id"], kind="stable").reset_index(drop=True)
    return facilities.snap_facilities(facs, net, config.network.max_snap_m), info


def registry_geocoder(config: Config, area: shapely.Polygon | shapely.MultiPolygon
                      ) -> registries.GeocodeSetup | None:
    """The ``[facilities.geocoder]`` of the study-area file as a :class:`~servicecircle.registries.GeocodeSetup`.

    The city sent with each address is the geocoder's ``city``, else (AMap only, which takes an
    adcode) the ``[population] census_code`` of the district. A geocoded point outside ``area``
    (the study area) is not used.
    """
    spec = config.facilities.geocoder
    if spec is None:
        return None
    client = webmap.make_client(service=spec.service, key_env=spec.key_env, cache_dir=config.network.cache_dir,
                                base_url=spec.base_url, refresh=spec.refresh)
    city = spec.city or (config.population.census_code if spec.service == "amap" else None)
    return registries.GeocodeSetup(client=client, city=city, min_precision=spec.min_precision, area=area)


def webmap_facilities(config: Config, source: Any, area: shapely.Polygon | shapely.MultiPolygon
                      ) -> tuple[gpd.GeoDataFrame, dict]:
    """The POIs of one ``[[facilities.webmap]]`` search in the study area, classified.

    Each category is searched by its own keywords (and, where configured, the service's type
    codes); the counts per category (fetched, kept, excluded) go into the summary.
    """
    client = webmap.make_client(service=source.service, key_env=source.key_env, cache_dir=config.network.cache_dir,
                                base_url=source.base_url, refresh=source.refresh)
    stats = webmap.SearchStats()
    keywords = {k: c.keywords + c.flagged_keywords for k, c in config.categories.items()}
    pois = webmap.search_pois(client, area=area, keywords=keywords, types=dict(source.types), stats=stats)
    inside = shapely.contains_xy(area, pois["lon"].to_numpy(float), pois["lat"].to_numpy(float))
    found, counts = webmap.classify_pois(pois[inside].reset_index(drop=True), config.categories)
    return found, {"webmap": source.service, "fetched_on": webmap.fetch_date(client), "requests": stats.requests,
                   "splits": stats.splits, "pois": int(len(pois)), "pois_outside_area": int((~inside).sum()),
                   "categories": counts.to_dict("records")}


def registry_datum_check(reg: gpd.GeoDataFrame, path: Path, declared: str, evidence: datumcheck.Evidence,
                         lang: str) -> dict:
    """The ``coordinate_check`` of one registry: :func:`servicecircle.datumcheck.check_registry` and its sentence."""
    found = datumcheck.check_registry(reg, declared, evidence)
    verdict, suggested = found["verdict"], found["suggested"]
    shown = suggested or declared
    hits, n, chance = datumcheck.summary_numbers(found, shown)
    d_hits, _, _ = datumcheck.summary_numbers(found, declared)
    if verdict == "cannot_tell" and found["points"] < found["min_points"]:
        key = "datum.too_few"
    else:
        key = f"datum.{verdict}"
    text = texts.text(lang, key, file=Path(path).name, declared=declared, suggested=shown, hits=hits, n=n,
                      declared_hits=d_hits, chance=f"{chance:.0%}", points=found["points"],
                      min_points=found["min_points"])
    return {"verdict": verdict, "declared": declared, "suggested": suggested, "points": found["points"],
            "scores": found["scores"], "evidence": found["evidence"], "text": text}


def site_and_write(result: RunResult, *, category: str, add: int | None = None, target: float | None = None,
                   weight: str = "residents", candidates_file: str | Path | None = None,
                   candidates_coord_system: str = "wgs84", spacing_m: float = 100.0,
                   exclude_file: str | Path | None = None, exclude_coord_system: str = "wgs84") -> siting.SitingResult:
    """The ``site`` command after a run: candidates, siting, its files and the map with proposed sites.

    Candidates are the rows of ``candidates_file`` or, without one, points every ``spacing_m`` along
    the walk network; those inside the polygons of ``exclude_file`` are left out. ``add`` sites are
    chosen, or as many as reach the covered share ``target`` (see :func:`servicecircle.siting.site`).
    """
    config = result.config
    if candidates_file:
        candidates = siting.file_candidates(candidates_file, candidates_coord_system, result.input_report)
    else:
        candidates = siting.network_candidates(result.network, spacing_m, result.area)
    if exclude_file:
        candidates = siting.exclude(candidates, exclude_file, exclude_coord_system)
    roads = network.named_roads(config.area, config.network)
    res = siting.site(result, category, k=add, target=target, weight=weight, candidates=candidates, roads=roads)
    res.info["files"] = report.write_siting(config.output.out_dir, res)
    res.info["files"].update(write_html(result, res))
    return res


def capacity_plan_and_write(result: RunResult, *, category: str, per_1000: float | None = None,
                            group: str | None = None) -> siting.CapacityPlan:
    """The ``capacity`` command after a run: :func:`servicecircle.siting.capacity_plan` and its files."""
    plan = siting.capacity_plan(result, category, per_1000=per_1000, group=group)
    plan.info["files"] = report.write_capacity_plan(result.config.output.out_dir, plan)
    return plan


def write_html(result: RunResult, siting_result: siting.SitingResult | None = None,
               merged_areas: gpd.GeoDataFrame | None = None) -> dict:
    """``map.html`` (Leaflet inlined with ``config.output.offline``) and the report page ``index.html``.

    The map carries compact tables drawn in the browser (:mod:`servicecircle.maps`), so its
    size grows with the run's cells, facilities and units, never with cells × layers.

    Parameters
    ----------
    result : RunResult
    siting_result : SitingResult, optional
        Proposed sites to draw in their own layer (the ``site`` command).
    merged_areas : GeoDataFrame, optional
        Service areas per category and threshold; default ``result.merged_service_areas``
        (none drawn when the run has none).

    Returns
    -------
    dict
        ``{"map": path, "report": path, "print": path}`` (the printable report, :mod:`printpage`).
    """
    return {"map": maps.write_run_map(result, siting_result=siting_result, merged_areas=merged_areas),
            "report": reportpage.write_page(result, siting=siting_result),
            "print": printpage.write_print_page(result, siting=siting_result)}
