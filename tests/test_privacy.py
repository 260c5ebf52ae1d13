"""Street-level-only publishing: no points, point-level places or record details in outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from hotspots.cli import app
from tests.fixtures.make_tiny import tiny_args


def _run(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        tiny_args(tmp_path, out, "--min-crimes", "2", "--snap-distance", "3", "--quiet", *extra),
    )
    assert res.exit_code == 0, res.output
    return out


def test_default_run_lists_points(tmp_path: Path) -> None:
    out = _run(tmp_path)
    lists = pd.concat(pd.read_csv(p) for p in (out / "wards").glob("*.csv"))
    assert (lists["basis"] != "street segments").any()  # an unsnapped point is listed
    assert (out / "repeat_locations.csv").exists()


def test_street_level_only(tmp_path: Path) -> None:
    out = _run(tmp_path, "--street-level-only")
    lists = pd.concat(pd.read_csv(p) for p in (out / "wards").glob("*.csv"))
    assert set(lists["basis"]) <= {"street segments"}
    assert not (out / "repeat_locations.csv").exists()
    assert not (out / "locations.gpkg").exists()
    assert list(pd.read_csv(out / "rejected.csv").columns) == [
        "source_file",
        "source_row",
        "reason",
        "month",
        "crime_type",
    ]
    for page in (out / "maps").glob("*.html"):
        cfg = json.loads(re.search(r"var cfg = (\{.*?\});\n", page.read_text(), re.S).group(1))
        assert "crimes" not in cfg and "locations" not in cfg
    assert json.loads((out / "run.json").read_text())["parameters"]["street_level_only"] is True
