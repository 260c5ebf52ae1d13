"""Two processes for ``hotspots evaluate`` (issue 19): forked workers, results in a fixed order.

:func:`fork_map` runs a function over items in forked processes that share this process's
memory copy-on-write (the prepared data is not copied or pickled; only the items' positions
go out and the results come back pickled), and returns the results in the items' order, so
the tables are the same as one process gives. :func:`start_forked` runs one function beside
this process and returns a function that waits for its result.

One process does it all (the same results) where ``fork`` or a second core is missing or
:data:`WORKERS_ENV` is ``1`` (the switch ``hotspots run`` uses too).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["WORKERS_ENV", "Forked", "fork_map", "start_forked", "worker_count"]

#: Set to ``1`` to keep ``hotspots evaluate`` (and ``hotspots run``) in one process.
WORKERS_ENV = "HOTSPOTS_PIPELINE_WORKERS"

T = TypeVar("T")
R = TypeVar("R")

# the job of the forked workers: set before they fork, read by them (never pickled)
_JOB: list[tuple[Callable[[Any], Any], Sequence[Any]]] = []


def worker_count() -> int:
    """Return 2 where a second, forked process can take work (two cores and ``fork``), else 1.

    Examples
    --------
    >>> worker_count() in (1, 2)
    True
    """
    if os.environ.get(WORKERS_ENV, "").strip() == "1":
        return 1
    if "fork" not in mp.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cores or 1) >= 2 else 1


def fork_map(fn: Callable[[T], R], items: Sequence[T], *, workers: int | None = None) -> list[R]:
    """Return ``[fn(x) for x in items]``, computed by forked workers when they can be used.

    Parameters
    ----------
    fn
        Any function (a closure is fine: it is not pickled); its results must pickle.
    items
        The items, handed out one at a time in this order (put the longest first).
    workers
        Processes (default :func:`worker_count`); 1 computes here.

    Returns
    -------
    list
        The results in the items' order.

    Examples
    --------
    >>> fork_map(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """
    workers = worker_count() if workers is None else workers
    if workers < 2 or len(items) < 2 or _JOB:  # no workers inside a worker
        return [fn(x) for x in items]
    _JOB.append((fn, items))
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns of fork in a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            with ProcessPoolExecutor(
                max_workers=min(workers, len(items)), mp_context=mp.get_context("fork")
            ) as pool:
                return list(pool.map(_run_item, range(len(items))))
    finally:
        _JOB.clear()


def _run_item(i: int) -> Any:
    fn, items = _JOB[-1]
    return fn(items[i])


class Forked(Generic[T]):
    """Work started by :func:`start_forked`: call it to wait for the result."""

    def __init__(self, compute: Callable[[], T], receive: Any = None, child: Any = None) -> None:
        self._compute = compute  # computes here: no second process, or it died
        self._receive = receive
        self._child = child

    def ready(self) -> bool:
        """Return True when the answer is there (calling this object will not wait)."""
        return self._receive is not None and bool(self._receive.poll())

    def __call__(self) -> T:
        """Return the result (waiting for it), or raise the exception the work raised."""
        if self._receive is None:
            return self._compute()
        try:
            ok, value = self._receive.recv()
        except EOFError:  # the second process died without an answer: do it here
            self._child.join()
            return self._compute()
        finally:
            self._receive.close()
        self._child.join()
        if not ok:
            raise value
        result: T = value
        return result


def start_forked(work: Callable[..., T], /, *args: Any, **kwargs: Any) -> Forked[T]:
    """Start ``work(*args, **kwargs)`` in a forked process; return what waits for its result.

    Parameters
    ----------
    work
        A function whose result can be pickled.
    *args, **kwargs
        Its arguments (not pickled: the fork has its own copy).

    Returns
    -------
    Forked
        Called, it returns the result (computed here then, where no second process can be
        used), or raises the exception the work raised. If the second process dies without an
        answer, the work is done again here.

    Examples
    --------
    >>> get = start_forked(sum, [1, 2, 3])
    >>> get()
    6
    """

    def compute() -> T:
        return work(*args, **kwargs)

    if worker_count() < 2 or _JOB:
        return Forked(compute)
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(work, args, kwargs, send), daemon=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        child.start()
    send.close()
    return Forked(compute, receive, child)


def _child(
    work: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], send: Any
) -> None:
    _JOB.append((work, ()))  # a forked child starts no workers of its own
    try:
        answer: tuple[bool, Any] = (True, work(*args, **kwargs))
    except Exception as err:  # handed to the parent, which raises it
        answer = (False, err)
    send.send(answer)
    send.close()
