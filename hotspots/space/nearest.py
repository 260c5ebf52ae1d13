"""The nearest line of each point within a distance: a grid of cells, NumPy and GEOS.

:func:`nearest_lines` gives what ``STRtree.query_nearest(max_distance, all_matches=True)``
gives with ties to the smallest line index, distances to the last bit, with fewer GEOS
calls. Candidates: each line is listed in the square cells its box, grown by the tolerance,
meets; a point meets the lines listed in its cell whose grown box holds it (the pairs a tree
of the grown boxes gives). Distances: to a line of two points (nine street segments in ten)
by GEOS's own formula in NumPy (:func:`segment_distance`, the same doubles), to any other
line by ``shapely.distance``. No GEOS point per crime location, no tree.

Vancouver's 54,000 distinct crime points and 17,000 segments (151,000 candidate pairs):
about 40 ms of CPU, where the tree of boxes and a GEOS distance per pair took 75-90 ms;
2 million points (the 10-million-row scale-up): 2.2 s instead of 4.6 s, about 50 MB more
memory at the peak (the pairs of each part in turn; per point only the pairs at its
shortest distance so far are kept).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely

from hotspots.space.locations import first_match

__all__ = ["nearest_lines", "segment_distance", "straight_ends"]

#: Most candidate pairs measured at once (memory: about 15 float arrays of this many).
_PAIRS = 250_000
#: Fewest candidate pairs worth a second thread.
_SPLIT_FROM = 50_000
#: Most cells of the grid (a wide layer with a short tolerance gets wider cells).
_MAX_CELLS = 4_000_000


def nearest_lines(
    x: np.ndarray, y: np.ndarray, lines: np.ndarray, max_distance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return each point's nearest line within ``max_distance_m`` (-1 if none) and distance.

    Parameters
    ----------
    x, y
        Point coordinates (a missing or infinite coordinate: no line).
    lines
        Geometries, usually LineStrings (missing or empty ones are never nearest).
    max_distance_m
        Tolerance: a line at exactly this distance counts.

    Returns
    -------
    best, distance
        ``best[i]`` is the index in ``lines`` of the line nearest point i (ties: the
        smallest index), -1 beyond the tolerance; ``distance[i]`` its distance, as
        ``shapely.distance`` gives it; NaN where none.

    Examples
    --------
    >>> lines = shapely.linestrings([[(0, 0), (10, 0)], [(0, 5), (10, 5)]])
    >>> best, dist = nearest_lines(np.array([3.0, 3.0]), np.array([1.0, 50.0]), lines, 2.0)
    >>> best.tolist(), dist.tolist()[0]
    ([0, -1], 1.0)
    """
    reach = max_distance_m * (1 + 1e-9) + 1e-9  # never miss a pair at the exact tolerance
    grid = _Grid.of(lines, reach)
    order, start = grid.points_by_cell(x, y)
    line, cell = grid.listed()
    lo = start[cell]
    n = start[cell + 1] - lo  # the points of listing i: order[lo[i]:lo[i] + n[i]]
    px, py = x[order], y[order]

    def measure(rows: np.ndarray) -> np.ndarray:
        return _within(grid, lines, line[rows], lo[rows], n[rows], px, py, max_distance_m)

    best_d = np.full(len(x), np.inf)
    kept = []
    for found in _by_parts(measure, n):  # each part's pairs as they come
        point, dist = order[found[0].astype(np.int64)], found[2]
        np.minimum.at(best_d, point, dist)
        on = dist == best_d[point]  # the shortest so far: a pair the final answer may take
        kept.append((point[on], found[1][on].astype(np.int64), dist[on]))
    point, line_of, dist = (np.concatenate([k[i] for k in kept]) for i in range(3))
    nearest = dist == best_d[point]  # every line at the shortest distance: ties
    best = first_match(len(x), point[nearest], line_of[nearest])
    return best, np.where(best < 0, np.nan, best_d)


