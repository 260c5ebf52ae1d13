"""Tests of hotspots.analysis.corridors on constructed streets (metres, EPSG:27700)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString

from hotspots.analysis.corridors import build_corridors, corridor_labels

TYPES = {"n_theft": "Theft", "n_collision": "Vehicle Collision or Pedestrian Struck (with Injury)"}


def _streets(
    rows: list[tuple[str | None, list[tuple[float, float]], int, int]],
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Segments and counts from (name, points, thefts, collisions) rows."""
    segs = gpd.GeoDataFrame(
        {
            "segment_id": [f"s{i:02d}" for i in range(len(rows))],
            "street_name": [r[0] for r in rows],
            "area_code": ["A"] * len(rows),
            "area_name": ["Area A"] * len(rows),
        },
        geometry=[LineString(r[1]) for r in rows],
        crs=27700,
    )
    segs["length_m"] = segs.length.round(2)
    thefts = np.array([r[2] for r in rows])
    crashes = np.array([r[3] for r in rows])
    counts = pd.DataFrame(
        {"crimes": thefts + crashes, "n_collision": crashes, "n_theft": thefts}, index=segs.index
    )
    return segs, counts


def test_corridor_across_three_junctions() -> None:
    # High St: four 200 m segments end to end; streets of other names cross at x = 200, 400
    # and 600 (the three junctions) and start its west end.
    segs, counts = _streets(
        [
            ("High St", [(0, 0), (200, 0)], 3, 1),
            ("High St", [(200, 0), (400, 0)], 0, 0),
            ("High St", [(400, 0), (600, 0)], 5, 2),
            ("High St", [(600, 0), (800, 0)], 2, 0),
            ("Side Rd", [(200, 0), (200, 150)], 40, 0),
            ("Side Rd", [(200, -150), (200, 0)], 40, 0),
            ("Cross St", [(400, 0), (400, 250)], 7, 0),
            ("Oak Ave", [(600, -250), (600, 0)], 1, 0),
            ("West Rd", [(0, -100), (0, 0)], 0, 0),
        ]
    )
    out = build_corridors(segs, counts, type_names=TYPES, min_length_m=300)
    high = out[out["street"] == "High St"]
    assert len(high) == 1
    row = high.iloc[0]
    assert row["length_m"] == pytest.approx(800.0)
    assert row["segment_count"] == 4 and row["segment_ids"] == "s00;s01;s02;s03"  # in order
    assert (row["crimes"], row["n_theft"], row["collisions"]) == (13, 10, 3)
    assert row["crimes_per_km"] == pytest.approx(16.25)
    assert row["collisions_per_km"] == pytest.approx(3.75)
    assert row["extent"] == "from West Rd"  # walked from its free west end
    assert row.geometry.length == pytest.approx(800.0)
    # Side Rd (two pieces meeting at High St, 300 m) is its own corridor; Cross St and
    # Oak Ave are shorter than 300 m and left out
    assert sorted(out["street"]) == ["High St", "Side Rd"]
    side = out[out["street"] == "Side Rd"].iloc[0]
    assert side["crimes"] == 80 and side["extent"] == ""  # both its ends are dead ends
    assert out["rank"].tolist() == [1, 2] and out.iloc[0]["street"] == "Side Rd"
    assert set(out[out["street"] == "High St"]["rank_by_collisions"]) == {1}


def test_same_name_in_two_pieces_gives_two_corridors() -> None:
    segs, counts = _streets(
        [
            ("Long Rd", [(0, 0), (250, 0)], 1, 0),
            ("Long Rd", [(250, 0), (500, 0)], 1, 0),
            ("Long Rd", [(600, 0), (850, 0)], 4, 0),  # 100 m gap: no segment joins them
            ("Long Rd", [(850, 0), (1100, 0)], 0, 0),
        ]
    )
    out = build_corridors(segs, counts, type_names={"n_theft": "Theft"}, min_length_m=500)
    assert sorted(out["crimes"]) == [2, 4] and out["length_m"].tolist() == [500.0, 500.0]
    assert "collisions" not in out.columns  # no collision type in the data
    assert out["corridor_id"].nunique() == 2


def test_branch_continues_straight_and_unnamed_block_bridged() -> None:
    segs, _ = _streets(
        [
            ("Mill Ln", [(0, 0), (100, 0)], 1, 0),
            ("Mill Ln", [(100, 0), (200, 0)], 1, 0),
            ("Mill Ln", [(100, 0), (100, 100)], 1, 0),  # spur of the same name: a branch
            (None, [(200, 0), (300, 0)], 0, 0),  # one block no record named
            ("Mill Ln", [(300, 0), (400, 10)], 1, 0),
            (None, [(400, 10), (500, 10)], 0, 0),  # unnamed, with no Mill Ln beyond: not bridged
        ]
    )
    labels = corridor_labels(segs)
    main = labels["corridor"].iloc[[0, 1, 3, 4]]
    assert main.nunique() == 1 and labels["corridor"].iloc[2] != main.iloc[0]
    assert labels["corridor"].iloc[5] == -1
    assert sorted(labels["order"].iloc[[0, 1, 3, 4]]) == [0, 1, 2, 3]


def test_long_road_cut_into_nearly_equal_pieces() -> None:
    rows: list[tuple[str | None, list[tuple[float, float]], int, int]] = [
        ("Ring Rd", [(250.0 * i, 0.0), (250.0 * (i + 1), 0.0)], 1, 0) for i in range(28)
    ]
    segs, counts = _streets(rows)  # 7 km
    out = build_corridors(segs, counts, max_length_m=3000)
    assert len(out) == 3 and out["length_m"].sum() == pytest.approx(7000)
    assert out["length_m"].max() <= 3000 and out["length_m"].min() >= 2000
    pieces = [sorted(s.split(";")) for s in out["segment_ids"]]
    assert sorted(i for p in pieces for i in p) == sorted(segs["segment_id"])
    for p in pieces:  # each piece is one contiguous stretch
        idx = sorted(int(i[1:]) for i in p)
        assert idx == list(range(idx[0], idx[0] + len(idx)))
