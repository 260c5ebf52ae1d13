"""Crime files joined as text, then made canonical once, in one pass over every row.

Each file's cells are parsed into Arrow in a reader thread (inflating and parsing run
without the GIL), with the parts of the canonical columns its cells give alone (the
coordinates as numbers among them: every row's point is located in a second thread while
the rest is made). The text tables are then joined without copying, made canonical,
checked against the row rules and split into kept and rejected rows once for all the
files. Made file by file (:func:`hotspots.read.assemble.read_all`), the canonical tables
cost a round of pandas work per file, in threads that wait on each other for the GIL, and
then a second pass that gives their categories one order and joins them.

The result is the same as reading file by file and joining with
:func:`hotspots.read.assemble.assemble`: the same rows in the same order, the same columns,
categories and rejected table (each file's malformed rows, then its rows rejected by a
rule, file by file; then repeated ids and rows outside every area).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.read.assemble import (
    FileResult,
    Located,
    PointsSeen,
    assemble,
    locate_points,
)
from hotspots.read.canonical import CATEGORY_COLUMNS, TEXT_DTYPE, take_rows
from hotspots.read.csv_engine import RawTable, read_csv_arrow
from hotspots.read.duplicates import FileIdKeys, repeated_across_files, repeated_ids
from hotspots.read.layers import AreaInput
from hotspots.read.sources import Source, gzip_trailer_size, is_gzip
from hotspots.rejects import malformed_rejects, rejected_rows

__all__ = [
    "STACK_MAX_BYTES",
    "ParsedFile",
    "assemble_stacked",
    "cells_frame",
    "parse_file",
    "stack_fits",
    "text_bytes",
]

log = logging.getLogger("hotspots")

#: Most CSV text (decompressed) joined before it is made canonical; more is read file by file.
#: The joined path holds every file's parsed text at once (about twice the text in memory:
#: 2.1 GB more than file by file on the 10-million-row scale-up's 1 GB of text).
STACK_MAX_BYTES = 512 * 2**20


def text_bytes(source: Source) -> int:
    """Return the size of a source's CSV text once decompressed (read from the file's header).

    A gzip file's trailer holds its text size modulo 4 GiB (one member: ``gzip -l``'s
    figure); a zip member's size is in the archive's directory; other files are their size.

    Examples
    --------
    >>> import gzip, tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "a.csv.gz"
    >>> _ = path.write_bytes(gzip.compress(b"x" * 100_000))
    >>> text_bytes(Source(str(path), path))
    100000
    """
    if source.member is not None:
        with zipfile.ZipFile(source.path) as zf:
            return zf.getinfo(source.member).file_size
    if is_gzip(source.path):
        return gzip_trailer_size(source.path)
    return source.path.stat().st_size


def stack_fits(sources: Sequence[Source], *, limit: int | None = None) -> bool:
    """Whether the files' text is small enough to be joined before it is made canonical.

    London's 24 months (304 MB of text) are; the 10-million-row scale-up (1 GB) is read file
    by file, a few files at a time, so its memory does not grow with the joined text.
    ``limit`` defaults to :data:`STACK_MAX_BYTES` (read when called).
    """
    limit = STACK_MAX_BYTES if limit is None else limit
    total = 0
    for source in sources:
        total += text_bytes(source)
        if total > limit:
            return False
    return True


@dataclass
class ParsedFile:
    """One file's cells as parsed: an Arrow text table, its row numbers and malformed rows.

    Also, made in the reader thread: ``parts`` of the canonical columns (``x`` and ``y``,
    the coordinates as numbers, among them) and the keys of the crime ids (``keys``, of
    every row's ``crime_id`` part).
    """

    source: Source
    table: pa.Table
    row_numbers: np.ndarray
    malformed: list[tuple[int, str]]
    parts: dict[str, Any]
    keys: FileIdKeys | None

    def raw(self) -> RawTable:
        """Return the cells as :func:`hotspots.read.csv_engine.read_csv_text` gives them."""
        return RawTable(_as_text(self.table).to_pandas(), self.row_numbers, self.malformed)


def _as_text(table: pa.Table) -> pa.Table:
    """Return the table with its dictionary-encoded columns decoded (Arrow text)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
    return table


def parse_file(
    source: Source,
    *,
    required: Sequence[str],
    columns: Sequence[str],
    parts: Callable[[pa.Table], dict[str, Any]],
    numbers: Sequence[str] = (),
    encoded: Sequence[str] = (),
    use_threads: bool = False,
) -> ParsedFile:
    """Parse one CSV's ``columns`` (see :func:`read_csv_arrow`), in one thread by default.

    ``parts`` makes canonical columns (``x`` and ``y`` among them, and ``crime_id``, if
    any, stripped of spaces) from the Arrow table as parsed, the ``encoded`` columns
    dictionary-encoded; :func:`cells_frame` gives it as a pandas frame.
    """
    table, rows, malformed = read_csv_arrow(
        source,
        required=required,
        use_threads=use_threads,
        columns=columns,
        numbers=numbers,
        encoded=encoded,
    )
    made = parts(table)
    keys = FileIdKeys.of(made["crime_id"]) if "crime_id" in made else None
    return ParsedFile(source, table, rows, malformed, made, keys)


def cells_frame(table: pa.Table) -> pd.DataFrame:
    """Return parsed cells as a pandas frame, dictionary-encoded columns kept so (Arrow)."""
    return table.to_pandas(types_mapper=_arrow_dictionaries, split_blocks=True)


def _arrow_dictionaries(kind: pa.DataType) -> pd.ArrowDtype | None:
    """Keep Arrow dictionary columns as they are in pandas (else pandas' own dtypes)."""
    return pd.ArrowDtype(kind) if pa.types.is_dictionary(kind) else None


def assemble_stacked(
    sources: Sequence[Source],
    items: Sequence[ParsedFile | FileResult],
    *,
    canonical: Callable[[RawTable, Source, dict[str, Any]], pd.DataFrame],
    reasons: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]],
    across_files_only: bool,
    src_crs: Any,
    dst_crs: Any,
    areas: AreaInput = None,
    quiet: bool = False,
    raw_columns: Sequence[str] | None = None,
    on_points: PointsSeen | None = None,
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
        Turns text cells into the canonical columns, given the files' parts of them joined
        (``source`` names the first file; ``source_file`` is set here).
    reasons
        The rejection reason of each canonical row, coded (0 where kept), and the reasons
        (see :func:`hotspots.rejects.row_reason_codes`).
    across_files_only, src_crs, dst_crs, areas
        As in :func:`hotspots.read.assemble.assemble`.
    quiet
        If True, do not log each file's rows.
    raw_columns
        The text columns ``canonical`` reads (all if None).
    on_points
        Told the rows' points once projected (see :data:`hotspots.read.assemble.PointsSeen`).

    Returns
    -------
    tuple or None
        Kept rows and rejected rows. None when the files cannot be joined (their columns
        differ) or keep no row at all: then read them file by file.
    """
    parsed = [it for it in items if isinstance(it, ParsedFile)]
    if not parsed or any(not p.table.schema.equals(parsed[0].table.schema) for p in parsed):
        return None
    sizes = np.array([p.table.num_rows for p in parsed], dtype=np.int64)
    bounds = np.cumsum([0, *sizes])
    if not bounds[-1]:
        return None
    table = pa.concat_tables([p.table for p in parsed])
    parts = _joined_parts([p.parts for p in parsed if p.table.num_rows])
    if parts is None:
        return None
    for p in parsed:  # joined: each file's own copy no longer needed
        p.parts = {}
    cells = _as_text(table if raw_columns is None else table.select(list(raw_columns)))
    # a column each (numbers without a copy: not joined into one block of every row)
    frame = cells.to_pandas(split_blocks=True)
    numbers = (  # one file: its own
        parsed[0].row_numbers
        if len(parsed) == 1
        else np.concatenate([p.row_numbers for p in parsed])
    )
    raw = RawTable(frame, numbers, [])
    x, y = parts["x"], parts["y"]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-points") as pool:
        # the points of every row are located while the table is made
        early = pool.submit(  # every row's points: those of the rows kept among them
            locate_points, x, y, src_crs=src_crs, dst_crs=dst_crs, areas=areas, on_points=on_points
        )
        canon = canonical(raw, parsed[0].source, parts)
        canon["source_file"] = _file_names(parsed, sizes)
        codes, labels = reasons(canon)
        keep = codes == 0
        kept_per_file = np.array(
            [np.count_nonzero(keep[lo:hi]) for lo, hi in pairwise(bounds.tolist())],
            dtype=np.int64,
        )
        if not kept_per_file.any():
            return None
        located = early if keep.all() else pool.submit(_kept_points, early, keep)
        # the kept rows are taken once, with any rejected later (see concat_files)
        rows = None if keep.all() else keep
        rej = None if rows is None else rejected_rows(canon, codes, labels)
        table = canon.drop(columns=[c for c in _RAW if c in canon])
        full = kept_per_file > 0  # a file that kept nothing adds no category
        if not full.all():
            table = _used_categories(table, canon, np.repeat(full, sizes))
        if not quiet:
            _log_files(sources, items, sizes, kept_per_file)
        rejects = _rejects_in_file_order(items, rej, np.flatnonzero(~keep), bounds)
        dup = _kept_repeats(
            table, keep, parsed, sizes, kept_per_file, across_files_only=across_files_only
        )
        return assemble(
            [table],
            rejects,
            across_files_only=across_files_only,
            src_crs=src_crs,
            dst_crs=dst_crs,
            areas=areas,
            repeated=dup,
            located=located,
            kept_rows=rows,
        )


def _joined_parts(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the files' parts of the canonical columns joined, or None if they differ."""
    if any(p.keys() != parts[0].keys() for p in parts):
        return None
    out = {key: _joined([p[key] for p in parts]) for key in parts[0]}
    return None if any(v is None for v in out.values()) else out


