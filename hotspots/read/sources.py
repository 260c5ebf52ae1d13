"""Where crime rows come from: finding, naming and opening the source files.

A source is a plain or gzipped CSV, or a member of a zip archive, named by its full path.
police.uk folders and archives are searched for street-level files (the others are listed as
skipped), and a force-month found in several files is read from one publication
(:func:`choose_publications`). Gzip files are inflated with a memory cap
(:mod:`hotspots.read.memory`).
"""

from __future__ import annotations

import bisect
import os
import re
import threading
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
from isal import igzip, isal_zlib

from hotspots.errors import InputDataError
from hotspots.read import memory

__all__ = [
    "GZIP_ERRORS",
    "HEAD_BYTES",
    "InflatingText",
    "Source",
    "TextReader",
    "check_head",
    "choose_publications",
    "find_police_uk_sources",
    "gunzip_buffer",
    "gzip_trailer_size",
    "is_gzip",
    "mapped_sources",
    "open_gzip",
    "scan_police_uk",
    "short_error",
    "skipped_files",
]

#: Bytes read ahead to check the header before parsing.
HEAD_BYTES = 1 << 20

#: Errors of a broken gzip stream (ISA-L's own besides the standard ones).
GZIP_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    cast(type[Exception], isal_zlib.error),
)


def open_gzip(path: Path) -> BufferedIOBase:
    """Open a gzip file for reading, inflated by ISA-L (python-isal's ``igzip``)."""
    opener: Any = igzip.open  # python-isal has no type hints
    return cast(BufferedIOBase, opener(path, "rb"))


@dataclass(frozen=True)
class Source:
    """One readable CSV: a plain or gzipped file, or a member of a zip archive.

    ``name`` identifies the file everywhere (``source_file``, ``run.json``, messages): its full
    resolved path, and for a zip member ``<archive path>:<member path>``. ``published`` is
    the police.uk archive month (``YYYY-MM``) of a member of an archive named ``YYYY-MM.zip``;
    ``modified`` the file's modification time (a zip member's: the time stored for it).
    """

    name: str
    path: Path
    member: str | None = None
    published: str | None = None
    modified: float = 0.0

    def open_bytes(self) -> bytes:
        """Return the whole (decompressed) content of the source."""
        if self.member is not None:
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(self.member)
        if is_gzip(self.path):
            return _gunzip(self)
        with pa.input_stream(str(self.path), compression="detect") as stream:
            return bytes(stream.read())


def is_gzip(path: Path) -> bool:
    """Whether a file is gzip-compressed, by its name (as Arrow's ``compression="detect"``)."""
    return path.suffix.lower() == ".gz"


def gzip_trailer_size(path: Path) -> int:
    """Return the text size a gzip file's trailer gives (its last member's, modulo 4 GiB).

    For a file of one member under 4 GiB (as written by gzip or Python) it is the exact
    size of the text; it is read without inflating anything.
    """
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() >= 4:
            fh.seek(-4, os.SEEK_END)
        return int.from_bytes(fh.read(4).ljust(4, b"\0"), "little")


def _gunzip(source: Source) -> bytes:
    """Return a gzip file's content (see :func:`gunzip_buffer`)."""
    return cast(bytes, gunzip_buffer(source).to_pybytes())


