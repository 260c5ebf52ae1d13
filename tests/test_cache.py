"""Tests of hotspots.space.cache: street segments cached per file content and options."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from hotspots.read.datasets import get_path
from hotspots.read.layers import read_areas, read_streets
from hotspots.space import cache, crs, segments, snap


def _files(folder: Path) -> list[Path]:
    return sorted((folder / "segments").glob("*.parquet"))


def _built(path: Path, target: str, **kwargs: float) -> gpd.GeoDataFrame:
    streets = crs.to_metric_crs(read_streets(path), target)
    return segments.lines_to_segments(streets, quiet=True, **kwargs)


# outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [("london_streets_central", "EPSG:27700"), ("vancouver_streets", "EPSG:26910")],
)
def test_second_call_hits_and_is_identical(
    name: str, target: str, tmp_path: Path, data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = cache.cached_segments(get_path(name), crs=target, cache=tmp_path, quiet=True)
    assert len(_files(tmp_path)) == 1
    with caplog.at_level(logging.INFO, logger="hotspots"):
        second = cache.cached_segments(get_path(name), crs=target, cache=tmp_path)
    assert "read from the cache" in caplog.text
    expected = _built(get_path(name), target)
    pd.testing.assert_frame_equal(first, expected, check_exact=True)
    pd.testing.assert_frame_equal(second, expected, check_exact=True)  # dtypes, NA kinds, CRS
    assert second.crs == expected.crs


def test_changed_file_or_option_misses(tmp_path: Path) -> None:
    path = tmp_path / "streets.gpkg"
    lines = gpd.GeoDataFrame(
        {"name": ["A", "B"]},
        geometry=[LineString([(0, 0), (600, 0)]), LineString([(0, 0), (0, 90)])],
        crs=27700,
    )
    lines.to_file(path)
    store = tmp_path / "cache"
    one = cache.cached_segments(path, crs="EPSG:27700", cache=store, quiet=True)
    cache.cached_segments(path, crs="EPSG:27700", max_length_m=100, cache=store, quiet=True)
    assert len(_files(store)) == 2  # another max_length_m: another entry
    cache.cached_segments(path, crs="EPSG:32630", cache=store, quiet=True)
    assert len(_files(store)) == 3  # another CRS
    lines.assign(name=["A", "C"]).to_file(path, mode="w")
    changed = cache.cached_segments(path, crs="EPSG:27700", cache=store, quiet=True)
    assert len(_files(store)) == 4  # another file content
    assert sorted(changed["street_name"]) != sorted(one["street_name"])
    pd.testing.assert_frame_equal(changed, _built(path, "EPSG:27700"), check_exact=True)


def test_same_bytes_elsewhere_hit(tmp_path: Path) -> None:
    path = tmp_path / "a.gpkg"
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[LineString([(0, 0), (50, 0)])], crs=27700).to_file(
        path
    )
    copy = tmp_path / "b.gpkg"
    shutil.copy(path, copy)
    cache.cached_segments(path, crs="EPSG:27700", cache=tmp_path / "c", quiet=True)
    cache.cached_segments(copy, crs="EPSG:27700", cache=tmp_path / "c", quiet=True)
    assert len(_files(tmp_path / "c")) == 1  # keyed by content, not by path


def test_unreadable_entry_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "a.gpkg"
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[LineString([(0, 0), (50, 0)])], crs=27700).to_file(
        path
    )
    first = cache.cached_segments(path, crs="EPSG:27700", cache=tmp_path / "c", quiet=True)
    _files(tmp_path / "c")[0].write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING, logger="hotspots"):
        again = cache.cached_segments(path, crs="EPSG:27700", cache=tmp_path / "c", quiet=True)
    assert "ignoring unreadable cache file" in caplog.text
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    pd.testing.assert_frame_equal(
        cache.cached_segments(path, crs="EPSG:27700", cache=tmp_path / "c", quiet=True),
        first,
        check_exact=True,
    )


def test_default_folder_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "env"))
    assert cache.cache_dir() == tmp_path / "env"
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.cache_dir() == Path.home() / ".cache" / "hotspots"


def test_peek_reads_a_hit_silently_and_misses_with_none(
    tmp_path: Path, data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = get_path("london_streets_central")
    with caplog.at_level(logging.INFO, logger="hotspots"):
        missed, file = cache.peek_segments(path, crs="EPSG:27700", cache=tmp_path)
        assert missed is None and not file.exists()
        built = cache.cached_segments(path, crs="EPSG:27700", cache=tmp_path, quiet=True)
        caplog.clear()
        found, same = cache.peek_segments(path, crs="EPSG:27700", cache=tmp_path)
    assert same == file and _files(tmp_path) == [file]
    assert found is not None and found.equals(built) and (found.dtypes == built.dtypes).all()
    assert not caplog.records  # a run logs the hit once it uses the segments
    file.write_bytes(b"not parquet")
    assert cache.peek_segments(path, crs="EPSG:27700", cache=tmp_path)[0] is None


# the segments' areas ------------------------------------------------------------------------


def _areas_files(folder: Path) -> list[Path]:
    return sorted((folder / "segment_areas").glob("*.npy"))


def test_segment_areas_kept_and_read_back_identical(tmp_path: Path) -> None:
    """Vancouver's segments and local areas: the stored areas equal the uncached ones."""
    path = get_path("vancouver_streets")
    segs = cache.cached_segments(path, crs="EPSG:26910", cache=tmp_path, quiet=True)
    file = cache.segments_file(path, crs="EPSG:26910", cache=tmp_path)
    areas = crs.to_metric_crs(read_areas(get_path("vancouver_areas")), "EPSG:26910")
    expected = snap.assign_segment_areas(segs, areas)
    first = cache.cached_segment_areas(segs, areas, file)
    assert len(_areas_files(tmp_path)) == 1
    second = cache.cached_segment_areas(segs, areas, file)  # read back
    pd.testing.assert_frame_equal(first, expected, check_exact=True)
    pd.testing.assert_frame_equal(second, expected, check_exact=True)


