"""Crimes counted per group, month and day: the area stage's tables without the crime rows.

The area comparisons (:func:`hotspots.temporal.compare.compare_windows`), best and worst
(:func:`hotspots.analysis.performance.compare_and_rank`) and rates
(:func:`hotspots.analysis.rates.rates_for_run`) only count crimes: per area, crime type and
month or week, whether some crime is dated to the day, and the share of an area's crimes on
a street. :func:`count_groups` counts one partition of the rows (a crime file) per group
(the caller's numbers: area, crime type and whether snapped, say), month, day and whether
dated to the day; :func:`sum_groups` adds partitions up (integers: exact in any order).
:func:`counted_rows` turns the sums into a *counted table*: one row per cell with the
columns those functions read (a day's date standing for its crimes' windows) and their
number in :data:`COUNT`, which they weigh each row by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hotspots.temporal.common import month_labels, month_numbers

__all__ = [
    "CELL_COLUMNS",
    "COUNT",
    "REF_MONDAY",
    "count_cells",
    "count_groups",
    "counted_rows",
    "dated_rows",
    "day_numbers",
    "sum_groups",
    "weights",
]

#: The column of a counted table holding how many crimes each row stands for.
COUNT = "n_counted"
#: A counted partition's cell columns: group number, month number, day number, dated.
CELL_COLUMNS = ["group", "month", "day", "dated"]
#: A Monday: day numbers count from it (weeks are ``day // 7``).
REF_MONDAY = np.datetime64("1970-01-05", "D")


def day_numbers(occurred_from: pd.Series) -> np.ndarray:
    """Return each crime's day number since :data:`REF_MONDAY` (local date of its start)."""
    start = pd.to_datetime(occurred_from)
    if start.dt.tz is not None:
        start = start.dt.tz_localize(None)
    return np.asarray((start.to_numpy().astype("datetime64[D]") - REF_MONDAY).astype(np.int64))


def dated_rows(frame: pd.DataFrame) -> np.ndarray:
    """Return which crimes are dated to the day (a window of a day or less)."""
    span = pd.to_datetime(frame["occurred_to"]) - pd.to_datetime(frame["occurred_from"])
    return np.asarray(span <= pd.Timedelta(days=1), dtype=bool)


def weights(crimes: pd.DataFrame) -> np.ndarray | None:
    """Return how many crimes each row stands for (:data:`COUNT`); None: one each."""
    return crimes[COUNT].to_numpy(dtype=np.int64) if COUNT in crimes.columns else None


def count_groups(frame: pd.DataFrame, groups: np.ndarray) -> pd.DataFrame:
    """Count one partition of the rows per group, month, day and whether dated to the day.

    Parameters
    ----------
    frame
        The rows: ``month``, ``occurred_from`` and ``occurred_to``.
    groups
        Each row's group number (the caller's).

    Returns
    -------
    pandas.DataFrame
        :data:`CELL_COLUMNS` of each cell counted and its count (:data:`COUNT`), sorted.

    Examples
    --------
    >>> start = pd.to_datetime(["2024-01-08 00:00", "2024-01-08 10:00", "2024-02-01 00:00"])
    >>> end = pd.to_datetime(["2024-01-09 00:00", "2024-01-08 11:00", "2024-02-29 00:00"])
    >>> rows = pd.DataFrame(
    ...     {"month": ["2024-01", "2024-01", "2024-02"], "occurred_from": start, "occurred_to": end}
    ... )
    >>> count_groups(rows, np.array([0, 0, 1]))[COUNT].tolist()
    [2, 1]
    """
    if not len(frame):
        return count_cells([np.zeros(0, np.int64)] * len(CELL_COLUMNS))
    return count_cells(
        [
            np.asarray(groups, dtype=np.int64),
            month_numbers(frame["month"]),
            day_numbers(frame["occurred_from"]),
            dated_rows(frame),
        ]
    )


