"""The lines of hot streets: each run of hot segments as one line, and the streets at its ends.

:func:`hotspots.analysis.rank.rank_streets` merges each run of hot segments into one line
(:func:`run_shapes`, GEOS only, for a thread), finds the segments meeting the lines' ends
(:func:`meeting`) and words each street's extent from their names (:func:`extent_texts`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.space.names import normalise_name, sorted_codes

__all__ = [
    "describe_extents",
    "extent_names",
    "extent_texts",
    "meeting",
    "run_shapes",
    "union_runs",
]


def run_shapes(lines: np.ndarray, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each run's merged line and its midpoint's x and y.

    ``lines`` are the runs' segments in turn (``runs`` sorted). GEOS only: for a thread.
    """
    geoms = shapely.line_merge(union_runs(lines, runs))
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    return geoms, shapely.get_x(mid), shapely.get_y(mid)


def meeting(
    lines: np.ndarray, tree: shapely.STRtree
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Return the ends of ``lines`` and the segments of ``tree`` meeting them (within 5 cm).

    How many ends, each end's line, and the (end, segment) pairs that meet.
    """
    ends = shapely.boundary(lines)
    parts, owner = shapely.get_parts(ends, return_index=True)
    pi, si = tree.query(parts, predicate="dwithin", distance=0.05)
    return len(parts), owner, pi, si


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
    met = meeting(hot.geometry.to_numpy(), shapely.STRtree(segments.geometry.to_numpy()))
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
