"""The validated settings of one study area, loaded from a TOML file.

A study area is described by a TOML file (see ``data/chengdu.toml``). Each TOML
table has one frozen dataclass here (:class:`AreaSettings` for ``[area]``,
:class:`NetworkSettings` for ``[network]`` …) whose fields declare, once, their
TOML key, type, default, check and meaning (:func:`option`). One generic reader,
:func:`read_table`, validates every table against its dataclass: unknown keys,
wrong types and impossible values raise :class:`~servicecircle.errors.ConfigError`
naming the key, so every later stage can trust the section it is handed.

The policy defaults (facility categories and goals) live in the packaged
``defaults.toml``; a study-area file edits or extends them table by table.

Relative paths in the file are resolved against the file's own folder.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from .coords import SYSTEMS
from .errors import ConfigError
from .texts import LANGUAGES as TEXT_LANGUAGES

#: Walking speeds (m/s). 1.0 m/s makes 15 minutes 900 m, inside the 800–1000 m
#: of the 15-minute life circle in GB 50180-2018; 0.8 m/s is a common planning
#: value for older pedestrians.
SPEED_PROFILES = {"default": 1.0, "elderly": 0.8}

#: Walking speeds accepted, m/s: below is standing still, above is running.
WALK_SPEED_RANGE = (0.3, 3.0)

#: The three categories whose joint coverage is the complete service circle.
CORE_CATEGORIES = ("elder_care", "canteen", "nursery")

#: Basemaps of the HTML map, with the coordinate system their tiles are drawn in.
#: With a GCJ-02 basemap every overlay is shifted to GCJ-02 for display only.
BASEMAPS = {"osm": "wgs84", "amap": "gcj02", "tencent": "gcj02", "none": "wgs84"}

#: How merged service areas are drawn: "streets" (the land beside the streets
#: walked within the threshold, see :func:`servicecircle.access.merged_service_areas`),
#: "cells" (the H3 cells within the threshold) or "auto" (streets while they
#: cover at most :data:`STREET_AREAS_MAX_EDGES` walked edges, cells above).
SERVICE_AREA_METHODS = ("auto", "streets", "cells")
#: Street-side buffers cost about 0.6 ms per walked edge (GEOS unions of the
#: buffers; measured on Chengdu and a 2×2 tiled city): a whole city's would take
#: many minutes per category and threshold. "auto" draws them while the edges
#: walked, summed over categories and thresholds, stay below this (~20 s).
STREET_AREAS_MAX_EDGES = 30_000

#: Languages of the pages (defined with the text catalogue, :mod:`servicecircle.texts`).
LANGUAGES = TEXT_LANGUAGES

#: Capacity fields a registry can carry (see :mod:`servicecircle.registries`).
CAPACITY_FIELDS = ("beds", "nursery_places", "meals_per_day", "floor_area_m2")
#: Every capacity column of a facility table: the fields and the affordable (普惠) share of nursery places.
CAPACITY_COLUMNS = ("beds", "nursery_places", "nursery_places_affordable", "meals_per_day", "floor_area_m2")

#: Population groups a goal or a category's capacity can refer to ("young": 0–3, else 0–4 years).
GROUPS = ("all", "60plus", "young", "0_3", "0_4")

#: Distance decays of the capacity-aware access (2SFCA): "binary" weighs
#: everyone within the threshold alike; "stepped" weighs each time band
#: (5/10/15 min by default) by its own weight. The default steps are the
#: Gaussian-derived 1.00 / 0.68 / 0.22 of Luo & Qi's enhanced 2SFCA (2009).
DECAYS = ("binary", "stepped")
DEFAULT_STEP_WEIGHTS = (1.0, 0.68, 0.22)

#: What a goal measures (see :mod:`servicecircle.goals`).
GOAL_METRICS = ("population_within", "units_with_facility", "capacity_per_1000", "capacity_share", "area_per_capita")

#: Datums an input file's degrees may be in (defined in :mod:`servicecircle.coords`).
COORD_SYSTEMS = SYSTEMS

#: Geofabrik ``fclass`` values walked by default: every road class but
#: motorways, cycleways and busways, as osmnx's ``walk`` network.
WALKABLE_ROAD_CLASSES = (
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "tertiary",
    "tertiary_link", "unclassified", "residential", "living_street", "pedestrian", "service", "track",
    "track_grade1", "track_grade2", "track_grade3", "track_grade4", "track_grade5", "footway", "path",
    "steps", "bridleway", "unknown",
)

#: OSM ``building`` values counted as homes by the building estimate.
RESIDENTIAL_BUILDINGS = ("residential", "apartments", "house", "dormitory", "detached", "terrace", "semidetached_house")


def _defaults() -> dict[str, dict[str, Any]]:
    text = files("servicecircle").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


_DEFAULTS = _defaults()
#: The built-in facility categories and goals, as read from the packaged ``defaults.toml``.
DEFAULT_CATEGORIES: dict[str, dict[str, Any]] = _DEFAULTS["categories"]
DEFAULT_GOALS: dict[str, dict[str, Any]] = _DEFAULTS["goals"]


# --------------------------------------------------------------------------------------------------
# Options: a field's TOML key, type, default, check and meaning, declared once
# --------------------------------------------------------------------------------------------------

def _err(name: str, problem: str, /, **values: Any) -> ConfigError:
    """``config key 'name': problem``: ``problem`` a catalogue key (``error.…``) filled from ``values``, so that
    the message reads in the run's language (:meth:`~servicecircle.errors.ServiceCircleError.worded`)."""
    return ConfigError(key="error.config_key", name=name, problem=(problem, values))


