"""The canonical crime table: building it from text cells, and joining and taking its rows.

Text columns with few distinct values are pandas categories; other text is Arrow-backed
(:data:`TEXT_DTYPE`). The helpers here keep both cheap to join and select.
"""

from __future__ import annotations

import logging
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.read.csv_engine import RawTable
from hotspots.read.sources import (
    Source,
)

__all__ = [
    "CATEGORY_COLUMNS",
    "TEXT_DTYPE",
    "canonical_frame",
    "month_text",
    "month_window",
    "month_window_text",
    "stack_frames",
    "take_rows",
    "take_text",
    "to_float",
    "unify_categories",
]

log = logging.getLogger("hotspots")


def canonical_frame(
    raw: RawTable, source: Source, cols: dict[str, pd.Series | np.ndarray | Any]
) -> pd.DataFrame:
    """Return the canonical columns of one file's rows from its text cells and ``cols``.

    ``cols`` maps canonical names to columns (or one value for all rows); ``source_file``,
    ``source_row`` and ``month`` (unless given) are filled in here, and the
    :data:`CATEGORY_COLUMNS` made categorical (Arrow dictionary-encoded text too).
    """
    n = len(raw.frame)
    if n == 0:
        return _canonical_frame_empty(raw, source, cols)
    index = pd.RangeIndex(n)
    has_time = cols["has_time"]
    texts = (cols.get("crime_id", ""), cols["raw_x"], cols["raw_y"], cols.get("raw_date", ""))
    # one column for every text left empty (copied on write), if any is
    empty = _empty_text(index) if any(isinstance(v, str) and not v for v in texts) else None
    data: dict[str, Any] = {
        "crime_id": _text(cols.get("crime_id", ""), index, empty=empty),
        "source_file": source.name,
        "source_row": raw.row_numbers,
        "occurred_from": cols["occurred_from"],
        "occurred_to": cols["occurred_to"],
        "month": cols["month"] if "month" in cols else month_text(cols["occurred_from"], index),
        "has_time": has_time
        if isinstance(has_time, pd.Series)
        else np.broadcast_to(np.asarray(has_time, dtype=bool), (n,)).copy(),
        "crime_type": cols.get("crime_type", ""),
        "location": cols.get("location", ""),
        "x": np.asarray(cols["x"], dtype=float),
        "y": np.asarray(cols["y"], dtype=float),
        "raw_x": _text(cols["raw_x"], index, empty=empty),
        "raw_y": _text(cols["raw_y"], index, empty=empty),
        "raw_date": _text(cols.get("raw_date", ""), index, empty=empty),
        "force": cols.get("force", ""),
    }
    for key in CATEGORY_COLUMNS:
        data[key] = _category(data[key], n)
    return pd.DataFrame(data, index=index, copy=False)  # fresh arrays: no copy, no 2-D blocks


#: Canonical text columns held as pandas categories: few distinct values repeated on many
#: rows, so selecting, sorting and grouping rows moves small integer codes, not text.
#: Categories are sorted (see :func:`unify_categories`), so they order like the text.
CATEGORY_COLUMNS = ("source_file", "crime_type", "location", "force")


def _category(values: Any, n: int) -> pd.Categorical:
    """Return ``n`` text cells (or one text for all), stripped of spaces, as a categorical.

    Arrow text is dictionary-encoded and only the distinct values are stripped, which is
    much cheaper than stripping every cell.
    """
    if isinstance(values, str):
        return pd.Categorical.from_codes(
            np.zeros(n, dtype=np.int8), dtype=pd.CategoricalDtype([values.strip()])
        )
    if isinstance(values, pa.ChunkedArray) and pa.types.is_dictionary(values.type):
        return _encoded_category(values.unify_dictionaries().combine_chunks())
    if (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, pd.StringDtype)
        and (values.dtype.storage == "pyarrow")
    ):
        encoded = pa.chunked_array(values.array.__arrow_array__()).dictionary_encode()
        return _encoded_category(encoded.combine_chunks())
    if isinstance(values, pd.Series) and values.dtype != object:
        return pd.Categorical(values)
    return pd.Categorical(pd.Series(values, dtype=object).str.strip())


