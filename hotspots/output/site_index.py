"""The run folder's ``index.html`` and the links of its pages: only to files that exist.

``hotspots run`` writes the index and the maps; ``hotspots brief`` writes ``briefs/`` later.
So every link is decided by one rule: a page links to a file of the run folder only if the
file is written by the same command or is already there. :func:`write_index` renders the
index from tables a run folder holds (``areas.csv`` and the place heads of
``place_monthly.csv``); :func:`hotspots.output.site_refresh.refresh_links` re-renders it from
the folder and rewrites the links of every map page, after ``hotspots brief`` has written the
briefs.

The index is one table of the areas with a list: sortable (click a header), searchable (one
box over every cell) and filterable (borough, trend), by a few lines of inline script that
work from ``file://`` without a network.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots.output.export import safe_file_stem
from hotspots.output.index_groups import best_worst_section, group_columns
from hotspots.read.schema import BASIS_STREET
from hotspots.runfolder import area_file_stem
from hotspots.temporal.common import ALL_CRIME

__all__ = [
    "area_links",
    "borough_brief_name",
    "brief_name",
    "place_name",
    "render_index",
    "replace_text",
    "top_places",
    "write_index",
]

#: ``id`` of the JSON block of the index page's own facts (place, subtitle, area label).
INDEX_ID = "hotspots-index"
#: Link labels of map popups, in the order they are shown.
LINK_LABELS = ("Area map", "Area list (CSV)", "Brief")


def brief_name(code: str) -> str:
    """Return the file name of an area's brief inside ``briefs/``."""
    return f"{area_file_stem(code)}.html"


def borough_brief_name(borough: str) -> str:
    """Return the file name of a borough's brief inside ``briefs/``."""
    return f"borough_{safe_file_stem(borough)}.html"


def _area_map_name(code: str) -> str:
    from hotspots.output.site import area_map_name

    return area_map_name(code)


def _borough_map_name(borough: str) -> str:
    from hotspots.output.site import borough_map_name

    return borough_map_name(borough)


def area_links(
    code: str, *, prefix: str, exists: Callable[[str], bool], own_map: bool = False
) -> dict[str, str]:
    """Return the popup links of an area that lead to files of the run folder that exist.

    Parameters
    ----------
    code
        The area code.
    prefix
        The way from the page to the run folder: ``""`` for ``map.html``, ``"../"`` for
        ``maps/*.html``.
    exists
        Whether a path relative to the run folder is (or will be) written.
    own_map
        Whether the page is the area's own map (no link to itself).

    Returns
    -------
    dict
        Label (:data:`LINK_LABELS`) to URL relative to the page.

    Examples
    --------
    >>> area_links("E1", prefix="../", exists=lambda p: p.startswith("wards/"))
    {'Area list (CSV)': '../wards/E1.csv'}
    """
    targets = {
        "Area map": "" if own_map else f"maps/{_area_map_name(code)}",
        "Area list (CSV)": f"wards/{area_file_stem(code)}.csv",
        "Brief": f"briefs/{brief_name(code)}",
    }
    return {k: prefix + t for k, t in targets.items() if t and exists(t)}


def place_name(crimes: pd.DataFrame, fmt: str | None = None) -> str:
    """Return the force or city the data covers, for page titles.

    Parameters
    ----------
    crimes
        Crimes; a non-empty ``force`` column (police.uk "Falls within") names the forces.
    fmt
        The crime format (``"police-uk"``, a mapping name or a mapping path): without force
        names, the mapping's ``name`` (a path: its file name), in title case.

    Returns
    -------
    str
        E.g. ``"Metropolitan Police Service"``, ``"Metropolitan Police Service and City of
        London Police"``, ``"Vancouver"``; ``""`` when neither gives a name.

    Examples
    --------
    >>> place_name(pd.DataFrame({"force": ["Kent Police"] * 3 + ["Essex Police"]}))
    'Kent Police and Essex Police'
    >>> place_name(pd.DataFrame({"force": [""]}), "vancouver")
    'Vancouver'
    """
    if "force" in crimes.columns:
        forces = crimes["force"].astype(object).replace("", None).dropna().value_counts()
        names = [str(f) for f in forces.index]
        if len(names) > 2:
            return f"{names[0]}, {names[1]} and {len(names) - 2} other force(s)"
        if names:
            return " and ".join(names)
    if not fmt or fmt == "police-uk":
        return ""
    name = _mapping_name(fmt)
    return " ".join(w.capitalize() for w in re.split(r"[\s_-]+", name) if w)


