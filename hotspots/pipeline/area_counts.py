"""The area stage's counts, made file by file: the same on both engines.

The main layer's area comparisons, best and worst and rates (``compare_areas.csv``,
``compare_boroughs.csv``, ``performance.csv``, ``rates.csv``) count crimes per area, crime
type, month (or week) and whether on a street. :func:`area_keys` numbers each crime's
(area, crime type, snapped) on the run's crime table; the rows are then counted one crime
file at a time (:func:`hotspots.temporal.counted.count_groups`, with their month and window)
and the files' counts summed:

- the local engine counts its own table's rows, file by file (:func:`count_areas`);
- the Dask engine counts each file's rows on the worker that read it, with the numbers the
  client sends (:func:`hotspots.distributed_tasks.count_area_file`).

:meth:`AreaCounts.counted` turns the sums into the counted table those stages read in place
of the crimes (:mod:`hotspots.temporal.counted`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.temporal.common import month_numbers
from hotspots.temporal.counted import (
    count_cells,
    counted_rows,
    dated_rows,
    day_numbers,
    sum_groups,
)
from hotspots.temporal.tallies import run_bounds

__all__ = [
    "AREA_KEY_COLUMNS",
    "AreaCounts",
    "AreaKeys",
    "area_keys",
    "count_areas",
]

#: The crimes' columns the groups stand for (``segment_id``: on a street or not).
AREA_KEY_COLUMNS = ("area_code", "area_name", "crime_type", "segment_id")


@dataclass
class AreaKeys:
    """Each crime's group number and, per group, the values of :data:`AREA_KEY_COLUMNS`."""

    codes: np.ndarray
    columns: dict[str, pd.api.extensions.ExtensionArray | np.ndarray]


def area_keys(crimes: pd.DataFrame) -> AreaKeys:
    """Return each crime's group: its (area code, area name, crime type, on a street or not).

    The values keep the crimes' dtypes (a categorical keeps its categories), so the tables
    made from the counts group and sort as they would the crimes.
    """
    combined = np.zeros(len(crimes), dtype=np.int64)
    uniques = {}
    sizes: list[int] = []
    for name in AREA_KEY_COLUMNS[:3]:
        codes, found = _codes(crimes[name])
        combined *= max(len(found), 1)
        combined += codes
        uniques[name], sizes = found, [*sizes, max(len(found), 1)]
    combined *= 2
    combined += crimes["segment_id"].notna().to_numpy()
    groups, distinct = pd.factorize(combined)
    del combined
    distinct = np.asarray(distinct, dtype=np.int64)
    columns: dict[str, pd.api.extensions.ExtensionArray | np.ndarray] = {
        "segment_id": np.array([None, "on a street"], dtype=object)[distinct % 2]
    }
    rest = distinct // 2
    for name, size in zip(reversed(AREA_KEY_COLUMNS[:3]), reversed(sizes), strict=True):
        columns[name] = uniques[name].take(rest % size)
        rest //= size
    ordered = {name: columns[name] for name in AREA_KEY_COLUMNS}
    return AreaKeys(np.asarray(groups, dtype=np.int64), ordered)


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray]:
    """Return each value's number and the values numbered, a missing value numbered too.

    A categorical's own codes (no pass over the rows' values), else ``pd.factorize``.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        codes, found = pd.factorize(values, use_na_sentinel=False)
        return codes, found
    codes = values.cat.codes.to_numpy()
    n = len(values.dtype.categories)
    found = pd.Categorical.from_codes(np.r_[np.arange(n), -1], dtype=values.dtype)
    return np.where(codes < 0, n, codes), found


@dataclass
class AreaCounts:
    """The run's crimes per group (:class:`AreaKeys`), month, day and whether dated."""

    table: pd.DataFrame
    columns: dict[str, pd.api.extensions.ExtensionArray | np.ndarray]

    def counted(self) -> pd.DataFrame:
        """Return the counted table (:func:`hotspots.temporal.counted.counted_rows`)."""
        return counted_rows(self.table, self.columns)


def count_areas(crimes: pd.DataFrame, keys: AreaKeys) -> AreaCounts:
    """Count ``crimes`` file by file (``source_file``, in order), as the Dask engine does."""
    # the rows' numbers once for the table (the same numbers per file), counted per file
    values = [
        keys.codes,
        month_numbers(crimes["month"]),
        day_numbers(crimes["occurred_from"]),
        dated_rows(crimes),
    ]
    parts = [count_cells([v[part] for v in values]) for part in run_bounds(crimes["source_file"])]
    return AreaCounts(sum_groups(parts), keys.columns)
