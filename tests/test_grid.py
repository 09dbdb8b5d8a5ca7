import h3
import numpy as np

from servicecircle.grid import weighted_median


def test_weighted_median_by_hand():
    groups = np.array(["a", "a", "a", "b", "b", "c"])
    values = np.array([1.0, 5.0, 9.0, 2.0, np.inf, 7.0])
    weights = np.array([1.0, 1.0, 5.0, 3.0, 1.0, 0.0])
    med = weighted_median(groups, values, weights)
    assert med["a"] == 9.0  # 5 of 7 residents walk 9
    assert med["b"] == 2.0  # the unreachable quarter does not decide
    assert med["c"] == 7.0  # no residents: the single (centre) origin


def test_cells_cover_the_study_area_at_the_configured_resolution(chengdu_run):
    cells = chengdu_run.cells
    assert cells["h3"].is_unique
    assert {h3.get_resolution(c) for c in cells["h3"]} == {10}
    west, south, east, north = chengdu_run.config.area.bbox
    area_km2 = (east - west) * 111.32 * np.cos(np.radians(30.69)) * (north - south) * 110.57
    assert abs(len(cells) * h3.average_hexagon_area(10, "km^2") / area_km2 - 1) < 0.05
    assert (cells["residents"] >= 0).all()
    assert (cells["residents"] > 0).sum() > 500


def test_cell_flags_follow_walk_times(chengdu_run):
    cells, config = chengdu_run.cells, chengdu_run.config
    for key in config.categories:
        t = cells[f"walk_time_s_{key}"]
        assert (cells[f"covered_{key}"] == (t <= 900)).all()
    expected = np.logical_and.reduce([cells[f"covered_{k}"] for k in config.complete_circle])
    assert (cells["complete"] == expected).all()
    # no elder-care facility in OSM here: nobody is covered, times are unreachable
    assert np.isinf(cells["walk_time_s_elder_care"]).all()
    assert not cells["complete"].any()
    hc = cells["walk_time_s_health_centre"]
    assert np.isfinite(hc).all() and hc.min() < 300
