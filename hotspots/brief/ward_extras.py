"""Lines of a ward brief from the run's optional files: rates, next month's list, callers.

Each line is left out when its file is not in the run folder (:mod:`hotspots.brief.additions`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hotspots.brief.context import BriefContext
from hotspots.brief.page import escape_text, format_number, weapons_note
from hotspots.output.map_options import SYNTHETIC_MARK

__all__ = [
    "callers_line",
    "forecast_line",
    "rates_line",
    "ward_extras",
]

#: Streets of next month's list named per ward.
FORECAST_STREETS = 5


def _rate(row: Any) -> tuple[float, str]:
    """Return the rate shown for a rates.csv row: per 1,000 residents, else per km of street."""
    per_resident = pd.to_numeric(row.get("rate_per_1000"), errors="coerce")
    if pd.notna(per_resident):
        return float(per_resident), "per 1,000 residents a year"
    return float(pd.to_numeric(row.get("rate_per_km"), errors="coerce")), "per km of street"


def rates_line(ctx: BriefContext, code: str) -> str:
    """Return the ward's crime-group rates (rates.csv) with their caveat, or ''."""
    rates = ctx.additions.rates
    if rates is None:
        return ""
    rows = [r for r in rates.get(code, []) if r["crimes"] > 0]
    shown = [(r, *_rate(r)) for r in rows]
    shown = [(r, v, unit) for r, v, unit in shown if pd.notna(v)]
    if not shown:
        return ""
    unit = shown[0][2]
    parts = [
        f"{escape_text(r['crime_group'])} {format_number(v, 1)}" for r, v, u in shown if u == unit
    ]
    months = pd.to_numeric(shown[0][0].get("months"), errors="coerce")
    span = f"crimes of the last {format_number(months)} months" if pd.notna(months) else "crimes"
    caveats = [str(r["caveat"]) for r in rows if isinstance(r.get("caveat"), str)]
    notes = list(dict.fromkeys(part for c in caveats for part in c.split("; ") if part))
    if not any("knife" in n for n in notes):  # said once, whether rates.csv says it or not
        notes += sorted(
            {weapons_note(str(r["crime_group"]), ctx.run.source_kind) for r, _, _ in shown} - {""}
        )
    note = f" <i>{escape_text('; '.join(notes).capitalize())}.</i>" if notes else ""
    return f"<p><b>Rates {unit}</b> ({span}): {' · '.join(parts)}.{note}</p>"


def _forecast_summary(forecast: Any) -> str:
    """Return the method and its backtest in a few words (the full sentence: forecast.json).

    Examples
    --------
    >>> bt = {"months": 11, "hit_rate_1": 0.288, "ratio_1": 1.826}
    >>> _forecast_summary({"method": "point_cover", "group": "all", "backtest": bt})[-59:]
    "held 29% of the next month's crime, 1.83 times plain counts"
    >>> _forecast_summary({"method": "counts", "text": "Made by counts."})
    'Made by counts.'
    """
    bt = forecast.get("backtest") or {}
    figures = [pd.to_numeric(bt.get(k), errors="coerce") for k in ("months", "hit_rate_1")]
    if not forecast.get("method") or any(pd.isna(v) for v in figures):
        return str(forecast.get("text", ""))
    group = str(forecast.get("group") or "all")
    text = (
        f"{forecast['method']}, {'all crime' if group == 'all' else group}; in "
        f"{figures[0]:.0f} past months its top 1% of the area held {figures[1]:.0%} of the next "
        "month's crime"
    )
    ratio = pd.to_numeric(bt.get("ratio_1"), errors="coerce")
    return text + (f", {ratio:.2f} times plain counts" if pd.notna(ratio) else "")


def forecast_line(ctx: BriefContext, code: str) -> str:
    """Return which method made next month's list, how it did, and the ward's top streets."""
    forecast = ctx.additions.forecast
    if not forecast:
        return ""
    month = f" for {escape_text(forecast.get('month'))}" if forecast.get("month") else ""
    summary = _forecast_summary(forecast)
    short = summary != str(forecast.get("text", ""))  # else no backtest figures: as given
    text = (
        f"<p><b>Forecast{month}</b> ({escape_text(summary)})"
        if short
        else f"<p><b>Forecast{month}</b>: {escape_text(summary)}"
    )
    streets = ctx.additions.forecast_streets
    if streets is None:
        return text + (".</p>" if short else "</p>")
    named = [
        f"{escape_text(r['street'])} {format_number(r['expected'], 1)}"
        for r in streets.get(code, [])[:FORECAST_STREETS]
    ]
    area = ctx.label.lower()
    said = (
        f"this {area}'s streets on it (crimes expected): {'; '.join(named)}."
        if named
        else f"no street of this {area} is on it."
    )
    return f"{text}{': ' + said if short else ' ' + said[0].upper() + said[1:]}</p>"


def callers_line(ctx: BriefContext, code: str) -> str:
    """Return how many listed places had repeat callers (counts only, never a caller).

    The line is labelled synthetic demo data when the run's data source says so (as the
    map's repeat-caller layer is).
    """
    callers = ctx.additions.callers
    if callers is None or code not in callers.index:
        return ""
    row = callers.loc[code]
    day, half, listed = (int(row[c]) for c in ("repeat_callers_24h", "repeat_callers_6m", "listed"))
    synthetic = SYNTHETIC_MARK in str(ctx.run.manifest.get("data_source", ""))
    label = "Repeat callers (synthetic demo data)" if synthetic else "Repeat callers"
    return (
        f"<p><b>{label}</b>: {day} of the {listed} listed places had 2+ calls from one "
        f"caller within 24 hours, {half} within 6 months (counts only: no caller is named).</p>"
    )


def ward_extras(ctx: BriefContext, code: str) -> str:
    """Return the ward's lines from the run's optional files, or '' when it has none."""
    lines = rates_line(ctx, code) + forecast_line(ctx, code) + callers_line(ctx, code)
    return f"<div class=more>{lines}</div>" if lines else ""
