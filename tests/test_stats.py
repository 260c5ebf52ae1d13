"""hotspots.analysis.weights and .stats: H3 and segment weights, BH q-values, Gi* vs esda."""

from __future__ import annotations

from pathlib import Path

import esda
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from shapely.geometry import LineString, MultiLineString

from hotspots.analysis import rank, stats, weights
from hotspots.errors import InputDataError
from hotspots.read.datasets import get_path
from hotspots.read.layers import read_streets
from hotspots.space import crs, grid, segments, snap

BNG = "EPSG:27700"
CENTRES = np.array([[530600.0, 181100.0], [532100.0, 182300.0], [531200.0, 183000.0]])


def _network() -> gpd.GeoDataFrame:
    # A-B share the end point (100, 0); C runs 60 m north of A and B; D lies 300 m east of B
    geoms = [
        LineString([(0, 0), (100, 0)]),
        LineString([(100, 0), (200, 0)]),
        LineString([(0, 60), (100, 60)]),
        LineString([(500, 0), (600, 0)]),
    ]
    return gpd.GeoDataFrame(
        {"segment_id": list("ABCD"), "length_m": 100.0}, geometry=geoms, crs=BNG
    )


def _flower() -> list[str]:
    """A res-9 cell in London and its six neighbours, sorted."""
    return sorted(h3.grid_disk(h3.latlng_to_cell(51.5, -0.12, 9), 1))


