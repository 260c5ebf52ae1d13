"""Reliability: invariants under generated input (Hypothesis), failed and killed runs, --debug."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots.cli import app
from hotspots.output import export, site
from hotspots.read.policeuk import read_police_uk
from hotspots.rejects import (
    REASON_DATE,
    REASON_FUTURE,
    REASON_MALFORMED,
    REASON_NO_COORDS,
    REASON_RANGE,
)
from hotspots.temporal.profiles import aoristic_weights
from tests.fixtures.make_small import write_small
from tests.fixtures.make_tiny import HEADER, tiny_args

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_cell = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)
_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    _cell,
    st.floats(-0.2, 0.0).map(lambda v: f"{v:.5f}"),
)
_row = st.lists(st.one_of(_cell, _number), min_size=1, max_size=14)


def _csv_line(fields: list[str]) -> str:
    return ",".join('"' + f.replace('"', '""') + '"' for f in fields)


# invariants ---------------------------------------------------------------------------------


@SETTINGS
@given(rows=st.lists(_row, min_size=1, max_size=30))
def test_rows_in_equal_kept_plus_rejected(
    rows: list[list[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("h") / "2017-01-x-street.csv"
    lines = [HEADER, *(_csv_line(r).replace("\n", " ").replace("\r", " ") for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kept, rejected = read_police_uk([path], quiet=True)
    assert len(kept) + len(rejected) == len(rows)
    assert set(rejected["reason"]) <= {
        REASON_MALFORMED,
        REASON_NO_COORDS,
        REASON_RANGE,
        REASON_DATE,
        REASON_FUTURE,
    }


@SETTINGS
@given(
    start=st.datetimes(
        min_value=pd.Timestamp("2015-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2025-01-01").to_pydatetime(),
    ),
    minutes=st.lists(st.integers(0, 20_000), min_size=1, max_size=20),
)
def test_aoristic_weights_sum_to_one(start: object, minutes: list[int]) -> None:
    begin = pd.Series([pd.Timestamp(start).floor("min")] * len(minutes))
    crimes = pd.DataFrame(
        {
            "occurred_from": begin,
            "occurred_to": begin + pd.to_timedelta(minutes, unit="min"),
            "has_time": True,
        }
    )
    weights = aoristic_weights(crimes)
    np.testing.assert_allclose(np.asarray(weights.sum(axis=1)).ravel(), 1.0, rtol=1e-9)


@SETTINGS
@given(rows=st.lists(st.tuples(_cell, st.integers(-5, 5)), min_size=1, max_size=20))
def test_exports_round_trip(
    rows: list[tuple[str, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    df = pd.DataFrame(rows, columns=["street", "crimes"])
    df["street"] = df["street"].str.replace("\r", " ")
    safe = export.neutralise_formulas(df)
    path = export.write_csv(safe, tmp_path_factory.mktemp("e") / "x.csv")
    back = pd.read_csv(path, dtype={"street": str}, keep_default_na=False)
    assert back["street"].tolist() == safe["street"].tolist()
    assert back["crimes"].tolist() == df["crimes"].tolist()
    # a cell a spreadsheet would run as a formula starts with one of these; a plain number
    # such as -0 or -0.41 is data, not a formula, and is written as it is
    formula = back["street"].str.match(r"^[=+\-@\t]") & ~back["street"].str.fullmatch(
        r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    )
    assert not formula.any()


# failed and killed runs -----------------------------------------------------------------------


def _tiny_args(tmp_path: Path, out: Path) -> list[str]:
    return tiny_args(tmp_path, out, "--min-crimes", "2", "--quiet")


def test_failed_stage_leaves_no_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> list[Path]:
        msg = "disk full while writing maps"
        raise RuntimeError(msg)

    monkeypatch.setattr(site, "write_maps", broken)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, _tiny_args(tmp_path, out))
    assert res.exit_code == 1
    assert "unexpected RuntimeError: disk full while writing maps" in res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site, "write_maps", lambda *a, **k: 1 / 0)
    res = CliRunner().invoke(app, ["--debug", *_tiny_args(tmp_path, tmp_path / "run")])
    assert isinstance(res.exception, ZeroDivisionError)


@pytest.mark.e2e
def test_killed_run_leaves_nothing_complete_looking(tmp_path: Path) -> None:
    # a generated six-month extract: the run writes its tables, plots and twelve area maps
    # for about a second, long enough to be killed in the middle
    small = write_small(tmp_path / "in")
    out = tmp_path / "van"
    cmd = [
        sys.executable,
        "-m",
        "hotspots.cli",
        "run",
        "--crimes",
        str(small["crimes"]),
        "--areas",
        str(small["areas"]),
        "--streets",
        str(small["streets"]),
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (
        not list(tmp_path.glob(".van.partial-*/*"))
        and proc.poll() is None
        and time.monotonic() < deadline
    ):  # killed while it writes its first files
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    (partial,) = tmp_path.glob(".van.partial-*")  # private to the killed run: its pid in the name
    assert partial.name.startswith(f".van.partial-{proc.pid}-")
    assert not (partial / "run.json").exists()
    res = subprocess.run([*cmd, "--no-area-maps"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr  # the dead run's lock was released by the kernel
    assert (out / "run.json").exists()
    assert not list(tmp_path.glob(".van.*"))  # its partial folder removed, the lock file too
