"""Ranks of police.uk locations where the street layer does not reach.

Crimes that did not snap to a street segment are grouped by the place their location text
names (a street within the area, or one map point of a point of interest such as
"Nightclub"), counted per crime type, and listed with at least ``min_crimes`` crimes.
:func:`hotspots.analysis.rank.area_lists` puts them after each area's hot streets.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from hotspots.analysis.rank import DEFAULT_MIN_CRIMES, columns_among
from hotspots.read.schema import AREA_LIST_COLUMNS, BASIS_LOCATION, TYPE_COUNT_PREFIX
from hotspots.space.crs import lon_lat
from hotspots.space.locations import ARROW_HASH_ROWS
from hotspots.space.names import location_to_street, sorted_codes, text_codes

__all__ = [
    "distinct_rows",
    "location_place",
    "rank_location_counts",
    "rank_locations",
    "type_codes",
    "type_counts",
]


def location_place(crimes: pd.DataFrame, *, weights: np.ndarray | None = None) -> pd.Series:
    """Return the place that groups unsnapped records: a street, or one point of interest.

    Records naming a street ("On or near Kingscroft Road") are grouped by street within the
    area. police.uk points of interest ("On or near Nightclub", "Supermarket", stations) are
    generic names shared by map points far apart, so each map point is its own place, numbered
    by crimes within the area: "Nightclub (point 2 of 7)".

    Parameters
    ----------
    crimes
        Records with ``location``, ``area_code``, ``x`` and ``y``.
    weights
        Records each row stands for (default one each): distinct records with their
        counts give the places of the records themselves.

    Returns
    -------
    pandas.Series
        Place name per record, indexed like ``crimes``; "(no location text)" where empty.
    """
    # the reader's point_id numbers each distinct map point: one column instead of x and y
    point = [crimes["point_id"]] if "point_id" in crimes else [crimes["x"], crimes["y"]]
    first, inverse, weight = distinct_rows(crimes["location"], crimes["area_code"], *point)
    if weights is not None:
        weight = _summed(inverse, weights, len(first))
    labels = _place_labels(crimes.iloc[first], weight)  # each distinct record once
    codes, uniques = sorted_codes(pd.Series(labels, dtype=object))
    cat = pd.Categorical.from_codes(
        codes[inverse], dtype=pd.CategoricalDtype(pd.Index(uniques, dtype="str")), validate=False
    )
    return pd.Series(cat, index=crimes.index)


def _place_labels(crimes: pd.DataFrame, weight: np.ndarray) -> np.ndarray:
    """Return :func:`location_place` of distinct records, each standing for ``weight`` rows."""
    codes, uniques = text_codes(crimes["location"])  # each distinct location text once
    used, at = np.unique(codes, return_inverse=True)  # of these records' texts only
    # the text after a leading "On or near" and the white space after it (as the regular
    # expression "^On or near\s+" replaced by nothing: str.isspace is its white space); the
    # text as it is where no white space follows
    n = len(_ON_OR_NEAR)
    words = np.array(
        [
            w[n:].lstrip() if w.startswith(_ON_OR_NEAR) and w[n : n + 1].isspace() else w
            for w in uniques.to_numpy()[used].tolist()
        ]
        or [""],
        dtype=object,
    )[: len(used)]
    empty = words == ""
    words[empty] = "(no location text)"
    out: np.ndarray = words[at]
    no_street = location_to_street(crimes["location"]).isna().to_numpy()
    poi = no_street & ~empty[at]
    if not poi.any():
        return out
    area = crimes["area_code"]
    xs, ys = crimes["x"].to_numpy(dtype=float)[poi], crimes["y"].to_numpy(dtype=float)[poi]
    area_codes = _sort_codes(area)[poi]
    if (area_codes >= 0).all() and np.isfinite(xs).all() and np.isfinite(ys).all():
        # the same labels as the groupby below, by codes (no missing key to leave out)
        text_of, texts = sorted_codes(pd.Series(out[poi], dtype=object))
        out[poi] = _point_labels(area_codes, text_of, texts, xs, ys, np.asarray(weight)[poi])
        return out
    text = pd.Series(out.copy(), index=crimes.index, dtype=object)
    pts = pd.DataFrame({"a": area, "t": text, "x": crimes["x"], "y": crimes["y"], "w": weight})
    out[poi] = _grouped_point_labels(pts[poi])
    return out


def _grouped_point_labels(pts: pd.DataFrame) -> np.ndarray:
    """Return the labels of points of interest by grouping: any key may be missing.

    ``pts`` has the area ``a``, text ``t``, point ``x``/``y`` and weight ``w`` of each row;
    a text at several points of one area is numbered "(point k of n)", most crimes first.
    """
    n = pts.groupby(["a", "t", "x", "y"], sort=False)["w"].sum().rename("n").reset_index()
    n = n.sort_values(["a", "t", "n", "x", "y"], ascending=[True, True, False, True, True])
    n["k"] = n.groupby(["a", "t"]).cumcount() + 1
    n["of"] = n.groupby(["a", "t"])["k"].transform("max")
    n["label"] = np.where(
        n["of"] > 1,
        n["t"] + " (point " + n["k"].astype(str) + " of " + n["of"].astype(str) + ")",
        n["t"],
    )
    labels = pts.merge(n[["a", "t", "x", "y", "label"]], on=["a", "t", "x", "y"], how="left")
    out: np.ndarray = labels["label"].to_numpy(dtype=object)
    return out


def _point_labels(
    area: np.ndarray,
    text: np.ndarray,
    texts: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    """Return the label of each record at a point of interest: "<text> (point k of n)".

    ``area`` and ``text`` are sorted codes (``texts[text]`` the text), ``x`` and ``y``
    finite. The map points of an area's text are numbered by their records (``weight``,
    most first), ties by x then y; a text at one point only keeps its name.
    """
    order = np.lexsort((y, x, text, area))  # the distinct (area, text, x, y) in turn
    a, t, px, py = area[order], text[order], x[order], y[order]
    new = np.r_[True, (a[1:] != a[:-1]) | (t[1:] != t[:-1]) | (px[1:] != px[:-1])]
    new[1:] |= py[1:] != py[:-1]
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    head = order[new]  # a record of each point
    n = np.bincount(group, np.asarray(weight, dtype=np.float64), len(head))
    ga, gt = area[head], text[head]
    rank = np.lexsort((y[head], x[head], -n, gt, ga))  # as sort_values on (a, t, -n, x, y)
    ra, rt = ga[rank], gt[rank]
    block = np.r_[True, (ra[1:] != ra[:-1]) | (rt[1:] != rt[:-1])]
    start = np.flatnonzero(block)
    size = np.diff(np.r_[start, len(rank)])
    which = np.cumsum(block) - 1
    k = np.arange(len(rank)) - start[which] + 1
    of = size[which]
    label = np.empty(len(head), dtype=object)
    label[rank] = [
        str(texts[c]) if m == 1 else f"{texts[c]} (point {i} of {m})"
        for c, i, m in zip(rt.tolist(), k.tolist(), of.tolist(), strict=True)
    ]
    found: np.ndarray = label[group]
    return found


_ON_OR_NEAR = "On or near"


def distinct_rows(*columns: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the distinct rows of aligned columns: first row of each, row -> distinct, counts.

    Work on the distinct rows (often a few per cent of the records: the same location text
    at the same map point) and spread the result back with the inverse.

    Parameters
    ----------
    columns
        Aligned columns (categorical ones are read by their codes; missing is a value).

    Returns
    -------
    first, inverse, counts
        Position of each distinct row's first occurrence (in order of appearance), the
        distinct row of every row, and how many rows each distinct row stands for.

    Examples
    --------
    >>> first, inverse, counts = distinct_rows(pd.Series(["a", "b", "a"]), pd.Series([1, 2, 1]))
    >>> first.tolist(), inverse.tolist(), counts.tolist()
    ([0, 1], [0, 1, 0], [2, 1])
    """
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for col in columns:
        codes, m = _codes_of(col)  # codes 0 .. m - 1
        if size * m >= 2**62:  # renumber the combined key before it could overflow
            key, size = _numbered(key)
        key *= m  # in place: no new table of n numbers per column
        key += codes
        size *= m
    inverse, n_uniq = _numbered(key)  # numbered in order of first appearance
    if n == 0:
        return np.zeros(0, np.int64), inverse, np.zeros(0, np.int64)
    running = np.maximum.accumulate(inverse)
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])
    counts: np.ndarray = np.bincount(inverse, minlength=n_uniq)
    return first, inverse, counts


