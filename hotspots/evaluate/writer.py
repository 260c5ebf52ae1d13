"""Files of the street backtest: the CSV tables, the plots and ``evaluate.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hotspots import runfolder
from hotspots.evaluate.area_run import plot_area, write_area
from hotspots.evaluate.config import OUR_METHODS
from hotspots.evaluate.workers import fork_map
from hotspots.output import export

__all__ = ["plot_backtest", "write_backtest"]


_METRIC_LABELS = {"pai": "PAI (hit rate / area share)", "hit_rate": "hit rate (share of crime)"}


def plot_backtest(
    summary: pd.DataFrame, path: Path, *, group: str, metric: str = "pai", title: str = ""
) -> Path:
    """Plot a metric against coverage, one line per method (mean, bars: min to max).

    Parameters
    ----------
    summary
        From :func:`summarise_backtest`.
    path
        PNG file to write.
    group
        Crime group to plot.
    metric
        ``"pai"`` or ``"hit_rate"``.
    title
        Title line above the group name.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    fig = Figure(figsize=(7.5, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    part = summary[summary["group"] == group]
    for i, (method, rows) in enumerate(part.groupby("method", sort=False)):
        x, mean = rows["coverage_pct"].to_numpy(), rows[f"{metric}_mean"].to_numpy()
        err = np.vstack([mean - rows[f"{metric}_min"], rows[f"{metric}_max"] - mean])
        ours = method in OUR_METHODS
        ax.errorbar(
            x * (1 + 0.012 * (i - 4)),
            mean,
            yerr=err,
            label=method,
            marker="o",
            linestyle="-" if ours else "--",
            linewidth=2.2 if ours else 1.2,
            capsize=2,
            markersize=4,
        )
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(sorted(part["coverage_pct"].unique()))
    ax.set_xticklabels([f"{c:g}%" for c in sorted(part["coverage_pct"].unique())])
    ax.set_xlabel("coverage (share of street length = share of study area)")
    ax.set_ylabel(_METRIC_LABELS[metric])
    months = int(part["months"].max()) if len(part) else 0
    ax.set_title(f"{title}\n{group}: mean over {months} months (bars: min to max)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    return path


def _draw(plot: Callable[[], object]) -> None:
    plot()


def write_backtest(
    out: Path,
    table: pd.DataFrame,
    summary: pd.DataFrame,
    manifest: dict[str, Any],
    *,
    title: str,
    overwrite: bool,
    area: dict[str, Any] | None = None,
    drawn: dict[str, bytes] | None = None,
) -> None:
    """Write the backtest folder (CSV tables, plots, ``evaluate.json``) atomically into ``out``.

    The files go to a private folder moved into place when complete, under ``out``'s lock
    (:func:`hotspots.runfolder.staged_folder`). ``drawn`` holds plots already drawn (PNG
    bytes by file name, e.g. from :func:`~hotspots.evaluate.area_run.area_plots`).
    """
    drawn = drawn or {}
    # a private folder moved into place when complete, under OUT's lock (runfolder)
    with runfolder.staged_folder(out, overwrite=overwrite) as tmp:
        export.write_csv(table, tmp / "backtest.csv")
        export.write_csv(summary, tmp / "backtest_summary.csv")
        plots: dict[str, Callable[[], object]] = {
            f"{metric}_{group}.png": partial(
                plot_backtest,
                summary,
                tmp / f"{metric}_{group}.png",
                group=group,
                metric=metric,
                title=title,
            )
            for group in summary["group"].unique()
            for metric in ("pai", "hit_rate")
        }
        if area is not None:
            area_title = title.split(":", maxsplit=1)[0] + ": area backtest"
            write_area(tmp, area, title=area_title, plots=False)
            for group in area["summary"]["group"].unique():
                name = f"area_pai_{group}.png"
                plots[name] = partial(
                    plot_area, area["summary"], tmp / name, group=group, title=area_title
                )
        for name, png in drawn.items():
            (tmp / name).write_bytes(png)
            plots.pop(name, None)
        fork_map(_draw, list(plots.values()))  # the plots are independent: two processes draw them
        (tmp / "evaluate.json").write_text(
            json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8"
        )
