"""Print brief pages to A4 PDFs with headless Chromium (Playwright), no network."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import Any

from hotspots.brief.pdf_batch import batch_pages, combine_pages, split_pdf
from hotspots.errors import HotspotsError

log = logging.getLogger("hotspots")

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PDF_BATCH",
    "PDF_PROCESSES",
    "PDF_TABS",
    "PdfPrinter",
    "write_pdfs",
]

#: Chromium used for PDFs unless ``$HOTSPOTS_CHROMIUM`` says otherwise.
CHROMIUM = "/usr/bin/chromium"
#: Pages printed to PDF at a time (one browser tab each). Several tabs gave no speed-up on a
#: 2-core machine (40 London briefs: 10.9-13.1 s with 1 tab, 11.9-13.1 s with 2, 13.3-14.2 s
#: with 4; benchmarks/brief_pdf.py): printing is bound by Chromium's CPU time.
PDF_TABS = 1
#: Chromiums printing at once (each its own browser process: unlike tabs, they print in
#: parallel). 120 London briefs on a busy 2-core machine: 15.5 s with 1, 13.9 s with 2.
PDF_PROCESSES = 2
#: Most pages printed as one document (then cut into one PDF per page): a document costs a
#: fixed load and print setup. 120 London briefs, same minute: 33.1 s one by one, 15.5 s in
#: documents of 40 (benchmarks/brief_pdf.py). All 594 London ward briefs, 5 rounds alternated:
#: median CPU of Chromium, its driver and ours 27.6 s in documents of 40, 25.5 s of 100 and
#: 25.8 s of 300 (a long document lays out more slowly); median wall 15.1, 14.0 and 14.1 s.
PDF_BATCH = 100
_PDF_OPTIONS: dict[str, Any] = {
    "format": "A4",
    "print_background": True,
    "prefer_css_page_size": True,
}
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


def write_pdfs(
    pages: Sequence[Path],
    *,
    browser: Any = None,
    tabs: int = PDF_TABS,
    processes: int | None = None,
    batch: int | None = None,
) -> list[Path]:
    """Print HTML pages to A4 PDFs beside them, with headless Chromium.

    Pages of the same style are printed ``batch`` at a time as one document and cut back into
    one PDF per page (:mod:`hotspots.brief.pdf_batch`, by pikepdf; one by one where pikepdf is
    missing).

    Parameters
    ----------
    pages
        HTML files (self-contained: no network is used; any request but ``file:``,
        ``data:`` and ``about:`` is blocked).
    browser
        A running Playwright ``Browser`` (sync API) to use, one tab at a time; by default
        Chromium (``$HOTSPOTS_CHROMIUM`` or ``/usr/bin/chromium``) is started and closed.
    tabs
        Documents printed at a time by each browser started here (one tab each).
    processes
        Browsers started here (each its own Chromium), printing at the same time; default
        :data:`PDF_PROCESSES`.
    batch
        Most pages printed as one document (1: each page on its own); default
        :data:`PDF_BATCH`.

    Returns
    -------
    list of pathlib.Path
        The PDFs written (``<page>.pdf``), in the order of ``pages``.

    Raises
    ------
    HotspotsError
        If Playwright is not installed or Chromium is not found.
    """
    if browser is None:
        if not pages:
            return []
        with PdfPrinter(processes=processes, tabs=tabs, batch=batch, expected=len(pages)) as own:
            return own.print(pages)
    start = time.perf_counter()
    written = _print_sync(browser, _groups(pages, PDF_BATCH if batch is None else batch))
    log.info("Briefs: %d PDFs printed in %.1f s", len(written), time.perf_counter() - start)
    return [written[p] for p in pages]


class PdfPrinter:
    """Chromiums started before the pages are written, printing them when handed over.

    ``hotspots brief`` starts one while it reads the run folder and scores the problems, which
    keeps one core busy: the browsers' start (about 2 s) then costs no wall time of its own.
    A context manager; :meth:`print` once, and fork no process before :meth:`ready`.
    Playwright or Chromium missing, or a failed start, is raised by :meth:`print`, as
    :func:`write_pdfs` raises it.

    Parameters
    ----------
    processes, tabs, batch
        As for :func:`write_pdfs`.
    expected
        Pages expected: no more browsers start than their documents need.
    """

    def __init__(
        self,
        *,
        processes: int | None = None,
        tabs: int = PDF_TABS,
        batch: int | None = None,
        expected: int | None = None,
    ) -> None:
        self._batch = PDF_BATCH if batch is None else batch
        self._groups: Future[list[list[Path]]] = Future()
        self._launched: Future[None] = Future()
        self._error: HotspotsError | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._job: Future[dict[Path, Path]] | None = None
        try:
            path = _printing_ready()
        except HotspotsError as err:
            self._error = err
            return
        n = max(PDF_PROCESSES if processes is None else processes, 1)
        if expected is not None:  # as many documents as batches at least
            n = min(n, max(-(-expected // max(self._batch, 1)), 1))
        job = _print_async(path, self._groups, n, max(tabs, 1), launched=self._launched)
        # a loop of its own in a thread of its own: works where a loop runs already (Jupyter)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-pdf")
        self._job = self._pool.submit(asyncio.run, job)

    def ready(self) -> None:
        """Wait until the browsers have started or failed to (then :meth:`print` raises)."""
        if self._job is not None:
            pending: list[Future[Any]] = [self._launched, self._job]
            wait(pending, return_when=FIRST_COMPLETED)

    def print(self, pages: Sequence[Path]) -> list[Path]:
        """Print the pages (as :func:`write_pdfs`); return the PDFs in the order of ``pages``."""
        start = time.perf_counter()
        if self._error is not None:
            raise self._error
        if self._job is None or self._groups.done():
            msg = "a PdfPrinter prints once, inside its with block"
            raise RuntimeError(msg)
        self._groups.set_result(_groups(pages, self._batch))
        written = self._job.result()
        log.info("Briefs: %d PDFs printed in %.1f s", len(written), time.perf_counter() - start)
        return [written[p] for p in pages]

    def close(self) -> None:
        """Close the browsers (nothing printed if :meth:`print` was not called)."""
        if not self._groups.done():
            self._groups.set_result([])
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> PdfPrinter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _printing_ready() -> str:
    """Return Chromium's path once Playwright imports; else raise :class:`HotspotsError`."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        msg = (
            "PDF briefs need Playwright; found it not installed. Install the extra: "
            "pip install 'hotspots[pdf]', or pass --no-pdf."
        )
        raise HotspotsError(msg) from None
    return _chromium()


