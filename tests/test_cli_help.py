"""`hotspots --help` answers without importing the heavy libraries; lazy commands stay listed."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from hotspots import cli

HEAVY = ("geopandas", "pandas", "shapely", "numpy", "hotspots.pipeline", "dask")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from hotspots.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", sorted(cli._LAZY_COMMANDS))
def test_lazy_command_short_help_is_its_own(name: str) -> None:
    group = click.Group(commands={})  # a fresh group: the command's own help text
    module, attr, short = cli._LAZY_COMMANDS[name]
    cmd = getattr(__import__(module, fromlist=[attr]), attr)
    group.add_command(cmd, name)
    for limit in (45, 1000):
        stand_in = click.Command(name, help=short)  # what `hotspots --help` shows
        assert stand_in.get_short_help_str(limit) == cmd.get_short_help_str(limit)


def test_lazy_commands_run_and_show_help() -> None:
    for name in cli._LAZY_COMMANDS:
        res = CliRunner().invoke(cli.app, [name, "--help"])
        assert res.exit_code == 0, res.output
        assert "Usage: app " in res.output or f"{name} [OPTIONS]" in res.output
    listed = CliRunner().invoke(cli.app, ["--help"]).output
    assert all(f"  {name} " in listed for name in [*cli._LAZY_COMMANDS, "run", "export"])
