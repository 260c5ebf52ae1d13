"""How much memory reading a file needs, and whether this process has it.

A crime file is parsed whole: its text, plus Arrow's columns and the canonical frame built
from them, about :data:`BYTES_PER_ROW` bytes a row on top of the text (measured on London's
police.uk files and on files of very short rows). Before a file is parsed, its text size and
row count are set against the memory the process may still use (:func:`available`); a gzip
file inflated as it is parsed, as each block is inflated
(:class:`hotspots.read.sources.InflatingText`). So a file that cannot fit (a decompression
bomb, a file of a hundred million short rows) stops with a one-line error naming the file
and the limit, never the kernel's OOM killer.

Also how the run's memory is allocated: Arrow's pool (:func:`choose_arrow_pool`) and NumPy's
huge-page advice while reading (:func:`small_pages`).
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hotspots.errors import InputDataError

__all__ = [
    "ARROW_POOL_ENV",
    "BYTES_PER_ROW",
    "MIN_ROW_BYTES",
    "Budget",
    "available",
    "choose_arrow_pool",
    "count_buffer_lines",
    "count_lines",
    "count_lines_capped",
    "file_blocks",
    "small_pages",
]

#: Arrow's own setting of its pool: when a user sets it, :func:`choose_arrow_pool` leaves it.
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"

#: Memory a parsed row takes beyond its text (Arrow offsets, canonical columns, rejects).
BYTES_PER_ROW = 450
#: Fewest bytes a CSV row can take (one character and a line break).
MIN_ROW_BYTES = 2


@dataclass(frozen=True)
class Budget:
    """Bytes this process may still allocate, and the limit that sets it."""

    free: int
    limit: str

    def need(self, text_bytes: int, rows: int) -> int:
        """Return the bytes needed to parse ``rows`` rows held in ``text_bytes`` bytes."""
        return text_bytes + rows * BYTES_PER_ROW

    def check(
        self,
        name: str,
        text_bytes: int,
        count_rows: Callable[[], int] | None,
        *,
        held: bool = False,
    ) -> None:
        """Raise unless a file of ``text_bytes`` bytes fits.

        The row count is bounded by the text size first (:data:`MIN_ROW_BYTES` a row);
        only when that bound does not fit are the rows counted (``count_rows``). Without
        ``count_rows`` (the text not read yet) only the text itself must fit. ``held``: the
        text is in memory already (and so no longer in ``free``); only its rows must fit.

        Raises
        ------
        InputDataError
            One line naming the file, its size and rows, the memory needed and the limit.
        """
        if count_rows is None:
            if text_bytes > self.free:
                raise InputDataError(self.message(name, text_bytes, None))
            return
        text = 0 if held else text_bytes
        if text + text_bytes // MIN_ROW_BYTES * BYTES_PER_ROW <= self.free:
            return
        rows = count_rows()
        if text + rows * BYTES_PER_ROW > self.free:
            more = rows * BYTES_PER_ROW if held else None
            raise InputDataError(self.message(name, text_bytes, rows, more=more))

    def message(
        self, name: str, text_bytes: int, rows: int | None, *, more: int | None = None
    ) -> str:
        """Say that a file is too big for the memory left, naming the limit.

        ``more``: the bytes still needed when the text is already held (else the text and
        its rows are counted, see :meth:`need`).
        """
        what = f"{text_bytes / 2**20:,.0f} MiB of text" + (
            f" in {rows:,} rows" if rows is not None else ""
        )
        if more is not None:
            need = f"needs {more / 2**30:.2f} GiB more to read"
        elif rows is not None:
            need = f"needs about {self.need(text_bytes, rows) / 2**30:.2f} GiB to read"
        else:
            need = "is more than can be read"
        return (
            f"{name}: too big for the memory available: {what} {need}, and "
            f"{self.free / 2**30:.2f} GiB is free under the {self.limit}; split the file "
            "(by month or force) or run on a machine with more memory"
        )


def available() -> Budget | None:
    """Return the memory this process may still allocate, or None where it cannot be told.

    The least of: the system's available memory (``MemAvailable``), the cgroup's limit less
    its use (containers), and the address-space limit (``ulimit -v``) less this process's
    size.
    """
    found: list[Budget] = []
    meminfo = _proc_kib("/proc/meminfo", "MemAvailable:")
    if meminfo is not None:
        found.append(Budget(meminfo, "system's available memory"))
    cgroup = _cgroup_free()
    if cgroup is not None:
        found.append(Budget(cgroup, "container's memory limit (cgroup memory.max)"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        size = _proc_kib("/proc/self/status", "VmSize:") or 0
        found.append(Budget(max(0, soft - size), "address-space limit (ulimit -v)"))
    return min(found, key=lambda b: b.free) if found else None


def _proc_kib(path: str, key: str) -> int | None:
    """Return a ``kB`` figure of a /proc file in bytes, or None."""
    try:
        for line in Path(path).read_text(encoding="ascii").splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_free() -> int | None:
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((base / "memory.current").read_text(encoding="ascii")))
    except (OSError, ValueError):
        return None


def count_lines(blocks: Iterable[bytes | memoryview]) -> int:
    """Return the number of line breaks in a sequence of blocks of bytes."""
    return sum(int(np.count_nonzero(np.frombuffer(b, dtype=np.uint8) == 10)) for b in blocks)


def count_lines_capped(blocks: Iterable[bytes], budget: Budget, name: str) -> tuple[int, int]:
    """Return the bytes and line breaks of streamed blocks, stopping once they cannot fit.

    Raises
    ------
    InputDataError
        As soon as the text read so far needs more than ``budget`` (see :meth:`Budget.check`).
    """
    size = rows = 0
    for block in blocks:
        size += len(block)
        rows += count_lines([block])
        if budget.need(size, rows) > budget.free:
            raise InputDataError(budget.message(name, size, rows) + " (stopped reading there)")
    return size, rows


def file_blocks(path: Path, *, block: int = 1 << 24) -> Iterable[bytes]:
    """Yield a plain file's bytes in blocks."""
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            yield chunk


