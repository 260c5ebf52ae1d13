"""Shared fixtures: the real data in ../shared/data, read once per session.

Locally a missing data folder skips the real-data tests with a clear reason; on CI
(``CI`` set) it is an error, because CI must test on the real data.

``london_run`` and ``vancouver_run`` are real-data run folders written once per session and
shared by every test that needs a run with their options (tests/fixtures/runs.py);
``london_backtest`` and ``vancouver_backtest`` are shared ``hotspots evaluate`` folders, and
``london_forecast_run`` and ``vancouver_forecast_run`` the runs with ``--backtest`` and
``--forecast`` (Vancouver's with a second area layer too). Each is written only when a test of
the session asks for it. They are read-only: a test that writes into a run (briefs, exports)
copies it first (:func:`tests.fixtures.runs.copy_run`); the fixture fails at the end of the
session if a test changed one. Every test that uses one of them is marked ``e2e`` here (other
end-to-end tests carry the marker themselves), so ``pytest -m "not e2e"`` is the quick inner
loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.read.crimes import read_crimes
from hotspots.read.datasets import data_dir, get_path
from hotspots.read.layers import read_areas
from hotspots.read.policeuk import read_police_uk
from hotspots.space import crs
from tests.fixtures.runs import (
    VANCOUVER_OVERLAY,
    london_args,
    london_evaluate_args,
    stamp,
    vancouver_args,
    vancouver_evaluate_args,
)

SHARED_RUNS = (
    "london_run",
    "vancouver_run",
    "london_backtest",
    "london_forecast_run",
    "vancouver_backtest",
    "vancouver_forecast_run",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` every test that uses a shared real-data run.

    A test uses one as a fixture argument, or by name as a parameter value
    (``request.getfixturevalue(run_name)``).
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        used = set(getattr(item, "fixturenames", ())) | {p for p in params if isinstance(p, str)}
        if used & set(SHARED_RUNS):
            item.add_marker(pytest.mark.e2e)


def _need_data() -> Path:
    root = data_dir()
    if not (root / "london").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data not found at {root}: CI must run on ../shared/data")
        pytest.skip(f"real data not found at {root} (set HOTSPOTS_DATA)")
    return root


@pytest.fixture(scope="session")
def data_root() -> Path:
    return _need_data()


@pytest.fixture(scope="session")
def london_month(data_root: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """One real police.uk month (2017-12), kept and rejected."""
    kept, rejected = read_police_uk(
        [get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"], quiet=True
    )
    return kept, rejected


@pytest.fixture(scope="session")
def london_wards(data_root: Path) -> gpd.GeoDataFrame:
    return crs.to_metric_crs(read_areas(get_path("london_wards")), crs.BRITISH_NATIONAL_GRID)


@pytest.fixture(scope="session")
def vancouver(data_root: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    return read_crimes([get_path("vancouver_crimes")], fmt="vancouver", quiet=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every browser test (Playwright allows one sync driver)."""
    from tests.browser_helpers import launch_chromium

    with launch_chromium() as b:
        yield b


def _shared_run(out: Path, args: list[str]) -> Iterator[Path]:
    """Write a run (or evaluate) folder once, yield it, and fail if a test changed it meanwhile."""
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    before = stamp(out)
    yield out
    assert stamp(out) == before, f"a test changed the shared run {out.name}: copy it first"


@pytest.fixture(scope="session")
def london_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Iterator[Path]:
    """Two London months, every ward, central streets, offline maps, no area maps (read-only)."""
    out = tmp_path_factory.mktemp("shared") / "london"
    yield from _shared_run(out, london_args(out))


@pytest.fixture(scope="session")
def vancouver_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Iterator[Path]:
    """Vancouver from 2025-07 with area maps and offline maps (read-only)."""
    out = tmp_path_factory.mktemp("shared") / "vancouver"
    yield from _shared_run(out, vancouver_args(out, "--quiet", "--offline"))


@pytest.fixture(scope="session")
def london_backtest(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Iterator[Path]:
    """`hotspots evaluate` of London: central streets, last two months, all crime (read-only)."""
    out = tmp_path_factory.mktemp("shared") / "evaluate_london"
    yield from _shared_run(out, london_evaluate_args(out))


@pytest.fixture(scope="session")
def london_forecast_run(
    tmp_path_factory: pytest.TempPathFactory, london_backtest: Path
) -> Iterator[Path]:
    """The ``london_run`` options with ``--backtest london_backtest --forecast`` (read-only)."""
    out = tmp_path_factory.mktemp("shared") / "london_forecast"
    yield from _shared_run(out, london_args(out, "--backtest", str(london_backtest), "--forecast"))


@pytest.fixture(scope="session")
def vancouver_backtest(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Iterator[Path]:
    """`hotspots evaluate` of Vancouver: last two months, all crime (read-only)."""
    out = tmp_path_factory.mktemp("shared") / "evaluate_vancouver"
    yield from _shared_run(out, vancouver_evaluate_args(out))


@pytest.fixture(scope="session")
def vancouver_forecast_run(
    tmp_path_factory: pytest.TempPathFactory, vancouver_backtest: Path
) -> Iterator[Path]:
    """The ``vancouver_run`` options with the backtest, ``--forecast`` and an overlay (read-only).

    The overlay :data:`tests.fixtures.runs.VANCOUVER_OVERLAY` (a hexagon grid) writes
    ``layers/grid/``.
    """
    out = tmp_path_factory.mktemp("shared") / "vancouver_forecast"
    extra = ("--quiet", "--offline", "--backtest", str(vancouver_backtest), "--forecast")
    yield from _shared_run(out, vancouver_args(out, *extra, "--overlay", VANCOUVER_OVERLAY))
