"""Repeat locations: the exact points (same coordinates) that hold many crimes."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.analysis.clusters import (
    SUMMARY_COLUMNS,
    TOP_TYPES,
    distinct_locations,
    type_shares,
)
from hotspots.errors import InputDataError
from hotspots.space.grid import validate_projected

__all__ = ["REPEAT_COLUMNS", "repeat_locations"]

log = logging.getLogger("hotspots")

#: Columns of :func:`repeat_locations`.
REPEAT_COLUMNS: list[str] = [
    "x",
    "y",
    "crimes",
    "months",
    "first_month",
    "last_month",
    "top_types",
    "location",
    "area_code",
    "segment_id",
    "geometry",
]


def repeat_locations(
    crimes: gpd.GeoDataFrame,
    *,
    min_count: int | None = None,
    quiet: bool = False,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    """List the exact points (same coordinates) that hold many crimes: repeat locations.

    police.uk records sit on anonymous map points (a street section or a place such as
    "Supermarket"), and VPD records on hundred-block points, so a repeat location is such a
    point, not an address.

    Parameters
    ----------
    crimes
        Canonical crime table (projected) with ``month``, ``crime_type`` and ``location``;
        ``area_code`` and ``segment_id`` are used when present.
    min_count
        Fewest crimes a listed point has; by default one a month on average over the
        months present, and at least 10 (logged).
    quiet
        If True, do not log the automatic ``min_count``.
    distinct
        :func:`hotspots.space.grid.distinct_xy` of ``crimes`` when already known.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per point, most crimes first (ties by ``x``, ``y``), columns
        :data:`REPEAT_COLUMNS`: ``x``, ``y``, ``crimes``, ``months`` (months with a crime),
        ``first_month``, ``last_month``, ``top_types`` (up to three with shares),
        ``location`` (the most frequent text), ``area_code`` and ``segment_id`` (most
        frequent; missing when absent from ``crimes``) and the point geometry.

    Raises
    ------
    InputDataError
        If ``crimes`` is not projected or lacks a column, or ``min_count`` is below 2.

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> top = repeat_locations(crimes, quiet=True).iloc[0]
    >>> int(top["crimes"]), top["location"]
    (282, 'On or near Meridian Square')
    """
    validate_projected(crimes, "repeat_locations", SUMMARY_COLUMNS)
    if min_count is not None and not (isinstance(min_count, int | np.integer) and min_count >= 2):
        msg = (
            f"`min_count` must be a whole number of crimes, 2 or more; got {min_count!r}. "
            "Leave it as None for one a month (at least 10)."
        )
        raise InputDataError(msg)
    if min_count is None:
        min_count = max(10, int(crimes["month"].nunique()))
        if not quiet:
            log.info(
                "repeat locations: at least %d crimes at the same point (set "
                "automatically: one a month, at least 10)",
                min_count,
            )
    xy, loc, counts = distinct_locations(crimes, distinct)
    keep = counts >= min_count
    rows = np.flatnonzero(keep[loc])  # only the crimes at listed points are counted
    wanted = ("month", "crime_type", "location", "area_code", "segment_id")
    pairs = {col: _pair_counts(crimes[col], rows, loc[rows]) for col in wanted if col in crimes}
    out = pd.DataFrame(
        {"x": xy[keep, 0], "y": xy[keep, 1], "crimes": counts[keep]}, index=np.flatnonzero(keep)
    )
    return _repeat_table(pairs, out, crimes.crs)


def _pair_counts(column: pd.Series, rows: np.ndarray, loc: np.ndarray) -> pd.DataFrame:
    """Crimes per (point ``loc``, value of ``column``) among ``rows``, missing values left out.

    Counted on integer codes (no table of a value per crime: at 60 million crimes most of
    them sit at listed points); each pair's value is read from one of its rows by
    :func:`_values`, as the rows' values would be.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()[rows].astype(np.int64)
        k = len(column.cat.categories)
    else:
        codes, uniques = pd.factorize(column.array.take(rows), use_na_sentinel=True)
        k = len(uniques)
    ok = np.flatnonzero(codes >= 0)
    key = loc[ok].astype(np.int64) * max(k, 1) + codes[ok]
    key, first, n = np.unique(key, return_index=True, return_counts=True)
    values = _values(column, rows[ok[first]])
    return pd.DataFrame({"loc": key // max(k, 1), column.name: values, "n": n})


def _values(column: pd.Series, rows: np.ndarray) -> Any:
    """Return ``column``'s values at ``rows``, categories as plain values.

    Categories become their values (grouped and sorted as values, not by category code);
    anything else keeps its dtype (text in Arrow stays there, not a Python string per crime:
    0.6 GB on 10 million crimes).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.iloc[rows].to_numpy()
    return column.array.take(rows)


def _most_common(pairs: dict[str, pd.DataFrame], column: str) -> pd.Series:
    """Most frequent value of ``column`` per location (ties: the first in sort order)."""
    if column not in pairs:
        return pd.Series(pd.NA, index=pd.Index([], dtype="int64"), dtype="string")
    n = pairs[column].sort_values(
        ["loc", "n", column], ascending=[True, False, True], kind="stable"
    )
    return n.drop_duplicates("loc").set_index("loc")[column].astype("string")


def _repeat_table(pairs: dict[str, pd.DataFrame], out: pd.DataFrame, crs: Any) -> gpd.GeoDataFrame:
    months = pairs["month"].groupby("loc", sort=True)["month"]
    out = out.assign(months=months.size(), first_month=months.min(), last_month=months.max())
    types = pairs["crime_type"].pivot(index="loc", columns="crime_type", values="n")
    out["top_types"] = type_shares(types.fillna(0), TOP_TYPES)
    for column in ("location", "area_code", "segment_id"):
        out[column] = _most_common(pairs, column).reindex(out.index)
    out = out.sort_values(
        ["crimes", "x", "y"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)
    out = out.astype(
        {"crimes": "int64", "months": "int64", "first_month": "string", "last_month": "string"}
    )
    geom = gpd.points_from_xy(out["x"], out["y"])
    return gpd.GeoDataFrame(out, geometry=geom, crs=crs)[REPEAT_COLUMNS]
