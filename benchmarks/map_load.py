"""Size, load, zoom and re-rank times of map pages in headless Chromium, network blocked.

Usage::

    python benchmarks/map_load.py outputs/london/map.html [more.html ...] [--runs 3]

For each page, at 1400x900 without a GPU (the budgets of issue 16):

- ``MB``: its size;
- ``load ms``: the median over ``--runs`` fresh loads of the time from navigation start to
  "Leaflet map ready and every vector layer drawn" (``performance.now()`` in the page,
  sampled every animation frame);
- ``zoom ms``: the median over ``--runs`` single zoom steps in from the opening view (no
  animation), from the call to the second animation frame after it, so the redraw is painted;
- ``rerank ms``: the median over ``--runs`` choices of a crime group, then of a period, in the
  page's controls, timed the same way (``-`` for a page without the controls);
- ``paths``/``canvases``: SVG paths and canvas elements drawn.

Every http(s) request is aborted and counted, so a page that still needs the network shows it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.browser_helpers

from tests.browser_helpers import launch_chromium, open_map

VIEWPORT = {"width": 1400, "height": 900}
_DRAWN = """() => [document.querySelectorAll('.leaflet-overlay-pane svg path').length,
  document.querySelectorAll('.leaflet-pane canvas').length]"""
#: Two animation frames after `act` returns: the frame it changed has been painted.
_TIMED = """async (act) => {
  const m = window.hotspotsMap.map;
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  await frame(); await frame();
  const t0 = performance.now();
  (new Function('m', act))(m);
  await frame(); await frame();
  return performance.now() - t0;
}"""
_ZOOM_IN = "m.setZoom(m.getZoom() + 1, {animate: false});"
_RESET = "m.setView(window.__hsStart[0], window.__hsStart[1], {animate: false});"
_CHOOSE = """const s = document.getElementById('ID'); if (!s) return;
  s.value = VALUE; s.dispatchEvent(new Event('change'));"""


def _choose(select: str, value: str) -> str:
    return _CHOOSE.replace("ID", select).replace("VALUE", value)


def _median_ms(page: Any, act: str, reset: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        times.append(float(page.evaluate(_TIMED, act)))
        page.evaluate(_TIMED, reset)
    return statistics.median(times)


def measure(browser: Any, path: Path, runs: int, timeout: float) -> dict[str, Any]:
    """Return size, load, zoom and re-rank times (medians, ms) of one map page."""
    loads, problems = [], 0
    for i in range(runs):
        page, errors = open_map(browser, path, timeout_ms=timeout * 1000, viewport=VIEWPORT)
        loads.append(float(page.evaluate("window.__hsReadyAt")))
        problems = max(problems, len(errors))
        if i < runs - 1:
            page.context.close()
    page.evaluate(
        "() => { const m = window.hotspotsMap.map; "
        "window.__hsStart = [m.getCenter(), m.getZoom()]; }"
    )
    zoom = _median_ms(page, _ZOOM_IN, _RESET, runs)
    rerank = None
    if page.locator("#hs-group").count():
        group = page.evaluate("document.getElementById('hs-group').options[1].value")
        rerank = statistics.median(
            [
                _median_ms(page, _choose("hs-group", repr(group)), _choose("hs-group", "''"), runs),
                _median_ms(page, _choose("hs-period", "'3m'"), _choose("hs-period", "'all'"), runs),
            ]
        )
    paths, canvases = page.evaluate(_DRAWN)
    problems = max(problems, len(errors))
    page.context.close()
    return {
        "mb": path.stat().st_size / 1e6,
        "load": statistics.median(loads),
        "spread": f"{min(loads):.0f}-{max(loads):.0f}",
        "zoom": zoom,
        "rerank": rerank,
        "paths": paths,
        "canvases": canvases,
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path, help="map HTML files")
    parser.add_argument("--runs", type=int, default=3, help="repeats per measure (median)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait per load")
    args = parser.parse_args(argv)
    print(
        f"{'MB':>6} {'load ms':>8} {'min-max':>11} {'zoom ms':>8} {'rerank ms':>9} "
        f"{'paths':>6} {'canvas':>6} {'problems':>8}  page"
    )
    with launch_chromium() as browser:
        for path in args.pages:
            try:
                r = measure(browser, path, args.runs, args.timeout)
            except AssertionError as err:
                print(f"{path.stat().st_size / 1e6:6.2f}  {path}: {err}")
                continue
            rerank = "-" if r["rerank"] is None else f"{r['rerank']:.0f}"
            print(
                f"{r['mb']:6.2f} {r['load']:8.0f} {r['spread']:>11} {r['zoom']:8.0f} "
                f"{rerank:>9} {r['paths']:6d} {r['canvases']:6d} {r['problems']:8d}  {path}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
