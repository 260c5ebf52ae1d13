"""Browser tests: the offline small map in headless Chromium with the network blocked.

Run alone with ``pytest -m browser``. Screenshots are written under pytest's temporary
folder, or into ``$HOTSPOTS_ARTIFACTS`` when it is set (to keep them, e.g. on CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hotspots.output import offline
from tests.browser_helpers import (
    HOSTILE_NAME,
    HOT_STREETS,
    click_latlng,
    open_map,
    overlay_counts,
    save_screenshot,
    screenshot_colours,
    small_offline_map,
    toggle_overlay,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("HOTSPOTS_ARTIFACTS")
    return Path(env) if env else tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def offline_map_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = offline.default_assets_dir()
    if not (root / "leaflet" / "package.json").is_file():
        reason = f"npm packages not installed in {root} (run `make setup`, which runs npm ci)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must test offline maps: {reason}")
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("maps") / "small_offline.html"
    path.write_text(
        offline.inline_assets(small_offline_map().get_root().render()), encoding="utf-8"
    )
    return path


@pytest.fixture
def page(browser: Browser, offline_map_path: Path) -> Iterator[tuple[Page, list[str]]]:
    page, errors = open_map(browser, offline_map_path)
    yield page, errors
    page.context.close()


def test_opens_offline_without_errors(page: tuple[Page, list[str]], artifacts: Path) -> None:
    p, errors = page
    assert p.evaluate("typeof L") == "object"
    assert p.evaluate("L.version") == "1.9.3"
    counts = overlay_counts(p)
    assert counts["Street network"] == len(HOT_STREETS) + 6
    assert counts["Hot streets"] == len(HOT_STREETS)
    assert counts["Crimes"] > 0 and counts["Heat"] == 1
    assert p.locator(".leaflet-control-search").count() == 1
    assert p.locator(".leaflet-control-zoom-fullscreen").count() == 1
    # the fullscreen and layer icons come from data: URIs, so they have a size
    icon = p.evaluate(
        "getComputedStyle(document.querySelector('.leaflet-control-zoom-fullscreen'))"
        ".backgroundImage"
    )
    assert icon.startswith('url("data:image/svg+xml;base64,')
    shot = save_screenshot(p, artifacts, "small_offline")
    colours = screenshot_colours(shot.read_bytes())
    assert colours["non_white"] > 0.02 and colours["colours"] > 50, colours
    assert errors == []


@pytest.mark.parametrize("name", ["Street network", "Hot streets", "Crimes", "Heat"])
def test_layer_control_toggles_overlay(page: tuple[Page, list[str]], name: str) -> None:
    p, errors = page
    shown = overlay_counts(p)[name]
    assert shown > 0
    toggle_overlay(p, name)
    assert overlay_counts(p)[name] == 0
    toggle_overlay(p, name)
    assert overlay_counts(p)[name] == shown
    assert errors == []


def test_click_on_street_opens_popup(page: tuple[Page, list[str]]) -> None:
    p, errors = page
    name, crimes, line = HOT_STREETS[0]
    (lat, lng1), (_, lng2) = line
    click_latlng(p, lat, (lng1 + lng2) / 2)
    popup = p.locator(".leaflet-popup-content")
    popup.wait_for(timeout=3000)
    assert popup.inner_text().splitlines() == [name, f"Rank 1: {crimes} crimes"]
    assert errors == []


def test_hostile_street_name_renders_as_text(page: tuple[Page, list[str]]) -> None:
    p, errors = page
    _, _, line = HOT_STREETS[1]
    (lat, lng1), (_, lng2) = line
    click_latlng(p, lat, (lng1 + lng2) / 2)
    popup = p.locator(".leaflet-popup-content b")
    popup.wait_for(timeout=3000)
    assert popup.inner_text() == HOSTILE_NAME
    p.locator(".leaflet-control-search input").press_sequentially("Evil")  # tips use innerHTML
    tip = p.locator(".search-tip").first
    tip.wait_for(timeout=3000)
    assert tip.inner_text() == HOSTILE_NAME
    assert p.locator("img[src='x']").count() == 0
    assert p.evaluate("window.__xss") is None
    assert errors == []  # a dialog would be reported here
