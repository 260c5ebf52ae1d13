"""Work run beside the pipeline in a second process (issue 19: two cores, not one).

:func:`start_beside` forks the run's process to compute something that needs nothing the
pipeline computes after that point (the area-level tables: they need the crimes with their
areas, not the place summaries, significance or forecast that come next), and returns a
function that waits for the result. The fork shares the run's memory copy-on-write, so
nothing is copied to start it; the result comes back pickled through a pipe.

One process does it all instead (the same results; the work done when waited for) where the
machine gives this process one core, where ``fork`` is not available (Windows, or macOS by
default), where :data:`WORKERS_ENV` is ``1``, or where the machine's available memory is
under :data:`FORK_MEMORY_FACTOR` times this process's resident size (the fork's pages,
shared at first, are copied as either process writes them: on the 10-million-crime scale-up
the fork came to hold 1.1 GB of its own, and a 60-million-row run could not afford six
times that). If the second process dies without an answer, the work is done again in this
process.

:func:`trim_heap` hands the memory freed by a finished stage back to the system (glibc keeps
it otherwise: on the 10-million-crime scale-up, 0.7 GB after reading). The run calls it
between its big stages and before forking, where the fork's resident size starts as this
process's.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import multiprocessing as mp
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "FORK_MEMORY_FACTOR",
    "TRIM_MIN_BYTES",
    "WORKERS_ENV",
    "can_fork",
    "memory_allows_fork",
    "start_beside",
    "trim_heap",
]

log = logging.getLogger("hotspots")

#: Set to ``1`` to keep every stage of a run in one process.
WORKERS_ENV = "HOTSPOTS_PIPELINE_WORKERS"

T = TypeVar("T")

#: The machine's available memory must be at least this many times the process's resident
#: size for :func:`start_beside` to fork.
FORK_MEMORY_FACTOR = 2.0


def can_fork() -> bool:
    """Return True where a second, forked process can take work: two cores and ``fork``."""
    if os.environ.get(WORKERS_ENV, "").strip() == "1":
        return False
    if "fork" not in mp.get_all_start_methods():
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2


def start_beside(work: Callable[..., T], /, *args: Any) -> Callable[[], T]:
    """Start ``work(*args)`` in a forked process; return a function that waits for its result.

    Parameters
    ----------
    work
        A function whose result can be pickled; it must not change ``args`` in a way this
        process needs (the fork works on its own copy).
    *args
        Its arguments.

    Returns
    -------
    callable
        Returns ``work(*args)`` (computed by it, in this process, when no second process
        can be used, see :func:`can_fork`), or raises the exception it raised.

    Examples
    --------
    >>> get = start_beside(sum, [1, 2, 3])
    >>> get()
    6
    """
    if not can_fork():  # done when waited for, so the caller's stage timer counts it
        return lambda: work(*args)
    trim_heap()  # the fork starts with this process's resident pages
    if not memory_allows_fork():
        log.info("too little memory available for a second process: one process runs all")
        return lambda: work(*args)
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(work, args, send), daemon=True)
    with warnings.catch_warnings():  # Python 3.12+ warns of fork in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child.start()
    send.close()

    def wait() -> T:
        try:
            ok, value = receive.recv()
        except EOFError:  # the second process died without an answer: do it here
            child.join()
            log.warning("the second process ended (code %s); computing here", child.exitcode)
            return work(*args)
        finally:
            receive.close()
        child.join()
        if not ok:
            raise value
        result: T = value
        return result

    return wait


def memory_allows_fork(*, factor: float = FORK_MEMORY_FACTOR) -> bool:
    """Return False where the machine's available memory is under ``factor`` x this process's.

    Linux's ``MemAvailable`` and this process's resident size (``/proc``); True where either
    cannot be read.

    Examples
    --------
    >>> memory_allows_fork(factor=0.0)
    True
    """
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="ascii").splitlines()
        info = dict(line.split(":", 1) for line in meminfo)
        available = int(info["MemAvailable"].split()[0]) * 1024
        statm = Path("/proc/self/statm").read_text(encoding="ascii").split()
        resident = int(statm[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, KeyError, ValueError, IndexError):
        return True
    return available >= factor * resident


def _child(work: Callable[..., Any], args: tuple[Any, ...], send: Any) -> None:
    try:
        answer: tuple[bool, Any] = (True, work(*args))
    except Exception as err:  # handed to the parent, which raises it
        answer = (False, err)
    send.send(answer)
    send.close()


#: Freed heap bytes held below which :func:`trim_heap` leaves the heap alone: returning a
#: little memory saves nothing, and the next stage would fault the pages back in.
TRIM_MIN_BYTES = 256 * 2**20


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later): the allocator's figures in bytes."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def trim_heap(*, min_bytes: int = TRIM_MIN_BYTES) -> bool:
    """Return freed heap memory to the system (glibc ``malloc_trim``) when there is much of it.

    The C allocator keeps memory that Python, NumPy and pandas have freed for reuse, so a
    finished stage's temporaries stay in the process's resident size and add to the next
    stage's peak. Nothing is freed that is still used. The heap is trimmed only when it holds
    at least ``min_bytes`` free (a fifth of a second after reading 10 million crimes, where
    0.7 GB go back); a city-sized run keeps its heap as it is.

    Parameters
    ----------
    min_bytes
        Fewest freed bytes the heap must hold to be trimmed (0: always).

    Returns
    -------
    bool
        True if the allocator was asked to trim (Linux with glibc, enough memory free).

    Examples
    --------
    >>> freed = trim_heap()  # between two stages
    """
    glibc = _glibc()
    if glibc is None:
        return False
    trim, info = glibc
    if min_bytes > 0 and info is not None and info().fordblks < min_bytes:
        return False
    trim(0)
    return True


@functools.cache
def _glibc() -> tuple[Callable[[int], int], Callable[[], _MallInfo2] | None] | None:
    """Return glibc's ``malloc_trim`` and ``mallinfo2`` (None if older), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(None)
        trim: Callable[[int], int] = lib.malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    info = getattr(lib, "mallinfo2", None)
    if info is not None:
        info.restype = _MallInfo2
    return trim, info
