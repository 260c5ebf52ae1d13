"""The one-page brief of a ward: its facts and up to three priorities with evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hotspots.analysis.groups import COMPONENTS
from hotspots.brief.charts import hour_week_svg, monthly_bars_svg
from hotspots.brief.context import BriefContext
from hotspots.brief.evidence import describe_when, evidence_rows, score_line, volt_list
from hotspots.brief.page import (
    change_text,
    escape_text,
    flag_text,
    format_number,
    html_page,
    page_header,
    period_months,
    place_name,
)
from hotspots.brief.ward_extras import ward_extras
from hotspots.runfolder import area_file_stem

__all__ = [
    "side_panel",
    "ward_page",
]


def _ward_facts(area: Mapping[str, Any], months: int | None) -> str:
    span = f" in {months} months" if months else " in the period"
    facts = [f"<span><b>Crimes</b> {format_number(area.get('crimes'))}{span}</span>"]
    if pd.notna(area.get("rate_per_1000", np.nan)):
        facts.append(
            f"<span><b>Per 1,000 residents</b> {format_number(area['rate_per_1000'], 1)}"
            f"{span} (population {format_number(area.get('population'))})</span>"
        )
    for key, label in (
        ("previous", "Last 3 months vs previous 3"),
        ("year_before", "vs a year before"),
    ):
        if f"recent_{key}" in area:
            text = change_text(
                area.get("recent_current"),
                area.get(f"recent_{key}"),
                area.get(f"recent_pct_change_{key}"),
                flag_text(area.get(f"recent_flag_{key}")),
            )
            facts.append(f"<span><b>{label}</b> {escape_text(text)}</span>")
    if area.get("trend_class"):
        facts.append(
            f"<span><b>Trend</b> {escape_text(area.get('trend_class'))}, "
            f"{escape_text(area.get('trend_direction'))}</span>"
        )
    return f"<div class=facts>{''.join(facts)}</div>"


def _chart(ctx: BriefContext, row: Any) -> str:
    counts = ctx.run.monthly.loc[row.place_id]
    chart = monthly_bars_svg(
        counts,
        incomplete=ctx.run.incomplete,
        windows=ctx.windows,
        title=f"All crime per month at {row.street}",
    )
    sw = "".join(
        f"<span class=sw style='background:{c}'></span>{t}"
        for c, t in (
            ("#bd0026", "last 3 months"),
            ("#969696", "previous 3"),
            ("#6baed6", "same 3 a year before"),
        )
    )
    return f"<div class=chart>{chart}<div class=legend>All crime a month:{sw}</div></div>"


def side_panel(ctx: BriefContext, row: Any) -> str:
    """Return the map of a priority and its hour-of-week heatmap (where the data has times)."""
    alt = (
        f"Map of {row.street}: the place in red, nearby places with the same crime in "
        "orange, other listed places grey, the boundary dashed"
    )
    side = ctx.painter.svg(row.area_code, row.place_id, row.nearby[:3], title=alt)
    groups, prof = ctx.run.group_profiles, ctx.run.profiles
    label = ctx.settings.labels.get(row.group, row.group)
    if groups is not None and (row.place_id, row.group) in groups.index:
        values = groups.loc[(row.place_id, row.group)].to_numpy(dtype=float)
        side += hour_week_svg(values, title=f"{label} here by hour of the week")
        side += f"<div class=legend>{escape_text(label)} here by day and hour</div>"
    elif prof is not None and row.place_id in prof.index:
        side += hour_week_svg(
            prof.loc[row.place_id].to_numpy(dtype=float), title="All crime here by hour of the week"
        )
        side += "<div class=legend>All crime here by day and hour</div>"
    return f"<div class=side>{side}</div>"


def _proposal(ctx: BriefContext, row: Any) -> str:
    place = ctx.rec[row.place_id]
    when_short, when_text = describe_when(ctx, row.place_id, row.group)
    label = ctx.settings.labels.get(row.group, row.group)
    title = f"{row.priority}. {label} at {place_name(place)}"
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in evidence_rows(ctx, row))
    return (
        f"<section class=prio><div class=head><h2>{escape_text(title)}</h2>"
        f"<span class=score>score {row.score:.0f}</span></div>"
        f"<div class=when>When: {escape_text(when_short)}</div><div class=grid>"
        f"<div class=evt><table class=ev>{table}</table></div>{_chart(ctx, row)}"
        f"{side_panel(ctx, row)}{volt_list(ctx, row, when_text)}</div>"
        f"{score_line(ctx, row)}</section>"
    )


def _footer(ctx: BriefContext, code: str) -> str:
    st = ctx.settings
    used = [c for c in COMPONENTS if c != "predictability" or ctx.predictability]
    weights = ", ".join(f"{c} {st.weights[c]:g}" for c in used)
    stem = escape_text(area_file_stem(code))
    links = [f"<a href='../wards/{stem}.csv'>full list (CSV)</a>"]
    if (ctx.run.path / "maps" / f"{area_file_stem(code)}.html").exists():
        links.insert(0, f"<a href='../maps/{stem}.html'>interactive map</a>")
    area = ctx.label.lower()
    leads = "a priority" if st.max_per_place == 1 else f"{st.max_per_place} priorities"
    backtest = (
        ", predictability (backtest capture of the group, against the best group)"
        if ctx.predictability
        else ""
    )
    return (
        "<div class=foot><b>How the priorities are chosen.</b> Every crime group with at least "
        f"{st.min_crimes} crimes at a listed place is a candidate. Its score (0-100) is a "
        f"weighted mean of: volume (harm-weighted crimes, log scale, against the {area}'s "
        f"largest), concentration (the place's share of the {area}'s crimes of that group, "
        "against the largest share), persistence (share of months the place was hot), trend "
        "(rising 1, flat 0.5, falling 0), significance (Gi* hot spot 99/95/90%: 1/0.8/0.6)"
        f"{backtest}. Weights ({escape_text(st.source)}): {escape_text(weights)}."
        + (f" Not proposed: {escape_text(', '.join(st.skip_groups))}." if st.skip_groups else "")
        + " Candidates are taken best "
        "first; one is skipped when an earlier priority has the same crime group at the same "
        f"or a nearby place (within {st.nearby_m:g} m), or when its place already leads "
        f"{leads}. Counts by month and the period change are for all crime at the place. "
        + " · ".join(links)
        + "</div>"
    )


def ward_page(ctx: BriefContext, code: str, chosen: pd.DataFrame) -> str:
    """Return the HTML brief of ward ``code`` with its ``chosen`` priorities."""
    area = ctx.run.areas.loc[code].to_dict() if code in ctx.run.areas.index else {"area_name": code}
    title = f"{ctx.label} brief: {area.get('area_name', code)} ({code})"
    if chosen.empty:
        body = (
            f"<div class=none>No place in this {ctx.label.lower()}'s list has "
            f"{ctx.settings.min_crimes} or more crimes of one crime group: no priority "
            "is proposed.</div>"
        )
    else:
        body = "".join(_proposal(ctx, row) for row in chosen.itertuples())
    return html_page(
        title,
        page_header(ctx, area, title)
        + _ward_facts(area, period_months(ctx.run.manifest))
        + ward_extras(ctx, code)
        + body
        + _footer(ctx, code),
    )
