"""Tests of hot streets' parts: runs' unions, ranks within areas, extent texts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from hotspots.analysis import rank, street_lines


def _table_union(geoms: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Each run's ``union_all``, one run at a time (what ``_union_runs`` stands for)."""
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    parts = np.split(geoms, starts[1:])
    return np.array([shapely.union_all(p) for p in parts], dtype=object)


def test_union_of_runs_as_each_runs_union_all() -> None:
    """Runs of one straight line are taken as they are: byte for byte their union."""
    rng = np.random.default_rng(7)
    n = 400
    start = rng.uniform(-1e6, 1e6, (n, 2)).round(int(rng.integers(0, 4)))
    step = rng.normal(0, 50, (n, 2)) * (rng.random((n, 1)) > 0.05)  # some of no length
    lines = list(shapely.linestrings(np.stack([start, start + step], axis=1)))
    lines[3] = LineString([(0, 0), (1, 1), (0, 2)])  # bent
    lines[4] = LineString([(0, 0, 1), (3, 4, 2)])  # 3D
    lines[5] = LineString([(0, 0), (1, 0), (1, 1), (0, 0)])  # closed
    lines[6] = LineString([(0, 0), (0, 0), (1, 1)])  # a repeated point
    geoms = np.array(lines, dtype=object)
    runs = np.sort(rng.integers(0, 250, n))
    ours = street_lines.union_runs(geoms, runs)
    theirs = _table_union(geoms, runs)
    assert (shapely.to_wkb(ours) == shapely.to_wkb(theirs)).all()
    alone = street_lines._straight_lines(geoms)
    assert not alone[3:7].any() and alone.sum() > n * 0.8


def test_group_min_rank_as_pandas_groupby_rank() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 300))
        group = rng.integers(0, int(rng.integers(1, 20)), n)
        values = rng.integers(1, int(rng.integers(2, 40)), n)
        expected = pd.Series(values).groupby(group).rank(method="min").astype("int64")
        np.testing.assert_array_equal(rank._group_min_rank(group, values), expected.to_numpy())


def _layer() -> gpd.GeoDataFrame:
    # a cross of streets around (0, 0)-(100, 0) and a fork at (200, 0)
    lines = {
        "Main St": [(0, 0), (100, 0)],
        "West Rd": [(0, -50), (0, 50)],
        "East Rd": [(100, -50), (100, 50)],
        "Zed Ave": [(100, 0), (100, 80)],
        "main  st.": [(100, 0), (200, 0)],  # Main St, folded
        "Fork A": [(200, 0), (250, 50)],
        "Fork B": [(200, 0), (250, -50)],
    }
    return gpd.GeoDataFrame(
        {"street_name": pd.Series([*lines, None], dtype="string")},
        geometry=[*(LineString(v) for v in lines.values()), LineString([(-1, 0), (-9, 0)])],
        crs=27700,
    )


def test_extents_name_the_streets_meeting_the_ends() -> None:
    hot = gpd.GeoDataFrame(
        {"street": ["Main St", "Lone Way", "Main St", "Ring"]},
        geometry=[
            LineString([(0, 0), (100, 0)]),
            LineString([(500, 500), (600, 500)]),
            shapely.MultiLineString([[(0, 0), (100, 0)], [(200, 0), (300, 0)]]),
            LineString([(0, 50), (0, 60)]),
        ],
        crs=27700,
    )
    found = street_lines.describe_extents(hot, _layer())
    assert found.tolist() == [
        "from East Rd to West Rd",  # East Rd before Zed Ave at (100, 0); not Main St itself
        "",
        "between East Rd, Fork A, West Rd",
        "from West Rd",
    ]
    assert street_lines.describe_extents(hot.iloc[:0], _layer()).tolist() == []


def _tree_pairs(points: np.ndarray, lines: np.ndarray, d: float) -> list[tuple[int, int]]:
    found = shapely.STRtree(lines).query(points, predicate="dwithin", distance=d)
    return sorted(zip(found[0].tolist(), found[1].tolist(), strict=True))


