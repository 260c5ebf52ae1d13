"""Browser tests of the "Repeat callers" and "Next month's list" layers (network blocked).

A small offline map page from :func:`hotspots.output.maps.hot_streets_page` with three hot
streets, repeat-caller counts (labelled synthetic) and a forecast of two places.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from hotspots.output import maps, offline
from tests.browser_helpers import open_map, toggle_overlay

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

FORECAST_TEXT = "Next month's list (all crime) was made by a test method; it held 48%."


def _page_html() -> str:
    rows: list[dict[str, Any]] = [
        {
            "street": f"Street {i}",
            "extent": "",
            "area_code": "A1",
            "area_name": "Area 1",
            "crimes": 30 - i,
            "rank": i + 1,
            "area_rank": i + 1,
            "length_m": 100.0,
            "crimes_per_100m": 30.0 - i,
            "lon": -0.125 + 0.002 * i,
            "lat": 51.51,
            "n_burglary": 30 - i,
            "repeat_callers_24h": [1, 0, 0][i],
            "repeat_callers_6m": [3, 0, 2][i],
        }
        for i in range(3)
    ]
    lines = [LineString([(530000 + 140 * i, 180900), (530000 + 140 * i, 181000)]) for i in range(3)]
    hot = gpd.GeoDataFrame(rows, geometry=lines, crs=27700)
    areas = gpd.GeoDataFrame(
        {"area_code": ["A1"], "area_name": ["Area 1"], "crimes": [90]},
        geometry=[box(529800, 180700, 530600, 181200)],
        crs=27700,
    )
    forecast = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "street_name": ["Street 0", "Street 2"],
            "area_code": ["A1", "A1"],
            "crimes_per_month": [2.0, 1.0],
            "expected": [1.5, 0.4],
            "forecast_rank": [1, 2],
        },
        geometry=gpd.points_from_xy([530000, 530280], [180950, 180950]),
        crs=27700,
    )
    info = {"month": "2026-01", "listed": 2, "streets": 2, "coverage_pct": 1.0}
    page = maps.hot_streets_page(
        hot,
        areas,
        title="Layers test",
        focus=["A1"],
        callers_synthetic=True,
        forecast=forecast,
        forecast_info={**info, "text": FORECAST_TEXT},
        offline=True,
    )
    return page


@pytest.fixture(scope="module")
def layers_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = offline.default_assets_dir()
    if not (root / "leaflet" / "package.json").is_file():
        reason = f"npm packages not installed in {root} (run `make setup`, which runs npm ci)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must test offline maps: {reason}")
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("layers") / "layers.html"
    path.write_text(_page_html(), encoding="utf-8")
    return path


@pytest.fixture
def page(browser: Browser, layers_path: Path) -> Iterator[tuple[Page, list[str]]]:
    page, errors = open_map(browser, layers_path)
    yield page, errors
    page.context.close()


def _legend(page: Page) -> str:
    text: str = page.locator(".hs-legend").inner_text()
    return text


def test_repeat_callers_off_by_default_explained_once(page: tuple[Page, list[str]]) -> None:
    p, errors = page
    name = "Repeat callers (synthetic demo data)"
    assert "Repeat callers" not in _legend(p)
    assert p.evaluate("hotspotsMap.map.hasLayer(hotspotsMap.callers)") is False
    toggle_overlay(p, name)
    popup = p.locator(".leaflet-popup-content").inner_text()
    assert "2+ calls from the same caller within 24 hours" in popup
    assert "Synthetic demo data" in popup and "2 places on this map" in popup
    # Street 1 has no repeat caller: two circles, the busiest one with a 24-hour repeat
    assert p.evaluate("hotspotsMap.callers.getLayers().length") == 2
    legend = _legend(p)
    assert "Repeat callers (synthetic demo data): 2 places" in legend
    assert "within 24 hours" in legend and "within 6 months" in legend
    p.evaluate("hotspotsMap.map.closePopup()")
    # Leaflet fades a closed popup out and removes it 200 ms later
    p.wait_for_selector(".leaflet-popup", state="detached")
    toggle_overlay(p, name)  # off: no legend entry
    assert "Repeat callers" not in _legend(p)
    toggle_overlay(p, name)  # on again: no second explanation
    assert p.locator(".leaflet-popup-content").count() == 0
    assert "Repeat callers" in _legend(p)
    # a circle opens its place's popup, whose caller line says the data are synthetic
    p.evaluate("() => { const l = hotspotsMap.callers.getLayers()[0];"
               " l.fire('click', {latlng: l.getLatLng()}); }")  # fmt: skip
    popup = p.locator(".leaflet-popup-content").inner_text()
    assert "Street 0" in popup
    assert "Repeat callers (synthetic demo data): 3 in the last 6 months, 1 in the last 24" in popup
    assert errors == []


def test_next_months_list_with_its_sentence(page: tuple[Page, list[str]]) -> None:
    p, errors = page
    assert "Next month" not in _legend(p)
    toggle_overlay(p, "Next month's list (2026-01)")
    assert p.evaluate("hotspotsMap.forecast.getLayers().length") == 2
    legend = _legend(p)
    assert "Next month's list, 2026-01: 2 of its 2 places are on this map" in legend
    assert FORECAST_TEXT in legend and "covers 1% of the study area" in legend
    tips = p.evaluate("hotspotsMap.forecast.getLayers().map(l => l.getTooltip().getContent())")
    assert "#1 on next month's list: Street 0 (street #1), 1.5 crimes expected" in tips
    assert errors == []
