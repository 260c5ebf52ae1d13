"""Crime groups on the index page: group rates per area, and best and worst by group.

:func:`group_columns` picks the meeting groups (all crime, serious acquisitive crime,
violence, weapons) that ``rates.csv`` holds and gives each listed area's rates a year;
:func:`best_worst_section` folds ``performance.csv`` into one collapsed block of links. Both
are plain HTML (no script), so the index stays as quick to load as before.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import pandas as pd

from hotspots.analysis.groups import SERIOUS_ACQUISITIVE, WEAPONS, WEAPONS_CAVEAT
from hotspots.runfolder import area_file_stem
from hotspots.temporal.common import ALL_CRIME

__all__ = [
    "MEETING_GROUPS",
    "best_worst_section",
    "group_columns",
]

#: Groups shown as index columns when ``rates.csv`` has them (labels of the default groups).
MEETING_GROUPS: tuple[str, ...] = (
    ALL_CRIME,
    SERIOUS_ACQUISITIVE,
    "Violence and sexual offences",
    WEAPONS,
)
_SHORT = {
    ALL_CRIME: "All crime",
    SERIOUS_ACQUISITIVE: "SAC",
    "Violence and sexual offences": "Violence",
}


def _measure(rates: pd.DataFrame) -> tuple[str, str]:
    """Return the rates column shown and its unit: residents, else km, else crimes."""
    if rates["rate_per_1000"].notna().any():
        return "rate_per_1000", "per 1,000 a year"
    if rates["rate_per_km"].notna().any():
        return "rate_per_km", "per km a year"
    return "crimes", "in 12 months"


def group_columns(rates: pd.DataFrame | None) -> tuple[list[str], dict[str, str]]:
    """Return the group columns' headings and each area code's cells.

    Parameters
    ----------
    rates
        ``rates.csv`` (:func:`hotspots.analysis.rates.rate_table`), or None.

    Returns
    -------
    heads, cells
        One heading per meeting group present (all crime first), e.g. ``"SAC per 1,000 a
        year"`` (per 1,000 residents; per km of street without residents; else crimes in 12
        months; ``*`` on weapons: possession only); per area code its ``<td>`` cells in that
        order. A value
        with a caveat (city centre, area left out of the extract) carries ``*`` and the
        caveat as its tooltip.
    """
    if rates is None or rates.empty or "level" not in rates.columns:
        return [], {}
    areas = rates[rates["level"] == "area"]
    groups = [g for g in MEETING_GROUPS if (areas["crime_group"] == g).any()]
    if groups in ([], [ALL_CRIME]):
        return [], {}
    col, unit = _measure(areas)
    heads = [f"{_SHORT.get(g, 'Weapons*')} {unit}" for g in groups]
    table = areas.set_index(["area_code", "crime_group"])
    values = table[col].to_dict()
    caveats = {k: v if isinstance(v, str) else "" for k, v in table["caveat"].items()}
    cells: dict[str, str] = {}
    for code in areas["area_code"].astype(str).unique():
        parts = []
        for g in groups:
            value = values.get((code, g))
            if value is None or pd.isna(value):
                parts.append("<td class=n data-v=''></td>")
                continue
            text = f"{value:,.1f}" if col != "crimes" else f"{int(value):,}"
            caveat = caveats.get((code, g), "").replace(WEAPONS_CAVEAT, "").strip("; ")
            if caveat:
                text = f"<span title='{html.escape(caveat)}'>{text} *</span>"
            parts.append(f"<td class=n data-v='{float(value):g}'>{text}</td>")
        cells[code] = "".join(parts)
    return heads, cells


def _place_link(row: Mapping[str, object], exists: Callable[[str], bool]) -> str:
    code, name = str(row["area_code"]), str(row["area_name"])
    change = f"{float(str(row['pct_change'])):+.0f}%"
    p = row.get("p_value")
    test = f", p {float(str(p)):.2g}" if p is not None and pd.notna(p) else ""
    target = f"maps/{area_file_stem(code)}.html"
    text = f"{html.escape(name)} ({change}{test})"
    return f"<a href='{html.escape(target)}'>{text}</a>" if exists(target) else text


def best_worst_section(performance: pd.DataFrame | None, *, exists: Callable[[str], bool]) -> str:
    """Return a collapsed block of the best and worst places by level, group and window.

    Parameters
    ----------
    performance
        ``performance.csv`` (:func:`hotspots.analysis.performance.best_and_worst`), or None
        (or a file without the ``level`` column): no block.
    exists
        Whether a path relative to the run folder is written: area names link to their maps.

    Returns
    -------
    str
        ``<details>`` with one row per level, crime group and window: the worst (largest
        rises) and best, each with its % change and the exact test's p-value.
    """
    if performance is None or performance.empty or "level" not in performance.columns:
        return ""
    rows = []
    keys = ["level", "crime_group", "window"]
    for (level, group, window), part in performance.groupby(keys, sort=False):
        sides = {
            side: ", ".join(_place_link(r, exists) for r in rows_.to_dict("records"))
            for side, rows_ in part.groupby("performance", sort=False)
        }
        label = html.escape(str(group)) + (" *" if group == WEAPONS else "")
        wrap = "<td style='white-space:normal;width:40%'>"
        rows.append(
            f"<tr class=bw><td>{html.escape(str(level))}</td><td>{label}</td>"
            f"<td style='white-space:nowrap'>{html.escape(str(window))}</td>"
            f"{wrap}{sides.get('worst', '')}</td>{wrap}{sides.get('best', '')}</td></tr>"
        )
    weapons = (
        f" * Weapons: {html.escape(WEAPONS_CAVEAT)}."
        if (performance["crime_group"] == WEAPONS).any()
        else ""
    )
    return (
        "<details><summary>Best and worst by crime group and window (the files: "
        "<a href='performance.csv'>performance.csv</a>, rates in "
        "<a href='rates.csv'>rates.csv</a>)</summary>"
        "<p>Change against the period before, with at least 10 crimes in both; p is the "
        f"exact test of the change (under 0.05: unlikely to be chance).{weapons}</p>"
        "<table><thead><tr class=bw><th>Level</th><th>Crime group</th><th>Window</th>"
        "<th>Worst (rises)</th><th>Best (falls)</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></details>"
    )
