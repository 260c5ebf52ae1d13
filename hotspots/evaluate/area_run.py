"""Files of the area backtest (``hotspots evaluate``).

``hotspots evaluate`` adds to its folder:

* ``area_backtest.csv``: one row per group x method x coverage x month (area PAI, hit rate).
* ``area_summary.csv``: means with 95% bootstrap intervals, and the ratio to the baseline.
* ``area_chosen.csv``: the method chosen per group, its record and a plain sentence.
* ``area_pai_<group>.png``: PAI by area against coverage with the intervals, per method.

Next month's list (``hotspots run --forecast``) is in :mod:`hotspots.evaluate.forecast`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

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

__all__ = ["area_plots", "plot_area", "run_area", "write_area"]


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
    cache: str | Path | None = None,
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
    cache
        A cache folder for the study geometry (:mod:`hotspots.evaluate.geometry_cache`);
        None builds it every time.

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
        cache=cache,
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


def area_plots(area: dict[str, Any], *, title: str) -> dict[str, bytes]:
    """Return the area backtest's plots as PNG bytes by file name (``area_pai_<group>.png``)."""
    out = {}
    for group in area["summary"]["group"].unique():
        buf = io.BytesIO()
        plot_area(area["summary"], buf, group=group, title=title)
        out[f"area_pai_{group}.png"] = buf.getvalue()
    return out


def write_area(out: Path, area: dict[str, Any], *, title: str, plots: bool = True) -> None:
    """Write the area backtest's CSV files and (unless ``plots`` is False) plots into ``out``."""
    export.write_csv(area["table"], out / "area_backtest.csv")
    export.write_csv(area["summary"], out / "area_summary.csv")
    export.write_csv(area["chosen"], out / "area_chosen.csv")
    if plots:
        for group in area["summary"]["group"].unique():
            plot_area(area["summary"], out / f"area_pai_{group}.png", group=group, title=title)


def plot_area(
    summary: pd.DataFrame, path: Path | BinaryIO, *, group: str, title: str = ""
) -> Path | BinaryIO:
    """Plot area PAI (left) and its ratio to the baseline (right) against coverage.

    Bars are 95% bootstrap intervals over months.

    Parameters
    ----------
    summary
        From :func:`~hotspots.evaluate.backtest.summarise_area`.
    path
        PNG file to write (or a binary file object).
    group
        Crime group.
    title
        Title line.

    Returns
    -------
    pathlib.Path or file object
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
