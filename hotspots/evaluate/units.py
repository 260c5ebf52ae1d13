"""Units of the area backtest: a pixel raster of the study area, micro-units and the area cut.

Every unit (a whole street link, a street piece of 25-50 m or a police.uk/VPD map point) stands
for the land within ``buffer_m`` (30 m) of it. Land is counted on a raster of ``pixel_m``
pixels (10 m by default): a pixel belongs to a unit when its centre lies within ``buffer_m``
of the unit. A selection of units covers the *union* of their pixels, so land shared by two
units is paid for once, and a crime is caught when it lies in a covered pixel, whichever unit
it was snapped to. Short and long units, points and lines all pay the same per square metre.

The area cut (:func:`area_cut`) takes units by descending score; units with equal scores form
one block; whole blocks are taken while the union fits the budget, and the block that crosses
it counts by the fraction of its new land that fits (the same rule as the length cut of
:mod:`hotspots.evaluate`, with new land in place of length).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse

from hotspots.evaluate.cover import cover_order
from hotspots.evaluate.raster import (
    DEFAULT_BUFFER_M,
    DEFAULT_PIXEL_M,
    Raster,
    Samples,
    pixel_pairs,
    study_raster_and_samples,
)
from hotspots.space.cache import source_digest

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_PIECE_M",
    "DEFAULT_PIXEL_M",
    "NEIGHBOURHOOD_M",
    "UNIT_KINDS",
    "Raster",
    "UnitSet",
    "area_cut",
    "build_units",
    "cover_order",
    "first_cover",
    "study_raster_and_samples",
]

#: Street pieces are at most this long (a link of length l is cut into ceil(l / 50) pieces).
DEFAULT_PIECE_M = 50.0
#: Size of the square "neighbourhoods" the empirical-Bayes prior pools over, metres.
NEIGHBOURHOOD_M = 500.0
UNIT_KINDS: tuple[str, ...] = ("links", "pieces", "points")


# --------------------------------------------------------------------------------------------
# unit sets


@dataclass
class UnitSet:
    """One kind of unit: its pixels, buffer area, parent link, neighbourhood and crimes."""

    kind: str
    pixels: sparse.csc_matrix  # kept pixels x units (1 = the pixel is in the unit's buffer)
    area_m2: np.ndarray
    link: np.ndarray  # the segment row each unit lies on
    hood: np.ndarray  # neighbourhood id (NEIGHBOURHOOD_M squares of the unit's centre)
    xy: np.ndarray  # a representative point per unit (n x 2)
    of_crime: np.ndarray  # unit of each evaluated crime
    offset_m: np.ndarray  # start of a piece along its link, metres (0 for links and points)
    length_m: np.ndarray  # length along the link (0 for points)

    def __len__(self) -> int:
        return len(self.area_m2)


def _incidence(raster: Raster, owner: np.ndarray, flat: np.ndarray, n: int) -> sparse.csc_matrix:
    pix = raster.lookup(flat)
    keep = pix >= 0
    mat = sparse.csc_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (pix[keep], owner[keep])),
        shape=(len(raster.flat), n),
    )
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def _hoods(xy: np.ndarray) -> np.ndarray:
    cells = np.floor(xy / NEIGHBOURHOOD_M).astype(np.int64)
    return np.unique(cells, axis=0, return_inverse=True)[1].ravel()


def build_units(
    kind: str,
    raster: Raster,
    geoms: np.ndarray,
    crime_xy: np.ndarray,
    crime_link: np.ndarray,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    piece_m: float = DEFAULT_PIECE_M,
    samples: Samples | None = None,
) -> UnitSet:
    """Return the units of one kind with their pixels and the unit of every crime.

    Parameters
    ----------
    kind
        ``"links"`` (whole segments), ``"pieces"`` (each segment cut into ``ceil(l / piece_m)``
        equal pieces) or ``"points"`` (the distinct crime locations: police.uk's anonymised
        map points and VPD's block points, a fixed public lattice).
    raster
        From :func:`study_raster`.
    geoms
        Segment lines (a point unit lies on its nearest one).
    crime_xy
        Evaluated crimes (n x 2).
    crime_link
        Segment row of each crime.
    buffer_m
        Buffer distance, metres.
    piece_m
        Longest piece, metres.
    samples
        Points along the segments with their candidate pixels (computed when not given).

    Returns
    -------
    UnitSet
        The units.
    """
    if kind not in UNIT_KINDS:
        msg = f"`kind` must be one of {list(UNIT_KINDS)}; found {kind!r}"
        raise ValueError(msg)
    length = shapely.length(geoms)
    if kind == "points":
        uniq, of_crime = np.unique(crime_xy, axis=0, return_inverse=True)
        of_crime = of_crime.ravel()
        # each point's own nearest link (not its crimes' links: those can tie, and a unit
        # must not depend on which months' crimes are present)
        link = shapely.STRtree(geoms).query_nearest(shapely.points(uniq), all_matches=False)[1]
        pixels = _incidence(raster, *pixel_pairs(raster, uniq, buffer_m), len(uniq))
        zeros = np.zeros(len(uniq))
        return UnitSet(
            kind, pixels, _area(pixels, raster), link, _hoods(uniq), uniq, of_crime, zeros, zeros
        )
    smp = samples or Samples(raster, geoms, buffer_m)
    if kind == "links":
        pixels = _incidence(raster, *smp.unit_pairs("links", lambda: smp.line), len(geoms))
        mid = shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))
        return UnitSet(
            kind,
            pixels,
            _area(pixels, raster),
            np.arange(len(geoms)),
            _hoods(mid),
            mid,
            crime_link,
            np.zeros(len(geoms)),
            length,
        )
    n_of = np.maximum(np.ceil(length / piece_m - 1e-9), 1).astype(np.int64)
    first = np.r_[0, np.cumsum(n_of)[:-1]]
    step = length / n_of

    def piece_of(line: np.ndarray, xy: np.ndarray) -> np.ndarray:
        pos = shapely.line_locate_point(geoms[line], shapely.points(xy))
        return np.asarray(
            first[line] + np.minimum((pos / step[line]).astype(np.int64), n_of[line] - 1)
        )

    n = int(n_of.sum())
    # a sample point's piece: the pieces (and the code cutting them) are part of the key
    key = [repr(float(piece_m)), source_digest(sys.modules[__name__])]
    owner, flat = smp.unit_pairs("pieces", lambda: piece_of(smp.line, smp.xy), key)
    pixels = _incidence(raster, owner, flat, n)
    link = np.repeat(np.arange(len(geoms)), n_of)
    offset = (np.arange(n) - first[link]) * step[link]
    mid = shapely.get_coordinates(
        shapely.line_interpolate_point(geoms[link], offset + step[link] / 2)
    )
    return UnitSet(
        kind,
        pixels,
        _area(pixels, raster),
        link,
        _hoods(mid),
        mid,
        piece_of(crime_link, crime_xy),
        offset,
        step[link],
    )


def _area(pixels: sparse.csc_matrix, raster: Raster) -> np.ndarray:
    return np.asarray(np.maximum(np.diff(pixels.indptr), 1) * raster.pixel_m**2, dtype=float)


# --------------------------------------------------------------------------------------------
# the area cut


def first_cover(pix: np.ndarray, rank: np.ndarray, n_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return each pixel covered and the rank of the first unit covering it.

    Parameters
    ----------
    pix
        Pixels of the units, unit after unit (a unit lists a pixel at most once).
    rank
        The unit (its position in the order) of each entry of ``pix``.
    n_pixels
        Number of kept pixels.

    Returns
    -------
    tuple of numpy.ndarray
        The pixels covered (in the order they are first covered) and the first rank of each.
        Linear in ``len(pix)``, where sorting the pixels would not be.

    Examples
    --------
    >>> first_cover(np.array([4, 1, 1, 2, 4]), np.array([0, 0, 1, 1, 2]), 5)
    (array([4, 1, 2]), array([0, 0, 1]))
    """
    first = np.full(n_pixels, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, pix, rank)
    is_first = first[pix] == rank
    return pix[is_first], rank[is_first]


def area_cut(
    scores: np.ndarray,
    pixels: sparse.csc_matrix,
    pixel_area: float,
    weights: np.ndarray,
    budgets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Take units by descending score until their union covers each budget of land.

    Parameters
    ----------
    scores
        Score per unit (higher is hotter).
    pixels
        Kept pixels x units incidence (:class:`UnitSet` ``pixels``).
    pixel_area
        Area of one pixel, m².
    weights
        What to add up over the covered pixels (kept pixels x k), e.g. next month's crimes.
    budgets
        Land to cover, m² (ascending or not).

    Returns
    -------
    tuple of numpy.ndarray
        The covered area per budget (equal to the budget unless all units together cover
        less) and the weights covered (budgets x k), the block crossing a budget counted by
        the fraction of its new land that fits.

    Notes
    -----
    Only the top of the order is sorted: the units above a score threshold (found by a
    partition, lowered until their union covers the largest budget), whole blocks of equal
    scores at a time. When the block crossing a budget is the last one (every unit left has
    the lowest score, e.g. the many units with no crime), its new land is the union of all
    units less the land already covered, and its weights likewise (exact for counts).

    Examples
    --------
    Two units sharing one pixel of three: the second adds one new pixel, not two.

    >>> inc = sparse.csc_matrix(np.array([[1, 0], [1, 1], [0, 1]], dtype=float))
    >>> area, got = area_cut(np.array([2.0, 1.0]), inc, 1.0, np.array([[5.0], [1.0], [2.0]]),
    ...                      np.array([2.0, 3.0]))
    >>> area.tolist(), got.ravel().tolist()
    ([2.0, 3.0], [6.0, 8.0])
    """
    weights = np.asarray(weights, dtype=float).reshape(pixels.shape[0], -1)
    budgets = np.asarray(budgets, dtype=float)
    top = float(np.max(budgets))
    s, new_area, new_w, tail = _top_blocks(np.asarray(scores), pixels, pixel_area, weights, top)
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if len(s) else np.empty(0, np.int64)
    block_area = np.add.reduceat(new_area, start) if len(s) else np.empty(0)
    block_w = np.add.reduceat(new_w, start, axis=0) if len(s) else new_w
    cum_a = np.r_[0.0, np.cumsum(block_area)]
    cum_w = np.vstack([np.zeros(weights.shape[1]), np.cumsum(block_w, axis=0)])
    if tail and float(new_area.sum()) < top:
        any_unit = np.zeros(pixels.shape[0], dtype=bool)
        any_unit[pixels.indices] = True
        new_px = int(np.count_nonzero(any_unit)) - round(float(new_area.sum()) / pixel_area)
        last_area = new_px * pixel_area
        last_w = weights[any_unit].sum(axis=0) - cum_w[-1]
        block_area = np.r_[block_area, last_area]
        block_w = np.vstack([block_w, last_w])
        cum_a = np.r_[cum_a, cum_a[-1] + last_area]
        cum_w = np.vstack([cum_w, cum_w[-1] + last_w])
    b = np.minimum(np.searchsorted(cum_a[1:], budgets, side="left"), len(block_area) - 1)
    frac = np.clip((budgets - cum_a[b]) / np.where(block_area[b] > 0, block_area[b], 1.0), 0, 1)
    area = cum_a[b] + frac * block_area[b]
    got = cum_w[b] + frac[:, None] * block_w[b]
    return area, got


def _top_blocks(
    scores: np.ndarray,
    pixels: sparse.csc_matrix,
    pixel_area: float,
    weights: np.ndarray,
    top: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Return the top of the order (whole blocks) until its union covers ``top``.

    The scores in order, each unit's new land (m²) and new weights, and whether the last block
    (every unit left, with the lowest score) was left to :func:`area_cut`'s complement.
    """
    n = len(scores)
    ptr, ind = pixels.indptr, pixels.indices
    size = np.diff(ptr)
    # the first chunk: one and a half times the largest budget in units' own land
    want = int(1.5 * top / (pixel_area * max(float(size.mean()), 1.0))) + 1 if n else 0
    finite = bool(np.isfinite(scores).all())
    low = float(np.min(scores)) if n and finite else float("nan")
    first = np.full(pixels.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (scores, new px, new w)
    above: float | None = None  # the scores still to take are below this
    done = covered_px = 0
    tail = False
    while done < n:
        if not finite:
            chunk = np.argsort(-scores, kind="stable")
        else:
            pool = scores if above is None else scores[scores < above]
            cut = _threshold(pool, max(want - done, 1))
            keep = scores >= cut if above is None else (scores >= cut) & (scores < above)
            if cut == low and np.count_nonzero(scores == low) > n // 4:
                keep &= scores > low  # the big last block: by complement
                tail = True
            chunk = np.flatnonzero(keep)
            chunk = chunk[np.argsort(-scores[chunk], kind="stable")]
            above = cut
        if len(chunk):
            new_px, new_w = _first_cover_chunk(chunk, ptr, ind, size, first, done, weights)
            parts.append((scores[chunk], new_px, new_w))
            covered_px += int(new_px.sum())
            done += len(chunk)
        if tail or covered_px * pixel_area >= top:
            break
        want = max(2 * want, done + 1)
    if not parts:
        return np.empty(0), np.empty(0), np.empty((0, weights.shape[1])), tail
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]) * pixel_area,
        np.vstack([p[2] for p in parts]),
        tail,
    )


