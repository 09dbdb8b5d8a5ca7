"""The printable report (report_print.html) of Hexi with the street test registry (test input: one elder-care
centre and one nursery per street, one canteen with a hostile name).

What each street's page says is checked against the run's own tables: its residents, its failing
communities (recomputed here from the scorecard), the facilities drawn on its maps.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from servicecircle import printpage

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]


@pytest.fixture(scope="module")
def print_page(hexi_street_registry_run) -> str:
    return (hexi_street_registry_run.config.output.out_dir / "report_print.html").read_text(encoding="utf-8")


def _sheets(page: str) -> list[str]:
    return page.split('<div class="sheet">')[1:]


def test_one_a4_sheet_for_the_district_then_one_per_street(print_page, hexi_street_registry_run):
    streets = hexi_street_registry_run.streets
    sheets = _sheets(print_page)
    assert len(sheets) == 1 + len(streets)
    assert "@page{size:A4" in print_page and "break-after:page" in print_page
    for sheet, name, residents in zip(sheets[1:], streets["name"], streets["residents"]):
        assert f"<h2>{name}</h2>" in sheet
        assert f"居民 {residents:,.0f} 人" in sheet


def test_failing_communities_of_each_street_are_the_scorecards(print_page, hexi_street_registry_run):
    run = hexi_street_registry_run
    sc = run.scorecard
    failed = sc[(sc["level"] == "community") & sc["passed"].eq(False)]
    street_of = dict(zip(run.communities["community_id"], run.communities["street_id"]))
    for sheet, sid in zip(_sheets(print_page)[1:], run.streets["street_id"]):
        expected = {name for uid, name in zip(failed["unit_id"], failed["unit_name"]) if street_of.get(uid) == sid}
        listed = set(re.findall(r"<tr><td>([^<]+)</td><td>[^<]*</td></tr>", sheet.split("未达标社区")[-1]))
        assert listed == expected


def test_maps_draw_every_counted_facility_of_its_category(print_page, hexi_street_registry_run):
    facilities = hexi_street_registry_run.facilities
    district = _sheets(print_page)[0]
    figures = district.split("<figure>")[1:]
    assert len(figures) == 3  # one map per category
    for figure, cat in zip(figures, ("elder_care", "canteen", "nursery")):
        assert figure.count("<circle") == int((facilities["category"] == cat).sum())
    # A street's maps show the facilities inside it: one elder-care centre per street, at its representative point.
    for sheet in _sheets(print_page)[1:]:
        assert sheet.split("<figure>")[1].count("<circle") == 1
    assert "<img src=x" not in print_page  # no text from inputs reaches the page unescaped


def test_english_print_page(hexi_street_registry_run):
    run = hexi_street_registry_run
    en = dataclasses.replace(run, config=run.config.with_settings(output={"lang": "en"}))
    page = printpage.build_print_page(en)
    assert "Communities failing a goal" in page and "printable report" in page
    assert "未达标社区" not in page
