"""Places of unsnapped records worked out on distinct records equal those of every record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hotspots import pipeline
from hotspots.analysis import location_ranks, rank
from hotspots.pipeline import ranking
from hotspots.read.datasets import get_path
from hotspots.space import cache


@pytest.fixture(scope="module")
def ranked(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> pipeline.Ranked:
    """One London month on the central streets: most records are not on a street segment."""
    tmp = tmp_path_factory.mktemp("places")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(cache.CACHE_ENV, str(tmp / "cache"))
        config = pipeline.RunConfig.from_options(
            crimes=[get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"],
            fmt="police-uk",
            areas=get_path("london_wards"),
            streets=get_path("london_streets_central"),
            out=tmp / "run",
            quiet=True,
        )
        return pipeline.rank_stages(config)


def test_places_of_distinct_records_equal_places_of_records(ranked: pipeline.Ranked) -> None:
    crimes = ranked.crimes
    off = crimes["segment_id"].isna().to_numpy()
    assert off.sum() > 10_000
    unsnapped = crimes.loc[off].drop(columns=["place", "place_key"])
    place = location_ranks.location_place(unsnapped)  # record by record
    pd.testing.assert_series_equal(crimes.loc[off, "place"], place, check_names=False)
    unsnapped["place"] = place
    type_cols = list(ranked.counts.columns[1:])
    locs = location_ranks.rank_locations(unsnapped, type_cols=type_cols)
    assert len(locs) > 100
    pd.testing.assert_frame_equal(ranked.locations, locs)
    # the keys found from the rows worked out with the places are the keys found afresh
    keys = ranking.place_keys(crimes.drop(columns="place_key"), ranked.hot_streets, locs)
    pd.testing.assert_series_equal(keys, crimes["place_key"], check_names=False)


def test_places_weights_stand_for_records(ranked: pipeline.Ranked) -> None:
    """Half the rows, each weighted 2, list the counts of the rows twice over."""
    crimes = ranked.crimes
    unsnapped = crimes.loc[crimes["segment_id"].isna()].drop(columns=["place_key"])
    type_cols = list(ranked.counts.columns[1:])
    once = location_ranks.rank_locations(unsnapped, type_cols=type_cols, min_crimes=2)
    twice = location_ranks.rank_locations(
        unsnapped, type_cols=type_cols, min_crimes=4, weights=np.full(len(unsnapped), 2)
    )
    assert (twice["crimes"].to_numpy() == 2 * once["crimes"].to_numpy()).all()


def test_count_columns_are_count_by_segment_columns(ranked: pipeline.Ranked) -> None:
    assert rank.count_columns(ranked.crimes["crime_type"]) == list(ranked.counts.columns[1:])


@pytest.mark.parametrize("categorical", [True, False])
def test_point_labels_by_codes_equal_the_grouped_labels(categorical: bool) -> None:
    """Points of interest numbered by codes get the labels grouping and merging gave."""
    rng = np.random.default_rng(3)
    m = 2000
    area = pd.Series(rng.choice(["E2", "E10", "W1", "É1"], m))
    if categorical:  # categories not in sorted order: sorted by their codes
        area = area.astype(pd.CategoricalDtype(["W1", "E2", "É1", "E10"]))
    texts = ["Nightclub", "Supermarket", "Zoo (station)", "a / b", "Éa", "nightclub"]
    pts = pd.DataFrame(
        {
            "a": area,
            "t": rng.choice(texts, m).astype(object),
            "x": rng.integers(0, 4, m) * 0.5 - 0.5,
            "y": rng.integers(0, 3, m) * 10.0,
            "w": rng.integers(1, 4, m),
        }
    )
    expected = location_ranks._grouped_point_labels(pts)  # grouping and merging
    area_codes = location_ranks._sort_codes(pts["a"])
    text_of, uniq = location_ranks.sorted_codes(pts["t"])
    found = location_ranks._point_labels(
        area_codes, text_of, uniq, pts["x"].to_numpy(), pts["y"].to_numpy(), pts["w"].to_numpy()
    )
    assert found.tolist() == expected.tolist()
    assert any(" (point 3 of " in str(v) for v in found)


def test_street_of_segments_goes_to_the_later_street() -> None:
    """A segment listed by two hot streets goes to the later; an id listed nowhere to none."""
    listed = pd.Series(["s1;s2", "s2;s3", "s9"], dtype="string")
    ids = pd.Index(["s1", "s2", "s3", "s4"], dtype="str")
    assert ranking._street_of_segments(listed, ids).tolist() == [0, 1, 1, -1]
    assert ranking._street_of_segments(listed[:0], ids).tolist() == [-1, -1, -1, -1]
