"""Tests of printing briefs in batches: one Chromium document per batch, cut into one PDF a page.

The pages are small hand-made HTML files of the briefs' form (one ``<body>``, a ``<title>``);
one runs over two A4 sheets, so the cut must follow the sheets Chromium printed, not assume
one sheet per page.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pypdf import PdfReader

from hotspots.brief.pdf import PdfPrinter, write_pdfs
from hotspots.brief.pdf_batch import SHEET_ID, batch_pages, combine_pages, split_pdf
from hotspots.errors import HotspotsError

HEAD = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>{}</title>"
    "<style>@page{{size:A4;margin:10mm}}p{{font-size:12pt}}</style></head>"
)


def _page(folder: Path, name: str, title: str, paragraphs: int) -> Path:
    body = "".join(f"<p>{title}: line {i}</p>" for i in range(paragraphs))
    path = folder / f"{name}.html"
    path.write_text(f"{HEAD.format(title)}<body>{body}</body></html>\n", encoding="utf-8")
    return path


@pytest.fixture
def pages(tmp_path: Path) -> list[Path]:
    # B is long enough for two A4 sheets; the others fit on one
    return [
        _page(tmp_path, "A", "Ward brief: A &amp; Co", 3),
        _page(tmp_path, "B", "Ward brief: B", 50),
        _page(tmp_path, "C", "Ward brief: C", 5),
    ]


def test_batches_keep_order_and_size(tmp_path: Path, pages: list[Path]) -> None:
    odd = tmp_path / "odd.html"
    odd.write_text("<html>no body tag</html>", encoding="utf-8")
    groups = batch_pages([*pages, odd], size=2)
    assert groups == [pages[:2], pages[2:], [odd]]


def test_combined_document_has_one_sheet_per_page(tmp_path: Path, pages: list[Path]) -> None:
    target = tmp_path / "all.html"
    titles = combine_pages(pages, target)
    text = target.read_text(encoding="utf-8")
    assert titles == ["Ward brief: A & Co", "Ward brief: B", "Ward brief: C"]
    assert text.count("class=hotspots-sheet ") == 3
    assert text.count("href='#hotspots-sheet-") == 3
    assert "B: line 49" in text


@pytest.mark.browser
def test_batch_prints_the_same_pages_as_one_by_one(pages: list[Path], browser: Any) -> None:
    single = write_pdfs(pages, browser=browser, batch=1)
    alone = [(len(PdfReader(p).pages), PdfReader(p).pages[0].extract_text()) for p in single]
    for p in single:
        p.unlink()
    batched = write_pdfs(pages, browser=browser, batch=10)
    assert batched == [p.with_suffix(".pdf") for p in pages]
    together = [(len(PdfReader(p).pages), PdfReader(p).pages[0].extract_text()) for p in batched]
    assert together == alone
    assert [n for n, _ in together] == [1, 2, 1]
    assert PdfReader(batched[0]).metadata.title == "Ward brief: A & Co"
    # nothing of the combined document is left beside the pages
    assert sorted(p.name for p in pages[0].parent.iterdir()) == [
        "A.html",
        "A.pdf",
        "B.html",
        "B.pdf",
        "C.html",
        "C.pdf",
    ]


@pytest.mark.browser
def test_two_chromiums_print_the_batches(pages: list[Path]) -> None:
    pdfs = write_pdfs(pages, batch=2, processes=2)
    assert [len(PdfReader(p).pages) for p in pdfs] == [1, 2, 1]


@pytest.mark.browser
def test_a_printer_started_ahead_prints_what_write_pdfs_prints(pages: list[Path]) -> None:
    with PdfPrinter(batch=2, processes=2, expected=len(pages)) as printer:
        printer.ready()  # the browsers run before the pages are handed over
        ahead = printer.print(pages)
        with pytest.raises(RuntimeError, match="prints once"):
            printer.print(pages)
    assert ahead == [p.with_suffix(".pdf") for p in pages]
    got = [(len(PdfReader(p).pages), PdfReader(p).pages[0].extract_text()) for p in ahead]
    for p in ahead:
        p.unlink()
    plain = write_pdfs(pages, batch=2, processes=2)
    assert [(len(PdfReader(p).pages), PdfReader(p).pages[0].extract_text()) for p in plain] == got
    assert not any(t.name.startswith("hotspots-pdf") for t in threading.enumerate())


@pytest.mark.browser
def test_a_printer_never_given_pages_closes_its_browsers() -> None:
    with PdfPrinter(expected=5) as printer:
        printer.ready()
    assert not any(t.name.startswith("hotspots-pdf") for t in threading.enumerate())


def test_a_printer_without_chromium_fails_when_asked_to_print(
    pages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTSPOTS_CHROMIUM", str(pages[0].parent / "no-chromium"))
    with PdfPrinter() as printer:
        printer.ready()  # nothing started: returns at once
        with pytest.raises(HotspotsError, match="found none at"):
            printer.print(pages)
    assert not list(pages[0].parent.glob("*.pdf"))


def _sheets_pdf(path: Path, starts: list[int], pages: int, *, tree: bool) -> None:
    """A PDF of blank pages whose sheets start at ``starts``: a /Dests dictionary or name tree."""
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    dests = {
        SHEET_ID.format(i): pikepdf.Array([pdf.pages[s].obj, pikepdf.Name.XYZ, 0, 842, 0])
        for i, s in enumerate(starts)
    }
    if tree:
        names = pikepdf.NameTree.new(pdf)
        for name, dest in dests.items():
            names[name] = pikepdf.Dictionary(D=dest)  # the array in a dictionary
        pdf.Root.Names = pikepdf.Dictionary(Dests=names.obj)
    else:
        pdf.Root.Dests = pikepdf.Dictionary({f"/{k}": v for k, v in dests.items()})
    pdf.docinfo["/Producer"] = "test"
    pdf.save(path)


@pytest.mark.parametrize("tree", [False, True])
def test_split_follows_the_named_sheets(tmp_path: Path, tree: bool) -> None:
    """Cut at each sheet's destination (either kind); a missing or out-of-order one: None."""
    pages = [tmp_path / f"{c}.html" for c in "ABC"]
    _sheets_pdf(tmp_path / "all.pdf", [0, 1, 3], 4, tree=tree)
    written = split_pdf(tmp_path / "all.pdf", pages, ["a", "b", "c"])
    assert written == [p.with_suffix(".pdf") for p in pages]
    assert [len(PdfReader(p).pages) for p in written] == [1, 2, 1]
    meta = PdfReader(written[1]).metadata
    assert meta is not None and meta.title == "b" and meta.producer == "test"
    for starts in ([0, 1], [1, 2, 3], [0, 2, 1]):  # a sheet missing, not first, out of order
        _sheets_pdf(tmp_path / "odd.pdf", starts, 4, tree=tree)
        assert split_pdf(tmp_path / "odd.pdf", pages, ["a", "b", "c"]) is None
