"""The full run on real Chengdu data: outputs, shares, and the command line on bad inputs."""

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from conftest import CHENGDU_CONFIG, early_cli_result


def test_run_writes_every_output(chengdu_run):
    out = chengdu_run.config.output.out_dir
    for name in ("index.html", "servicecircle.gpkg", "communities.csv", "summary.json"):
        assert (out / name).stat().st_size > 1000, name
    layers = {name for name, _ in pyogrio.list_layers(out / "servicecircle.gpkg")}
    assert {"facilities", "service_areas", "service_areas_merged", "cells", "communities"} <= layers
    facs = gpd.read_file(out / "servicecircle.gpkg", layer="facilities")
    assert (facs["speed_m_s"] == 1.0).all()
    merged = gpd.read_file(out / "servicecircle.gpkg", layer="service_areas_merged")
    assert len(merged) == 3 * merged["category"].nunique()  # one per category and threshold
    cells = gpd.read_file(out / "servicecircle.gpkg", layer="cells")
    assert len(cells) == len(chengdu_run.cells)
    comm = pd.read_csv(out / "communities.csv", encoding="utf-8-sig")
    assert len(comm) == len(chengdu_run.communities) == 178  # the named residential compounds
    assert {"name", "residents", "covered_share_nursery", "uncovered_residents_nursery", "facilities_nursery",
            "mean_walk_min_nursery", "p95_walk_min_nursery", "complete_share", "speed_m_s_nursery"} <= set(comm.columns)
    assert (comm["speed_m_s_nursery"] == 1.0).all()


def test_summary_states_speed_thresholds_and_zero_results(chengdu_run):
    s = json.loads((chengdu_run.config.output.out_dir / "summary.json").read_text(encoding="utf-8"))
    assert s["area"] == "chengdu_central"
    assert s["speed_m_s"] == 1.0 and s["thresholds_min"] == [5.0, 10.0, 15.0]
    assert s["population_total"] > 0
    for key in ("elder_care", "canteen", "nursery"):
        c = s["categories"][key]
        assert {"facilities", "facilities_off_network", "population_covered_share"} <= set(c)
    assert s["categories"]["elder_care"]["facilities"] == 0
    assert "OSM 中此处无养老服务" in s["categories"]["elder_care"]["note"]  # zh, the run's language
    assert "请导入登记表" in s["categories"]["canteen"]["note"]
    assert s["complete_circle_share"] == 0.0
    assert "OpenStreetMap" in s["attribution"]
    html = (chengdu_run.config.output.out_dir / "index.html").read_text(encoding="utf-8")
    # The page says it in its language (zh), as summary.json and the console do.
    assert "OSM 中此处无养老服务（elder_care）设施" in html and "OpenStreetMap contributors" in html
    assert "1 m/s" in html


def test_shares_are_resident_weighted_means_of_cell_flags(chengdu_run):
    cells, s = chengdu_run.cells, chengdu_run.summary
    w = cells["residents"].to_numpy()
    for key, c in s["categories"].items():
        share = c["population_covered_share"]
        assert 0.0 <= share <= 1.0
        assert share == pytest.approx(np.average(cells[f"covered_{key}"].to_numpy(float), weights=w), abs=1e-12)
    assert s["categories"]["health_centre"]["population_covered_share"] > 0.05
    comm = chengdu_run.communities
    shares = comm["covered_share_health_centre"].dropna()
    assert ((shares >= 0) & (shares <= 1)).all()
    assert comm["residents"].sum() <= s["population_total"] + 1e-6


def test_outputs_are_deterministic(chengdu_config, chengdu_run, chengdu_rerun):
    again = chengdu_rerun.first  # computed again from nothing (a cold stage cache), not cached
    pd.testing.assert_frame_equal(again.cells.drop(columns="geometry"), chengdu_run.cells.drop(columns="geometry"))
    a = (again.config.output.out_dir / "communities.csv").read_bytes()
    b = (chengdu_config.output.out_dir / "communities.csv").read_bytes()
    assert a == b


