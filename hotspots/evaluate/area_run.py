"""Files of the area backtest (``hotspots evaluate``) and next month's list (``run --forecast``).

``hotspots evaluate`` adds to its folder:

* ``area_backtest.csv``: one row per group x method x coverage x month (area PAI, hit rate).
* ``area_summary.csv``: means with 95% bootstrap intervals, and the ratio to the baseline.
* ``area_chosen.csv``: the method chosen per group, its record and a plain sentence.
* ``area_pai_<group>.png``: PAI by area against coverage with the intervals, per method.

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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hotspots.errors import InputDataError
from hotspots.evaluate import backtest as bt
from hotspots.evaluate import forecasters as fc
from hotspots.output import export

__all__ = [
    "FORECAST_COVERAGE_PCT",
    "forecast_next_month",
    "forecast_streets",
    "plot_area",
    "read_chosen",
    "run_area",
    "write_area",
    "write_forecast",
]

#: Share of the study area "next month's list" covers, percent.
FORECAST_COVERAGE_PCT = 1.0


def run_area(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    region: shapely.Geometry,
    *,
    warmup_months: int,
    months_back: int | None,
    methods: tuple[str, ...] | None = None,
    groups: tuple[str, ...] | None = None,
    pixel_m: float = 10.0,
    quiet: bool = True,
) -> dict[str, Any]:
    """Run the area backtest; return its tables and manifest entry.

    Parameters
    ----------
    crimes, segments, region
        As for :func:`hotspots.evaluate.evaluate_forecasts`.
    warmup_months
        Complete months before the first target month.
    months_back
        Score only the last ``months_back`` target months (None: all).
    methods
        Methods (default :data:`~hotspots.evaluate.backtest.DEFAULT_AREA_METHODS`;
        ``point_nr`` is dropped when the crimes lack dates and times).
    groups
        Crime groups to keep (the brief's group names, and ``all``); None: every group with
        enough crime. Names the brief does not have are ignored (``all`` is always kept).
    pixel_m
        Raster pixel, metres.
    quiet
        If True, log nothing.

    Returns
    -------
    dict
        ``table``, ``summary``, ``chosen`` (DataFrames) and ``manifest`` (for evaluate.json).
    """
    if methods is None:
        methods = bt.DEFAULT_AREA_METHODS
    if "point_nr" in methods and not bt.timed_crimes(crimes):
        methods = tuple(m for m in methods if m != "point_nr")
    data = bt.prepare_area(
        crimes,
        segments,
        region,
        methods=methods,
        pixel_m=pixel_m,
        groups=sorted({"all", *groups}) if groups else None,
        quiet=quiet,
    )
    targets = list(range(warmup_months, len(data.months)))
    if months_back:
        targets = targets[-months_back:]
    if not targets:
        msg = f"the area backtest has no month to score after a warm-up of {warmup_months}"
        raise InputDataError(msg)
    if "point_nr" in methods:  # fitted on the days before the first target month only
        bt.prepare_near_repeat_for(data, fit_before=targets[0])
    table = bt.area_backtest(data, targets=targets, methods=methods)
    summary = bt.summarise_area(table)
    chosen = bt.choose_methods(table, summary)
    manifest = {
        "methods": list(methods),
        "groups": data.extra["groups"],
        "months_scored": [data.months[p] for p in targets],
        "study_area_m2": data.extra["raster"].area_m2,
        "pixel_m": pixel_m,
        "units": {k: len(u) for k, u in data.units.items()},
        "chosen": {r["group"]: r["method"] for r in chosen.to_dict("records")},
        "near_repeat": data.extra.get("nr_summary"),
        "seconds_prepare": data.extra["seconds_prepare"],
        "rules": {
            "area": "each unit stands for the land within 30 m of it (pixels of the study "
            "area whose centre is within 30 m); a selection covers the union of its "
            "units' land, so overlaps count once; crimes count when they lie in it",
            "area_pai": "(n/N) / (a/A), a the covered land, A the study area's land",
            "tuning": "parameters and the auto choice use only target months before t",
            "intervals": f"95% percentile bootstrap over target months ({bt.N_BOOT} resamples)",
            "baseline": fc.METHODS_AREA[fc.BASELINE].text,
        },
    }
    return {"table": table, "summary": summary, "chosen": chosen, "manifest": manifest}


def write_area(out: Path, area: dict[str, Any], *, title: str) -> None:
    """Write the area backtest's CSV files and plots into ``out``."""
    export.write_csv(area["table"], out / "area_backtest.csv")
    export.write_csv(area["summary"], out / "area_summary.csv")
    export.write_csv(area["chosen"], out / "area_chosen.csv")
    for group in area["summary"]["group"].unique():
        plot_area(area["summary"], out / f"area_pai_{group}.png", group=group, title=title)


def plot_area(summary: pd.DataFrame, path: Path, *, group: str, title: str = "") -> Path:
    """Plot area PAI (left) and its ratio to the baseline (right) against coverage.

    Bars are 95% bootstrap intervals over months.

    Parameters
    ----------
    summary
        From :func:`~hotspots.evaluate.backtest.summarise_area`.
    path
        PNG file to write.
    group
        Crime group.
    title
        Title line.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    fig = Figure(figsize=(11, 4.6), dpi=100)
    FigureCanvasAgg(fig)
    part = summary[summary["group"] == group]
    axes = fig.subplots(1, 2)
    for i, (method, rows) in enumerate(part.groupby("method", sort=False)):
        x = rows["coverage_pct"].to_numpy() * (1 + 0.015 * (i - 4))
        base = method == fc.BASELINE
        for ax, col in zip(axes, ("pai", "ratio"), strict=True):
            mean = rows[f"{col}_mean"].to_numpy()
            lo = np.nan_to_num(mean - rows[f"{col}_lo"].to_numpy())
            hi = np.nan_to_num(rows[f"{col}_hi"].to_numpy() - mean)
            ax.errorbar(
                x,
                mean,
                yerr=np.vstack([lo, hi]),
                label=method,
                marker="o",
                linestyle="--" if base else "-",
                linewidth=1.2 if base else 2,
                capsize=2,
                markersize=4,
            )
    for ax, label in zip(
        axes,
        ("PAI by area (hit rate / area share)", "PAI / baseline PAI (same month)"),
        strict=True,
    ):
        ax.set_xscale("log")
        ax.minorticks_off()
        cov = sorted(part["coverage_pct"].unique())
        ax.set_xticks(cov)
        ax.set_xticklabels([f"{c:g}%" for c in cov])
        ax.set_xlabel("coverage (share of the study area's land)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].axhline(1.0, color="grey", linewidth=1)
    axes[0].legend(fontsize=7, ncol=2)
    months = int(part["months"].max()) if len(part) else 0
    fig.suptitle(
        f"{title}\n{group}: mean over {months} months, bars 95% bootstrap intervals", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    return path


# --------------------------------------------------------------------------------------------
# next month's list (hotspots run --forecast)


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
