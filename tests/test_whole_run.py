"""benchmarks/whole_run.py's rows: a failed step or check never passes; the CPU floor shown."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "whole_run.py"


@pytest.fixture(scope="module")
def whole_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("whole_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["whole_run"] = module
    spec.loader.exec_module(module)
    return module


def _make_row(whole_run: ModuleType, **t3: object) -> list[str]:
    rows = [r for r in whole_run.table({"t3": t3}) if "make run" in r[1]]
    assert len(rows) == 1
    return list(rows[0])


def test_make_run_row_shows_the_cpu_floor(whole_run: ModuleType) -> None:
    row = _make_row(
        whole_run,
        make_run_seconds=110.0,
        make_run_exit=0,
        make_run_cpu_seconds=150.0,
        make_run_machine_cpu_seconds=190.0,
        make_run_cores=2,
    )
    assert row[2] == "110.0 s" and row[5] == "yes"
    assert row[4] == "CPU 190.0 s, floor 95.0 s on 2 cores"  # the machine's CPU, not reaped


def test_a_fast_failed_make_run_fails_its_row(whole_run: ModuleType) -> None:
    row = _make_row(whole_run, make_run_seconds=6.0, make_run_exit=2, make_run_cores=2)
    assert row[5] == "NO" and row[4].startswith("FAILED")


def _dask_row(whole_run: ModuleType, **t7: object) -> list[str]:
    rows = [r for r in whole_run.table({"t7": {"rows": 60_000_000, **t7}}) if r[0] == "7"]
    assert len(rows) == 1
    return list(rows[0])


def test_dask_row_shows_each_worker_and_the_check(whole_run: ModuleType) -> None:
    done = {"wall_seconds": 356.0, "client_peak_mb": 12390, "worker_peaks_mb": [2970, 2900]}
    row = _dask_row(whole_run, exit=0, check_run=True, **done)
    assert row[2] == "356.0 s" and row[5] == "yes" and "60,000,000 crimes" in row[1]
    assert row[4] == "client 12.1 GB, workers 2.9, 2.8 GB; check_run passes"
    assert _dask_row(whole_run, exit=0, check_run=False, **done)[5] == "NO"


def test_a_failed_dask_run_fails_its_row(whole_run: ModuleType) -> None:
    row = _dask_row(whole_run, exit=1)
    assert row[5] == "NO" and row[4].startswith("FAILED")


def test_busy_seconds_grow(whole_run: ModuleType) -> None:
    first = whole_run._busy_seconds()
    if first is None:
        pytest.skip("no /proc/stat")
    sum(i * i for i in range(2_000_000))  # some CPU
    assert whole_run._busy_seconds() >= first > 0


def test_target_one_times_the_stages_as_the_run_does() -> None:
    """run_benchmark's stand-in for the run's StageTimer answers everything rank_stages calls."""
    from hotspots.pipeline.config import StageTimer

    path = BENCH.with_name("run_benchmark.py")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("run_benchmark", path)
    assert spec is not None and spec.loader is not None
    rb = importlib.util.module_from_spec(spec)
    sys.modules["run_benchmark"] = rb
    spec.loader.exec_module(rb)
    public = {n for n in dir(StageTimer) if not n.startswith("_")} - {"seconds"}
    stages = rb._MonitorStages(rb.Monitor())
    assert public <= set(dir(stages))
    with stages("snapping"):
        sum(range(10_000))
    first = stages.mon.stages["snapping"]["cpu_seconds"]
    with stages.more("snapping"):
        sum(range(10_000))
    assert stages.mon.stages["snapping"]["cpu_seconds"] >= first
