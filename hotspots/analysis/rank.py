"""Counts per street segment, hot segments merged into hot streets, and ranks.

Definitions (the README repeats them for users):

* ``crimes_per_100m`` = crimes / max(length, ``length_floor_m``) x 100. The floor (default
  50 m) stops a 5-metre stub carrying one police.uk map point from topping the list.
* A segment is **hot** when it has at least ``min_crimes`` crimes (default 5) and its
  ``crimes_per_100m`` is at or above the ``hot_quantile`` (default 0.8) of the segments with
  any crime in its area, so every area gets its own hot list, quiet areas included.
* A **hot street** is a run of hot segments of the same street name in the same area joined
  end to end; an unnamed hot segment is a street on its own.
* ``rank`` orders hot streets by ``crimes_per_100m`` then ``crimes`` (both descending);
  ``rank_by_count`` by ``crimes`` then ``crimes_per_100m``; ``area_rank`` is ``rank`` within
  the area. Ties share a rank (1, 2, 2, 4) and are listed by street name, then segment id.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hotspots.analysis import street_lines
from hotspots.analysis.street_lines import describe_extents
from hotspots.read.schema import (
    AREA_LIST_COLUMNS,
    BASIS_LOCATION,
    BASIS_STREET,
    HOT_STREET_COLUMNS,
    TYPE_COUNT_PREFIX,
)
from hotspots.space.crs import lon_lat
from hotspots.space.names import normalise_name, sorted_codes

__all__ = [
    "DEFAULT_HOT_QUANTILE",
    "DEFAULT_LENGTH_FLOOR_M",
    "DEFAULT_MIN_CRIMES",
    "UNNAMED",
    "area_lists",
    "classify_hot_segments",
    "columns_among",
    "count_by_segment",
    "count_columns",
    "describe_extents",
    "per_100m",
    "rank_streets",
    "type_column",
    "type_columns",
]

DEFAULT_MIN_CRIMES = 5
DEFAULT_HOT_QUANTILE = 0.8
DEFAULT_LENGTH_FLOOR_M = 50.0
UNNAMED = "(unnamed street)"
_NOT_IN_LISTS = ("rank_by_count", "name_source", "place", "street_key")


def type_column(crime_type: str) -> str:
    """Return the count column name of a crime type, e.g. ``n_violence_and_sexual_offences``.

    Parameters
    ----------
    crime_type
        The crime type as written in the data.

    Returns
    -------
    str
        ``n_`` plus the lower-case type with runs of other characters as ``_``.

    Examples
    --------
    >>> type_column("Violence and sexual offences")
    'n_violence_and_sexual_offences'
    """
    return TYPE_COUNT_PREFIX + re.sub(r"[^a-z0-9]+", "_", crime_type.casefold()).strip("_")


def _type_hash(crime_type: str, n: int = 6) -> str:
    return hashlib.sha256(crime_type.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def type_columns(crime_types: Iterable[object]) -> dict[str, str]:
    """Return the count column of each distinct crime type: distinct types, distinct columns.

    Parameters
    ----------
    crime_types
        The run's crime types as written in the data (repeats allowed).

    Returns
    -------
    dict
        Type -> column: :func:`type_column`, plus ``_`` and 6 hex digits of the type's
        SHA-256 where two or more types clean to the same name (``=1+1`` and ``+1+1``), so
        they keep their own columns and labels (``run.json`` ``crime_type_columns``).

    Examples
    --------
    >>> type_columns(["Burglary", "=1+1", "+1+1"])
    {'+1+1': 'n_1_1_1c8490', '=1+1': 'n_1_1_bac90e', 'Burglary': 'n_burglary'}
    """
    types = sorted({str(t) for t in crime_types})
    plain = {t: type_column(t) for t in types}
    shared = {c for c, n in Counter(plain.values()).items() if n > 1}
    out = {t: f"{c}_{_type_hash(t)}" if c in shared else c for t, c in plain.items()}
    if len(set(out.values())) < len(out):  # a hashed name met a plain one: full hashes
        out = {t: f"{c}_{_type_hash(t, 64)}" if c in shared else c for t, c in plain.items()}
    return out


def columns_among(crime_types: pd.Series, type_cols: Collection[str]) -> dict[object, str]:
    """Return the column of each type in ``crime_types`` among ``type_cols`` (of all types)."""
    cols = set(type_cols)
    out = {}
    for t in pd.unique(crime_types):
        hashed = f"{type_column(str(t))}_{_type_hash(str(t))}"
        out[t] = hashed if hashed in cols else type_column(str(t))
    return out


def count_columns(crime_type: pd.Series) -> list[str]:
    """Return the ``n_<type>`` columns :func:`count_by_segment` gives these crimes, in order.

    Parameters
    ----------
    crime_type
        Every crime's type (snapped or not).

    Returns
    -------
    list of str
        One column per distinct type, sorted by type.

    Examples
    --------
    >>> count_columns(pd.Series(["Drugs", "Burglary", "Drugs"]))
    ['n_burglary', 'n_drugs']
    """
    if isinstance(crime_type.dtype, pd.CategoricalDtype):  # the categories that occur
        found = _categories_used(crime_type)[2]
    else:
        found = list(pd.unique(crime_type))
    types = sorted(str(t) for t in found)
    names = type_columns(types)
    return [names[t] for t in types]


def count_by_segment(crimes: pd.DataFrame, segments: gpd.GeoDataFrame) -> pd.DataFrame:
    """Count snapped crimes per segment, in all and per crime type.

    Parameters
    ----------
    crimes
        Crimes with ``segment_id`` (missing where unsnapped) and ``crime_type``.
    segments
        All segments (those without crime get zeros).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``segments``: ``crimes`` and one ``n_<type>`` column per crime type
        (sorted by type). The ``crimes`` column sums to the number of snapped crimes.
    """
    seg = crimes["segment_id"]
    if isinstance(seg.dtype, pd.CategoricalDtype):  # its own codes: -1 where unsnapped
        seg_codes, seg_ids = seg.cat.codes.to_numpy().astype(np.int64), seg.cat.categories
    else:
        seg_codes, seg_ids = pd.factorize(seg)
    type_codes, types = _type_codes(crimes["crime_type"])
    labels = [str(t) for t in types]
    if len(set(labels)) < len(labels):  # two types of one label: in order of appearance
        type_codes, types = pd.factorize(crimes["crime_type"], use_na_sentinel=False)
        labels = [str(t) for t in types]
    width = len(types)
    # one number per (segment, type); the unsnapped crimes' (code -1) below width, left out
    key = np.asarray(seg_codes, dtype=np.int64) + 1
    key *= width
    key += type_codes
    flat = np.bincount(key, minlength=(len(seg_ids) + 1) * width)[width:]
    flat = flat.reshape(len(seg_ids), width)
    order = sorted(range(width), key=labels.__getitem__)  # columns sorted by type
    names = type_columns(labels)  # distinct types keep distinct columns
    # each segment's row of counts (zeros for a segment no crime was snapped to)
    ids, listed = pd.Index(seg_ids), pd.Index(segments["segment_id"])
    if not ids.equals(listed):  # the snapped crimes' categories are the segments' own ids
        at = ids.get_indexer(listed)
        flat = np.vstack([flat, np.zeros((1, width), dtype=flat.dtype)])[at]
    table = pd.DataFrame(
        flat[:, order], index=segments.index, columns=[names[labels[i]] for i in order]
    )
    table.insert(0, "crimes", flat.sum(axis=1))
    return table.astype("int64")


def _type_codes(crime_type: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Return a code per crime for its type, and the types that occur (missing is one).

    As ``pd.factorize(crime_type, use_na_sentinel=False)``, the types in another order: a
    categorical's by its codes (its categories that occur, missing first).
    """
    if not isinstance(crime_type.dtype, pd.CategoricalDtype):
        codes, found = pd.factorize(crime_type, use_na_sentinel=False)
        return np.asarray(codes, dtype=np.int64), list(found)
    raw, used, found = _categories_used(crime_type)
    renumber = np.zeros(len(crime_type.cat.categories) + 1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return renumber[raw], found


def _categories_used(values: pd.Series) -> tuple[np.ndarray, np.ndarray, list[object]]:
    """Return a categorical's codes plus one (0: missing), those that occur, and their values.

    The values in order of code, a missing value (NaN) first where one occurs.
    """
    cats = values.cat.categories
    raw = values.cat.codes.to_numpy().astype(np.int64) + 1
    used = np.flatnonzero(np.bincount(raw, minlength=len(cats) + 1))
    return raw, used, [np.nan if u == 0 else cats[u - 1] for u in used.tolist()]


def classify_hot_segments(
    counts: pd.DataFrame,
    segments: gpd.GeoDataFrame,
    *,
    min_crimes: int = DEFAULT_MIN_CRIMES,
    hot_quantile: float = DEFAULT_HOT_QUANTILE,
    length_floor_m: float = DEFAULT_LENGTH_FLOOR_M,
) -> pd.Series:
    """Return True for hot segments (see the module notes for the formal rule).

    Parameters
    ----------
    counts
        From :func:`count_by_segment`.
    segments
        Segments with ``length_m`` and ``area_code``.
    min_crimes
        Fewest crimes a hot segment has.
    hot_quantile
        Quantile of ``crimes_per_100m`` among the area's segments with crime at or above
        which a segment is hot.
    length_floor_m
        Length floor of the rate, metres.

    Returns
    -------
    pandas.Series
        Boolean, indexed like ``segments``.

    Notes
    -----
    Formally: a segment is hot if ``crimes >= min_crimes`` and ``crimes_per_100m >=
    Q(hot_quantile)`` of ``crimes_per_100m`` over the segments of the same ``area_code``
    with ``crimes > 0``.
    """
    crimes = counts["crimes"].to_numpy()
    length = segments["length_m"].to_numpy(dtype=float)
    rate = np.round(crimes / np.maximum(length, length_floor_m) * 100, 3)  # as per_100m
    # each area's cut by its code (a segment of no area has none: never hot)
    area, _ = pd.factorize(segments["area_code"])
    on = (crimes > 0) & (area >= 0)
    cut = pd.Series(rate[on]).groupby(area[on]).quantile(hot_quantile)
    cuts = np.r_[cut.reindex(np.arange(int(area.max(initial=-1)) + 1)).to_numpy(), np.nan]
    threshold = cuts[area]  # code -1 takes the last: none
    return pd.Series((crimes >= min_crimes) & (rate >= threshold - 1e-9), index=counts.index)


def per_100m(crimes: pd.Series, length_m: pd.Series, floor_m: float) -> pd.Series:
    """Return crimes per 100 m of street with the length floored at ``floor_m`` (rounded 3 dp)."""
    return (crimes / np.maximum(length_m.astype(float), floor_m) * 100).round(3)


def _runs(hot: gpd.GeoDataFrame, name: np.ndarray) -> np.ndarray:
    """Label each hot segment with its run: same area and name, touching end to end.

    ``name`` numbers each segment's folded name (equal where the folded names are; -1 for
    none).
    """
    named = name >= 0
    # key: (area, folded name) where named, else the segment itself
    area, areas = pd.factorize(hot["area_code"], use_na_sentinel=False)
    width = max(int(name.max(initial=-1)) + 1, 1)
    key = np.where(named, area * width + name, len(areas) * width + np.arange(len(hot)))
    ends = _line_ends(hot.geometry.to_numpy())
    vertex = _row_numbers(np.round(ends, 2))  # one number per vertex
    n = len(hot)
    # each segment end joined to the first end with the same key and vertex: the same
    # groups (and labels, numbered by segment) as joining every such pair
    key_code = pd.factorize(np.tile(key.astype(np.int64), 2))[0].astype(np.int64)
    end = pd.factorize(key_code * (int(vertex.max(initial=0)) + 1) + vertex)[0]
    first = np.full(int(end.max(initial=-1)) + 1, 2 * n, dtype=np.int64)
    np.minimum.at(first, end, np.arange(2 * n))
    seg = np.tile(np.arange(n), 2)
    graph = coo_matrix((np.ones(2 * n), (seg, seg[first[end]])), shape=(n, n))
    labels: np.ndarray = connected_components(graph, directed=False)[1]
    return labels


def _line_ends(lines: np.ndarray) -> np.ndarray:
    """Return the first points of ``lines``, then their last points (x, y rows).

    The rows ``shapely.get_point(lines, 0)`` then ``(lines, -1)`` give, from one table of
    coordinates: LineStrings with points (others point by point, as before).
    """
    coords, at = shapely.get_coordinates(lines, return_index=True)
    count = np.bincount(at, minlength=len(lines))
    if (count == 0).any() or (shapely.get_type_id(lines) != 1).any():
        return np.vstack([shapely.get_coordinates(shapely.get_point(lines, i)) for i in (0, -1)])
    last = np.cumsum(count) - 1
    return np.vstack([coords[last - count + 1], coords[last]])


def _row_numbers(xy: np.ndarray) -> np.ndarray:
    """Return a number per row of a float (n, 2) table, equal where the rows are equal.

    The groups of ``np.unique(xy, axis=0, return_inverse=True)``: -0.0 equals 0.0, and a
    row with a missing value is its own group; by hashing each row's 16 bytes once.
    """
    rows = np.ascontiguousarray(xy, dtype=np.float64) + 0.0  # -0.0 + 0.0 is 0.0
    keys = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(rows), [None, pa.py_buffer(rows)]
    )
    out = np.asarray(pc.dictionary_encode(keys).indices.to_numpy(), dtype=np.int64)
    odd = np.flatnonzero(np.isnan(rows).any(axis=1))
    out[odd] = out.max(initial=-1) + 1 + np.arange(len(odd))
    return out


