"""Docs that fail when they rot: every command has help text and appears in the README."""

from __future__ import annotations

import importlib
import re
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


#: Paths the README names that a build makes (never committed): the wheel's offline scripts.
BUILT_PATHS = {"hotspots/_vendor/"}

PACKAGE = Path(__file__).resolve().parents[1] / "hotspots"


def _architecture() -> str:
    start = README.index("## Architecture\n")
    return README[start : README.index("\n## ", start + 1)]


def test_every_package_path_in_the_readme_exists() -> None:
    """Each ``hotspots/...`` path the README names is a file or folder of the package."""
    named = set(re.findall(r"hotspots/[\w/.*-]*[\w/*]", README)) - BUILT_PATHS
    assert named, "the README names no package path"
    missing = [p for p in sorted(named) if not list(PACKAGE.parent.glob(p.rstrip("/")))]
    assert not missing, f"README.md names paths that do not exist: {missing}"


def test_every_module_the_architecture_section_names_exists() -> None:
    """The Architecture section's modules exist: ``pkg/mod.py`` paths and each table row's."""
    section = _architecture()
    relative = set(re.findall(r"`(\w+/[\w*]+\.py)`", section))
    rows = re.findall(r"^\| `(\w+)/` \|[^|]*\| (.*) \|$", section, flags=re.MULTILINE)
    assert len(rows) >= 9, "the Architecture table lists the sub-packages"
    in_rows = {
        f"{package}/{module}"
        for package, modules in rows
        for module in re.findall(r"`([\w*]+\.py)`", modules)
    }
    missing = [
        p
        for p in sorted(relative | in_rows)
        if not list(PACKAGE.glob(p)) and not list(PACKAGE.parent.glob(p))  # tests/..., hotspots/...
    ]
    assert not missing, f"the Architecture section names modules that do not exist: {missing}"


def test_architecture_table_lists_every_sub_package() -> None:
    """Every sub-package of ``hotspots`` with Python modules has a row in the table."""
    section = _architecture()
    listed = set(re.findall(r"^\| `(\w+)/` \|", section, flags=re.MULTILINE))
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == listed


def _docs() -> dict[str, str]:
    """Return the repository's Markdown and the notebooks' text, by path."""
    root = PACKAGE.parent
    paths = [root / "README.md", *sorted((root / "boundaries").glob("*.md"))]
    paths += sorted((root / "notebooks").glob("*.ipynb"))
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in paths}


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a hotspots module, or an attribute of one, that exists."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_dotted_hotspots_name_in_the_docs_resolves() -> None:
    """``hotspots.a.b`` in the README, boundaries/ notes and notebooks names a real thing."""
    bad = [
        f"{path}: {name}"
        for path, text in _docs().items()
        for name in sorted(set(re.findall(r"\bhotspots(?:\.[A-Za-z_]\w*)+", text)))
        if not _resolves(name)
    ]
    assert not bad, f"names of modules or functions that do not exist: {bad}"
    assert not _resolves("hotspots.io.read_crimes")  # the reading of before issue 18


#: Dotted names in the package's source that are not modules: logger names.
LOGGER_NAMES = {"hotspots.warnings"}


def test_every_dotted_hotspots_name_in_the_package_resolves() -> None:
    """Docstrings and comments of ``hotspots/`` name modules and functions that exist."""
    bad = [
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in sorted(
            set(re.findall(r"\bhotspots(?:\.[A-Za-z_]\w*)+", path.read_text(encoding="utf-8")))
        )
        if name not in LOGGER_NAMES and not _resolves(name)
    ]
    assert not bad, f"names of modules or functions that do not exist: {bad}"
