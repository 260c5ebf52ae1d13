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

import heapq
import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse

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

DEFAULT_PIXEL_M = 10.0
DEFAULT_BUFFER_M = 30.0
#: Street pieces are at most this long (a link of length l is cut into ceil(l / 50) pieces).
DEFAULT_PIECE_M = 50.0
#: Size of the square "neighbourhoods" the empirical-Bayes prior pools over, metres.
NEIGHBOURHOOD_M = 500.0
UNIT_KINDS: tuple[str, ...] = ("links", "pieces", "points")


@dataclass
class Raster:
    """The kept pixels of the study area: their flat ids (row x nx + col), sorted."""

    x0: float
    y0: float
    pixel_m: float
    nx: int
    flat: np.ndarray

    @property
    def area_m2(self) -> float:
        """Area of the kept pixels, m² (the study area ``A`` of the area backtest)."""
        return float(len(self.flat) * self.pixel_m**2)

    def flat_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the flat pixel id of each point (kept or not)."""
        col = np.floor((np.asarray(x) - self.x0) / self.pixel_m).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.pixel_m).astype(np.int64)
        return row * self.nx + col

    def index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the kept-pixel index of each point, -1 where the pixel is not kept."""
        return self.lookup(self.flat_of(x, y))

    def lookup(self, flat: np.ndarray) -> np.ndarray:
        """Return the kept-pixel index of flat ids, -1 where not kept."""
        pos = np.minimum(np.searchsorted(self.flat, flat), max(len(self.flat) - 1, 0))
        return np.where(self.flat[pos] == flat, pos, -1) if len(self.flat) else -np.ones_like(flat)