@dataclass(frozen=True)
class Option:
    """How one TOML key is read: see :func:`option`."""

    types: tuple[type, ...]
    doc: str
    check: Callable[[str, Any], Any] | None
    toml: str | None
    path: bool
    item: type | None


#: Read-time default of an option whose value comes from another one (e.g. a
#: category's speed from ``[access]``), filled in by its section's ``_resolve``.
DERIVED: Any = None


def option(default: Any, types: type | tuple[type, ...], doc: str, *, check: Callable[[str, Any], Any] | None = None,
           toml: str | None = None, path: bool = False, item: type | None = None) -> Any:
    """A settings field read from TOML.

    Parameters
    ----------
    default
        The value when the key is absent (already in its checked form).
    types : type or tuple of type
        The TOML types accepted (``float`` accepts integers too, never booleans).
    doc : str
        What the setting means, for the reference.
    check : callable, optional
        ``check(key, value)`` returns the value in its stored form (a tuple for a
        list …) or raises :class:`ConfigError` naming ``key``.
    toml : str, optional
        The TOML key when it differs from the field's name.
    path : bool
        A path, resolved against the settings file's folder.
    item : type, optional
        A list of tables, each read as this settings dataclass (``[[facilities.registries]]``).
    """
    meta = {"option": Option(types if isinstance(types, tuple) else (types,), doc, check, toml, path, item)}
    return field(default=default, metadata=meta)


def _is_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # TOML true/false must not pass as a number
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, types)


def options(cls: type) -> dict[str, tuple[dataclasses.Field, Option]]:
    """The TOML keys of a settings dataclass: {key: (field, option)}."""
    return {(f.metadata["option"].toml or f.name): (f, f.metadata["option"])
            for f in fields(cls) if "option" in f.metadata}


def read_table(cls: type, table: Any, key: str, base: Path, /, **given: Any) -> Any:
    """Validate one TOML table into the settings dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A dataclass whose fields are declared with :func:`option`.
    table : dict
        The parsed TOML table.
    key : str
        Its dotted name in the file (``"network"``, ``"facilities.registries[0]"`` …), for messages.
    base : Path
        Folder that relative paths are resolved against.
    **given
        Values of the fields that are not TOML keys (e.g. a category's key).
    """
    if not isinstance(table, dict):
        raise _err(key, "error.expected_table", table=key)
    known = options(cls)
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise _err(f"{key}.{unknown[0]}", "error.unknown_key", allowed=", ".join(sorted(known)))
    values = dict(given)
    for name, (f, opt) in known.items():
        if name not in table:
            continue
        value = table[name]
        if not _is_type(value, opt.types):
            names = [t.__name__ for t in opt.types]
            types = names[0] if len(names) == 1 else ("error.either", {"first": " or ".join(names[:-1]),
                                                                         "last": names[-1]})
            raise _err(f"{key}.{name}", "error.expected_type", types=types, type=type(value).__name__,
                       value=repr(value))
        if opt.item is not None:
            value = tuple(read_table(opt.item, t, f"{key}.{name}[{i}]", base) for i, t in enumerate(value))
        elif opt.check is not None:
            value = opt.check(f"{key}.{name}", value)
        elif float in opt.types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if opt.path:
            # Made absolute without following symlinks: outputs name the file as the settings reach it
            # (inputs.relative_paths), not by wherever a link points on the analyst's machine.
            value = Path(os.path.normpath(base / value))
        values[f.name] = value
    settings = cls(**values)
    resolve = getattr(settings, "_resolve", None)
    return resolve(key, table) if resolve else settings


# Checks (each returns the value in its stored form).

def check_positive(key: str, value: float) -> float:
    if not value > 0:
        raise _err(key, "error.must_be_positive", value=repr(value))
    return float(value)


def check_walking_speed(key: str, value: float) -> float:
    check_positive(key, value)
    low, high = WALK_SPEED_RANGE
    if not low <= value <= high:
        raise _err(key, "error.not_walking_speed", value=f"{value}", low=f"{low:g}", high=f"{high:g}")
    return float(value)


def check_one_of(choices: Collection[Any], what: str = "") -> Callable[[str, Any], Any]:
    """A check that the value is one of ``choices``; ``what`` (a catalogue key) names the value in the message."""
    def check(key: str, value: Any) -> Any:
        if value not in choices:
            listed = {"choices": ", ".join(map(str, choices)), "value": repr(value)}
            if what:
                raise _err(key, "error.expected_named_choice", what=(what, {}), **listed)
            raise _err(key, "error.expected_choice", **listed)
        return value
    return check


