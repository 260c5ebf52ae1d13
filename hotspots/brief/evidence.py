"""The evidence of a priority in sentences: when, where, what the numbers say, VOLT.

VOLT: victim, offender, location, time (what the data can and cannot say about each).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import shapely

from hotspots.analysis.groups import COMPONENTS
from hotspots.brief.context import BriefContext
from hotspots.brief.page import change_text, escape_text, format_number, weapons_note
from hotspots.read.schema import BASIS_STREET
from hotspots.temporal.common import TOO_FEW_TO_SAY
from hotspots.temporal.patrol import NO_TIME_STANDS_OUT

__all__ = [
    "describe_when",
    "evidence_rows",
    "score_line",
    "volt_list",
]

_VOLT = {
    "police-uk": {
        "victim": "not in police.uk data (no victim details, so no repeat victims): check "
        "local crime records.",
        "offender": "not in police.uk data: ask local intelligence who is involved.",
        "location": "{place}. police.uk moves each crime to an anonymous map point nearby: "
        "near, not at, the spot.",
        "time": "month only in police.uk, no day or hour. {when}",
    },
    "vancouver": {
        "victim": "not in VPD open data (no victim details, so no repeat victims).",
        "offender": "not in VPD open data: ask local intelligence who is involved.",
        "location": "{place}. VPD places property crime in its hundred block; violence is "
        "published without a location, so it is missing.",
        "time": "VPD gives day and hour (unknown times spread over the day). {when}",
    },
    "other": {
        "victim": "not in this extract (no victim details).",
        "offender": "not in this extract: ask local intelligence who is involved.",
        "location": "{place}.",
        "time": "{when}",
    },
}


def describe_when(ctx: BriefContext, place_id: str, group: str) -> tuple[str, str]:
    """Return when the priority's own crime group happens here: (short text, sentence)."""
    place = ctx.rec[place_id]
    label = ctx.settings.labels.get(group, group).lower()
    where = "this street's" if place["basis"] == BASIS_STREET else "this location's"
    win = ctx.run.windows
    key = (place_id, group)
    if win is None or key not in win.index:  # an older run, or groups of other --weights
        return _when_all_crime(place, ctx.run.time_of_day)
    w = win.loc[key]
    if not ctx.run.time_of_day:
        return _peaks_text(str(w["peak_months"]), label, where)
    window = str(w["patrol_window"])
    if window.startswith(TOO_FEW_TO_SAY):
        return (
            "too few to name a time",
            f"{format_number(w['crimes'])} {label} crimes here: too few to name a time.",
        )
    if window == NO_TIME_STANDS_OUT:
        return (
            "no day or hour stands out",
            f"{label.capitalize()} here is spread over the week: {NO_TIME_STANDS_OUT}.",
        )
    parts = [p.rsplit(" (", 1) for p in window.split("; ")]
    said = [
        f"{t} holds {pct.rstrip(')')} of {where} {label}"
        if i == 0
        else f"{t} another {pct.rstrip(')')}"
        for i, (t, pct) in enumerate(parts)
    ]
    counts = f"{format_number(w['window_crimes'])} of {format_number(w['crimes'])} crimes"
    sentence = f"{' and '.join(said)} ({counts})."
    return window, sentence[0].upper() + sentence[1:]


def _peaks_text(peaks: str, label: str, where: str) -> tuple[str, str]:
    """When for data that gives the month only: the peak months, if they beat chance."""
    if not peaks or peaks == "nan":
        return (
            "time unknown; no month stands out",
            f"No month stands out from chance for {where} {label}.",
        )
    return (
        f"time unknown; busiest {peaks}",
        f"{label.capitalize()} here peaks in {peaks}, more than chance would give "
        "(seasonality test, see the README).",
    )


def _when_all_crime(place: Mapping[str, Any], time_of_day: bool) -> tuple[str, str]:
    """When for all crime at the place (no window of the group in the run folder)."""
    window = str(place.get("patrol_window") or "")
    if time_of_day and window and not window.startswith(("n/a", TOO_FEW_TO_SAY)):
        return f"all crime: {window}", f"All crime here: {window}."
    peaks = str(place.get("peak_months") or "")
    if not peaks or peaks == "nan":
        return "no clear peak", "No month stands out for all crime here."
    return f"all crime peaks {peaks}", f"All crime here peaks in {peaks}."