def _threshold(pool: np.ndarray, m: int) -> float:
    """Return a score with about ``m`` or more of ``pool`` at or above it (all when ``m`` is).

    Exact (the ``m``-th largest) on small pools; on large ones the same rank in an
    evenly spaced sample, which is much faster than partitioning the pool (its many tied
    scores slow the selection down) and close enough: the cut only needs whole blocks.
    """
    if m >= len(pool):
        return float(np.min(pool))
    if len(pool) <= 4096 or 4 * m > len(pool):
        return float(np.partition(pool, len(pool) - m)[len(pool) - m])
    sample = pool[:: len(pool) // 1024]
    q = min(len(sample), m * len(sample) // len(pool) + 1)
    return float(np.partition(sample, len(sample) - q)[len(sample) - q])


def _first_cover_chunk(
    chunk: np.ndarray,
    ptr: np.ndarray,
    ind: np.ndarray,
    size: np.ndarray,
    first: np.ndarray,
    rank0: int,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the new pixels and weights of each unit of ``chunk`` (ranks from ``rank0``).

    ``first`` holds the rank of the first unit covering each pixel so far (updated).
    """
    lens = size[chunk]
    ends = np.cumsum(lens)
    total = int(ends[-1]) if len(ends) else 0
    pos = np.arange(total) + np.repeat(ptr[chunk] - (ends - lens), lens)
    pix = ind[pos]
    rank = np.repeat(np.arange(rank0, rank0 + len(chunk)), lens)
    # np.minimum.at(first, pix, rank), five times as fast: a pixel no earlier unit covers
    # takes one of its ranks here by assignment (NumPy writes a repeated index with the last of
    # its values in practice, though it does not promise which: hence the entries reversed, so
    # the last is the first entry, of the least rank, as ``rank`` grows along ``pix``); any
    # entry still below its pixel's rank then lowers it, so the result is the least either way
    fresh = np.flatnonzero(first[pix] > rank)  # pixels of earlier chunks are never first here
    pf, rf = pix[fresh], rank[fresh]
    first[pf[::-1]] = rf[::-1]
    now = first[pf]
    if (rf < now).any():
        np.minimum.at(first, pf, rf)
        now = first[pf]
    is_first = now == rf
    uniq, first_rank = pf[is_first], rf[is_first] - rank0
    new_px = np.bincount(first_rank, minlength=len(chunk))
    new_w = np.column_stack(
        [
            np.bincount(first_rank, weights=weights[:, j][uniq], minlength=len(chunk))
            for j in range(weights.shape[1])
        ]
    )
    return new_px, new_w
