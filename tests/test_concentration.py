"""Tests of hotspots.analysis.concentration: figures, the random baseline and the plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hotspots.analysis import concentration


def test_lorenz_hand_checked() -> None:
    x, y = concentration.lorenz(np.array([0, 6, 2, 2]))
    assert x.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert y.tolist() == [0, 0.6, 0.8, 1.0, 1.0]


def test_figures_and_baseline() -> None:
    counts = np.zeros(200, dtype=int)
    counts[:2] = 50  # all crime on 1% of segments
    out = concentration.count_concentration(counts, np.ones(200), n_draws=10, seed=1)
    obs, base = out["observed"], out["random_baseline"]
    assert obs["share_of_crime_on_top_1pct_segments"] == 1.0
    assert obs["share_of_segments_holding_half_of_crime"] == 0.005
    assert base["share_of_crime_on_top_1pct_segments"] < 0.1
    assert obs["gini"] == pytest.approx(0.99, abs=0.01)
    assert out == concentration.count_concentration(counts, np.ones(200), n_draws=10, seed=1)


def test_plot_written(tmp_path: Path) -> None:
    p = concentration.plot_lorenz(np.array([5, 1, 0, 0]), np.ones(4), tmp_path / "l.png", title="t")
    assert p.stat().st_size > 1000


def test_baseline_draws_are_the_draws_made_one_by_one() -> None:
    """One multinomial call of 20 draws gives the 20 draws made in turn (same seed)."""
    rng = np.random.default_rng(4)
    counts, length = rng.integers(0, 9, 500), rng.uniform(5, 300, 500)
    one_by_one = np.random.default_rng(7)
    p = length / length.sum()
    draws = [one_by_one.multinomial(int(counts.sum()), p) for _ in range(20)]
    together = np.random.default_rng(7).multinomial(int(counts.sum()), p, size=20)
    assert (np.array(draws) == together).all()
    out = concentration.count_concentration(counts, length, seed=7)
    gini = np.mean([concentration._figures(d)["gini"] for d in draws])
    assert out["random_baseline"]["gini"] == round(float(gini), 4)


@pytest.mark.parametrize(
    "counts",
    [
        np.random.default_rng(3).poisson(2.0, 5_000),  # laid out from the histogram
        np.array([0, 0, 0]),
        np.array([7]),
        np.array([10**6, 0, 3]),  # a count far above the number of segments: sorted
        np.array([2.5, 0.0, 1.0]),  # not whole numbers: sorted
    ],
)
def test_lorenz_equals_the_sorted_counts(counts: np.ndarray) -> None:
    """The curve from the counts' histogram is the one of the sorted counts, bit for bit."""
    c = np.sort(counts.astype(float))[::-1]
    want = np.r_[0.0, np.cumsum(c) / c.sum()] if c.sum() else np.linspace(0, 1, len(c) + 1)
    np.testing.assert_array_equal(concentration.lorenz(counts)[1], want)
