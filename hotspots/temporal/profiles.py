"""Time profiles: aoristic hour-of-week weights, hour x day tables and monthly tables.

Definitions (hour of week, aoristic weight, months) are in :mod:`hotspots.temporal.common`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import sparse

from hotspots.errors import InputDataError
from hotspots.temporal.common import (
    ALL,
    HOUR_OF_WEEK_COLUMNS,
    HOURS_PER_WEEK,
    factorize_sorted,
    memo_by_arrow,
    month_labels,
    month_numbers,
    require_columns,
    say,
)

__all__ = [
    "MONTH_CHECK_COLUMNS",
    "aoristic_weights",
    "check_time_of_day",
    "classify_months",
    "hour_day_profile",
    "monthly_profile",
    "spread_long",
    "weight_sums",
    "window_seconds",
]

MONTH_CHECK_COLUMNS: list[str] = ["crimes", "share_of_median", "incomplete"]

_HOUR_S = 3600
_DAY_S = 24 * _HOUR_S
_WEEK_S = HOURS_PER_WEEK * _HOUR_S
_REF_MONDAY = np.datetime64("1970-01-05T00:00:00", "s")  # a Monday
_ENTRY_BLOCK = 4_000_000  # hour entries per chunk when summing aoristic weights


def _row_refs(frame: pd.DataFrame, bad: np.ndarray, limit: int = 5) -> str:
    """Name up to ``limit`` bad rows by file and row number (or by index)."""
    rows = frame.loc[bad].head(limit)
    if {"source_file", "source_row"} <= set(rows.columns):
        refs = [
            f"{f} row {r}" for f, r in zip(rows["source_file"], rows["source_row"], strict=True)
        ]
    else:
        refs = [f"index {i}" for i in rows.index]
    more = ", ..." if int(bad.sum()) > limit else ""
    return ", ".join(refs) + more


def window_seconds(crimes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return window starts and ends as whole seconds since a reference Monday 00:00."""
    out = []
    for col in ("occurred_from", "occurred_to"):
        values = pd.to_datetime(crimes[col])
        if values.dt.tz is not None:
            values = values.dt.tz_localize(None)  # keep the local wall-clock time
        out.append(values.to_numpy().astype("datetime64[s]"))
    start, end = out
    bad = np.isnat(start) | np.isnat(end)
    bad[~bad] = end[~bad] < start[~bad]
    if bad.any():
        msg = (
            f"`crimes` must have occurred_from <= occurred_to, both set; found {bad.sum():,} "
            f"rows without a valid window ({_row_refs(crimes, bad)}). Drop or fix them"
        )
        raise InputDataError(msg)
    return ((start - _REF_MONDAY).astype(np.int64), (end - _REF_MONDAY).astype(np.int64))


def _group_codes(
    crimes: pd.DataFrame, by: str | None, *, quiet: bool
) -> tuple[np.ndarray, pd.Index]:
    """Return each crime's group number (-1 where the key is missing) and the sorted groups."""
    if by is None:
        return np.zeros(len(crimes), dtype=np.int64), pd.Index([ALL], name="group")
    codes, groups = memo_by_arrow("groups", crimes[by], factorize_sorted)
    dropped = int((codes < 0).sum())
    if dropped:
        say(quiet, "%s crimes without %s left out of the profile", f"{dropped:,}", by)
    return codes.astype(np.int64), pd.Index(groups, name=by)


