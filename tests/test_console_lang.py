"""The console, input_report.csv and the notes per category speak the run's language (issue 13, point 2).

A zh run (the default) holds no English sentence, an en run no Chinese outside input data; a zh run
then an en run of the same settings and cache each get their own language (the cached analysis holds
worded lines, so the language is part of its key).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from servicecircle import cli, run
from servicecircle.config import Registry
from servicecircle.inputs import InputReport
from servicecircle.registries import read_registry

#: Not sentences: paths and file names, codes and settings keys, library names (kept in both languages).
NOT_WORDS = re.compile(
    r"(/[\w./+-]*|[\w.-]+\.(csv|xlsx|html|json|gpkg|geojson|toml)|--\w+|\[[^\]]*\]"
    r"|\b(OSM|H3|2SFCA|WGS-84|gcj02|wgs84|bd09|make_valid|population_fallback|category_values|MILP|HiGHS)\b"
    r"|\b[a-z]+(_[a-z0-9]+)+\b|\b(elder_care|canteen|nursery|health_centre|stepped|gaussian|linear)\b)")
ENGLISH = re.compile(r"[A-Za-z]{3,}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def english_words(line: str) -> list[str]:
    return ENGLISH.findall(NOT_WORDS.sub(" ", line))


def chinese_outside(line: str, data_words: set[str]) -> list[str]:
    """CJK left once the input data's own words (labels, names) are taken out."""
    for word in sorted(data_words, key=len, reverse=True):
        line = line.replace(word, " ")
    return CJK.findall(line)


def console_lines(result, capsys) -> list[str]:
    capsys.readouterr()
    cli._print_summary(result)
    # The binding goals' lines (✘ …) are the scorecard's own words (goals.py, translated on their own).
    return [line for line in capsys.readouterr().out.splitlines() if line.strip() and "✘" not in line]


def data_words(result) -> set[str]:
    """The input data's Chinese: category labels and names of communities, streets, facilities, areas."""
    words = {c.label for c in result.config.categories.values()} | {"医养结合"}
    for frame in (result.communities, result.streets, result.facilities):
        if frame is not None and "name" in frame:
            words |= {str(n) for n in frame["name"].dropna() if str(n)}
    words |= {str(g["goal_name"]) for g in result.summary.get("goals", [])}
    return words


REGISTRY = [  # test input: one problem per row
    {"机构名称": "测试养老院", "类别": "养老院", "经度": "104.06", "纬度": "30.66", "床位": "三十", "普惠": "也许"},
    {"机构名称": "", "类别": "养老院", "经度": "104.07", "纬度": "30.66", "床位": "", "普惠": ""},
    {"机构名称": "测试甲", "类别": "菜市场", "经度": "104.08", "纬度": "30.66", "床位": "", "普惠": ""},
    {"机构名称": "测试乙", "类别": "养老院", "经度": "东经", "纬度": "30.66", "床位": "", "普惠": ""},
    {"机构名称": "测试丙", "类别": "养老院", "经度": "30.66", "纬度": "104.09", "床位": "", "普惠": ""},
    {"机构名称": "测试丁", "类别": "养老院", "经度": "4.0", "纬度": "10.0", "床位": "", "普惠": ""},
    {"机构名称": "测试养老院", "类别": "养老院", "经度": "104.06", "纬度": "30.66", "床位": "", "普惠": ""},
]


