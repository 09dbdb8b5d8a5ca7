"""servicecircle: measure China's 15-minute service circle (一刻钟服务圈) for the elderly and small children.

The pipeline, one module per stage::

    network      OSM ways / road lines  -> WalkNetwork          build_walk_network
    facilities   OSM tags + keywords    -> snapped facilities   find_facilities, snap_facilities
    access       shortest paths         -> walk times, areas    build_access_graph, origin_walk_times, service areas
    population   buildings, tables      -> residential origins  residential_origins, apply_inputs
    grid         H3 cells + residents   -> covered cells        build_cells
    communities  polygons               -> community table      load_communities, aggregate
    maps/report  outputs                -> index.html, gpkg, csv, json

:func:`run` calls them all for one :class:`Config` (see :func:`load_config`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Config, load_config, make_config
from .errors import ConfigError, InputError, ServiceCircleError

if TYPE_CHECKING:
    from .pipeline import run
    from .results import RunResult

__all__ = [
    "Config",
    "ConfigError",
    "InputError",
    "RunResult",
    "ServiceCircleError",
    "load_config",
    "make_config",
    "run",
]


def __getattr__(name: str) -> Any:
    # The pipeline imports every stage (geopandas, osmnx, scipy …: ~2 s); loaded on first use, so the command
    # line's --help and its error messages for a bad settings file come at once.
    if name == "run":
        from .pipeline import run

        return run
    if name == "RunResult":
        from .results import RunResult

        return RunResult
    raise AttributeError(f"module 'servicecircle' has no attribute {name!r}")
