"""Period comparison: the last months (or weeks) against the ones before and a year before.

:func:`compare_periods` compares one window of months by crime type; :func:`compare_windows`
adds crime groups, the rolling windows of 4, 12 and 52 weeks of dated data (ending at the last
complete week) and the exact test of each change (:func:`change_p_values`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from hotspots.errors import InputDataError
from hotspots.temporal.common import (
    ALL_CRIME,
    NOT_IN_DATA,
    TOO_FEW,
    month_labels,
    month_numbers,
    require_columns,
    say,
)
from hotspots.temporal.counted import REF_MONDAY, dated_rows, day_numbers, weights

__all__ = [
    "COMPARE_COLUMNS",
    "KINDS",
    "WEEK_WINDOWS",
    "WINDOW_COMPARE_COLUMNS",
    "binomial_p_values",
    "change_p_values",
    "compare_periods",
    "compare_windows",
    "has_dates",
    "last_complete_week",
    "window_label",
]

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
#: Columns :func:`compare_windows` adds after :data:`COMPARE_COLUMNS`.
WINDOW_COMPARE_COLUMNS: list[str] = ["kind", "window", "p_previous", "p_year_before"]
#: Row kinds of :func:`compare_windows`: all crime, a crime group, a crime type.
KINDS: tuple[str, ...] = ("all", "group", "type")
#: Rolling windows of dated data, in weeks.
WEEK_WINDOWS: tuple[int, ...] = (4, 12, 52)
_REF_MONDAY = REF_MONDAY  # a Monday: week numbers count from it


def _periods(
    first: int, last: int, months: int, end: str | None, quiet: bool
) -> dict[str, tuple[int, int]]:
    """Return the (first, last) month numbers of the current, previous and year-before periods."""
    stop = int(month_numbers(pd.Series([end]), "end")[0]) if end else last
    if end is None:
        say(quiet, "compare_periods: `end` set to the last month in the data")
    periods = {
        "current": (stop - months + 1, stop),
        "previous": (stop - 2 * months + 1, stop - months),
        "year_before": (stop - months - 11, stop - 12),
    }
    for name, (a, b) in periods.items():
        note = "" if first <= a and b <= last else " (not in the data)"
        say(quiet, "compare_periods: %s period %s%s", name, _period_label(a, b), note)
    return periods


def _period_label(a: int, b: int) -> str:
    return f"{month_labels(a, a)[0]}..{month_labels(b, b)[0]}"


def _period_counts(
    crimes: pd.DataFrame, keys: list[str], numbers: np.ndarray, periods: dict[str, tuple[int, int]]
) -> pd.DataFrame:
    """Count crimes per key and crime type (and all crime) in each period.

    A counted table's rows (:mod:`hotspots.temporal.counted`) count :data:`COUNT` crimes each.
    """
    n = weights(crimes)
    flags = pd.DataFrame(
        {
            name: (numbers >= a) & (numbers <= b)
            if n is None
            else ((numbers >= a) & (numbers <= b)) * n
            for name, (a, b) in periods.items()
        },
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
    require_columns(crimes, ["month", "crime_type", *by], "compare_periods")
    if months < 1:
        msg = f"`months` must be at least 1; found {months}. Pass the period length in months"
        raise InputDataError(msg)
    numbers = month_numbers(crimes["month"])
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
        say(quiet, "compare_periods: %s crimes without %s left out", f"{missing:,}", by)
    inside = {k: first <= a and b <= last for k, (a, b) in periods.items()}
    out = _window_rows(crimes, by, numbers, periods, inside, min_count=min_count)
    out.attrs["periods"] = {k: _period_label(a, b) for k, (a, b) in periods.items()}
    return out[[*by, *COMPARE_COLUMNS]]


def _group_counts(
    counts: pd.DataFrame, by: list[str], groups: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Sum the type rows of ``counts`` into the groups each type counts in (groups overlap)."""
    pairs = pd.DataFrame(
        [(t, g) for t in counts["crime_type"].unique() for g in groups.get(str(t), ())],
        columns=["crime_type", "_group"],
    )
    periods = [c for c in counts.columns if c not in (*by, "crime_type")]
    joined = counts.merge(pairs, on="crime_type")
    summed = joined.groupby([*by, "_group"], sort=True)[periods].sum().reset_index()
    return summed.rename(columns={"_group": "crime_type"})


