"""Per-community figures computed for all communities at once, against plain per-group references."""

import numpy as np
import pandas as pd
import pytest

from servicecircle import communities
from servicecircle.communities import GroupSums, walk_stats


def _weighted_quantile(values, weights, q):
    """The definition: the first value, in ascending (stable) order, whose cumulative weight ≥ q × total − 1e-9."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1] - 1e-9)])


def _reference_walk_stats(groups, minutes, weights, q=0.95):
    mean, quantile = {}, {}
    for g in np.unique(groups):
        w, m = weights[groups == g], minutes[groups == g]
        if w.sum() > 0 and np.isfinite(m[w > 0]).all():
            with np.errstate(invalid="ignore"):  # inf × 0 where nobody lives: the mean is NaN
                mean[g] = float(np.average(m, weights=w))
            quantile[g] = _weighted_quantile(m, w, q)
    return pd.Series(mean, dtype=float), pd.Series(quantile, dtype=float)


def test_group_sums_are_numpys_own_sum_of_each_group():
    """Test input: random groups of every size around numpy's pairwise blocks (8, 128 and their halvings)."""
    rng = np.random.default_rng(1)
    sizes = np.concatenate([rng.integers(0, 20, 500), rng.integers(0, 400, 60),
                            [0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1023, 1025, 40_000]])
    groups = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(groups)
    groups[rng.random(len(groups)) < 0.05] = -1  # in no group
    values = rng.random(len(groups)) * rng.choice([1e-3, 1.0, 1e4], len(groups))
    sums = GroupSums(groups, len(sizes))
    expected = np.array([values[groups == g].sum() for g in range(len(sizes))])
    np.testing.assert_array_equal(sums(values), expected)  # bit for bit, not approximately
    assert not np.array_equal(np.bincount(groups[groups >= 0], values[groups >= 0], len(sizes)), expected)
    np.testing.assert_array_equal(sums(values * 2.5), np.array([(values * 2.5)[groups == g].sum()
                                                                for g in range(len(sizes))]))


def test_walk_stats_equal_the_per_group_definitions():
    """Test input: ties, unreachable origins with and without residents, groups weighing nothing."""
    rng = np.random.default_rng(2)
    n = 20_000
    groups = rng.integers(0, 900, n) * 3  # ids need not be consecutive
    minutes = np.round(rng.random(n) * 20, 1)  # many ties
    weights = np.where(rng.random(n) < 0.1, 0.0, rng.random(n) * 50)
    unreached = rng.random(n) < 0.01
    minutes[unreached] = np.inf
    weights[(groups % 7 == 0) & unreached] = 0.0  # unreachable but nobody lives there: still described
    weights[groups == 3] = 0.0  # weighs nothing: not described
    equal = groups == 6
    weights[equal], minutes[equal] = 10.0, np.arange(equal.sum())  # equal weights: q × total hits a sum exactly
    mean, p95 = walk_stats(groups, minutes, weights)
    ref_mean, ref_p95 = _reference_walk_stats(groups, minutes, weights)
    assert 3 not in p95.index and len(p95) > 100
    pd.testing.assert_series_equal(p95, ref_p95, check_exact=True, check_index_type=False)
    pd.testing.assert_series_equal(mean, ref_mean, check_exact=True, check_index_type=False)
    empty_mean, empty_p95 = walk_stats(np.zeros(0, int), np.zeros(0), np.zeros(0))
    assert len(empty_mean) == len(empty_p95) == 0


@pytest.mark.slow  # each case is a full run on a real sample
@pytest.mark.needs_data
@pytest.mark.parametrize("which", ["chengdu_run", "hexi_run"])
def test_community_walk_figures_equal_the_per_community_reference(which, request):
    r = request.getfixturevalue(which)
    cid = r.unit_of_origin["community"]
    keep = cid >= 0
    cells = r.cells.set_index("h3")
    comm = r.communities.set_index("community_id")
    for key in r.config.categories:
        minutes = cells[f"walk_time_s_{key}"].reindex(r.origins["h3"]).to_numpy(float)[keep] / 60.0
        mean, p95 = _reference_walk_stats(cid[keep], minutes, r.origins["residents"].to_numpy()[keep])
        got_mean = comm[f"mean_walk_min_{key}"].dropna()
        got_p95 = comm[f"p95_walk_min_{key}"].dropna()
        assert list(got_p95.index) == list(p95.index)
        np.testing.assert_array_equal(got_p95.to_numpy(), p95.to_numpy())
        np.testing.assert_array_equal(got_mean.to_numpy(), mean.reindex(got_mean.index).to_numpy())


def test_street_rollup_keeps_street_outlines_where_no_community_links(hexi_run):
    streets = hexi_run.streets[["street_id", "name", "code", "source", "geometry"]].copy()
    comms = hexi_run.communities.copy()
    comms.loc[comms["street_id"] == 0, "street_id"] = -1  # street 0 loses its communities
    rolled = communities.rollup_geometry(streets, comms)
    assert rolled.geometry.iloc[0].equals(streets.geometry.iloc[0])
    members = comms[comms["street_id"] == 1].geometry.union_all()
    assert rolled.geometry.iloc[1].symmetric_difference(members).area < 1e-12
