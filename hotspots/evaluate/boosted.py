"""A gradient-boosted Poisson forecaster of the area backtest (``point_gbm``).

Each map point's crimes next month are predicted by a gradient-boosted regression tree model
with a Poisson loss (scikit-learn's ``HistGradientBoostingRegressor``) from what the months
before show (:data:`FEATURES`): the point's own crimes over windows of 1 to 48 months, the
crimes on its land (within 30 m, whichever point they belong to), on its street link and the
links sharing an end point with it, in its 500 m neighbourhood, the mix of crime types at the
point, the months since its last crime and how many of the last 24 months had one, the
calendar month and the size of its land. The list takes the points by the ``point_cover``
rule (:func:`hotspots.evaluate.ceiling.cover_scores`) applied to the predictions.

No look-ahead: the features of month ``q`` read months before ``q`` only, and the model used
for target month ``p`` is fitted at the origin ``o = p - p % GBM_REFIT_MONTHS`` on the months
``o - train .. o - 1`` (their features and crimes), so it never sees month ``p`` or later.
Models are cached in ``data.extra["gbm_models"]`` by group, origin and training months.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from hotspots.evaluate import forecasters as fc
from hotspots.evaluate.ceiling import cover_scores
from hotspots.evaluate.cells import segment_neighbours

__all__ = [
    "FEATURES",
    "GBM_OPTIONS",
    "GBM_REFIT_MONTHS",
    "GBM_TRAIN_MONTHS",
    "POINT_GBM",
    "PointInputs",
    "fit_point_gbm",
    "point_features",
    "point_inputs",
    "score_point_gbm",
]

#: Months of training rows per fit (the grid of ``point_gbm``).
GBM_TRAIN_MONTHS: tuple[float, ...] = (12.0,)
#: A model is refitted at every origin ``p - p % GBM_REFIT_MONTHS``.
GBM_REFIT_MONTHS = 6
#: Options of the regressor (fixed, not tuned on the backtest).
GBM_OPTIONS: dict[str, Any] = {
    "loss": "poisson",
    "max_iter": 150,
    "learning_rate": 0.06,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 100,
    "l2_regularization": 10.0,
    "early_stopping": False,
    "random_state": 0,
}
_OWN_WINDOWS = (1, 3, 6, 12, 24, 48)
_LAND_WINDOWS = (3, 12, 48)
_MIX_WINDOW = 48
_LAST_CAP = 99.0


@dataclass
class PointInputs:
    """Cumulative monthly sums per map point ((months + 1) x points, row ``q`` = months < q)."""

    own: np.ndarray
    land: np.ndarray
    link: np.ndarray  # the point's street link
    nbr: np.ndarray  # mean of the links sharing an end point with it
    hood: np.ndarray  # its 500 m neighbourhood
    seen: np.ndarray  # months with at least one crime at the point
    mix: dict[str, np.ndarray]  # the point's crimes of each prepared group
    last: np.ndarray  # months since the last crime at the point (capped), for q = 0..months


def _cum(months_by_units: Any) -> np.ndarray:
    dense = np.asarray(
        months_by_units.toarray() if sparse.issparse(months_by_units) else months_by_units,
        dtype=np.float32,
    )  # counts: float32 sums stay exact below 2**24
    return np.vstack([np.zeros((1, dense.shape[1]), np.float32), np.cumsum(dense, axis=0)])


def _months_since(own: np.ndarray) -> np.ndarray:
    last = np.full((own.shape[0] + 1, own.shape[1]), _LAST_CAP)
    for q in range(1, own.shape[0] + 1):
        last[q] = np.where(own[q - 1] > 0, 0.0, np.minimum(last[q - 1] + 1, _LAST_CAP))
    return last


def point_inputs(data: fc.AreaData, group: str) -> PointInputs:
    """Return (and cache in ``data.extra["gbm_inputs"]``) the cumulative sums of a group.

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area` (``extra["segments"]`` gives the
        links sharing an end point).
    group
        Crime group.

    Returns
    -------
    PointInputs
        The sums the features read; a row ``q`` adds up the months before ``q`` only.
    """
    cache: dict[str, PointInputs] = data.extra.setdefault("gbm_inputs", {})
    if group in cache:
        return cache[group]
    units = data.units["points"]
    own = data.counts[(group, "points")].toarray().astype(np.float64)
    land = data.extra["pixel_counts"][group] @ units.pixels
    links = data.counts[(group, "links")]
    nbr = links @ segment_neighbours(data.extra["segments"]).T
    hood = own @ sparse.csr_matrix(
        (np.ones(len(units)), (np.arange(len(units)), units.hood)),
        shape=(len(units), int(units.hood.max()) + 1),
    )
    mix = data.extra.setdefault(
        "gbm_mix", {h: _cum(data.counts[(h, "points")]) for h in data.extra["groups"]}
    )
    cache[group] = PointInputs(
        _cum(own),
        _cum(land),
        _cum(links),
        _cum(nbr),
        _cum(hood),
        _cum(own > 0),
        mix,
        _months_since(own),
    )
    return cache[group]


def _window(cum: np.ndarray, q: int, k: int) -> np.ndarray:
    """Mean per month over the ``k`` months before ``q`` (fewer at the start)."""
    lo = max(0, q - k)
    return np.asarray((cum[q] - cum[lo]) / max(q - lo, 1))


#: Feature names, in the order of :func:`point_features`' columns (``mix_<group>`` follow).
FEATURES: tuple[str, ...] = (
    *(f"own_{k}" for k in _OWN_WINDOWS),
    *(f"land_{k}" for k in _LAND_WINDOWS),
    "link_6",
    "link_48",
    "nbr_links_12",
    "hood_12",
    "months_with_crime_24",
    "months_since_last",
    "calendar_month",
    "area_m2",
)


def point_features(data: fc.AreaData, group: str, q: int) -> np.ndarray:
    """Return the features of every map point for month ``q`` (from the months before ``q``).

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    group
        Crime group.
    q
        Month position in ``data.months``.

    Returns
    -------
    numpy.ndarray
        Points x (:data:`FEATURES` then one ``mix_<group>`` column per prepared group: the
        point's crimes of that group per month over the last 48 months).
    """
    inp = point_inputs(data, group)
    units = data.units["points"]
    cols = [_window(inp.own, q, k) for k in _OWN_WINDOWS]
    cols += [_window(inp.land, q, k) for k in _LAND_WINDOWS]
    cols += [_window(inp.link, q, 6)[units.link], _window(inp.link, q, 48)[units.link]]
    cols += [_window(inp.nbr, q, 12)[units.link], _window(inp.hood, q, 12)[units.hood]]
    cols += [_window(inp.seen, q, 24) * min(q, 24), inp.last[q]]
    cols += [np.full(len(units), float(data.cal[q] % 12)), units.area_m2]
    cols += [_window(c, q, _MIX_WINDOW) for c in inp.mix.values()]
    return np.column_stack(cols).astype(np.float32)


def fit_point_gbm(
    data: fc.AreaData, group: str, origin: int, *, train_months: int
) -> HistGradientBoostingRegressor:
    """Fit the Poisson model on the months ``origin - train_months .. origin - 1``.

    Parameters
    ----------
    data
        From :func:`~hotspots.evaluate.backtest.prepare_area`.
    group
        Crime group.
    origin
        First month the model may forecast (it sees only months before it).
    train_months
        Months of training rows (each: every map point's features and crimes that month).

    Returns
    -------
    sklearn.ensemble.HistGradientBoostingRegressor
        The fitted model (one thread).
    """
    qs = range(max(0, origin - train_months), origin)
    x = np.vstack([point_features(data, group, q) for q in qs])
    y = np.concatenate([data.counts[(group, "points")][q].toarray().ravel() for q in qs])
    with threadpool_limits(limits=1):
        return HistGradientBoostingRegressor(**GBM_OPTIONS).fit(x, y)


def score_point_gbm(hist: fc.History, group: str, param: float) -> np.ndarray:
    """Map points by the ``point_cover`` rule on the boosted model's predicted crimes.

    Parameters
    ----------
    hist
        The months before the target.
    group
        Crime group.
    param
        Training months of the model.

    Returns
    -------
    numpy.ndarray
        A score per map point (:func:`~hotspots.evaluate.ceiling.cover_scores`).
    """
    data, p = hist.data, hist.p
    origin = p - p % GBM_REFIT_MONTHS if p - p % GBM_REFIT_MONTHS >= 1 else p
    models: dict[tuple[str, int, int], HistGradientBoostingRegressor] = data.extra.setdefault(
        "gbm_models", {}
    )
    key = (group, origin, int(param))
    if key not in models:
        models[key] = fit_point_gbm(data, group, origin, train_months=int(param))
    with threadpool_limits(limits=1):
        pred = models[key].predict(point_features(data, group, p))
    return cover_scores(data, np.asarray(pred, dtype=float))


#: The method as :data:`hotspots.evaluate.forecasters.METHODS_AREA` registers it (its scorer
#: calls :func:`score_point_gbm`; ``hotspots evaluate --area-method point_gbm``).
POINT_GBM = fc.METHODS_AREA["point_gbm"]
