"""Spatial weights for Gi*: H3 first-ring contiguity among cells, and street-segment neighbours.

Built on libpysal (``libpysal.weights.WSP``) from sparse adjacency matrices; used by
:mod:`hotspots.analysis.stats`.

Neighbours
----------
* Cells: the six cells of the first H3 ring (``h3.grid_ring(cell, 1)``; five around a
  pentagon) that are in the table. Binary weights; Gi* adds the cell itself.
* Segments: segments that share an end point (coordinates rounded to the centimetre, as in
  :mod:`hotspots.space.segments`) or whose lines come within ``distance_m`` of each other (the
  shortest straight-line distance between the two lines). The default of 100 m is about
  one urban block: it reaches the segments across each junction and the parallel street
  behind, spans a police.uk map-point spacing (60-90 m in London) and a VPD hundred block
  (100 m), but not the next neighbourhood.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import h3
import libpysal
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from hotspots.errors import InputDataError
from hotspots.space.cache import write_atomically

__all__ = [
    "DEFAULT_DISTANCE_M",
    "cell_adjacency",
    "cell_weights",
    "check_cells",
    "check_distance",
    "check_segments",
    "segment_adjacency",
    "segment_weights",
]

#: Default neighbour distance between street segments, metres.
DEFAULT_DISTANCE_M = 100.0

_VERTEX_DECIMALS = 2


def cell_adjacency(cells: Sequence[str]) -> sparse.csr_matrix:
    """Binary first-ring adjacency among ``cells`` (no self)."""
    pos = {c: i for i, c in enumerate(cells)}
    pairs = [(i, pos[n]) for i, c in enumerate(cells) for n in h3.grid_ring(c, 1) if n in pos]
    ij = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    n = len(cells)
    return sparse.csr_matrix((np.ones(len(ij)), (ij[:, 0], ij[:, 1])), shape=(n, n))


def check_cells(cells: pd.Index) -> None:
    """Raise :class:`InputDataError` unless ``cells`` are unique H3 ids of one resolution."""
    ids = cells.astype(str)
    bad = [c for c in ids if not h3.is_valid_cell(c)]
    res = {h3.get_resolution(c) for c in ids if c not in set(bad)}
    problems = []
    if bad:
        problems.append(f"{len(bad)} invalid ids (e.g. {', '.join(map(repr, bad[:3]))})")
    if len(res) > 1:
        problems.append(f"mixed resolutions {sorted(res)}")
    if cells.has_duplicates:
        problems.append(f"{int(cells.duplicated().sum())} repeated cells")
    if problems:
        msg = (
            f"cells must be unique H3 ids of one resolution; found {'; '.join(problems)}. "
            "Use the index of hotspots.space.grid.count_by_cell."
        )
        raise InputDataError(msg)


def cell_weights(cells: Sequence[str] | pd.Index) -> libpysal.weights.W:
    """Return binary H3 first-ring contiguity weights among the given cells.

    Parameters
    ----------
    cells
        Unique H3 cell ids of one resolution (e.g. the index of
        :func:`hotspots.space.grid.count_by_cell`).

    Returns
    -------
    libpysal.weights.W
        Ids are the cell ids; each cell's neighbours are the cells of its first ring that are
        in ``cells`` (weight 1). No self-weights: Gi* adds them.

    Raises
    ------
    InputDataError
        If an id is invalid, repeated, or of another resolution.

    Examples
    --------
    >>> import h3
    >>> c = h3.latlng_to_cell(51.5, -0.12, 9)
    >>> w = cell_weights(sorted(h3.grid_disk(c, 1)))
    >>> w.cardinalities[c]
    6
    """
    index = pd.Index(list(cells), dtype="string")
    check_cells(index)
    adj = cell_adjacency(list(index))
    return libpysal.weights.WSP(adj, id_order=list(index)).to_W(silence_warnings=True)


def check_segments(segments: gpd.GeoDataFrame, caller: str) -> None:
    """Raise :class:`InputDataError` unless ``segments`` are LineStrings in metres with ids."""
    problems = []
    if "segment_id" not in segments.columns:
        problems.append("it lacks the column segment_id")
    types = segments.geometry.geom_type.value_counts()
    other = types.drop("LineString", errors="ignore")
    if len(other):
        problems.append("it has " + ", ".join(f"{n} {t} rows" for t, n in other.items()))
    if segments.crs is None or segments.crs.is_geographic:
        problems.append(f"its CRS is {segments.crs} (not metres)")
    if problems:
        msg = (
            f"`segments` passed to {caller} must be LineString street segments in metres; "
            f"{'; '.join(problems)}. Make them with hotspots.space.segments.lines_to_segments."
        )
        raise InputDataError(msg)


def segment_adjacency(
    segments: gpd.GeoDataFrame, distance_m: float, *, cache: Path | None = None
) -> sparse.csr_matrix:
    """Binary adjacency: segments sharing an end point or within ``distance_m`` (no self).

    With ``cache`` (a folder), the matrix is kept there under a key of the segments'
    geometries (their WKB, in order), ``distance_m`` and this module's source, and read
    back by a later call with the same segments: a monthly rerun on the same street layer
    skips the distance queries (London's 16,500 segments: 0.45-0.78 s). A cache file that
    cannot be read is built again.
    """
    geoms = segments.geometry.to_numpy()
    if cache is None:
        return _segment_adjacency(geoms, distance_m)
    key = hashlib.sha256()
    for part in (repr(float(distance_m)), _LAYOUT, _source_digest()):
        key.update(part.encode())
    key.update(b"".join(shapely.to_wkb(geoms, hex=False)))
    file = Path(cache) / "adjacency" / f"{key.hexdigest()}.npz"
    try:
        found = sparse.load_npz(file).tocsr()
    except (OSError, ValueError, KeyError):  # missing or unreadable: built again
        found = None
    if found is not None and found.shape == (len(geoms), len(geoms)):
        return found
    adj = _segment_adjacency(geoms, distance_m)
    _write_npz(adj, file)
    return adj


#: Bump when what a cached adjacency file holds changes.
_LAYOUT = "1"


def _source_digest() -> str:
    """Return the SHA-256 of this module's source (a change misses the adjacency cache)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _write_npz(adj: sparse.csr_matrix, file: Path) -> None:
    """Write atomically; a folder that cannot be written (read-only, full): skipped."""
    write_atomically(file, lambda fh: sparse.save_npz(fh, adj, compressed=False))


def _segment_adjacency(geoms: np.ndarray, distance_m: float) -> sparse.csr_matrix:
    n = len(geoms)
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(geoms, i)) for i in (0, -1)])
    _, vertex = np.unique(np.round(ends, _VERTEX_DECIMALS), axis=0, return_inverse=True)
    vertex = vertex.ravel()
    incidence = sparse.csr_matrix(
        (np.ones(2 * n), (np.tile(np.arange(n), 2), vertex)),
        shape=(n, int(vertex.max(initial=-1)) + 1),
    )
    adj = (incidence @ incidence.T).tocoo()
    if distance_m > 0:
        left, right = _pairs_within(geoms, distance_m)
        near = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
        adj = (adj + near).tocoo()
    keep = adj.row != adj.col
    rows, cols = adj.row[keep], adj.col[keep]
    out = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    out.data[:] = 1.0  # duplicate pairs were summed by tocsr
    return out


