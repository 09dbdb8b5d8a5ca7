import re

import pytest

from servicecircle.config import load_config, make_config
from servicecircle.errors import ConfigError

BASE = {"area": {"name": "t", "bbox": [104.0, 30.6, 104.1, 30.7]}}


def _with(section, **values):
    data = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {}).update(values)
    return data


def test_walking_speeds_at_the_ends_of_the_range_are_accepted():
    assert make_config(_with("access", speed_m_s=0.3)).access.speed_m_s == 0.3
    assert make_config(_with("access", speed_m_s=3.0)).access.speed_m_s == 3.0


def test_defaults():
    c = make_config(BASE)
    assert c.access.speed_m_s == 1.0 and c.access.thresholds_min == (5.0, 10.0, 15.0)
    assert c.grid.h3_resolution == 10 and c.network.max_snap_m == 300 and c.access.street_buffer_m == 50
    assert list(c.categories) == ["elder_care", "canteen", "nursery"]
    assert c.complete_circle == ("elder_care", "canteen", "nursery")
    assert make_config(_with("access", speed_profile="elderly")).access.speed_m_s == 0.8
    # Capacity-aware access: each core category shares its capacity among its own group.
    assert c.access.decay == "binary" and c.access.step_weights == (1.0, 0.68, 0.22)
    assert [(k, v.capacity, v.demand_group) for k, v in c.categories.items()] == [
        ("elder_care", "beds", "60plus"), ("canteen", "meals_per_day", "60plus"), ("nursery", "nursery_places", "young")]
    assert c.gaps.care_category == "elder_care" and c.gaps.health_max_walk_min == 10.0


@pytest.mark.parametrize("data, key", [
    (_with("grid", h3_resolution=20), "grid.h3_resolution"),
    (_with("grid", resolution=10), "grid.resolution"),
    (_with("output", facility_areas="some"), "output.facility_areas"),
    (_with("output", facility_areas=-3), "output.facility_areas"),
    (_with("output", facility_areas=True), "output.facility_areas"),
    (_with("output", service_areas="hexagons"), "output.service_areas"),
    (_with("access", speed_m_s="fast"), "access.speed_m_s"),
    (_with("access", speed_m_s=-1), "access.speed_m_s"),
    (_with("access", speed_m_s=0.05), "access.speed_m_s"),  # the check promises 0.3–3 m/s
    (_with("access", speed_m_s=3.5), "access.speed_m_s"),
    ({**BASE, "categories": {"nursery": {"speed_m_s": 0.2}}}, "categories.nursery.speed_m_s"),
    (_with("access", thresholds_min=[5, -10]), "access.thresholds_min"),
    (_with("access", thresholds_min=[10, 5, 15]), "access.thresholds_min"),  # out of order: said, not sorted
    (_with("network", max_snap_m=True), "network.max_snap_m"),
    (_with("area", bbox=[104.1, 30.6, 104.0, 30.7]), "area.bbox"),
    ({**BASE, "acess": {}}, "acess"),
    ({**BASE, "categories": {"x": {"label": "X"}}}, "categories.x"),
    ({**BASE, "categories": {"x": {"keywords": ["a"], "colour": "red"}}}, "categories.x.colour"),
    ({"area": {"name": "t"}}, "area"),
    (_with("access", decay="gaussian"), "access.decay"),
    (_with("access", step_weights=[1.0, 0.5]), "access.step_weights"),
    (_with("access", step_weights=[0.5, 1.0, 0.2]), "access.step_weights"),
    ({**BASE, "categories": {"nursery": {"capacity": "cots"}}}, "categories.nursery.capacity"),
    ({**BASE, "categories": {"nursery": {"demand_group": "babies"}}}, "categories.nursery.demand_group"),
    ({**BASE, "gaps": {"health_category": "clinic"}}, "gaps.health_category"),
    ({**BASE, "gaps": {"health_max_walk_min": 0}}, "gaps.health_max_walk_min"),
    # A goal about a category the study area does not define is refused, not silently dropped.
    ({**BASE, "goals": {"x": {"metric": "population_within", "categories": ["pharmacy"], "target": 0.9}}},
     "goals.x.categories"),
    ({**BASE, "goals": {"home_care_circle": {"categories": ["elder_care", "canteens"]}}},
     "goals.home_care_circle.categories"),
    ({**BASE, "facilities": {"registries": [{"file": "r.csv", "colour": "red"}]}}, "facilities.registries[0].colour"),
    ({**BASE, "facilities": {"registries": [{"coord_system": "gcj02"}]}}, "facilities.registries[0].file"),
])
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        make_config(data)


