"""The fast area cut, cover order and forked workers give what the plain versions gave (issue 19).

The references below are the straightforward implementations the fast ones replaced (sort
every unit, take a growing prefix; the NumPy lazy greedy): every result must be equal to the
bit, so ``hotspots evaluate`` writes the same files.
"""

from __future__ import annotations

import heapq
import math
import os
import time

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from hotspots.evaluate import backtest as bt
from hotspots.evaluate import cover as cv
from hotspots.evaluate import raster as rs
from hotspots.evaluate import units as un
from hotspots.evaluate import workers as wk
from tests.test_evaluate_area import _crimes, _grid_world


def _area_cut_reference(
    scores: np.ndarray,
    pixels: sparse.csc_matrix,
    pixel_area: float,
    weights: np.ndarray,
    budgets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    weights = np.asarray(weights, dtype=float).reshape(pixels.shape[0], -1)
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    top = float(np.max(budgets))
    unit_area = np.diff(pixels.indptr)[order] * pixel_area
    k = int(np.searchsorted(np.cumsum(unit_area), 3 * top)) + 1
    while True:
        k = min(k, len(order))
        if 0 < k < len(order):
            k = int(np.searchsorted(-s, -s[k - 1], side="right"))
        sub = pixels[:, order[:k]]
        rank = np.repeat(np.arange(k), np.diff(sub.indptr))
        uniq, first_rank = un.first_cover(sub.indices, rank, pixels.shape[0])
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
    return cum_a[b] + frac * block_area[b], cum_w[b] + frac[:, None] * block_w[b]


def _cover_order_reference(
    mass: np.ndarray, pixels: sparse.csc_matrix, pixel_area: float, max_area: float
) -> np.ndarray:
    ind, ptr = pixels.indices, pixels.indptr
    covered = np.zeros(pixels.shape[0], dtype=bool)
    gains = np.asarray(pixels.T @ mass).ravel()
    first = gains / np.maximum(np.diff(ptr), 1).astype(float)
    cand = np.flatnonzero(gains > 0)
    cand = cand[np.argsort(-first[cand], kind="stable")].tolist()
    bound = first[cand].tolist()
    heap: list[tuple[float, int]] = []
    nxt, used, taken = 0, 0.0, []
    while used < max_area:
        while nxt < len(cand) and (not heap or bound[nxt] >= -heap[0][0]):
            for _ in range(64):
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


def _discs(rng: np.random.Generator, n_units: int, side: int, big: int = 4) -> sparse.csc_matrix:
    """Units as overlapping squares of pixels on a side x side raster (like 30 m discs)."""
    rows, cols = [], []
    for u in range(n_units):
        r, c = rng.integers(0, side - big + 1), rng.integers(0, side - big + 1)
        h = rng.integers(1, big)
        pix = [(r + i) * side + c + j for i in range(h) for j in range(h)]
        rows += pix
        cols += [u] * len(pix)
    inc = sparse.csc_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(side * side, n_units), dtype=float
    )
    inc.sum_duplicates()
    return inc


def _pairs_reference(
    raster: un.Raster, xy: np.ndarray, radius_m: float
) -> tuple[np.ndarray, np.ndarray]:
    r = math.ceil(radius_m / raster.pixel_m) + 1
    dr, dc = (
        a.ravel() for a in np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    )
    px = raster.pixel_m
    x, y = xy[:, 0], xy[:, 1]
    col = np.floor((x - raster.x0) / px).astype(np.int64)[:, None] + dc
    row = np.floor((y - raster.y0) / px).astype(np.int64)[:, None] + dr
    d2 = (raster.x0 + (col + 0.5) * px - x[:, None]) ** 2 + (
        raster.y0 + (row + 0.5) * px - y[:, None]
    ) ** 2
    keep = d2 <= radius_m**2
    return np.nonzero(keep)[0], (row * raster.nx + col)[keep]


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from([2.5, 5.0, 10.0]),
    st.floats(3.0, 40.0),
    st.floats(-1e6, 1e6),
)
def test_pixels_in_reach_match_testing_every_pixel(
    seed: int, pixel_m: float, buffer_m: float, origin: float
) -> None:
    """Offsets surely in or out of reach skip the distance test: the same pairs, in order."""
    rng = np.random.default_rng(seed)
    ends = origin + rng.uniform(0, 300, (12, 2, 2))
    lines = shapely.linestrings(ends)
    raster, samples = un.study_raster_and_samples(
        lines,
        shapely.box(origin - 100, origin - 100, origin + 400, origin + 400),
        pixel_m=pixel_m,
        buffer_m=buffer_m,
    )
    radius = math.sqrt(buffer_m**2 + (pixel_m / 4) ** 2)
    want = _pairs_reference(raster, samples.xy, radius)
    np.testing.assert_array_equal(samples.pairs[0], want[0])
    np.testing.assert_array_equal(samples.pairs[1], want[1])
    # the same pairs, in the same order, whatever the chunk of points
    for chunk in (1, 7):
        got = rs.pixel_pairs(raster, samples.xy, radius, chunk=chunk)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 400), st.sampled_from([0, 3, 40]))
