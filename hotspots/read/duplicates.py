"""Repeated crime ids: found exactly, fast, from 64-bit keys of the ids' bytes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.read.canonical import take_text
from hotspots.rejects import REASON_DUPLICATE, split_rejected

__all__ = [
    "FileIdKeys",
    "reject_duplicate_ids",
    "repeated_across_files",
    "repeated_ids",
]

log = logging.getLogger("hotspots")


def reject_duplicate_ids(
    kept: pd.DataFrame, rejected: pd.DataFrame, *, across_files_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject every repeat of a non-empty crime id after its first appearance.

    Parameters
    ----------
    kept
        Kept rows in reading order (files sorted by name, rows in file order).
    rejected
        The rejected table so far.
    across_files_only
        If True, a repeat is rejected only when its first appearance is in another file (the
        same extract read twice). police.uk publishes several rows with one Crime ID inside a
        monthly file (separate offences or outcomes of one incident, each a record in its
        published counts), so those are kept.

    Returns
    -------
    kept, rejected
        With the repeats moved from ``kept`` to ``rejected`` (reason ``duplicate crime id``).
    """
    dup = repeated_ids(kept, across_files_only=across_files_only)
    if not dup.any():
        return kept, rejected
    reason = np.full(len(dup), "", dtype=object)
    reason[dup] = REASON_DUPLICATE
    kept2, more = split_rejected(kept, reason)
    return kept2, pd.concat([rejected, more], ignore_index=True)


def repeated_ids(kept: pd.DataFrame, *, across_files_only: bool) -> np.ndarray:
    """Return True for each row whose non-empty id appeared in an earlier row (or file)."""
    ids = kept["crime_id"]
    named = (ids.notna() & (ids != "")).to_numpy()
    if not named.any():
        return np.zeros(len(kept), dtype=bool)
    first_row = _first_row_of_same_id(ids)
    dup = named & (first_row != np.arange(len(ids)))
    if across_files_only and dup.any():
        rows = np.flatnonzero(dup)
        files = kept["source_file"]
        if isinstance(files.dtype, pd.CategoricalDtype):  # one code per file name
            files = files.cat.codes
        dup[rows] = files.take(rows).to_numpy() != files.take(first_row[rows]).to_numpy()
    return np.asarray(dup, dtype=bool)


def _first_row_of_same_id(ids: pd.Series) -> np.ndarray:
    """Return, for each row, the position of the first row with the same id.

    Ids of one length (police.uk's 64-character hashes) are first grouped by a 64-bit key
    made from their first and last 8 bytes, read straight from Arrow's buffers; only rows
    whose key repeats are compared as text. Equal ids have equal keys, so this is exact.
    """
    found = _id_keys(ids)
    if found is None:
        return _first_row_by_text(ids)
    keys, empty = found
    first = np.arange(len(ids), dtype=np.int64)  # an empty id is its own first row
    codes, _ = pd.factorize(keys)
    again = np.flatnonzero((np.bincount(codes)[codes] > 1) & ~empty)
    if len(again):
        taken = take_text(ids, again, pd.RangeIndex(len(again)))  # chunk by chunk
        first[again] = again[_first_row_by_text(taken)]
    return first


def _id_keys(ids: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Return a 64-bit key per id and which ids are empty, or None.

    The key mixes the id's first and last 8 bytes (read straight from Arrow's buffers, see
    :func:`_chunk_keys`). None unless all non-empty ids of a chunk have one length of 16 or
    more bytes (and none is missing).
    """
    if not (isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow"):
        return None
    arr = pa.chunked_array(ids.array.__arrow_array__())
    if arr.null_count or not len(arr):
        return None
    keys, empties = [], []
    for chunk in arr.chunks:
        found = _chunk_keys(chunk)
        if found is None:
            return None
        keys.append(found[0])
        empties.append(found[1])
    out = np.concatenate(keys)
    return (out, np.concatenate(empties)) if len(out) == len(ids) else None


def _chunk_keys(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Return :func:`_id_keys` of one Arrow text chunk.

    Ids of one length (a multiple of 8 bytes) lie end to end in the chunk's data (empty
    ids take no byte): their first and last 8 bytes are read as the first and last columns
    of that block of 8-byte words, without a copy of the text.
    """
    if chunk.type not in (pa.string(), pa.large_string()):
        return _chunk_keys_sliced(chunk)
    wide = chunk.type == pa.large_string()
    bufs = chunk.buffers()
    offsets = np.frombuffer(
        bufs[1],
        np.int64 if wide else np.int32,
        count=len(chunk) + 1,
        offset=chunk.offset * (8 if wide else 4),
    )
    lengths = np.diff(offsets)
    empty = lengths == 0
    named = lengths[~empty]
    if len(named) and (named.min() != named.max() or named.min() < 16):
        return None
    if len(named) and named[0] % 8:
        return _chunk_keys_sliced(chunk)
    key = np.zeros(len(lengths), dtype=np.uint64)
    if len(named):
        words = int(named[0]) // 8  # each id as 8-byte words, the first and last read
        block = np.frombuffer(
            bufs[2], "<u8", count=len(named) * words, offset=int(offsets[0])
        ).reshape(len(named), words)
        key[~empty] = block[:, 0] * np.uint64(0x9E3779B97F4A7C15) ^ block[:, -1]
    return key, empty


