"""Density clusters of crime points (DBSCAN or HDBSCAN) and cluster summaries.

Repeat locations (many crimes at one point) are in :mod:`hotspots.analysis.repeats`.

Clustering runs on the distinct locations, each weighted by its number of crimes: police.uk
puts every record on one of a fixed set of anonymous map points (about 45,000 for 1.45
million London records) and VPD on hundred-block points, so this is exact for DBSCAN and
fast.

Automatic parameters (logged; pass ``eps_m`` / ``min_samples`` to override)
---------------------------------------------------------------------------
* ``eps_m``: the knee of the k-distance curve (Ester et al. 1996), with k = 4: the distance
  from each distinct location to its 4th nearest other distinct location, sorted; the knee
  is the point farthest below the straight line joining the curve's ends (the "kneedle"
  rule of Satopaa et al. 2011). The knee is kept within 25-250 m so a cluster stays at
  street-block scale (the knee of sparse police.uk points can exceed 400 m).
* ``min_samples`` (in crimes): ``max(10, ceil(5 * m))``, where ``m`` is the median over
  distinct locations of the crimes within ``eps_m`` (the location's own included). A core
  location thus has five times the crimes of a typical neighbourhood. Because ``m`` is a
  count, the threshold grows with the number of crimes and the length of the period
  (24 months of London give about 1,300 crimes within 250 m; one month about 70).

One threshold for the whole city merges a dense centre into one large cluster (London,
24 months: the West End, 127,000 crimes over 12 km^2; Vancouver: downtown, 39% of all
crimes); ``method="hdbscan"`` adapts to varying density and splits such centres.

HDBSCAN (scikit-learn) takes no sample weights, so each location is repeated once per
``unit`` crimes (rounded; ``unit`` chosen so at most 30,000 rows go in). Locations with
fewer than half a unit of crimes are left out and labelled noise. ``min_samples`` and
``min_cluster_size`` are ``min_samples`` crimes expressed in rows; ``eps_m``, if given, is
HDBSCAN's ``cluster_selection_epsilon``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from sklearn.cluster import HDBSCAN
from sklearn.neighbors import NearestNeighbors

from hotspots.errors import InputDataError
from hotspots.space.grid import distinct_xy, validate_projected
from hotspots.space.names import location_to_street

__all__ = [
    "CLUSTER_COLUMNS",
    "CONCAVE_RATIO",
    "DBSCAN_BLOCK",
    "DEFAULT_BUFFER_M",
    "DENSITY_FACTOR",
    "EPS_RANGE_M",
    "HDBSCAN_MAX_ROWS",
    "KNEE_SAMPLE",
    "K_DISTANCE_K",
    "MIN_CORE_CRIMES",
    "SUMMARY_COLUMNS",
    "TOP_STREETS",
    "TOP_TYPES",
    "cluster_points",
    "distinct_locations",
    "summarise_clusters",
    "type_shares",
]

log = logging.getLogger("hotspots")

#: Neighbour rank of the k-distance curve.
K_DISTANCE_K = 4
#: Bounds of the automatic ``eps_m``, metres.
EPS_RANGE_M = (25.0, 250.0)
#: A core location has this many times the median neighbourhood crimes ...
DENSITY_FACTOR = 5.0
#: ... and never fewer than this many crimes.
MIN_CORE_CRIMES = 10
#: Most rows HDBSCAN is given.
HDBSCAN_MAX_ROWS = 30_000
#: Most query points used to draw the k-distance curve (a seeded sample beyond this).
KNEE_SAMPLE = 50_000
#: DBSCAN: locations whose neighbour lists are held at once.
DBSCAN_BLOCK = 50_000
#: Outline: concave hull of the cluster's locations (ratio as in ``shapely.concave_hull``),
#: buffered by ``buffer_m``.
CONCAVE_RATIO = 0.3
DEFAULT_BUFFER_M = 25.0
#: Crime types and street names listed per cluster or location.
TOP_TYPES = 3
TOP_STREETS = 5

#: Columns of :func:`summarise_clusters`.
CLUSTER_COLUMNS: list[str] = [
    "cluster_id",
    "crimes",
    "locations",
    "area_m2",
    "first_month",
    "last_month",
    "top_types",
    "streets",
    "segment_ids",
    "area_codes",
    "geometry",
]

Method = Literal["dbscan", "hdbscan"]
#: Columns a cluster or repeat-location summary reads from the crimes.
SUMMARY_COLUMNS = ("x", "y", "month", "crime_type", "location")


def distinct_locations(
    crimes: pd.DataFrame, distinct: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct x/y (sorted), the location of each crime, and crimes per location.

    ``distinct`` is :func:`hotspots.space.grid.distinct_xy` of ``crimes`` when already known
    (found from the reader's point ids: the same points as hashing every row's x/y, sooner).
    """
    bad = ~(np.isfinite(crimes["x"].to_numpy(float)) & np.isfinite(crimes["y"].to_numpy(float)))
    if bad.any():
        msg = (
            f"`crimes` must all have coordinates to be clustered; found {int(bad.sum())} rows "
            "with missing x/y. Drop them first (crimes[crimes['x'].notna()])."
        )
        raise InputDataError(msg)
    codes, points = distinct_xy(crimes) if distinct is None else distinct
    return points, codes, np.bincount(codes, minlength=len(points))


