"""Tests of the fast paths for distinct locations: the area join at read time, the binned
point-in-area lookup, numbered locations and repeated-id keys, each against the plain way."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from hotspots.errors import InputDataError
from hotspots.read import canonical, duplicates
from hotspots.read.canonical import stack_frames, unify_categories
from hotspots.read.crimes import read_crimes
from hotspots.read.datasets import get_path
from hotspots.read.duplicates import FileIdKeys, repeated_across_files, repeated_ids
from hotspots.rejects import REASON_OUTSIDE
from hotspots.space import locations
from hotspots.space.areas import join_areas


def _plain_lookup(x: np.ndarray, y: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """Lowest-index polygon intersecting each point, one GEOS test per point."""
    pi, ai = shapely.STRtree(polys).query(shapely.points(x, y), predicate="intersects")
    return locations.first_match(len(x), pi, ai)


def test_binned_lookup_equals_per_point_on_real_wards(
    london_wards: gpd.GeoDataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = london_wards.total_bounds
    x = rng.uniform(x0 - 500, x1 + 500, 60_000)
    y = rng.uniform(y0 - 500, y1 + 500, 60_000)
    polys = london_wards.geometry.to_numpy()
    edge = shapely.get_coordinates(polys[0].exterior)[:50]  # points exactly on a ward edge
    x, y = np.concatenate([x, edge[:, 0]]), np.concatenate([y, edge[:, 1]])
    monkeypatch.setattr(locations, "_GRID_FROM", 0)  # force the binned path
    monkeypatch.setattr(locations, "_CHUNK", 7_000)  # and several parallel chunks
    got = locations.polygon_of_points(x, y, polys)
    np.testing.assert_array_equal(got, _plain_lookup(x, y, polys))
    assert (got >= 0).any() and (got < 0).any()


def test_binned_lookup_shared_edge_goes_to_lower_index(monkeypatch: pytest.MonkeyPatch) -> None:
    polys = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100)])
    x = np.array([100.0, 50.0, 150.0, 250.0, np.nan])
    y = np.array([50.0, 50.0, 50.0, 50.0, 50.0])
    monkeypatch.setattr(locations, "_GRID_FROM", 0)
    assert locations.polygon_of_points(x, y, polys).tolist() == [0, 0, 1, -1, -1]


@pytest.mark.e2e
def test_area_join_while_reading_equals_join_after(london_wards: gpd.GeoDataFrame) -> None:
    folder = get_path("london_crimes")
    files = [folder / f"2017-{m}-metropolitan-street.csv.gz" for m in ("11", "12")]
    c1, r1 = read_crimes(files, quiet=True, areas=london_wards)
    c0, r0 = join_areas(*read_crimes(files, quiet=True), london_wards)
    cols = [c for c in c0.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(c1[cols]), pd.DataFrame(c0[cols]).reset_index(drop=True)
    )
    assert c1.geometry.reset_index(drop=True).geom_equals(c0.geometry.reset_index(drop=True)).all()
    key = ["source_file", "source_row", "reason"]
    assert sorted(map(tuple, r1[key].astype(str).to_numpy())) == sorted(
        map(tuple, r0[key].astype(str).to_numpy())
    )
    assert (r1["reason"] == REASON_OUTSIDE).sum() > 0  # the join rejected something


def test_no_crime_inside_the_areas_is_an_error(tmp_path: Path) -> None:
    folder = get_path("london_crimes")
    far = gpd.GeoDataFrame(
        {"area_code": ["X"], "area_name": ["Nowhere"]}, geometry=[box(0, 0, 1000, 1000)], crs=27700
    )
    with pytest.raises(InputDataError, match="no crime falls inside the area layer"):
        read_crimes([folder / "2017-12-metropolitan-street.csv.gz"], quiet=True, areas=far)


def test_point_id_numbers_locations_and_is_checked_against_xy() -> None:
    folder = get_path("london_crimes")
    crimes, _ = read_crimes([folder / "2017-12-metropolitan-street.csv.gz"], quiet=True)
    codes, ux, uy = locations.distinct_points(crimes)
    ref_codes, rx, ry = locations.factorize_xy(crimes["x"].to_numpy(), crimes["y"].to_numpy())
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(ux, rx)
    np.testing.assert_array_equal(uy, ry)
    moved = crimes.assign(x=crimes["x"] + (np.arange(len(crimes)) % 2))  # point_id now stale
    codes2, ux2, _ = locations.distinct_points(moved)
    np.testing.assert_array_equal(ux2[codes2], moved["x"].to_numpy())


@pytest.mark.parametrize("dtype", ["str", "object"])
def test_repeated_id_keys_equal_text_comparison(dtype: str) -> None:
    rng = np.random.default_rng(5)
    mixed = ["", "a" * 16, "b" * 16, "x" * 20, "c" * 64]  # lengths differ: compared as text
    same_key = [
        "",
        "a" * 8 + "XXXX" + "b" * 8,
        "a" * 8 + "YYYY" + "b" * 8,  # one 64-bit key
        "b" * 8 + "XXXX" + "a" * 8,
        "a" * 8 + "XXXY" + "b" * 8,
    ]
    for i in range(200):
        pool = mixed if i % 2 else same_key
        vals = [pool[i] for i in rng.integers(0, len(pool), rng.integers(1, 40))]
        ids = pd.concat(
            [
                pd.Series(vals[: len(vals) // 2], dtype=dtype),
                pd.Series(vals[len(vals) // 2 :], dtype=dtype),
            ],
            ignore_index=True,
        )
        named = (ids != "").to_numpy()
        got = duplicates._first_row_of_same_id(ids)[named]
        want = duplicates._first_row_by_text(ids)[named]
        np.testing.assert_array_equal(got, want)


def _first_file_repeats(files: list[list[str]]) -> list[bool]:
    """Plain Python: is each row's non-empty id already in an earlier file?"""
    first_file: dict[str, int] = {}
    out = []
    for f, ids in enumerate(files):
        for i in ids:
            out.append(i != "" and first_file.setdefault(i, f) != f)
    return out


