"""A self-exciting (ETAS-style) near-repeat model on map points, fitted by EM.

Crimes at map point ``i`` arrive at the rate

    lambda_i(t) = mu_i + sum_{k: t_k < t} theta * omega * exp(-omega (t - t_k)) * g_{i_k}(i)

``mu_i`` a constant background rate, ``theta`` the expected number of near repeats one crime
triggers (the branching ratio), ``omega`` the decay rate per day (``1 / omega`` the mean delay)
and ``g_j(i) = exp(-d(j, i) / sigma) / Z_j`` the share of crime ``j``'s repeats falling at
point ``i``, ``d`` the network distance between the points (up to :data:`MAX_DISTANCE_M`) and
``Z_j`` the sum over the points within reach. Parents are looked for up to
:data:`MAX_DAYS` days back. The parameters are fitted by expectation-maximisation (Veen and
Schoenberg 2008; Mohler et al. 2011): the E-step shares each crime between the background and
its possible parents; the M-step updates ``mu``, ``theta``, ``omega`` in closed form and
``sigma`` by a one-dimensional search.

Forecast for a month ``[T0, T1)`` from the crimes before ``T0``:
``(1 - theta) x recent rate + sum_j theta g_j(i) (exp(-omega (T0 - t_j)) - exp(-omega (T1 - t_j)))``
(the recent rate holds background and repeats; ``1 - theta`` of it is background).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = [
    "FIT_DAYS",
    "MAX_DAYS",
    "MAX_DISTANCE_M",
    "NearRepeatFit",
    "candidate_pairs",
    "fit_near_repeat",
    "offspring_in_month",
    "prepare_near_repeat",
    "simulate_near_repeat",
]

MAX_DAYS = 60.0
MAX_DISTANCE_M = 400.0
_SIGMAS = np.geomspace(10.0, 400.0, 40)
#: Days of training the near-repeat fit uses (the last ones before the first target month).
FIT_DAYS = 730.0


@dataclass(frozen=True)
class NearRepeatFit:
    """Fitted parameters: branching ratio, decay per day, distance scale (m), events used."""

    theta: float
    omega: float
    sigma: float
    events: int
    iterations: int


def _kernel(dist: pd.DataFrame, n_points: int, sigma: float) -> sparse.csr_matrix:
    """Return G with G[j, i] = exp(-d / sigma) / Z_j (rows sum to one)."""
    w = np.exp(-dist["d"].to_numpy() / sigma)
    g = sparse.csr_matrix(
        (w, (dist["p"].to_numpy(), dist["q"].to_numpy())), shape=(n_points, n_points)
    )
    z = np.asarray(g.sum(axis=1)).ravel()
    return sparse.csr_matrix(sparse.diags(1 / np.where(z > 0, z, 1.0)) @ g)


def _log_z(dist: pd.DataFrame, n_points: int) -> np.ndarray:
    """Return log Z_j(sigma) for every point j and every sigma of the search grid."""
    d = dist["d"].to_numpy()
    p = dist["p"].to_numpy()
    out = np.empty((len(_SIGMAS), n_points))
    for s, sigma in enumerate(_SIGMAS):
        out[s] = np.log(
            np.maximum(np.bincount(p, weights=np.exp(-d / sigma), minlength=n_points), 1e-300)
        )
    return out


def candidate_pairs(
    t: np.ndarray, point: np.ndarray, dist: pd.DataFrame, max_days: float = MAX_DAYS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (parent, child, distance) for every pair of events within reach.

    A parent ``j`` of child ``k`` happened before it (``0 < t_k - t_j <= max_days``) at a point
    within the distance table's reach of ``k``'s point.
    """
    order = np.lexsort((t, point))
    key_point, key_t = point[order], t[order]
    nb = dist.rename(columns={"p": "child_point", "q": "parent_point"})
    ev = pd.DataFrame({"k": np.arange(len(t)), "child_point": point})
    combos = ev.merge(nb, on="child_point")
    k = combos["k"].to_numpy()
    q = combos["parent_point"].to_numpy()
    span = float(np.ptp(t)) + 2 * max_days + 1 if len(t) else 1.0
    keys = key_point * span + (key_t - t.min() if len(t) else key_t)
    lo = np.searchsorted(keys, q * span + (t[k] - max_days - t.min()), side="left")
    hi = np.searchsorted(keys, q * span + (t[k] - t.min()), side="left")
    n = hi - lo
    child = np.repeat(k, n)
    d = np.repeat(combos["d"].to_numpy(), n)
    start = np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n)
    parent = order[np.arange(int(n.sum())) + start]
    keep = t[child] - t[parent] > 0
    return parent[keep], child[keep], d[keep]


