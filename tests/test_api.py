"""The public API of ``import hotspots``: lazy (PEP 562), complete, and ``__all__`` everywhere."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import hotspots

PACKAGE = Path(hotspots.__file__).parent


def test_every_public_name_resolves_to_its_module() -> None:
    assert set(hotspots.__all__) == {"__version__", *hotspots._EXPORTS}
    for name, module in hotspots._EXPORTS.items():
        assert getattr(hotspots, name) is getattr(
            importlib.import_module(f"hotspots.{module}"), name
        )


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_verb"):
        hotspots.no_such_verb  # noqa: B018


def test_import_hotspots_loads_no_heavy_library() -> None:
    code = (
        "import sys, hotspots; "
        "print(sorted(m for m in ('pandas', 'geopandas', 'numpy', 'shapely', 'hotspots.pipeline')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_module_declares_all_of_defined_names() -> None:
    missing, undeclared = [], {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared: list[str] | None = None
        defined = set()
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
                declared = ast.literal_eval(node.value)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                defined.add(node.name)
        if declared is None:
            missing.append(name)
        elif not path.name.startswith("_"):  # private modules (CLI commands) declare less
            public = {n for n in defined if not n.startswith("_")} - set(declared)
            if public:
                undeclared[name] = sorted(public)
    assert not missing, f"modules without __all__: {missing}"
    assert not undeclared, f"public but not in __all__: {undeclared}"


def test_run_config_takes_every_run_option_flat() -> None:
    from hotspots.cli import run_cmd
    from hotspots.pipeline import PARAMETERS, RunConfig

    cli = {p.name for p in run_cmd.params} - {"crimes", "more_crimes", "areas", "streets", "out"}
    assert cli <= set(PARAMETERS)
    paths = {"crimes": [Path("c.csv")], "areas": Path("a.gpkg"), "streets": Path("s.gpkg")}
    config = RunConfig.from_options(
        **paths, out=Path("o"), fmt="vancouver", min_crimes=7, patrol_share=0.4, quiet=True
    )
    assert (config.inputs.fmt, config.ranking.min_crimes, config.time.patrol_share) == (
        "vancouver",
        7,
        0.4,
    )
    assert config.output.quiet and list(config.options()) == list(PARAMETERS)
    with pytest.raises(TypeError, match="min_crime"):
        RunConfig.from_options(**paths, out=Path("o"), min_crime=7)
