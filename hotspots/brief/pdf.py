"""Print brief pages to A4 PDFs with headless Chromium (Playwright), no network."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hotspots.errors import HotspotsError

log = logging.getLogger("hotspots")

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PDF_TABS",
    "write_pdfs",
]

#: Chromium used for PDFs unless ``$HOTSPOTS_CHROMIUM`` says otherwise.
CHROMIUM = "/usr/bin/chromium"
#: Pages printed to PDF at a time (one browser tab each). Several tabs gave no speed-up on a
#: 2-core machine (40 London briefs: 10.9-13.1 s with 1 tab, 11.9-13.1 s with 2, 13.3-14.2 s
#: with 4; benchmarks/brief_pdf.py): printing is bound by Chromium's CPU time.
PDF_TABS = 1
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def _chromium() -> str:
    path = os.environ.get("HOTSPOTS_CHROMIUM", CHROMIUM)
    if not Path(path).is_file():
        msg = (
            f"PDF briefs are printed by Chromium; found none at {path}. Install it "
            "(apt-get install chromium), set HOTSPOTS_CHROMIUM, or pass --no-pdf."
        )
        raise HotspotsError(msg)
    return path


def write_pdfs(pages: Sequence[Path], *, browser: Any = None, tabs: int = PDF_TABS) -> list[Path]:
    """Print HTML pages to A4 PDFs beside them, with one headless Chromium.

    Parameters
    ----------
    pages
        HTML files (self-contained: no network is used; any request but ``file:``,
        ``data:`` and ``about:`` is blocked).
    browser
        A running Playwright ``Browser`` (sync API) to use, one tab at a time; by default
        Chromium (``$HOTSPOTS_CHROMIUM`` or ``/usr/bin/chromium``) is started and closed.
    tabs
        Pages printed at a time by the browser started here (one tab each).

    Returns
    -------
    list of pathlib.Path
        The PDFs written (``<page>.pdf``), in the order of ``pages``.

    Raises
    ------
    HotspotsError
        If Playwright is not installed or Chromium is not found.
    """
    start = time.perf_counter()
    if browser is not None:
        written = _print_pages(browser, pages)
    elif pages:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            msg = (
                "PDF briefs need Playwright; found it not installed. Install the extra: "
                "pip install 'hotspots[pdf]', or pass --no-pdf."
            )
            raise HotspotsError(msg) from None
        path = _chromium()
        # a loop of its own in a thread of its own: works where a loop runs already (Jupyter)
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(asyncio.run, _print_tabs(path, pages, max(tabs, 1))).result()
    else:
        written = []
    log.info("Briefs: %d PDFs printed in %.1f s", len(written), time.perf_counter() - start)
    return written


def _local_only(url: str) -> bool:
    return url.startswith(("file:", "data:", "about:"))


async def _print_tabs(chromium: str, pages: Sequence[Path], tabs: int) -> list[Path]:
    """Print ``pages`` from one Chromium, ``tabs`` pages at a time (async Playwright)."""
    from playwright.async_api import Route, async_playwright

    async def route(r: Route) -> None:
        await (r.continue_() if _local_only(r.request.url) else r.abort())

    todo = list(enumerate(pages))
    written: dict[int, Path] = {}

    async def work(browser: Any) -> None:
        tab = await browser.new_page()
        await tab.route("**/*", route)
        try:
            while todo:
                i, page = todo.pop(0)
                await tab.goto(page.resolve().as_uri(), wait_until="load")
                target = page.with_suffix(".pdf")
                await tab.pdf(
                    path=str(target), format="A4", print_background=True, prefer_css_page_size=True
                )
                written[i] = target
        finally:
            await tab.close()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            await asyncio.gather(*(work(browser) for _ in range(min(tabs, len(pages)))))
        finally:
            await browser.close()
    return [written[i] for i in range(len(pages))]


def _print_pages(browser: Any, pages: Sequence[Path]) -> list[Path]:
    tab = browser.new_page()
    tab.route(
        "**/*", lambda route: route.continue_() if _local_only(route.request.url) else route.abort()
    )
    written = []
    try:
        for page in pages:
            tab.goto(page.resolve().as_uri(), wait_until="load")
            target = page.with_suffix(".pdf")
            tab.pdf(path=str(target), format="A4", print_background=True, prefer_css_page_size=True)
            written.append(target)
    finally:
        tab.close()
    return written
