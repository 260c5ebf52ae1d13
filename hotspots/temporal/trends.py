"""Trends: a Mann-Kendall test and Theil-Sen slope per row of a monthly table, and trend classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, norm

from hotspots.errors import InputDataError
from hotspots.temporal.common import monthly_values, say

__all__ = [
    "TREND_CLASSES",
    "TREND_COLUMNS",
    "classify_trend",
]

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

# Row-pair cells per chunk in the pairwise trend statistics: each temporary 512 KiB, reused
# from the heap chunk after chunk. 4,000,000 (32 MB temporaries, fresh memory for each, which
# NumPy asks the kernel to back with huge pages) took 0.08-0.95 s for Vancouver's Sen slopes
# (1,697 rows of 72 months) in a new process, most of it the kernel's; this takes 0.054 s.
_PAIR_BLOCK = 65_536


def _pair_chunks(n_rows: int, n_pairs: int) -> list[slice]:
    step = max(1, _PAIR_BLOCK // max(n_pairs, 1))
    return [slice(i, i + step) for i in range(0, n_rows, step)]


def _mann_kendall(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the Mann-Kendall S, its tie-corrected variance and Kendall's tau-b, per row."""
    n_rows, n = values.shape
    # S sums sign(x[t + k] - x[t]) over every pair: lag by lag, each a difference of two
    # slices (whole numbers added, so the same S in any order; Vancouver's 1,697 rows of 72
    # months: 10 instead of 26-80 ms, the pairs no longer gathered into copies)
    s = np.zeros(n_rows)
    for rows in _pair_chunks(n_rows, n):  # at most _PAIR_BLOCK cells at a time
        part = values[rows]
        for k in range(1, n):
            s[rows] += np.sign(part[:, k:] - part[:, :-k]).sum(axis=1)
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
    say(
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
    values, numbers, months = monthly_values(monthly, exclude, "classify_trend")
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
