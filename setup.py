"""Build step: a wheel carries the browser scripts of offline maps, from the pinned npm packages.

Everything else about the package is declared in ``pyproject.toml``. This file adds one step
to ``build_py``: copy the npm files that ``hotspots.output.offline`` inlines (the one list is
:func:`hotspots.output.offline.vendored_files`) and each package's licence into
``<build>/hotspots/_vendor/``. They come from the repository's ``node_modules`` when it holds
exactly the versions pinned in ``package-lock.json``, else from ``npm ci --ignore-scripts`` run
in the build's temporary folder (so a wheel built from the sdist needs ``npm``). Nothing is
written to the source tree, and editable installs (``pip install -e .``) skip the step: they
read ``node_modules`` in place.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
LOCK = "package-lock.json"


def _offline() -> Any:
    """Load ``hotspots/output/offline.py`` without running any ``__init__.py`` or dependency."""
    names = ("hotspots", "hotspots.output", "hotspots.errors", "hotspots.output.offline")
    saved = {name: sys.modules.get(name) for name in names}
    for name, folder in (("hotspots", "hotspots"), ("hotspots.output", "hotspots/output")):
        package = types.ModuleType(name)
        package.__path__ = [str(ROOT / folder)]
        sys.modules[name] = package
    try:
        for name, file in (("errors", "errors.py"), ("output.offline", "output/offline.py")):
            spec = importlib.util.spec_from_file_location(
                f"hotspots.{name}", ROOT / "hotspots" / file
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        return module
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def _matches_lock(node_modules: Path) -> bool:
    """Return whether ``node_modules`` holds every package at the version the lock pins."""
    pinned = json.loads((ROOT / LOCK).read_text(encoding="utf-8"))["packages"]
    for key, entry in pinned.items():
        if not key:
            continue
        meta = node_modules.parent / key / "package.json"
        if not meta.is_file():
            return False
        if json.loads(meta.read_text(encoding="utf-8")).get("version") != entry.get("version"):
            return False
    return node_modules.is_dir()


def _npm_packages(temp: Path) -> Path:
    """Return a ``node_modules`` folder with the pinned packages, running ``npm ci`` if needed."""
    here = ROOT / "node_modules"
    if _matches_lock(here):
        return here
    npm = shutil.which("npm")
    if npm is None:
        msg = (
            "building a hotspots wheel needs the npm packages of package.json: install npm "
            "(it runs `npm ci --ignore-scripts`), or run `make setup` first"
        )
        raise SystemExit(msg)
    work = temp / "web-assets"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", LOCK):
        shutil.copy2(ROOT / name, work / name)
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(work)],
        check=True,
    )
    return work / "node_modules"


def _is_licence(name: str) -> bool:
    """Return whether a file at a package's root is its licence (LICENSE, MIT-LICENCE.txt...)."""
    return "licence" in name.lower() or "license" in name.lower()


class BuildWithWebAssets(build_py):  # type: ignore[misc]  # setuptools is untyped here
    """``build_py`` that also copies the offline map scripts into ``hotspots/_vendor``."""

    def run(self) -> None:
        """Build the Python files, then (not for editable installs) the web assets."""
        super().run()
        if self.editable_mode:
            return
        offline = _offline()
        temp = Path(self.get_finalized_command("build").build_temp)
        source = _npm_packages(temp)
        target = Path(self.build_lib) / "hotspots" / offline.VENDOR_DIR
        shutil.rmtree(target, ignore_errors=True)
        files = offline.vendored_files(source)
        packages = {
            f.split("/")[0] if not f.startswith("@") else "/".join(f.split("/")[:2]) for f in files
        }
        licences = [
            f"{pkg}/{p.name}"
            for pkg in sorted(packages)
            for p in (source / pkg).iterdir()
            if p.is_file() and _is_licence(p.name)
        ]
        for name in [*files, *licences]:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)
        print(
            f"hotspots: {len(files)} offline map files and {len(licences)} licences "
            f"from {source} -> {target}"
        )


setup(cmdclass={"build_py": BuildWithWebAssets})
