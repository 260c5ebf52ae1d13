"""Street lines to street segments: split at junctions, bound the length, give stable ids."""

from __future__ import annotations

import hashlib
import itertools
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.ops import substring

__all__ = [
    "DEFAULT_MAX_LENGTH_M",
    "lines_to_segments",
]

log = logging.getLogger("hotspots")

#: Default longest segment, metres. Long links (arterial roads between junctions far apart)
#: are cut into equal pieces no longer than this, so a hot block is not diluted by a
#: kilometre of quiet road.
DEFAULT_MAX_LENGTH_M = 250.0

#: Coordinates are matched to this many decimals (metres) to find shared junction vertices.
_VERTEX_DECIMALS = 2


def lines_to_segments(
    streets: gpd.GeoDataFrame, *, max_length_m: float = DEFAULT_MAX_LENGTH_M, quiet: bool = False
) -> gpd.GeoDataFrame:
    """Split street lines into segments at junctions and to a bounded length.

    A junction is a vertex shared by two or more lines (OpenStreetMap and most centreline
    files share a node where streets meet; lines that cross without a shared vertex, such as
    a bridge over a road, are not split). Segments longer than ``max_length_m`` are cut into
    equal parts.

    Parameters
    ----------
    streets
        Lines from :func:`hotspots.read.layers.read_streets`, in a metric CRS.
    max_length_m
        Longest segment in metres.
    quiet
        If True, do not log the counts.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``segment_id`` (stable: a hash of the rounded geometry, so the same input
        gives the same ids in any row order), ``source_id``, ``street_name``, ``length_m``
        and LineString geometry, sorted by ``segment_id``. Exact duplicate geometries are
        kept once; zero-length pieces are dropped.
    """
    lines = streets.reset_index(drop=True)
    parts, src = _split_at_shared_vertices(lines.geometry.to_numpy())
    seg = gpd.GeoDataFrame(
        {
            "source_id": lines["source_id"].to_numpy()[src],
            "street_name": lines["street_name"].to_numpy()[src],
        },
        geometry=parts,
        crs=lines.crs,
    )
    seg = _cut_long(seg, max_length_m)
    seg["length_m"] = np.round(seg.length.to_numpy(), 2)
    seg = seg[seg["length_m"] > 0]
    seg["segment_id"] = _stable_ids(seg.geometry.to_numpy())
    seg = seg.drop_duplicates("segment_id").sort_values("segment_id", kind="stable")
    if not quiet:
        log.info("%d street lines -> %d segments (max %.0f m)", len(lines), len(seg), max_length_m)
    cols = ["segment_id", "source_id", "street_name", "length_m", "geometry"]
    return seg[cols].reset_index(drop=True)


def _split_at_shared_vertices(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the pieces of each line cut at interior vertices shared with another line."""
    coords, line_idx = shapely.get_coordinates(geoms, return_index=True)
    key = np.round(coords, _VERTEX_DECIMALS)
    _, vid = np.unique(key, axis=0, return_inverse=True)
    vid = vid.ravel()
    pairs = np.unique(np.column_stack([vid, line_idx]), axis=0)
    lines_per_vertex = np.bincount(pairs[:, 0], minlength=vid.max() + 1)
    first = np.r_[True, line_idx[1:] != line_idx[:-1]]
    last = np.r_[line_idx[1:] != line_idx[:-1], True]
    cut = (lines_per_vertex[vid] > 1) & ~first & ~last
    # a cut vertex ends one piece and starts the next: write it twice
    reps = np.where(cut, 2, 1)
    c2, l2 = np.repeat(coords, reps, axis=0), np.repeat(line_idx, reps)
    start = np.r_[True, l2[1:] != l2[:-1]]
    dup_second = np.zeros(len(c2), dtype=bool)
    dup_second[np.cumsum(reps)[cut] - 1] = True
    piece = np.cumsum(start | dup_second) - 1
    counts = np.bincount(piece)
    ok = counts[piece] >= 2
    _, piece_ok = np.unique(piece[ok], return_inverse=True)
    out = shapely.linestrings(c2[ok], indices=piece_ok)
    src = l2[ok][np.r_[True, piece_ok[1:] != piece_ok[:-1]]]
    return out, src


def _cut_long(seg: gpd.GeoDataFrame, max_length_m: float) -> gpd.GeoDataFrame:
    length = seg.length.to_numpy()
    long = length > max_length_m
    if not long.any():
        return seg
    pieces: list[Any] = []
    rows: list[int] = []
    for i in np.flatnonzero(long):
        n = int(np.ceil(length[i] / max_length_m))
        cuts = np.linspace(0.0, length[i], n + 1)
        geom = seg.geometry.iloc[i]
        pieces.extend(substring(geom, a, b) for a, b in itertools.pairwise(cuts))
        rows.extend([int(i)] * n)
    geoms = np.empty(len(pieces), dtype=object)
    geoms[:] = pieces
    extra = seg.iloc[rows].set_geometry(geoms, crs=seg.crs)
    return pd.concat([seg[~long], extra], ignore_index=True)


def _stable_ids(geoms: np.ndarray) -> np.ndarray:
    rounded = shapely.set_precision(geoms, 0.01, mode="pointwise")
    wkb = shapely.to_wkb(shapely.normalize(rounded), output_dimension=2)
    return np.array(
        ["s" + hashlib.blake2b(b, digest_size=6).hexdigest() for b in wkb], dtype=object
    )
