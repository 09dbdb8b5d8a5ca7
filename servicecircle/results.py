"""What a run produced: the record the later stages (siting, maps, the report page) are handed.

It sits at the bottom of the import graph (it imports only the settings and the network's types), so
:mod:`servicecircle.siting`, :mod:`servicecircle.maps` and :mod:`servicecircle.reportpage` can name it
without importing the pipeline that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from .config import Config
from .inputs import InputReport
from .network import WalkNetwork


@dataclass(kw_only=True)
class RunResult:
    """Everything one run produced (all GeoDataFrames in WGS-84 unless noted)."""

    config: Config
    network: WalkNetwork
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
    area: shapely.Polygon | shapely.MultiPolygon  # the study-area polygon, WGS-84
    summary: dict
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    merged_service_areas: gpd.GeoDataFrame | None = None  # per category and threshold, in network.crs