def _mapping_name(fmt: str) -> str:
    import tomllib
    from importlib import resources

    path = Path(fmt)
    text = ""
    if path.suffix == ".toml" and path.exists():
        text = path.read_text(encoding="utf-8")
    elif (resources.files("hotspots") / "mappings" / f"{fmt}.toml").is_file():
        text = (resources.files("hotspots") / "mappings" / f"{fmt}.toml").read_text("utf-8")
    try:
        return str(tomllib.loads(text).get("name", path.stem))
    except tomllib.TOMLDecodeError:
        return path.stem


def top_places(places: pd.DataFrame) -> pd.DataFrame:
    """Return each area's top listed place: its hot street #1, else its location #1.

    Parameters
    ----------
    places
        ``basis, area_code, area_rank, street`` of every listed place (the head columns of
        ``place_monthly.csv``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``area_code``: ``street`` and ``basis`` of the top place.

    Examples
    --------
    >>> from hotspots.read.schema import BASIS_LOCATION
    >>> places = pd.DataFrame({"basis": [BASIS_LOCATION, BASIS_STREET, BASIS_LOCATION],
    ...                        "area_code": ["A", "A", "B"], "area_rank": [1, 1, 1],
    ...                        "street": ["On or near Mall", "High St", "Parking Area"]})
    >>> top_places(places)["street"].to_dict()
    {'A': 'High St', 'B': 'Parking Area'}
    """
    order = places.assign(
        _loc=(places["basis"] != BASIS_STREET).astype(int),
        _rank=pd.to_numeric(places["area_rank"], errors="coerce"),
    ).sort_values(["area_code", "_loc", "_rank"], kind="stable")
    top = order.drop_duplicates("area_code").set_index("area_code")
    return top[["street", "basis"]]


def _change_cell(r: Mapping[str, Any]) -> tuple[str, str]:
    """Text and sort value of the change on the previous period."""
    change = r.get("recent_pct_change_previous")
    flag = r.get("recent_flag_previous")
    if isinstance(flag, str) and flag:
        return flag, ""
    if change is None or pd.isna(change):
        return "", ""
    return f"{change:+.0f}%", f"{float(change):g}"


def _cell(text: str, value: str | None = None, cls: str = "") -> str:
    attrs = (f" data-v='{html.escape(value)}'" if value is not None else "") + (
        f" class={cls}" if cls else ""
    )
    return f"<td{attrs}>{text}</td>"


def _index_row(
    r: Mapping[str, Any],
    top: pd.DataFrame,
    exists: Callable[[str], bool],
    boroughs: bool,
    rate: bool,
    groups: str = "",
) -> str:
    e = html.escape
    code = str(r["area_code"])
    links = area_links(code, prefix="", exists=exists)
    short = {"Area map": "map", "Area list (CSV)": "list", "Brief": "brief"}
    opened = " · ".join(f"<a href='{e(u)}'>{short[k]}</a>" for k, u in links.items())
    name = f"{e(str(r['area_name']))} <span class=code>{e(code)}</span>"
    cells = [_cell(name)]
    if boroughs:
        cells.append(_cell(e(str(r.get("borough") or "")), cls="b"))
    crimes = int(r["crimes"])
    cells.append(_cell(f"{crimes:,}", str(crimes), "n"))
    if rate:
        value = r.get("rate_per_1000")
        ok = value is not None and pd.notna(value)
        cells.append(_cell(f"{value:.1f}" if ok else "", f"{value:g}" if ok else "", "n"))
    cells.append(groups)  # the crime groups' rates (index_groups.group_columns)
    change, sort_value = _change_cell(r)
    cells.append(_cell(e(change), sort_value, "n"))
    cells.append(_cell(e(str(r.get("trend_class") or "")), cls="t"))
    place = ""
    if code in top.index:
        street, basis = str(top.at[code, "street"]), str(top.at[code, "basis"])
        tag = "" if basis == BASIS_STREET else " <span class=tag>police.uk location</span>"
        place = e(street) + tag
    cells += [_cell(place), _cell(opened)]
    return "<tr>" + "".join(cells) + "</tr>"


