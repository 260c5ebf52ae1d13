"""Forecasters of the area backtest: each turns the months before a target into a score per unit.

A forecaster sees a :class:`History` (the complete months before the target month, never the
target month itself) and returns one score per unit of its unit kind. Scores are expected
crimes per square metre of the unit's buffer (so the area cut takes the densest land first),
except the baseline ``link_counts``, which ranks plain crime counts per street link.

* ``link_counts``: crimes per street link in the last ``window`` months (the baseline an
  analyst can do by hand).
* ``*_ewma``: exponentially weighted crimes per month over all earlier complete months, a
  month ``d`` months before the target weighted ``0.5 ** (d / h)``; the half-life ``h`` is a
  tuned parameter.
* ``point_land``, ``piece_land``: like ``*_ewma`` but counting the crimes on all the land
  the unit covers (within 30 m, whichever unit they belong to), the quantity the area
  backtest scores; half-life tuned.
* ``point_cover``: map points taken greedily by the forecast crime each adds per m² of
  *new* land (its weighted rate and those of the points within its 30 m not yet covered,
  over the land not yet covered): the area cut pays for the union, so this is the
  selection the measure rewards. Half-life 12 months (6, 12 and 24 were level).
* ``point_eb``: empirical-Bayes (gamma-Poisson) shrinkage of each map point's weighted count
  towards its street link's rate per m², itself shrunk towards its 500 m neighbourhood's rate;
  the prior strength is fitted by the method of moments on the training months.
* ``piece_nkde``: kernel density along the street network: a Gaussian kernel in network
  distance between street pieces (shortest paths on the segment graph), truncated at 3
  bandwidths; the bandwidth is tuned.
* ``point_season``: the point's weighted rate blended with its count in the same calendar
  month a year before the target (weight tuned).
* ``point_nr``: background rate plus a self-exciting near-repeat term (data with dates and
  times; see :mod:`hotspots.evaluate.nearrepeat`).
* ``ensemble``: the mean of the ``point_ewma``, ``point_eb`` and ``point_season`` forecasts,
  each scaled to sum to one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from hotspots.evaluate.cover import CoverIndex, cover_index, cover_order
from hotspots.evaluate.units import UnitSet

__all__ = [
    "BASELINE",
    "BASELINE_WINDOW",
    "ENSEMBLE_OF",
    "HALF_LIVES",
    "METHODS_AREA",
    "NKDE_BANDWIDTHS",
    "SEASON_WEIGHTS",
    "AreaData",
    "History",
    "Method",
    "eb_shrink",
    "ensemble",
    "ewma_rate",
    "point_cover_index",
    "score_link_counts",
    "score_piece_nkde",
    "score_point_cover",
    "score_point_eb",
    "score_point_gbm",
    "score_point_nr",
    "score_point_season",
]

#: Months of history of the baseline.
BASELINE_WINDOW = 6
HALF_LIVES: tuple[float, ...] = (6.0, 12.0, 24.0)
SEASON_WEIGHTS: tuple[float, ...] = (0.15, 0.3)
NKDE_BANDWIDTHS: tuple[float, ...] = (30.0, 60.0)
#: Prior strength bounds (in months of data) of the empirical-Bayes shrinkage.
_EB_BOUNDS = (0.05, 50.0)


@dataclass
class AreaData:
    """The prepared data: complete months, unit sets and count matrices (months x units)."""

    months: list[str]
    cal: np.ndarray
    units: dict[str, UnitSet]
    counts: dict[tuple[str, str], sparse.csr_matrix]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class History:
    """What a forecaster may see for target month ``p``: the complete months before it."""

    data: AreaData
    p: int

    @property
    def cal(self) -> np.ndarray:
        """Calendar numbers (year x 12 + month - 1) of the months before the target."""
        return self.data.cal[: self.p]

    @property
    def target_cal(self) -> int:
        """Calendar number of the target month (its date, never its data)."""
        return int(self.data.cal[self.p])

    def rows(self, group: str, kind: str) -> sparse.csr_matrix:
        """Return the counts of the months before the target (``p`` rows x units)."""
        return self.data.counts[(group, kind)][: self.p]


def ewma_rate(hist: History, group: str, kind: str, half_life: float) -> np.ndarray:
    """Return the exponentially weighted crimes per month of each unit.

    Parameters
    ----------
    hist
        The months before the target.
    group
        Crime group.
    kind
        Unit kind.
    half_life
        Half-life, calendar months.

    Returns
    -------
    numpy.ndarray
        ``sum_m w_m c_m / sum_m w_m`` with ``w_m = 0.5 ** ((target - m) / half_life)``.
    """
    w = 0.5 ** ((hist.target_cal - hist.cal) / half_life)
    return np.asarray(np.asarray(hist.rows(group, kind).T @ w).ravel() / w.sum())


def _density(rate: np.ndarray, units: UnitSet) -> np.ndarray:
    return np.asarray(rate / units.area_m2)


def score_link_counts(hist: History, group: str, param: float) -> np.ndarray:
    """Baseline: crimes per street link in the last ``param`` months (plain counts)."""
    return np.asarray(hist.rows(group, "links")[-int(param) :].sum(axis=0)).ravel()


def _ewma_scorer(kind: str) -> Callable[[History, str, float], np.ndarray]:
    def score(hist: History, group: str, param: float) -> np.ndarray:
        return _density(ewma_rate(hist, group, kind, param), hist.data.units[kind])

    return score


def _land_scorer(kind: str) -> Callable[[History, str, float], np.ndarray]:
    def score(hist: History, group: str, param: float) -> np.ndarray:
        units = hist.data.units[kind]
        pix = hist.data.extra["pixel_counts"][group][: hist.p]
        w = 0.5 ** ((hist.target_cal - hist.cal) / param)
        rate = np.asarray(pix.T @ w).ravel() / w.sum()
        return _density(np.asarray(units.pixels.T @ rate).ravel(), units)

    return score


def point_cover_index(data: AreaData) -> CoverIndex:
    """Return the map points' :class:`~hotspots.evaluate.cover.CoverIndex` (built once).

    The forecast mass of ``point_cover`` lies on the points' own pixels only.
    """
    index = data.extra.get("cover_index")
    if index is None:
        index = cover_index(data.units["points"].pixels, data.extra["point_pixel"])
        data.extra["cover_index"] = index
    return index


def score_point_cover(hist: History, group: str, param: float) -> np.ndarray:
    """Map points in the greedy order of new forecast crime per m² of new land.

    The forecast is each point's weighted rate (half-life ``param``) on the point's own pixel;
    the order covers ``extra["cover_budget_m2"]`` of land (:func:`cover.cover_order`); the
    points beyond it follow by their own rate per m² (scores below 1).
    """
    units = hist.data.units["points"]
    raster = hist.data.extra["raster"]
    rate = ewma_rate(hist, group, "points", param)
    mass = np.bincount(hist.data.extra["point_pixel"], weights=rate, minlength=len(raster.flat))
    order = cover_order(
        mass,
        units.pixels,
        raster.pixel_m**2,
        float(hist.data.extra["cover_budget_m2"]),
        index=point_cover_index(hist.data),
    )
    dens = rate / units.area_m2
    tail = dens / (2 * dens.max()) if dens.max() > 0 else dens
    return np.asarray(np.where(order > 0, order, tail))


def eb_shrink(count: np.ndarray, exposure: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Return gamma-Poisson posterior mean rates, the prior strength by the method of moments.

    Parameters
    ----------
    count
        Weighted crimes per unit.
    exposure
        Weighted months of observation per unit (the same for every unit here).
    prior
        Prior mean rate per unit (crimes per month).

    Returns
    -------
    numpy.ndarray
        ``(count + k prior) / (exposure + k)`` with ``1 / k`` the between-unit variance of the
        rates beyond Poisson noise, relative to the prior (``k`` in months, bounded).

    Examples
    --------
    >>> out = eb_shrink(np.array([10.0, 0.0]), np.ones(2), np.array([5.0, 5.0]))
    >>> bool(0 < out[1] < 5 < out[0] < 10)
    True
    """
    expected = exposure * prior
    ok = expected > 0
    excess = float(np.sum((count[ok] - expected[ok]) ** 2 - expected[ok]))
    spread = float(np.sum(exposure[ok] ** 2 * prior[ok]))
    inv_k = excess / spread if spread > 0 else 0.0
    k = float(np.clip(1 / inv_k if inv_k > 0 else _EB_BOUNDS[1], *_EB_BOUNDS))
    return np.asarray((count + k * prior) / (exposure + k))


