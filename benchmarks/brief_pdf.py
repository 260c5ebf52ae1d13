"""Time brief PDFs (or whole ``hotspots brief`` runs) under several settings, A/B in one go.

Usage: ``python benchmarks/brief_pdf.py RUN_DIR [--pages N] [--settings 1x1 40x2]`` prints
the run's ``briefs/*.html`` (``hotspots brief RUN_DIR --no-pdf`` first) under each setting
``BxP``: B pages per Chromium document (1: each page on its own), P Chromium processes; the
PDFs are written beside the pages (overwritten). With ``--whole``, a setting ``BxPxW`` times
all of ``write_briefs(RUN_DIR)`` (pages, best and worst, layers and PDFs), W processes
writing the ward pages. ``--rounds`` repeats the settings in turn, so a busy machine slows
each setting alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hotspots.brief import pdf, writer
from hotspots.brief.pdf import write_pdfs


def _whole(run_dir: Path, batch: int, processes: int, workers: int) -> int:
    """Write every brief of the run with the given settings; return the pages written."""
    saved = (pdf.PDF_BATCH, pdf.PDF_PROCESSES, writer.PAGE_PROCESSES)
    pdf.PDF_BATCH, pdf.PDF_PROCESSES, writer.PAGE_PROCESSES = batch, processes, workers
    try:
        files = writer.write_briefs(run_dir)
    finally:
        pdf.PDF_BATCH, pdf.PDF_PROCESSES, writer.PAGE_PROCESSES = saved
    return sum(f.suffix == ".html" for f in files)


def main() -> None:
    """Time each setting and report the seconds and pages per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--pages", type=int, default=0, help="first N pages; 0: all")
    parser.add_argument("--settings", nargs="+", default=["1x1", "40x2"])
    parser.add_argument("--whole", action="store_true", help="time all of hotspots brief")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    pages = sorted((args.run_dir / "briefs").glob("*.html"))
    pages = pages[: args.pages] if args.pages else pages
    for _ in range(args.rounds):
        for setting in args.settings:
            values = [int(v) for v in setting.split("x")]
            start = time.perf_counter()
            if args.whole:
                n = _whole(args.run_dir, *values[:2], values[2] if len(values) > 2 else 1)
            else:
                n = len(write_pdfs(pages, batch=values[0], processes=values[1]))
            seconds = time.perf_counter() - start
            print(
                f"{setting}: {n} pages in {seconds:.1f} s ({n / seconds:.2f} pages/s)", flush=True
            )


if __name__ == "__main__":
    main()
