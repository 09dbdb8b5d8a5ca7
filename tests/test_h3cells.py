"""Vectorised H3 over whole arrays agrees with h3-py, the reference binding, cell for cell."""

import h3
import numpy as np
import shapely

from servicecircle import h3cells

# Test input: random points over central Chengdu and Tianjin.
RNG = np.random.default_rng(5)
LON = np.r_[104.0 + RNG.random(300) * 0.2, 117.1 + RNG.random(300) * 0.2]
LAT = np.r_[30.6 + RNG.random(300) * 0.2, 39.0 + RNG.random(300) * 0.2]


def test_points_centres_and_boundaries_match_h3_py():
    for res in (7, 10, 12):
        cells = h3cells.cells_of_points(LON, LAT, res)
        assert list(cells) == [h3.latlng_to_cell(a, b, res) for a, b in zip(LAT, LON)]
        lon, lat = h3cells.centres(cells)
        ref = np.array([h3.cell_to_latlng(c) for c in cells])
        np.testing.assert_allclose(np.c_[lat, lon], ref, atol=1e-12)
        for c, poly in zip(cells[:50], h3cells.polygons(cells[:50])):
            ring = np.array([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
            np.testing.assert_allclose(shapely.get_coordinates(poly)[:-1], ring, atol=1e-12)
        assert list(h3cells.to_int(cells)) == [h3.str_to_int(c) for c in cells]
        assert list(h3cells.parents(cells, res - 2)) == [h3.cell_to_parent(c, res - 2) for c in cells]


def test_area_cells_neighbours_and_outlines():
    area = shapely.Polygon([(104.05, 30.65), (104.09, 30.66), (104.08, 30.70), (104.04, 30.69)])
    cells = h3cells.cells_in(area, 10)
    assert set(cells) == set(h3.geo_to_cells(area, 10)) and list(cells) == sorted(cells)
    owner, found = h3cells.neighbours(cells[:40])
    for i, c in enumerate(cells[:40]):
        assert set(found[owner == i]) == set(h3.grid_ring(c, 1))
    # Every cell a polygon touches, by exact geometry.
    small = shapely.box(104.06, 30.67, 104.061, 30.671)
    owner, touched = h3cells.cells_touching(np.array([area, small]), 10)
    touched = h3cells.strings(touched)
    hexes = {c: shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(c)]) for c in touched}
    assert all(hexes[c].intersects([area, small][o]) for o, c in zip(owner, touched))
    assert set(cells) <= set(touched[owner == 0]) and (owner == 1).sum() >= 1
    # Outlines: the union of the cells, holes kept.
    ring = np.setdiff1d(h3cells.cells_in(area, 9), [h3.latlng_to_cell(30.675, 104.065, 9)])
    grid = h3cells.cells_in(area, 9)
    parts = h3cells.Outlines(grid).of(np.isin(grid, ring))
    assert len(parts) == 1 and shapely.is_valid(parts[0])
    outline = parts[0]
    union = shapely.union_all(h3cells.polygons(ring))
    assert outline.symmetric_difference(union).area < 1e-12 and len(outline.interiors if outline.geom_type == "Polygon"
                                                                       else outline.geoms[0].interiors) >= 1


def test_outlines_equal_the_union_of_their_cells_for_random_subsets():
    area = shapely.box(104.0, 30.6, 104.06, 30.65)
    grid = h3cells.cells_in(area, 10)
    hexes = h3cells.polygons(grid)
    outlines = h3cells.Outlines(grid, hexes)
    lon, lat = h3cells.centres(grid)
    rng = np.random.default_rng(8)
    for share in (0.2, 0.5, 0.8, 0.97):  # test input: scattered cells, then rings, holes and islands in holes
        chosen = rng.random(len(grid)) < share
        chosen |= np.hypot(lon - 104.03, lat - 30.625) < 0.004
        chosen &= ~((np.hypot(lon - 104.03, lat - 30.625) > 0.006) & (np.hypot(lon - 104.03, lat - 30.625) < 0.008))
        parts = outlines.of(chosen)
        assert shapely.is_valid(shapely.multipolygons(parts))
        union = shapely.union_all(hexes[chosen])
        assert shapely.multipolygons(parts).symmetric_difference(union).area < 1e-14
        assert len(parts) == len(shapely.get_parts(union))  # one polygon per connected group of cells