def _disc(pixel_m: float, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the (row, col) offsets of the pixels around a point's pixel to test."""
    r = math.ceil(radius_m / pixel_m) + 1
    dr, dc = (
        a.ravel() for a in np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    )
    return dr, dc


def _pairs(
    raster: Raster, xy: np.ndarray, radius_m: float, chunk: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """Return (point, flat pixel) pairs: the pixel centres within ``radius_m`` of each point."""
    dr, dc = _disc(raster.pixel_m, radius_m)
    px = raster.pixel_m
    points, flats = [], []
    for s in range(0, len(xy), chunk):
        x, y = xy[s : s + chunk, 0], xy[s : s + chunk, 1]
        col = np.floor((x - raster.x0) / px).astype(np.int64)[:, None] + dc
        row = np.floor((y - raster.y0) / px).astype(np.int64)[:, None] + dr
        d2 = (raster.x0 + (col + 0.5) * px - x[:, None]) ** 2 + (
            raster.y0 + (row + 0.5) * px - y[:, None]
        ) ** 2
        keep = d2 <= radius_m**2
        points.append(np.nonzero(keep)[0] + s)
        flats.append((row * raster.nx + col)[keep])
    return np.concatenate(points), np.concatenate(flats)


def _unique_pairs(owner: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = int(flat.max()) + 1 if len(flat) else 1
    # the pairs come owner by owner: a stable (merge) sort of these nearly sorted keys is
    # several times faster than np.unique's hashing, and gives the same sorted unique keys
    key = np.sort(owner.astype(np.int64) * span + flat, kind="stable")
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    return key // span, key % span


def _unique_ids(ids: np.ndarray) -> np.ndarray:
    """Return the sorted unique non-negative ids, by a mask when their range is small.

    Examples
    --------
    >>> _unique_ids(np.array([5, 1, 5, 3])).tolist()
    [1, 3, 5]
    """
    if not len(ids) or ids.min() < 0 or ids.max() > 8 * len(ids) + (1 << 24):
        return np.unique(ids)
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    seen[ids] = True
    return np.flatnonzero(seen).astype(ids.dtype)


@dataclass
class _Samples:
    """Points every ``pixel_m / 2`` along the segments, their segment and candidate pixels."""

    xy: np.ndarray
    line: np.ndarray
    pair_sample: np.ndarray
    pair_flat: np.ndarray


def _samples(raster: Raster, geoms: np.ndarray, buffer_m: float) -> _Samples:
    step = raster.pixel_m / 2
    xy, line = shapely.get_coordinates(shapely.segmentize(geoms, step), return_index=True)
    # a pixel centre within buffer_m of the line is within this of a sample point
    sample, flat = _pairs(raster, xy, math.sqrt(buffer_m**2 + (step / 2) ** 2))
    return _Samples(xy, line, sample, flat)


def study_raster_and_samples(
    segments_geoms: np.ndarray,
    region: shapely.Geometry,
    *,
    pixel_m: float = DEFAULT_PIXEL_M,
    buffer_m: float = DEFAULT_BUFFER_M,
    extra_xy: np.ndarray | None = None,
) -> tuple[Raster, _Samples]:
    """Return the study area's pixels: centres near a segment and inside ``region``.

    A pixel is kept when its centre lies within ``buffer_m`` of a segment and inside ``region``,
    or when it holds a point of ``extra_xy`` (the crimes).

    Parameters
    ----------
    segments_geoms
        Street segment lines (projected, metres).
    region
        The study area polygon (e.g. from :func:`hotspots.evaluate.segments_to_study_area`).
    pixel_m
        Pixel side, metres.
    buffer_m
        Buffer distance, metres.
    extra_xy
        Points (n x 2) whose pixels are kept even if their centre falls outside.

    Returns
    -------
    tuple
        The kept pixels (:class:`Raster`) and the sample points along the segments with their
        candidate pixels (for :func:`build_units`).

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> line = np.array([LineString([(0, 0), (100, 0)])])
    >>> r, _ = study_raster_and_samples(line, shapely.box(-50, -50, 150, 50), pixel_m=1.0,
    ...                                 buffer_m=10.0)
    >>> round(r.area_m2 / (100 * 20 + math.pi * 100), 2)
    1.0
    """
    x0, y0, x1, _ = shapely.total_bounds(segments_geoms)
    pad = buffer_m + 2 * pixel_m
    base = Raster(
        math.floor((x0 - pad) / pixel_m) * pixel_m,
        math.floor((y0 - pad) / pixel_m) * pixel_m,
        pixel_m,
        math.ceil((x1 - x0 + 2 * pad) / pixel_m) + 2,
        np.empty(0, np.int64),
    )
    samples = _samples(base, segments_geoms, buffer_m)
    flat = _unique_ids(samples.pair_flat)
    cx = base.x0 + (flat % base.nx + 0.5) * pixel_m
    cy = base.y0 + (flat // base.nx + 0.5) * pixel_m
    shapely.prepare(region)
    flat = flat[shapely.contains_xy(region, cx, cy)]
    if extra_xy is not None and len(extra_xy):
        flat = _unique_ids(np.concatenate([flat, base.flat_of(extra_xy[:, 0], extra_xy[:, 1])]))
    base.flat = flat
    return base, samples


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
    samples: _Samples | None = None,
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
        pixels = _incidence(raster, *_pairs(raster, uniq, buffer_m), len(uniq))
        zeros = np.zeros(len(uniq))
        return UnitSet(
            kind, pixels, _area(pixels, raster), link, _hoods(uniq), uniq, of_crime, zeros, zeros
        )
    smp = samples or _samples(raster, geoms, buffer_m)
    if kind == "links":
        pixels = _incidence(
            raster, *_unique_pairs(smp.line[smp.pair_sample], smp.pair_flat), len(geoms)
        )
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
    sample_piece = piece_of(smp.line, smp.xy)
    pixels = _incidence(raster, *_unique_pairs(sample_piece[smp.pair_sample], smp.pair_flat), n)
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
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    top = float(np.max(budgets))
    unit_area = np.diff(pixels.indptr)[order] * pixel_area
    cum = np.cumsum(unit_area)
    k = int(np.searchsorted(cum, 3 * top)) + 1
    while True:
        k = min(k, len(order))
        # extend to the end of the tie block at position k - 1
        if k < len(order) and k > 0:
            k = int(np.searchsorted(-s, -s[k - 1], side="right"))
        sub = pixels[:, order[:k]]
        pix = sub.indices
        rank = np.repeat(np.arange(k), np.diff(sub.indptr))
        uniq, first_rank = first_cover(pix, rank, pixels.shape[0])
        new_area = np.bincount(first_rank, minlength=k) * pixel_area
        if new_area.sum() >= top or k == len(order):
            break
        k *= 2
    new_w = np.column_stack(
        [
            np.bincount(first_rank, weights=weights[uniq, j], minlength=k)
            for j in range(weights.shape[1])
        ]
    )
    start = np.flatnonzero(np.r_[True, s[1:k] != s[: k - 1]])
    block_area = np.add.reduceat(new_area, start)
    block_w = np.add.reduceat(new_w, start, axis=0)
    cum_a = np.r_[0.0, np.cumsum(block_area)]
    cum_w = np.vstack([np.zeros(weights.shape[1]), np.cumsum(block_w, axis=0)])
    b = np.minimum(np.searchsorted(cum_a[1:], budgets, side="left"), len(start) - 1)
    frac = np.clip((budgets - cum_a[b]) / np.where(block_area[b] > 0, block_area[b], 1.0), 0, 1)
    area = cum_a[b] + frac * block_area[b]
    got = cum_w[b] + frac[:, None] * block_w[b]
    return area, got


def cover_order(
    mass: np.ndarray, pixels: sparse.csc_matrix, pixel_area: float, max_area: float
) -> np.ndarray:
    """Order units greedily by the forecast crime they add per square metre of new land.

    The area cut pays for the union of the units' land and counts every crime in it, so a
    unit next to one already taken costs only its new land and adds only the crime on that
    land. The greedy (lazy, as the gain of a unit only falls as land is covered) takes, at
    each step, the unit with the most uncovered forecast crime per uncovered m², until
    ``max_area`` is covered.

    Parameters
    ----------
    mass
        Forecast crimes per kept pixel (e.g. each map point's rate on the point's pixel).
    pixels
        Kept pixels x units incidence.
    pixel_area
        Area of one pixel, m².
    max_area
        Land to cover, m².

    Returns
    -------
    numpy.ndarray
        A score per unit: the units taken, in order, score ``len(taken)`` down to 1; the
        others 0.

    Examples
    --------
    Unit 1 holds the most crime but shares its hot pixel with unit 0, taken first; unit 2
    then adds more new crime per new pixel than unit 1.

    >>> inc = sparse.csc_matrix(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=float))
    >>> cover_order(np.array([5.0, 1.0, 2.0]), inc, 1.0, 3.0).tolist()
    [3.0, 1.0, 2.0]
    """
    ind, ptr = pixels.indices, pixels.indptr
    covered = np.zeros(pixels.shape[0], dtype=bool)
    gains = np.asarray(pixels.T @ mass).ravel()
    costs = np.maximum(np.diff(ptr), 1).astype(float)
    # candidates by their first ratio (an upper bound of any later one), pushed on the heap
    # only when they could beat its top: the greedy stays exact and the heap stays small
    first = gains / costs
    cand = np.flatnonzero(gains > 0)
    cand = cand[np.argsort(-first[cand], kind="stable")].tolist()
    bound = first[cand].tolist()
    heap: list[tuple[float, int]] = []
    nxt = 0
    taken: list[int] = []
    used = 0.0
    while used < max_area:
        while nxt < len(cand) and (not heap or bound[nxt] >= -heap[0][0]):
            for _ in range(64):  # a few at a time
                if nxt == len(cand):
                    break
                heapq.heappush(heap, (-bound[nxt], cand[nxt]))
                nxt += 1
        if not heap:
            break
        _, i = heapq.heappop(heap)
        new = ind[ptr[i] : ptr[i + 1]]
        new = new[~covered[new]]
        if not len(new):
            continue
        ratio = float(mass[new].sum()) / len(new)
        if ratio <= 0:
            continue
        if (not heap or ratio >= -heap[0][0] - 1e-15) and (
            nxt == len(cand) or ratio >= bound[nxt] - 1e-15
        ):
            covered[new] = True
            used += len(new) * pixel_area
            taken.append(i)
        else:
            heapq.heappush(heap, (-ratio, i))
    score = np.zeros(pixels.shape[1])
    score[taken] = np.arange(len(taken), 0, -1, dtype=float)
    return score
