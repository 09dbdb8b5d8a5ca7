"""Reuse of cached stages and up-to-date outputs: same answers, and never a stale one."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

import pandas as pd

from servicecircle import run, runcache
from servicecircle.config import Registry


def _frames_equal(a, b):
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry", errors="ignore")),
                                  pd.DataFrame(b.drop(columns="geometry", errors="ignore")))
    if "geometry" in a:
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()


def test_file_digest_follows_content_not_the_clock(tmp_path):
    path = tmp_path / "registry.csv"
    path.write_text("name,lon,lat\nA,104.0,30.6\n", encoding="utf-8")
    first = runcache.file_digest(path)
    os.utime(path, ns=(1, 1))  # touched: same bytes
    assert runcache.file_digest(path) == first
    path.write_text("name,lon,lat\nA,104.0,30.7\n", encoding="utf-8")
    assert runcache.file_digest(path) != first


def test_key_sees_input_files_and_settings_but_not_the_output_folder(chengdu_config, tmp_path):
    reg = tmp_path / "registry.csv"
    reg.write_text("机构名称,经度,纬度\n测试养老院,104.06,30.66\n", encoding="utf-8")  # test input
    spec = Registry(path=reg, coord_system="wgs84", encoding=None, sheet=None, category="elder_care",
                    columns=(), category_values=())
    config = chengdu_config.with_settings(facilities={"registries": (spec,)})
    key = runcache.settings_key(config, leave_out=("output.out_dir",))
    assert runcache.settings_key(config.with_settings(output={"out_dir": tmp_path / "elsewhere"}), leave_out=("output.out_dir",)) == key
    assert runcache.settings_key(config.with_settings(network={"max_snap_m": config.network.max_snap_m + 1}), leave_out=("output.out_dir",)) != key
    reg.write_text("机构名称,经度,纬度\n测试养老院,104.06,30.67\n", encoding="utf-8")
    assert runcache.settings_key(config, leave_out=("output.out_dir",)) != key


def test_rerun_reuses_the_analysis_and_leaves_the_files(chengdu_rerun):
    """The Chengdu run in its own cache and output folders, then again: the second comes from the cache."""
    first, again, stamps = chengdu_rerun.first, chengdu_rerun.again, chengdu_rerun.stamps
    assert "OSM features" in first.seconds and first.summary["outputs_written"] == ["tables", "scorecard", "pages"]
    assert "analysis (cached)" in again.seconds and "goals (cached)" in again.seconds
    assert "OSM features" not in again.seconds and "walk times" not in again.seconds
    assert again.summary["outputs_written"] == []
    out = again.config.output.out_dir
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name in stamps} == stamps
    assert set(again.files) == set(first.files)
    assert set(again.summary["outputs_kept"]) == {str(p) for k, p in again.files.items() if k != "summary"}


def test_cached_results_equal_the_computed_ones(chengdu_run, chengdu_rerun):
    again = chengdu_rerun.again
    for name in ("cells", "communities", "facilities", "origins", "blind_spots", "service_areas"):
        _frames_equal(getattr(again, name), getattr(chengdu_run, name))
    pd.testing.assert_frame_equal(again.scorecard, chengdu_run.scorecard)
    pd.testing.assert_frame_equal(again.origin_times, chengdu_run.origin_times)
    assert again.summary["categories"] == chengdu_run.summary["categories"]


def test_another_goal_reuses_the_analysis_and_rewrites_only_what_it_changes(chengdu_run, tmp_path):
    config = chengdu_run.config
    first = config.goals[0]
    changed = config.with_settings(output={"out_dir": tmp_path}, goals=(replace(first, target=first.target / 2),) + config.goals[1:])
    run(config.with_settings(output={"out_dir": tmp_path}), progress=False)  # this folder's files, up to date
    csv = (tmp_path / "communities.csv").stat().st_mtime_ns
    result = run(changed, progress=False)
    assert "analysis (cached)" in result.seconds and "goals" in result.seconds
    assert result.summary["outputs_written"] == ["scorecard", "pages"]
    assert (tmp_path / "communities.csv").stat().st_mtime_ns == csv
    target = result.scorecard.loc[result.scorecard["goal"] == first.key, "target"]
    assert (target == first.target / 2).all()
    # Computed from nothing, the same goal gives the same scorecard (service areas, which no goal reads,
    # drawn the cheap way: as cells, none per facility).
    fresh = run(changed.with_settings(output={"out_dir": tmp_path / "fresh", "facility_areas": "none",
                                       "service_areas": "cells"}),
                write=False, progress=False, reuse=False)
    pd.testing.assert_frame_equal(result.scorecard, fresh.scorecard)


def test_an_edited_output_is_written_again(chengdu_run, tmp_path):
    config = chengdu_run.config.with_settings(output={"out_dir": tmp_path})
    run(config, progress=False)
    edited = tmp_path / "communities.csv"
    original = edited.read_bytes()
    edited.write_bytes(original.replace(b",", b";", 1))
    result = run(config, progress=False)
    assert result.summary["outputs_written"] == ["tables"]
    assert edited.read_bytes() == original


def test_another_language_is_never_worded_from_the_cache(chengdu_run, tmp_path):
    """The analysis holds worded lines (input_report.csv, notes): another language computes it again."""
    config = chengdu_run.config.with_settings(output={"out_dir": tmp_path})
    run(config, progress=False)
    result = run(config.with_settings(output={"lang": "en"}), progress=False)
    assert "analysis (cached)" not in result.seconds
    assert result.summary["outputs_written"] == ["tables", "scorecard", "pages"]
    assert "not assessed" in (tmp_path / "scorecard.csv").read_text(encoding="utf-8-sig")
    assert 'lang="en"' in (tmp_path / "index.html").read_text(encoding="utf-8")
    again = run(config, progress=False)  # zh again: its own cached analysis, its own files written back
    assert "analysis (cached)" in again.seconds and again.summary["outputs_written"] == ["tables", "scorecard", "pages"]


def test_tables_and_cache_written_by_a_forked_child_are_the_same(chengdu_run, chengdu_rerun):
    """At city size the tables and the cache are written in a forked child: same bytes, same reuse.

    ``chengdu_rerun.first`` was run with ``pipeline.FORK_MIN_CELLS`` = 0 (fork even for the sample)."""
    import pyogrio

    from servicecircle import parallel

    first, out = chengdu_rerun.first, chengdu_rerun.first.config.output.out_dir
    assert parallel.can_fork() == sys.platform.startswith("linux")
    here = chengdu_run.config.output.out_dir
    for name in ("communities.csv", "blind_spots.csv", "health_adjacency.csv", "input_report.csv"):
        assert (out / name).read_bytes() == (here / name).read_bytes(), name
    for layer in ("cells", "communities", "facilities"):
        a = pyogrio.read_dataframe(out / "servicecircle.gpkg", layer=layer)
        b = pyogrio.read_dataframe(here / "servicecircle.gpkg", layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
    assert first.summary["outputs_written"] == ["tables", "scorecard", "pages"]
    again = chengdu_rerun.again  # the child stored the analysis: this run reuses it
    assert "analysis (cached)" in again.seconds and again.summary["outputs_written"] == []


def test_least_recently_used_results_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr(runcache, "KEEP_PER_STAGE", 3)  # the package's own (the suite keeps more: conftest)
    cache = runcache.StageCache(tmp_path, "area")
    for i in range(runcache.KEEP_PER_STAGE):
        cache.store("analysis", f"k{i}", i)
        os.utime(cache._path("analysis", f"k{i}"), ns=(10**9 * (i + 1),) * 2)
    assert cache.load("analysis", "k0") == 0  # used now: kept over k1
    cache.store("analysis", "new", "n")
    assert cache.load("analysis", "k1") is None
    assert cache.load("analysis", "k0") == 0 and cache.load("analysis", "new") == "n"
    assert runcache.StageCache(tmp_path, "another area").load("analysis", "new") is None
