"""The CSV engine: one CSV (plain, gzipped or a zip member) read as text cells with Arrow.

Malformed rows are kept aside with their row numbers; memory is checked before a big file
is parsed, or, for a gzip file inflated as it is parsed on every core, as it is inflated
(see :mod:`hotspots.read.memory`).
"""

from __future__ import annotations

import contextlib
import logging
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from hotspots.errors import InputDataError
from hotspots.read import memory
from hotspots.read.sources import (
    GZIP_ERRORS,
    HEAD_BYTES,
    InflatingText,
    Source,
    check_head,
    gunzip_buffer,
    is_gzip,
    open_gzip,
    short_error,
)

__all__ = [
    "RawTable",
    "read_csv_arrow",
    "read_csv_text",
    "read_raw_csv",
]

log = logging.getLogger("hotspots")


@dataclass
class RawTable:
    """All cells of one CSV as text, plus the rows the parser could not split."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    malformed: list[tuple[int, str]]


def read_raw_csv(source: Source, *, required: Sequence[str] = ()) -> RawTable:
    """Read one CSV with every cell as text, keeping malformed rows aside.

    Parameters
    ----------
    source
        The file or archive member.
    required
        Columns that must be present (all missing ones are reported at once).

    Returns
    -------
    RawTable
        Text cells, the 1-based data row number of each, and the malformed rows.

    Raises
    ------
    InputDataError
        If the file is empty, not UTF-8 text, not a CSV, or lacks required columns.
    """
    return read_csv_text(source, required=required, use_threads=False)


def read_csv_text(
    source: Source,
    *,
    required: Sequence[str],
    use_threads: bool,
    columns: Sequence[str] | None = None,
    numbers: Sequence[str] = (),
) -> RawTable:
    """Read one CSV as text; ``use_threads`` parses one big file on all cores.

    ``columns`` limits the text columns built to those named (the others are still split,
    so malformed rows are found as before). Columns in ``numbers`` are parsed as floats
    (empty cells missing) if every cell is a number, which is faster than text; a file with
    anything else in them is read as text throughout.
    """
    table, rows, malformed = read_csv_arrow(
        source, required=required, use_threads=use_threads, columns=columns, numbers=numbers
    )
    return RawTable(table.to_pandas(), rows, malformed)


def read_csv_arrow(
    source: Source,
    *,
    required: Sequence[str],
    use_threads: bool,
    columns: Sequence[str] | None = None,
    numbers: Sequence[str] = (),
    encoded: Sequence[str] = (),
) -> tuple[pa.Table, np.ndarray, list[tuple[int, str]]]:
    """Read one CSV as :func:`read_csv_text` does, its cells left in an Arrow table.

    Columns in ``encoded`` are dictionary-encoded as they are parsed (text repeated on many
    rows: each distinct value is kept once). Returns the table, the 1-based data row number
    of each of its rows, and the malformed rows (number, text).
    """
    with _open_text(source, stream=use_threads) as (head, opener, finish):
        return _read_text(
            source,
            head,
            opener,
            finish,
            required=required,
            use_threads=use_threads,
            columns=columns,
            numbers=numbers,
            encoded=encoded,
        )


def _read_text(
    source: Source,
    head: bytes,
    opener: Callable[[int], Any],
    finish: Callable[[], None],
    *,
    required: Sequence[str],
    use_threads: bool,
    columns: Sequence[str] | None,
    numbers: Sequence[str],
    encoded: Sequence[str],
) -> tuple[pa.Table, np.ndarray, list[tuple[int, str]]]:
    """Parse a CSV opened by :func:`_open_text` (see :func:`read_csv_arrow`)."""
    start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    check_head(head, source)
    header = _header(head, source, start=start)
    missing = [c for c in required if c not in header]
    if missing:
        msg = (
            f"{source.name}: missing required column(s) {missing}; found {header[:12]}. "
            "Check the file is the expected format, or give a column mapping with --format"
        )
        raise InputDataError(msg)

    def text() -> Any:
        return opener(start)

    keep = None if columns is None else [c for c in header if c in set(columns)]
    floats = [c for c in numbers if c in header]
    types = {c: pa.dictionary(pa.int32(), pa.string()) for c in encoded if c in header}
    options: dict[str, Any] = {"keep": keep, "types": types, "finish": finish}
    try:
        table, malformed = _parse_text_csv(
            text, header, source, use_threads=use_threads, floats=floats, **options
        )
    except InputDataError:
        if not floats:
            raise
        floats = []  # a cell that is not a number: read everything as text
        table, malformed = _parse_text_csv(text, header, source, use_threads=use_threads, **options)
    if use_threads and malformed:  # threaded parsing cannot number bad rows: parse again
        table, malformed = _parse_text_csv(
            text, header, source, use_threads=False, floats=floats, **options
        )
    return table, _row_numbers(table.num_rows, malformed), malformed


#: Gzip files up to this size are inflated whole in memory (a monthly force file is a few
#: MB); bigger ones are streamed, so memory does not grow with the file.
_INFLATE_WHOLE_MAX = 64 << 20


#: What :func:`_open_text` gives: the first bytes of a source, a function opening its text
#: at an offset, and one that reads the rest of a text inflated as it is parsed (raising
#: the errors of a broken gzip stream, or of memory, before those of the parse).
_Opened = tuple[bytes, Callable[[int], Any], Callable[[], None]]


@contextlib.contextmanager
def _open_text(source: Source, *, stream: bool = False) -> Iterator[_Opened]:
    """Open a source's text for parsing (see :data:`_Opened`).

    Gzip files up to :data:`_INFLATE_WHOLE_MAX` bytes and zip members are inflated into
    memory by ISA-L (see :func:`gunzip_buffer`); with ``stream`` (a file parsed on every
    core), gzip files are inflated as Arrow reads them (:class:`InflatingText`), at the
    same time as it parses. Other files are streamed (and bigger gzip files inflated) by
    Arrow block by block into its reusable memory pool.
    """
    small_gzip = is_gzip(source.path) and source.path.stat().st_size <= _INFLATE_WHOLE_MAX
    if small_gzip and stream and source.member is None:
        text = InflatingText(source, cap=memory.available())
        try:
            yield (
                text.head(block=_block_size(use_threads=True)),
                lambda start: pa.PythonFile(text.reader(start), mode="r"),
                text.finish,
            )
        finally:
            text.close()
        return
    head, opener = _open_whole(source)
    yield head, opener, _nothing


def _nothing() -> None:
    """Do nothing (a text held whole or streamed by Arrow has nothing left to inflate)."""


def _open_whole(source: Source) -> tuple[bytes, Callable[[int], Any]]:
    """Return the first bytes of a source and a function opening its text at an offset."""
    budget = memory.available()
    if source.member is not None:
        if budget is not None:
            with zipfile.ZipFile(source.path) as zf:  # the stored size bounds what is read
                budget.check(source.name, zf.getinfo(source.member).file_size, None)
        data = source.open_bytes()
        left = memory.available()  # now, with the text held (and other threads' files)
        if left is not None:
            left.check(source.name, len(data), lambda: memory.count_buffer_lines(data), held=True)
        return _in_memory(data)
    if is_gzip(source.path) and source.path.stat().st_size <= _INFLATE_WHOLE_MAX:
        buf = gunzip_buffer(source, cap=budget)
        left = memory.available()
        if left is not None:
            left.check(source.name, buf.size, lambda: memory.count_buffer_lines(buf), held=True)
        return _in_memory(buf)
    if budget is not None:
        _check_streamed(source, budget)

    def opener(start: int) -> Any:
        stream = pa.input_stream(str(source.path), compression="detect")
        if start:
            stream.read(start)
        return stream

    with opener(0) as stream:
        head = bytes(stream.read(HEAD_BYTES))
    return head, opener


def _check_streamed(source: Source, budget: memory.Budget) -> None:
    """Check that a file Arrow streams fits in memory once parsed (see :mod:`hotspots.read.memory`).

    A plain file's size bounds its rows; only a file too big for that bound is counted.
    A big gzip file's text size is unknown (the trailer holds it modulo 4 GiB): it is
    inflated once, counting, and stopped as soon as it cannot fit.
    """
    if not is_gzip(source.path):
        budget.check(
            source.name,
            source.path.stat().st_size,
            lambda: memory.count_lines(memory.file_blocks(source.path)),
        )
        return
    try:
        with open_gzip(source.path) as gz:
            memory.count_lines_capped(iter(lambda: gz.read(1 << 24), b""), budget, source.name)
    except GZIP_ERRORS:
        return  # a broken file: reported by the parser, which names the problem


def _in_memory(data: bytes | pa.Buffer) -> tuple[bytes, Callable[[int], Any]]:
    buf = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    head = buf.slice(0, min(HEAD_BYTES, buf.size)).to_pybytes()
    return head, lambda start: pa.BufferReader(buf.slice(start))


def _parse_text_csv(
    text: Callable[[], Any],
    header: list[str],
    source: Source,
    *,
    use_threads: bool,
    keep: list[str] | None = None,
    floats: Sequence[str] = (),
    types: dict[str, pa.DataType] | None = None,
    finish: Callable[[], None] = _nothing,
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Parse the CSV; malformed rows are skipped and returned (number, text).

    A first pass runs without a Python row handler, which makes Arrow about twice as fast;
    only a file with a malformed row (or another parse error) is parsed again with it.
    The first pass also takes each line break for the end of a row, which Arrow splits
    into blocks faster (Vancouver's 19 MB: 45 -> 33 ms); a value spanning lines (quoted)
    across a block's end puts Arrow's parser out of step with its blocks, an error it
    reports, and the file is parsed again reading such values whole.
    Before a parse error is reported, ``finish`` reads the rest of a text inflated as it
    is parsed: a broken gzip file (or one too big for memory) is reported as such.
    """
    malformed: list[tuple[int, str]] = []

    def _on_bad(row: Any) -> str:
        malformed.append((int(row.number) - 1 if row.number else -1, str(row.text)[:200]))
        return "skip"

    def _read(handler: Any, *, newlines: bool = True) -> pa.Table:
        with text() as stream:
            return _read_from(stream, handler, newlines)

    def _read_from(stream: Any, handler: Any, newlines: bool) -> pa.Table:
        return pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=use_threads, block_size=_block_size(use_threads)
            ),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=handler, newlines_in_values=newlines
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    c: pa.float64() if c in floats else (types or {}).get(c, pa.string())
                    for c in header
                },
                include_columns=keep,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        try:
            return _read(None, newlines=False), malformed
        except pa.ArrowInvalid as err:
            if _OUT_OF_STEP in str(err):  # a value spanning lines: no malformed row yet
                try:
                    return _read(None), malformed
                except pa.ArrowInvalid:
                    pass
            return _read(_on_bad), malformed
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        finish()
        if "straddling" in str(err):  # a row longer than Arrow's block
            msg = (
                f"{source.name}: a line is longer than {_block_size(use_threads) >> 20} MiB "
                "(a line break missing?); not a CSV of records"
            )
            raise InputDataError(msg) from err
        msg = f"{source.name}: cannot be read as a UTF-8 CSV ({short_error(err)})"
        raise InputDataError(msg) from err
    except (MemoryError, pa.ArrowMemoryError) as err:
        finish()
        budget = memory.available()
        msg = (
            f"{source.name}: out of memory while parsing "
            f"({budget.limit}: {budget.free / 2**30:.1f} GiB free)"
            if budget
            else f"{source.name}: out of memory while parsing"
        ) + "; split the file"
        raise InputDataError(msg) from err
    except OSError as err:  # a truncated or corrupt compressed file, streamed
        finish()
        msg = (
            f"{source.name}: cannot be read ({short_error(err)}); the file may be truncated "
            "or corrupt: download it again"
        )
        raise InputDataError(msg) from err


