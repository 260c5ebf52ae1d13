"""Browser tests of real run folders' maps: the product as a tasking officer opens it.

Two runs are written once per module, with offline maps: Vancouver for 2025 (dated data, so
week periods too) and six months of London restricted to Westminster's wards (month-only
police.uk data; St James's, E05000644, holds the top hot street of the London data). The
maps are opened in headless Chromium at 1400x900 with the network blocked; any console
error fails the test. What the page shows after a choice is checked against the run's own
tables (``hot_streets.csv``, ``place_monthly.csv``). Speed budgets are measured by
``benchmarks/map_load.py``, not here.
"""

from __future__ import annotations

import csv
import html
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.output.charts import hour_day_svg
from hotspots.output.map_data import heat_code
from hotspots.read.datasets import get_path
from tests.browser_helpers import open_map, save_screenshot, screenshot_colours

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

VIEWPORT = {"width": 1400, "height": 900}
WARD = "E05000644"
TOO_FEW = 10


def _need_node_modules() -> None:
    if not (Path(__file__).resolve().parents[1] / "node_modules").is_dir() and not os.environ.get(
        "HOTSPOTS_WEB_ASSETS"
    ):
        if os.environ.get("CI"):
            pytest.fail("node_modules missing: CI must run `make setup` (npm ci)")
        pytest.skip("node_modules missing: run `make setup` for offline maps")


@pytest.fixture(scope="module")
def offline_run(vancouver_run: Path) -> Path:
    """The session's shared Vancouver run: offline maps and area maps (read-only)."""
    _need_node_modules()
    return vancouver_run


@pytest.fixture(scope="module")
def london_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    _need_node_modules()
    tmp = tmp_path_factory.mktemp("browser_london")
    wards = gpd.read_file(get_path("london_wards"))
    areas = tmp / "westminster.gpkg"
    wards[wards["borough"] == "Westminster"].to_file(areas)
    files = [
        str(get_path("london_crimes") / f"2017-{m:02d}-metropolitan-street.csv.gz")
        for m in range(7, 13)
    ]
    args = [
        "run",
        *(a for f in files for a in ("--crimes", f)),
        "--areas",
        str(areas),
        "--streets",
        str(get_path("london_streets_central")),
        "--out",
        str(tmp / "london"),
        "--offline",
        "--quiet",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return tmp / "london"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("HOTSPOTS_ARTIFACTS", tmp_path))


@pytest.fixture
def city(browser: Browser, offline_run: Path) -> Iterator[tuple[Page, list[str]]]:
    page, errors = open_map(browser, offline_run / "map.html", viewport=VIEWPORT)
    yield page, errors
    page.context.close()


@pytest.fixture
def ward(browser: Browser, london_run: Path) -> Iterator[tuple[Page, list[str]]]:
    page, errors = open_map(browser, london_run / "maps" / f"{WARD}.html", viewport=VIEWPORT)
    yield page, errors
    page.context.close()


# page helpers -------------------------------------------------------------------------------


def _on_map(page: Page) -> dict[str, bool]:
    shown: dict[str, bool] = page.evaluate("""() => { const h = window.hotspotsMap;
      return Object.fromEntries(Object.entries(h.overlays).map(
        ([k, l]) => [k, h.map.hasLayer(l)])); }""")
    return shown


def _toggle(page: Page, name: str) -> None:
    page.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input").click()


def _drawn(page: Page) -> list[dict[str, Any]]:
    """The places drawn now: name, area, area rank, rank, counts, status and colour."""
    rows: list[dict[str, Any]] = page.evaluate("""() => window.hotspotsMap.items
      .filter(it => window.hotspotsMap.streets.hasLayer(it.layer))
      .map(it => ({name: it.name, kind: it.kind, area: it.area, ar: it.ar, rank: it.rank,
        cur: it.cur, prev: it.prev, status: it.status, colour: (it.layer.options.color ||
          it.layer.getLayers()[0].options.color)}))""")
    return rows


def _badge(page: Page, n: int) -> str:
    return str(
        page.locator(".hs-rank").filter(has_text=re.compile(f"^{n}$")).first.get_attribute("title")
    )


def _open_badge(page: Page, n: int) -> None:
    page.locator(".hs-rank").filter(has_text=re.compile(f"^{n}$")).first.click()
    page.wait_for_selector(".leaflet-popup-content .hs-name", timeout=3000)
    page.wait_for_timeout(400)  # auto-pan