def gunzip_buffer(source: Source, *, cap: memory.Budget | None = None) -> pa.Buffer:
    """Return a gzip file's content, inflated whole by ISA-L (python-isal) into Arrow memory.

    ISA-L inflates about 2.5 times faster than zlib and releases the GIL, so files read in
    parallel threads inflate in parallel. The content is written in 1 MiB steps into a
    buffer from Arrow's memory pool, sized by the gzip trailer; the pool reuses the memory of
    the previous file, where a new ``bytes`` per file costs a page fault per 4 kB (inflating
    London's 24 months: 150,000 page faults and 0.3 s of system time that way, about 1,000
    and 0.03 s this way).

    With ``cap`` (the memory left when the file was opened), the buffer never grows past half
    of it, and each time it grows the rows inflated so far are counted and set against the
    memory left then (files read at once in other threads take their share), stopping
    with a one-line error once they cannot fit. The trailer's size is taken modulo 4 GiB, so
    it is not trusted alone.
    """
    try:
        size = gzip_trailer_size(source.path)
        limit = None if cap is None else cap.free // 2  # the rows need the rest
        if limit is not None:
            size = min(size, limit)
        buf = pa.allocate_buffer(size + 1)  # + 1: the end of the data is seen by a read of 0
        n = rows = counted = 0
        with open_gzip(source.path) as gz:
            while True:
                if n == buf.size:  # several gzip members, or over 4 GiB: grow
                    grown = 2 * buf.size + (1 << 20)
                    if cap is not None and limit is not None:  # rows so far: do they fit?
                        rows += memory.count_buffer_lines(memoryview(buf)[counted:n])
                        counted = n
                        left = memory.available() or cap  # the text so far is held already
                        more = grown + rows * memory.BYTES_PER_ROW
                        if n >= limit or more > left.free:
                            msg = left.message(source.name, n, rows, more=more)
                            raise InputDataError(msg + " (stopped inflating)")
                    bigger = pa.allocate_buffer(grown if limit is None else min(grown, limit + 1))
                    with memoryview(bigger) as view:
                        view.cast("B")[:n] = memoryview(buf).cast("B")[:n]
                    buf = bigger
                with memoryview(buf) as view:
                    got = gz.readinto(view.cast("B")[n : min(n + _INFLATE_STEP, buf.size)])
                if not got:
                    return buf.slice(0, n)
                if n < HEAD_BYTES <= n + got:  # no line break in the first MiB: stop here
                    check_head(buf.slice(0, HEAD_BYTES).to_pybytes(), source)
                n += got
    except GZIP_ERRORS as err:
        raise _unreadable(source, err) from err


def _unreadable(source: Source, err: Exception) -> InputDataError:
    """Return the one-line error of a broken gzip stream."""
    msg = (
        f"{source.name}: not a readable gzip file ({short_error(err)}); download it again "
        "or give it without the .gz ending if it is plain text"
    )
    return InputDataError(msg)


#: Bytes inflated per step into the buffer of :func:`gunzip_buffer`.
_INFLATE_STEP = 1 << 20


