"""Folium map pages of hot streets for tasking meetings.

One function, :func:`explore_hot_streets`, draws every map: the city-wide map (top hot streets,
simplified boundaries) and the map of one ward or borough (all of its hot streets and
locations, hexagons, clusters, repeat locations and crime locations). Layers are drawn on
canvas by one Leaflet script (``hotspots/map_assets/map.js``) fed with the page data of
:func:`hotspots.output.map_layers.page_data` (encoded polylines and integer counts), so a map
is a single HTML file that re-ranks its streets and areas in the page when a crime group, the
harm switch, a period or the "what changed" view is chosen. Popup links come from one JSON
block, ``<script type="application/json" id="hotspots-links">`` (area code -> label ->
relative URL), which ``hotspots brief`` may replace.

This module assembles the page: the Folium template (rendered once per process by
:func:`hot_streets_page`), the title block and the links block. Its options are one
:class:`hotspots.output.map_options.MapOptions`.

Safety: every text taken from the data is HTML-escaped in Python before it reaches the page,
and the data block is JSON with ``<``, ``>`` and ``&`` escaped, so a street name holding markup
or ``</script>`` shows as text.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import pandas as pd
from branca.element import Element, MacroElement
from jinja2 import Template

from hotspots.output.map_data import PeriodCounts
from hotspots.output.map_layers import (
    AREA_RANK_BANDS,
    CHOROPLETH_COLOURS,
    CORRIDOR_BANDS,
    CRIMES_MIN_ZOOM,
    MAIN_ROADS_BELOW_ZOOM,
    MAX_CORRIDORS,
    MAX_REPEATS,
    RANK_BANDS,
    SIGNIFICANCE_COLOURS,
    TOO_FEW,
    page_data,
)
from hotspots.output.map_options import DEFAULT_TOP_N, MapOptions
from hotspots.output.map_popups import MONTH_ONLY_WINDOW, corridor_popup_html, street_popup_html
from hotspots.output.offline import inline_assets

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
    "MapOptions",
    "corridor_popup_html",
    "explore_hot_streets",
    "hot_streets_page",
    "links_block",
    "safe_json",
    "street_popup_html",
    "warm_page_template",
]

_TEMPLATE_OPENER = re.compile(r"\{(?=[{%#])")


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


def _asset(name: str) -> str:
    text = importlib.resources.files("hotspots").joinpath("map_assets", name).read_text("utf-8")
    if _TEMPLATE_OPENER.search(text):  # folium renders pages with Jinja
        msg = f"hotspots/map_assets/{name} holds a Jinja opener ({{{{, {{% or {{#)"
        raise RuntimeError(msg)
    return text


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
    callers_synthetic: bool = False,
    forecast: gpd.GeoDataFrame | None = None,
    forecast_info: Mapping[str, Any] | None = None,
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
        Repeat locations (:func:`hotspots.analysis.repeats.repeat_locations`), a switchable layer.
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
    callers_synthetic
        The caller column is labelled synthetic demo data: the repeat-caller layer (drawn
        when ``hot`` has ``repeat_callers_24h`` and ``repeat_callers_6m``) says so.
    forecast, forecast_info
        Next month's listed places on this map and the forecast's record (see
        :class:`hotspots.output.map_options.MapOptions`): a "Next month's list" layer.
    offline
        If True, no tile layer is added (pass ``base_streets`` instead); inline the scripts
        with :func:`hotspots.output.offline.inline_assets` when saving.

    Returns
    -------
    folium.Map
        With switchable layers, crime group, harm, period and "what changed" choices, a
        street/area search, fullscreen, scale bar, legend, title block and a print layout.
    """
    options = {k: v for k, v in locals().items() if k not in ("hot", "areas")}
    options["forecast_info"] = dict(forecast_info or {})
    data, title_html, links_html = _page_parts(hot, areas, MapOptions(**options))
    return _build_map(safe_json(data), title_html, links_html, offline=offline)


def hot_streets_page(
    hot: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    options: MapOptions | None = None,
    **changes: Any,
) -> str:
    """Return the whole HTML page of :func:`explore_hot_streets` (same parameters).

    The page around the data is rendered by Folium once per process (and inlined once when
    ``offline``), then filled with each map's data, title and links: a run writing hundreds
    of area maps renders no template per map.

    Parameters
    ----------
    hot, areas
        As :func:`explore_hot_streets`.
    options
        The map's options (default: ``MapOptions()``).
    **changes
        Options to change in ``options``: the keyword options of :func:`explore_hot_streets`.

    Returns
    -------
    str
        The page, self-contained when ``offline`` is True.
    """
    opts = dataclasses.replace(options or MapOptions(), **changes)
    data, title_html, links_html = _page_parts(hot, areas, opts)
    fill = dict(zip(_SLOTS, (safe_json(data), title_html, links_html), strict=True))
    parts, slots = _skeleton(opts.offline)
    return parts[0] + "".join(
        fill[slot] + part for slot, part in zip(slots, parts[1:], strict=True)
    )


_SLOTS = ("@@hotspots-data@@", "@@hotspots-title@@", "@@hotspots-links@@")


def warm_page_template(offline: bool) -> None:
    """Render the page template of :func:`hot_streets_page` now (once per process).

    A process about to fork calls it, so that its copies share the rendered template.

    Parameters
    ----------
    offline
        The template of offline pages (scripts inlined) or of web pages.
    """
    _skeleton(offline)


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
    hot: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None, options: MapOptions
) -> tuple[dict[str, Any], str, str]:
    """Return a map's data, title block and links block."""
    title = _title_html(options.title, options.subtitle, options.evidence)
    return page_data(hot, areas, options), title, links_block(options.links or {})


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
