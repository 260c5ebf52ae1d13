"""The time stage's per-row counts, made per partition of the rows and summed.

The time tables of a run (crimes per month and aoristic hour-of-week weights, per place,
area, crime group at a place, and for the whole run) need the rows only to count them. This
module counts one partition of the rows (:func:`count_part`: a crime file, on whichever
machine holds it) into a :class:`TimeCounts` keyed by group numbers the caller gives, and
adds partitions up (:func:`sum_parts`): the counts per month are integers and the week-long
windows are counted, not weighted, so those sums are exact in any order; the short windows'
hour weights are floats, summed partition by partition in the order given. Both engines of
``hotspots run`` count their rows file by file in file order with these functions
(:func:`count_runs` for a table holding every file's rows), so the two give the same tables
to the last bit. :func:`monthly_table` and :func:`hour_table` turn the sums into the tables
:func:`hotspots.temporal.profiles.monthly_profile` and
:func:`hotspots.temporal.profiles.hour_day_profile` give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from hotspots.temporal.common import (
    HOUR_OF_WEEK_COLUMNS,
    HOURS_PER_WEEK,
    has_time_of_day,
    month_labels,
    month_numbers,
)
from hotspots.temporal.profiles import spread_long, weight_sums, window_seconds

__all__ = [
    "Summed",
    "Tally",
    "TimeCounts",
    "count_part",
    "count_runs",
    "hour_table",
    "monthly_table",
    "present_groups",
    "run_bounds",
    "sum_parts",
]

#: Columns a partition needs: the month for the monthly counts, the window for the hours.
MONTH_COLUMNS = ("month",)
WINDOW_COLUMNS = ("occurred_from", "occurred_to", "has_time")


#: Sparse counts: the cells counted (ascending, each once) and their totals.
Cells = tuple[np.ndarray, np.ndarray]


def _cells(dense: np.ndarray) -> Cells:
    """Return the non-zero cells of a flat table and their values."""
    at = np.flatnonzero(dense)
    return at.astype(np.int64), dense[at]


def _joined(cells: Sequence[Cells], size: int, *, compact: bool) -> Cells:
    """Return the cells of several partitions one after the other, or (``compact``) summed.

    A cell may then be listed once per partition: its values add up in order when read
    (:func:`_dense`). Compacted, each cell's values are summed in the order given
    (``np.bincount`` adds them one by one), so the sums are those of adding the partitions'
    dense tables in order, and summing in several steps gives the same sums to the last bit.
    """
    if len(cells) == 1:
        return cells[0]
    at = np.concatenate([c[0] for c in cells])
    values = np.concatenate([c[1] for c in cells])
    if not compact:
        return at, values
    weights = values.astype(np.float64)
    if size <= max(4 * len(at), 1 << 20):  # a small table: summed densely, no sort
        dense = np.bincount(at, weights=weights, minlength=size)
        found = np.flatnonzero(dense)
        return found.astype(np.int64), dense[found].astype(values.dtype)
    found, inverse = np.unique(at, return_inverse=True)
    sums = np.bincount(inverse, weights=weights, minlength=len(found))  # in order too
    return found.astype(np.int64), sums.astype(values.dtype)


@dataclass
class Tally:
    """The counts of one key over ``n`` groups, as sparse cells (:data:`Cells`).

    ``months`` counts rows per (group, month): cell ``group * months + month`` (int64; a
    cell may be listed once per partition, its values adding up in order);
    ``short`` sums the aoristic weights of windows shorter than a week per (group, hour of
    week): cell ``group * 168 + hour`` (float64); ``long`` counts the windows of a week or
    more per group (int64). ``short`` and ``long`` are None where the hours are not counted.
    """

    n: int
    months: Cells
    short: Cells | None = None
    long: Cells | None = None

    @classmethod
    def joined(cls, parts: Sequence[Tally], span: int, *, compact: bool = False) -> Tally:
        """Return the counts of the partitions ``parts`` (over ``span`` months), in order.

        ``compact`` sums each cell's values now (:func:`_joined`), else they are listed.
        """
        n = parts[0].n
        months = _joined([t.months for t in parts], n * span, compact=compact)
        shorts = [t.short for t in parts if t.short is not None]
        longs = [t.long for t in parts if t.long is not None]
        if len(shorts) < len(parts) or len(longs) < len(parts):
            return cls(n, months)
        return cls(
            n,
            months,
            _joined(shorts, n * HOURS_PER_WEEK, compact=compact),
            _joined(longs, n, compact=compact),
        )


@dataclass
class TimeCounts:
    """Every key's :class:`Tally` over months ``first`` to ``last`` (year * 12 + month - 1).

    ``timed`` says whether some counted row has a time of day (or a window under a day).
    """

    first: int
    last: int
    tallies: dict[str, Tally]
    timed: bool

    @property
    def span(self) -> int:
        """The number of months counted."""
        return max(self.last - self.first + 1, 0)


def count_part(
    frame: pd.DataFrame,
    keys: Mapping[str, tuple[np.ndarray, int]],
    first: int,
    last: int,
    *,
    hours: bool,
    numbers: np.ndarray | None = None,
) -> TimeCounts:
    """Count one partition of the rows per group of each key, month and hour of the week.

    Parameters
    ----------
    frame
        The rows: ``month`` and, with ``hours``, ``occurred_from``, ``occurred_to`` and
        ``has_time``.
    keys
        Per key name: each row's group number (-1: the row is left out of that key) and the
        number of groups.
    first, last
        The months counted (year * 12 + month - 1); rows outside are left out.
    hours
        Also sum the rows' aoristic hour-of-week weights.
    numbers
        The rows' months (year * 12 + month - 1), if already known (else read from
        ``month``).

    Returns
    -------
    TimeCounts
        The partition's counts, to add to the others' with :func:`sum_parts`.

    Raises
    ------
    InputDataError
        If a month is not ``"YYYY-MM"`` text or a window is missing or ends before it starts.

    Examples
    --------
    >>> rows = pd.DataFrame({"month": ["2024-01", "2024-03", "2024-03"]})
    >>> first, last = 2024 * 12, 2024 * 12 + 2
    >>> part = count_part(rows, {"all": (np.zeros(3, np.int64), 1)}, first, last, hours=False)
    >>> monthly_table(part, "all", pd.Index(["all"])).loc["all"].tolist()
    [1, 0, 2]
    """
    span = max(last - first + 1, 0)
    if numbers is None:
        numbers = month_numbers(frame["month"]) if len(frame) else np.zeros(0, np.int64)
    inside = (numbers >= first) & (numbers <= last)
    tallies = {}
    for name, (codes, n) in keys.items():
        keep = inside & (codes >= 0)
        tallies[name] = Tally(n, _month_cells(codes[keep] * span + numbers[keep] - first, n * span))
    timed = False
    if hours:
        timed = bool(len(frame)) and has_time_of_day(frame)
        # a file that kept no row may lack the window columns: no window to read
        start, end = window_seconds(frame) if len(frame) else (np.zeros(0, np.int64),) * 2
        sums = weight_sums(start, end, list(keys.values()))
        for tally, (short, long) in zip(tallies.values(), sums, strict=True):
            tally.short, tally.long = _cells(short.ravel()), _cells(long)
    return TimeCounts(first, last, tallies, timed)


def _month_cells(cell: np.ndarray, size: int) -> Cells:
    """Return the cells counted and their counts: by a dense count where the table is small."""
    if size <= max(16 * len(cell), 1 << 21):  # no sort: one pass over the rows
        dense = np.bincount(cell, minlength=size)
        at = np.flatnonzero(dense)
        return at.astype(np.int64), dense[at].astype(np.int64)
    at, count = np.unique(cell, return_counts=True)
    return at.astype(np.int64), count.astype(np.int64)


def sum_parts(parts: Sequence[TimeCounts], *, compact: bool = False) -> TimeCounts:
    """Return the counts of all ``parts`` (counted over the same keys and months), in order.

    ``compact``: each cell once, its values summed (else listed, summed when read).

    Examples
    --------
    >>> one = (np.array([0, 1]), np.array([1, 2]))
    >>> a = TimeCounts(0, 1, {"all": Tally(1, one)}, timed=False)
    >>> monthly_table(sum_parts([a, a]), "all", pd.Index(["all"])).loc["all"].tolist()
    [2, 4]
    """
    first = parts[0]
    return TimeCounts(
        first.first,
        first.last,
        {
            k: Tally.joined([p.tallies[k] for p in parts], first.span, compact=compact)
            for k in first.tallies
        },
        any(p.timed for p in parts),
    )


class Summed:
    """Counts of partitions added one at a time, in order, kept summed every few partitions.

    What :func:`sum_parts` of all of them gives, without holding every partition's cells.

    Examples
    --------
    >>> one = (np.array([0, 1]), np.array([1, 2]))
    >>> total = Summed()
    >>> for _ in range(3):
    ...     total.add(TimeCounts(0, 1, {"all": Tally(1, one)}, timed=False))
    >>> monthly_table(total.result(), "all", pd.Index(["all"])).loc["all"].tolist()
    [3, 6]
    """

    #: Partitions held before they are summed.
    EVERY = 32

    def __init__(self) -> None:
        self.parts: list[TimeCounts] = []

    def add(self, part: TimeCounts) -> None:
        """Add the counts of the next partition."""
        self.parts.append(part)
        if len(self.parts) > self.EVERY:
            self.parts = [sum_parts(self.parts, compact=True)]

    def result(self) -> TimeCounts:
        """Return the counts of every partition added."""
        return sum_parts(self.parts)


def run_bounds(labels: pd.Series) -> list[slice]:
    """Return the slices of the runs of equal values in ``labels`` (a file's rows, in order).

    Examples
    --------
    >>> run_bounds(pd.Series(["a", "a", "b", "c", "c"]))
    [slice(0, 2, None), slice(2, 3, None), slice(3, 5, None)]
    """
    codes, _ = pd.factorize(labels)
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(codes)]
    return [slice(a, b) for a, b in pairwise(bounds) if b > a]


def count_runs(
    frame: pd.DataFrame,
    keys: Mapping[str, tuple[np.ndarray, int]],
    first: int,
    last: int,
    *,
    hours: bool,
    parts: Sequence[slice],
) -> TimeCounts:
    """Count ``frame`` partition by partition (``parts``, in order) and sum the counts.

    What the Dask engine does file by file on its workers (:func:`count_part` on each file's
    rows, :func:`sum_parts` of the files in order), done on one table: the two agree to the
    last bit when ``parts`` are the files' rows.

    Examples
    --------
    >>> rows = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-02"]})
    >>> keys = {"all": (np.zeros(3, np.int64), 1)}
    >>> out = count_runs(rows, keys, 24288, 24289, hours=False, parts=[slice(0, 1), slice(1, 3)])
    >>> monthly_table(out, "all", pd.Index(["all"])).loc["all"].tolist()
    [1, 2]
    """
    # each file's window columns as views of the table's (no copy of the three columns)
    columns = {c: frame[c].array for c in WINDOW_COLUMNS} if hours else {}
    numbers = month_numbers(frame["month"])  # once for the table (the same numbers per file)
    total = Summed()
    for part in parts or [slice(0, 0)]:
        rows = pd.DataFrame({c: a[part] for c, a in columns.items()}, copy=False)
        total.add(
            count_part(
                rows if hours else pd.DataFrame(index=pd.RangeIndex(part.stop - part.start)),
                {name: (codes[part], n) for name, (codes, n) in keys.items()},
                first,
                last,
                hours=hours,
                numbers=numbers[part],
            )
        )
    return total.result()


def _dense(cells: Cells, size: int, dtype: type) -> np.ndarray:
    """Return the flat table of ``cells``, each cell's values added in the order listed.

    The partitions' float sums are thus added file after file, as adding their dense
    tables in order would (``np.bincount`` adds its weights one by one, in order); counts
    stay exact (below 2**53).
    """
    if not len(cells[0]):
        return np.zeros(size, dtype=dtype)
    flat = np.bincount(cells[0], weights=cells[1].astype(np.float64), minlength=size)
    return np.asarray(flat.astype(dtype))


def monthly_table(counts: TimeCounts, key: str, labels: pd.Index) -> pd.DataFrame:
    """Return the crimes per month of each group of ``key`` with a counted row.

    The table :func:`hotspots.temporal.profiles.monthly_profile` gives: index ``labels``,
    one per group with a counted row (:func:`present_groups`), columns the months
    ``"YYYY-MM"`` (named ``month``).
    """
    tally, span = counts.tallies[key], counts.span
    months = _dense(tally.months, tally.n * span, np.int64).reshape(tally.n, span)
    return pd.DataFrame(
        months[present_groups(counts, key)],
        index=labels,
        columns=pd.Index(month_labels(counts.first, counts.last), name="month"),
    )


def hour_table(counts: TimeCounts, key: str, labels: pd.Index) -> pd.DataFrame:
    """Return the summed hour-of-week weights of each group of ``key`` with a counted row.

    The table :func:`hotspots.temporal.profiles.hour_day_profile` gives; ``labels`` as in
    :func:`monthly_table`.
    """
    tally = counts.tallies[key]
    if tally.short is None or tally.long is None:
        msg = f"the hours of {key!r} were not counted: count with hours=True"
        raise ValueError(msg)
    present = present_groups(counts, key)
    short = _dense(tally.short, tally.n * HOURS_PER_WEEK, np.float64)
    long = _dense(tally.long, tally.n, np.int64)
    return pd.DataFrame(
        spread_long(short.reshape(tally.n, HOURS_PER_WEEK)[present], long[present]),
        index=labels,
        columns=pd.Index(HOUR_OF_WEEK_COLUMNS, name="hour_of_week"),
    )


def present_groups(counts: TimeCounts, key: str) -> np.ndarray:
    """Return the numbers of the groups of ``key`` with a counted row, in order.

    Examples
    --------
    >>> cells = (np.array([0, 5]), np.array([1, 3]))  # group 0 month 0, group 2 month 1
    >>> present_groups(TimeCounts(0, 1, {"k": Tally(3, cells)}, timed=False), "k").tolist()
    [0, 2]
    """
    tally = counts.tallies[key]
    at, n = tally.months, max(counts.span, 1)
    return np.flatnonzero(np.bincount(at[0][at[1] > 0] // n, minlength=tally.n))
