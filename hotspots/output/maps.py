"""Folium maps of hot streets for tasking meetings.

One function, :func:`explore_hot_streets`, draws every map: the city-wide map (top hot streets,
simplified boundaries) and the map of one ward or borough (all of its hot streets and
locations, hexagons, clusters, repeat locations and crime locations). Layers are drawn on
canvas by one Leaflet script (``hotspots/map_assets/map.js``) fed with encoded polylines and
integer counts (:mod:`hotspots.output.map_data`), so a map is a single HTML file that re-ranks its
streets and areas in the page when a crime group, the harm switch, a period or the "what
changed" view is chosen. Popup links come from one JSON block, ``<script
type="application/json" id="hotspots-links">`` (area code -> label -> relative URL), which
``hotspots brief`` may replace.

Safety: every text taken from the data is HTML-escaped in Python before it reaches the page,
and the data block is JSON with ``<``, ``>`` and ``&`` escaped, so a street name holding markup
or ``</script>`` shows as text.
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from hotspots.output.map_data import (
    PeriodCounts,
    encode_frame,
    heat_code,
    heat_palette,
    period_counts,
    to_wgs84,
)
from hotspots.output.offline import inline_assets
from hotspots.read.schema import TYPE_COUNT_PREFIX
from hotspots.temporal import NO_TIME_OF_DAY

__all__ = [
    "AREA_RANK_BANDS",
    "CHOROPLETH_COLOURS",
    "CORRIDOR_BANDS",
    "CRIMES_MIN_ZOOM",
    "DEFAULT_TOP_N",
    "MAIN_ROADS_BELOW_ZOOM",
    "MAX_CORRIDORS",
    "MAX_REPEATS",
    "MONTH_ONLY_WINDOW",
    "RANK_BANDS",
    "SIGNIFICANCE_COLOURS",
    "TOO_FEW",
    "corridor_popup_html",
    "explore_hot_streets",
    "hot_streets_page",
    "links_block",
    "safe_json",
    "street_popup_html",
]

#: Rank bands of the hot-street colours: (last rank in band, colour, label, line weight).
RANK_BANDS: list[tuple[int, str, str, int]] = [
    (10, "#b2182b", "rank 1-10", 8),
    (50, "#ef6548", "rank 11-50", 6),
    (200, "#fdae61", "rank 51-200", 4),
    (10**9, "#e6c700", "rank over 200", 3),
]
#: Rank bands of an area map, by rank within the area.
AREA_RANK_BANDS: list[tuple[int, str, str, int]] = [
    (3, "#b2182b", "area rank 1-3", 8),
    (10, "#ef6548", "area rank 4-10", 6),
    (25, "#fdae61", "area rank 11-25", 4),
    (10**9, "#e6c700", "area rank over 25", 3),
]
#: Colours of significance classes (Gi*), shared by streets and hexagons.
SIGNIFICANCE_COLOURS: dict[str, str] = {
    "Hot spot 99%": "#b2182b",
    "Hot spot 95%": "#ef8a62",
    "Hot spot 90%": "#fddbc7",
    "Not significant": "#bdbdbd",
    "Cold spot 90%": "#d1e5f0",
    "Cold spot 95%": "#67a9cf",
    "Cold spot 99%": "#2166ac",
}
#: Rank bands of corridors (city-wide rank by crimes per km): (last rank, colour, label).
CORRIDOR_BANDS: list[tuple[int, str, str]] = [
    (10, "#3f007d", "corridor rank 1-10"),
    (25, "#6a51a3", "corridor rank 11-25"),
    (50, "#9e9ac8", "corridor rank 26-50"),
    (10**9, "#cbc9e2", "corridor rank over 50"),
]
#: Corridors drawn at most on one map (the top ranks).
MAX_CORRIDORS = 150
CHOROPLETH_COLOURS = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]
DEFAULT_TOP_N = 300
#: Smallest zoom at which individual crime locations are drawn.
CRIMES_MIN_ZOOM = 15
#: Below this zoom the background street network is its main roads only.
MAIN_ROADS_BELOW_ZOOM = 14
#: Fewest crimes in each of two periods for a change to be called (as temporal.compare_periods).
TOO_FEW = 10
#: Repeat locations drawn at most on one map (the busiest).
MAX_REPEATS = 400
#: Patrol window text where the data gives the month only (police.uk).
MONTH_ONLY_WINDOW = "time unknown (the data gives the month only)"
_TEMPLATE_OPENER = re.compile(r"\{(?=[{%#])")
#: One table row: a dict (``to_dict("records")``; faster than Series) or a pandas Series.
Row: TypeAlias = Mapping[str, Any]


def safe_json(obj: Any) -> str:
    r"""Return JSON that is safe inside an HTML ``<script>`` block.

    Parameters
    ----------
    obj
        Any JSON-serialisable value.

    Returns
    -------
    str
        JSON with ``<``, ``>`` and ``&`` written as unicode escapes.

    Examples
    --------
    >>> print(safe_json({"s": "</script>"}))
    {"s":"\u003c/script\u003e"}
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # folium renders macro output as a Jinja template again: no "{{", "{%" or "{#" may remain
    # (they can only occur inside JSON strings, where the escape is equivalent)
    return _TEMPLATE_OPENER.sub(r"\\u007b", text)