def rank_streets(
    segments: gpd.GeoDataFrame,
    counts: pd.DataFrame,
    *,
    min_crimes: int = DEFAULT_MIN_CRIMES,
    hot_quantile: float = DEFAULT_HOT_QUANTILE,
    length_floor_m: float = DEFAULT_LENGTH_FLOOR_M,
) -> gpd.GeoDataFrame:
    """Merge hot segments into hot streets and rank them overall and within each area.

    Parameters
    ----------
    segments
        Segments with ``segment_id``, ``street_name``, ``name_source``, ``length_m``,
        ``area_code``, ``area_name`` (projected CRS).
    counts
        From :func:`count_by_segment`, indexed like ``segments``.
    min_crimes, hot_quantile, length_floor_m
        As in :func:`classify_hot_segments`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per hot street: :data:`hotspots.read.schema.HOT_STREET_COLUMNS`, then the
        ``n_<type>`` counts, then line geometry; sorted by ``rank``.
    """
    hot_mask = classify_hot_segments(
        counts,
        segments,
        min_crimes=min_crimes,
        hot_quantile=hot_quantile,
        length_floor_m=length_floor_m,
    ).to_numpy()
    hot = segments[hot_mask].reset_index(drop=True)
    type_cols = [c for c in counts.columns if c.startswith(TYPE_COUNT_PREFIX)]
    if hot.empty:
        cols = [*HOT_STREET_COLUMNS, *type_cols, "geometry"]
        return gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=segments.crs)
    at = [counts.columns.get_loc(c) for c in ["crimes", *type_cols]]
    tallies = counts.to_numpy(dtype=np.int64)[hot_mask][:, at]
    # the segments' names by sorted codes, each distinct name folded once (for runs,
    # streets' names and extents alike)
    names = _segment_names(segments["street_name"])
    named = names.code[hot_mask]
    run = _runs(hot, np.append(names.folded_code, -1)[named])  # code -1 (no name): -1
    seg_rank, _ = sorted_codes(hot["segment_id"])
    order = np.lexsort((seg_rank, run))  # each run's segments in turn, by segment id
    with ThreadPoolExecutor(1, thread_name_prefix="hotspots-shapes") as pool:
        # the runs' unions (GEOS, without the GIL) beside the sums, names and ranks; the
        # other GEOS calls hold the GIL: in turn (in the thread too they took longer)
        unions = pool.submit(street_lines.union_runs, hot.geometry.to_numpy()[order], run[order])
        out, top = _aggregate_runs(
            hot, order, run[order], tallies, type_cols, length_floor_m, named[order], names.names
        )
        ranked = _rank_order(out)  # the rows in rank order, with their ranks
        geoms, mid_x, mid_y = street_lines.run_shapes(unions.result())
    lon, lat = lon_lat(mid_x, mid_y, hot.crs)
    own = np.append(names.folded, np.array([_unnamed_folded()], dtype=object))
    met = (names.code, names.names, names.folded, own[top])  # UNNAMED: code -1, the last
    meets = street_lines.meeting(geoms, segments.geometry.to_numpy())
    extent = street_lines.extent_texts(met, *meets)
    return _street_table(out, ranked, extent, geoms, lon, lat, type_cols, hot.crs)


