"""The study geometry cache: the same numbers from the cache as built, and read back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.evaluate import cells, geometry_cache, units
from hotspots.evaluate.study import segments_to_study_area
from hotspots.read.datasets import get_path
from hotspots.space.cache import cached_segments


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Real central London segments and crimes on them, plus one far off every street."""
    folder = tmp_path_factory.mktemp("segments")
    segs = cached_segments(
        get_path("london_streets_central"), crs="EPSG:27700", cache=folder, quiet=True
    )
    rng = np.random.default_rng(3)
    rows = rng.choice(len(segs), 400, replace=False)
    pts = shapely.line_interpolate_point(
        segs.geometry.to_numpy()[rows], rng.random(400), normalized=True
    )
    xy = np.vstack([shapely.get_coordinates(pts), shapely.get_coordinates(pts)[:1] + 5_000])
    ev = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "seg": np.r_[rows, rows[0]]})
    return segs, ev


def test_cached_array_reads_back_and_rebuilds_an_unreadable_file(tmp_path: Path) -> None:
    calls = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.array([0.1, 0.2])

    first = geometry_cache.cached_array("t", ["x", b"\x00"], build, tmp_path)
    again = geometry_cache.cached_array("t", ["x", b"\x00"], build, tmp_path)
    assert len(calls) == 1 and np.array_equal(first, again)
    geometry_cache.cached_array("t", ["y"], build, tmp_path)  # another key: built
    assert len(calls) == 2
    for file in (tmp_path / "study").glob("*.npy"):
        file.write_bytes(b"not an array")
    assert geometry_cache.cached_array("t", ["x", b"\x00"], build, tmp_path).tolist() == [0.1, 0.2]
    assert len(calls) == 3
    assert geometry_cache.cached_array("t", ["x"], build, None).tolist() == [0.1, 0.2]


def test_files_unused_for_long_are_removed_when_a_new_one_is_written(tmp_path: Path) -> None:
    """A read marks its file used; a write removes the files unused for UNUSED_DAYS."""
    calls = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.arange(2.0)

    for key in ("a", "b"):
        geometry_cache.cached_array("t", [key], build, tmp_path)
    files = sorted((tmp_path / "study").glob("*.npy"))
    assert len(files) == 2
    long_ago = time.time() - (geometry_cache.UNUSED_DAYS + 1) * 86_400
    for file in files:
        os.utime(file, (long_ago, long_ago))
    used = geometry_cache.cached_array("t", ["a"], build, tmp_path)  # read back: marked used
    assert len(calls) == 2 and used.tolist() == [0.0, 1.0]
    kept_a = [f for f in files if f.stat().st_mtime > long_ago]
    assert len(kept_a) == 1
    geometry_cache.cached_array("t", ["c"], build, tmp_path)  # a new file: "b" is removed
    left = sorted((tmp_path / "study").glob("*.npy"))
    assert len(left) == 2 and kept_a[0] in left and not (set(files) - set(kept_a)) & set(left)
    # a file recently used stays, however old its key
    geometry_cache.cached_array("t", ["a"], build, tmp_path)
    assert len(calls) == 3


def test_study_area_is_the_same_built_or_read_back(central: tuple, tmp_path: Path) -> None:
    segs, _ = central
    plain = segments_to_study_area(segs, distance_m=30)
    built = segments_to_study_area(segs, distance_m=30, cache=tmp_path)
    read = segments_to_study_area(segs, distance_m=30, cache=tmp_path)
    assert shapely.to_wkb(plain) == shapely.to_wkb(built) == shapely.to_wkb(read)
    assert len(list((tmp_path / "study").glob("union-*.npy"))) == 1
    # another distance is another entry
    wider = segments_to_study_area(segs, distance_m=40, cache=tmp_path)
    assert wider.area > read.area
    assert len(list((tmp_path / "study").glob("union-*.npy"))) == 2


