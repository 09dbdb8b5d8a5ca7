"""The whole run: each stage of the pipeline called once, in order, data flowing one way."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import (access, communities, facilities, gaps, goals, grid, maps, network, osm, population, registries, report,
               reportpage, siting)
from .config import STREET_AREAS_MAX_EDGES, Config
from .inputs import InputReport

log = logging.getLogger(__name__)

STAGES = ["walk network", "OSM features", "boundaries", "facilities", "population", "walk times", "capacity access",
          "grid", "communities", "gaps", "goals", "service areas (wait)", "outputs"]


@dataclass
class RunResult:
    """Everything one run produced (all GeoDataFrames in WGS-84 unless noted)."""

    config: Config
    network: network.WalkNetwork
    facilities: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame  # per facility, in network.crs
    origins: gpd.GeoDataFrame  # in network.crs
    cells: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame | None
    input_report: InputReport
    scorecard: pd.DataFrame
    unit_of_origin: dict
    origin_times: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    adjacency: pd.DataFrame
    area: object  # the study-area polygon, WGS-84
    summary: dict
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    merged_service_areas: gpd.GeoDataFrame | None = None  # per category and threshold, in network.crs


def load_features(config: Config) -> gpd.GeoDataFrame:
    """OSM features of the study area: from the local file, else downloaded through osmnx.

    A run on road lines alone (no OSM file, place, bbox or polygon) has no OSM
    features: its facilities come from registries and its residents from the
    population inputs.
    """
    if config.osm_file is not None and config.osm_file.exists():
        return osm.features_from_file(config.osm_file)
    if not config.uses_osm:
        return osm.features_frame([])
    return osm.features_from_overpass(cache_dir=config.cache_dir, **network.download_area(config))


def run(config: Config, *, write: bool = True, progress: bool = True) -> RunResult:
    """Run the analysis for one study area.

    Parameters
    ----------
    config : Config
        From :func:`servicecircle.config.load_config`.
    write : bool
        Write ``index.html``, ``servicecircle.gpkg``, ``communities.csv`` and
        ``summary.json`` into ``config.out_dir``.
    progress : bool
        Show a progress bar over the stages.

    Returns
    -------
    RunResult
    """
    bar = tqdm(total=len(STAGES), desc=config.name, unit="stage", disable=not progress)
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def done(stage: str) -> None:
        now = time.perf_counter()
        seconds[stage] = round(now - clock[0], 3)
        clock[0] = now
        bar.set_postfix_str(stage)
        bar.update(1)

    report_rows = InputReport()
    net = network.build_walk_network(config)
    done("walk network")
    features = load_features(config)
    done("OSM features")
    comms = communities.load_communities(config, features, report_rows)
    streets = communities.load_streets(config, report_rows)
    comms = communities.link_streets(comms, streets)
    area = grid.study_area(config, net, comms)
    done("boundaries")
    facs, registry_info = find_all_facilities(config, features, net, area, report_rows)
    done("facilities")
    usable = facs[facs["counted"] & ~facs["off_network"]]
    graph = access.build_access_graph(net, usable)
    origins = grid.residential_origins(features, area, config, net.crs, net=net)
    unit_of_origin = {"community": communities.assign_origins(origins, comms)}
    origins, unit_of_origin["community"] = population.fill_streetless_communities(
        origins, comms, unit_of_origin["community"], config.h3_resolution, report_rows,
        config.communities.path if config.communities else "communities")
    if streets is not None:
        street_units = communities.rollup_geometry(streets, comms)
        outlines = streets.geometry.to_numpy()
        unit_of_origin["street"] = communities.assign_origins(origins, street_units, "street_id")
    origins, pop_info = population.apply_inputs(origins, comms, streets, unit_of_origin, config, report_rows)
    done("population")
    snap = grid.origin_snap(origins, net)
    node_distances = {key: access.nearest_distances(graph, key) for key in config.categories}
    times = grid.origin_walk_times(origins, graph, config, snap, node_distances)
    done("walk times")
    fca, fca_info = grid.origin_capacity_access(origins, graph, config, snap)
    origins = origins.join(fca)
    done("capacity access")
    plan = service_area_plan(config, net, graph, node_distances)
    # Service areas are GEOS and numpy work that mostly releases the GIL: they run
    # in threads beside the grid, communities, gaps and goals here — per facility
    # and merged side by side (on Chengdu the longest stage), cell outlines as
    # soon as the cells exist. The outlines' Python parts do contend with the
    # stages here (at 1 M nodes the overlap saves ~8 s of ~50, measured).
    with ThreadPoolExecutor(max_workers=2) as pool:
        areas_task, merged_task = _service_area_tasks(pool, graph, config, node_distances, plan)
        cells = grid.build_cells(origins, times, config)
        if merged_task is None:
            merged_task = pool.submit(_timed, time.perf_counter(), grid.cell_service_areas, cells, config, net.crs)
        done("grid")
        comms = communities.aggregate(comms, origins, cells, facs, config, unit_of_origin=unit_of_origin["community"])
        if streets is not None:
            streets = communities.aggregate(street_units, origins, cells, facs, config, "street_id",
                                            unit_of_origin["street"])
            streets["geometry"] = outlines  # figures roll up from communities; the map shows the street's own outline
        done("communities")
        spots = gaps.blind_spots(cells, origins, unit_of_origin["community"], comms, facs, config)
        adjacency = gaps.health_adjacency(graph, facs, config)
        done("gaps")
        district = pop_info.get("census", {}).get("name") if pop_info.get("census") else None
        scorecard = goals.evaluate(config, cells, origins, unit_of_origin, comms, streets, facs, district)
        done("goals")
        (areas, areas_seconds), (merged, merged_seconds) = areas_task.result(), merged_task.result()
    done("service areas (wait)")
    # Side by side, overlapping the stages above: the stage's own time is the longer task's.
    seconds["service areas"] = max(areas_seconds, merged_seconds)
    summary = report.summarise(config, net.info, facs, cells, comms, origins, streets=streets,
                               population_info=pop_info, registry_info=registry_info, input_report=report_rows,
                               scorecard=scorecard, capacity_access=fca_info, blind_spots=spots,
                               adjacency=adjacency)
    result = RunResult(config, net, facs, areas, origins, cells, comms, streets, report_rows, scorecard,
                       unit_of_origin, times, spots, adjacency, area, summary, seconds=seconds,
                       merged_service_areas=merged)
    summary["service_areas"] = plan
    if write:
        # In sequence: GDAL's GeoPackage writer and pandas' CSV writer hold the GIL
        # (measured: in threads beside each other or the map they gained nothing).
        result.files = report.write_outputs(config.out_dir, summary, facs, areas, merged, cells, comms,
                                            streets=streets, input_report=report_rows)
        result.files.update(report.write_scorecard(config.out_dir, scorecard))
        result.files.update(report.write_gaps(config.out_dir, spots, adjacency))
        result.files.update(write_html(result, merged_areas=merged))
    done("outputs")
    bar.close()
    summary["seconds"] = seconds
    return result


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
    limit = config.facility_areas
    per_facility = limit == "all" or (not isinstance(limit, str) and n <= limit)
    walked = 0
    for key, (dist, _) in node_distances.items():
        nearer = np.minimum(dist[net.edge_u], dist[net.edge_v])
        speed = config.categories[key].speed_m_s
        walked += sum(int((nearer <= m * 60 * speed).sum()) for m in config.thresholds_min)
    method = config.service_areas
    if method == "auto":
        method = "streets" if walked <= STREET_AREAS_MAX_EDGES else "cells"
    if per_facility:
        note = f"per-facility service areas drawn for all {n} facilities"
    elif limit == "none":
        note = "per-facility service areas not drawn ([output] facility_areas = \"none\")"
    else:
        note = (f"per-facility service areas not drawn: {n:,} facilities > {limit} "
                f"(set [output] facility_areas = \"all\" to draw them)")
    how = ("merged service areas: land within {b:g} m of the streets walked within each threshold"
           if method == "streets" else
           "merged service areas: the H3 cells (resolution {r}) whose walk time is within each threshold")
    return {"per_facility": per_facility, "facilities": n, "facility_areas": limit, "method": method,
            "walked_edges": walked,
            "note": note, "method_note": how.format(b=config.street_buffer_m, r=config.h3_resolution)}


def _timed(start: float, build, *args):
    """``build(*args)`` and the seconds from ``start`` until it was done."""
    value = build(*args)
    return value, round(time.perf_counter() - start, 3)


def _service_area_tasks(pool: ThreadPoolExecutor, graph: access.AccessGraph, config: Config,
                        node_distances: dict, plan: dict):
    """Futures of the per-facility areas and of the street-side merged areas (None with the
    cells method: those wait for the cells), each giving (areas, seconds)."""
    start = time.perf_counter()
    which = None if plan["per_facility"] else np.zeros(0, np.int64)
    per_facility = pool.submit(_timed, start, access.facility_service_areas, graph, config, which)
    merged = pool.submit(_timed, start, access.merged_service_areas, graph, config, node_distances) \
        if plan["method"] == "streets" else None
    return per_facility, merged


def find_all_facilities(config: Config, features: gpd.GeoDataFrame, net: network.WalkNetwork, area,
                        report_rows: InputReport) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """OSM facilities merged with every registry, snapped to the network.

    Registry points farther from the study area than the longest walk of any
    category are reported and left out; a registry whose points land on the
    streets only when read in another coordinate system gets a warning naming it.
    """
    facs = facilities.find_facilities(features, config)
    info = []
    reach_m = max(c.speed_m_s for c in config.categories.values()) * config.coverage_threshold_min * 60
    utm = net.crs
    area_utm = gpd.GeoSeries([area], crs=osm.WGS84).to_crs(utm).iloc[0]
    for spec in config.registries:
        reg = registries.read_registry(spec, config, report_rows)
        read = len(reg)
        if read:
            dist = reg.geometry.to_crs(utm).distance(area_utm).to_numpy()
            far = dist > reach_m
            for row, d in zip(reg.loc[far, "registry_row"], dist[far]):
                report_rows.add(spec.path, row, "lon/lat", f"{d / 1000:.1f} km outside the study area "
                                f"(beyond the {reach_m:.0f} m walk)", "dropped")
            reg = reg[~far]
        hint, medians = facilities.likely_coord_system(reg, spec.coord_system, net)
        warning = None
        if hint:
            warning = (f"{spec.path}: declared {spec.coord_system}, but its points lie a median "
                       f"{medians[spec.coord_system]:.0f} m from the streets and {medians[hint]:.0f} m when read as "
                       f"{hint} — the file is probably {hint}; set coord_system = \"{hint}\"")
            log.warning(warning)
            report_rows.add(spec.path, None, "coord_system", f"declared {spec.coord_system}, but the points fit the "
                            f"streets as {hint} ({medians[spec.coord_system]:.0f} m → {medians[hint]:.0f} m)",
                            f"used as declared; set coord_system = \"{hint}\" if it is {hint}")
        facs = registries.merge_with_osm(facs, reg, config.merge_distance_m)
        info.append({"file": str(spec.path), "coord_system": spec.coord_system, "rows_used": int(len(reg)),
                     "rows_valid": int(read), "median_distance_to_street_m": medians, "warning": warning})
    facs = facs.sort_values(["category", "facility_id"], kind="stable").reset_index(drop=True)
    return facilities.snap_facilities(facs, net, config.max_snap_m), info


def site_and_write(result: RunResult, args) -> siting.SitingResult:
    """The ``site`` command after a run: candidates, siting, its files and the map with proposed sites."""
    config = result.config
    if args.candidates:
        candidates = siting.file_candidates(args.candidates, args.candidates_coord_system, result.input_report)
    else:
        candidates = siting.network_candidates(result.network, args.spacing, result.area)
    if args.exclude:
        candidates = siting.exclude(candidates, args.exclude, args.exclude_coord_system)
    res = siting.site(result, args.category, k=args.add, target=args.target, weight=args.weight, candidates=candidates)
    res.info["files"] = report.write_siting(config.out_dir, res)
    res.info["files"].update(write_html(result, res))
    return res


def write_html(result: RunResult, siting_result: siting.SitingResult | None = None,
               merged_areas: gpd.GeoDataFrame | None = None) -> dict:
    """``map.html`` (Leaflet inlined with ``config.offline``) and the report page ``index.html``.

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
        ``{"map": path, "report": path}``.
    """
    return {"map": maps.write_run_map(result, siting_result=siting_result, merged_areas=merged_areas),
            "report": reportpage.write_page(result, siting=siting_result)}
