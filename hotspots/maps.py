"""Folium maps of hot streets and areas. Every text taken from the data is HTML-escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

import folium
import geopandas as gpd
import pandas as pd
import shapely

from hotspots.crs import WGS84
from hotspots.schema import TYPE_COUNT_PREFIX

#: Rank bands of the hot-street colours: (last rank in band, colour, label, line weight).
RANK_BANDS: list[tuple[int, str, str, int]] = [
    (10, "#b2182b", "rank 1-10", 7),
    (50, "#ef6548", "rank 11-50", 5),
    (200, "#fdae61", "rank 51-200", 4),
    (10**9, "#fee08b", "rank over 200", 3),
]
DEFAULT_TOP_N = 300


def _band(rank: int) -> tuple[int, str, str, int]:
    return next(b for b in RANK_BANDS if rank <= b[0])


def _latlon_paths(geom: shapely.Geometry) -> list[list[list[float]]]:
    parts = shapely.get_parts(geom)
    return [[[round(y, 6), round(x, 6)] for x, y in shapely.get_coordinates(p)] for p in parts]


def street_popup_html(row: pd.Series, type_cols: Sequence[str]) -> str:
    """Return the popup HTML of one hot street, every data value escaped.

    Parameters
    ----------
    row
        One row of the hot-street table.
    type_cols
        The ``n_<type>`` count columns.

    Returns
    -------
    str
        An HTML fragment: street, area, ranks, counts and counts by crime type.
    """
    e = html.escape
    types = sorted(((int(row[c]), c[len(TYPE_COUNT_PREFIX):]) for c in type_cols if row[c] > 0),
                   reverse=True)
    type_rows = "".join(f"<tr><td>{e(t.replace('_', ' '))}</td><td align=right>{n}</td></tr>"
                        for n, t in types)
    return (
        f"<div class='hs-popup'><b>{e(str(row['street']))}</b><br>"
        f"{e(str(row['area_name']))} ({e(str(row['area_code']))})<br>"
        f"Rank {int(row['rank'])} overall, {int(row['area_rank'])} in area; "
        f"{int(row['crimes'])} crimes on {float(row['length_m']):.0f} m "
        f"({float(row['crimes_per_100m']):.1f} per 100 m)"
        f"<table class='hs-types'>{type_rows}</table></div>"
    )


def explore_hot_streets(
    hot: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    *,
    m: folium.Map | None = None,
    top_n: int = DEFAULT_TOP_N,
    title: str = "Hot streets",
    subtitle: str = "",
) -> folium.Map:
    """Return a Folium map of the top hot streets over the area boundaries.

    Parameters
    ----------
    hot
        From :func:`hotspots.rank.rank_streets` (sorted by rank).
    areas
        Area polygons with ``area_code``, ``area_name`` and optionally ``crimes``; drawn
        simplified, with a tooltip.
    m
        A map to draw on; a new one fitted to the data if None.
    top_n
        How many hot streets to draw (the top ranks).
    title, subtitle
        Title block text (say what period and data the map shows).

    Returns
    -------
    folium.Map
        With layers "Areas" and "Hot streets (top N)", a layer switcher and a legend.
    """
    top = hot[hot["rank"] <= top_n].to_crs(WGS84) if len(hot) else hot
    m = m or _new_map(top if len(top) else areas)
    if areas is not None:
        _add_areas(m, areas)
    type_cols = [c for c in hot.columns if c.startswith(TYPE_COUNT_PREFIX)]
    layer = folium.FeatureGroup(name=f"Hot streets (top {top_n})", show=True)
    for _, row in top.iloc[::-1].iterrows():  # hottest drawn last, on top
        _, colour, _, weight = _band(int(row["rank"]))
        folium.PolyLine(
            _latlon_paths(row.geometry), color=colour, weight=weight, opacity=0.9,
            popup=folium.Popup(street_popup_html(row, type_cols), max_width=320),
            tooltip=html.escape(f"{row['rank']}. {row['street']} ({row['crimes']} crimes)"),
        ).add_to(layer)
    layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    _add_legend(m, title, subtitle)
    return m


def _new_map(gdf: gpd.GeoDataFrame | None) -> folium.Map:
    m = folium.Map(tiles="OpenStreetMap", control_scale=True, zoom_start=12)
    if gdf is not None and len(gdf):
        w, s, e, n = gdf.to_crs(WGS84).total_bounds
        m.fit_bounds([[s, w], [n, e]])
    return m


def _add_areas(m: folium.Map, areas: gpd.GeoDataFrame) -> None:
    keep = [c for c in ("area_code", "area_name", "crimes") if c in areas.columns]
    simple = areas[[*keep, "geometry"]].copy()
    simple["geometry"] = simple.geometry.simplify(15)
    simple = simple.to_crs(WGS84)
    for col in ("area_code", "area_name"):
        simple[col] = simple[col].astype(str).map(html.escape)
    folium.GeoJson(
        simple.to_json(drop_id=True),
        name="Areas",
        style_function=lambda _f: {"color": "#555555", "weight": 1, "fillOpacity": 0.03},
        tooltip=folium.GeoJsonTooltip(fields=keep, aliases=[k.replace("_", " ") for k in keep]),
    ).add_to(m)


def _add_legend(m: folium.Map, title: str, subtitle: str) -> None:
    e = html.escape
    rows = "".join(
        f"<div><span style='display:inline-block;width:22px;height:{w}px;background:{c};"
        f"vertical-align:middle'></span> {e(label)}</div>" for _, c, label, w in RANK_BANDS)
    box = (
        "<div id='hs-legend' style='position:fixed;top:10px;left:50px;z-index:9999;"
        "background:white;padding:8px 10px;border:1px solid #999;border-radius:4px;"
        "font:13px sans-serif;max-width:360px'>"
        f"<div style='font-weight:bold;font-size:15px'>{e(title)}</div>"
        f"<div style='margin-bottom:4px'>{e(subtitle)}</div>"
        f"<div>Hot streets, coloured by rank (crimes per 100 m):</div>{rows}"
        "<div style='color:#555;margin-top:4px'>Click a street for its counts.</div></div>"
    )
    m.get_root().html.add_child(folium.Element(box))
