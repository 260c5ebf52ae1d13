"""Helpers to open map pages in headless Chromium with the network blocked.

Importable by any test (``from tests.browser_helpers import open_map``) and by
``benchmarks/map_load.py``. Chromium is Debian's (``/usr/bin/chromium``, or
``$HOTSPOTS_CHROMIUM``), driven by Playwright; Playwright's own browser downloads are not used.
Locally a missing Chromium or Playwright skips the test with the reason; on CI (``CI`` set)
it fails, because CI must run the browser tests.
"""

from __future__ import annotations

import html
import io
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import pytest
from folium import plugins

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route

CHROMIUM = Path(os.environ.get("HOTSPOTS_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1000, "height": 700}
#: A street name that would run script if any layer put it into the page unescaped.
HOSTILE_NAME = "Evil <img src=x onerror=\"window.__xss=1;alert('img')\"> ${alert('tpl')} `Lane`"

# JavaScript run in the page. The map and the layer-control overlays are found through the
# global variables folium declares (map_<hex>, layer_control_<hex>_layers).
_JS_MAP = """() => {
  if (!window.L) return null;
  const k = Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k) && window[k] instanceof L.Map);
  return k || null;
}"""
_JS_OVERLAYS = """() => {
  const k = Object.keys(window).find(k => /^layer_control_[0-9a-f]+_layers$/.test(k));
  return k ? window[k].overlays : {};
}"""
#: Elements drawn for each overlay in the layer control: SVG paths, marker icons, canvases.
JS_OVERLAY_COUNTS = """() => {
  const overlays = (FIND_OVERLAYS)();
  const drawn = l => {
    let n = 0;
    if (l._path && l._path.isConnected) n += 1;
    if (l._icon && l._icon.isConnected) n += 1;
    if (l._canvas && l._canvas.isConnected) n += 1;
    if (l._featureGroup) l = l._featureGroup;  // marker cluster: what is on the map now
    if (l.eachLayer) l.eachLayer(c => { n += drawn(c); });
    return n;
  };
  return Object.fromEntries(Object.entries(overlays).map(([name, l]) => [name, drawn(l)]));
}""".replace("FIND_OVERLAYS", _JS_OVERLAYS)
#: Records uncaught script errors, so that waiting for a broken map stops at once.
_JS_RECORD_ERRORS = """window.__hsErrors = [];
window.addEventListener('error', e => window.__hsErrors.push(String(e.message)));"""
#: True once the page has loaded, the Leaflet map exists and every vector layer is drawn
#: (then ``window.__hsReadyAt`` holds ``performance.now()``), or once a script has failed.
JS_READY = """() => {
  if (window.__hsErrors && window.__hsErrors.length) return true;
  if (document.readyState !== 'complete') return false;
  const k = (FIND_MAP)();
  if (!k || !window[k]._loaded) return false;
  let ok = true;
  window[k].eachLayer(l => {  // SVG paths in the page, or canvas-rendered paths registered
    if (l.getLatLngs && !(l._path ? l._path.isConnected : l._renderer)) ok = false;
  });
  if (ok && window.__hsReadyAt === undefined) window.__hsReadyAt = performance.now();
  return ok;
}""".replace("FIND_MAP", _JS_MAP)


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Yield a headless Chromium, or skip (fail on CI) when it cannot be started."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install --group test)"
    if reason is None and not CHROMIUM.is_file():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run on CI: {reason}")
        pytest.skip(reason)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def block_network(page: Page, blocked: list[str]) -> None:
    """Abort every request that is not ``file:``, ``data:``, ``blob:`` or ``about:``.

    Each aborted URL is appended to `blocked`.
    """

    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", handle)


def open_map(
    browser: Browser,
    path: Path,
    *,
    offline: bool = True,
    timeout_ms: float = 10_000,
    viewport: dict[str, int] | None = None,
) -> tuple[Page, list[str]]:
    """Open a map HTML file and wait until its Leaflet map is drawn.

    Parameters
    ----------
    browser
        From :func:`launch_chromium`.
    path
        The HTML file.
    offline
        Block every http(s) request (each one is reported as a console error).
    timeout_ms
        How long to wait for the map.
    viewport
        Width and height of the page (default :data:`VIEWPORT`).

    Returns
    -------
    tuple[Page, list[str]]
        The page (close it, or its context, when done) and a live list of problems: console
        errors, uncaught exceptions, dialogs (auto-dismissed) and blocked requests.

    Raises
    ------
    AssertionError
        The map did not get drawn (a script failed, or `timeout_ms` passed); the message
        lists the page's problems.
    """
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport=viewport or VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    if offline:
        block_network(page, blocked)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    def on_dialog(dialog: Dialog) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("dialog", on_dialog)
    page.on("requestfailed", lambda r: errors.append(f"requestfailed: {r.url}"))
    page.add_init_script(_JS_RECORD_ERRORS)
    page.goto(path.resolve().as_uri())
    try:
        page.wait_for_function(JS_READY, timeout=timeout_ms, polling="raf")
        ready = page.evaluate("window.__hsReadyAt !== undefined")
    except PlaywrightError:
        ready = False
    if not ready:
        page.context.close()
        msg = f"map in {path} did not get ready; page problems: {errors + blocked}"
        raise AssertionError(msg)
    errors.extend(f"blocked: {u}" for u in blocked)
    return page, errors


def overlay_counts(page: Page) -> dict[str, int]:
    """Return, per overlay in the layer control, how many of its elements are drawn."""
    counts: dict[str, int] = page.evaluate(JS_OVERLAY_COUNTS)
    return counts


def toggle_overlay(page: Page, name: str) -> None:
    """Click the layer-control checkbox of the overlay called `name`."""
    label = page.locator(".leaflet-control-layers-overlays label", has_text=name)
    label.locator("input").click()


def click_latlng(page: Page, lat: float, lng: float) -> None:
    """Click the map at a latitude/longitude, as a user would with the mouse."""
    point = page.evaluate(
        """([lat, lng]) => {
          const m = window[(FIND_MAP)()];
          const p = m.latLngToContainerPoint([lat, lng]);
          const r = m.getContainer().getBoundingClientRect();
          return [r.left + p.x, r.top + p.y];
        }""".replace("FIND_MAP", _JS_MAP),
        [lat, lng],
    )
    page.mouse.click(point[0], point[1])


def save_screenshot(page: Page, out_dir: Path, name: str) -> Path:
    """Save a PNG screenshot of the page as ``out_dir/name.png`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def screenshot_colours(png: bytes) -> dict[str, float]:
    """Return the share of non-white pixels and the number of distinct colours of a PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        small = img.convert("RGB").resize((200, 140))
    colours: list[tuple[int, Any]] = small.getcolors(200 * 140) or []
    non_white = sum(n for n, rgb in colours if min(rgb) < 245) / (200 * 140)
    return {"non_white": non_white, "colours": float(len(colours))}


def _text(value: str) -> str:
    """Escape text for folium: HTML, plus ` and $ (folium puts popups in JS template literals)."""
    return html.escape(value).replace("`", "&#96;").replace("$", "&#36;")


#: The small test map: (name, crimes, [[lat, lng], ...]) of its hot streets.
HOT_STREETS = [
    ("High Street", 12, [[51.5100, -0.1300], [51.5100, -0.1200]]),
    (HOSTILE_NAME, 7, [[51.5060, -0.1300], [51.5060, -0.1200]]),
    ("Church Road", 3, [[51.5140, -0.1280], [51.5140, -0.1220]]),
]


def small_offline_map() -> folium.Map:
    """Return a small map with every plugin the product maps use, and no tile layer.

    Layers: "Street network" (GeoJson base drawn in light grey, searchable by name),
    "Hot streets" (polylines with popups), "Crimes" (MarkerCluster) and "Heat" (HeatMap),
    plus Fullscreen, Search and a LayerControl. Text from the data is escaped with
    :func:`_text`.
    """
    # without a tile layer the map has no maxZoom, which MarkerCluster needs
    m = folium.Map(location=[51.510, -0.125], zoom_start=15, tiles=None, maxZoom=19)
    features = [
        {
            "type": "Feature",
            "properties": {"name": _text(name)},
            "geometry": {"type": "LineString", "coordinates": [[x, y] for y, x in line]},
        }
        for name, _, line in HOT_STREETS
    ]
    features += [
        {
            "type": "Feature",
            "properties": {"name": f"Side street {i}"},
            "geometry": {"type": "LineString", "coordinates": [[x, 51.504], [x, 51.516]]},
        }
        for i, x in enumerate(-0.13 + 0.002 * i for i in range(6))
    ]
    streets = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Street network",
        style_function=lambda _f: {"color": "#bbbbbb", "weight": 2},
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ).add_to(m)
    hot = folium.FeatureGroup(name="Hot streets").add_to(m)
    for rank, (name, crimes, line) in enumerate(HOT_STREETS, start=1):
        popup = f"<b>{_text(name)}</b><br>Rank {rank}: {crimes} crimes"
        folium.PolyLine(
            line,
            color="#b2182b",
            weight=8,
            popup=folium.Popup(popup, max_width=300),
            tooltip=_text(f"{rank}. {name}"),
        ).add_to(hot)
    rng = random.Random(1)
    # crimes east of the streets, so that cluster icons do not cover the streets' midpoints
    points = [[51.505 + rng.random() * 0.01, -0.118 + rng.random() * 0.006] for _ in range(40)]
    cluster = plugins.MarkerCluster(name="Crimes").add_to(m)
    for lat, lng in points:
        folium.Marker([lat, lng]).add_to(cluster)
    plugins.HeatMap(points, name="Heat", radius=20).add_to(m)
    plugins.Search(layer=streets, search_label="name", placeholder="Find a street").add_to(m)
    plugins.Fullscreen().add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m
