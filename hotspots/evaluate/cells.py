"""The units the street backtest's methods select: segments, square cells and H3 cells.

Each method of :data:`~hotspots.evaluate.config.METHOD_UNITS` selects one kind of unit; a
:class:`MethodUnits` holds its cost (street length or land area) and the unit of every crime.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse

from hotspots.evaluate.geometry_cache import cached_array, geometry_bytes
from hotspots.space import crs as _crs
from hotspots.space.cache import source_digest

__all__ = ["MethodUnits", "build_method_units", "segment_neighbours"]

#: Smallest area given to a cell that holds crime (a sliver at the study-area edge), m².
_MIN_CELL_AREA_M2 = 1.0
_TILE_M = 1000.0


# units: segments, square cells, H3 cells


@dataclass
class MethodUnits:
    """What a method selects: a cost per unit (metres or m²) and the unit of every crime."""

    cost: np.ndarray
    of_crime: np.ndarray
    is_area: bool
    centres: np.ndarray | None = None  # grid cell centres (for the KDE bandwidth)
    rowcol: np.ndarray | None = None  # grid cell (row, col)
    shape: tuple[int, int] = (0, 0)
    cell_m: float = 0.0


def _tiles(region: shapely.Geometry, tile_m: float = _TILE_M) -> np.ndarray:
    """Cut the region into square tiles so that clipping small cells against it is fast."""
    x0, y0, x1, y1 = region.bounds
    xs, ys = np.arange(x0, x1, tile_m), np.arange(y0, y1, tile_m)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    pieces = shapely.intersection(shapely.box(gx, gy, gx + tile_m, gy + tile_m), region)
    return np.asarray(pieces[~shapely.is_empty(pieces)])


def _clipped_areas(cells: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """Return the area of each cell inside the region (given as tiles)."""
    ci, pi = shapely.STRtree(pieces).query(cells, predicate="intersects")
    area = np.zeros(len(cells))
    np.add.at(area, ci, shapely.area(shapely.intersection(cells[ci], pieces[pi])))
    return area


def _digest() -> str:
    return source_digest(sys.modules[__name__])


def _keep_cells(area: np.ndarray, crime_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep cells with area in the region or with crime; return kept ids and their areas."""
    has_crime = np.zeros(len(area), dtype=bool)
    has_crime[crime_cell] = True
    kept = np.flatnonzero((area > 0) | has_crime)
    return kept, np.maximum(area[kept], _MIN_CELL_AREA_M2)


def _grid_units(
    pieces: np.ndarray, xy: np.ndarray, cell_m: float, cache: str | Path | None = None
) -> MethodUnits:
    bounds = shapely.total_bounds(pieces)
    x0, y0 = np.floor(bounds[:2] / cell_m) * cell_m
    nx, ny = (int(np.ceil((bounds[2 + i] - (x0, y0)[i]) / cell_m)) + 1 for i in (0, 1))
    col, row = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny)))

    def clipped() -> np.ndarray:
        cells = shapely.box(
            x0 + col * cell_m, y0 + row * cell_m, x0 + (col + 1) * cell_m, y0 + (row + 1) * cell_m
        )
        return _clipped_areas(cells, pieces)

    # the cells follow from the tiles and the cell size alone
    parts: list[str | bytes] = [repr(float(cell_m)), _digest(), geometry_bytes(pieces)]
    crime_rc = np.floor((xy - [x0, y0]) / cell_m).astype(np.int64)
    crime_cell = crime_rc[:, 1] * nx + crime_rc[:, 0]
    kept, area = _keep_cells(cached_array("grid_areas", parts, clipped, cache), crime_cell)
    lookup = np.full(nx * ny, -1, dtype=np.int64)
    lookup[kept] = np.arange(len(kept))
    rowcol = np.column_stack([row[kept], col[kept]])
    centres = np.column_stack([x0 + (col[kept] + 0.5) * cell_m, y0 + (row[kept] + 0.5) * cell_m])
    return MethodUnits(area, lookup[crime_cell], True, centres, rowcol, (ny, nx), cell_m)


def _h3_candidates(pieces: np.ndarray, to_lonlat: pyproj.Transformer, res: int) -> set[str]:
    """Return every H3 cell that may overlap the region, from a lattice finer than the cells.

    A hexagon of edge ``e`` holds a disc of radius 0.87 ``e`` around its centre, so a lattice of
    spacing 0.4 ``e`` puts a point in every cell; cells overlapping the region have such a point
    within 2.5 ``e`` (more than a cell's diameter) of it.
    """
    edge = float(h3.average_hexagon_edge_length(res, unit="m"))
    x0, y0, x1, y1 = shapely.total_bounds(pieces)
    step, pad = 0.4 * edge, 2.5 * edge
    gx, gy = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(x0 - pad, x1 + pad, step), np.arange(y0 - pad, y1 + pad, step)
        )
    )
    near = shapely.STRtree(pieces).query(shapely.points(gx, gy), predicate="dwithin", distance=pad)
    idx = np.unique(near[0])
    return _h3_cells(gx[idx], gy[idx], to_lonlat, res)


def _h3_cells(x: np.ndarray, y: np.ndarray, to_lonlat: pyproj.Transformer, res: int) -> set[str]:
    lon, lat = to_lonlat.transform(x, y)
    return {h3.latlng_to_cell(la, lo, res) for lo, la in zip(lon, lat, strict=True)}


