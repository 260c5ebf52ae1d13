"""Best and worst page of a borough (or of all areas): per crime group, the largest rises and falls.

Within the borough, each crime group's wards are ranked by the change of the run's first
comparison window (``compare_areas.csv``: its ``kind``, ``window`` and ``p_previous``
columns), with the exact test's p-value in plain words beside each change. The run-wide
standing comes from ``performance.csv`` (``level``, ``crime_group``, ``window``,
``p_value``): the borough among boroughs, and the wards that are among the run's largest. The
"too few to compare" floor stays: changes with fewer crimes either side are not ranked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from hotspots.brief.context import BriefContext
from hotspots.brief.page import (
    escape_text,
    format_number,
    html_page,
    p_value_text,
    page_header,
    weapons_note,
)
from hotspots.output.site_index import borough_brief_name, brief_name

__all__ = [
    "BEST_WORST_N",
    "best_worst_name",
    "best_worst_page",
    "has_best_worst",
]

#: Wards named on each side, per crime group.
BEST_WORST_N = 3
_NEED = ["area_code", "crime_type", "current", "previous", "pct_change_previous", "kind"]
_NEED_NEW = ["window", "p_previous", "flag_previous"]
#: The columns of compare_areas.csv a page shows or ranks by.
_SHOWN = [
    "area_code",
    "area_name",
    "crime_type",
    "current",
    "previous",
    "pct_change_previous",
    "p_previous",
    "flag_previous",
]


def best_worst_name(borough: str | None) -> str:
    """Return the file name of a borough's (None: all areas') best and worst page.

    Examples
    --------
    >>> best_worst_name("Kingston upon Thames"), best_worst_name(None)
    ('borough_Kingston_upon_Thames_best_worst.html', 'best_worst.html')
    """
    if borough is None:
        return "best_worst.html"
    return borough_brief_name(borough).removesuffix(".html") + "_best_worst.html"


def has_best_worst(ctx: BriefContext) -> bool:
    """Whether the run's ``compare_areas.csv`` has the crime groups and exact tests."""
    cmp = ctx.run.compare
    return cmp is not None and all(c in cmp.columns for c in [*_NEED, *_NEED_NEW])


def _window(ctx: BriefContext, cmp: pd.DataFrame) -> str:
    """Return the window shown: performance.csv's first (its existing rows), else compare's."""
    perf = ctx.additions.performance
    if perf is not None and len(perf):
        return str(perf["window"].iloc[0])
    return str(cmp["window"].iloc[0])


def _shared(ctx: BriefContext) -> tuple[str, pd.DataFrame, dict[tuple[str, str, str], str]]:
    """Return the window, its all-crime and group rows, and the run-wide standings (once)."""
    if "best_worst" not in ctx.cache:
        cmp = ctx.run.compare
        assert cmp is not None  # has_best_worst
        window = _window(ctx, cmp)
        rows = cmp[(cmp["window"] == window) & cmp["kind"].isin(["all", "group"])]
        rows = rows[[c for c in cmp.columns if c in _SHOWN]]  # rows become dicts per table
        ctx.cache["best_worst"] = (window, rows, _run_wide(ctx, window))
    found: tuple[str, pd.DataFrame, dict[tuple[str, str, str], str]] = ctx.cache["best_worst"]
    return found


def _run_wide(ctx: BriefContext, window: str) -> dict[tuple[str, str, str], str]:
    """(level, crime group, code or name) to its run-wide standing, e.g. 'worst #2 of all'."""
    perf = ctx.additions.performance
    if perf is None:
        return {}
    rows = perf[perf["window"] == window]
    out = {}
    for r in rows.to_dict("records"):
        said = (
            f"{r['performance']} #{int(r['position'])} of all "
            f"({format_number(r['pct_change'], 1)}%, {p_value_text(r['p_value'])})"
        )
        for key in (r["area_code"], r["area_name"]):
            if isinstance(key, str) and key:
                out[(str(r["level"]), str(r["crime_group"]), key)] = said
    return out


