"""Charts shared by maps, sites and briefs: inline SVG sparklines and heatmaps, PNG plots."""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hotspots.errors import InputDataError
from hotspots.temporal.common import DAYS, profile_values

__all__ = [
    "hour_day_svg",
    "monthly_svg",
    "monthly_svgs",
    "plot_hour_day",
    "plot_monthly",
]

_PALETTE = ("#f0f0f0", "#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    text = html.escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{text}">'
        f"<title>{text}</title>{''.join(body)}"
        "<style>text{font:7px sans-serif;fill:#444}</style></svg>"
    )


def hour_day_svg(profile_row: pd.Series | np.ndarray, *, title: str | None = None) -> str:
    """Return a small 7 x 24 hour-of-week heatmap as inline SVG text (for map popups).

    Parameters
    ----------
    profile_row
        One row of :func:`hour_day_profile`.
    title
        Tooltip and accessible label; default names the total and the busiest hour.

    Returns
    -------
    str
        A self-contained ``<svg>`` element (no script, no external files), under 6 kB: rows
        Monday to Sunday, columns 00 to 23 h, five colour classes by share of the busiest
        hour (grey: none).

    Examples
    --------
    >>> svg = hour_day_svg(np.arange(168.0))
    >>> svg.startswith("<svg") and len(svg) < 6000
    True
    """
    values = profile_values(profile_row)
    peak = int(np.argmax(values))
    title = title or (
        f"Crimes by hour of week (n = {values.sum():.0f}); busiest hour "
        f"{DAYS[peak // 24]} {peak % 24:02d}:00"
    )
    top = values.max()
    level = np.ceil(values / top * 5).astype(int) if top > 0 else np.zeros(168, dtype=int)
    body = []
    for lev, colour in enumerate(_PALETTE):
        cells = np.flatnonzero(level == lev).tolist()  # Python ints: faster to format
        if cells:
            d = "".join(f"M{20 + 5 * (c % 24)} {2 + 5 * (c // 24)}h5v5h-5z" for c in cells)
            body.append(f'<path fill="{colour}" d="{d}"/>')
    body += [f'<text x="0" y="{7 + 5 * i}">{d}</text>' for i, d in enumerate(DAYS)]
    body += [f'<text x="{20 + 5 * h}" y="46">{h:02d}</text>' for h in (0, 6, 12, 18)]
    return _svg(142, 48, title, body)


def _monthly_values_1d(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series.dtype):  # counts: no parsing per value
        values = series.to_numpy(dtype=float, na_value=np.nan)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if not len(values) or np.isnan(values).any():
        msg = (
            "`series` must hold one count per month (a row of `monthly_profile`); found "
            f"{len(values)} values, {int(np.isnan(values).sum())} missing. Pass "
            "`monthly.loc[group]`"
        )
        raise InputDataError(msg)
    return np.asarray(values, dtype=float)


def monthly_svg(series: pd.Series, *, title: str | None = None) -> str:
    """Return a small trend line of monthly counts as inline SVG text (for map popups).

    Parameters
    ----------
    series
        Counts indexed by month (``"YYYY-MM"``), e.g. a row of :func:`monthly_profile`.
    title
        Tooltip and accessible label; default names the period and the total.

    Returns
    -------
    str
        A self-contained ``<svg>`` element with the line, the first and last month under it and
        the highest count at the top left.

    Examples
    --------
    >>> svg = monthly_svg(pd.Series([3, 5, 4], index=["2024-01", "2024-02", "2024-03"]))
    >>> "2024-01" in svg and "2024-03" in svg
    True
    """
    values = _monthly_values_1d(series)
    return _monthly_svg(values, [str(i) for i in series.index], title=title)


@functools.lru_cache(maxsize=32)
def _sparkline_x(n: int) -> tuple[str, ...]:
    """Return the x coordinates of an ``n``-month sparkline as text (the same for all)."""
    return tuple(f"{a:.1f}" for a in 2 + np.arange(n) * (156 / max(n - 1, 1)))