def _codes_of(col: pd.Series) -> tuple[np.ndarray, int]:
    """Return a code per value (0 for missing, 1.. for values) and how many codes there are.

    A categorical gives its own codes, small non-negative whole numbers (e.g. point ids)
    themselves; other columns are factorised.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy() + np.int64(1), len(col.cat.categories) + 1
    if col.dtype.kind in "iu" and len(col):
        values = col.to_numpy()
        low, high = values.min(), values.max()
        if low >= 0 and high < 4 * len(col):
            return values + np.int64(1), int(high) + 2
    found, uniques = pd.factorize(col, use_na_sentinel=True)
    return found + np.int64(1), len(uniques) + 1


def _numbered(key: np.ndarray) -> tuple[np.ndarray, int]:
    """Return each key's number, in order of first appearance, and how many distinct keys.

    Hashed by Arrow up to :data:`hotspots.space.locations.ARROW_HASH_ROWS` keys (its table
    grows with the distinct keys: London's 1.24 million unsnapped records, 42,000 distinct,
    in 12 ms where ``pd.factorize`` takes 38 ms), by pandas beyond (as ``factorize_xy``).
    """
    if len(key) > ARROW_HASH_ROWS:
        codes, uniq = pd.factorize(key)
        return codes.astype(np.int64), len(uniq)
    encoded = pc.dictionary_encode(pa.array(key, type=pa.int64()))
    numbers = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return numbers, len(encoded.dictionary)


def _summed(inverse: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Return the sum of the (whole-number) ``weights`` of each of ``n`` distinct rows."""
    total = np.zeros(n, dtype=np.int64)
    np.add.at(total, inverse, np.asarray(weights, dtype=np.int64))
    return total


