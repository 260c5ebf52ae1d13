"""Tests of hotspots.analysis.rank: counts, hot segments, runs, ranks with ties, location lists."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from hotspots.analysis import location_ranks, rank
from hotspots.pipeline import ranking
from hotspots.read.schema import AREA_LIST_COLUMNS, BASIS_LOCATION, BASIS_STREET, HOT_STREET_COLUMNS


def _segments() -> gpd.GeoDataFrame:
    # High St: three 100 m segments end to end (h1-h2-h3); Low Rd: one 100 m; Side: one 20 m
    geoms = [
        LineString([(0, 0), (100, 0)]),
        LineString([(100, 0), (200, 0)]),
        LineString([(200, 0), (300, 0)]),
        LineString([(0, 100), (100, 100)]),
        LineString([(0, 200), (20, 200)]),
    ]
    return gpd.GeoDataFrame(
        {
            "segment_id": ["h1", "h2", "h3", "l1", "s1"],
            "street_name": ["High St", "High St", "High St", "Low Rd", None],
            "name_source": ["street layer"] * 5,
            "length_m": [100.0, 100.0, 100.0, 100.0, 20.0],
            "area_code": ["A"] * 5,
            "area_name": ["Area A"] * 5,
        },
        geometry=geoms,
        crs=27700,
    )


def _crimes(per_segment: dict[str, int], crime_type: str = "Burglary") -> pd.DataFrame:
    seg = [s for s, n in per_segment.items() for _ in range(n)]
    return pd.DataFrame(
        {"segment_id": pd.Series(seg, dtype="string"), "crime_type": [crime_type] * len(seg)}
    )


# outputs ------------------------------------------------------------------------------------


def test_counts_sum_to_snapped() -> None:
    crimes = pd.concat(
        [
            _crimes({"h1": 3, "l1": 2}),
            _crimes({"h1": 1}, "Robbery"),
            pd.DataFrame(
                {"segment_id": pd.Series([pd.NA], dtype="string"), "crime_type": ["Robbery"]}
            ),
        ],
        ignore_index=True,
    )
    counts = rank.count_by_segment(crimes, _segments())
    assert counts["crimes"].tolist() == [4, 0, 0, 2, 0]
    assert counts.columns.tolist() == ["crimes", "n_burglary", "n_robbery"]
    assert counts["crimes"].sum() == crimes["segment_id"].notna().sum()


def test_runs_merge_adjacent_hot_segments_of_one_street() -> None:
    segs = _segments()
    counts = rank.count_by_segment(_crimes({"h1": 10, "h2": 10, "h3": 1, "l1": 10, "s1": 5}), segs)
    hot = rank.rank_streets(segs, counts, min_crimes=5, hot_quantile=0.0)
    assert list(hot.columns) == [*HOT_STREET_COLUMNS, "n_burglary", "geometry"]
    rows = hot.set_index("street")
    assert rows.loc["High St", "extent"] == ""  # nothing else meets its ends
    assert rows.loc["High St", "segment_ids"] == "h1;h2"  # h3 has too few crimes to be hot
    assert rows.loc["High St", "length_m"] == 200.0
    # s1 is 20 m: the 50 m floor gives 5 / 50 m = 10 per 100 m, not 25
    assert rows.loc[rank.UNNAMED, "crimes_per_100m"] == 10.0


def test_ranks_with_ties() -> None:
    segs = _segments()
    counts = rank.count_by_segment(_crimes({"h1": 10, "l1": 10, "s1": 5}), segs)
    hot = rank.rank_streets(segs, counts, min_crimes=5, hot_quantile=0.0)
    # all three have 10 per 100 m (s1: 5 crimes over the 50 m floor); crimes break the tie:
    # High St and Low Rd share rank 1 (listed by name), s1 is 3rd
    assert hot[["street", "rank", "rank_by_count", "area_rank"]].values.tolist() == [
        ["High St", 1, 1, 1],
        ["Low Rd", 1, 1, 1],
        [rank.UNNAMED, 3, 3, 3],
    ]


def test_hot_quantile_is_per_area() -> None:
    segs = _segments()
    segs.loc[3, "area_code"] = "B"  # Low Rd alone in a quiet area B
    counts = rank.count_by_segment(_crimes({"h1": 40, "h2": 30, "h3": 20, "l1": 5}), segs)
    hot = rank.rank_streets(segs, counts, min_crimes=5, hot_quantile=0.8)
    assert sorted(hot["area_code"]) == ["A", "B"]  # B gets its own hot street


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(["h1", "h2", "h3", "l1", "s1"]), min_size=5, max_size=120),
    st.randoms(use_true_random=False),
)
def test_ranking_does_not_depend_on_row_order(seg_ids: list[str], rnd: object) -> None:
    crimes = pd.DataFrame(
        {
            "segment_id": pd.Series(seg_ids, dtype="string"),
            "crime_type": ["Burglary"] * len(seg_ids),
        }
    )
    shuffled = crimes.sample(frac=1.0, random_state=len(seg_ids)).reset_index(drop=True)
    segs = _segments()
    a = rank.rank_streets(segs, rank.count_by_segment(crimes, segs), min_crimes=1)
    b = rank.rank_streets(segs, rank.count_by_segment(shuffled, segs), min_crimes=1)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    counts = rank.count_by_segment(crimes, segs)
    assert counts["crimes"].sum() == len(seg_ids)


def test_locations_and_area_lists() -> None:
    pts = gpd.GeoDataFrame(
        {
            "area_code": ["A"] * 6 + ["C"] * 2,
            "area_name": ["Area A"] * 6 + ["Area C"] * 2,
            "location": ["On or near Park Road"] * 5
            + ["On or near Supermarket"]
            + ["On or near X"] * 2,
            "crime_type": ["Robbery"] * 8,
            "x": np.arange(8.0),
            "y": np.zeros(8),
        },
        geometry=gpd.points_from_xy(np.arange(8.0), np.zeros(8)),
        crs=27700,
    )
    locs = location_ranks.rank_locations(pts, min_crimes=5, type_cols=["n_burglary", "n_robbery"])
    assert locs["street"].tolist() == ["Park Road"] and locs["crimes"].tolist() == [5]
    segs = _segments()
    hot = rank.rank_streets(segs, rank.count_by_segment(_crimes({"h1": 9}), segs), min_crimes=5)
    lists = rank.area_lists(hot, locs, area_codes=["A", "C"])
    assert sorted(lists) == ["A", "C"]
    a = lists["A"]
    assert list(a.columns[: len(AREA_LIST_COLUMNS)]) == AREA_LIST_COLUMNS
    assert a[["area_rank", "basis", "street"]].values.tolist() == [
        [1, BASIS_STREET, "High St"],
        [2, BASIS_LOCATION, "Park Road"],
    ]
    assert lists["C"].empty  # an area with crime gets a (here empty) list


def test_points_of_interest_are_one_place_per_map_point() -> None:
    crimes = pd.DataFrame(
        {
            "location": ["On or near Nightclub"] * 5 + ["On or near Park Road"] * 2,
            "area_code": ["A"] * 7,
            "x": [0.0, 0, 0, 500, 500, 10, 900],
            "y": [0.0] * 7,
        }
    )
    place = location_ranks.location_place(crimes)
    assert place.tolist() == ["Nightclub (point 1 of 2)"] * 3 + ["Nightclub (point 2 of 2)"] * 2 + [
        "Park Road",
        "Park Road",
    ]


def test_distinct_rows_spread_back() -> None:
    rng = np.random.default_rng(3)
    a = pd.Series(rng.choice(["x", "y", None], 500)).astype("category")
    b = pd.Series(rng.integers(0, 7, 500))
    c = pd.Series(rng.choice([0.5, 1.5, np.nan], 500))
    first, inverse, counts = location_ranks.distinct_rows(a, b, c)
    table = pd.DataFrame({"a": a, "b": b, "c": c})
    distinct = table.iloc[first].reset_index(drop=True)
    assert len(distinct) == len(table.drop_duplicates())
    pd.testing.assert_frame_equal(distinct.iloc[inverse].reset_index(drop=True), table)
    assert counts.sum() == 500 and (counts == np.bincount(inverse)).all()
    assert (np.diff(first) > 0).all()  # in order of first appearance


def test_location_place_is_the_same_with_point_ids() -> None:
    crimes = pd.DataFrame(
        {
            "location": ["On or near Nightclub"] * 5 + ["On or near Park Road"] * 2,
            "area_code": ["A"] * 7,
            "x": [0.0, 0, 0, 500, 500, 10, 900],
            "y": [0.0] * 7,
        }
    )
    with_ids = crimes.assign(point_id=pd.factorize(crimes["x"])[0].astype("int32"))
    assert (
        location_ranks.location_place(with_ids).tolist()
        == location_ranks.location_place(crimes).tolist()
    )


def test_location_counts_rows_go_to_the_later_pair() -> None:
    """A place listed under two names of one area code: its records go to the later row."""
    records = pd.DataFrame(
        {
            "area_code": pd.Categorical(["A", "A", "A", "B", None]),
            "area_name": pd.Categorical(["Ay", "Ay 2", "Ay", "Be", "Ay"]),
            "place": pd.Categorical(["Park Road", "Park Road", "Kiosk", "Park Road", "Park Road"]),
            "x": [0.0, 1.0, 2.0, 3.0, 4.0],
            "y": [0.0] * 5,
        }
    )
    counts = np.array([[5, 0], [1, 4], [2, 0], [0, 6], [9, 9]])
    locs, rows = location_ranks.rank_location_counts(
        records, counts, min_crimes=5, type_cols=["n_burglary", "n_robbery"], crs=27700
    )
    assert locs[["area_code", "area_name", "street", "crimes"]].values.tolist() == [
        ["A", "Ay", "Park Road", 5],
        ["A", "Ay 2", "Park Road", 5],
        ["B", "Be", "Park Road", 6],
    ]
    # by area code and place, as ranking.listed_rows finds them; no area: no row
    assert rows.tolist() == [1, 1, -1, 2, -1]
    expected = ranking.listed_rows(records["area_code"], records["place"], locs)
    assert rows.tolist() == expected.tolist()


def test_places_sorted_as_python_sorts_text() -> None:
    crimes = pd.DataFrame(
        {
            "location": ["On or near Zeta", "On or near éclair", "On or near Alpha", "Ébène"],
            "area_code": ["A"] * 4,
            "x": [0.0, 1.0, 2.0, 3.0],
            "y": [0.0] * 4,
        }
    )
    place = location_ranks.location_place(crimes)
    assert list(place.cat.categories) == sorted({"Zeta", "éclair", "Alpha", "Ébène"})
    assert place.tolist() == ["Zeta", "éclair", "Alpha", "Ébène"]


def test_vertex_numbers_group_as_numpy_unique_rows() -> None:
    rng = np.random.default_rng(2)
    xy = rng.choice([0.0, -0.0, 1.5, np.nan, 2.25], size=(300, 2))
    ours = rank._row_numbers(xy)
    theirs = np.unique(xy, axis=0, return_inverse=True)[1].ravel()
    # the same partition of the rows: each number of one maps to one number of the other
    pairs = set(zip(ours.tolist(), theirs.tolist(), strict=True))
    assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.tolist()))


def test_run_lengths_summed_as_pandas_groupby_sums() -> None:
    """Run lengths are added by ``np.add.reduceat``: the grouped sums of pandas, bit for bit."""
    rng = np.random.default_rng(4)
    for _ in range(50):
        n = int(rng.integers(1, 2000))
        group = np.sort(rng.integers(0, int(rng.integers(1, 300)), n))
        values = rng.choice([0.1, 0.2, 3.3, 1e-8, 7.77, 1e16], n) * rng.random(n)
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        expected = pd.Series(values).groupby(group).sum().to_numpy()
        assert (np.add.reduceat(values, starts) == expected).all()


def test_line_ends_are_get_point_first_and_last() -> None:
    """One table of coordinates gives the ends shapely.get_point(.., 0) and (.., -1) give."""
    lines = np.array(
        [
            shapely.LineString([(0, 0), (1, 1), (2, 0)]),
            shapely.LineString([(5, 5), (5, 6)]),
            shapely.LineString([(1, 2, 3), (4, 5, 6)]),
        ]
    )
    want = np.vstack([shapely.get_coordinates(shapely.get_point(lines, i)) for i in (0, -1)])
    np.testing.assert_array_equal(rank._line_ends(lines), want)
    other = np.array([*lines, shapely.MultiLineString([[(0, 0), (1, 0)]])])  # point by point
    assert rank._line_ends(other).shape == (6, 2)
