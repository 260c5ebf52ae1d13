"""Temporal profiles and trends: when each hot street is hot, and whether it is getting worse.

Definitions used throughout (the README repeats them for users):

* **Hour of week.** Cell 0 is Monday 00:00-01:00 and cell 167 is Sunday 23:00-24:00. Wide
  hour-of-week tables have the 168 columns of :data:`HOUR_OF_WEEK_COLUMNS`, ``"Mon 00"`` to
  ``"Sun 23"`` in that order (day-major: all of Monday's hours, then Tuesday's, ...).
* **Times** are local wall-clock times as the source gives them; daylight-saving changes are
  ignored (a window is measured on the clock face).
* **Aoristic weight** (Ratcliffe 2002). A crime known only to lie in the window
  ``[occurred_from, occurred_to)`` gives each hour of the week the share of the window that falls
  in it, so every crime adds exactly 1 in all. Windows of a week or longer give 1/168 to every
  cell. A window of zero length counts wholly in the hour holding ``occurred_from``.
* **The VPD 00:00 artefact.** Vancouver records at exactly 00:00 are a placeholder for "time not
  known", and :mod:`hotspots.read.crimes` reads them as whole-day windows ``[date, date + 1 day)``
  with ``has_time=False``. Aoristic weighting therefore spreads each of them as 1/24 over the 24
  hours of that day: they keep their day of week but do **not** pile up at midnight.
* **Months** are the ``month`` column (``"YYYY-MM"``, the month the window starts). Monthly
  tables have one column per month from the first to the last, with zeros where a group had no
  crime, so gaps show.
"""

from __future__ import annotations

import functools
import html
import logging
import weakref
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import sparse
from scipy.stats import chi2, false_discovery_control, norm
from scipy.stats import f as f_dist

from hotspots.errors import InputDataError

__all__ = [
    "ALL",
    "ALL_CRIME",
    "COMPARE_COLUMNS",
    "DAYS",
    "DAY_ONLY_LIFT",
    "GROUP_WINDOW_COLUMNS",
    "HOURS_PER_WEEK",
    "HOUR_OF_WEEK_COLUMNS",
    "MAX_WINDOW_HOURS",
    "MONTH_CHECK_COLUMNS",
    "MONTH_NAMES",
    "NOT_IN_DATA",
    "NO_TIME_OF_DAY",
    "NO_TIME_STANDS_OUT",
    "RANK_AREA_COLUMNS",
    "SEASON_TEST_COLUMNS",
    "TIME_COLUMNS",
    "TOO_FEW",
    "TOO_FEW_TO_SAY",
    "TOO_SHORT_FOR_TREND",
    "TREND_CLASSES",
    "TREND_COLUMNS",
    "WINDOW_COLUMNS",
    "aoristic_weights",
    "classify_months",
    "classify_trend",
    "compare_periods",
    "group_profiles",
    "group_window_texts",
    "group_windows",
    "has_time_of_day",
    "hour_day_profile",
    "hour_day_svg",
    "monthly_profile",
    "monthly_svg",
    "patrol_window",
    "patrol_windows",
    "peak_months",
    "plot_hour_day",
    "plot_monthly",
    "rank_areas",
    "rate_per_1000",
    "seasonality",
    "seasonality_test",
    "time_summary",
]

log = logging.getLogger("hotspots")

#: Day labels, Monday first (ISO order).
DAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS_PER_WEEK = 168
#: Column names of wide hour-of-week tables, cell 0 (``"Mon 00"``) to 167 (``"Sun 23"``).
HOUR_OF_WEEK_COLUMNS: list[str] = [f"{d} {h:02d}" for d in DAYS for h in range(24)]
MONTH_NAMES: list[str] = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]
#: Row label of a profile without ``by``, and the crime type label of all crime together.
ALL = "all"
ALL_CRIME = "All crime"
TOO_FEW = "too few to compare"
NOT_IN_DATA = "period not in data"
TOO_FEW_TO_SAY = "too few crimes to say"
#: Trend classes of :func:`classify_trend`, in the order the rules are tried.
TREND_CLASSES: tuple[str, ...] = (
    "none",
    "new",
    "emerging",
    "diminishing",
    "persistent",
    "historical",
    "intermittent",
    "sporadic",
)
TREND_COLUMNS: list[str] = [
    "months",
    "crimes",
    "s_statistic",
    "tau",
    "p_value",
    "q_value",
    "slope_per_month",
    "direction",
    "hot_threshold",
    "hot_months",
    "hot_last_month",
    "trend_class",
]
MONTH_CHECK_COLUMNS: list[str] = ["crimes", "share_of_median", "incomplete"]
COMPARE_COLUMNS: list[str] = [
    "crime_type",
    "current",
    "previous",
    "year_before",
    "change_previous",
    "pct_change_previous",
    "flag_previous",
    "change_year_before",
    "pct_change_year_before",
    "flag_year_before",
]
RANK_AREA_COLUMNS: list[str] = [
    "performance",
    "position",
    "current",
    "compared_with",
    "change",
    "pct_change",
]

_HOUR_S = 3600
_DAY_S = 24 * _HOUR_S
_WEEK_S = HOURS_PER_WEEK * _HOUR_S
_REF_MONDAY = np.datetime64("1970-01-05T00:00:00", "s")  # a Monday
_PAIR_BLOCK = 4_000_000  # row-pair cells per chunk in the pairwise trend statistics
_ENTRY_BLOCK = 4_000_000  # hour entries per chunk when summing aoristic weights
_PALETTE = ("#f0f0f0", "#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")


# --------------------------------------------------------------------------------------------
# shared checks


def _say(quiet: bool, msg: str, *args: object) -> None:
    if not quiet:
        log.info(msg, *args)


def _require(frame: pd.DataFrame, columns: Sequence[str], caller: str) -> None:
    """Raise when ``frame`` lacks any of ``columns``, naming all the missing ones."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f"`crimes` needs the columns {missing} for `{caller}`; found "
            f"{list(frame.columns)}. Read crimes with `hotspots.read.crimes.read_crimes` and join "
            "areas or segments first when grouping by them"
        )
        raise InputDataError(msg)


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


def _window_seconds(crimes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
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


#: Last factorization per purpose, keyed by the (immutable) Arrow array it was made from.
_MEMO: dict[str, tuple[weakref.ref[Any], Any]] = {}
_MEMO_FROM = 10_000  # fewest rows worth remembering


def _memo_by_arrow(kind: str, values: pd.Series, make: Any) -> Any:
    """Return ``make(values)``, reused while ``values`` holds the same Arrow array as last time.

    A run asks for the months and place numbers of the same crime column several times
    (place and area summaries, monthly tables, crime groups); Arrow-backed text columns are
    immutable, so the array's identity (held weakly) says the answer still holds. Other
    columns (NumPy, categorical: mutable) are not remembered.
    """
    arrow = getattr(values.array, "__arrow_array__", None)
    if arrow is None or len(values) < _MEMO_FROM:  # short: quicker to redo than to evict
        return make(values)
    key = arrow()
    found = _MEMO.get(kind)
    if found is not None and found[0]() is key:
        return found[1]
    out = make(values)
    _MEMO[kind] = (weakref.ref(key), out)
    return out


def _factorize_sorted(values: pd.Series) -> tuple[np.ndarray, Any]:
    codes, groups = pd.factorize(values, sort=True)
    codes.flags.writeable = False
    return codes, groups


def _group_codes(
    crimes: pd.DataFrame, by: str | None, *, quiet: bool
) -> tuple[np.ndarray, pd.Index]:
    """Return each crime's group number (-1 where the key is missing) and the sorted groups."""
    if by is None:
        return np.zeros(len(crimes), dtype=np.int64), pd.Index([ALL], name="group")
    codes, groups = _memo_by_arrow("groups", crimes[by], _factorize_sorted)
    dropped = int((codes < 0).sum())
    if dropped:
        _say(quiet, "%s crimes without %s left out of the profile", f"{dropped:,}", by)
    return codes.astype(np.int64), pd.Index(groups, name=by)


def _month_numbers(month: pd.Series, name: str = "crimes") -> np.ndarray:
    """Return year * 12 + month - 1 of ``"YYYY-MM"`` strings (parsed once per distinct value)."""
    numbers: np.ndarray = _memo_by_arrow("months", month, lambda m: _parse_months(m, name))
    return numbers


def _parse_months(month: pd.Series, name: str) -> np.ndarray:
    codes, found = pd.factorize(month)  # the distinct months first: no copy of the rows' text
    uniques = np.asarray(pd.Series(found, dtype="string"), dtype=object)
    parsed = pd.to_datetime(pd.Series(uniques, dtype="string"), format="%Y-%m", errors="coerce")
    bad_values = uniques[parsed.isna().to_numpy()]
    if (codes < 0).any() or len(bad_values):
        found = [*map(str, bad_values[:5])] + (["<missing>"] if (codes < 0).any() else [])
        msg = (
            f"`{name}` months must be 'YYYY-MM' text; found {found}. Read crimes with "
            "`hotspots.read.crimes.read_crimes`, which sets the `month` column"
        )
        raise InputDataError(msg)
    numbers = (parsed.dt.year * 12 + parsed.dt.month - 1).to_numpy(dtype=np.int64)
    out = np.asarray(numbers[codes], dtype=np.int64)
    out.flags.writeable = False  # shared by the callers that ask again (see _memo_by_arrow)
    return out


def _month_labels(first: int, last: int) -> list[str]:
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]


# --------------------------------------------------------------------------------------------
# hour of week


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
    _require(crimes, ["occurred_from", "occurred_to"], "aoristic_weights")
    start, end = _window_seconds(crimes)
    rows, cells, weight = _aoristic_entries(start, end)
    matrix = sparse.coo_array((weight, (rows, cells)), shape=(len(crimes), HOURS_PER_WEEK))
    return matrix.tocsr()


