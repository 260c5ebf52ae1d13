"""Distinct crime locations: which area polygon holds each, and spreading values to rows.

Crimes repeat locations (police.uk map points, VPD hundred blocks), so lookups are done
once per distinct location and the answers are spread back to the rows as category codes.
The readers (area join at load) and :mod:`hotspots.space.snap` both use these.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

__all__ = [
    "AREA_CELL_M",
    "ARROW_HASH_ROWS",
    "category_codes",
    "distinct_points",
    "factorize_xy",
    "first_match",
    "in_chunks",
    "polygon_of_points",
    "spread_category",
]


def distinct_points(crimes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a code per row and the distinct (x, y) locations of a crime table.

    The readers number the distinct locations in ``point_id``; those numbers are used when
    they still match ``x``/``y`` (checked on every row, so a table whose coordinates were
    changed afterwards is not misread), otherwise each (x, y) pair is hashed.

    Parameters
    ----------
    crimes
        A table with ``x`` and ``y`` (and ``point_id`` when from a reader).

    Returns
    -------
    codes, x, y
        ``codes[i]`` is row i's location in ``x``/``y`` (numbered in order of first row).
    """
    x, y = crimes["x"].to_numpy(dtype=float), crimes["y"].to_numpy(dtype=float)
    if "point_id" in crimes.columns and len(crimes):
        ids = crimes["point_id"].to_numpy()
        if ids.dtype.kind in "iu" and ids.min() >= 0:
            first = np.full(int(ids.max()) + 1, len(ids), dtype=np.int64)
            np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
            used = np.flatnonzero(first < len(ids))
            rows = np.sort(first[used])
            remap = np.empty(len(first), dtype=np.intp)
            remap[ids[rows]] = np.arange(len(rows))
            codes, ux, uy = remap[ids], x[rows], y[rows]
            if _same(ux[codes], x) and _same(uy[codes], y):
                return codes, ux, uy
    return factorize_xy(x, y)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays are equal, a missing value equal to a missing value."""
    equal = a == b
    if equal.all():
        return True
    odd = ~equal
    return bool((np.isnan(a[odd]) & np.isnan(b[odd])).all())


def factorize_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a code per row and the distinct (x, y) pairs, by hashing each pair once.

    Hashing keeps this linear in the number of rows, where ``np.unique(axis=0)`` sorts.
    ``-0.0`` counts as ``0.0`` and a missing value as one value. Codes number the pairs in
    order of first row, as ``pd.factorize`` does.

    Up to :data:`ARROW_HASH_ROWS` rows the 16 bytes of each pair are hashed by Arrow
    (``dictionary_encode``), whose table grows with the distinct pairs; pandas sizes its
    table by the rows (London's 1.45 million crimes at 45,000 locations: 0.05 s and 1 MB of
    new memory in Arrow, 0.1-0.2 s and 50 MB in pandas). With millions of distinct pairs
    pandas hashes faster (the 10-million Vancouver scale-up, 2 million locations: 1.2 s,
    Arrow 1.7 s), so bigger tables go to pandas.
    """
    pairs = np.empty(len(x), dtype=np.complex128)
    pairs.real = x
    pairs.imag = y
    pairs += 0.0  # -0.0 + 0.0 is 0.0: one key per point
    if len(pairs) > ARROW_HASH_ROWS:
        codes, uniq = pd.factorize(pairs, use_na_sentinel=False)
        return codes.astype(np.intp, copy=False), uniq.real.copy(), uniq.imag.copy()
    parts = pairs.view(np.float64)
    parts[np.isnan(parts)] = np.nan  # one bit pattern for every missing value
    keys = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(pairs), [None, pa.py_buffer(pairs)]
    )
    encoded = pc.dictionary_encode(keys)
    codes = encoded.indices.to_numpy().astype(np.intp)
    words = encoded.dictionary
    uniq = np.frombuffer(words.buffers()[1], dtype=np.complex128)[
        words.offset : words.offset + len(words)
    ]
    return codes, uniq.real.copy(), uniq.imag.copy()


#: Most rows whose distinct locations :func:`factorize_xy` finds with Arrow's hashing.
ARROW_HASH_ROWS = 4_000_000


def category_codes(values: np.ndarray) -> tuple[np.ndarray, pd.CategoricalDtype]:
    """Return each value's code in the sorted categories of ``values`` (as text), and those.

    What :func:`spread_category` spreads; worked out once for values spread again.
    """
    cat_codes, cats = pd.factorize(pd.Series(values, dtype="str"), sort=True)
    return cat_codes, pd.CategoricalDtype(pd.Index(cats, dtype="str"))


def spread_category(
    values: np.ndarray,
    pick: np.ndarray,
    inv: np.ndarray,
    index: pd.Index | None = None,
    *,
    coded: tuple[np.ndarray, pd.CategoricalDtype] | None = None,
) -> pd.Series | pd.Categorical:
    """Return ``values[pick]`` (missing where ``pick`` < 0) per distinct point, spread to rows.

    ``inv`` gives each row's distinct point. With ``index``, a Series on it; else the
    categorical itself. ``coded`` is :func:`category_codes` of ``values``, when known.

    The result is a categorical with sorted categories: each row holds a small integer code,
    so spreading a value to millions of rows copies no text.
    """
    cat_codes, dtype = coded if coded is not None else category_codes(values)
    per_point = np.where(pick >= 0, cat_codes[np.where(pick >= 0, pick, 0)], -1)
    codes = per_point[inv] if len(inv) else np.zeros(0, dtype=np.int64)
    cat = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    return cat if index is None else pd.Series(cat, index=index)


