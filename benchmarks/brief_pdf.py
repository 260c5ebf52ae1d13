"""Time the printing of brief pages to PDF under several settings, A/B in one go (issue 19).

Usage: ``python benchmarks/brief_pdf.py RUN_DIR [--pages N] [--settings 1x1 40x1 40x2]``.
A setting ``BxP`` prints B pages per Chromium document (1: each page on its own) with P
Chromium processes. The run folder must have ``briefs/*.html`` (``hotspots brief RUN_DIR
--no-pdf``); every setting prints the same first N pages (all by default) with Chromiums of
its own; the PDFs are written beside the pages (overwritten). ``--rounds`` repeats the
settings in turn, so a busy machine slows each setting alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hotspots.brief.pdf import write_pdfs


def main() -> None:
    """Print the pages under each setting and report the seconds and pages per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--pages", type=int, default=0, help="first N pages; 0: all")
    parser.add_argument("--settings", nargs="+", default=["1x1", "40x2"])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    pages = sorted((args.run_dir / "briefs").glob("*.html"))
    pages = pages[: args.pages] if args.pages else pages
    for _ in range(args.rounds):
        for setting in args.settings:
            batch, processes = (int(v) for v in setting.split("x"))
            start = time.perf_counter()
            write_pdfs(pages, batch=batch, processes=processes)
            seconds = time.perf_counter() - start
            print(
                f"batch={batch} processes={processes}: {len(pages)} pages in {seconds:.1f} s "
                f"({len(pages) / seconds:.2f} pages/s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
