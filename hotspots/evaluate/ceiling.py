"""How far can a forecast go? Ceilings of the area backtest, on its own months and units.

The area backtest (:mod:`hotspots.evaluate.backtest`) scores a list of map points by the share
of the target month's crime on the land it covers. Three lists answer how much better than the
baseline (plain counts per street link) any forecast could be:

* ``hindsight``: the list made knowing the target month's own crimes, the map points taken
  greedily by that month's crime they add per m² of new land (:func:`hindsight_scores`). No
  forecast can know this; the greedy is within a factor ``1 - 1/e`` of the best possible list
  and in practice close to it.
* ``oracle``: the list made from each map point's long-run rate, its mean crimes per month over
  every complete month except the target (the future included: :func:`oracle_rate`), taken by
  the same cover rule as ``point_cover``. A forecast built on places' past rates can hope to
  come near it, not to pass it, unless rates drift in a way it can foresee.
* ``poisson_*``: a world where each map point's crime is Poisson with a known rate (its
  long-run rate, scaled to each month's total), simulated month by month
  (:func:`poisson_ceiling`): ``poisson_oracle`` is the list made from the true rates,
  ``poisson_hindsight`` the list knowing the simulated month, ``poisson_baseline`` plain
  counts per street link over the 6 simulated months before. Their ratio is what chance alone
  leaves: even knowing every rate exactly, a month's crimes fall where they fall.

:func:`ceiling_backtest` scores all of them (and any forecasters passed in) on the backtest's
target months; :func:`summarise_ceiling` gives means and bootstrap intervals over months, the
ratios of real lists to the real baseline and of simulated lists to the simulated baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hotspots.evaluate import forecasters as fc
from hotspots.evaluate import units as un

__all__ = [
    "CEILING_COLUMNS",
    "CEILING_SUMMARY_COLUMNS",
    "POISSON_DRAWS",
    "Scorer",
    "ceiling_backtest",
    "cover_scores",
    "hindsight_scores",
    "oracle_rate",
    "poisson_ceiling",
    "summarise_ceiling",
]

#: A forecaster for :func:`ceiling_backtest`: the months before the target, the group -> a
#: score per unit of its kind.
Scorer = Callable[[fc.History, str], np.ndarray]
#: Simulated months per target month of :func:`poisson_ceiling`.
POISSON_DRAWS = 4
CEILING_COLUMNS: list[str] = [
    "group",
    "method",
    "units",
    "coverage_pct",
    "month",
    "crimes",
    "hit_rate",
    "area_share",
    "pai",
    "reference",
]
CEILING_SUMMARY_COLUMNS: list[str] = [
    "group",
    "method",
    "coverage_pct",
    "months",
    "hit_rate_mean",
    "hit_rate_lo",
    "hit_rate_hi",
    "ratio_mean",
    "ratio_lo",
    "ratio_hi",
    "reference",
]
_SIM_REFERENCE = "poisson_baseline"


def cover_scores(data: fc.AreaData, rate: np.ndarray) -> np.ndarray:
    """Return map-point scores in the greedy order of new crime per m² of new land.

    The rule of ``point_cover`` (:func:`~hotspots.evaluate.forecasters.score_point_cover`) for
    any rate: each point's rate sits on its own pixel; the points taken while
    ``extra["cover_budget_m2"]`` of land is covered score from ``len(taken)`` down to 1, the
    others follow by their rate per m² (scores below 1).

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    rate
        Forecast crimes per map point.

    Returns
    -------
    numpy.ndarray
        A score per map point (higher is taken first).
    """
    units = data.units["points"]
    raster: un.Raster = data.extra["raster"]
    mass = np.bincount(data.extra["point_pixel"], weights=rate, minlength=len(raster.flat))
    order = un.cover_order(
        mass,
        units.pixels,
        raster.pixel_m**2,
        float(data.extra["cover_budget_m2"]),
        index=fc.point_cover_index(data),
    )
    dens = rate / units.area_m2
    tail = dens / (2 * dens.max()) if dens.max() > 0 else dens
    return np.asarray(np.where(order > 0, order, tail))


def hindsight_scores(data: fc.AreaData, actual: np.ndarray) -> np.ndarray:
    """Return the hindsight list's map-point scores: greedy on the month's own crimes.

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    actual
        The target month's crimes per kept pixel.

    Returns
    -------
    numpy.ndarray
        A score per map point: the points taken (by crime added per m² of new land, until
        ``extra["cover_budget_m2"]`` is covered) from ``len(taken)`` down to 1, the others 0.
    """
    units = data.units["points"]
    raster: un.Raster = data.extra["raster"]
    return un.cover_order(
        np.asarray(actual, dtype=float),
        units.pixels,
        raster.pixel_m**2,
        float(data.extra["cover_budget_m2"]),
        index=fc.point_cover_index(data),
    )


def oracle_rate(
    data: fc.AreaData, group: str, p: int, *, window_months: int | None = None
) -> np.ndarray:
    """Return each map point's long-run crimes per month: every complete month except ``p``.

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    group
        Crime group.
    p
        Position of the target month (left out) in ``data.months``.
    window_months
        Only the months ``p - window_months .. p + window_months`` (a rate that may drift);
        None: every month.

    Returns
    -------
    numpy.ndarray
        Mean crimes per month of each map point over the other months (the future included).
    """
    counts = data.counts[(group, "points")]
    lo, hi = 0, len(data.months)
    if window_months is not None:
        lo, hi = max(0, p - window_months), min(hi, p + window_months + 1)
    total = np.asarray(counts[lo:hi].sum(axis=0)).ravel() - counts[p].toarray().ravel()
    return np.asarray(total / max(hi - lo - 1, 1))


def _hits(
    data: fc.AreaData, kind: str, scores: np.ndarray, actual: np.ndarray, budgets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the hit rate and the covered area share per budget."""
    raster: un.Raster = data.extra["raster"]
    area, got = un.area_cut(
        scores, data.units[kind].pixels, raster.pixel_m**2, actual[:, None], budgets
    )
    total = float(actual.sum())
    return got[:, 0] / total if total > 0 else got[:, 0] * np.nan, area / raster.area_m2


