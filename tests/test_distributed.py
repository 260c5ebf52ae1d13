"""Tests of hotspots.distributed: the Dask engine gives the single-machine hot-street table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from hotspots import distributed as hd
from hotspots import pipeline
from hotspots.analysis import rank
from hotspots.errors import InputDataError
from hotspots.read.crimes import read_crimes
from hotspots.read.datasets import get_path
from hotspots.read.layers import read_areas
from hotspots.space import snap
from hotspots.space.crs import to_metric_crs

distributed = pytest.importorskip("distributed", reason="the Dask engine needs dask[distributed]")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """Two in-process workers: the scheduling and data movement of a cluster, started fast."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def london_files(data_root: Path) -> list[Path]:
    folder = get_path("london_crimes")
    return [folder / f"2017-{m}-metropolitan-street.csv.gz" for m in ("11", "12")]


@pytest.fixture(scope="module")
def london_local(
    london_files: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> gpd.GeoDataFrame:
    return hd.rank_streets_from_files(
        london_files,
        get_path("london_wards"),
        get_path("london_streets_central"),
        segment_cache=tmp_path_factory.mktemp("cache"),
        quiet=True,
    )


# inputs -------------------------------------------------------------------------------------


def test_unknown_engine(london_files: list[Path]) -> None:
    with pytest.raises(ValueError, match="`engine` must be 'local' or 'dask'; got 'spark'"):
        hd.rank_streets_from_files(london_files, "a.gpkg", "s.gpkg", engine="spark")  # type: ignore[arg-type]


def test_lonlat_mapping_needs_a_crs(tmp_path: Path, client: object) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nlon = "lng"\nlat = "lat"\ndate = "d"\n', encoding="utf-8")
    crimes = tmp_path / "c.csv"
    crimes.write_text("lng,lat,d\n-0.1,51.5,2024-01-01\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="the Dask engine needs a projected CRS; give `crs=`"):
        hd.rank_streets_dask([crimes], "a.gpkg", "s.gpkg", fmt=str(mapping), client=client)


# outputs ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_local_engine_is_the_pipeline(
    london_files: list[Path], london_local: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # the stages of pipeline.run up to the hot-street table (run() itself also writes maps,
    # time profiles and exports, which take far longer)
    config = pipeline.RunConfig.from_options(
        crimes=london_files,
        areas=get_path("london_wards"),
        streets=get_path("london_streets_central"),
        out=tmp_path / "run",
        quiet=True,
    )
    area_layer = read_areas(config.areas)
    crimes, _ = read_crimes(config.crimes, quiet=True, areas=area_layer)
    areas = to_metric_crs(area_layer, crimes.crs, quiet=True)
    segs = pipeline.build_segments(config, crimes.crs, areas)
    crimes = crimes.join(snap.snap_to_streets(crimes, segs, quiet=True))
    segs, _ = pipeline.name_segments(crimes, segs, police_uk=True)
    hot = rank.rank_streets(segs, rank.count_by_segment(crimes, segs))
    pd.testing.assert_frame_equal(hot, london_local, check_exact=True)


@pytest.mark.e2e
def test_dask_equals_single_machine_london(
    london_files: list[Path], london_local: gpd.GeoDataFrame, client: object, tmp_path: Path
) -> None:
    hot = hd.rank_streets_dask(
        london_files,
        get_path("london_wards"),
        get_path("london_streets_central"),
        client=client,
        npartitions=5,
        segment_cache=tmp_path,
        quiet=True,
    )
    assert len(hot) > 20
    pd.testing.assert_frame_equal(hot, london_local, check_exact=True)


@pytest.mark.e2e
def test_dask_drops_ids_repeated_across_files(
    london_files: list[Path], client: object, tmp_path: Path
) -> None:
    # the same month again under another name: every record with an id is a repeat
    again = tmp_path / "2017-12-copy-street.csv.gz"
    shutil.copy(london_files[1], again)
    files = [*london_files, again]
    args = (files, get_path("london_wards"), get_path("london_streets_central"))
    local = hd.rank_streets_from_files(*args, segment_cache=tmp_path, quiet=True)
    hot = hd.rank_streets_dask(
        *args, client=client, npartitions=3, segment_cache=tmp_path, quiet=True
    )
    pd.testing.assert_frame_equal(hot, local, check_exact=True)


@pytest.mark.e2e
def test_dask_equals_single_machine_vancouver(
    client: object, tmp_path: Path, data_root: Path
) -> None:
    args = (
        [get_path("vancouver_crimes")],
        get_path("vancouver_areas"),
        get_path("vancouver_streets"),
    )
    opts: dict[str, Any] = {
        "fmt": "vancouver",
        "start": "2025-01",
        "end": "2025-12",
        "segment_cache": tmp_path,
        "quiet": True,
    }
    local = hd.rank_streets_from_files(*args, **opts)
    hot = hd.rank_streets_from_files(
        *args, engine="dask", client=client, npartitions=4, grid_m=2000, **opts
    )
    assert (hot["name_source"] == "crime records").mean() > 0.9  # VPD streets: named from records
    pd.testing.assert_frame_equal(hot, local, check_exact=True)
