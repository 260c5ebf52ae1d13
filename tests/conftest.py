"""Shared fixtures: the real data in ../shared/data, read once per session.

Locally a missing data folder skips the real-data tests with a clear reason; on CI
(``CI`` set) it is an error, because CI must test on the real data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from hotspots import crs, io
from hotspots.datasets import data_dir, get_path


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
    return io.read_police_uk(
        [get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"], quiet=True
    )


@pytest.fixture(scope="session")
def london_wards(data_root: Path) -> gpd.GeoDataFrame:
    return crs.to_metric_crs(io.read_areas(get_path("london_wards")), crs.BRITISH_NATIONAL_GRID)


@pytest.fixture(scope="session")
def vancouver(data_root: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    return io.read_crimes([get_path("vancouver_crimes")], fmt="vancouver", quiet=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every browser test (Playwright allows one sync driver)."""
    from tests.browser_helpers import launch_chromium

    with launch_chromium() as b:
        yield b
