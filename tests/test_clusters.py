"""hotspots.analysis.clusters: DBSCAN/HDBSCAN labels, cluster summaries, repeat locations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString
from sklearn.cluster import DBSCAN

from hotspots.analysis import clusters, repeats
from hotspots.errors import InputDataError
from hotspots.read.datasets import get_path
from hotspots.read.layers import read_streets
from hotspots.space import crs, segments, snap

BNG = "EPSG:27700"
CENTRES = np.array([[530600.0, 181100.0], [532100.0, 182300.0], [531200.0, 183000.0]])


def planted(
    seed: int, n_noise: int = 3000, n_each: int = 150
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Uniform points over 3 x 3 km plus three clusters (sd 30 m); source -1 = noise, 0-2."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform([530000, 180500], [533000, 183500], size=(n_noise, 2))
    blobs = np.vstack([rng.normal(c, 30.0, size=(n_each, 2)) for c in CENTRES])
    xy = np.round(np.vstack([noise, blobs]), 2)
    df = pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "crime_type": "Burglary",
            "month": "2017-01",
            "location": "On or near High Street",
        }
    )
    source = np.r_[np.full(n_noise, -1), np.repeat(np.arange(3), n_each)]
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=BNG), source


def _table(rows: list[tuple[float, float, str, str, str]]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["x", "y", "month", "crime_type", "location"])
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=BNG)


def _small() -> gpd.GeoDataFrame:
    # two tight groups 1 km apart: 6 crimes on two points at (0, 0)/(10, 0), 4 at (1000, 0)
    rows = (
        [(0.0, 0.0, "2017-01", "Burglary", "On or near Mill Lane")] * 3
        + [(10.0, 0.0, "2017-03", "Robbery", "On or near Mill Lane")] * 2
        + [(10.0, 0.0, "2017-02", "Burglary", "On or near Supermarket")]
        + [(1000.0, 0.0, "2017-02", "Drugs", "On or near Park Road")] * 4
        + [(5000.0, 0.0, "2017-02", "Drugs", "On or near Far Away")]
    )
    return _table(rows)


# inputs -------------------------------------------------------------------------------------


def test_options_are_checked_together() -> None:
    crimes, _ = planted(0, 50, 10)
    with pytest.raises(InputDataError, match=r"'optics'.*`eps_m` must be a positive.*got -5"):
        clusters.cluster_points(crimes, method="optics", eps_m=-5)  # type: ignore[arg-type]


def test_missing_coordinates_are_refused() -> None:
    crimes = _small()
    crimes.loc[0, "x"] = np.nan
    with pytest.raises(InputDataError, match="found 1 rows with missing x/y"):
        clusters.cluster_points(crimes)


def test_labels_must_match_crimes() -> None:
    with pytest.raises(InputDataError, match="indexed like `crimes`"):
        clusters.summarise_clusters(_small(), pd.Series([0, 0]))


def test_min_count_below_two_is_refused() -> None:
    with pytest.raises(InputDataError, match="2 or more; got 1"):
        repeats.repeat_locations(_small(), min_count=1)


# outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dbscan_finds_the_planted_clusters_and_no_others(seed: int) -> None:
    crimes, source = planted(seed)
    labels = clusters.cluster_points(crimes, quiet=True)
    assert labels.index.equals(crimes.index) and labels.dtype == "int64"
    found = [labels[source == k].value_counts() for k in range(3)]
    # each planted cluster lies (>= 95%) in one cluster of its own ...
    assert all(f.index[0] >= 0 and f.iloc[0] >= 0.95 * 150 for f in found)
    assert len({int(f.index[0]) for f in found}) == 3
    # ... and the bound: no cluster made of noise alone (exactly three clusters), and
    # fewer than 5% of the noise points swept in as border points
    assert labels.max() + 1 == 3
    assert (labels[source == -1] >= 0).mean() < 0.05


def test_hdbscan_finds_the_planted_clusters() -> None:
    crimes, source = planted(0)
    labels = clusters.cluster_points(crimes, method="hdbscan", quiet=True)
    found = [labels[source == k].value_counts() for k in range(3)]
    assert all(f.index[0] >= 0 and f.iloc[0] >= 0.9 * 150 for f in found)
    # HDBSCAN also cuts uniform noise into clusters; the planted ones are still the largest
    assert {int(f.index[0]) for f in found} == {0, 1, 2}


def test_weighted_locations_equal_dbscan_on_every_crime() -> None:
    crimes, _ = planted(3, 400, 60)
    crimes = pd.concat([crimes, crimes.iloc[::7]], ignore_index=True)  # repeat some points
    labels = clusters.cluster_points(crimes, eps_m=60, min_samples=12, quiet=True)
    direct = DBSCAN(eps=60, min_samples=12).fit_predict(crimes[["x", "y"]].to_numpy())
    # same partition (numbering differs); a border point may go either way, so compare cores
    pairs = pd.crosstab(labels.to_numpy(), direct)
    assert (pairs.gt(0).sum(axis=1).drop(-1, errors="ignore") == 1).all()
    assert labels.max() == direct.max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blockwise_dbscan_equals_scikit_learn(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # whole-metre points (exact distance ties at eps), weights, many clusters sharing border
    # points, and blocks much smaller than the data
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 300, size=(25, 2))
    xy = np.unique(
        np.round(centres[rng.integers(0, 25, 4000)] + rng.normal(0, 8, size=(4000, 2))), axis=0
    )
    weights = rng.integers(1, 6, len(xy))
    monkeypatch.setattr(clusters, "DBSCAN_BLOCK", 97)
    for eps, min_samples in ((2.0, 8), (5.0, 40), (3.0, 20)):
        expected = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(xy, sample_weight=weights)
        assert expected.max() > 3
        got = clusters._dbscan(xy, weights, eps, min_samples)
        np.testing.assert_array_equal(got, expected)


def test_clusters_are_numbered_by_crimes() -> None:
    labels = clusters.cluster_points(_small(), eps_m=50, min_samples=4, quiet=True)
    assert labels.tolist() == [0] * 6 + [1] * 4 + [-1]


def test_summary_of_two_clusters() -> None:
    crimes = _small()
    labels = clusters.cluster_points(crimes, eps_m=50, min_samples=4, quiet=True)
    table = clusters.summarise_clusters(crimes, labels)
    assert list(table.columns) == clusters.CLUSTER_COLUMNS and table.crs == BNG
    first = table.iloc[0]
    assert (first["cluster_id"], first["crimes"], first["locations"]) == (0, 6, 2)
    assert first["top_types"] == "Burglary 67%; Robbery 33%"
    assert first["streets"] == "Mill Lane"  # "Supermarket" is a point of interest
    assert (first["first_month"], first["last_month"]) == ("2017-01", "2017-03")
    assert table.iloc[1]["streets"] == "Park Road" and table.iloc[1]["segment_ids"] == ""
    assert table.geometry.contains(gpd.GeoSeries.from_xy([0, 1000], [0, 0], crs=BNG)).all()
    assert table.loc[1, "area_m2"] == pytest.approx(np.pi * 25**2, rel=0.02)  # 25 m buffer


def test_summary_streets_from_segments() -> None:
    crimes = _small()
    labels = clusters.cluster_points(crimes, eps_m=50, min_samples=4, quiet=True)
    lines = [
        LineString([(-50, 5), (50, 5)]),
        LineString([(990, -9), (990, 9)]),
        LineString([(3000, 0), (3100, 0)]),
    ]
    segs = gpd.GeoDataFrame(
        {"segment_id": ["a", "b", "c"], "street_name": ["Mill Lane", None, "Far Road"]},
        geometry=lines,
        crs=BNG,
    )
    table = clusters.summarise_clusters(crimes, labels, segs)
    assert table["segment_ids"].tolist() == ["a", "b"]
    assert table["streets"].tolist() == ["Mill Lane", "Park Road"]  # b has no name: text


def test_repeat_locations_small_case() -> None:
    table = repeats.repeat_locations(_small(), min_count=3)
    assert list(table.columns) == repeats.REPEAT_COLUMNS
    rows = table[["x", "crimes", "months"]].to_numpy().tolist()
    assert rows == [[1000, 4, 1], [0, 3, 1], [10, 3, 2]]
    row = table.iloc[2]
    assert row["location"] == "On or near Mill Lane"  # 2 of its 3 crimes
    assert (row["first_month"], row["last_month"]) == ("2017-02", "2017-03")
    assert row["top_types"] == "Robbery 67%; Burglary 33%"
    assert table["area_code"].isna().all() and table.geometry.x.tolist() == [1000, 0, 10]


def test_repeat_locations_default_is_one_a_month(caplog: pytest.LogCaptureFixture) -> None:
    crimes = _table([(0.0, 0.0, f"2017-{m:02d}", "Drugs", "X") for m in range(1, 13)] * 2)
    with caplog.at_level("INFO", logger="hotspots"):
        assert len(repeats.repeat_locations(crimes)) == 1  # 24 crimes over 12 months >= 12
    assert "at least 12 crimes" in caplog.text


# real data ----------------------------------------------------------------------------------


def test_real_london_month(london_month: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    crimes, _ = london_month
    streets = crs.to_metric_crs(read_streets(get_path("london_streets")), crimes.crs, quiet=True)
    segs = segments.lines_to_segments(streets, quiet=True)
    crimes = crimes.join(snap.snap_to_streets(crimes, segs, quiet=True))
    labels = clusters.cluster_points(crimes, quiet=True)
    table = clusters.summarise_clusters(crimes, labels, segs)
    assert len(table) == labels.max() + 1 > 10
    assert table["crimes"].is_monotonic_decreasing
    assert table["crimes"].sum() == (labels >= 0).sum()
    assert table.loc[0, "streets"].startswith("Oxford Street")  # the West End cluster
    assert len(table.loc[0, "segment_ids"].split(";")) > 100
    repeat = repeats.repeat_locations(crimes, quiet=True)
    assert repeat["crimes"].is_monotonic_decreasing and repeat["crimes"].min() >= 10


def test_real_vancouver(vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    crimes, _ = vancouver
    recent = crimes[crimes["month"] >= "2025-07"]
    labels = clusters.cluster_points(recent, quiet=True)
    table = clusters.summarise_clusters(recent, labels)
    assert len(table) > 0 and table["streets"].str.len().gt(0).all()
    assert repeats.repeat_locations(recent, quiet=True)["crimes"].min() >= 10


def test_no_cluster_gives_an_empty_table() -> None:
    crimes = _small()
    table = clusters.summarise_clusters(crimes, pd.Series(-1, index=crimes.index))
    assert table.empty and list(table.columns) == clusters.CLUSTER_COLUMNS and table.crs == BNG


def test_distinct_locations_from_point_ids_equal_hashing_every_row() -> None:
    """The reader's point ids give the points, codes and counts of hashing each row's x/y."""
    from hotspots.read import crimes as io
    from hotspots.space.grid import distinct_xy, unique_xy

    path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    table, _ = io.read_crimes([path], quiet=True)
    table = table[table["x"].notna()].reset_index(drop=True)
    assert "point_id" in table.columns
    split = table.assign(point_id=np.where(np.arange(len(table)) % 2, table["point_id"], -7))
    split["point_id"] = split["point_id"].where(split["point_id"] >= 0, split["point_id"].max() + 1)
    for frame in (table, split, table.drop(columns="point_id")):
        want = unique_xy(frame["x"].to_numpy(float), frame["y"].to_numpy(float))
        for got in (
            clusters.distinct_locations(frame),
            clusters.distinct_locations(frame, distinct_xy(frame)),
        ):
            assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
