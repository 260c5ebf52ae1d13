"""The lines of hot streets: each run of hot segments as one line, and the streets at its ends.

:func:`hotspots.analysis.rank.rank_streets` merges each run of hot segments into one line
(:func:`union_runs`, :func:`run_shapes`), finds the segments meeting the lines' ends
(:func:`meeting`) and words each street's extent from their names (:func:`extent_texts`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.space.names import normalise_name, sorted_codes

#: A street meets a hot street's end within this distance of it (metres).
MEET_DISTANCE_M = 0.05

__all__ = [
    "MEET_DISTANCE_M",
    "describe_extents",
    "extent_names",
    "extent_texts",
    "meeting",
    "points_near_lines",
    "run_shapes",
    "union_runs",
]


def run_shapes(unions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each run's merged line and its midpoint's x and y, from :func:`union_runs`."""
    geoms = shapely.line_merge(unions)
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    return geoms, shapely.get_x(mid), shapely.get_y(mid)


def meeting(
    lines: np.ndarray, segment_lines: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Return the ends of ``lines`` and the segments meeting them (within 5 cm).

    How many ends, each end's line, and the (end, segment) pairs that meet (rows of
    ``segment_lines``), as :func:`points_near_lines` gives them.
    """
    ends = shapely.boundary(lines)
    parts, owner = shapely.get_parts(ends, return_index=True)
    pi, si = points_near_lines(parts, segment_lines, MEET_DISTANCE_M)
    return len(parts), owner, pi, si


def points_near_lines(
    points: np.ndarray, lines: np.ndarray, distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the (point, line) pairs within ``distance`` of each other, by point then line.

    The pairs of ``shapely.STRtree(lines).query(points, predicate="dwithin",
    distance=distance)``, sorted: each candidate (a point in a line's bounding box grown by
    a little more than ``distance``, found through a grid of cells) is tested by
    ``shapely.dwithin``, the test the tree makes. Where lines are too long for the grid, by
    the tree.

    Parameters
    ----------
    points
        Points (missing or empty ones meet nothing).
    lines
        Lines (or any geometry; missing or empty ones meet nothing).
    distance
        At most this far apart.

    Returns
    -------
    points, lines
        Row numbers of the pairs.
    """
    none = np.zeros(0, dtype=np.intp)
    box = shapely.bounds(lines)
    line = np.flatnonzero(np.isfinite(box[:, 0]))  # all four missing for an empty line
    if not len(line) or not len(points):
        return none, none
    pad = distance * 1.01  # more than enough: the test decides
    x0, y0 = box[line, 0] - pad, box[line, 1] - pad
    x1, y1 = box[line, 2] + pad, box[line, 3] + pad
    cell = max(2 * float(np.maximum(x1 - x0, y1 - y0).mean()), pad)
    ox, oy = float(x0.min()), float(y0.min())
    c0, r0 = np.floor((x0 - ox) / cell), np.floor((y0 - oy) / cell)
    c1, r1 = np.floor((x1 - ox) / cell), np.floor((y1 - oy) / cell)
    n_cols, n_rows = float(c1.max()) + 1, float(r1.max()) + 1
    width, height = (c1 - c0 + 1).astype(np.int64), (r1 - r0 + 1).astype(np.int64)
    count = width * height  # each line's cells
    if count.sum() > 16 * len(line) or n_cols * n_rows > 2**40:  # long lines: by the tree
        found = shapely.STRtree(lines).query(points, predicate="dwithin", distance=distance)
        order = np.lexsort((found[1], found[0]))
        return found[0][order], found[1][order]
    # each point's cell (none for a point beyond every line's box), points by cell
    spot = shapely.bounds(points)  # x and y (missing for an empty point)
    px, py = spot[:, 0], spot[:, 1]
    pc, pr = np.floor((px - ox) / cell), np.floor((py - oy) / cell)
    on = (pc >= 0) & (pc < n_cols) & (pr >= 0) & (pr < n_rows)  # False for NaN too
    point = np.flatnonzero(on)
    n_rows_i = int(n_rows)
    key = pc[point].astype(np.int64) * n_rows_i + pr[point].astype(np.int64)
    by_cell = np.argsort(key, kind="stable")
    # each line's cells, as numbers, and the points in each
    at = np.repeat(np.arange(len(line)), count)
    k = np.arange(len(at)) - np.repeat(np.cumsum(count) - count, count)
    cells = (c0[at].astype(np.int64) + k % width[at]) * n_rows_i
    cells += r0[at].astype(np.int64) + k // width[at]
    n_cells = int(n_cols) * n_rows_i
    if n_cells <= 8 * (len(at) + len(point)):  # a table of every cell
        many = np.bincount(key, minlength=n_cells)
        start = (np.cumsum(many) - many)[cells]
        many = many[cells]
    else:
        key = key[by_cell]
        start = np.searchsorted(key, cells, side="left")
        many = np.searchsorted(key, cells, side="right") - start
    # the (point, line) pairs sharing a cell: each once (a point is in one cell)
    some = many > 0
    at, start, many = at[some], start[some], many[some]
    step = np.arange(int(many.sum())) - np.repeat(np.cumsum(many) - many, many)
    pi = point[by_cell[np.repeat(start, many) + step]]
    li = np.repeat(at, many)
    near = (x0[li] <= px[pi]) & (px[pi] <= x1[li]) & (y0[li] <= py[pi]) & (py[pi] <= y1[li])
    pi, si = pi[near], line[li[near]]
    met = _within(points, lines, (pi, si), distance)
    pi, si = pi[met], si[met]
    order = np.lexsort((si, pi))
    return pi[order].astype(np.intp), si[order].astype(np.intp)