def check_coord_system(key: str, value: str) -> str:
    if value not in COORD_SYSTEMS:
        raise _err(key, "error.unknown_coord_system", value=repr(value), choices=", ".join(COORD_SYSTEMS))
    return value


def check_strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _err(key, "error.expected_strings")
    return tuple(value)


def check_str_map(key: str, value: dict) -> tuple[tuple[str, str], ...]:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _err(key, "error.expected_str_map")
    return tuple(value.items())


def check_tag_rules(key: str, rules: Any) -> tuple[dict[str, Any], ...]:
    if not all(isinstance(r, dict) and r for r in rules):
        raise _err(key, "error.expected_tag_rules")
    out: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        clean: dict[str, Literal[True] | str | tuple[str, ...]] = {}
        for tag, val in rule.items():
            if val is True or isinstance(val, str):
                clean[tag] = val
            elif isinstance(val, list) and val and all(isinstance(v, str) for v in val):
                clean[tag] = tuple(val)
            else:
                raise _err(f"{key}[{i}].{tag}", "error.expected_tag_value")
        out.append(clean)
    return tuple(out)


def _bbox(key: str, b: list) -> tuple[float, float, float, float]:
    if len(b) != 4 or not all(_is_type(x, (float,)) for x in b):
        raise _err(key, "error.expected_bbox")
    west, south, east, north = map(float, b)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise _err(key, "error.impossible_bbox", box=f"{b}")
    return west, south, east, north


def _thresholds(key: str, th: list) -> tuple[float, ...]:
    if not th or not all(_is_type(t, (float,)) and 0 < t <= 120 for t in th):
        raise _err(key, "error.expected_minutes", value=repr(th))
    if len(set(th)) != len(th):
        raise _err(key, "error.thresholds_distinct")
    # Not sorted for the user: step_weights pair with the thresholds in the order written, and a list
    # out of order is more likely a typo than a wish.
    if any(b < a for a, b in zip(th, th[1:])):
        raise _err(key, "error.thresholds_increasing", sorted=repr(sorted(th)), value=repr(th))
    return tuple(float(t) for t in th)


def _weights(key: str, w: list) -> tuple[float, ...]:
    if not all(_is_type(x, (float,)) and 0 < x <= 1 for x in w) or any(b > a for a, b in zip(w, w[1:])):
        raise _err(key, "error.expected_weights", value=repr(w))
    return tuple(float(x) for x in w)


def _h3_resolution(key: str, value: int) -> int:
    if not 7 <= value <= 12:
        raise _err(key, "error.must_be_between", low=7, high=12, value=f"{value}")
    return value


def _facility_areas(key: str, value: str | int) -> str | int:
    if isinstance(value, str) and value not in ("all", "none"):
        raise _err(key, "error.expected_facility_areas", value=repr(value))
    if isinstance(value, int) and value < 0:
        raise _err(key, "error.must_be_nonnegative", value=repr(value))
    return value


def _reach_share(key: str, value: float) -> float:
    if not 0 < value <= 1:
        raise _err(key, "error.must_be_share", value=f"{value}")
    return float(value)


# --------------------------------------------------------------------------------------------------
# The sections: one dataclass per TOML table
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AreaSettings:
    """``[area]``: what the study area is and where its OSM data comes from."""

    name: str = option("", str, "the study area's name, e.g. \"chengdu_central\" (required)")
    osm_file: Path | None = option(None, str, "an OSM XML or PBF extract", path=True)
    place: str | None = option(None, str, "a place name to download from OpenStreetMap (Overpass)")
    bbox: tuple[float, float, float, float] | None = option(
        None, list, "[west, south, east, north] in degrees, to download", check=_bbox)
    polygon_file: Path | None = option(None, str, "a polygon file of the study area", path=True)
    polygon_coord_system: str = option("wgs84", str, "datum of polygon_file's degrees", check=check_coord_system)
    population_total: float | None = option(None, float, "residents in the area: the estimate is scaled to it",
                                            check=check_positive)
    data_date: str | None = option(None, str, "date of the input data, printed on the pages")
    osm_features: bool | None = option(None, bool, "read OSM features (facilities, buildings, compounds); default: "
                                       "when the area names an osm_file, a place, a bbox or a polygon_file")

    def _resolve(self, key: str, table: dict) -> AreaSettings:
        if not self.name:
            raise _err(f"{key}.name", "error.missing_area_name")
        return self

    @property
    def uses_osm(self) -> bool:
        """Whether OSM features are read (a road-line-only run has none; ``osm_features`` says so explicitly)."""
        if self.osm_features is not None:
            return self.osm_features
        return any((self.osm_file, self.place, self.bbox, self.polygon_file))


@dataclass(frozen=True)
class RoadLines:
    """A road-line file to build the walk network from (instead of OSM ways)."""

    path: Path
    coord_system: str
    encoding: str | None
    class_field: str
    walkable_classes: tuple[str, ...]
    layer_field: str
    bridge_field: str
    tunnel_field: str