def score_point_eb(hist: History, group: str, param: float) -> np.ndarray:
    """Empirical-Bayes rate per m² of each map point, shrunk towards link, then neighbourhood."""
    units = hist.data.units["points"]
    w = 0.5 ** ((hist.target_cal - hist.cal) / param)
    count = np.asarray(hist.rows(group, "points").T @ w).ravel()
    total = float(w.sum())
    exposure = np.full(len(units), total)
    # neighbourhood rate per m² (pooled points), then link rate shrunk towards it
    hood_area = np.bincount(units.hood, weights=units.area_m2)
    hood_rate = np.bincount(units.hood, weights=count) / total / hood_area
    link_count = np.bincount(units.link, weights=count)
    link_area = np.bincount(units.link, weights=units.area_m2)
    link_hood = np.zeros(len(link_count), dtype=np.int64)
    link_hood[units.link] = units.hood
    has = link_area > 0
    link_prior = np.where(has, hood_rate[link_hood] * link_area, 0.0)
    link_rate = np.zeros(len(link_count))
    link_rate[has] = (
        eb_shrink(link_count[has], np.full(int(has.sum()), total), link_prior[has]) / link_area[has]
    )
    rate = eb_shrink(count, exposure, link_rate[units.link] * units.area_m2)
    return _density(rate, units)


