"""Time the printing of brief pages to PDF: one tab at a time against several (issue 19).

Usage: ``python benchmarks/brief_pdf.py RUN_DIR [--pages N] [--tabs 1 4]``. The run folder must
have ``briefs/*.html`` (``hotspots brief RUN_DIR --no-pdf``). Each setting prints the same
first N pages with its own Chromium; the PDFs are written beside the pages (overwritten).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hotspots.brief.pdf import write_pdfs


def main() -> None:
    """Print the pages with each number of tabs and report the seconds and pages per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--tabs", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    pages = sorted((args.run_dir / "briefs").glob("*.html"))[: args.pages]
    for tabs in args.tabs:
        start = time.perf_counter()
        write_pdfs(pages, tabs=tabs)
        seconds = time.perf_counter() - start
        print(
            f"tabs={tabs}: {len(pages)} pages in {seconds:.1f} s "
            f"({len(pages) / seconds:.2f} pages/s)"
        )


if __name__ == "__main__":
    main()