def _overlaps(a: Any, b: Any) -> bool:  # two Playwright bounding boxes
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def _assert_popup_header_clear(page: Page) -> None:
    header = page.locator(".leaflet-popup-content .hs-name").bounding_box()
    assert header is not None
    vp = page.viewport_size or VIEWPORT
    assert header["x"] >= 0 and header["y"] >= 0
    assert header["x"] + header["width"] <= vp["width"]
    assert header["y"] + header["height"] <= vp["height"]
    for sel in ("#hs-title", ".leaflet-control"):
        for i in range(page.locator(sel).count()):
            box = page.locator(sel).nth(i).bounding_box()
            if box and box["width"] and box["height"]:
                assert not _overlaps(header, box), f"popup header under {sel} #{i}: {box}"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _monthly(run: Path) -> dict[tuple[str, str, str], list[int]]:
    """Per (area code, area rank, street): crimes per month, from ``place_monthly.csv``."""
    rows = _read_csv(run / "place_monthly.csv")
    months = [c for c in rows[0] if c[:2] in ("19", "20")]
    return {
        (r["area_code"], r["area_rank"], r["street"]): [int(r[m]) for m in months] for r in rows
    }


def _status(cur: int, prev: int) -> str:
    if cur < TOO_FEW and prev < TOO_FEW:
        return "few"
    if prev < TOO_FEW:
        return "new"
    if cur < TOO_FEW:
        return "falling"
    return "rising" if cur > prev else "falling" if cur < prev else "same"


def _ranked_length(row: dict[str, str]) -> float:
    """The length a street is ranked by: its length, floored as the run floors it."""
    return int(row["crimes"]) / float(row["crimes_per_100m"])


def _unescape(text: str) -> str:
    return html.unescape(text)


# tests --------------------------------------------------------------------------------------


def test_city_map_layers_switch_and_legend_follows(
    city: tuple[Page, list[str]], shots: Path
) -> None:
    page, errors = city
    shown = _on_map(page)
    assert shown["Hot streets"] and shown["Streets (background)"]
    assert not shown["Hot spot hexagons"] and not shown["Repeat locations"]
    assert page.locator(".hs-legend", has_text="Hot spot hexagons").count() == 0
    for name in shown:
        _toggle(page, name)
        assert _on_map(page)[name] != shown[name], name
    assert page.locator(".hs-legend", has_text="Hot spot hexagons").count() == 1
    assert page.locator(".hs-legend", has_text="Repeat locations").count() == 1
    assert page.locator(".hs-legend", has_text="Hot streets").count() == 0
    for name in shown:
        _toggle(page, name)
    assert _on_map(page) == shown
    png = save_screenshot(page, shots, "vancouver_city_map")
    assert screenshot_colours(png.read_bytes())["non_white"] > 0.2
    assert errors == []


def test_popup_header_of_top_street_is_clear_of_controls(
    city: tuple[Page, list[str]], ward: tuple[Page, list[str]], offline_run: Path, shots: Path
) -> None:
    for (page, errors), name in ((city, "vancouver_city_popup"), (ward, "london_ward_popup")):
        _open_badge(page, 1)
        _assert_popup_header_clear(page)
        text = page.inner_text(".leaflet-popup-content")
        assert "#1 on this map" in text and "Whole period: rank" in text
        save_screenshot(page, shots, name)
        assert errors == []
    top = _read_csv(offline_run / "hot_streets.csv")[0]["street"]
    assert city[0].inner_text(".leaflet-popup-content .hs-name") == top


def test_crime_group_makes_badge_one_the_street_with_most_of_that_group(
    city: tuple[Page, list[str]], offline_run: Path, shots: Path
) -> None:
    page, errors = city
    counts: dict[str, Any] = page.evaluate("() => window.hotspotsMap.counts")
    rows = _read_csv(offline_run / "hot_streets.csv")
    for g, (key, label) in enumerate(counts["groups"]):
        types = [
            k for k, gi in zip(counts["typeKeys"], counts["typeGroup"], strict=True) if gi == g
        ]
        n = [sum(int(r.get(f"n_{t}") or 0) for t in types) for r in rows]
        if max(n) == 0:
            continue
        page.select_option("#hs-group", label=label)
        # by default as the lists: crimes per 100 m (length floored as in the run)
        dens = [round(c / _ranked_length(r), 3) for c, r in zip(n, rows, strict=True)]
        best = {r["street"] for r, d in zip(rows, dens, strict=True) if d == max(dens)}
        assert _badge(page, 1) in best, key
        assert page.locator(".hs-legend", has_text=f"Hot streets: {label}").count() == 1
        # by number of crimes: the street with most crimes of the group (ties: list order)
        page.select_option("#hs-rankby", "count")
        assert _badge(page, 1) == rows[n.index(max(n))]["street"], key
        page.select_option("#hs-rankby", "density")
    page.select_option("#hs-period", "3m")
    save_screenshot(page, shots, "vancouver_city_group_period")
    assert errors == []


