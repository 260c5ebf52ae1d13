"""Folium maps of hot streets for tasking meetings.

One function, :func:`explore_hot_streets`, draws every map: the city-wide map (top hot streets,
simplified boundaries) and the map of one ward or borough (all of its hot streets and
locations, hexagons, clusters and crime locations). Layers are drawn by one small Leaflet
script fed with GeoJSON, so a map is a single HTML file.

Safety: every text taken from the data is HTML-escaped in Python before it reaches the page,
and the data block is JSON with ``<``, ``>`` and ``&`` escaped, so a street name holding markup
or ``</script>`` shows as text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from hotspots.crs import WGS84
from hotspots.schema import TYPE_COUNT_PREFIX

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
CHOROPLETH_COLOURS = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]
DEFAULT_TOP_N = 300
#: Smallest zoom at which individual crime locations are drawn.
CRIMES_MIN_ZOOM = 15
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


def _band(rank: int, bands: list[tuple[int, str, str, int]]) -> tuple[int, str, str, int]:
    return next(b for b in bands if rank <= b[0])


def _geojson(
    gdf: gpd.GeoDataFrame, props: list[dict[str, Any]], *, precision: int = 5
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection (lon/lat, rounded) with the given properties."""
    geoms = shapely.set_precision(gdf.to_crs(WGS84).geometry.to_numpy(), 10.0**-precision)
    feats = [
        {"type": "Feature", "properties": p, "geometry": json.loads(shapely.to_geojson(g))}
        for g, p in zip(geoms, props, strict=True)
    ]
    return {"type": "FeatureCollection", "features": feats}


def _type_counts(row: pd.Series, type_cols: Sequence[str]) -> dict[str, int]:
    return {c[len(TYPE_COUNT_PREFIX) :]: int(row[c]) for c in type_cols if row[c] > 0}


def street_popup_html(
    row: pd.Series, type_cols: Sequence[str], *, links: Mapping[str, str] | None = None
) -> str:
    """Return the popup HTML of one hot street or location, every data value escaped.

    Parameters
    ----------
    row
        One row of the hot-street table (optional columns: ``extent``, ``trend_class``,
        ``patrol_window``, ``significance``, ``cluster_id``, ``profile_svg``,
        ``monthly_svg``; the two SVG columns are made by hotspots itself and kept as is).
    type_cols
        The ``n_<type>`` count columns.
    links
        Extra links to show (label -> relative URL), e.g. the ward map and brief.

    Returns
    -------
    str
        An HTML fragment.
    """
    e = html.escape
    types = sorted(((n, t) for t, n in _type_counts(row, type_cols).items()), reverse=True)
    rows = "".join(
        f"<tr><td>{e(t.replace('_', ' '))}</td><td class=n>{n}</td></tr>" for n, t in types
    )
    facts = [f"<b class=hs-name>{e(str(row['street']))}</b>"]
    if str(row.get("extent", "") or ""):
        facts.append(f"<span class=hs-sub>{e(str(row['extent']))}</span>")
    facts.append(f"{e(str(row['area_name']))} ({e(str(row['area_code']))})")
    facts.append(_rank_text(row))
    for col, label in (
        ("trend_class", "Trend"),
        ("patrol_window", "Patrol window"),
        ("significance", "Significance"),
        ("cluster_id", "Cluster"),
    ):
        if col in row and pd.notna(row[col]) and str(row[col]) not in ("", "-1"):
            facts.append(f"{label}: <b>{e(str(row[col]))}</b>")
    charts = "".join(
        str(row[c]) for c in ("profile_svg", "monthly_svg") if c in row and isinstance(row[c], str)
    )
    link_html = " · ".join(
        f"<a href='{e(u)}' target=_blank>{e(k)}</a>" for k, u in (links or {}).items()
    )
    return (
        f"<div class=hs-popup>{'<br>'.join(facts)}<table class=hs-types>{rows}</table>"
        f"{charts}{link_html}</div>"
    )