def fit_near_repeat(
    t: np.ndarray,
    point: np.ndarray,
    dist: pd.DataFrame,
    n_points: int,
    *,
    span_days: float | None = None,
    iterations: int = 200,
    tol: float = 1e-4,
    prior: float = 1e9,
    shape: np.ndarray | None = None,
) -> NearRepeatFit:
    """Fit theta, omega and sigma by EM on events (days, point).

    Parameters
    ----------
    t
        Event times, days (any origin).
    point
        Map point of each event.
    dist
        Network distances between points: ``p``, ``q``, ``d`` (both orders, ``p == q`` with
        ``d = 0`` included), up to the reach of the kernel.
    n_points
        Number of points.
    span_days
        Length of the observation window (default: from the first to the last event).
    iterations
        Largest number of EM iterations.
    tol
        Stop when no parameter changes by more than this share.
    prior
        Shrinkage of each point's background towards the mean point's (a pseudo-count of
        crimes); 0 is the unpooled maximum-likelihood background (biased with few crimes
        per point: the incidental-parameter problem); the default pools fully.
    shape
        If given, the background is ``B x shape / span`` (``shape`` summing to one over the
        points, ``B`` the crimes the E-step gives the background), replacing ``prior``.

    Returns
    -------
    NearRepeatFit
        The parameters.
    """
    t = np.asarray(t, dtype=float)
    t0, t1 = float(t.min()), float(t.max())
    span = span_days if span_days is not None else max(t1 - t0, 1.0)
    parent, child, d = candidate_pairs(t, point, dist)
    dt = t[child] - t[parent]
    log_z = _log_z(dist, n_points)
    theta, omega, sigma = 0.1, 1 / 7, 100.0
    mu = np.bincount(point, minlength=n_points) / span * 0.9
    # the share of a parent's repeats that fall inside the window (for theta's denominator)
    left = np.minimum(t0 + span - t, MAX_DAYS)
    done = 0
    for it in range(1, iterations + 1):
        done = it
        s_idx = int(np.argmin(np.abs(_SIGMAS - sigma)))
        a = theta * omega * np.exp(-omega * dt) * np.exp(-d / sigma - log_z[s_idx, point[parent]])
        total = mu[point] + np.bincount(child, weights=a, minlength=len(t))
        pr = a / total[child]
        p_bg = mu[point] / total
        # background per point, shrunk towards the mean point (pseudo-count ``prior``)
        bg = np.bincount(point, weights=p_bg, minlength=n_points)
        if shape is not None:  # background of a known shape, scaled
            mu = bg.sum() * shape / span
        else:
            mu = (bg + prior * bg.mean()) / (1 + prior) / span
        n_trig = float(pr.sum())
        new_omega = n_trig / float((pr * dt).sum()) if n_trig > 0 else omega
        new_theta = n_trig / float((1 - np.exp(-new_omega * left)).sum())
        per_parent = np.bincount(point[parent], weights=pr, minlength=n_points)
        ll = -float((pr * d).sum()) / _SIGMAS - log_z @ per_parent
        new_sigma = float(_SIGMAS[int(np.argmax(ll))])
        change = max(
            abs(new_theta - theta) / max(theta, 1e-9),
            abs(new_omega - omega) / omega,
            abs(new_sigma - sigma) / sigma,
        )
        theta, omega, sigma = new_theta, new_omega, new_sigma
        if change < tol:
            break
    return NearRepeatFit(float(theta), float(omega), float(sigma), len(t), done)


