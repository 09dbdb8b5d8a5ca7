"""The validated settings of one study area, loaded from a TOML file.

A study area is described by a TOML file (see ``data/chengdu.toml``). It is
validated once, here, at the boundary: unknown keys, wrong types and
impossible values raise :class:`~servicecircle.errors.ConfigError` naming the
key, so every later stage can trust the :class:`Config` it is handed.

Relative paths in the file are resolved against the file's own folder.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Walking speeds (m/s). 1.0 m/s makes 15 minutes 900 m, inside the 800–1000 m
#: of the 15-minute life circle in GB 50180-2018; 0.8 m/s is a common planning
#: value for older pedestrians.
SPEED_PROFILES = {"default": 1.0, "elderly": 0.8}

#: The three categories whose joint coverage is the complete service circle.
CORE_CATEGORIES = ("elder_care", "canteen", "nursery")

# Built-in facility categories. Tag rules follow OSM tagging; the keywords are
# what the facilities call themselves in Chinese, because OSM tagging in China
# is sparse and the name carries the meaning. Keywords are deliberately narrow:
# 人民食堂 is a restaurant and 老年大学 a school, so neither may match.
DEFAULT_CATEGORIES: dict[str, dict[str, Any]] = {
    "elder_care": {
        "label": "养老服务",
        "tags": [
            {"amenity": "social_facility", "social_facility:for": ["senior", "elderly"]},
            {"social_facility": ["day_care", "nursing_home", "assisted_living"]},
            {"amenity": "nursing_home"},
        ],
        "keywords": [
            "养老服务中心", "养老服务站", "养老服务驿站", "养老中心", "日间照料", "日照中心",
            "养老院", "敬老院", "护理院", "老年公寓", "托老所", "养护院", "颐养院",
            "老年人服务中心", "居家养老",
        ],
        "exclude_keywords": ["老年大学", "儿童", "宠物"],
        "capacity": "beds",
        "demand_group": "60plus",
    },
    "canteen": {
        "label": "老年助餐",
        "tags": [
            {"amenity": "social_facility", "social_facility": "food_bank", "social_facility:for": "senior"},
        ],
        "keywords": [
            "老年食堂", "老人食堂", "老人家食堂", "长者食堂", "长者饭堂", "助餐点", "助餐服务",
            "老年助餐", "老年餐桌", "为老助餐",
        ],
        "exclude_keywords": [],
        "capacity": "meals_per_day",
        "demand_group": "60plus",
    },
    "nursery": {
        "label": "托育服务",
        "tags": [
            {"amenity": "childcare"},
            {"social_facility": "day_care", "social_facility:for": ["child", "children"]},
        ],
        "keywords": ["托育", "托儿所", "保育院", "育婴", "婴幼儿照护"],
        "exclude_keywords": ["用品", "母婴店", "培训学校"],
        # Kindergartens (幼儿园, 3–6 years) are listed but, by default, not
        # counted: only those with a 托班 (2–3 years) give nursery places.
        "flagged_tags": [{"amenity": "kindergarten"}],
        "flagged_keywords": ["幼儿园"],
        "flag_note": "kindergarten: counts as nursery only where it runs a 托班",
        "capacity": "nursery_places",
        "demand_group": "young",
    },
}

_TOP_SECTIONS = {"area", "network", "access", "grid", "population", "communities", "streets", "facilities",
                 "output", "categories", "goals", "gaps"}

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

#: Languages of the report page and map labels.
LANGUAGES = ("zh", "en")

#: Capacity fields a registry can carry (see :mod:`servicecircle.registries`).
CAPACITY_FIELDS = ("beds", "nursery_places", "meals_per_day", "floor_area_m2")

#: Walking speeds accepted, m/s: below is standing still, above is running.
WALK_SPEED_RANGE = (0.3, 3.0)

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

# The default goal table, from the plans the project serves. Targets are the
# plans' own numbers where they give one; "基本建成/全覆盖" circles are read as
# ≥ 90 % of the group within reach (edit the target to your district's plan).
DEFAULT_GOALS: dict[str, dict[str, Any]] = {
    "home_care_circle": {
        "name": "一刻钟居家养老服务圈", "kind": "advisory", "metric": "population_within",
        "categories": ["elder_care", "canteen"], "minutes": 15, "group": "60plus", "target": 0.9, "unit": "share",
        "source": "“十四五”国家老龄事业发展和养老服务体系规划 — 城市一刻钟居家养老服务圈 (paraphrase; target read as ≥ 90 %)",
    },
    "nursery_circle": {
        "name": "城市15分钟婴幼儿服务圈", "kind": "advisory", "metric": "population_within",
        "categories": ["nursery"], "minutes": 15, "group": "young", "target": 0.9, "unit": "share",
        "source": "城市15分钟婴幼儿照护服务圈 in national and district childcare plans (paraphrase; target read as ≥ 90 %)",
    },
    "elder_1km_circle": {
        "name": "一公里为老服务生活圈", "kind": "advisory", "metric": "population_within",
        "categories": ["elder_care"], "metres": 1000, "group": "60plus", "target": 0.9, "unit": "share",
        "source": "district elder-care facility plans — 一公里为老服务生活圈, walked network distance (paraphrase)",
    },
    "community_day_care": {
        "name": "社区日间照料机构覆盖率", "kind": "binding", "metric": "units_with_facility", "unit_level": "community",
        "categories": ["elder_care"], "group": "60plus", "target": 0.9, "unit": "share of communities",
        "source": "elder-care service plans — 社区日间照料机构覆盖率 ≥ 90 % (paraphrase; check the district plan)",
    },
    "street_care_centre": {
        "name": "街道综合养老服务中心覆盖率", "kind": "binding", "metric": "units_with_facility", "unit_level": "street",
        "categories": ["elder_care"], "group": "60plus", "target": 1.0, "unit": "share of streets",
        "source": "elder-care service plans — every 街道 has a 综合养老服务中心 (paraphrase; check the district plan)",
    },
    "community_nursery": {
        "name": "社区托育服务覆盖率", "kind": "advisory", "metric": "units_with_facility", "unit_level": "community",
        "categories": ["nursery"], "group": "young", "target": 0.6, "unit": "share of communities",
        "source": "childcare service plans — 社区托育服务覆盖率 ≥ 60 % (paraphrase; check the district plan)",
    },
    "nursery_places_per_1000": {
        "name": "每千人口拥有3岁以下婴幼儿托位数", "kind": "advisory", "metric": "capacity_per_1000",
        "categories": ["nursery"], "capacity": "nursery_places", "group": "all", "target": 4.5,
        "unit": "places per 1,000 residents", "source": "“十四五”规划纲要 main indicators — 每千人口拥有3岁以下婴幼儿托位数 4.5 (预期性)",
    },
    "affordable_places_share": {
        "name": "普惠性托位占比", "kind": "advisory", "metric": "capacity_share", "categories": ["nursery"],
        "capacity": "nursery_places_affordable", "of_capacity": "nursery_places", "group": "all", "target": 0.6,
        "unit": "share of places", "source": "childcare service plans — 普惠性托位占比 ≥ 60 % (paraphrase; check the district plan)",
    },
    "elder_beds_per_1000": {
        "name": "每千名老年人养老床位数", "kind": "advisory", "metric": "capacity_per_1000", "categories": ["elder_care"],
        "capacity": "beds", "group": "60plus", "target": 35.0, "unit": "beds per 1,000 residents aged 60+",
        "source": "elder-care service plans — 养老床位 per 1,000 older residents (set the local target)",
    },
    "elder_land_per_capita": {
        "name": "人均养老服务设施用地", "kind": "advisory", "metric": "area_per_capita", "categories": ["elder_care"],
        "group": "all", "target": 0.1, "unit": "m² per resident",
        "source": "国发〔2013〕35号 — 按人均用地不少于0.1平方米的标准配套建设养老服务设施 (floor or land area where known)",
    },
}


@dataclass(frozen=True)
class Goal:
    """One policy goal; see :data:`DEFAULT_GOALS` and :mod:`servicecircle.goals`."""

    key: str
    name: str
    kind: str
    metric: str
    categories: tuple[str, ...]
    target: float
    unit: str
    source: str
    group: str
    minutes: float | None
    metres: float | None
    unit_level: str | None
    capacity: str | None
    of_capacity: str | None
    reach_share: float


#: Datums an input file's degrees may be in (see :mod:`servicecircle.coords`).
COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")

#: Geofabrik ``fclass`` values walked by default: every road class but
#: motorways, cycleways and busways, as osmnx's ``walk`` network.
WALKABLE_ROAD_CLASSES = (
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "tertiary",
    "tertiary_link", "unclassified", "residential", "living_street", "pedestrian", "service", "track",
    "track_grade1", "track_grade2", "track_grade3", "track_grade4", "track_grade5", "footway", "path",
    "steps", "bridleway", "unknown",
)


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
class Boundaries:
    """A polygon file of communities (社区) or streets (街道)."""

    path: Path
    coord_system: str
    encoding: str | None
    name_field: str
    code_field: str | None
    parent_field: str | None


@dataclass(frozen=True)
class Registry:
    """A facility registry (CSV/XLSX/GeoJSON) and how to read it."""

    path: Path
    coord_system: str
    encoding: str | None
    sheet: str | None
    category: str | None
    columns: tuple[tuple[str, str], ...]
    category_values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PopulationInputs:
    """Where residents come from besides the OSM building estimate."""

    table: Path | None
    table_level: str
    table_columns: tuple[tuple[str, str], ...]
    table_encoding: str | None
    raster: Path | None
    census_file: Path | None
    census_code: str | None


@dataclass(frozen=True)
class Category:
    """One kind of facility and how to recognise it in OSM.

    Attributes
    ----------
    key : str
        Identifier used in column names, e.g. ``"elder_care"``.
    label : str
        Human-readable (Chinese) label.
    tag_rules : tuple of dict
        A feature matches a rule when every key of the rule is present with
        one of the listed values (``True`` accepts any value).
    keywords, exclude_keywords : tuple of str
        A feature whose name contains a keyword and no exclude keyword matches.
    flagged_tag_rules, flagged_keywords : tuple
        Matches that are listed with ``flag_note`` but not counted unless
        ``count_flagged`` is true.
    speed_m_s : float
        Walking speed used for this category.
    capacity : str or None
        The capacity field (``beds``, ``meals_per_day``, ``nursery_places`` …)
        that the capacity-aware access (2SFCA) shares out; None: no 2SFCA.
    demand_group : str
        Who the capacity serves: ``all``, ``60plus``, ``young`` (0–3, else
        0–4 years), ``0_3`` or ``0_4``.
    """

    key: str
    label: str
    tag_rules: tuple[dict[str, Any], ...]
    keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    flagged_tag_rules: tuple[dict[str, Any], ...]
    flagged_keywords: tuple[str, ...]
    flag_note: str
    count_flagged: bool
    speed_m_s: float
    capacity: str | None = None
    demand_group: str = "all"


@dataclass(frozen=True)
class Config:
    """All settings of one run; built by :func:`load_config` or :func:`make_config`."""

    name: str
    osm_file: Path | None
    place: str | None
    bbox: tuple[float, float, float, float] | None
    polygon_file: Path | None
    max_snap_m: float
    cache_dir: Path
    speed_profile: str
    speed_m_s: float
    thresholds_min: tuple[float, ...]
    street_buffer_m: float
    h3_resolution: int
    default_levels: float
    floor_area_per_person_m2: float
    landuse_floor_area_ratio: float
    residential_buildings: tuple[str, ...]
    population_total: float | None
    roads: RoadLines | None
    communities: Boundaries | None
    streets: Boundaries | None
    registries: tuple[Registry, ...]
    merge_distance_m: float
    population_inputs: PopulationInputs
    polygon_coord_system: str
    data_date: str | None
    basemap: str
    lang: str
    offline: bool
    out_dir: Path
    categories: dict[str, Category]
    complete_circle: tuple[str, ...]
    goals: tuple[Goal, ...] = ()
    decay: str = "binary"
    step_weights: tuple[float, ...] = DEFAULT_STEP_WEIGHTS
    care_category: str = "elder_care"
    health_category: str = "health_centre"
    health_max_walk_min: float = 10.0
    facility_areas: str | int = 500
    service_areas: str = "auto"
    source_text: str = field(default="", repr=False)

    @property
    def coverage_threshold_min(self) -> float:
        """The threshold that defines 'covered' (the largest, 15 min by default)."""
        return max(self.thresholds_min)

    @property
    def uses_osm(self) -> bool:
        """Whether OSM features are read (a road-line-only run has none)."""
        return any((self.osm_file, self.place, self.bbox, self.polygon_file))

    @property
    def config_hash(self) -> str:
        """Short hash of the settings file, so two runs can be told apart."""
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()[:12]


def _err(key: str, problem: str) -> ConfigError:
    return ConfigError(f"config key '{key}': {problem}")


def _take(table: dict, section: str, spec: dict[str, tuple]) -> dict[str, Any]:
    """Check one TOML table against ``spec`` {key: (types, default)}; name bad keys."""
    unknown = sorted(set(table) - set(spec))
    if unknown:
        allowed = ", ".join(sorted(spec))
        raise _err(f"{section}.{unknown[0]}", f"unknown key (allowed: {allowed})")
    out = {}
    for key, (types, default) in spec.items():
        value = table.get(key, default)
        if value is not None and not _is_type(value, types):
            names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            raise _err(f"{section}.{key}", f"expected {names}, got {type(value).__name__} {value!r}")
        out[key] = value
    return out


def _is_type(value: Any, types: Any) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        return False  # TOML true/false must not pass as a number
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, types)


def _positive(key: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise _err(key, f"must be > 0, got {value!r}")


def _path(base: Path, value: str | None) -> Path | None:
    return None if value is None else (base / value).resolve()


def _tag_rules(key: str, rules: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(rules, list) or not all(isinstance(r, dict) and r for r in rules):
        raise _err(key, "expected a list of non-empty tables like {amenity = \"childcare\"}")
    out = []
    for i, rule in enumerate(rules):
        clean = {}
        for tag, val in rule.items():
            if val is True or isinstance(val, str):
                clean[tag] = val
            elif isinstance(val, list) and val and all(isinstance(v, str) for v in val):
                clean[tag] = tuple(val)
            else:
                raise _err(f"{key}[{i}].{tag}", "expected a string, a list of strings, or true")
        out.append(clean)
    return tuple(out)


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _err(key, "expected a list of non-empty strings")
    return tuple(value)


def _coord_system(key: str, value: str) -> str:
    if value not in COORD_SYSTEMS:
        raise _err(key, f"unknown coordinate system {value!r} (choose {', '.join(COORD_SYSTEMS)})")
    return value


def _str_map(key: str, value: dict | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _err(key, "expected a table of strings, e.g. { name = \"机构名称\" }")
    return tuple(value.items())


def _boundaries(base: Path, section: str, table: dict, code_default: str | None, parent_default: str | None) -> Boundaries | None:
    v = _take(table, section, {
        "file": (str, None), "name_field": (str, "name"), "code_field": (str, code_default),
        "parent_field": (str, parent_default), "coord_system": (str, "wgs84"), "encoding": (str, None),
    })
    if v["file"] is None:
        return None
    return Boundaries(_path(base, v["file"]), _coord_system(f"{section}.coord_system", v["coord_system"]),
                      v["encoding"], v["name_field"], v["code_field"], v["parent_field"])


def _goal(key: str, table: dict, categories: dict, coverage_min: float) -> Goal | None:
    spec = {
        "name": (str, key), "kind": (str, "advisory"), "metric": (str, None), "categories": (list, None),
        "target": (float, None), "unit": (str, ""), "source": (str, ""), "group": (str, "all"),
        "minutes": (float, None), "metres": (float, None), "unit_level": (str, None), "capacity": (str, None),
        "of_capacity": (str, None), "reach_share": (float, 0.8), "enabled": (bool, True),
    }
    v = _take(table, f"goals.{key}", spec)
    if not v["enabled"]:
        return None
    if v["kind"] not in ("binding", "advisory"):
        raise _err(f"goals.{key}.kind", f"expected \"binding\" (约束性) or \"advisory\" (倡导性), got {v['kind']!r}")
    if v["metric"] not in GOAL_METRICS:
        raise _err(f"goals.{key}.metric", f"expected one of {', '.join(GOAL_METRICS)}, got {v['metric']!r}")
    if v["target"] is None:
        raise _err(f"goals.{key}.target", "missing: the goal's target value")
    cats = _strings(f"goals.{key}.categories", v["categories"] or [])
    missing = [c for c in cats if c not in categories]
    if not cats:
        raise _err(f"goals.{key}.categories", "missing: the facility categories the goal is about")
    if missing:
        return None  # a goal about a category this study area does not define is skipped
    if v["group"] not in GROUPS:
        raise _err(f"goals.{key}.group", f"expected all, 60plus, young, 0_3 or 0_4, got {v['group']!r}")
    if v["metric"] == "units_with_facility" and v["unit_level"] not in ("community", "street"):
        raise _err(f"goals.{key}.unit_level", "expected \"community\" or \"street\"")
    if v["metric"] in ("capacity_per_1000", "capacity_share") and not v["capacity"]:
        raise _err(f"goals.{key}.capacity", "missing: which capacity (beds, nursery_places, meals_per_day …)")
    if v["metric"] == "capacity_share" and not v["of_capacity"]:
        raise _err(f"goals.{key}.of_capacity", "missing: the capacity the share is of")
    if not 0 < v["reach_share"] <= 1:
        raise _err(f"goals.{key}.reach_share", f"must be in (0, 1], got {v['reach_share']}")
    minutes = v["minutes"]
    if v["metric"] in ("population_within", "units_with_facility") and minutes is None and v["metres"] is None:
        minutes = coverage_min
    return Goal(key, v["name"], v["kind"], v["metric"], cats, float(v["target"]), v["unit"], v["source"], v["group"],
                None if minutes is None else float(minutes), None if v["metres"] is None else float(v["metres"]),
                v["unit_level"], v["capacity"], v["of_capacity"], float(v["reach_share"]))


def _category(key: str, table: dict, base_speed: float) -> Category:
    spec = {
        "label": (str, key),
        "tags": (list, []),
        "keywords": (list, []),
        "exclude_keywords": (list, []),
        "flagged_tags": (list, []),
        "flagged_keywords": (list, []),
        "flag_note": (str, ""),
        "count_flagged": (bool, False),
        "speed_m_s": (float, None),
        "capacity": (str, None),
        "demand_group": (str, "all"),
    }
    v = _take(table, f"categories.{key}", spec)
    if v["capacity"] is not None and v["capacity"] not in CAPACITY_FIELDS:
        raise _err(f"categories.{key}.capacity", f"unknown capacity {v['capacity']!r} (choose {', '.join(CAPACITY_FIELDS)})")
    if v["demand_group"] not in GROUPS:
        raise _err(f"categories.{key}.demand_group", f"expected {', '.join(GROUPS)}, got {v['demand_group']!r}")
    speed = v["speed_m_s"] if v["speed_m_s"] is not None else base_speed
    _positive(f"categories.{key}.speed_m_s", speed)
    if not WALK_SPEED_RANGE[0] <= speed <= WALK_SPEED_RANGE[1]:
        raise _err(f"categories.{key}.speed_m_s", f"{speed} m/s is not a walking speed (expected 0.3–3)")
    tag_rules = _tag_rules(f"categories.{key}.tags", v["tags"]) if v["tags"] else ()
    keywords = _strings(f"categories.{key}.keywords", v["keywords"]) if v["keywords"] else ()
    if not tag_rules and not keywords:
        raise _err(f"categories.{key}", "needs at least one tag rule or keyword")
    return Category(
        key=key,
        label=v["label"],
        tag_rules=tag_rules,
        keywords=keywords,
        exclude_keywords=_strings(f"categories.{key}.exclude_keywords", v["exclude_keywords"]) if v["exclude_keywords"] else (),
        flagged_tag_rules=_tag_rules(f"categories.{key}.flagged_tags", v["flagged_tags"]) if v["flagged_tags"] else (),
        flagged_keywords=_strings(f"categories.{key}.flagged_keywords", v["flagged_keywords"]) if v["flagged_keywords"] else (),
        flag_note=v["flag_note"],
        count_flagged=v["count_flagged"],
        speed_m_s=float(speed),
        capacity=v["capacity"],
        demand_group=v["demand_group"],
    )


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
    base = Path(base_dir).resolve()
    unknown = sorted(set(data) - _TOP_SECTIONS)
    if unknown:
        raise _err(unknown[0], f"unknown section (allowed: {', '.join(sorted(_TOP_SECTIONS))})")
    for section in _TOP_SECTIONS:
        if section in data and not isinstance(data[section], dict):
            raise _err(section, "expected a table, e.g. [" + section + "]")

    area = _take(data.get("area", {}), "area", {
        "name": (str, None), "osm_file": (str, None), "place": (str, None),
        "bbox": (list, None), "polygon_file": (str, None), "polygon_coord_system": (str, "wgs84"),
        "population_total": (float, None), "data_date": (str, None),
    })
    if not area["name"]:
        raise _err("area.name", "missing: give the study area a name, e.g. name = \"chengdu_central\"")
    _coord_system("area.polygon_coord_system", area["polygon_coord_system"])
    bbox = None
    if area["bbox"] is not None:
        b = area["bbox"]
        if len(b) != 4 or not all(_is_type(x, float) for x in b):
            raise _err("area.bbox", "expected [west, south, east, north] in degrees")
        west, south, east, north = map(float, b)
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise _err("area.bbox", f"impossible box {b}: need west < east and south < north in degrees")
        bbox = (west, south, east, north)
    _positive("area.population_total", area["population_total"])

    network = _take(data.get("network", {}), "network", {
        "max_snap_m": (float, 300.0), "cache_dir": (str, None), "roads_file": (str, None),
        "roads_coord_system": (str, "wgs84"), "roads_encoding": (str, None), "class_field": (str, "fclass"),
        "walkable_classes": (list, list(WALKABLE_ROAD_CLASSES)), "layer_field": (str, "layer"),
        "bridge_field": (str, "bridge"), "tunnel_field": (str, "tunnel"),
    })
    _positive("network.max_snap_m", network["max_snap_m"])
    roads = None
    if network["roads_file"] is not None:
        roads = RoadLines(
            _path(base, network["roads_file"]), _coord_system("network.roads_coord_system", network["roads_coord_system"]),
            network["roads_encoding"], network["class_field"],
            _strings("network.walkable_classes", network["walkable_classes"]),
            network["layer_field"], network["bridge_field"], network["tunnel_field"])
    if not any(area[k] for k in ("osm_file", "place", "bbox", "polygon_file")) and roads is None:
        raise _err("area", "give osm_file, or place, bbox or polygon_file to download from OpenStreetMap, "
                           "or network.roads_file")

    access = _take(data.get("access", {}), "access", {
        "speed_profile": (str, "default"), "speed_m_s": (float, None),
        "thresholds_min": (list, [5, 10, 15]), "street_buffer_m": (float, 50.0),
        "decay": (str, "binary"), "step_weights": (list, None),
    })
    if access["speed_profile"] not in SPEED_PROFILES:
        raise _err("access.speed_profile", f"unknown profile {access['speed_profile']!r} (choose {', '.join(SPEED_PROFILES)})")
    speed = access["speed_m_s"] if access["speed_m_s"] is not None else SPEED_PROFILES[access["speed_profile"]]
    _positive("access.speed_m_s", speed)
    if not WALK_SPEED_RANGE[0] <= speed <= WALK_SPEED_RANGE[1]:
        raise _err("access.speed_m_s", f"{speed} m/s is not a walking speed (expected 0.3–3)")
    th = access["thresholds_min"]
    if not th or not all(_is_type(t, float) and 0 < t <= 120 for t in th):
        raise _err("access.thresholds_min", f"expected a list of minutes in (0, 120], got {th!r}")
    if len(set(th)) != len(th):
        raise _err("access.thresholds_min", "thresholds must be distinct")
    _positive("access.street_buffer_m", access["street_buffer_m"])
    if access["decay"] not in DECAYS:
        raise _err("access.decay", f"expected {' or '.join(DECAYS)}, got {access['decay']!r}")
    steps = access["step_weights"]
    if steps is None:
        steps = list(DEFAULT_STEP_WEIGHTS) if len(th) == len(DEFAULT_STEP_WEIGHTS) else [1.0] * len(th)
    if (len(steps) != len(th) or not all(_is_type(w, float) and 0 < w <= 1 for w in steps)
            or any(b > a for a, b in zip(steps, steps[1:]))):
        raise _err("access.step_weights", f"expected {len(th)} weights in (0, 1], one per threshold "
                   f"{sorted(th)}, not increasing; got {steps!r}")

    gaps = _take(data.get("gaps", {}), "gaps", {
        "care_category": (str, "elder_care"), "health_category": (str, "health_centre"),
        "health_max_walk_min": (float, 10.0),
    })
    _positive("gaps.health_max_walk_min", gaps["health_max_walk_min"])

    grid = _take(data.get("grid", {}), "grid", {"h3_resolution": (int, 10)})
    if not 7 <= grid["h3_resolution"] <= 12:
        raise _err("grid.h3_resolution", f"must be between 7 and 12, got {grid['h3_resolution']}")

    pop = _take(data.get("population", {}), "population", {
        "default_levels": (float, 6.0), "floor_area_per_person_m2": (float, 40.0),
        "landuse_floor_area_ratio": (float, 1.5),
        "residential_buildings": (list, ["residential", "apartments", "house", "dormitory", "detached", "terrace", "semidetached_house"]),
        "table": (str, None), "table_level": (str, "community"), "table_columns": (dict, None),
        "table_encoding": (str, None), "raster": (str, None), "census_file": (str, None), "census_code": (str, None),
    })
    if pop["table_level"] not in ("community", "street"):
        raise _err("population.table_level", f"expected \"community\" or \"street\", got {pop['table_level']!r}")
    if (pop["census_file"] is None) != (pop["census_code"] is None):
        raise _err("population.census_code", "census_file and census_code go together (e.g. census_code = \"120103\")")
    population_inputs = PopulationInputs(
        _path(base, pop["table"]), pop["table_level"], _str_map("population.table_columns", pop["table_columns"]),
        pop["table_encoding"], _path(base, pop["raster"]), _path(base, pop["census_file"]), pop["census_code"])
    for k in ("default_levels", "floor_area_per_person_m2", "landuse_floor_area_ratio"):
        _positive(f"population.{k}", pop[k])

    communities = _boundaries(base, "communities", data.get("communities", {}), "code", "parentcode")
    streets = _boundaries(base, "streets", data.get("streets", {}), "code", None)
    fac = _take(data.get("facilities", {}), "facilities", {"merge_distance_m": (float, 100.0), "registries": (list, [])})
    _positive("facilities.merge_distance_m", fac["merge_distance_m"])
    registries = []
    for i, table in enumerate(fac["registries"]):
        key = f"facilities.registries[{i}]"
        if not isinstance(table, dict):
            raise _err(key, "expected a table with at least file = \"...\"")
        r = _take(table, key, {
            "file": (str, None), "coord_system": (str, "wgs84"), "encoding": (str, None), "sheet": (str, None),
            "category": (str, None), "columns": (dict, None), "category_values": (dict, None),
        })
        if r["file"] is None:
            raise _err(f"{key}.file", "missing: the registry's path")
        registries.append(Registry(_path(base, r["file"]), _coord_system(f"{key}.coord_system", r["coord_system"]),
                                   r["encoding"], r["sheet"], r["category"], _str_map(f"{key}.columns", r["columns"]),
                                   _str_map(f"{key}.category_values", r["category_values"])))
    out = _take(data.get("output", {}), "output", {"dir": (str, None), "basemap": (str, "osm"), "lang": (str, "zh"),
                                                   "offline": (bool, False), "facility_areas": ((str, int), 500),
                                                   "service_areas": (str, "auto")})
    if isinstance(out["facility_areas"], str) and out["facility_areas"] not in ("all", "none"):
        raise _err("output.facility_areas", f"expected \"all\", \"none\" or a number of facilities, got "
                   f"{out['facility_areas']!r}")
    if isinstance(out["facility_areas"], int) and out["facility_areas"] < 0:
        raise _err("output.facility_areas", f"must be ≥ 0, got {out['facility_areas']!r}")
    if out["service_areas"] not in SERVICE_AREA_METHODS:
        raise _err("output.service_areas", f"expected {', '.join(SERVICE_AREA_METHODS)}, got {out['service_areas']!r}")
    if out["basemap"] not in BASEMAPS:
        raise _err("output.basemap", f"expected {', '.join(BASEMAPS)}, got {out['basemap']!r}")
    if out["lang"] not in LANGUAGES:
        raise _err("output.lang", f"expected {' or '.join(LANGUAGES)}, got {out['lang']!r}")

    cat_tables = data.get("categories", {})
    merged: dict[str, dict] = {k: dict(v) for k, v in DEFAULT_CATEGORIES.items()}
    for key, table in cat_tables.items():
        if not isinstance(table, dict):
            raise _err(f"categories.{key}", "expected a table")
        # A table for a built-in category edits it; a new key adds a category.
        merged[key] = {**merged.get(key, {}), **table}
    categories = {key: _category(key, table, speed) for key, table in merged.items()}
    goal_tables: dict[str, dict] = {k: dict(v) for k, v in DEFAULT_GOALS.items()}
    for key, table in data.get("goals", {}).items():
        if not isinstance(table, dict):
            raise _err(f"goals.{key}", "expected a table")
        goal_tables[key] = {**goal_tables.get(key, {}), **table}  # edit a default, or add a goal
    coverage_min = float(max(th))
    goals = tuple(g for g in (_goal(k, t, categories, coverage_min) for k, t in goal_tables.items()) if g is not None)
    for k in ("care_category", "health_category"):
        if k in data.get("gaps", {}) and gaps[k] not in categories:
            raise _err(f"gaps.{k}", f"unknown category {gaps[k]!r} (have {', '.join(categories)})")
    for i, reg in enumerate(registries):
        if reg.category is not None and reg.category not in categories:
            raise _err(f"facilities.registries[{i}].category", f"unknown category {reg.category!r} (have {', '.join(categories)})")
        for value, cat in reg.category_values:
            if cat not in categories:
                raise _err(f"facilities.registries[{i}].category_values.{value}", f"unknown category {cat!r}")

    osm_file = _path(base, area["osm_file"])
    # Sample data is read-only, so the cache never sits beside the OSM file.
    cache_dir = _path(base, network["cache_dir"]) if network["cache_dir"] else (Path.cwd() / "data" / "osm" / "cache").resolve()
    return Config(
        name=area["name"],
        osm_file=osm_file,
        place=area["place"],
        bbox=bbox,
        polygon_file=_path(base, area["polygon_file"]),
        max_snap_m=float(network["max_snap_m"]),
        cache_dir=cache_dir,
        speed_profile=access["speed_profile"],
        speed_m_s=float(speed),
        thresholds_min=tuple(float(t) for t in sorted(th)),
        street_buffer_m=float(access["street_buffer_m"]),
        h3_resolution=grid["h3_resolution"],
        default_levels=float(pop["default_levels"]),
        floor_area_per_person_m2=float(pop["floor_area_per_person_m2"]),
        landuse_floor_area_ratio=float(pop["landuse_floor_area_ratio"]),
        residential_buildings=_strings("population.residential_buildings", pop["residential_buildings"]),
        population_total=area["population_total"],
        roads=roads,
        communities=communities,
        streets=streets,
        registries=tuple(registries),
        merge_distance_m=float(fac["merge_distance_m"]),
        population_inputs=population_inputs,
        polygon_coord_system=area["polygon_coord_system"],
        data_date=area["data_date"],
        basemap=out["basemap"],
        lang=out["lang"],
        offline=out["offline"],
        facility_areas=out["facility_areas"],
        service_areas=out["service_areas"],
        out_dir=_path(base, out["dir"]) if out["dir"] else (Path.cwd() / "maps" / area["name"]).resolve(),
        categories=categories,
        complete_circle=tuple(k for k in CORE_CATEGORIES if k in categories),
        goals=goals,
        decay=access["decay"],
        step_weights=tuple(float(w) for w in steps),
        care_category=gaps["care_category"],
        health_category=gaps["health_category"],
        health_max_walk_min=float(gaps["health_max_walk_min"]),
        source_text=source_text,
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a study-area TOML file.

    Parameters
    ----------
    path : path
        The TOML file.

    Returns
    -------
    Config
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return make_config(data, base_dir=path.parent, source_text=text)
