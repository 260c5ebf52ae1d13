"""Tests of a gzip file inflated as Arrow parses it on every core (hotspots.read.sources).

A single file parsed with threads is read through :class:`InflatingText`; the results and
the one-line errors must be those of a file inflated whole first.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from hotspots.errors import InputDataError
from hotspots.read import csv_engine, memory
from hotspots.read.sources import InflatingText, Source

HEADER = "id,kind,x,y"
#: Columns as the mapped reader asks for them: text, dictionary-encoded text, numbers.
OPTIONS = {"required": ["id", "x"], "columns": ["id", "kind", "x", "y"], "encoded": ["kind"]}


def _rows(n: int, *, bad_at: int | None = None) -> list[str]:
    """Return ``n`` data rows (about 40 bytes each); row ``bad_at`` has a cell too many."""
    rows = [f"id{i:08d},kind {i % 7},{500000 + i / 8:.3f},{5400000 - i / 4:.2f}" for i in range(n)]
    if bad_at is not None:
        rows[bad_at] += ",extra"
    return rows


def _gzip(path: Path, text: bytes) -> Source:
    path.write_bytes(gzip.compress(text, compresslevel=1, mtime=0))
    return Source(str(path), path)


def _read(source: Source, *, threads: bool) -> tuple[pa.Table, list[int], list[tuple[int, str]]]:
    table, rows, malformed = csv_engine.read_csv_arrow(source, use_threads=threads, **OPTIONS)
    return table.combine_chunks(), rows.tolist(), malformed


@pytest.mark.parametrize("bom", [False, True])
def test_streamed_parse_is_the_whole_parse(tmp_path: Path, bom: bool) -> None:
    """Three of Arrow's 4 MiB blocks, a malformed row in the second: the same cells, row
    numbers and malformed rows as the file parsed in one thread from its text inflated whole."""
    text = ("\n".join([HEADER, *_rows(250_000, bad_at=160_000)]) + "\n").encode()
    assert len(text) > 2 * (4 << 20)
    source = _gzip(tmp_path / "rows.csv.gz", (b"\xef\xbb\xbf" if bom else b"") + text)
    streamed, whole = _read(source, threads=True), _read(source, threads=False)
    assert streamed[0].to_pydict() == whole[0].to_pydict()
    assert streamed[1:] == whole[1:]
    assert streamed[2] == [(160_001, whole[2][0][1])] and streamed[0].num_rows == 249_999


def test_cut_gzip_is_reported_before_a_parse_error(tmp_path: Path) -> None:
    """A 16 MB file cut near its end, with a malformed row and bytes that are not UTF-8 in
    its first block: the one line says the gzip file is broken, as when it is inflated whole
    first (the parse fails long before the reader reaches the cut)."""
    rows = _rows(400_000, bad_at=1_000)
    rows[2_000] = "id,\xff\xfe,1,2"
    data = gzip.compress(("\n".join([HEADER, *rows]) + "\n").encode("latin-1"), 1, mtime=0)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) * 19 // 20])
    for threads in (True, False):
        with pytest.raises(InputDataError, match=r"cut\.csv\.gz: not a readable gzip file") as err:
            _read(Source(str(path), path), threads=threads)
        assert "\n" not in str(err.value)


def test_streamed_gzip_stops_once_it_cannot_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a 2 MiB budget a 10 MB text stops with one line naming the file and the limit."""
    source = _gzip(tmp_path / "big.csv.gz", ("\n".join([HEADER, *_rows(250_000)]) + "\n").encode())
    monkeypatch.setattr(memory, "available", lambda: memory.Budget(2 << 20, "test budget"))
    with pytest.raises(
        InputDataError,
        match=r"big\.csv\.gz: too big for the memory available: .* free under the test budget"
        r".*\(stopped inflating\)",
    ):
        _read(source, threads=True)