@functools.cache
def _unnamed_folded() -> object:
    """Return :data:`UNNAMED` folded as :func:`hotspots.space.names.normalise_name` folds."""
    return normalise_name(pd.Series([UNNAMED])).to_numpy(dtype=object)[0]


class _Names(NamedTuple):
    """The segments' names: a sorted code each (-1: none), the distinct names, folded."""

    code: np.ndarray
    names: np.ndarray
    folded: np.ndarray
    folded_code: np.ndarray  # a number per distinct folded name


def _segment_names(street_name: pd.Series) -> _Names:
    """Return the names of the segments by sorted codes, each distinct name folded once."""
    code, names = sorted_codes(street_name)
    folded = normalise_name(pd.Series(names, dtype=object)).to_numpy(dtype=object)
    folded_code, _ = pd.factorize(folded)
    return _Names(code, names, folded, np.asarray(folded_code, dtype=np.int64))


def _aggregate_runs(
    hot: gpd.GeoDataFrame,
    order: np.ndarray,
    runs: np.ndarray,
    tallies: np.ndarray,
    type_cols: list[str],
    floor_m: float,
    name: np.ndarray,
    names: np.ndarray,
) -> tuple[dict[str, object], np.ndarray]:
    """Return the columns of the runs of hot segments (one row each), without the lines.

    ``order`` takes the segments run by run, ``runs`` is their run (0, 1, ..) in that
    order; ``tallies`` holds each segment's crimes, then its ``type_cols`` counts; ``name``
    each segment's name as a code into the sorted ``names`` (-1: none), in that order.
    Also the code of each run's name (-1: unnamed).
    """
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    n = len(starts)
    sums = np.add.reduceat(tallies[order], starts, axis=0)
    # as pandas' grouped sum adds (checked equal to the last bit), missing values left out
    length = np.nan_to_num(hot["length_m"].to_numpy(dtype=float)[order], nan=0.0)
    length_m = np.round(np.add.reduceat(length, starts), 1)
    # the name most segments of the run carry (ties: the first by name); the sources
    top = _most_common_code(runs, name, n)
    street = np.where(top >= 0, names[np.maximum(top, 0)] if len(names) else "", UNNAMED)
    source, sources = sorted_codes(hot["name_source"])
    segment_ids = _joined(runs, hot["segment_id"].to_numpy(dtype=object)[order], ";")
    columns: dict[str, object] = {
        "crimes": sums[:, 0],
        "length_m": length_m,
        "street": pd.Series(street, dtype=object),
        "name_source": _distinct_joined(runs, source[order], sources, n, "; "),
        "segment_ids": np.array(segment_ids, dtype=object),
        "segment_count": np.diff(np.r_[starts, len(order)]),
        # the first given value of each run
        **{c: _group_first(hot[c].take(order), starts) for c in ("area_code", "area_name")},
        "crimes_per_100m": np.round(sums[:, 0] / np.maximum(length_m, floor_m) * 100, 3),
        "top_crime_type": np.array([c[len(TYPE_COUNT_PREFIX) :] for c in type_cols])[
            sums[:, 1:].argmax(1)
        ],
    }
    columns |= {c: sums[:, i + 1] for i, c in enumerate(type_cols)}
    return columns, top