def simulate_near_repeat(
    mu: np.ndarray,
    dist: pd.DataFrame,
    *,
    theta: float,
    omega: float,
    sigma: float,
    days: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the model (for tests): background events, then generations of repeats.

    Parameters
    ----------
    mu
        Background rate per point, events per day.
    dist
        Distances between points (as for :func:`fit_near_repeat`).
    theta, omega, sigma
        Branching ratio, decay per day, distance scale in metres.
    days
        Length of the window.
    seed
        Random seed.

    Returns
    -------
    tuple of numpy.ndarray
        Event times (days, sorted) and points.
    """
    rng = np.random.default_rng(seed)
    n_bg = rng.poisson(mu * days)
    point = np.repeat(np.arange(len(mu)), n_bg)
    t = rng.uniform(0, days, len(point))
    g = _kernel(dist, len(mu), sigma)
    times, points = [t], [point]
    while len(t):
        kids = rng.poisson(theta, len(t))
        pt, pp = np.repeat(t, kids), np.repeat(point, kids)
        delay = rng.exponential(1 / omega, len(pt))
        ok = (delay <= MAX_DAYS) & (pt + delay < days)
        pt, pp = pt[ok] + delay[ok], pp[ok]
        # each child goes to a point drawn from its parent's row of g
        rows = [g.getrow(j) for j in pp]
        pp = np.array([r.indices[rng.choice(len(r.data), p=r.data)] for r in rows], dtype=int)
        times.append(pt)
        points.append(pp)
        t, point = pt, pp
    t_all, p_all = np.concatenate(times), np.concatenate(points)
    order = np.argsort(t_all, kind="stable")
    return t_all[order], p_all[order]


def offspring_in_month(
    fit: NearRepeatFit, events: dict[str, np.ndarray], dist: pd.DataFrame, *, month_cal: int
) -> np.ndarray:
    """Return the expected near repeats per point in calendar month ``month_cal``.

    Only events before the month's first day are used.
    """
    start = _month_day(month_cal)
    end = _month_day(month_cal + 1)
    t, point = events["t"], events["point"]
    n_points = int(events["n_points"][0])
    before = (t < start) & (t >= start - MAX_DAYS - 1)
    w = fit.theta * (
        np.exp(-fit.omega * (start - t[before])) - np.exp(-fit.omega * (end - t[before]))
    )
    source = np.bincount(point[before], weights=w, minlength=n_points)
    return np.asarray(_kernel(dist, n_points, fit.sigma).T @ source).ravel()


def _month_day(cal: int) -> float:
    """Return day number (days since 1970-01-01) of the first day of calendar month ``cal``."""
    year, month = divmod(int(cal), 12)
    return float(
        (np.datetime64(f"{year:04d}-{month + 1:02d}-01") - np.datetime64("1970-01-01"))
        .astype("timedelta64[D]")
        .astype(int)
    )


def prepare_near_repeat(
    data: Any, *, crimes_frame: pd.DataFrame, masks: dict[str, np.ndarray], fit_before: int
) -> None:
    """Fit the near-repeat model per group on the training days before the first target.

    Stores ``events`` (per group), ``point_dist`` and ``nr_fits`` in ``data.extra``. The fit
    uses the :data:`FIT_DAYS` days before complete month ``fit_before`` (the first target
    month), so no target month is seen.
    """
    from hotspots.evaluate.network import piece_distances
    from hotspots.evaluate.units import UnitSet

    points = data.units["points"]
    segs = data.extra["segments"]
    geoms = segs.geometry.to_numpy()
    import shapely

    pos = shapely.line_locate_point(geoms[points.link], shapely.points(points.xy))
    pseudo = UnitSet(
        "points",
        points.pixels,
        points.area_m2,
        points.link,
        points.hood,
        points.xy,
        points.of_crime,
        pos,
        np.zeros(len(points)),
    )
    dist = piece_distances(geoms, pseudo, MAX_DISTANCE_M)
    data.extra["point_dist"] = dist
    when = pd.to_datetime(crimes_frame["occurred_from"])
    t = ((when - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    timed = crimes_frame["has_time"].to_numpy(dtype=bool) & np.isfinite(t)
    first_target = _month_day(int(data.cal[min(fit_before, len(data.cal) - 1)]))
    fits, events, summary = {}, {}, {}
    for g, m in masks.items():
        sel = m & timed
        events[g] = {
            "t": t[sel],
            "point": points.of_crime[sel],
            "n_points": np.array([len(points)]),
        }
        train = sel & (t < first_target) & (t >= first_target - FIT_DAYS)
        if train.sum() < 50:
            continue
        n_at = np.bincount(points.of_crime[train], minlength=len(points)) + 0.5
        fits[g] = fit_near_repeat(
            t[train],
            points.of_crime[train],
            dist,
            len(points),
            span_days=FIT_DAYS,
            shape=n_at / n_at.sum(),
        )
        summary[g] = asdict(fits[g])
    data.extra.update({"events": events, "nr_fits": fits, "nr_summary": summary})
