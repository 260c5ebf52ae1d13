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
    "expected_crimes",
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
    cache: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rank next month's list with the method the backtest chose for ``group``.

    Parameters
    ----------
    crimes
        Crimes (projected) with ``segment_id`` when snapped, and ``area_code`` when they were
        joined to areas (then each listed place carries the area of its crimes).
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
    cache
        A cache folder for the study geometry (:mod:`hotspots.evaluate.geometry_cache`);
        None builds it every time.

    Returns
    -------
    tuple
        The list (one row per unit, best first: ``rank``, ``units``, ``x``, ``y``,
        ``segment_id``, ``street_name``, ``crimes_per_month`` (the unit's own, recent-weighted,
        half-life 12 months), ``crimes_per_month_30m`` (the same on all the land within 30 m of
        it, which is what the list covers), ``cum_area_pct``, ``area_code`` (the area most of
        the place's crimes lie in; empty without areas) and ``expected`` (crimes expected
        next month, see :func:`expected_crimes`)) and the record (method, month forecast,
        plain sentence) for ``forecast.json`` and ``run.json``.
    """
    rec = _chosen_record(backtest_dir, group)
    method = str(rec["method"])
    methods = tuple(fc.ENSEMBLE_OF) if method == bt.ENSEMBLE else (method,)
    data = bt.prepare_area(crimes, segments, region, methods=methods, groups=[group], cache=cache)
    data.cal = np.r_[data.cal, data.cal[-1] + 1]  # the month after the last complete one
    data.extra["cover_budget_m2"] = coverage_pct / 100 * data.extra["raster"].area_m2 * 1.05
    if method == "point_nr":
        bt.prepare_near_repeat_for(data, fit_before=len(data.months))
    hist = fc.History(data, len(data.months))
    kind, scores = _scores(hist, group, method, rec.get("param"))
    table, new_rate = _list_table(hist, group, kind, scores, coverage_pct)
    total = float(_pixel_rate(hist, group).sum())
    table["expected"] = expected_crimes(new_rate, hit_rate=rec.get("hit_rate_1"), total=total)
    table["expected"] = table["expected"].round(3)
    record = {
        "method": method,
        "group": group,
        "month": str(pd.Period(data.months[-1], "M") + 1),
        "units": kind,
        "coverage_pct": coverage_pct,
        "listed": len(table),
        "streets": int(table["street_name"].nunique()),
        "expected_crimes": round(float(table["expected"].sum()), 1),
        "backtest": rec,
        "text": bt.forecast_sentence(rec),
    }
    return table, record


def _chosen_record(backtest_dir: Path, group: str) -> dict[str, Any]:
    chosen = read_chosen(backtest_dir)
    row = chosen[chosen["group"] == group]
    if row.empty:
        msg = f"--backtest {backtest_dir}: no method chosen for group {group!r}"
        raise InputDataError(msg)
    return {
        k: (None if isinstance(v, float) and math.isnan(v) else v)
        for k, v in row.iloc[0].to_dict().items()
    }


def _scores(hist: fc.History, group: str, method: str, param: Any) -> tuple[str, np.ndarray]:
    """Return the unit kind and the scores of the chosen method for the target month."""
    if method == bt.ENSEMBLE:
        parts = [fc.METHODS_AREA[m].score(hist, group, _param(m, None)) for m in fc.ENSEMBLE_OF]
        return "points", fc.ensemble(parts, hist.data.units["points"])
    return fc.METHODS_AREA[method].kind, fc.METHODS_AREA[method].score(
        hist, group, _param(method, param)
    )


def _list_table(
    hist: fc.History, group: str, kind: str, scores: np.ndarray, coverage_pct: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the units by score until their land covers ``coverage_pct`` of the study area.

    Also returns the recent-weighted crimes per month on the land each listed unit adds to the
    list (land it shares with a unit ranked before it counts for that one).
    """
    data = hist.data
    units = data.units[kind]
    raster = data.extra["raster"]
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > 0]
    budget = coverage_pct / 100 * raster.area_m2
    rate = _pixel_rate(hist, group)
    count, new_rate = _cumulative_union(units.pixels, order, rate)
    covered = count * raster.pixel_m**2
    keep = order[: int(np.searchsorted(covered, budget, side="right")) + 1]
    segs = data.extra["segments"]
    link = units.link[keep]
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(keep) + 1),
            "units": kind,
            "x": units.xy[keep, 0].round(1),
            "y": units.xy[keep, 1].round(1),
            "segment_id": segs["segment_id"].to_numpy()[link],
            "street_name": segs["street_name"].to_numpy()[link] if "street_name" in segs else "",
            "crimes_per_month": fc.ewma_rate(hist, group, kind, 12.0)[keep].round(3),
            "crimes_per_month_30m": np.asarray(units.pixels.T @ rate).ravel()[keep].round(3),
            "cum_area_pct": (100 * covered[: len(keep)] / raster.area_m2).round(3),
            "area_code": _unit_areas(data.extra["crimes"], units)[keep],
        }
    )
    return table, new_rate[: len(keep)]