def _joined(values: list[Any]) -> Any:
    """Return one part of every file joined, or None if their types differ.

    NumPy arrays are concatenated; Arrow text (in pandas or dictionary-encoded) is joined
    chunk by chunk, without a copy.
    """
    first = values[0]
    if any(type(v) is not type(first) for v in values):
        return None
    if isinstance(first, pd.Series) and first.dtype == TEXT_DTYPE:
        chunks = [c for v in values for c in pa.chunked_array(v.array.__arrow_array__()).chunks]
        same = all(c.type == chunks[0].type for c in chunks)
        return pd.Series(pd.array(pa.chunked_array(chunks), dtype=TEXT_DTYPE)) if same else None
    if isinstance(first, (pd.Series, np.ndarray)):
        arrays = [np.asarray(v) for v in values]
        if any(a.dtype != arrays[0].dtype or a.dtype == object for a in arrays):
            return None
        one = len(arrays) == 1 and isinstance(first, np.ndarray)  # one file: no copy
        joined = first if one else np.concatenate(arrays)
        return pd.Series(joined) if isinstance(first, pd.Series) else joined
    if isinstance(first, pa.ChunkedArray) and all(v.type == first.type for v in values):
        return pa.chunked_array([c for v in values for c in v.chunks], type=first.type)
    return None