BAD_INPUTS = {
    "missing_config": None,
    "missing_osm": '[area]\nname = "x"\nosm_file = "nowhere.osm"\n',
    "typo": '[area]\nname = "x"\nosm_file = "empty.osm"\n[acess]\nspeed_m_s = 1.0\n',
    "h3_20": '[area]\nname = "x"\nosm_file = "empty.osm"\n[grid]\nh3_resolution = 20\n',
    "no_walkable": '[area]\nname = "x"\nosm_file = "empty.osm"\n[network]\ncache_dir = "cache"\n',
}


def _bad_inputs(folder):
    """Each bad input in its own folder, run by tests/forked_cli.py: one process per case, forked after one
    import of the package (``python -m servicecircle`` spends ~2 s importing before it reads an argument)."""
    jobs = []
    for case, body in BAD_INPUTS.items():
        sub = folder / case
        sub.mkdir()
        (sub / "empty.osm").write_text("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
                                       "<node id=\"1\" lat=\"30.66\" lon=\"104.06\"><tag k=\"amenity\" v=\"bench\"/>"
                                       "</node>\n</osm>\n")
        cfg = sub / "area.toml"
        if body is not None:
            cfg.write_text(body, encoding="utf-8")
        jobs.append({"args": ["run", str(cfg), "--quiet"], "cwd": str(sub), "stdout": str(sub / "stdout.txt"),
                     "stderr": str(sub / "stderr.txt")})
    (folder / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    return [str(Path(__file__).with_name("forked_cli.py")), str(folder / "jobs.json")], folder


#: The command lines below run as soon as collection is done, beside the other tests, in this order (the
#: longest first; conftest: ``early_cli``).
EARLY_CLI = {
    "elderly": lambda folder: (["-m", "servicecircle", "run", str(CHENGDU_CONFIG), "--out", str(folder / "out"),
                                "--speed-profile", "elderly", "--quiet", "--offline", "--lang", "en", "--basemap",
                                "none"], CHENGDU_CONFIG.parent.parent),
    "bad_inputs": _bad_inputs,
    "help": lambda folder: (["-m", "servicecircle", "run", "--help"], CHENGDU_CONFIG.parent),
}


@pytest.mark.early_cli("bad_inputs")
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_fail_cleanly(case, request):
    ran, folder = early_cli_result(request, "bad_inputs")
    assert ran.returncode == 0, ran.stderr
    returncode = json.loads(ran.stdout)[list(BAD_INPUTS).index(case)]
    stderr = (folder / case / "stderr.txt").read_text(encoding="utf-8")
    assert returncode != 0
    assert "Traceback" not in stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("servicecircle：错误：")  # zh, the default language
    # The message itself in Chinese too (the catalogue's wording), naming the file or key at fault.
    expected = {"missing_config": "配置文件不存在", "missing_osm": "nowhere.osm",
                "typo": "配置项 'acess'：未知的配置节", "h3_20": "配置项 'grid.h3_resolution'：应在 7 至 12 之间",
                "no_walkable": "没有可步行的道路"}[case]
    assert expected in line
    assert not re.search(r"\b(not found|expected|must|got|no walkable)\b", line), line


@pytest.mark.slow  # ~2 s importing the package in a subprocess
@pytest.mark.early_cli("help")
def test_help_is_for_planners(request):
    done, _ = early_cli_result(request, "help")
    assert done.returncode == 0
    assert "CONFIG.toml" in done.stdout and "index.html" in done.stdout and "elderly" in done.stdout


@pytest.mark.slow  # a full run of the Chengdu sample in a subprocess (~10 s)
@pytest.mark.early_cli("elderly")
def test_cli_run_with_the_elderly_speed_profile(chengdu_run, request):
    done, folder = early_cli_result(request, "elderly")
    out = folder / "out"
    assert done.returncode == 0, done.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "15-minute service circle report" in page and 'lang="en"' in page and "0.8 m/s" in page
    shown = (out / "map.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" not in shown and "no basemap" in shown  # --basemap none
    assert "<script src=" not in shown  # --offline: everything inlined
    assert "walking 0.8 m/s" in done.stdout and "OSM lists no 养老服务" in done.stdout
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["speed_m_s"] == 0.8 and s["speed_profile"] == "elderly"
    slow = s["categories"]["health_centre"]["population_covered_share"]
    fast = chengdu_run.summary["categories"]["health_centre"]["population_covered_share"]
    assert 0 < slow < fast  # 15 minutes at 0.8 m/s is 720 m instead of 900 m