def score_point_season(hist: History, group: str, param: float) -> np.ndarray:
    """Weighted rate (half-life 12 months) blended with the same month a year earlier."""
    units = hist.data.units["points"]
    base = ewma_rate(hist, group, "points", 12.0)
    last = np.flatnonzero(hist.cal == hist.target_cal - 12)
    if not len(last):
        return _density(base, units)
    same = hist.rows(group, "points")[int(last[0])].toarray().ravel()
    return _density((1 - param) * base + param * same, units)


def score_piece_nkde(hist: History, group: str, param: float) -> np.ndarray:
    """Network kernel density of the pieces' weighted rates (half-life 12 months)."""
    units = hist.data.units["pieces"]
    kernels: dict[float, sparse.csr_matrix] = hist.data.extra["nkde"]
    rate = ewma_rate(hist, group, "pieces", 12.0)
    return _density(np.asarray(kernels[param] @ rate).ravel(), units)


def score_point_nr(hist: History, group: str, param: float) -> np.ndarray:
    """Background (weighted rate, half-life 12 months) plus the near-repeat offspring."""
    from hotspots.evaluate.nearrepeat import offspring_in_month

    units = hist.data.units["points"]
    base = ewma_rate(hist, group, "points", 12.0)
    fits = hist.data.extra.get("nr_fits", {})
    if group not in fits:
        return _density(base, units)
    fit = fits[group]
    extra = offspring_in_month(
        fit,
        hist.data.extra["events"][group],
        hist.data.extra["point_dist"],
        month_cal=hist.target_cal,
    )
    return _density((1 - fit.theta) * base + param * extra, units)


def score_point_gbm(hist: History, group: str, param: float) -> np.ndarray:
    """Score with the boosted-tree model (:func:`hotspots.evaluate.boosted.score_point_gbm`)."""
    from hotspots.evaluate.boosted import score_point_gbm as score

    return score(hist, group, param)


@dataclass(frozen=True)
class Method:
    """A forecaster, its unit kind, its parameter grid (tuned) and a one-line description."""

    name: str
    kind: str
    grid: tuple[float, ...]
    score: Callable[[History, str, float], np.ndarray]
    text: str


METHODS_AREA: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "link_counts",
            "links",
            (float(BASELINE_WINDOW),),
            score_link_counts,
            "plain crime counts per street link over the last 6 months (the baseline)",
        ),
        Method(
            "link_ewma",
            "links",
            HALF_LIVES,
            _ewma_scorer("links"),
            "recent-weighted crimes per m² of each street link",
        ),
        Method(
            "piece_ewma",
            "pieces",
            HALF_LIVES,
            _ewma_scorer("pieces"),
            "recent-weighted crimes per m² of each 25-50 m street piece",
        ),
        Method(
            "point_ewma",
            "points",
            HALF_LIVES,
            _ewma_scorer("points"),
            "recent-weighted crimes per m² around each map point",
        ),
        Method(
            "point_cover",
            "points",
            (12.0,),
            score_point_cover,
            "places ranked by their recent crime (the last year counts most), each taken in "
            "turn by the crime it adds per square metre of ground not already on the list",
        ),
        Method(
            "point_land",
            "points",
            HALF_LIVES,
            _land_scorer("points"),
            "recent-weighted crimes per m² on the land within 30 m of each map point",
        ),
        Method(
            "piece_land",
            "pieces",
            HALF_LIVES,
            _land_scorer("pieces"),
            "recent-weighted crimes per m² on the land within 30 m of each street piece",
        ),
        Method(
            "point_eb",
            "points",
            (6.0, 24.0),
            score_point_eb,
            "map-point rates shrunk towards their street and neighbourhood (empirical Bayes)",
        ),
        Method(
            "point_season",
            "points",
            SEASON_WEIGHTS,
            score_point_season,
            "map-point rates blended with the same month last year",
        ),
        Method(
            "piece_nkde",
            "pieces",
            NKDE_BANDWIDTHS,
            score_piece_nkde,
            "kernel density along the street network (network distance)",
        ),
        Method(
            "point_nr",
            "points",
            (1.0,),
            score_point_nr,
            "map-point rates plus a near-repeat (self-exciting) term",
        ),
        Method(
            "point_gbm",
            "points",
            (12.0,),
            score_point_gbm,
            "places ranked by a boosted-tree model of next month's crime from their own, their "
            "street's and their neighbourhood's recent crime, each taken in turn by the crime "
            "it adds per square metre of ground not already on the list",
        ),
    )
}
#: The components of the ensemble (point methods, so their forecasts can be averaged).
ENSEMBLE_OF: tuple[str, ...] = ("point_ewma", "point_eb", "point_season")
BASELINE = "link_counts"


def ensemble(scores: list[np.ndarray], units: UnitSet) -> np.ndarray:
    """Return the mean of forecasts (per m²) each scaled to sum to one, times their mean total.

    So the ensemble is in expected crimes per m² like its parts.
    """
    parts = [s * units.area_m2 for s in scores]
    mean = np.mean([p / p.sum() if p.sum() > 0 else p for p in parts], axis=0)
    return np.asarray(mean * float(np.mean([p.sum() for p in parts])) / units.area_m2)