def _knee(distances: np.ndarray) -> float:
    """Return the knee of an increasing curve: the point farthest below its chord."""
    d = np.sort(distances)
    if len(d) < 3 or d[-1] == d[0]:
        return float(d[-1]) if len(d) else 0.0
    x = np.linspace(0.0, 1.0, len(d))
    y = (d - d[0]) / (d[-1] - d[0])
    return float(d[np.argmax(x - y)])


def _auto_eps(tree: cKDTree, xy: np.ndarray, seed: int) -> float:
    k = min(K_DISTANCE_K, len(xy) - 1)
    if k < 1:
        return EPS_RANGE_M[0]
    query = xy
    if len(xy) > KNEE_SAMPLE:
        pick = np.random.default_rng(seed).choice(len(xy), KNEE_SAMPLE, replace=False)
        query = xy[np.sort(pick)]
    dist = tree.query(query, k=k + 1)[0][:, k]
    return float(np.clip(_knee(dist), *EPS_RANGE_M))


def _neighbourhood_crimes(xy: np.ndarray, counts: np.ndarray, eps: float) -> np.ndarray:
    """Crimes within ``eps`` of each location, its own included.

    Summed one binary digit of the counts at a time, so no list of neighbour pairs is built
    (hundreds of millions of pairs for millions of locations): with ``counts = sum_b 2**b *
    bit_b``, the crimes near a location are ``sum_b 2**b`` times the number of locations
    within ``eps`` whose bit ``b`` is set, which ``cKDTree.query_ball_point`` counts.
    """
    total = np.zeros(len(xy), dtype=np.int64)
    for bit in range(int(counts.max(initial=0)).bit_length()):
        on = ((counts >> bit) & 1).astype(bool)
        if on.any():
            near = cKDTree(xy[on]).query_ball_point(xy, eps, return_length=True, workers=-1)
            total += np.asarray(near, dtype=np.int64) << bit
    return total


def _check_options(method: str, eps_m: float | None, min_samples: int | None) -> None:
    problems = []
    if method not in ("dbscan", "hdbscan"):
        problems.append(f"`method` must be 'dbscan' or 'hdbscan', got {method!r}")
    if eps_m is not None and not (np.isfinite(eps_m) and eps_m > 0):
        problems.append(f"`eps_m` must be a positive distance in metres, got {eps_m!r}")
    if min_samples is not None and not (
        isinstance(min_samples, int | np.integer) and min_samples >= 1
    ):
        problems.append(
            f"`min_samples` must be a whole number of crimes, 1 or more, got {min_samples!r}"
        )
    if problems:
        msg = "; ".join(problems) + ". Leave them as None to choose them from the data."
        raise InputDataError(msg)