def test_cell_land_and_pixels_are_the_same_built_or_read_back(
    central: tuple, tmp_path: Path
) -> None:
    segs, ev = central
    region = segments_to_study_area(segs, distance_m=30)
    # the grid spans the region (the backtest's crimes lie in it); the H3 cells also take
    # the cell of a crime 5 km off, clipped beside the cached ones
    for needed, crimes in (({"grid"}, ev.iloc[:-1]), ({"h3_r9", "h3_r10"}, ev)):
        plain = cells.build_method_units(crimes, segs, region, needed, 150.0)
        for _ in range(2):  # built into the cache, then read back
            got = cells.build_method_units(crimes, segs, region, needed, 150.0, tmp_path)
            for kind in needed:
                assert np.array_equal(got[kind].cost, plain[kind].cost)  # to the bit
                assert np.array_equal(got[kind].of_crime, plain[kind].of_crime)
    assert all(plain[k].cost[plain[k].of_crime[-1]] == 1.0 for k in ("h3_r9", "h3_r10"))
    assert len(list((tmp_path / "study").glob("*_areas-*.npy"))) == 3
    assert len(list((tmp_path / "study").glob("h3_r*_near-*.npy"))) == 2  # the candidate cells
    geoms = segs.geometry.to_numpy()
    xy = ev[["x", "y"]].to_numpy()
    r0, _ = units.study_raster_and_samples(geoms, region, extra_xy=xy)
    for _ in range(2):
        r1, _ = units.study_raster_and_samples(geoms, region, extra_xy=xy, cache=tmp_path)
        assert np.array_equal(r0.flat, r1.flat)


def test_unit_pixels_are_the_same_built_or_read_back(central: tuple, tmp_path: Path) -> None:
    """Links and pieces from cached (unit, pixel) pairs: the same matrices, no pairs found."""
    segs, ev = central
    region = segments_to_study_area(segs, distance_m=30)
    geoms = segs.geometry.to_numpy()
    xy, seg = ev[["x", "y"]].to_numpy(), ev["seg"].to_numpy()

    def unit_sets(cache: Path | None) -> tuple[dict, units.Samples]:
        raster, smp = units.study_raster_and_samples(geoms, region, extra_xy=xy, cache=cache)
        kinds = ("links", "pieces")
        return {k: units.build_units(k, raster, geoms, xy, seg, samples=smp) for k in kinds}, smp

    plain, _ = unit_sets(None)
    for round_ in range(2):  # built into the cache, then read back
        got, smp = unit_sets(tmp_path)
        assert (smp._pairs is None) == (round_ == 1)  # read back: the pairs were not found
        assert ("_points" in vars(smp)) == (round_ == 0)  # nor the points along the segments
        for kind, want in plain.items():
            a, b = want.pixels, got[kind].pixels
            assert a.shape == b.shape and (a != b).nnz == 0
            assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            assert np.array_equal(want.area_m2, got[kind].area_m2)
    assert len(list((tmp_path / "study").glob("*_pairs-*.npy"))) == 2
    # another piece length is another entry
    raster, smp = units.study_raster_and_samples(geoms, region, extra_xy=xy, cache=tmp_path)
    units.build_units("pieces", raster, geoms, xy, seg, piece_m=40.0, samples=smp)
    assert len(list((tmp_path / "study").glob("pieces_pairs-*.npy"))) == 2


def test_h3_land_split_as_clipping_every_cell_at_once(central: tuple, tmp_path: Path) -> None:
    """The cached cells near the region and the crimes' own cells add up to one clipping."""
    import h3
    import pyproj

    segs, ev = central
    pieces = cells._tiles(segments_to_study_area(segs, distance_m=30))
    xy = ev[["x", "y"]].to_numpy()
    lon, lat = pyproj.Transformer.from_crs(27700, 4326, always_xy=True).transform(
        xy[:, 0], xy[:, 1]
    )
    crime_ids = [h3.latlng_to_cell(la, lo, 9) for lo, la in zip(lon, lat, strict=True)]
    near = cells._h3_candidates(pieces, pyproj.Transformer.from_crs(27700, 4326, always_xy=True), 9)
    ids = np.array(sorted(near | set(crime_ids)))
    back = pyproj.Transformer.from_crs(4326, 27700, always_xy=True)
    every = cells._clipped_areas(cells._h3_polygons(ids, back), pieces)
    _, want = cells._keep_cells(every, np.searchsorted(ids, crime_ids))
    for _ in range(2):
        got = cells._h3_units(pieces, xy, segs.crs, 9, tmp_path)
        assert np.array_equal(got.cost, want)
