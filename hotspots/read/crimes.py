"""Read source files into the canonical tables; nothing else.

Every crime reader returns the kept rows as a projected GeoDataFrame in the canonical schema
(:data:`hotspots.read.schema.CRIME_COLUMNS`) and a rejected table with a ``reason`` for every row it
did not keep, so that rows read = rows kept + rows rejected, per file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import logging
import os
import secrets
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import pyproj
import shapely
from geopandas.array import GeometryArray

from hotspots.analysis.callers import pseudonymise
from hotspots.errors import InputDataError
from hotspots.read import memory
from hotspots.read import sources as _sources
from hotspots.read.mapping_schema import mapping_problems
from hotspots.read.schema import REJECTED_COLUMNS
from hotspots.read.sources import (
    GZIP_ERRORS,
    HEAD_BYTES,
    check_head,
    gunzip_buffer,
    is_gzip,
    mapped_sources,
    open_gzip,
    scan_police_uk,
    short_error,
)
from hotspots.space import crs as _crs
from hotspots.space.locations import (
    distinct_points,
    factorize_xy,
    polygon_of_points,
    spread_category,
)

__all__ = [
    "AREA_CODE_CANDIDATES",
    "AREA_NAME_CANDIDATES",
    "CATEGORY_COLUMNS",
    "POLICE_UK_COLUMNS",
    "POLICE_UK_REQUIRED",
    "POLICE_UK_SOURCE",
    "REASON_DATE",
    "REASON_DUPLICATE",
    "REASON_FUTURE",
    "REASON_MALFORMED",
    "REASON_NO_COORDS",
    "REASON_OUTSIDE",
    "REASON_PERIOD",
    "REASON_PRIVACY",
    "REASON_PUBLICATION",
    "REASON_RANGE",
    "REASON_TYPE",
    "STREET_ID_CANDIDATES",
    "STREET_NAME_CANDIDATES",
    "AreaLayer",
    "Mapping",
    "RawTable",
    "RowFilter",
    "describe_source",
    "join_areas",
    "mapped_to_canonical",
    "police_uk_to_canonical",
    "read_areas",
    "read_crimes",
    "read_mapped",
    "read_mapping",
    "read_police_uk",
    "read_population",
    "read_raw_csv",
    "read_streets",
    "reject_duplicate_ids",
    "split_rejected",
]

#: The sources API, re-exported (it lived here before :mod:`hotspots.read.sources`).
Source = _sources.Source
find_police_uk_sources = _sources.find_police_uk_sources
choose_publications = _sources.choose_publications
skipped_files = _sources.skipped_files

log = logging.getLogger("hotspots")

#: The old private name, still used by :mod:`hotspots.distributed`.
_mapped_sources = mapped_sources

#: Columns of a police.uk street-level CSV, as published.
POLICE_UK_COLUMNS: list[str] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]
POLICE_UK_REQUIRED: list[str] = ["Month", "Longitude", "Latitude", "Location", "Crime type"]
#: The columns the reader uses (the rest are checked for shape but not built).
_POLICE_UK_USED = ("Crime ID", "Month", "Falls within", *POLICE_UK_REQUIRED[1:])

#: Rejection reasons, in the order they are tested (a row gets the first that applies).
REASON_MALFORMED = "malformed row"
REASON_NO_COORDS = "no coordinates"
REASON_PRIVACY = "privacy offset (location withheld at source)"
REASON_RANGE = "coordinates out of range"
REASON_DATE = "unparseable date"
REASON_FUTURE = "date in the future"
REASON_PERIOD = "outside the chosen period"
REASON_TYPE = "crime type not selected"
REASON_DUPLICATE = "duplicate crime id"
REASON_PUBLICATION = "duplicate publication"
REASON_OUTSIDE = "outside study area"

#: Most files read at once (each thread holds one decompressed file).
_MAX_READ_THREADS = 4


@dataclass
class Mapping:
    """How the columns of a non-police.uk file map to the canonical crime table."""

    name: str
    columns: dict[str, str]
    crs: str | None = None
    project_to: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)


# --------------------------------------------------------------------------------------------
# raw CSV reading


@dataclass
class RawTable:
    """All cells of one CSV as text, plus the rows the parser could not split."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    malformed: list[tuple[int, str]]


def read_raw_csv(source: Source, *, required: Sequence[str] = ()) -> RawTable:
    """Read one CSV with every cell as text, keeping malformed rows aside.

    Parameters
    ----------
    source
        The file or archive member.
    required
        Columns that must be present (all missing ones are reported at once).

    Returns
    -------
    RawTable
        Text cells, the 1-based data row number of each, and the malformed rows.

    Raises
    ------
    InputDataError
        If the file is empty, not UTF-8 text, not a CSV, or lacks required columns.
    """
    return _read_raw_csv(source, required=required, use_threads=False)


def _read_raw_csv(
    source: Source,
    *,
    required: Sequence[str],
    use_threads: bool,
    columns: Sequence[str] | None = None,
    numbers: Sequence[str] = (),
) -> RawTable:
    """Read one CSV as text; ``use_threads`` parses one big file on all cores.

    ``columns`` limits the text columns built to those named (the others are still split,
    so malformed rows are found as before). Columns in ``numbers`` are parsed as floats
    (empty cells missing) if every cell is a number, which is faster than text; a file with
    anything else in them is read as text throughout.
    """
    head, opener = _open_text(source)
    start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    check_head(head, source)
    header = _header(head, source, start=start)
    missing = [c for c in required if c not in header]
    if missing:
        msg = (
            f"{source.name}: missing required column(s) {missing}; found {header[:12]}. "
            "Check the file is the expected format, or give a column mapping with --format"
        )
        raise InputDataError(msg)

    def text() -> Any:
        return opener(start)

    keep = None if columns is None else [c for c in header if c in set(columns)]
    floats = [c for c in numbers if c in header]
    try:
        table, malformed = _parse_text_csv(
            text, header, source, use_threads=use_threads, keep=keep, floats=floats
        )
    except InputDataError:
        if not floats:
            raise
        floats = []  # a cell that is not a number: read everything as text
        table, malformed = _parse_text_csv(text, header, source, use_threads=use_threads, keep=keep)
    if use_threads and malformed:  # threaded parsing cannot number bad rows: parse again
        table, malformed = _parse_text_csv(
            text, header, source, use_threads=False, keep=keep, floats=floats
        )
    frame = table.to_pandas()
    return RawTable(frame, _row_numbers(len(frame), malformed), malformed)


#: Gzip files up to this size are inflated whole in memory (a monthly force file is a few
#: MB); bigger ones are streamed, so memory does not grow with the file.
_INFLATE_WHOLE_MAX = 64 << 20


def _open_text(source: Source) -> tuple[bytes, Callable[[int], Any]]:
    """Return the first bytes of a source and a function opening its text at an offset.

    Gzip files up to :data:`_INFLATE_WHOLE_MAX` bytes and zip members are inflated into
    memory (gzip by ISA-L, see :func:`gunzip_buffer`). Other files are streamed (and bigger gzip
    files inflated) by Arrow block by block into its reusable memory pool.
    """
    budget = memory.available()
    if source.member is not None:
        if budget is not None:
            with zipfile.ZipFile(source.path) as zf:  # the stored size bounds what is read
                budget.check(source.name, zf.getinfo(source.member).file_size, None)
        data = source.open_bytes()
        left = memory.available()  # now, with the text held (and other threads' files)
        if left is not None:
            left.check(source.name, len(data), lambda: memory.count_buffer_lines(data), held=True)
        return _in_memory(data)
    if is_gzip(source.path) and source.path.stat().st_size <= _INFLATE_WHOLE_MAX:
        buf = gunzip_buffer(source, cap=budget)
        left = memory.available()
        if left is not None:
            left.check(source.name, buf.size, lambda: memory.count_buffer_lines(buf), held=True)
        return _in_memory(buf)
    if budget is not None:
        _check_streamed(source, budget)

    def opener(start: int) -> Any:
        stream = pa.input_stream(str(source.path), compression="detect")
        if start:
            stream.read(start)
        return stream

    with opener(0) as stream:
        head = bytes(stream.read(HEAD_BYTES))
    return head, opener


def _check_streamed(source: Source, budget: memory.Budget) -> None:
    """Check that a file Arrow streams fits in memory once parsed (see :mod:`hotspots.read.memory`).

    A plain file's size bounds its rows; only a file too big for that bound is counted.
    A big gzip file's text size is unknown (the trailer holds it modulo 4 GiB): it is
    inflated once, counting, and stopped as soon as it cannot fit.
    """
    if not is_gzip(source.path):
        budget.check(
            source.name,
            source.path.stat().st_size,
            lambda: memory.count_lines(memory.file_blocks(source.path)),
        )
        return
    try:
        with open_gzip(source.path) as gz:
            memory.count_lines_capped(iter(lambda: gz.read(1 << 24), b""), budget, source.name)
    except GZIP_ERRORS:
        return  # a broken file: reported by the parser, which names the problem


def _in_memory(data: bytes | pa.Buffer) -> tuple[bytes, Callable[[int], Any]]:
    buf = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    head = buf.slice(0, min(HEAD_BYTES, buf.size)).to_pybytes()
    return head, lambda start: pa.BufferReader(buf.slice(start))