def test_points_near_lines_as_the_trees_dwithin_query() -> None:
    """The grid's pairs are the tree's, points on, near and just beyond the lines included."""
    rng = np.random.default_rng(5)
    start = rng.uniform(0, 2000, (600, 2))
    end = start + rng.normal(0, 60, (600, 2))
    lines = shapely.linestrings(np.stack([start, end], axis=1))
    lines[:5] = [None, shapely.LineString(), lines[5], lines[5], lines[5]]  # missing, empty
    on = shapely.line_interpolate_point(lines[5:], rng.random(595), normalized=True)
    xy = shapely.get_coordinates(on)
    normal = rng.normal(0, 1, xy.shape)
    normal /= np.hypot(normal[:, :1], normal[:, 1:])
    points = np.concatenate(
        [
            on,  # on the lines
            shapely.points(xy + normal * rng.choice([0.049, 0.05, 0.0501, 0.3], (595, 1))),
            shapely.points(rng.uniform(-100, 2100, (300, 2))),  # anywhere, some beyond all
            np.array([None, shapely.Point()], dtype=object),
        ]
    )
    for d in (0.05, 3.0):
        pi, si = street_lines.points_near_lines(points, lines, d)
        assert list(zip(pi.tolist(), si.tolist(), strict=True)) == _tree_pairs(points, lines, d)
    # a few very long lines (too many cells): by the tree itself
    long = np.concatenate([lines, shapely.linestrings([[(0, 0), (1e6, 1e6)]] * 3)])
    pi, si = street_lines.points_near_lines(points, long, 0.05)
    assert list(zip(pi.tolist(), si.tolist(), strict=True)) == _tree_pairs(points, long, 0.05)
    # at one end's x and the other end's y: inside the box, far from the line
    diagonal = np.array([shapely.LineString([(0, 0), (10, 10)])])
    corner = np.array([shapely.Point(0, 10), shapely.Point(10, 10), shapely.Point(0, 0.04)])
    pi, si = street_lines.points_near_lines(corner, diagonal, 0.05)
    assert pi.tolist() == [1, 2] and si.tolist() == [0, 0]
    none = street_lines.points_near_lines(points[:0], lines, 0.05)
    assert len(none[0]) == len(none[1]) == 0


def test_counts_of_categorical_types_as_of_plain_ones() -> None:
    """A categorical's codes count as the types themselves: unused categories get no column."""
    rng = np.random.default_rng(9)
    segs = pd.DataFrame({"segment_id": ["b", "a", "c"]})
    for _ in range(50):
        n = int(rng.integers(1, 200))
        seg = rng.choice(np.array(["a", "b", "c", None], dtype=object), n)
        kind = rng.choice(np.array(["Drugs", "Burglary", "Robbery", None], dtype=object), n)
        plain = pd.DataFrame({"segment_id": pd.Series(seg, dtype="category"), "crime_type": kind})
        cat = plain.assign(
            crime_type=pd.Series(kind, dtype="category").cat.add_categories(["Unused"])
        )
        expected = rank.count_by_segment(plain, segs)
        found = rank.count_by_segment(cat, segs)
        pd.testing.assert_frame_equal(found, expected)
        assert "n_unused" not in found.columns


def test_hot_streets_of_a_layer_without_names() -> None:
    """Every segment unnamed: each hot segment is a street of its own, named as unnamed."""
    segs = gpd.GeoDataFrame(
        {
            "segment_id": ["a", "b", "c"],
            "street_name": pd.Series([None, None, None], dtype="string"),
            "name_source": [None, None, None],
            "length_m": [100.0, 100.0, 100.0],
            "area_code": ["A"] * 3,
            "area_name": ["Area A"] * 3,
        },
        geometry=[LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)]), None],
        crs=27700,
    )
    crimes = pd.DataFrame(
        {"segment_id": pd.Series(["a"] * 6 + ["b"] * 5, dtype="category"), "crime_type": "Drugs"}
    )
    hot = rank.rank_streets(segs, rank.count_by_segment(crimes, segs), hot_quantile=0.0)
    assert hot["street"].tolist() == [rank.UNNAMED] * 2
    assert hot["segment_ids"].tolist() == ["a", "b"] and hot["rank"].tolist() == [1, 2]
    assert hot["extent"].tolist() == ["", ""]
