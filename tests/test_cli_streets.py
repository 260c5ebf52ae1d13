"""Tests of ``hotspots hot-streets``: both engines write the same hot_streets.csv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hotspots.cli import app
from hotspots.read.datasets import get_path
from hotspots.read.schema import HOT_STREET_COLUMNS

distributed = pytest.importorskip("distributed", reason="the Dask engine needs dask[distributed]")


@pytest.fixture(scope="module")
def inputs(data_root: Path) -> list[str]:
    """Two London months and the central streets: the command line's input options."""
    folder = get_path("london_crimes")
    months = [str(folder / f"2017-{m}-metropolitan-street.csv.gz") for m in ("11", "12")]
    return [
        "--crimes",
        *months,
        "--areas",
        str(get_path("london_wards")),
        "--streets",
        str(get_path("london_streets_central")),
        "--quiet",
    ]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """A segment cache of this module's own; no scheduler address from the caller's shell."""
    return {"HOTSPOTS_CACHE": str(tmp_path_factory.mktemp("cache")), "DASK_SCHEDULER_ADDRESS": None}


def _invoke(args: list[str], env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(app, ["hot-streets", *args], env=env)


@pytest.fixture(scope="module")
def local_csv(
    inputs: list[str], env: dict[str, str | None], tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    out = tmp_path_factory.mktemp("local") / "run"
    # a scheduler address in the environment is for --engine dask only: the local engine ignores it
    res = _invoke([*inputs, "--out", str(out)], {**env, "DASK_SCHEDULER_ADDRESS": "tcp://no:1"})
    assert res.exit_code == 0, res.output
    return (out / "hot_streets.csv").read_bytes()


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """An existing cluster, as a user would have: a TCP scheduler with two workers."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as c:
        yield c


# inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["--crimes", "--areas", "--streets", "--out"])
def test_missing_option(
    missing: str, inputs: list[str], env: dict[str, str | None], tmp_path: Path
) -> None:
    args = [*inputs, "--out", str(tmp_path / "run")]
    at = args.index(missing)
    args = args[:at] + args[at + (3 if missing == "--crimes" else 2) :]
    res = _invoke(args, env)
    assert res.exit_code == 2
    assert f"Missing option '{missing}'" in res.output


def test_dask_options_need_the_dask_engine(
    inputs: list[str], env: dict[str, str | None], tmp_path: Path
) -> None:
    res = _invoke([*inputs, "--out", str(tmp_path / "run"), "--workers", "2"], env)
    assert res.exit_code == 2
    assert "--workers applies to --engine dask only; add --engine dask" in res.output


def test_workers_size_a_local_cluster_only(
    inputs: list[str], env: dict[str, str | None], tmp_path: Path
) -> None:
    res = _invoke(
        [
            *inputs,
            "--out",
            str(tmp_path / "run"),
            "--engine",
            "dask",
            "--workers",
            "2",
            "--scheduler",
            "tcp://127.0.0.1:1",
        ],
        env,
    )
    assert res.exit_code == 2
    assert "--workers sizes a local cluster, but --scheduler is given" in res.output


def test_existing_output_needs_overwrite(
    inputs: list[str], env: dict[str, str | None], tmp_path: Path
) -> None:
    res = _invoke([*inputs, "--out", str(tmp_path)], env)
    assert res.exit_code == 1
    assert (
        res.output == f"Error: output folder {tmp_path} exists already; choose another "
        "--out or pass --overwrite\n"
    )


def test_dask_not_installed(
    inputs: list[str], env: dict[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    res = _invoke([*inputs, "--out", str(tmp_path / "run"), "--engine", "dask"], env)
    assert res.exit_code == 1
    assert res.output == (
        "Error: --engine dask needs Dask (dask[distributed]), which is not "
        "installed: run `pip install -e '.[dask]'`, or use --engine local\n"
    )


@pytest.mark.e2e
def test_bad_scheduler_is_one_line(
    inputs: list[str], env: dict[str, str | None], tmp_path: Path
) -> None:
    # a real process, so that whatever Dask itself prints to stderr is seen too
    args = [
        sys.executable,
        "-m",
        "hotspots.cli",
        "hot-streets",
        *inputs,
        "--engine",
        "dask",
        "--out",
        str(tmp_path / "run"),
        "--scheduler",
        "tcp://127.0.0.1:1",
        "--connect-timeout",
        "2",
    ]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None},
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        "Error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:1': Timed out trying to connect"
    )
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert not (tmp_path / "run").exists()


# outputs ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_local_cluster_equals_local_engine(
    inputs: list[str], env: dict[str, str | None], local_csv: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    res = _invoke([*inputs, "--out", str(out), "--engine", "dask", "--workers", "2"], env)
    assert res.exit_code == 0, res.output
    assert (out / "hot_streets.csv").read_bytes() == local_csv
    manifest = json.loads((out / "hot_streets.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == "dask"
    assert manifest["scheduler"] == "local cluster of 2 workers"
    assert (manifest["workers"], manifest["partitions"]) == (2, 4)
    assert manifest["hot_streets"] == local_csv.count(b"\n") - 1 > 20
    assert manifest["seconds"] > 0


@pytest.mark.e2e
def test_columns_are_those_of_hotspots_run(local_csv: bytes) -> None:
    header = local_csv.split(b"\n", 1)[0].decode().split(",")
    assert header[: len(HOT_STREET_COLUMNS)] == HOT_STREET_COLUMNS
    assert all(c.startswith("n_") for c in header[len(HOT_STREET_COLUMNS) :])


@pytest.mark.e2e
def test_existing_cluster(
    inputs: list[str], env: dict[str, str | None], local_csv: bytes, cluster: object, tmp_path: Path
) -> None:
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    assert address.startswith("tcp://")
    out = tmp_path / "run"
    res = _invoke(
        [
            *inputs,
            "--out",
            str(out),
            "--engine",
            "dask",
            "--scheduler",
            address,
            "--partitions",
            "3",
        ],
        env,
    )
    assert res.exit_code == 0, res.output
    assert (out / "hot_streets.csv").read_bytes() == local_csv
    manifest = json.loads((out / "hot_streets.json").read_text(encoding="utf-8"))
    assert (manifest["scheduler"], manifest["workers"], manifest["partitions"]) == (address, 2, 3)
    # the address may come from DASK_SCHEDULER_ADDRESS instead; --overwrite replaces the folder
    res = _invoke(
        [*inputs, "--out", str(out), "--engine", "dask", "--overwrite"],
        {**env, "DASK_SCHEDULER_ADDRESS": address},
    )
    assert res.exit_code == 0, res.output
    assert (out / "hot_streets.csv").read_bytes() == local_csv
    assert json.loads((out / "hot_streets.json").read_text(encoding="utf-8"))["partitions"] == 4
