"""The area backtest: every forecaster, tuned and chosen by rolling origin, scored by land area.

For each target month ``t`` (after the warm-up) and crime group, every method forecasts from
the complete months before ``t`` only (:class:`~hotspots.evaluate.forecasters.History`) and
selects units until their union covers ``c``% of the study area (:func:`area_cut`). It is
scored on the crimes of month ``t`` lying in the covered land: hit rate ``n / N`` and
area PAI ``(n / N) / (a / A)``.

Tuning and choice never look ahead: a method's parameter for month ``t`` (e.g. the half-life)
is the grid value with the best mean objective (the hit rate averaged over the 1% and 5%
levels) over the target months before ``t``; the ``auto`` rows are, each month, the method
(any of them, the baseline included) with the best mean objective over the months before it.
``auto`` is the honest estimate of the chosen method's performance; the per-group choice
written for ``hotspots run --forecast`` is the best method over all months.

Uncertainty: 95% percentile-bootstrap intervals over target months (months resampled with
replacement) for the mean PAI and for the mean month-by-month ratio of a method's PAI to the
baseline's (plain counts per street link).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from hotspots.analysis.groups import OTHER_GROUP, classify_crime_types, read_brief_weights
from hotspots.errors import InputDataError
from hotspots.evaluate import forecasters as fc
from hotspots.evaluate import units as un
from hotspots.evaluate.study import calendar_numbers, classify_months, evaluated_crimes
from hotspots.evaluate.workers import fork_map

__all__ = [
    "ALL_AREA_METHODS",
    "AREA_COLUMNS",
    "AREA_COVERAGES",
    "AREA_SUMMARY_COLUMNS",
    "AUTO",
    "DEFAULT_AREA_METHODS",
    "DEFAULT_AREA_MONTHS",
    "ENSEMBLE",
    "MIN_GROUP_CRIMES",
    "N_BOOT",
    "OBJECTIVE_COVERAGES",
    "area_backtest",
    "choose_methods",
    "forecast_sentence",
    "prepare_area",
    "prepare_near_repeat_for",
    "summarise_area",
    "timed_crimes",
]

log = logging.getLogger("hotspots")

AREA_COVERAGES: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
OBJECTIVE_COVERAGES: tuple[float, ...] = (1.0, 5.0)
#: Target months of the area backtest by default (the most recent ones).
DEFAULT_AREA_MONTHS = 24
#: A crime group is scored when it has at least this many evaluated crimes.
MIN_GROUP_CRIMES = 200
N_BOOT = 2000
AUTO = "auto"
ENSEMBLE = "ensemble"
#: Default methods. ``link_ewma`` and ``piece_ewma`` show what the unit alone does (README);
#: ``piece_nkde``, ``point_nr``, ``point_land`` and ``piece_land`` did not pay their way on the
#: London and Vancouver data (level with ``point_ewma`` or worse for all crime). ``point_gbm``
#: (a boosted-tree model) beats ``point_cover`` by 2% at 5% of Vancouver's area (more for
#: burglary and damage) but costs about a minute of CPU per crime group. They cost time: ask
#: for them with ``--area-method``.
DEFAULT_AREA_METHODS: tuple[str, ...] = (
    "link_counts",
    "point_ewma",
    "point_eb",
    "point_season",
    "point_cover",
)
#: Every area method (the ensemble and ``auto`` are always scored).
ALL_AREA_METHODS: tuple[str, ...] = (
    *DEFAULT_AREA_METHODS,
    "link_ewma",
    "piece_ewma",
    "piece_nkde",
    "point_nr",
    "point_land",
    "piece_land",
    "point_gbm",
)

AREA_COLUMNS: list[str] = [
    "group",
    "method",
    "units",
    "coverage_pct",
    "month",
    "crimes",
    "captured",
    "hit_rate",
    "area_m2",
    "area_share",
    "pai",
    "param",
]
AREA_SUMMARY_COLUMNS: list[str] = [
    "group",
    "method",
    "units",
    "coverage_pct",
    "months",
    "hit_rate_mean",
    "pai_mean",
    "pai_lo",
    "pai_hi",
    "ratio_mean",
    "ratio_lo",
    "ratio_hi",
]


# --------------------------------------------------------------------------------------------
# preparation


def _brief_groups(crime_types: pd.Series) -> dict[str, np.ndarray]:
    types = crime_types.astype(str)
    of_type = classify_crime_types(types.unique(), settings=read_brief_weights())
    group = types.map(of_type).to_numpy()
    masks = {"all": np.ones(len(types), dtype=bool)}
    for g in sorted(set(of_type.values()) - {OTHER_GROUP}):
        masks[g] = group == g
    return masks


def prepare_area(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    region: shapely.Geometry,
    *,
    methods: Sequence[str] = DEFAULT_AREA_METHODS,
    groups: Sequence[str] | None = None,
    pixel_m: float = un.DEFAULT_PIXEL_M,
    buffer_m: float = un.DEFAULT_BUFFER_M,
    quiet: bool = True,
    cache: str | Path | None = None,
) -> fc.AreaData:
    """Return the count matrices, units and raster the area backtest needs.

    Parameters
    ----------
    crimes
        Canonical crimes (projected) with ``month``, ``crime_type``, ``x``, ``y`` (and
        ``segment_id``, ``occurred_from``, ``has_time`` when known).
    segments
        Street segments, same CRS.
    region
        The study area.
    methods
        Methods to prepare for (``piece_nkde`` needs the network kernels; ``point_nr`` needs
        :func:`prepare_near_repeat_for` once the first target month is known).
    groups
        Crime groups (the brief's groups, plus ``all``); by default every group with at least
        :data:`MIN_GROUP_CRIMES` crimes.
    pixel_m
        Raster pixel, metres.
    buffer_m
        Buffer around each unit, metres.
    quiet
        If True, log nothing.
    cache
        A cache folder for the study geometry (:mod:`hotspots.evaluate.geometry_cache`);
        None builds it every time.

    Returns
    -------
    AreaData
        With ``extra`` holding the raster, the crime counts per pixel and month of each group,
        the group list and, when prepared, the network kernels and near-repeat fits.
    """
    t0 = time.perf_counter()
    ev, segs, _ = evaluated_crimes(crimes, segments, region, quiet=quiet)
    if ev.empty:
        msg = "no crime lies on a street segment inside the study area"
        raise InputDataError(msg)
    table = classify_months(ev)
    months = table.loc[table["complete"], "month"].tolist()
    ev = ev[ev["month"].isin(months)].reset_index(drop=True)
    geoms = segs.geometry.to_numpy()
    xy = ev[["x", "y"]].to_numpy()
    raster, samples = un.study_raster_and_samples(
        geoms, region, pixel_m=pixel_m, buffer_m=buffer_m, extra_xy=xy, cache=cache
    )
    kinds = {fc.METHODS_AREA[m].kind for m in methods if m in fc.METHODS_AREA} | {"points"}
    units = {
        k: un.build_units(
            k, raster, geoms, xy, ev["seg"].to_numpy(), buffer_m=buffer_m, samples=samples
        )
        for k in sorted(kinds)
    }
    masks = _brief_groups(ev["crime_type"])
    present = [
        g
        for g in (groups or masks)
        if g in masks and masks[g].sum() >= (1 if groups or g == "all" else MIN_GROUP_CRIMES)
    ]
    pos = pd.Index(months).get_indexer(ev["month"].to_numpy())
    pix = raster.index(xy[:, 0], xy[:, 1])
    counts = {}
    pixel_counts = {}
    for g in present:
        m = masks[g]
        for k, u in units.items():
            counts[(g, k)] = _matrix(pos[m], u.of_crime[m], (len(months), len(u)))
        pixel_counts[g] = _matrix(pos[m], pix[m], (len(months), len(raster.flat)))
    data = fc.AreaData(
        months,
        calendar_numbers(months),
        units,
        counts,
        {
            "raster": raster,
            "pixel_counts": pixel_counts,
            "groups": present,
            "segments": segs,
            "crimes": ev,
        },
    )
    if "piece_nkde" in methods:
        from hotspots.evaluate.network import piece_kernels

        data.extra["nkde"] = piece_kernels(geoms, units["pieces"], fc.NKDE_BANDWIDTHS)
    data.extra["masks"] = {g: masks[g] for g in present}
    data.extra["point_pixel"] = raster.index(units["points"].xy[:, 0], units["points"].xy[:, 1])
    data.extra["cover_budget_m2"] = max(AREA_COVERAGES) / 100 * raster.area_m2 * 1.05
    data.extra["seconds_prepare"] = round(time.perf_counter() - t0, 2)
    return data


def prepare_near_repeat_for(data: fc.AreaData, *, fit_before: int) -> None:
    """Fit the near-repeat model per group on the days before complete month ``fit_before``.

    Parameters
    ----------
    data
        From :func:`prepare_area` (crimes with dates and times).
    fit_before
        Position of the first target month in ``data.months``.
    """
    from hotspots.evaluate.nearrepeat import prepare_near_repeat

    prepare_near_repeat(
        data, crimes_frame=data.extra["crimes"], masks=data.extra["masks"], fit_before=fit_before
    )


def _matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)


def timed_crimes(crimes: pd.DataFrame) -> bool:
    """Return whether the crimes carry usable dates and times (near-repeat needs them)."""
    return bool(
        "occurred_from" in crimes and "has_time" in crimes and crimes["has_time"].mean() > 0.5
    )


# --------------------------------------------------------------------------------------------
# the backtest


def _cut(
    data: fc.AreaData, kind: str, scores: np.ndarray, weights: np.ndarray, budgets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    raster: un.Raster = data.extra["raster"]
    return un.area_cut(scores, data.units[kind].pixels, raster.pixel_m**2, weights, budgets)


def _objective(hits: np.ndarray, coverages: Sequence[float]) -> float:
    idx = [i for i, c in enumerate(coverages) if c in OBJECTIVE_COVERAGES] or list(
        range(len(coverages))
    )
    return float(np.mean(hits[idx]))


def _best(running: dict[Any, float], default: Any) -> Any:
    """Return the key with the largest running objective (``default`` when none yet)."""
    if not running:
        return default
    top = max(running.values())
    return next(k for k, v in running.items() if v == top)


def area_backtest(
    data: fc.AreaData,
    *,
    targets: Sequence[int],
    methods: Sequence[str] = DEFAULT_AREA_METHODS,
    coverages: Sequence[float] = AREA_COVERAGES,
    workers: int | None = None,
) -> pd.DataFrame:
    """Score every method (tuned by rolling origin), the ensemble and ``auto`` month by month.

    Parameters
    ----------
    data
        From :func:`prepare_area`.
    targets
        Positions of the target months in ``data.months`` (each at least 1).
    methods
        Methods of :data:`~hotspots.evaluate.forecasters.METHODS_AREA`; the baseline is always
        added.
    coverages
        Coverage levels, percent of the study area.
    workers
        Processes scoring the groups (default: two where a second core and ``fork`` are
        there, :func:`~hotspots.evaluate.workers.worker_count`); the rows are the same.

    Returns
    -------
    pandas.DataFrame
        :data:`AREA_COLUMNS`, one row per group x method x coverage x month (months without
        crime of the group are skipped). ``param`` is the tuned parameter (for ``auto``, the
        method chosen).
    """
    raster: un.Raster = data.extra["raster"]
    budgets = np.asarray(coverages, dtype=float) / 100 * raster.area_m2
    data.extra["cover_budget_m2"] = float(budgets.max()) * 1.05
    names = [fc.BASELINE, *[m for m in methods if m != fc.BASELINE]]
    if "point_cover" in names:  # built once, before the workers fork
        fc.point_cover_index(data)
    # the groups are independent: forked workers score them, the rows come back in order
    per_group = fork_map(
        lambda g: _group_rows(data, g, targets=targets, names=names, coverages=coverages),
        list(data.extra["groups"]),
        workers=workers,
    )
    return pd.DataFrame([r for rows in per_group for r in rows], columns=AREA_COLUMNS)


def _group_rows(
    data: fc.AreaData,
    g: str,
    *,
    targets: Sequence[int],
    names: list[str],
    coverages: Sequence[float],
) -> list[tuple[Any, ...]]:
    """Return the rows of one crime group, month by month (the tuning runs within the group)."""
    area = data.extra["raster"].area_m2
    budgets = np.asarray(coverages, dtype=float) / 100 * area
    with_ens = all(m in names for m in fc.ENSEMBLE_OF)
    rows: list[tuple[Any, ...]] = []
    running: dict[tuple[str, float], list[float]] = {}
    method_run: dict[str, list[float]] = {}
    for p in targets:
        actual = data.extra["pixel_counts"][g][p].toarray().ravel()
        n_all = float(actual.sum())
        if n_all == 0:
            continue
        hist = fc.History(data, p)
        month = data.months[p]
        results: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        tuned_scores: dict[str, np.ndarray] = {}
        for name in names:
            method = fc.METHODS_AREA[name]
            past = {
                v: float(np.mean(running[(name, v)])) for v in method.grid if running.get((name, v))
            }
            pick = _best(past, method.grid[len(method.grid) // 2])
            for v in method.grid:
                scores = method.score(hist, g, v)
                covered, got = _cut(data, method.kind, scores, actual[:, None], budgets)
                hits = got[:, 0] / n_all
                running.setdefault((name, v), []).append(_objective(hits, coverages))
                if v == pick:
                    results[name] = (covered, got[:, 0], v)
                    tuned_scores[name] = scores
        if with_ens:
            scores = fc.ensemble([tuned_scores[m] for m in fc.ENSEMBLE_OF], data.units["points"])
            covered, got = _cut(data, "points", scores, actual[:, None], budgets)
            results[ENSEMBLE] = (covered, got[:, 0], float("nan"))
        past_m = {m: float(np.mean(v)) for m, v in method_run.items() if v}
        chosen = _best(past_m, "point_ewma" if "point_ewma" in results else fc.BASELINE)
        for name, (covered, got, param) in results.items():
            kind = "points" if name == ENSEMBLE else fc.METHODS_AREA[name].kind
            rows += _rows(g, name, kind, coverages, month, n_all, got, covered, area, param)
            method_run.setdefault(name, []).append(_objective(got / n_all, coverages))
        covered, got, _ = results[chosen]
        rows += _rows(g, AUTO, "chosen", coverages, month, n_all, got, covered, area, chosen)
    return rows


def _rows(
    group: str,
    method: str,
    kind: str,
    coverages: Sequence[float],
    month: str,
    n_all: float,
    got: np.ndarray,
    covered: np.ndarray,
    area: float,
    param: Any,
) -> list[tuple[Any, ...]]:
    out = []
    for i, c in enumerate(coverages):
        hit = float(got[i]) / n_all
        share = float(covered[i]) / area
        out.append(
            (
                group,
                method,
                kind,
                float(c),
                month,
                int(n_all),
                float(got[i]),
                hit,
                float(covered[i]),
                share,
                hit / share if share > 0 else float("nan"),
                param,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# summaries: bootstrap intervals and the choice per group


def _boot_mean(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def summarise_area(table: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """Return mean hit rate and PAI per group x method x coverage with bootstrap intervals.

    Parameters
    ----------
    table
        From :func:`area_backtest`.
    n_boot
        Bootstrap resamples (months drawn with replacement).
    seed
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        :data:`AREA_SUMMARY_COLUMNS`: ``pai_lo``/``pai_hi`` bound the mean PAI, ``ratio_*``
        the mean over months of the method's PAI / the baseline's PAI the same month (95%).

    Examples
    --------
    >>> t = pd.DataFrame({"group": "all", "method": ["link_counts"] * 3 + ["point_ewma"] * 3,
    ...                   "units": "x", "coverage_pct": 1.0, "month": ["a", "b", "c"] * 2,
    ...                   "hit_rate": 0.1, "pai": [10.0, 10, 10, 15, 20, 25]})
    >>> s = summarise_area(t, n_boot=200)
    >>> s.loc[s["method"] == "point_ewma", ["pai_mean", "ratio_mean"]].values.tolist()
    [[20.0, 2.0]]
    """
    rng = np.random.default_rng(seed)
    base = table[table["method"] == fc.BASELINE].set_index(["group", "coverage_pct", "month"])
    out = []
    keys = ["group", "method", "units", "coverage_pct"]
    for key, rows in table.groupby(keys, sort=False):
        pai = rows["pai"].to_numpy(dtype=float)
        ref = (
            base["pai"]
            .reindex(
                pd.MultiIndex.from_arrays([rows["group"], rows["coverage_pct"], rows["month"]])
            )
            .to_numpy(dtype=float)
        )
        ratio = pai / ref
        ratio = ratio[np.isfinite(ratio)]
        out.append(
            (
                *key,
                len(rows),
                float(rows["hit_rate"].mean()),
                float(pai.mean()),
                *_boot_mean(pai, rng, n_boot),
                float(ratio.mean()) if len(ratio) else float("nan"),
                *_boot_mean(ratio, rng, n_boot),
            )
        )
    return pd.DataFrame(out, columns=AREA_SUMMARY_COLUMNS)


def choose_methods(table: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Return the method chosen per group (best mean objective over all months) and its record.

    Parameters
    ----------
    table
        From :func:`area_backtest`.
    summary
        From :func:`summarise_area`.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``method``, ``units``, ``param`` (its most used tuned value), ``months``,
        and per objective coverage ``hit_rate_<c>``, ``pai_<c>``, ``ratio_<c>`` with
        ``ratio_lo_<c>``/``ratio_hi_<c>``, plus ``auto_ratio_<c>`` (the honest rolling
        choice) and ``text``, a plain sentence for maps and briefs.
    """
    out = []
    for g, rows in table[table["method"] != AUTO].groupby("group", sort=False):
        obj = (
            rows[rows["coverage_pct"].isin(OBJECTIVE_COVERAGES)]
            .groupby("method")["hit_rate"]
            .mean()
        )
        best = str(obj.idxmax())
        mine = rows[rows["method"] == best]
        used = pd.Series([str(v) for v in mine["param"]]).mode()
        rec: dict[str, Any] = {
            "group": g,
            "method": best,
            "units": mine["units"].iloc[0],
            "param": str(used.iloc[0]),
            "months": int(mine["month"].nunique()),
            "description": _describe(best),
        }
        for c in OBJECTIVE_COVERAGES:
            s = summary[(summary["group"] == g) & (summary["coverage_pct"] == c)].set_index(
                "method"
            )
            if best not in s.index:
                continue
            tag = f"{c:g}"
            rec.update(
                {
                    f"hit_rate_{tag}": s.at[best, "hit_rate_mean"],
                    f"pai_{tag}": s.at[best, "pai_mean"],
                    f"ratio_{tag}": s.at[best, "ratio_mean"],
                    f"ratio_lo_{tag}": s.at[best, "ratio_lo"],
                    f"ratio_hi_{tag}": s.at[best, "ratio_hi"],
                    f"auto_ratio_{tag}": s.at[AUTO, "ratio_mean"]
                    if AUTO in s.index
                    else float("nan"),
                }
            )
        rec["text"] = forecast_sentence(rec)
        out.append(rec)
    return pd.DataFrame(out)


def _describe(method: str) -> str:
    if method == ENSEMBLE:
        return "the average of the map-point forecasts (recent-weighted, empirical Bayes, seasonal)"
    return fc.METHODS_AREA[method].text


def forecast_sentence(rec: dict[str, Any]) -> str:
    """Return the plain-words line saying which method made the list and how it did.

    Examples
    --------
    >>> forecast_sentence({"group": "all", "method": "point_ewma", "months": 11,
    ...     "description": "recent-weighted crimes per m² around each map point",
    ...     "hit_rate_1": 0.25, "ratio_1": 1.6, "ratio_lo_1": 1.5, "ratio_hi_1": 1.7,
    ...     "hit_rate_5": 0.5, "ratio_5": 1.2, "ratio_lo_5": 1.1, "ratio_hi_5": 1.3})
    ... # doctest: +NORMALIZE_WHITESPACE
    "Next month's list (all crime) was made by point_ewma: recent-weighted crimes per m² around
    each map point. Tested on 11 past months, the top 1% of the area it picked held on average
    25% of the next month's crime, 1.60 times as much as plain counts per street link
    (95% interval 1.50-1.70); the top 5% held 50%, 1.20 times as much (1.10-1.30)."
    """
    label = "all crime" if rec["group"] == "all" else str(rec["group"]).replace("_", " ")
    text = (
        f"Next month's list ({label}) was made by {rec['method']}: {rec['description']}. "
        f"Tested on {rec['months']} past months, the top 1% of the area it picked held on "
        f"average {100 * _num(rec, 'hit_rate_1'):.0f}% of the next month's "
        f"crime, {_num(rec, 'ratio_1'):.2f} times as much as plain counts per "
        "street link"
    )
    lo, hi = _num(rec, "ratio_lo_1"), _num(rec, "ratio_hi_1")
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" (95% interval {lo:.2f}-{hi:.2f})"
    if np.isfinite(_num(rec, "hit_rate_5")):
        text += (
            f"; the top 5% held {100 * _num(rec, 'hit_rate_5'):.0f}%, "
            f"{_num(rec, 'ratio_5'):.2f} times as much"
        )
        lo, hi = _num(rec, "ratio_lo_5"), _num(rec, "ratio_hi_5")
        if np.isfinite(lo) and np.isfinite(hi):
            text += f" ({lo:.2f}-{hi:.2f})"
    return text + "."


def _num(rec: dict[str, Any], key: str) -> float:
    value = rec.get(key)
    return float(value) if value is not None else float("nan")