def _encoded_category(encoded: pa.DictionaryArray) -> pd.Categorical:
    """Return Arrow dictionary-encoded text, stripped of spaces, as a categorical."""
    words = encoded.dictionary
    stripped = pc.utf8_trim_whitespace(words)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.null_count:
        codes = np.where(pc.is_null(encoded).to_numpy(zero_copy_only=False), -1, codes)
    renumber = None
    if pc.all(pc.equal(words, stripped)).as_py() is False:  # "a" and "a " are one category
        # each distinct stripped word once (in Arrow), each word's new number folded into
        # the table of sorted places: still one pass over the rows
        again = pc.dictionary_encode(stripped)
        words, renumber = again.dictionary, again.indices.to_numpy()
    return _sorted_categorical(codes, words, renumber=renumber)


def _sorted_categorical(
    codes: np.ndarray, words: pa.Array, *, renumber: np.ndarray | None = None
) -> pd.Categorical:
    """Return the categorical of distinct ``words`` and ``codes`` (-1 missing), sorted.

    Sorted as :func:`unify_categories` sorts categories, so that it has nothing to do for
    one table. With ``renumber``, ``codes`` number other words, the i-th of which is
    ``words[renumber[i]]``.
    """
    order = pc.array_sort_indices(words).to_numpy()
    small = _code_dtype(len(order))  # as pandas keeps them: no second pass to narrow
    place = np.empty(len(order), dtype=small)
    place[order] = np.arange(len(order))
    if renumber is not None:
        place = place[renumber]
    rank = np.append(place, np.array(-1, dtype=small))
    # a missing value's code (-1) takes the last place: one take per row
    if len(order):
        codes = rank.take(codes, mode="wrap")
    return pd.Categorical.from_codes(
        codes,
        dtype=_distinct_categories(pd.Index(pd.array(words.take(order), dtype=TEXT_DTYPE))),
        validate=False,
    )


def _code_dtype(k: int) -> np.dtype[Any]:
    """Return the integer type pandas gives the codes of ``k`` categories."""
    for kind in (np.int8, np.int16, np.int32):
        if k < np.iinfo(kind).max:
            return np.dtype(kind)
    return np.dtype(np.int64)