@dataclass(frozen=True)
class NetworkSettings:
    """``[network]``: how the walk network is built and cached."""

    max_snap_m: float = option(300.0, float, "farthest a facility or home is snapped to the network, m",
                               check=check_positive)
    cache_dir: Path = option(DERIVED, str, "cache folder (default: data/osm/cache under the working folder)",
                             path=True)
    roads_file: Path | None = option(None, str, "a road-line file (shapefile, GeoPackage …) instead of OSM ways",
                                     path=True)
    roads_coord_system: str = option("wgs84", str, "datum of roads_file's degrees", check=check_coord_system)
    roads_encoding: str | None = option(None, str, "text encoding of roads_file's attributes (e.g. GBK)")
    class_field: str = option("fclass", str, "roads_file's field holding the road class")
    walkable_classes: tuple[str, ...] = option(WALKABLE_ROAD_CLASSES, list, "road classes walked", check=check_strings)
    layer_field: str = option("layer", str, "roads_file's field holding the vertical layer")
    bridge_field: str = option("bridge", str, "roads_file's field marking bridges")
    tunnel_field: str = option("tunnel", str, "roads_file's field marking tunnels")

    def _resolve(self, key: str, table: dict) -> NetworkSettings:
        if self.cache_dir is DERIVED:
            # Sample data is read-only, so the cache never sits beside the OSM file.
            return dataclasses.replace(self, cache_dir=(Path.cwd() / "data" / "osm" / "cache").resolve())
        return self

    @property
    def roads(self) -> RoadLines | None:
        """The road-line source, or None when the network comes from OSM."""
        if self.roads_file is None:
            return None
        return RoadLines(self.roads_file, self.roads_coord_system, self.roads_encoding, self.class_field,
                         self.walkable_classes, self.layer_field, self.bridge_field, self.tunnel_field)


@dataclass(frozen=True)
class AccessSettings:
    """``[access]``: walking speed, time thresholds and the capacity-aware access."""

    speed_profile: str = option("default", str, "walking speed profile: default (1.0 m/s) or elderly (0.8 m/s)",
                                check=check_one_of(tuple(SPEED_PROFILES), "error.what_speed_profile"))
    speed_m_s: float = option(DERIVED, float, "walking speed, m/s (default: the profile's)", check=check_walking_speed)
    thresholds_min: tuple[float, ...] = option((5.0, 10.0, 15.0), list, "walk-time thresholds, minutes; the "
                                               "largest defines 'covered'", check=_thresholds)
    street_buffer_m: float = option(50.0, float, "street-side buffer of the service areas, m", check=check_positive)
    decay: str = option("binary", str, "distance decay of the 2SFCA: binary or stepped", check=check_one_of(DECAYS))
    step_weights: tuple[float, ...] = option(DERIVED, list, "weights of the stepped decay, one per threshold "
                                             "(default 1.00/0.68/0.22 for three)", check=_weights)

    def _resolve(self, key: str, table: dict) -> AccessSettings:
        speed = self.speed_m_s if self.speed_m_s is not DERIVED else SPEED_PROFILES[self.speed_profile]
        th = self.thresholds_min
        steps = self.step_weights
        if steps is DERIVED:
            steps = DEFAULT_STEP_WEIGHTS if len(th) == len(DEFAULT_STEP_WEIGHTS) else (1.0,) * len(th)
        if len(steps) != len(th):
            raise _err(f"{key}.step_weights", "error.expected_step_weights", count=len(th), thresholds=f"{list(th)}",
                       value=repr(list(steps)))
        return dataclasses.replace(self, speed_m_s=float(speed), step_weights=tuple(steps))

    @property
    def coverage_threshold_min(self) -> float:
        """The threshold that defines 'covered' (the largest, 15 min by default)."""
        return max(self.thresholds_min)


@dataclass(frozen=True)
class GridSettings:
    """``[grid]``: the H3 grid residents are summed on."""

    h3_resolution: int = option(10, int, "H3 resolution, 7–12 (10: cells of ~0.015 km²)", check=_h3_resolution)