def _group_first(values: pd.Series, starts: np.ndarray) -> pd.Series:
    """Return the first non-missing value of each group of ``values`` (missing if none)."""
    n = len(values)
    at = np.where(values.notna().to_numpy(), np.arange(n), n)
    first = np.minimum.reduceat(at, starts) if n else at[:0]
    return pd.Series(values.array.take(np.where(first < n, first, -1), allow_fill=True))


def _most_common_code(group: np.ndarray, code: np.ndarray, n: int) -> np.ndarray:
    """Return per group (0 .. ``n`` - 1) its most frequent code >= 0 (ties: the smallest; -1)."""
    ok = code >= 0
    best = np.full(n, -1, dtype=np.int64)
    if not ok.any():
        return best
    width = int(code.max()) + 1
    pairs, total = np.unique(group[ok].astype(np.int64) * width + code[ok], return_counts=True)
    g, c = pairs // width, pairs % width
    order = np.lexsort((c, -total, g))
    top = order[np.r_[True, g[order][1:] != g[order][:-1]]]
    best[g[top]] = c[top]
    return best


def _distinct_joined(
    group: np.ndarray, code: np.ndarray, values: np.ndarray, n: int, sep: str
) -> np.ndarray:
    """Return per group (0 .. ``n`` - 1) its distinct ``values[code]`` joined by ``sep``.

    Codes below 0 are left out; a group with none gets "".
    """
    ok = code >= 0
    out = np.full(n, "", dtype=object)
    if not ok.any():
        return out
    width = int(code.max()) + 1
    pairs = np.unique(group[ok].astype(np.int64) * width + code[ok])  # by group, then value
    g, c = pairs // width, pairs % width
    out[np.unique(g)] = _joined(g, values[c], sep)
    return out


