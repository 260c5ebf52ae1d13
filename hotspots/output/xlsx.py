"""XLSX tables with a header block: text stored as text, links as hyperlinks, fitted widths."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots.output.formulas import neutralise_formulas

__all__ = ["XLSX_MAX_WIDTH", "write_table_xlsx"]

#: Widest column of the XLSX hand-out (characters); longer text wraps or is cut off on screen.
XLSX_MAX_WIDTH = 50


def write_table_xlsx(
    table: pd.DataFrame,
    header: list[tuple[str, str]],
    path: Path,
    *,
    links: Collection[str] = (),
    decimals: Mapping[str, int] | None = None,
    sheet: str = "Hot streets",
) -> Path:
    """Write an XLSX: a header block, then ``table`` with a filter on its headings.

    Parameters
    ----------
    table
        The rows, with the headings a reader sees.
    header
        (label, value) rows written above the table (labels in bold).
    path
        The file to write.
    links
        Columns whose text cells become hyperlinks (a web address, or a file with ``#place``).
    decimals
        Column -> decimals shown for float columns; integer columns show whole numbers.
    sheet
        The sheet's title.

    Returns
    -------
    pathlib.Path
        ``path``. Text is stored as text, never as a formula; columns get widths from their
        contents.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    head = neutralise_formulas(pd.DataFrame(header, columns=["label", "value"]))
    row_no = 0  # rows counted here: ws.max_row scans every cell on each call
    for label, value in zip(head["label"], head["value"], strict=True):
        row_no += 1
        _text_cell(ws.cell(row_no, 1), label)
        ws.cell(row_no, 1).font = Font(bold=True)
        _text_cell(ws.cell(row_no, 2), value)
    body = neutralise_formulas(table)
    top = row_no + 2  # one empty row, then the headings
    for j, heading in enumerate(body.columns, start=1):
        cell = ws.cell(top, j)
        _text_cell(cell, str(heading))  # headings from data: never formulas
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    link_cols = {j for j, c in enumerate(table.columns, start=1) if c in links}
    formats = _number_formats(table, decimals or {})
    row_no = top
    for row in body.itertuples(index=False):
        row_no += 1
        for j, v in enumerate(row, start=1):
            if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
                continue
            cell = ws.cell(row_no, j)
            _text_cell(cell, v)
            if j in link_cols and isinstance(v, str) and v:
                _link_cell(cell, v)
            elif j in formats:
                cell.number_format = formats[j]
    lines = 1
    for j, heading in enumerate(body.columns, start=1):
        width = _column_width(str(heading), body.iloc[:, j - 1])
        ws.column_dimensions[get_column_letter(j)].width = width
        lines = max(lines, -(-len(str(heading)) // int(width - 1)))
    ws.row_dimensions[top].height = 15 * lines
    last = get_column_letter(max(len(body.columns), 1))
    ws.auto_filter.ref = f"A{top}:{last}{row_no}"
    ws.freeze_panes = ws.cell(top + 1, 3)
    wb.save(path)
    return path


def _number_formats(table: pd.DataFrame, decimals: Mapping[str, int]) -> dict[int, str]:
    """Return column number -> Excel number format for the integer and rounded columns."""
    formats: dict[int, str] = {}
    for j, col in enumerate(table.columns, start=1):
        dtype = table[col].dtype
        if pd.api.types.is_integer_dtype(dtype):
            formats[j] = "0"
        elif pd.api.types.is_float_dtype(dtype):
            places = decimals.get(col)
            if places is not None:
                formats[j] = "0." + "0" * places if places else "0"
    return formats


def _column_width(heading: str, values: pd.Series) -> float:
    """Return a column width (characters) from its longest value and longest heading word."""
    texts = values.dropna().astype(str)
    longest = int(texts.str.len().max()) if len(texts) else 0
    word = max((len(w) for w in heading.split()), default=0)
    return float(min(max(longest, word, min(len(heading), 14), 6) + 2, XLSX_MAX_WIDTH))


def _link_cell(cell: Any, target: str) -> None:
    """Make ``cell`` a hyperlink to ``target`` (a web address, or a file with ``#place``).

    A file link is stored as the target plus a location, the form in which a spreadsheet
    resolves a relative path against the workbook's own folder and keeps the ``#place``.
    """
    from openpyxl.worksheet.hyperlink import Hyperlink

    if target.startswith(("http://", "https://")):
        cell.hyperlink = Hyperlink(ref=cell.coordinate, target=target)
    else:
        page, _, place = target.partition("#")
        cell.hyperlink = Hyperlink(ref=cell.coordinate, target=page, location=place or None)
    cell.style = "Hyperlink"


def _text_cell(cell: Any, value: Any) -> None:
    """Set a cell; text is always stored as text, never as a formula."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value.item() if hasattr(value, "item") else value
