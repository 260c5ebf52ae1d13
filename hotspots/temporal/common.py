"""What the temporal modules share: hour-of-week and month definitions, checks, month numbers.

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

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hotspots.errors import InputDataError

__all__ = [
    "ALL",
    "ALL_CRIME",
    "DAYS",
    "HOURS_PER_WEEK",
    "HOUR_OF_WEEK_COLUMNS",
    "MONTH_NAMES",
    "NOT_IN_DATA",
    "NO_TIME_OF_DAY",
    "TOO_FEW",
    "TOO_FEW_TO_SAY",
    "factorize_sorted",
    "has_time_of_day",
    "memo_by_arrow",
    "month_labels",
    "month_numbers",
    "monthly_values",
    "profile_values",
    "require_columns",
    "say",
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
#: Patrol window text of data that gives the month only.
NO_TIME_OF_DAY = "n/a: the data gives the month only"


def say(quiet: bool, msg: str, *args: object) -> None:
    """Log ``msg % args`` at info level unless ``quiet``."""
    if not quiet:
        log.info(msg, *args)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], caller: str) -> None:
    """Raise when ``frame`` lacks any of ``columns``, naming all the missing ones."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f"`crimes` needs the columns {missing} for `{caller}`; found "
            f"{list(frame.columns)}. Read crimes with `hotspots.read.crimes.read_crimes` and join "
            "areas or segments first when grouping by them"
        )
        raise InputDataError(msg)


_MEMO: dict[str, tuple[weakref.ref[Any], Any]] = {}
_MEMO_FROM = 10_000  # fewest rows worth remembering


def memo_by_arrow(kind: str, values: pd.Series, make: Any) -> Any:
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


def factorize_sorted(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Return read-only codes of ``values`` (-1 where missing) and the sorted distinct values."""
    codes, groups = pd.factorize(values, sort=True)
    codes.flags.writeable = False
    return codes, groups


def month_numbers(month: pd.Series, name: str = "crimes") -> np.ndarray:
    """Return year * 12 + month - 1 of ``"YYYY-MM"`` strings (parsed once per distinct value)."""
    numbers: np.ndarray = memo_by_arrow("months", month, lambda m: _parse_months(m, name))
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
    out.flags.writeable = False  # shared by the callers that ask again (see memo_by_arrow)
    return out


def month_labels(first: int, last: int) -> list[str]:
    """Return the ``"YYYY-MM"`` labels of month numbers ``first`` to ``last`` (year*12 + m-1)."""
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]


# --------------------------------------------------------------------------------------------
# hour of week


def monthly_values(
    monthly: pd.DataFrame, exclude: Sequence[str] | None, caller: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return counts (float, rows x kept months), month numbers and labels of the kept months."""
    months = [str(c) for c in monthly.columns if str(c) not in set(exclude or ())]
    numbers = month_numbers(pd.Series(months, dtype="string"), "monthly")
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


def profile_values(profile_row: pd.Series | np.ndarray) -> np.ndarray:
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


def has_time_of_day(crimes: pd.DataFrame) -> bool:
    """Return True if any crime has a time of day (or a window shorter than a day)."""
    if crimes["has_time"].any():
        return True
    span = crimes["occurred_to"] - crimes["occurred_from"]
    return bool((span < pd.Timedelta(days=1)).any())