def _relabel(labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... by crimes (descending), ties by first location."""
    found = np.unique(labels[labels >= 0])
    if not len(found):
        return labels
    crimes = np.array([counts[labels == c].sum() for c in found])
    first = np.array([np.flatnonzero(labels == c)[0] for c in found])
    order = np.lexsort((first, -crimes))
    mapping = np.full(labels.max() + 1, -1)
    mapping[found[order]] = np.arange(len(found))
    return np.where(labels >= 0, mapping[np.maximum(labels, 0)], -1)


def _hdbscan(
    xy: np.ndarray, counts: np.ndarray, min_samples: int, eps_m: float | None
) -> np.ndarray:
    unit = max(1, math.ceil(counts.sum() / HDBSCAN_MAX_ROWS))
    copies = np.rint(counts / unit).astype(np.int64)
    rows = np.repeat(np.arange(len(xy)), copies)
    size = max(2, round(min_samples / unit))
    labels = np.full(len(xy), -1)
    if len(rows) <= size:
        return labels
    model = HDBSCAN(
        min_cluster_size=size,
        min_samples=size,
        copy=True,
        cluster_selection_epsilon=float(eps_m or 0.0),
    )
    row_labels = model.fit_predict(xy[rows])
    labels[rows] = row_labels  # copies of one location share its label
    return labels


def _neighbour_pairs(
    model: NearestNeighbors, xy: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (location, neighbour) index pairs within the model's radius, a block at a time."""
    for start in range(0, len(xy), DBSCAN_BLOCK):
        found = model.radius_neighbors(xy[start : start + DBSCAN_BLOCK], return_distance=False)
        sizes = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        rows = np.repeat(np.arange(start, start + len(found)), sizes)
        yield rows, np.concatenate([*found, np.empty(0, dtype=np.intp)])


def _merge(root: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Join the components of each pair ``(a[k], b[k])``; ``root`` is each location's lowest."""
    graph = sparse.coo_array(
        (np.ones(len(a), dtype=np.int32), (root[a], root[b])), shape=(len(root), len(root))
    )
    _, comp = connected_components(graph, directed=False)
    lowest = np.full(comp.max() + 1, len(root))
    np.minimum.at(lowest, comp, np.arange(len(root)))
    return np.asarray(lowest[comp[root]])


def _dbscan(xy: np.ndarray, counts: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """Return ``DBSCAN(eps, min_samples).fit_predict(xy, sample_weight=counts)`` labels.

    scikit-learn's DBSCAN holds every location's neighbour list at once (4 GB for the two
    million locations of a 10-million-crime scale-up); here its neighbour search runs twice,
    a block of locations at a time, with the same result: the core locations linked by
    their neighbour lists form a cluster, numbered in order of its first location, and any
    other location in a core location's list takes the earliest such cluster (DBSCAN grows
    the clusters one after another in that order).
    """
    model = NearestNeighbors(radius=eps).fit(xy)  # the search DBSCAN itself builds
    near_crimes = np.zeros(len(xy), dtype=np.int64)
    for rows, near in _neighbour_pairs(model, xy):
        np.add.at(near_crimes, rows, counts[near])
    core = near_crimes >= min_samples
    root = np.arange(len(xy))
    reached = []
    for rows, near in _neighbour_pairs(model, xy):
        from_core = core[rows]
        src, dst = rows[from_core], near[from_core]
        to_core = core[dst]
        root = _merge(root, src[to_core], dst[to_core])
        reached.append((dst[~to_core], src[~to_core]))  # (border location, core location)
    labels = np.where(core, root, len(xy))
    for border, by in reached:
        np.minimum.at(labels, border, root[by])
    found, labels = np.unique(labels, return_inverse=True)  # clusters by first location
    return np.where(found[labels] < len(xy), labels.ravel(), -1)


def cluster_points(
    crimes: gpd.GeoDataFrame,
    *,
    method: Method = "dbscan",
    eps_m: float | None = None,
    min_samples: int | None = None,
    seed: int = 0,
    quiet: bool = False,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.Series:
    """Label each crime with its density cluster (DBSCAN or HDBSCAN on metre coordinates).

    Parameters
    ----------
    crimes
        Canonical crime table in a projected CRS; ``x``/``y`` are used.
    method
        ``"dbscan"`` (default; exact crime weights) or ``"hdbscan"`` (variable density;
        weights approximated by repeated rows, see the module notes).
    eps_m
        DBSCAN neighbourhood radius, metres; by default the k-distance knee (module notes).
    min_samples
        Crimes within ``eps_m`` that make a location a core point; by default from the
        median neighbourhood count (module notes).
    seed
        Seed of the sample used for the k-distance curve when there are more than 50,000
        distinct locations (the clustering itself is deterministic).
    quiet
        If True, do not log the parameters chosen.
    distinct
        :func:`hotspots.space.grid.distinct_xy` of ``crimes`` when already known.

    Returns
    -------
    pandas.Series
        ``int64`` labels named ``cluster``, indexed like ``crimes``: -1 for noise, else
        0, 1, ... with 0 the cluster with the most crimes. Crimes at one location share a
        label. ``attrs["parameters"]`` holds the method, ``eps_m`` and ``min_samples`` used.

    Raises
    ------
    InputDataError
        If ``crimes`` is not projected or lacks coordinates, or an option is invalid.

    Notes
    -----
    Formally (DBSCAN): a location is a core point if the crimes at locations within
    ``eps_m`` of it, its own included, number at least ``min_samples``; a cluster is a
    maximal set of core points linked by steps of at most ``eps_m``, plus the locations
    within ``eps_m`` of them; everything else is noise.

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> labels = cluster_points(crimes, quiet=True)
    >>> int(labels.max()) + 1, bool(labels.value_counts().index[0] == -1)
    (66, True)
    """
    validate_projected(crimes, "cluster_points")
    _check_options(method, eps_m, min_samples)
    xy, inv, counts = distinct_locations(crimes, distinct)
    labels = np.full(len(xy), -1)
    if len(xy):
        tree = cKDTree(xy)
        eps = _auto_eps(tree, xy, seed) if eps_m is None else float(eps_m)
        if min_samples is None:
            typical = float(np.median(_neighbourhood_crimes(xy, counts, eps)))
            min_samples = max(MIN_CORE_CRIMES, math.ceil(DENSITY_FACTOR * typical))
        if method == "dbscan":
            labels = _dbscan(xy, counts, eps, min_samples)
        else:
            labels = _hdbscan(xy, counts, min_samples, eps_m)
        labels = _relabel(labels, counts)
        if not quiet:
            _log_clusters(method, labels, counts, eps, eps_m=eps_m, min_samples=min_samples)
    out = pd.Series(
        labels[inv] if len(inv) else labels[:0], index=crimes.index, dtype="int64", name="cluster"
    )
    if len(xy):
        out.attrs["parameters"] = {
            "method": method,
            "eps_m": round(float(eps), 1),
            "min_samples": int(min_samples or 0),
        }
    return out


def _log_clusters(
    method: str,
    labels: np.ndarray,
    counts: np.ndarray,
    eps: float,
    *,
    eps_m: float | None,
    min_samples: int,
) -> None:
    if method == "dbscan":
        how = f"eps {eps:.0f} m{'' if eps_m is None else ' (given)'}"
    else:
        how = "no eps" if eps_m is None else f"cluster_selection_epsilon {eps_m:.0f} m"
    log.info(
        "%s on %d locations (%d crimes): %s, min_samples %d crimes -> %d clusters holding "
        "%.1f%% of crimes",
        method.upper(),
        len(labels),
        counts.sum(),
        how,
        min_samples,
        labels.max() + 1,
        100 * counts[labels >= 0].sum() / counts.sum(),
    )


def type_shares(table: pd.DataFrame, top: int) -> pd.Series:
    """Return "<col> NN%; ..." for the ``top`` largest columns of each row (ties by name)."""
    table = table.reindex(columns=sorted(table.columns))
    values = table.to_numpy(float)
    totals = values.sum(axis=1, keepdims=True)
    order = np.argsort(-values, axis=1, kind="stable")[:, :top]
    names = np.asarray(table.columns, dtype=object)
    text = []
    for row, idx in enumerate(order):
        parts = [
            f"{names[j]} {100 * values[row, j] / totals[row, 0]:.0f}%"
            for j in idx
            if values[row, j] > 0
        ]
        text.append("; ".join(parts))
    return pd.Series(text, index=table.index, dtype="string")


def _outlines(points: pd.DataFrame, buffer_m: float) -> pd.Series:
    """Concave hull of each cluster's distinct locations, buffered by ``buffer_m``."""
    pts = points.drop_duplicates(["cluster", "x", "y"]).sort_values(["cluster", "x", "y"])
    codes, first = np.unique(pts["cluster"].to_numpy(), return_index=True)
    parts = np.split(pts[["x", "y"]].to_numpy(float), first[1:])
    hulls = shapely.concave_hull(
        np.array([shapely.multipoints(p) for p in parts]), ratio=CONCAVE_RATIO
    )
    return pd.Series(shapely.buffer(hulls, buffer_m), index=codes)


def _top_names(per: pd.Series) -> pd.Series:
    """Join the ``TOP_STREETS`` names with most crimes per cluster (``per``: cluster, street)."""
    per = per.reset_index().sort_values(["cluster", "n", "street"], ascending=[True, False, True])
    return per.groupby("cluster").head(TOP_STREETS).groupby("cluster")["street"].agg("; ".join)


def _text_streets(crimes: pd.DataFrame) -> pd.Series:
    """Streets named by the crimes' location text (points of interest left out)."""
    per = pd.DataFrame(
        {"cluster": crimes["cluster"], "street": location_to_street(crimes["location"])}
    )
    return _top_names(per.dropna().groupby(["cluster", "street"]).size().rename("n"))


def _segment_streets(
    crimes: pd.DataFrame, outlines: gpd.GeoSeries, segments: gpd.GeoDataFrame
) -> tuple[pd.Series, pd.Series]:
    """Names (most snapped crimes first) and ids of the segments each outline intersects."""
    ci, si = shapely.STRtree(segments.geometry.to_numpy()).query(
        outlines.to_numpy(), predicate="intersects"
    )
    cover = pd.DataFrame(
        {
            "cluster": outlines.index.to_numpy()[ci],
            "segment_id": segments["segment_id"].astype(str).to_numpy()[si],
            "street": segments["street_name"].to_numpy()[si],
        }
    )
    ids = cover.sort_values("segment_id").groupby("cluster")["segment_id"].agg(";".join)
    if "segment_id" in crimes:
        hits = crimes.groupby(["cluster", crimes["segment_id"].astype(str)]).size()
        cover = cover.join(hits.rename("n"), on=["cluster", "segment_id"]).fillna({"n": 0})
    else:
        cover["n"] = 0
    names = _top_names(cover.dropna(subset=["street"]).groupby(["cluster", "street"])["n"].sum())
    return names, ids


def _street_lists(
    crimes: pd.DataFrame, outlines: gpd.GeoSeries, segments: gpd.GeoDataFrame | None
) -> pd.DataFrame:
    """``streets`` and ``segment_ids`` per cluster (see :func:`summarise_clusters`)."""
    out = pd.DataFrame({"streets": "", "segment_ids": ""}, index=outlines.index, dtype="string")
    names = _text_streets(crimes)
    if segments is not None:
        seg_names, ids = _segment_streets(crimes, outlines, segments)
        names = seg_names.combine_first(names)  # text names where segments have none
        out["segment_ids"] = ids.reindex(out.index).fillna("").astype("string")
    out["streets"] = names.reindex(out.index).fillna("").astype("string")
    return out


def summarise_clusters(
    crimes: gpd.GeoDataFrame,
    labels: pd.Series,
    segments: gpd.GeoDataFrame | None = None,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> gpd.GeoDataFrame:
    """Describe each cluster: crimes, outline, streets, main crime types, areas and months.

    Parameters
    ----------
    crimes
        Canonical crime table (projected) with ``month``, ``crime_type`` and ``location``;
        ``area_code`` and ``segment_id`` are used when present.
    labels
        From :func:`cluster_points`, indexed like ``crimes`` (-1 is noise).
    segments
        Optional street segments (same CRS); the streets a cluster covers are then the
        named segments its outline intersects, in order of the cluster's crimes snapped to
        them. Without segments, or where the covered segments have no names (Vancouver),
        they are the streets named by the police.uk "On or near" / VPD hundred-block texts
        of its crimes (:func:`hotspots.space.names.location_to_street`; points of interest left
        out), most crimes first.
    buffer_m
        Buffer around the concave hull of the cluster's locations, metres (default 25 m).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cluster, sorted by ``cluster_id``, columns :data:`CLUSTER_COLUMNS`:
        ``cluster_id``, ``crimes``, ``locations`` (distinct points), ``area_m2`` (of the
        outline), ``first_month``, ``last_month``, ``top_types`` (up to three, with
        their share of the cluster's crimes), ``streets`` (up to five names, ``"; "``),
        ``segment_ids`` (every covered segment, ``";"``, empty without ``segments``),
        ``area_codes`` (``";"``) and the outline polygon.

    Raises
    ------
    InputDataError
        If ``labels`` is not indexed like ``crimes`` or ``crimes`` is not projected.

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> table = summarise_clusters(crimes, cluster_points(crimes, quiet=True))
    >>> int(table.loc[0, "crimes"]), table.loc[0, "streets"].split("; ")[:2]
    (5377, ['Harewood Place', 'Charing Cross Road'])
    """
    validate_projected(crimes, "summarise_clusters", SUMMARY_COLUMNS)
    if not labels.index.equals(crimes.index):
        msg = (
            f"`labels` must be indexed like `crimes` ({len(crimes)} rows); found {len(labels)} "
            "rows with another index. Pass cluster_points(crimes) unchanged."
        )
        raise InputDataError(msg)
    cols = [c for c in (*SUMMARY_COLUMNS, "area_code", "segment_id") if c in crimes.columns]
    c = pd.DataFrame(crimes[cols]).assign(cluster=labels)
    c = c[c["cluster"] >= 0]
    if c.empty:
        return gpd.GeoDataFrame(columns=CLUSTER_COLUMNS, geometry="geometry", crs=crimes.crs)
    g = c.groupby("cluster", sort=True)
    out = pd.DataFrame({"cluster_id": g.size().index.astype("int64"), "crimes": g.size()})
    out["locations"] = c.drop_duplicates(["cluster", "x", "y"]).groupby("cluster").size()
    outlines = gpd.GeoSeries(_outlines(c, buffer_m), crs=crimes.crs)
    out["area_m2"] = outlines.area.round(0)
    out["first_month"], out["last_month"] = g["month"].min(), g["month"].max()
    out["top_types"] = type_shares(pd.crosstab(c["cluster"], c["crime_type"]), TOP_TYPES)
    out = out.join(_street_lists(c, outlines, segments))
    codes = (
        g["area_code"].agg(lambda s: ";".join(sorted(set(s.dropna().astype(str)))))
        if "area_code" in c
        else ""
    )
    out["area_codes"] = pd.Series(codes, index=out.index, dtype="string")
    gdf = gpd.GeoDataFrame(out.reset_index(drop=True), geometry=outlines.to_numpy(), crs=crimes.crs)
    return gdf[CLUSTER_COLUMNS]
