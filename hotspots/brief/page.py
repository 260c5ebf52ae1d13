"""The page shell of every brief (style, header, caveats) and its text formatting helpers."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from hotspots.brief.context import BriefContext

__all__ = [
    "CAVEATS",
    "WEAPONS_NOTE",
    "change_text",
    "escape_text",
    "flag_text",
    "format_number",
    "html_page",
    "p_value_text",
    "page_header",
    "period_months",
    "place_name",
    "weapons_note",
]

_CSS = """
@page{size:A4;margin:7mm 8mm 7mm}
*{box-sizing:border-box}
body{font:7.6pt/1.25 "DejaVu Sans",Arial,sans-serif;color:#222;margin:0}
@media screen{body{max-width:194mm;margin:8mm auto;padding:0 4mm;font-size:8.5pt}}
h1{font-size:12pt;margin:0 0 .6mm}h2{font-size:8.6pt;margin:0}
.meta{color:#444;font-size:6.9pt;margin:0 0 .5mm}
.caveat{font-size:6.7pt;color:#555;margin:0 0 1.2mm}
.facts{display:flex;flex-wrap:wrap;gap:0 4mm;margin:0 0 1.2mm;padding:.8mm 1.6mm;
background:#f4f4f4;border-radius:1mm;font-size:7.4pt}
.facts b{font-weight:600}
.prio{break-inside:avoid;page-break-inside:avoid;border:1px solid #ccc;
border-left:3px solid #bd0026;padding:1.2mm 1.8mm;margin:0 0 1.5mm}
.head{display:flex;justify-content:space-between;align-items:baseline;gap:3mm}
.score{font-size:7pt;color:#fff;background:#bd0026;border-radius:1mm;padding:0 1.3mm;
white-space:nowrap}
.when{margin:0 0 .6mm;font-weight:600;color:#7a0019}
.grid{display:grid;grid-template-columns:74mm 1fr 42mm;grid-template-areas:
"ev ev side" "chart volt side";gap:.8mm 2.5mm;align-items:start}
.grid>.evt{grid-area:ev}.grid>.chart{grid-area:chart}.grid>.side{grid-area:side}
.grid>.volt{grid-area:volt}
table.ev{border-collapse:collapse;width:100%;font-size:7.2pt}
table.ev th{text-align:left;font-weight:600;color:#444;white-space:nowrap;vertical-align:top;
padding:0 2mm 0 0}
table.ev td{padding:0}
svg.chart,svg.week{width:100%;height:auto;display:block}svg.week{margin-top:.8mm}
.legend{font-size:6pt;color:#555}.sw{display:inline-block;width:1.8mm;height:1.8mm;
margin:0 .4mm 0 1mm;vertical-align:-.2mm}
svg.map{width:42mm;height:37.9mm;display:block;border:1px solid #ddd}
.volt{font-size:6.6pt;line-height:1.2;color:#333;margin:0;padding:0;list-style:none}
.volt li{margin:0 0 .4mm}.volt b{color:#555}
.why{font-size:6.2pt;color:#777;margin-top:.4mm}
.none{padding:3mm;border:1px dashed #bbb;color:#555;margin-bottom:3mm}
.foot{font-size:6.2pt;line-height:1.2;color:#555;border-top:1px solid #ccc;padding-top:.8mm;
break-inside:avoid}
.foot a,.meta a{color:#333}
table.wards{border-collapse:collapse;width:100%;font-size:7.2pt}
table.wards th,table.wards td{border-bottom:1px solid #ddd;padding:.4mm 1.2mm;text-align:left;
vertical-align:top}
table.wards th{background:#f0f0f0}table.wards tr{break-inside:avoid}
.bw{columns:2;column-gap:3mm}
.bw table.wards{break-inside:avoid;margin:0 0 1.2mm;font-size:6.8pt}
.bw table.wards td{padding:.1mm .6mm}.bw td.n,.bw td:nth-child(4){white-space:nowrap}
.bw table.wards th{padding:.3mm .8mm}
.bw small{font-size:6pt;font-weight:400}
td.n{text-align:right;white-space:nowrap}.up{color:#b30000}.down{color:#2b7a2b}
.tag{font-size:6pt;border-radius:1mm;padding:0 1mm;color:#fff}
.tag.worst{background:#b30000}.tag.best{background:#2b7a2b}
.more{font-size:7pt;line-height:1.22;color:#333;margin:0 0 1.5mm}.more p{margin:0 0 .4mm}
.more i{color:#555}
"""


CAVEATS = {
    "police-uk": "What the data cannot tell: police.uk gives the month, not the day or hour; "
    "locations are anonymised map points; victims and offenders are not "
    "published; anti-social behaviour counts incidents.",
    "vancouver": "What the data cannot tell: VPD open data has no victims or offenders; "
    "property crime is placed in its hundred block; offences against a person "
    "(violence) have no location and are absent.",
    "other": "What the data cannot tell: no victims or offenders; counts as published.",
}

#: Said wherever a crime group with weapons is shown on police.uk data.
WEAPONS_NOTE = "the weapons group is possession of weapons only (police.uk has no knife flag)"
#: Below this p-value a change is "more than chance".
CHANCE_P = 0.05


def weapons_note(label: str, source_kind: str) -> str:
    """Return :data:`WEAPONS_NOTE` for a police.uk group whose label names weapons, else ''.

    Examples
    --------
    >>> weapons_note("Drugs and weapons", "police-uk")[:28]
    'the weapons group is possess'
    >>> weapons_note("Burglary", "police-uk")
    ''
    """
    return WEAPONS_NOTE if source_kind == "police-uk" and "weapon" in label.casefold() else ""


def p_value_text(p: Any) -> str:
    """Return the exact test's p-value in plain words.

    Examples
    --------
    >>> p_value_text(0.0033), p_value_text(0.4), p_value_text(float("nan"))
    ('p = 0.003: more than chance', 'p = 0.40: could be chance', '')
    """
    if p is None or pd.isna(p):
        return ""
    value = float(p)
    shown = "< 0.001" if value < 0.001 else (f"= {value:.3f}" if value < 0.1 else f"= {value:.2f}")
    return f"p {shown}: {'more than chance' if value < CHANCE_P else 'could be chance'}"


def period_months(manifest: Mapping[str, Any]) -> int | None:
    """Return the months of the run's period (run.json), or None when it does not say.

    Examples
    --------
    >>> period_months({"period": {"first_month": "2016-01", "last_month": "2017-12"}})
    24
    >>> period_months({}) is None
    True
    """
    p = manifest.get("period") or {}
    try:
        first, last = (pd.Period(str(p[k]), freq="M") for k in ("first_month", "last_month"))
    except (KeyError, ValueError):
        return None
    return int((last - first).n) + 1


def page_header(ctx: BriefContext, area: Mapping[str, Any], title: str) -> str:
    """Return the title, period, source and caveat lines that head every page."""
    m = ctx.run.manifest
    p = m["period"]
    period = f"{p['first_month']} to {p['last_month']}"
    if ctx.run.incomplete:
        period += f" (incomplete, left out of comparisons: {', '.join(ctx.run.incomplete)})"
    borough = area.get("borough")
    parts = [
        f"<b>Borough</b> {escape_text(borough)}" if borough and pd.notna(borough) else "",
        f"<b>Period</b> {escape_text(period)}",
        f"<b>Data</b> {escape_text(m.get('data_source', ''))}",
        f"<b>Run</b> {escape_text(str(m.get('created', ''))[:10])}",
    ]
    meta = " · ".join(x for x in parts if x)
    return (
        f"<h1>{escape_text(title)}</h1><p class=meta>{meta}</p>"
        f"<p class=caveat>{escape_text(CAVEATS[ctx.run.source_kind])}</p>"
    )


def flag_text(value: Any) -> str:
    """Return a comparison flag as text: empty for a missing value."""
    return "" if value is None or pd.isna(value) else str(value)


def escape_text(value: Any) -> str:
    """Return ``value`` as HTML-escaped text: empty for None and NaN."""
    return html.escape(
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    )


def format_number(value: Any, digits: int = 0) -> str:
    """Return a number with thousands separators, or ``n/a`` when missing."""
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def change_text(current: Any, other: Any, pct: Any, flag: Any) -> str:
    """Return a comparison in words, e.g. ``12 vs 8, up 50%`` or ``3 vs 2, too few to compare``."""
    if str(flag) == "not in the period" or pd.isna(other):
        return "not in the period"
    base = f"{format_number(current)} vs {format_number(other)}"
    if str(flag):
        return f"{base}, {flag}"
    if not pct:
        return f"{base}, no change"
    return f"{base}, {'up' if pct > 0 else 'down'} {abs(pct):.0f}%"


def place_name(place: Mapping[str, Any]) -> str:
    """Return the name of a listed place with its extent when it has one."""
    extent = str(place.get("extent") or "")
    name = str(place.get("street"))
    return f"{name} ({extent})" if extent and extent != "nan" else name


def html_page(title: str, body: str) -> str:
    """Return a whole self-contained HTML page: the style sheet and ``body``."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape_text(title)}</title>"
        f"<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