def _index_head(boroughs: bool, rate: bool, groups: list[str] | None = None) -> str:
    cols = [
        ("Area", "text"),
        *([("Borough", "text")] if boroughs else []),
        ("Crimes", "num"),
        *([("Per 1,000 residents, whole period", "num")] if rate else []),
        *((g, "num") for g in groups or []),
        ("Last 3 months vs previous", "num"),
        ("Trend", "text"),
        ("Top hot street or location", "text"),
        ("Open", "none"),
    ]
    return "".join(
        f"<th data-type={t}{' tabindex=0 role=button' if t != 'none' else ''}>{html.escape(c)}</th>"
        for c, t in cols
    )


def _options(values: Iterable[Any]) -> str:
    names = sorted({str(v) for v in values if isinstance(v, str) and v})
    return "".join(f"<option>{html.escape(n)}</option>" for n in names)


def _group_links(summary: pd.DataFrame, exists: Callable[[str], bool]) -> str:
    """Borough brief and map links (those that exist)."""
    if "borough" not in summary.columns:
        target = "briefs/all_areas.html"
        return f"<p><a href='{target}'>Brief of all areas</a></p>" if exists(target) else ""
    names = sorted(str(b) for b in summary.loc[summary["crimes"] > 0, "borough"].dropna().unique())
    out = []
    for label, folder, name in (
        ("Borough briefs", "briefs", borough_brief_name),
        ("Borough maps", "maps", _borough_map_name),
    ):
        found = [(b, f"{folder}/{name(b)}") for b in names if exists(f"{folder}/{name(b)}")]
        if found:
            out.append(
                f"<p>{label}: "
                + " · ".join(f"<a href='{html.escape(u)}'>{html.escape(b)}</a>" for b, u in found)
                + "</p>"
            )
    return "".join(out)


