"""The Dask engine's counts: each file's rows counted on the worker that read them.

:func:`count_on_workers` runs step 6 of :mod:`hotspots.pipeline.dask_stages`: the client
numbers every row's place, area and (place, crime group) on its joined table
(:func:`hotspots.pipeline.time_counts.time_keys`), sends each file its rows' numbers and
which of the file's rows the join kept (:func:`kept_rows`), and each worker counts its file
(:func:`hotspots.distributed_tasks.count_file`) with the function the local engine counts
each file with; the client sums the files' counts in file order. The area stage's counts
are made beside them alike (:func:`hotspots.distributed_tasks.count_area_file`).
:func:`submit_rejected_parts` and :func:`collect_rejected_parts` run step 7: each file's
lines of ``rejected.csv`` made on its worker, fetched into a temporary folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from hotspots.distributed_tasks import count_area_file, count_file, rejected_part
from hotspots.output.rejected_csv import RejectedCsv, csv_columns
from hotspots.pipeline.area_counts import AreaCounts, area_keys
from hotspots.pipeline.time_counts import CITY, RunTimes, time_keys
from hotspots.temporal.counted import sum_groups
from hotspots.temporal.tallies import Summed

__all__ = [
    "AREA_FILES_SUMMED",
    "DaskCounts",
    "collect_rejected_parts",
    "count_on_workers",
    "kept_rows",
    "submit_rejected_parts",
]


#: Files whose area counts a worker sums before they are sent to the client.
AREA_FILES_SUMMED = 8


@dataclass
class DaskCounts:
    """What the Dask engine's workers counted: time and area counts, ``rejected.csv``'s parts."""

    times: RunTimes
    areas: AreaCounts
    rejected: RejectedCsv


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
) -> tuple[RunTimes, AreaCounts]:
    """Count each file's rows on the worker holding them; sum the files' counts in order.

    The client numbers every row's place, area and (place, crime group) on its table
    (:func:`hotspots.pipeline.time_counts.time_keys`) and sends each file its rows' numbers;
    the worker counts them (:func:`hotspots.distributed_tasks.count_file`), as the local
    engine counts the same file (:func:`hotspots.pipeline.time_counts.count_times`).
    The rows' numbers are not kept (four bytes a row and key at least). The area stage's
    counts are made alike (:func:`hotspots.pipeline.area_counts.area_keys`, counted by
    :func:`hotspots.distributed_tasks.count_area_file`).
    """
    keys = time_keys(crimes)
    akeys = area_keys(crimes)
    wide = len(akeys.columns["area_code"]) >= 2**31
    small = {k: max(n, 1) < 2**31 for k, (_, n) in keys.codes.items()}
    parts, area_parts = [], []
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
        groups = akeys.codes[part]
        area_parts.append(
            client.submit(
                count_area_file,
                future,
                keep,
                np.ascontiguousarray(groups) if wide else groups.astype(np.int32),
                pure=False,
            )
        )
    for future in rows:
        future.release()  # each file's rows go once its count is made
    total = Summed()
    for future in parts:  # in file order, summed as they come: few files' counts held
        total.add(future.result())
        future.release()
    # the files' cells summed a few files at a time on the workers (a file of the scale-up
    # spans every day: its cells are many, their sums hardly more), then here
    summed = [
        client.submit(sum_groups, area_parts[i : i + AREA_FILES_SUMMED], pure=False)
        for i in range(0, len(area_parts), AREA_FILES_SUMMED)
    ]
    del area_parts
    cells: list[pd.DataFrame] = []
    for future in summed:
        cells.append(future.result())
        future.release()
    areas = AreaCounts(sum_groups(cells), akeys.columns)
    return RunTimes(total.result(), replace(keys, codes={})), areas  # numbers done with


def submit_rejected_parts(
    client: Any,
    names: list[str],
    rejects: list[Any],
    late: pd.DataFrame,
    *,
    street_level_only: bool,
) -> list[tuple[str, Any]]:
    """Make each file name's lines of ``rejected.csv`` on a worker.

    The task is :func:`hotspots.distributed_tasks.rejected_part` (step 7 of
    :mod:`hotspots.pipeline.dask_stages`).

    ``names`` are the crime files' names (``source_file``) and ``rejects`` their futures of
    :func:`hotspots.distributed_tasks.file_rejects`, in file order; ``late`` the rows the
    client's join rejected. Files of one name make one part. Returns each name and the
    future of its :class:`hotspots.output.rejected_csv.FilePart`.
    """
    at: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        at.setdefault(name, []).append(i)
    of_late = late["source_file"].astype(object).to_numpy()
    late_of = {
        str(name): late.take(rows.to_numpy())
        for name, rows in pd.Series(np.arange(len(late))).groupby(of_late, sort=False)
    }
    return [
        (
            name,
            client.submit(
                rejected_part,
                [rejects[i] for i in idx],
                late_of.get(name),
                street_level_only=street_level_only,
                pure=False,
            ),
        )
        for name, idx in at.items()
    ]


def collect_rejected_parts(parts: list[tuple[str, Any]], *, street_level_only: bool) -> RejectedCsv:
    """Fetch the parts of :func:`submit_rejected_parts` one by one into a temporary folder."""
    out = RejectedCsv(csv_columns(street_level_only=street_level_only))
    for name, future in parts:
        out.add(name, future.result(), on_disk=True)
        future.release()
    return out
