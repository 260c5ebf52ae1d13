"""Points snapped ahead (while the crime table is assembled) answer as snapping them after.

:func:`hotspots.space.snap.snap_points` snaps the reader's projected points in the run's
early thread; :func:`hotspots.space.snap.snap_to_streets` then takes their answers (given
as ``known``) and snaps only the points they lack. The run itself:
``tests/test_ranking_segments.py``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.space import snap


def _segs(rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    start = rng.integers(0, 20, size=(n, 2)).astype(float) * 5
    end = start + rng.integers(-3, 4, size=(n, 2)) * 5
    ids = np.array([f"s{i:02d}" for i in rng.permutation(n)])
    return gpd.GeoDataFrame(
        {"segment_id": ids}, geometry=shapely.linestrings(np.stack([start, end], axis=1)), crs=27700
    )


def _crimes(x: np.ndarray, y: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"x": x, "y": y}, geometry=gpd.points_from_xy(x, y), crs=27700, index=np.arange(len(x)) + 5
    )


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0, 1), copies=st.integers(1, 3))
def test_known_answers_are_the_answers(seed: int, share: float, copies: int) -> None:
    """Any share of the points snapped ahead (repeated, in any order, with others) changes nothing.

    Points on a 2.5 m lattice and segments on a 5 m one: many ties between segments.
    """
    rng = np.random.default_rng(seed)
    segs = _segs(rng, 12)
    x = rng.integers(-4, 44, 300).astype(float) * 2.5
    y = rng.integers(-4, 44, 300).astype(float) * 2.5
    crimes = _crimes(x, y)
    plain = snap.snap_to_streets(crimes, segs, max_distance_m=6.0, quiet=True)
    pick = rng.permutation(300)[: int(share * 300)]
    ahead_x = np.concatenate([np.tile(x[pick], copies), rng.uniform(-50, 150, 20)])
    ahead_y = np.concatenate([np.tile(y[pick], copies), rng.uniform(-50, 150, 20)])
    known = snap.snap_points(ahead_x, ahead_y, segs, max_distance_m=6.0)
    got = snap.snap_to_streets(crimes, segs, max_distance_m=6.0, quiet=True, known=known)
    pd.testing.assert_frame_equal(got, plain)


def test_known_answers_for_other_segments_or_tolerance_are_not_taken() -> None:
    rng = np.random.default_rng(3)
    segs = _segs(rng, 12)
    x, y = rng.uniform(0, 100, 200), rng.uniform(0, 100, 200)
    crimes = _crimes(x, y)
    known = snap.snap_points(x, y, segs, max_distance_m=6.0)
    assert known.fits(segs["segment_id"].to_numpy(), 6.0)
    assert not known.fits(segs["segment_id"].to_numpy(), 30.0)
    fewer = segs.iloc[:6]
    assert not known.fits(fewer["segment_id"].to_numpy(), 6.0)
    shuffled = segs.iloc[::-1]  # the same segments in another order: answered again
    assert not known.fits(shuffled["segment_id"].to_numpy(), 6.0)
    for other, tol in ((fewer, 6.0), (segs, 30.0), (shuffled, 6.0)):
        pd.testing.assert_frame_equal(
            snap.snap_to_streets(crimes, other, max_distance_m=tol, quiet=True, known=known),
            snap.snap_to_streets(crimes, other, max_distance_m=tol, quiet=True),
        )