def _kept_points(early: Future[Located], keep: np.ndarray) -> Located:
    """Return :func:`locate_points` of the kept rows from that of every row.

    The kept rows' distinct points are renumbered in order of first kept row, as found
    from the kept rows alone; each point's projection and area are its own.
    """
    codes, ux, uy, layer, hit = early.result()
    new, old = pd.factorize(codes[keep])
    return new.astype(np.intp), ux[old], uy[old], layer, None if hit is None else hit[old]


def _kept_repeats(
    table: pd.DataFrame,
    keep: np.ndarray,
    parsed: list[ParsedFile],
    sizes: np.ndarray,
    kept_per_file: np.ndarray,
    *,
    across_files_only: bool,
) -> np.ndarray:
    """Return which kept rows (``keep``) of the joined table repeat a crime id.

    No id is copied when no row has one (a mapped file without an id column).
    """
    if not _any_id(table["crime_id"]):
        return np.zeros(int(keep.sum()), dtype=bool)
    ids = table[["crime_id", "source_file"]]
    ids = ids if keep.all() else take_rows(ids, np.flatnonzero(keep))
    dup = None
    if across_files_only:
        dup = repeated_across_files(ids, _kept_id_keys(parsed, ids, sizes, kept_per_file))
    if dup is None:
        dup = repeated_ids(ids, across_files_only=across_files_only)
    return dup


def _any_id(ids: pd.Series) -> bool:
    """Whether any crime id is given (not missing, not empty): else no row repeats one."""
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow":
        lengths = pc.binary_length(pa.chunked_array(ids.array.__arrow_array__()))
        return bool(pc.max(lengths).as_py() or 0)
    return bool((ids.notna() & (ids != "")).any())


def _kept_id_keys(
    parsed: list[ParsedFile], kept: pd.DataFrame, sizes: np.ndarray, kept_per_file: np.ndarray
) -> list[FileIdKeys | None]:
    """Return the id keys of the kept rows of each file that kept rows, in file order.

    A file that kept all its rows has the keys made when it was read; the others' are made
    again from their kept ids.
    """
    out = []
    at = 0
    for p, n, k in zip(parsed, sizes.tolist(), kept_per_file.tolist(), strict=True):
        if k:
            out.append(p.keys if k == n else FileIdKeys.of(kept["crime_id"].iloc[at : at + k]))
        at += k
    return out


def _file_names(parsed: list[ParsedFile], sizes: np.ndarray) -> pd.Categorical:
    """Return ``source_file`` of every row: the file's name (stripped), one category each."""
    codes, names = pd.factorize(pd.Series([p.source.name.strip() for p in parsed], dtype=object))
    small = np.int8 if len(names) < 127 else np.int32  # pandas keeps int8 codes as they are
    return pd.Categorical.from_codes(
        np.repeat(codes.astype(small), sizes),
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


#: Text columns as read, which only rejected rows keep.
_RAW = ("raw_x", "raw_y", "raw_date")


def _rejects_in_file_order(
    items: Sequence[ParsedFile | FileResult],
    rejected: pd.DataFrame | None,
    rows: np.ndarray,
    bounds: np.ndarray,
) -> list[pd.DataFrame]:
    """Return the rejected tables file by file: malformed rows, then rows a rule rejected.

    ``rejected`` holds the rows a rule rejected (None if none), at positions ``rows`` of the
    joined table whose files start at ``bounds``.
    """
    if not any(isinstance(it, FileResult) or it.malformed for it in items):
        return [] if rejected is None else [rejected]  # the rule's rejects alone, in order
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
        if rejected is not None:
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
