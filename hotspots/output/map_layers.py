"""The data of a map page: one JSON object of every layer, drawn by ``map_assets/map.js``.

:func:`page_data` turns a map's tables (hot streets and locations, areas, hexagons, clusters,
repeat locations, corridors, crime points, the background street network) into the page's
data: encoded lines (:mod:`hotspots.output.map_data`), integer counts per period for
re-ranking in the page, colours, tooltips and popups (:mod:`hotspots.output.map_popups`).
Every text from the data is HTML-escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.output.map_data import (
    PeriodCounts,
    encode_frame,
    heat_code,
    heat_palette,
    period_counts,
    to_wgs84,
)
from hotspots.output.map_options import MapOptions
from hotspots.output.map_popups import corridor_popup_html, street_popup_html
from hotspots.read.schema import TYPE_COUNT_PREFIX

__all__ = [
    "AREA_RANK_BANDS",
    "CHOROPLETH_COLOURS",
    "CORRIDOR_BANDS",
    "CRIMES_MIN_ZOOM",
    "MAIN_ROADS_BELOW_ZOOM",
    "MAX_CORRIDORS",
    "MAX_REPEATS",
    "RANK_BANDS",
    "SIGNIFICANCE_COLOURS",
    "TOO_FEW",
    "page_data",
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
#: Smallest zoom at which individual crime locations are drawn.
CRIMES_MIN_ZOOM = 15
#: Below this zoom the background street network is its main roads only.
MAIN_ROADS_BELOW_ZOOM = 14
#: Fewest crimes in each of two periods for a change to be called (as temporal.compare_periods).
TOO_FEW = 10
#: Repeat locations drawn at most on one map (the busiest).
MAX_REPEATS = 400


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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows but the geometry as dicts: ``to_dict("records")``, a few times faster.

    Examples
    --------
    >>> _records(pd.DataFrame({"a": [1, 2], "geometry": [None, None], "b": ["x", "y"]}))
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    cols = [c for c in frame.columns if c != "geometry"]
    if not cols:
        return [{} for _ in range(len(frame))]
    values = zip(*(frame[c].tolist() for c in cols), strict=True)
    return [dict(zip(cols, row, strict=True)) for row in values]


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
    records = _records(hot)
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
        for r in _records(top)
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
    records = _records(top)
    return {
        "g": encode_frame(top, simplify_m=2.0),
        "c": [next(b[1] for b in CORRIDOR_BANDS if r <= b[0]) for r in top["rank"]],
        "popup": [corridor_popup_html(r, of=total) for r in records],
        "tip": [
            html.escape(f"{r['street']}: {float(r['crimes_per_km']):,.0f} crimes per km")
            for r in records
        ],
        "bands": [[c, label] for _, c, label in CORRIDOR_BANDS],
        "collisions": collisions,
        "total": total,
    }


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
    typ = pd.Index(list(type_keys), dtype=object).get_indexer(crimes["type"].astype(object))
    n = crimes["n"].to_numpy(np.int64) if "n" in crimes else np.ones(len(crimes), np.int64)
    lat = np.round(crimes["lat"].to_numpy(float) * 1e5).astype(np.int64)
    lon = np.round(crimes["lon"].to_numpy(float) * 1e5).astype(np.int64)
    ok = typ >= 0  # a type not among the keys: not shown
    lat, lon, t, n = lat[ok], lon[ok], typ[ok].astype(np.int64), n[ok]
    if not len(t):
        return []
    # one row per point and type, in order of (lat, lon, type): rows are summed (a row may
    # stand for n crimes); the three make one integer key, ordered as they are
    span_lon, span_t = int(lon.max() - lon.min()) + 1, max(len(type_keys), 1)
    key = ((lat - lat.min()) * span_lon + (lon - lon.min())) * span_t + t
    groups, first, which = np.unique(key, return_index=True, return_inverse=True)
    total = np.bincount(which.ravel(), weights=n, minlength=len(groups)).astype(np.int64)
    flat = np.column_stack(
        [
            np.diff(lat[first], prepend=0),
            np.diff(lon[first], prepend=0),
            t[first],
            total,
        ]
    )
    out: list[int] = flat.ravel().tolist()  # Python ints, for JSON
    return out


def page_data(
    hot: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None, options: MapOptions
) -> dict[str, Any]:
    """Return the data of one map page (JSON-ready; see :class:`MapOptions` for each layer).

    Parameters
    ----------
    hot
        Hot streets, sorted by rank (see :func:`hotspots.output.maps.explore_hot_streets`).
    areas
        Area polygons, or None.
    options
        The map's layers and settings.

    Returns
    -------
    dict
        The page's ``cfg`` object.
    """
    o = options
    focus, top_n, rank_col, windows = o.focus, o.top_n, o.rank_col, o.windows
    locations, hexes, clusters, repeats = o.locations, o.hexes, o.clusters, o.repeats
    corridors, crimes, base_streets = o.corridors, o.crimes, o.base_streets
    counts = o.counts or _fallback_counts([hot, locations])
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
        "trend": html.escape(o.trend),
        "hasSig": "significance" in hot.columns,
    }
    if areas is not None and len(areas):
        data["areas"] = _area_features(areas, o.area_value, focus, counts)
    if o.base_rings is not None:
        data["base"] = {"full": list(o.base_rings)}
    elif base_streets is not None and len(base_streets):
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
        data["corridors"] = _corridor_features(corridors, o.corridor_count or len(corridors))
    if crimes is not None and len(crimes):
        data["crimes"] = _crime_points(crimes, cfg["typeKeys"])
    callers = _caller_features(hot, locations, synthetic=o.callers_synthetic)
    if callers is not None:
        data["callers"] = callers
    if o.forecast is not None:
        data["forecast"] = _forecast_features(o.forecast, o.forecast_info)
    shown = hot if top_n is None or hot.empty else hot[hot["rank"] <= top_n]
    data["bounds"] = _bounds(areas, focus, shown)
    return data


def _place_points(frame: pd.DataFrame) -> list[list[float]]:
    """Return ``[lat, lon]`` of each place: its ``lat``/``lon`` columns, else a point on it."""
    if "lat" in frame and "lon" in frame:
        lat, lon = frame["lat"].to_numpy(float), frame["lon"].to_numpy(float)
    else:
        points = gpd.GeoSeries(shapely.point_on_surface(frame.geometry.to_numpy()), crs=frame.crs)
        lon, lat = shapely.get_coordinates(to_wgs84(points)).T
    return [[round(float(y), 5), round(float(x), 5)] for y, x in zip(lat, lon, strict=True)]


def _caller_features(
    hot: gpd.GeoDataFrame, locations: gpd.GeoDataFrame | None, *, synthetic: bool
) -> dict[str, Any] | None:
    """Return the places with repeat callers (counts only), or None without caller counts.

    ``i`` is each place's index among the page's places (hot streets, then locations), so a
    click opens its popup; ``d`` and ``s`` are its repeat callers in the last 24 hours and
    the last 6 months.
    """
    cols = ["repeat_callers_24h", "repeat_callers_6m"]
    frames = [(hot, 0)]
    if locations is not None and len(locations):
        frames.append((locations, len(hot)))
    if not any(set(cols) <= set(f.columns) for f, _ in frames):
        return None
    out: dict[str, Any] = {"i": [], "ll": [], "d": [], "s": [], "synthetic": synthetic}
    for frame, offset in frames:
        if not set(cols) <= set(frame.columns) or frame.empty:
            continue
        day = pd.to_numeric(frame[cols[0]], errors="coerce").fillna(0).to_numpy(np.int64)
        six = pd.to_numeric(frame[cols[1]], errors="coerce").fillna(0).to_numpy(np.int64)
        keep = np.flatnonzero((day > 0) | (six > 0))
        points = _place_points(frame.iloc[keep])
        out["i"] += [int(offset + k) for k in keep]
        out["ll"] += points
        out["d"] += [int(v) for v in day[keep]]
        out["s"] += [int(v) for v in six[keep]]
    return out


def _forecast_features(forecast: gpd.GeoDataFrame, info: Mapping[str, Any]) -> dict[str, Any]:
    """Return next month's listed places on this map: point, ranks, street and expected crimes.

    ``forecast`` holds the run's list (:func:`hotspots.evaluate.forecast_next_month`) for the
    map's areas, with point geometry and ``forecast_rank`` (the street's place in the list);
    ``info`` gives the month, the places and streets listed in all, the coverage and the
    plain sentence of the method and its backtest.
    """
    rows = forecast.sort_values("rank", kind="stable")
    lon, lat = shapely.get_coordinates(to_wgs84(rows.geometry)).T
    street_rank = (
        rows["forecast_rank"] if "forecast_rank" in rows else pd.Series(np.nan, index=rows.index)
    )
    expected = pd.to_numeric(rows.get("expected", rows["crimes_per_month"]), errors="coerce")
    return {
        "ll": [[round(float(y), 5), round(float(x), 5)] for x, y in zip(lon, lat, strict=True)],
        "r": [int(r) for r in rows["rank"]],
        "sr": [None if pd.isna(r) else int(r) for r in street_rank],
        "name": [
            html.escape(str(n) if pd.notna(n) and str(n) else "(unnamed street)")
            for n in rows["street_name"]
        ],
        "e": [None if pd.isna(v) else round(float(v), 2) for v in expected],
        "month": html.escape(str(info.get("month", ""))),
        "listed": int(info.get("listed", len(rows))),
        "streets": int(info.get("streets", 0) or 0),
        "coverage": float(info.get("coverage_pct", 0) or 0),
        "text": html.escape(str(info.get("text", ""))),
    }


def _bounds(
    areas: gpd.GeoDataFrame | None, focus: Sequence[str], hot: gpd.GeoDataFrame
) -> list[list[float]] | None:
    """Return the map's opening view: the focus areas, else all areas, else the streets."""
    boxes = None  # the boxes of the geometries framed, as their envelopes
    if areas is not None and len(areas):
        geoms = areas.geometry.to_numpy()
        if focus:
            geoms = geoms[areas["area_code"].isin(list(focus)).to_numpy()]
        boxes = gpd.GeoSeries(shapely.envelope(geoms), crs=areas.crs)
    if (boxes is None or boxes.empty) and len(hot):
        boxes = gpd.GeoSeries(shapely.envelope(hot.geometry.to_numpy()), crs=hot.crs)
    if boxes is not None and len(boxes):
        lon, lat = shapely.get_coordinates(to_wgs84(boxes)).T
        w, s, e, n = lon.min(), lat.min(), lon.max(), lat.max()
        return [[round(float(s), 5), round(float(w), 5)], [round(float(n), 5), round(float(e), 5)]]
    return None