def first_match(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return, for each of ``n`` left items, the smallest matching right index (-1 if none)."""
    none = np.iinfo(np.int64).max
    best = np.full(n, none, dtype=np.int64)
    np.minimum.at(best, left, right.astype(np.int64))
    return np.where(best == none, -1, best)


#: Side of the grid cells of the area join, metres (see :func:`polygon_of_points`).
AREA_CELL_M = 50.0
#: Distinct points from which the area join bins points into cells first.
_GRID_FROM = 200_000


def polygon_of_points(x: np.ndarray, y: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """Return the first polygon (lowest index) each point intersects, -1 for none.

    Exact, and fast for millions of points: the points are binned into square cells of
    ``AREA_CELL_M``; a cell that meets one polygon only and lies in its interior gives its
    points that polygon without testing them. Only points in cells that meet no polygon
    (outside all: -1) or meet an edge are tested one by one, as GEOS points against an
    STR-tree, in parallel chunks (GEOS runs without the GIL).
    """
    hit = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0 or len(polys) == 0:
        return hit
    tree = shapely.STRtree(polys)
    finite = np.isfinite(x) & np.isfinite(y)
    if len(x) < _GRID_FROM:  # few points: testing each is quicker than building the cells
        test = np.flatnonzero(finite)
        hit[test] = _query_first(tree, x[test], y[test])
        return hit
    x0, y0 = (
        np.nanmin(x[finite]) if finite.any() else 0.0,
        np.nanmin(y[finite]) if (finite.any()) else 0.0,
    )
    with np.errstate(invalid="ignore"):
        cx = np.floor((np.where(finite, x, x0) - x0) / AREA_CELL_M).astype(np.int64)
        cy = np.floor((np.where(finite, y, y0) - y0) / AREA_CELL_M).astype(np.int64)
    cell = pd.factorize(cx * (int(cy.max()) + 1) + cy)[0]
    n_cells = int(cell.max()) + 1
    at = np.zeros(n_cells, dtype=np.int64)
    at[cell] = np.arange(len(cell))  # any point of each cell gives the cell's corner
    corner_x = x0 + cx[at] * AREA_CELL_M
    corner_y = y0 + cy[at] * AREA_CELL_M
    pad = 1e-6 * AREA_CELL_M  # covers rounding in the binning: every point is in its box
    boxes = shapely.box(
        corner_x - pad, corner_y - pad, corner_x + AREA_CELL_M + pad, corner_y + AREA_CELL_M + pad
    )
    ci, pi = tree.query(boxes, predicate="intersects")
    meets = np.bincount(ci, minlength=n_cells)
    single = meets[ci] == 1
    inside = np.zeros(n_cells, dtype=bool)
    inner = single & shapely.contains_properly(polys[pi], boxes[ci])  # no edge in the cell
    inside[ci[inner]] = True
    cell_poly = np.full(n_cells, -1, dtype=np.int64)
    cell_poly[ci[inner]] = pi[inner]
    hit = np.where(finite, cell_poly[cell], -1)
    test = np.flatnonzero(finite & ~inside[cell] & (meets[cell] > 0))
    if len(test):
        hit[test] = _query_first(tree, x[test], y[test])
    return hit


def _query_first(tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the lowest-index tree geometry each point intersects (-1 for none).

    Candidates come from the tree's boxes; each is tested against its polygon prepared
    (GEOS's indexed point-in-polygon): where the tree's ``predicate="intersects"`` prepares
    each point and walks every edge of the polygon for it (Vancouver's 22 detailed local
    areas: 3 to 4 times slower).

    Each thread prepares its own copy of the polygons: a prepared GEOS geometry builds its
    point index on first use without a lock, so threads sharing one (the chunks here, or
    two Dask tasks of one worker process given the same areas) crashed the process now and
    then. The tree's own geometries are never prepared.
    """
    polys = tree.geometries
    local = threading.local()

    def own() -> np.ndarray:
        if not hasattr(local, "polys"):  # a copy through WKB: the same coordinates, bit for bit
            local.polys = shapely.from_wkb(shapely.to_wkb(polys))
            shapely.prepare(local.polys)
        return np.asarray(local.polys)

    tree.query(tree.geometries[:1])  # GEOS builds a tree on its first query: not in threads

    def one(rows: np.ndarray) -> np.ndarray:
        pts = shapely.points(x[rows], y[rows])
        pi, ai = tree.query(pts)
        ok = shapely.intersects(own()[ai], pts[pi])
        return first_match(len(rows), pi[ok], ai[ok])

    return in_chunks(one, len(x))


#: Most points per chunk of the parallel point queries.
_CHUNK = 250_000
#: Fewest points per chunk: fewer are looked up in one go (threads would cost more).
_MIN_CHUNK = 16_384


def in_chunks(work: Any, n: int) -> np.ndarray:
    """Run ``work(rows)`` on consecutive chunks of ``range(n)`` in threads; concatenate.

    At least one chunk per core (London's and Vancouver's 50,000 distinct points: two
    halves), each of :data:`_MIN_CHUNK` to :data:`_CHUNK` rows.
    """
    cores = os.cpu_count() or 1
    size = min(_CHUNK, max(_MIN_CHUNK, -(-n // cores)))
    chunks = [np.arange(lo, min(lo + size, n)) for lo in range(0, n, size)]
    if len(chunks) <= 1:
        return np.asarray(work(chunks[0] if chunks else np.arange(0)))
    workers = min(len(chunks), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotspots-snap") as pool:
        return np.concatenate(list(pool.map(work, chunks)))