def planted(seed: int, n_noise: int = 3000, n_each: int = 150) -> gpd.GeoDataFrame:
    """Uniform points over 3 x 3 km plus three dense clusters (sd 30 m) at ``CENTRES``."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform([530000, 180500], [533000, 183500], size=(n_noise, 2))
    blobs = np.vstack([rng.normal(c, 30.0, size=(n_each, 2)) for c in CENTRES])
    xy = np.round(np.vstack([noise, blobs]), 2)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "crime_type": "Burglary"})
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=BNG)


# inputs -------------------------------------------------------------------------------------


def test_constant_values_are_refused() -> None:
    counts = pd.Series(3, index=pd.Index(_flower(), dtype="string"))
    with pytest.raises(InputDataError, match="not all equal; found all 7 equal to 3"):
        stats.gistar_cells(counts, permutations=0)


def test_missing_and_negative_values_are_listed_together() -> None:
    counts = pd.Series([1.0, -2, np.nan, 0, 4, 1, 2], index=_flower())
    with pytest.raises(InputDataError, match="1 missing; 1 negative"):
        stats.gistar_cells(counts, permutations=0)


def test_mixed_resolutions_are_refused() -> None:
    cells = [*_flower()[:3], h3.latlng_to_cell(51.5, -0.12, 8)]
    with pytest.raises(InputDataError, match="mixed resolutions \\[8, 9\\]"):
        weights.cell_weights(cells)


def test_alpha_must_be_a_class_level() -> None:
    with pytest.raises(InputDataError, match=r"`alpha` must be one of \[0.01, 0.05, 0.1\]"):
        stats.classify_gistar([1.0], [0.01], alpha=0.2)


def test_counts_must_be_indexed_like_segments() -> None:
    with pytest.raises(InputDataError, match="indexed like `segments`"):
        stats.gistar_streets(_network(), pd.Series([1, 2, 3]), permutations=0)


def test_segments_must_be_metric_linestrings() -> None:
    bad = _network()
    bad.loc[3, "geometry"] = MultiLineString([[(0, 0), (1, 1)]])
    with pytest.raises(InputDataError, match="1 MultiLineString rows"):
        weights.segment_weights(bad)
    with pytest.raises(InputDataError, match="not metres"):
        weights.segment_weights(_network().to_crs("EPSG:4326"))


def test_negative_distance_is_refused() -> None:
    with pytest.raises(InputDataError, match="0 or more; got -1"):
        weights.segment_weights(_network(), distance_m=-1)


def test_pvalues_outside_0_1_are_refused() -> None:
    with pytest.raises(InputDataError, match="Pass p-values, not z-scores"):
        stats.pvalues_to_qvalues([0.5, 1.96])


# outputs: weights ---------------------------------------------------------------------------


def test_hexagon_has_six_neighbours_and_ring_cells_three() -> None:
    cells = _flower()
    centre = h3.latlng_to_cell(51.5, -0.12, 9)
    w = weights.cell_weights(cells)
    assert w.cardinalities[centre] == 6
    assert set(w.neighbors[centre]) == set(cells) - {centre}
    # each outer cell of the flower touches the centre and the two outer cells beside it
    assert all(w.cardinalities[c] == 3 for c in cells if c != centre)
    assert all(v == 1.0 for ws in w.weights.values() for v in ws)


def test_pentagon_has_five_neighbours() -> None:
    pentagon = h3.get_pentagons(9)[0]
    w = weights.cell_weights(sorted(h3.grid_disk(pentagon, 1)))
    assert w.cardinalities[pentagon] == 5


def test_segment_neighbours_touching_versus_distance() -> None:
    def neighbours(distance_m: float) -> dict[str, list[str]]:
        w = weights.segment_weights(_network(), distance_m=distance_m)
        return {k: sorted(v) for k, v in w.neighbors.items()}

    assert neighbours(0) == {"A": ["B"], "B": ["A"], "C": [], "D": []}
    assert neighbours(100) == {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"], "D": []}
    assert neighbours(300)["D"] == ["B"]  # 300 m from B's end, 400 m from A


# outputs: inference -------------------------------------------------------------------------


def test_bh_qvalues_match_hand_computed() -> None:
    # sorted: 0.005 0.01 0.03 0.04 0.2 0.5 (m = 6); m p / k: 0.03 0.03 0.06 0.06 0.24 0.5;
    # running minimum from the largest down leaves them as they are
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2, np.nan]
    assert_allclose(stats.pvalues_to_qvalues(p), [0.03, 0.06, 0.06, 0.03, 0.5, 0.24, np.nan])
    # a step where the running minimum matters: m p / k = 0.08, 0.05 -> q = 0.05, 0.05
    assert_allclose(stats.pvalues_to_qvalues([0.04, 0.05]), [0.05, 0.05])


def test_classes_follow_the_formal_definition() -> None:
    z = pd.Series([3.0, 2.5, 1.8, 1.8, -3.0, -2.0, -1.7, 0.0, np.nan], index=list("abcdefghi"))
    q = pd.Series([0.01, 0.02, 0.06, 0.11, 0.001, 0.05, 0.09, 0.001, 0.001], index=z.index)
    got = stats.classify_gistar(z, q)
    assert got.index.equals(z.index) and got.dtype == stats.GISTAR_CLASS_DTYPE
    assert got.tolist() == [
        "Hot spot 99%",
        "Hot spot 95%",
        "Hot spot 90%",
        "Not significant",
        "Cold spot 99%",
        "Cold spot 95%",
        "Cold spot 90%",
        "Not significant",
        "Not significant",
    ]
    strict = stats.classify_gistar(z, q, alpha=0.05)
    assert strict["c"] == "Not significant" and strict["b"] == "Hot spot 95%"


def _lattice(n: int = 5) -> gpd.GeoDataFrame:
    """Streets of a square n x n block lattice, 100 m segments between junctions."""
    lines = [
        LineString([(i * 100, j * 100), (i * 100 + 100, j * 100)])
        for i in range(n)
        for j in range(n + 1)
    ]
    lines += [
        LineString([(j * 100, i * 100), (j * 100, i * 100 + 100)])
        for i in range(n)
        for j in range(n + 1)
    ]
    return gpd.GeoDataFrame(
        {"segment_id": [f"s{k:02d}" for k in range(len(lines))], "length_m": 100.0},
        geometry=lines,
        crs=BNG,
    )


def test_gistar_cells_matches_esda() -> None:
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(51.5, -0.12, 9), 3))
    y = np.random.default_rng(3).poisson(2.0, len(cells)).astype(float)
    got = stats.gistar_cells(pd.Series(y, index=cells), permutations=0, quiet=True)
    ref = esda.G_Local(y, weights.cell_weights(cells), transform="B", star=True, permutations=0)
    assert list(got.columns) == stats.GISTAR_COLUMNS
    assert_allclose(got["z"], ref.Zs, rtol=1e-10)
    assert_allclose(got["p"], 2 * ref.p_norm, rtol=1e-10)
    assert got["p_perm"].isna().all()
    assert sorted(set(got["neighbours"])) == [3, 4, 6]  # corners, edges, interior


def test_neighbourhood_covering_everything_gives_missing_z() -> None:
    cells = _flower()  # the centre's neighbourhood is all seven cells: Gi* is undefined
    got = stats.gistar_cells(
        pd.Series([1.0, 9, 2, 0, 4, 1, 3], index=cells), permutations=0, quiet=True
    )
    centre = h3.latlng_to_cell(51.5, -0.12, 9)
    assert np.isnan(got.loc[centre, "z"]) and got.loc[centre, "gi_class"] == "Not significant"
    assert got["z"].notna().sum() == 6


def test_gistar_streets_matches_esda_and_seeds_permutations() -> None:
    net = _lattice()
    y = pd.Series(np.random.default_rng(4).poisson(3.0, len(net)), index=net.index)
    got = stats.gistar_streets(net, y, distance_m=0, permutations=99, seed=1, quiet=True)
    ref = esda.G_Local(
        y.to_numpy(float),
        weights.segment_weights(net, distance_m=0),
        transform="B",
        star=True,
        permutations=0,
    )
    assert_allclose(got["z"], ref.Zs, rtol=1e-10)
    again = stats.gistar_streets(net, y, distance_m=0, permutations=99, seed=1, quiet=True)
    assert_allclose(got["p_perm"], again["p_perm"])
    assert got["p_perm"].between(0.02, 1).all()  # 2 x (1 / 100) at the smallest


def test_per_100m_uses_the_length_floor() -> None:
    net = _network().assign(length_m=[100.0, 100.0, 20.0, 100.0])
    got = stats.gistar_streets(
        net, pd.Series([4, 2, 1, 0]), per_100m=True, permutations=0, quiet=True
    )
    assert got["value"].tolist() == [4.0, 2.0, 2.0, 0.0]  # 1 crime on 20 m -> floor 50 m


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_hotspots_are_found_with_no_false_hexagons(seed: int) -> None:
    crimes = planted(seed)
    counts = grid.count_by_cell(crimes, quiet=True)
    res = h3.get_resolution(counts.index[0])
    gi = stats.gistar_cells(counts, permutations=0, quiet=True)
    hot = gi.index[gi["gi_class"].astype(str).str.startswith("Hot")]
    centres = [
        h3.latlng_to_cell(la, lo, res)
        for lo, la in gpd.GeoSeries(gpd.points_from_xy(*CENTRES.T), crs=BNG)
        .to_crs(4326)
        .get_coordinates()
        .to_numpy()
    ]
    assert (gi.loc[centres, "gi_class"] == "Hot spot 99%").all()
    # bound: no hot hexagon more than two rings from a planted centre, and no cold spot
    rings = np.array([min(h3.grid_distance(h, c) for c in centres) for h in hot])
    assert (rings <= 2).all()
    assert not gi["gi_class"].astype(str).str.startswith("Cold").any()


# real data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def london_segments(
    london_month: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    crimes, _ = london_month
    streets = crs.to_metric_crs(read_streets(get_path("london_streets")), crimes.crs, quiet=True)
    segs = segments.lines_to_segments(streets, quiet=True)
    return crimes.join(snap.snap_to_streets(crimes, segs, quiet=True)), segs


def test_real_london_month_streets(
    london_segments: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
) -> None:
    crimes, segs = london_segments
    got = stats.gistar_streets(
        segs, rank.count_by_segment(crimes, segs), permutations=99, quiet=True
    )
    assert got.index.equals(segs.index) and list(got.columns) == stats.GISTAR_COLUMNS
    hot = got["gi_class"].astype(str).str.startswith("Hot")
    assert 0 < hot.sum() < 0.2 * len(got)
    assert got.loc[hot, "value"].mean() > got["value"].mean()


def test_real_vancouver_cells(vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    crimes, _ = vancouver
    counts = grid.count_by_cell(crimes, resolution=9, quiet=True)
    got = stats.gistar_cells(counts, permutations=99, quiet=True)
    assert got.index.equals(counts.index)
    assert (got["gi_class"] == "Hot spot 99%").sum() > 10
    assert got["q"].ge(got["p"] - 1e-12).all()  # BH never lowers a p-value


def test_neighbour_search_in_slices_finds_the_same_pairs() -> None:
    import shapely

    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 5000, (6000, 2))
    lines = shapely.linestrings(np.stack([starts, starts + rng.uniform(-60, 60, (6000, 2))], 1))
    one = shapely.STRtree(lines).query(lines, predicate="dwithin", distance=100.0)
    left, right = weights._pairs_within(lines, 100.0)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == set(
        zip(one[0].tolist(), one[1].tolist(), strict=True)
    )
    assert len(left) == len(one[0])


def test_segment_adjacency_is_read_back_from_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second call on the same segments reads the kept matrix; other segments miss it."""
    segs = _network()
    fresh = weights.segment_adjacency(segs, 70.0)
    first = weights.segment_adjacency(segs, 70.0, cache=tmp_path)
    assert (first != fresh).nnz == 0
    files = list((tmp_path / "adjacency").glob("*.npz"))
    assert len(files) == 1

    def refuse(*args: object) -> None:
        msg = "built again"
        raise AssertionError(msg)

    monkeypatch.setattr(weights, "_segment_adjacency", refuse)
    again = weights.segment_adjacency(segs, 70.0, cache=tmp_path)
    assert (again != fresh).nnz == 0 and again.format == "csr"
    for other, dist in ((segs, 50.0), (segs.iloc[:3], 70.0)):  # another distance or layer
        with pytest.raises(AssertionError, match="built again"):
            weights.segment_adjacency(other, dist, cache=tmp_path)
    monkeypatch.undo()
    files[0].write_bytes(b"not a matrix")  # unreadable: built again and rewritten
    assert (weights.segment_adjacency(segs, 70.0, cache=tmp_path) != fresh).nnz == 0
    assert (weights.segment_adjacency(segs, 70.0, cache=tmp_path) != fresh).nnz == 0
    assert files[0].read_bytes() != b"not a matrix"