@dataclass(frozen=True)
class _Grid:
    """Square cells of side ``cell`` from ``(x0, y0)``, ``nx`` by ``ny``, and the lines.

    ``box`` holds each line's box grown by the reach (four rows), ``span`` the first and
    last cell column and row it meets (a line without a box: no cell), ``ends`` the ends
    of the lines of two points (NaN for the others).
    """

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    box: np.ndarray
    span: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, lines: np.ndarray, reach: float) -> _Grid:
        """Cover the lines' boxes grown by ``reach``, in cells twice the reach or wider."""
        with np.errstate(invalid="ignore"):  # an empty geometry: NaN (thread-local)
            b = shapely.bounds(lines).T
        box = np.stack([b[0] - reach, b[1] - reach, b[2] + reach, b[3] + reach])
        ok = np.isfinite(box).all(axis=0)
        if not ok.any():
            span = np.zeros((4, len(lines)), dtype=np.int64)
            span[1] = -1  # no cell
            return cls(0.0, 0.0, 1.0, 1, 1, box, span, straight_ends(lines))
        x0, y0 = float(box[0, ok].min()), float(box[1, ok].min())
        width, height = float(box[2, ok].max()) - x0, float(box[3, ok].max()) - y0
        cell = max(2 * reach, float(np.sqrt(width * height / _MAX_CELLS)))
        with np.errstate(invalid="ignore"):
            span = np.stack(
                [
                    np.where(ok, np.floor((box[0] - x0) / cell), 0),
                    np.where(ok, np.floor((box[2] - x0) / cell), -1),
                    np.where(ok, np.floor((box[1] - y0) / cell), 0),
                    np.where(ok, np.floor((box[3] - y0) / cell), 0),
                ]
            ).astype(np.int64)
        nx, ny = int(span[1].max()) + 1, int(span[3].max()) + 1
        return cls(x0, y0, cell, nx, ny, box, span, straight_ends(lines))

    def points_by_cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the points in order of cell and where each cell's points start.

        A point outside the grid (or with a missing coordinate) goes to a last cell that no
        line lists.
        """
        with np.errstate(invalid="ignore"):
            cx = np.floor((x - self.x0) / self.cell)  # as the lines' cells: the same rounding
            cy = np.floor((y - self.y0) / self.cell)
            inside = (cx >= 0) & (cx < self.nx) & (cy >= 0) & (cy < self.ny)
        cells = self.nx * self.ny
        key = np.where(inside, cx * self.ny + cy, cells).astype(np.int64)
        order = np.argsort(key)  # any order within a cell: the answers do not depend on it
        start = np.r_[0, np.cumsum(np.bincount(key, minlength=cells + 1))]
        return order, start

    def listed(self) -> tuple[np.ndarray, np.ndarray]:
        """Return each (line, cell) listing: the line and the cell's number."""
        cx0, cx1, cy0, cy1 = self.span
        rows = cy1 - cy0 + 1
        count = np.maximum(cx1 - cx0 + 1, 0) * rows
        line = np.repeat(np.arange(len(count)), count)
        k = np.arange(len(line)) - np.repeat(np.cumsum(count) - count, count)
        across, down = np.divmod(k, rows[line])
        cell = (cx0[line] + across) * self.ny + cy0[line] + down
        return line, cell


