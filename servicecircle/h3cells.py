"""H3 cells over whole arrays at once.

h3-py (the reference binding) answers one cell per call, so a city of
millions of origins and cells would be a Python loop per cell; h3ronpy runs
the same H3 library over whole arrays (in Rust, through Arrow). Cells are
handed around as their usual hexadecimal strings, so every table and output
keeps h3-py's ids; the uint64 form is used only inside these functions.
"""

from __future__ import annotations

import h3ronpy
import numpy as np
import pyarrow as pa
import shapely
from h3ronpy import ContainmentMode
from h3ronpy import vector as h3v


def _strings(cells: np.ndarray) -> np.ndarray:
    if len(cells) == 0:
        return np.array([], dtype=object)
    return pa.array(h3ronpy.cells_to_string(np.asarray(cells, dtype=np.uint64))).to_numpy(zero_copy_only=False)


def to_int(cells) -> np.ndarray:
    """uint64 ids of hexadecimal cell strings."""
    cells = np.asarray(cells, dtype=object)
    if len(cells) == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(h3ronpy.cells_parse(pa.array(cells, type=pa.large_string())), dtype=np.uint64)


def cells_of_points(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """The cell (hexadecimal string) holding each WGS-84 point."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return np.array([], dtype=object)
    cells = h3v.coordinates_to_cells(lat, lon, np.full(len(lat), resolution, dtype=np.uint8))
    return _strings(np.asarray(cells))


def cells_in(polygon, resolution: int) -> np.ndarray:
    """The cells whose centre lies in a WGS-84 polygon (as ``h3.geo_to_cells``), sorted."""
    cells = np.asarray(h3v.geometry_to_cells(polygon, resolution, ContainmentMode.ContainsCentroid))
    return _strings(np.unique(cells))  # one resolution: hexadecimal order is numeric order


def cells_touching(polygons: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (polygon index, cell) pair where a WGS-84 polygon meets a cell."""
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) == 0:
        return np.zeros(0, dtype=np.int64), np.array([], dtype=object)
    lists = pa.array(h3v.wkb_to_cells(pa.array(shapely.to_wkb(polygons)), resolution,
                                      ContainmentMode.IntersectsBoundary))
    owner = np.repeat(np.arange(len(polygons)), np.diff(lists.offsets.to_numpy()))
    return owner, _strings(lists.flatten().to_numpy())


def centres(cells) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of each cell's centre."""
    cells = to_int(cells)
    if len(cells) == 0:
        return np.zeros(0), np.zeros(0)
    table = pa.record_batch(h3v.cells_to_coordinates(cells))
    return np.asarray(table["lng"]), np.asarray(table["lat"])


def polygons(cells) -> np.ndarray:
    """Each cell's hexagon as a WGS-84 shapely polygon (vertices as ``h3.cell_to_boundary``)."""
    cells = to_int(cells)
    if len(cells) == 0:
        return np.array([], dtype=object)
    return shapely.from_wkb(np.asarray(pa.array(h3v.cells_to_wkb_polygons(cells))))


def linked_polygons(cells) -> np.ndarray:
    """The outlines of the regions a set of cells covers (neighbouring cells merged, holes kept), WGS-84."""
    cells = to_int(cells)
    if len(cells) == 0:
        return np.array([], dtype=object)
    return shapely.from_wkb(np.asarray(pa.array(h3v.cells_to_wkb_polygons(cells, link_cells=True))))


def neighbours(cells) -> tuple[np.ndarray, np.ndarray]:
    """(index, neighbour cell string) for every cell sharing an edge with ``cells[index]``."""
    ids = to_int(cells)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.array([], dtype=object)
    disks = pa.array(h3ronpy.grid_disk(ids, 1))
    owner = np.repeat(np.arange(len(ids)), np.diff(disks.offsets.to_numpy()))
    found = disks.flatten().to_numpy()
    ring = found != ids[owner]
    return owner[ring], _strings(found[ring])


def parents(cells, resolution: int) -> np.ndarray:
    """Each cell's parent at a coarser ``resolution``."""
    ids = to_int(cells)
    if len(ids) == 0:
        return np.array([], dtype=object)
    return _strings(np.asarray(h3ronpy.change_resolution(ids, resolution)))
