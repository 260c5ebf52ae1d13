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
from typing import Any

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
    import pikepdf

    with pikepdf.open(pdf) as src:
        starts = _sheet_starts(src, len(pages))
        if starts is None:
            return None
        ends = [*starts[1:], len(src.pages)]
        meta = {k: str(v) for k, v in src.docinfo.items()}
        written = []
        for page, title, first, end in zip(pages, titles, starts, ends, strict=True):
            with pikepdf.new() as out:
                out.pages.extend(src.pages[first:end])
                for key, value in {**meta, "/Title": title}.items():
                    out.docinfo[key] = pikepdf.String(value)
                target = page.with_suffix(".pdf")
                out.save(target)
            written.append(target)
    return written


def _sheet_starts(src: Any, sheets: int) -> list[int] | None:
    """Return the first page of each sheet from the PDF's named destinations, in order.

    None when a sheet's destination is missing or the sheets are not in page order (the
    first at the first page).
    """
    import pikepdf

    names = [SHEET_ID.format(i) for i in range(sheets)]
    if "/Dests" in src.Root:  # Chromium's: a dictionary of names
        table = src.Root.Dests
        dests = [table.get(f"/{name}") for name in names]
    elif "/Names" in src.Root and "/Dests" in src.Root.Names:  # a name tree
        tree = pikepdf.NameTree(src.Root.Names.Dests)
        dests = [tree.get(name) for name in names]
    else:
        return None
    page_of = {page.objgen: i for i, page in enumerate(src.pages)}
    starts = []
    for found in dests:
        dest = found.D if isinstance(found, pikepdf.Dictionary) and "/D" in found else found
        if not isinstance(dest, pikepdf.Array) or not len(dest):  # (an array in a dictionary)
            return None
        first = page_of.get(dest[0].objgen)
        if first is None:
            return None
        starts.append(first)
    ends = [*starts[1:], len(src.pages)]
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, ends, strict=True)):
        return None
    return starts
