"""servicecircle: measure China's 15-minute service circle (一刻钟服务圈) for the elderly and small children.

The pipeline, one module per stage::

    network      OSM ways / road lines  -> WalkNetwork          build_walk_network
    facilities   OSM tags + keywords    -> snapped facilities   find_facilities, snap_facilities
    access       shortest paths         -> walk times, areas    build_access_graph, nearest_distances, service_areas
    grid         H3 cells + residents   -> covered cells        residential_origins, origin_walk_times, build_cells
    communities  polygons               -> community table      load_communities, aggregate
    maps/report  outputs                -> index.html, gpkg, csv, json

:func:`run` calls them all for one :class:`Config` (see :func:`load_config`).
"""

from .config import Config, load_config, make_config
from .errors import ConfigError, InputError, ServiceCircleError
from .pipeline import RunResult, run

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
