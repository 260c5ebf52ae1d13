"""The greedy cover order of ``point_cover``: units by the crime they add per m² of new land.

:func:`cover_order` takes, at each step, the unit with the most uncovered forecast crime per
uncovered m² (a lazy greedy over a heap), until a budget of land is covered. Each step used to
gather the unit's pixels with NumPy; most units hold the forecast mass on a few pixels only
(the map points' own pixels), so :class:`CoverIndex` lists, once per unit set, where those
pixels lie in each unit, and the loop follows plain Python lists: the uncovered pixels per unit
are counted as land gets covered, and a unit's uncovered mass is summed from its few mass
pixels. The sums are NumPy's own (:func:`numpy_sum`: the same pairwise order, so the same
bits), so the order is the one the NumPy loop gave.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["CoverIndex", "cover_index", "cover_order", "numpy_sum", "uncovered_sum"]

#: NumPy's pairwise summation: blocks up to this many values are summed by 8 accumulators.
_PW_BLOCK = 128


@dataclass(frozen=True)
class CoverIndex:
    """Where the pixels that may carry mass (``support``) lie in each unit.

    ``unit_ptr[i]:unit_ptr[i + 1]`` are unit ``i``'s entries in ``pix``, ``pos`` and ``sup``:
    each support pixel of the unit, its position in the unit's (sorted) pixel list and its
    index in ``support``.
    """

    support: np.ndarray
    unit_ptr: list[int]
    pix: list[int]
    pos: list[int]
    sup: list[int]


def cover_index(pixels: sparse.csc_matrix, support: np.ndarray) -> CoverIndex:
    """Return the :class:`CoverIndex` of a unit set for the pixels that may carry mass.

    Parameters
    ----------
    pixels
        Kept pixels x units incidence (sorted indices, as built by
        :func:`hotspots.evaluate.units.build_units`).
    support
        Pixels that may carry mass (e.g. the pixels of the map points).

    Returns
    -------
    CoverIndex
        The index; build it once per unit set and pass it to every :func:`cover_order`.
    """
    support = np.unique(np.asarray(support, dtype=np.int64))
    pixels = _sorted(pixels)
    ind, ptr = pixels.indices, pixels.indptr
    is_sup = np.zeros(pixels.shape[0], dtype=bool)
    is_sup[support] = True
    entry = np.flatnonzero(is_sup[ind])
    unit = np.repeat(np.arange(pixels.shape[1]), np.diff(ptr))[entry]
    return CoverIndex(
        support,
        np.searchsorted(unit, np.arange(pixels.shape[1] + 1)).tolist(),
        ind[entry].tolist(),
        (entry - ptr[unit]).tolist(),
        np.searchsorted(support, ind[entry]).tolist(),
    )


def numpy_sum(values: list[tuple[int, float]], n: int, start: int = 0) -> float:
    """Return what NumPy's ``sum`` gives for ``n`` float64 values, zero but for ``values``.

    NumPy adds a float64 array pairwise: under 8 values one after the other, up to 128 in 8
    interleaved accumulators (then the remainder), beyond that split in two halves. Adding
    zero changes nothing, so only the positions of the non-zero values matter.

    Parameters
    ----------
    values
        (position, value) pairs in increasing position, positions in ``[start, start + n)``.
    n
        Length of the array.
    start
        Position of its first value.

    Returns
    -------
    float
        ``float(np.sum(a))`` to the bit.

    Examples
    --------
    >>> a = np.zeros(20)
    >>> a[[0, 3, 8, 16, 17]] = [0.1, 0.2, 0.3, 1e-17, 0.7]
    >>> bool(numpy_sum([(0, 0.1), (3, 0.2), (8, 0.3), (16, 1e-17), (17, 0.7)], 20) == a.sum())
    True
    """
    if n < 8:
        total = 0.0
        for _, v in values:
            total += v
        return total
    if n <= _PW_BLOCK:
        acc = [0.0] * 8
        rest = start + n - n % 8
        tail = []
        for p, v in values:
            if p < rest:
                acc[(p - start) % 8] += v
            else:
                tail.append(v)
        total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        for v in tail:  # the remainder, one by one after the accumulators
            total += v
        return total
    half = n // 2
    half -= half % 8
    mid = start + half
    return numpy_sum([x for x in values if x[0] < mid], half, start) + numpy_sum(
        [x for x in values if x[0] >= mid], n - half, mid
    )


def uncovered_sum(vals: list[tuple[int, float]], flags: np.ndarray, n: int) -> float:
    """Return NumPy's sum of a unit's mass on its uncovered pixels, to the bit.

    Parameters
    ----------
    vals
        (position in the unit's pixel list, mass) of its uncovered pixels with mass, in order.
    flags
        1 where the unit's pixel is covered (at least up to the last position of ``vals``).
    n
        The unit's uncovered pixels.

    Returns
    -------
    float
        ``float(mass[uncovered].sum())``.

    Examples
    --------
    >>> uncovered_sum([(0, 0.5), (3, 0.25)], np.array([0, 1, 0, 0], np.uint8), 3)
    0.75
    """
    if len(vals) == 1:
        return vals[0][1]
    if len(vals) == 2:  # a + b whatever the grouping (adding zero changes nothing)
        return vals[0][1] + vals[1][1]
    covered = flags.tobytes()
    return numpy_sum([(p - covered.count(1, 0, p), v) for p, v in vals], n)


def cover_order(
    mass: np.ndarray,
    pixels: sparse.csc_matrix,
    pixel_area: float,
    max_area: float,
    *,
    index: CoverIndex | None = None,
) -> np.ndarray:
    """Order units greedily by the forecast crime they add per square metre of new land.

    The area cut pays for the union of the units' land and counts every crime in it, so a
    unit next to one already taken costs only its new land and adds only the crime on that
    land. The greedy (lazy: a unit's ratio is recomputed when it reaches the top of the heap)
    takes, at each step, the unit with the most uncovered forecast crime per uncovered m²,
    until ``max_area`` is covered.

    Parameters
    ----------
    mass
        Forecast crimes per kept pixel (e.g. each map point's rate on the point's pixel).
    pixels
        Kept pixels x units incidence (sorted indices).
    pixel_area
        Area of one pixel, m².
    max_area
        Land to cover, m².
    index
        From :func:`cover_index` (built here from the pixels with mass when not given, or
        when ``mass`` has mass outside its support).

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
    mass = np.asarray(mass, dtype=float)
    pixels = _sorted(pixels)
    if index is None or np.count_nonzero(mass) != np.count_nonzero(mass[index.support]):
        index = cover_index(pixels, np.flatnonzero(mass))
    ptr = pixels.indptr
    gains = np.asarray(pixels.T @ mass).ravel()
    size = np.diff(ptr)
    costs = np.maximum(size, 1).astype(float)
    # candidates by their first ratio, pushed on the heap only when they could beat its top
    first = gains / costs
    cand_np = np.flatnonzero(gains > 0)
    cand_np = cand_np[np.argsort(-first[cand_np], kind="stable")]
    cand: list[int] = cand_np.tolist()
    bound: list[float] = first[cand_np].tolist()
    taken = _greedy(mass, pixels, pixel_area, max_area, index, cand, bound)
    score = np.zeros(pixels.shape[1])
    score[taken] = np.arange(len(taken), 0, -1, dtype=float)
    return score


def _greedy(
    mass: np.ndarray,
    pixels: sparse.csc_matrix,
    pixel_area: float,
    max_area: float,
    index: CoverIndex,
    cand: list[int],
    bound: list[float],
) -> list[int]:
    """Run the lazy greedy; return the units taken, in order."""
    ind = pixels.indices
    ptr: list[int] = pixels.indptr.tolist()
    covered = bytearray(pixels.shape[0])
    covered_np = np.frombuffer(covered, dtype=np.uint8)  # the same memory, for NumPy
    unit_ptr, sup_pix, sup_pos, sup_of = index.unit_ptr, index.pix, index.pos, index.sup
    sup_mass: list[float] = mass[index.support].tolist()
    heap: list[tuple[float, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    nxt, n_cand = 0, len(cand)
    taken: list[int] = []
    used = 0.0
    while used < max_area:
        while nxt < n_cand and (not heap or bound[nxt] >= -heap[0][0]):
            for _ in range(64):  # a few at a time
                if nxt == n_cand:
                    break
                push(heap, (-bound[nxt], cand[nxt]))
                nxt += 1
        if not heap:
            break
        _, i = pop(heap)
        # the unit's mass on its uncovered pixels (none: nothing left to add, as before)
        vals = [
            (sup_pos[j], m)
            for j in range(unit_ptr[i], unit_ptr[i + 1])
            if (m := sup_mass[sup_of[j]]) != 0.0 and not covered[sup_pix[j]]
        ]
        if not vals:
            continue
        own = ind[ptr[i] : ptr[i + 1]]
        flags = covered_np[own]
        n = len(own) - int(np.count_nonzero(flags))
        ratio = uncovered_sum(vals, flags, n) / n
        if ratio <= 0:
            continue
        if (not heap or ratio >= -heap[0][0] - 1e-15) and (
            nxt == n_cand or ratio >= bound[nxt] - 1e-15
        ):
            covered_np[own] = 1
            used += n * pixel_area
            taken.append(i)
        else:
            push(heap, (-ratio, i))
    return taken


def _sorted(pixels: sparse.csc_matrix) -> sparse.csc_matrix:
    if not sparse.issparse(pixels) or pixels.format != "csc":
        pixels = sparse.csc_matrix(pixels)
    return pixels if pixels.has_sorted_indices else pixels.sorted_indices()