def test_area_cut_matches_sorting_every_unit(seed: int, n_units: int, levels: int) -> None:
    """Ties (few score levels), the all-zero last block and budgets beyond the union."""
    rng = np.random.default_rng(seed)
    inc = _discs(rng, n_units, 30)
    scores = (rng.integers(0, levels, n_units).astype(float) if levels else rng.random(n_units)) * (
        rng.random(n_units) < 0.6
    )
    weights = rng.poisson(0.5, (inc.shape[0], 2)).astype(float)
    budgets = np.sort(rng.uniform(1, 1.3 * inc.shape[0], 4)) * 4.0
    got = un.area_cut(scores, inc, 4.0, weights, budgets)
    want = _area_cut_reference(scores, inc, 4.0, weights, budgets)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 300))
def test_cover_order_matches_the_numpy_greedy(seed: int, n_units: int) -> None:
    """Mass on a few pixels (points' own pixels), with repeated values so ratios tie."""
    rng = np.random.default_rng(seed)
    inc = _discs(rng, n_units, 30, big=7)  # up to 36 pixels: NumPy's 8 accumulators at work
    mass = np.zeros(inc.shape[0])
    spots = rng.choice(inc.shape[0], size=min(n_units, 400), replace=False)
    mass[spots] = rng.choice([0.1, 0.3, 1 / 3, 0.7, 2.0], size=len(spots)) * rng.integers(
        0, 3, len(spots)
    )
    budget = float(rng.uniform(0.1, 1.2)) * inc.shape[0]
    index = cv.cover_index(inc, spots)
    want = _cover_order_reference(mass, inc, 1.0, budget)
    np.testing.assert_array_equal(cv.cover_order(mass, inc, 1.0, budget, index=index), want)
    np.testing.assert_array_equal(cv.cover_order(mass, inc, 1.0, budget), want)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 400))
def test_numpy_sum_is_numpys_sum_to_the_bit(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.zeros(n)
    pos = np.sort(rng.choice(n, size=min(n, int(rng.integers(0, 14))), replace=False))
    a[pos] = rng.random(len(pos)) * 10.0 ** rng.uniform(-4, 2, len(pos))
    assert cv.numpy_sum([(int(p), float(a[p])) for p in pos], n) == float(a.sum())


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 200))
def test_uncovered_sum_is_the_sum_over_the_uncovered_pixels(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    mass = np.where(rng.random(size) < 0.4, rng.random(size) * 10.0 ** rng.uniform(-3, 1), 0.0)
    flags = (rng.random(size) < rng.random()).astype(np.uint8)
    vals = [(int(p), float(mass[p])) for p in np.flatnonzero((mass != 0) & (flags == 0))]
    n = int((flags == 0).sum())
    if vals:
        assert cv.uncovered_sum(vals, flags, n) == float(mass[flags == 0].sum())


@pytest.mark.skipif(wk.worker_count() < 2, reason="needs fork and two cores")
def test_forked_workers_give_the_rows_one_process_gives() -> None:
    segs, region, rows = _grid_world(5)
    crimes = _crimes(rows)
    crimes.loc[crimes.index % 3 == 0, "crime_type"] = "Robbery"
    data = bt.prepare_area(crimes, segs, region, groups=["all", "robbery", "burglary"])
    assert len(data.extra["groups"]) == 3
    targets = list(range(8, len(data.months)))
    one = bt.area_backtest(data, targets=targets, workers=1)
    two = bt.area_backtest(data, targets=targets, workers=2)
    assert one.equals(two)
    assert list(dict.fromkeys(two["group"])) == data.extra["groups"]


def test_fork_map_keeps_order_and_start_forked_raises() -> None:
    assert wk.fork_map(lambda x: (x, os.getpid() > 0), list(range(7)), workers=2) == [
        (x, True) for x in range(7)
    ]

    def fails() -> None:
        msg = "bad input"
        raise ValueError(msg)

    wait = wk.start_forked(fails)
    with pytest.raises(ValueError, match="bad input"):
        wait()
    done = wk.start_forked(sorted, [3, 1, 2])
    if wk.worker_count() > 1:
        deadline = time.monotonic() + 30
        while not done.ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert done.ready()
    assert done() == [1, 2, 3]


def test_one_worker_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(wk.WORKERS_ENV, "1")
    assert wk.worker_count() == 1
    assert wk.fork_map(lambda _: os.getpid(), [0, 1]) == [os.getpid()] * 2