def poisson_ceiling(
    data: fc.AreaData,
    group: str,
    p: int,
    *,
    budgets: np.ndarray,
    rng: np.random.Generator,
    draws: int = POISSON_DRAWS,
    window_months: int | None = None,
) -> dict[str, np.ndarray]:
    """Simulate month ``p`` and the 6 before it from known Poisson rates; score three lists.

    Each map point's true rate is its long-run rate (:func:`oracle_rate`), scaled so each
    simulated month has the real month's total of the group. A simulated crime lies on its
    map point's pixel and street link.

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    group
        Crime group.
    p
        Target month position (at least :data:`~hotspots.evaluate.forecasters.BASELINE_WINDOW`).
    budgets
        Land to cover, m².
    rng
        Random generator.
    draws
        Simulated target months (each with its own 6 months before).
    window_months
        The true rates from the months within this many of ``p`` (:func:`oracle_rate`);
        None: from every month.

    Returns
    -------
    dict
        ``poisson_baseline``, ``poisson_oracle``, ``poisson_hindsight``: hit rates (draws x
        budgets); ``area_share`` of the oracle list (budgets).
    """
    rate = oracle_rate(data, group, p, window_months=window_months)
    window = fc.BASELINE_WINDOW
    totals = np.asarray(data.counts[(group, "points")][p - window : p + 1].sum(axis=1)).ravel()
    scale = totals / rate.sum() if rate.sum() > 0 else np.zeros_like(totals)
    raster: un.Raster = data.extra["raster"]
    pix, link = data.extra["point_pixel"], data.units["points"].link
    oracle = cover_scores(data, rate)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("baseline", "oracle", "hindsight")}
    share = np.zeros(len(budgets))
    for _ in range(draws):
        sim = rng.poisson(rate[None, :] * scale[:, None])
        actual = np.bincount(pix, weights=sim[-1], minlength=len(raster.flat))
        past = np.bincount(link, weights=sim[:-1].sum(axis=0), minlength=len(data.units["links"]))
        out["baseline"].append(_hits(data, "links", past, actual, budgets)[0])
        hit, share = _hits(data, "points", oracle, actual, budgets)
        out["oracle"].append(hit)
        out["hindsight"].append(
            _hits(data, "points", hindsight_scores(data, actual), actual, budgets)[0]
        )
    res = {f"poisson_{k}": np.vstack(v) for k, v in out.items()}
    res["area_share"] = share
    return res


def _rows(
    group: str,
    method: str,
    kind: str,
    month: str,
    crimes: float,
    coverages: Sequence[float],
    hits: np.ndarray,
    shares: np.ndarray,
    reference: str,
) -> list[tuple[Any, ...]]:
    return [
        (
            group,
            method,
            kind,
            float(c),
            month,
            int(crimes),
            float(h),
            float(s),
            float(h / s) if s > 0 else float("nan"),
            reference,
        )
        for c, h, s in zip(coverages, hits, shares, strict=True)
    ]


