"""Popup HTML of the map pages: a hot street or location, a corridor, repeat callers.

Every text taken from the data is HTML-escaped here, before it reaches the page, so a street
name holding markup shows as text. The charts (SVG) are made by hotspots itself and kept as
they are.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import pandas as pd

from hotspots.read.schema import TYPE_COUNT_PREFIX
from hotspots.temporal.common import NO_TIME_OF_DAY

__all__ = [
    "MONTH_ONLY_WINDOW",
    "Row",
    "callers_text",
    "corridor_popup_html",
    "street_popup_html",
]

#: Patrol window text where the data gives the month only (police.uk).
MONTH_ONLY_WINDOW = "time unknown (the data gives the month only)"
#: One table row: a dict (``to_dict("records")``; faster than Series) or a pandas Series.
Row: TypeAlias = Mapping[str, Any]


def _type_counts(row: Row, type_cols: Sequence[str]) -> dict[str, int]:
    return {c[len(TYPE_COUNT_PREFIX) :]: int(row[c]) for c in type_cols if row[c] > 0}


def street_popup_html(
    row: Row,
    type_cols: Sequence[str],
    *,
    links: Mapping[str, str] | None = None,
    type_labels: Mapping[str, str] | None = None,
    charts: Sequence[str] = ("profile_svg", "monthly_svg"),
) -> str:
    """Return the popup HTML of one hot street or location, every data value escaped.

    Parameters
    ----------
    row
        One row of the hot-street table, as a Series or a dict (optional columns: ``extent``,
        ``trend_class``, ``patrol_window``, ``significance``, ``cluster_id``, ``rank_by_harm``,
        ``repeat_callers_6m``, ``repeat_callers_24h``, ``profile_svg``, ``monthly_svg``; the
        two SVG columns are made by hotspots itself and kept as is).
    type_cols
        The ``n_<type>`` count columns.
    links
        Extra links to show (label -> relative URL). Maps leave them out: their pages build
        the link line from the page's links block when the popup opens.
    type_labels
        Crime type as the source writes it, per type key (``n_`` column without the prefix).
    charts
        The SVG chart columns to include.

    Returns
    -------
    str
        An HTML fragment; ``<!--now-->`` marks where the page puts the figures of the
        current choice.
    """
    e = html.escape
    labels = type_labels or {}
    types = sorted(((n, t) for t, n in _type_counts(row, type_cols).items()), reverse=True)
    rows = "".join(
        f"<tr><td>{e(labels.get(t, t.replace('_', ' ')))}</td><td class=n>{n}</td></tr>"
        for n, t in types
    )
    facts = [f"<b class=hs-name>{e(str(row['street']))}</b>"]
    if str(row.get("extent", "") or ""):
        facts.append(f"<span class=hs-sub>{e(str(row['extent']))}</span>")
    facts.append(f"{e(str(row['area_name']))} ({e(str(row['area_code']))})<!--now-->")
    facts.append(_rank_text(row))
    window = str(row.get("patrol_window", "") or "")
    if window == NO_TIME_OF_DAY:
        window = MONTH_ONLY_WINDOW
    if window and window != "nan":
        facts.append(f"Patrol window: <b>{e(window)}</b>")  # the page swaps in a group's
    for col, label in (
        ("trend_class", "Trend"),
        ("significance", "Statistical hot spot"),
        ("rank_by_harm", "Rank by harm"),
        ("cluster_id", "Cluster"),
    ):
        if col in row and pd.notna(row[col]) and str(row[col]) not in ("", "-1"):
            facts.append(f"{label}: <b>{e(str(row[col]))}</b>")
    callers = callers_text(row)
    if callers:
        facts.append(callers)
    chart_html = "".join(str(row[c]) for c in charts if c in row and isinstance(row[c], str))
    link_html = " · ".join(
        f"<a href='{e(u)}' target=_blank>{e(k)}</a>" for k, u in (links or {}).items()
    )
    return (
        f"<div class=hs-popup>{'<br>'.join(facts)}<table class=hs-types>{rows}</table>"
        f"{chart_html}{link_html}</div>"
    )


def callers_text(row: Row) -> str:
    """Return the repeat-caller line of a place (counts only, never a reference), or ''.

    Repeat callers are callers with two or more records at the place in the last 6 months
    and the last 24 hours, both ending at the latest record (``repeat_callers_6m``,
    ``repeat_callers_24h``: only when the input has a ``caller`` column).

    Examples
    --------
    >>> callers_text({"repeat_callers_6m": 3.0, "repeat_callers_24h": 0})
    'Repeat callers: <b>3</b> in the last 6 months, <b>0</b> in the last 24 hours'
    >>> callers_text({"street": "A St"})
    ''
    """
    six, day = row.get("repeat_callers_6m"), row.get("repeat_callers_24h")
    if six is None or day is None or pd.isna(six) or pd.isna(day):
        return ""
    return (
        f"Repeat callers: <b>{int(six)}</b> in the last 6 months, <b>{int(day)}</b> in the "
        "last 24 hours"
    )


def _rank_text(row: Row) -> str:
    crimes = int(row["crimes"])
    if pd.isna(row.get("rank")) or "length_m" not in row or pd.isna(row["length_m"]):
        return (
            f"Whole period: rank {int(row['area_rank'])} in area; {crimes} crimes at this "
            "police.uk location"
        )
    return (
        f"Whole period: rank {int(row['rank'])} overall, {int(row['area_rank'])} in area; "
        f"{crimes} crimes on {float(row['length_m']):.0f} m "
        f"({float(row['crimes_per_100m']):.1f} per 100 m)"
    )


def corridor_popup_html(row: Row, *, of: int) -> str:
    """Return the popup HTML of one corridor, every data value escaped.

    Parameters
    ----------
    row
        One row of the corridors table (``street``, ``extent``, ``area_name``, ``rank``,
        ``length_m``, ``segment_count``, ``crimes``, ``crimes_per_km``, ``harm_per_km``,
        ``rank_by_harm``; ``collisions``, ``collisions_per_km`` and ``rank_by_collisions``
        where the data has collisions).
    of
        Number of corridors in the run (the ranks are out of it).

    Returns
    -------
    str
        An HTML fragment.

    Examples
    --------
    >>> popup = corridor_popup_html({"street": "A <St>", "extent": "", "area_name": "X",
    ...     "rank": 2, "rank_by_harm": 5, "length_m": 1234.5, "segment_count": 7,
    ...     "crimes": 40, "crimes_per_km": 32.4, "harm_per_km": 1500.0}, of=9)
    >>> print(*popup.split("<br>"), sep=" | ")  # doctest: +NORMALIZE_WHITESPACE
    <div class=hs-popup><b class=hs-name>A &lt;St&gt;</b> | Corridor in X |
    Rank <b>2</b> of 9 by crimes per km (<b>5</b> by harm) | Length 1.23 km (7 segments) |
    Crimes: 40, <b>32.4 per km</b> | Harm: 1,500 days per km</div>
    """
    e = html.escape
    facts = [f"<b class=hs-name>{e(str(row['street']))}</b>"]
    if str(row.get("extent", "") or "") not in ("", "nan"):
        facts.append(f"<span class=hs-sub>{e(str(row['extent']))}</span>")
    facts.append(f"Corridor in {e(str(row['area_name']))}")
    ranks = (
        f"Rank <b>{int(row['rank'])}</b> of {of} by crimes per km "
        f"(<b>{int(row['rank_by_harm'])}</b> by harm"
    )
    if pd.notna(row.get("rank_by_collisions")):
        ranks += f", <b>{int(row['rank_by_collisions'])}</b> by collisions"
    facts.append(ranks + ")")
    facts.append(
        f"Length {float(row['length_m']) / 1000:.2f} km ({int(row['segment_count'])} segments)"
    )
    facts.append(
        f"Crimes: {int(row['crimes']):,}, <b>{float(row['crimes_per_km']):,.1f} per km</b>"
    )
    if pd.notna(row.get("collisions_per_km")):
        facts.append(
            f"Collisions: {int(row['collisions']):,}, "
            f"<b>{float(row['collisions_per_km']):,.2f} per km</b>"
        )
    facts.append(f"Harm: {float(row['harm_per_km']):,.0f} days per km")
    return f"<div class=hs-popup>{'<br>'.join(facts)}</div>"
