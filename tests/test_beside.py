"""The second process beside the pipeline and the heap trim between stages (issue 19)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from hotspots.pipeline import beside

psutil = pytest.importorskip("psutil")


def _fails() -> None:
    msg = "boom"
    raise ValueError(msg)


def test_start_beside_returns_the_work_result() -> None:
    assert beside.start_beside(sorted, [3, 1, 2])() == [1, 2, 3]


def test_start_beside_raises_what_the_work_raised() -> None:
    wait = beside.start_beside(_fails)
    with pytest.raises(ValueError, match="boom"):
        wait()


def test_one_process_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(beside.WORKERS_ENV, "1")
    assert not beside.can_fork()
    assert beside.start_beside(os.getpid)() == os.getpid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_heap_returns_freed_memory() -> None:
    """Freed chunks below one still in use stay resident until the heap is trimmed."""
    proc = psutil.Process()
    before = proc.memory_info().rss
    arrays = [np.ones(50_000 // 8) for _ in range(2000)]  # about 100 MB in heap chunks
    kept = arrays[-1]  # the top of the heap stays in use: free() alone cannot shrink it
    held = proc.memory_info().rss - before
    del arrays
    if proc.memory_info().rss - before < held / 2:
        pytest.skip("this C library returned the memory at free()")
    assert beside.trim_heap(min_bytes=0)
    assert proc.memory_info().rss - before < held / 2
    assert kept.sum() == len(kept)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_heap_leaves_a_heap_with_little_free() -> None:
    """Below ``min_bytes`` of freed memory the heap is left as it is."""
    assert not beside.trim_heap(min_bytes=2**62)


def test_start_beside_keeps_one_process_when_memory_is_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(beside, "memory_allows_fork", lambda: False)
    assert beside.start_beside(os.getpid)() == os.getpid()


def test_memory_allows_fork_compares_available_memory_with_the_resident_size() -> None:
    assert beside.memory_allows_fork(factor=0.0)
    assert not beside.memory_allows_fork(factor=1e9) or not sys.platform.startswith("linux")