def _band(rank: int, bands: list[tuple[int, str, str, int]]) -> tuple[int, str, str, int]:
    return next(b for b in bands if rank <= b[0])


def _asset(name: str) -> str:
    text = importlib.resources.files("hotspots").joinpath("map_assets", name).read_text("utf-8")
    if _TEMPLATE_OPENER.search(text):  # folium renders pages with Jinja
        msg = f"hotspots/map_assets/{name} holds a Jinja opener ({{{{, {{% or {{#)"
        raise RuntimeError(msg)
    return text


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
    callers = _callers_text(row)
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


def _callers_text(row: Row) -> str:
    """Return the repeat-caller line of a place (counts only, never a reference), or ''.

    Repeat callers are callers with two or more records at the place in the last 6 months
    and the last 24 hours, both ending at the latest record (``repeat_callers_6m``,
    ``repeat_callers_24h``: only when the input has a ``caller`` column).

    Examples
    --------
    >>> _callers_text({"repeat_callers_6m": 3.0, "repeat_callers_24h": 0})
    'Repeat callers: <b>3</b> in the last 6 months, <b>0</b> in the last 24 hours'
    >>> _callers_text({"street": "A St"})
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


def _fallback_counts(frames: Sequence[pd.DataFrame | None]) -> PeriodCounts:
    """Return counts of one period from the ``n_<type>`` columns, for maps without a run."""
    from hotspots.analysis.groups import classify_crime_types, read_brief_weights

    keys = sorted(
        {
            c[len(TYPE_COUNT_PREFIX) :]
            for f in frames
            if f is not None
            for c in f.columns
            if c.startswith(TYPE_COUNT_PREFIX)
        }
    )
    settings = read_brief_weights()
    labels = [k.replace("_", " ") for k in keys]
    crimes = pd.DataFrame({"crime_type": labels, "month": "whole period"})
    return period_counts(
        crimes,
        keys=(),
        group_of=classify_crime_types(labels, settings=settings),
        group_labels=settings.labels,
    )


def _place_lists(frame: pd.DataFrame, counts: PeriodCounts) -> tuple[list[Any], list[Any]]:
    """Monthly and weekly count lists of each row, by ``place_key`` or from ``n_`` columns."""
    if "place_key" in frame and counts.places:
        return counts.lists(frame["place_key"].astype(str))
    cfg = counts.settings
    cols = [TYPE_COUNT_PREFIX + k for k in cfg["typeKeys"]]
    n_months = len(counts.months)
    monthly = [
        [
            v
            for t, c in enumerate(cols)
            if c in frame and row[c] > 0
            for v in ((t + 1) * n_months - 1, int(row[c]))
        ]
        for _, row in frame.iterrows()
    ]
    return monthly, []


def _place_features(
    hot: gpd.GeoDataFrame,
    counts: PeriodCounts,
    rank_col: str,
    type_labels: Mapping[str, str],
    charts: Sequence[str],
) -> dict[str, Any]:
    type_cols = [c for c in hot.columns if c.startswith(TYPE_COUNT_PREFIX)]
    monthly, weekly = _place_lists(hot, counts)
    ranks = (
        hot[rank_col].where(hot[rank_col].notna(), hot["area_rank"])
        if rank_col in hot
        else hot["area_rank"]
    )
    sig = hot["significance"].astype(str) if "significance" in hot else None
    records = hot.drop(columns="geometry").to_dict("records")
    profiles = []  # hour-of-week heatmaps as codes; the page draws them
    for row in records:
        svg = row.get("profile_svg") if "profile_svg" in charts else None
        code = heat_code(svg) if isinstance(svg, str) else None
        profiles.append(code)
        if code is not None:
            row["profile_svg"] = "<!--profile-->"
    return {
        "name": [html.escape(str(s)) for s in hot["street"]],
        "area": [str(a) for a in hot["area_code"]],
        "r": [int(r) if pd.notna(r) else 10**6 for r in ranks],
        "ar": [int(r) if pd.notna(r) else 10**6 for r in hot["area_rank"]],
        "len": _ranked_lengths(hot),
        "cs": None if sig is None else [SIGNIFICANCE_COLOURS.get(s, "#bdbdbd") for s in sig],
        "popup": [
            street_popup_html(row, type_cols, type_labels=type_labels, charts=charts)
            for row in records
        ],
        "pf": profiles,
        "g": encode_frame(hot),
        "m": monthly,
        "w": weekly or None,
    }


def _window_codes(
    frame: pd.DataFrame,
    counts: PeriodCounts,
    windows: Mapping[str, Mapping[str, str]],
    texts: dict[str, int],
) -> list[list[int] | None] | None:
    """Per row, ``[group index, text index, ...]`` of its crime groups' patrol windows.

    Group indices are those of the page's crime groups (``counts.group_labels``); text
    indices point into ``texts`` (filled here: distinct texts in order of first use).
    """
    if not windows or "place_key" not in frame:
        return None
    group_index = {g: i for i, g in enumerate(counts.group_labels)}
    out: list[list[int] | None] = []
    for key in frame["place_key"].astype(str):
        flat = [
            v
            for g, t in windows.get(key, {}).items()
            if g in group_index
            for v in (group_index[g], texts.setdefault(t, len(texts)))
        ]
        out.append(flat or None)
    return out


def _ranked_lengths(hot: pd.DataFrame) -> list[float | None] | None:
    """Street length the run ranked by (floored: crimes x 100 / crimes per 100 m), or None."""
    if "crimes_per_100m" not in hot:
        return None
    per = pd.to_numeric(hot["crimes_per_100m"], errors="coerce").to_numpy(float)
    crimes = pd.to_numeric(hot["crimes"], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.where(per > 0, crimes * 100 / per, np.nan)
    return [None if np.isnan(v) else round(float(v), 2) for v in length]


def _area_features(
    areas: gpd.GeoDataFrame, value: str, focus: Sequence[str], counts: PeriodCounts
) -> dict[str, Any]:
    codes = [str(c) for c in areas["area_code"]]
    monthly, weekly = counts.lists(codes) if counts.places else ([[] for _ in codes], [])
    v = pd.to_numeric(areas[value], errors="coerce") if value in areas else None
    pop = pd.to_numeric(areas["population"], errors="coerce") if "population" in areas else None
    return {
        "code": codes,
        "name": [html.escape(str(n)) for n in areas["area_name"]],
        "focus": [c in focus for c in codes],
        "pop": None
        if pop is None or not counts.places
        else [None if pd.isna(p) or p <= 0 else float(p) for p in pop],
        "v": None if v is None else [None if pd.isna(x) else round(float(x), 2) for x in v],
        "g": encode_frame(areas, simplify_m=10 if focus else 25),
        "m": monthly,
        "w": weekly or None,
    }


def _hex_features(hexes: gpd.GeoDataFrame) -> dict[str, Any]:
    cls = hexes["gi_class"].astype(str)
    return {
        "g": encode_frame(hexes),
        "c": [SIGNIFICANCE_COLOURS.get(c, "#999999") for c in cls],
        "tip": [html.escape(f"{c}: {n} crimes") for c, n in zip(cls, hexes["crimes"], strict=True)],
        "classes": [c for c in SIGNIFICANCE_COLOURS if c in set(cls)],
    }


def _cluster_features(clusters: gpd.GeoDataFrame) -> dict[str, Any]:
    tips = [
        "; ".join(
            f"{c.replace('_', ' ')}: {row[c]}"
            for c in ("cluster_id", "crimes", "top_types", "streets")
            if c in row
        )
        for _, row in clusters.iterrows()
    ]
    return {"g": encode_frame(clusters), "tip": [html.escape(t) for t in tips]}


def _repeat_features(repeats: gpd.GeoDataFrame) -> dict[str, Any]:
    top = repeats.sort_values("crimes", ascending=False, kind="stable").head(MAX_REPEATS)
    lon, lat = shapely.get_coordinates(to_wgs84(top.geometry)).T
    tips = [
        f"Repeat location: {r['location']}: {r['crimes']} crimes in {r['months']} months "
        f"({r['first_month']} to {r['last_month']}); {r['top_types']}"
        for r in top.drop(columns="geometry").to_dict("records")
    ]
    return {
        "ll": [[round(float(y), 5), round(float(x), 5)] for x, y in zip(lon, lat, strict=True)],
        "n": [int(n) for n in top["crimes"]],
        "tip": [html.escape(t) for t in tips],
        "min": int(repeats["crimes"].min()),
    }


def _corridor_features(corridors: gpd.GeoDataFrame, total: int) -> dict[str, Any]:
    """Return the best ranked corridors: lines, colour by rank and popup of each."""
    top = corridors.sort_values("rank", kind="stable").head(MAX_CORRIDORS)
    collisions = "collisions_per_km" in top
    return {
        "g": encode_frame(top, simplify_m=2.0),
        "c": [next(b[1] for b in CORRIDOR_BANDS if r <= b[0]) for r in top["rank"]],
        "popup": [
            corridor_popup_html(r, of=total)
            for r in top.drop(columns="geometry").to_dict("records")
        ],
        "tip": [
            html.escape(f"{r['street']}: {float(r['crimes_per_km']):,.0f} crimes per km")
            for r in top.drop(columns="geometry").to_dict("records")
        ],
        "bands": [[c, label] for _, c, label in CORRIDOR_BANDS],
        "collisions": collisions,
        "total": total,
    }


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
    >>> print(corridor_popup_html({"street": "A <St>", "extent": "", "area_name": "X",
    ...     "rank": 2, "rank_by_harm": 5, "length_m": 1234.5, "segment_count": 7,
    ...     "crimes": 40, "crimes_per_km": 32.4, "harm_per_km": 1500.0}, of=9))
    <div class=hs-popup><b class=hs-name>A &lt;St&gt;</b><br>Corridor in X<br>Rank <b>2</b> of 9 by crimes per km (<b>5</b> by harm)<br>Length 1.23 km (7 segments)<br>Crimes: 40, <b>32.4 per km</b><br>Harm: 1,500 days per km</div>
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


def _base_features(base: gpd.GeoDataFrame, simplify_m: float) -> dict[str, Any]:
    """Return the background network: all of it, and its main roads (``main``) if marked."""
    rings = [r for g in encode_frame(base, simplify_m=simplify_m) for r in g]
    out: dict[str, Any] = {"full": rings}
    if "main" in base and base["main"].any() and not base["main"].all():
        main = base[base["main"].astype(bool)]
        out["main"] = [r for g in encode_frame(main, simplify_m=simplify_m * 3) for r in g]
    return out


def _crime_points(crimes: pd.DataFrame, type_keys: list[str]) -> list[int]:
    """Distinct crime locations per type, flat: ``[lat, lon, type, count, ...]``.

    Latitude and longitude are integers of 1e-5 degrees, each point's given as the change
    from the point before (the first from 0), so the list stays short. A row of ``crimes``
    is one crime, or ``n`` crimes where ``crimes`` has an ``n`` column.
    """
    idx = {t: i for i, t in enumerate(type_keys)}
    typ = crimes["type"].astype(object).map(idx).to_numpy(float)
    n = crimes["n"].to_numpy(np.int64) if "n" in crimes else np.ones(len(crimes), np.int64)
    lat = np.round(crimes["lat"].to_numpy(float) * 1e5).astype(np.int64)
    lon = np.round(crimes["lon"].to_numpy(float) * 1e5).astype(np.int64)
    ok = ~np.isnan(typ)
    # one row per point and type: rows are summed (a row may stand for n crimes)
    key = pd.DataFrame({"lat": lat[ok], "lon": lon[ok], "t": typ[ok].astype(np.int64), "n": n[ok]})
    g = key.groupby(["lat", "lon", "t"], sort=True)["n"].sum().reset_index()
    flat = np.column_stack(
        [
            np.diff(g["lat"].to_numpy(), prepend=0),
            np.diff(g["lon"].to_numpy(), prepend=0),
            g["t"].to_numpy(),
            g["n"].to_numpy(),
        ]
    )
    return [int(v) for v in flat.ravel()]


class _Layers(MacroElement):
    """The map's data layers, controls and legend, drawn by one Leaflet script."""

    _template = Template("""
{% macro header(this, kwargs) %}<style>{{ this.css }}</style>{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var cfg = {{ this.data }};
  {{ this.js }}
})();
{% endmacro %}
""")

    def __init__(self, data_json: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "HotspotLayers"
        self.data = data_json
        self.js = _JS
        self.css = _CSS


def explore_hot_streets(
    hot: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    *,
    locations: gpd.GeoDataFrame | None = None,
    hexes: gpd.GeoDataFrame | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    repeats: gpd.GeoDataFrame | None = None,
    corridors: gpd.GeoDataFrame | None = None,
    corridor_count: int | None = None,
    crimes: pd.DataFrame | None = None,
    base_streets: gpd.GeoDataFrame | None = None,
    counts: PeriodCounts | None = None,
    windows: Mapping[str, Mapping[str, str]] | None = None,
    focus: Sequence[str] = (),
    area_value: str = "crimes",
    top_n: int | None = DEFAULT_TOP_N,
    rank_col: str = "rank",
    title: str = "Hot streets",
    subtitle: str = "",
    evidence: str = "",
    trend: str = "",
    links: Mapping[str, Mapping[str, str]] | None = None,
    offline: bool = False,
) -> folium.Map:
    """Return a Folium map of hot streets for a tasking meeting.

    Parameters
    ----------
    hot
        Hot streets (from :func:`hotspots.analysis.rank.rank_streets`, possibly with temporal and
        significance columns), sorted by rank; a ``place_key`` column (``s<i>``) finds each
        street's counts in ``counts``.
    areas
        Area polygons with ``area_code``, ``area_name``, the ``area_value`` column and
        optionally ``population``: a choropleth redrawn for each choice; the ``focus`` areas
        are outlined and the map fits them.
    locations
        police.uk locations listed where the street layer does not reach (multipoints), with
        ``place_key`` (``l<i>``) like ``hot``.
    hexes
        H3 hexagons with ``gi_class`` (Gi* class) and ``crimes``, drawn coloured by class.
    clusters
        Cluster outlines with ``cluster_id`` and ``crimes``.
    repeats
        Repeat locations (:func:`hotspots.analysis.clusters.repeat_locations`), a switchable layer.
    corridors
        Corridors (:func:`hotspots.analysis.corridors.build_corridors`), a layer off by default: the
        :data:`MAX_CORRIDORS` best ranked are drawn, coloured by rank.
    corridor_count
        Corridors in the run, that the ranks are out of (default: ``len(corridors)``; give
        it when ``corridors`` is one area's part).
    crimes
        Crime locations with ``lat``, ``lon`` and ``type`` (type key; optionally ``n``, the
        crimes a row stands for); drawn only when zoomed in.
    base_streets
        Street lines drawn as a light base layer (for offline maps, which have no tiles); a
        boolean ``main`` column marks the roads kept at city zooms.
    counts
        Counts per place, type and month (:func:`hotspots.output.map_data.period_counts`) for the
        group, harm and period choices; None: whole-period counts from the ``n_`` columns.
    windows
        Per place key, the patrol window of each crime group key
        (:func:`hotspots.temporal.group_window_texts`): a popup shows the chosen group's.
    focus
        Area codes the map is about (a ward map); empty for the city-wide map.
    area_value
        Column of ``areas`` shown when ``counts`` has no area counts.
    top_n
        Draw the top ``top_n`` hot streets of each choice (None: all).
    rank_col
        ``"rank"`` (city-wide bands) or ``"area_rank"`` (bands within the area) for colours.
    title, subtitle
        Title block: the map's name, then the period and data it shows.
    evidence
        The backtest sentence, shown on demand under "How far to trust this list".
    trend
        The area's trend over the whole period, quoted in the title block.
    links
        Per area code, links (label -> relative URL) shown in popups, written as the page's
        ``hotspots-links`` JSON block.
    offline
        If True, no tile layer is added (pass ``base_streets`` instead); inline the scripts
        with :func:`hotspots.output.offline.inline_assets` when saving.

    Returns
    -------
    folium.Map
        With switchable layers, crime group, harm, period and "what changed" choices, a
        street/area search, fullscreen, scale bar, legend, title block and a print layout.
    """
    data, title_html, links_html = _page_parts(**locals())
    return _build_map(safe_json(data), title_html, links_html, offline=offline)


def hot_streets_page(
    hot: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None = None, **options: Any
) -> str:
    """Return the whole HTML page of :func:`explore_hot_streets` (same parameters).

    The page around the data is rendered by Folium once per process (and inlined once when
    ``offline``), then filled with each map's data, title and links: a run writing hundreds
    of area maps renders no template per map.

    Parameters
    ----------
    hot, areas
        As :func:`explore_hot_streets`.
    **options
        The keyword options of :func:`explore_hot_streets`.

    Returns
    -------
    str
        The page, self-contained when ``offline`` is True.
    """
    options = {"offline": False, **options}
    data, title_html, links_html = _page_parts(hot=hot, areas=areas, **options)
    fill = dict(zip(_SLOTS, (safe_json(data), title_html, links_html), strict=True))
    parts, slots = _skeleton(bool(options["offline"]))
    return parts[0] + "".join(
        fill[slot] + part for slot, part in zip(slots, parts[1:], strict=True)
    )


_SLOTS = ("@@hotspots-data@@", "@@hotspots-title@@", "@@hotspots-links@@")


@functools.lru_cache(maxsize=2)
def _skeleton(offline: bool) -> tuple[list[str], list[str]]:
    """Return the rendered page split at its slots, and the slots in page order."""
    page = _build_map(*_SLOTS, offline=offline).get_root().render()
    if offline:
        page = inline_assets(page)
    slots = sorted(_SLOTS, key=page.index)
    parts = re.split("|".join(map(re.escape, slots)), page)
    if len(parts) != len(slots) + 1:
        msg = "the map page template must hold each of its slots once"
        raise RuntimeError(msg)
    return parts, slots


def _build_map(data_json: str, title_html: str, links_html: str, *, offline: bool) -> folium.Map:
    m = _new_map(offline)
    _Layers(data_json).add_to(m)
    folium.plugins.Fullscreen(position="topleft").add_to(m)  # type: ignore[no-untyped-call]
    root = m.get_root().html  # type: ignore[attr-defined]
    root.add_child(Element(title_html))
    root.add_child(Element(links_html))
    return m


def _page_parts(
    *,
    hot: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    locations: gpd.GeoDataFrame | None = None,
    hexes: gpd.GeoDataFrame | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    repeats: gpd.GeoDataFrame | None = None,
    corridors: gpd.GeoDataFrame | None = None,
    corridor_count: int | None = None,
    crimes: pd.DataFrame | None = None,
    base_streets: gpd.GeoDataFrame | None = None,
    counts: PeriodCounts | None = None,
    windows: Mapping[str, Mapping[str, str]] | None = None,
    focus: Sequence[str] = (),
    area_value: str = "crimes",
    top_n: int | None = DEFAULT_TOP_N,
    rank_col: str = "rank",
    title: str = "Hot streets",
    subtitle: str = "",
    evidence: str = "",
    trend: str = "",
    links: Mapping[str, Mapping[str, str]] | None = None,
    offline: bool = False,
) -> tuple[dict[str, Any], str, str]:
    """Return a map's data, title block and links block."""
    counts = counts or _fallback_counts([hot, locations])
    cfg = counts.settings
    labels = dict(zip(cfg["typeKeys"], counts.types, strict=True))
    bands = AREA_RANK_BANDS if rank_col == "area_rank" else RANK_BANDS
    data: dict[str, Any] = {
        "counts": cfg,
        "tooFew": TOO_FEW,
        "mainZoom": MAIN_ROADS_BELOW_ZOOM,
        "crimesMinZoom": CRIMES_MIN_ZOOM,
        "rankBands": [list(b) for b in bands],
        "sigColours": SIGNIFICANCE_COLOURS,
        "heatPalette": heat_palette(),
        "areaColours": CHOROPLETH_COLOURS,
        "areaLabel": "crimes per 1,000 residents"
        if areas is not None and "population" in areas and counts.places
        else "crimes",
        "areaPerPop": areas is not None and "population" in areas and bool(counts.places),
        "focus": bool(focus),
        "topN": top_n,
        "trend": html.escape(trend),
        "hasSig": "significance" in hot.columns,
    }
    if areas is not None and len(areas):
        data["areas"] = _area_features(areas, area_value, focus, counts)
    if base_streets is not None and len(base_streets):
        data["base"] = _base_features(base_streets, 2.0 if focus else 8.0)
    # the page draws each place's monthly chart from its counts; the hour-of-week chart is
    # kept on area maps only (on the city map it would be most of the page)
    charts = ("profile_svg",) if focus else ()
    texts: dict[str, int] = {}  # distinct patrol-window texts, shared by all places
    if len(hot):
        data["streets"] = _place_features(hot, counts, rank_col, labels, charts)
        data["streets"]["wn"] = _window_codes(hot, counts, windows or {}, texts)
    if locations is not None and len(locations):
        data["locations"] = _place_features(locations, counts, "area_rank", labels, charts)
        data["locations"]["wn"] = _window_codes(locations, counts, windows or {}, texts)
    data["windowTexts"] = [html.escape(t) for t in texts]
    if hexes is not None and len(hexes):
        data["hexes"] = _hex_features(hexes)
    if clusters is not None and len(clusters):
        data["clusters"] = _cluster_features(clusters)
    if repeats is not None and len(repeats):
        data["repeats"] = _repeat_features(repeats)
    if corridors is not None and len(corridors):
        data["corridors"] = _corridor_features(corridors, corridor_count or len(corridors))
    if crimes is not None and len(crimes):
        data["crimes"] = _crime_points(crimes, cfg["typeKeys"])
    shown = hot if top_n is None or hot.empty else hot[hot["rank"] <= top_n]
    data["bounds"] = _bounds(areas, focus, shown)
    return data, _title_html(title, subtitle, evidence), links_block(links or {})


def links_block(links: Mapping[str, Mapping[str, str]]) -> str:
    """Return the page's links block: ``{area_code: {label: relative_url}}`` as JSON.

    Parameters
    ----------
    links
        Per area code, the links its popups show.

    Returns
    -------
    str
        A ``<script type="application/json" id="hotspots-links">`` element.

    Examples
    --------
    >>> links_block({"E1": {"Brief": "briefs/E1.html"}})
    '<script type="application/json" id="hotspots-links">{"E1":{"Brief":"briefs/E1.html"}}</script>'
    """
    body = safe_json({str(k): dict(v) for k, v in links.items()})
    return f'<script type="application/json" id="hotspots-links">{body}</script>'


def _new_map(offline: bool) -> folium.Map:
    m = folium.Map(
        tiles=None if offline else "OpenStreetMap",
        control_scale=True,
        zoom_start=12,
        max_zoom=19,
        prefer_canvas=True,
    )
    # only Leaflet is needed: drop folium's jQuery, Bootstrap and icon fonts (smaller pages)
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    return m


def _bounds(
    areas: gpd.GeoDataFrame | None, focus: Sequence[str], hot: gpd.GeoDataFrame
) -> list[list[float]] | None:
    """Return the map's opening view: the focus areas, else all areas, else the streets."""
    target = None
    if areas is not None and len(areas):
        target = areas[areas["area_code"].isin(list(focus))] if focus else areas
    if (target is None or target.empty) and len(hot):
        target = hot
    if target is not None and len(target):
        lon, lat = shapely.get_coordinates(to_wgs84(target.envelope)).T
        w, s, e, n = lon.min(), lat.min(), lon.max(), lat.max()
        return [[round(float(s), 5), round(float(w), 5)], [round(float(n), 5), round(float(e), 5)]]
    return None


def _title_html(title: str, subtitle: str, evidence: str) -> str:
    e = html.escape
    trust = (
        f"<details><summary>How far to trust this list</summary>{e(evidence)}</details>"
        if evidence
        else ""
    )
    side_trust = f"<div><b>How far to trust this list:</b> {e(evidence)}</div>" if evidence else ""
    head = f"<div class=t>{e(title)}</div><div class=hs-figs></div><div class=s>{e(subtitle)}</div>"
    return (
        (  # braces as entities: folium renders elements as Jinja templates
            f"<div id=hs-title>{head}{trust}<div class=h>Click a street for its counts, times and "
            "trend; choose a crime group, period or “what changed” on the right.</div></div>"
            f"<div id=hs-side>{head}{side_trust}<div id=hs-print-legend></div>"
            "<div id=hs-top10></div></div>"
        )
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )


_CSS = _asset("map.css")
_JS = _asset("map.js")