def test_user_category_and_relative_paths(tmp_path):
    (tmp_path / "a.toml").write_text(
        '[area]\nname = "x"\nosm_file = "sub/x.osm"\n'
        '[categories.health_centre]\nkeywords = ["社区卫生服务中心"]\nspeed_m_s = 0.8\n', encoding="utf-8")
    c = load_config(tmp_path / "a.toml")
    assert c.area.osm_file == (tmp_path / "sub" / "x.osm").resolve()
    assert c.categories["health_centre"].speed_m_s == 0.8
    assert c.categories["nursery"].speed_m_s == 1.0
    assert len(c.config_hash) == 12


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[area\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_input_sections_are_validated(tmp_path):
    roads = {"area": {"name": "t"}, "network": {"roads_file": "roads.shp", "roads_coord_system": "gcj02"}}
    c = make_config(roads, base_dir=tmp_path)
    assert c.network.roads.path == tmp_path / "roads.shp" and c.network.roads.coord_system == "gcj02" and not c.area.uses_osm
    assert "footway" in c.network.roads.walkable_classes and "motorway" not in c.network.roads.walkable_classes
    with pytest.raises(ConfigError, match="network.roads_coord_system"):
        make_config({"area": {"name": "t"}, "network": {"roads_file": "r.shp", "roads_coord_system": "mars"}})
    with pytest.raises(ConfigError, match="area"):
        make_config({"area": {"name": "t"}})  # no network source at all
    with pytest.raises(ConfigError, match="communities.coord_system"):
        make_config(_with("communities", file="c.geojson", coord_system="bd-09"))
    with pytest.raises(ConfigError, match="streets.parent"):
        make_config(_with("streets", file="s.geojson", parent="x"))
    with pytest.raises(ConfigError, match="population.census_code"):
        make_config(_with("population", census_file="census.xlsx"))
    with pytest.raises(ConfigError, match="population.table_level"):
        make_config(_with("population", table="p.csv", table_level="district"))
    c = make_config(_with("communities", file="c.geojson", coord_system="gcj02"), base_dir=tmp_path)
    assert c.communities.parent_field == "parentcode" and c.communities.coord_system == "gcj02"


def test_hexi_sample_config_loads():
    from pathlib import Path

    c = load_config(Path(__file__).resolve().parents[1] / "data" / "hexi.toml")
    assert c.network.roads.path.name == "hexi_roads.shp" and c.population.census_code == "120103"
    assert c.streets.path.name == "hexi_streets.geojson" and c.communities.parent_field == "parentcode"


def test_service_area_plan_follows_the_output_settings():
    from types import SimpleNamespace

    from servicecircle.config import STREET_AREAS_MAX_EDGES
    from servicecircle.pipeline import service_area_plan

    import numpy as np

    def plan(n_facilities, walked_edges, **output):
        # Test input: a network of straight edges 0–1, 1–2, …; one category reaches its first nodes in 1 s.
        config = make_config(_with("output", **output)) if output else make_config(BASE)
        n = walked_edges + 1
        net = SimpleNamespace(edge_u=np.arange(n - 1), edge_v=np.arange(1, n))
        near = {"elder_care": (np.r_[np.ones(walked_edges), np.inf], None)}  # walked under every threshold
        return service_area_plan(config, net, SimpleNamespace(facilities=range(n_facilities)), near)

    assert plan(500, 10)["per_facility"] and not plan(501, 10)["per_facility"]  # default: up to 500
    # zh, the default language
    assert "设施 501 个，超过 500 个" in plan(501, 10)["note"] and 'facility_areas = "all"' in plan(501, 10)["note"]
    assert plan(9000, 10, facility_areas="all")["per_facility"]
    assert not plan(3, 10, facility_areas="none")["per_facility"]
    assert not plan(3, 10, facility_areas=2)["per_facility"]
    assert plan(3, STREET_AREAS_MAX_EDGES // 3)["method"] == "streets"  # counted once per threshold
    assert plan(3, STREET_AREAS_MAX_EDGES // 3 + 1)["method"] == "cells"
    assert plan(3, 30)["walked_edges"] == 90
    assert plan(3, 10 ** 5, service_areas="streets")["method"] == "streets"
    assert plan(3, 10, service_areas="cells")["method"] == "cells"
    assert "H3 网格（分辨率 10）" in plan(3, 10, service_areas="cells")["method_note"]
    assert "H3 cells (resolution 10)" in plan(3, 10, service_areas="cells", lang="en")["method_note"]


def test_disabled_goal_about_an_undefined_category_is_accepted():
    c = make_config({**BASE, "goals": {"x": {"metric": "population_within", "categories": ["pharmacy"],
                                             "target": 0.9, "enabled": False}}})
    assert "x" not in [g.key for g in c.goals] and len(c.goals) == 10


def test_policy_defaults_come_from_the_packaged_defaults_file():
    import tomllib
    from importlib.resources import files

    from servicecircle.config import DEFAULT_GOALS

    packaged = tomllib.loads(files("servicecircle").joinpath("defaults.toml").read_text(encoding="utf-8"))
    c = make_config(BASE)
    assert [g.key for g in c.goals] == list(packaged["goals"]) == list(DEFAULT_GOALS)
    assert list(c.categories) == list(packaged["categories"])
    nursery = packaged["categories"]["nursery"]
    assert c.categories["nursery"].keywords == tuple(nursery["keywords"])
    assert c.categories["nursery"].tag_rules[0] == nursery["tags"][0]
    assert {g.key: g.target for g in c.goals}["nursery_places_per_1000"] == 4.5


def test_every_setting_is_declared_once_with_its_documentation():
    from servicecircle.config import SECTIONS, Category, Geocoder, Goal, Registry, options

    for cls in [*SECTIONS.values(), Registry, Category, Goal, Geocoder]:
        declared = options(cls)
        assert declared, cls
        for key, (f, opt) in declared.items():
            assert opt.doc.strip(), f"{cls.__name__}.{key} has no documentation"


def test_command_line_speed_profile_is_the_access_key_and_keeps_a_category_own_speed(tmp_path):
    from servicecircle import cli

    (tmp_path / "a.toml").write_text(
        '[area]\nname = "x"\nosm_file = "x.osm"\n[access]\nspeed_m_s = 1.2\n'
        '[categories.nursery]\nspeed_m_s = 0.6\n', encoding="utf-8")
    args = cli._parser().parse_args(["run", str(tmp_path / "a.toml"), "--speed-profile", "elderly", "--lang", "en"])
    c = load_config(tmp_path / "a.toml", overrides=cli.overrides_of(args))
    assert c.access.speed_profile == "elderly" and c.access.speed_m_s == 0.8  # the profile replaces the file's speed
    assert c.categories["elder_care"].speed_m_s == 0.8  # a category without its own speed walks at the profile's
    assert c.categories["nursery"].speed_m_s == 0.6  # its own speed_m_s is kept, as with the key in the file
    assert c.output.lang == "en"
    plain = load_config(tmp_path / "a.toml", overrides=cli.overrides_of(cli._parser().parse_args(
        ["run", str(tmp_path / "a.toml")])))
    assert plain == load_config(tmp_path / "a.toml") and plain.access.speed_m_s == 1.2
    with pytest.raises(ConfigError, match="'output.lang'"):
        load_config(tmp_path / "a.toml", overrides={"output": {"lang": "fr"}})


def test_pages_are_self_contained_by_default_and_cdn_opts_out(tmp_path):
    """Government intranets reach no CDN: the default page inlines Leaflet; --cdn (or offline = false) opts out."""
    from servicecircle import cli

    (tmp_path / "a.toml").write_text('[area]\nname = "x"\nosm_file = "x.osm"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[area]\nname = "x"\nosm_file = "x.osm"\n[output]\noffline = false\n',
                                     encoding="utf-8")

    def offline(path, *flags):
        args = cli._parser().parse_args(["run", str(path), *flags])
        return load_config(path, overrides=cli.overrides_of(args)).output.offline

    assert offline(tmp_path / "a.toml") is True and offline(tmp_path / "a.toml", "--cdn") is False
    assert offline(tmp_path / "b.toml") is False and offline(tmp_path / "b.toml", "--offline") is True
    with pytest.raises(SystemExit):  # one or the other
        cli._parser().parse_args(["run", str(tmp_path / "a.toml"), "--cdn", "--offline"])


def test_the_readme_documents_every_settings_key():
    from pathlib import Path

    from servicecircle.config import SECTIONS, Category, Geocoder, Registry, options

    lines = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").splitlines()

    def rows(prefix):
        return [line for line in lines if line.startswith(f"| `{prefix}")]

    missing = []
    for name, cls in SECTIONS.items():
        for key, (_, opt) in options(cls).items():
            listed = rows(f"[[{name}.{key}]]") if opt.item is not None else rows(f"[{name}]") + rows(f"[{name}.{key}]")
            if not any(f"`{key}`" in line or f"] {key}`" in line or f"[[{name}.{key}]]" in line
                       or f"`[{name}.{key}]`" in line for line in listed):
                missing.append(f"[{name}] {key}")
    for prefix, cls in (("[[facilities.registries]]", Registry), ("[categories.<key>]", Category),
                        ("[facilities.geocoder]", Geocoder)):
        missing += [f"{prefix} {key}" for key in options(cls) if not any(f"`{key}`" in line for line in rows(prefix))]
    assert missing == [], f"settings declared in config.py but not in the README's table: {missing}"


def test_thresholds_out_of_order_say_the_order_wanted():
    with pytest.raises(ConfigError, match=re.escape("increasing order, e.g. [5, 10, 15]; got [10, 5, 15]")):
        make_config(_with("access", thresholds_min=[10, 5, 15]))
    assert make_config(_with("access", thresholds_min=[5, 10, 20])).access.thresholds_min == (5.0, 10.0, 20.0)


def _chinese(message):
    """A message worded in Chinese: CJK characters and none of the English message's sentence words."""
    return re.search(r"[\u4e00-\u9fff]", message) and not re.search(r"\b(expected|must|got|missing|unknown)\b", message)


@pytest.mark.parametrize("data", [
    _with("output", lang="fr"),                           # a wrong choice
    _with("access", speed_profile="fast"),                # a wrong choice, the value named
    _with("grid", h3_resolution=20),                      # out of range
    _with("access", speed_m_s=5),                         # out of range
    _with("access", speed_m_s="fast"),                    # a wrong type
    {**BASE, "facilities": {"registries": [{"file": "r.csv", "header_row": "x"}]}},  # a wrong type of two allowed
    {"area": {"bbox": [104.0, 30.6, 104.1, 30.7]}},       # a missing key
    {**BASE, "goals": {"g": {"metric": "population_within", "target": 0.9}}},  # a missing key
    _with("area", colour="red"),                          # an unknown key
    {**BASE, "gaps": {"care_category": "clinic"}},        # an unknown category
])
def test_config_errors_are_worded_in_chinese_under_zh(data):
    with pytest.raises(ConfigError) as caught:
        make_config(data)
    exc = caught.value
    assert _chinese(exc.worded("zh")), exc.worded("zh")
    assert "配置项" in exc.worded("zh")
    assert exc.worded("en") == str(exc) and str(exc).startswith("config key '")


def test_a_missing_config_file_is_worded_in_chinese_under_zh(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nowhere.toml")
    assert caught.value.worded("zh").startswith("配置文件不存在：")
    assert caught.value.worded("en") == str(caught.value) == f"config file not found: {tmp_path / 'nowhere.toml'}"


def test_osm_features_can_be_turned_off(tmp_path):
    """A road-line area drawn by a polygon file reads OSM features unless told not to (the batch tells it so
    when its base reads none)."""
    roads = {"area": {"name": "t", "polygon_file": "area.geojson"},
             "network": {"roads_file": "roads.shp"}}
    assert make_config(roads, base_dir=tmp_path).area.uses_osm
    roads["area"]["osm_features"] = False
    assert not make_config(roads, base_dir=tmp_path).area.uses_osm
    with pytest.raises(ConfigError, match="area.osm_features"):
        make_config({"area": {"name": "t", "bbox": [104.0, 30.6, 104.1, 30.7], "osm_features": "no"}},
                    base_dir=tmp_path)