def _aoristic_entries(
    start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (row, cell, weight) triples of the hour cells each window overlaps.

    Windows of a week or longer get 1/168 in every cell; duplicates of a cell (a window just
    under a week touching the same hour of week twice) are left for the caller to sum.
    """
    long = (end - start) >= _WEEK_S
    short = np.flatnonzero(~long)
    rows, cells, weight = _short_entries(start[short], end[short])
    wide = np.flatnonzero(long)
    return (
        np.r_[short[rows], np.repeat(wide, HOURS_PER_WEEK)],
        np.r_[cells, np.tile(np.arange(HOURS_PER_WEEK), len(wide))],
        np.r_[weight, np.full(len(wide) * HOURS_PER_WEEK, 1.0 / HOURS_PER_WEEK)],
    )


def _short_entries(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries of windows shorter than a week: overlap with each clock hour / window length."""
    length = end - start
    first = np.floor_divide(start, _HOUR_S)
    last = np.where(length > 0, np.floor_divide(end - 1, _HOUR_S), first)
    k = last - first + 1
    rows = np.repeat(np.arange(len(start)), k)
    cell = np.repeat(first - np.cumsum(k) + k, k) + np.arange(int(k.sum()))
    overlap = np.minimum(end[rows], (cell + 1) * _HOUR_S) - np.maximum(start[rows], cell * _HOUR_S)
    size = length[rows]
    weight = np.where(size > 0, overlap / np.maximum(size, 1), 1.0)
    return rows, np.mod(cell, HOURS_PER_WEEK), weight


def aoristic_weights(crimes: pd.DataFrame) -> sparse.csr_array:
    """Return each crime's aoristic weight over the 168 hours of the week.

    Parameters
    ----------
    crimes
        Canonical crime table (``occurred_from``, ``occurred_to``; naive local times or
        time-zone aware, read as local wall-clock time).

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(len(crimes), 168)``, float64; row ``i`` is crime ``i`` (in ``crimes`` order),
        column ``c`` is hour of week ``c`` (0 = Monday 00:00-01:00, see
        :data:`HOUR_OF_WEEK_COLUMNS`). Every row sums to 1.

    Raises
    ------
    InputDataError
        If a window is missing or ends before it starts.

    Notes
    -----
    Formally: for a crime with window ``[a, b)`` of length ``L = b - a > 0``, the weight of
    hour-of-week cell ``c`` is ``sum over clock hours h with h mod 168 = c of
    |[a, b) ∩ [h, h + 1)| / L``. If ``L >= 168 h`` every cell gets ``1/168``; if ``L = 0`` the
    cell holding ``a`` gets 1. A whole-day window (the VPD 00:00 placeholder) gives ``1/24`` to
    each hour of its day, so unknown times do not create a midnight peak. Month-long windows
    (police.uk) store 168 entries per row: for large month-only tables use
    :func:`monthly_profile` instead.

    Examples
    --------
    >>> crimes = pd.DataFrame({
    ...     "occurred_from": pd.to_datetime(["2024-05-03 22:00", "2024-05-06 00:00"]),
    ...     "occurred_to": pd.to_datetime(["2024-05-04 00:00", "2024-05-07 00:00"])})
    >>> w = aoristic_weights(crimes)
    >>> w.shape, w.sum(axis=1).round(6).tolist()
    ((2, 168), [1.0, 1.0])
    >>> float(w[0, 4 * 24 + 22]), float(w[1, 5])
    (0.5, 0.041666666666666664)
    """
    require_columns(crimes, ["occurred_from", "occurred_to"], "aoristic_weights")
    start, end = window_seconds(crimes)
    rows, cells, weight = _aoristic_entries(start, end)
    matrix = sparse.coo_array((weight, (rows, cells)), shape=(len(crimes), HOURS_PER_WEEK))
    return matrix.tocsr()


def check_time_of_day(crimes: pd.DataFrame, start: np.ndarray, end: np.ndarray) -> None:
    """Raise unless some crime has a time of day (``has_time``) or a window under a day.

    Raises
    ------
    InputDataError
        If no crime has a time of day (police.uk gives the month only).
    """
    has_time = crimes["has_time"].fillna(False).astype(bool).to_numpy()
    if not (has_time.any() or ((end - start) < _DAY_S).any()):
        msg = (
            "`crimes` has no time of day (police.uk gives month only); found no row with "
            f"has_time=True and no window shorter than a day in {len(crimes):,} rows; use "
            "`monthly_profile`"
        )
        raise InputDataError(msg)


def _entry_blocks(start: np.ndarray, end: np.ndarray) -> list[slice]:
    """Split rows into runs of about ``_ENTRY_BLOCK`` hour entries (see _short_entries)."""
    first = np.floor_divide(start, _HOUR_S)
    last = np.where(end > start, np.floor_divide(end - 1, _HOUR_S), first)
    ends = np.cumsum(last - first + 1)
    cuts = np.searchsorted(
        ends, np.arange(_ENTRY_BLOCK, ends[-1] if len(ends) else 0, _ENTRY_BLOCK), side="right"
    )
    bounds = [0, *np.unique(cuts).tolist(), len(start)]
    return [slice(a, b) for a, b in pairwise(bounds) if b > a]


def weight_sums(
    start: np.ndarray, end: np.ndarray, keys: Sequence[tuple[np.ndarray, int]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sum aoristic weights per group of each key, without storing week-long windows' entries.

    Parameters
    ----------
    start, end
        Each row's window in seconds since a reference Monday (:func:`window_seconds`).
    keys
        Per key: each row's group number (-1: left out) and the number of groups.

    Returns
    -------
    list
        Per key: the summed weights of the windows shorter than a week (groups x 168,
        float64) and the number of windows of a week or more per group (int64), which
        spread 1/168 over every hour: a group's profile is ``short + long[:, None] / 168``.
        Both add up over partitions of the rows (:mod:`hotspots.temporal.tallies`).

    Notes
    -----
    Short windows are expanded to hour entries a block of rows at a time (about
    ``_ENTRY_BLOCK`` entries, each block once for every key), and the entries are added in
    row order, so the sums are the same to the last bit as one pass over all rows.
    """
    long = (end - start) >= _WEEK_S
    start, end = start[~long], end[~long]
    flats = [np.zeros(n * HOURS_PER_WEEK) for _, n in keys]
    short_codes = [codes[~long] for codes, _ in keys]
    for block in _entry_blocks(start, end):
        rows, cells, weight = _short_entries(start[block], end[block])
        for flat, codes in zip(flats, short_codes, strict=True):
            code = codes[block][rows]
            if (code < 0).any():
                ok = code >= 0
                code, at, w = code[ok], cells[ok], weight[ok]
            else:
                at, w = cells, weight
            np.add.at(flat, code * HOURS_PER_WEEK + at, w)
    out = []
    for flat, (codes, n) in zip(flats, keys, strict=True):
        wide = codes[long]
        counts = np.bincount(wide[wide >= 0], minlength=n).astype(np.int64)
        out.append((flat.reshape(n, HOURS_PER_WEEK), counts))
    return out


def spread_long(short: np.ndarray, long: np.ndarray) -> np.ndarray:
    """Return the hour-of-week weights ``short`` with each week-long window's 1/168 added."""
    return np.asarray(short + (long / HOURS_PER_WEEK)[:, None], dtype=float)


def hour_day_profile(
    crimes: pd.DataFrame, *, by: str | None = None, quiet: bool = False
) -> pd.DataFrame:
    """Return summed aoristic weights per hour of the week, one row per group.

    Parameters
    ----------
    crimes
        Canonical crime table with ``occurred_from``, ``occurred_to`` and ``has_time``.
    by
        Column to group by, e.g. ``"segment_id"`` or ``"area_code"``. ``None`` (default) gives
        one row labelled ``"all"``. Crimes with a missing key are left out (and counted in
        the log).
    quiet
        Do not log what was spread and left out.

    Returns
    -------
    pandas.DataFrame
        Index: the sorted group values (named ``by``, or ``"group"`` with the one row
        ``"all"``). Columns: :data:`HOUR_OF_WEEK_COLUMNS` (``"Mon 00"`` ... ``"Sun 23"``,
        Monday first), float64 weighted crime counts. A row sums to the group's crimes.

    Raises
    ------
    InputDataError
        If no crime has a time of day (no ``has_time`` and no window shorter than a day, as
        in police.uk data), a column is missing or a window is invalid.

    Notes
    -----
    Weights are those of :func:`aoristic_weights`; whole-day windows, including the VPD
    00:00 placeholders, are spread evenly over their day's 24 hours.

    Examples
    --------
    >>> crimes = pd.DataFrame({
    ...     "occurred_from": pd.to_datetime(["2024-05-03 22:00", "2024-05-03 22:30"]),
    ...     "occurred_to": pd.to_datetime(["2024-05-04 00:00", "2024-05-03 22:31"]),
    ...     "has_time": [False, True]})
    >>> profile = hour_day_profile(crimes, quiet=True)
    >>> profile.loc["all", ["Fri 22", "Fri 23"]].tolist()
    [1.5, 0.5]
    """
    require_columns(
        crimes,
        ["occurred_from", "occurred_to", "has_time", *([by] if by else [])],
        "hour_day_profile",
    )
    start, end = window_seconds(crimes)
    check_time_of_day(crimes, start, end)
    codes, groups = _group_codes(crimes, by, quiet=quiet)
    ((short, long),) = weight_sums(start, end, [(codes, len(groups))])
    table = spread_long(short, long)
    spread = int((~crimes["has_time"].fillna(False).astype(bool).to_numpy()).sum())
    say(
        quiet,
        "hour_day_profile: %s of %s crimes have no exact time (e.g. VPD 00:00 "
        "placeholders); each is spread evenly over its window",
        f"{spread:,}",
        f"{len(crimes):,}",
    )
    return pd.DataFrame(
        table, index=groups, columns=pd.Index(HOUR_OF_WEEK_COLUMNS, name="hour_of_week")
    )


# --------------------------------------------------------------------------------------------
# months


def monthly_profile(
    crimes: pd.DataFrame,
    *,
    by: str | None = None,
    start: str | None = None,
    end: str | None = None,
    quiet: bool = False,
) -> pd.DataFrame:
    """Return crimes per calendar month, one row per group, with empty months as zeros.

    Parameters
    ----------
    crimes
        Canonical crime table with ``month`` (``"YYYY-MM"``, the month the window starts).
    by
        Column to group by; ``None`` (default) gives one row labelled ``"all"``.
    start, end
        First and last month (``"YYYY-MM"``) of the columns; default the first and last month
        in ``crimes``. Crimes outside are left out.
    quiet
        Do not log what was left out.

    Returns
    -------
    pandas.DataFrame
        Index: sorted group values (named ``by``, or ``"group"``). Columns: every month from
        ``start`` to ``end`` as ``"YYYY-MM"`` (named ``"month"``), int64 counts.

    Raises
    ------
    InputDataError
        If ``month`` is not ``"YYYY-MM"`` text, a column is missing, or there are no crimes
        and no ``start``/``end``.

    Examples
    --------
    >>> crimes = pd.DataFrame({"month": ["2024-01", "2024-03", "2024-03"]})
    >>> monthly_profile(crimes).loc["all"].tolist()
    [1, 0, 2]
    """
    require_columns(crimes, ["month", *([by] if by else [])], "monthly_profile")
    numbers = month_numbers(crimes["month"])
    if not len(numbers) and (start is None or end is None):
        msg = (
            "`crimes` has no rows; `monthly_profile` needs at least one crime or both "
            "`start` and `end`. Check the period and crime-type filters"
        )
        raise InputDataError(msg)
    bounds = month_numbers(pd.Series([start or "0001-01", end or "0001-01"]), "start/end")
    first = int(bounds[0]) if start else int(numbers.min())
    last = int(bounds[1]) if end else int(numbers.max())
    codes, groups = _group_codes(crimes, by, quiet=quiet)
    n_months = max(last - first + 1, 0)
    keep = (codes >= 0) & (numbers >= first) & (numbers <= last)
    flat = np.bincount(
        codes[keep] * n_months + numbers[keep] - first, minlength=len(groups) * n_months
    )
    return pd.DataFrame(
        flat.reshape(len(groups), n_months).astype(np.int64),
        index=groups,
        columns=pd.Index(month_labels(first, last), name="month"),
    )


def classify_months(
    monthly: pd.DataFrame, *, min_share: float = 0.5, quiet: bool = False
) -> pd.DataFrame:
    """Flag months whose total is far below the typical month (incomplete extracts).

    Parameters
    ----------
    monthly
        From :func:`monthly_profile` (any grouping; the columns are summed).
    min_share
        A month is incomplete below this share of the median monthly total.
    quiet
        Do not log the incomplete months found.

    Returns
    -------
    pandas.DataFrame
        Index: the months (``"YYYY-MM"``). Columns :data:`MONTH_CHECK_COLUMNS`: ``crimes``
        (int64 total), ``share_of_median`` (float64), ``incomplete`` (bool).

    Notes
    -----
    Formally: with ``T_m`` the total of month ``m`` over all rows and ``M`` the median of
    ``T_m`` over the months, month ``m`` is **incomplete** if ``T_m < min_share * M``. Months
    with no crime at all are therefore incomplete too. Pass the incomplete months as
    ``exclude`` to :func:`classify_trend` and :func:`seasonality`, or mark them on plots. Apply
    it to a table of a whole force or city, not of one street, whose quiet months are normal.

    Examples
    --------
    >>> monthly = pd.DataFrame([[60, 58, 7, 59]], columns=["2016-01", "2016-02", "2016-03",
    ...                                                  "2016-04"])
    >>> classify_months(monthly, quiet=True)["incomplete"].tolist()
    [False, False, True, False]
    """
    totals = monthly.sum(axis=0).astype(np.int64)
    median = float(totals.median()) if len(totals) else 0.0
    share = totals / median if median > 0 else pd.Series(np.nan, index=totals.index)
    out = pd.DataFrame(
        {
            "crimes": totals,
            "share_of_median": share.astype(float),
            "incomplete": (totals < min_share * median).to_numpy(),
        }
    )
    out.index = pd.Index(monthly.columns.astype(str), name="month")
    bad = out.index[out["incomplete"]].tolist()
    if bad:
        say(
            quiet,
            "incomplete months (total below %s of the median month, %s crimes): %s",
            min_share,
            f"{median:,.0f}",
            ", ".join(bad),
        )
    return out