def _parse_text_csv(
    text: Callable[[], Any],
    header: list[str],
    source: Source,
    *,
    use_threads: bool,
    keep: list[str] | None = None,
    floats: Sequence[str] = (),
) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Parse the CSV; malformed rows are skipped and returned (number, text).

    A first pass runs without a Python row handler, which makes Arrow about twice as fast;
    only a file with a malformed row (or another parse error) is parsed again with it.
    """
    malformed: list[tuple[int, str]] = []

    def _on_bad(row: Any) -> str:
        malformed.append((int(row.number) - 1 if row.number else -1, str(row.text)[:200]))
        return "skip"

    def _read(handler: Any) -> pa.Table:
        with text() as stream:
            return _read_from(stream, handler)

    def _read_from(stream: Any, handler: Any) -> pa.Table:
        return pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=use_threads, block_size=_block_size(use_threads)
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=handler, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.float64() if c in floats else pa.string() for c in header},
                include_columns=keep,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        try:
            return _read(None), malformed
        except pa.ArrowInvalid:
            return _read(_on_bad), malformed
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        if "straddling" in str(err):  # a row longer than Arrow's block
            msg = (
                f"{source.name}: a line is longer than {_block_size(use_threads) >> 20} MiB "
                "(a line break missing?); not a CSV of records"
            )
            raise InputDataError(msg) from err
        msg = f"{source.name}: cannot be read as a UTF-8 CSV ({short_error(err)})"
        raise InputDataError(msg) from err
    except (MemoryError, pa.ArrowMemoryError) as err:
        budget = memory.available()
        msg = (
            f"{source.name}: out of memory while parsing "
            f"({budget.limit}: {budget.free / 2**30:.1f} GiB free)"
            if budget
            else f"{source.name}: out of memory while parsing"
        ) + "; split the file"
        raise InputDataError(msg) from err
    except OSError as err:  # a truncated or corrupt compressed file, streamed
        msg = (
            f"{source.name}: cannot be read ({short_error(err)}); the file may be truncated "
            "or corrupt: download it again"
        )
        raise InputDataError(msg) from err


def _block_size(use_threads: bool) -> int:
    """Bytes Arrow parses at a time (a row must fit in one block)."""
    return (1 << 22) if use_threads else (1 << 24)


def _header(data: bytes, source: Source, *, start: int = 0) -> list[str]:
    if len(data) <= start or data[start:].isspace():
        msg = f"{source.name}: file is empty"
        raise InputDataError(msg)
    end = data.find(b"\n", start)
    first = (data[start:end] if end >= 0 else data[start:]).rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"{source.name}: not UTF-8 text (byte {err.start} of the header); save it as UTF-8"
        raise InputDataError(msg) from err
    if "\x00" in text or "," not in text:
        msg = (
            f"{source.name}: not a comma-separated file (header line {text[:80]!r}); "
            "export it as CSV with commas"
        )
        raise InputDataError(msg)
    return [c.strip().strip('"') for c in text.split(",")]


def _row_numbers(n_ok: int, malformed: list[tuple[int, str]]) -> np.ndarray:
    """Return the physical data-row numbers of the parsed rows, skipping malformed ones."""
    bad = np.array(sorted(n for n, _ in malformed if n > 0), dtype=np.int64)
    allrows = np.arange(1, n_ok + len(malformed) + 1, dtype=np.int64)
    return np.setdiff1d(allrows, bad, assume_unique=True)[:n_ok]


# --------------------------------------------------------------------------------------------
# canonical table construction


def _canonical_frame(
    raw: RawTable, source: Source, cols: dict[str, pd.Series | np.ndarray | Any]
) -> pd.DataFrame:
    n = len(raw.frame)
    if n == 0:
        return _canonical_frame_empty(raw, source, cols)
    index = pd.RangeIndex(n)
    has_time = cols["has_time"]
    data: dict[str, Any] = {
        "crime_id": _text(cols.get("crime_id", ""), index),
        "source_file": source.name,
        "source_row": raw.row_numbers,
        "occurred_from": cols["occurred_from"],
        "occurred_to": cols["occurred_to"],
        "month": _month_text(cols["occurred_from"], index),
        "has_time": has_time
        if isinstance(has_time, pd.Series)
        else np.broadcast_to(np.asarray(has_time, dtype=bool), (n,)).copy(),
        "crime_type": cols.get("crime_type", ""),
        "location": cols.get("location", ""),
        "x": np.asarray(cols["x"], dtype=float),
        "y": np.asarray(cols["y"], dtype=float),
        "raw_x": _text(cols["raw_x"], index),
        "raw_y": _text(cols["raw_y"], index),
        "raw_date": _text(cols.get("raw_date", ""), index),
        "force": cols.get("force", ""),
    }
    for key in CATEGORY_COLUMNS:
        data[key] = _category(data[key], n)
    return pd.DataFrame(data, index=index, copy=False)  # fresh arrays: no copy, no 2-D blocks


#: Canonical text columns held as pandas categories: few distinct values repeated on many
#: rows, so selecting, sorting and grouping rows moves small integer codes, not text.
#: Categories are sorted (see :func:`_unify_categories`), so they order like the text.
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
    if (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, pd.StringDtype)
        and (values.dtype.storage == "pyarrow")
    ):
        encoded = pa.chunked_array(values.array.__arrow_array__()).dictionary_encode()
        encoded = encoded.combine_chunks()
        words = encoded.dictionary
        stripped = pc.utf8_trim_whitespace(words)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.null_count:
            codes = np.where(pc.is_null(encoded).to_numpy(zero_copy_only=False), -1, codes)
        if pc.all(pc.equal(words, stripped)).as_py() is not False:  # nothing to strip
            return pd.Categorical.from_codes(
                codes,
                dtype=_distinct_categories(pd.Index(words.to_pandas(), dtype=_STR)),
                validate=False,
            )
        remap, cats = pd.factorize(pd.Series(stripped.to_pandas(), dtype=_STR))  # "a", "a "
        return pd.Categorical.from_codes(
            np.where(codes >= 0, remap[np.maximum(codes, 0)], -1),
            dtype=pd.CategoricalDtype(cats),
            validate=False,
        )
    if isinstance(values, pd.Series) and values.dtype != object:
        return pd.Categorical(values)
    return pd.Categorical(pd.Series(values, dtype=object).str.strip())


def _unify_categories(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
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
        dtype = _distinct_categories(pd.Index(pd.array(union, dtype=_STR)))
        for i, cat in enumerate(cats):
            remap = places[starts[i] : starts[i + 1]]
            codes = cat.codes
            moved = (
                np.where(codes >= 0, remap.astype(np.int64)[np.maximum(codes, 0)], -1)
                if (len(remap))
                else np.full(len(codes), -1, dtype=np.int64)
            )
            new[i][col] = pd.Categorical.from_codes(moved, dtype=dtype, validate=False)
    return [f.assign(**cols) if cols else f for f, cols in zip(frames, new, strict=True)]


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


def _text(v: Any, index: pd.RangeIndex) -> Any:
    """Return text cells for a canonical column, positionally, as a ``str`` column.

    Arrow-backed text is passed through without converting each cell to a Python object.
    """
    if isinstance(v, str):
        return pa.repeat(pa.scalar(v, pa.string()), len(index)).to_pandas()
    if isinstance(v, pd.Series):
        if isinstance(v.dtype, pd.StringDtype) and v.dtype.na_value is not pd.NA:
            return pd.Series(v.array, index=index, copy=False)
        return v.to_numpy()
    return v


def _month_text(start: Any, index: pd.RangeIndex) -> pd.Series:
    """Return ``YYYY-MM`` of each start (missing for NaT), formatting each distinct month once."""
    aligned = (
        pd.Series(start, index=index)
        if not isinstance(start, pd.Series)
        else (start.reindex(index))
    )
    if not (isinstance(aligned.dtype, np.dtype) and aligned.dtype.kind == "M"):
        return aligned.dt.strftime("%Y-%m")  # time-zone aware: format wall-clock time
    months = aligned.to_numpy().astype("datetime64[M]")
    codes, uniq = pd.factorize(months.view(np.int64), use_na_sentinel=False)
    first = pd.Series(uniq.view("datetime64[M]").astype("datetime64[s]"))
    text = first.dt.strftime("%Y-%m")
    return pd.Series(text.array.take(codes), index=index)


def _malformed_rejects(
    raw: RawTable, source: Source, *, reason: str = REASON_MALFORMED, value: str | None = None
) -> pd.DataFrame:
    rows = [
        {
            "source_file": source.name,
            "source_row": n,
            "reason": reason,
            "location": t,
            "value": t if value is None else value,
        }
        for n, t in raw.malformed
    ]
    if rows:  # as Arrow text, like the value column of the other rejected tables
        return pd.DataFrame(rows, columns=REJECTED_COLUMNS).astype({"value": _STR})
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS)


def police_uk_to_canonical(raw: RawTable, source: Source) -> pd.DataFrame:
    """Turn one police.uk CSV's text cells into canonical columns (lon/lat still in degrees).

    Parameters
    ----------
    raw
        The file's text cells from :func:`read_raw_csv`.
    source
        Where they came from (for ``source_file``).

    Returns
    -------
    pandas.DataFrame
        Canonical columns with ``x``/``y`` holding longitude/latitude.
    """
    f = raw.frame
    start, end = _month_window(f["Month"], "%Y-%m")
    cols: dict[str, Any] = {
        "crime_id": f["Crime ID"].str.strip() if "Crime ID" in f else None,
        "occurred_from": start,
        "occurred_to": end,
        "has_time": False,
        "crime_type": f["Crime type"],  # stripped as categories (see _category)
        "location": f["Location"],
        "x": _to_float(f["Longitude"]),
        "y": _to_float(f["Latitude"]),
        "raw_x": f["Longitude"],
        "raw_y": f["Latitude"],
        "raw_date": f["Month"],
        "force": f.get("Falls within", ""),
    }
    if cols["crime_id"] is None:
        del cols["crime_id"]
    return _canonical_frame(raw, source, cols)


def _month_window(text: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series]:
    """Parse month text once per distinct value: window start and (exclusive) end."""
    codes, uniq = pd.factorize(text, use_na_sentinel=False)
    first = pd.to_datetime(
        pd.Series(uniq, dtype=text.dtype).str.strip(), format=fmt, errors="coerce"
    )
    nxt = first + pd.DateOffset(months=1)
    return (
        pd.Series(first.array.take(codes), index=text.index),
        pd.Series(nxt.array.take(codes), index=text.index),
    )


def _to_float(text: pd.Series) -> np.ndarray:
    """Return ``pd.to_numeric(text, errors="coerce")`` as float, parsing in Arrow when it can.

    Arrow parses plain decimal text to the same doubles as pandas, about ten times faster;
    a column holding anything else (words, ``nan``, ``inf``, overflow) goes to pandas whole.
    Numbers already parsed (float columns) are returned as they are.
    """
    if isinstance(text.dtype, np.dtype) and text.dtype.kind == "f":
        return np.asarray(text.to_numpy(dtype=float))
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow" and len(text):
        arr = pa.chunked_array(text.array.__arrow_array__())
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
    if isinstance(text.dtype, pd.StringDtype) or text.dtype == object:
        text = text.str.strip()
    return np.asarray(pd.to_numeric(text, errors="coerce"), dtype=float)


# --------------------------------------------------------------------------------------------
# rejection rules


@dataclass(frozen=True)
class RowFilter:
    """Which rows to keep, beyond having usable coordinates and dates."""

    crime_types: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    today: dt.date = field(default_factory=dt.date.today)


def _reasons(
    frame: pd.DataFrame, rowfilter: RowFilter, *, lonlat: bool, rules: dict[str, Any]
) -> np.ndarray:
    """Return the rejection reason of each row ('' where kept), first rule that applies."""
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    privacy_locs = {s.upper() for s in rules.get("privacy_locations", [])}
    zero_priv = bool(rules.get("zero_xy_is_privacy_offset", False))
    conds: list[tuple[str, np.ndarray]] = [
        (
            REASON_PRIVACY,
            _privacy_location(frame["location"], privacy_locs) | (zero_priv & (x == 0) & (y == 0)),
        ),
        (REASON_NO_COORDS, ~np.isfinite(x) | ~np.isfinite(y)),
        (REASON_RANGE, _out_of_range(x, y, lonlat=lonlat)),
        (REASON_DATE, frame["occurred_from"].isna().to_numpy()),
        (REASON_FUTURE, (frame["occurred_from"] > pd.Timestamp(rowfilter.today)).to_numpy()),
        (REASON_PERIOD, _outside_period(frame["month"], rowfilter)),
        (REASON_TYPE, _type_not_selected(frame["crime_type"], rowfilter)),
    ]
    first = np.zeros(len(frame), dtype=np.int8)  # 1 + index of the first rule that applies
    for i, (_, cond) in enumerate(conds, start=1):
        first[(first == 0) & np.asarray(cond, dtype=bool)] = i
    labels = np.array(["", *(label for label, _ in conds)], dtype=object)
    return labels[first]


def _per_distinct(values: pd.Series, test: Any) -> np.ndarray:
    """Apply a vectorised boolean ``test`` to each distinct value once and spread the result."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    hit = np.asarray(test(pd.Series(uniq, dtype=values.dtype)), dtype=bool)
    return np.asarray(hit[codes], dtype=bool)


