"""Street segments read beside the crimes are the segments read after them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import pipeline
from hotspots.pipeline import ranking
from hotspots.read.datasets import get_path
from hotspots.space import cache, snap


def _ranked(
    tmp: Path, expected: str | None, monkeypatch: pytest.MonkeyPatch, *, start: str = "2025-10"
) -> ranking.Ranked:
    """The run's stages up to ranking on Vancouver, the crimes' CRS guessed as ``expected``."""
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp / "cache"))
    monkeypatch.setattr(ranking, "_expected_crs", lambda config: expected)
    config = pipeline.RunConfig.from_options(
        crimes=[get_path("vancouver_crimes")],
        fmt="vancouver",
        start=start,
        areas=get_path("vancouver_areas"),
        streets=get_path("vancouver_streets"),
        out=tmp / "run",
        quiet=True,
    )
    return pipeline.rank_stages(config)


def _segments(tmp: Path, expected: str | None, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    segs = _ranked(tmp, expected, monkeypatch).segments
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


def test_run_snaps_the_located_points_ahead(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run snaps the reader's projected points while it assembles the table: same answers."""
    columns = ["segment_id", "snap_distance_m", "place", "place_key"]
    after = _ranked(tmp_path, None, monkeypatch, start="2025-07").crimes[columns]  # not ahead
    _ranked(tmp_path, "EPSG:26910", monkeypatch, start="2025-07")  # the segment cache written
    calls: list[int] = []
    snap_points = snap.snap_points

    def counted(x: np.ndarray, y: np.ndarray, *args: object, **kw: float) -> snap.SnappedPoints:
        calls.append(len(x))
        return snap_points(x, y, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(snap, "snap_points", counted)
    ahead = _ranked(tmp_path, "EPSG:26910", monkeypatch, start="2025-07").crimes[columns]
    assert len(calls) == 1 and calls[0] > 1000  # the projected points of the rows read
    pd.testing.assert_frame_equal(pd.DataFrame(ahead), pd.DataFrame(after))
