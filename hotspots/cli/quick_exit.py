"""End the ``hotspots`` command's process without Python tearing down every object first.

When a command is done, its results are on disk; Python's own exit then still frees every
object the run made, one by one (its crime tables, geometries and modules): about 0.5 s
after a whole Vancouver run, measured. :func:`end_quickly` ends the process once the exit
has done everything else it does:

- other threads are waited for (Python does that before any exit handler runs);
- every exit handler registered after it runs first (they run last-registered first):
  temporary folders' finalizers, multiprocessing's and Dask's clean-up, and those of any
  library imported while the command ran;
- then logging is shut down (flushing its handlers, whose exit handler was registered
  before the command started) and the standard streams are flushed;
- then the process ends with the command's exit status (:func:`exit_status`), by
  :func:`os._exit`, skipping only the freeing of memory the system reclaims anyway.

Only the console command uses it (:func:`hotspots.cli.main`); called in a process that
goes on to do other work (a test runner, a notebook), it would end that process with the
command's status when it exits, so tests run the command in a child process.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys

__all__ = ["end_quickly", "exit_status"]


def exit_status(code: object) -> int:
    """Return the process exit status of ``SystemExit(code)``, as Python itself gives it.

    Examples
    --------
    >>> exit_status(None), exit_status(0), exit_status(2), exit_status("a message")
    (0, 0, 2, 1)
    """
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF
    return 1  # a message (printed by Python to stderr), or anything else


def end_quickly() -> list[int]:
    """Make this process end quickly when it exits (see the module notes).

    Call it first thing in the command, before anything else registers an exit handler.
    Returns the one-item list holding the status the process ends with: the caller sets it
    (:func:`exit_status` of its ``SystemExit``, 1 for an error).
    """
    status = [1]
    atexit.register(_end, status)
    return status


def _end(status: list[int]) -> None:
    """Flush logging and the streams, then end the process (the last exit handler)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, or None
            stream.flush()
    os._exit(status[0])
