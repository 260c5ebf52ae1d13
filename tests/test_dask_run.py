"""``hotspots run --engine dask`` writes the run folder of the local engine, CSV for CSV.

The row stages (reading, area join, snapping) run on a LocalCluster of two in-process
workers; every CSV of the two run folders is compared byte for byte.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import dask.config
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.read.datasets import get_path
from tests.fixtures.runs import vancouver_args

distributed = pytest.importorskip("distributed", reason="the Dask engine needs dask[distributed]")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """Two in-process workers, the default client of the runs (no --workers: it is used)."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _run(args: list[str]) -> None:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output


def _differing_csvs(local: Path, dask: Path) -> list[str]:
    """CSV files whose bytes differ (or that only one folder has); every CSV compared."""
    names = {p.relative_to(local) for p in local.rglob("*.csv")}
    names |= {p.relative_to(dask) for p in dask.rglob("*.csv")}
    assert len(names) > 10
    return sorted(
        str(n)
        for n in names
        if not ((local / n).is_file() and (dask / n).is_file())
        or (local / n).read_bytes() != (dask / n).read_bytes()
    )


def _police_uk_sample(folder: Path, rows: int = 2500) -> list[Path]:
    """Three month files of London records; the later two repeat 200 crime ids of the first."""
    crimes = get_path("london_crimes")
    lines: dict[str, list[str]] = {}
    named: list[str] = []
    for month in ("2017-10", "2017-11", "2017-12"):
        with gzip.open(crimes / f"{month}-metropolitan-street.csv.gz", "rt", encoding="utf-8") as f:
            lines[month] = [line for _, line in zip(range(rows + 1), f, strict=False)]
            while month == "2017-10" and len(named) < 200:  # records with an id (not ASB)
                line = next(f)
                if not line.startswith(","):
                    named.append(line)
    lines["2017-10"] += named
    # records published again a month later (same id, month moved) and the same rows again:
    # the reader keeps each id's first record
    lines["2017-12"] += [line.replace(",2017-10,", ",2017-12,", 1) for line in named[:150]]
    lines["2017-11"] += named[150:]
    folder.mkdir()
    paths = []
    for month, text in lines.items():
        path = folder / f"{month}-metropolitan-street.csv"
        path.write_text("".join(text), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.mark.e2e
def test_vancouver_run_folder_equals_local(client: object, tmp_path: Path) -> None:
    common = ("--quiet", "--no-area-maps", "--offline")
    local, dask = tmp_path / "local", tmp_path / "dask"
    _run(vancouver_args(local, *common, start="2025-10"))
    _run(vancouver_args(dask, *common, "--engine", "dask", start="2025-10"))
    assert _differing_csvs(local, dask) == []
    manifest = json.loads((dask / "run.json").read_text(encoding="utf-8"))
    assert manifest["engine"]["engine"] == "dask"
    assert manifest["engine"]["workers"] == 2 and manifest["engine"]["partitions"] == 1
    assert manifest["parameters"]["engine"] == "dask"
    local_manifest = json.loads((local / "run.json").read_text(encoding="utf-8"))
    assert local_manifest["engine"] == {"engine": "local"}
    assert manifest["totals"] == local_manifest["totals"]


def _vancouver_files(folder: Path, since: str = "2025-04") -> list[Path]:
    """Vancouver's records from ``since`` cut into three files (every third row in each).

    Each file holds rows of every month and place, so every count (per place, area, crime
    group, month and hour of the week) adds up over three files.
    """
    with gzip.open(get_path("vancouver_crimes"), "rt", encoding="utf-8") as f:
        head, *rows = f.readlines()
    cols = head.rstrip("\n").split(",")
    year, month = cols.index("YEAR"), cols.index("MONTH")
    lo = tuple(int(v) for v in since.split("-"))
    rows = [
        r
        for r, v in zip(rows, csv.reader(rows), strict=True)
        if (int(v[year]), int(v[month])) >= lo
    ]
    folder.mkdir()
    paths = []
    for i in range(3):
        path = folder / f"part{i}.csv"
        path.write_text(head + "".join(rows[i::3]), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.mark.e2e
def test_vancouver_in_three_files_equals_local(client: object, tmp_path: Path) -> None:
    """The hour-of-week weights (floats) summed over three files' counts: the same bytes."""
    files = [str(p) for p in _vancouver_files(tmp_path / "crimes")]
    base = [
        "run",
        "--crimes",
        *files,
        "--format",
        "vancouver",
        "--areas",
        str(get_path("vancouver_areas")),
        "--streets",
        str(get_path("vancouver_streets")),
        "--quiet",
        "--no-area-maps",
        "--offline",
    ]
    local, dask = tmp_path / "local", tmp_path / "dask"
    _run([*base, "--out", str(local)])
    _run([*base, "--out", str(dask), "--engine", "dask"])
    assert _differing_csvs(local, dask) == []
    manifest = json.loads((dask / "run.json").read_text(encoding="utf-8"))
    assert manifest["engine"]["partitions"] == 3
    assert (dask / "place_group_profiles.csv").is_file()


@pytest.mark.e2e
def test_police_uk_files_with_repeated_ids_equal_local(tmp_path: Path) -> None:
    # on a scheduler reached over TCP, as `--scheduler tcp://host:8786` would be
    files = [str(p) for p in _police_uk_sample(tmp_path / "crimes")]
    base = [
        "run",
        "--crimes",
        *files,
        "--areas",
        str(get_path("london_wards")),
        "--streets",
        str(get_path("london_streets_central")),
        "--quiet",
        "--no-area-maps",
        "--offline",
    ]
    local, dask = tmp_path / "local", tmp_path / "dask"
    _run([*base, "--out", str(local)])
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        _run([*base, "--out", str(dask), "--engine", "dask", "--scheduler", address])
    assert _differing_csvs(local, dask) == []
    manifest = json.loads((dask / "run.json").read_text(encoding="utf-8"))
    assert manifest["engine"]["partitions"] == 3
    assert (manifest["engine"]["scheduler"], manifest["engine"]["workers"]) == (address, 2)
    rejected = (dask / "rejected.csv").read_text(encoding="utf-8")
    assert rejected.count("duplicate crime id") >= 200  # the repeats were found across files


@pytest.mark.e2e
def test_client_tables_are_compact_and_hold_the_local_values(
    client: object, tmp_path: Path
) -> None:
    """The Dask crime and rejected tables: the local engine's values, held compactly."""
    import numpy as np
    import pandas as pd

    from hotspots.output.rejected_csv import RejectedCsv
    from hotspots.pipeline import RunConfig, rank_stages
    from hotspots.pipeline.area_counts import area_keys, count_areas
    from hotspots.pipeline.config import StageTimer
    from hotspots.pipeline.dask_stages import dask_rank_stages
    from hotspots.pipeline.time_counts import (
        AREA,
        CITY,
        PLACE,
        PLACE_GROUP,
        count_times,
        time_keys,
    )
    from hotspots.temporal.counted import COUNT

    options = {
        "crimes": [get_path("vancouver_crimes")],
        "fmt": "vancouver",
        "areas": get_path("vancouver_areas"),
        "streets": get_path("vancouver_streets"),
        "out": Path("unused"),
        "start": "2025-07",
        "quiet": True,
    }
    local = rank_stages(RunConfig.from_options(**options), StageTimer())
    dask, counts = dask_rank_stages(RunConfig.from_options(**options, engine="dask"), StageTimer())
    times, areas, parts = counts.times, counts.areas, counts.rejected
    crimes = dask.crimes
    # a point only where a record snapped to no street (the unsnapped places read it)
    off = crimes["segment_id"].isna().to_numpy()
    assert off.any() and not off.all()
    assert np.array_equal(crimes.geometry.notna().to_numpy(), off)
    assert crimes.geometry[off].geom_equals(local.crimes.geometry[off]).all()
    assert "snap_distance_m" not in crimes and "crime_id" not in crimes
    assert crimes["source_row"].dtype == np.int32
    same = [c for c in crimes.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(crimes[same]).astype(object),
        pd.DataFrame(local.crimes[same]).astype(object),
        check_exact=True,
    )
    # the rejected rows stay on the workers: the client holds rejected.csv's lines in a
    # temporary file per crime file, the local engine's lines, and the counts per reason
    assert len(dask.rejected) == 0 and list(dask.rejected.columns) == list(local.rejected)
    mine_parts = RejectedCsv.of_frame(local.rejected, street_level_only=False)
    assert parts.reasons == mine_parts.reasons and parts.total == len(local.rejected) > 100
    assert all(isinstance(p, Path) and p.is_file() for p in parts.parts.values())
    ours, theirs = tmp_path / "dask.csv", tmp_path / "local.csv"
    assert parts.write(ours).read_bytes() == mine_parts.write(theirs).read_bytes()
    folder = parts.folder
    del parts, counts
    assert folder is not None and not folder.exists()  # removed with the parts
    # the area stage's counts made on the workers: the local engine's
    theirs = count_areas(local.crimes, area_keys(local.crimes))
    pd.testing.assert_frame_equal(areas.table, theirs.table, check_exact=True)
    pd.testing.assert_frame_equal(areas.counted(), theirs.counted(), check_exact=True)
    assert areas.table[COUNT].sum() == len(local.crimes)
    # the time counts made on the workers: the local engine's, to the last bit
    mine = count_times(local.crimes, time_keys(local.crimes))
    assert times.timed and mine.timed
    for key in (CITY, PLACE, AREA, PLACE_GROUP):
        pd.testing.assert_frame_equal(times.monthly(key), mine.monthly(key), check_exact=True)
        pd.testing.assert_frame_equal(times.hours(key), mine.hours(key), check_exact=True)


def test_unreachable_scheduler_is_a_one_line_error(tmp_path: Path) -> None:
    args = ["run", "--crimes", str(get_path("vancouver_crimes")), "--format", "vancouver"]
    args += ["--areas", str(get_path("vancouver_areas")), "--streets", "s.gpkg"]
    dash = ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), *dash])
    assert res.exit_code == 1
    assert "cannot use the Dask scheduler at 'tcp://127.0.0.1:9'" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_police_uk_with_crs_is_refused_before_a_cluster_starts(tmp_path: Path) -> None:
    month = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    args = ["run", "--crimes", str(month), "--areas", str(get_path("london_wards"))]
    args += ["--streets", "s.gpkg", "--out", str(tmp_path / "o"), "--engine", "dask"]
    res = CliRunner().invoke(app, [*args, "--crs", "EPSG:32630"])
    assert res.exit_code == 1
    assert "--crs with police.uk files is not on the Dask engine" in res.output
    assert len(res.output.strip().splitlines()) == 1