def _chunk_keys_sliced(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Return :func:`_id_keys` of one chunk, the bytes cut out by Arrow (``binary_slice``)."""
    data = chunk.cast(pa.large_binary() if chunk.type == pa.large_string() else pa.binary())
    lengths = pc.binary_length(data).to_numpy(zero_copy_only=False)
    empty = lengths == 0
    named = lengths[~empty]
    if len(named) and (named.min() != named.max() or named.min() < 16):
        return None
    key = np.zeros(len(lengths), dtype=np.uint64)
    if len(named):
        head = np.frombuffer(pc.binary_slice(data, 0, 8).buffers()[2], "<u8", count=len(named))
        tail = np.frombuffer(pc.binary_slice(data, -8).buffers()[2], "<u8", count=len(named))
        key[~empty] = head * np.uint64(0x9E3779B97F4A7C15) ^ tail
    return key, empty


def _first_row_by_text(ids: pd.Series) -> np.ndarray:
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow":
        encoded = pa.chunked_array(ids.array.__arrow_array__()).dictionary_encode()
        codes = pc.fill_null(encoded.combine_chunks().indices, -1).to_numpy()
        codes = np.where(codes < 0, codes.max(initial=-1) + 1, codes)  # missing ids: one id
    else:
        codes, _ = pd.factorize(ids, use_na_sentinel=False)
    first = np.full(codes.max() + 1 if len(codes) else 0, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return np.asarray(first[codes], dtype=np.int64)


@dataclass(frozen=True)
class FileIdKeys:
    """One file's crime-id keys (see :func:`_id_keys`), made in its reader thread.

    ``keys`` and ``empty`` are per kept row; ``distinct`` holds the file's distinct keys of
    non-empty ids, sorted.
    """

    keys: np.ndarray
    empty: np.ndarray
    distinct: np.ndarray

    @classmethod
    def of(cls, ids: pd.Series) -> FileIdKeys | None:
        """Keys of a file's ids, or None where :func:`_id_keys` gives none."""
        if not len(ids):
            none = np.zeros(0, dtype=np.uint64)
            return cls(none, np.zeros(0, dtype=bool), none)
        found = _id_keys(ids)
        if found is None:
            return None
        keys, empty = found
        return cls(keys, empty, _distinct_sorted(keys[~empty]))


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """Return the distinct keys, sorted (faster than ``np.unique``)."""
    named = np.sort(keys)
    return named[np.r_[True, named[1:] != named[:-1]]] if len(named) else named


def repeated_across_files(ids: pd.DataFrame, id_keys: list[FileIdKeys | None]) -> np.ndarray | None:
    """Return ``repeated_ids(ids, across_files_only=True)`` from the files' id keys.

    ``ids`` holds the files' kept rows joined (``crime_id``, ``source_file``). A repeat
    across files has a key found in two files' distinct keys: those are found by merging
    the files' sorted keys, and only rows holding such a key are compared as text (equal ids
    have equal keys, so this is exact). None if a file has no keys.
    """
    if not id_keys or any(k is None for k in id_keys):
        return None
    files = [k for k in id_keys if k is not None]
    starts = np.cumsum([0, *(len(k.keys) for k in files)])
    if starts[-1] != len(ids):
        return None
    merged = np.concatenate([k.distinct for k in files])
    merged.sort(kind="stable")  # sorted runs, one per file: a merge, not a full sort
    shared = np.unique(merged[1:][merged[1:] == merged[:-1]])
    dup = np.zeros(len(ids), dtype=bool)
    if not len(shared):
        return dup
    lookup = pd.Index(shared)  # one hash table, however many keys are shared
    rows = np.concatenate(
        [
            np.flatnonzero((lookup.get_indexer(k.keys) >= 0) & ~k.empty) + lo
            for k, lo in zip(files, starts[:-1].tolist(), strict=True)
        ]
    )
    taken = take_text(ids["crime_id"], rows, pd.RangeIndex(len(rows)))  # chunk by chunk
    first = rows[_first_row_by_text(taken)]
    source = ids["source_file"]
    source = source.cat.codes if isinstance(source.dtype, pd.CategoricalDtype) else source
    dup[rows] = source.take(rows).to_numpy() != source.take(first).to_numpy()
    return dup
