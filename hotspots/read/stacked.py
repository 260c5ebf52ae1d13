"""Many crime files joined as text, then made canonical once, in one pass over every row.

Each file's cells are parsed into Arrow in the reader threads (inflating and parsing run
without the GIL); the text tables are then joined without copying, made canonical, checked
against the row rules and split into kept and rejected rows once for all the files. Made
file by file (:func:`hotspots.read.assemble.read_all`), the canonical tables cost a round
of pandas work per file, in threads that wait on each other for the GIL, and then a
second pass that gives their categories one order and joins them.

The result is the same as reading file by file and joining with
:func:`hotspots.read.assemble.assemble`: the same rows in the same order, the same columns,
categories and rejected table (each file's malformed rows, then its rows rejected by a
rule, file by file; then repeated ids and rows outside every area).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from hotspots.read.assemble import FileResult, assemble
from hotspots.read.canonical import CATEGORY_COLUMNS, TEXT_DTYPE
from hotspots.read.csv_engine import RawTable, read_csv_arrow
from hotspots.read.duplicates import FileIdKeys, repeated_across_files, repeated_ids
from hotspots.read.sources import Source
from hotspots.rejects import malformed_rejects, split_rejected

__all__ = [
    "ParsedFile",
    "assemble_stacked",
    "parse_file",
]

log = logging.getLogger("hotspots")


@dataclass
class ParsedFile:
    """One file's cells as parsed: an Arrow text table, its row numbers and malformed rows."""

    source: Source
    table: pa.Table
    row_numbers: np.ndarray
    malformed: list[tuple[int, str]]

    def raw(self) -> RawTable:
        """Return the cells as :func:`hotspots.read.csv_engine.read_csv_text` gives them."""
        return RawTable(self.table.to_pandas(), self.row_numbers, self.malformed)


def parse_file(source: Source, *, required: Sequence[str], columns: Sequence[str]) -> ParsedFile:
    """Parse one CSV's ``columns`` as text (see :func:`read_csv_arrow`), in one thread."""
    table, rows, malformed = read_csv_arrow(
        source, required=required, use_threads=False, columns=columns
    )
    return ParsedFile(source, table, rows, malformed)


def assemble_stacked(
    sources: Sequence[Source],
    items: Sequence[ParsedFile | FileResult],
    *,
    canonical: Callable[[RawTable, Source], pd.DataFrame],
    reasons: Callable[[pd.DataFrame], np.ndarray],
    src_crs: Any,
    dst_crs: Any,
    areas: gpd.GeoDataFrame | None = None,
    quiet: bool = False,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame] | None:
    """Join parsed files into the crime table and the rejected rows, as read file by file.

    Parameters
    ----------
    sources
        The files, in reading order.
    items
        What was read of each: its cells parsed, or, for a file already read whole (a
        superseded publication, all of whose rows are rejected), its result.
    canonical
        Turns text cells into the canonical columns (``source`` names the first file;
        ``source_file`` is set here).
    reasons
        The rejection reason of each canonical row ('' where kept).
    src_crs, dst_crs, areas
        As in :func:`hotspots.read.assemble.assemble`.
    quiet
        If True, do not log each file's rows.

    Returns
    -------
    tuple or None
        Kept rows and rejected rows; repeats of a crime id count only across files (as on
        police.uk). None when the files cannot be joined as text (their columns differ) or
        keep no row at all: then read them file by file.
    """
    parsed = [it for it in items if isinstance(it, ParsedFile)]
    if not parsed or any(not p.table.schema.equals(parsed[0].table.schema) for p in parsed):
        return None
    sizes = np.array([p.table.num_rows for p in parsed], dtype=np.int64)
    bounds = np.cumsum([0, *sizes])
    if not bounds[-1]:
        return None
    table = pa.concat_tables([p.table for p in parsed])
    raw = RawTable(table.to_pandas(), np.concatenate([p.row_numbers for p in parsed]), [])
    canon = canonical(raw, parsed[0].source)
    canon["source_file"] = _file_names(parsed, sizes)
    reason = reasons(canon)
    keep = reason == ""
    so_far = np.concatenate([[0], np.cumsum(keep)])
    kept_per_file = so_far[bounds[1:]] - so_far[bounds[:-1]]
    if not kept_per_file.any():
        return None
    kept, rej = split_rejected(canon, reason)
    full = kept_per_file > 0  # a file that kept nothing adds no category
    if not full.all():
        kept = _used_categories(kept, canon, np.repeat(full, sizes))
    if not quiet:
        _log_files(sources, items, sizes, kept_per_file)
    rejects = _rejects_in_file_order(items, rej, np.flatnonzero(~keep), bounds)
    keys = FileIdKeys.per_file(kept["crime_id"], kept_per_file[full].tolist())
    dup = repeated_across_files(kept, keys)
    if dup is None:
        dup = repeated_ids(kept, across_files_only=True)
    return assemble(
        [kept],
        rejects,
        across_files_only=True,
        src_crs=src_crs,
        dst_crs=dst_crs,
        areas=areas,
        repeated=dup,
    )


