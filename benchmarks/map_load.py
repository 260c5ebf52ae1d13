"""Size and load time of map pages in headless Chromium, with the network blocked.

Usage::

    python benchmarks/map_load.py outputs/london/map.html [more.html ...] [--runs 3]

For each page: its size in MB and the median over ``--runs`` fresh loads of the time from
navigation start to "Leaflet map ready and every vector layer drawn" (``performance.now()``
in the page, sampled every animation frame), plus the number of SVG paths drawn. Every
http(s) request is aborted and counted, so a page that still needs the network shows it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.browser_helpers

from tests.browser_helpers import launch_chromium, open_map

_PATHS = "document.querySelectorAll('.leaflet-overlay-pane svg path').length"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path, help="map HTML files")
    parser.add_argument("--runs", type=int, default=3, help="loads per page (median reported)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait per load")
    args = parser.parse_args(argv)
    print(f"{'MB':>8} {'ready ms':>9} {'min-max ms':>13} {'paths':>7} {'problems':>8}  page")
    with launch_chromium() as browser:
        for path in args.pages:
            times, paths, problems = [], 0, 0
            size_mb = path.stat().st_size / 1e6
            for _ in range(args.runs):
                try:
                    page, errors = open_map(browser, path, timeout_ms=args.timeout * 1000)
                except AssertionError as err:
                    print(f"{size_mb:8.2f} {'-':>9} {'-':>13} {'-':>7} {'-':>8}  {path}: {err}")
                    break
                times.append(float(page.evaluate("window.__hsReadyAt")))
                paths = int(page.evaluate(_PATHS))
                problems = max(problems, len(errors))
                page.context.close()
            if not times:
                continue
            spread = f"{min(times):.0f}-{max(times):.0f}"
            print(f"{size_mb:8.2f} {statistics.median(times):9.0f} {spread:>13} {paths:7d} "
                  f"{problems:8d}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
