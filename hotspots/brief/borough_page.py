"""The page of a borough: its wards, largest rises first, each with its top priority."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hotspots.brief.context import BriefContext
from hotspots.brief.evidence import describe_when
from hotspots.brief.page import (
    change_text,
    escape_text,
    flag_text,
    format_number,
    html_page,
    page_header,
    place_name,
)
from hotspots.output.site_index import brief_name

__all__ = [
    "borough_page",
]


def _performance_key(areas: pd.DataFrame) -> str:
    """Return the comparison wards are sorted by: a year before where known, else previous."""
    for key in ("year_before", "previous"):
        col = f"recent_pct_change_{key}"
        if col in areas.columns and areas[col].notna().any():
            return key
    return ""


def _tags(change: pd.Series) -> dict[str, str]:
    """Mark the three largest rises "worst" and the three largest falls "best"."""
    ranked = change.dropna().sort_values(kind="stable")
    falls, rises = ranked[ranked < 0].index[:3], ranked[ranked > 0].index[::-1][:3]
    return {
        **dict.fromkeys(falls, "<span class='tag best'>best</span> "),
        **dict.fromkeys(rises, "<span class='tag worst'>worst</span> "),
    }


def _change_cell(w: pd.Series, key: str) -> str:
    if f"recent_{key}" not in w:
        return "<td>n/a</td>"
    pct = w.get(f"recent_pct_change_{key}", np.nan)
    cls = "up" if pd.notna(pct) and pct > 0 else ("down" if pd.notna(pct) and pct < 0 else "")
    text = change_text(
        w.get("recent_current"), w.get(f"recent_{key}"), pct, flag_text(w.get(f"recent_flag_{key}"))
    )
    return f"<td class='{cls}'>{escape_text(text)}</td>"


def _top_priority(ctx: BriefContext, code: str, top: Mapping[str, Any]) -> str:
    r = top.get(code)
    if r is None:
        return "none proposed"
    place = ctx.rec[r["place_id"]]
    return (
        f"{ctx.settings.labels.get(r['group'], r['group'])} at {place_name(place)}, "
        f"{describe_when(ctx, r['place_id'], r['group'])[0]} (score {r['score']:.0f})"
    )


def _borough_row(
    ctx: BriefContext, code: str, w: pd.Series, tag: str, top: Mapping[str, Any], *, rate: bool
) -> str:
    name = f"{tag}<a href='{escape_text(brief_name(code))}'>{escape_text(w['area_name'])}</a>"
    rate_cell = (
        f"<td class=n>{format_number(w.get('rate_per_1000', np.nan), 1)}</td>" if rate else ""
    )
    return (
        f"<tr><td>{name}</td><td class=n>{format_number(w['crimes'])}</td>{rate_cell}"
        f"{_change_cell(w, 'previous')}{_change_cell(w, 'year_before')}"
        f"<td>{escape_text(_top_priority(ctx, code, top))}</td></tr>"
    )


def borough_page(
    ctx: BriefContext, title: str, wards: pd.DataFrame, top: pd.DataFrame, *, more: str = ""
) -> str:
    """Return the HTML page of a borough (or of all areas): its wards, largest rises first."""
    key = _performance_key(wards)
    change = wards.get(f"recent_pct_change_{key}", pd.Series(np.nan, index=wards.index))
    order = wards.assign(_c=change).sort_values(
        ["_c", "crimes"], ascending=[False, False], na_position="last", kind="stable"
    )
    tags, firsts = _tags(change), top.set_index("area_code").to_dict("index")
    rate = "rate_per_1000" in wards.columns and bool(wards["rate_per_1000"].notna().any())
    rows = "".join(
        _borough_row(ctx, str(c), w, tags.get(c, ""), firsts, rate=rate)
        for c, w in order.iterrows()
    )
    what = {
        "year_before": "the same 3 months a year before (same season)",
        "previous": "the previous 3 months",
    }.get(key, "the period before")
    unit = ctx.label.lower()
    note = (
        f"<p class=caveat>{ctx.label}s sorted by the change of their last 3 months against "
        f'{what}: the largest rises first, the largest falls last; "worst" and "best" '
        "mark the three largest of each. Changes with fewer than 10 crimes either side are "
        f"not compared and sort last. Open a {unit} for its brief.</p>"
    )
    head = [
        ctx.label,
        "Crimes",
        *(["Per 1,000 residents, whole period"] if rate else []),
        "Last 3 months vs previous 3",
        "vs a year before",
        "Top priority",
    ]
    table = (
        "<table class=wards><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return html_page(title, page_header(ctx, {}, title) + note + more + table)
