"""Optional files of a run folder the briefs show when they are there.

``rates.csv`` (crime-group rates), ``performance.csv`` and ``compare_areas.csv`` with their
exact tests (best and worst pages), ``forecast_streets.csv`` and run.json's ``forecast``
(next month's list), and the repeat-caller counts of ``hot_streets.csv``. A run folder
without them (an older run, a run without ``--forecast``, data without callers) gives briefs
without those lines: every field of :class:`RunAdditions` may be None.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots.output.export import read_csv
from hotspots.runfolder import HOT_STREETS_CSV

log = logging.getLogger("hotspots")

__all__ = [
    "CALLER_COLUMNS",
    "RunAdditions",
    "read_additions",
]

#: Repeat-caller counts of a place (``hot_streets.csv``, ward lists).
CALLER_COLUMNS = ("repeat_callers_24h", "repeat_callers_6m")
_RATES = ["level", "area_code", "area_name", "crime_group", "crimes", "rate_per_1000"]
_PERFORMANCE = ["performance", "position", "area_code", "area_name", "pct_change"]
_PERFORMANCE_NEW = ["level", "crime_group", "window", "p_value"]
_FORECAST_STREETS = ["forecast_rank", "street", "area_code", "expected"]


@dataclass
class RunAdditions:
    """The optional files of a run folder, read once (None: not in the run folder)."""

    #: Area code to its rows of rates.csv (level "area"), in the file's order.
    rates: dict[str, list[dict[str, Any]]] | None = None
    performance: pd.DataFrame | None = None
    forecast: Mapping[str, Any] | None = None
    #: Area code to its streets of forecast_streets.csv, best first.
    forecast_streets: dict[str, list[dict[str, Any]]] | None = None
    callers: pd.DataFrame | None = None


def _optional_csv(path: Path, need: list[str]) -> pd.DataFrame | None:
    """Read ``path`` when it exists with the columns ``need``; else None (logged if partial)."""
    if not path.exists():
        return None
    table = read_csv(path, dtype={"area_code": str, "area_name": str, "street": str})
    missing = [c for c in need if c not in table.columns]
    if missing:
        log.warning(
            "Briefs: %s has no column(s) %s (a run from another version?): left out",
            path,
            ", ".join(missing),
        )
        return None
    return table


def _read_callers(run_dir: Path) -> pd.DataFrame | None:
    """Per area code: listed places and those with repeat callers in 24 hours and 6 months."""
    path = run_dir / HOT_STREETS_CSV
    if not path.exists():
        return None
    head = pd.read_csv(path, nrows=0).columns
    if not all(c in head for c in CALLER_COLUMNS):
        return None
    table = read_csv(path, dtype={"area_code": str}, usecols=["area_code", *CALLER_COLUMNS])
    counts = table[list(CALLER_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    if counts.isna().all().all():
        return None
    flags = (counts.fillna(0) > 0).astype("int64")
    return flags.assign(area_code=table["area_code"], listed=1).groupby("area_code").sum()


def _by_area(table: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]] | None:
    """Return the rows of each area code, in the table's order."""
    if table is None:
        return None
    out: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_dict("records"):
        out.setdefault(str(row["area_code"]), []).append(row)
    return out


def _forecast_streets(table: pd.DataFrame | None) -> pd.DataFrame | None:
    if table is None:
        return None
    ranked = table.assign(forecast_rank=pd.to_numeric(table["forecast_rank"], errors="coerce"))
    return ranked.dropna(subset=["forecast_rank"]).sort_values("forecast_rank", kind="stable")


def _forecast_backtest(run_dir: Path, forecast: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the backtest figures of forecast.json (top folder or ``run_dir``), or {}."""
    if isinstance(forecast.get("backtest"), Mapping):
        return dict(forecast["backtest"])
    for folder in (run_dir, run_dir.parent.parent):
        path = folder / "forecast.json"
        if path.is_file():
            try:
                found = json.loads(path.read_text(encoding="utf-8")).get("backtest")
            except (OSError, ValueError, AttributeError):
                return {}
            return dict(found) if isinstance(found, Mapping) else {}
    return {}


def read_additions(run_dir: Path, manifest: Mapping[str, Any]) -> RunAdditions:
    """Read the optional files of a run folder (or of one of its ``layers/<NAME>/`` folders).

    Parameters
    ----------
    run_dir
        The run folder, or a layer's folder.
    manifest
        run.json of the run (its ``forecast`` entry).

    Returns
    -------
    RunAdditions
        What the folder holds; None for each file it lacks.
    """
    rates = _optional_csv(run_dir / "rates.csv", _RATES)
    if rates is not None:
        rates = rates[rates["level"] == "area"]
    perf = _optional_csv(run_dir / "performance.csv", [*_PERFORMANCE, *_PERFORMANCE_NEW])
    forecast = manifest.get("forecast")
    streets = None
    if isinstance(forecast, Mapping) and forecast.get("text"):
        streets = _forecast_streets(
            _optional_csv(run_dir / "forecast_streets.csv", _FORECAST_STREETS)
        )
        forecast = {**forecast, "backtest": _forecast_backtest(run_dir, forecast)}
    else:
        forecast = None
    return RunAdditions(
        rates=_by_area(rates),
        performance=perf,
        forecast=forecast,
        forecast_streets=_by_area(streets),
        callers=_read_callers(run_dir),
    )
