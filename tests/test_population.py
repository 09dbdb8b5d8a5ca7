"""Population inputs: population_total, census totals and age shares, per-community tables."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from servicecircle import communities, population
from servicecircle.config import Boundaries, PopulationInputs
from servicecircle.inputs import InputReport

CENSUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "census" / "census_county_2020_v1.xlsx"


def test_population_total_scales_the_estimate(chengdu_config, chengdu_run):
    scaled = replace(chengdu_config, population_total=1_000_000.0)
    origins, info = population.apply_inputs(chengdu_run.origins, chengdu_run.communities, None, {}, scaled, InputReport())
    assert np.isclose(origins["residents"].sum(), 1_000_000.0)
    ratio = origins["residents"].to_numpy() / np.maximum(chengdu_run.origins["residents"].to_numpy(), 1e-12)
    assert np.allclose(ratio[chengdu_run.origins["residents"] > 0], 1_000_000.0 / chengdu_run.origins["residents"].sum())
    assert "population_total" in info["scaled_to"]


def test_census_figures_for_hexi_district():
    hexi = population.census_figures(CENSUS, "120103")
    # The published 2020 figures for 河西区 (shared/data README).
    assert hexi["total"] == 822_174
    assert hexi["groups"] == {"60plus": 230_176, "0_4": 30_332}
    with pytest.raises(Exception, match="census_code '999999' not found"):
        population.census_figures(CENSUS, "999999")
