"""Snapping: crime points to their nearest street segment, and segments to areas.

Crime points to areas: :mod:`hotspots.space.areas`. The joins work on distinct locations:
police.uk puts every record on one of a fixed set of anonymous map points, so 1.4 million
London records sit on far fewer points, and each point is looked up once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.space.locations import (
    category_codes,
    distinct_points,
    factorize_xy,
    first_match,
    polygon_of_points,
    spread_category,
)
from hotspots.space.nearest import nearest_lines, straight_ends

__all__ = [
    "DEFAULT_SNAP_DISTANCE_M",
    "SnappedPoints",
    "assign_segment_areas",
    "segment_area_columns",
    "segment_area_rows",
    "snap_points",
    "snap_to_streets",
]

log = logging.getLogger("hotspots")

#: Default snapping tolerance, metres. police.uk map points and VPD hundred-block points lie
#: on or beside the street centreline (VPD: median 4.4 m, 95th percentile 10.3 m from the
#: nearest centreline). 30 m takes in the width of a wide street and the generalisation of
#: both layers; a point farther out is more likely a park, station or estate interior, or a
#: place the street layer does not cover, and is better left unsnapped than put on a street.
DEFAULT_SNAP_DISTANCE_M = 30.0


def snap_to_streets(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    max_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    quiet: bool = False,
    known: SnappedPoints | None = None,
) -> pd.DataFrame:
    """Return the nearest street segment of each crime within ``max_distance_m``.

    Parameters
    ----------
    crimes
        Canonical crime table (projected).
    segments
        Segments from :func:`hotspots.space.segments.lines_to_segments`, same CRS, sorted by id.
    max_distance_m
        Snapping tolerance in metres (default 30 m: see ``DEFAULT_SNAP_DISTANCE_M``).
    quiet
        If True, do not log the share snapped.
    known
        Points snapped already (:func:`snap_points`, to these segments with this
        tolerance), such as the reader's located points snapped while the crime table was
        assembled: their answers are taken, and only the other points are snapped.

    Returns
    -------
    pandas.DataFrame
        ``segment_id`` (missing beyond the tolerance) and ``snap_distance_m`` with the index
        of ``crimes``. A point equidistant from several segments (a junction) goes to the
        one with the smallest ``segment_id``, so results do not depend on row order.

    Raises
    ------
    ValueError
        If ``max_distance_m`` is not positive.
    """
    if not max_distance_m > 0:
        msg = f"`max_distance_m` must be positive; got {max_distance_m}"
        raise ValueError(msg)
    inv, ux, uy = distinct_points(crimes)
    ids = segments["segment_id"].to_numpy()
    if known is not None and known.fits(ids, max_distance_m):
        order, coded = known.order, known.coded
        best, best_d = known.answers(ux, uy, segments.geometry.to_numpy()[order])
    else:
        order, coded = np.argsort(ids, kind="stable"), None
        best, best_d = nearest_lines(ux, uy, segments.geometry.to_numpy()[order], max_distance_m)
    found = (best >= 0)[inv]
    out = pd.DataFrame(index=crimes.index)
    out["segment_id"] = spread_category(ids[order], best, inv, crimes.index, coded=coded)
    out["snap_distance_m"] = np.round(best_d, 2)[inv]
    if not quiet:
        log.info(
            "snapped %d of %d crimes (%.1f%%) within %.0f m",
            int(found.sum()),
            len(found),
            100 * found.mean() if len(found) else 0.0,
            max_distance_m,
        )
    return out


@dataclass(frozen=True)
class SnappedPoints:
    """Distinct points snapped to segments (see :func:`snap_points`).

    ``segment_ids`` are the segments' ids in their rows' order, ``order`` sorts them (as
    :func:`snap_to_streets` orders the segments) and ``coded`` is their
    :func:`~hotspots.space.locations.category_codes` in that order. ``best`` is each
    point's nearest segment as a position in that order (-1 beyond the tolerance) and
    ``distance`` its distance. A point's answer depends on that point and the segments
    alone, so answers found for one set of points hold for the same points in another.
    """

    x: np.ndarray
    y: np.ndarray
    segment_ids: np.ndarray
    order: np.ndarray
    coded: tuple[np.ndarray, pd.CategoricalDtype]
    max_distance_m: float
    best: np.ndarray
    distance: np.ndarray

    def fits(self, segment_ids: np.ndarray, max_distance_m: float) -> bool:
        """Whether these answers are to segments of ids ``segment_ids`` (in their rows' order)."""
        return self.max_distance_m == max_distance_m and np.array_equal(
            self.segment_ids, segment_ids
        )

    def answers(
        self, x: np.ndarray, y: np.ndarray, lines: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the nearest line (row of ``lines``) and distance of each distinct point.

        Points snapped already take their answers; the others are snapped to ``lines``
        (the segments' geometries sorted by :attr:`order`) now.
        """
        n = len(self.x)
        codes, _, _ = factorize_xy(np.concatenate([self.x, x]), np.concatenate([self.y, y]))
        row = np.full(int(codes.max(initial=-1)) + 1, -1, dtype=np.int64)
        row[codes[:n]] = np.arange(n)  # a point snapped already: a row of its answers
        at = row[codes[n:]]
        best, dist = np.full(len(x), -1, dtype=np.int64), np.full(len(x), np.nan)
        old = at >= 0
        best[old], dist[old] = self.best[at[old]], self.distance[at[old]]
        new = np.flatnonzero(~old)
        if len(new):
            best[new], dist[new] = nearest_lines(x[new], y[new], lines, self.max_distance_m)
        return best, dist


def snap_points(
    x: np.ndarray,
    y: np.ndarray,
    segments: gpd.GeoDataFrame,
    *,
    max_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
) -> SnappedPoints:
    """Snap distinct points to their nearest segment ahead of :func:`snap_to_streets`.

    Parameters
    ----------
    x, y
        Points in the segments' CRS (distinct ones: each is measured).
    segments
        Street segments with ``segment_id``.
    max_distance_m
        Snapping tolerance in metres.

    Returns
    -------
    SnappedPoints
        Given to :func:`snap_to_streets` as ``known``.
    """
    ids = segments["segment_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    best, dist = nearest_lines(x, y, segments.geometry.to_numpy()[order], max_distance_m)
    return SnappedPoints(x, y, ids, order, category_codes(ids[order]), max_distance_m, best, dist)


def assign_segment_areas(segments: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the area of each street segment: the area nearest its midpoint.

    A segment crossing an area edge belongs to the area holding its midpoint; a segment
    outside every area (a street beyond the study area) to the nearest area. Ties go to the
    smaller ``area_code``.

    Parameters
    ----------
    segments
        Street segments (projected).
    areas
        Area polygons in the same CRS.

    Returns
    -------
    pandas.DataFrame
        ``area_code`` and ``area_name`` with the index of ``segments``.
    """
    return segment_area_columns(areas, segment_area_rows(segments, areas), segments.index)


def segment_area_rows(segments: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Return each segment's area as a row of ``areas`` sorted by ``area_code`` (-1: none).

    The work of :func:`assign_segment_areas` (which :func:`segment_area_columns` completes):
    a row number per segment, what :mod:`hotspots.space.cache` keeps between runs.
    """
    # the midpoints inside an area found by the area join's point-in-polygon test (an
    # area at distance 0 is one the point intersects); only the others measure distances
    x, y = _midpoints(segments.geometry.to_numpy())
    polys = areas.geometry.to_numpy()[_by_code(areas)]
    hit = polygon_of_points(x, y, polys)
    away = np.flatnonzero((hit < 0) & np.isfinite(x) & np.isfinite(y))
    if len(away) and len(polys):
        points = shapely.points(x[away], y[away])
        pi, ai = shapely.STRtree(polys).query_nearest(points, all_matches=True)
        hit[away] = first_match(len(away), pi, ai)
    return hit


def segment_area_columns(
    areas: gpd.GeoDataFrame, rows: np.ndarray, index: pd.Index
) -> pd.DataFrame:
    """Return ``area_code`` and ``area_name`` of the areas' ``rows`` (:func:`segment_area_rows`)."""
    order = _by_code(areas)
    out = pd.DataFrame(index=index)
    for col in ("area_code", "area_name"):
        values = pd.Series(areas[col].to_numpy()[order], dtype="str")
        out[col] = values.array.take(rows, allow_fill=True)  # -1: missing
    return out


def _by_code(areas: gpd.GeoDataFrame) -> np.ndarray:
    """Return the areas' rows in order of ``area_code`` (ties: in order; the smaller wins)."""
    return np.argsort(areas["area_code"].to_numpy(), kind="stable")


def _midpoints(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the x and y of each line's midpoint (NaN for an empty or missing line).

    ``shapely.line_interpolate_point(lines, 0.5, normalized=True)``: for a line of two points
    GEOS works out ``A + 0.5 * (B - A)`` (the fraction of half the length is exactly 0.5),
    done here in NumPy, the same doubles (checked on every segment of Vancouver and London);
    GEOS for the other lines.
    """
    ends = straight_ends(lines)
    x = ends[0] + 0.5 * (ends[2] - ends[0])
    y = ends[1] + 0.5 * (ends[3] - ends[1])
    other = np.flatnonzero(np.isnan(ends[0]))
    if len(other):
        mid = shapely.line_interpolate_point(lines[other], 0.5, normalized=True)
        x[other], y[other] = shapely.get_x(mid), shapely.get_y(mid)
    return x, y
