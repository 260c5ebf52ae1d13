"""Browser tests of a real run folder's maps: the product as a tasking officer opens it.

A Vancouver run (3 months, offline maps) is written once; the city-wide map and an area map are
opened in headless Chromium with the network blocked. Any console error fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from hotspots.cli import app
from tests.browser_helpers import open_map, save_screenshot, screenshot_colours
from tests.fixtures.runs import vancouver_args

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

_OVERLAYS = """() => Object.fromEntries(Object.entries(window.hotspotsMap.overlays).map(
  ([name, l]) => { let n = 0; l.eachLayer(c => { if ((c._path && c._path.isConnected) || (c._icon && c._icon.isConnected)) n += 1;
    if (c.eachLayer) c.eachLayer(d => { if (d._path && d._path.isConnected) n += 1; }); });
    return [name, n]; }))"""


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    if not (Path(__file__).resolve().parents[1] / "node_modules").is_dir() and not os.environ.get(
        "HOTSPOTS_WEB_ASSETS"
    ):
        if os.environ.get("CI"):
            pytest.fail("node_modules missing: CI must run `make setup` (npm ci)")
        pytest.skip("node_modules missing: run `make setup` for offline maps")
    out = tmp_path_factory.mktemp("browser") / "vancouver"
    res = CliRunner().invoke(
        app,
        vancouver_args(out, "--offline", "--quiet", start="2025-10"),
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("HOTSPOTS_ARTIFACTS", tmp_path))


def _overlays(page: Page) -> dict[str, int]:
    counts: dict[str, int] = page.evaluate(_OVERLAYS)
    return counts


def _toggle(page: Page, name: str) -> None:
    page.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input").click()


def _open_first_street(page: Page) -> str:
    page.evaluate("""() => { const s = window.hotspotsMap.streets; let first = null;
      s.eachLayer(l => { if (!first) first = l; });
      window.hotspotsMap.map.fitBounds(first.getBounds(), {maxZoom: 17}); }""")
    page.wait_for_timeout(300)
    box: Any = page.evaluate("""() => { let first = null;
      window.hotspotsMap.streets.eachLayer(l => { if (!first) first = l; });
      const r = first._path.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }""")
    page.evaluate(
        """([x, y]) => { let first = null;
      window.hotspotsMap.streets.eachLayer(l => { if (!first) first = l; });
      first.fire('click', {latlng: first.getCenter()}); }""",
        box,
    )
    page.wait_for_selector(".leaflet-popup-content .hs-popup", timeout=3000)
    return str(page.inner_text(".leaflet-popup-content"))


def test_city_map_layers_popup_and_screenshot(
    browser: Browser, offline_run: Path, shots: Path
) -> None:
    page, errors = open_map(browser, offline_run / "map.html")
    try:
        counts = _overlays(page)
        assert counts["Hot streets"] > 50 and counts["Street network"] > 1000
        assert counts["Hexagons (Gi* hot/cold spots)"] == 0  # off until asked for
        for name, n in counts.items():
            for _ in range(2):  # off then on, or on then off
                _toggle(page, name)
                now = _overlays(page)[name]
                assert (now == 0) if n else (now > 0), f"{name} did not switch ({n} -> {now})"
                n = now
        text = _open_first_street(page)
        hot = (offline_run / "hot_streets.csv").read_text().splitlines()[1]
        assert hot.split(",")[3] in text  # the street of rank 1
        assert "Rank 1 overall" in text and "Patrol window:" in text and "Trend:" in text
        png = save_screenshot(page, shots, "vancouver_city_map")
        assert screenshot_colours(png.read_bytes())["non_white"] > 0.2
        assert errors == []
    finally:
        page.context.close()


def test_area_map_fits_area_shows_crimes_and_filters(
    browser: Browser, offline_run: Path, shots: Path
) -> None:
    page, errors = open_map(browser, offline_run / "maps" / "CBD.html")
    try:
        inside = page.evaluate("""() => { const m = window.hotspotsMap.map, b = m.getBounds();
          let all = true; window.hotspotsMap.streets.eachLayer(l => {
            if (!b.intersects(l.getBounds())) all = false; }); return all; }""")
        assert inside, "the area map does not open on its area"
        _toggle(page, "Crime locations")
        page.evaluate("() => window.hotspotsMap.map.setZoom(16)")
        page.wait_for_timeout(400)
        assert _overlays(page)["Crime locations (zoom in)"] > 0
        before = _overlays(page)["Hot streets"]
        page.select_option("#hs-type", "theft_of_vehicle")
        page.wait_for_timeout(200)
        widths = page.evaluate("""() => { let z = 0; window.hotspotsMap.streets.eachLayer(l => {
          if (l.options.weight === 0) z += 1; }); return z; }""")
        assert widths > 0 and before > 0  # streets without that crime type are hidden
        page.fill("#hs-search", "")
        save_screenshot(page, shots, "vancouver_area_map")
        assert errors == []
    finally:
        page.context.close()


def test_index_links_every_area_map(offline_run: Path) -> None:
    index = (offline_run / "index.html").read_text(encoding="utf-8")
    acc = json.loads((offline_run / "run.json").read_text())
    assert acc["parameters"]["offline"] is True
    for p in (offline_run / "maps").glob("*.html"):
        assert f"maps/{p.name}" in index
        assert p.stat().st_size < 3_000_000
