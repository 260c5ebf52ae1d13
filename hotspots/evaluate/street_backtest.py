"""The street backtest: hot-spot forecasts month by month, hit rate, PAI and RRI at fixed coverage.

A rolling-origin backtest: for each target month ``t`` after a warm-up, every method builds its
forecast from the complete months before ``t`` only, selects street segments (or grid cells)
up to a coverage budget, and is scored on the crimes of month ``t``. Every method sees the same
crimes, the same target months and the same coverage budgets.

Definitions (the README and ``evaluate.json`` repeat them):

* **Evaluated crimes**: crimes snapped to a street segment (default within 30 m) that lie
  inside the study area, on a segment whose midpoint lies inside it. Grid methods are scored on
  exactly these crimes, so no method can score crime the street methods cannot see.
* **Study area** ``A``: by default the land within the snapping distance of a street segment
  (the street layer's covered region), clipped to the area layer when one is given
  (:func:`segments_to_study_area`). Every method uses the same ``A``.
* **Street length to area**: a segment of length ``l`` stands for ``l x w`` square metres with
  ``w = A / L`` (``L`` = total street length): the study area shared out evenly along the
  streets. So ``p``% of street length is exactly ``p``% of ``A``, and grid methods get the
  same area, ``p``% of ``A``. ``corridor_width_m`` fixes ``w`` instead (e.g. 30 m = 2 x 15 m).
* **Coverage cut**: units are taken in descending score order; units with equal scores form
  one block; whole blocks are taken while they fit, and the block that crosses the budget
  is taken by the fraction that fits: each of its units counts that fraction of its
  length/area and of its crimes (for a block of one unit, the last unit counts by the
  fraction of it that fits). The selected length/area equals the budget exactly, and ties are
  not broken by an arbitrary order (this is the expectation over random tie-breaking).
* **Hit rate** = ``n / N``: ``n`` crimes of month ``t`` in the selection, ``N`` all evaluated
  crimes of month ``t`` (per crime group).
* **PAI** (Chainey, Tompson and Uhlig 2008) = ``(n / N) / (a / A)``, ``a`` the selected area.
* **RRI** (Levine 2008) = ``(n_t / n_prev) / (N_t / N_prev)``: ``n_prev`` the crimes of the
  previous complete month inside the same selection, ``N_prev`` all crimes of that month.
  Missing when ``n_prev`` or ``N_t`` is 0.
* **Incomplete months**: a month whose evaluated crimes (all groups) number fewer than half the
  median month's (months with none count) is incomplete: it is neither a target nor used for
  training, and is listed in the table's ``attrs["months_skipped"]``. "The previous ``k``
  months" are the previous ``k`` complete months.

Methods (``units``: what is selected):

* ``random`` (segments): a uniform random order, seeded per ``seed``, target month and group.
* ``prev_counts`` (segments): crimes per segment in the previous ``window_months`` months.
* ``kde`` (50 m grid): Gaussian kernel density of the previous ``window_months`` months'
  crimes, binned to cell centres, evaluated at the cell centres. Bandwidth by Silverman's rule
  of thumb for two dimensions (identical to Scott's there): ``h = s x n ** (-1/6)`` with
  ``n`` the training crimes and ``s = sqrt((s_x**2 + s_y**2) / 2)``, ``s_x``/``s_y`` the robust
  spreads ``min(std, IQR / 1.349)`` of the training crimes' cell-centre coordinates; ``h`` is
  at least one cell. The density equals scikit-learn's ``KernelDensity(kernel="gaussian")``
  on the binned points up to a constant (a test checks it) but is computed as a separable
  convolution truncated at 5 ``h``, which takes milliseconds instead of seconds per fit.
* ``h3_r9``, ``h3_r10`` (H3 cells): crimes per H3 cell in the previous ``window_months`` months.
* ``hot_streets`` (segments): crimes per 100 m in the previous ``window_months`` months, the
  length floored at 50 m as in :mod:`hotspots.analysis.rank`.
* ``ewma`` (segments): exponentially weighted crimes per 100 m over **all** earlier complete
  months, a month ``d`` calendar months before the target weighted ``0.5 ** (d / h)``
  (half-life ``h`` = ``half_life_months``, default 6).
* ``ewma_nbr`` (segments): ``ewma`` plus ``0.5 x`` the mean ``ewma`` of the segments sharing
  an end point (neighbour smoothing), plus ``0.1 x`` the all-crime ``ewma`` scaled to the
  group's share of all crime (a prior that ranks segments with no crime of a sparse group).

Crime groups (:data:`GROUP_CRIME_TYPES`, matched case-insensitively): ``all`` is every crime
type. VPD records "Offence Against a Person" and "Homicide" without coordinates, so Vancouver
has no violence or robbery points, and no anti-social behaviour: absent groups are skipped.
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
import pyproj
import shapely

from hotspots.errors import InputDataError
from hotspots.evaluate.config import (
    BACKTEST_COLUMNS,
    DEFAULT_CELL_SIZE_M,
    DEFAULT_COVERAGES,
    DEFAULT_HALF_LIFE_MONTHS,
    DEFAULT_WARMUP_MONTHS,
    DEFAULT_WINDOW_MONTHS,
    GROUPS,
    METHOD_UNITS,
    METHODS,
)
from hotspots.evaluate.methods import ScoreOptions, kde_bandwidths_used
from hotspots.evaluate.metrics import score_month
from hotspots.evaluate.study import Study, prepare_study

__all__ = ["check_forecast_inputs", "evaluate_forecasts"]

log = logging.getLogger("hotspots")


def _option_problems(
    methods: Sequence[str],
    coverages: Sequence[float],
    *,
    warmup_months: int,
    window_months: int,
    groups: Sequence[str] | None,
    half_life_months: float,
    months_back: int | None,
) -> list[str]:
    problems = []
    bad = [m for m in methods if m not in METHOD_UNITS]
    if bad or not methods:
        problems.append(f"`methods` must be among {list(METHODS)}; found {bad or 'none'}")
    bad_c = [c for c in coverages if not 0 < c <= 100]
    if bad_c or not coverages:
        problems.append(f"`coverages` are percentages in (0, 100]; found {bad_c or 'none'}")
    if not 1 <= window_months <= warmup_months:
        problems.append(
            f"`window_months` must be 1 to `warmup_months`; found {window_months} "
            f"with warm-up {warmup_months}"
        )
    if groups is not None and (bad_g := [g for g in groups if g not in GROUPS]):
        problems.append(f"`groups` must be among {list(GROUPS)}; found {bad_g}")
    if not half_life_months > 0:
        problems.append(f"`half_life_months` must be positive; found {half_life_months}")
    if months_back is not None and months_back < 1:
        problems.append(f"`months_back` must be at least 1; found {months_back}")
    return problems


def _input_problems(
    crimes: pd.DataFrame, segments: gpd.GeoDataFrame, study_area: shapely.Geometry
) -> list[str]:
    problems = []
    if missing := [c for c in ("month", "crime_type", "x", "y") if c not in crimes]:
        problems.append(f"`crimes` lacks column(s) {missing}; read it with hotspots.read_crimes")
    if missing_s := [c for c in ("segment_id", "length_m") if c not in segments]:
        problems.append(f"`segments` lacks {missing_s}; make it with lines_to_segments")
    elif not (segments["length_m"] > 0).all():
        problems.append("`segments` must all have positive `length_m`; drop zero-length ones")
    crs_c, crs_s = getattr(crimes, "crs", None), segments.crs
    if crs_c is not None and crs_s is not None and pyproj.CRS(crs_c) != pyproj.CRS(crs_s):
        problems.append(
            f"`crimes` ({crs_c}) and `segments` ({crs_s}) must share a CRS; "
            "project both with hotspots.space.crs.to_metric_crs"
        )
    if shapely.is_empty(study_area) or study_area.geom_type not in ("Polygon", "MultiPolygon"):
        problems.append(f"`study_area` must be a non-empty polygon; found {study_area.geom_type}")
    return problems


def check_forecast_inputs(
    crimes: pd.DataFrame,
    segments: gpd.GeoDataFrame,
    *,
    study_area: shapely.Geometry,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    warmup_months: int = DEFAULT_WARMUP_MONTHS,
    window_months: int = DEFAULT_WINDOW_MONTHS,
    groups: Sequence[str] | None = None,
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS,
    months_back: int | None = None,
) -> None:
    """Raise :class:`InputDataError` listing every rule :func:`evaluate_forecasts`'s inputs break.

    The options and inputs as for :func:`evaluate_forecasts` (which calls this first).
    """
    problems = _option_problems(
        methods,
        coverages,
        warmup_months=warmup_months,
        window_months=window_months,
        groups=groups,
        half_life_months=half_life_months,
        months_back=months_back,
    )
    problems += _input_problems(crimes, segments, study_area)
    if problems:
        raise InputDataError("; ".join(problems))


def _targets(study: Study, warmup_months: int, months_back: int | None) -> list[int]:
    targets = list(range(warmup_months, len(study.months)))
    if not targets:
        msg = (
            f"`warmup_months`={warmup_months} leaves no month to score: the data has "
            f"{len(study.months)} complete month(s) ({study.months[0]}..{study.months[-1]}). "
            "Use a shorter warm-up or more months"
        )
        raise InputDataError(msg)
    return targets[-months_back:] if months_back else targets


def evaluate_forecasts(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    study_area: shapely.Geometry,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    warmup_months: int = DEFAULT_WARMUP_MONTHS,
    window_months: int = DEFAULT_WINDOW_MONTHS,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS,
    cell_size_m: float = DEFAULT_CELL_SIZE_M,
    corridor_width_m: float | None = None,
    kde_bandwidth_m: float | None = None,
    months_back: int | None = None,
    quiet: bool = False,
    cache: str | Path | None = None,
) -> pd.DataFrame:
    """Backtest every method month by month and score it against the next month's crime.

    Parameters
    ----------
    crimes
        Canonical crimes (projected). A ``segment_id`` column is used when present; otherwise
        the crimes are snapped to ``segments`` within 30 m.
    segments
        Street segments from :func:`hotspots.space.segments.lines_to_segments`, same CRS.
    study_area
        The region ``A`` (a polygon in the same CRS), e.g. from :func:`segments_to_study_area`.
    methods
        Any of :data:`METHODS` (see the module notes).
    coverages
        Coverage levels, percent of total street length (and the same percent of ``A``).
    warmup_months
        Complete months before the first target month.
    window_months
        Months of history (``k``) of the window methods: ``prev_counts``, ``kde``, ``h3_*``,
        ``hot_streets``.
    groups
        Crime groups to score (:data:`GROUPS`); by default every group present in the data.
    seed
        Seed of the ``random`` baseline.
    half_life_months
        Half-life of the ``ewma`` weights, in calendar months.
    cell_size_m
        Side of the ``kde`` grid cells, metres.
    corridor_width_m
        Width that turns street length into area; by default ``A`` / total street length.
    kde_bandwidth_m
        Fixed ``kde`` bandwidth, metres; by default Silverman's rule on each training window.
    months_back
        Score only the last ``months_back`` target months (history still starts at the first).
    quiet
        If True, do not log progress.
    cache
        A cache folder for the study geometry (:mod:`hotspots.evaluate.geometry_cache`);
        None builds it every time.

    Returns
    -------
    pandas.DataFrame
        One row per group x method x coverage x target month: :data:`BACKTEST_COLUMNS`.
        ``attrs`` holds the months scored and skipped, ``A``, the street length, the corridor
        width, the KDE bandwidths used and the crime accounting.

    Raises
    ------
    InputDataError
        If an option or input breaks a rule (all problems are listed), or no month is left to
        score after the warm-up.
    """
    check_forecast_inputs(
        crimes,
        segments,
        study_area=study_area,
        methods=methods,
        coverages=coverages,
        warmup_months=warmup_months,
        window_months=window_months,
        groups=groups,
        half_life_months=half_life_months,
        months_back=months_back,
    )
    t0 = time.perf_counter()
    study = prepare_study(
        crimes,
        segments,
        study_area,
        methods=methods,
        groups=groups,
        cell_m=cell_size_m,
        width_m=corridor_width_m,
        quiet=quiet,
        cache=cache,
    )
    targets = _targets(study, warmup_months, months_back)
    t1 = time.perf_counter()
    opts = ScoreOptions(window_months, half_life_months, seed, kde_bandwidth_m)
    rows = [
        row
        for g in study.groups
        for p in targets
        for row in score_month(study, p, g, methods=methods, opts=opts, coverages=coverages)
    ]
    table = _sorted(pd.DataFrame(rows, columns=BACKTEST_COLUMNS))
    table.attrs.update(_attrs(study, targets, t1 - t0, time.perf_counter() - t1))
    if "kde" in methods:
        table.attrs["kde_bandwidth_m"] = kde_bandwidths_used(study, targets, opts)
    if not quiet:
        log.info(
            "scored %d months x %d methods x %d groups in %.1f s",
            len(targets),
            len(methods),
            len(study.groups),
            time.perf_counter() - t1,
        )
    return table


def _attrs(study: Study, targets: list[int], prep_s: float, score_s: float) -> dict[str, Any]:
    return {
        "months_complete": study.months,
        "months_scored": [study.months[p] for p in targets],
        **study.info,
        "groups": study.groups,
        "study_area_m2": round(study.area_m2, 1),
        "street_length_m": round(study.street_m, 1),
        "corridor_width_m": round(study.width_m, 3),
        "segments": len(study.length_m),
        "units": {k: len(u.cost) for k, u in study.units.items()},
        "seconds": {"prepare": round(prep_s, 2), "score": round(score_s, 2)},
    }


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    keys = {"group": list(GROUPS), "method": list(METHODS)}
    rank = {k: table[k].map({v: i for i, v in enumerate(order)}) for k, order in keys.items()}
    order = np.lexsort((table["month"], table["coverage_pct"], rank["method"], rank["group"]))
    return table.iloc[order].reset_index(drop=True)