def _rank_text(row: pd.Series) -> str:
    crimes = int(row["crimes"])
    if pd.isna(row.get("rank")) or "length_m" not in row or pd.isna(row["length_m"]):
        return f"Rank {int(row['area_rank'])} in area; {crimes} crimes at this police.uk location"
    return (
        f"Rank {int(row['rank'])} overall, {int(row['area_rank'])} in area; {crimes} crimes "
        f"on {float(row['length_m']):.0f} m ({float(row['crimes_per_100m']):.1f} per 100 m)"
    )


def _street_features(
    hot: gpd.GeoDataFrame,
    type_cols: Sequence[str],
    links: Mapping[str, Mapping[str, str]] | None,
    rank_col: str,
) -> dict[str, Any]:
    bands = AREA_RANK_BANDS if rank_col == "area_rank" else RANK_BANDS
    props = []
    for _, row in hot.iterrows():
        r = row[rank_col] if pd.notna(row.get(rank_col)) else row["area_rank"]
        _, colour, _, weight = _band(int(r), bands)
        sig = str(row.get("significance", "") or "")
        props.append(
            {
                "name": html.escape(str(row["street"])),
                "tip": html.escape(f"{row['area_rank']}. {row['street']} ({row['crimes']} crimes)"),
                "popup": street_popup_html(
                    row, type_cols, links=(links or {}).get(str(row["area_code"]))
                ),
                "c": colour,
                "cs": SIGNIFICANCE_COLOURS.get(sig, colour),
                "w": weight,
                "r": int(r),
                "t": _type_counts(row, type_cols),
            }
        )
    return _geojson(hot, props)


def _area_features(
    areas: gpd.GeoDataFrame,
    value: str,
    focus: Sequence[str],
    links: Mapping[str, Mapping[str, str]] | None,
) -> tuple[dict[str, Any], list[float]]:
    v = (
        pd.to_numeric(areas[value], errors="coerce")
        if value in areas
        else pd.Series(np.nan, areas.index)
    )
    breaks = _breaks(v.dropna().to_numpy())
    label = value.replace("_", " ")
    props = []
    for (_, row), val in zip(areas.iterrows(), v, strict=True):
        code = str(row["area_code"])
        tip = f"{row['area_name']} ({code}): {label} " + ("n/a" if pd.isna(val) else f"{val:,.1f}")
        link = (links or {}).get(code, {})
        props.append(
            {
                "tip": html.escape(tip),
                "v": None if pd.isna(val) else float(val),
                "focus": code in focus,
                "name": html.escape(str(row["area_name"])),
                "link": html.escape(next(iter(link.values()), "")),
            }
        )
    simple = areas.copy()
    simple["geometry"] = simple.geometry.simplify(10 if focus else 25)
    return _geojson(simple, props, precision=5), breaks


def _breaks(values: np.ndarray) -> list[float]:
    """Quintile class breaks (upper bounds of the first four classes)."""
    if len(values) == 0:
        return []
    qs = np.quantile(values, [0.2, 0.4, 0.6, 0.8])
    return [round(float(q), 1) for q in qs]


def _simple_features(
    gdf: gpd.GeoDataFrame,
    tip_cols: Sequence[str],
    colour_col: str | None,
    colours: Mapping[str, str],
) -> dict[str, Any]:
    props = []
    for _, row in gdf.iterrows():
        tip = "; ".join(f"{c.replace('_', ' ')}: {row[c]}" for c in tip_cols if c in row)
        colour = colours.get(str(row[colour_col]), "#999999") if colour_col else "#6a51a3"
        props.append(
            {
                "tip": html.escape(tip),
                "c": colour,
                "sig": bool(colour_col) and not str(row[colour_col]).startswith("Not"),
            }
        )
    return _geojson(gdf, props)


def _crime_points(crimes: pd.DataFrame, types: list[str]) -> list[list[Any]]:
    """Distinct crime locations per type: [lat, lon, type index, count].

    A row is one crime, or ``n`` crimes where ``crimes`` has an ``n`` column.
    """
    idx = {t: i for i, t in enumerate(types)}
    groups = crimes.groupby(["lat", "lon", "type"], sort=True)
    g = (groups["n"].sum() if "n" in crimes else groups.size()).reset_index(name="n")
    return [
        [round(la, 5), round(lo, 5), idx[t], int(n)] for la, lo, t, n in g.itertuples(index=False)
    ]