def _window_rows(
    crimes: pd.DataFrame,
    by: list[str],
    numbers: np.ndarray,
    periods: dict[str, tuple[int, int]],
    inside: dict[str, bool],
    *,
    min_count: int,
    groups: Mapping[str, Sequence[str]] | None = None,
    shares: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Compare one window: all crime and types per place, then the groups; with p-values."""
    out = _period_counts(crimes, [*by, "crime_type"], numbers, periods)
    out["kind"] = np.where(out["crime_type"] == ALL_CRIME, KINDS[0], KINDS[2])
    if groups:
        summed = _group_counts(
            out.loc[out["kind"] == KINDS[2], [*by, "crime_type", *periods]], by, groups
        )
        out = pd.concat([out, summed.assign(kind=KINDS[1])], ignore_index=True)
    for other in ("previous", "year_before"):
        covered = inside["current"] and inside[other]
        out = _compare(out, other, covered, min_count)
        share = (shares or {}).get(other, 0.5)
        p = change_p_values(out["current"], out[other], share=share)
        out[f"p_{other}"] = p if covered else np.nan
    out["current"] = out["current"].astype("Int64")
    return out


def change_p_values(current: pd.Series, other: pd.Series, *, share: float = 0.5) -> np.ndarray:
    """Return the two-sided exact p-value of each change from ``other`` to ``current``.

    Parameters
    ----------
    current, other
        Crime counts of the two periods (missing: no test).
    share
        The current period's share of the two periods' exposure (its length over both
        lengths): 0.5 for windows of equal length.

    Returns
    -------
    numpy.ndarray
        float64, 3 significant digits; NaN where a count is missing or both are 0.

    Notes
    -----
    The conditional binomial test of two Poisson counts (the exact test of a rate ratio):
    given ``n = current + other`` crimes in the two periods, under "no change in the rate"
    ``current ~ Binomial(n, share)``. The p-value is :func:`scipy.stats.binomtest`'s
    two-sided one: the chance of a split at most as likely as the one seen
    (:func:`binomial_p_values`: the same rule on arrays, once per distinct pair of counts).

    Examples
    --------
    >>> change_p_values(pd.Series([15, 10, 0]), pd.Series([5, 10, 0])).tolist()
    [0.0414, 1.0, nan]
    """
    cur = pd.Series(current).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    oth = pd.Series(other).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(cur), np.nan)
    ok = np.isfinite(cur) & np.isfinite(oth) & (cur + oth > 0)
    if ok.any():
        pairs, inverse = np.unique(
            np.c_[cur[ok], oth[ok]].astype(np.int64), axis=0, return_inverse=True
        )
        values = binomial_p_values(pairs[:, 0], pairs.sum(axis=1), share)
        out[ok] = np.array([float(f"{v:.3g}") for v in values])[inverse.ravel()]
    return out


def _search(pmf: Any, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Binary search of scipy's two-sided binomial test, on arrays: i with pmf(i) <= d."""
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    found = np.zeros(len(lo), dtype=np.int64)
    done = np.zeros(len(lo), dtype=bool)
    while (active := ~done & (lo < hi)).any():
        mid = lo + (hi - lo) // 2
        value = pmf(mid)
        below, above = active & (value < d), active & (value > d)
        equal = active & ~below & ~above
        lo, hi = np.where(below, mid + 1, lo), np.where(above, mid - 1, hi)
        found, done = np.where(equal, mid, found), done | equal
    return np.where(done, found, np.where(pmf(lo) <= d, lo, lo - 1))


def binomial_p_values(k: np.ndarray, n: np.ndarray, share: float) -> np.ndarray:
    """Return :func:`scipy.stats.binomtest`'s two-sided p-values of ``k`` of ``n``, at once.

    The rule of ``binomtest(k, n, share).pvalue`` (SciPy 1.17: the outcomes no more likely
    than ``k``, with a relative tolerance of 1e-7, found by a binary search on the other
    side of the mode), done on arrays rather than one pair at a time.

    Examples
    --------
    >>> from scipy.stats import binomtest
    >>> got = binomial_p_values(np.array([15, 3, 10]), np.array([20, 3, 12]), 0.5)
    >>> bool((got == [binomtest(15, 20).pvalue, binomtest(3, 3).pvalue,
    ...               binomtest(10, 12).pvalue]).all())
    True
    """
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    d = binom.pmf(k, n, share) * (1 + 1e-7)
    out = np.ones(len(k))
    low, high = k < share * n, k > share * n
    if low.any():
        kl, nl, dl = k[low], n[low], d[low]
        ix = _search(lambda x: -binom.pmf(x, nl, share), -dl, np.ceil(share * nl), nl.astype(float))
        y = nl - ix + (dl == binom.pmf(ix, nl, share)).astype(np.int64)
        out[low] = binom.cdf(kl, nl, share) + binom.sf(nl - y, nl, share)
    if high.any():
        kh, nh, dh = k[high], n[high], d[high]
        ix = _search(lambda x: binom.pmf(x, nh, share), dh, np.zeros(len(kh)), np.floor(share * nh))
        out[high] = binom.cdf(ix, nh, share) + binom.sf(kh - 1, nh, share)
    return np.minimum(out, 1.0)


def has_dates(crimes: pd.DataFrame) -> bool:
    """Return True if any crime is dated to the day (police.uk gives the month only)."""
    return bool(dated_rows(crimes).any())


def _days(crimes: pd.DataFrame) -> np.ndarray:
    """Return each crime's day number since a reference Monday (local date of the start)."""
    return day_numbers(crimes["occurred_from"])


def _week_date(week: int, day: int = 0) -> str:
    return str(_REF_MONDAY + np.timedelta64(week * 7 + day, "D"))


def last_complete_week(crimes: pd.DataFrame) -> str:
    """Return the Sunday that ends the last complete week (Monday to Sunday) of the data.

    Examples
    --------
    >>> crimes = pd.DataFrame({"occurred_from": pd.to_datetime(["2025-12-01", "2025-12-31"])})
    >>> last_complete_week(crimes)  # 2025-12-31 is a Wednesday
    '2025-12-28'
    """
    day = int(_days(crimes).max())
    return _week_date(day // 7 if day % 7 == 6 else day // 7 - 1, 6)


def window_label(n: int, unit: str) -> str:
    """Return the ``window`` text of ``n`` months or weeks: ``"month"``, ``"3 months"``..."""
    return unit if n == 1 else f"{n} {unit}s"


def _month_days(a: int, b: int) -> int:
    start = dt.date(a // 12, a % 12 + 1, 1)
    stop = dt.date((b + 1) // 12, (b + 1) % 12 + 1, 1)
    return (stop - start).days


def _week_windows(
    crimes: pd.DataFrame,
    by: list[str],
    weeks: Sequence[int],
    *,
    min_count: int,
    groups: Mapping[str, Sequence[str]] | None,
) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
    """Return each week window's label, rows (:func:`_window_rows`) and period dates."""
    days = _days(crimes)
    lo, hi = int(days.min()), int(days.max())
    first = lo // 7 if lo % 7 == 0 else lo // 7 + 1  # complete weeks only
    last = hi // 7 if hi % 7 == 6 else hi // 7 - 1
    out = []
    for n in weeks:
        periods = {
            "current": (last - n + 1, last),
            "previous": (last - 2 * n + 1, last - n),
            "year_before": (last - n - 51, last - 52),
        }
        inside = {k: first <= a and b <= last for k, (a, b) in periods.items()}
        rows = _window_rows(
            crimes, by, days // 7, periods, inside, min_count=min_count, groups=groups
        )
        dates = {k: f"{_week_date(a)}..{_week_date(b, 6)}" for k, (a, b) in periods.items()}
        out.append((window_label(n, "week"), rows, dates))
    return out


def compare_windows(
    crimes: pd.DataFrame,
    *,
    by: list[str],
    months: int = 3,
    groups: Mapping[str, Sequence[str]] | None = None,
    weeks: Sequence[int] | None = None,
    min_count: int = 10,
    quiet: bool = False,
) -> pd.DataFrame:
    """Compare every window: the last months, and for dated data the last 4, 12 and 52 weeks.

    Parameters
    ----------
    crimes
        Canonical crime table with ``month``, ``crime_type``, ``occurred_from``,
        ``occurred_to`` and the ``by`` columns.
    by
        Grouping columns, e.g. ``["area_code", "area_name"]``.
    months
        Length of the month window (the rows of :func:`compare_periods`).
    groups
        Crime type to the crime groups it counts in (group labels; groups may overlap, e.g.
        burglary in "Burglary" and "Serious acquisitive crime"). None: no group rows.
    weeks
        Rolling windows in weeks; default :data:`WEEK_WINDOWS` when the data gives dates
        (:func:`has_dates`), none for month-only data (police.uk).
    min_count
        Fewest crimes in each of the two periods for a percentage change.
    quiet
        Do not log the periods.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`compare_periods` first (the month window: all crime and types),
        then the month window's group rows, then each week window's rows in the same order;
        columns ``by``, :data:`COMPARE_COLUMNS` (groups' labels in ``crime_type``) and
        :data:`WINDOW_COMPARE_COLUMNS`: ``kind`` ("all", "group" or "type"), ``window``
        (``"3 months"``, ``"4 weeks"``...), ``p_previous`` and ``p_year_before``
        (:func:`change_p_values`; NaN where a period is not in the data).
        ``attrs["periods"]`` names the dates of every window's periods.

    Notes
    -----
    Week windows end at the last complete week (Monday to Sunday) of the data
    (:func:`last_complete_week`); a crime counts in the week of its start date. Previous is
    the ``n`` weeks before, year before the ``n`` weeks 52 weeks earlier (for 52 weeks the
    two are the same). A period is in the data only if it lies within the complete weeks of
    the data. Month periods are those of :func:`compare_periods`; their p-values weigh the
    days of each period (92 days against 90), week periods are equal.
    """
    require_columns(crimes, ["month", "crime_type", *by], "compare_windows")
    numbers = month_numbers(crimes["month"])
    first, last = int(numbers.min()), int(numbers.max())
    periods = _periods(first, last, months, None, quiet)
    inside = {k: first <= a and b <= last for k, (a, b) in periods.items()}
    days = {k: _month_days(a, b) for k, (a, b) in periods.items()}
    shares = {k: days["current"] / (days["current"] + days[k]) for k in ("previous", "year_before")}
    label = window_label(months, "month")
    rows = _window_rows(
        crimes, by, numbers, periods, inside, min_count=min_count, groups=groups, shares=shares
    )
    parts = [rows.assign(window=label)]
    dates = {label: {k: _period_label(a, b) for k, (a, b) in periods.items()}}
    if weeks is None:
        weeks = WEEK_WINDOWS if has_dates(crimes) else ()
    if len(weeks):
        for name, rows, period_dates in _week_windows(
            crimes, by, weeks, min_count=min_count, groups=groups
        ):
            parts.append(rows.assign(window=name))
            dates[name] = period_dates
            say(quiet, "compare_windows: %s, current %s", name, period_dates["current"])
    out = pd.concat(parts, ignore_index=True)[[*by, *COMPARE_COLUMNS, *WINDOW_COMPARE_COLUMNS]]
    out.attrs["periods"] = dates
    return out