def test_last_three_months_counts_equal_the_monthly_table(
    city: tuple[Page, list[str]],
    ward: tuple[Page, list[str]],
    offline_run: Path,
    london_run: Path,
) -> None:
    for (page, errors), run in ((city, offline_run), (ward, london_run)):
        monthly = _monthly(run)
        page.select_option("#hs-period", "3m")
        drawn = sorted(_drawn(page), key=lambda r: r["rank"])
        assert len(drawn) >= 10
        for r in drawn:
            row = monthly[(r["area"], str(r["ar"]), _unescape(r["name"]))]
            assert r["cur"] == sum(row[-3:]), r
        page.select_option("#hs-rankby", "count")
        drawn = sorted(_drawn(page), key=lambda r: r["rank"])
        streets = [r["cur"] for r in drawn if r["kind"] == "street"]
        assert streets == sorted(streets, reverse=True)
        assert _badge(page, 1) == _unescape(drawn[0]["name"])
        assert errors == []


def test_what_changed_marks_rising_and_falling_streets_as_the_tables_say(
    city: tuple[Page, list[str]], offline_run: Path, shots: Path
) -> None:
    page, errors = city
    monthly = _monthly(offline_run)
    page.select_option("#hs-view", "change")
    assert page.input_value("#hs-period") == "3m"
    colours: dict[str, Any] = page.evaluate("() => window.hotspotsMap.changeColours")
    seen = set()
    for r in _drawn(page):
        row = monthly[(r["area"], str(r["ar"]), _unescape(r["name"]))]
        want = _status(sum(row[-3:]), sum(row[-6:-3]))
        assert (r["status"], r["prev"]) == (want, sum(row[-6:-3])), r
        assert r["colour"] == colours[want]
        seen.add(want)
    assert {"rising", "falling"} <= seen
    legend = page.inner_text(".hs-legend")
    assert "rising:" in legend and "too few to compare" in legend
    save_screenshot(page, shots, "vancouver_city_what_changed")
    assert errors == []


def test_phone_width_controls_collapse(browser: Browser, offline_run: Path, shots: Path) -> None:
    page, errors = open_map(
        browser, offline_run / "map.html", viewport={"width": 390, "height": 800}
    )
    try:
        assert page.locator(".hs-ctl details[open]").count() == 0
        assert page.locator(".leaflet-control-layers-expanded").count() == 0
        corner = page.locator(".leaflet-top.leaflet-right").bounding_box()
        assert corner is not None and corner["width"] * corner["height"] < 0.1 * 390 * 800
        save_screenshot(page, shots, "vancouver_city_phone")
        page.evaluate("""() => { const h = window.hotspotsMap;  // zoom in as a user would
          h.map.setView(h.order()[0].layer.getCenter(), 16, {animate: false}); }""")
        _open_badge(page, 1)  # the options and legend step aside; the popup fits the width
        _assert_popup_header_clear(page)
        wrapper = page.locator(".leaflet-popup-content-wrapper").bounding_box()
        assert wrapper is not None and wrapper["x"] >= 0 and wrapper["x"] + wrapper["width"] <= 390
        save_screenshot(page, shots, "vancouver_city_phone_popup")
        assert errors == []
    finally:
        page.context.close()


def test_area_map_draws_crime_locations_of_the_chosen_group_when_zoomed_in(
    ward: tuple[Page, list[str]],
) -> None:
    page, errors = ward
    _toggle(page, "Crime locations")
    page.evaluate("() => { window.hotspotsMap.map.setZoom(17); }")
    page.wait_for_timeout(300)
    count = "() => window.hotspotsMap.overlays['Crime locations (zoom in)'].getLayers().length"
    every = page.evaluate(count)
    page.select_option("#hs-group", label="Robbery")
    robbery = page.evaluate(count)
    assert every > robbery > 0
    tips = page.evaluate("""() => window.hotspotsMap.overlays['Crime locations (zoom in)']
      .getLayers().map(l => l.getTooltip().getContent())""")
    assert all(t.startswith("Robbery: ") for t in tips)  # the type as police.uk writes it
    assert page.locator(".hs-legend", has_text="Crime locations").count() == 1
    assert errors == []


def test_page_redraws_the_hour_of_week_heatmap_exactly(city: tuple[Page, list[str]]) -> None:
    page, errors = city
    rng = np.random.default_rng(1)
    for values in (np.arange(168.0), rng.poisson(3, 168).astype(float), np.zeros(168)):
        svg = hour_day_svg(values)
        code = heat_code(svg)
        assert code is not None
        assert page.evaluate("c => window.hotspotsMap.heat(c)", code) == svg
    assert errors == []