def test_repeats_across_files_from_keys_equal_plain_python() -> None:
    rng = np.random.default_rng(7)
    same_key = [
        "",
        "a" * 8 + "XXXX" + "b" * 8,
        "a" * 8 + "YYYY" + "b" * 8,  # one 64-bit key
        "b" * 8 + "XXXX" + "a" * 8,
        "a" * 8 + "XXXY" + "b" * 8,
    ]
    distinct = [f"{i:020d}" for i in range(30)]
    for trial in range(150):
        pool = same_key if trial % 2 else distinct
        files = [
            [pool[j] for j in rng.integers(0, len(pool), rng.integers(0, 25))]
            for _ in range(rng.integers(1, 5))
        ]
        frames = [
            pd.DataFrame({"crime_id": pd.Series(f, dtype="str"), "source_file": f"{k}.csv"})
            for k, f in enumerate(files)
        ]
        keys = [FileIdKeys.of(f["crime_id"]) for f in frames]
        ids = stack_frames(
            unify_categories(
                [f.assign(source_file=pd.Categorical(f["source_file"])) for f in frames]
            )
        )
        got = repeated_across_files(ids, keys)
        assert got is not None
        assert got.tolist() == _first_file_repeats(files)
        assert repeated_ids(ids, across_files_only=True).tolist() == got.tolist()


@pytest.mark.parametrize("n_gone", [0, 1, 5, canonical._MAX_SLICES + 1, 199])
def test_stack_equals_concat_then_mask(n_gone: int) -> None:
    """Joining frames column by column and dropping rows (text cut into zero-copy slices
    or filtered) gives pd.concat(...)[keep]."""
    rng = np.random.default_rng(n_gone)
    frames = []
    for size in (0, 120, 80):
        ids = pd.Series([f"id{i}" if i % 7 else "" for i in range(size)], dtype="str")
        frames.append(
            pd.DataFrame(
                {
                    "crime_id": ids,
                    "x": rng.normal(size=size),
                    "crime_type": pd.Categorical(
                        rng.choice(["a", "b"], size), categories=["a", "b"]
                    ),
                }
            )
        )
    keep = np.ones(200, dtype=bool)
    keep[rng.choice(200, n_gone, replace=False)] = False
    got = stack_frames(frames, keep=keep)
    want = pd.concat(frames, ignore_index=True)[keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("arrow_rows", [locations.ARROW_HASH_ROWS, 0])
def test_factorize_xy_equals_pandas_factorize_of_pairs(
    arrow_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codes in order of first row, -0.0 as 0.0, each missing pattern as pandas counts it
    (hashed by Arrow, and by pandas as for tables over ``ARROW_HASH_ROWS`` rows)."""
    monkeypatch.setattr(locations, "ARROW_HASH_ROWS", arrow_rows)
    rng = np.random.default_rng(3)
    pool = np.array([0.0, -0.0, 1.5, np.nan, -np.nan, 2.0, -3.25])
    for _ in range(50):
        n = int(rng.integers(0, 300))
        x, y = rng.choice(pool, n), rng.choice(pool, n)
        codes, ux, uy = locations.factorize_xy(x, y)
        pairs = (x + 0.0) + 1j * 0.0
        pairs.imag = y + 0.0
        want_codes, want = pd.factorize(pairs, use_na_sentinel=False)
        np.testing.assert_array_equal(codes, want_codes)
        np.testing.assert_array_equal(ux, want.real)
        np.testing.assert_array_equal(uy, want.imag)


def test_unify_categories_keeps_values_and_sorts_the_union() -> None:
    rng = np.random.default_rng(9)
    words = ["On or near A", "On or near B", "Zeta", "alpha", "Ünïcode", "B"]
    for _ in range(30):
        frames = []
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(0, 12))
            vals = [words[i] if i < len(words) else None for i in rng.integers(0, 7, n)]
            frames.append(pd.DataFrame({"location": pd.Categorical(vals), "x": np.arange(n)}))
        out = unify_categories(frames)
        union = sorted({w for f in frames for w in f["location"].dropna()})
        for before, after in zip(frames, out, strict=True):
            assert list(after["location"].cat.categories) == union
            assert (
                after["location"].astype(object).where(after["location"].notna(), None).tolist()
                == before["location"]
                .astype(object)
                .where(before["location"].notna(), None)
                .tolist()
            )
