from servicecircle.config import make_config
from servicecircle.facilities import match_category


def _cat(key):
    return make_config({"area": {"name": "t", "bbox": [104.0, 30.6, 104.1, 30.7]}}).categories[key]


def test_keywords_find_chinese_names_and_nothing_wider():
    elder, canteen, nursery = _cat("elder_care"), _cat("canteen"), _cat("nursery")
    assert match_category(elder, {}, "东城社区日间照料中心") == ("keyword", True)
    assert match_category(elder, {}, "福寿敬老院") == ("keyword", True)
    assert match_category(elder, {}, "河西区老年大学") is None  # a school
    assert match_category(canteen, {}, "五大道长者食堂") == ("keyword", True)
    assert match_category(canteen, {}, "人民食堂") is None  # a restaurant
    assert match_category(canteen, {"amenity": "restaurant"}, "老街食堂") is None
    assert match_category(nursery, {}, "小海豚托育中心") == ("keyword", True)
    assert match_category(nursery, {"shop": "baby_goods"}, "育婴用品店") is None


def test_tag_rules_and_flagged_kindergartens():
    elder, nursery = _cat("elder_care"), _cat("nursery")
    assert match_category(elder, {"amenity": "social_facility", "social_facility:for": "senior"}, "") == ("tag", True)
    assert match_category(elder, {"amenity": "nursing_home"}, "") == ("tag", True)
    assert match_category(elder, {"amenity": "social_facility", "social_facility:for": "child"}, "") is None
    assert match_category(nursery, {"amenity": "childcare"}, "") == ("tag", True)
    # kindergartens are listed, not counted, unless the category says so
    assert match_category(nursery, {"amenity": "kindergarten"}, "阳光幼儿园") == ("tag", False)
    assert match_category(nursery, {}, "阳光幼儿园") == ("keyword", False)
    counting = make_config({"area": {"name": "t", "bbox": [104.0, 30.6, 104.1, 30.7]},
                            "categories": {"nursery": {"count_flagged": True}}}).categories["nursery"]
    assert match_category(counting, {"amenity": "kindergarten"}, "") == ("tag", True)


def test_chengdu_facilities_are_what_osm_holds(chengdu_run):
    """Counted in the data: 28 hospitals, 2 doctors, 5 kindergartens, 1 childcare, no elder care, no canteen."""
    f = chengdu_run.facilities
    counted = f[f["counted"]]
    assert (counted["category"] == "elder_care").sum() == 0
    assert (counted["category"] == "canteen").sum() == 0
    nursery = f[f["category"] == "nursery"]
    assert nursery["counted"].sum() == 1  # the one amenity=childcare
    assert (nursery["match"].eq("tag") & ~nursery["counted"]).sum() == 5  # the 5 amenity=kindergarten
    assert nursery.loc[~nursery["counted"], "flag_note"].str.contains("托班").all()
    health = counted[counted["category"] == "health_centre"]
    assert len(health) >= 30  # 28 hospitals + 2 doctors (+ any clinic)
    assert set(f.geom_type) == {"Point"}
    assert f["facility_id"].is_unique
    # every facility is listed with its snap; none silently dropped
    assert f["snap_offset_m"].notna().all()
    assert (f["off_network"] == (f["snap_offset_m"] > chengdu_run.config.network.max_snap_m)).all()


def test_off_network_facilities_are_named_with_their_distance(hexi_goal_registry_run, capsys):
    """Each facility beyond [network] max_snap_m gets an input-report line (its registry file and row,
    the distance) and the console names it: a misplaced point is found, not silently reaching nobody."""
    from servicecircle import cli

    run = hexi_goal_registry_run
    off = run.facilities[run.facilities["off_network"]]
    assert len(off) >= 1 and (off["snap_offset_m"] > run.config.network.max_snap_m).all()
    lines = run.input_report.frame()
    lines = lines[lines["problem"].str.contains("距最近步行道路")]
    assert len(lines) == len(off)
    for f in off.itertuples():
        line = lines[(lines["file"] == f.registry_file) & (lines["row"] == f.registry_row)]
        assert len(line) == 1 and f"{f.snap_offset_m:,.0f} 米" in line["problem"].iloc[0] and f.name in line["problem"].iloc[0]
    cli._print_off_network(run)
    out = capsys.readouterr().out
    assert f"{len(off)} 处设施距步行路网过远" in out
    assert all(name in out for name in off["name"])
