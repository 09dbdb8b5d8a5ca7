"""Batch on Dask gives the same answer as one run: the Chengdu sample split into four declared TEST
districts (the quadrants of the sample's bbox; test input, not real 区县 boundaries)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CHENGDU_CONFIG

from servicecircle import batch

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]

WEST, SOUTH, EAST, NORTH = 104.0421, 30.6528, 104.1296, 30.7279
MID_X, MID_Y = (WEST + EAST) / 2, (SOUTH + NORTH) / 2


def _quadrants() -> dict:
    boxes = {"T1": (WEST, MID_Y, MID_X, NORTH), "T2": (MID_X, MID_Y, EAST, NORTH),
             "T3": (WEST, SOUTH, MID_X, MID_Y), "T4": (MID_X, SOUTH, EAST, MID_Y)}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"adcode": code, "name": f"TEST quadrant {code}"},
         "geometry": shapely.geometry.mapping(shapely.box(*b))} for code, b in boxes.items()]}


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory, cache_dir):
    folder = tmp_path_factory.mktemp("batch")
    (folder / "test_districts.geojson").write_text(json.dumps(_quadrants()))
    (folder / "batch.toml").write_text(
        f'[batch]\nbase = "{CHENGDU_CONFIG}"\ndistricts_file = "test_districts.geojson"\n'
        f'code_field = "adcode"\nname_field = "name"\nout_dir = "serial"\n'
        f'[batch.overrides.network]\ncache_dir = "{cache_dir}"\n', encoding="utf-8")
    return folder / "batch.toml"


@pytest.fixture(scope="module")
def serial_batch(batch_file):
    return batch.run_batch(batch.load_batch(batch_file), serial=True)


def test_cells_equal_single_run(serial_batch, chengdu_run):
    assert not serial_batch["failed"]
    whole = pd.DataFrame(chengdu_run.cells)
    merged = serial_batch["cells"]
    assert not merged["h3"].duplicated().any()
    # cells well inside the study area: a walk's reach away from the bbox edge (so no edge effect in either)
    inner = shapely.box(WEST, SOUTH, EAST, NORTH).buffer(-0.012)
    centre = shapely.centroid(chengdu_run.cells.geometry.to_crs(4326).values)
    whole = whole[shapely.contains_xy(inner, shapely.get_x(centre), shapely.get_y(centre))]
    joined = whole.merge(merged, on="h3", suffixes=("_whole", "_batch"))
    assert len(joined) == len(whole) > 0
    times = [c for c in whole.columns if c.startswith("t_") or c.endswith("_s") or "min" in c]
    worst = 0.0
    for col in [c for c in whole.columns if c not in ("h3", "geometry")]:
        a, b = joined[f"{col}_whole"], joined[f"{col}_batch"]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6, rtol=0, equal_nan=True, err_msg=col)
            if col in times:
                worst = max(worst, float(np.nanmax(np.abs(a - b), initial=0.0)))
        else:
            assert (a.astype(str) == b.astype(str)).all(), col
    print(f"max walk-time difference {worst:.3g} s over {len(joined)} cells")


@pytest.mark.xfail(strict=True, reason="known gap: 3 of 171 Chengdu communities reach farther past their district than "
                   "the walk buffer, so their residents outside the buffer are missing; the run's area must also "
                   "cover each district's communities whole (not done)")
def test_communities_equal_single_run(serial_batch, chengdu_run):
    """Every community, those on the split lines included, goes to one district with the whole run's figures."""
    whole = pd.DataFrame(batch.clip_to_district(chengdu_run.cells.iloc[:0], chengdu_run.communities,
                                                shapely.box(WEST, SOUTH, EAST, NORTH))[1])
    # well inside the sample: a community reaching past the sample's edge differs by edge effects (not the split)
    inner = shapely.box(WEST, SOUTH, EAST, NORTH).buffer(-0.012)
    within = shapely.within(chengdu_run.communities.geometry.to_crs(4326).values, inner)
    whole = whole[within[whole.index]] if len(whole) == len(within) else whole
    merged = serial_batch["communities"]
    key = ["name", "rep_lon", "rep_lat"]
    assert not merged.duplicated(key).any()
    joined = whole.merge(merged, on=key, suffixes=("_whole", "_batch"))
    assert len(joined) == len(whole) > 0
    on_split = shapely.intersects(shapely.from_wkt([f"LINESTRING({MID_X} {SOUTH}, {MID_X} {NORTH})"]),
                                  chengdu_run.communities.geometry.to_crs(4326).values)
    print(f"{len(joined)} communities compared, {int(on_split[within].sum())} on the north-south split line")
    for col in [c for c in whole.columns if c not in (*key, "geometry", "community_id")]:
        a, b = joined[f"{col}_whole"], joined[f"{col}_batch"]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6, rtol=0, equal_nan=True, err_msg=col)
        else:
            assert (a.astype(str) == b.astype(str)).all(), col


def test_dask_equals_serial(batch_file, serial_batch):
    settings = batch.load_batch(batch_file)
    on_dask = batch.run_batch(dataclasses.replace(settings, out_dir=settings.out_dir.parent / "dask"), workers=2)
    assert not on_dask["failed"]
    for table in ("cells", "communities"):
        pd.testing.assert_frame_equal(on_dask[table].drop(columns="geometry"),
                                      serial_batch[table].drop(columns="geometry"))


def test_rerun_uses_finished_districts(batch_file, serial_batch):
    again = batch.run_batch(batch.load_batch(batch_file), serial=True)
    assert all(d["cached"] for d in again["districts"].values())
