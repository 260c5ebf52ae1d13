"""Small static maps of a priority's place, drawn as SVG by matplotlib (no tiles)."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from hotspots.brief.inputs import RunFolder

__all__ = [
    "MapPainter",
]

_COL = {
    "ward": "#444444",
    "street": "#d4d4d4",
    "other": "#a8a8a8",
    "near": "#f28e2b",
    "place": "#bd0026",
}


class MapPainter:
    """Small static maps of a place: ward outline, street network, listed places; no tiles.

    One matplotlib figure is drawn again for every map (new axes cost more than the drawing).
    """

    size_in = (2.36, 2.13)

    def __init__(self, run: RunFolder) -> None:
        self.streets = run.streets
        self.geoms = run.places.geometry.to_numpy()
        self.pos = {pid: i for i, pid in enumerate(run.places.index)}
        self.names = run.places["street"].astype(str).to_numpy()
        self.ranks = run.places["area_rank"].to_numpy()
        self.by_ward = {
            k: np.asarray(v)
            for k, v in run.places.reset_index(drop=True).groupby("area_code").indices.items()
        }
        self.wards = dict(zip(run.outlines.index, run.outlines.to_numpy(), strict=True))
        self.fig = Figure(figsize=self.size_in)
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.inset = self.fig.add_axes((0.77, 0.75, 0.22, 0.24))
        for ax in (self.ax, self.inset):
            ax.set_axis_off()
            ax.set_aspect("equal")
        self.inset.add_patch(
            Rectangle(
                (0, 0),
                1,
                1,
                transform=self.inset.transAxes,
                fc="white",
                ec="#888",
                lw=0.5,
                zorder=0,
            )
        )
        self.keep = set(self.inset.patches)

    def data_uri(self, code: str, place: str, nearby: Sequence[str]) -> str:
        """Return the map of ``place`` (and ``nearby``) in ward ``code`` as an SVG data URI."""
        self._clear()
        ids = [self.pos[place], *(self.pos[p] for p in nearby)]
        box = self._extent(ids, self.size_in[0] / self.size_in[1])
        self._draw_base(code, box)
        self._draw_places(ids, box)
        _scale_bar(self.ax, box)
        self._draw_inset(code, ids[0])
        buf = io.StringIO()
        with mpl.rc_context({"svg.hashsalt": "hotspots-brief", "svg.fonttype": "none"}):
            self.fig.savefig(buf, format="svg", metadata={"Date": None})
        data = base64.b64encode(buf.getvalue().encode("utf-8")).decode("ascii")
        return f"data:image/svg+xml;base64,{data}"

    def _clear(self) -> None:
        for ax in (self.ax, self.inset):
            for artist in [*ax.collections, *ax.lines, *ax.texts, *ax.patches]:
                if artist not in self.keep:
                    artist.remove()

    def _extent(self, ids: Sequence[int], aspect: float) -> tuple[float, float, float, float]:
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.geoms[list(ids)])
        half = max(200.0, max(xmax - xmin, ymax - ymin) / 2 + 90.0)
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        return cx - half * aspect, cy - half, cx + half * aspect, cy + half

    def _draw_base(self, code: str, box: tuple[float, float, float, float]) -> None:
        ax = self.ax
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        if self.streets is not None:
            hits = self.streets.sindex.query(shapely.box(*box))
            _lines(
                ax, shapely.clip_by_rect(self.streets.to_numpy()[hits], *box), _COL["street"], 0.7
            )
        if code in self.wards:
            outline = shapely.boundary(np.array([self.wards[code]]))
            _lines(ax, shapely.clip_by_rect(outline, *box), _COL["ward"], 1.0, dashes=(4, 2))
        others = self.geoms[self.by_ward.get(code, np.array([], dtype=int))]
        _shapes(ax, others[shapely.intersects(others, shapely.box(*box))], _COL["other"], 1.2, 3)

    def _draw_places(self, ids: Sequence[int], box: tuple[float, float, float, float]) -> None:
        _shapes(self.ax, self.geoms[list(ids[1:])], _COL["near"], 2.4, 12, zorder=3)
        _shapes(self.ax, self.geoms[ids[:1]], _COL["place"], 3.4, 24, zorder=6)
        points = shapely.point_on_surface(self.geoms[list(ids)])
        self.ax.plot(
            [points[0].x],
            [points[0].y],
            "o",
            ms=17,
            mfc="none",
            mec=_COL["place"],
            mew=1.0,
            zorder=6,
        )
        for n, (i, pt) in enumerate(zip(ids, points, strict=True)):
            anchor = n == 0
            label = self.names[i].replace("$", r"\$") if anchor else f"#{int(self.ranks[i])}"
            offset = (9, 8) if anchor else (4, -9)
            self.ax.annotate(
                label,
                (pt.x, pt.y),
                xytext=offset,
                textcoords="offset points",
                fontsize=7 if anchor else 6,
                color=_COL["place"] if anchor else "#8a4a00",
                fontweight="bold" if anchor else "normal",
                annotation_clip=True,
                ha="left" if pt.x < (box[0] + box[2]) / 2 else "right",
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
                zorder=5,
            )

    def _draw_inset(self, code: str, anchor: int) -> None:
        if code not in self.wards:
            return
        _polys(self.inset, self.wards[code])
        pt = shapely.point_on_surface(self.geoms[anchor])
        self.inset.plot([pt.x], [pt.y], "o", ms=3.5, color=_COL["place"])


def _lines(
    ax: Any,
    geoms: np.ndarray,
    colour: str,
    width: float,
    dashes: tuple[float, float] | None = None,
    zorder: float = 1,
) -> None:
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    parts = parts[shapely.get_type_id(parts) == 1]  # LineString
    if len(parts):
        coll = LineCollection(
            [shapely.get_coordinates(p) for p in parts],
            colors=colour,
            linewidths=width,
            capstyle="round",
            zorder=zorder,
        )
        if dashes is not None:
            coll.set_linestyle((0, dashes))
        ax.add_collection(coll)


def _shapes(
    ax: Any, geoms: np.ndarray, colour: str, width: float, size: float, zorder: float = 2
) -> None:
    _lines(ax, geoms, colour, width, zorder=zorder)
    points = shapely.get_parts(geoms)
    points = points[shapely.get_type_id(points) == 0]
    if len(points):
        xy = shapely.get_coordinates(points)
        ax.plot(
            xy[:, 0], xy[:, 1], "o", ms=math.sqrt(size), color=colour, mew=0, zorder=zorder + 0.5
        )


def _polys(ax: Any, geom: Any) -> None:
    for poly in shapely.get_parts(geom):
        ax.add_patch(Polygon(np.asarray(poly.exterior.coords), fc="#eeeeee", ec="#444", lw=0.6))
    xmin, ymin, xmax, ymax = geom.bounds
    pad = max(xmax - xmin, ymax - ymin) * 0.06
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)


def _scale_bar(ax: Any, box: tuple[float, float, float, float]) -> None:
    span = box[2] - box[0]
    length = next(v for v in (500, 200, 100, 50) if v <= span / 3)
    x, y = box[0] + span * 0.05, box[1] + (box[3] - box[1]) * 0.05
    ax.plot([x, x + length], [y, y], color="#222", lw=1.5, solid_capstyle="butt")
    ax.text(
        x + length / 2,
        y + (box[3] - box[1]) * 0.02,
        f"{length} m",
        fontsize=6,
        ha="center",
        va="bottom",
        color="#222",
    )