def _toy() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    segs = gpd.GeoDataFrame(
        {"segment_id": ["s0", "s1", "s2"]},
        geometry=[
            LineString([(10, 0), (20, 0)]),
            LineString([(110, 0), (120, 0)]),
            LineString([(500, 0), (510, 0)]),  # outside both: the nearest
        ],
        crs=27700,
    )
    areas = gpd.GeoDataFrame(
        {"area_code": ["L", "R"], "area_name": ["left", "right"]},
        geometry=[box(0, -50, 100, 50), box(100, -50, 200, 50)],
        crs=27700,
    )
    return segs, areas


def test_changed_areas_miss_the_stored_rows(tmp_path: Path) -> None:
    """Another code, name or boundary is another entry, and gives its own answer."""
    segs, areas = _toy()
    file = tmp_path / "segments" / "key.parquet"
    assert cache.cached_segment_areas(segs, areas, file)["area_code"].tolist() == ["L", "R", "R"]
    renamed = areas.assign(area_name=["left", "east"])
    out = cache.cached_segment_areas(segs, renamed, file)
    assert out["area_name"].tolist() == ["left", "east", "east"]
    moved = areas.set_geometry([box(0, -50, 115, 50), box(115, -50, 200, 50)], crs=27700)
    assert cache.cached_segment_areas(segs, moved, file)["area_code"].tolist() == ["L", "L", "R"]
    other = tmp_path / "segments" / "other.parquet"  # other segments: another entry
    cache.cached_segment_areas(segs, areas, other)
    assert len(_areas_files(tmp_path)) == 4


def test_unreadable_or_mismatched_areas_entry_is_worked_out_again(tmp_path: Path) -> None:
    segs, areas = _toy()
    file = tmp_path / "segments" / "key.parquet"
    cache.cached_segment_areas(segs, areas, file)
    (entry,) = _areas_files(tmp_path)
    for bad in (b"not a numpy file", None):
        if bad is None:  # a readable file of the wrong length (or out-of-range rows)
            np.save(entry, np.array([0, 5], dtype=np.int64))
        else:
            entry.write_bytes(bad)
        out = cache.cached_segment_areas(segs, areas, file)
        assert out["area_code"].tolist() == ["L", "R", "R"]
    assert cache.cached_segment_areas(segs, areas, file)["area_code"].tolist() == ["L", "R", "R"]


def test_unwritable_areas_folder_only_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    segs, areas = _toy()
    (tmp_path / "segment_areas").write_text("a file where the folder would go")
    with caplog.at_level(logging.WARNING, logger="hotspots"):
        out = cache.cached_segment_areas(segs, areas, tmp_path / "segments" / "key.parquet")
    assert out["area_code"].tolist() == ["L", "R", "R"]
    assert "could not write the segment areas cache" in caplog.text


def test_write_atomically_replaces_whole_or_reports_the_error(tmp_path: Path) -> None:
    file = tmp_path / "sub" / "entry.bin"
    assert cache.write_atomically(file, lambda fh: fh.write(b"one")) is None
    assert cache.write_atomically(file, lambda fh: fh.write(b"two")) is None
    assert file.read_bytes() == b"two"

    def broken(fh: object) -> None:
        msg = "disk full"
        raise OSError(msg)

    err = cache.write_atomically(file, broken)
    assert isinstance(err, OSError)
    assert file.read_bytes() == b"two"  # the old entry stays whole
    assert sorted(p.name for p in file.parent.iterdir()) == ["entry.bin"]  # no temporary left
    (tmp_path / "blocked").write_text("a file where the folder would go")
    assert isinstance(cache.write_atomically(tmp_path / "blocked" / "x.bin", broken), OSError)


def test_unwritable_segment_cache_only_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "segments").write_text("a file where the folder would go")
    with caplog.at_level(logging.WARNING, logger="hotspots"):
        segs = cache.cached_segments(
            get_path("london_streets_central"), crs="EPSG:27700", cache=tmp_path, quiet=True
        )
    assert "could not write the segment cache" in caplog.text
    expected = _built(get_path("london_streets_central"), "EPSG:27700")
    pd.testing.assert_frame_equal(segs, expected, check_exact=True)
