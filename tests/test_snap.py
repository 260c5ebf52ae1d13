"""Tests of hotspots.space.snap: hand-checked snapping and area assignment."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, box

from hotspots.read.layers import read_streets
from hotspots.space import locations, nearest, segments, snap
from hotspots.space.areas import assign_areas


def _crimes(xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    x, y = zip(*xy, strict=True)
    return gpd.GeoDataFrame(
        {"x": x, "y": y},
        geometry=gpd.points_from_xy(x, y),
        crs=27700,
        index=pd.Index([10 + i for i in range(len(xy))]),
    )


def _segs() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"segment_id": ["s1", "s2", "s3"]},
        geometry=[
            LineString([(0, 0), (100, 0)]),
            LineString([(100, 0), (100, 100)]),
            LineString([(0, 50), (50, 50)]),
        ],
        crs=27700,
    )


# inputs -------------------------------------------------------------------------------------


def test_snap_distance_must_be_positive() -> None:
    with pytest.raises(ValueError, match="`max_distance_m` must be positive; got 0"):
        snap.snap_to_streets(_crimes([(0, 0)]), _segs(), max_distance_m=0)


# outputs ------------------------------------------------------------------------------------


def test_snap_hand_checked() -> None:
    crimes = _crimes([(50, 10), (50, 30), (100, 0), (300, 300), (50, 10)])
    out = snap.snap_to_streets(crimes, _segs(), max_distance_m=30, quiet=True)
    assert out.index.equals(crimes.index)
    # (50,10): 10 m to s1, 40 m to s3; (50,30): 20 m to s3, 30 m to s1; (100,0): on s1 and s2
    assert _text(out["segment_id"]) == ["s1", "s3", "s1", None, "s1"]
    assert out["snap_distance_m"].tolist()[:3] == [10.0, 20.0, 0.0]
    assert pd.isna(out["snap_distance_m"].iloc[3])


def test_tie_goes_to_smallest_id_whatever_the_order() -> None:
    segs = _segs().iloc[::-1].reset_index(drop=True)
    out = snap.snap_to_streets(_crimes([(100, 0)]), segs, quiet=True)
    assert out["segment_id"].tolist() == ["s1"]


def test_assign_areas_overlap_and_outside() -> None:
    areas = gpd.GeoDataFrame(
        {"area_code": ["B", "A"], "area_name": ["b", "a"]},
        geometry=[box(0, 0, 10, 10), box(5, 0, 20, 10)],
        crs=27700,
    )
    out = assign_areas(_crimes([(2, 2), (7, 2), (15, 2), (50, 50)]), areas)
    assert _text(out["area_code"]) == ["B", "A", "A", None]


def test_segment_areas_by_midpoint() -> None:
    areas = gpd.GeoDataFrame(
        {"area_code": ["L", "R"], "area_name": ["l", "r"]},
        geometry=[box(0, -10, 60, 200), box(60, -10, 200, 200)],
        crs=27700,
    )
    out = snap.assign_segment_areas(_segs(), areas)
    assert out["area_code"].tolist() == ["L", "R", "L"]


def _text(values: pd.Series) -> list[str | None]:
    """The cells as text, None where missing (whatever the column's missing marker)."""
    return [None if pd.isna(v) else str(v) for v in values]


def test_nearest_lines_equals_geos_query_nearest(
    vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame], data_root: Path
) -> None:
    """The grid's candidates and NumPy's distances give STRtree.query_nearest(max_distance,
    all_matches) with ties to the smallest line index, and GEOS's distances to the last bit,
    on real crimes and street segments (and points placed exactly at the tolerance)."""
    crimes, _ = vancouver
    streets = read_streets(data_root / "vancouver" / "public_streets.gpkg")
    lines = segments.lines_to_segments(streets.to_crs(crimes.crs)).geometry.to_numpy()
    x = np.concatenate([crimes["x"].to_numpy()[:20_000], [491_000.0 + 30.0]])
    y = np.concatenate([crimes["y"].to_numpy()[:20_000], [5_456_000.0]])
    lines = np.concatenate(
        [lines, [LineString([(491_000.0, 5_455_900.0), (491_000.0, 5_456_100.0)])]]
    )
    for tol in (5.0, 30.0):
        best, dist = nearest.nearest_lines(x, y, lines, tol)
        pi, li = shapely.STRtree(lines).query_nearest(
            shapely.points(x, y), max_distance=tol, all_matches=True
        )
        want = locations.first_match(len(x), pi, li)
        np.testing.assert_array_equal(best, want)
        got = shapely.distance(shapely.points(x[best >= 0], y[best >= 0]), lines[best[best >= 0]])
        np.testing.assert_array_equal(dist[best >= 0], got)  # to the last bit
        assert np.isnan(dist[best < 0]).all()
    assert best[-1] == len(lines) - 1  # exactly at 30 m: snapped


