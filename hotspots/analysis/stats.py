"""Getis-Ord Gi* hot spots on H3 cells and on street segments: thin wrappers over esda/libpysal.

Nothing here computes a statistic by hand. ``esda.G_Local(star=True, transform="B")`` gives
the Gi* z-scores and the permutation p-values; ``scipy.stats.false_discovery_control``
(Benjamini-Hochberg) gives the FDR-adjusted q-values (``esda.fdr`` is not used: it returns a
single cut-off and falls back to Bonferroni when nothing passes).

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

Speed
-----
Weights are sparse. The analytic z, p and q take about a second for 20,000 units. The
classes use the analytic p-values, so they do not depend on permutations, and by default
none are run (``permutations=0``: ``p_perm`` is missing). Asked for (``hotspots run
--permutations 999``), esda's conditional permutations (without numba, ``n_jobs=1`` so
results are reproducible and no worker processes start) add about 1.5 s for 19,500 London
cells and 4 s for 16,500 London segments with 22 neighbours each.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import esda
import geopandas as gpd
import h3
import libpysal
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.stats import false_discovery_control

from hotspots.analysis import rank
from hotspots.errors import InputDataError

__all__ = [
    "CONFIDENCE_LEVELS",
    "DEFAULT_ALPHA",
    "DEFAULT_DISTANCE_M",
    "DEFAULT_PERMUTATIONS",
    "GISTAR_CLASSES",
    "GISTAR_CLASS_DTYPE",
    "GISTAR_COLUMNS",
    "NOT_SIGNIFICANT",
    "cell_weights",
    "classify_gistar",
    "gistar_cells",
    "gistar_streets",
    "pvalues_to_qvalues",
    "segment_weights",
]

log = logging.getLogger("hotspots")

#: Default permutations for the pseudo p-value ``p_perm``: none (the classes do not use it).
DEFAULT_PERMUTATIONS = 0
#: Default largest FDR q-value reported as a hot or cold spot (the 90% class).
DEFAULT_ALPHA = 0.10
#: Default neighbour distance between street segments, metres.
DEFAULT_DISTANCE_M = 100.0

#: q-value cut-offs and their confidence labels (ArcGIS-style bins).
CONFIDENCE_LEVELS: dict[float, str] = {0.01: "99%", 0.05: "95%", 0.10: "90%"}
NOT_SIGNIFICANT = "Not significant"
#: Gi* classes, hottest first: the categories of ``gi_class``.
GISTAR_CLASSES: list[str] = [
    *(f"Hot spot {c}" for c in CONFIDENCE_LEVELS.values()),
    NOT_SIGNIFICANT,
    *(f"Cold spot {c}" for c in reversed(CONFIDENCE_LEVELS.values())),
]
GISTAR_CLASS_DTYPE = pd.CategoricalDtype(GISTAR_CLASSES, ordered=True)
#: Columns of :func:`gistar_cells` and :func:`gistar_streets`, in order.
GISTAR_COLUMNS: list[str] = ["value", "neighbours", "z", "p", "p_perm", "q", "gi_class"]

_VERTEX_DECIMALS = 2


# --------------------------------------------------------------------------------------------
# weights


def _cell_adjacency(cells: Sequence[str]) -> sparse.csr_matrix:
    """Binary first-ring adjacency among ``cells`` (no self)."""
    pos = {c: i for i, c in enumerate(cells)}
    pairs = [(i, pos[n]) for i, c in enumerate(cells) for n in h3.grid_ring(c, 1) if n in pos]
    ij = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    n = len(cells)
    return sparse.csr_matrix((np.ones(len(ij)), (ij[:, 0], ij[:, 1])), shape=(n, n))


def _check_cells(cells: pd.Index) -> None:
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
    _check_cells(index)
    adj = _cell_adjacency(list(index))
    return libpysal.weights.WSP(adj, id_order=list(index)).to_W(silence_warnings=True)


def _check_segments(segments: gpd.GeoDataFrame, caller: str) -> None:
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


def _segment_adjacency(segments: gpd.GeoDataFrame, distance_m: float) -> sparse.csr_matrix:
    """Binary adjacency: segments sharing an end point or within ``distance_m`` (no self)."""
    geoms = segments.geometry.to_numpy()
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


def _check_distance(distance_m: float) -> None:
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
    _check_segments(segments, "segment_weights")
    _check_distance(distance_m)
    adj = _segment_adjacency(segments, distance_m)
    ids = segments["segment_id"].astype(str).tolist()
    return libpysal.weights.WSP(adj, id_order=ids).to_W(silence_warnings=True)


# --------------------------------------------------------------------------------------------
# inference


def pvalues_to_qvalues(p: ArrayLike) -> np.ndarray:
    """Return Benjamini-Hochberg FDR-adjusted q-values (``scipy.stats.false_discovery_control``).

    Parameters
    ----------
    p
        P-values in [0, 1]; missing values stay missing and do not count as tests.

    Returns
    -------
    numpy.ndarray
        q-values, same shape: the smallest FDR at which each test is significant.

    Raises
    ------
    InputDataError
        If a p-value lies outside [0, 1].

    Notes
    -----
    Formally, with the ``m`` non-missing p-values sorted ``p_(1) <= ... <= p_(m)``:
    ``q_(i) = min_{k >= i} min(1, m p_(k) / k)``.

    Examples
    --------
    >>> pvalues_to_qvalues([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    arr = np.asarray(p, dtype=float)
    ok = ~np.isnan(arr)
    if ((arr[ok] < 0) | (arr[ok] > 1)).any():
        msg = (
            f"p-values must lie in [0, 1]; found {int(((arr[ok] < 0) | (arr[ok] > 1)).sum())} "
            "outside. Pass p-values, not z-scores."
        )
        raise InputDataError(msg)
    q = np.full(arr.shape, np.nan)
    if ok.any():
        q[ok] = false_discovery_control(arr[ok], method="bh")
    return q


def _check_alpha(alpha: float) -> None:
    if not any(np.isclose(alpha, lvl) for lvl in CONFIDENCE_LEVELS):
        msg = (
            f"`alpha` must be one of {sorted(CONFIDENCE_LEVELS)} (the 99/95/90% classes); got "
            f"{alpha}. Use 0.10 to report all three classes."
        )
        raise InputDataError(msg)


def classify_gistar(z: ArrayLike, q: ArrayLike, *, alpha: float = DEFAULT_ALPHA) -> pd.Series:
    """Label Gi* results as hot or cold spots at 99/95/90% confidence, or not significant.

    Parameters
    ----------
    z
        Gi* z-scores (a Series keeps its index).
    q
        FDR-adjusted q-values, same length.
    alpha
        Largest q-value reported as significant: 0.10 (all classes), 0.05 or 0.01.

    Returns
    -------
    pandas.Series
        Ordered categorical with :data:`GISTAR_CLASSES`, named ``gi_class``.

    Raises
    ------
    InputDataError
        If ``alpha`` is not 0.01, 0.05 or 0.10.

    Notes
    -----
    Formally: "Hot spot 99%" if ``z > 0`` and ``q <= 0.01``; "Hot spot 95%" if ``z > 0`` and
    ``0.01 < q <= 0.05``; "Hot spot 90%" if ``z > 0`` and ``0.05 < q <= 0.10``; "Cold spot"
    likewise with ``z < 0``; a class whose cut-off exceeds ``alpha`` is not used; everything
    else (including missing ``z`` or ``q``) is "Not significant".

    Examples
    --------
    >>> classify_gistar([3.0, -2.0, 1.7, 0.2], [0.001, 0.04, 0.08, 0.9]).tolist()
    ['Hot spot 99%', 'Cold spot 95%', 'Hot spot 90%', 'Not significant']
    """
    _check_alpha(alpha)
    zz, qq = np.asarray(z, dtype=float), np.asarray(q, dtype=float)
    label = np.full(len(zz), NOT_SIGNIFICANT, dtype=object)
    for level, conf in sorted(CONFIDENCE_LEVELS.items(), reverse=True):
        if level > alpha + 1e-12:
            continue
        sig = qq <= level
        label[sig & (zz > 0)] = f"Hot spot {conf}"
        label[sig & (zz < 0)] = f"Cold spot {conf}"
    index = z.index if isinstance(z, pd.Series) else None
    return pd.Series(label, index=index, dtype=GISTAR_CLASS_DTYPE, name="gi_class")


def _check_values(values: np.ndarray, what: str) -> None:
    problems = []
    if np.isnan(values).any():
        problems.append(f"{int(np.isnan(values).sum())} missing")
    if (values < 0).any():
        problems.append(f"{int((values < 0).sum())} negative")
    if len(values) and not np.isnan(values).all() and np.nanmax(values) == np.nanmin(values):
        problems.append(f"all {len(values)} equal to {np.nanmax(values):g}")
    if len(values) < 3:
        problems.append(f"only {len(values)} units")
    if problems:
        msg = (
            f"Gi* needs at least 3 non-negative, non-missing {what} that are not all equal; "
            f"found {'; '.join(problems)}. Fill empty units with 0 and check the input."
        )
        raise InputDataError(msg)


def _gistar(
    values: np.ndarray,
    adj: sparse.csr_matrix,
    index: pd.Index,
    *,
    permutations: int,
    seed: int,
    alpha: float,
) -> pd.DataFrame:
    """Run esda Gi* (binary weights, self included) and add p, q and the classes."""
    graph = libpysal.graph.Graph.from_sparse(adj)
    with warnings.catch_warnings():
        # G_Local cannot pass `alternative` to esda.crand, which warns that its default will
        # change; we keep today's folded one-sided pseudo p-value and double it below.
        warnings.filterwarnings(
            "ignore",
            message="The alternative hypothesis for conditional",
            category=DeprecationWarning,
        )
        # a unit whose neighbourhood is the whole table has no variance: z is left missing
        with np.errstate(invalid="ignore", divide="ignore"):
            gi = esda.G_Local(
                values,
                graph,
                transform="B",
                star=True,
                permutations=permutations,
                seed=seed,
                keep_simulations=False,
                n_jobs=1,
            )
    neighbours = np.diff(adj.indptr)
    island = neighbours == 0
    z = np.where(island, np.nan, gi.Zs)
    p = np.where(island, np.nan, np.minimum(1.0, 2 * gi.p_norm))
    p_perm = np.minimum(1.0, 2 * gi.p_sim) if permutations else np.full(len(z), np.nan)
    out = pd.DataFrame(
        {
            "value": values,
            "neighbours": neighbours.astype("int64"),
            "z": z,
            "p": p,
            "p_perm": np.where(np.isnan(z), np.nan, p_perm),
            "q": pvalues_to_qvalues(p),
        },
        index=index,
    )
    out["gi_class"] = classify_gistar(out["z"], out["q"], alpha=alpha)
    return out[GISTAR_COLUMNS]


def _check_permutations(permutations: int) -> None:
    if not isinstance(permutations, int | np.integer) or permutations < 0:
        msg = (
            f"`permutations` must be a whole number, 0 or more; got {permutations!r}. "
            "Use 0 to skip the permutation p-value, or 999."
        )
        raise InputDataError(msg)


def _log_classes(result: pd.DataFrame, what: str) -> None:
    counts = result["gi_class"].value_counts()
    hot = int(counts[[c for c in GISTAR_CLASSES if c.startswith("Hot")]].sum())
    cold = int(counts[[c for c in GISTAR_CLASSES if c.startswith("Cold")]].sum())
    log.info(
        "Gi* on %d %s: %d hot, %d cold (FDR-adjusted), %d without neighbours",
        len(result),
        what,
        hot,
        cold,
        int((result["neighbours"] == 0).sum()),
    )


def gistar_cells(
    cell_counts: pd.DataFrame | pd.Series,
    *,
    column: str = "crimes",
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    quiet: bool = False,
) -> pd.DataFrame:
    """Find hot and cold H3 cells with Getis-Ord Gi* and FDR-corrected confidence classes.

    Parameters
    ----------
    cell_counts
        Table indexed by H3 cell id (e.g. :func:`hotspots.space.grid.count_by_cell`, which keeps
        the empty cells of the study area) or a Series of values so indexed.
    column
        Column of ``cell_counts`` to analyse (ignored for a Series).
    permutations
        Conditional permutations for ``p_perm`` (default 0: none, ``p_perm`` missing; e.g.
        999; see the module notes).
    seed
        Seed of the permutations.
    alpha
        Largest q-value reported as a hot or cold spot: 0.10, 0.05 or 0.01.
    quiet
        If True, do not log the class counts.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``cell_counts``, columns :data:`GISTAR_COLUMNS`: ``value`` (the value
        analysed), ``neighbours`` (cells of the first ring in the table), ``z`` (Gi*
        z-score), ``p`` (two-sided normal p-value of ``z``), ``p_perm`` (two-sided pseudo
        p-value: twice esda's folded ``p_sim``, capped at 1), ``q`` (Benjamini-Hochberg
        q-value of ``p``) and ``gi_class`` (see :func:`classify_gistar`). Cells without
        neighbours, and cells whose neighbourhood is the whole table, get missing
        statistics and "Not significant"; they are left out of the FDR correction.

    Raises
    ------
    InputDataError
        On invalid cells, a missing ``column``, values that are missing, negative or all
        equal, or bad ``permutations``/``alpha``.

    Notes
    -----
    Weights are binary first-ring contiguity; Gi* includes the cell itself
    (``esda.G_Local(y, w, transform="B", star=True)``).

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> from hotspots.space import grid
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> counts = grid.count_by_cell(crimes, resolution=8, quiet=True)
    >>> hot = gistar_cells(counts, permutations=0, quiet=True)
    >>> hot.loc[hot["z"].idxmax(), "gi_class"]
    'Hot spot 99%'
    """
    _check_permutations(permutations)
    _check_alpha(alpha)
    series = cell_counts if isinstance(cell_counts, pd.Series) else _column(cell_counts, column)
    _check_cells(series.index)
    values = series.to_numpy(dtype=float)
    _check_values(values, "cell values")
    adj = _cell_adjacency(list(series.index.astype(str)))
    out = _gistar(values, adj, series.index, permutations=permutations, seed=seed, alpha=alpha)
    if not quiet:
        _log_classes(out, "H3 cells")
    return out


def _column(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table.columns:
        found = ", ".join(map(str, table.columns))
        msg = (
            f"`column` {column!r} is not in the table; found {found}. Pass one of those, "
            "e.g. column='crimes'."
        )
        raise InputDataError(msg)
    return table[column]


def gistar_streets(
    segments: gpd.GeoDataFrame,
    counts: pd.DataFrame | pd.Series,
    *,
    distance_m: float = DEFAULT_DISTANCE_M,
    per_100m: bool = False,
    length_floor_m: float = rank.DEFAULT_LENGTH_FLOOR_M,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    quiet: bool = False,
) -> pd.DataFrame:
    """Find hot and cold street segments with Getis-Ord Gi* and FDR-corrected classes.

    Parameters
    ----------
    segments
        All segments (with and without crime) from
        :func:`hotspots.space.segments.lines_to_segments`.
    counts
        :func:`hotspots.analysis.rank.count_by_segment` output (its ``crimes`` column is used) or a
        Series of crimes, indexed like ``segments``.
    distance_m
        Neighbour distance, as in :func:`segment_weights` (default 100 m).
    per_100m
        If True, analyse crimes per 100 m of street (length floored at ``length_floor_m``,
        as in :func:`hotspots.analysis.rank.per_100m`) instead of crimes.
    length_floor_m
        Length floor of the rate, metres (default 50 m).
    permutations, seed, alpha, quiet
        As in :func:`gistar_cells`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``segments``, columns :data:`GISTAR_COLUMNS` (see
        :func:`gistar_cells`); ``neighbours`` counts the segments linked by
        :func:`segment_weights`.

    Raises
    ------
    InputDataError
        If ``segments`` is not a metric LineString table with ``segment_id``, ``counts`` is
        not indexed like it or has no ``crimes`` column, or other options are invalid.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> segs = gpd.GeoDataFrame({"segment_id": list("abcdef"), "length_m": 100.0},
    ...     geometry=[LineString([(i * 100, 0), (i * 100 + 100, 0)]) for i in range(6)],
    ...     crs=27700)
    >>> res = gistar_streets(segs, pd.Series([9, 8, 0, 0, 0, 1]), distance_m=0,
    ...                      permutations=0, quiet=True)
    >>> res["z"].round(2).tolist()
    [2.22, 1.52, -0.19, -1.71, -1.52, -1.01]
    """
    _check_segments(segments, "gistar_streets")
    _check_distance(distance_m)
    _check_permutations(permutations)
    _check_alpha(alpha)
    crimes = counts if isinstance(counts, pd.Series) else _column(counts, "crimes")
    if not crimes.index.equals(segments.index):
        msg = (
            f"`counts` must be indexed like `segments` ({len(segments)} rows); found "
            f"{len(crimes)} rows with a different index. Use rank.count_by_segment(crimes, "
            "segments)."
        )
        raise InputDataError(msg)
    values = crimes.astype(float)
    if per_100m:
        values = rank.per_100m(values, segments["length_m"], length_floor_m)
    _check_values(values.to_numpy(float), "segment values")
    adj = _segment_adjacency(segments, distance_m)
    out = _gistar(
        values.to_numpy(float),
        adj,
        segments.index,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
    )
    if not quiet:
        _log_classes(out, "street segments")
    return out