# options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--workers", "2"], "--workers applies to --engine dask only; add --engine dask"),
        (["--scheduler", "tcp://h:8786"], "--scheduler applies to --engine dask only"),
        (
            ["--engine", "dask", "--workers", "2", "--scheduler", "tcp://h:8786"],
            "--workers sizes a local cluster, but --scheduler is given",
        ),
    ],
)
def test_dask_options_need_the_dask_engine(tmp_path: Path, extra: list[str], message: str) -> None:
    args = ["run", "--crimes", "c.csv", "--areas", "a.gpkg", "--streets", "s.gpkg"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "o").exists()


def test_scheduler_from_the_environment_is_ignored_by_the_local_engine(tmp_path: Path) -> None:
    args = ["run", "--crimes", str(tmp_path / "none.csv"), "--areas", "a", "--streets", "s"]
    res = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "o")], env={"DASK_SCHEDULER_ADDRESS": "tcp://h:1"}
    )
    assert "applies to --engine dask only" not in res.output
    assert "does not exist" in res.output  # the run went on to read the (missing) crimes


def test_a_local_cluster_leaves_this_process_environment_as_it_was() -> None:
    """Dask sets OMP_NUM_THREADS=1 (and more) here for its workers; they are put back."""
    import distributed

    from hotspots.distributed import start_local_cluster

    before = dict(os.environ)
    cluster = start_local_cluster(distributed, 1)
    try:
        assert dict(os.environ) == before
        assert cluster.workers  # the worker did start
    finally:
        cluster.close()
