"""The street backtest's methods: each sees the months before the target and scores every unit.

A scorer of :data:`SCORERS` takes a :class:`~hotspots.evaluate.study.StudyHistory` (the
complete months before the target month only), a crime group and the :class:`ScoreOptions`,
and returns one score per unit of its kind (higher is hotter). The KDE helpers
(:func:`kde_bandwidth`, :func:`kde_on_grid`) are public for tests and notebooks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d

from hotspots.analysis.rank import DEFAULT_LENGTH_FLOOR_M
from hotspots.evaluate.config import GROUPS, KDE_TRUNCATE, NEIGHBOUR_WEIGHT, PRIOR_WEIGHT
from hotspots.evaluate.study import Study, StudyHistory

__all__ = ["SCORERS", "ScoreOptions", "kde_bandwidth", "kde_bandwidths_used", "kde_on_grid"]


@dataclass(frozen=True)
class ScoreOptions:
    """Options of the methods: window, half-life, seed and a fixed KDE bandwidth."""

    window_months: int
    half_life_months: float
    seed: int
    kde_bandwidth_m: float | None = None


def _window(hist: StudyHistory, group: str, units: str, k: int) -> np.ndarray:
    return np.asarray(hist.rows(group, units)[-k:].sum(axis=0)).ravel()


def _decayed(hist: StudyHistory, group: str, half_life: float) -> np.ndarray:
    weights = 0.5 ** ((hist.target_cal - hist.cal) / half_life)
    return np.asarray(hist.rows(group, "segments").T @ weights).ravel()


def _per_100m(hist: StudyHistory, counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts / np.maximum(hist.study.length_m, DEFAULT_LENGTH_FLOOR_M) * 100)


def _score_random(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
    rng = np.random.default_rng([opts.seed, hist.target_cal, GROUPS.index(group)])
    return rng.random(len(hist.study.length_m))


def _score_prev_counts(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
    return _window(hist, group, "segments", opts.window_months)


def _score_hot_streets(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
    return _per_100m(hist, _window(hist, group, "segments", opts.window_months))


def _score_ewma(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
    return _per_100m(hist, _decayed(hist, group, opts.half_life_months))


def _score_ewma_nbr(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
    own = _score_ewma(hist, group, opts)
    every = own if group == "all" else _score_ewma(hist, "all", opts)
    share = own.sum() / every.sum() if every.sum() > 0 else 0.0
    nbr = np.asarray(hist.study.neighbours @ own)
    return np.asarray(own + NEIGHBOUR_WEIGHT * nbr + PRIOR_WEIGHT * share * every)


def _h3_scorer(res: int) -> Callable[[StudyHistory, str, ScoreOptions], np.ndarray]:
    def score(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
        return _window(hist, group, f"h3_r{res}", opts.window_months)

    return score


def kde_bandwidth(centres: np.ndarray, weights: np.ndarray, *, min_m: float) -> float:
    """Return the KDE bandwidth by Silverman's two-dimensional rule of thumb, in metres.

    Parameters
    ----------
    centres
        Point coordinates (n x 2), metres.
    weights
        Crimes at each point.
    min_m
        Smallest bandwidth returned (one grid cell).

    Returns
    -------
    float
        ``h = s x n ** (-1/6)``, ``s = sqrt((s_x**2 + s_y**2) / 2)`` with ``s_x``, ``s_y`` the
        weighted ``min(std, IQR / 1.349)`` per axis and ``n`` the total weight; at least
        ``min_m`` (also when there are fewer than two crimes).

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0], [1000.0, 1000.0]])
    >>> round(kde_bandwidth(pts, np.ones(4), min_m=50.0), 1)
    396.9
    """
    n = float(weights.sum())
    if n < 2:
        return min_m
    spreads = [_robust_spread(centres[:, i], weights) for i in (0, 1)]
    s = math.sqrt((spreads[0] ** 2 + spreads[1] ** 2) / 2)
    return float(max(s * n ** (-1 / 6), min_m))


def _robust_spread(v: np.ndarray, w: np.ndarray) -> float:
    mean = np.average(v, weights=w)
    std = math.sqrt(float(np.average((v - mean) ** 2, weights=w)))
    order = np.argsort(v, kind="stable")
    cum = (np.cumsum(w[order]) - 0.5 * w[order]) / w.sum()
    q1, q3 = np.interp([0.25, 0.75], cum, v[order])
    iqr = (q3 - q1) / 1.349
    return min(std, iqr) if iqr > 0 else std


def kde_on_grid(counts: np.ndarray, *, bandwidth_m: float, cell_m: float) -> np.ndarray:
    """Return a Gaussian kernel density of binned crimes at the grid's cell centres.

    Parameters
    ----------
    counts
        Crimes per cell, a 2-D (rows x columns) array.
    bandwidth_m
        Kernel standard deviation, metres.
    cell_m
        Cell size, metres.

    Returns
    -------
    numpy.ndarray
        Density per square metre, the same shape: ``sum_j c_j K(d_ij) / sum_j c_j`` with
        ``K`` the 2-D Gaussian, truncated at ``KDE_TRUNCATE`` bandwidths. It equals
        scikit-learn's ``KernelDensity(bandwidth=bandwidth_m)`` fitted on the cell centres with
        ``sample_weight=counts``.
    """
    r = int(np.ceil(KDE_TRUNCATE * bandwidth_m / cell_m))
    kernel = np.exp(-0.5 * (np.arange(-r, r + 1) * cell_m / bandwidth_m) ** 2)
    smooth = correlate1d(
        correlate1d(counts, kernel, axis=0, mode="constant"), kernel, axis=1, mode="constant"
    )
    total = counts.sum()
    return np.asarray(smooth / (2 * np.pi * bandwidth_m**2 * total) if total > 0 else smooth)


def _kde_h(hist: StudyHistory, group: str, opts: ScoreOptions) -> tuple[float, np.ndarray]:
    """Return the bandwidth and the training counts per grid cell."""
    grid = hist.study.units["grid"]
    assert grid.centres is not None  # internal invariant, for mypy
    train = _window(hist, group, "grid", opts.window_months)
    if opts.kde_bandwidth_m:
        return opts.kde_bandwidth_m, train
    return kde_bandwidth(grid.centres, train, min_m=grid.cell_m), train


def _score_kde(hist: StudyHistory, group: str, opts: ScoreOptions) -> np.ndarray:
    grid = hist.study.units["grid"]
    assert grid.rowcol is not None  # internal invariant, for mypy
    h, train = _kde_h(hist, group, opts)
    counts = np.zeros(grid.shape)
    counts[grid.rowcol[:, 0], grid.rowcol[:, 1]] = train
    dens = kde_on_grid(counts, bandwidth_m=h, cell_m=grid.cell_m)
    return np.asarray(dens[grid.rowcol[:, 0], grid.rowcol[:, 1]])


SCORERS: dict[str, Callable[[StudyHistory, str, ScoreOptions], np.ndarray]] = {
    "random": _score_random,
    "prev_counts": _score_prev_counts,
    "kde": _score_kde,
    "h3_r9": _h3_scorer(9),
    "h3_r10": _h3_scorer(10),
    "hot_streets": _score_hot_streets,
    "ewma": _score_ewma,
    "ewma_nbr": _score_ewma_nbr,
}


def kde_bandwidths_used(
    study: Study, targets: list[int], opts: ScoreOptions
) -> dict[str, list[float]]:
    """Return the smallest, median and largest KDE bandwidth used per group, metres."""
    out = {}
    for g in study.groups:
        h = [_kde_h(StudyHistory(study, p), g, opts)[0] for p in targets]
        out[g] = [round(float(v), 1) for v in np.quantile(h, [0, 0.5, 1])]
    return out