def render_index(
    summary: pd.DataFrame,
    places: pd.DataFrame,
    *,
    exists: Callable[[str], bool],
    subtitle: str,
    place: str = "",
    area_label: str = "area",
    extra_links: Sequence[tuple[str, str]] = (),
    rates: pd.DataFrame | None = None,
    performance: pd.DataFrame | None = None,
) -> str:
    """Return the index page of a run folder.

    Parameters
    ----------
    summary
        ``areas.csv``: ``area_code``, ``area_name``, ``crimes`` and, where present,
        ``borough``, ``rate_per_1000``, ``recent_pct_change_previous``,
        ``recent_flag_previous``, ``trend_class``.
    places
        ``basis, area_code, area_rank, street`` of the listed places (:func:`top_places`).
    exists
        Whether a path relative to the run folder is (or will be) written: only those are
        linked. An area is listed when its list (``wards/<code>.csv``) exists.
    subtitle
        Period and data.
    place
        Force or city (:func:`place_name`), shown in the title.
    area_label
        What an area is called ("ward", "area").
    extra_links
        (address, text) of more links for the top line, e.g. the run's other area layers.
    rates, performance
        ``rates.csv`` and ``performance.csv``: the crime groups' rates as columns and the
        best and worst by group in a collapsed block (:mod:`hotspots.output.index_groups`).

    Returns
    -------
    str
        A self-contained HTML page: the table sorts on a header click, a search box hides
        the rows without the text, and borough and trend choices filter the rows.
    """
    e = html.escape
    listed = summary[
        [exists(f"wards/{area_file_stem(str(c))}.csv") for c in summary["area_code"]]
    ].sort_values("crimes", ascending=False, kind="stable")
    boroughs = "borough" in summary.columns
    top = top_places(places)
    group_heads, group_cells = group_columns(rates)
    # one rate per resident: the whole period's only where rates.csv gives no rate a year
    rate = "rate_per_1000" in summary.columns and not any(
        h.startswith(f"{ALL_CRIME} per 1,000") for h in group_heads
    )
    rows = [
        _index_row(r, top, exists, boroughs, rate, group_cells.get(str(r["area_code"]), ""))
        for r in listed.to_dict("records")
    ]
    title = f"{place}: hot streets by {area_label}" if place else f"Hot streets by {area_label}"
    files = [
        ("map.html", "City-wide map"),
        ("hot_streets.csv", "All hot streets (CSV)"),
        ("areas.csv", "Areas (CSV)"),
        ("run.json", "Run manifest"),
    ]
    shown = [(u, t) for u, t in files if exists(u)] + list(extra_links)
    top_links = " · ".join(f"<a href='{e(u)}'>{e(t)}</a>" for u, t in shown)
    briefs = any(exists(f"briefs/{brief_name(str(c))}") for c in listed["area_code"])
    note = (
        ""
        if briefs
        else (
            "<p class=note>No briefs yet: <code>hotspots brief RUN_FOLDER</code> writes a "
            "printable brief per area (three proposed priorities) and adds the links here and "
            "on the maps."
            "</p>"
        )
    )
    meta = json.dumps(
        {
            "place": place,
            "subtitle": subtitle,
            "area_label": area_label,
            "extra_links": [list(link) for link in extra_links],
        }
    )
    return _INDEX.format(
        title=e(title),
        subtitle=e(subtitle),
        links=top_links,
        note=note,
        groups=_group_links(summary, exists) + best_worst_section(performance, exists=exists),
        head=_index_head(boroughs, rate, group_heads),
        rows="\n".join(rows),
        n=len(rows),
        label=e(area_label),
        borough_filter=(
            f"<select id=borough aria-label='Borough'><option value=''>All boroughs"
            f"</option>{_options(listed['borough'])}</select>"
            if boroughs
            else ""
        ),
        trend_filter=(
            f"<select id=trend aria-label='Trend'><option value=''>All trends</option>"
            f"{_options(listed.get('trend_class', pd.Series(dtype=object)))}</select>"
        ),
        meta=f'<script type="application/json" id="{INDEX_ID}">'
        f"{meta.replace('<', chr(92) + 'u003c')}</script>",
        script=_SCRIPT,
    )