def _monthly_svg(values: np.ndarray, labels: list[str], *, title: str | None = None) -> str:
    """:func:`monthly_svg` of counts already as floats (one per label), checked."""
    title = title or f"Crimes per month, {labels[0]} to {labels[-1]} (n = {values.sum():.0f})"
    top = max(float(values.max()), 1.0)
    y = 36 - values / top * 28
    points = " ".join(f"{a},{b:.1f}" for a, b in zip(_sparkline_x(len(values)), y, strict=True))
    body = [
        '<path stroke="#ccc" d="M2 36.5h156"/>',
        f'<polyline fill="none" stroke="#bd0026" stroke-width="1.5" points="{points}"/>',
        f'<text x="2" y="7">max {top:g}</text>',
        f'<text x="2" y="46">{html.escape(labels[0])}</text>',
        f'<text x="158" y="46" text-anchor="end">{html.escape(labels[-1])}</text>',
    ]
    return _svg(160, 48, title, body)


def monthly_svgs(rows: np.ndarray, labels: list[str]) -> list[str]:
    """:func:`_monthly_svg` of each row of counts (rows x months, finite floats), as a list.

    The same text as one call per row, made with one formatting of each distinct value: the
    heights and maxima repeat across rows (small counts), so they are formatted once.
    """
    if not len(rows):
        return []
    tops = np.maximum(rows.max(axis=1), 1.0)
    heights = 36 - rows / tops[:, None] * 28  # as _monthly_svg computes each row
    uniq, inv = np.unique(heights, return_inverse=True)
    y_text = np.array([f"{b:.1f}" for b in uniq], dtype=object)[inv.reshape(heights.shape)]
    x_text = np.array([f"{a}," for a in _sparkline_x(rows.shape[1])], dtype=object)
    points = [" ".join(r) for r in (x_text[None, :] + y_text).tolist()]
    totals = rows.sum(axis=1)
    first, last = html.escape(labels[0]), html.escape(labels[-1])
    # _svg's page, split at the values of each row; escaping is per character and the
    # numbers need none, so the escaped labels are put in as they are
    head = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="48" '
        'viewBox="0 0 160 48" role="img" aria-label="'
    )
    period = f"Crimes per month, {first} to {last} (n = "
    tail = (
        f'<text x="2" y="46">{first}</text>'
        f'<text x="158" y="46" text-anchor="end">{last}</text>'
        "<style>text{font:7px sans-serif;fill:#444}</style></svg>"
    )
    return [
        f'{head}{period}{total:.0f})"><title>{period}{total:.0f})</title>'
        '<path stroke="#ccc" d="M2 36.5h156"/>'
        f'<polyline fill="none" stroke="#bd0026" stroke-width="1.5" points="{pts}"/>'
        f'<text x="2" y="7">max {top:g}</text>{tail}'
        for pts, top, total in zip(points, tops.tolist(), totals.tolist(), strict=True)
    ]


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    fig.savefig(path, metadata={"Software": None})
    return path


def plot_hour_day(profile_row: pd.Series | np.ndarray, path: str | Path, *, title: str) -> Path:
    """Write a PNG heatmap of crime by day of week and hour.

    Parameters
    ----------
    profile_row
        One row of :func:`hour_day_profile`.
    path
        PNG file to write.
    title
        Plot title (say which data, place and period).

    Returns
    -------
    pathlib.Path
        The file written (no timestamp metadata, so reruns give the same bytes).
    """
    grid = profile_values(profile_row).reshape(7, 24)
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax.set_yticks(range(7), DAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day (crimes without an exact time spread over their window)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="crimes")
    return _save(fig, path)


def plot_monthly(
    series: pd.Series, path: str | Path, *, title: str, incomplete: Sequence[str] | None = None
) -> Path:
    """Write a PNG line chart of crimes per month.

    Parameters
    ----------
    series
        Counts indexed by month (``"YYYY-MM"``), e.g. a row of :func:`monthly_profile`.
    path
        PNG file to write.
    title
        Plot title.
    incomplete
        Months to mark as incomplete (hollow markers), e.g. from :func:`classify_months`.

    Returns
    -------
    pathlib.Path
        The file written (no timestamp metadata).
    """
    values = _monthly_values_1d(series)
    labels = [str(i) for i in series.index]
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(values))
    ax.plot(x, values, color="#bd0026", marker="o", markersize=3)
    bad = np.isin(labels, list(incomplete or ()))
    if bad.any():
        ax.plot(x[bad], values[bad], "o", mfc="white", mec="#444", label="incomplete month")
        ax.legend(loc="best")
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("crimes")
    ax.set_title(title)
    return _save(fig, path)