@dataclass(frozen=True)
class PopulationSettings:
    """``[population]``: the building estimate and the population inputs besides it."""

    default_levels: float = option(6.0, float, "storeys of a residential building without building:levels",
                                   check=check_positive)
    floor_area_per_person_m2: float = option(
        40.0, float, "residential floor area per resident, m²", check=check_positive
    )
    landuse_floor_area_ratio: float = option(1.5, float, "floor-area ratio of residential land without buildings",
                                             check=check_positive)
    residential_buildings: tuple[str, ...] = option(RESIDENTIAL_BUILDINGS, list, "OSM building values counted as "
                                                    "homes", check=check_strings)
    table: Path | None = option(None, str, "a table of residents per community or street", path=True)
    table_level: str = option("community", str, "what the table's rows are: community or street",
                              check=check_one_of(("community", "street")))
    table_columns: tuple[tuple[str, str], ...] = option((), dict, "the table's column names, e.g. "
                                                        "{ population = \"常住人口\" }", check=check_str_map)
    table_encoding: str | None = option(None, str, "text encoding of a CSV table")
    raster: Path | None = option(None, str, "a population raster (e.g. WorldPop)", path=True)
    census_file: Path | None = option(None, str, "the census workbook of residents by district", path=True)
    census_code: str | None = option(None, str, "the district's 区划代码 in census_file, e.g. \"120103\"")
    census_area_file: Path | None = option(
        None, str, "a WGS-84 polygon file of the unit the census (or [area] population_total) counts, when the study "
        "area reaches beyond it: the residents of the cells whose centre lies in it are scaled to the total and the "
        "rest of the study area by the same factor (a batch sets it to the district)", path=True)

    def _resolve(self, key: str, table: dict) -> PopulationSettings:
        if (self.census_file is None) != (self.census_code is None):
            raise _err(f"{key}.census_code", "error.census_together")
        return self


@dataclass(frozen=True)
class Boundaries:
    """``[communities]`` or ``[streets]``: a polygon file of communities (社区) or streets (街道)."""

    path: Path = option(DERIVED, str, "the polygon file", toml="file", path=True)
    coord_system: str = option("wgs84", str, "datum of the file's degrees", check=check_coord_system)
    encoding: str | None = option(None, str, "text encoding of the file's attributes (e.g. GBK)")
    name_field: str = option("name", str, "the field holding the unit's name")
    code_field: str | None = option("code", str, "the field holding the unit's code")
    parent_field: str | None = option("parentcode", str, "the field holding the code of the unit's street")


@dataclass(frozen=True)
class StreetBoundaries(Boundaries):
    """``[streets]``: as :class:`Boundaries`, a street having no parent unit by default."""

    parent_field: str | None = option(None, str, "the field holding the code of the street's parent unit")


#: Rows at most in a registry's header (``坐标`` over ``经度``/``纬度`` is two; see :mod:`servicecircle.sheets`).
MAX_HEADER_ROWS = 3


def check_header_rows(key: str, value: int | list) -> tuple[int, ...]:
    """``header_row = 3`` or ``[2, 3]``: consecutive spreadsheet rows (from 1), at most :data:`MAX_HEADER_ROWS`."""
    rows = value if isinstance(value, list) else [value]
    if not rows or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rows):
        raise _err(key, "error.expected_header_row", value=repr(value))
    if len(rows) > MAX_HEADER_ROWS or any(b != a + 1 for a, b in zip(rows, rows[1:])):
        raise _err(key, "error.expected_header_rows", most=MAX_HEADER_ROWS, value=repr(value))
    return tuple(rows)


@dataclass(frozen=True)
class Registry:
    """``[[facilities.registries]]``: a facility registry (CSV/XLSX/GeoJSON) and how to read it."""

    path: Path = option(DERIVED, str, "the registry file", toml="file", path=True)
    coord_system: str = option("wgs84", str, "datum of the registry's coordinates", check=check_coord_system)
    encoding: str | None = option(None, str, "text encoding of a CSV registry")
    sheet: str | None = option(None, str, "the workbook sheet (default: the first)")
    category: str | None = option(None, str, "the category of every row (default: from a category column)")
    columns: tuple[tuple[str, str], ...] = option((), dict, "the registry's column names, e.g. "
                                                  "{ name = \"机构名称\" }", check=check_str_map)
    category_values: tuple[tuple[str, str], ...] = option((), dict, "category column values mapped to "
                                                          "categories", check=check_str_map)
    header_row: tuple[int, ...] | None = option(None, (int, list), "the header's row(s) as the spreadsheet numbers "
                                                "them, e.g. 3 or [2, 3] (default: found from the known headers)",
                                                check=check_header_rows)

    def _resolve(self, key: str, table: dict) -> Registry:
        if self.path is DERIVED:
            raise _err(f"{key}.file", "error.missing_registry_file")
        return self




WEBMAP_SERVICES = ("amap", "baidu", "tencent")


@dataclass(frozen=True)
class WebService:
    """What every use of a web-map service names: the service, where its key is, its address."""

    service: str = option(DERIVED, str, "the service: amap, baidu or tencent", check=check_one_of(WEBMAP_SERVICES))
    key_env: str = option(DERIVED, str, "the environment variable holding the key (never the key itself)")
    base_url: str | None = option(None, str, "the service's address (default: its public one; tests use a "
                                  "local server)")
    refresh: bool = option(False, bool, "refetch instead of reading cached responses (the run's --refresh)")

    def _resolve(self, key: str, table: dict) -> WebService:
        if self.service is DERIVED:
            raise _err(f"{key}.service", "error.missing_one_of", choices=", ".join(WEBMAP_SERVICES))
        if self.key_env is DERIVED:
            raise _err(f"{key}.key_env", "error.missing_key_env")
        return self


