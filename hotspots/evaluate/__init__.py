"""Does the list predict? Backtests of hot-spot forecasts, and next month's list.

Two backtests share the crimes, study area and complete months (:mod:`.study`):

* the street backtest (``hotspots evaluate``; definitions in :mod:`.street_backtest`): every
  method of :mod:`.methods` forecasts each target month from the months before it, selects
  street segments or cells up to a coverage budget and is scored on that month (hit rate, PAI
  and RRI, :mod:`.metrics`); :mod:`.runner` reads the files and :mod:`.writer` writes the
  folder;
* the area backtest (:mod:`.backtest`, :mod:`.area_run`): micro-units of land
  (:mod:`.units`), forecasting methods (:mod:`.forecasters`, with ``point_cover``'s greedy
  order in :mod:`.cover`) and the method chosen per crime group, which ranks next month's
  list (:mod:`.forecast`).

``hotspots evaluate`` uses two processes where it can (:mod:`.workers`): the street backtest
runs beside the area backtest, the area backtest's crime groups and the plots are split
between forked workers; the files are the same as one process writes
(``HOTSPOTS_PIPELINE_WORKERS=1`` keeps it in one).

This package re-exports the public names of its modules.
"""

from __future__ import annotations

from hotspots.evaluate.area_run import run_area, write_area
from hotspots.evaluate.backtest import (
    ALL_AREA_METHODS,
    AREA_COVERAGES,
    DEFAULT_AREA_METHODS,
    DEFAULT_AREA_MONTHS,
    area_backtest,
    choose_methods,
    prepare_area,
    summarise_area,
)
from hotspots.evaluate.config import (
    BACKTEST_COLUMNS,
    DEFAULT_COVERAGES,
    DEFAULT_HALF_LIFE_MONTHS,
    DEFAULT_WARMUP_MONTHS,
    DEFAULT_WINDOW_MONTHS,
    GROUP_CRIME_TYPES,
    GROUPS,
    METHOD_UNITS,
    METHODS,
    OUR_METHODS,
    SUMMARY_COLUMNS,
)
from hotspots.evaluate.forecast import (
    forecast_next_month,
    forecast_streets,
    read_chosen,
    write_forecast,
)
from hotspots.evaluate.forecasters import METHODS_AREA
from hotspots.evaluate.methods import kde_bandwidth, kde_on_grid
from hotspots.evaluate.metrics import expected_capture, select_by_budget, summarise_backtest
from hotspots.evaluate.runner import BacktestConfig, BacktestResult, run_backtest
from hotspots.evaluate.street_backtest import evaluate_forecasts
from hotspots.evaluate.study import classify_months, segments_to_study_area
from hotspots.evaluate.units import DEFAULT_PIXEL_M, area_cut
from hotspots.evaluate.writer import plot_backtest

__all__ = [
    "ALL_AREA_METHODS",
    "AREA_COVERAGES",
    "BACKTEST_COLUMNS",
    "DEFAULT_AREA_METHODS",
    "DEFAULT_AREA_MONTHS",
    "DEFAULT_COVERAGES",
    "DEFAULT_HALF_LIFE_MONTHS",
    "DEFAULT_PIXEL_M",
    "DEFAULT_WARMUP_MONTHS",
    "DEFAULT_WINDOW_MONTHS",
    "GROUPS",
    "GROUP_CRIME_TYPES",
    "METHODS",
    "METHODS_AREA",
    "METHOD_UNITS",
    "OUR_METHODS",
    "SUMMARY_COLUMNS",
    "BacktestConfig",
    "BacktestResult",
    "area_backtest",
    "area_cut",
    "choose_methods",
    "classify_months",
    "evaluate_forecasts",
    "expected_capture",
    "forecast_next_month",
    "forecast_streets",
    "kde_bandwidth",
    "kde_on_grid",
    "plot_backtest",
    "prepare_area",
    "read_chosen",
    "run_area",
    "run_backtest",
    "segments_to_study_area",
    "select_by_budget",
    "summarise_area",
    "summarise_backtest",
    "write_area",
    "write_forecast",
]