def _file_names(parsed: list[ParsedFile], sizes: np.ndarray) -> pd.Categorical:
    """Return ``source_file`` of every row: the file's name (stripped), one category each."""
    codes, names = pd.factorize(pd.Series([p.source.name.strip() for p in parsed], dtype=object))
    return pd.Categorical.from_codes(
        np.repeat(codes, sizes),
        dtype=pd.CategoricalDtype(pd.Index(np.asarray(names, dtype=object), dtype=TEXT_DTYPE)),
        validate=False,
    )


def _used_categories(kept: pd.DataFrame, canon: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Keep only the categories found on ``rows`` (those of the files that kept rows).

    Read file by file, the categories of a file that keeps no row are left out of the joined
    table; the kept rows all come from the other files.
    """
    cols: dict[str, pd.Categorical] = {}
    for col in CATEGORY_COLUMNS:
        if col not in canon or not isinstance(canon[col].dtype, pd.CategoricalDtype):
            continue
        cat = canon[col].array
        codes = np.asarray(cat.codes)[rows]
        used = np.zeros(len(cat.categories), dtype=bool)
        used[codes[codes >= 0]] = True
        if used.all():
            continue
        remap = np.cumsum(used) - 1
        now = np.asarray(kept[col].array.codes)
        cols[col] = pd.Categorical.from_codes(
            np.where(now >= 0, remap[np.maximum(now, 0)], -1),
            dtype=pd.CategoricalDtype(cat.categories[used]),
            validate=False,
        )
    return kept.assign(**cols) if cols else kept


def _rejects_in_file_order(
    items: Sequence[ParsedFile | FileResult],
    rejected: pd.DataFrame,
    rows: np.ndarray,
    bounds: np.ndarray,
) -> list[pd.DataFrame]:
    """Return the rejected tables file by file: malformed rows, then rows a rule rejected.

    ``rejected`` holds the rows a rule rejected, at positions ``rows`` of the joined table
    whose files start at ``bounds``.
    """
    at = np.searchsorted(rows, bounds).tolist()
    out: list[pd.DataFrame] = []
    i = 0
    for it in items:
        if isinstance(it, FileResult):
            out.extend(it.rejects)
            continue
        out.append(
            malformed_rejects(RawTable(pd.DataFrame(), it.row_numbers, it.malformed), it.source)
        )
        out.append(rejected.iloc[at[i] : at[i + 1]])
        i += 1
    return out


def _log_files(
    sources: Sequence[Source],
    items: Sequence[ParsedFile | FileResult],
    sizes: np.ndarray,
    kept_per_file: np.ndarray,
) -> None:
    """Log each file's rows read and kept (before repeated ids and areas)."""
    i = 0
    for source, it in zip(sources, items, strict=True):
        if isinstance(it, FileResult):
            log.info("read %s: %d rows, %d kept", source.name, it.n_read, len(it.kept))
            continue
        log.info("read %s: %d rows, %d kept", source.name, sizes[i], kept_per_file[i])
        i += 1