class _Layers(MacroElement):  # type: ignore[misc]
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

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "HotspotLayers"
        self.data = safe_json(data)
        self.js = _JS
        self.css = _CSS


def explore_hot_streets(
    hot: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    *,
    locations: gpd.GeoDataFrame | None = None,
    hexes: gpd.GeoDataFrame | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    crimes: pd.DataFrame | None = None,
    base_streets: gpd.GeoDataFrame | None = None,
    focus: Sequence[str] = (),
    area_value: str = "crimes",
    top_n: int | None = DEFAULT_TOP_N,
    rank_col: str = "rank",
    title: str = "Hot streets",
    subtitle: str = "",
    links: Mapping[str, Mapping[str, str]] | None = None,
    offline: bool = False,
) -> folium.Map:
    """Return a Folium map of hot streets for a tasking meeting.

    Parameters
    ----------
    hot
        Hot streets (from :func:`hotspots.rank.rank_streets`, possibly with temporal and
        significance columns), sorted by rank.
    areas
        Area polygons with ``area_code``, ``area_name`` and the ``area_value`` column: a
        choropleth with a legend; the ``focus`` areas are outlined and the map fits them.
    locations
        police.uk locations listed where the street layer does not reach (multipoints).
    hexes
        H3 hexagons with a ``gi_class`` column (Gi* class), drawn coloured by class.
    clusters
        Cluster outlines with ``cluster_id`` and ``crimes``.
    crimes
        Crime locations with ``lat``, ``lon`` and ``type`` (and optionally ``n``, the crimes
        a row stands for); drawn only when zoomed in.
    base_streets
        Street lines drawn as a light base layer (for offline maps, which have no tiles).
    focus
        Area codes the map is about (a ward map); empty for the city-wide map.
    area_value
        Column of ``areas`` for the choropleth (``crimes`` or ``rate_per_1000``).
    top_n
        Draw only the top ``top_n`` hot streets by rank (None: all).
    rank_col
        ``"rank"`` (city-wide bands) or ``"area_rank"`` (bands within the area) for colours.
    title, subtitle
        Title block: say what period and data the map shows.
    links
        Per area code, links (label -> URL) shown in popups, e.g. the ward map and brief.
    offline
        If True, no tile layer is added (pass ``base_streets`` instead); inline the scripts
        with :func:`hotspots.offline.inline_assets` when saving.

    Returns
    -------
    folium.Map
        With switchable layers, a crime-type filter, a street/area search, fullscreen,
        scale bar, legend and title block.
    """
    shown = hot if top_n is None or hot.empty else hot[hot["rank"] <= top_n]
    m = _new_map(offline)
    type_cols = [c for c in hot.columns if c.startswith(TYPE_COUNT_PREFIX)]
    types = [c[len(TYPE_COUNT_PREFIX) :] for c in type_cols]
    data: dict[str, Any] = {
        "types": types,
        "crimesMinZoom": CRIMES_MIN_ZOOM,
        "rankBands": [
            [c, label]
            for _, c, label, _ in (AREA_RANK_BANDS if rank_col == "area_rank" else RANK_BANDS)
        ],
        "sigColours": SIGNIFICANCE_COLOURS,
        "areaColours": CHOROPLETH_COLOURS,
        "areaLabel": area_value.replace("_", " "),
        "focus": bool(focus),
    }
    if areas is not None and len(areas):
        data["areas"], data["areaBreaks"] = _area_features(areas, area_value, focus, links)
    if base_streets is not None and len(base_streets):
        data["base"] = _geojson(
            base_streets.assign(geometry=base_streets.simplify(2)), [{}] * len(base_streets)
        )
    if len(shown):
        data["streets"] = _street_features(shown, type_cols, links, rank_col)
        data["hasSig"] = "significance" in shown.columns
    if locations is not None and len(locations):
        data["locations"] = _street_features(locations, type_cols, links, "area_rank")
    if hexes is not None and len(hexes):
        data["hexes"] = _simple_features(
            hexes, ["crimes", "gi_class"], "gi_class", SIGNIFICANCE_COLOURS
        )
    if clusters is not None and len(clusters):
        data["clusters"] = _simple_features(
            clusters, ["cluster_id", "crimes", "top_types", "streets"], None, {}
        )
    if crimes is not None and len(crimes):
        data["crimes"] = _crime_points(crimes, types)
    _fit(m, areas, focus, shown)
    _Layers(data).add_to(m)
    folium.plugins.Fullscreen(position="topleft").add_to(m)
    m.get_root().html.add_child(Element(_title_html(title, subtitle)))
    return m


