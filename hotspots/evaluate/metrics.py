"""The street backtest's measures: the coverage cut, hit rate, PAI and RRI, and their summary.

:func:`select_by_budget` takes units by score up to a coverage budget (the block rule of
:mod:`hotspots.evaluate.street_backtest`); :func:`score_month` scores every method on one
target month; :func:`summarise_backtest` and :func:`expected_capture` read the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hotspots.errors import InputDataError
from hotspots.evaluate.config import METHOD_UNITS, STATS, SUMMARY_COLUMNS
from hotspots.evaluate.methods import SCORERS, ScoreOptions
from hotspots.evaluate.study import Study, StudyHistory

__all__ = ["expected_capture", "score_month", "select_by_budget", "summarise_backtest"]


def select_by_budget(scores: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Return the share of each unit selected when taking units by score up to ``budget``.

    Parameters
    ----------
    scores
        Forecast score per unit (higher is hotter).
    cost
        Length or area per unit (positive).
    budget
        Total length or area to select, in the units of ``cost``.

    Returns
    -------
    numpy.ndarray
        1 for units taken whole, a fraction for the units of the block of equal scores that
        crosses the budget, 0 otherwise. ``(share * cost).sum()`` equals ``budget`` (or the
        total cost when the budget exceeds it).

    Examples
    --------
    >>> select_by_budget(np.array([3.0, 2.0, 2.0, 1.0]), np.array([10.0, 10, 10, 10]), 20.0)
    array([1. , 0.5, 0.5, 0. ])
    """
    return np.asarray(_block_shares(scores, cost, np.array([budget]))[0])