#: The registry's own words (its values and the header names an en line quotes).
REGISTRY_WORDS = {"养老院", "菜市场", "测试养老院", "东经", "三十", "也许", "名称", "类别"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_registry_lines_are_in_the_report_language(chengdu_config, tmp_path, lang):
    path = tmp_path / "registry.csv"
    pd.DataFrame(REGISTRY).to_csv(path, index=False, encoding="utf-8-sig")
    spec = Registry(path=path, coord_system="wgs84", encoding=None, sheet=None, category=None, columns=(),
                    category_values=())
    report = InputReport(lang=lang)
    read_registry(spec, chengdu_config.categories, report)
    frame = report.frame()
    assert len(frame) >= 6, frame
    for text in frame["problem"].tolist() + frame["action"].tolist():
        if lang == "zh":
            assert not english_words(text), text
        else:
            assert not chinese_outside(text, REGISTRY_WORDS), text


def test_zh_console_and_input_report_hold_no_english_sentence(hexi_run, capsys):
    assert hexi_run.config.output.lang == "zh"
    lines = console_lines(hexi_run, capsys)
    assert len(lines) > 10
    assert [line for line in lines if english_words(line)] == []
    report = hexi_run.input_report.frame()
    assert len(report)
    for text in report["problem"].tolist() + report["action"].tolist():
        assert not english_words(text), text
    for c in hexi_run.summary["categories"].values():
        assert not english_words(c["note"]), c["note"]


def test_zh_then_en_of_the_same_settings_each_in_their_language(hexi_run, tmp_path, capsys):
    """The zh analysis is in the shared cache (``hexi_run``); an en run of the same settings must not reuse its
    worded lines, and a zh run after it gets Chinese again."""
    en = run(hexi_run.config.with_settings(output={"out_dir": tmp_path / "en", "lang": "en"}), progress=False)
    words = data_words(en)
    lines = console_lines(en, capsys)
    assert [line for line in lines if chinese_outside(line, words)] == []
    report = pd.read_csv(tmp_path / "en" / "input_report.csv", encoding="utf-8-sig", dtype=str).fillna("")
    assert len(report)
    for text in report["problem"].tolist() + report["action"].tolist():
        assert not chinese_outside(text, words), text
    for c in en.summary["categories"].values():
        assert not chinese_outside(c["note"], words), c["note"]
    zh = run(hexi_run.config.with_settings(output={"out_dir": tmp_path / "zh"}), progress=False)
    assert "analysis (cached)" in zh.seconds  # the zh analysis, in Chinese
    report = pd.read_csv(tmp_path / "zh" / "input_report.csv", encoding="utf-8-sig", dtype=str).fillna("")
    assert report["problem"].tolist() == hexi_run.input_report.frame()["problem"].tolist()
    assert not any(english_words(t) for t in report["problem"])


def test_the_error_prefix_is_in_the_language(tmp_path, capsys):
    missing = tmp_path / "none.toml"
    assert cli.main(["run", str(missing)]) == 2
    assert capsys.readouterr().err.startswith("servicecircle：错误：")
    assert cli.main(["run", str(missing), "--lang", "en"]) == 2
    assert capsys.readouterr().err.startswith("servicecircle: error: ")


def _siting_and_plan():
    """What ``site`` and ``capacity`` print from, shaped as their results (made up: the printing is tested)."""
    from types import SimpleNamespace

    sites = pd.DataFrame({"rank": [1], "lon": [117.2], "lat": [39.1], "new_residents_60plus_covered": [1200.0],
                          "covered_share_after": [0.3], "street": ["测试街道"], "community": ["测试社区"],
                          "nearest_road": ["测试路"]})
    siting = SimpleNamespace(category="elder_care", weight_column="residents_60plus", sites=sites,
                             info={"limit_m": 900.0, "covered_share_before": 0.25, "covered_share_after": 0.3,
                                   "candidates": 1500, "greedy_s": 0.02, "exact_covered": 1.0,
                                   "greedy_over_optimal": 0.99, "exact_s": 1.5, "files": {"sites": "/tmp/sites.csv"}})
    facilities = pd.DataFrame({"to_add": [12], "name": ["测试养老院"], "facility_id": [3]})
    plan = SimpleNamespace(category="elder_care", capacity="beds", facilities=facilities,
                           info={"per_1000": 40.0, "demand": "residents", "group": "60plus", "capacity_now": 300.0,
                                 "facilities": 4, "district_shortfall": 7516.0, "need_reached": 5000.0,
                                 "need_unreached": 2516.0, "files": {"plan": "/tmp/plan.csv"}})
    return siting, plan


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_site_and_capacity_lines_are_in_the_language(capsys, lang):
    siting, plan = _siting_and_plan()
    capsys.readouterr()
    cli._print_siting(siting, lang)
    cli._print_capacity_plan(plan, lang)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 7
    names = {"测试街道", "测试社区", "测试路", "测试养老院"}
    for line in lines:
        assert not (english_words(line) if lang == "zh" else chinese_outside(line, names)), line
    assert ("60 岁及以上居民" if lang == "zh" else "residents aged 60+") in lines[0]
    assert ("未载入年龄数据" if lang == "zh" else "no age data loaded") in lines[4]


def test_log_warnings_are_worded_in_the_run_language(tmp_path, caplog):
    """A warning logged with a catalogue key reads in the run's language on the console; the record's own
    message (for other handlers) stays English."""
    import logging

    from servicecircle import inputs

    import geopandas as gpd
    import shapely

    # test input: a polygon shapefile without a .prj (no CRS declared)
    bare = gpd.GeoDataFrame({"name": ["TEST"]}, geometry=[shapely.box(104.0, 30.6, 104.1, 30.7)], crs=None)
    with pytest.warns(UserWarning, match="crs"):
        bare.to_file(tmp_path / "bare.shp")
    with caplog.at_level(logging.WARNING, logger="servicecircle"):
        inputs.read_vector(tmp_path / "bare.shp", what="area polygon file", coord_system="gcj02", polygons=True)
    [record] = [r for r in caplog.records if getattr(r, "text_key", None) == "log.no_crs"]
    assert "declares no CRS" in record.getMessage()
    zh, en = cli.WordedLog("zh").format(record), cli.WordedLog("en").format(record)
    assert zh.startswith("警告：") and "未声明坐标参考系" in zh and not english_words(zh)
    assert en == f"WARNING: {record.getMessage()}"


def test_a_bad_command_argument_is_worded_in_the_language():
    from types import SimpleNamespace

    from servicecircle.config import make_config
    from servicecircle.errors import InputError

    config = make_config({"area": {"name": "t", "bbox": [104.0, 30.6, 104.1, 30.7]}})
    args = SimpleNamespace(command="site", category="elder_care", add=0, target=None)
    with pytest.raises(InputError, match="--add must be at least 1, got 0") as caught:
        cli._check_command(args, config)
    assert caught.value.worded("zh") == "--add 应不小于 1，实为 0"
    assert caught.value.worded("en") == str(caught.value)


HELP_NAMES = re.compile(r"\{[^}]*\}|\b[A-Z][A-Z_.0-9]+\b|-{1,2}[\w-]+|servicecircle|Leaflet|CDN|Dask|LocalCluster|TOML"
                        r"|\b(default|elderly|amap|tencent|osm|run|site|capacity|compare|template|batch|cells|"
                        r"communities|facilities|dir|lang|offline|basemap|data|maps|toml|xlsx|csv|gpkg)\b")


@pytest.mark.parametrize("command", [[], ["run"], ["site"], ["capacity"], ["compare"], ["template"], ["batch"]])
def test_help_is_in_the_language(command, capsys):
    """``--help`` of every command: Chinese by default (argparse's own words included), English with --lang en."""
    for lang in ("zh", "en"):
        with pytest.raises(SystemExit) as done:
            cli.main([*command, "--help", *(["--lang", "en"] if lang == "en" else [])])
        assert done.value.code == 0
        text = capsys.readouterr().out
        # The descriptions, without the usage block and the examples (command lines in both languages); option
        # names, metavars, choices, commands, layers, settings keys and file kinds are names, not sentences.
        body = text.split("\n\n", 1)[1].split("示例：" if lang == "zh" else "examples:")[0]
        lines = [HELP_NAMES.sub(" ", NOT_WORDS.sub(" ", line)) for line in body.splitlines()]
        if lang == "zh":
            assert text.startswith("用法：") and "显示本帮助并退出" in text
            assert not [w for line in lines for w in english_words(line)], text
        else:
            assert text.startswith("usage: ") and "show this help message and exit" in text
            assert not CJK.search(re.sub(r"\(([^)]*[\u4e00-\u9fff][^)]*)\)|示例", "", text)), text


def test_argument_errors_are_in_the_language(capsys):
    with pytest.raises(SystemExit):
        cli.main(["site", "a.toml", "--add", "2"])
    assert capsys.readouterr().err.strip().endswith("servicecircle site：错误：缺少必需的参数：--category")
    with pytest.raises(SystemExit):
        cli.main(["run", "a.toml", "--basemap", "foo", "--lang", "en"])
    assert "error: argument --basemap: invalid choice: 'foo'" in capsys.readouterr().err