def ceiling_backtest(
    data: fc.AreaData,
    *,
    targets: Sequence[int],
    coverages: Sequence[float] = (1.0, 5.0),
    groups: Sequence[str] | None = None,
    scorers: Mapping[str, tuple[str, Scorer]] | None = None,
    draws: int = POISSON_DRAWS,
    poisson_window_months: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Score the baseline, ``point_cover``, the ceilings and any ``scorers`` month by month.

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    targets
        Positions of the target months (each at least
        :data:`~hotspots.evaluate.forecasters.BASELINE_WINDOW`).
    coverages
        Coverage levels, percent of the study area.
    groups
        Crime groups (default: every prepared group).
    scorers
        More forecasters: name -> (unit kind, scorer); they see the months before the target
        only (:class:`~hotspots.evaluate.forecasters.History`).
    draws
        Simulated months per target month (0: no Poisson rows).
    poisson_window_months
        The simulated world's rates from the months within this many of the target
        (``window_months`` of :func:`poisson_ceiling`); None: from every month.
    seed
        Seed of the simulation.

    Returns
    -------
    pandas.DataFrame
        :data:`CEILING_COLUMNS`, one row per group x method x coverage x month; ``reference``
        is the method each row is compared with (``link_counts``, or ``poisson_baseline`` for
        the simulated lists, whose ``hit_rate`` is the mean over the draws).
    """
    raster: un.Raster = data.extra["raster"]
    budgets = np.asarray(coverages, dtype=float) / 100 * raster.area_m2
    data.extra["cover_budget_m2"] = float(budgets.max()) * 1.05
    methods: dict[str, tuple[str, Scorer]] = {
        name: (fc.METHODS_AREA[name].kind, _fixed(name)) for name in (fc.BASELINE, "point_cover")
    }
    methods.update(scorers or {})
    rng = np.random.default_rng(seed)
    rows: list[tuple[Any, ...]] = []
    for g in groups or data.extra["groups"]:
        for p in targets:
            actual = data.extra["pixel_counts"][g][p].toarray().ravel()
            if actual.sum() == 0:
                continue
            month, n = data.months[p], float(actual.sum())
            hist = fc.History(data, p)
            real = {name: (kind, f(hist, g)) for name, (kind, f) in methods.items()}
            real["hindsight"] = ("points", hindsight_scores(data, actual))
            real["oracle"] = ("points", cover_scores(data, oracle_rate(data, g, p)))
            for name, (kind, scores) in real.items():
                hits, shares = _hits(data, kind, scores, actual, budgets)
                rows += _rows(g, name, kind, month, n, coverages, hits, shares, fc.BASELINE)
            if draws:
                sim = poisson_ceiling(
                    data,
                    g,
                    p,
                    budgets=budgets,
                    rng=rng,
                    draws=draws,
                    window_months=poisson_window_months,
                )
                for name in ("poisson_baseline", "poisson_oracle", "poisson_hindsight"):
                    hits = sim[name].mean(axis=0)
                    shares = sim["area_share"]
                    rows += _rows(g, name, "sim", month, n, coverages, hits, shares, _SIM_REFERENCE)
    return pd.DataFrame(rows, columns=CEILING_COLUMNS)


def _fixed(name: str) -> Scorer:
    """Return a backtest method as a scorer with its default (middle) parameter."""
    method = fc.METHODS_AREA[name]
    param = method.grid[len(method.grid) // 2]

    def score(hist: fc.History, group: str) -> np.ndarray:
        return method.score(hist, group, param)

    return score


def _boot(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def summarise_ceiling(
    table: pd.DataFrame, *, against: str | None = None, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Return mean hit rates and ratios to each row's reference, with bootstrap intervals.

    Parameters
    ----------
    table
        From :func:`ceiling_backtest`.
    against
        Compare every real (not simulated) method with this one instead (e.g. ``point_cover``:
        the month-by-month ratio of a new method to the chosen one).
    n_boot
        Bootstrap resamples (months drawn with replacement).
    seed
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        :data:`CEILING_SUMMARY_COLUMNS`; ``ratio_*`` is the mean over months of the row's hit
        rate / its reference's hit rate the same month (the same area share, so the PAI
        ratio), with 95% percentile intervals.

    Examples
    --------
    >>> t = pd.DataFrame({"group": "all", "method": ["link_counts"] * 2 + ["oracle"] * 2,
    ...                   "coverage_pct": 5.0, "month": ["a", "b"] * 2,
    ...                   "hit_rate": [0.5, 0.4, 0.6, 0.6], "reference": "link_counts"})
    >>> s = summarise_ceiling(t, n_boot=100)
    >>> s.loc[s["method"] == "oracle", "ratio_mean"].round(2).tolist()
    [1.35]
    """
    rng = np.random.default_rng(seed)
    hit = table.set_index(["group", "method", "coverage_pct", "month"])["hit_rate"]
    out = []
    for (g, m, c), rows in table.groupby(["group", "method", "coverage_pct"], sort=False):
        ref_name = str(rows["reference"].iloc[0])
        if against is not None and ref_name != _SIM_REFERENCE:
            ref_name = against
        key = pd.MultiIndex.from_arrays(
            [rows["group"], [ref_name] * len(rows), rows["coverage_pct"], rows["month"]]
        )
        h = rows["hit_rate"].to_numpy(dtype=float)
        ratio = h / hit.reindex(key).to_numpy(dtype=float)
        ratio = ratio[np.isfinite(ratio)]
        out.append(
            (
                g,
                m,
                c,
                len(rows),
                float(h.mean()),
                *_boot(h, rng, n_boot),
                float(ratio.mean()) if len(ratio) else float("nan"),
                *_boot(ratio, rng, n_boot),
                ref_name,
            )
        )
    return pd.DataFrame(out, columns=CEILING_SUMMARY_COLUMNS)