def test_print_gives_map_legend_and_top_ten_on_one_a4_landscape_page(
    city: tuple[Page, list[str]], shots: Path
) -> None:
    page, errors = city
    page.select_option("#hs-period", "3m")
    page.set_viewport_size({"width": 1123, "height": 794})  # A4 landscape at 96 dpi
    page.emulate_media(media="print")
    page.wait_for_timeout(300)
    assert page.locator("#hs-side").is_visible() and not page.locator(".hs-ctl").is_visible()
    assert page.locator("#hs-top10 li").count() == 10
    assert "last 3 months" in page.inner_text("#hs-top10")
    assert "Hot streets:" in page.inner_text("#hs-print-legend")
    side = page.locator("#hs-side").bounding_box()
    mapbox = page.locator(".folium-map").bounding_box()
    assert side is not None and mapbox is not None
    assert mapbox["x"] + mapbox["width"] <= side["x"]  # side by side
    save_screenshot(page, shots, "vancouver_city_print")
    pdf = page.pdf(format="A4", landscape=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    assert errors == []


def test_index_links_every_area_map(offline_run: Path) -> None:
    index = (offline_run / "index.html").read_text(encoding="utf-8")
    for p in (offline_run / "maps").glob("*.html"):
        assert f"maps/{p.name}" in index
        assert p.stat().st_size < 3_000_000


def _windows(run: Path) -> dict[tuple[str, str, str, str], str]:
    """Per (area code, area rank, street, group key): the patrol window of ``place_windows.csv``."""
    return {
        (r["area_code"], r["area_rank"], r["street"], r["group"]): r["patrol_window"]
        for r in _read_csv(run / "place_windows.csv")
    }


def test_popup_gives_the_chosen_crime_groups_patrol_window(
    city: tuple[Page, list[str]], ward: tuple[Page, list[str]], offline_run: Path, shots: Path
) -> None:
    page, errors = city
    windows = _windows(offline_run)
    groups: list[list[str]] = page.evaluate("() => window.hotspotsMap.counts.groups")
    checked = 0
    for key, label in groups:
        page.select_option("#hs-group", label=label)
        top = next(r for r in _drawn(page) if r["rank"] == 1)
        _open_badge(page, 1)
        text = page.inner_text(".leaflet-popup-content")
        want = windows.get((top["area"], str(top["ar"]), _unescape(top["name"]), key))
        if want:  # 5 or more crimes of the group here: its own window, as the table says
            assert page.inner_text(".leaflet-popup-content .hs-window") == want, key
            assert f"Patrol window, {_unescape(label)}: {want}" in text
            checked += 1
        else:
            assert f"all crime (too few {_unescape(label)} crimes here" in text, key
        if key == "damage":
            save_screenshot(page, shots, "vancouver_city_damage_window")
        page.keyboard.press("Escape")
    assert checked >= 3
    assert errors == []
    page, errors = ward  # police.uk: month only
    label = dict(page.evaluate("() => window.hotspotsMap.counts.groups"))["violence"]
    page.select_option("#hs-group", label=_unescape(label))
    _open_badge(page, 1)
    text = page.inner_text(".leaflet-popup-content")
    assert f"Patrol window, {_unescape(label)}: " in text
    assert "time unknown (the data gives the month only)" in text or "peaks" in text
    save_screenshot(page, shots, "london_ward_violence_window")
    assert errors == []


def test_corridors_layer_is_off_by_default_and_shows_with_its_legend(
    city: tuple[Page, list[str]], offline_run: Path, shots: Path
) -> None:
    page, errors = city
    name = "Corridors (road stretches, per km)"
    assert not _on_map(page)[name]
    assert page.locator(".hs-legend", has_text="Corridors").count() == 0
    _toggle(page, name)
    assert _on_map(page)[name]
    legend = page.inner_text(".hs-legend")
    assert "Corridors: crimes per km" in legend and "corridor rank 1-10" in legend
    rows = _read_csv(offline_run / "corridors.csv")
    drawn = page.evaluate(f"() => window.hotspotsMap.overlays['{name}'].getLayers().length")
    assert drawn == min(len(rows), 150)
    # the top corridor's popup gives its length and rates per km as corridors.csv does
    page.evaluate(f"""() => {{ const l = window.hotspotsMap.overlays['{name}'].getLayers()[0];
      window.hotspotsMap.map.setView(l.getCenter(), 15, {{animate: false}});
      l.fire('click', {{latlng: l.getCenter()}}); }}""")
    page.wait_for_selector(".leaflet-popup-content .hs-name", timeout=3000)
    text = page.inner_text(".leaflet-popup-content")
    top = rows[0]
    assert text.startswith(top["street"])
    assert f"Length {float(top['length_m']) / 1000:.2f} km" in text
    assert f"{float(top['crimes_per_km']):,.1f} per km" in text
    assert f"Collisions: {int(top['collisions']):,}" in text  # Vancouver has collision records
    page.wait_for_timeout(400)  # the popup's fade-in
    save_screenshot(page, shots, "vancouver_city_corridors")
    page.keyboard.press("Escape")
    _toggle(page, name)
    assert page.locator(".hs-legend", has_text="Corridors").count() == 0
    assert errors == []