@dataclass(frozen=True)
class WebmapSource(WebService):
    """``[[facilities.webmap]]``: POIs from a web-map service's search (:mod:`servicecircle.webmap`)."""

    types: tuple[tuple[str, str], ...] = option((), dict, "category → the service's type codes filtering its "
                                                "queries (AMap, |-separated); a hint, never a match alone",
                                                check=check_str_map)


#: ``min_precision`` choices, coarsest last: a geocoded row is used when its level is this or finer
#: (see :data:`servicecircle.geocode.PRECISIONS`).
GEOCODE_PRECISIONS = ("house", "poi", "road", "town", "district")


@dataclass(frozen=True)
class Geocoder(WebService):
    """``[facilities.geocoder]``: geocoding of registry rows with an address and no coordinates."""

    city: str | None = option(None, str, "city or district sent with each address to disambiguate it, e.g. "
                              "\"成都市\" (default: [population] census_code, an adcode, for AMap)")
    min_precision: str = option("poi", str, "coarsest level used: house (门牌号), poi (兴趣点, default), road, "
                                "town or district", check=check_one_of(GEOCODE_PRECISIONS))


def _geocoder(key: str, value: dict) -> Geocoder:
    return read_table(Geocoder, value, key, Path("."))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FacilitySettings:
    """``[facilities]``: registries and how facilities from several sources are merged."""

    merge_distance_m: float = option(100.0, float, "an OSM facility this close to a registry row of the same "
                                     "category and name is the same facility, m", check=check_positive)
    registries: tuple[Registry, ...] = option((), list, "the facility registries", item=Registry)
    webmap: tuple[WebmapSource, ...] = option((), list, "web-map POI searches", item=WebmapSource)
    geocoder: Geocoder | None = option(None, dict, "geocoding of address-only registry rows", check=_geocoder)


@dataclass(frozen=True)
class OutputSettings:
    """``[output]``: where results go and how the pages look."""

    out_dir: Path = option(DERIVED, str, "output folder (default: maps/<area name> under the working folder)",
                           toml="dir", path=True)
    basemap: str = option(
        "osm", str, "the map's tiles: osm, amap, tencent or none", check=check_one_of(tuple(BASEMAPS))
    )
    lang: str = option("zh", str, "language of the pages: zh or en", check=check_one_of(LANGUAGES))
    offline: bool = option(True, bool, "write pages that need no internet (map library inlined); "
                           "false loads it from a CDN")
    facility_areas: str | int = option(500, (str, int), "facilities whose own service areas are drawn: all, none or "
                                       "a number (the largest first)", check=_facility_areas)
    service_areas: str = option("auto", str, "how merged service areas are drawn: auto, streets or cells",
                                check=check_one_of(SERVICE_AREA_METHODS))


@dataclass(frozen=True)
class GapSettings:
    """``[gaps]``: the 医养结合 check of elder-care facilities against health services."""

    care_category: str = option("elder_care", str, "the category checked")
    health_category: str = option("health_centre", str, "the category it should be near")
    health_max_walk_min: float = option(10.0, float, "walk within which a health service counts as adjacent, "
                                        "minutes", check=check_positive)


def _category_capacity(key: str, value: str) -> str:
    if value not in CAPACITY_FIELDS:
        raise _err(key, "error.unknown_capacity", value=repr(value), choices=", ".join(CAPACITY_FIELDS))
    return value


@dataclass(frozen=True)
class Category:
    """``[categories.KEY]``: one kind of facility and how to recognise it.

    A feature matches a tag rule when every key of the rule is present with one
    of the listed values (``true`` accepts any value); a feature whose name
    contains a keyword and no exclude keyword matches too. Flagged matches are
    listed with ``flag_note`` but not counted unless ``count_flagged`` is true.
    """

    key: str
    label: str = option(DERIVED, str, "human-readable (Chinese) label (default: the key)")
    tag_rules: tuple[dict[str, Any], ...] = option((), list, "OSM tag rules, e.g. [{amenity = \"childcare\"}]",
                                                   toml="tags", check=check_tag_rules)
    keywords: tuple[str, ...] = option((), list, "name keywords", check=check_strings)
    exclude_keywords: tuple[str, ...] = option((), list, "name keywords that rule a match out", check=check_strings)
    flagged_tag_rules: tuple[dict[str, Any], ...] = option((), list, "tag rules of matches listed but not counted",
                                                           toml="flagged_tags", check=check_tag_rules)
    flagged_keywords: tuple[str, ...] = option((), list, "name keywords of matches listed but not counted",
                                               check=check_strings)
    flag_note: str = option("", str, "why flagged matches are not counted")
    count_flagged: bool = option(False, bool, "count the flagged matches too")
    speed_m_s: float = option(DERIVED, float, "walking speed to this category, m/s (default: [access]'s)",
                              check=check_walking_speed)
    capacity: str | None = option(None, str, "the capacity field the 2SFCA shares out (beds, nursery_places, "
                                  "meals_per_day …); none: no 2SFCA", check=_category_capacity)
    demand_group: str = option("all", str, "who the capacity serves: all, 60plus, young (0–3, else 0–4), 0_3 or "
                               "0_4", check=check_one_of(GROUPS))

    def _resolve(self, key: str, table: dict) -> Category:
        if not self.tag_rules and not self.keywords:
            raise _err(key, "error.needs_rule")
        return dataclasses.replace(self, label=self.key if self.label is DERIVED else self.label)


