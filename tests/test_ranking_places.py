"""The places of unsnapped records worked out beside the run give what one process gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hotspots import pipeline
from hotspots.analysis import rank
from hotspots.pipeline import ranking
from hotspots.read.datasets import get_path
from hotspots.space import cache


def _ranked(tmp: Path, beside_from: int, monkeypatch: pytest.MonkeyPatch) -> pipeline.Ranked:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp / "cache"))
    monkeypatch.setattr(ranking, "PLACES_BESIDE_FROM", beside_from)
    config = pipeline.RunConfig.from_options(
        crimes=[get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"],
        fmt="police-uk",
        areas=get_path("london_wards"),
        streets=get_path("london_streets_central"),
        out=tmp / "run",
        quiet=True,
    )
    return pipeline.rank_stages(config)


def test_places_beside_equal_places_here(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _ranked(tmp_path, 10**12, monkeypatch)
    beside = _ranked(tmp_path, 0, monkeypatch)
    assert here.crimes["segment_id"].isna().sum() > 10_000  # most records are not snapped
    for col in ("place", "place_key"):
        pd.testing.assert_series_equal(beside.crimes[col], here.crimes[col])
    pd.testing.assert_frame_equal(beside.locations, here.locations)
    assert len(here.locations) > 100
    # the keys found from the precomputed rows are the keys found from the places
    assert ranking.place_keys(here.crimes, here.hot_streets, here.locations).equals(
        here.crimes["place_key"]
    )
    # the count columns known before counting are count_by_segment's
    assert rank.count_columns(here.crimes["crime_type"]) == list(here.counts.columns[1:])
