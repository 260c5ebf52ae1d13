"""Tests of hotspots.space.segments: junction splitting, length bound and stable ids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString

from hotspots.read.datasets import get_path
from hotspots.read.layers import read_streets
from hotspots.space import crs, segments


def _streets(lines: list[LineString], names: list[str | None] | None = None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "source_id": [str(i) for i in range(len(lines))],
            "street_name": names or [None] * len(lines),
        },
        geometry=lines,
        crs=27700,
    )


# outputs ------------------------------------------------------------------------------------


def test_split_at_shared_vertex_only() -> None:
    # A runs west-east with a vertex at (50, 0) where B (north-south) starts: a T junction.
    a = LineString([(0, 0), (50, 0), (100, 0)])
    b = LineString([(50, 0), (50, 80)])
    # C crosses A at (80, 0) without a shared vertex: a bridge, not a junction.
    c = LineString([(80, -30), (80, 30)])
    seg = segments.lines_to_segments(_streets([a, b, c]), quiet=True)
    assert sorted(seg["length_m"].tolist()) == [50.0, 50.0, 60.0, 80.0]
    assert sorted(seg["source_id"].tolist()) == ["0", "0", "1", "2"]


def test_long_links_are_cut() -> None:
    seg = segments.lines_to_segments(
        _streets([LineString([(0, 0), (1000, 0)])]), max_length_m=250, quiet=True
    )
    assert seg["length_m"].tolist() == [250.0] * 4
    assert seg.geometry.union_all().length == pytest.approx(1000)


def test_ids_stable_under_row_order() -> None:
    lines = [
        LineString([(0, 0), (50, 0), (100, 0)]),
        LineString([(50, 0), (50, 80)]),
        LineString([(200, 0), (900, 0)]),
    ]
    one = segments.lines_to_segments(_streets(lines), quiet=True)
    two = segments.lines_to_segments(_streets(lines[::-1]), quiet=True)
    assert one["segment_id"].tolist() == two["segment_id"].tolist()
    assert one["segment_id"].is_unique


def test_real_london_streets(data_root: object) -> None:
    streets = crs.to_metric_crs(read_streets(get_path("london_streets")), crs.BRITISH_NATIONAL_GRID)
    seg = segments.lines_to_segments(streets, quiet=True)
    # SOURCES.md: about 949 km of street; splitting must not lose or add length
    assert seg["length_m"].sum() / 1000 == pytest.approx(streets.length.sum() / 1000, rel=0.01)
    assert seg["length_m"].max() <= segments.DEFAULT_MAX_LENGTH_M + 0.01
    assert seg["segment_id"].is_unique and len(seg) > len(streets)
    assert list(seg.columns) == ["segment_id", "source_id", "street_name", "length_m", "geometry"]
    assert np.all(seg["segment_id"].to_numpy()[:-1] < seg["segment_id"].to_numpy()[1:])