def _pairs_within(geoms: np.ndarray, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the index pairs of geometries within ``distance_m`` of each other (self included).

    The tree is queried in one slice of the geometries per core, in threads: GEOS releases
    the GIL, so the slices run at the same time.
    """
    tree = shapely.STRtree(geoms)
    n = len(geoms)
    parts = max(1, min(os.cpu_count() or 1, n // 2000))
    bounds = np.linspace(0, n, parts + 1).astype(int)

    def query(lo: int, hi: int) -> np.ndarray:
        found: np.ndarray = tree.query(geoms[lo:hi], predicate="dwithin", distance=distance_m)
        found[0] += lo
        return found

    if parts == 1:
        left, right = query(0, n)
        return left, right
    with ThreadPoolExecutor(max_workers=parts, thread_name_prefix="hotspots-gistar") as pool:
        found = list(pool.map(query, bounds[:-1], bounds[1:]))
    both = np.concatenate(found, axis=1)
    return both[0], both[1]


def check_distance(distance_m: float) -> None:
    """Raise :class:`InputDataError` unless ``distance_m`` is a finite distance, 0 or more."""
    if not np.isfinite(distance_m) or distance_m < 0:
        msg = (
            f"`distance_m` must be a distance in metres, 0 or more; got {distance_m}. "
            f"Use 0 for touching segments only, or the default {DEFAULT_DISTANCE_M:g}."
        )
        raise InputDataError(msg)


def segment_weights(
    segments: gpd.GeoDataFrame, *, distance_m: float = DEFAULT_DISTANCE_M
) -> libpysal.weights.W:
    """Return binary weights linking street segments that touch or lie within ``distance_m``.

    Parameters
    ----------
    segments
        Segments from :func:`hotspots.space.segments.lines_to_segments` (LineStrings, metres).
    distance_m
        Two segments are neighbours when the shortest straight-line distance between their
        lines is at most this many metres (default 100 m, about one block; see the module
        notes). ``0`` keeps only segments that share an end point.

    Returns
    -------
    libpysal.weights.W
        Ids are the ``segment_id`` values in the order of ``segments``; weights are 1; no
        self-weights (Gi* adds them). Segments with no neighbour are islands.

    Raises
    ------
    InputDataError
        If ``segments`` lacks ``segment_id``, has other geometry than LineString or is not
        in metres, or ``distance_m`` is negative.

    Notes
    -----
    Formally: ``j`` is a neighbour of ``i != j`` if an end point of ``i`` equals an end
    point of ``j`` after rounding to 0.01 m, or if ``distance_m > 0`` and the minimum
    distance between the two lines is at most ``distance_m``. Lines that cross without a
    shared vertex (a bridge) touch only through the distance rule.
    """
    check_segments(segments, "segment_weights")
    check_distance(distance_m)
    adj = segment_adjacency(segments, distance_m)
    ids = segments["segment_id"].astype(str).tolist()
    return libpysal.weights.WSP(adj, id_order=ids).to_W(silence_warnings=True)
