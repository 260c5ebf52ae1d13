"""Next month's list (``hotspots run --forecast``), ranked by the method the backtest chose.

``hotspots run --forecast`` reads ``area_chosen.csv`` from ``--backtest`` and writes
``forecast.csv`` (next month's list of map points / pieces / links), ``forecast_streets.csv``
(the same list grouped into named streets) and ``forecast.json`` (which method made it and how
it did, in plain words).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.errors import InputDataError
from hotspots.evaluate import backtest as bt
from hotspots.evaluate import forecasters as fc
from hotspots.output import export

__all__ = [
    "FORECAST_COVERAGE_PCT",
    "forecast_next_month",
    "forecast_streets",
    "read_chosen",
    "write_forecast",
]

#: Share of the study area "next month's list" covers, percent.
FORECAST_COVERAGE_PCT = 1.0


def read_chosen(backtest_dir: Path) -> pd.DataFrame:
    """Return ``area_chosen.csv`` of a ``hotspots evaluate`` folder.

    Raises
    ------
    InputDataError
        If the folder has no area backtest.
    """
    path = Path(backtest_dir) / "area_chosen.csv"
    if not path.is_file():
        msg = (
            f"--backtest {backtest_dir}: no area_chosen.csv; run `hotspots evaluate` (this "
            "version) first to choose the forecasting method"
        )
        raise InputDataError(msg)
    return pd.read_csv(path)


def forecast_next_month(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    region: shapely.Geometry,
    *,
    backtest_dir: Path,
    group: str = "all",
    coverage_pct: float = FORECAST_COVERAGE_PCT,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rank next month's list with the method the backtest chose for ``group``.

    Parameters
    ----------
    crimes
        Crimes (projected) with ``segment_id`` when snapped.
    segments
        Street segments.
    region
        The study area.
    backtest_dir
        A ``hotspots evaluate`` folder with ``area_chosen.csv``.
    group
        Crime group of the list.
    coverage_pct
        Share of the study area's land the list covers, percent.

    Returns
    -------
    tuple
        The list (one row per unit, best first: ``rank``, ``units``, ``x``, ``y``,
        ``segment_id``, ``street_name``, ``crimes_per_month`` (the unit's own, recent-weighted,
        half-life 12 months), ``crimes_per_month_30m`` (the same on all the land within 30 m of
        it, which is what the list covers), ``cum_area_pct``) and the record
        (method, month forecast, plain sentence) for ``forecast.json`` and ``run.json``.
    """
    chosen = read_chosen(backtest_dir)
    row = chosen[chosen["group"] == group]
    if row.empty:
        msg = f"--backtest {backtest_dir}: no method chosen for group {group!r}"
        raise InputDataError(msg)
    rec = {
        k: (None if isinstance(v, float) and math.isnan(v) else v)
        for k, v in row.iloc[0].to_dict().items()
    }
    method = str(rec["method"])
    methods = tuple(fc.ENSEMBLE_OF) if method == bt.ENSEMBLE else (method,)
    data = bt.prepare_area(crimes, segments, region, methods=methods, groups=[group])
    data.cal = np.r_[data.cal, data.cal[-1] + 1]  # the month after the last complete one
    data.extra["cover_budget_m2"] = coverage_pct / 100 * data.extra["raster"].area_m2 * 1.05
    if method == "point_nr":
        bt.prepare_near_repeat_for(data, fit_before=len(data.months))
    hist = fc.History(data, len(data.months))
    if method == bt.ENSEMBLE:
        kind = "points"
        scores = fc.ensemble(
            [fc.METHODS_AREA[m].score(hist, group, _param(m, None)) for m in fc.ENSEMBLE_OF],
            data.units["points"],
        )
    else:
        kind = fc.METHODS_AREA[method].kind
        scores = fc.METHODS_AREA[method].score(hist, group, _param(method, rec.get("param")))
    units = data.units[kind]
    raster = data.extra["raster"]
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > 0]
    budget = coverage_pct / 100 * raster.area_m2
    covered = _cumulative_union(units.pixels, order) * raster.pixel_m**2
    keep = order[: int(np.searchsorted(covered, budget, side="right")) + 1]
    segs = data.extra["segments"]
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(keep) + 1),
            "units": kind,
            "x": units.xy[keep, 0].round(1),
            "y": units.xy[keep, 1].round(1),
            "segment_id": segs["segment_id"].to_numpy()[units.link[keep]],
            "street_name": segs["street_name"].to_numpy()[units.link[keep]]
            if "street_name" in segs
            else "",
            "crimes_per_month": fc.ewma_rate(hist, group, kind, 12.0)[keep].round(3),
            "crimes_per_month_30m": _land_rate(hist, group, units)[keep].round(3),
            "cum_area_pct": (100 * covered[: len(keep)] / raster.area_m2).round(3),
        }
    )
    month = str(pd.Period(data.months[-1], "M") + 1)
    record = {
        "method": method,
        "group": group,
        "month": month,
        "units": kind,
        "coverage_pct": coverage_pct,
        "listed": len(table),
        "streets": int(table["street_name"].nunique()),
        "backtest": rec,
        "text": bt.forecast_sentence(row.iloc[0].to_dict()),
    }
    return table, record


def _land_rate(hist: fc.History, group: str, units: Any) -> np.ndarray:
    """Return recent-weighted crimes per month on the land within 30 m of each unit."""
    w = 0.5 ** ((hist.target_cal - hist.cal) / 12.0)
    pix = hist.data.extra["pixel_counts"][group][: hist.p]
    return np.asarray(units.pixels.T @ (np.asarray(pix.T @ w).ravel() / w.sum())).ravel()


def _param(method: str, value: Any) -> float:
    grid = fc.METHODS_AREA[method].grid
    try:
        return float(value) if value is not None and float(value) in grid else grid[len(grid) // 2]
    except ValueError:
        return grid[len(grid) // 2]


def _cumulative_union(pixels: Any, order: np.ndarray) -> np.ndarray:
    """Return the union's pixel count after each unit of ``order``."""
    sub = pixels[:, order]
    rank = np.repeat(np.arange(len(order)), np.diff(sub.indptr))
    _, first = np.unique(sub.indices, return_index=True)
    return np.cumsum(np.bincount(rank[first], minlength=len(order)))


def forecast_streets(table: pd.DataFrame) -> pd.DataFrame:
    """Return next month's list grouped into named streets (best first).

    Examples
    --------
    >>> t = pd.DataFrame({"rank": [1, 2, 3], "street_name": ["A St", "B Rd", "A St"],
    ...                   "crimes_per_month": [3.0, 2.0, 1.5]})
    >>> forecast_streets(t).values.tolist()
    [['A St', 1, 2, 4.5], ['B Rd', 2, 1, 2.0]]
    """
    named = table.assign(
        street_name=table["street_name"].fillna("(unnamed)").replace("", "(unnamed)")
    )
    g = named.groupby("street_name", sort=False)
    out = pd.DataFrame(
        {
            "best_rank": g["rank"].min(),
            "places": g.size(),
            "crimes_per_month": g["crimes_per_month"].sum().round(3),
        }
    )
    return out.sort_values("best_rank").reset_index()


def write_forecast(out: Path, table: pd.DataFrame, record: dict[str, Any]) -> None:
    """Write ``forecast.csv``, ``forecast_streets.csv`` and ``forecast.json`` into a folder."""
    export.write_csv(table, out / "forecast.csv")
    export.write_csv(forecast_streets(table), out / "forecast_streets.csv")
    (out / "forecast.json").write_text(
        json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8"
    )
