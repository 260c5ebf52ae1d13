"""The Dask engine's time counts: each file's rows counted on the worker that read them.

:func:`count_on_workers` runs step 6 of :mod:`hotspots.pipeline.dask_stages`: the client
numbers every row's place, area and (place, crime group) on its joined table
(:func:`hotspots.pipeline.time_counts.time_keys`), sends each file its rows' numbers and
which of the file's rows the join kept (:func:`kept_rows`), and each worker counts its file
(:func:`hotspots.distributed_tasks.count_file`) with the function the local engine counts
each file with; the client sums the files' counts in file order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from hotspots.distributed_tasks import count_file
from hotspots.pipeline.time_counts import CITY, RunTimes, time_keys
from hotspots.temporal.tallies import Summed

__all__ = [
    "count_on_workers",
    "kept_rows",
]


def kept_rows(lengths: list[int], gone: np.ndarray) -> list[tuple[np.ndarray | None, slice]]:
    """Per file: which of its rows the run kept (None: all) and their rows in the joined table."""
    out: list[tuple[np.ndarray | None, slice]] = []
    at = done = 0
    for n in lengths:
        dropped = gone[at : at + n]
        keep = ~dropped if dropped.any() else None
        kept = n - int(dropped.sum())
        out.append((keep, slice(done, done + kept)))
        at, done = at + n, done + kept
    return out


def count_on_workers(
    client: Any,
    crimes: pd.DataFrame,
    rows: list[Any],
    kept: list[tuple[np.ndarray | None, slice]],
) -> RunTimes:
    """Count each file's rows on the worker holding them; sum the files' counts in order.

    The client numbers every row's place, area and (place, crime group) on its table
    (:func:`hotspots.pipeline.time_counts.time_keys`) and sends each file its rows' numbers;
    the worker counts them (:func:`hotspots.distributed_tasks.count_file`), as the local
    engine counts the same file (:func:`hotspots.pipeline.time_counts.count_times`).
    The rows' numbers are not kept (four bytes a row and key at least).
    """
    keys = time_keys(crimes)
    small = {k: max(n, 1) < 2**31 for k, (_, n) in keys.codes.items()}
    parts = []
    for future, (keep, part) in zip(rows, kept, strict=True):
        codes: dict[str, tuple[np.ndarray | None, int]] = {
            k: (
                None
                if k == CITY
                else c[part].astype(np.int32)
                if small[k]
                else np.ascontiguousarray(c[part]),
                n,
            )
            for k, (c, n) in keys.codes.items()
        }
        parts.append(
            client.submit(
                count_file, future, keep, codes, keys.first, keys.last, keys.hours, pure=False
            )
        )
    for future in rows:
        future.release()  # each file's rows go once its count is made
    total = Summed()
    for future in parts:  # in file order, summed as they come: few files' counts held
        total.add(future.result())
        future.release()
    return RunTimes(total.result(), replace(keys, codes={}))  # numbers done with