def write_index(
    summary: pd.DataFrame,
    places: pd.DataFrame,
    out_dir: Path,
    *,
    exists: Callable[[str], bool],
    subtitle: str,
    place: str = "",
    area_label: str = "area",
    extra_links: Sequence[tuple[str, str]] = (),
    rates: pd.DataFrame | None = None,
    performance: pd.DataFrame | None = None,
) -> Path:
    """Write ``index.html`` (:func:`render_index`) into ``out_dir`` and return its path."""
    path = Path(out_dir) / "index.html"
    replace_text(
        path,
        render_index(
            summary,
            places,
            exists=exists,
            subtitle=subtitle,
            place=place,
            area_label=area_label,
            extra_links=extra_links,
            rates=rates,
            performance=performance,
        ),
    )
    return path


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_SCRIPT = """
(function () {
  var table = document.getElementById('areas'), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows), shown = document.getElementById('shown');
  var q = document.getElementById('q'), borough = document.getElementById('borough');
  var trend = document.getElementById('trend');
  var heads = table.tHead.rows[0].cells, bCol = -1, tCol = -1;
  for (var i = 0; i < heads.length; i++) {
    if (heads[i].textContent === 'Borough') bCol = i;
    if (heads[i].textContent === 'Trend') tCol = i;
  }
  rows.forEach(function (r) { r._text = r.textContent.toLowerCase(); });
  function filter() {
    var words = q.value.toLowerCase().split(/\\s+/).filter(Boolean), n = 0;
    var b = borough ? borough.value : '', t = trend ? trend.value : '';
    rows.forEach(function (r) {
      var ok = words.every(function (w) { return r._text.indexOf(w) >= 0; }) &&
        (!b || r.cells[bCol].textContent === b) && (!t || r.cells[tCol].textContent === t);
      r.hidden = !ok; n += ok ? 1 : 0;
    });
    var label = shown.getAttribute('data-label');
    shown.textContent = (n === rows.length ? '' : n + ' of ') + rows.length + ' ' + label;
  }
  function key(r, col, num) {
    var c = r.cells[col], v = c.getAttribute('data-v');
    if (!num) return c.textContent.toLowerCase();
    return v === null || v === '' ? null : parseFloat(v);
  }
  function sort(col) {
    var th = heads[col], num = th.getAttribute('data-type') === 'num';
    var dir = th.getAttribute('aria-sort') === (num ? 'descending' : 'ascending') ? -1 : 1;
    if (num) dir = -dir;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute('aria-sort');
    th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
    rows.sort(function (a, b) {
      var x = key(a, col, num), y = key(b, col, num);
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return x < y ? -dir : dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    if (th.getAttribute('data-type') === 'none') return;
    th.addEventListener('click', function () { sort(col); });
    th.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); sort(col); }
    });
  });
  [q, borough, trend].forEach(function (el) {
    if (el) { el.addEventListener('input', filter); el.addEventListener('change', filter); }
  });
  filter();
})();
"""

_INDEX = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta name=viewport content="width=device-width, initial-scale=1">
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}}
h1{{font-size:21px;margin:0 0 2px}} .sub{{color:#555;margin:0 0 8px}}
.note{{background:#fff8e1;border-left:3px solid #f0b400;padding:4px 8px}}
.tools{{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:10px 0;position:sticky;
top:0;background:#fff;padding:6px 0;z-index:2}}
.tools input{{flex:1 1 260px;max-width:420px;padding:5px 8px;font:inherit}}
.tools select{{padding:4px;font:inherit}} #shown{{color:#555}}
table{{border-collapse:collapse;width:100%}} th,td{{border-bottom:1px solid #ddd;padding:4px 6px;
text-align:left;vertical-align:top}}
th{{background:#f3f3f3;position:sticky;top:44px;z-index:1;white-space:nowrap}}
th[data-type=num],th[data-type=text]{{cursor:pointer}}
th[data-type=num],th[data-type=text]{{user-select:none}}
th[aria-sort=ascending]::after{{content:" \\25B2";font-size:10px}}
th[aria-sort=descending]::after{{content:" \\25BC";font-size:10px}}
td.n{{text-align:right;white-space:nowrap}} td:last-child{{white-space:nowrap}}
.code{{color:#777;font-size:12px}}
.tag{{font-size:11px;color:#555;background:#eee;border-radius:3px;padding:0 4px;
white-space:nowrap}} tr[hidden]{{display:none}}
@media print{{.tools{{display:none}} th{{position:static}}}}
</style></head><body>
<h1>{title}</h1><p class=sub>{subtitle}</p>
<p>{links}</p>
{note}{groups}
<p>One row per {label} with a list, busiest first. "Last 3 months vs previous" compares the
latest three months with the three before; small counts say "too few to compare". Click a
heading to sort.</p>
<div class=tools><input id=q type=search placeholder="Search {label}, borough, street..."
aria-label="Search">{borough_filter}{trend_filter}
<span id=shown data-label='{label}s'>{n} {label}s</span></div>
<table id=areas><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table>
{meta}
<script>{script}</script>
</body></html>
"""