def _new_map(offline: bool) -> folium.Map:
    m = folium.Map(
        tiles=None if offline else "OpenStreetMap", control_scale=True, zoom_start=12, max_zoom=19
    )
    # only Leaflet is needed: drop folium's jQuery, Bootstrap and icon fonts (smaller pages)
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    return m


def _fit(
    m: folium.Map, areas: gpd.GeoDataFrame | None, focus: Sequence[str], hot: gpd.GeoDataFrame
) -> None:
    target = None
    if areas is not None and len(areas):
        target = areas[areas["area_code"].isin(list(focus))] if focus else areas
    if (target is None or target.empty) and len(hot):
        target = hot
    if target is not None and len(target):
        w, s, e, n = target.to_crs(WGS84).total_bounds
        m.fit_bounds([[s, w], [n, e]])


def _title_html(title: str, subtitle: str) -> str:
    e = html.escape
    return (
        f"<div id=hs-title><div class=t>{e(title)}</div><div class=s>{e(subtitle)}</div>"
        "<div class=h>Click a street for its counts, times and trend. Layers and the "
        "crime-type filter are on the right.</div></div>"
    )


_CSS = """
#hs-title{position:fixed;top:10px;left:60px;z-index:1000;background:rgba(255,255,255,.94);
 padding:6px 10px;border:1px solid #999;border-radius:4px;font:13px/1.35 sans-serif;max-width:44%}
#hs-title .t{font-weight:bold;font-size:16px}#hs-title .h{color:#555;font-size:12px}
.hs-popup{font:13px/1.35 sans-serif;min-width:230px}.hs-popup .hs-name{font-size:15px}
.hs-popup .hs-sub{color:#555}.hs-types{margin:4px 0;border-collapse:collapse}
.hs-types td{padding:0 6px 0 0}.hs-types td.n{text-align:right}
.hs-ctl{background:#fff;padding:6px 8px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.4);
 font:13px sans-serif}.hs-ctl label{display:block;margin:2px 0}.hs-ctl input,.hs-ctl select{
 width:210px;font-size:13px}
.hs-legend{background:rgba(255,255,255,.94);padding:6px 8px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.4);font:12px/1.4 sans-serif;max-width:260px}
.hs-legend i{display:inline-block;width:18px;height:10px;margin-right:5px;vertical-align:middle}
.hs-legend .sec{font-weight:bold;margin-top:4px}
.hs-rank{background:#b2182b;color:#fff;border-radius:10px;text-align:center;
 font:bold 12px/20px sans-serif;border:1px solid #fff;box-shadow:0 1px 3px rgba(0,0,0,.5)}
@media print { #hs-title { position:absolute } }
"""

