"""Small static maps of a priority's place, written as inline SVG (no tiles, no matplotlib).

The map shows the street network, the ward's boundary (dashed), the ward's other listed places
(grey), the nearby places with the same crime (orange, ``#rank``) and the place itself (red,
circled, named), with a scale bar and an inset of the whole ward. The SVG is written directly
from the projected coordinates (metres): a map is a few kilobytes of paths, cheap to write and
to print (issue 19: matplotlib took most of a brief page's time).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from hotspots.brief.inputs import RunFolder

__all__ = [
    "MAP_SIZE_PT",
    "MapPainter",
]

#: Width and height of a map, points (its shape; printed 42 mm x 37.9 mm, page.py).
MAP_SIZE_PT = (169.92, 153.36)
_COL = {
    "ward": "#444444",
    "street": "#d4d4d4",
    "other": "#a8a8a8",
    "near": "#f28e2b",
    "place": "#bd0026",
}
_FONT = "font-family='DejaVu Sans,Arial,sans-serif'"
#: Inset of the whole ward: left, top, width, height as shares of the map.
_INSET = (0.77, 0.01, 0.22, 0.24)

Box = tuple[float, float, float, float]


def _path(lines: Sequence[np.ndarray], to_px: Any) -> str:
    """Return SVG path data of line coordinate arrays (metres), in map points."""
    return "".join(f"M{_pairs(to_px(xy))}" for xy in lines if len(xy) >= 2)


def _pairs(px: np.ndarray) -> str:
    first, *rest = (f"{x:.1f},{y:.1f}" for x, y in px)
    return first + "".join(f"L{p}" for p in rest)


def _line_parts(geoms: np.ndarray) -> list[np.ndarray]:
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    lines = parts[shapely.get_type_id(parts) == 1]  # LineString
    return [shapely.get_coordinates(p) for p in lines]


def _point_xy(geoms: np.ndarray) -> np.ndarray:
    parts = shapely.get_parts(geoms)
    xy: np.ndarray = shapely.get_coordinates(parts[shapely.get_type_id(parts) == 0])
    return xy


class MapPainter:
    """Small static maps of a place: ward outline, street network, listed places; no tiles."""

    def __init__(self, run: RunFolder) -> None:
        self.streets = run.streets
        self.street_geoms = run.streets.to_numpy() if run.streets is not None else None
        self.geoms = run.places.geometry.to_numpy()
        self.pos = {pid: i for i, pid in enumerate(run.places.index)}
        self.names = run.places["street"].astype(str).to_numpy()
        self.ranks = run.places["area_rank"].to_numpy()
        self.by_ward = {
            k: np.asarray(v)
            for k, v in run.places.reset_index(drop=True).groupby("area_code").indices.items()
        }
        self.wards = dict(zip(run.outlines.index, run.outlines.to_numpy(), strict=True))

    def svg(self, code: str, place: str, nearby: Sequence[str], *, title: str) -> str:
        """Return the map of ``place`` (and ``nearby``) in ward ``code`` as an ``<svg>``.

        Parameters
        ----------
        code
            The ward (its boundary and other listed places are drawn).
        place, nearby
            Place ids: the place (red) and its nearby places (orange).
        title
            Accessible label (escaped here).

        Returns
        -------
        str
            An inline ``<svg class=map>`` element, :data:`MAP_SIZE_PT` units.
        """
        ids = [self.pos[place], *(self.pos[p] for p in nearby)]
        w, h = MAP_SIZE_PT
        box = self._extent(ids, w / h)

        def to_px(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(
                [
                    (xy[:, 0] - box[0]) / (box[2] - box[0]) * w,
                    (box[3] - xy[:, 1]) / (box[3] - box[1]) * h,
                ]
            )

        body = [f"<rect width='{w}' height='{h}' fill='#fff'/>"]
        body += self._base(code, box, to_px)
        body += self._places(ids, box, to_px)
        body += _scale_bar(box, to_px)
        body += self._inset(code, ids[0])
        text = html.escape(title, quote=True)
        return (
            f"<svg class=map viewBox='0 0 {w} {h}' role=img aria-label='{text}' "
            f"xmlns='http://www.w3.org/2000/svg'><title>{text}</title>{''.join(body)}</svg>"
        )

    def _extent(self, ids: Sequence[int], aspect: float) -> Box:
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.geoms[list(ids)])
        half = max(200.0, max(xmax - xmin, ymax - ymin) / 2 + 90.0)
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        return cx - half * aspect, cy - half, cx + half * aspect, cy + half

    def _base(self, code: str, box: Box, to_px: Any) -> list[str]:
        out = []
        if self.streets is not None and self.street_geoms is not None:
            hits = self.streets.sindex.query(shapely.box(*box))
            lines = _line_parts(shapely.clip_by_rect(self.street_geoms[hits], *box))
            out.append(_stroke(_path(lines, to_px), _COL["street"], 0.7))
        if code in self.wards:
            outline = shapely.boundary(np.array([self.wards[code]]))
            lines = _line_parts(shapely.clip_by_rect(outline, *box))
            out.append(_stroke(_path(lines, to_px), _COL["ward"], 1.0, dash="4 2"))
        others = self.geoms[self.by_ward.get(code, np.array([], dtype=int))]
        others = others[shapely.intersects(others, shapely.box(*box))]
        out += _shapes(others, box, to_px, _COL["other"], 1.2, 0.87)
        return out

    def _places(self, ids: Sequence[int], box: Box, to_px: Any) -> list[str]:
        out = _shapes(self.geoms[list(ids[1:])], box, to_px, _COL["near"], 2.4, 1.73)
        out += _shapes(self.geoms[ids[:1]], box, to_px, _COL["place"], 3.4, 2.45)
        points = to_px(shapely.get_coordinates(shapely.point_on_surface(self.geoms[list(ids)])))
        x, y = points[0]
        out.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='8.5' fill='none' "
            f"stroke='{_COL['place']}' stroke-width='1'/>"
        )
        w = MAP_SIZE_PT[0]
        for n, (i, (px, py)) in enumerate(zip(ids, points, strict=True)):
            anchor = n == 0
            label = self.names[i] if anchor else f"#{int(self.ranks[i])}"
            dx, dy = (9, -8) if anchor else (4, 9)
            end = px >= w / 2
            style = (
                f"font-size='7' font-weight='bold' fill='{_COL['place']}'"
                if anchor
                else "font-size='6' fill='#8a4a00'"
            )
            out.append(
                f"<text x='{px + dx:.1f}' y='{py + dy:.1f}' {_FONT} {style}"
                f"{' text-anchor=' + chr(39) + 'end' + chr(39) if end else ''} "
                "stroke='#fff' stroke-opacity='.7' stroke-width='2' paint-order='stroke'>"
                f"{html.escape(label)}</text>"
            )
        return out

    def _inset(self, code: str, anchor: int) -> list[str]:
        w, h = MAP_SIZE_PT
        left, top, iw, ih = (_INSET[0] * w, _INSET[1] * h, _INSET[2] * w, _INSET[3] * h)
        frame = (
            f"<rect x='{left:.1f}' y='{top:.1f}' width='{iw:.1f}' height='{ih:.1f}' "
            "fill='#fff' stroke='#888' stroke-width='.5'/>"
        )
        if code not in self.wards:
            return [frame]
        ward = self.wards[code]
        xmin, ymin, xmax, ymax = ward.bounds
        pad = max(xmax - xmin, ymax - ymin) * 0.06
        dx, dy = xmax - xmin + 2 * pad, ymax - ymin + 2 * pad
        scale = min(iw / dx, ih / dy) if dx > 0 and dy > 0 else 1.0
        ox = left + (iw - dx * scale) / 2 - (xmin - pad) * scale
        oy = top + (ih - dy * scale) / 2 + (ymax + pad) * scale

        def to_inset(xy: np.ndarray) -> np.ndarray:
            return np.column_stack([ox + xy[:, 0] * scale, oy - xy[:, 1] * scale])

        rings = [
            shapely.get_coordinates(poly.exterior) for poly in shapely.get_parts(ward) if poly.area
        ]
        shape = "".join(f"M{_pairs(to_inset(r))}Z" for r in rings)
        x, y = to_inset(shapely.get_coordinates(shapely.point_on_surface(self.geoms[anchor])))[0]
        return [
            frame,
            f"<path d='{shape}' fill='#eee' stroke='#444' stroke-width='.6'/>",
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='1.75' fill='{_COL['place']}'/>",
        ]


def _stroke(d: str, colour: str, width: float, *, dash: str = "") -> str:
    if not d:
        return ""
    dashed = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        f"<path d='{d}' fill='none' stroke='{colour}' stroke-width='{width}' "
        f"stroke-linecap='round' stroke-linejoin='round'{dashed}/>"
    )


def _shapes(
    geoms: np.ndarray, box: Box, to_px: Any, colour: str, width: float, radius: float
) -> list[str]:
    """Return the lines (clipped to the box) and points of places, one colour."""
    out = [_stroke(_path(_line_parts(shapely.clip_by_rect(geoms, *box)), to_px), colour, width)]
    xy = _point_xy(geoms)
    if len(xy):
        dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{radius}'/>" for x, y in to_px(xy))
        out.append(f"<g fill='{colour}'>{dots}</g>")
    return [o for o in out if o]


def _scale_bar(box: Box, to_px: Any) -> list[str]:
    span = box[2] - box[0]
    length = next(v for v in (500, 200, 100, 50) if v <= span / 3)
    x, y = box[0] + span * 0.05, box[1] + (box[3] - box[1]) * 0.05
    (x0, y0), (x1, _) = to_px(np.array([[x, y], [x + length, y]]))
    label_y = to_px(np.array([[x, y + (box[3] - box[1]) * 0.02]]))[0][1]
    return [
        f"<path d='M{x0:.1f},{y0:.1f}H{x1:.1f}' stroke='#222' stroke-width='1.5'/>",
        f"<text x='{(x0 + x1) / 2:.1f}' y='{label_y:.1f}' {_FONT} font-size='6' "
        f"text-anchor='middle' fill='#222'>{length} m</text>",
    ]