def _groups(pages: Sequence[Path], batch: int) -> list[list[Path]]:
    if batch > 1 and importlib.util.find_spec("pikepdf") is not None:
        return batch_pages(pages, size=batch)
    return [[p] for p in pages]


def _local_only(url: str) -> bool:
    return url.startswith(("file:", "data:", "about:"))


def _combined_path(group: Sequence[Path]) -> Path:
    return group[0].with_name(f".print-{os.getpid()}-{group[0].stem}.html")


def _finish(group: Sequence[Path], combined: Path, titles: Sequence[str]) -> list[Path] | None:
    """Cut the combined PDF into one per page; None when it cannot (then printed singly)."""
    pdf = combined.with_suffix(".pdf")
    try:
        return split_pdf(pdf, group, titles)
    finally:
        combined.unlink(missing_ok=True)
        pdf.unlink(missing_ok=True)


async def _print_async(
    chromium: str,
    groups: Future[list[list[Path]]],
    processes: int,
    tabs: int,
    *,
    launched: Future[None],
) -> dict[Path, Path]:
    """Start ``processes`` Chromiums, then print the groups, ``tabs`` documents each at a time.

    ``launched`` is set once the browsers run; ``groups`` is waited for after that.
    """
    from playwright.async_api import Route, async_playwright

    async def route(r: Route) -> None:
        await (r.continue_() if _local_only(r.request.url) else r.abort())

    todo: list[list[Path]] = []
    written: dict[Path, Path] = {}

    async def pdf(tab: Any, page: Path, target: Path) -> None:
        await tab.goto(page.resolve().as_uri(), wait_until="load")
        await tab.pdf(path=str(target), **_PDF_OPTIONS)

    async def work(browser: Any) -> None:
        tab = await browser.new_page()
        await tab.route("**/*", route)
        try:
            while todo:
                group = todo.pop(0)
                done = None
                if len(group) > 1:
                    combined = _combined_path(group)
                    titles = combine_pages(group, combined)
                    await pdf(tab, combined, combined.with_suffix(".pdf"))
                    done = await asyncio.to_thread(_finish, group, combined, titles)
                for page in group if done is None else ():
                    await pdf(tab, page, page.with_suffix(".pdf"))
                written.update(
                    zip(group, done or [p.with_suffix(".pdf") for p in group], strict=True)
                )
        finally:
            await tab.close()

    async with async_playwright() as pw:
        browsers = await asyncio.gather(
            *(
                pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
                for _ in range(processes)
            )
        )
        launched.set_result(None)
        try:
            # largest first: the workers end together
            given: list[list[Path]] = await asyncio.wrap_future(groups)
            todo.extend(sorted(given, key=len, reverse=True))
            if todo:
                await asyncio.gather(*(work(b) for b in browsers for _ in range(tabs)))
        finally:
            await asyncio.gather(*(b.close() for b in browsers))
    return written


def _print_sync(browser: Any, groups: Sequence[Sequence[Path]]) -> dict[Path, Path]:
    tab = browser.new_page()
    tab.route(
        "**/*", lambda route: route.continue_() if _local_only(route.request.url) else route.abort()
    )

    def pdf(page: Path, target: Path) -> None:
        tab.goto(page.resolve().as_uri(), wait_until="load")
        tab.pdf(path=str(target), **_PDF_OPTIONS)

    written: dict[Path, Path] = {}
    try:
        for group in groups:
            done = None
            if len(group) > 1:
                combined = _combined_path(group)
                titles = combine_pages(group, combined)
                pdf(combined, combined.with_suffix(".pdf"))
                done = _finish(group, combined, titles)
            for page in group if done is None else ():
                pdf(page, page.with_suffix(".pdf"))
            written.update(zip(group, done or [p.with_suffix(".pdf") for p in group], strict=True))
    finally:
        tab.close()
    return written