def _unit_areas(crimes: pd.DataFrame, units: Any) -> np.ndarray:
    """Return the area code most of each unit's crimes lie in (empty when unknown)."""
    out = np.full(len(units), "", dtype=object)
    if "area_code" not in crimes:
        return out
    code = crimes["area_code"].astype("string")
    known = code.notna().to_numpy()
    pairs = pd.DataFrame({"unit": units.of_crime[known], "code": code[known].to_numpy()})
    top = pairs.value_counts(sort=True).reset_index().drop_duplicates("unit")
    out[top["unit"].to_numpy()] = top["code"].astype(str).to_numpy()
    return out


def expected_crimes(rate: np.ndarray, *, hit_rate: float | None, total: float) -> np.ndarray:
    """Return the crimes each listed place may expect next month, calibrated by the backtest.

    Recent-weighted rates of places picked for being busy overstate next month (a busy spell
    tends to calm down). So the rates of the land each place adds to the list are scaled to
    add up to what such lists held in the backtest: the chosen method's mean hit rate at this
    coverage times the recent-weighted crimes per month of the whole study area.

    Parameters
    ----------
    rate
        Recent-weighted crimes per month on the land each listed place adds to the list.
    hit_rate
        Mean backtest hit rate of the chosen method at the list's coverage (None: no scaling).
    total
        Recent-weighted crimes per month of the whole study area.

    Returns
    -------
    numpy.ndarray
        Expected crimes per place; they add up to ``hit_rate x total``.

    Examples
    --------
    >>> expected_crimes(np.array([3.0, 1.0]), hit_rate=0.2, total=10.0).tolist()
    [1.5, 0.5]
    """
    listed = float(rate.sum())
    if hit_rate is None or not np.isfinite(hit_rate) or listed <= 0:
        return np.asarray(rate, dtype=float)
    return np.asarray(rate * (hit_rate * total / listed))


def _pixel_rate(hist: fc.History, group: str) -> np.ndarray:
    """Return recent-weighted crimes per month (half-life 12 months) of each kept pixel."""
    w = 0.5 ** ((hist.target_cal - hist.cal) / 12.0)
    pix = hist.data.extra["pixel_counts"][group][: hist.p]
    return np.asarray(np.asarray(pix.T @ w).ravel() / w.sum())


def _param(method: str, value: Any) -> float:
    grid = fc.METHODS_AREA[method].grid
    try:
        return float(value) if value is not None and float(value) in grid else grid[len(grid) // 2]
    except ValueError:
        return grid[len(grid) // 2]


def _cumulative_union(
    pixels: Any, order: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the union's pixel count after each unit of ``order``, and each unit's new weight.

    A pixel counts for the first unit of ``order`` that covers it.
    """
    sub = pixels[:, order]
    rank = np.repeat(np.arange(len(order)), np.diff(sub.indptr))
    pix, first = np.unique(sub.indices, return_index=True)
    new = np.bincount(rank[first], weights=weight[pix], minlength=len(order))
    return np.cumsum(np.bincount(rank[first], minlength=len(order))), new


def forecast_streets(table: pd.DataFrame) -> pd.DataFrame:
    """Return next month's list grouped into named streets per area (best first).

    A street crossing areas gives one row per area (``area_code``), so the area lists can
    show each street's place in next month's list. Columns: ``street_name``, ``best_rank``,
    ``places``, ``crimes_per_month``, then ``forecast_rank`` (1 = the street holding the
    list's first place), ``street`` (the name as the hot-street lists write it),
    ``area_code`` and ``expected`` (crimes expected next month on its listed places).

    Examples
    --------
    >>> t = pd.DataFrame({"rank": [1, 2, 3], "street_name": ["A St", "B Rd", "A St"],
    ...                   "crimes_per_month": [3.0, 2.0, 1.5], "area_code": ["E1", "E1", "E1"],
    ...                   "expected": [1.0, 0.5, 0.5]})
    >>> forecast_streets(t)[["street_name", "places", "forecast_rank", "expected"]].values.tolist()
    [['A St', 2, 1, 1.5], ['B Rd', 1, 2, 0.5]]
    """
    named = table.assign(
        street_name=table["street_name"].fillna("(unnamed)").replace("", "(unnamed)"),
        area_code=table["area_code"].fillna("") if "area_code" in table else "",
        expected=table["expected"] if "expected" in table else table["crimes_per_month"],
    )
    g = named.groupby(["street_name", "area_code"], sort=False)
    out = pd.DataFrame(
        {
            "best_rank": g["rank"].min(),
            "places": g.size(),
            "crimes_per_month": g["crimes_per_month"].sum().round(3),
            "expected": g["expected"].sum().round(3),
        }
    )
    out = out.sort_values("best_rank").reset_index()
    out["forecast_rank"] = np.arange(1, len(out) + 1)
    out["street"] = out["street_name"]
    cols = ["street_name", "best_rank", "places", "crimes_per_month"]
    return out[[*cols, "forecast_rank", "street", "area_code", "expected"]]


def write_forecast(out: Path, table: pd.DataFrame, record: dict[str, Any]) -> None:
    """Write ``forecast.csv``, ``forecast_streets.csv`` and ``forecast.json`` into a folder."""
    export.write_csv(table, out / "forecast.csv")
    export.write_csv(forecast_streets(table), out / "forecast_streets.csv")
    (out / "forecast.json").write_text(
        json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8"
    )
