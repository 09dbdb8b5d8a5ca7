"""servicecircle compare: Hexi as it is (no facility) against Hexi with the test registry of one elder-care
centre and one nursery per street (``hexi_street_registry_run``: test input, not real facilities).

Each figure the comparison writes is checked against the two runs' own results (their GeoDataFrames and
scorecards in memory, not the files the comparison read), and against a third fact: before, every
populated cell is outside every circle, so what the blind spots still hold after is what run b leaves
uncovered.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from servicecircle import compare
from servicecircle.cli import main
from servicecircle.errors import InputError

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]


@pytest.fixture(scope="module")
def hexi_comparison(hexi_run, hexi_street_registry_run):
    before = compare.read_run(hexi_run.config.output.out_dir, label="today")
    after = compare.read_run(hexi_street_registry_run.config.output.out_dir, label="with the test centres")
    return compare.compare(before, after)


def test_community_shares_before_and_after_are_each_runs_own(hexi_comparison, hexi_run, hexi_street_registry_run):
    comp = hexi_comparison
    assert (comp.communities["present"] == "both").all() and len(comp.communities) == len(hexi_run.communities)
    by_code = comp.communities.set_index("key")  # Hexi has communities sharing a code: numbered #2
    for run, side in ((hexi_run, "a"), (hexi_street_registry_run, "b")):
        c = run.communities
        own = c.set_index(compare.unit_keys(c["code"].astype(str), c["name"], c["street_name"]).to_numpy())
        for cat in ("elder_care", "nursery"):
            np.testing.assert_allclose(by_code.loc[own.index, f"covered_share_{cat}_{side}"].to_numpy(float),
                                       own[f"covered_share_{cat}"].to_numpy(float), atol=1e-5)
    change = by_code["covered_share_nursery_b"] - by_code["covered_share_nursery_a"]
    np.testing.assert_allclose(by_code["covered_share_nursery_change"], change)
    assert (by_code["covered_share_elder_care_a"] == 0).all() and (by_code["covered_share_elder_care_b"] > 0).any()
    assert comp.streets is not None and len(comp.streets) == 14


def test_goals_newly_met_are_those_the_second_scorecard_meets(hexi_comparison, hexi_run, hexi_street_registry_run):
    def met(run) -> set:
        s = run.scorecard
        return set(zip(s["level"], s["unit_name"], s["goal"], s["meaning"])) - set(
            zip(*(s[~s["passed"].eq(True)][c] for c in ("level", "unit_name", "goal", "meaning"))))

    expected = met(hexi_street_registry_run) - met(hexi_run)
    assert expected, "the registry run must meet some goal the bare run does not"
    new = hexi_comparison.goals[hexi_comparison.goals["change"] == "met_new"]
    assert len(new) == len(expected)
    assert not (hexi_comparison.goals["change"] == "lost").any()  # the bare run meets nothing to lose


def test_blind_spots_after_hold_what_the_second_run_leaves_uncovered(hexi_comparison, hexi_street_registry_run):
    cells = hexi_street_registry_run.cells
    spots = hexi_comparison.blind_spots
    for cat in ("elder_care", "nursery", "canteen"):
        mine = spots[(spots["category"] == cat) & (spots["run"] == "a")]
        uncovered = cells.loc[~cells[f"covered_{cat}"].fillna(False).astype(bool), "residents"].sum()
        # Before, no facility: the blind spots hold every resident, so what they still hold is b's uncovered.
        assert mine["residents_still_outside"].sum() == pytest.approx(uncovered, rel=1e-6)
    assert "shrunk" in set(spots.loc[spots["category"] == "elder_care", "status"])


def test_a_run_against_itself_changes_nothing(hexi_run):
    run = compare.read_run(hexi_run.config.output.out_dir)
    comp = compare.compare(run, run)
    assert not comp.differences
    assert (comp.goals["change"] == "same").all()
    assert (comp.blind_spots["status"] == "remaining").all()
    changes = comp.communities.filter(like="_change").to_numpy(float)
    assert np.nanmax(np.abs(changes)) == 0


def test_units_in_one_run_only_are_listed_and_names_are_escaped(hexi_run, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(hexi_run.config.output.out_dir, a)
    shutil.copytree(hexi_run.config.output.out_dir, b)
    table = pd.read_csv(b / "communities.csv", encoding="utf-8-sig", dtype={"code": str})
    gone = table["name"].iloc[3]
    hostile = '<img src=x onerror="window.__pwned=1">某社区'
    table.loc[5, "name"] = hostile
    table.loc[5, "code"] = ""  # no code: matched by name, so the renamed unit is one only in b
    table.drop(index=3).to_csv(b / "communities.csv", index=False, encoding="utf-8-sig")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "zh")]) == 0
    comp = compare.compare(compare.read_run(a), compare.read_run(b))
    present = comp.communities.set_index("name")["present"]
    assert present[gone] == "a" and present[hostile] == "b" and (present == "both").sum() == len(table) - 2
    page = (tmp_path / "zh" / "compare.html").read_text(encoding="utf-8")
    assert hostile not in page and "&lt;img src=x" in page
    assert "仅见于对比前的社区 2 个" in page  # the dropped and the renamed community


def test_english_page_and_workbook(hexi_comparison, tmp_path):
    files = compare.write_comparison(hexi_comparison, tmp_path, lang="en")
    page = files["compare_html"].read_text(encoding="utf-8")
    assert "Before and after" in page and "newly met" in page
    sheets = pd.read_excel(files["compare_xlsx"], sheet_name=None, engine="calamine")
    assert list(sheets) == ["overview", "streets", "communities", "goal changes", "blind spots"]
    overview = sheets["overview"].set_index("category")
    assert overview.loc["托育服务", "facilities after"] == 14  # one nursery per street


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(InputError, match="summary.json: not found") as caught:
        compare.read_run(tmp_path)
    # Worded in the run's language: Chinese under zh, the English of str() under en.
    assert caught.value.worded("zh") == (f"{tmp_path / 'summary.json'}：文件不存在——{tmp_path} 是否为 servicecircle "
                                         "运行的输出文件夹？")
    assert caught.value.worded("en") == str(caught.value)
