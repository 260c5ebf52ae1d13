"""Installed like a library: the wheel carries the offline map scripts; PDFs are an extra.

The end-to-end test builds the wheel, installs it into a fresh virtual environment and runs
``hotspots run --offline`` and ``hotspots brief`` from a folder outside the repository, with
``HOTSPOTS_WEB_ASSETS`` unset, so the maps can only get Leaflet from the installed package. The
run is on the small generated extract (tests/fixtures/make_small.py): the install is what is
tested, the real data is not needed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from hotspots.brief.pdf import write_pdfs
from hotspots.errors import HotspotsError
from hotspots.output import offline
from hotspots.output.offline import MissingAssetError
from tests.browser_helpers import CHROMIUM
from tests.fixtures.make_small import write_small

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
#: What the wheel's build step needs from the checkout (setup.py reads node_modules).
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "package.json",
    "package-lock.json",
    "hotspots",
)


def _need_node_modules() -> None:
    if not (NODE_MODULES / "leaflet" / "package.json").is_file():
        reason = f"npm packages not installed in {NODE_MODULES} (run `make setup`)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the wheel's map scripts: {reason}")
        pytest.skip(reason)


def test_vendored_files_cover_every_npm_asset() -> None:
    _need_node_modules()
    files = offline.vendored_files(NODE_MODULES)
    for asset in offline.ASSETS:
        if asset.package not in {None, "folium"}:
            assert f"{asset.package}/{asset.file}" in files
            assert f"{asset.package}/package.json" in files
    # what stylesheets reference: Font Awesome's WOFF2 fonts only, Leaflet's marker images
    fonts = [f for f in files if "/webfonts/" in f]
    assert fonts and all(f.endswith(".woff2") for f in fonts)
    assert "leaflet/dist/images/marker-icon.png" in files
    assert "leaflet/dist/images/layers.png" in files  # url() in leaflet.css
    assert all(not f.startswith(("/", "..")) and ".." not in f.split("/") for f in files)


def test_vendored_files_name_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "leaflet").mkdir()
    with pytest.raises(MissingAssetError, match=r"not found under .*leaflet/dist/leaflet\.js"):
        offline.vendored_files(tmp_path)


def test_brief_without_playwright_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # import raises ImportError
    page = tmp_path / "E05000001.html"
    page.write_text("<html></html>")
    with pytest.raises(HotspotsError) as err:
        write_pdfs([page])
    assert "\n" not in str(err.value)
    assert "pip install 'hotspots[pdf]'" in str(err.value)
    assert "--no-pdf" in str(err.value)


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources (the checkout's build/ stays untouched)."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "_vendor")
            )
        else:
            shutil.copy2(ROOT / name, src / name)
    (src / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        cwd=tmp,
    )
    (wheel,) = dist.glob("hotspots-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """Return a venv with only the wheel installed; dependencies reached through a .pth line.

    A plain path line in a ``.pth`` file adds ``.venv``'s site-packages to ``sys.path``
    without running that folder's own ``.pth`` files, so the checkout's editable install of
    hotspots is not seen. The venv gets no pip of its own (installing pip into it is most of
    the cost of making it): this interpreter's pip installs the wheel into it (``--python``).
    """
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies_from_dev_venv.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return venv


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {offline.ASSETS_ENV, "PYTHONPATH", "VIRTUAL_ENV"}
    }
    return env


@pytest.mark.e2e
@pytest.mark.browser
def test_wheel_in_fresh_venv_runs_offline_maps_and_briefs(tmp_path: Path) -> None:
    _need_node_modules()
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must print PDFs: no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for rel in offline.vendored_files(NODE_MODULES):
        assert f"hotspots/{offline.VENDOR_DIR}/{rel}" in names
    assert not any(n.startswith("node_modules/") for n in names)

    venv = _fresh_venv(tmp_path, wheel)
    work = tmp_path / "elsewhere"  # outside the repository: no node_modules to find
    work.mkdir()
    env = _env()

    def run(*args: str) -> str:
        res = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    where = json.loads(
        run(
            str(venv / "bin" / "python"),
            "-c",
            "import json, importlib.metadata as m, hotspots, hotspots.output.offline as o; "
            "print(json.dumps([hotspots.__file__, str(o.default_assets_dir()), "
            "m.requires('hotspots')]))",
        )
    )
    installed = Path(where[0]).resolve()
    assert installed.is_relative_to(venv.resolve()), where  # not the checkout's package
    assert Path(where[1]).resolve() == installed.parent / offline.VENDOR_DIR
    assert any(re.fullmatch(r'playwright>=[\d.]+ ?; ?extra == "pdf"', r) for r in where[2])

    out = work / "small"
    small = write_small(tmp_path / "small")  # what is tested is the install, not the data
    run(
        str(venv / "bin" / "hotspots"),
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
        "--offline",
        "--no-area-maps",
    )
    html = (out / "map.html").read_text(encoding="utf-8")
    assert re.search(r"/\* leaflet [\d.]+: dist/leaflet\.js \(inlined for offline use\)", html)
    assert offline.find_external_urls(html) == []

    # two wards with hot streets (PDFs of every ward and borough would take longer)
    with (out / "areas.csv").open(encoding="utf-8", newline="") as f:
        wards = [r["area_code"] for r in csv.DictReader(f) if int(r["hot_streets"]) > 0][:2]
    assert len(wards) == 2
    run(str(venv / "bin" / "hotspots"), "brief", str(out), "--ward", wards[0], "--ward", wards[1])
    pdfs = sorted((out / "briefs").glob("*.pdf"))
    assert [p.stem for p in pdfs if p.stem in wards] == sorted(wards), [p.name for p in pdfs]
    assert all(p.read_bytes()[:5] == b"%PDF-" and p.stat().st_size > 10_000 for p in pdfs)
