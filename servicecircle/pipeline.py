"""The whole run: each stage of the pipeline called once, in order, data flowing one way."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
from tqdm.auto import tqdm

from . import access, communities, facilities, grid, maps, network, osm, report
from .config import Config

log = logging.getLogger(__name__)

STAGES = ["walk network", "OSM features", "facilities", "walk times", "service areas", "grid",
          "communities", "outputs"]


@dataclass
class RunResult:
    """Everything one run produced (all GeoDataFrames in WGS-84 unless noted)."""

    config: Config
    network: network.WalkNetwork
    facilities: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame  # in network.crs
    origins: gpd.GeoDataFrame  # in network.crs
    cells: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    summary: dict
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def load_features(config: Config) -> gpd.GeoDataFrame:
    """OSM features of the study area: from the local file, else downloaded through osmnx."""
    if config.osm_file is not None and config.osm_file.exists():
        return osm.features_from_file(config.osm_file)
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

    net = network.build_walk_network(config)
    done("walk network")
    features = load_features(config)
    done("OSM features")
    facs = facilities.snap_facilities(facilities.find_facilities(features, config), net, config.max_snap_m)
    done("facilities")
    usable = facs[facs["counted"] & ~facs["off_network"]]
    graph = access.build_access_graph(net, usable)
    area = grid.study_area(config, net)
    origins = grid.residential_origins(features, area, config, net.crs)
    times = grid.origin_walk_times(origins, graph, config)
    done("walk times")
    areas = access.service_areas(graph, config)
    done("service areas")
    cells = grid.build_cells(origins, times, config)
    done("grid")
    comms = communities.load_communities(config, features)
    comms = communities.aggregate(comms, origins, cells, facs, config)
    done("communities")
    summary = report.summarise(config, net.info, facs, cells, comms, origins)
    result = RunResult(config, net, facs, areas, origins, cells, comms, summary, seconds=seconds)
    if write:
        merged = access.merged_service_areas(areas)
        result.files = report.write_outputs(config.out_dir, summary, facs, areas, merged, cells, comms)
        m = maps.build_map(config, cells, facs, merged, comms, report.category_notes(facs, config), area.bounds)
        result.files["map"] = maps.write_map(m, config.out_dir)
    done("outputs")
    bar.close()
    summary["seconds"] = seconds
    return result