def count_buffer_lines(data: bytes | memoryview | Any, *, step: int = 1 << 22) -> int:
    """Return the number of line breaks in a buffer (bytes, memoryview, Arrow buffer)."""
    view = memoryview(data).cast("B")
    return count_lines(view[i : i + step] for i in range(0, len(view), step))


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """Hold off NumPy's advice to back big arrays with huge pages in the block (restored).

    NumPy asks the kernel (``madvise``) for 2 MiB pages for every array of 4 MiB or more.
    Where the kernel then compacts memory to find them (transparent huge pages on
    ``madvise`` with ``defrag`` on ``madvise``, as here), the first touch of each new array
    can stall: reading London's 24 months took 0.67-1.2 s of system time that way, 0.44-0.47
    s with ordinary pages (more page faults, each cheap). Usable as a decorator.
    """
    setter = getattr(getattr(np, "_core", None), "multiarray", None)
    toggle = getattr(setter, "_set_madvise_hugepage", None)  # NumPy's own switch, if any
    if toggle is None:
        yield
        return
    was = toggle(False)
    try:
        yield
    finally:
        toggle(was)


def choose_arrow_pool() -> None:
    """Let Arrow allocate from its jemalloc pool (where the wheel has it) instead of mimalloc.

    Arrow's wheels allocate from mimalloc by default. Measured on the 2-core reference
    machine, in fresh processes alternated with the same code on mimalloc:

    * Vancouver's stages load..ranking (medians of 20 rounds): 0.37 s with jemalloc (and
      with the C library's ``malloc``), 0.41 s with mimalloc; the process's peak RSS 585-591
      MB against 657-662 MB.
    * London's (medians of 8): 1.57 s against 1.75 s.
    * The 10-million-crime run: peak RSS 3.24-3.26 GiB against 3.34-3.45 GiB (``malloc``:
      3.49-3.70 GiB), its wall time 3-4% longer.

    Process-wide (Arrow has one default pool; buffers made before keep theirs). A user's
    own choice in :data:`ARROW_POOL_ENV` is left as it is, and so is mimalloc where the
    wheel has no jemalloc (Windows).
    """
    if os.environ.get(ARROW_POOL_ENV) or pa.default_memory_pool().backend_name == "jemalloc":
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # built without jemalloc
        return
    pa.set_memory_pool(pool)