class InflatingText:
    """A gzip file's text, inflated by ISA-L as a reader asks for it, and kept for another read.

    Arrow's CSV reader, parsing on every core, reads its next block in a thread of its own
    while it parses the blocks before: read from :meth:`reader`, the file is inflated
    there, block by block, at the same time as it is parsed (inflated whole first, Vancouver's
    2.9 MB file kept the parse waiting 25 ms). Each block is a buffer of Arrow's memory pool,
    the size the reader asked for, given to it without a copy; the blocks are kept, so a
    second read (a file with a malformed row is parsed again) inflates nothing.

    The checks of :func:`gunzip_buffer` hold: :meth:`head` inflates the first block (a MiB
    or more) before anything is parsed (see :func:`check_head`); with ``cap`` (the memory
    left when the file was opened) the text never grows past half of it, and once its size
    no longer bounds what its rows need (:meth:`hotspots.read.memory.Budget.check`), the rows
    of each new block are counted and set against the memory left then, stopping with a
    one-line error; a broken stream stops with the one line of :func:`gunzip_buffer`. An
    error is kept: every later read raises it.
    """

    def __init__(self, source: Source, *, cap: memory.Budget | None = None) -> None:
        self.source = source
        self.size = 0
        self._cap = cap
        self._blocks: list[pa.Buffer] = []
        self._starts: list[int] = []
        self._rows = 0
        self._counted = 0
        self._done = self._closed = False
        self._error: InputDataError | None = None
        self._lock = threading.Lock()
        try:
            self._gz = open_gzip(source.path)
        except GZIP_ERRORS as err:
            raise _unreadable(source, err) from err

    def head(self, *, block: int = HEAD_BYTES) -> bytes:
        """Return the first MiB of the text (all of it, if shorter).

        ``block``: the bytes inflated first (at least a MiB), the size of the reader's
        first read, which is then given without a copy.
        """
        with self._lock:
            if self.size < max(block, HEAD_BYTES):
                self._inflate(max(block, HEAD_BYTES) - self.size)
            return cast(bytes, self._take(0, HEAD_BYTES).to_pybytes())

    def reader(self, start: int = 0) -> TextReader:
        """Return a file-like reader of the text from byte ``start``."""
        return TextReader(self, start)

    def read_at(self, start: int, nbytes: int) -> pa.Buffer:
        """Return up to ``nbytes`` bytes of the text from ``start`` (all the rest if negative).

        Fewer bytes only at the end of the text.
        """
        with self._lock:
            if self._closed:  # a reader still reading ahead once the parse has failed
                return pa.allocate_buffer(0)
            while not self._done and (nbytes < 0 or self.size < start + nbytes):
                self._inflate(_INFLATE_WHOLE_STEP if nbytes < 0 else start + nbytes - self.size)
            return self._take(start, self.size - start if nbytes < 0 else nbytes)

    def finish(self) -> None:
        """Inflate the rest of the file, raising any error of the stream or of memory."""
        self.read_at(self.size, -1)

    def close(self) -> None:
        """Close the gzip stream and let go of the text."""
        with self._lock:
            self._gz.close()
            self._closed = True
            self._blocks, self._starts = [], []

    def _inflate(self, want: int) -> None:
        """Inflate up to ``want`` more bytes into a new block (fewer only at the end)."""
        if self._error is not None:
            raise self._error
        if self._cap is not None:  # never past half the memory left (and a byte, to see more)
            want = max(1, min(want, self._cap.free // 2 + 1 - self.size))
        try:
            buf = pa.allocate_buffer(want)
            got = 0
            with memoryview(buf) as view:
                out = view.cast("B")
                while got < want:  # in steps, as gunzip_buffer (ISA-L's own buffer stays small)
                    step = self._gz.readinto(out[got : got + _INFLATE_STEP])
                    if not step:
                        self._done = True
                        break
                    got += step
        except GZIP_ERRORS as err:
            self._error = _unreadable(self.source, err)
            raise self._error from err
        if got:
            self._blocks.append(buf if got == want else buf.slice(0, got))
            self._starts.append(self.size)
            self.size += got
            self._check_memory(got)

    def _check_memory(self, step: int) -> None:
        """Stop once the text and its rows cannot fit (see :func:`gunzip_buffer`)."""
        cap, n = self._cap, self.size
        if cap is None or n + n // memory.MIN_ROW_BYTES * memory.BYTES_PER_ROW <= cap.free:
            return  # its size bounds its rows, and they fit
        for block in self._blocks[self._counted :]:
            self._rows += memory.count_buffer_lines(block)
        self._counted = len(self._blocks)
        left = memory.available() or cap  # the text so far is held already
        more = step + self._rows * memory.BYTES_PER_ROW
        if n > cap.free // 2 or more > left.free:
            msg = left.message(self.source.name, n, self._rows, more=more)
            self._error = InputDataError(msg + " (stopped inflating)")
            raise self._error

    def _take(self, start: int, nbytes: int) -> pa.Buffer:
        """Return the kept text from ``start``: a slice of one block, else a copy."""
        end = min(start + nbytes, self.size)
        if end <= start:
            return pa.allocate_buffer(0)
        first = bisect.bisect_right(self._starts, start) - 1
        block, at = self._blocks[first], self._starts[first]
        if end <= at + block.size:
            return block.slice(start - at, end - start)
        out = pa.allocate_buffer(end - start)
        with memoryview(out) as view:
            dest, n = view.cast("B"), 0
            for block, at in zip(self._blocks[first:], self._starts[first:], strict=True):
                if at >= end:
                    break
                lo, hi = max(start, at) - at, min(end, at + block.size) - at
                with memoryview(block) as part:
                    dest[n : n + hi - lo] = part.cast("B")[lo:hi]
                n += hi - lo
        return out


#: Bytes inflated per step when the rest of a text is read at once.
_INFLATE_WHOLE_STEP = 1 << 24


class TextReader:
    """A read-only file of the text of an :class:`InflatingText`, for Arrow's readers."""

    def __init__(self, text: InflatingText, start: int) -> None:
        self._text = text
        self._pos = start
        self.closed = False

    def read(self, nbytes: int = -1) -> pa.Buffer:
        """Return the next ``nbytes`` bytes (fewer at the end; all the rest if negative)."""
        out = self._text.read_at(self._pos, nbytes)
        self._pos += out.size
        return out

    def tell(self) -> int:
        """Return the position in the text."""
        return self._pos

    def readable(self) -> bool:
        """Whether the file can be read (it can)."""
        return True

    def seekable(self) -> bool:
        """Whether the file can seek (it cannot)."""
        return False

    def close(self) -> None:
        """Mark the reader closed (the text is kept for other readers)."""
        self.closed = True


def find_police_uk_sources(paths: Iterable[str | Path]) -> list[Source]:
    """Return the police.uk street-level CSVs found in files, folders and zip archives.

    Parameters
    ----------
    paths
        Files (``.csv``, ``.csv.gz``, ``.zip``) or folders searched recursively for
        ``*-street.csv``, ``*-street.csv.gz`` and ``*.zip``.

    Returns
    -------
    list of Source
        One source per CSV, named by its full path (a file given twice, or reached through
        two of ``paths``, is one source), sorted by name so reading order is stable.

    Raises
    ------
    InputDataError
        If a path does not exist, or nothing readable is found.
    """
    found, _ = scan_police_uk(paths)
    if not found:
        msg = (
            f"no police.uk street-level CSV found in {[str(p) for p in paths]}; expected files "
            "named YYYY-MM-<force>-street.csv (.gz) or monthly .zip archives"
        )
        raise InputDataError(msg)
    return found


def skipped_files(paths: Iterable[str | Path], *, fmt: str = "police-uk") -> list[dict[str, str]]:
    """Return the files in the crime folders that a read passes over, and why.

    Parameters
    ----------
    paths
        The crime inputs, as given to :func:`read_crimes`.
    fmt
        The crime format (only police.uk folders hold files that are skipped by name).

    Returns
    -------
    list of dict
        ``{"path": ..., "why": ...}`` per skipped file or zip member (outcomes,
        stop-and-search and other files that are not street-level crime), sorted by path.
    """
    if fmt != "police-uk":
        return []
    return scan_police_uk(paths)[1]


def scan_police_uk(paths: Iterable[str | Path]) -> tuple[list[Source], list[dict[str, str]]]:
    """Return the street-level sources under ``paths`` and the files skipped there."""
    found: dict[str, Source] = {}
    skipped: dict[str, str] = {}
    for p in map(Path, paths):
        if not p.exists():
            msg = f"crime input {p} does not exist"
            raise InputDataError(msg)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            sources, passed = _sources_in_file(f.resolve(), from_dir=p.is_dir())
            found.update((s.name, s) for s in sources)
            skipped.update(passed)
    listed = [{"path": k, "why": skipped[k]} for k in sorted(skipped)]
    return sorted(found.values(), key=lambda s: s.name), listed


def _sources_in_file(f: Path, *, from_dir: bool) -> tuple[list[Source], dict[str, str]]:
    name = f.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(f) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
        members = [i for i in infos if i.filename.lower().endswith("-street.csv")]
        if not members and not from_dir:
            msg = f"{f} is a zip archive with no *-street.csv inside"
            raise InputDataError(msg)
        archive = _ARCHIVE_NAME.fullmatch(name)
        published = archive.group(1) if archive else None
        sources = [
            Source(f"{f}:{i.filename}", f, i.filename, published, _zip_time(i))
            for i in sorted(members, key=lambda i: i.filename)
        ]
        passed = {f"{f}:{i.filename}": _why_skipped(i.filename) for i in infos if i not in members}
        return sources, passed
    if name.endswith(("-street.csv", "-street.csv.gz")) or not from_dir:
        return [Source(str(f), f, modified=f.stat().st_mtime)], {}
    return [], {str(f): _why_skipped(f.name)}


#: A police.uk archive, named by the month it was published (``2019-01.zip``).
_ARCHIVE_NAME = re.compile(r"(\d{4}-\d{2})\.zip")
#: A police.uk street-level file name: month, force.
_STREET_NAME = re.compile(r"(\d{4}-\d{2})-(.+)-street\.csv(?:\.gz)?")


def _zip_time(info: zipfile.ZipInfo) -> float:
    """Return the modification time stored for a zip member, in seconds since the epoch."""
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0


def _why_skipped(name: str) -> str:
    low = Path(name).name.lower()
    if low.endswith(("-outcomes.csv", "-outcomes.csv.gz")):
        return "police.uk outcomes file (not street-level crime)"
    if low.endswith(("-stop-and-search.csv", "-stop-and-search.csv.gz")):
        return "police.uk stop-and-search file (not street-level crime)"
    return "not a police.uk street-level file (*-street.csv)"


def choose_publications(sources: Sequence[Source]) -> dict[str, str]:
    """Return, for each source superseded by another publication of its force-month, the winner.

    police.uk re-publishes months: the archive of each month holds the street files of the
    three years before it, and analysts keep several downloads. A force-month
    (``YYYY-MM-<force>-street.csv``) read from more than one file is one publication; the
    newer file is kept: by the police.uk archive month when every copy comes from an archive
    named ``YYYY-MM.zip``, else (or on a tie) by the later modification time, then by the
    greater path, so the choice never depends on the order of arguments or file names.

    Parameters
    ----------
    sources
        From :func:`find_police_uk_sources`.

    Returns
    -------
    dict
        Name of each superseded source -> name of the source kept in its place.

    Examples
    --------
    >>> a = Source("/old/2019-01.zip:x/2017-06-kent-street.csv", Path("/old/2019-01.zip"),
    ...            "x/2017-06-kent-street.csv", "2019-01", 5.0)
    >>> b = Source("/new/2019-02.zip:x/2017-06-kent-street.csv", Path("/new/2019-02.zip"),
    ...            "x/2017-06-kent-street.csv", "2019-02", 1.0)
    >>> choose_publications([b, a])
    {'/old/2019-01.zip:x/2017-06-kent-street.csv': '/new/2019-02.zip:x/2017-06-kent-street.csv'}
    """
    groups: dict[tuple[str, str], list[Source]] = {}
    for s in sources:
        m = _STREET_NAME.fullmatch(Path(s.member or s.path.name).name.lower())
        if m:
            groups.setdefault((m.group(1), m.group(2)), []).append(s)
    out: dict[str, str] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        by_archive = all(s.published for s in group)
        winner = max(
            group, key=lambda s: (s.published or "" if by_archive else "", s.modified, s.name)
        )
        out.update((s.name, winner.name) for s in group if s is not winner)
    return out


def mapped_sources(paths: Iterable[str | Path]) -> list[Source]:
    """Return the CSV and GeoParquet files in files and folders, named by full path.

    Raises
    ------
    InputDataError
        If a path does not exist, or no such file is found.
    """
    out: list[Source] = []
    for p in map(Path, paths):
        if not p.exists():
            msg = f"crime input {p} does not exist"
            raise InputDataError(msg)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        out.extend(
            Source(str(f.resolve()), f.resolve())
            for f in files
            if _is_table_file(f) or not p.is_dir()
        )
    if not out:
        msg = f"no CSV or GeoParquet file found in {[str(p) for p in paths]}"
        raise InputDataError(msg)
    return sorted({s.name: s for s in out}.values(), key=lambda s: s.name)


def _is_table_file(f: Path) -> bool:
    return f.name.lower().endswith((".csv", ".csv.gz", ".parquet", ".geoparquet"))


def check_head(head: bytes, source: Source) -> None:
    """Stop at a file whose first MiB holds no line break (or only blank space)."""
    start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    if len(head) >= HEAD_BYTES and (head[start:].isspace() or b"\n" not in head):
        msg = (
            f"{source.name}: no line break in the first {HEAD_BYTES >> 20} MiB; not a CSV "
            "of records (a header line is never that long)"
        )
        raise InputDataError(msg)


def short_error(err: Exception) -> str:
    """Return the first line of an error's text, cut to 160 characters."""
    return str(err).splitlines()[0][:160]