def _check_time_of_day(crimes: pd.DataFrame, start: np.ndarray, end: np.ndarray) -> None:
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


def _summed_weights(
    start: np.ndarray, end: np.ndarray, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """Sum aoristic weights per group without storing the 168 entries of week-long windows.

    Short windows are expanded to hour entries a block of rows at a time (about
    ``_ENTRY_BLOCK`` entries), and the entries are added in row order, so the sums are the
    same to the last bit as one pass over all rows.
    """
    long = (end - start) >= _WEEK_S
    start, end, short_codes = start[~long], end[~long], codes[~long]
    flat = np.zeros(n_groups * HOURS_PER_WEEK)
    for block in _entry_blocks(start, end):
        rows, cells, weight = _short_entries(start[block], end[block])
        np.add.at(flat, short_codes[block][rows] * HOURS_PER_WEEK + cells, weight)
    spread = np.bincount(codes[long], minlength=n_groups) / HOURS_PER_WEEK
    return np.asarray(flat.reshape(n_groups, HOURS_PER_WEEK) + spread[:, None], dtype=float)


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
    _require(
        crimes,
        ["occurred_from", "occurred_to", "has_time", *([by] if by else [])],
        "hour_day_profile",
    )
    start, end = _window_seconds(crimes)
    _check_time_of_day(crimes, start, end)
    codes, groups = _group_codes(crimes, by, quiet=quiet)
    keep = codes >= 0
    table = _summed_weights(start[keep], end[keep], codes[keep], len(groups))
    spread = int((~crimes["has_time"].fillna(False).astype(bool).to_numpy()).sum())
    _say(
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
    _require(crimes, ["month", *([by] if by else [])], "monthly_profile")
    numbers = _month_numbers(crimes["month"])
    if not len(numbers) and (start is None or end is None):
        msg = (
            "`crimes` has no rows; `monthly_profile` needs at least one crime or both "
            "`start` and `end`. Check the period and crime-type filters"
        )
        raise InputDataError(msg)
    bounds = _month_numbers(pd.Series([start or "0001-01", end or "0001-01"]), "start/end")
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
        columns=pd.Index(_month_labels(first, last), name="month"),
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
        _say(
            quiet,
            "incomplete months (total below %s of the median month, %s crimes): %s",
            min_share,
            f"{median:,.0f}",
            ", ".join(bad),
        )
    return out


def _monthly_values(
    monthly: pd.DataFrame, exclude: Sequence[str] | None, caller: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return counts (float, rows x kept months), month numbers and labels of the kept months."""
    months = [str(c) for c in monthly.columns if str(c) not in set(exclude or ())]
    numbers = _month_numbers(pd.Series(months, dtype="string"), "monthly")
    values = monthly.loc[:, [c for c in monthly.columns if str(c) in set(months)]]
    values = values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        msg = (
            f"`monthly` must hold counts >= 0 for `{caller}`; found "
            f"{int(np.isnan(values).sum())} missing and {int((values < 0).sum())} negative "
            "values. Build it with `monthly_profile`"
        )
        raise InputDataError(msg)
    return values, numbers, months


def seasonality(monthly: pd.DataFrame, *, exclude: Sequence[str] | None = None) -> pd.DataFrame:
    """Return each group's mean share of a year's crime in each calendar month.

    Parameters
    ----------
    monthly
        From :func:`monthly_profile`.
    exclude
        Months (``"YYYY-MM"``) to leave out, e.g. the incomplete months of
        :func:`classify_months`. Default: none.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``monthly``; columns ``"Jan"`` ... ``"Dec"`` (float64) summing to 1 per
        row (NaN for a row with no crime, or a calendar month never observed).

    Notes
    -----
    Formally: for group ``g``, year ``y`` and calendar month ``m`` kept in ``monthly``, the
    ratio ``r[g, y, m] = n[g, y, m] / mean_m' n[g, y, m']`` compares the month with the mean of
    the year's kept months (years where that mean is 0 are skipped). The share is
    ``s[g, m] = R[g, m] / sum_m R[g, m]`` with ``R[g, m]`` the mean of ``r[g, y, m]`` over the
    years. With whole years only, ``s[g, m]`` is exactly the mean over years of the month's
    share of the year's crime; partial years and excluded months do not bias it.

    Examples
    --------
    >>> monthly = pd.DataFrame([[2] * 6 + [4] * 6], columns=[f"2024-{m:02d}" for m in
    ...                                                      range(1, 13)])
    >>> seasonality(monthly).round(4).loc[0, ["Jan", "Dec"]].tolist()
    [0.0556, 0.1111]
    """
    values, numbers, _ = _monthly_values(monthly, exclude, "seasonality")
    ratio_sum = np.zeros((len(values), 12))
    years_seen = np.zeros((len(values), 12))
    for year in np.unique(numbers // 12):  # a loop over years, not over rows
        cols = np.flatnonzero(numbers // 12 == year)
        mean = values[:, cols].mean(axis=1, keepdims=True)
        ok = np.broadcast_to(mean > 0, (len(values), len(cols)))
        ratio = np.divide(values[:, cols], mean, out=np.zeros_like(values[:, cols]), where=ok)
        ratio_sum[:, numbers[cols] % 12] += ratio
        years_seen[:, numbers[cols] % 12] += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_ratio = ratio_sum / years_seen
        share = mean_ratio / np.nansum(mean_ratio, axis=1, keepdims=True)
    return pd.DataFrame(share, index=monthly.index, columns=MONTH_NAMES)


SEASON_TEST_COLUMNS: list[str] = ["g_statistic", "df", "dispersion", "p_value", "q_value"]
_SEASON_BLOCK = 50_000  # rows per block of the seasonality test
_FIT_ROUNDS = 40  # iterative proportional fitting rounds of the year + month model


def _year_month_table(
    monthly: pd.DataFrame, exclude: Sequence[str] | None, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return crimes (rows x years x 12) and days observed (years x 12) of the kept months."""
    values, numbers, _ = _monthly_values(monthly, exclude, caller)
    first = int(numbers.min()) // 12 if len(numbers) else 0
    n_years = int(numbers.max()) // 12 - first + 1 if len(numbers) else 1
    counts = np.zeros((len(values), n_years, 12))
    counts[:, numbers // 12 - first, numbers % 12] = values
    days = np.zeros((n_years, 12))
    if len(numbers):
        years, months = numbers // 12, numbers % 12 + 1
        in_month = pd.Series(pd.to_datetime({"year": years, "month": months, "day": 1}))
        days[years - first, months - 1] = in_month.dt.days_in_month.to_numpy(dtype=float)
    return counts, days


def _season_fits(counts: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the fitted counts without (year effects only) and with calendar-month effects.

    Both are Poisson log-linear models with the days observed as exposure; the second is fitted
    by iterative proportional fitting to the year and calendar-month totals of each row.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        per_year = counts.sum(axis=2, keepdims=True)
        null = per_year * np.nan_to_num(days / days.sum(axis=1, keepdims=True))[None]
        per_month = counts.sum(axis=1, keepdims=True)
        fit = null.copy()
        rows = np.arange(len(counts))  # the rows whose month totals do not hold yet
        for _ in range(_FIT_ROUNDS):  # a few rounds; sparse rows (zeros) take longer
            part, months, years = fit[rows], per_month[rows], per_year[rows]
            part *= np.nan_to_num(months / part.sum(axis=1, keepdims=True))
            part *= np.nan_to_num(years / part.sum(axis=2, keepdims=True))
            fit[rows] = part
            off = np.abs(part.sum(axis=1, keepdims=True) - months).max(axis=(1, 2))
            rows = rows[off > 1e-6]
            if not len(rows):
                break
    return null, fit


def _deviance(counts: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, counts * np.log(counts / fitted), 0.0) - (counts - fitted)
    return np.asarray(2 * terms.sum(axis=(1, 2)))


def _season_block(counts: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return G, dispersion, p-value, month residuals and no-season month counts of a block."""
    seen = days > 0
    k = int(seen.any(axis=0).sum())
    n_years = int(seen.any(axis=1).sum())
    df_resid = int(seen.sum()) - n_years - k + 1
    null, fit = _season_fits(counts, days)
    g = np.maximum(_deviance(counts, null) - _deviance(counts, fit), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(fit > 0, (counts - fit) ** 2 / fit, 0.0).sum(axis=(1, 2))
        phi = np.maximum(pearson / df_resid, 1.0) if df_resid > 0 else np.ones(len(counts))
        if df_resid > 0:
            p = f_dist.sf(g / max(k - 1, 1) / phi, max(k - 1, 1), df_resid)
        else:
            p = chi2.sf(g, max(k - 1, 1))
        expected = null.sum(axis=1)
        resid = (counts.sum(axis=1) - expected) / np.sqrt(phi[:, None] * expected)
    return g, phi, p, resid, expected


def seasonality_test(
    monthly: pd.DataFrame, *, exclude: Sequence[str] | None = None
) -> pd.DataFrame:
    """Test, per row, whether crime differs between calendar months more than chance would.

    Parameters
    ----------
    monthly
        From :func:`monthly_profile`.
    exclude
        Months (``"YYYY-MM"``) to leave out, e.g. incomplete ones.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``monthly``, columns :data:`SEASON_TEST_COLUMNS`: the likelihood-ratio
        statistic ``G`` of the calendar months (float), its degrees of freedom (int), the
        dispersion (float, at least 1), the p-value and the Benjamini-Hochberg q-value over
        the rows tested (NaN for a row without crime).

    Notes
    -----
    Crimes per month ``O[y, m]`` (year ``y``, calendar month ``m``) are compared under two
    Poisson log-linear models with the days of each kept month ``D[y, m]`` as exposure: a
    rate per day that changes from year to year only, ``E[y, m] = T[y] * D[y, m] / D[y]``
    (the null: no season, so February's 28 days, excluded or incomplete months and a level
    that changes between years do not pass for seasons), and year plus calendar-month
    effects (fitted by iterative proportional fitting). ``G`` is the drop in deviance
    (likelihood ratio), with ``k - 1`` degrees of freedom for ``k`` calendar months seen.
    With more than one year of a month, the year x month residual (Pearson ``X^2`` over its
    degrees of freedom, at least 1) measures how far months vary from year to year beyond
    Poisson noise (overdispersion, e.g. a spike in one July): the test is then the
    quasi-Poisson F-test ``(G / (k - 1)) / dispersion`` against ``F(k - 1, df_resid)``, so a
    season must recur across the years. With a single year it is the G-test against
    ``chi2(k - 1)``.

    Examples
    --------
    >>> flat = pd.DataFrame([[30] * 24], columns=[f"{y}-{m:02d}" for y in (2023, 2024)
    ...                                            for m in range(1, 13)])
    >>> float(seasonality_test(flat)["p_value"].iloc[0]) > 0.9
    True
    """
    return _season_stats(monthly, exclude, "seasonality_test")[0]


def _season_stats(
    monthly: pd.DataFrame, exclude: Sequence[str] | None, caller: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return :func:`seasonality_test`, and per calendar month observed / expected and residual."""
    counts, days = _year_month_table(monthly, exclude, caller)
    k = int((days > 0).any(axis=0).sum())
    parts = []
    for i in range(0, len(counts), _SEASON_BLOCK):
        block = counts[i : i + _SEASON_BLOCK]
        g, phi, p, resid, expected = _season_block(block, days)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append((g, phi, p, resid, block.sum(axis=1) / expected))
    g, phi, p, resid, ratio = (
        np.concatenate([b[j] for b in parts]) if parts else np.zeros((0, 12) if j > 2 else 0)
        for j in range(5)
    )
    tested = (counts.sum(axis=(1, 2)) > 0) & (k > 1)
    p = np.where(tested, p, np.nan)
    q = np.full(len(p), np.nan)
    if tested.any():
        q[tested] = false_discovery_control(p[tested])
    test = pd.DataFrame(
        {
            "g_statistic": np.where(tested, g, np.nan),
            "df": max(k - 1, 0),
            "dispersion": np.where(tested, phi, np.nan),
            "p_value": p,
            "q_value": q,
        },
        index=monthly.index,
    )
    return test, ratio, resid


# --------------------------------------------------------------------------------------------
# trends


def _pair_chunks(n_rows: int, n_pairs: int) -> list[slice]:
    step = max(1, _PAIR_BLOCK // max(n_pairs, 1))
    return [slice(i, i + step) for i in range(0, n_rows, step)]


def _mann_kendall(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the Mann-Kendall S, its tie-corrected variance and Kendall's tau-b, per row."""
    n_rows, n = values.shape
    i, j = np.triu_indices(n, 1)
    s = np.zeros(n_rows)
    for rows in _pair_chunks(n_rows, len(i)):
        s[rows] = np.sign(values[rows][:, j] - values[rows][:, i]).sum(axis=1)
    ordered = np.sort(values, axis=1)
    new_run = np.ones_like(ordered, dtype=bool)
    new_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_id = np.cumsum(new_run, axis=1) - 1 + np.arange(n_rows)[:, None] * n
    t = np.bincount(run_id.ravel(), minlength=n_rows * n).reshape(n_rows, n).astype(float)
    var_s = (n * (n - 1) * (2 * n + 5) - (t * (t - 1) * (2 * t + 5)).sum(axis=1)) / 18
    pairs = n * (n - 1) / 2
    tied_pairs = (t * (t - 1) / 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(pairs > tied_pairs, s / np.sqrt((pairs - tied_pairs) * pairs), 0.0)
    return s, var_s, tau


def _mk_p_values(s: np.ndarray, var_s: np.ndarray) -> np.ndarray:
    """Two-sided p-values of S with the continuity correction (p = 1 where var(S) = 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var_s > 0, (s - np.sign(s)) / np.sqrt(var_s), 0.0)
    return np.asarray(2 * norm.sf(np.abs(z)), dtype=float)


def _sen_slopes(values: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Return the Theil-Sen slope per row: the median of the pairwise slopes (per month)."""
    i, j = np.triu_indices(values.shape[1], 1)
    step = (numbers[j] - numbers[i]).astype(float)
    out = np.zeros(len(values))
    for rows in _pair_chunks(len(values), len(i)):
        out[rows] = np.median((values[rows][:, j] - values[rows][:, i]) / step, axis=1)
    return out


def _hot_threshold(values: np.ndarray, hot_quantile: float, quiet: bool) -> float:
    positive = values[values > 0]
    if not len(positive):
        return float("inf")
    cut = max(1.0, float(np.quantile(positive, hot_quantile)))
    _say(
        quiet,
        "classify_trend: a month is hot at >= %s crimes (the %s quantile of the %s "
        "row-months with any crime)",
        f"{cut:g}",
        hot_quantile,
        f"{len(positive):,}",
    )
    return cut


def _trend_classes(hot: np.ndarray, direction: np.ndarray, persistent_share: float) -> np.ndarray:
    """Apply the class rules of :func:`classify_trend` in order (first match wins)."""
    n = hot.shape[1]
    n_hot = hot.sum(axis=1)
    share = n_hot / n
    last = hot[:, -1]
    backwards = hot[:, ::-1]
    final_run = np.where(backwards.all(axis=1), n, np.argmin(backwards, axis=1))
    rising, falling = direction == "rising", direction == "falling"
    rules = [
        n_hot == 0,
        last & (n_hot == final_run) & (n_hot < n / 2),
        rising & last,
        falling & last,
        share >= persistent_share,
        ~last & (falling | (share >= 0.5)),
        last,
    ]
    return np.select(rules, list(TREND_CLASSES[:-1]), default=TREND_CLASSES[-1])


def classify_trend(
    monthly: pd.DataFrame,
    *,
    alpha: float = 0.05,
    hot_quantile: float = 0.8,
    threshold: float | None = None,
    persistent_share: float = 0.9,
    exclude: Sequence[str] | None = None,
    quiet: bool = False,
) -> pd.DataFrame:
    """Test each row of a monthly table for a trend and give it a plain-word trend class.

    Parameters
    ----------
    monthly
        From :func:`monthly_profile`, one row per street, area or other group.
    alpha
        False discovery rate: a trend is "rising" or "falling" when its Benjamini-Hochberg
        q-value is below ``alpha``.
    hot_quantile
        A month of a row is hot at or above this quantile of all row-months with any crime
        (see Notes). Ignored when ``threshold`` is given.
    threshold
        Fixed number of crimes at or above which a month is hot.
    persistent_share
        Share of hot months that makes a row persistent (ArcGIS uses 90%).
    exclude
        Months (``"YYYY-MM"``) to leave out, e.g. incomplete months from
        :func:`classify_months`. Default: none.
    quiet
        Do not log the hot threshold.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``monthly``, columns :data:`TREND_COLUMNS`: ``months`` (months tested),
        ``crimes`` (total), ``s_statistic`` (Mann-Kendall S), ``tau`` (Kendall tau-b),
        ``p_value``, ``q_value`` (BH), ``slope_per_month`` (Theil-Sen, crimes per month),
        ``direction`` ("rising", "falling" or "no clear trend"), ``hot_threshold``,
        ``hot_months``, ``hot_last_month`` (bool) and ``trend_class`` (one of
        :data:`TREND_CLASSES`).

    Raises
    ------
    InputDataError
        If fewer than 3 months remain, or the table holds missing or negative counts.

    Notes
    -----
    The test is the Mann-Kendall trend test with the tie-corrected variance
    ``var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18`` (``t`` the sizes of groups of equal
    counts), a continuity correction ``Z = (S - sign(S)) / sqrt(var(S))`` and a two-sided
    normal p-value (reliable from about 10 months; a constant row has ``p = 1``). ``tau`` is
    Kendall's tau-b of count against time (as :func:`scipy.stats.kendalltau`). q-values are
    Benjamini-Hochberg (:func:`scipy.stats.false_discovery_control`) across the rows.

    Formally: with ``n`` months, a row is hot in month ``t`` if its count is at least ``h``,
    where ``h = threshold`` or else ``max(1, Q(hot_quantile))`` of the counts of all the
    row-months of the table with any crime (hot relative to the rows given). Let ``H`` be the
    number of hot months, ``last`` whether the final month is hot, and ``direction`` rising
    or falling when ``q < alpha``. The first rule that holds gives the class:

    1. **none**: never hot (``H = 0``).
    2. **new**: ``last``, the hot months form one unbroken run ending in the final month,
       and ``H < n / 2`` (it was not hot before and now is).
    3. **emerging** (intensifying): ``last`` and rising.
    4. **diminishing**: ``last`` and falling (still hot, getting less so).
    5. **persistent**: hot in at least ``persistent_share`` of the months.
    6. **historical**: not ``last``, and falling or hot in at least half of the months (it
       was hot and no longer is).
    7. **intermittent**: ``last`` (hot now, on and off before).
    8. **sporadic**: otherwise (hot now and then, under half the months, not now).

    Examples
    --------
    >>> monthly = pd.DataFrame([range(12), [5] * 12], index=["up", "flat"],
    ...                        columns=[f"2024-{m:02d}" for m in range(1, 13)])
    >>> out = classify_trend(monthly, threshold=5, quiet=True)
    >>> out[["tau", "direction", "trend_class"]].values.tolist()
    [[1.0, 'rising', 'emerging'], [0.0, 'no clear trend', 'persistent']]
    """
    values, numbers, months = _monthly_values(monthly, exclude, "classify_trend")
    if len(months) < 3:
        msg = (
            f"`monthly` needs at least 3 months for a trend test; found {len(months)} "
            "after `exclude`. Use a longer period"
        )
        raise InputDataError(msg)
    s, var_s, tau = _mann_kendall(values)
    p = _mk_p_values(s, var_s)
    q = false_discovery_control(p, method="bh") if len(p) else p
    direction = np.where(q < alpha, np.where(s > 0, "rising", "falling"), "no clear trend")
    cut = _hot_threshold(values, hot_quantile, quiet) if threshold is None else float(threshold)
    hot = values >= cut
    data = {
        "months": len(months),
        "crimes": values.sum(axis=1).astype(np.int64),
        "s_statistic": s.astype(np.int64),
        "tau": tau,
        "p_value": p,
        "q_value": q,
        "slope_per_month": _sen_slopes(values, numbers),
        "direction": direction,
        "hot_threshold": cut,
        "hot_months": hot.sum(axis=1),
        "hot_last_month": hot[:, -1],
        "trend_class": _trend_classes(hot, direction, persistent_share),
    }
    return pd.DataFrame(data, index=monthly.index, columns=TREND_COLUMNS)


# --------------------------------------------------------------------------------------------
# period comparisons


def _periods(
    first: int, last: int, months: int, end: str | None, quiet: bool
) -> dict[str, tuple[int, int]]:
    """Return the (first, last) month numbers of the current, previous and year-before periods."""
    stop = int(_month_numbers(pd.Series([end]), "end")[0]) if end else last
    if end is None:
        _say(quiet, "compare_periods: `end` set to the last month in the data")
    periods = {
        "current": (stop - months + 1, stop),
        "previous": (stop - 2 * months + 1, stop - months),
        "year_before": (stop - months - 11, stop - 12),
    }
    for name, (a, b) in periods.items():
        note = "" if first <= a and b <= last else " (not in the data)"
        _say(quiet, "compare_periods: %s period %s%s", name, _period_label(a, b), note)
    return periods


def _period_label(a: int, b: int) -> str:
    return f"{_month_labels(a, a)[0]}..{_month_labels(b, b)[0]}"


def _period_counts(
    crimes: pd.DataFrame, keys: list[str], numbers: np.ndarray, periods: dict[str, tuple[int, int]]
) -> pd.DataFrame:
    """Count crimes per key and crime type (and all crime) in each period."""
    flags = pd.DataFrame(
        {name: (numbers >= a) & (numbers <= b) for name, (a, b) in periods.items()},
        index=crimes.index,
    )
    table = pd.concat([crimes[keys], flags], axis=1)[flags.any(axis=1).to_numpy()]
    by_type = table.groupby(keys, sort=True)[list(periods)].sum()
    groups = keys[:-1]
    if groups:
        total = table.groupby(groups, sort=True)[list(periods)].sum()
        total = total.assign(crime_type=ALL_CRIME).set_index("crime_type", append=True)
    else:
        total = pd.DataFrame(
            [table[list(periods)].sum()], index=pd.Index([ALL_CRIME], name="crime_type")
        )
    out = pd.concat([total, by_type]).reset_index()
    order = (out["crime_type"] != ALL_CRIME).astype(int)
    return (
        out.assign(_o=order)
        .sort_values([*groups, "_o", "crime_type"], kind="mergesort")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def _compare(out: pd.DataFrame, other: str, covered: bool, min_count: int) -> pd.DataFrame:
    cur, base = out["current"].astype("Int64"), out[other].astype("Int64")
    if not covered:
        base = pd.Series(pd.NA, index=out.index, dtype="Int64")
    too_few = (cur < min_count) | (base < min_count)
    flag = np.where(not covered, NOT_IN_DATA, np.where(too_few.fillna(True), TOO_FEW, ""))
    pct = ((cur - base) / base.where(base > 0) * 100).astype("Float64").round(1)
    pct = pct.astype(float)
    out[other] = base
    out[f"change_{other}"] = cur - base
    out[f"pct_change_{other}"] = np.where(flag == "", pct, np.nan)
    out[f"flag_{other}"] = flag
    return out


def compare_periods(
    crimes: pd.DataFrame,
    *,
    by: list[str],
    months: int = 3,
    end: str | None = None,
    min_count: int = 10,
    quiet: bool = False,
) -> pd.DataFrame:
    """Compare the last ``months`` months with the months before and with a year before.

    Parameters
    ----------
    crimes
        Canonical crime table with ``month``, ``crime_type`` and the ``by`` columns.
    by
        Grouping columns, e.g. ``["area_code", "area_name"]``; ``[]`` compares the whole table.
    months
        Length of each period in months.
    end
        Last month of the current period (``"YYYY-MM"``); default the last month in ``crimes``
        (logged).
    min_count
        Fewest crimes in each of the two periods for a percentage change.
    quiet
        Do not log the periods.

    Returns
    -------
    pandas.DataFrame
        One row per group and crime type, plus a ``"All crime"`` row per group (first), sorted
        by ``by``. Columns: ``by`` then :data:`COMPARE_COLUMNS`: ``current``, ``previous``,
        ``year_before`` (Int64 counts; ``<NA>`` for a period outside the data),
        ``change_<other>`` (Int64, current minus other), ``pct_change_<other>`` (float64,
        1 dp) and ``flag_<other>`` ("" when compared, ``"too few to compare"``, or
        ``"period not in data"``). ``attrs["periods"]`` names the months of each period.

    Raises
    ------
    InputDataError
        If a column is missing, ``crimes`` is empty, ``months < 1`` or ``month`` is not
        ``"YYYY-MM"``.

    Notes
    -----
    Formally: with ``E`` the end month and ``N = months``, current is ``E-N+1 .. E``, previous
    is ``E-2N+1 .. E-N`` and year before is ``E-N-11 .. E-12``. A period counts as in the data
    only if it lies between the first and last month of ``crimes``; a comparison with a period
    (or a current period) outside the data is flagged ``"period not in data"`` and its
    counts are ``<NA>``. Check months with :func:`classify_months` first: a period holding an
    incomplete month (London 2016-03) compares badly. The percentage change is
    ``(current - other) / other x 100``; it is NaN, with the flag ``"too few to compare"``,
    when either count is below ``min_count``.
    """
    _require(crimes, ["month", "crime_type", *by], "compare_periods")
    if months < 1:
        msg = f"`months` must be at least 1; found {months}. Pass the period length in months"
        raise InputDataError(msg)
    numbers = _month_numbers(crimes["month"])
    if not len(numbers):
        msg = (
            "`crimes` has no rows; `compare_periods` needs crimes in the periods compared. "
            "Check the period and crime-type filters"
        )
        raise InputDataError(msg)
    first, last = int(numbers.min()), int(numbers.max())
    periods = _periods(first, last, months, end, quiet)
    missing = int(crimes[by].isna().any(axis=1).sum()) if by else 0
    if missing:
        _say(quiet, "compare_periods: %s crimes without %s left out", f"{missing:,}", by)
    out = _period_counts(crimes, [*by, "crime_type"], numbers, periods)
    inside = {k: first <= a and b <= last for k, (a, b) in periods.items()}
    for other in ("previous", "year_before"):
        out = _compare(out, other, inside["current"] and inside[other], min_count)
    out["current"] = out["current"].astype("Int64")
    out.attrs["periods"] = {k: _period_label(a, b) for k, (a, b) in periods.items()}
    return out[[*by, *COMPARE_COLUMNS]]


def rank_areas(
    compare_table: pd.DataFrame,
    *,
    against: Literal["previous", "year_before"] = "previous",
    crime_type: str = ALL_CRIME,
    n: int = 5,
) -> pd.DataFrame:
    """Return the worst (largest rises) and best (largest falls) performing areas.

    Parameters
    ----------
    compare_table
        From :func:`compare_periods`.
    against
        Which comparison to rank: ``"previous"`` or ``"year_before"``.
    crime_type
        Which rows to rank; default all crime.
    n
        Areas listed on each side.

    Returns
    -------
    pandas.DataFrame
        Up to ``n`` "worst" rows (rises, largest percentage first) then up to ``n`` "best"
        rows (falls, largest first). Columns: ``performance``, ``position`` (1 = most
        extreme), the grouping columns of ``compare_table``, ``current``, ``compared_with``
        (the other period's count), ``change`` and ``pct_change``.

    Raises
    ------
    InputDataError
        If ``compare_table`` does not come from :func:`compare_periods`.

    Notes
    -----
    Formally: only rows of ``crime_type`` with an empty ``flag_<against>`` (both counts at
    least ``min_count``) are ranked. Worst: ``pct_change > 0`` sorted by ``pct_change`` then
    ``change`` (descending); best: ``pct_change < 0`` sorted by ``pct_change`` then
    ``change`` (ascending). Ties keep the table's order (the group keys).
    """
    needed = [
        "crime_type",
        "current",
        against,
        f"change_{against}",
        f"pct_change_{against}",
        f"flag_{against}",
    ]
    if any(c not in compare_table.columns for c in needed):
        msg = (
            f"`compare_table` needs the columns {needed}; found "
            f"{list(compare_table.columns)}. Build it with `compare_periods`"
        )
        raise InputDataError(msg)
    groups = list(compare_table.columns[: list(compare_table.columns).index("crime_type")])
    rows = compare_table[
        (compare_table["crime_type"] == crime_type) & (compare_table[f"flag_{against}"] == "")
    ]
    table = rows[groups].assign(
        current=rows["current"],
        compared_with=rows[against],
        change=rows[f"change_{against}"],
        pct_change=rows[f"pct_change_{against}"],
    )
    sides = []
    for name, sign in (("worst", 1), ("best", -1)):
        side = table[np.sign(table["pct_change"]) == sign]
        side = side.assign(_p=-sign * side["pct_change"], _c=-sign * side["change"].astype(float))
        side = side.sort_values(["_p", "_c"], kind="mergesort").head(n)
        sides.append(side.assign(performance=name, position=np.arange(1, len(side) + 1)))
    out = pd.concat(sides, ignore_index=True)
    return out[["performance", "position", *groups, *RANK_AREA_COLUMNS[2:]]]


def rate_per_1000(counts: pd.Series, population: pd.Series) -> pd.Series:
    """Return crimes per 1,000 residents, aligned on the index (area code).

    Parameters
    ----------
    counts
        Crimes per area, indexed by area code.
    population
        Residents per area, indexed by area code (e.g. :func:`hotspots.read_population`).

    Returns
    -------
    pandas.Series
        Indexed like ``counts``, named ``rate_per_1000`` (float64); NaN where the population is
        missing or not above 0.

    Raises
    ------
    InputDataError
        If the two share no area code at all.

    Examples
    --------
    >>> rate_per_1000(pd.Series({"A": 30, "B": 5}), pd.Series({"A": 6000.0, "C": 10.0}))
    A    5.0
    B    NaN
    Name: rate_per_1000, dtype: float64
    """
    pop = pd.to_numeric(population, errors="coerce").groupby(level=0).sum(min_count=1)
    pop = pop.reindex(counts.index)
    if len(counts) and pop.isna().all():
        msg = (
            f"`population` must be indexed by the area codes of `counts`; found no shared "
            f"code (counts: {list(counts.index[:3])}, population: "
            f"{list(population.index[:3])}). Index both by area code"
        )
        raise InputDataError(msg)
    rate = counts.astype(float) / pop.where(pop > 0) * 1000
    return rate.rename("rate_per_1000")


# --------------------------------------------------------------------------------------------
# graphics


def _profile_values(profile_row: pd.Series | np.ndarray) -> np.ndarray:
    """Return the 168 weights of a profile row, in hour-of-week order."""
    if isinstance(profile_row, pd.Series) and set(HOUR_OF_WEEK_COLUMNS) <= set(profile_row.index):
        profile_row = profile_row[HOUR_OF_WEEK_COLUMNS]
    values = np.asarray(profile_row, dtype=float).ravel()
    if values.shape != (HOURS_PER_WEEK,) or not np.isfinite(values).all() or (values < 0).any():
        msg = (
            "`profile_row` must hold 168 finite weights >= 0 (a row of `hour_day_profile`); "
            f"found {values.size} values. Pass `profile.loc[group]`"
        )
        raise InputDataError(msg)
    return values


#: Longest patrol window, hours of the clock (a window may run on a range of days).
MAX_WINDOW_HOURS = 4
#: A window whose hours hold less than this multiple of the mean hour of its days names the
#: days only ("Wed all day"): no hour of those days stands out.
DAY_ONLY_LIFT = 1.2
NO_TIME_STANDS_OUT = "no day or hour stands out"
_WINDOW_BLOCK = 2000  # rows per block when choosing patrol windows
WINDOW_COLUMNS: list[str] = ["patrol_window", "window_share", "window_crimes"]


def _day_label(first: int, n_days: int) -> str:
    if n_days == 7:
        return "daily"
    if n_days == 1:
        return DAYS[first]
    return f"{DAYS[first]}-{DAYS[(first + n_days - 1) % 7]}"


def _clock(hour: int) -> str:
    return f"{hour % 24:02d}:00"


@functools.lru_cache(maxsize=4)
def _window_candidates(max_hours: int) -> tuple[np.ndarray, ...]:
    """Return the windows of at most ``max_hours`` hours: length, start hour, first day, days.

    Candidates are numbered ``((length - 1) * 24 + hour) * 49 + first * 7 + n_days - 1`` (the
    layout of :func:`_window_sums`). The fifth array ranks them to break ties: fewest hour
    cells, then the earliest start in the week (Monday 00:00 first), then the fewest days.
    """
    grid = np.meshgrid(np.arange(1, max_hours + 1), np.arange(24), np.arange(49), indexing="ij")
    length, hour, run = (np.asarray(g).ravel() for g in grid)
    first, n_days = run // 7, run % 7 + 1
    cells = length * n_days
    rank = np.empty(len(cells), dtype=np.int64)
    rank[np.lexsort((n_days, first * 24 + hour, cells))] = np.arange(len(cells))
    out = (length, hour, first, n_days, rank)
    for a in out:
        a.flags.writeable = False
    return out


@functools.lru_cache(maxsize=1)
def _day_run_matrix() -> np.ndarray:
    """Return the 7 x 49 matrix of day runs (column ``first * 7 + n_days - 1``)."""
    out = np.zeros((7, 49))
    for first in range(7):
        for n_days in range(1, 8):
            out[[(first + k) % 7 for k in range(n_days)], first * 7 + n_days - 1] = 1
    out.flags.writeable = False
    return out


def _day_slices(values: np.ndarray, max_hours: int) -> np.ndarray:
    """Return the weight of ``length`` hours from each start cell: rows x length x hour x day."""
    rolled = np.cumsum(np.stack([np.roll(values, -j, axis=1) for j in range(max_hours)]), axis=0)
    return rolled.reshape(max_hours, len(values), 7, 24).transpose(1, 0, 3, 2)


def _window_sums(values: np.ndarray, max_hours: int) -> np.ndarray:
    """Return the weight in every candidate window (rows x candidates, see above)."""
    by_day = _day_slices(values, max_hours)
    return np.asarray(by_day @ _day_run_matrix()).reshape(len(values), -1)


def _weakest_days(values: np.ndarray, max_hours: int) -> np.ndarray:
    """Return, per candidate window, the least weight any one of its days holds in its hours."""
    by_day = _day_slices(values, max_hours)
    out = np.empty((*by_day.shape[:3], 49))
    for first in range(7):
        low = by_day[..., first]
        for n_days in range(1, 8):
            low = np.minimum(low, by_day[..., (first + n_days - 1) % 7])
            out[..., first * 7 + n_days - 1] = low
    return out.reshape(len(values), -1)


def _window_cells(col: np.ndarray, cand: tuple[np.ndarray, ...]) -> np.ndarray:
    """Return the hour cells (rows x 168, bool) of each row's chosen window."""
    length, hour, first, n_days = (a[col] for a in cand[:4])
    mask = np.zeros((len(col), HOURS_PER_WEEK), dtype=bool)
    rows = np.arange(len(col))
    for k in range(7):
        for j in range(int(length.max(initial=0))):
            on = (k < n_days) & (j < length)
            cell = ((first + k) * 24 + hour + j) % HOURS_PER_WEEK
            mask[rows[on], cell[on]] = True
    return mask


def _chosen(
    values: np.ndarray, totals: np.ndarray, allowed: np.ndarray, max_hours: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the best window per row: column, crimes, excess share, day-only flag, cells.

    The cells (rows x 168, bool) are the window's, or all hours of its days if day-only.
    """
    cand = _window_candidates(max_hours)
    length, _, first, n_days, rank = cand
    inside = _window_sums(values, max_hours)
    even_day = _weakest_days(values, max_hours) / totals[:, None] >= length / HOURS_PER_WEEK
    allowed = allowed & even_day
    excess = np.where(allowed, inside / totals[:, None] - length * n_days / HOURS_PER_WEEK, -2.0)
    near_best = excess >= excess.max(axis=1, keepdims=True) - 1e-9
    col = np.argmin(np.where(near_best, rank, np.iinfo(np.int64).max), axis=1)
    rows = np.arange(len(values))
    run = first[col] * 7 + n_days[col] - 1
    run_total = (values.reshape(len(values), 7, 24).sum(axis=2) @ _day_run_matrix())[rows, run]
    per_hour = inside[rows, col] / (length[col] * n_days[col])
    day_only = per_hour < DAY_ONLY_LIFT * run_total / (24 * n_days[col])
    crimes = np.where(day_only, run_total, inside[rows, col])
    day_cells = np.repeat(_day_run_matrix()[:, run].T, 24, axis=1) > 0
    claimed = np.where(day_only[:, None], day_cells, _window_cells(col, cand))
    return col, crimes, excess[rows, col], day_only, claimed


def _window_text(col: int, day_only: bool, part: float, max_hours: int) -> str:
    length, hour, first, n_days, _ = (int(a[col]) for a in _window_candidates(max_hours))
    days = _day_label(first, n_days)
    if day_only:
        name = "all week" if n_days == 7 else f"{days} all day"
    else:
        name = f"{days} {_clock(hour)}-{_clock(hour + length)}"
    return f"{name} ({part:.0%})"


def patrol_windows(
    profile: pd.DataFrame,
    *,
    share: float = 0.5,
    min_crimes: float = 5,
    max_windows: int = 2,
    max_hours: int = MAX_WINDOW_HOURS,
) -> pd.DataFrame:
    """Return at most two patrol windows per row of an hour-of-week table, with their share.

    Parameters
    ----------
    profile
        From :func:`hour_day_profile`: one row per place (or place and crime group), the 168
        columns of :data:`HOUR_OF_WEEK_COLUMNS`.
    share
        A second window is looked for only while the first holds less than this share.
    min_crimes
        Fewest crimes (sum of the weights) to name a window.
    max_windows
        Most windows per row (1 or 2).
    max_hours
        Longest window, in clock hours (1 to 24).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``profile``, columns :data:`WINDOW_COLUMNS`: ``patrol_window`` (text,
        e.g. ``"Fri-Sat 20:00-00:00 (31%); Sun 13:00-15:00 (12%)"``), ``window_share``
        (float, the share of the row's crime the windows hold together, 0 to 1; NaN without
        a window) and ``window_crimes`` (float, the weighted crimes in them).

    Raises
    ------
    InputDataError
        If a row is not 168 weights >= 0, or an option is out of range.

    Notes
    -----
    A **window** is ``L`` consecutive clock hours (``1 <= L <= max_hours``, on the hour, past
    midnight allowed) on each day of a run of ``d`` consecutive days (``1 <= d <= 7``,
    Sunday runs on into Monday; 7 days is "daily"): ``L * d`` hour cells of the week. With
    ``w`` a row's weights and ``T`` their sum, the first window maximises the **excess share**
    ``sum(w over its cells) / T - L * d / 168``: what it holds beyond an even spread over the
    week, among the windows each of whose days holds at least an even share in those hours
    (``L / 168``), so a day range never bridges a quiet day. It grows over an hour or a day
    only while that hour or day holds more than the mean. Ties go to the fewest cells, then
    the earliest start (Monday 00:00 first), then the fewest days. The second window is the
    best one sharing no cell with the first; it is named only while the first holds less
    than ``share`` and its excess is at least a third of the first's. When the window's hours
    hold less than :data:`DAY_ONLY_LIFT` times the mean hour of its days, no hour of those
    days stands out (e.g. crimes known only to the day) and the days are named alone ("Wed
    all day", with the days' share). A row whose best excess is 0 (crime spread evenly) says
    :data:`NO_TIME_STANDS_OUT`. Shares are of the aoristic weights, so a crime known to lie
    in a 6-hour window counts 1/6 in each hour. The share is a fact about the period, not a
    test: with few crimes any window holds a large share, so read it with the count.

    Examples
    --------
    >>> row = np.zeros(168)
    >>> row[[4 * 24 + 20, 4 * 24 + 21, 5 * 24 + 22, 5 * 24 + 23]] = 10  # Fri 20-22, Sat 22-00
    >>> row[2 * 24 + 9] = 20  # Wed 09:00
    >>> patrol_windows(pd.DataFrame([row]))["patrol_window"].iloc[0]
    'Fri-Sat 20:00-00:00 (67%)'
    """
    if not 0 < share <= 1 or max_windows not in (1, 2) or not 1 <= max_hours <= 24:
        msg = (
            f"`share` must be in (0, 1], `max_windows` 1 or 2 and `max_hours` 1 to 24; found "
            f"{share}, {max_windows}, {max_hours}. Pass e.g. share=0.5"
        )
        raise InputDataError(msg)
    values = np.vstack(
        [_profile_values(r) for r in _profile_rows(profile)] or [np.zeros((0, HOURS_PER_WEEK))]
    )
    parts = [
        _windows_block(values[i : i + _WINDOW_BLOCK], share, min_crimes, max_windows, max_hours)
        for i in range(0, len(values), _WINDOW_BLOCK)
    ]
    if not parts:
        return pd.DataFrame(columns=WINDOW_COLUMNS, index=profile.index)
    return pd.concat(parts, ignore_index=True).set_axis(profile.index)


def _windows_block(
    values: np.ndarray, share: float, min_crimes: float, max_windows: int, max_hours: int
) -> pd.DataFrame:
    """Return :func:`patrol_windows` for a block of rows."""
    totals = values.sum(axis=1)
    ok = totals >= min_crimes
    safe = np.where(ok, totals, 1.0)
    # windows are looked for only in the rows with enough crime (the others say so)
    rows = np.flatnonzero(ok)
    col1, n1, ex1, day1, col2, n2, ex2, day2 = (
        np.zeros(len(values), dtype=a) for a in (np.int64, float, float, bool) * 2
    )
    if len(rows):
        allowed = np.ones((len(rows), 1), dtype=bool)
        picked = values[rows]
        c1, w1, e1, d1, claimed = _chosen(picked, safe[rows], allowed, max_hours)
        overlap = _window_sums(claimed.astype(np.float64), max_hours) > 0
        c2, w2, e2, d2, _ = _chosen(picked, safe[rows], ~overlap, max_hours)
        for whole, part in zip(
            (col1, n1, ex1, day1, col2, n2, ex2, day2),
            (c1, w1, e1, d1, c2, w2, e2, d2),
            strict=True,
        ):
            whole[rows] = part
    named = ok & (ex1 > 1e-9)
    second = named & (max_windows > 1) & (n1 / safe < share) & (ex2 >= ex1 / 3)
    text = []
    for i in range(len(values)):
        if not ok[i]:
            text.append(f"{TOO_FEW_TO_SAY} (n = {totals[i]:.1f})")
        elif not named[i]:
            text.append(NO_TIME_STANDS_OUT)
        else:
            found = [(col1[i], day1[i], n1[i]), *([(col2[i], day2[i], n2[i])] * bool(second[i]))]
            text.append(
                "; ".join(_window_text(c, d, n / totals[i], max_hours) for c, d, n in found)
            )
    crimes = np.where(named, n1 + np.where(second, n2, 0.0), np.nan)
    return pd.DataFrame(
        {"patrol_window": text, "window_share": crimes / safe, "window_crimes": crimes}
    )


def _profile_rows(profile: pd.DataFrame) -> list[np.ndarray]:
    if set(HOUR_OF_WEEK_COLUMNS) <= set(profile.columns):
        profile = profile[HOUR_OF_WEEK_COLUMNS]
    return list(profile.to_numpy(dtype=float))


def patrol_window(
    profile_row: pd.Series | np.ndarray,
    *,
    share: float = 0.5,
    min_crimes: float = 5,
    max_windows: int = 2,
) -> str:
    """Return a place's patrol windows as text: at most two, each at most 4 clock hours.

    Parameters
    ----------
    profile_row
        One row of :func:`hour_day_profile` (168 weights, Monday 00:00 first).
    share
        A second window is looked for only while the first holds less than this share.
    min_crimes
        Fewest crimes (sum of the weights) to say anything.
    max_windows
        Most windows (1 or 2).

    Returns
    -------
    str
        E.g. ``"Fri-Sat 20:00-00:00 (31%); Sun 13:00-15:00 (12%)"``: each window with the
        share of the place's crime it holds; ``"Wed all day (40%)"`` where no hour of the
        days stands out; :data:`NO_TIME_STANDS_OUT`; with fewer than ``min_crimes`` crimes
        ``"too few crimes to say (n = 3.0)"``.

    Raises
    ------
    InputDataError
        If ``profile_row`` is not 168 weights >= 0, or ``share`` is not in (0, 1].

    Notes
    -----
    The rule of :func:`patrol_windows`, for one row.

    Examples
    --------
    >>> row = np.zeros(168)
    >>> row[[4 * 24 + 22, 4 * 24 + 23, 5 * 24, 5 * 24 + 1]] = 10  # Fri 22:00-Sat 02:00
    >>> row[[5 * 24 + 22, 5 * 24 + 23, 6 * 24, 6 * 24 + 1]] = 10  # Sat 22:00-Sun 02:00
    >>> row[6 * 24 + 13] = 1
    >>> patrol_window(row)
    'Fri-Sat 22:00-02:00 (99%)'
    """
    values = _profile_values(profile_row)
    table = pd.DataFrame([values], columns=HOUR_OF_WEEK_COLUMNS)
    out = patrol_windows(table, share=share, min_crimes=min_crimes, max_windows=max_windows)
    return str(out["patrol_window"].iloc[0])


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    text = html.escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{text}">'
        f"<title>{text}</title>{''.join(body)}"
        "<style>text{font:7px sans-serif;fill:#444}</style></svg>"
    )


def hour_day_svg(profile_row: pd.Series | np.ndarray, *, title: str | None = None) -> str:
    """Return a small 7 x 24 hour-of-week heatmap as inline SVG text (for map popups).

    Parameters
    ----------
    profile_row
        One row of :func:`hour_day_profile`.
    title
        Tooltip and accessible label; default names the total and the busiest hour.

    Returns
    -------
    str
        A self-contained ``<svg>`` element (no script, no external files), under 6 kB: rows
        Monday to Sunday, columns 00 to 23 h, five colour classes by share of the busiest
        hour (grey: none).

    Examples
    --------
    >>> svg = hour_day_svg(np.arange(168.0))
    >>> svg.startswith("<svg") and len(svg) < 6000
    True
    """
    values = _profile_values(profile_row)
    peak = int(np.argmax(values))
    title = title or (
        f"Crimes by hour of week (n = {values.sum():.0f}); busiest hour "
        f"{DAYS[peak // 24]} {peak % 24:02d}:00"
    )
    top = values.max()
    level = np.ceil(values / top * 5).astype(int) if top > 0 else np.zeros(168, dtype=int)
    body = []
    for lev, colour in enumerate(_PALETTE):
        cells = np.flatnonzero(level == lev)
        if len(cells):
            d = "".join(f"M{20 + 5 * (c % 24)} {2 + 5 * (c // 24)}h5v5h-5z" for c in cells)
            body.append(f'<path fill="{colour}" d="{d}"/>')
    body += [f'<text x="0" y="{7 + 5 * i}">{d}</text>' for i, d in enumerate(DAYS)]
    body += [f'<text x="{20 + 5 * h}" y="46">{h:02d}</text>' for h in (0, 6, 12, 18)]
    return _svg(142, 48, title, body)


def _monthly_values_1d(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series.dtype):  # counts: no parsing per value
        values = series.to_numpy(dtype=float, na_value=np.nan)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if not len(values) or np.isnan(values).any():
        msg = (
            "`series` must hold one count per month (a row of `monthly_profile`); found "
            f"{len(values)} values, {int(np.isnan(values).sum())} missing. Pass "
            "`monthly.loc[group]`"
        )
        raise InputDataError(msg)
    return np.asarray(values, dtype=float)


def monthly_svg(series: pd.Series, *, title: str | None = None) -> str:
    """Return a small trend line of monthly counts as inline SVG text (for map popups).

    Parameters
    ----------
    series
        Counts indexed by month (``"YYYY-MM"``), e.g. a row of :func:`monthly_profile`.
    title
        Tooltip and accessible label; default names the period and the total.

    Returns
    -------
    str
        A self-contained ``<svg>`` element with the line, the first and last month under it and
        the highest count at the top left.

    Examples
    --------
    >>> svg = monthly_svg(pd.Series([3, 5, 4], index=["2024-01", "2024-02", "2024-03"]))
    >>> "2024-01" in svg and "2024-03" in svg
    True
    """
    values = _monthly_values_1d(series)
    return _monthly_svg(values, [str(i) for i in series.index], title=title)


@functools.lru_cache(maxsize=32)
def _sparkline_x(n: int) -> tuple[str, ...]:
    """Return the x coordinates of an ``n``-month sparkline as text (the same for all)."""
    return tuple(f"{a:.1f}" for a in 2 + np.arange(n) * (156 / max(n - 1, 1)))


def _monthly_svg(values: np.ndarray, labels: list[str], *, title: str | None = None) -> str:
    """:func:`monthly_svg` of counts already as floats (one per label), checked."""
    title = title or f"Crimes per month, {labels[0]} to {labels[-1]} (n = {values.sum():.0f})"
    top = max(float(values.max()), 1.0)
    y = 36 - values / top * 28
    points = " ".join(f"{a},{b:.1f}" for a, b in zip(_sparkline_x(len(values)), y, strict=True))
    body = [
        '<path stroke="#ccc" d="M2 36.5h156"/>',
        f'<polyline fill="none" stroke="#bd0026" stroke-width="1.5" points="{points}"/>',
        f'<text x="2" y="7">max {top:g}</text>',
        f'<text x="2" y="46">{html.escape(labels[0])}</text>',
        f'<text x="158" y="46" text-anchor="end">{html.escape(labels[-1])}</text>',
    ]
    return _svg(160, 48, title, body)


def _monthly_svgs(rows: np.ndarray, labels: list[str]) -> list[str]:
    """:func:`_monthly_svg` of each row of counts (rows x months, finite floats), as a list.

    The same text as one call per row, made with one formatting of each distinct value: the
    heights and maxima repeat across rows (small counts), so they are formatted once.
    """
    if not len(rows):
        return []
    tops = np.maximum(rows.max(axis=1), 1.0)
    heights = 36 - rows / tops[:, None] * 28  # as _monthly_svg computes each row
    uniq, inv = np.unique(heights, return_inverse=True)
    y_text = np.array([f"{b:.1f}" for b in uniq], dtype=object)[inv.reshape(heights.shape)]
    x_text = np.array([f"{a}," for a in _sparkline_x(rows.shape[1])], dtype=object)
    points = [" ".join(r) for r in (x_text[None, :] + y_text).tolist()]
    totals = rows.sum(axis=1)
    first, last = html.escape(labels[0]), html.escape(labels[-1])
    # _svg's page, split at the values of each row; escaping is per character and the
    # numbers need none, so the escaped labels are put in as they are
    head = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="48" '
        'viewBox="0 0 160 48" role="img" aria-label="'
    )
    period = f"Crimes per month, {first} to {last} (n = "
    tail = (
        f'<text x="2" y="46">{first}</text>'
        f'<text x="158" y="46" text-anchor="end">{last}</text>'
        "<style>text{font:7px sans-serif;fill:#444}</style></svg>"
    )
    return [
        f'{head}{period}{total:.0f})"><title>{period}{total:.0f})</title>'
        '<path stroke="#ccc" d="M2 36.5h156"/>'
        f'<polyline fill="none" stroke="#bd0026" stroke-width="1.5" points="{pts}"/>'
        f'<text x="2" y="7">max {top:g}</text>{tail}'
        for pts, top, total in zip(points, tops.tolist(), totals.tolist(), strict=True)
    ]


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    fig.savefig(path, metadata={"Software": None})
    return path


def plot_hour_day(profile_row: pd.Series | np.ndarray, path: str | Path, *, title: str) -> Path:
    """Write a PNG heatmap of crime by day of week and hour.

    Parameters
    ----------
    profile_row
        One row of :func:`hour_day_profile`.
    path
        PNG file to write.
    title
        Plot title (say which data, place and period).

    Returns
    -------
    pathlib.Path
        The file written (no timestamp metadata, so reruns give the same bytes).
    """
    grid = _profile_values(profile_row).reshape(7, 24)
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax.set_yticks(range(7), DAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day (crimes without an exact time spread over their window)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="crimes")
    return _save(fig, path)


def plot_monthly(
    series: pd.Series, path: str | Path, *, title: str, incomplete: Sequence[str] | None = None
) -> Path:
    """Write a PNG line chart of crimes per month.

    Parameters
    ----------
    series
        Counts indexed by month (``"YYYY-MM"``), e.g. a row of :func:`monthly_profile`.
    path
        PNG file to write.
    title
        Plot title.
    incomplete
        Months to mark as incomplete (hollow markers), e.g. from :func:`classify_months`.

    Returns
    -------
    pathlib.Path
        The file written (no timestamp metadata).
    """
    values = _monthly_values_1d(series)
    labels = [str(i) for i in series.index]
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(values))
    ax.plot(x, values, color="#bd0026", marker="o", markersize=3)
    bad = np.isin(labels, list(incomplete or ()))
    if bad.any():
        ax.plot(x[bad], values[bad], "o", mfc="white", mec="#444", label="incomplete month")
        ax.legend(loc="best")
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("crimes")
    ax.set_title(title)
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# per-place summary used by the pipeline

#: Columns :func:`time_summary` adds to hot streets, locations and areas.
TIME_COLUMNS: list[str] = [
    "trend_class",
    "trend_direction",
    "trend_p",
    "trend_q",
    "slope_per_month",
    "hot_months",
    "patrol_window",
    "peak_months",
]
NO_TIME_OF_DAY = "n/a: the data gives the month only"
TOO_SHORT_FOR_TREND = "n/a: fewer than 3 months"


def has_time_of_day(crimes: pd.DataFrame) -> bool:
    """Return True if any crime has a time of day (or a window shorter than a day)."""
    if crimes["has_time"].any():
        return True
    span = crimes["occurred_to"] - crimes["occurred_from"]
    return bool((span < pd.Timedelta(days=1)).any())


def peak_months(
    monthly: pd.DataFrame,
    *,
    n: int = 3,
    exclude: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.Series:
    """Return each row's busiest calendar months where they differ from chance ("Jun, Jul").

    Parameters
    ----------
    monthly
        From :func:`monthly_profile`.
    n
        Most months to name.
    exclude
        Months (``"YYYY-MM"``) to leave out, e.g. incomplete ones.
    alpha
        False discovery rate of the seasonality test over the rows, and the two-sided level
        of each month's own test.

    Returns
    -------
    pandas.Series
        Text per row, months in calendar order; empty where no month stands out from
        chance (or the row has no crime).

    Notes
    -----
    A row names months only if :func:`seasonality_test` finds its months differ (q-value
    below ``alpha``), and then only the months whose own count is above the no-season count
    ``E[m]`` (summed over the years) by more than chance: the residual
    ``(O[m] - E[m]) / sqrt(dispersion * E[m])`` above the normal quantile ``1 - alpha / 2``;
    at most ``n`` of them, the largest ``O[m] / E[m]`` first.

    Examples
    --------
    >>> cols = [f"{y}-{m:02d}" for y in (2022, 2023, 2024) for m in range(1, 13)]
    >>> noise = [35, 31, 40, 33, 36, 29, 41, 34, 30, 37, 32, 38] * 3
    >>> summer = [30] * 5 + [60, 70] + [30] * 5
    >>> monthly = pd.DataFrame([noise, summer * 3], columns=cols, index=["noise", "summer"])
    >>> peak_months(monthly).tolist()
    ['', 'Jun, Jul']
    """
    test, ratio, resid = _season_stats(monthly, exclude, "peak_months")
    high = (resid > norm.ppf(1 - alpha / 2)) & (test["q_value"].to_numpy() < alpha)[:, None]
    text = np.full(len(high), "", dtype=object)
    for i in np.flatnonzero(high.any(axis=1)):  # the few rows with a peak
        best = [
            m for m in np.argsort(-np.where(high[i], ratio[i], -1), kind="stable")[:n] if high[i, m]
        ]
        text[i] = ", ".join(MONTH_NAMES[m] for m in sorted(best))
    return pd.Series(text, index=monthly.index, name="peak_months")


GROUP_WINDOW_COLUMNS: list[str] = ["crimes", *WINDOW_COLUMNS, "peak_months"]


def _place_group_key(
    crimes: pd.DataFrame, by: str, group_of: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.Index, pd.Index]:
    """Return the time columns of ``crimes`` with ``_pg``, one number per place and group.

    ``_pg`` is missing where the place or the group is unknown; also returned: the places and
    groups that the numbers ``place * len(groups) + group`` count in.
    """
    place, places = _memo_by_arrow("groups", crimes[by], _factorize_sorted)
    tcode, types = pd.factorize(crimes["crime_type"])  # per distinct type, not per crime
    of_type = [group_of.get(str(t)) for t in types]
    groups = sorted({g for g in of_type if g is not None})
    number = np.array([groups.index(g) if g is not None else -1 for g in of_type] + [-1])
    gcode = number[tcode]  # code -1 (a missing type) takes the last, -1
    key = np.where((place >= 0) & (gcode >= 0), place * max(len(groups), 1) + gcode, -1)
    cols = [c for c in ("month", "occurred_from", "occurred_to", "has_time") if c in crimes]
    keyed = pd.DataFrame({c: crimes[c].array for c in cols}, index=crimes.index)
    keyed["_pg"] = pd.Series(key, index=crimes.index).where(key >= 0)
    return keyed, pd.Index(places), pd.Index(groups)


def _place_group_index(
    codes: pd.Index, places: pd.Index, groups: pd.Index, by: str
) -> pd.MultiIndex:
    numbers = codes.to_numpy(dtype=np.int64)
    width = max(len(groups), 1)
    return pd.MultiIndex.from_arrays(
        [places[numbers // width], groups[numbers % width]], names=[by, "group"]
    )


def group_profiles(crimes: pd.DataFrame, *, by: str, group_of: Mapping[str, str]) -> pd.DataFrame:
    """Return the hour-of-week profile of every crime group at every place.

    Parameters
    ----------
    crimes
        Crimes with ``crime_type``, the ``by`` column (missing: left out), ``occurred_from``,
        ``occurred_to`` and ``has_time``.
    by
        The place key.
    group_of
        Crime type to crime group; a type it lacks is left out.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``by``, ``"group"``) for the pairs with crime; columns
        :data:`HOUR_OF_WEEK_COLUMNS` (aoristic weights, :func:`hour_day_profile`).

    Raises
    ------
    InputDataError
        If no crime has a time of day (police.uk data).
    """
    _require(crimes, [by, "crime_type"], "group_profiles")
    keyed, places, groups = _place_group_key(crimes, by, group_of)
    profile = hour_day_profile(keyed, by="_pg", quiet=True)
    profile.index = _place_group_index(profile.index, places, groups, by)
    return profile


def group_windows(
    crimes: pd.DataFrame,
    *,
    by: str,
    group_of: Mapping[str, str],
    exclude: Sequence[str] | None = None,
    share: float = 0.5,
    min_crimes: float = 5,
    profiles: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the patrol windows and peak months of every crime group at every place.

    Parameters
    ----------
    crimes
        Crimes with ``crime_type``, ``month``, the ``by`` column (missing: left out) and, for
        windows, ``occurred_from``, ``occurred_to`` and ``has_time``.
    by
        The place key, e.g. ``"place_key"`` or ``"area_code"``.
    group_of
        Crime type to crime group (e.g. from ``hotspots.brief.classify_crime_types``); a type
        it lacks is left out.
    exclude
        Months left out of the seasonality test (incomplete months).
    share, min_crimes
        As in :func:`patrol_windows`.
    profiles
        :func:`group_profiles` of the same crimes, if already made.

    Returns
    -------
    pandas.DataFrame
        One row per place and group with crime, indexed by (``by``, ``"group"``), columns
        :data:`GROUP_WINDOW_COLUMNS`: ``crimes`` (int64), ``patrol_window`` (text;
        :data:`NO_TIME_OF_DAY` for month-only data), ``window_share``, ``window_crimes`` and
        ``peak_months`` (:func:`peak_months`, tested over the place-group rows with at least
        ``min_crimes`` crimes together; empty for the others).

    Examples
    --------
    >>> crimes = pd.DataFrame({
    ...     "place": ["a"] * 6, "crime_type": ["Robbery"] * 5 + ["Shoplifting"],
    ...     "month": ["2024-01"] * 6,
    ...     "occurred_from": pd.to_datetime(["2024-01-05 22:10"] * 5 + ["2024-01-02 10:00"]),
    ...     "occurred_to": pd.to_datetime(["2024-01-05 22:20"] * 5 + ["2024-01-02 10:05"]),
    ...     "has_time": [True] * 6})
    >>> out = group_windows(crimes, by="place", group_of={"Robbery": "robbery",
    ...                                                   "Shoplifting": "theft"})
    >>> out["patrol_window"].tolist()
    ['Fri 22:00-23:00 (100%)', 'too few crimes to say (n = 1.0)']
    """
    _require(crimes, [by, "crime_type", "month"], "group_windows")
    keyed, places, groups = _place_group_key(crimes, by, group_of)
    monthly = monthly_profile(keyed, by="_pg", quiet=True)
    index = _place_group_index(monthly.index, places, groups, by)
    out = pd.DataFrame({"crimes": monthly.sum(axis=1).astype(np.int64).to_numpy()}, index=index)
    enough = (out["crimes"] >= min_crimes).to_numpy()  # tested: the rows that can say anything
    out["peak_months"] = ""
    out.loc[enough, "peak_months"] = peak_months(monthly[enough], exclude=exclude).to_numpy()
    if has_time_of_day(crimes):
        if profiles is None:
            profiles = group_profiles(crimes, by=by, group_of=group_of)
        profile = profiles.reindex(out.index, fill_value=0.0)
        out = out.join(patrol_windows(profile, share=share, min_crimes=min_crimes))
    else:
        out = out.assign(patrol_window=NO_TIME_OF_DAY, window_share=np.nan, window_crimes=np.nan)
    return out[GROUP_WINDOW_COLUMNS]


def group_window_texts(
    windows: pd.DataFrame, *, min_crimes: int = 5, month_only: str = NO_TIME_OF_DAY
) -> dict[str, dict[str, str]]:
    """Return, per place, the "when" of each crime group: for map popups and embedded data.

    Parameters
    ----------
    windows
        From :func:`group_windows` (indexed by place key and group).
    min_crimes
        Groups with fewer crimes at a place are left out.
    month_only
        Text for data that gives the month only, where no peak month stands out.

    Returns
    -------
    dict
        Place key to {group: text}: the patrol windows with their shares, or for month-only
        data the peak months ("peaks Jun, Jul") or ``month_only``.

    Examples
    --------
    >>> w = pd.DataFrame({"crimes": [9, 2], "patrol_window": ["Fri 22:00-23:00 (60%)", "x"],
    ...                   "peak_months": ["", ""]},
    ...                  index=pd.MultiIndex.from_tuples([("s0", "robbery"), ("s0", "theft")]))
    >>> group_window_texts(w)
    {'s0': {'robbery': 'Fri 22:00-23:00 (60%)'}}
    """
    out: dict[str, dict[str, str]] = {}
    kept = windows[windows["crimes"] >= min_crimes]
    for (place, group), window, peaks in zip(
        kept.index, kept["patrol_window"], kept["peak_months"], strict=True
    ):
        text = str(window)
        if text == NO_TIME_OF_DAY:
            text = f"peaks {peaks}" if isinstance(peaks, str) and peaks else month_only
        out.setdefault(str(place), {})[str(group)] = text
    return out


def time_summary(
    crimes: pd.DataFrame,
    *,
    by: str,
    exclude: Sequence[str] | None = None,
    share: float = 0.5,
    graphics: bool = True,
    quiet: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return the 'time' of each place: trend, trend class, patrol window and peak months.

    Parameters
    ----------
    crimes
        Crimes with the ``by`` column (missing: left out).
    by
        The place key, e.g. a hot-street id or ``area_code``.
    exclude
        Months left out of trend tests and peaks (incomplete months).
    share
        A second patrol window is named only while the first holds less than this share
        (:func:`patrol_windows`).
    graphics
        If True, add ``monthly_svg`` (and ``profile_svg`` where there are times) for popups.
    quiet
        Do not log.

    Returns
    -------
    summary, profile
        ``summary`` indexed by place with :data:`TIME_COLUMNS` (the patrol window says
        ``NO_TIME_OF_DAY`` for month-only data) and the SVG columns; ``profile`` the
        7 x 24 hour-of-week table (None for month-only data).
    """
    monthly = monthly_profile(crimes, by=by, quiet=True)
    tested = [m for m in monthly.columns if m not in set(exclude or ())]
    if len(tested) >= 3:
        trend = classify_trend(monthly, exclude=exclude, quiet=quiet)
    else:
        trend = pd.DataFrame(
            {
                "trend_class": TOO_SHORT_FOR_TREND,
                "direction": TOO_SHORT_FOR_TREND,
                "p_value": np.nan,
                "q_value": np.nan,
                "slope_per_month": np.nan,
                "hot_months": 0,
            },
            index=monthly.index,
        )
    out = pd.DataFrame(index=monthly.index)
    out["trend_class"] = trend["trend_class"]
    out["trend_direction"] = trend["direction"]
    out["trend_p"] = trend["p_value"].round(4)
    out["trend_q"] = trend["q_value"].round(4)
    out["slope_per_month"] = trend["slope_per_month"].round(3)
    out["hot_months"] = trend["hot_months"]
    out["peak_months"] = peak_months(monthly, exclude=exclude)
    profile = hour_day_profile(crimes, by=by, quiet=True) if has_time_of_day(crimes) else None
    if profile is None:
        out["patrol_window"] = NO_TIME_OF_DAY
    else:
        profile = profile.reindex(out.index, fill_value=0.0)
        out["patrol_window"] = patrol_windows(profile, share=share)["patrol_window"]
    if graphics:
        labels = [str(m) for m in monthly.columns]  # rows as arrays: no Series per place
        rows = monthly.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(rows).any():  # as monthly_svg would say for the row
            out["monthly_svg"] = [monthly_svg(monthly.loc[k]) for k in monthly.index]
        else:
            out["monthly_svg"] = _monthly_svgs(rows, labels)
        if profile is not None:
            out["profile_svg"] = [hour_day_svg(r) for r in profile.to_numpy()]
    return out[[*TIME_COLUMNS, *[c for c in out.columns if c.endswith("_svg")]]], profile