_JS = r"""
var overlays = {}, bounds = {}, searchIndex = [];
function gj(data, opts) { return L.geoJSON(data, opts); }
if (cfg.base) {
  overlays['Street network'] = gj(cfg.base, {style: {color: '#9e9e9e', weight: 1.2, opacity: 0.8},
    interactive: false}).addTo(map);
}
function areaColour(v) {
  if (v === null || !cfg.areaBreaks) return '#eeeeee';
  for (var i = 0; i < cfg.areaBreaks.length; i++) if (v <= cfg.areaBreaks[i]) return cfg.areaColours[i];
  return cfg.areaColours[cfg.areaColours.length - 1];
}
if (cfg.areas) {
  var areas = gj(cfg.areas, {
    style: function (f) { return {color: f.properties.focus ? '#000' : '#777',
      weight: f.properties.focus ? 3 : 0.5, fillColor: areaColour(f.properties.v),
      fillOpacity: cfg.focus ? (f.properties.focus ? 0.04 : 0.25) : 0.45}; },
    onEachFeature: function (f, l) {
      l.bindTooltip(f.properties.tip, {sticky: true});
      searchIndex.push({name: f.properties.name, kind: 'area', layer: l});
      if (f.properties.link) l.on('click', function () { window.open(f.properties.link, '_blank'); });
    }}).addTo(map);
  overlays['Areas (' + cfg.areaLabel + ')'] = areas;
}
if (cfg.hexes) {
  overlays['Hexagons (Gi* hot/cold spots)'] = gj(cfg.hexes, {
    style: function (f) { return {color: f.properties.c, weight: 0.5,
      fillColor: f.properties.c, fillOpacity: f.properties.sig ? 0.55 : 0.12}; },
    onEachFeature: function (f, l) { l.bindTooltip(f.properties.tip); }});
}
if (cfg.clusters) {
  overlays['Clusters'] = gj(cfg.clusters, {
    style: {color: '#6a51a3', weight: 2, dashArray: '5 4', fillOpacity: 0.08},
    onEachFeature: function (f, l) { l.bindTooltip(f.properties.tip); }});
}
var colourBy = 'c', typeSel = '';
function streetStyle(f) {
  var n = typeSel ? (f.properties.t[typeSel] || 0) : 1;
  var c = colourBy === 'cs' ? f.properties.cs : f.properties.c;
  return {color: c, weight: n ? f.properties.w : 0, opacity: n ? 0.9 : 0};
}
function bindStreet(f, l) {
  l.bindPopup(f.properties.popup, {maxWidth: 360});
  l.bindTooltip(f.properties.tip, {sticky: true});
  searchIndex.push({name: f.properties.name, kind: 'street', layer: l});
}
var streets = null, locations = null, labels = null;
if (cfg.streets) {
  streets = gj(cfg.streets, {style: streetStyle, onEachFeature: bindStreet}).addTo(map);
  overlays['Hot streets'] = streets;
  labels = L.layerGroup();
  streets.eachLayer(function (l) {
    var r = l.feature.properties.r;
    if (r > 10) return;
    var mk = L.marker(l.getCenter(), {icon: L.divIcon({className: 'hs-rank', html: String(r),
      iconSize: [20, 20]}), keyboard: false}).on('click', function () { l.openPopup(); });
    mk.hsStreet = l;
    mk.addTo(labels);
  });
  overlays['Top 10 labels'] = labels.addTo(map);
}
if (cfg.locations) {
  locations = gj(cfg.locations, {
    pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 6}); },
    style: function (f) { var s = streetStyle(f); return {color: s.color, fillColor: s.color,
      fillOpacity: s.opacity ? 0.7 : 0, opacity: s.opacity, weight: 1}; },
    onEachFeature: bindStreet}).addTo(map);
  overlays['police.uk locations (no street layer)'] = locations;
}
var crimes = null;
function drawCrimes() {
  if (!crimes) return;
  crimes.clearLayers();
  if (map.getZoom() < cfg.crimesMinZoom) return;
  var b = map.getBounds();
  cfg.crimes.forEach(function (p) {
    if (typeSel && cfg.types[p[2]] !== typeSel) return;
    if (!b.contains([p[0], p[1]])) return;
    L.circleMarker([p[0], p[1]], {radius: 2 + Math.sqrt(p[3]), color: '#333', weight: 1,
      fillColor: '#fff', fillOpacity: 0.6}).bindTooltip(
      cfg.types[p[2]].replace(/_/g, ' ') + ': ' + p[3]).addTo(crimes);
  });
}
if (cfg.crimes) {
  crimes = L.layerGroup();
  overlays['Crime locations (zoom in)'] = crimes;
  map.on('zoomend moveend overlayadd', drawCrimes);
}
L.control.layers(null, overlays, {collapsed: false, position: 'topright'}).addTo(map);
var ctl = L.control({position: 'topright'});
ctl.onAdd = function () {
  var d = L.DomUtil.create('div', 'hs-ctl');
  var opts = '<option value="">All crime types</option>' + cfg.types.map(function (t) {
    return '<option value="' + t + '">' + t.replace(/_/g, ' ') + '</option>'; }).join('');
  d.innerHTML = '<label>Crime type <select id=hs-type>' + opts + '</select></label>' +
    (cfg.hasSig ? '<label>Colour streets by <select id=hs-colour><option value=c>rank</option>' +
      '<option value=cs>significance (Gi*)</option></select></label>' : '') +
    '<label>Find a street or area <input id=hs-search list=hs-names placeholder="type a name"></label>' +
    '<datalist id=hs-names></datalist>';
  L.DomEvent.disableClickPropagation(d);
  L.DomEvent.disableScrollPropagation(d);
  return d;
};
ctl.addTo(map);
function restyle() {
  if (streets) streets.setStyle(streetStyle);
  if (labels) labels.eachLayer(function (mk) {
    mk.setOpacity(typeSel && !mk.hsStreet.feature.properties.t[typeSel] ? 0 : 1); });
  if (locations) locations.eachLayer(function (l) {
    var s = streetStyle(l.feature);
    l.setStyle({color: s.color, fillColor: s.color, fillOpacity: s.opacity ? 0.7 : 0, opacity: s.opacity}); });
  drawCrimes(); drawLegend();
}
document.getElementById('hs-type').addEventListener('change', function (ev) { typeSel = ev.target.value; restyle(); });
var colourSel = document.getElementById('hs-colour');
if (colourSel) colourSel.addEventListener('change', function (ev) { colourBy = ev.target.value; restyle(); });
var dl = document.getElementById('hs-names'), seen = {};
searchIndex.forEach(function (s) {
  var key = s.name + (s.kind === 'area' ? ' (area)' : '');
  if (seen[key]) return; seen[key] = s;
  var o = document.createElement('option'); o.value = key; dl.appendChild(o);
});
document.getElementById('hs-search').addEventListener('change', function (ev) {
  var s = seen[ev.target.value];
  if (!s) return;
  var l = s.layer;
  if (l.getBounds) map.fitBounds(l.getBounds(), {maxZoom: 17}); else map.setView(l.getLatLng(), 17);
  if (l.getPopup()) l.openPopup(); else l.openTooltip();
});
var legend = L.control({position: 'bottomleft'}), legendDiv = null;
legend.onAdd = function () { legendDiv = L.DomUtil.create('div', 'hs-legend'); drawLegend(); return legendDiv; };
function drawLegend() {
  if (!legendDiv) return;
  var h = '';
  if (cfg.streets || cfg.locations) {
    h += '<div class=sec>Hot streets' + (typeSel ? ' with ' + typeSel.replace(/_/g, ' ') : '') +
      ' (thicker = hotter)</div>';
    if (colourBy === 'cs') Object.keys(cfg.sigColours).forEach(function (k) {
      h += '<div><i style="background:' + cfg.sigColours[k] + '"></i>' + k + '</div>'; });
    else cfg.rankBands.forEach(function (b) { h += '<div><i style="background:' + b[0] + '"></i>' + b[1] + '</div>'; });
  }
  if (cfg.areas && cfg.areaBreaks && cfg.areaBreaks.length) {
    h += '<div class=sec>Areas: ' + cfg.areaLabel + '</div>';
    h += '<div><i style="background:#eeeeee"></i>no data (not in the extract)</div>';
    var lo = 0;
    cfg.areaBreaks.concat([null]).forEach(function (b, i) {
      h += '<div><i style="background:' + cfg.areaColours[i] + '"></i>' +
        (b === null ? 'over ' + lo : lo + ' to ' + b) + '</div>'; lo = b; });
  }
  if (cfg.hexes) h += '<div class=sec>Hexagons: Gi* hot spots (99/95/90% confidence, FDR)</div>';
  if (cfg.crimes) h += '<div>Crime locations appear from zoom ' + cfg.crimesMinZoom + '.</div>';
  legendDiv.innerHTML = h;
}
legend.addTo(map);
var hash = window.location.hash.match(/^#(-?[\d.]+),(-?[\d.]+)(?:,(\d+))?/);
if (hash) map.setView([+hash[1], +hash[2]], hash[3] ? +hash[3] : 18);
window.hotspotsMap = {map: map, overlays: overlays, streets: streets, locations: locations};
"""