def _block_shares(scores: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Return selection shares (budgets x units) by the block rule of the module notes."""
    order = np.argsort(-scores, kind="stable")
    s, c = scores[order], cost[order]
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    end = np.r_[start[1:], len(s)]
    cum = np.r_[0.0, np.cumsum(c)]
    before, upto = cum[start], cum[end]
    b = np.minimum(np.searchsorted(upto, budgets, side="left"), len(start) - 1)
    frac = np.clip((budgets - before[b]) / (upto[b] - before[b]), 0.0, 1.0)
    block_of = np.repeat(np.arange(len(start)), end - start)
    shares = np.where(
        block_of < b[:, None], 1.0, np.where(block_of == b[:, None], frac[:, None], 0.0)
    )
    out = np.empty_like(shares)
    out[:, order] = shares
    return out


def score_month(
    study: Study,
    p: int,
    group: str,
    *,
    methods: Sequence[str],
    opts: ScoreOptions,
    coverages: Sequence[float],
) -> list[dict[str, Any]]:
    """Score every method on target month ``p`` for one group at every coverage level.

    Parameters
    ----------
    study
        From :func:`~hotspots.evaluate.study.prepare_study`.
    p
        Position of the target month in ``study.months`` (at least 1).
    group
        Crime group.
    methods
        Methods of :data:`~hotspots.evaluate.config.METHODS`.
    opts
        The methods' options.
    coverages
        Coverage levels, percent of street length (and of the study area).

    Returns
    -------
    list of dict
        One row per method x coverage, with the columns of
        :data:`~hotspots.evaluate.config.BACKTEST_COLUMNS`.
    """
    hist, rows = StudyHistory(study, p), []
    for method in methods:
        name = METHOD_UNITS[method]
        units = study.units[name]
        scale = 1.0 if units.is_area else study.width_m
        budgets = np.asarray(coverages) / 100 * study.street_m * study.width_m / scale
        shares = _block_shares(SCORERS[method](hist, group, opts), units.cost, budgets)
        actual = study.counts[(group, name)][[p, p - 1]].toarray()
        captured = shares @ actual.T  # budgets x (target, previous)
        area = shares @ units.cost * scale
        rows += [
            _row(
                study,
                p,
                key=(group, method, name, cov),
                captured=captured[i],
                area=area[i],
                actual=actual,
            )
            for i, cov in enumerate(coverages)
        ]
    return rows


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def _row(
    study: Study,
    p: int,
    *,
    key: tuple[str, str, str, float],
    captured: np.ndarray,
    area: float,
    actual: np.ndarray,
) -> dict[str, Any]:
    group, method, units, coverage = key
    n_t, n_prev = float(captured[0]), float(captured[1])
    big_t, big_prev = actual.sum(axis=1)
    hit = _ratio(n_t, big_t)
    share = area / study.area_m2
    return {
        "group": group,
        "method": method,
        "units": units,
        "coverage_pct": float(coverage),
        "month": study.months[p],
        "prev_month": study.months[p - 1],
        "crimes": int(big_t),
        "captured": n_t,
        "hit_rate": hit,
        "area_m2": area,
        "area_share": share,
        "pai": hit / share,
        "crimes_prev": int(big_prev),
        "captured_prev": n_prev,
        "rri": _ratio(_ratio(n_t, n_prev), _ratio(big_t, big_prev)),
    }


def summarise_backtest(table: pd.DataFrame) -> pd.DataFrame:
    """Return the mean and spread of hit rate, PAI and RRI over the backtest months.

    Parameters
    ----------
    table
        From :func:`evaluate_forecasts`.

    Returns
    -------
    pandas.DataFrame
        One row per group x method x coverage: :data:`SUMMARY_COLUMNS`. ``months`` counts the
        months with crime of the group; ``std`` is the sample standard deviation (n - 1);
        missing values (no crime; RRI with nothing in the selection the month before) are
        left out.

    Examples
    --------
    >>> t = pd.DataFrame({"group": "all", "method": "ewma", "units": "segments",
    ...                   "coverage_pct": 1.0, "month": ["2017-01", "2017-02"],
    ...                   "hit_rate": [0.1, 0.3], "pai": [10.0, 30.0], "rri": [1.0, 1.0]})
    >>> summarise_backtest(t)[["months", "hit_rate_mean", "pai_std"]].round(2).values.tolist()
    [[2.0, 0.2, 14.14]]
    """
    keys = ["group", "method", "units", "coverage_pct"]
    g = table.groupby(keys, sort=False)
    stats = g[["hit_rate", "pai", "rri"]].agg(list(STATS))
    stats.columns = ["_".join(map(str, pair)) for pair in stats.columns.to_flat_index()]
    out = stats.reset_index()
    out.insert(4, "months", g["hit_rate"].count().to_numpy())
    return out[SUMMARY_COLUMNS]


def expected_capture(
    table: pd.DataFrame, *, method: str, coverage: float, group: str = "all"
) -> float:
    """Return the expected share of next month's crime inside the top ``coverage`` % of streets.

    The mean backtest hit rate of ``method`` for ``group``, interpolated linearly in coverage
    between the levels scored (and from 0 at 0 %), e.g. to say on a map that "these streets,
    2.3 % of the street length, held about 20 % of the next month's crime in the backtest".

    Parameters
    ----------
    table
        From :func:`evaluate_forecasts`.
    method
        A method in the table.
    coverage
        Share of street length listed, percent.
    group
        Crime group.

    Returns
    -------
    float
        Expected share (0 to 1).

    Raises
    ------
    InputDataError
        If the method or group is not in the table, or ``coverage`` is beyond the largest
        level scored.

    Examples
    --------
    >>> t = pd.DataFrame({"group": "all", "method": "ewma", "units": "segments",
    ...                   "coverage_pct": [1.0, 5.0], "month": "2017-01",
    ...                   "hit_rate": [0.1, 0.3], "pai": [10.0, 6.0], "rri": 1.0})
    >>> round(expected_capture(t, method="ewma", coverage=2.0), 3)
    0.15
    """
    rows = table[(table["method"] == method) & (table["group"] == group)]
    if rows.empty:
        msg = (
            f"no backtest rows for method {method!r} and group {group!r}; the table has "
            f"methods {sorted(table['method'].unique())} and groups "
            f"{sorted(table['group'].unique())}"
        )
        raise InputDataError(msg)
    curve = rows.groupby("coverage_pct")["hit_rate"].mean().sort_index()
    if not 0 <= coverage <= curve.index.max():
        msg = (
            f"`coverage` must be 0 to {curve.index.max()}% (the largest level scored); found "
            f"{coverage}. Run the backtest with --coverage {coverage}"
        )
        raise InputDataError(msg)
    return float(np.interp(coverage, np.r_[0.0, curve.index], np.r_[0.0, curve.to_numpy()]))
