import pytest

from servicecircle.config import load_config, make_config
from servicecircle.errors import ConfigError

BASE = {"area": {"name": "t", "bbox": [104.0, 30.6, 104.1, 30.7]}}


def _with(section, **values):
    data = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {}).update(values)
    return data


def test_defaults():
    c = make_config(BASE)
    assert c.speed_m_s == 1.0 and c.thresholds_min == (5.0, 10.0, 15.0)
    assert c.h3_resolution == 10 and c.max_snap_m == 300 and c.street_buffer_m == 50
    assert list(c.categories) == ["elder_care", "canteen", "nursery"]
    assert c.complete_circle == ("elder_care", "canteen", "nursery")
    assert make_config(_with("access", speed_profile="elderly")).speed_m_s == 0.8


@pytest.mark.parametrize("data, key", [
    (_with("grid", h3_resolution=20), "grid.h3_resolution"),
    (_with("grid", resolution=10), "grid.resolution"),
    (_with("access", speed_m_s="fast"), "access.speed_m_s"),
    (_with("access", speed_m_s=-1), "access.speed_m_s"),
    (_with("access", thresholds_min=[5, -10]), "access.thresholds_min"),
    (_with("network", max_snap_m=True), "network.max_snap_m"),
    (_with("area", bbox=[104.1, 30.6, 104.0, 30.7]), "area.bbox"),
    ({**BASE, "acess": {}}, "acess"),
    ({**BASE, "categories": {"x": {"label": "X"}}}, "categories.x"),
    ({**BASE, "categories": {"x": {"keywords": ["a"], "colour": "red"}}}, "categories.x.colour"),
    ({"area": {"name": "t"}}, "area"),
])
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        make_config(data)


def test_user_category_and_relative_paths(tmp_path):
    (tmp_path / "a.toml").write_text(
        '[area]\nname = "x"\nosm_file = "sub/x.osm"\n'
        '[categories.health_centre]\nkeywords = ["社区卫生服务中心"]\nspeed_m_s = 0.8\n', encoding="utf-8")
    c = load_config(tmp_path / "a.toml")
    assert c.osm_file == (tmp_path / "sub" / "x.osm").resolve()
    assert c.categories["health_centre"].speed_m_s == 0.8
    assert c.categories["nursery"].speed_m_s == 1.0
    assert len(c.config_hash) == 12


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[area\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