def _joined(groups: np.ndarray, values: np.ndarray, sep: str) -> list[str]:
    """Join ``values`` with ``sep`` over runs of equal, sorted ``groups`` (in group order)."""
    if len(groups) == 0:
        return []
    cuts = np.flatnonzero(np.diff(groups)) + 1
    text = [v if isinstance(v, str) else str(v) for v in values.tolist()]
    bounds = [0, *cuts.tolist(), len(text)]
    return [sep.join(text[a:b]) for a, b in itertools.pairwise(bounds)]


def _rank_order(streets: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return the order of ``streets`` (columns) by rank, and their ranks in that order.

    By ``crimes_per_100m`` and ``crimes`` (descending), then street and segment_ids; the
    ranks ``rank``, ``rank_by_count`` and ``area_rank`` as the module notes define them.
    """
    keys = [sorted_codes(pd.Series(streets[c], dtype=object))[0] for c in ("segment_ids", "street")]
    rate, crimes = streets["crimes_per_100m"], streets["crimes"]
    order = np.lexsort((*keys, -crimes, -rate))
    rate, crimes = rate[order], crimes[order]
    rank = _tie_rank([rate, crimes])
    area, _ = pd.factorize(streets["area_code"].to_numpy()[order])
    ranks = {
        "rank": rank,
        "rank_by_count": _tie_rank([crimes, rate]),
        "area_rank": _group_min_rank(area, rank),
    }
    return order, ranks


def _tie_rank(keys: list[np.ndarray]) -> np.ndarray:
    """Competition rank (1, 2, 2, 4) over ``keys`` descending (the first key first)."""
    values = [-k for k in keys]
    order = np.lexsort(values[::-1])  # the first key first
    tied = np.ones(max(len(order) - 1, 0), dtype=bool)
    for v in values:
        tied &= v[order][1:] == v[order][:-1]
    start = np.maximum.accumulate(np.where(np.r_[True, ~tied], np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = start + 1
    return rank


def _group_min_rank(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return the rank of ``values`` ascending within each ``group``, ties the lowest (1, 2, 2, 4).

    As ``groupby(group).rank(method="min")`` of whole numbers with no missing group.
    """
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    n = len(order)
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_value = new_group | np.r_[True, v[1:] != v[:-1]]
    at = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new_group, at, 0))
    value_start = np.maximum.accumulate(np.where(new_value, at, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = value_start - group_start + 1
    return rank


def _street_table(
    streets: dict[str, Any],
    ranked: tuple[np.ndarray, dict[str, np.ndarray]],
    extent: np.ndarray,
    geoms: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    type_cols: list[str],
    crs: object,
) -> gpd.GeoDataFrame:
    """Return the hot-street table: ``streets`` with their extents, lines and ranks, by rank.

    ``streets`` holds arrays (text of object arrays made ``str``) and Series (their
    dtypes kept).
    """
    order, ranks = ranked
    made = {
        **ranks,  # in rank order already
        "extent": pd.Series(extent[order], dtype=object),
        "lon": np.round(lon, 6)[order],
        "lat": np.round(lat, 6)[order],
    }
    columns: dict[str, Any] = {}
    for c in [*HOT_STREET_COLUMNS, *type_cols]:
        if c in made:
            columns[c] = made[c]
        elif isinstance(streets[c], pd.Series):
            columns[c] = streets[c].take(order).reset_index(drop=True)
        else:
            columns[c] = np.asarray(streets[c])[order]
    return gpd.GeoDataFrame(columns, geometry=geoms[order], crs=crs)


def area_lists(
    hot: gpd.GeoDataFrame, locations: gpd.GeoDataFrame, *, area_codes: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """Return each area's ranked list: its hot streets, then its police.uk locations.

    Parameters
    ----------
    hot
        From :func:`rank_streets`.
    locations
        From :func:`hotspots.analysis.location_ranks.rank_locations`.
    area_codes
        Areas that get a list even when nothing in them reaches the thresholds (an empty
        table with the columns), e.g. every area with crime.

    Returns
    -------
    dict
        Area code -> table with :data:`hotspots.read.schema.AREA_LIST_COLUMNS` and type counts.
        Streets come first in ``rank`` order with their ``area_rank``; locations follow by
        ``crimes`` (descending, ties by name), ranked after the last street. Tied rows share
        a rank.
    """
    streets = pd.DataFrame(hot.drop(columns="geometry")).assign(basis=BASIS_STREET)
    locs = pd.DataFrame(locations.drop(columns="geometry"))
    locs = locs.sort_values(["crimes", "street"], ascending=[False, True], kind="stable")
    both = pd.concat([streets, locs], ignore_index=True) if len(locs) else streets
    type_cols = [c for c in both.columns if c.startswith(TYPE_COUNT_PREFIX)]
    extra = [
        c
        for c in both.columns
        if c not in AREA_LIST_COLUMNS
        and c not in type_cols
        and c not in _NOT_IN_LISTS
        and not c.endswith("_svg")
    ]
    cols = [*extra, *type_cols]
    out: dict[str, pd.DataFrame] = {}
    is_loc = (both["basis"] == BASIS_LOCATION).to_numpy()
    if is_loc.any():  # locations ranked after the area's last street, ties sharing a rank
        area = both["area_code"].astype(str)
        base = pd.Series(~is_loc, index=both.index).groupby(area).transform("sum")
        loc_rank = (-both.loc[is_loc, "crimes"]).groupby(area[is_loc]).rank(method="min")
        both = both.copy()
        both.loc[is_loc, "area_rank"] = loc_rank.astype("int64") + base[is_loc].astype("int64")
    both["area_rank"] = both["area_rank"].astype("int64")
    for code, part in both[[*AREA_LIST_COLUMNS, *cols]].groupby("area_code", sort=True):
        out[str(code)] = part.reset_index(drop=True)
    empty = pd.DataFrame(columns=[*AREA_LIST_COLUMNS, *cols])
    for code in area_codes:
        out.setdefault(str(code), empty)
    return dict(sorted(out.items()))
