"""Street segments read beside the crimes are the segments read after them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely

from hotspots import pipeline
from hotspots.pipeline import ranking
from hotspots.read.datasets import get_path
from hotspots.space import cache


def _segments(tmp: Path, expected: str | None, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp / "cache"))
    monkeypatch.setattr(ranking, "_expected_crs", lambda config: expected)
    config = pipeline.RunConfig.from_options(
        crimes=[get_path("vancouver_crimes")],
        fmt="vancouver",
        start="2025-10",
        areas=get_path("vancouver_areas"),
        streets=get_path("vancouver_streets"),
        out=tmp / "run",
        quiet=True,
    )
    segs = pipeline.rank_stages(config).segments
    assert segs.crs.to_epsg() == 26910
    return pd.DataFrame(segs).assign(geometry=shapely.to_wkb(segs.geometry.to_numpy()))


@pytest.mark.parametrize("expected", ["EPSG:3857", None])
def test_segments_whatever_crs_was_expected(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected: str | None
) -> None:
    """A wrong guess of the crimes' CRS (or none) reads the segments again, in the right one."""
    right = _segments(tmp_path, "EPSG:26910", monkeypatch)
    pd.testing.assert_frame_equal(_segments(tmp_path, expected, monkeypatch), right)


def test_expected_crs_is_the_crimes_crs(data_root: Path) -> None:
    for fmt, crimes, epsg in (
        ("vancouver", get_path("vancouver_crimes"), 26910),
        ("police-uk", get_path("london_crimes"), 27700),
    ):
        config = pipeline.RunConfig.from_options(
            crimes=[crimes],
            fmt=fmt,
            areas=get_path("vancouver_areas"),
            streets=get_path("vancouver_streets"),
            out=Path("unused"),
        )
        assert ranking._expected_crs(config) == f"EPSG:{epsg}"