def count_cells(values: Sequence[np.ndarray], weights: np.ndarray | None = None) -> pd.DataFrame:
    """Count the rows per cell: the rows' group, month and day numbers and dated flags.

    :func:`count_groups` once the rows' numbers are known (e.g. for a whole table, then
    counted file by file); with ``weights``, each row counts that many (the cells of counted
    partitions, summed by :func:`sum_groups`).
    """
    if not len(values[0]):
        empty = np.zeros(0, np.int64)
        out = pd.DataFrame({**dict.fromkeys(CELL_COLUMNS, empty), COUNT: empty})
        return out.astype({"dated": bool})
    ints = [np.asarray(v, dtype=np.int64) for v in values]
    # one number per cell, in mixed radix: its order is that of the cells' columns
    lows = [int(v.min()) for v in ints]
    sizes = [int(v.max()) - lo + 1 for v, lo in zip(ints, lows, strict=True)]
    key = np.zeros(len(ints[0]), dtype=np.int64)
    for v, lo, size in zip(ints, lows, sizes, strict=True):
        key *= size
        key += v - lo
    total = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    w = None if weights is None else np.asarray(weights, dtype=np.float64)  # exact below 2**53
    if total <= max(16 * len(key), 1 << 21):  # a small table: one pass, no sort
        dense = np.bincount(key, weights=w, minlength=total)
        cell = np.flatnonzero(dense)
        count = dense[cell]
    elif w is None:
        cell, count = np.unique(key, return_counts=True)
    else:
        cell, at = np.unique(key, return_inverse=True)
        count = np.bincount(at.ravel(), weights=w, minlength=len(cell))
    columns = {}
    for name, lo, size in zip(reversed(CELL_COLUMNS), reversed(lows), reversed(sizes), strict=True):
        columns[name] = cell % size + lo
        cell = cell // size
    out = pd.DataFrame({name: columns[name] for name in CELL_COLUMNS})
    out["dated"] = out["dated"].astype(bool)
    out[COUNT] = count.astype(np.int64)
    return out


def sum_groups(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Return the counts of every partition (:func:`count_groups`) summed, sorted by cell.

    Integers: the same sums in any order or grouping of the partitions.
    """
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return count_cells([np.zeros(0, np.int64)] * len(CELL_COLUMNS))
    return count_cells(
        [np.concatenate([p[c].to_numpy() for p in parts]) for c in CELL_COLUMNS],
        np.concatenate([p[COUNT].to_numpy() for p in parts]),
    )


def counted_rows(
    table: pd.DataFrame, columns: Mapping[str, pd.api.extensions.ExtensionArray | np.ndarray]
) -> pd.DataFrame:
    """Return a counted table: one row per cell of ``table``, weighed by :data:`COUNT`.

    Parameters
    ----------
    table
        Summed counts (:func:`sum_groups`).
    columns
        Per column, its value for each group number (e.g. ``area_code``, ``crime_type``).

    Returns
    -------
    pandas.DataFrame
        Those columns, ``month`` ("YYYY-MM"), ``occurred_from`` (the day, at midnight),
        ``occurred_to`` (the same for a crime dated to the day, else two days later) and
        :data:`COUNT`.
    """
    group = table["group"].to_numpy()
    numbers = table["month"].to_numpy(dtype=np.int64)
    lo = int(numbers.min()) if len(numbers) else 0
    labels = np.asarray(month_labels(lo, int(numbers.max()) if len(numbers) else -1), dtype=object)
    day = (REF_MONDAY + table["day"].to_numpy(dtype=np.int64)).astype("datetime64[us]")
    late = np.where(table["dated"].to_numpy(dtype=bool), 0, 2).astype("timedelta64[D]")
    out = {name: values.take(group) for name, values in columns.items()}
    out.update(
        month=pd.array(labels[numbers - lo], dtype="str"),
        occurred_from=day,
        occurred_to=day + late,
        **{COUNT: table[COUNT].to_numpy(dtype=np.int64)},
    )
    return pd.DataFrame(out)
