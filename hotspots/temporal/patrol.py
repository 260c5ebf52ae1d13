"""Patrol windows: the hours of the week (on a run of days) that hold most of a place's crime."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from hotspots.errors import InputDataError
from hotspots.temporal.common import (
    DAYS,
    HOUR_OF_WEEK_COLUMNS,
    HOURS_PER_WEEK,
    TOO_FEW_TO_SAY,
    profile_values,
)

__all__ = [
    "DAY_ONLY_LIFT",
    "MAX_WINDOW_HOURS",
    "NO_TIME_STANDS_OUT",
    "WINDOW_COLUMNS",
    "patrol_window",
    "patrol_windows",
]

#: Longest patrol window, hours of the clock (a window may run on a range of days).
MAX_WINDOW_HOURS = 4
#: A window whose hours hold less than this multiple of the mean hour of its days names the
#: days only ("Wed all day"): no hour of those days stands out.
DAY_ONLY_LIFT = 1.2
NO_TIME_STANDS_OUT = "no day or hour stands out"
#: Rows per block when choosing patrol windows. Each block makes several tables of rows x
#: 4,704 candidate windows: 32 rows keep them near 1.2 MB, which the allocator reuses block
#: after block. Larger tables cost the kernel's time: 2,000 rows (75 MB each, new pages
#: every block) took Vancouver's 7,700 rows 1.05-1.15 s; 256 rows (10 MB each, which NumPy
#: asks the kernel to back with huge pages) still 0.34-0.55 s of system time per 7,700 rows
#: of test weights, against none at 32 rows. Any block size gives the same windows.
_WINDOW_BLOCK = 32
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
        [profile_values(r) for r in _profile_rows(profile)] or [np.zeros((0, HOURS_PER_WEEK))]
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
    values = profile_values(profile_row)
    table = pd.DataFrame([values], columns=HOUR_OF_WEEK_COLUMNS)
    out = patrol_windows(table, share=share, min_crimes=min_crimes, max_windows=max_windows)
    return str(out["patrol_window"].iloc[0])
