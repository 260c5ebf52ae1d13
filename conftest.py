"""Root conftest: names available to the doctests in hotspots/ (they run on the real data)."""

from __future__ import annotations

import os
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _pytest.doctest import DoctestItem

from hotspots.read.datasets import data_dir, get_path


@pytest.fixture(autouse=True)
def _doctest_names(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]) -> None:
    doctest_namespace.update({"get_path": get_path, "pd": pd, "np": np, "gpd": gpd})
    if isinstance(request.node, DoctestItem) and not (data_dir() / "london").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data not found at {data_dir()}: CI must run on ../shared/data")
        pytest.skip("shared real data folder not found (set HOTSPOTS_DATA)")
