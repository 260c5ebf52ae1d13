"""The forecast stage: backtest evidence for the lists and next month's list (issue 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hotspots.errors import InputDataError
from hotspots.pipeline.config import RunConfig
from hotspots.runfolder import RunResult

__all__ = [
    "add_forecast",
    "backtest_evidence",
]


def add_forecast(config: RunConfig, result: RunResult) -> None:
    """Rank next month's list with the method the backtest chose (written by write_run)."""
    from hotspots import evaluate

    if config.forecast.backtest is None:
        msg = "--forecast needs --backtest <a hotspots evaluate folder> (it holds the choice)"
        raise InputDataError(msg)
    from hotspots.space.cache import cache_dir

    # the study geometry depends on the street layer alone: kept beside the segment cache,
    # where `hotspots evaluate` on the same streets has stored it
    region = evaluate.segments_to_study_area(
        result.segments, distance_m=config.ranking.snap_distance_m, cache=cache_dir()
    )
    table, record = evaluate.forecast_next_month(
        result.crimes,
        result.segments,
        region,
        backtest_dir=config.forecast.backtest,
        cache=cache_dir(),
    )
    result.tables["forecast_list"] = table
    result.tables["forecast_streets"] = evaluate.forecast_streets(table)
    result.tables["forecast"] = pd.DataFrame([{k: v for k, v in record.items() if k != "backtest"}])
    result.records["forecast"] = record


def backtest_evidence(backtest_dir: Path, result: RunResult) -> dict[str, Any]:
    """Return how much of next month's crime streets like the listed ones held in a backtest.

    Parameters
    ----------
    backtest_dir
        A folder written by ``hotspots evaluate`` (its ``backtest.csv`` is read).
    result
        The run: the listed hot streets' share of street length sets the coverage.

    Returns
    -------
    dict
        ``method`` ("hot_streets"), ``coverage_pct`` (the listed streets' share of street
        length, capped at the largest level scored), ``expected_share``, ``months`` scored and
        a one-line ``text`` for maps and hand-outs.

    Raises
    ------
    InputDataError
        If the folder holds no ``backtest.csv``.
    """
    from hotspots import evaluate

    path = Path(backtest_dir) / "backtest.csv"
    if not path.is_file():
        msg = f"--backtest {backtest_dir}: no backtest.csv; run `hotspots evaluate` first"
        raise InputDataError(msg)
    table = pd.read_csv(path)
    rows = table[(table["method"] == "hot_streets") & (table["group"] == "all")]
    listed = 100 * result.hot_streets["length_m"].sum() / result.segments["length_m"].sum()
    coverage = float(min(listed, rows["coverage_pct"].max()))
    share = evaluate.expected_capture(table, method="hot_streets", coverage=coverage)
    months = int(rows["month"].nunique())
    scope = (
        f"the top {coverage:.1f}% of street length (this list covers {listed:.1f}%)"
        if listed > coverage + 0.05
        else f"hot streets covering {coverage:.1f}% of street length"
    )
    text = (
        f"Backtest over {months} months: {scope} "
        f"held on average {100 * share:.0f}% of the next month's crime on these streets' network"
    )
    return {
        "method": "hot_streets",
        "coverage_pct": round(coverage, 2),
        "listed_length_pct": round(listed, 2),
        "expected_share": round(share, 4),
        "months": months,
        "text": text,
    }
