"""End-to-end tests of `hotspots run` on slices of the real data, through the CLI.

``london_run`` and ``vancouver_run`` are the session's shared runs (tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.read.datasets import get_path
from hotspots.read.schema import HOT_STREET_COLUMNS
from tests.fixtures.runs import copy_run, london_args, vancouver_args

CHECK = Path(__file__).resolve().parents[2] / "shared" / "checks" / "check_run.py"


# inputs -------------------------------------------------------------------------------------


def test_existing_run_folder_needs_overwrite(london_run: Path) -> None:
    res = CliRunner().invoke(app, london_args(london_run))
    assert res.exit_code == 1
    assert "exists already; choose another --out or pass --overwrite" in res.output
    assert "Traceback" not in res.output


def test_bad_file_one_line_error(tmp_path: Path, data_root: Path) -> None:
    bad = tmp_path / "2017-01-metropolitan-street.csv"
    bad.write_text("Crime ID,Month\n1,2017-01\n", encoding="utf-8")
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--crimes",
            str(bad),
            "--areas",
            str(get_path("london_wards")),
            "--streets",
            str(get_path("london_streets_central")),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 1
    assert f"Error: {bad}: missing required column(s)" in res.output  # files by full path
    assert not (tmp_path / "o").exists()


def test_areas_not_overlapping(tmp_path: Path, data_root: Path) -> None:
    res = CliRunner().invoke(
        app,
        vancouver_args(tmp_path / "o", start="2025-12", areas=get_path("london_wards")),
    )
    assert res.exit_code == 1 and "no crime falls inside the area layer" in res.output


# outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_name", ["london_run", "vancouver_run"])
def test_contract_and_accounting(run_name: str, request: pytest.FixtureRequest) -> None:
    out: Path = request.getfixturevalue(run_name)
    for name in (
        "hot_streets.csv",
        "hot_streets.gpkg",
        "map.html",
        "run.json",
        "rejected.csv",
        "areas.csv",
        "concentration.png",
    ):
        assert (out / name).is_file(), name
    hot = pd.read_csv(out / "hot_streets.csv")
    assert list(hot.columns[: len(HOT_STREET_COLUMNS)]) == HOT_STREET_COLUMNS
    assert len(hot) > 20 and hot["rank"].is_monotonic_increasing
    manifest = json.loads((out / "run.json").read_text())
    for f, acc in manifest["accounting"].items():
        assert acc["read"] == acc["kept"] + sum(acc["rejected"].values()), f
    rejected = pd.read_csv(out / "rejected.csv")
    assert len(rejected) == manifest["totals"]["rejected"]
    if CHECK.exists():
        res = subprocess.run(
            [sys.executable, str(CHECK), str(out)], capture_output=True, text=True, check=False
        )
        assert res.returncode == 0 and "adds up" in res.stdout, res.stdout + res.stderr


def test_every_area_with_crime_has_a_list(london_run: Path) -> None:
    areas = pd.read_csv(london_run / "areas.csv")
    with_crime = set(areas.loc[areas["crimes"] > 0, "area_code"])
    listed = {p.stem for p in (london_run / "wards").glob("*.csv")}
    assert with_crime == listed
    total = sum(len(pd.read_csv(p)) for p in (london_run / "wards").glob("*.csv"))
    assert total >= len(pd.read_csv(london_run / "hot_streets.csv"))
    assert areas["rate_per_1000"].notna().sum() > 400


def test_london_manifest_reports_naming_and_concentration(london_run: Path) -> None:
    m = json.loads((london_run / "run.json").read_text())
    assert m["crs"] == "EPSG:27700"
    # the central street file has no names: segments are named from 'On or near' text
    assert m["naming"]["named_from_crime_records"] > 0
    conc = m["concentration"]
    assert (
        conc["observed"]["share_of_crime_on_top_5pct_segments"]
        > (conc["random_baseline"]["share_of_crime_on_top_5pct_segments"])
    )
    assert {"load", "area_join", "snapping", "ranking", "maps"} <= set(m["seconds"])
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])


def test_reproducible_bytes(london_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert CliRunner().invoke(app, london_args(again)).exit_code == 0
    names = [
        "hot_streets.csv",
        "rejected.csv",
        "areas.csv",
        *(f"wards/{p.name}" for p in (london_run / "wards").glob("*.csv")),
    ]
    for name in names:
        assert (again / name).read_bytes() == (london_run / name).read_bytes(), name


def test_no_partial_folder_left(london_run: Path) -> None:
    assert not list(london_run.parent.glob(".*.partial*"))  # .<name>.partial-<pid>-<random>
    assert not list(london_run.parent.glob(".*.lock"))


@pytest.mark.e2e
def test_backtest_evidence_reaches_manifest_and_handouts(
    london_forecast_run: Path, tmp_path: Path
) -> None:
    # the shared run with --backtest (a shared evaluate of hot_streets and random, 2 months)
    runner = CliRunner()
    out = copy_run(london_forecast_run, tmp_path / "run")  # the export writes into the run
    evidence = json.loads((out / "run.json").read_text())["backtest"]
    assert evidence["months"] == 2 and 0 < evidence["expected_share"] < 1
    assert evidence["text"].startswith("Backtest over 2 months: ")
    assert f"{evidence['coverage_pct']:.1f}% of street length" in evidence["text"]
    ward = sorted((out / "wards").glob("*.csv"))[0].stem
    assert runner.invoke(app, ["export", str(out), "--ward", ward]).exit_code == 0
    handout = next((out / "exports").glob("*.csv")).read_text(encoding="utf-8-sig")
    assert "Backtest,Backtest over 2 months" in handout


def test_run_map_has_layers_and_popups(vancouver_run: Path) -> None:
    import re

    page = (vancouver_run / "map.html").read_text(encoding="utf-8")
    found = re.search(r"var cfg = (\{.*?\});\n", page, re.S)
    assert found is not None
    cfg = json.loads(found.group(1))
    assert {"areas", "streets", "hexes", "clusters"} <= set(cfg)
    hot = pd.read_csv(vancouver_run / "hot_streets.csv")
    streets = cfg["streets"]
    assert streets["r"][0] == 1 and hot.loc[0, "street"] in streets["popup"][0]
    assert "Patrol window: <b>" in streets["popup"][0]  # the page draws the monthly chart
    assert len(cfg["areas"]["code"]) == 22 and len(cfg["areas"]["m"]) == 22
    index = (vancouver_run / "index.html").read_text(encoding="utf-8")
    assert index.count("<tr>") == 1 + len(list((vancouver_run / "wards").glob("*.csv")))