def test_inflating_text_reads_across_blocks_and_again(tmp_path: Path) -> None:
    """Reads that span blocks are copied, reads within one are slices; a second reader
    replays the kept text, and reads past the end give nothing."""
    text = bytes(range(256)) * 20_000  # 5 MB
    text_file = InflatingText(_gzip(tmp_path / "t.gz", text))
    try:
        assert text_file.head() == text[: 1 << 20]
        first = text_file.reader(3)
        assert first.read(3 << 20).to_pybytes() == text[3 : (3 << 20) + 3]
        assert first.read(1000).to_pybytes() == text[(3 << 20) + 3 : (3 << 20) + 1003]
        assert first.read(-1).to_pybytes() == text[(3 << 20) + 1003 :]
        assert first.read(10).size == 0
        assert text_file.reader(0).read(len(text) + 5).to_pybytes() == text
    finally:
        text_file.close()


def test_inflating_text_keeps_its_error(tmp_path: Path) -> None:
    """A broken stream raises its one-line error on every later read, never a short text."""
    data = gzip.compress(bytes(range(256)) * 20_000, mtime=0)
    path = tmp_path / "t.gz"
    path.write_bytes(data[: len(data) // 2])
    text_file = InflatingText(Source(str(path), path))
    with pytest.raises(InputDataError, match="not a readable gzip file"):
        text_file.finish()
    with pytest.raises(InputDataError, match="not a readable gzip file"):
        text_file.reader(0).read(10 << 20)
    text_file.close()


def test_inflating_text_never_holds_more_than_half_the_memory_left(tmp_path: Path) -> None:
    """With the memory left at opening, the text kept stops one byte past half of it: a text
    of exactly half is read whole, one byte more stops with the one line."""
    text = b"a,b\n" + b"1,2\n" * 250_000  # 1,000,004 bytes
    source = _gzip(tmp_path / "t.csv.gz", text)
    whole = InflatingText(source, cap=memory.Budget(2 * len(text), "test budget"))
    whole.finish()
    assert whole.size == len(text)
    whole.close()
    short = InflatingText(source, cap=memory.Budget(2 * len(text) - 2, "test budget"))
    with pytest.raises(InputDataError, match=r"t\.csv\.gz: too big .*\(stopped inflating\)"):
        short.head(block=4 << 20)
    assert short.size == len(text)  # half the memory left, and one byte
    short.close()


@pytest.mark.parametrize("threads", [True, False])
def test_values_spanning_lines_across_blocks(tmp_path: Path, threads: bool) -> None:
    """Quoted values holding line breaks, in a file of several blocks: read whole.

    The first pass cuts blocks at every line break; here that cuts values (Arrow reports
    it), so the file is parsed again reading such values whole, with no row malformed.
    """
    n = 350_000
    rows = [
        f'id{i:08d},"kind {i % 7}\nline two",{500000 + i / 8:.3f},{5400000 - i / 4:.2f}'
        for i in range(n)
    ]
    text = ("\n".join([HEADER, *rows]) + "\n").encode()
    assert len(text) > 16 << 20  # blocks of 4 MiB (threads) or 16 MiB (one thread)
    # the first pass fails; with threads, a block cut inside a value may report its short row
    # first (then the file is parsed again with the row handler, reading such values whole)
    pattern = csv_engine._OUT_OF_STEP + ("|Expected 4 columns, got" if threads else "")
    with pytest.raises(pa.ArrowInvalid, match=pattern):
        pacsv.read_csv(
            pa.py_buffer(text),
            read_options=pacsv.ReadOptions(use_threads=threads),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
        )
    source = _gzip(tmp_path / "spanning.csv.gz", text)
    table, numbers, malformed = _read(source, threads=threads)
    assert malformed == [] and table.num_rows == n and numbers == list(range(1, n + 1))
    kinds = table.column("kind").to_pylist()
    assert kinds[0] == "kind 0\nline two" and kinds[-1] == f"kind {(n - 1) % 7}\nline two"
    assert table.column("id").to_pylist()[-1] == f"id{n - 1:08d}"