def _privacy_location(location: pd.Series, privacy_locs: set[str]) -> np.ndarray:
    if not privacy_locs:
        return np.zeros(len(location), dtype=bool)
    return _per_distinct(
        location, lambda u: u.astype(str).str.strip().str.upper().isin(privacy_locs).to_numpy()
    )


def _out_of_range(x: np.ndarray, y: np.ndarray, *, lonlat: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if lonlat:
            out = (np.abs(x) > 180) | (np.abs(y) > 90) | ((x == 0) & (y == 0))
        else:
            out = (x == 0) & (y == 0)
    return np.asarray(out, dtype=bool)


def _outside_period(month: pd.Series, rf: RowFilter) -> np.ndarray:
    if not (rf.start or rf.end):
        return np.zeros(len(month), dtype=bool)

    def test(u: pd.Series) -> np.ndarray:
        m = u.fillna("").to_numpy(dtype=object)
        out = np.zeros(len(m), dtype=bool)
        if rf.start:
            out |= (m != "") & (m < rf.start)
        if rf.end:
            out |= (m != "") & (m > rf.end)
        return out

    return _per_distinct(month, test)


def _type_not_selected(types: pd.Series, rf: RowFilter) -> np.ndarray:
    if not rf.crime_types:
        return np.zeros(len(types), dtype=bool)
    wanted = {t.casefold() for t in rf.crime_types}
    return _per_distinct(types, lambda u: ~u.str.casefold().isin(wanted).to_numpy())


def split_rejected(frame: pd.DataFrame, reason: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a canonical frame into kept rows and a rejected table with reasons.

    Parameters
    ----------
    frame
        Canonical columns plus ``raw_x``/``raw_y`` (and ``raw_date``, the date as read).
    reason
        One reason per row; the empty string keeps the row.

    Returns
    -------
    kept, rejected
        The kept rows (all columns but the ``raw_*`` ones, which only rejected rows need)
        and the rejected table (:data:`REJECTED_COLUMNS`, ``value`` holding the text of the
        field that caused each rejection, see :func:`_rejected_values`).
    """
    bad = np.asarray(reason != "", dtype=bool)
    # positional take: the same rows as .loc[mask], several times faster on Arrow text columns
    rejected = frame.take(np.flatnonzero(bad)).assign(reason=reason[bad])
    rejected = rejected.assign(value=_rejected_values(rejected))
    rejected = rejected.reindex(columns=REJECTED_COLUMNS)
    kept = frame.drop(columns=["raw_x", "raw_y", "raw_date"], errors="ignore")
    if not bad.any():  # nothing to drop: skip copying every column
        return kept.copy(deep=False), rejected
    return _take_rows(kept, np.flatnonzero(~bad)), rejected


#: Which field's text goes to ``value`` in ``rejected.csv``, per reason (coordinates: both).
_VALUE_FIELD = {
    REASON_PRIVACY: "location",
    REASON_DATE: "raw_date",
    REASON_FUTURE: "raw_date",
    REASON_PERIOD: "raw_date",
    REASON_TYPE: "crime_type",
    REASON_DUPLICATE: "crime_id",
}


def _rejected_values(rejected: pd.DataFrame) -> pd.api.extensions.ExtensionArray:
    """Return the raw text of the field that caused each rejection, as Arrow text.

    The location for a privacy offset, the date as read for a date rule (the month when
    the date text is not kept), the crime type, the crime id; ``x=..., y=...`` as read for the
    coordinate rules and "outside study area". Other reasons (malformed rows, duplicate
    publications) set their value where they are made. Built in Arrow, reason by reason:
    no Python string per row.
    """
    n = len(rejected)
    if not n:
        return pd.array([], dtype=_STR)
    codes, reasons = pd.factorize(rejected["reason"].to_numpy())
    pieces, order = [], []
    for k, why in enumerate(reasons):
        rows = np.flatnonzero(codes == k)
        whole = len(rows) == n  # one reason for all: no row selection

        def cells(col: str, rows: np.ndarray = rows, whole: bool = whole) -> pa.Array:
            return _arrow_cells(rejected[col] if whole else rejected[col].take(rows))

        col = _VALUE_FIELD.get(str(why))
        if col == "raw_date" and col not in rejected:
            col = "month"
        if col is not None and col in rejected:
            piece = cells(col)
            if (
                col == "raw_date"
                and "month" in rejected
                and not pc.any(pc.not_equal(piece, "")).as_py()
            ):
                piece = cells("month")  # no date text kept: the month read
        elif why in (REASON_NO_COORDS, REASON_RANGE, REASON_OUTSIDE) and "raw_x" in rejected:
            xs, ys = cells("raw_x"), cells("raw_y")
            x_is, y_is, nothing = (pa.scalar(t, pa.large_string()) for t in ("x=", ", y=", ""))
            piece = pc.binary_join_element_wise(x_is, xs, y_is, ys, nothing)
        else:
            piece = pa.repeat(pa.scalar("", pa.large_string()), len(rows))
        pieces.append(piece)
        order.append(rows)
    if len(pieces) == 1:
        return pd.array(pieces[0], dtype=_STR)
    where = np.empty(n, dtype=np.int64)
    where[np.concatenate(order)] = np.arange(n)
    return pd.array(pa.concat_arrays(pieces).take(pa.array(where)), dtype=_STR)


def _arrow_cells(values: pd.Series) -> pa.Array:
    """Return cells as Arrow ``large_string`` (numbers as text), missing ones as ''."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):  # Arrow text joined from several files
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.large_string())
    return pc.fill_null(pc.cast(arr, pa.large_string()), "")


def _text_column(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    """Return ``n`` cells of one text as an Arrow text column."""
    return pd.array(pa.repeat(pa.scalar(value, pa.large_string()), n), dtype=_STR)


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
    dup = _repeated_ids(kept, across_files_only=across_files_only)
    if not dup.any():
        return kept, rejected
    reason = np.full(len(dup), "", dtype=object)
    reason[dup] = REASON_DUPLICATE
    kept2, more = split_rejected(kept, reason)
    return kept2, pd.concat([rejected, more], ignore_index=True)


def _repeated_ids(kept: pd.DataFrame, *, across_files_only: bool) -> np.ndarray:
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
        taken = _take_text(ids, again, pd.RangeIndex(len(again)))  # chunk by chunk
        first[again] = again[_first_row_by_text(taken)]
    return first


def _id_keys(ids: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Return a 64-bit key per id and which ids are empty, or None.

    The key mixes the id's first and last 8 bytes, cut out by Arrow (``binary_slice``)
    into buffers of 8 bytes per id. None unless all non-empty ids have one length of 16 or
    more bytes (and none is missing).
    """
    if not (isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow"):
        return None
    arr = pa.chunked_array(ids.array.__arrow_array__())
    if arr.null_count or not len(arr):
        return None
    keys, empties = [], []
    for chunk in arr.chunks:
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
        keys.append(key)
        empties.append(empty)
    out = np.concatenate(keys)
    return (out, np.concatenate(empties)) if len(out) == len(ids) else None


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
class _FileIdKeys:
    """One file's crime-id keys (see :func:`_id_keys`), made in its reader thread.

    ``keys`` and ``empty`` are per kept row; ``distinct`` holds the file's distinct keys of
    non-empty ids, sorted.
    """

    keys: np.ndarray
    empty: np.ndarray
    distinct: np.ndarray

    @classmethod
    def of(cls, ids: pd.Series) -> _FileIdKeys | None:
        """Keys of a file's ids, or None where :func:`_id_keys` gives none."""
        if not len(ids):
            none = np.zeros(0, dtype=np.uint64)
            return cls(none, np.zeros(0, dtype=bool), none)
        found = _id_keys(ids)
        if found is None:
            return None
        keys, empty = found
        named = np.sort(keys[~empty])  # then the distinct ones (faster than np.unique)
        return cls(
            keys, empty, named[np.r_[True, named[1:] != named[:-1]]] if len(named) else named
        )


def _repeated_across_files(
    ids: pd.DataFrame, id_keys: list[_FileIdKeys | None]
) -> np.ndarray | None:
    """Return ``_repeated_ids(ids, across_files_only=True)`` from the files' id keys.

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
    taken = _take_text(ids["crime_id"], rows, pd.RangeIndex(len(rows)))  # chunk by chunk
    first = rows[_first_row_by_text(taken)]
    source = ids["source_file"]
    source = source.cat.codes if isinstance(source.dtype, pd.CategoricalDtype) else source
    dup[rows] = source.take(rows).to_numpy() != source.take(first).to_numpy()
    return dup


# --------------------------------------------------------------------------------------------
# public readers


def _without_gc_pauses(read: Callable[..., Any]) -> Callable[..., Any]:
    """Run a reader with Python's cyclic garbage collector held off (restored after).

    Building the table allocates many objects that form no reference cycles (arrays,
    Arrow buffers, point geometries); each full collection meanwhile walks every live
    object of the process (about 0.1-0.2 s after a run's other stages have been imported).
    Any cycles made while reading are collected once the collector is back on.
    """

    @functools.wraps(read)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _gc_held():
            return read(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _gc_held() -> Any:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@_without_gc_pauses
def read_police_uk(
    paths: Iterable[str | Path],
    *,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    quiet: bool = False,
    areas: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read police.uk street-level CSVs (plain, gzipped or in monthly zips) into one table.

    Parameters
    ----------
    paths
        Files or folders; folders are searched for ``*-street.csv(.gz)`` and ``*.zip``.
    crime_types
        Keep only these crime types (case-insensitive); others are rejected with a reason.
    start, end
        First and last month to keep, ``"YYYY-MM"``; others are rejected with a reason.
    quiet
        If True, do not log progress.
    areas
        Area polygons (from :func:`read_areas`, any CRS): each kept row gets the
        ``area_code``/``area_name`` of the area holding it (see :func:`join_areas`) and rows
        outside every area are rejected, in the same pass that assembles the table.

    Returns
    -------
    crimes, rejected
        Kept rows in EPSG:27700 (British National Grid, metres) with the canonical columns,
        and every other row with its ``reason``.

    Raises
    ------
    InputDataError
        If a file is empty, not UTF-8, not a CSV, or lacks a required column.

    Examples
    --------
    >>> crimes, rejected = read_police_uk([get_path("london_crimes")], start="2017-12",
    ...                                   end="2017-12", quiet=True)
    >>> crimes.crs.to_epsg(), len(crimes) + len(rejected) > 60000
    (27700, True)
    """
    rf = RowFilter(tuple(crime_types) if crime_types else None, start, end)
    sources, skipped = scan_police_uk(paths)
    if not sources:
        find_police_uk_sources(paths)  # raises the error for no files
    superseded = choose_publications(sources)
    if not quiet:
        _log_skipped(skipped)
        for name, winner in sorted(superseded.items()):
            log.warning(
                "%s: the same force-month as %s, the newer publication; every row rejected as %r",
                name,
                winner,
                REASON_PUBLICATION,
            )

    def read_one(source: Source) -> _FileResult:
        return _read_police_uk_file(
            source, rf, use_threads=len(sources) == 1, superseded_by=superseded.get(source.name)
        )

    frames, rejects, _, keys = _read_all(sources, read_one, quiet=quiet)
    return _assemble(
        frames,
        rejects,
        across_files_only=True,
        src_crs=_crs.WGS84,
        dst_crs=_crs.BRITISH_NATIONAL_GRID,
        areas=areas,
        id_keys=keys,
    )


@dataclass
class _FileResult:
    """What reading one file gives: rows read, kept rows, rejected tables, source CRS."""

    n_read: int
    kept: pd.DataFrame
    rejects: list[pd.DataFrame]
    crs: Any
    id_keys: _FileIdKeys | None = None


def _read_all(
    sources: list[Source], read_one: Callable[[Source], _FileResult], *, quiet: bool
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[Any], list[_FileIdKeys | None]]:
    """Read every source, several at a time (Arrow parses and inflates without the GIL).

    Results come back in source order, so the output does not depend on the thread count.
    Returns the kept frames, rejected tables, CRSs and crime-id keys of the files.
    """
    workers = min(len(sources), os.cpu_count() or 1, _MAX_READ_THREADS)
    if workers <= 1:
        results: Iterable[_FileResult] = map(read_one, sources)
        pool = None
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotspots-read")
        results = pool.map(read_one, sources)
    frames, rejects, crss, keys = [], [], [], []
    try:
        for source, res in zip(sources, results, strict=True):
            frames.append(res.kept)
            rejects.extend(res.rejects)
            crss.append(res.crs)
            keys.append(res.id_keys)
            if not quiet:
                log.info("read %s: %d rows, %d kept", source.name, res.n_read, len(res.kept))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return frames, rejects, crss, keys


def _concat(
    frames: list[pd.DataFrame],
    rejects: list[pd.DataFrame],
    *,
    across_files_only: bool,
    outside: Callable[[], np.ndarray | None] | None = None,
    id_keys: list[_FileIdKeys | None] | None = None,
    then: Callable[[np.ndarray], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Join the files' kept rows and rejected tables, then reject repeated crime ids.

    The same as :func:`reject_duplicate_ids` on the joined rows (``id_keys``, the files'
    :class:`_FileIdKeys`, make it faster when repeats count only across files).
    ``outside``, when given, returns which joined rows lie outside every area (called once
    the repeats are known); those rows are rejected too, a repeat keeping its own reason.
    The kept rows are copied once, straight into the joined table. Also returns which
    joined rows were rejected; ``then``, when given, is called with them before the copy.
    """
    if any(len(f) for f in frames):  # a file that kept nothing adds no row (nor dtype)
        full = [i for i, f in enumerate(frames) if len(f)]
        frames = [frames[i] for i in full]
        id_keys = None if id_keys is None else [id_keys[i] for i in full]
    frames = _unify_categories(frames)
    rej = _unify_categories([r for r in rejects if len(r)])
    rejected = (_stack(rej) if rej else pd.DataFrame(columns=REJECTED_COLUMNS)).astype(
        {"source_row": "int64"}
    )
    ids = _stack([f[["crime_id", "source_file"]] for f in frames])
    late = np.zeros(len(ids), dtype=np.int8)  # 0 kept, 1 outside every area, 2 repeated id
    dup = None  # found while the areas are looked up
    if across_files_only and id_keys is not None:
        dup = _repeated_across_files(ids, id_keys)
    if dup is None:
        dup = _repeated_ids(ids, across_files_only=across_files_only)
    out = outside() if outside is not None else None
    if out is not None:
        late[out] = 1
    late[dup] = 2
    gone = late > 0
    if then is not None:
        then(gone)
    if not gone.any():
        return _stack(frames), rejected, gone
    labels = np.array(["", REASON_OUTSIDE, REASON_DUPLICATE], dtype=object)
    part = _stack(frames, keep=gone)  # raw values: the coordinates as read (source CRS)
    more = part.assign(raw_x=part["x"], raw_y=part["y"], reason=labels[late[gone]])
    more = more.assign(value=_rejected_values(more))
    rejected = pd.concat([rejected, more.reindex(columns=REJECTED_COLUMNS)], ignore_index=True)
    return _stack(frames, keep=~gone), rejected, gone


def _stack(frames: list[pd.DataFrame], keep: np.ndarray | None = None) -> pd.DataFrame:
    """Return ``pd.concat(frames, ignore_index=True)[keep]`` for frames of the same columns.

    Column by column, each kept value copied once: NumPy columns and the codes of
    categoricals (same categories, see :func:`_unify_categories`) are compressed straight
    into one new array, Arrow text is filtered chunk by chunk. ``pd.concat`` on many frames,
    then a row selection, copies each column several times over.
    """
    sizes = [len(f) for f in frames]
    bounds = np.cumsum([0, *sizes])
    masks = [None if keep is None else keep[lo:hi] for lo, hi in pairwise(bounds)]
    same = all(f.columns.equals(frames[0].columns) for f in frames)
    if not same or (len(frames) == 1 and keep is None):
        out = pd.concat(frames, ignore_index=True)
        return out if keep is None else out[keep].reset_index(drop=True)
    total = int(keep.sum()) if keep is not None else int(bounds[-1])
    cols: dict[str, Any] = {}
    for c in frames[0].columns:
        parts = [f[c] for f in frames]
        dtype = parts[0].dtype
        if not all(p.dtype == dtype for p in parts):
            joined = pd.concat(parts, ignore_index=True)
            cols[c] = (joined if keep is None else joined[keep]).to_numpy(dtype=object)
        elif isinstance(dtype, pd.CategoricalDtype):
            codes = _compress([p.cat.codes.to_numpy() for p in parts], masks, total)
            cols[c] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
        elif isinstance(dtype, np.dtype) and dtype.kind != "O":
            cols[c] = _compress([p.to_numpy() for p in parts], masks, total)
        elif dtype == _STR:
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
                dtype=_STR,
            )
        else:
            joined = pd.concat(parts, ignore_index=True)
            cols[c] = (joined if keep is None else joined[keep]).array
    return pd.DataFrame(cols, index=pd.RangeIndex(total), copy=False)


def _compress(arrays: list[np.ndarray], masks: list[np.ndarray | None], total: int) -> np.ndarray:
    """Concatenate ``arrays``, keeping the rows their masks select, into one new array."""
    out = np.empty(total, dtype=arrays[0].dtype)
    at = 0
    for arr, m in zip(arrays, masks, strict=True):
        n = len(arr) if m is None else int(m.sum())
        if m is None:
            out[at : at + n] = arr
        else:
            np.compress(m, arr, out=out[at : at + n])
        at += n
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


def _assemble(
    frames: list[pd.DataFrame],
    rejects: list[pd.DataFrame],
    *,
    across_files_only: bool,
    src_crs: Any,
    dst_crs: Any,
    areas: gpd.GeoDataFrame | None = None,
    id_keys: list[_FileIdKeys | None] | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Run :func:`_concat` and :func:`_to_geo`, the points in a second thread.

    The distinct points are found, projected and (with ``areas``) looked up in the area
    polygons while the first thread joins the tables; both mostly run without the GIL.
    Rows outside every area are rejected in the same pass that copies the kept rows; the
    point geometries and other per-row point columns are built while the rows are copied.
    """

    def locate() -> tuple[np.ndarray, np.ndarray, np.ndarray, AreaLayer | None, np.ndarray | None]:
        x = np.concatenate([f["x"].to_numpy() for f in frames])
        y = np.concatenate([f["y"].to_numpy() for f in frames])
        codes, ux, uy = _project_distinct(x, y, src_crs=src_crs, dst_crs=dst_crs)
        if areas is None:
            return codes, ux, uy, None, None
        layer = AreaLayer.of(areas, dst_crs)
        return codes, ux, uy, layer, polygon_of_points(ux, uy, layer.polygons)

    moved = pyproj.CRS.from_user_input(src_crs) != pyproj.CRS.from_user_input(dst_crs)

    def per_row(gone: np.ndarray) -> dict[str, Any]:
        codes, ux, uy, layer, hit = points.result()
        kept_codes = codes[~gone] if gone.any() else codes
        distinct = (kept_codes, ux, uy, shapely.points(ux, uy))
        cols = _point_columns(distinct, dst_crs, moved=moved)
        if layer is not None and hit is not None:
            cols.update(layer.columns(hit, kept_codes))
        return cols

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-points") as pool:
        points = pool.submit(locate)
        rows: list[Any] = []

        def outside() -> np.ndarray | None:
            codes, *_, hit = points.result()
            return None if hit is None else (hit < 0)[codes]

        def then(gone: np.ndarray) -> None:  # the point columns, beside the table's copy
            rows.append(pool.submit(per_row, gone))

        kept, rejected, _ = _concat(
            frames,
            rejects,
            across_files_only=across_files_only,
            outside=outside if areas is not None else None,
            id_keys=id_keys,
            then=then,
        )
        codes, ux, uy, layer, _ = points.result()
        cols = rows[0].result()
    if layer is not None and len(kept) == 0 and len(codes):
        raise InputDataError(layer.no_overlap_message(ux, uy, dst_crs))
    return _to_geo(kept, src_crs=src_crs, dst_crs=dst_crs, points=cols), rejected


@dataclass(frozen=True)
class AreaLayer:
    """Area polygons in the crimes' CRS, sorted by code (ties go to the smaller code).

    :meth:`of` builds it from a layer of :func:`read_areas`; :meth:`locate` finds the area
    of each distinct location of a crime table; :meth:`columns` spreads the area codes and
    names to the rows as categoricals.
    """

    polygons: np.ndarray
    codes: np.ndarray
    names: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, areas: gpd.GeoDataFrame, dst_crs: Any) -> AreaLayer:
        """Project ``areas`` to ``dst_crs`` (if needed) and sort them by code."""
        projected = _crs.to_metric_crs(areas, dst_crs, name="areas", quiet=True)
        order = np.argsort(projected["area_code"].to_numpy(), kind="stable")
        return cls(
            projected.geometry.to_numpy()[order],
            projected["area_code"].to_numpy()[order],
            projected["area_name"].to_numpy()[order],
            projected.total_bounds,
        )

    def locate(self, crimes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the area of each distinct location of ``crimes`` (-1 outside all).

        Also each row's location number and the locations' x and y.
        """
        codes, ux, uy = distinct_points(crimes)
        return polygon_of_points(ux, uy, self.polygons), codes, ux, uy

    def columns(self, hit: np.ndarray, codes: np.ndarray) -> dict[str, pd.Categorical]:
        """Return ``area_code``/``area_name`` per row from :meth:`locate`'s first two."""
        return {
            "area_code": spread_category(self.codes, hit, codes),
            "area_name": spread_category(self.names, hit, codes),
        }

    def no_overlap_message(self, x: np.ndarray, y: np.ndarray, crs: Any) -> str:
        """Say that no crime (at x/y, in ``crs``) falls in an area, giving both extents."""
        span = [np.nanmin(x), np.nanmin(y), np.nanmax(x), np.nanmax(y)]
        return (
            "no crime falls inside the area layer: check that --areas covers the same place "
            f"as --crimes (crimes span {np.round(span).tolist()}, areas "
            f"{np.round(self.bounds).tolist()} in {pyproj.CRS.from_user_input(crs).to_string()})"
        )


def _distinct_points(
    x: np.ndarray, y: np.ndarray, *, src_crs: Any, dst_crs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes, ux, uy = _project_distinct(x, y, src_crs=src_crs, dst_crs=dst_crs)
    return codes, ux, uy, shapely.points(ux, uy)


def _to_geo(
    frame: pd.DataFrame,
    *,
    src_crs: Any,
    dst_crs: Any,
    points: dict[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """Project x/y from ``src_crs`` to ``dst_crs``, handling each distinct point once.

    Rows at one location share one point geometry (shapely geometries are immutable), which
    saves a GEOS point per row on police.uk data, where many records share a map point.
    ``points`` is :func:`_point_columns` of the frame's rows (plus any other columns to
    add), when already known.
    """
    dst = pyproj.CRS.from_user_input(dst_crs)
    moved = pyproj.CRS.from_user_input(src_crs) != dst
    if points is None:
        distinct = _distinct_points(
            frame["x"].to_numpy(), frame["y"].to_numpy(), src_crs=src_crs, dst_crs=dst
        )
        points = _point_columns(distinct, dst, moved=moved)
    cols = {c: frame[c].array for c in frame.columns if c not in ("raw_x", "raw_y")}
    cols.update(points)  # x/y replaced only if projected
    return gpd.GeoDataFrame(
        cols, index=pd.RangeIndex(len(frame)), geometry="geometry", crs=dst, copy=False
    )


def _point_columns(
    distinct: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], dst_crs: Any, *, moved: bool
) -> dict[str, Any]:
    """Return the per-row ``point_id`` and ``geometry`` (and projected x/y if ``moved``).

    ``distinct`` is a code per row and the distinct points (see :func:`_distinct_points`).
    """
    codes, ux, uy, geoms = distinct
    cols: dict[str, Any] = {
        "point_id": codes.astype(np.int32 if len(ux) < 2**31 else np.int64),
        "geometry": GeometryArray(geoms[codes], crs=pyproj.CRS.from_user_input(dst_crs)),
    }
    if moved:
        cols.update(x=ux[codes], y=uy[codes])
    return cols


_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _take_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Return ``frame.take(rows)`` for ascending ``rows``, taking text columns chunk by chunk.

    After a concat each Arrow text column has one chunk per file, and Arrow takes rows
    from many chunks several times slower than from one; taking from each chunk in turn
    gives the same column at the speed of the one-chunk case.
    """
    text = [c for c, t in frame.dtypes.items() if t == _STR]
    if not text or not frame.columns.is_unique:
        return frame.take(rows)
    out = frame.drop(columns=text).take(rows)
    for c in sorted(text, key=frame.columns.get_loc):
        out.insert(frame.columns.get_loc(c), c, _take_text(frame[c], rows, out.index))
    return out


def _take_text(values: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
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


def _project_distinct(
    x: np.ndarray, y: np.ndarray, *, src_crs: Any, dst_crs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a code per row and the distinct points projected (rounded to 1 cm if moved)."""
    src, dst = pyproj.CRS.from_user_input(src_crs), pyproj.CRS.from_user_input(dst_crs)
    codes, ux, uy = factorize_xy(x, y)
    if src != dst:
        tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        tx, ty = tr.transform(ux, uy)
        ux, uy = np.round(np.asarray(tx), 2), np.round(np.asarray(ty), 2)
    return codes, ux, uy


def read_mapping(spec: str | Path) -> Mapping:
    """Return a column mapping: a built-in name (``vancouver``) or a TOML file path.

    Parameters
    ----------
    spec
        ``"vancouver"`` or the path of a TOML file with a ``[columns]`` table (see the
        README for the keys) and optional ``crs``, ``project_to`` and ``[rules]``.

    Returns
    -------
    Mapping
        The parsed mapping.

    Raises
    ------
    InputDataError
        If the mapping is unknown or lacks coordinate or date columns.
    """
    text = _mapping_text(spec)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = f"mapping {spec}: not valid TOML ({err})"
        raise InputDataError(msg) from err
    problems = mapping_problems(doc)
    if problems:
        msg = f"mapping {spec}: " + "; ".join(problems)
        raise InputDataError(msg)
    cols = dict(doc.get("columns", {}))
    has_xy = {"x", "y"} <= cols.keys() or {"lon", "lat"} <= cols.keys() or "geometry" in cols
    has_date = bool({"date", "datetime", "from", "month", "year"} & cols.keys())
    if not (has_xy and has_date):
        msg = (
            f"mapping {spec}: [columns] needs coordinates (x and y, lon and lat, or geometry) "
            f"and a date (date, datetime, from, or year/month/day); found {sorted(cols)}"
        )
        raise InputDataError(msg)
    return Mapping(
        str(doc.get("name", spec)),
        cols,
        doc.get("crs"),
        doc.get("project_to"),
        dict(doc.get("rules", {})),
    )


POLICE_UK_SOURCE = (
    "police.uk street-level crime (month only, no time of day; locations anonymised to "
    "police.uk map points), Open Government Licence v3.0"
)


def describe_source(fmt: str) -> str:
    """Return a one-line description of a crime format's data source, for reports.

    Parameters
    ----------
    fmt
        ``"police-uk"``, a built-in mapping name or a mapping path.

    Returns
    -------
    str
        The mapping's ``description`` (or its name) for mapped formats.
    """
    if fmt == "police-uk":
        return POLICE_UK_SOURCE
    doc = tomllib.loads(_mapping_text(fmt))
    return str(doc.get("description", doc.get("name", fmt)))


def _mapping_text(spec: str | Path) -> str:
    path = Path(spec)
    if path.suffix == ".toml" and path.exists():
        return path.read_text(encoding="utf-8")
    builtin = resources.files("hotspots") / "mappings" / f"{spec}.toml"
    if builtin.is_file():
        return builtin.read_text(encoding="utf-8")
    msg = f"unknown --format {spec!r}: use police-uk, vancouver, or the path of a .toml mapping"
    raise InputDataError(msg)


@_without_gc_pauses
def read_mapped(
    paths: Iterable[str | Path],
    mapping: Mapping,
    *,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    crs: str | None = None,
    quiet: bool = False,
    areas: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read CSV or GeoParquet crime files through a column mapping into one table.

    Parameters
    ----------
    paths
        CSV (plain or gzipped) or GeoParquet files, or folders of them.
    mapping
        From :func:`read_mapping`.
    crime_types, start, end
        Row filters as in :func:`read_police_uk`.
    crs
        Projected CRS to use; by default the mapping's ``project_to``, the data's own CRS if it
        is projected, or the UTM zone around the data.
    quiet
        If True, do not log progress.
    areas
        Area polygons to join, as in :func:`read_police_uk`.

    Returns
    -------
    crimes, rejected
        Kept rows in a metric CRS, and every other row with its ``reason``.

    Raises
    ------
    InputDataError
        If a file cannot be read or lacks a mapped column.

    Examples
    --------
    >>> crimes, rejected = read_mapped([get_path("vancouver_crimes")], read_mapping("vancouver"),
    ...                                start="2025-12", quiet=True)
    >>> crimes.crs.to_epsg(), bool(crimes["has_time"].any())
    (26910, True)
    """
    rf = RowFilter(tuple(crime_types) if crime_types else None, start, end)
    lonlat = "lon" in mapping.columns
    sources = mapped_sources(paths)

    def read_one(source: Source) -> _FileResult:
        return _read_mapped_file(source, mapping, rf, use_threads=len(sources) == 1)

    frames, rejects, crss, _ = _read_all(sources, read_one, quiet=quiet)
    src = crss[-1] or mapping.crs or (_crs.WGS84 if lonlat else None)
    if src is None:
        msg = f'mapping {mapping.name}: x/y columns need a `crs` (e.g. crs = "EPSG:26910")'
        raise InputDataError(msg)
    dst = (
        crs or mapping.project_to or (src if pyproj.CRS.from_user_input(src).is_projected else None)
    )
    if dst is not None:
        return _assemble(
            frames, rejects, across_files_only=False, src_crs=src, dst_crs=dst, areas=areas
        )
    kept_all, rejected, _ = _concat(frames, rejects, across_files_only=False)
    crimes = _to_geo(kept_all, src_crs=src, dst_crs=_default_metric(kept_all, src))
    return (crimes, rejected) if areas is None else join_areas(crimes, rejected, areas)


def _read_police_uk_file(
    source: Source, rf: RowFilter, *, use_threads: bool, superseded_by: str | None = None
) -> _FileResult:
    """Read one police.uk CSV: kept rows (lon/lat) and rejected tables, before id checks.

    A file ``superseded_by`` a newer publication of its force-month (see
    :func:`choose_publications`) keeps nothing: every row, malformed ones included, is
    rejected as a duplicate publication, ``value`` naming the file kept instead.
    """
    raw = _read_raw_csv(
        source, required=POLICE_UK_REQUIRED, use_threads=use_threads, columns=_POLICE_UK_USED
    )
    canon = police_uk_to_canonical(raw, source)
    if superseded_by is not None:
        kept, rej = split_rejected(canon, np.full(len(canon), REASON_PUBLICATION, dtype=object))
        rej["value"] = _text_column(superseded_by, len(rej))
        bad = _malformed_rejects(raw, source, reason=REASON_PUBLICATION, value=superseded_by)
        return _FileResult(len(canon), kept, [bad, rej], None, _FileIdKeys.of(kept["crime_id"]))
    kept, rej = split_rejected(canon, _reasons(canon, rf, lonlat=True, rules={}))
    return _FileResult(
        len(canon),
        kept,
        [_malformed_rejects(raw, source), rej],
        None,
        _FileIdKeys.of(kept["crime_id"]),
    )


def _log_skipped(skipped: list[dict[str, str]]) -> None:
    """Log the files passed over in the crime folders (all listed in ``run.json``)."""
    if len(skipped) <= _SKIPPED_LOGGED:
        for item in skipped:
            log.info("skipped %s: %s", item["path"], item["why"])
        return
    kinds: dict[str, int] = {}
    for item in skipped:
        kinds[item["why"]] = kinds.get(item["why"], 0) + 1
    log.info(
        "skipped %d files that are not street-level crime (%s); listed in run.json "
        "under skipped_files",
        len(skipped),
        "; ".join(f"{n} {why}" for why, n in sorted(kinds.items())),
    )


#: Most skipped files logged one by one (more are summed up by kind).
_SKIPPED_LOGGED = 10


def _read_mapped_file(
    source: Source, mapping: Mapping, rf: RowFilter, *, use_threads: bool
) -> _FileResult:
    """Read one mapped file: kept rows (source CRS) and rejected tables, before id checks."""
    raw, src_crs = _read_mapped_raw(source, mapping, use_threads=use_threads)
    canon = mapped_to_canonical(raw, source, mapping)
    lonlat = "lon" in mapping.columns
    kept, rej = split_rejected(canon, _reasons(canon, rf, lonlat=lonlat, rules=mapping.rules))
    return _FileResult(len(canon), kept, [_malformed_rejects(raw, source), rej], src_crs)


def _default_metric(frame: pd.DataFrame, src: Any) -> pyproj.CRS:
    src_crs = pyproj.CRS.from_user_input(src)
    if src_crs.is_projected:
        return src_crs
    return _crs.utm_crs_for(frame["x"].to_numpy(), frame["y"].to_numpy())


def _read_mapped_raw(
    source: Source, mapping: Mapping, *, use_threads: bool = False
) -> tuple[RawTable, Any]:
    if source.path.suffix.lower() in (".parquet", ".geoparquet"):
        return _read_parquet_raw(source, mapping)
    optional = ("id", "location", "force", "caller")
    required = [c for k, c in mapping.columns.items() if k not in optional]
    return _read_raw_csv(
        source,
        required=required,
        use_threads=use_threads,
        columns=list(mapping.columns.values()),
        numbers=_number_columns(mapping),
    ), None


def _number_columns(mapping: Mapping) -> list[str]:
    """Columns only ever read as numbers: the date parts when the date comes from them."""
    c = mapping.columns
    if "year" not in c or "from" in c or "datetime" in c:
        return []
    return [c[k] for k in _PARTS if k in c]


def _read_parquet_raw(source: Source, mapping: Mapping) -> tuple[RawTable, Any]:
    try:
        gdf = gpd.read_parquet(source.path)
    except Exception as err:  # pyarrow raises many types for a bad file
        msg = f"{source.name}: cannot be read as GeoParquet ({short_error(err)})"
        raise InputDataError(msg) from err
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geom_col = mapping.columns.get("geometry")
    if geom_col:
        pts = gdf.geometry
        frame[geom_col + "__x"] = np.where(pts.geom_type == "Point", pts.x, np.nan)
        frame[geom_col + "__y"] = np.where(pts.geom_type == "Point", pts.y, np.nan)
    frame = frame.astype(str).replace({"nan": "", "None": "", "NaT": ""})
    return RawTable(frame, np.arange(1, len(frame) + 1), []), gdf.crs


def mapped_to_canonical(raw: RawTable, source: Source, mapping: Mapping) -> pd.DataFrame:
    """Turn a mapped file's text cells into canonical columns (coordinates in source CRS).

    Parameters
    ----------
    raw
        Text cells from :func:`read_raw_csv` (or a GeoParquet file).
    source
        Where they came from.
    mapping
        The column mapping.

    Returns
    -------
    pandas.DataFrame
        Canonical columns with ``x``/``y`` in the source CRS.
    """
    f, c = raw.frame, mapping.columns
    as_is = ("crime_type", "location", "force", "x", "y", "lon", "lat")  # stripped later
    text = {
        k: f[v]
        if f[v].dtype.kind == "f"
        else f[v].astype(str)
        if k in as_is
        else f[v].astype(str).str.strip()
        for k, v in c.items()
        if v in f
    }
    if "geometry" in c:
        text["x"], text["y"] = f[c["geometry"] + "__x"], f[c["geometry"] + "__y"]
    xk, yk = ("lon", "lat") if "lon" in c else ("x", "y")
    start, end, has_time = _mapped_times(text, mapping)
    cols: dict[str, Any] = {
        "occurred_from": start,
        "occurred_to": end,
        "has_time": has_time,
        "x": _to_float(text[xk]),
        "y": _to_float(text[yk]),
        "raw_x": text[xk],
        "raw_y": text[yk],
        "raw_date": _raw_date(text, start),
    }
    for key, canon in (
        ("id", "crime_id"),
        ("crime_type", "crime_type"),
        ("location", "location"),
        ("force", "force"),
    ):
        if key in text:
            cols[canon] = text[key]
    frame = _canonical_frame(raw, source, cols)
    if "caller" in text:  # a caller/victim reference: keyed hash only, the key is never stored
        frame["caller_ref"] = pseudonymise(text["caller"], key=mapping.hash_key).to_numpy()
    return frame


def _raw_date(text: dict[str, pd.Series], start: pd.Series) -> Any:
    """Return the date text as read, for ``value`` in the rejected table.

    The mapped date column (``from``, ``datetime``, ``date`` or ``month``, as
    :func:`_mapped_times` picks it); date parts are joined as ``year-month-day hour:minute``
    for the rows whose date could not be made, and left empty elsewhere.
    """
    for key in ("from", "datetime"):
        if key in text:
            return text[key]
    if "year" not in text:
        return text.get("date", text.get("month", ""))
    bad = start.isna().to_numpy()
    out = np.full(len(start), "", dtype=object)
    if bad.any():
        parts = [_arrow_cells(text[k][bad]).to_pylist() for k in _PARTS if k in text]
        out[bad] = [" ".join(p) for p in zip(*parts, strict=True)]
    return pd.Series(out, index=start.index)


def _mapped_times(
    text: dict[str, pd.Series], mapping: Mapping
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Return window start, window end (exclusive) and whether the time of day is known."""
    c = mapping.columns
    if "from" in text:
        start = _parse_dt(text["from"], c.get("from_format"))
        end = _parse_dt(text["to"], c.get("to_format")) if "to" in text else start
        end = end.where(end >= start, start) + pd.Timedelta(minutes=1)
        timed = (start.dt.hour + start.dt.minute > 0).to_numpy() | (end > start).to_numpy()
        return start, end, timed
    if "datetime" in text:
        start = _parse_dt(text["datetime"], c.get("datetime_format"))
    elif "year" in text:
        start = _datetime_from_parts(text)
    elif "date" in text:
        day = _parse_dt(text["date"], c.get("date_format")).dt.normalize()
        return day, day + pd.Timedelta(days=1), np.zeros(len(day), dtype=bool)
    else:
        month, end = _month_window(text["month"], c.get("month_format", "%Y-%m"))
        return month, end, np.zeros(len(month), dtype=bool)
    return _exact_or_day(start, mapping)


_PARTS = ("year", "month", "day", "hour", "minute")


def _datetime_from_parts(text: dict[str, pd.Series]) -> pd.Series:
    """Return the datetimes given by year/month/day/hour/minute columns (NaT where invalid).

    Whole columns of valid calendar values are assembled in NumPy; anything else goes
    through ``pd.to_datetime`` on the whole table, as before.
    """
    keys = [k for k in _PARTS if k in text]
    if keys == list(_PARTS):
        stamps = _stamps_from_parts(*(_to_float(text[k]) for k in _PARTS))
        if stamps is not None:
            return pd.Series(stamps, index=text["year"].index)
    parts = {k: pd.to_numeric(text[k], errors="coerce") for k in keys}
    return pd.to_datetime(pd.DataFrame(parts), errors="coerce")


def _stamps_from_parts(
    y: np.ndarray, mo: np.ndarray, d: np.ndarray, h: np.ndarray, mi: np.ndarray
) -> np.ndarray | None:
    """Return ``datetime64[us]`` from whole-number date parts, or None.

    None if any part is not a valid calendar value (years 1900-2100).

    Calendar arithmetic is done once per distinct month (a small table of first days and
    month lengths), the rows only add integers.
    """
    with np.errstate(invalid="ignore"):  # a missing part fails every comparison
        ok = (y >= 1900) & (y <= 2100) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= 31)
        ok &= (h >= 0) & (h <= 23) & (mi >= 0) & (mi <= 59)
    if not ok.all():
        return None
    whole = [v.astype(np.int64) for v in (y, mo, d, h, mi)]
    if not all((w == v).all() for w, v in zip(whole, (y, mo, d, h, mi), strict=True)):
        return None
    yi, moi, di, hi, mii = whole
    month = (yi - 1970) * 12 + moi - 1  # months since 1970-01
    lo = int(month.min()) if len(month) else 0
    firsts = np.arange(lo, lo + (int(month.max()) - lo + 2 if len(month) else 1))
    first_day = firsts.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    at = month - lo
    if (di > (first_day[1:] - first_day[:-1])[at]).any():  # 30 February and the like
        return None
    minutes = (first_day[at] + di - 1) * 1440 + hi * 60 + mii
    return np.asarray((minutes * 60_000_000).astype("datetime64[us]"))


def _exact_or_day(start: pd.Series, mapping: Mapping) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Exact times become 1-minute windows; 00:00 placeholders become the whole day."""
    midnight = (start.dt.hour == 0) & (start.dt.minute == 0)
    unknown = (
        midnight.to_numpy()
        if mapping.rules.get("midnight_means_unknown_time")
        else np.zeros(len(start), dtype=bool)
    )
    end = start + pd.Timedelta(minutes=1)
    end = end.where(~unknown, start + pd.Timedelta(days=1))
    return start, end, ~unknown & start.notna().to_numpy()


def _parse_dt(s: pd.Series, fmt: str | None) -> pd.Series:
    """Parse date text, each distinct value once (records repeat dates many times)."""
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    parsed = pd.to_datetime(pd.Series(uniq, dtype=s.dtype), format=fmt or "mixed", errors="coerce")
    return pd.Series(parsed.array.take(codes), index=s.index)


def read_crimes(
    paths: Iterable[str | Path],
    *,
    fmt: str = "police-uk",
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    crs: str | None = None,
    quiet: bool = False,
    areas: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read crime files of any supported format into the canonical table.

    Parameters
    ----------
    paths
        Files or folders.
    fmt
        ``"police-uk"``, ``"vancouver"`` or the path of a TOML mapping.
    crime_types, start, end, crs, quiet, areas
        As in :func:`read_police_uk` and :func:`read_mapped`.

    Returns
    -------
    crimes, rejected
        Kept rows (projected) and rejected rows with reasons.
    """
    paths = list(paths)
    if fmt == "police-uk":
        crimes, rejected = read_police_uk(
            paths,
            crime_types=crime_types,
            start=start,
            end=end,
            quiet=quiet,
            areas=None if crs else areas,
        )
        if crs:
            crimes = _crs.to_metric_crs(crimes, crs, name="crimes", quiet=quiet)
            crimes = crimes.assign(x=crimes.geometry.x, y=crimes.geometry.y)
            if areas is not None:
                crimes, rejected = join_areas(crimes, rejected, areas)
        return crimes, rejected
    mapped: tuple[gpd.GeoDataFrame, pd.DataFrame] = read_mapped(
        paths,
        read_mapping(fmt),
        crime_types=crime_types,
        start=start,
        end=end,
        crs=crs,
        quiet=quiet,
        areas=areas,
    )
    return mapped


def join_areas(
    crimes: gpd.GeoDataFrame, rejected: pd.DataFrame, areas: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Add the area of each crime and reject the crimes outside every area.

    The readers do this while assembling the table when given ``areas``; this function is
    for a table already read.

    Parameters
    ----------
    crimes
        Canonical crime table (projected).
    rejected
        The rejected table so far.
    areas
        Area polygons (any CRS; projected to the crimes' CRS).

    Returns
    -------
    crimes, rejected
        Crimes with ``area_code`` and ``area_name`` (a point on a shared edge, or in two
        overlapping areas, goes to the smaller code), and the rejected table with the
        crimes outside every area added (reason ``outside study area``).

    Raises
    ------
    InputDataError
        If no crime falls inside any area (the message gives both extents).
    """
    layer = AreaLayer.of(areas, crimes.crs)
    hit, codes, ux, uy = layer.locate(crimes)
    outside = (hit < 0)[codes]
    if len(crimes) and outside.all():
        raise InputDataError(layer.no_overlap_message(ux, uy, crimes.crs))
    joined = crimes.assign(**layer.columns(hit, codes))
    reason = np.full(len(joined), "", dtype=object)
    reason[outside] = REASON_OUTSIDE
    frame = joined.assign(raw_x=joined["x"], raw_y=joined["y"])
    kept, more = split_rejected(frame, reason)
    kept = gpd.GeoDataFrame(kept, geometry="geometry", crs=crimes.crs)
    return kept, pd.concat([rejected, more], ignore_index=True)


# --------------------------------------------------------------------------------------------
# areas and streets

AREA_CODE_CANDIDATES = (
    "area_code",
    "ward_code",
    "borough_code",
    "mapid",
    "code",
    "gss_code",
    "lad_code",
    "lsoa11cd",
    "wd14cd",
    "wd22cd",
    "id",
)
AREA_NAME_CANDIDATES = (
    "area_name",
    "ward_name",
    "borough",
    "name",
    "lsoa11nm",
    "wd14nm",
    "wd22nm",
    "label",
)
STREET_NAME_CANDIDATES = (
    "street_name",
    "name",
    "name1",
    "road_name",
    "roadname",
    "hblock",
    "streetname",
    "st_name",
)
STREET_ID_CANDIDATES = ("street_id", "osm_id", "seg_id", "identifier", "id", "fid", "toid")


def _pick(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _read_layer(path: str | Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    """Read one layer of a vector file; with several layers, ``layer`` must name one.

    ``what`` is ``"area"`` or ``"street"``, which names the option that chooses the layer
    (``--areas-layer``, ``--streets-layer``) in the one-line errors.
    """
    p = Path(path)
    if not p.exists():
        msg = f"{what} file {p} does not exist"
        raise InputDataError(msg)
    option = f"--{what}s-layer"
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(p)]
    except (pyogrio.errors.DataSourceError, ValueError) as err:
        msg = f"{p.name}: cannot be read as a {what} layer ({short_error(err)})"
        raise InputDataError(msg) from err
    if layer is None and len(layers) > 1:
        msg = (
            f"{p}: {len(layers)} layers ({', '.join(layers)}); choose the {what} layer "
            f"with {option}"
        )
        raise InputDataError(msg)
    if layer is not None and layer not in layers:
        msg = f"{p}: no layer {layer!r} (given by {option}); its layers are {', '.join(layers)}"
        raise InputDataError(msg)
    try:
        return gpd.read_file(p, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as err:
        msg = f"{p.name}: cannot be read as a {what} layer ({short_error(err)})"
        raise InputDataError(msg) from err


def read_areas(
    path: str | Path,
    *,
    code_col: str | None = None,
    name_col: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a polygon layer (wards, boroughs, local areas...) with a code and a name per area.

    Parameters
    ----------
    path
        Any vector file pyogrio reads (GeoPackage, GeoJSON, Shapefile...).
    code_col, name_col
        Columns holding each area's code and name; guessed from common names
        (``ward_code``, ``mapid``, ``ward_name``, ``name``...) when not given.
    layer
        Layer to read from a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``area_code``, ``area_name``, the file's other columns, and polygon geometry
        (invalid polygons repaired with ``make_valid``), in the file's CRS.

    Raises
    ------
    InputDataError
        If the layer has no polygons, no usable code column, or duplicate codes.

    Examples
    --------
    >>> wards = read_areas(get_path("london_wards"))
    >>> len(wards), wards["area_code"].iloc[0]
    (625, 'E05000026')
    """
    gdf = _read_layer(path, layer, "area")
    name = Path(path).name
    code = code_col or _pick(gdf.columns, AREA_CODE_CANDIDATES)
    label = name_col or _pick(gdf.columns, AREA_NAME_CANDIDATES) or code
    problems = _area_problems(gdf, code, label, name)
    if problems:
        raise InputDataError(f"{name}: " + "; ".join(problems))
    out = gdf.assign(area_code=gdf[str(code)].astype(str), area_name=gdf[str(label)].astype(str))
    bad = ~out.geometry.is_valid
    if bad.any():
        log.warning("%s: %d invalid polygon(s) repaired with make_valid", name, int(bad.sum()))
        out.loc[bad, "geometry"] = shapely.make_valid(out.geometry[bad].to_numpy())
    cols = ["area_code", "area_name"] + [
        c for c in gdf.columns if c not in (code, label, "geometry")
    ]
    return out[[*cols, "geometry"]]


def _area_problems(
    gdf: gpd.GeoDataFrame, code: str | None, label: str | None, name: str
) -> list[str]:
    problems = []
    if len(gdf) == 0:
        return ["the area layer is empty"]
    kinds = set(gdf.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        problems.append(f"areas must be polygons; found {sorted(kinds)}")
    if code is None or code not in gdf.columns:
        problems.append(
            f"no area code column (looked for {list(AREA_CODE_CANDIDATES)}); "
            f"columns are {list(gdf.columns)}: name one with --area-code"
        )
    elif gdf[code].duplicated().any():
        dups = sorted(gdf.loc[gdf[code].duplicated(), code].astype(str).unique())[:5]
        problems.append(f"area codes must be unique; {dups} repeat: dissolve them first")
    if label is not None and label not in gdf.columns:
        problems.append(f"no column {label!r} for area names")
    return problems


def read_streets(
    path: str | Path,
    *,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a street line layer (OpenStreetMap, OS Open Roads, city centrelines).

    Parameters
    ----------
    path
        Any vector line file pyogrio reads.
    name_col
        Column with street names; guessed (``name``, ``name1``, ``street_name``...) if not
        given; streets are unnamed when there is none.
    id_col
        Column with the source's feature id; guessed, else the row number.
    layer
        Layer to read from a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source_id`` (str), ``street_name`` (str or missing) and LineString geometry
        (multi-lines exploded), in the file's CRS.

    Raises
    ------
    InputDataError
        If the layer is empty or holds no lines.

    Examples
    --------
    >>> streets = read_streets(get_path("london_streets"))
    >>> streets.geom_type.unique().tolist(), bool(streets["street_name"].notna().mean() > 0.9)
    (['LineString'], True)
    """
    gdf = _read_layer(path, layer, "street")
    fname = Path(path).name
    kinds = set(gdf.geom_type.dropna())
    if len(gdf) == 0 or not kinds & {"LineString", "MultiLineString"}:
        msg = (
            f"{fname}: streets must be a line layer; found {sorted(kinds) or 'no features'}. "
            "Give a file of street centrelines (LineString)"
        )
        raise InputDataError(msg)
    other = gdf.geom_type.isin(["LineString", "MultiLineString"])
    if (~other).any():
        log.warning("%s: %d non-line feature(s) ignored", fname, int((~other).sum()))
    name = name_col or _pick(gdf.columns, STREET_NAME_CANDIDATES)
    ident = id_col or _pick(gdf.columns, STREET_ID_CANDIDATES)
    ids = gdf[ident].astype(str) if ident else pd.Series(np.arange(len(gdf)).astype(str), gdf.index)
    names = gdf[name].astype("string").str.strip().replace("", pd.NA) if name else pd.NA
    out = gpd.GeoDataFrame(
        {"source_id": ids, "street_name": names}, geometry=gdf.geometry, crs=gdf.crs
    )[other.to_numpy()]
    out = out.explode(index_parts=False).reset_index(drop=True)
    return out[~out.geometry.is_empty & out.geometry.notna()].reset_index(drop=True)


def read_population(
    path: str | Path, *, code_col: str | None = None, population_col: str | None = None
) -> pd.Series:
    """Read a population table into a Series of residents indexed by area code.

    Parameters
    ----------
    path
        CSV file with one row per area.
    code_col, population_col
        Column names; guessed (``*_code``/``population*``) when not given.

    Returns
    -------
    pandas.Series
        Residents per area code (float), named ``population``.

    Raises
    ------
    InputDataError
        If the columns cannot be found.
    """
    df = pd.read_csv(path, dtype=str)
    code = code_col or _pick(df.columns, AREA_CODE_CANDIDATES)
    pop = population_col or next(
        (c for c in df.columns if c.lower().startswith("population")), None
    )
    if code is None or pop is None:
        msg = (
            f"{Path(path).name}: needs an area code and a population column; found "
            f"{list(df.columns)}. Name them with --population-code/--population-col"
        )
        raise InputDataError(msg)
    values = pd.to_numeric(df[pop], errors="coerce")
    return pd.Series(values.to_numpy(), index=df[code].astype(str), name="population")