def _brute_nearest(
    x: np.ndarray, y: np.ndarray, lines: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Every point against every line by GEOS: the nearest within ``tol``, ties to the first."""
    with np.errstate(invalid="ignore"):
        d = shapely.distance(shapely.points(x, y)[:, None], lines[None, :])
    d = np.where(d <= tol, d, np.inf)
    best = np.where(np.isfinite(d).any(axis=1), d.argmin(axis=1), -1)
    return best, np.where(best >= 0, d.min(axis=1), np.nan)


@pytest.mark.parametrize(("max_cells", "pairs"), [(4_000_000, 400_000), (10, 500)])
def test_nearest_lines_awkward_geometries_equal_brute_force(
    monkeypatch: pytest.MonkeyPatch, max_cells: int, pairs: int
) -> None:
    """Ties, zero-length and bent lines, multi-parts, empty and missing lines, missing and
    far points; and a grid of few wide cells measured in many parts (threads): the same
    nearest lines and distances as GEOS."""
    monkeypatch.setattr(nearest, "_MAX_CELLS", max_cells)
    monkeypatch.setattr(nearest, "_PAIRS", pairs)
    rng = np.random.default_rng(5)
    ends = rng.uniform(0, 200, (300, 4)).round(1)
    lines = list(shapely.linestrings(ends.reshape(-1, 2, 2)))
    lines += [
        LineString([(50, 50), (50, 50)]),  # zero length
        LineString([(0, 0), (60, 10), (60, 80), (120, 90)]),  # bent
        shapely.MultiLineString([[(10, 10), (20, 10)], [(30, 30), (40, 45)]]),
        LineString(),
        None,
        LineString([(100, 0), (100, 200)]),  # the same line twice: ties
        LineString([(100, 0), (100, 200)]),
    ]
    arr = np.array(lines, dtype=object)
    x = np.r_[rng.uniform(-50, 250, 2_000), 100.0, np.nan, 1e12, 50.0]
    y = np.r_[rng.uniform(-50, 250, 2_000), 50.0, 3.0, 5.0, 50.0]
    for tol in (0.5, 4.0, 30.0, 500.0):
        best, dist = nearest.nearest_lines(x, y, arr, tol)
        want_best, want_dist = _brute_nearest(x, y, arr, tol)
        np.testing.assert_array_equal(best, want_best)
        np.testing.assert_array_equal(dist, want_dist)
    assert nearest.nearest_lines(x[:0], y[:0], arr, 30.0)[0].shape == (0,)
    assert (nearest.nearest_lines(x, y, arr[:0], 30.0)[0] == -1).all()


def test_segment_distance_is_geos_to_the_last_bit() -> None:
    """Points before, beside and beyond segments, on them and on zero-length ones."""
    rng = np.random.default_rng(9)
    a, b = rng.uniform(-1e3, 1e3, (2, 5_000, 2)) + 5e5
    b[:50] = a[:50]  # zero length
    p = np.where(rng.random((5_000, 1)) < 0.1, a, rng.uniform(-1e3, 1e3, (5_000, 2)) + 5e5)
    got = nearest.segment_distance(p[:, 0], p[:, 1], a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    want = shapely.distance(shapely.points(p), shapely.linestrings(np.stack([a, b], axis=1)))
    np.testing.assert_array_equal(got, want)


def test_midpoints_are_geos_line_interpolate_point() -> None:
    """Two-point lines by NumPy, others by GEOS: the midpoints GEOS gives, to the last bit."""
    rng = np.random.default_rng(2)
    ends = rng.uniform(-1e3, 1e3, (2_000, 2, 2)) + np.array([5e5, 5.4e6])
    ends[:20, 1] = ends[:20, 0]  # zero length
    lines = np.array(
        [
            *shapely.linestrings(ends),
            LineString([(0, 0), (3, 1), (7, 9)]),
            None,
        ],
        dtype=object,
    )
    x, y = snap._midpoints(lines)
    with np.errstate(invalid="ignore"):
        want = shapely.line_interpolate_point(lines, 0.5, normalized=True)
        np.testing.assert_array_equal(x, shapely.get_x(want))
        np.testing.assert_array_equal(y, shapely.get_y(want))