def _h3_polygons(ids: np.ndarray, back: pyproj.Transformer) -> np.ndarray:
    """Return the H3 cells as polygons in the projected CRS (``back`` from WGS84)."""
    if not len(ids):
        return np.empty(0, dtype=object)
    rings = [np.array(h3.cell_to_boundary(c)) for c in ids]  # (lat, lng) vertices
    lat, lng = np.vstack(rings).T
    ring_of = np.repeat(np.arange(len(ids)), [len(r) for r in rings])
    return np.asarray(
        shapely.polygons(
            shapely.linearrings(np.column_stack(back.transform(lng, lat)), indices=ring_of)
        )
    )


def _h3_units(
    pieces: np.ndarray, xy: np.ndarray, crs: Any, res: int, cache: str | Path | None = None
) -> MethodUnits:
    to_lonlat = pyproj.Transformer.from_crs(crs, _crs.WGS84, always_xy=True)
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    lon, lat = to_lonlat.transform(uniq[:, 0], uniq[:, 1])
    crime_ids = [h3.latlng_to_cell(la, lo, res) for lo, la in zip(lon, lat, strict=True)]
    # the cells near the region and their land follow from the tiles alone (both cached); a
    # cell only the crimes add is clipped here. Each cell's land is its own sum over the tiles
    # it meets, so the areas are those of clipping all the cells at once.
    parts: list[str | bytes] = [
        str(res),
        pyproj.CRS(crs).to_wkt(),
        _digest(),
        geometry_bytes(pieces),
    ]

    def candidates() -> np.ndarray:  # as H3's 64-bit numbers: the cache holds numbers only
        found = _h3_candidates(pieces, to_lonlat, res)
        return np.array([h3.str_to_int(c) for c in found], dtype=np.uint64)

    numbers = cached_array(f"h3_r{res}_near", parts, candidates, cache)
    near = np.array(sorted(h3.int_to_str(int(c)) for c in numbers))
    ids = np.array(sorted(set(near.tolist()) | set(crime_ids)))
    back = pyproj.Transformer.from_crs(_crs.WGS84, crs, always_xy=True)
    parts.append("\n".join(near.tolist()))
    area = np.zeros(len(ids))
    area[np.searchsorted(ids, near)] = cached_array(
        f"h3_r{res}_areas", parts, lambda: _clipped_areas(_h3_polygons(near, back), pieces), cache
    )
    extra = np.setdiff1d(ids, near)
    if len(extra):
        area[np.searchsorted(ids, extra)] = _clipped_areas(_h3_polygons(extra, back), pieces)
    crime_cell = np.searchsorted(ids, np.array(crime_ids))[inv.ravel()]
    kept, area = _keep_cells(area, crime_cell)
    lookup = np.full(len(ids), -1, dtype=np.int64)
    lookup[kept] = np.arange(len(kept))
    return MethodUnits(area, lookup[crime_cell], True)


def segment_neighbours(segments: gpd.GeoDataFrame) -> sparse.csr_matrix:
    """Return the row-normalised adjacency of segments sharing an end point (no self loops)."""
    geoms = segments.geometry.to_numpy()
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(geoms, i)) for i in (0, -1)])
    _, vertex = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
    n = len(segments)
    pairs = pd.DataFrame({"seg": np.tile(np.arange(n), 2), "v": vertex.ravel()}).drop_duplicates()
    both = pairs.merge(pairs, on="v")
    both = both[both["seg_x"] != both["seg_y"]]
    ij = (both["seg_x"].to_numpy(), both["seg_y"].to_numpy())
    adj = sparse.coo_matrix((np.ones(len(both)), ij), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    degree = np.asarray(adj.sum(axis=1)).ravel()
    return sparse.csr_matrix(
        sparse.diags(np.divide(1.0, degree, where=degree > 0, out=np.zeros(n))) @ adj
    )


def build_method_units(
    ev: pd.DataFrame,
    segs: gpd.GeoDataFrame,
    region: shapely.Geometry,
    needed: set[str],
    cell_m: float,
    cache: str | Path | None = None,
) -> dict[str, MethodUnits]:
    """Return the units of each kind in ``needed``: segments always, grid and H3 cells on demand.

    Parameters
    ----------
    ev
        Evaluated crimes with ``x``, ``y`` and ``seg`` (the segment row).
    segs
        The segments kept (with ``length_m``).
    region
        The study area; cells are clipped to it.
    needed
        Unit kinds of :data:`~hotspots.evaluate.config.METHOD_UNITS` to build.
    cell_m
        Side of the square grid cells, metres.
    cache
        A cache folder: the cells' land in the region is kept there and read back for the
        same region (:mod:`hotspots.evaluate.geometry_cache`); None clips every time.

    Returns
    -------
    dict
        Kind -> :class:`MethodUnits`.
    """
    xy = ev[["x", "y"]].to_numpy()
    length = segs["length_m"].to_numpy(dtype=float)
    units = {"segments": MethodUnits(length, ev["seg"].to_numpy(), is_area=False)}
    if needed - {"segments"}:
        pieces = _tiles(region)
        if "grid" in needed:
            units["grid"] = _grid_units(pieces, xy, cell_m, cache)
        for res in (9, 10):
            if f"h3_r{res}" in needed:
                units[f"h3_r{res}"] = _h3_units(pieces, xy, segs.crs, res, cache)
    return units
