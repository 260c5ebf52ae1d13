"""Print many brief pages as one document, then split it into one PDF per page.

Chromium spends most of a PDF's time on a fixed cost per document (load, print setup); pages
of the same style sheet are therefore joined into one HTML document (:func:`combine_pages`),
each page a sheet that starts on a new A4 page, printed once, and cut back into one PDF per
page (:func:`split_pdf`). Each sheet is the target of a hidden internal link, so Chromium
writes a named destination at its first page: the cut points are read from the PDF, not
guessed, and a page that runs over two sheets keeps both.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "SHEET_ID",
    "batch_pages",
    "combine_pages",
    "split_pdf",
]

#: ``id`` of the i-th sheet of a combined document.
SHEET_ID = "hotspots-sheet-{}"

_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_SHEET_CSS = "<style>.hotspots-sheet+.hotspots-sheet{break-before:page}</style>"


def _parts(text: str) -> tuple[str, str, str] | None:
    """Return (head without title, title, body) of a page, or None if it cannot be joined."""
    if text.count("<body>") != 1 or text.count("</body>") != 1:
        return None
    head, _, rest = text.partition("<body>")
    body = rest.partition("</body>")[0]
    title = _TITLE.search(head)
    return _TITLE.sub("<title></title>", head), html.unescape(title.group(1)) if title else "", body


def batch_pages(pages: Sequence[Path], *, size: int) -> list[list[Path]]:
    """Group pages that can print as one document: same folder and style, ``size`` at most.

    Parameters
    ----------
    pages
        HTML files.
    size
        Most pages in a group; a page that cannot be joined (no single ``<body>``) is a group
        of its own.

    Returns
    -------
    list of list of pathlib.Path
        The groups, pages in their given order within each.
    """
    open_groups: dict[tuple[Path, str], list[Path]] = {}
    out: list[list[Path]] = []
    for page in pages:
        parts = _parts(page.read_text(encoding="utf-8"))
        if parts is None:
            out.append([page])
            continue
        key = (page.parent, parts[0])
        group = open_groups.setdefault(key, [])
        if not group:
            out.append(group)
        group.append(page)
        if len(group) >= size:
            del open_groups[key]
    return out


def combine_pages(pages: Sequence[Path], target: Path) -> list[str]:
    """Write ``pages`` (from one group of :func:`batch_pages`) as one HTML document.

    Parameters
    ----------
    pages
        HTML files with the same head but for their titles.
    target
        The document written; in the pages' folder, so relative links resolve the same.

    Returns
    -------
    list of str
        The title of each page, in order.
    """
    heads, titles, bodies = zip(
        *(_parts(p.read_text(encoding="utf-8")) or ("", "", "") for p in pages), strict=True
    )
    links = "".join(f"<a href='#{SHEET_ID.format(i)}'></a>" for i in range(len(pages)))
    sheets = "".join(
        f"<div class=hotspots-sheet id='{SHEET_ID.format(i)}'>{body}</div>"
        for i, body in enumerate(bodies)
    )
    head = heads[0].replace("</head>", f"{_SHEET_CSS}</head>", 1)
    target.write_text(
        f"{head}<body><div style='display:none'>{links}</div>{sheets}</body></html>\n",
        encoding="utf-8",
    )
    return list(titles)


def split_pdf(pdf: Path, pages: Sequence[Path], titles: Sequence[str]) -> list[Path] | None:
    """Cut the PDF of a combined document into ``<page>.pdf`` per page, at its sheets.

    Parameters
    ----------
    pdf
        Printed from :func:`combine_pages`'s document.
    pages
        The pages combined, in order.
    titles
        Their titles (each PDF's title).

    Returns
    -------
    list of pathlib.Path or None
        The PDFs written, in the order of ``pages``; None (nothing written) when the sheets'
        first pages cannot be read from the PDF.
    """
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(pdf)
    dests = reader.named_destinations
    names = [f"/{SHEET_ID.format(i)}" for i in range(len(pages))]
    if not all(n in dests for n in names):
        return None
    found = [reader.get_destination_page_number(dests[n]) for n in names]
    starts = [s for s in found if s is not None]
    if len(starts) < len(found):
        return None
    ends = [*starts[1:], len(reader.pages)]
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, ends, strict=True)):
        return None
    meta = {k: str(v) for k, v in (reader.metadata or {}).items()}
    written = []
    for page, title, first, end in zip(pages, titles, starts, ends, strict=True):
        writer = PdfWriter()
        for k in range(first, end):
            writer.add_page(reader.pages[k])
        writer.add_metadata({**meta, "/Title": title})
        target = page.with_suffix(".pdf")
        with target.open("wb") as fh:
            writer.write(fh)
        written.append(target)
    return written