def _by_parts(work: Callable[[np.ndarray], np.ndarray], n: np.ndarray) -> Iterator[np.ndarray]:
    """Yield ``work(rows)`` of runs of listings of up to :data:`_PAIRS` pairs, in order.

    ``n`` is each listing's number of pairs; ``work`` gives three rows (point, line,
    distance) per pair kept. Two or more runs are measured in threads (NumPy's arithmetic
    and GEOS run without the GIL), each yielded as soon as it and those before it are done.
    """
    total = int(n.sum())
    cores = os.cpu_count() or 1
    parts = max(-(-total // _PAIRS), min(cores, total // _SPLIT_FROM), 1)
    cuts = np.searchsorted(np.cumsum(n), np.arange(1, parts) * (total / parts))
    runs = np.split(np.arange(len(n)), cuts)
    if len(runs) == 1:
        yield work(runs[0])
        return
    with ThreadPoolExecutor(min(len(runs), cores), thread_name_prefix="hotspots-snap") as pool:
        yield from pool.map(work, runs)


def _within(
    grid: _Grid,
    lines: np.ndarray,
    line: np.ndarray,
    lo: np.ndarray,
    n: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    max_distance_m: float,
) -> np.ndarray:
    """Return the (point, line, distance) rows of the listings' pairs within the tolerance.

    Listing i pairs ``line[i]`` with the points ``lo[i]`` .. ``lo[i] + n[i] - 1`` of
    ``px``/``py``; a pair counts where the point is in the line's grown box.
    """
    pl = np.repeat(line, n)
    pp = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(len(pl))
    x, y = px[pp], py[pp]
    box = grid.box
    inside = (x >= box[0][pl]) & (x <= box[2][pl]) & (y >= box[1][pl]) & (y <= box[3][pl])
    pp, pl, x, y = pp[inside], pl[inside], x[inside], y[inside]
    dist = np.empty(len(pp))
    on = np.isfinite(grid.ends[0][pl])  # a line of two points: by NumPy, as GEOS does it
    dist[on] = segment_distance(x[on], y[on], *(e[pl[on]] for e in grid.ends))
    other = ~on
    with np.errstate(invalid="ignore"):  # a missing geometry: NaN (thread-local)
        dist[other] = shapely.distance(shapely.points(x[other], y[other]), lines[pl[other]])
    keep = dist <= max_distance_m
    return np.stack([pp[keep].astype(float), pl[keep].astype(float), dist[keep]])


def straight_ends(lines: np.ndarray) -> np.ndarray:
    """Return the ends of each LineString of two points (most street segments).

    Parameters
    ----------
    lines
        Any geometries.

    Returns
    -------
    numpy.ndarray
        Four rows (ax, ay, bx, by), one column per line; NaN for every other geometry (more
        points, other kinds, empty or missing) and for a line with a missing coordinate.

    Examples
    --------
    >>> lines = [shapely.LineString([(0, 1), (2, 3)]), shapely.LineString([(0, 0), (1, 1), (2, 0)])]
    >>> straight_ends(np.array(lines))
    array([[ 0., nan],
           [ 1., nan],
           [ 2., nan],
           [ 3., nan]])
    """
    two = (shapely.get_type_id(lines) == 1) & (shapely.get_num_coordinates(lines) == 2)
    ends = np.full((4, len(lines)), np.nan)
    ends[:, two] = shapely.get_coordinates(lines[two]).reshape(-1, 4).T
    ends[:, np.isnan(ends).any(axis=0)] = np.nan
    return ends


def segment_distance(
    px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Return the distance from each point P to the segment AB as GEOS works it out.

    GEOS's ``Distance::pointToSegment`` (what ``shapely.distance`` of a point and a
    two-point line comes to): where A is B, or P falls before A (r <= 0) or beyond B
    (r >= 1), the distance to that end; else ``|s| * sqrt(len2)``. The same operations on
    the same doubles, so the same result to the last bit (checked on every candidate pair
    of Vancouver and London): GEOS's ``(A.y - P.y) * dx - (A.x - P.x) * dy`` is written
    ``-(uy * dx - ux * dy)`` (IEEE differences and products only change sign) and
    ``|s|`` as ``|uy * dx - ux * dy| / len2``. A seventh of the time of a GEOS call per pair.

    Parameters
    ----------
    px, py
        The points.
    ax, ay, bx, by
        The segments' ends.

    Returns
    -------
    numpy.ndarray
        One distance per point.

    Examples
    --------
    >>> segment_distance(*np.array([[3.0], [4.0], [0.0], [0.0], [10.0], [0.0]])).tolist()
    [4.0]
    """
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    ux, uy = px - ax, py - ay
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ux * dx + uy * dy) / len2
        inner = np.abs(uy * dx - ux * dy) / len2 * np.sqrt(len2)
    vx, vy = px - bx, py - by
    to_a = np.sqrt(ux * ux + uy * uy)
    to_b = np.sqrt(vx * vx + vy * vy)
    at_a = ((ax == bx) & (ay == by)) | (r <= 0.0)
    return np.asarray(np.where(at_a, to_a, np.where(r >= 1.0, to_b, inner)))
