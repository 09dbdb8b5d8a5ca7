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
import scipy.sparse as sp
import shapely
from h3ronpy import ContainmentMode
from h3ronpy import vector as h3v
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import breadth_first_order, connected_components

from . import arrays, parallel


def _strings(cells: np.ndarray) -> np.ndarray:
    if len(cells) == 0:
        return np.array([], dtype=object)
    return pa.array(h3ronpy.cells_to_string(np.asarray(cells, dtype=np.uint64))).to_numpy(zero_copy_only=False)


def to_int(cells: ArrayLike) -> np.ndarray:
    """uint64 ids of hexadecimal cell strings (ids pass through)."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "ui":
        return cells.astype(np.uint64, copy=False)
    cells = np.asarray(cells, dtype=object)
    if len(cells) == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(h3ronpy.cells_parse(pa.array(cells, type=pa.large_string())), dtype=np.uint64)


def strings(ids: np.ndarray) -> np.ndarray:
    """Hexadecimal cell strings of uint64 ids."""
    return _strings(ids)


def ids_of_points(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """The cell (uint64 id) holding each WGS-84 point."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(h3v.coordinates_to_cells(lat, lon, np.full(len(lat), resolution, dtype=np.uint8)))


def cells_of_points(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """The cell (hexadecimal string) holding each WGS-84 point."""
    return _strings(ids_of_points(lon, lat, resolution))


def ids_in(polygon: shapely.Polygon | shapely.MultiPolygon, resolution: int) -> np.ndarray:
    """The cells (uint64 ids, ascending) whose centre lies in a WGS-84 polygon (as ``h3.geo_to_cells``)."""
    return arrays.unique(np.asarray(h3v.geometry_to_cells(polygon, resolution, ContainmentMode.ContainsCentroid)))


def cells_in(polygon: shapely.Polygon | shapely.MultiPolygon, resolution: int) -> np.ndarray:
    """The cells whose centre lies in a WGS-84 polygon (as ``h3.geo_to_cells``), sorted."""
    return _strings(ids_in(polygon, resolution))  # one resolution: hexadecimal order is numeric order


def cells_touching(polygons: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (polygon index, cell uint64 id) pair where a WGS-84 polygon meets a cell."""
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) == 0:
        return np.zeros(0, dtype=np.int64), np.array([], dtype=object)
    lists = pa.array(h3v.wkb_to_cells(pa.array(shapely.to_wkb(polygons)), resolution,
                                      ContainmentMode.IntersectsBoundary))
    owner = np.repeat(np.arange(len(polygons)), np.diff(lists.offsets.to_numpy()))
    return owner, lists.flatten().to_numpy()


def centres(cells: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of each cell's centre."""
    cells = to_int(cells)
    if len(cells) == 0:
        return np.zeros(0), np.zeros(0)
    table = pa.record_batch(h3v.cells_to_coordinates(cells))
    return np.asarray(table["lng"]), np.asarray(table["lat"])


def polygons(cells: ArrayLike) -> np.ndarray:
    """Each cell's hexagon as a WGS-84 shapely polygon (vertices as ``h3.cell_to_boundary``)."""
    cells = to_int(cells)
    if len(cells) == 0:
        return np.array([], dtype=object)
    return parallel.map_blocks(lambda block: shapely.from_wkb(np.asarray(pa.array(h3v.cells_to_wkb_polygons(block)))),
                               cells)


def neighbours(cells: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(index, neighbour cell string) for every cell sharing an edge with ``cells[index]``."""
    ids = to_int(cells)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.array([], dtype=object)
    disks = pa.array(h3ronpy.grid_disk(ids, 1))
    owner = np.repeat(np.arange(len(ids)), np.diff(disks.offsets.to_numpy()))
    found = disks.flatten().to_numpy()
    ring = found != ids[owner]
    return owner[ring], _strings(found[ring])


def parents(cells: ArrayLike, resolution: int) -> np.ndarray:
    """Each cell's parent at a coarser ``resolution``."""
    ids = to_int(cells)
    if len(ids) == 0:
        return np.array([], dtype=object)
    return _strings(np.asarray(h3ronpy.change_resolution(ids, resolution)))


class Outlines:
    """Outlines of any subset of one grid's cells, each subset costing little more than its perimeter.

    h3ronpy's ``link_cells`` grows faster than the cells it merges (70 s for
    400 k cells), and GEOS's coverage union costs ~20 µs a cell: too slow for
    a city's 12 service areas of a million cells each. H3 cells of one
    resolution tile the sphere and share their vertices, so an outline is
    exactly the hexagon sides between a chosen and an unchosen cell. The side
    table (which cell lies across each side: the one holding the same side
    reversed) is built once; each subset then keeps its boundary sides, chains
    them into rings (each boundary vertex has one side in and one out), and
    makes one polygon per connected group of chosen cells: the group's
    counter-clockwise ring (hexagons run counter-clockwise) is its shell, the
    clockwise ones its holes.

    Parameters
    ----------
    cells : array of str
        The grid's cells (one resolution).
    cell_polygons : array of Polygon, optional
        Their :func:`polygons`, when already built.
    """

    def __init__(self, cells: ArrayLike, cell_polygons: np.ndarray | None = None):
        hexes = polygons(cells) if cell_polygons is None else np.asarray(cell_polygons, dtype=object)
        self.n = len(hexes)
        if self.n == 0:
            return
        xy, owner = shapely.get_coordinates(shapely.get_exterior_ring(hexes), return_index=True)
        last = np.r_[owner[1:] != owner[:-1], True]  # each ring repeats its first vertex at the end
        start = np.flatnonzero(~last)
        self.cell = owner[start]
        self.a = xy[start]

        def vertex_key(p: np.ndarray) -> np.ndarray:  # shared vertices agree to ~1e-15°; 1e-7° (1 cm) keys them
            q = np.round(p * 1e7).astype(np.int64)
            return (q[:, 0] + 1_900_000_000) * (1 << 31) + (q[:, 1] + 1_000_000_000)

        self.key_a, self.key_b = vertex_key(self.a), vertex_key(xy[start + 1])
        # The cell across a side holds the same side, walked the other way: number the
        # vertices, then the sides by their pair of vertex numbers.
        _, vertex = np.unique(np.r_[self.key_a, self.key_b], return_inverse=True)
        va, vb = vertex[:len(start)], vertex[len(start):]
        pair = np.minimum(va, vb) * (int(vertex.max()) + 1) + np.maximum(va, vb)
        order = np.argsort(pair, kind="stable")
        same = pair[order][1:] == pair[order][:-1]
        self.neighbour = np.full(len(start), -1, dtype=np.int64)  # -1: the edge of the grid
        left, right = order[:-1][same], order[1:][same]
        self.neighbour[left], self.neighbour[right] = self.cell[right], self.cell[left]

    def of(self, chosen: np.ndarray) -> np.ndarray:
        """Polygons (with holes) covering the cells where ``chosen`` is True, WGS-84."""
        chosen = np.asarray(chosen, dtype=bool)
        if self.n == 0 or not chosen.any():
            return np.array([], dtype=object)
        across = np.where(self.neighbour >= 0, chosen[np.maximum(self.neighbour, 0)], False)
        inner = chosen[self.cell] & across
        # Connected groups of chosen cells: one polygon each.
        _, group_of_cell = connected_components(
            sp.csr_matrix((np.ones(int(inner.sum())), (self.cell[inner], self.neighbour[inner])),
                          shape=(self.n, self.n)), directed=False)
        side = np.flatnonzero(chosen[self.cell] & ~across)
        ka, kb = self.key_a[side], self.key_b[side]
        order = np.argsort(ka, kind="stable")
        nxt = order[np.searchsorted(ka[order], kb)]  # the side leaving where this one ends
        m = len(side)
        # Rings are the cycles of ``nxt``; cut each at its first side and walk it from there.
        _, ring = connected_components(sp.csr_matrix((np.ones(m), (np.arange(m), nxt)), shape=(m, m)),
                                       directed=True, connection="weak")
        n_rings = int(ring.max()) + 1
        head = np.full(n_rings, m, dtype=np.int64)
        np.minimum.at(head, ring, np.arange(m))
        keep = ~np.isin(nxt, head)  # drop the step back into each ring's head
        rows = np.r_[np.arange(m)[keep], np.full(n_rings, m)]
        cols = np.r_[nxt[keep], head]
        walk = breadth_first_order(sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(m + 1, m + 1)),
                                   m, directed=True, return_predecessors=False)[1:]
        walk = walk[np.argsort(ring[walk], kind="stable")]  # each ring's sides in walking order
        starts = self.a[side][walk]
        ring_of = ring[walk]
        first = np.r_[True, ring_of[1:] != ring_of[:-1]]
        closing = np.flatnonzero(np.r_[first[1:], True])
        coords = np.insert(starts, closing + 1, starts[first], axis=0)
        rings = shapely.linearrings(coords, indices=np.insert(ring_of, closing + 1, ring_of[closing]))
        group = group_of_cell[self.cell[side][head]]  # the chosen cells each ring runs around
        shell = shapely.is_ccw(rings)
        rank = np.lexsort((~shell, group))  # per group: its shell, then its holes
        _, index = np.unique(group[rank], return_inverse=True)
        return shapely.polygons(rings[rank], indices=index)
