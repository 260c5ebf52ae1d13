"""Seasons: each calendar month's share of a year's crime, a test of seasons, peak months."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import chi2, false_discovery_control, norm
from scipy.stats import f as f_dist

from hotspots.temporal.common import MONTH_NAMES, monthly_values

__all__ = [
    "SEASON_TEST_COLUMNS",
    "peak_months",
    "seasonality",
    "seasonality_test",
]

SEASON_TEST_COLUMNS: list[str] = ["g_statistic", "df", "dispersion", "p_value", "q_value"]
_SEASON_BLOCK = 50_000  # rows per block of the seasonality test
_FIT_ROUNDS = 40  # iterative proportional fitting rounds of the year + month model


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
    values, numbers, _ = monthly_values(monthly, exclude, "seasonality")
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


def _year_month_table(
    monthly: pd.DataFrame, exclude: Sequence[str] | None, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return crimes (rows x years x 12) and days observed (years x 12) of the kept months."""
    values, numbers, _ = monthly_values(monthly, exclude, caller)
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