def unify_categories(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Give each categorical column the same sorted categories in every frame.

    ``pd.concat`` keeps a categorical column only when the categories are equal; otherwise
    it falls back to Python strings. The union is found and each frame's codes are remapped
    in Arrow and NumPy. Empty frames (all rows rejected) get the same dtype.
    """
    new: list[dict[str, Any]] = [{} for _ in frames]
    for col in CATEGORY_COLUMNS:
        if not all(col in f for f in frames):
            continue
        cats = [_categorical(f[col]) for f in frames]
        words = [_arrow_text(c.categories) for c in cats]
        if len(frames) == 1 and _sorted_text(cats[0], words[0]):
            continue  # one frame whose categories are sorted already
        # one hashing pass over every frame's categories gives the union and each word's
        # place in it; the union is then sorted and the places moved to match
        encoded = pc.dictionary_encode(
            pa.chunked_array(words, type=pa.large_string()).combine_chunks()
        )
        order = pc.array_sort_indices(encoded.dictionary).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        union = encoded.dictionary.take(pa.array(order))
        places = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        starts = np.cumsum([0, *(len(w) for w in words)])
        dtype = _distinct_categories(pd.Index(pd.array(union, dtype=TEXT_DTYPE)))
        for i, cat in enumerate(cats):
            remap = places[starts[i] : starts[i + 1]]
            codes = cat.codes
            if not len(remap):
                moved = np.full(len(codes), -1, dtype=np.int64)
            elif codes.min(initial=0) >= 0:  # no missing value: one take
                moved = remap.astype(np.int64)[codes]
            else:
                moved = np.where(codes >= 0, remap.astype(np.int64)[np.maximum(codes, 0)], -1)
            new[i][col] = pd.Categorical.from_codes(moved, dtype=dtype, validate=False)
    return [f.assign(**cols) if cols else f for f, cols in zip(frames, new, strict=True)]


def _sorted_text(cat: pd.Categorical, words: pa.Array) -> bool:
    """Whether a categorical's categories are text (:data:`TEXT_DTYPE`) in increasing order.

    The order is Arrow's, by bytes, as :func:`unify_categories` sorts them.
    """
    if cat.categories.dtype != TEXT_DTYPE or words.null_count:
        return False
    if len(words) < 2:
        return True
    return bool(pc.all(pc.greater(words.slice(1), words.slice(0, len(words) - 1))).as_py())


def _distinct_categories(categories: pd.Index) -> pd.CategoricalDtype:
    """Return the categorical dtype of categories known to be distinct, unchecked.

    The categories are an Arrow dictionary or ``unique`` result. pandas would check them
    again by turning Arrow text into Python strings and hashing them: most of the cost of
    a file's location categories, 24 times over on London's 24 months.
    """
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # pandas internals, if any
    if fast is None or categories.hasnans:
        return pd.CategoricalDtype(categories)
    return fast(categories, False)


def _categorical(values: pd.Series) -> pd.Categorical:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array
    return pd.Categorical(np.asarray(values, dtype=object))


def _arrow_text(index: pd.Index) -> pa.Array:
    """Return the values of a text index as one Arrow ``large_string`` array."""
    if isinstance(index.dtype, pd.StringDtype) and index.dtype.storage == "pyarrow":
        arr = pa.chunked_array(index.array.__arrow_array__()).combine_chunks()
    else:
        arr = pa.array(index.to_numpy(dtype=object), pa.string())
    return arr.cast(pa.large_string())


def _canonical_frame_empty(
    raw: RawTable, source: Source, cols: dict[str, pd.Series | np.ndarray | Any]
) -> pd.DataFrame:
    """Build a frame of no rows, with the dtypes pandas gives empty text columns (object)."""
    out = pd.DataFrame(index=pd.RangeIndex(0))
    empty = pd.Series([], dtype=object)
    out["crime_id"] = cols.get("crime_id", empty).to_numpy()
    out["source_file"] = source.name
    out["source_row"] = raw.row_numbers
    out["occurred_from"] = cols["occurred_from"]
    out["occurred_to"] = cols["occurred_to"]
    out["month"] = out["occurred_from"].dt.strftime("%Y-%m")
    out["has_time"] = cols["has_time"]
    out["crime_type"] = cols.get("crime_type", empty).to_numpy()
    out["location"] = cols.get("location", empty).to_numpy()
    out["x"] = np.asarray(cols["x"], dtype=float)
    out["y"] = np.asarray(cols["y"], dtype=float)
    for key in ("raw_x", "raw_y", "raw_date", "force"):
        v = cols.get(key, "")
        out[key] = v.to_numpy() if isinstance(v, pd.Series) else v
    return out


def _text(v: Any, index: pd.RangeIndex, *, empty: pd.Series | None = None) -> Any:
    """Return text cells for a canonical column, positionally, as a ``str`` column.

    Arrow-backed text is passed through without converting each cell to a Python object;
    one text for all rows is repeated (``empty``, if given, is the column of empty text).
    """
    if isinstance(v, str):
        if not v and empty is not None:
            return empty
        return pa.repeat(pa.scalar(v, pa.string()), len(index)).to_pandas()
    if isinstance(v, pd.Series):
        if isinstance(v.dtype, pd.StringDtype) and v.dtype.na_value is not pd.NA:
            return pd.Series(v.array, index=index, copy=False)
        return v.to_numpy()
    return v


def _empty_text(index: pd.RangeIndex) -> pd.Series:
    """Return a text column of empty cells, as :func:`_text` gives one (Arrow ``large_string``).

    Built from its buffers (every offset 0, no characters): about 0.05 ms for Vancouver's
    207,000 rows, where repeating an empty string takes 0.7 ms.
    """
    n = len(index)
    offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int64))
    cells = pa.LargeStringArray.from_buffers(n, offsets, pa.py_buffer(b""))
    return pd.Series(pd.array(cells, dtype=TEXT_DTYPE), index=index, copy=False)


def month_text(start: Any, index: pd.RangeIndex) -> pd.Series:
    """Return ``YYYY-MM`` of each start (missing for NaT), formatting each distinct month once."""
    aligned = (
        pd.Series(start, index=index)
        if not isinstance(start, pd.Series)
        else (start.reindex(index))
    )
    if not (isinstance(aligned.dtype, np.dtype) and aligned.dtype.kind == "M"):
        return aligned.dt.strftime("%Y-%m")  # time-zone aware: format wall-clock time
    values = aligned.to_numpy()
    days = values.astype("datetime64[D]").view(np.int64)  # a division: no calendar work
    if len(days) and not np.isnat(values).any():
        lo, hi = int(days.min()), int(days.max())
        if hi - lo < _MAX_DAY_SPAN:  # the month of every day in the span, then of each row
            span = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]")
            month_of_day = (span.view(np.int64) - span.view(np.int64)[0]).astype(np.int32)
            firsts = np.arange(span[0], span[-1] + 1).astype("datetime64[s]")
            text = pd.Series(firsts).dt.strftime("%Y-%m")
            days -= lo  # in place: a new array of every row costs page faults
            return pd.Series(text.array.take(month_of_day[days]), index=index)
    months = values.astype("datetime64[M]")
    codes, uniq = pd.factorize(months.view(np.int64), use_na_sentinel=False)
    first = pd.Series(uniq.view("datetime64[M]").astype("datetime64[s]"))
    text = first.dt.strftime("%Y-%m")
    return pd.Series(text.array.take(codes), index=index)


#: Most days between the first and last date for which :func:`month_text` works out the
#: month of every day in between (a table of that many integers) rather than hashing rows.
_MAX_DAY_SPAN = 200_000


def month_window(text: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series]:
    """Parse month text once per distinct value: window start and (exclusive) end."""
    start, end, _ = month_window_text(text, fmt)
    return start, end


def month_window_text(text: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return :func:`month_window` and the ``YYYY-MM`` of each start (:func:`month_text`).

    Each distinct month is parsed and formatted once.
    """
    codes, uniq = pd.factorize(text, use_na_sentinel=False)
    first = pd.to_datetime(
        pd.Series(uniq, dtype=text.dtype).str.strip(), format=fmt, errors="coerce"
    )
    nxt = first + pd.DateOffset(months=1)
    return (
        pd.Series(first.array.take(codes), index=text.index),
        pd.Series(nxt.array.take(codes), index=text.index),
        pd.Series(first.dt.strftime("%Y-%m").array.take(codes), index=text.index),
    )


def to_float(text: pd.Series | pa.ChunkedArray) -> np.ndarray:
    """Return ``pd.to_numeric(text, errors="coerce")`` as float, parsing in Arrow when it can.

    Arrow parses plain decimal text to the same doubles as pandas, about ten times faster;
    a column holding anything else (words, ``nan``, ``inf``, overflow) goes to pandas whole.
    Numbers already parsed (float columns) are returned as they are. ``text`` may be the
    Arrow column itself (as parsed: no pandas column is made unless pandas must parse it).
    """
    if isinstance(text, pa.ChunkedArray):
        if pa.types.is_floating(text.type):
            return np.asarray(text.to_numpy(), dtype=float)
        if pa.types.is_string(text.type) or pa.types.is_large_string(text.type):
            found = _arrow_floats(text)
            if found is not None:
                return found
        text = text.to_pandas()
    if isinstance(text.dtype, np.dtype) and text.dtype.kind == "f":
        return np.asarray(text.to_numpy(dtype=float))
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow" and len(text):
        found = _arrow_floats(pa.chunked_array(text.array.__arrow_array__()))
        if found is not None:
            return found
    if isinstance(text.dtype, pd.StringDtype) or text.dtype == object:
        text = text.str.strip()
    return np.asarray(pd.to_numeric(text, errors="coerce"), dtype=float)


def _arrow_floats(arr: pa.ChunkedArray) -> np.ndarray | None:
    """Return Arrow text parsed as floats (empty cells missing), or None if pandas must."""
    if not len(arr):
        return None
    for attempt in (arr, None):  # then with surrounding spaces stripped
        cells = attempt if attempt is not None else pc.utf8_trim_whitespace(arr)
        try:
            nums = pc.cast(
                pc.if_else(pc.equal(cells, ""), pa.scalar(None, pa.string()), cells),
                pa.float64(),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if pc.all(pc.is_finite(nums)).as_py() is not False:
            return np.asarray(nums.to_numpy(), dtype=float)
        break
    return None


def stack_frames(frames: list[pd.DataFrame], keep: np.ndarray | None = None) -> pd.DataFrame:
    """Return ``pd.concat(frames, ignore_index=True)[keep]`` for frames of the same columns.

    Column by column, each kept value copied once: NumPy columns and the codes of
    categoricals (same categories, see :func:`unify_categories`) are compressed straight
    into one new array, Arrow text is filtered chunk by chunk. ``pd.concat`` on many frames,
    then a row selection, copies each column several times over.
    """
    if len(frames) == 1 and keep is None:  # nothing to join or select: the frame as it is
        return frames[0].reset_index(drop=True)
    sizes = [len(f) for f in frames]
    bounds = np.cumsum([0, *sizes])
    masks = [None if keep is None else keep[lo:hi] for lo, hi in pairwise(bounds)]
    same = all(f.columns.equals(frames[0].columns) for f in frames)
    if not same:
        out = pd.concat(frames, ignore_index=True)
        return out if keep is None else out[keep].reset_index(drop=True)
    total = int(keep.sum()) if keep is not None else int(bounds[-1])
    plans = [_plan(m) for m in masks]  # the rows each frame keeps, found once for all columns
    cols: dict[str, Any] = {}
    for c in frames[0].columns:
        parts = [f[c] for f in frames]
        dtype = parts[0].dtype
        if not all(p.dtype == dtype for p in parts):
            joined = pd.concat(parts, ignore_index=True)
            cols[c] = (joined if keep is None else joined[keep]).to_numpy(dtype=object)
        elif isinstance(dtype, pd.CategoricalDtype):
            codes = _compress([p.cat.codes.to_numpy() for p in parts], plans, total)
            cols[c] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
        elif isinstance(dtype, np.dtype) and dtype.kind != "O":
            cols[c] = _compress([p.to_numpy() for p in parts], plans, total)
        elif dtype == TEXT_DTYPE:
            chunks = [
                piece
                for p, m in zip(parts, masks, strict=True)
                for start, ch in _chunk_starts(p)
                for piece in _kept_pieces(ch, None if m is None else m[start : start + len(ch)])
            ]
            cols[c] = pd.array(
                pa.chunked_array(chunks, type=chunks[0].type)
                if chunks
                else pa.chunked_array([], type=pa.large_string()),
                dtype=TEXT_DTYPE,
            )
        else:
            joined = pd.concat(parts, ignore_index=True)
            cols[c] = (joined if keep is None else joined[keep]).array
    return pd.DataFrame(cols, index=pd.RangeIndex(total), copy=False)


#: How one frame's rows are kept (see :func:`_plan`): all of them (None), those at
#: ascending positions (``"take"``), or all but a few (``"runs"``, the rows dropped).
_Plan = tuple[str, np.ndarray] | None


def _plan(keep: np.ndarray | None) -> _Plan:
    """Return how to copy the rows ``keep`` selects (None: all), for every column alike."""
    if keep is None:
        return None
    dropped = len(keep) - int(np.count_nonzero(keep))
    if not dropped:
        return None
    if dropped <= _MAX_SLICES * 16:  # a few rows dropped: the runs between them
        return ("runs", np.flatnonzero(~keep))
    return ("take", np.flatnonzero(keep))


def _compress(arrays: list[np.ndarray], plans: list[_Plan], total: int) -> np.ndarray:
    """Concatenate ``arrays``, keeping the rows their plans select, into one new array.

    The kept rows are taken by position, found once for all columns: ``np.compress`` finds
    them again for every column and takes them through a copy of its own (keeping 8 rows in
    9 of ten float columns of 207,000 rows, in a fresh process: 13,800 page faults and 28-40
    ms that way, 4,000 and 9-20 ms this way).
    """
    out = np.empty(total, dtype=arrays[0].dtype)
    at = 0
    for arr, plan in zip(arrays, plans, strict=True):
        if plan is None:
            out[at : at + len(arr)] = arr
            at += len(arr)
        elif plan[0] == "take":
            n = len(plan[1])
            np.take(arr, plan[1], out=out[at : at + n], mode="clip")  # in range: no check
            at += n
        else:
            gone = plan[1]
            for lo, hi in zip([0, *(gone + 1).tolist()], [*gone.tolist(), len(arr)], strict=True):
                out[at : at + hi - lo] = arr[lo:hi]
                at += hi - lo
    return out


def _kept_pieces(chunk: pa.Array, keep: np.ndarray | None) -> list[pa.Array]:
    """Return the rows of ``chunk`` that ``keep`` selects, as Arrow arrays in order.

    A chunk losing only a few rows is cut into zero-copy slices between them, rather than
    filtered into new buffers (a copy of every kept cell: crime ids are 64 bytes each).
    """
    if keep is None or keep.all():
        return [chunk]
    gone = np.flatnonzero(~keep)
    if len(gone) > _MAX_SLICES:
        return [chunk.filter(pa.array(keep))]
    starts = np.concatenate([[0], gone + 1])
    ends = np.concatenate([gone, [len(chunk)]])
    return [
        chunk.slice(lo, hi - lo)
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        if hi > lo
    ]


#: Most rows dropped from one Arrow chunk by slicing around them (see :func:`_kept_pieces`).
_MAX_SLICES = 64


def _chunk_starts(values: pd.Series) -> list[tuple[int, pa.Array]]:
    chunks = pa.chunked_array(values.array.__arrow_array__()).chunks
    starts = np.cumsum([0, *(len(ch) for ch in chunks)])
    return list(zip(starts[:-1].tolist(), chunks, strict=True))


TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


def take_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Return ``frame.take(rows)`` for ascending ``rows``, taking text columns chunk by chunk.

    After a concat each Arrow text column has one chunk per file, and Arrow takes rows
    from many chunks several times slower than from one; taking from each chunk in turn
    gives the same column at the speed of the one-chunk case.
    """
    text = [c for c, t in frame.dtypes.items() if t == TEXT_DTYPE]
    if not text or not frame.columns.is_unique:
        return frame.take(rows)
    out = frame.drop(columns=text).take(rows)
    for c in sorted(text, key=frame.columns.get_loc):
        out.insert(frame.columns.get_loc(c), c, take_text(frame[c], rows, out.index))
    return out


def take_text(values: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
    """Return the Arrow text cells at ascending ``rows``, taken chunk by chunk, on ``index``."""
    arr = pa.chunked_array(values.array.__arrow_array__())
    if arr.num_chunks <= 1:
        return pd.Series(values.array.take(rows), index=index)
    starts = np.cumsum([0, *(len(c) for c in arr.chunks)])
    cut = np.searchsorted(rows, starts)
    pieces = [
        chunk.take(pa.array(rows[cut[k] : cut[k + 1]] - starts[k]))
        for k, chunk in enumerate(arr.chunks)
    ]
    taken = pa.chunked_array(pieces, type=arr.type).to_pandas().array
    return pd.Series(taken, index=index)