def _within(
    points: np.ndarray, lines: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], distance: float
) -> np.ndarray:
    """Return True where ``points[pi]`` is within ``distance`` of ``lines[si]`` (dwithin).

    ``pairs`` is ``(pi, si)``. A point at its line's first or last point is at distance 0
    (GEOS' own figure for it): met without the test.
    """
    pi, si = pairs
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    last = np.cumsum(np.bincount(owner, minlength=len(lines))) - 1
    at = shapely.get_coordinates(points[pi])  # one point each
    met = (xy[last[si]] == at).all(axis=1)
    met |= (xy[np.r_[0, last[:-1] + 1][si]] == at).all(axis=1)
    test = np.flatnonzero(~met)
    met[test] = shapely.dwithin(points[pi[test]], lines[si[test]], distance)
    return np.asarray(met, dtype=bool)


def union_runs(geoms: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Return the union of each run's geometries (``runs`` sorted), one GEOS call in all.

    The same as ``union_all`` of each run's part: the parts are laid out as the rows of one
    table padded with None (which ``union_all`` skips), unioned along the rows. A run of one
    straight line (two distinct points, 2D) is its own union, taken as it is.
    """
    if len(geoms) == 0:
        return np.empty(0, dtype=object)
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    sizes = np.diff(np.r_[starts, len(geoms)])
    out = np.empty(len(starts), dtype=object)
    alone = geoms[starts]
    plain = (sizes == 1) & _straight_lines(alone)
    out[plain] = alone[plain]
    rest = ~plain
    if rest.any():
        on = np.repeat(rest, sizes)
        out[rest] = _union_rows(geoms[on], np.repeat(np.arange(len(starts)), sizes)[on])
    return out


def _straight_lines(geoms: np.ndarray) -> np.ndarray:
    """Return True for 2D LineStrings of two distinct points (their union is themselves)."""
    line = shapely.get_type_id(geoms) == 1
    line &= shapely.get_num_coordinates(geoms) == 2
    line &= ~shapely.has_z(geoms)
    line &= shapely.length(geoms) > 0  # False for NaN coordinates too
    return np.asarray(line, dtype=bool)


def _union_rows(geoms: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Return ``union_all`` of each run of ``geoms`` (``runs`` sorted) as rows of a table."""
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    sizes = np.diff(np.r_[starts, len(geoms)])
    table = np.full((len(starts), int(sizes.max())), None, dtype=object)
    row = np.repeat(np.arange(len(starts)), sizes)
    table[row, np.arange(len(geoms)) - starts[row]] = geoms
    return np.asarray(shapely.union_all(table, axis=1))


def describe_extents(hot: gpd.GeoDataFrame, segments: gpd.GeoDataFrame) -> pd.Series:
    """Return each hot street's extent in words, by the streets that meet its ends.

    Parameters
    ----------
    hot
        From :func:`rank_streets` (line geometry, projected).
    segments
        All named segments, same CRS.

    Returns
    -------
    pandas.Series
        "from Aldwych to Kingsway", "from Strand" (one end meets another street), or "" ;
        indexed like ``hot``. Where several streets meet an end, the alphabetically first
        is named, so the text does not depend on row order.
    """
    if hot.empty:
        return pd.Series([], dtype=object, index=hot.index)
    met = meeting(hot.geometry.to_numpy(), segments.geometry.to_numpy())
    texts = extent_texts(extent_names(hot["street"], segments["street_name"]), *met)
    return pd.Series(texts, index=hot.index, dtype=object)


def extent_names(
    street: pd.Series, segment_name: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the names :func:`extent_texts` compares, worked out before the meetings.

    The segments' name codes (sorted, -1 for none), their distinct names, those folded
    (:func:`hotspots.space.names.normalise_name`), and the streets' own names folded.
    """
    code, names = sorted_codes(segment_name)
    folded = normalise_name(pd.Series(names, dtype=object)).to_numpy(dtype=object)
    own = normalise_name(street).to_numpy(dtype=object)
    return code, names, folded, own


def extent_texts(
    names: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_ends: int,
    owner: np.ndarray,
    pi: np.ndarray,
    si: np.ndarray,
) -> np.ndarray:
    """Return :func:`describe_extents` of the streets from their ends' meetings.

    ``names`` as :func:`extent_names` gives them; ``n_ends``, ``owner``, ``pi`` and
    ``si`` as :func:`meeting` does.
    """
    code, distinct, folded, own = names
    name = code[si]
    keep = name >= 0
    pi, name = pi[keep], name[keep]
    keep = folded[name] != own[owner[pi]]  # a street meeting another street
    pi, name = pi[keep], name[keep]
    width = len(distinct)
    first = np.full(n_ends, width, dtype=np.int64)
    np.minimum.at(first, pi, name)  # each end's alphabetically first name
    named = first < width
    street, name = owner[named], first[named]
    texts = np.full(len(own), "", dtype=object)
    if not len(street):
        return texts
    ends = np.bincount(street, minlength=len(own))  # named ends of each street
    pairs = np.unique(street.astype(np.int64) * width + name)  # by street, then name
    who, which = pairs // width, pairs % width
    cuts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
    words = [str(w) for w in distinct[which].tolist()]
    bounds = [*cuts.tolist(), len(words)]
    for i, a, b in zip(who[cuts].tolist(), bounds[:-1], bounds[1:], strict=True):
        texts[i] = _extent_text(words[a:b], int(ends[i]))
    return texts


def _extent_text(uniq: list[str], n_ends: int) -> str:
    """Return the extent text of a street whose ``n_ends`` named ends meet ``uniq`` (sorted)."""
    if len(uniq) >= 2:
        return f"from {uniq[0]} to {uniq[-1]}" if n_ends == 2 else f"between {', '.join(uniq)}"
    return f"from {uniq[0]}" if uniq else ""
