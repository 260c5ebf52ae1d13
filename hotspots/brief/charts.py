"""Small inline SVG charts of the briefs: monthly bars and the hour-of-week heatmap."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "hour_week_svg",
    "monthly_bars_svg",
]


def monthly_bars_svg(
    counts: pd.Series,
    *,
    incomplete: Sequence[str] = (),
    windows: Mapping[str, Sequence[str]] | None = None,
    title: str,
) -> str:
    """Return a bar chart of monthly counts as inline SVG, comparison months coloured.

    Parameters
    ----------
    counts
        Counts indexed by month ``YYYY-MM``.
    incomplete
        Months drawn as outlines (left out of comparisons).
    windows
        ``current``, ``previous``, ``year_before``: the months of each comparison window.
    title
        Accessible label and tooltip.

    Returns
    -------
    str
        An ``<svg>`` element, 330 x 70 units, scaling to its container's width.

    Examples
    --------
    >>> svg = monthly_bars_svg(pd.Series([1, 4], index=["2024-01", "2024-02"]), title="t")
    >>> svg.startswith("<svg") and "2024-02" in svg
    True
    """
    colour = {
        m: c
        for key, c in (("year_before", "#6baed6"), ("previous", "#969696"), ("current", "#bd0026"))
        for m in (windows or {}).get(key, [])
    }
    values = counts.to_numpy(dtype=float)
    top = max(float(values.max()) if len(values) else 0.0, 1.0)
    x0, x1, y0, y1 = 28.0, 326.0, 6.0, 54.0
    width = (x1 - x0) / max(len(values), 1)
    body = [f'<path d="M{x0} {y1}H{x1}" stroke="#999" stroke-width=".5"/>']
    for i, (month, v) in enumerate(zip(counts.index, values, strict=True)):
        h = (y1 - y0) * v / top
        style = (
            'fill="none" stroke="#999" stroke-dasharray="1 1"'
            if month in incomplete
            else f'fill="{colour.get(month, "#d0d0d0")}"'
        )
        body.append(
            f'<rect x="{x0 + i * width + 0.5:.1f}" y="{y1 - h:.1f}" width='
            f'"{max(width - 1, 0.5):.1f}" height="{max(h, 0.01):.1f}" {style}>'
            f"<title>{html.escape(str(month))}: {v:g}</title></rect>"
        )
    body += _chart_labels(list(map(str, counts.index)), top, x0, width, y0, y1)
    text = html.escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 330 70" role="img" aria-label="{text}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{text}</title>{"".join(body)}</svg>'
    )


def _chart_labels(
    months: list[str], top: float, x0: float, width: float, y0: float, y1: float
) -> list[str]:
    style = 'font-size="8" fill="#555" font-family="sans-serif"'
    out = [
        f'<text x="{x0 - 3}" y="{y0 + 6}" text-anchor="end" {style}>{top:g}</text>',
        f'<text x="{x0 - 3}" y="{y1}" text-anchor="end" {style}>0</text>',
    ]
    years = [i for i, m in enumerate(months) if m.endswith("-01") or i == 0]
    step = 3 if len(months) <= 24 else 12
    quarters = (
        [i for i in range(0, len(months), step) if all(abs(i - j) >= 3 for j in years)]
        if step == 3
        else []
    )
    for i in sorted({*years, *quarters}):
        label = (
            months[i][:4]
            if i in years and len(months) > 24
            else (months[i] if i in years else months[i][5:])
        )
        out.append(
            f'<text x="{x0 + (i + 0.5) * width:.1f}" y="{y1 + 10}" text-anchor="middle" '
            f"{style}>{html.escape(label)}</text>"
        )
    return out


def hour_week_svg(values: np.ndarray, *, title: str) -> str:
    """Return a 7 x 24 hour-of-week heatmap as inline SVG, sized for print.

    Parameters
    ----------
    values
        168 counts, Monday 00 h first.
    title
        Accessible label.

    Returns
    -------
    str
        An ``<svg>`` element: rows Monday to Sunday, columns 00 to 23 h, five shades by share
        of the busiest hour (white: none).

    Examples
    --------
    >>> hour_week_svg(np.arange(168.0), title="t").count('width="5"')
    168
    """
    top = float(values.max()) if len(values) else 0.0
    level = np.ceil(values / top * 5).astype(int) if top > 0 else np.zeros(168, dtype=int)
    shades = ("#ffffff", "#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
    cells = [
        f'<rect x="{14 + 5 * (i % 24)}" y="{1 + 5 * (i // 24)}" width="5" height="5" '
        f'fill="{shades[lev]}"/>'
        for i, lev in enumerate(level)
    ]
    style = 'font-size="4.6" fill="#555" font-family="sans-serif"'
    days = [
        f'<text x="0" y="{5 + 5 * i}" {style}>{d}</text>'
        for i, d in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    ]
    hours = [f'<text x="{14 + 5 * h}" y="41" {style}>{h:02d}</text>' for h in (0, 6, 12, 18)]
    text = html.escape(title)
    return (
        f'<svg class="week" viewBox="0 0 135 43" role="img" aria-label="{text}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{text}</title>'
        f'<rect x="14" y="1" width="120" height="35" fill="none" stroke="#ccc" '
        f'stroke-width=".3"/>{"".join(cells + days + hours)}</svg>'
    )