def _row(tag: str, r: Mapping[str, Any], run_wide: str) -> str:
    pct = float(r["pct_change_previous"])
    change = f"{'up' if pct > 0 else 'down'} {abs(pct):.0f}%"
    name = f"<a href='{escape_text(brief_name(str(r['area_code'])))}'>"
    name += f"{escape_text(r.get('area_name', r['area_code']))}</a>"
    extra = f"<br><small>run-wide: {escape_text(run_wide)}</small>" if run_wide else ""
    cls = "up" if pct > 0 else "down"
    return (
        f"<tr><td><span class='tag {tag}'>{tag}</span> {name}{extra}</td>"
        f"<td class=n>{format_number(r['current'])} vs {format_number(r['previous'])}</td>"
        f"<td class='n {cls}'>{change}</td><td>{escape_text(p_value_text(r['p_previous']))}"
        "</td></tr>"
    )


def _group_table(
    ctx: BriefContext, group: str, rows: pd.DataFrame, standing: Mapping[Any, str]
) -> str:
    ranked = rows[rows["pct_change_previous"].notna()]
    worst = ranked[ranked["pct_change_previous"] > 0].nlargest(
        BEST_WORST_N, "pct_change_previous", keep="first"
    )
    best = ranked[ranked["pct_change_previous"] < 0].nsmallest(
        BEST_WORST_N, "pct_change_previous", keep="first"
    )
    body = "".join(
        _row(tag, r, standing.get(("area", group, str(r["area_code"])), ""))
        for tag, part in (("worst", worst), ("best", best))
        for r in part.to_dict("records")
    )
    few = int((rows["flag_previous"] == "too few to compare").sum())
    unit = ctx.label.lower()
    notes = [
        f"{few} {unit}{'s' if few != 1 else ''} too few to compare" if few else "",
        "no rise or fall to compare" if not body else "",
        weapons_note(group, ctx.run.source_kind),
    ]
    note = "; ".join(n for n in notes if n)
    caption = escape_text(group) + (f" <small>({escape_text(note)})</small>" if note else "")
    head = f"<tr><th colspan=4>{caption}</th></tr>"
    return f"<table class=wards>{head}{body}</table>"


def best_worst_page(
    ctx: BriefContext, title: str, wards: pd.DataFrame, *, borough: str | None
) -> str:
    """Return the best and worst page of a borough's ``wards`` (or of all areas).

    Parameters
    ----------
    ctx
        The run (:func:`~hotspots.brief.context.build_context`); its compare table must pass
        :func:`has_best_worst`.
    title
        The page title.
    wards
        The areas of the page (rows of ``areas.csv``).
    borough
        The borough's name (its run-wide standing is looked up), None for all areas.

    Returns
    -------
    str
        A whole HTML page: a table per crime group (all crime first; two print columns) of
        up to :data:`BEST_WORST_N` worst and best wards.
    """
    window, shown, run_wide = _shared(ctx)
    rows = shown[shown["area_code"].isin(wards["area_code"].astype(str))]
    standing = run_wide if borough is not None else {}
    parts = dict(iter(rows.groupby("crime_type", sort=False)))
    groups = list(parts)
    tables = "".join(_group_table(ctx, str(g), parts[g], standing) for g in groups)
    among = [
        f"{escape_text(g)}: {escape_text(standing[('borough', str(g), borough)])}"
        for g in groups
        if borough is not None and ("borough", str(g), borough) in standing
    ]
    unit = ctx.label.lower()
    note = (
        f"<p class=caveat>Each crime group: the {unit}s whose crime rose most (worst) and fell "
        f"most (best), the last {escape_text(window)} against the {escape_text(window)} "
        "before. p is the exact test of the two counts: <i>more than chance</i> when p is "
        "under 0.05, else <i>could be chance</i> (with many groups and "
        f"{unit}s, some changes pass by chance alone). Changes with fewer than "
        f"{ctx.settings.too_few} crimes either side are not compared.</p>"
    )
    if among:
        note += f"<p class=caveat><b>Among boroughs</b>: {'; '.join(among)}.</p>"
    columns = (
        f"<p class=caveat><b>Columns</b>: {escape_text(ctx.label)} · crimes, last "
        f"{escape_text(window)} vs the {escape_text(window)} before · change · chance?</p>"
    )
    return html_page(
        title, page_header(ctx, {}, title) + note + columns + f"<div class=bw>{tables}</div>"
    )