def _goal_kind(key: str, value: str) -> str:
    if value not in ("binding", "advisory"):
        raise _err(key, "error.expected_goal_kind", value=repr(value))
    return value


@dataclass(frozen=True)
class Goal:
    """``[goals.KEY]``: one policy goal; see ``defaults.toml`` and :mod:`servicecircle.goals`."""

    key: str
    name: str = option(DERIVED, str, "the goal's name as the plan gives it (default: the key)")
    kind: str = option("advisory", str, "binding (约束性) or advisory (倡导性)", check=_goal_kind)
    metric: str = option(DERIVED, str, f"what is measured: {', '.join(GOAL_METRICS)}",
                         check=check_one_of(GOAL_METRICS))
    categories: tuple[str, ...] = option((), list, "the facility categories the goal is about", check=check_strings)
    target: float = option(DERIVED, float, "the target value")
    unit: str = option("", str, "the unit of the value and target")
    source: str = option("", str, "the plan the goal comes from")
    group: str = option("all", str, "the population group: all, 60plus, young, 0_3 or 0_4", check=check_one_of(GROUPS))
    minutes: float | None = option(None, float, "walk-time threshold, minutes (default: the coverage threshold)")
    metres: float | None = option(None, float, "walk-distance threshold, m (instead of minutes)")
    unit_level: str | None = option(None, str, "community or street (units_with_facility)",
                                    check=check_one_of(("community", "street")))
    capacity: str | None = option(None, str, "the capacity measured (capacity metrics)")
    of_capacity: str | None = option(None, str, "the capacity a capacity_share is a share of")
    reach_share: float = option(0.8, float, "share of a unit's residents that must reach a facility for the unit "
                                "to have one", check=_reach_share)
    enabled: bool = option(True, bool, "false: the goal is not evaluated")

    def _resolve(self, key: str, table: dict) -> Goal:
        if self.metric is DERIVED:
            raise _err(f"{key}.metric", "error.expected_one_of", choices=", ".join(GOAL_METRICS), value="None")
        if self.target is DERIVED:
            raise _err(f"{key}.target", "error.missing_target")
        if not self.categories:
            raise _err(f"{key}.categories", "error.missing_goal_categories")
        if self.metric == "units_with_facility" and self.unit_level is None:
            raise _err(f"{key}.unit_level", "error.expected_unit_level")
        if self.metric in ("capacity_per_1000", "capacity_share") and not self.capacity:
            raise _err(f"{key}.capacity", "error.missing_capacity")
        if self.metric == "capacity_share" and not self.of_capacity:
            raise _err(f"{key}.of_capacity", "error.missing_of_capacity")
        return dataclasses.replace(self, name=self.key if self.name is DERIVED else self.name)


#: The sections of a study-area file, in reading order: TOML table → settings dataclass.
SECTIONS: dict[str, type] = {
    "area": AreaSettings, "network": NetworkSettings, "access": AccessSettings, "grid": GridSettings,
    "population": PopulationSettings, "communities": Boundaries, "streets": StreetBoundaries,
    "facilities": FacilitySettings, "output": OutputSettings, "gaps": GapSettings,
}
_TABLES_OF_TABLES = ("categories", "goals")


def complete_circle(categories: dict[str, Category]) -> tuple[str, ...]:
    """The core categories (:data:`CORE_CATEGORIES`) the area defines: their joint coverage is the complete circle."""
    return tuple(k for k in CORE_CATEGORIES if k in categories)


@dataclass(frozen=True)
class Config:
    """All settings of one run, one field per TOML table; built by :func:`load_config` or :func:`make_config`.

    Each stage is handed the sections it reads (``config.access``, ``config.output`` …).
    """

    area: AreaSettings
    network: NetworkSettings
    access: AccessSettings
    grid: GridSettings
    population: PopulationSettings
    communities: Boundaries | None
    streets: Boundaries | None
    facilities: FacilitySettings
    output: OutputSettings
    gaps: GapSettings
    categories: dict[str, Category]
    goals: tuple[Goal, ...] = ()
    source_text: str = field(default="", repr=False)
    #: The study-area file's folder: relative paths in it are read from here, and outputs name files relative to it.
    base_dir: Path | None = field(default=None, repr=False, compare=False)

    @property
    def complete_circle(self) -> tuple[str, ...]:
        """The core categories whose joint coverage is the complete service circle."""
        return complete_circle(self.categories)

    @property
    def config_hash(self) -> str:
        """Short hash of the settings file, so two runs can be told apart."""
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()[:12]

    def with_settings(self, **changes: Any) -> Config:
        """A copy with some settings changed: ``config.with_settings(output={"lang": "en"}, goals=(...))``.

        A dict edits the named fields of a section; any other value replaces the field whole.
        The values are taken as given (already in their checked form).
        """
        new = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(value, dict) and dataclasses.is_dataclass(current) and not isinstance(current, type):
                value = dataclasses.replace(current, **value)
            new[name] = value
        return dataclasses.replace(self, **new)