def _spread(geom: Any) -> tuple[int, float]:
    """Map points of a place and the largest distance between them, metres."""
    points = shapely.get_coordinates(geom) if shapely.get_type_id(geom) == 4 else np.empty((0, 2))
    if len(points) < 2:
        return len(points), 0.0
    diff = points[:, None, :] - points[None, :, :]
    return len(points), float(np.sqrt((diff**2).sum(axis=2)).max())


def _place_text(ctx: BriefContext, row: Any) -> str:
    anchor = ctx.rec[row.place_id]
    text = f"#{int(anchor['area_rank'])} in the {ctx.label.lower()} list"
    n, far = _spread(ctx.painter.geoms[ctx.painter.pos[row.place_id]])
    if n > 1 and far > ctx.settings.nearby_m:
        text += (
            f"; police.uk gives {n} map points this name here, up to {far:,.0f} m apart "
            "(a name, not one spot)"
        )
    near = [
        f"{escape_text(ctx.rec[p]['street'])} #{int(ctx.rec[p]['area_rank'])} "
        f"({format_number(ctx.group_counts.get((p, row.group), 0))})"
        for p in row.nearby[:3]
    ]
    if near:
        text += f". Nearby with the same crime (within {ctx.settings.nearby_m:g} m): " + (
            ", ".join(near)
        )
    return text


def evidence_rows(ctx: BriefContext, row: Any) -> list[tuple[str, str]]:
    """Return the evidence table of a priority: (heading, HTML) rows, data text escaped."""
    place = ctx.rec[row.place_id]
    ch = ctx.changes.loc[row.place_id]
    share = row.crimes / row.ward_group_crimes if row.ward_group_crimes else np.nan
    months = len(ctx.run.months) - len(ctx.run.incomplete)
    label = ctx.settings.labels.get(row.group, row.group)
    gi = f", Gi* z {place['gi_z']:.1f}" if pd.notna(place.get("gi_z", np.nan)) else ""
    rows = [
        (
            "This crime here",
            f"{format_number(row.crimes)} of the {ctx.label.lower()}'s "
            f"{format_number(row.ward_group_crimes)} ({format_number(share * 100)}%); harm "
            f"{format_number(row.harm)} days"
            + (f"; {note}" if (note := weapons_note(label, ctx.run.source_kind)) else ""),
        ),
        (
            "All crime here",
            f"{format_number(place['crimes'])}. Last 3 months vs previous 3: "
            + change_text(ch["current"], ch["previous"], ch["pct_previous"], ch["flag_previous"])
            + "; vs a year before: "
            + change_text(
                ch["current"], ch["year_before"], ch["pct_year_before"], ch["flag_year_before"]
            ),
        ),
        (
            "Pattern",
            f"{place['trend_class']}, {place['trend_direction']}; hot in "
            f"{format_number(place['hot_months'])} of {months} months; {place['significance']}"
            f"{gi}",
        ),
    ]
    others = [
        f"{ctx.settings.labels.get(g, g)} {format_number(n)} (score {sc:.0f})"
        for g, n, sc in ctx.also.get(row.place_id, [])
        if g != row.group
    ][:3]
    if others:
        rows.append(("Also here", "; ".join(others)))
    out = [(escape_text(k), escape_text(v)) for k, v in rows]
    return [*out, ("Place", _place_text(ctx, row))]


def volt_list(ctx: BriefContext, row: Any, when_text: str) -> str:
    """Return what the data says of victim, offender, location and time, as an HTML list."""
    place = ctx.rec[row.place_id]
    texts = _VOLT[ctx.run.source_kind]
    basis = "hot street" if place["basis"] == BASIS_STREET else "police.uk location"
    lines = {
        "Victim": texts["victim"],
        "Offender": texts["offender"],
        "Location": texts["location"].format(place=f"{place['street']}: a {basis}"),
        "Time": texts["time"].format(when=when_text),
    }
    items = "".join(f"<li><b>{k}</b> {escape_text(v)}</li>" for k, v in lines.items())
    return f"<ul class=volt>{items}</ul>"


def score_line(ctx: BriefContext, row: Any) -> str:
    """Return the line under a priority that gives its score and components."""
    used = [c for c in COMPONENTS if c != "predictability" or ctx.predictability]
    parts = [f"{c} {getattr(row, c):.2f}" for c in used]
    return (
        f"<div class=why>Score {row.score:.0f}/100, weighted mean of {', '.join(parts)} "
        "(see below)</div>"
    )
