"""Period comparison: the last months against the months before and against a year before."""

from __future__ import annotations

import numpy as np
import pandas as pd

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

__all__ = [
    "COMPARE_COLUMNS",
    "compare_periods",
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
    out = _period_counts(crimes, [*by, "crime_type"], numbers, periods)
    inside = {k: first <= a and b <= last for k, (a, b) in periods.items()}
    for other in ("previous", "year_before"):
        out = _compare(out, other, inside["current"] and inside[other], min_count)
    out["current"] = out["current"].astype("Int64")
    out.attrs["periods"] = {k: _period_label(a, b) for k, (a, b) in periods.items()}
    return out[[*by, *COMPARE_COLUMNS]]
