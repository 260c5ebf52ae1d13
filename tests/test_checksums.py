"""A small real run's CSVs are byte-identical to committed checksums (issue 18, acceptance).

The refactors of issue 18 (the analyse/write split, the option groups of ``RunConfig``,
module moves) must change no output byte. ``tests/data/run_checksums.json`` holds the sha256
of every CSV of a ``hotspots run`` of Vancouver from 2025-10 without area maps, written by the
code before those refactors; this test repeats the run and compares.

The data folder's path is replaced by ``<data>`` before hashing (``rejected.csv`` names the
source file), so the checksums hold wherever the shared data lives. To regenerate them after a
deliberate change of the CSVs (say why in the commit)::

    .venv/bin/python -m tests.test_checksums
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.read.datasets import get_path

if TYPE_CHECKING:
    from hotspots.pipeline.config import RunConfig

CHECKSUMS = Path(__file__).parent / "data" / "run_checksums.json"
START = "2025-10"

pytestmark = pytest.mark.e2e


def run_args(out: Path) -> list[str]:
    """Return the `hotspots run` arguments of the checksummed run into ``out``."""
    return [
        "run",
        "--crimes",
        str(get_path("vancouver_crimes").resolve()),
        "--format",
        "vancouver",
        "--start",
        START,
        "--areas",
        str(get_path("vancouver_areas").resolve()),
        "--streets",
        str(get_path("vancouver_streets").resolve()),
        "--out",
        str(out),
        "--quiet",
        "--no-area-maps",
    ]


def csv_checksums(run: Path) -> dict[str, str]:
    """Return the sha256 of every CSV under ``run`` by relative path, the data folder masked."""
    data = str(get_path("vancouver_crimes").resolve().parents[1]).encode()
    return {
        path.relative_to(run).as_posix(): hashlib.sha256(
            path.read_bytes().replace(data, b"<data>")
        ).hexdigest()
        for path in sorted(run.rglob("*.csv"))
    }


def run_config(out: Path) -> RunConfig:
    """Return the ``RunConfig`` of the checksummed run into ``out`` (the API's own call)."""
    import hotspots as hs

    return hs.RunConfig.from_options(
        crimes=[get_path("vancouver_crimes").resolve()],
        areas=get_path("vancouver_areas").resolve(),
        streets=get_path("vancouver_streets").resolve(),
        out=out,
        fmt="vancouver",
        start=START,
        area_maps=False,
        quiet=True,
    )


def make_run(out: Path) -> Path:
    """Write the checksummed run into ``out`` and return it."""
    res = CliRunner().invoke(app, run_args(out))
    assert res.exit_code == 0, res.output
    return out


def test_run_csvs_match_committed_checksums(tmp_path: Path) -> None:
    expected = json.loads(CHECKSUMS.read_text(encoding="utf-8"))["csv_sha256"]
    got = csv_checksums(make_run(tmp_path / "run"))
    assert sorted(got) == sorted(expected)
    changed = sorted(name for name in expected if got[name] != expected[name])
    assert not changed, f"CSV bytes differ from {CHECKSUMS.name}: {changed}"


def test_analyse_writes_nothing_and_write_run_gives_the_same_csvs(tmp_path: Path) -> None:
    import hotspots as hs

    out = tmp_path / "run"
    config = run_config(out)
    result = hs.analyse(config)
    assert list(tmp_path.iterdir()) == []  # no folder, no lock, no partial folder
    assert not result.manifest and len(result.hot_streets) > 0
    assert "ranking" in result.seconds and "maps" not in result.seconds
    hs.write_run(result, config)
    assert list(result.manifest["seconds"])[-2:] == ["exports", "maps"]
    expected = json.loads(CHECKSUMS.read_text(encoding="utf-8"))["csv_sha256"]
    assert csv_checksums(out) == expected


def test_one_process_gives_the_csvs_of_the_forked_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run above forks for Gi* with the density clusters and for the area tables (on two
    # cores); told to keep one process, the run computes them in turn, byte for byte the same
    from hotspots.pipeline.beside import WORKERS_ENV, can_fork

    monkeypatch.setenv(WORKERS_ENV, "1")
    assert not can_fork()
    expected = json.loads(CHECKSUMS.read_text(encoding="utf-8"))["csv_sha256"]
    assert csv_checksums(make_run(tmp_path / "run")) == expected


def test_a_failed_table_leaves_no_folder_and_no_plotting_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the plots are drawn by a forked process while the tables are written: when a table
    # fails, the run waits for it before the staged folder goes, and reports the table's error
    import multiprocessing

    import hotspots as hs
    from hotspots.errors import InputDataError
    from hotspots.pipeline import writer

    out = tmp_path / "run"
    config = run_config(out)
    result = hs.analyse(config)

    def fail(*args: object) -> None:
        msg = "a table cannot be written"
        raise InputDataError(msg)

    monkeypatch.setattr(writer, "write_tables", fail)
    with pytest.raises(InputDataError, match="a table cannot be written"):
        hs.write_run(result, config)
    assert multiprocessing.active_children() == []
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a staged copy is left


def main(out: Path) -> None:
    """Write the run into ``out`` and its checksums into :data:`CHECKSUMS`."""
    sums = csv_checksums(make_run(out))
    CHECKSUMS.parent.mkdir(exist_ok=True)
    data = str(get_path("vancouver_crimes").resolve().parents[1])
    command = " ".join(["hotspots", *run_args(Path("OUT"))]).replace(data, "<data>")
    record = {"run": command, "csv_sha256": sums}
    CHECKSUMS.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{len(sums)} CSV checksums written to {CHECKSUMS}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("outputs/h11_checksums"))