#: What Arrow says when a value spans lines and its blocks were cut at every line break.
_OUT_OF_STEP = "out of sync with chunker"


def _block_size(use_threads: bool) -> int:
    """Bytes Arrow parses at a time (a row must fit in one block)."""
    return (1 << 22) if use_threads else (1 << 24)


def _header(data: bytes, source: Source, *, start: int = 0) -> list[str]:
    if len(data) <= start or data[start:].isspace():
        msg = f"{source.name}: file is empty"
        raise InputDataError(msg)
    end = data.find(b"\n", start)
    first = (data[start:end] if end >= 0 else data[start:]).rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"{source.name}: not UTF-8 text (byte {err.start} of the header); save it as UTF-8"
        raise InputDataError(msg) from err
    if "\x00" in text or "," not in text:
        msg = (
            f"{source.name}: not a comma-separated file (header line {text[:80]!r}); "
            "export it as CSV with commas"
        )
        raise InputDataError(msg)
    return [c.strip().strip('"') for c in text.split(",")]


def _row_numbers(n_ok: int, malformed: list[tuple[int, str]]) -> np.ndarray:
    """Return the physical data-row numbers of the parsed rows, skipping malformed ones."""
    if not malformed:
        return np.arange(1, n_ok + 1, dtype=np.int64)
    bad = np.array(sorted(n for n, _ in malformed if n > 0), dtype=np.int64)
    allrows = np.arange(1, n_ok + len(malformed) + 1, dtype=np.int64)
    return np.setdiff1d(allrows, bad, assume_unique=True)[:n_ok]