def _merge(defaults: dict[str, dict], tables: Any, section: str) -> dict[str, dict]:
    """The packaged default tables with the file's edits (a table with a default's key edits it)."""
    merged = copy.deepcopy(defaults)
    if not isinstance(tables, dict):
        raise _err(section, "error.expected_table", table=f"{section}.KEY")
    for key, table in tables.items():
        if not isinstance(table, dict):
            raise _err(f"{section}.{key}", "error.expected_a_table")
        merged[key] = {**merged.get(key, {}), **table}
    return merged


def _check_category_names(config: Config, data: dict) -> None:
    """Every category a goal, registry or the gap check names must be defined."""
    have = ", ".join(config.categories)
    for goal in config.goals:
        for name in goal.categories:
            if name not in config.categories:
                raise _err(f"goals.{goal.key}.categories", "error.unknown_goal_category", category=repr(name),
                           have=have, table=f"categories.{name}")
    for k in ("care_category", "health_category"):
        if k in data.get("gaps", {}) and getattr(config.gaps, k) not in config.categories:
            raise _err(f"gaps.{k}", "error.unknown_category_have", category=repr(getattr(config.gaps, k)), have=have)
    for i, reg in enumerate(config.facilities.registries):
        if reg.category is not None and reg.category not in config.categories:
            raise _err(f"facilities.registries[{i}].category", "error.unknown_category_have",
                       category=repr(reg.category), have=have)
        for value, cat in reg.category_values:
            if cat not in config.categories:
                raise _err(f"facilities.registries[{i}].category_values.{value}", "error.unknown_category",
                           category=repr(cat))


def make_config(data: dict[str, Any], base_dir: Path | str = ".", source_text: str = "") -> Config:
    """Validate a settings dictionary (as parsed from TOML) into a :class:`Config`.

    Parameters
    ----------
    data : dict
        The parsed TOML document.
    base_dir : path
        Folder that relative paths are resolved against.
    source_text : str
        The original text, hashed into :attr:`Config.config_hash`.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Naming the first offending key.
    """
    base = Path(os.path.normpath(Path(base_dir).absolute()))
    allowed = set(SECTIONS) | set(_TABLES_OF_TABLES)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _err(unknown[0], "error.unknown_section", allowed=", ".join(sorted(allowed)))
    sections = {name: read_table(cls, data.get(name, {}), name, base) for name, cls in SECTIONS.items()}
    for name in ("communities", "streets"):
        if sections[name].path is DERIVED:
            sections[name] = None  # no file: no such units
    area, network = sections["area"], sections["network"]
    if not area.uses_osm and network.roads is None:
        raise _err("area", "error.no_network_source")
    output = sections["output"]
    if output.out_dir is DERIVED:
        sections["output"] = dataclasses.replace(output, out_dir=(Path.cwd() / "maps" / area.name).resolve())
    speed = sections["access"].speed_m_s
    categories = {key: read_table(Category, table, f"categories.{key}", base, key=key,
                                  **({} if "speed_m_s" in table else {"speed_m_s": speed}))
                  for key, table in _merge(DEFAULT_CATEGORIES, data.get("categories", {}), "categories").items()}
    coverage_min = sections["access"].coverage_threshold_min
    goals = []
    for key, table in _merge(DEFAULT_GOALS, data.get("goals", {}), "goals").items():
        goal = read_table(Goal, table, f"goals.{key}", base, key=key)
        if not goal.enabled:
            continue
        if goal.metric in ("population_within", "units_with_facility") and goal.minutes is None and goal.metres is None:
            goal = dataclasses.replace(goal, minutes=coverage_min)
        goals.append(goal)
    config = Config(**sections, categories=categories, goals=tuple(goals), source_text=source_text, base_dir=base)
    _check_category_names(config, data)
    return config


def _override(data: dict, overrides: dict[str, dict[str, Any]]) -> dict:
    out = dict(data)
    for section, values in overrides.items():
        table = {**data.get(section, {}), **values}
        out[section] = {k: v for k, v in table.items() if v is not None}  # None removes the file's key
    return out


def load_config(path: str | Path, *, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read and validate a study-area TOML file.

    Parameters
    ----------
    path : path
        The TOML file.
    overrides : dict, optional
        Keys set on top of the file's, section by section (``{"output": {"lang": "en"}}``; None
        removes the file's key), validated as if the file held them: the command line's options.
        Relative paths in them are resolved against the file's folder, so give absolute ones.

    Returns
    -------
    Config
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(key="error.config_not_found", path=path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(key="error.not_toml", path=path, problem=exc) from None
    return make_config(_override(data, overrides or {}), base_dir=path.parent, source_text=text)
