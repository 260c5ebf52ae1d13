"""Compact data of the map pages: counts per place, crime type and period, and coded lines.

A map re-ranks its streets and areas in the page when a crime group, the harm switch or a
period is chosen. It does so from :class:`PeriodCounts`: per place (street, location or area)
a flat integer list ``[cell, count, cell, count, ...]`` where ``cell = type * M + month`` (and
a second list by week, counted back from the last date, for data with dates), so the embedded
data holds integers only, and only the non-zero cells.

Geometries are written as Google encoded polylines (precision 1e-5 degrees) by
:func:`encode_geometry`: a few bytes a vertex instead of about twenty in GeoJSON text.

Examples
--------
>>> encode_line([(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)])
'_p~iF~ps|U_ulLnnqC_mqNvxq`@'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from hotspots.analysis.rank import type_columns
from hotspots.space.crs import WGS84

__all__ = [
    "WEEKS",
    "PeriodCounts",
    "encode_frame",
    "encode_geometry",
    "encode_line",
    "heat_code",
    "heat_palette",
    "period_counts",
    "to_wgs84",
]

#: Weeks kept in the weekly counts: the last 12 weeks and the 12 before them.
WEEKS = 24


@dataclass(frozen=True)
class PeriodCounts:
    """Crime counts per place, crime type and month (and week), for re-ranking in the page.

    Parameters
    ----------
    months
        The months, ``"YYYY-MM"``, first to last (index ``m`` of a cell).
    types
        Crime types as the source writes them (index ``t`` of a cell).
    groups
        Crime group key of each type (the brief's groups).
    group_labels
        Label of each group key, in the brief's order.
    harm
        Harm weight of each type (Cambridge Crime Harm Index days).
    places
        Place key (``s<i>``, ``l<i>``, or an area code) to its flat monthly list.
    weekly
        Place key to its flat weekly list (``cell = type * WEEKS + week``, week ``WEEKS - 1``
        the last seven days of the data); empty for data that gives the month only.
    last_day
        The last date of the data (``"YYYY-MM-DD"``) when ``weekly`` is given.
    """

    months: list[str]
    types: list[str]
    groups: list[str]
    group_labels: dict[str, str]
    harm: list[float]
    places: dict[str, list[int]] = field(default_factory=dict)
    weekly: dict[str, list[int]] = field(default_factory=dict)
    last_day: str = ""

    @functools.cached_property
    def settings(self) -> dict[str, Any]:
        """The result of :meth:`config`, computed once."""
        return self.config()

    def config(self) -> dict[str, Any]:
        """Return the page settings that do not depend on the places (JSON-ready)."""
        keys = list(self.group_labels)
        return {
            "months": self.months,
            "types": self.types,
            "typeKeys": [type_columns(self.types)[t][2:] for t in self.types],
            "typeGroup": [keys.index(g) for g in self.groups],
            "groups": [[k, v] for k, v in self.group_labels.items()],
            "harm": self.harm,
            "weeks": WEEKS if self.weekly else 0,
            "lastDay": self.last_day,
        }

    def lists(self, keys: Iterable[str]) -> tuple[list[list[int]], list[list[int]]]:
        """Return the monthly and weekly lists of ``keys`` (empty lists for unknown keys)."""
        keys = list(keys)
        monthly = [self.places.get(k, []) for k in keys]
        weekly = [self.weekly.get(k, []) for k in keys] if self.weekly else []
        return monthly, weekly


def period_counts(
    crimes: pd.DataFrame,
    *,
    keys: Sequence[str] = ("place_key", "area_code"),
    group_of: Mapping[str, str],
    group_labels: Mapping[str, str],
) -> PeriodCounts:
    """Count crimes per place, type and month (and week, for dated data).

    Parameters
    ----------
    crimes
        Canonical crime table with ``month``, ``crime_type``, ``harm`` (optional; 1 when
        absent), ``occurred_from`` and ``has_time`` (optional; weeks only when some rows
        have a time) and the ``keys`` columns.
    keys
        Columns whose values are places (their values must not collide).
    group_of
        Crime group of each crime type (see :func:`hotspots.brief.classify_crime_types`).
    group_labels
        Label of each group, in display order; groups with no crime are left out.

    Returns
    -------
    PeriodCounts
        Counts of every place in the ``keys`` columns.
    """
    months = _month_range(crimes["month"])
    type_code, types = pd.factorize(crimes["crime_type"], sort=True)
    month_code = pd.Index(months).get_indexer(crimes["month"])
    harm = (
        crimes.groupby(type_code)["harm"].first().round(1).tolist()
        if "harm" in crimes
        else [1.0] * len(types)
    )
    present = {group_of.get(t, "other") for t in types}
    labels = {g: str(v) for g, v in group_labels.items() if g in present}
    places: dict[str, list[int]] = {}
    weekly: dict[str, list[int]] = {}
    week, last_day = _week_numbers(crimes)
    for col in keys:
        if col in crimes:
            places.update(_flat_counts(crimes[col], type_code * len(months) + month_code))
            if week is not None:
                ok = week >= 0
                weekly.update(_flat_counts(crimes[col][ok], (type_code * WEEKS + week)[ok]))
    return PeriodCounts(
        months=months,
        types=[str(t) for t in types],
        groups=[group_of.get(t, "other") for t in types],
        group_labels=labels,
        harm=[float(h) for h in harm],
        places=places,
        weekly=weekly,
        last_day=last_day,
    )


def _month_range(month: pd.Series) -> list[str]:
    if month.min() == month.max():  # one period (also a label such as "whole period")
        return [str(month.min())]
    first, last = pd.Period(month.min(), "M"), pd.Period(month.max(), "M")
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def _week_numbers(crimes: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """Week of each crime (``WEEKS - 1`` the last 7 days; -1 before), for dated data."""
    if "has_time" not in crimes or not crimes["has_time"].any() or "occurred_from" not in crimes:
        return None, ""
    day = pd.to_datetime(crimes["occurred_from"]).dt.normalize()
    last = day.max()
    back = ((last - day).dt.days // 7).to_numpy()
    week = np.where(back < WEEKS, WEEKS - 1 - back, -1)
    return week.astype(np.int64), str(last.date())


def _flat_counts(key: pd.Series, cell: np.ndarray) -> dict[str, list[int]]:
    """Per key value, ``[cell, count, ...]`` of its non-zero cells, cells ascending."""
    ok = key.notna().to_numpy()
    place_code, place = pd.factorize(key[ok])
    cell = np.asarray(cell)[ok].astype(np.int64)
    n_cells = int(cell.max()) + 1 if len(cell) else 1
    code, n = np.unique(place_code.astype(np.int64) * n_cells + cell, return_counts=True)
    row, cell = np.divmod(code, n_cells)
    cuts = np.flatnonzero(np.diff(row)) + 1
    out = {}
    for rows, cells, counts in zip(
        np.split(row, cuts), np.split(cell, cuts), np.split(n, cuts), strict=True
    ):
        if len(rows):
            out[str(place[rows[0]])] = np.column_stack([cells, counts]).ravel().tolist()
    return out


# --------------------------------------------------------------------------------------------
# geometry


def encode_line(latlon: Iterable[tuple[float, float]]) -> str:
    """Return the Google encoded polyline of (lat, lon) pairs, precision 1e-5 degrees."""
    out, prev = [], (0, 0)
    for lat, lon in latlon:
        cur = (round(lat * 1e5), round(lon * 1e5))
        for d in (cur[0] - prev[0], cur[1] - prev[1]):
            v = ~(d << 1) if d < 0 else d << 1
            while v >= 0x20:
                out.append(chr((0x20 | (v & 0x1F)) + 63))
                v >>= 5
            out.append(chr(v + 63))
        prev = cur
    return "".join(out)


def encode_geometry(geom: Any) -> list[Any]:
    """Return a WGS84 geometry as nested lists of encoded rings.

    Lines give ``[ring, ...]``; polygons ``[[outer, hole, ...], ...]``; points
    ``[ring]`` where each vertex is a point.
    """
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        polys = geom.geoms if isinstance(geom, shapely.MultiPolygon) else [geom]
        return [[_ring(p.exterior.coords), *(_ring(h.coords) for h in p.interiors)] for p in polys]
    if isinstance(geom, shapely.MultiPoint | shapely.Point):
        return [_ring(shapely.get_coordinates(geom))]
    parts = geom.geoms if hasattr(geom, "geoms") else [geom]
    return [_ring(p.coords) for p in parts]


def _ring(coords: Any) -> str:
    return encode_line((float(y), float(x)) for x, y, *_ in coords)


def encode_frame(gdf: gpd.GeoDataFrame, *, simplify_m: float = 0.0) -> list[list[Any]]:
    """Return every geometry of ``gdf`` (projected) encoded as :func:`encode_geometry` does.

    All rings are encoded at once with NumPy (the per-vertex loop of :func:`encode_line`
    would cost tens of milliseconds per map for a street network).
    """
    geoms = gdf.geometry
    if simplify_m:
        geoms = geoms.simplify(simplify_m)
    geoms = to_wgs84(geoms)
    kind = shapely.get_type_id(geoms)  # 0 point, 1-2 lines, 3 polygon, 4-6 multi, 7 collection
    poly = np.isin(kind, (3, 6))
    point = np.isin(kind, (0, 4))
    out: list[list[Any]] = [[] for _ in geoms]
    lines = np.flatnonzero(~poly & ~point & ~shapely.is_empty(geoms))
    parts, owner = shapely.get_parts(geoms[lines], return_index=True)
    for i, text in zip(lines[owner], _encode_rings(parts), strict=True):
        out[i].append(text)
    polys, owner = shapely.get_parts(geoms[poly], return_index=True)
    rings, ring_owner = shapely.get_rings(polys, return_index=True)
    texts = _encode_rings(rings)
    nested: list[list[str]] = [[] for _ in polys]
    for j, text in zip(ring_owner, texts, strict=True):
        nested[j].append(text)
    for i, rings_of in zip(np.flatnonzero(poly)[owner], nested, strict=True):
        out[i].append(rings_of)
    pts = np.flatnonzero(point & ~shapely.is_empty(geoms))
    for i, text in zip(pts, _encode_rings(geoms[pts]), strict=True):
        out[i].append(text)
    return out


def to_wgs84(geoms: gpd.GeoSeries) -> np.ndarray:
    """Return the geometries in WGS84 (lon, lat) as an array, with a transformer made once."""
    tr = None if geoms.crs is None else _transformer_of(geoms.crs)
    if tr is None:
        return np.asarray(geoms.to_numpy())
    return np.asarray(
        shapely.transform(
            geoms.to_numpy(), lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        )
    )


#: The transformer to WGS84 of each CRS object seen (None: WGS84 itself), by the object's
#: id, with the object kept so its id is not reused: the maps of a run ask hundreds of times
#: for the same few CRS objects, whose comparison and WKT cost a millisecond or more each.
_BY_CRS: dict[int, tuple[CRS, Transformer | None]] = {}


def _transformer_of(crs: CRS) -> Transformer | None:
    """Return the transformer from ``crs`` to WGS84 (None if ``crs`` is WGS84)."""
    held = _BY_CRS.get(id(crs))
    if held is not None and held[0] is crs:
        return held[1]
    tr = None if crs.equals(WGS84) else _transformer(crs.to_wkt())
    if len(_BY_CRS) >= 16:
        _BY_CRS.clear()
    _BY_CRS[id(crs)] = (crs, tr)
    return tr


@functools.lru_cache(maxsize=8)
def _transformer(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)


def _encode_rings(rings: np.ndarray) -> list[str]:
    """Return the encoded polyline of each geometry's coordinates (lat, lon), vectorised."""
    if not len(rings):
        return []
    xy, owner = shapely.get_coordinates(rings, return_index=True)
    ints = np.round(xy[:, ::-1] * 1e5).astype(np.int64)
    first = np.concatenate([[True], owner[1:] != owner[:-1]])  # (np.r_ costs a ms a call)
    prev = np.vstack([np.zeros((1, 2), np.int64), ints[:-1]])
    prev[first] = 0
    d = (ints - prev).ravel()
    v = np.where(d < 0, ~(d << 1), d << 1)
    shifts = 5 * np.arange(7)
    rest = v[:, None] >> shifts[None, :]
    present = (rest > 0) | (shifts[None, :] == 0)
    more = np.column_stack([present[:, 1:], np.zeros(len(v), bool)])
    chars = ((rest & 31) | np.where(more, 0x20, 0)) + 63
    text = chars[present].astype(np.uint8).tobytes().decode("ascii")
    per_value = present.sum(axis=1)
    per_ring = np.bincount(np.repeat(owner, 2), weights=per_value, minlength=len(rings))
    ends = np.cumsum(per_ring.astype(np.int64))
    starts = ends - per_ring.astype(np.int64)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


# --------------------------------------------------------------------------------------------
# hour-of-week heatmaps

_HEAT_PATH = re.compile(r'<path fill="(#[0-9a-fA-F]{6})" d="([^"]*)"/>')
_HEAT_CELL = re.compile(r"M(\d+) (\d+)h5v5h-5z")
_HEAT_TITLE = re.compile(r"<title>(.*?)</title>")


@functools.lru_cache(maxsize=1)
def heat_palette() -> tuple[str, ...]:
    """Return the colours of :func:`hotspots.output.charts.hour_day_svg`, level 0 to 5."""
    from hotspots.output.charts import hour_day_svg

    return tuple(c for c, _ in _HEAT_PATH.findall(hour_day_svg(np.arange(168.0))))


def heat_code(svg: str) -> list[str] | None:
    """Return an hour-of-week heatmap SVG as ``[title, 168 level digits]``, or None.

    The page redraws the same SVG from the code (about 200 bytes instead of 3,000). None
    when ``svg`` is not a heatmap of :func:`hotspots.output.charts.hour_day_svg` (then it stays
    as it is).

    Examples
    --------
    >>> from hotspots.output.charts import hour_day_svg
    >>> title, levels = heat_code(hour_day_svg(np.arange(168.0)))
    >>> title[:30], levels[:3], levels[-1], len(levels)
    ('Crimes by hour of week (n = 14', '011', '5', 168)
    """
    code = _heat_code(svg)
    return None if code is None else list(code)


@functools.lru_cache(maxsize=8192)
def _heat_code(svg: str) -> tuple[str, str] | None:
    """Return :func:`heat_code`'s code as a tuple (a place's chart is met on several maps)."""
    palette = heat_palette()
    levels = [""] * 168
    for colour, d in _HEAT_PATH.findall(svg):
        if colour not in palette:
            return None
        for x, y in _HEAT_CELL.findall(d):
            cell = (int(x) - 20) // 5 + 24 * ((int(y) - 2) // 5)
            if not 0 <= cell < 168:
                return None
            levels[cell] = str(palette.index(colour))
    title = _HEAT_TITLE.search(svg)
    if "" in levels or title is None:
        return None
    return (title.group(1), "".join(levels))
