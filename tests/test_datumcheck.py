"""The coordinate-system check of registries (servicecircle.datumcheck): correct advice or "cannot tell", never wrong.

Test inputs, built here (no public geocoded registry exists for these areas): registries shaped like real ones,
points inside blocks, not on roads — in Hexi the representative points of the real community polygons with the
community's name in a 社区 column, in Chengdu points on the OSM buildings and residential parcels of the sample —
written in each of the three systems with the package's own forward conversion and declared as each.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CHENGDU_OSM, HEXI, require_data

from servicecircle import coords, datumcheck, osm, pipeline
from servicecircle.config import Registry
from servicecircle.inputs import InputReport

SYSTEMS = coords.SYSTEMS
PAIRS = [(true, declared) for true in SYSTEMS for declared in SYSTEMS]


def right(result: dict, true: str | None) -> bool:
    """The verdict is correct advice, or "cannot_tell"; with no true system (random points) only "cannot_tell"."""
    v = result["verdict"]
    if v == "cannot_tell":
        return True
    if true is None:
        return False
    return (v == "confirmed" and result["declared"] == true) or (v == "switch" and result["suggested"] == true)


@pytest.fixture(scope="module")
def hexi():
    require_data(HEXI / "hexi_communities.geojson", HEXI / "hexi_streets.geojson")
    comms = gpd.read_file(HEXI / "hexi_communities.geojson")
    streets = gpd.read_file(HEXI / "hexi_streets.geojson")
    xy = shapely.get_coordinates(comms.geometry.representative_point().to_numpy())
    street_of = dict(zip(streets["code"].astype(str), streets["name"]))
    # As an office writes them: 福建路社区居委会 → 福建路社区 (matched through the package's names_match).
    names = comms["name"].str.replace("居委会", "", regex=False).to_numpy(dtype=object)
    street_names = np.array([street_of.get(str(p), "") for p in comms["parentcode"]], dtype=object)
    return datumcheck.evidence_for_run(None, comms, streets), xy, names, street_names


@pytest.fixture(scope="module")
def chengdu():
    require_data(CHENGDU_OSM)
    evidence = datumcheck.evidence_for_run(osm.features_from_file(CHENGDU_OSM), None, None)
    xy = shapely.get_coordinates(shapely.point_on_surface(evidence.parcels))
    return evidence, xy


def test_the_forward_conversion_matches_a_published_pair_and_round_trips():
    # wandergis/coordTransform's published example:
    # WGS-84 (116.404, 39.915) → GCJ-02 (116.41024449916938, 39.91640428150164).
    glon, glat = coords.wgs84_to_gcj02(116.404, 39.915)
    assert abs(glon - 116.41024449916938) < 1e-9 and abs(glat - 39.91640428150164) < 1e-9
    for system in SYSTEMS:
        lon, lat = coords.to_wgs84(*coords.from_wgs84(117.2, 39.1, system), system)
        assert abs(lon - 117.2) < 1e-8 and abs(lat - 39.1) < 1e-8


@pytest.mark.parametrize(("true", "declared"), PAIRS)
def test_hexi_community_names_give_the_right_system_in_every_combination(hexi, true, declared):
    evidence, xy, names, _ = hexi
    lon, lat = coords.from_wgs84(xy[:, 0], xy[:, 1], true)
    result = datumcheck.check(lon, lat, declared, evidence, {"community": names})
    assert result["points"] == len(xy)
    # Evidence exists (141 named points): the wrong declarations are caught, the right ones confirmed.
    assert result["verdict"] == ("confirmed" if true == declared else "switch"), result
    assert right(result, true)


@pytest.mark.parametrize(("true", "declared"), PAIRS)
def test_hexi_street_names_alone_never_mislead(hexi, true, declared):
    evidence, xy, _, street_names = hexi
    lon, lat = coords.from_wgs84(xy[:, 0], xy[:, 1], true)
    result = datumcheck.check(lon, lat, declared, evidence, {"street": street_names})
    assert right(result, true), result


@pytest.mark.parametrize(("true", "declared"), PAIRS)
def test_chengdu_points_on_their_parcels_give_the_right_system_in_every_combination(chengdu, true, declared):
    evidence, xy = chengdu
    pick = np.random.default_rng(13).choice(len(xy), 150, replace=False)
    lon, lat = coords.from_wgs84(xy[pick, 0], xy[pick, 1], true)
    result = datumcheck.check(lon, lat, declared, evidence)
    assert result["verdict"] == ("confirmed" if true == declared else "switch"), result


def test_chengdu_points_near_but_off_their_parcels_never_mislead(chengdu):
    """Geocoded to the street in front (40–100 m off the parcel): weaker evidence, still never wrong."""
    evidence, xy = chengdu
    rng = np.random.default_rng(5)
    i = rng.choice(len(xy), 300)
    a, d = rng.uniform(0, 2 * np.pi, 300), rng.uniform(40, 100, 300)
    x = xy[i, 0] + d * np.cos(a) / (111_320 * np.cos(np.deg2rad(30.69)))
    y = xy[i, 1] + d * np.sin(a) / 110_574
    for true, declared in PAIRS:
        result = datumcheck.check(*coords.from_wgs84(x, y, true), declared, evidence)
        assert right(result, true), (true, declared, result)


def test_community_names_match_without_their_endings(hexi):
    evidence, xy, names, _ = hexi
    assert datumcheck.unit_key("福建路社区居委会") == datumcheck.unit_key("福建路社区") == "福建路"
    short = np.array([datumcheck.unit_key(n) for n in names], dtype=object)  # 福建路, as some lists write it
    result = datumcheck.check(*coords.from_wgs84(xy[:, 0], xy[:, 1], "gcj02"), "wgs84", evidence, {"community": short})
    assert result["verdict"] == "switch" and result["suggested"] == "gcj02" and result["points"] > 130


def test_name_pairs_from_the_indexes_equal_every_pair_compared(hexi):
    """The indexed name match equals the rule applied to every value × polygon pair (names_match, or the same
    name without its ending), on the real Hexi names and test variants of them: endings added and cut,
    brackets and spaces, a street's name before the community's, a name cut to 3 characters, empty."""
    from servicecircle.registries import names_match

    _, _, names, _ = hexi
    rng = np.random.default_rng(12)
    picked = rng.choice(names, 60)
    values = np.array([*names[:40], *[n + "居委会" for n in picked[:10]], *[datumcheck.unit_key(n) for n in picked[10:20]],
                       *[f"（河西）{n} " for n in picked[20:30]], *["友谊路街道" + n for n in picked[30:40]],
                       *[n[:3] for n in picked[40:50]], *[n[1:] for n in picked[50:]], "", "社区", "不存在的名字"],
                      dtype=object)
    inverse, pairs = datumcheck._name_match(values, names)
    keys = [datumcheck.unit_key(n) for n in names]
    unique = sorted({datumcheck.normalise_name(v) for v in values})
    expected = {i * len(names) + g for i, u in enumerate(unique) for g, (n, k) in enumerate(zip(names, keys))
                if u and (names_match(u, n) or datumcheck.unit_key(u) == k != "")}
    assert set(pairs.tolist()) == expected
    assert len(expected) > 60  # most variants match a community (the 3-character cuts and the unknown name do not)
    assert [unique[i] for i in inverse] == [datumcheck.normalise_name(v) for v in values]


def test_no_evidence_or_too_few_points_cannot_tell(hexi, chengdu):
    evidence, xy, names, _ = hexi
    lon, lat = coords.from_wgs84(xy[:4, 0], xy[:4, 1], "gcj02")
    few = datumcheck.check(lon, lat, "wgs84", evidence, {"community": names[:4]})
    assert few["verdict"] == "cannot_tell" and few["points"] == 4
    unnamed = datumcheck.check(lon, lat, "wgs84", evidence, {"community": np.array([""] * 4, dtype=object)})
    assert unnamed["verdict"] == "cannot_tell" and unnamed["points"] == 0
    # Chengdu points outside every parcel's bounds have no evidence at all.
    far = datumcheck.check(np.full(10, 104.5), np.linspace(30.9, 31.0, 10), "gcj02", chengdu[0])
    assert far["verdict"] == "cannot_tell" and far["points"] == 0


@pytest.mark.slow  # 400 registries
def test_null_small_random_registries_never_give_wrong_advice(hexi, chengdu):
    """400 small registries (5–30 points): real-shaped points in a random true system, declared at random, and
    points at random places with random community names (no system is right: only "cannot_tell" is)."""
    h_evidence, h_xy, h_names, _ = hexi
    c_evidence, c_xy = chengdu
    rng = np.random.default_rng(2026)
    counts: dict[str, dict[str, int]] = {}
    wrong = []
    for kind in ("hexi_real", "chengdu_real", "hexi_random", "chengdu_random"):
        tally = counts.setdefault(kind, {"confirmed": 0, "switch": 0, "cannot_tell": 0})
        for _ in range(100):
            m = int(rng.integers(5, 31))
            true: str | None = SYSTEMS[rng.integers(3)]
            declared = SYSTEMS[rng.integers(3)]
            names = None
            if kind == "hexi_real":
                i = rng.choice(len(h_xy), m, replace=False)
                x, y, names, evidence = h_xy[i, 0], h_xy[i, 1], {"community": h_names[i]}, h_evidence
            elif kind == "chengdu_real":
                i = rng.choice(len(c_xy), m, replace=False)
                x, y, evidence = c_xy[i, 0], c_xy[i, 1], c_evidence
            elif kind == "hexi_random":
                b = shapely.total_bounds(h_evidence.units["community"][1])
                x, y = rng.uniform(b[0], b[2], m), rng.uniform(b[1], b[3], m)
                names, evidence, true = {"community": h_names[rng.integers(len(h_names), size=m)]}, h_evidence, None
            else:
                b = shapely.total_bounds(c_evidence.parcels)
                x, y, evidence, true = rng.uniform(b[0], b[2], m), rng.uniform(b[1], b[3], m), c_evidence, None
            result = datumcheck.check(*coords.from_wgs84(x, y, true or "wgs84"), declared, evidence, names)
            tally[result["verdict"]] += 1
            if not right(result, true):
                wrong.append((kind, true, declared, result))
    print("null test verdicts:", counts)
    assert not wrong, wrong[:3]
    assert counts["hexi_random"]["cannot_tell"] == counts["chengdu_random"]["cannot_tell"] == 100


def test_two_thousand_points_take_about_a_second(chengdu):
    evidence, xy = chengdu
    rng = np.random.default_rng(1)
    i = rng.choice(len(xy), 2000)
    lon, lat = coords.from_wgs84(xy[i, 0], xy[i, 1], "gcj02")
    datumcheck.check(lon[:50], lat[:50], "wgs84", evidence)  # warm-up
    start = time.perf_counter()
    result = datumcheck.check(lon, lat, "wgs84", evidence)
    seconds = time.perf_counter() - start
    print(f"2,000 points: {seconds:.2f} s")
    assert result["verdict"] == "switch" and result["suggested"] == "gcj02"
    assert seconds < 3.0


def test_a_wrongly_declared_registry_is_warned_about_in_summary_and_input_report(hexi_street_registry_run, tmp_path):
    """Through the pipeline's facility stage on the Hexi run: a CSV of community centres copied from AMap (GCJ-02),
    with a 所属社区 column, declared wgs84 → "switch" to gcj02, a warning and an input-report line; declared
    gcj02 → "confirmed". The session's street registry (no community column, no OSM) → "cannot_tell"."""
    base = hexi_street_registry_run
    check = base.summary["registries"][0]["coordinate_check"]
    assert check["verdict"] == "cannot_tell" and base.summary["registries"][0]["warning"] is None
    assert "无法判断" in check["text"]
    comms = base.communities
    pts = comms.geometry.representative_point()
    glon, glat = coords.wgs84_to_gcj02(pts.x.to_numpy(), pts.y.to_numpy())
    path = tmp_path / "社区服务站.csv"
    table = pd.DataFrame({"名称": [f"{n}养老服务站" for n in comms["name"]], "类别": "社区养老服务站",
                          "经度": glon, "纬度": glat, "所属社区": comms["name"].to_numpy()})
    table.to_csv(path, index=False, encoding="utf-8-sig")
    evidence = datumcheck.evidence_for_run(None, comms, base.streets)
    for declared, verdict in (("wgs84", "switch"), ("gcj02", "confirmed")):
        spec = Registry(path, declared, None, None, None, (), ())
        config = base.config.with_settings(facilities={"registries": (spec,)})
        report = InputReport(lang="zh")
        _, info = pipeline.find_all_facilities(config, osm.features_frame([]), base.network, base.area, report,
                                               evidence)
        check = info[0]["coordinate_check"]
        assert check["verdict"] == verdict, check
        lines = [r for r in report.rows if r["field"] == "coord_system"]
        if verdict == "switch":
            assert check["suggested"] == "gcj02" and info[0]["warning"] == check["text"]
            assert "社区服务站.csv" in check["text"] and 'coord_system = "gcj02"' in check["text"]
            assert len(lines) == 1 and "gcj02" in lines[0]["problem"]
        else:
            assert info[0]["warning"] is None and not lines and "确为" in check["text"]


def test_points_anywhere_inside_their_community_and_half_converted_files(hexi):
    """Facilities anywhere in their community (not at its centre): still the right system. A file half GCJ-02, half
    WGS-84 (two exports pasted together): no single system is right, and none is advised."""
    evidence, _, names, _ = hexi
    polygons = evidence.units["community"][1]
    xy = shapely.get_coordinates(gpd.GeoSeries(polygons).sample_points(1, rng=np.random.default_rng(3)).to_numpy())
    for true, declared in PAIRS:
        result = datumcheck.check(*coords.from_wgs84(xy[:, 0], xy[:, 1], true), declared, evidence,
                                  {"community": names})
        assert result["verdict"] == ("confirmed" if true == declared else "switch") and right(result, true), result
    half = len(xy) // 2
    glon, glat = coords.wgs84_to_gcj02(xy[:half, 0], xy[:half, 1])
    lon, lat = np.r_[glon, xy[half:, 0]], np.r_[glat, xy[half:, 1]]
    for declared in SYSTEMS:
        assert datumcheck.check(lon, lat, declared, evidence, {"community": names})["verdict"] == "cannot_tell"