def rank_locations(
    crimes: gpd.GeoDataFrame,
    *,
    min_crimes: int = DEFAULT_MIN_CRIMES,
    type_cols: list[str],
    weights: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Rank the unsnapped crimes of each area by their recorded street (police.uk "On or near").

    Used where the street layer does not reach: records are grouped by the street their
    location text names (or the text itself for points of interest) within the area, and
    placed at their map points.

    Parameters
    ----------
    crimes
        Unsnapped crimes with ``area_code``, ``area_name``, ``location``, ``crime_type``,
        and ``place`` from :func:`location_place` when already computed.
    min_crimes
        Fewest crimes a listed location has.
    type_cols
        The ``n_<type>`` columns to fill (as in the hot-street table).
    weights
        Records each row stands for (default one each), as in :func:`location_place`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per location with :data:`hotspots.read.schema.AREA_LIST_COLUMNS` and the type
        counts; geometry is the multipoint of its map points. ``area_rank`` is left empty.
    """
    records = pd.DataFrame(
        {
            "area_code": crimes["area_code"],
            "area_name": crimes["area_name"],
            "place": crimes["place"] if "place" in crimes else location_place(crimes),
            "x": crimes["x"],
            "y": crimes["y"],
        }
    )
    point = [crimes["point_id"]] if "point_id" in crimes else [records["x"], records["y"]]
    keys = [records[c] for c in ("area_code", "area_name", "place")]
    first, inverse, _ = distinct_rows(*keys, *point)  # each place's map points once
    column = type_codes(crimes["crime_type"], type_cols)
    counts = type_counts(inverse, column, len(first), len(type_cols), weights=weights)
    located, _ = rank_location_counts(
        records.iloc[first], counts, min_crimes=min_crimes, type_cols=type_cols, crs=crimes.crs
    )
    return located


def type_codes(crime_type: pd.Series, type_cols: list[str]) -> np.ndarray:
    """Return the position in ``type_cols`` of each crime's type column (-1 for none).

    Parameters
    ----------
    crime_type
        Each crime's type (categorical or not).
    type_cols
        The ``n_<type>`` columns of all the run's types.

    Returns
    -------
    numpy.ndarray
        One position per crime, worked out once per distinct type.
    """
    if isinstance(crime_type.dtype, pd.CategoricalDtype):  # its own codes; missing: -1
        codes, types = crime_type.cat.codes.to_numpy(), crime_type.cat.categories
    else:
        codes, types = pd.factorize(crime_type)  # missing: -1, counted nowhere
    at = {c: i for i, c in enumerate(type_cols)}
    cols = columns_among(pd.Series(types, dtype=object), type_cols)
    position = np.array([at.get(cols[t], -1) for t in types] + [-1], dtype=np.int64)
    found: np.ndarray = position[codes]
    return found


def type_counts(
    inverse: np.ndarray,
    column: np.ndarray,
    n: int,
    n_types: int,
    *,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Return the crimes of each of ``n`` records per type column, an ``n`` x ``n_types`` table.

    ``inverse`` gives each crime's record, ``column`` its type column (-1: not counted),
    ``weights`` the crimes each stands for (default one).
    """
    on = column >= 0
    flat = inverse[on] * n_types + column[on]
    w = None if weights is None else np.asarray(weights, dtype=np.int64)[on]
    if w is None:
        return np.bincount(flat, minlength=n * n_types).reshape(n, n_types)
    total = np.zeros(n * n_types, dtype=np.int64)
    np.add.at(total, flat, w)
    return total.reshape(n, n_types)


def rank_location_counts(
    records: pd.DataFrame,
    counts: np.ndarray,
    *,
    min_crimes: int = DEFAULT_MIN_CRIMES,
    type_cols: list[str],
    crs: object = None,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Return :func:`rank_locations` of records already counted per type column.

    Parameters
    ----------
    records
        Distinct records with ``area_code``, ``area_name``, ``place``, ``x`` and ``y``
        (several may share a place and a map point).
    counts
        The crimes each record stands for, one column per entry of ``type_cols``.
    min_crimes, type_cols
        As in :func:`rank_locations`.
    crs
        CRS of ``x`` and ``y``.

    Returns
    -------
    locations, rows
        As :func:`rank_locations` gives for the crimes the records stand for; and the row
        of ``locations`` with each record's area code and place (-1 for none; a pair listed
        twice, under two area names, goes to the later row).
    """
    # the places, as groupby(sort=True, observed=True) orders them, by the keys' codes
    codes = [_sort_codes(records[k]) for k in ("area_code", "area_name", "place")]
    key = np.zeros(len(records), dtype=np.int64)
    for c in codes:
        key = key * (int(c.max(initial=-1)) + 1) + np.maximum(c, 0)
    known: np.ndarray = np.ones(len(records), dtype=bool)
    for c in codes:
        known &= c >= 0  # a missing key: in no group
    groups, start, group = np.unique(key[known], return_index=True, return_inverse=True)
    weights = np.asarray(counts, dtype=np.int64)[known]
    total = np.zeros((len(groups), len(type_cols)), dtype=np.int64)
    for i in range(len(type_cols)):  # sums of whole numbers, exact in float64
        total[:, i] = np.bincount(group, weights[:, i], len(groups))
    crimes = total.sum(axis=1)
    listed = crimes >= min_crimes
    at = np.where(listed, np.cumsum(listed) - 1, -1)
    row = np.full(len(records), -1, dtype=np.int64)
    row[known] = at[group]
    take = np.flatnonzero(known)[start[listed]]  # each listed place's first record: its keys
    pairs = _later_rows(codes[0], codes[2], known, row, listed)
    if not listed.any():
        empty = gpd.GeoDataFrame(
            columns=[*AREA_LIST_COLUMNS, *type_cols, "geometry"], geometry="geometry", crs=crs
        )
        return empty, pairs
    # the distinct map points of each listed place, in order of (place row, x, y)
    on = row >= 0
    idx = row[on]
    xs = records["x"].to_numpy(dtype=float)[on]
    ys = records["y"].to_numpy(dtype=float)[on]
    order = np.lexsort((ys, xs, idx))
    idx, xs, ys = idx[order], xs[order], ys[order]
    new = np.r_[True, (idx[1:] != idx[:-1]) | (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])]
    idx, xy = idx[new], np.column_stack([xs[new], ys[new]])
    geoms = shapely.multipoints(xy, indices=idx)
    # a multipoint's centroid is the mean of its points, summed in their order as GEOS does
    n_listed = len(take)
    n = np.bincount(idx, minlength=n_listed)
    lon, lat = lon_lat(
        np.bincount(idx, xy[:, 0], n_listed) / n, np.bincount(idx, xy[:, 1], n_listed) / n, crs
    )
    types = total[listed]  # the type columns of the table
    fixed = {
        "area_code": records["area_code"].iloc[take].reset_index(drop=True),
        "area_name": records["area_name"].iloc[take].reset_index(drop=True),
        "crimes": crimes[listed],
        **{c: types[:, i] for i, c in enumerate(type_cols)},
        "street": records["place"].iloc[take].astype(str).reset_index(drop=True),
        "extent": "",
        "basis": BASIS_LOCATION,
        "rank": pd.NA,
        "area_rank": pd.NA,
        "length_m": np.nan,
        "crimes_per_100m": np.nan,
        "segment_count": 0,
        "segment_ids": "",
        "top_crime_type": np.array([c[len(TYPE_COUNT_PREFIX) :] for c in type_cols])[
            types.argmax(1)
        ],
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
    }
    columns = {c: fixed[c] for c in [*AREA_LIST_COLUMNS, *type_cols]}
    located = pd.DataFrame(columns, index=pd.RangeIndex(n_listed))
    located.columns.name = "tcol"
    return gpd.GeoDataFrame(located, geometry=geoms, crs=crs), pairs


def _sort_codes(values: pd.Series) -> np.ndarray:
    """Return codes ordering ``values`` as a sorted groupby does (-1 for missing).

    A categorical's own codes (its categories' order); other values factorised sorted.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return np.asarray(values.cat.codes.to_numpy(), dtype=np.int64)
    codes, _ = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64)


def _later_rows(
    area: np.ndarray, place: np.ndarray, known: np.ndarray, row: np.ndarray, listed: np.ndarray
) -> np.ndarray:
    """Return the last listed row with each record's (area, place) codes (-1 for none)."""
    pair = area * (int(place.max(initial=-1)) + 1) + place
    pair = np.where(known, pair, -1)
    on = row >= 0
    ids, codes = np.unique(pair, return_inverse=True)
    last = np.full(len(ids), -1, dtype=np.int64)
    np.maximum.at(last, codes[on], row[on])
    out = last[codes]
    out[~known] = -1
    return out
