"""Docs that fail when they rot: every command has help text and appears in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hotspots.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "hotspots") -> list[tuple[str, click.Command]]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # lazy commands too (imported here)
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        full = f"{prefix} {name}"
        out.append((full, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full))
    return out


@pytest.mark.parametrize(("name", "cmd"), _commands(app), ids=str)
def test_command_has_help_and_is_documented(name: str, cmd: click.Command) -> None:
    assert cmd.help, f"{name} has no help text"
    assert name in README, f"`{name}` is not in README.md"
    res = CliRunner().invoke(app, [*name.split()[1:], "--help"])
    assert res.exit_code == 0


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README
