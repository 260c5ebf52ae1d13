"""Rejection reasons and the rejected-rows contract.

Every crime reader returns, beside the kept rows, a rejected table (columns
:data:`hotspots.read.schema.REJECTED_COLUMNS`) with a ``reason`` for every row it did not
keep, so that rows read = rows kept + rows rejected, per file. The reasons are the
``REASON_*`` constants, tested in the order listed (a row gets the first that applies).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.read.canonical import TEXT_DTYPE, take_rows
from hotspots.read.csv_engine import RawTable
from hotspots.read.schema import REJECTED_COLUMNS
from hotspots.read.sources import (
    Source,
)

__all__ = [
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
    "RowFilter",
    "arrow_cells",
    "malformed_rejects",
    "rejected_rows",
    "rejected_values",
    "row_reason_codes",
    "row_reasons",
    "split_rejected",
    "text_column",
]

log = logging.getLogger("hotspots")

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


def malformed_rejects(
    raw: RawTable, source: Source, *, reason: str = REASON_MALFORMED, value: str | None = None
) -> pd.DataFrame:
    """Return the rejected table of a file's malformed rows (``value``: the row's text)."""
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
        return pd.DataFrame(rows, columns=REJECTED_COLUMNS).astype({"value": TEXT_DTYPE})
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS)


@dataclass(frozen=True)
class RowFilter:
    """Which rows to keep, beyond having usable coordinates and dates."""

    crime_types: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    today: dt.date = field(default_factory=dt.date.today)


def row_reasons(
    frame: pd.DataFrame, rowfilter: RowFilter, *, lonlat: bool, rules: dict[str, Any]
) -> np.ndarray:
    """Return the rejection reason of each row ('' where kept), first rule that applies."""
    first, labels = row_reason_codes(frame, rowfilter, lonlat=lonlat, rules=rules)
    return np.asarray(labels[first])


def row_reason_codes(
    frame: pd.DataFrame, rowfilter: RowFilter, *, lonlat: bool, rules: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Return :func:`row_reasons` as a code per row (0 where kept) and the reasons coded."""
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
    return first, np.array(["", *(label for label, _ in conds)], dtype=object)


def _per_distinct(values: pd.Series, test: Any) -> np.ndarray:
    """Apply a vectorised boolean ``test`` to each distinct value once and spread the result.

    A categorical's categories are tested as they are (then a missing value, if any): no
    hashing of the rows.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        k = len(values.dtype.categories)
        missing = bool(len(codes)) and int(codes.min()) < 0
        each = np.arange(k + missing, dtype=np.int64)
        if missing:
            each[-1] = -1  # missing last: code -1 takes the last result
        each_value = pd.Categorical.from_codes(each, dtype=values.dtype, validate=False)
        hit = np.asarray(test(pd.Series(each_value)), dtype=bool)
        return np.asarray(hit.take(codes, mode="wrap" if missing else "raise"), dtype=bool)
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    hit = np.asarray(test(pd.Series(uniq, dtype=values.dtype)), dtype=bool)
    return np.asarray(hit[codes], dtype=bool)


def _privacy_location(location: pd.Series, privacy_locs: set[str]) -> np.ndarray:
    if not privacy_locs:
        return np.zeros(len(location), dtype=bool)

    def test(u: pd.Series) -> np.ndarray:
        return np.asarray(u.astype(str).str.strip().str.upper().isin(privacy_locs).to_numpy())

    if isinstance(location.dtype, pd.CategoricalDtype):
        hit = _ascii_privacy(location.dtype.categories, privacy_locs)
        if hit is not None:  # the categories tested in Arrow; a missing value as before
            codes = location.cat.codes.to_numpy()
            if codes.min(initial=0) >= 0:
                return np.asarray(hit.take(codes), dtype=bool)
            none = pd.Series(pd.Categorical.from_codes([-1], dtype=location.dtype))
            return np.asarray(np.append(hit, test(none)).take(codes, mode="wrap"), dtype=bool)
    return _per_distinct(location, test)


def _ascii_privacy(categories: pd.Index, privacy_locs: set[str]) -> np.ndarray | None:
    """Return which categories are privacy locations, found in Arrow (None if it cannot).

    The same as Python's ``str.strip().upper()`` then a look-up, for text of ASCII
    characters only (Python strips the same ten characters and upper-cases the same
    letters there); other text is left to Python.
    """
    if not (isinstance(categories.dtype, pd.StringDtype) and categories.dtype.storage == "pyarrow"):
        return None
    words = pa.chunked_array(categories.array.__arrow_array__())
    if words.null_count or pc.all(pc.string_is_ascii(words)).as_py() is False:
        return None
    norm = pc.ascii_upper(pc.utf8_trim(words, characters=_ASCII_SPACE))
    wanted = pa.array(sorted(privacy_locs), type=words.type)
    return np.asarray(pc.is_in(norm, value_set=wanted).to_numpy(zero_copy_only=False), dtype=bool)


#: The ASCII characters Python's ``str.strip()`` removes.
_ASCII_SPACE = "".join(chr(i) for i in range(128) if chr(i).isspace())


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
        field that caused each rejection, see :func:`rejected_values`).
    """
    bad = np.asarray(reason != "", dtype=bool)
    rejected = _rejected_table(frame, np.flatnonzero(bad), reason[bad])
    kept = frame.drop(columns=["raw_x", "raw_y", "raw_date"], errors="ignore")
    if not bad.any():  # nothing to drop: skip copying every column
        return kept.copy(deep=False), rejected
    return take_rows(kept, np.flatnonzero(~bad)), rejected


def rejected_rows(frame: pd.DataFrame, codes: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Return the rejected table of :func:`split_rejected`, the reasons given coded.

    ``codes`` and ``labels`` are as :func:`row_reason_codes` gives them (code 0 kept).
    The kept rows are left in ``frame``, for the caller to take once with any rows it
    rejects later.
    """
    rows = np.flatnonzero(codes)
    if not len(rows):  # no reason at all (an empty column of Python strings, as before)
        return _rejected_table(frame, rows, labels[codes[rows]])
    # the reasons as Arrow text, taken from the few labels: no Python string per row
    words = pa.array([str(label) for label in labels], type=pa.large_string())
    return _rejected_table(frame, rows, pd.array(words.take(codes[rows]), dtype=TEXT_DTYPE))


def _rejected_table(
    frame: pd.DataFrame, rows: np.ndarray, reasons: np.ndarray | pd.api.extensions.ExtensionArray
) -> pd.DataFrame:
    """Return the rejected table of a frame's ``rows`` (ascending), with their reasons.

    Only the columns the table shows (and ``raw_date``, for ``value``) are taken, each on
    its own (positionally: the same rows as ``.loc[mask]``, several times faster on Arrow
    text columns; and without ``DataFrame.take``'s work on the frame, a fifth of the time
    of Vancouver's 22,500 rejected rows).
    """
    shown = [c for c in frame.columns if c in _REJECTED_SHOWN or c == "raw_date"]
    index = frame.index.take(rows)
    taken = {  # each with its dtype (a column of Python strings stays one)
        c: pd.Series(frame[c].array.take(rows), index=index, dtype=frame[c].dtype, copy=False)
        for c in shown
    }
    rejected = pd.DataFrame(taken, index=index, copy=False).assign(reason=reasons)
    rejected = rejected.assign(value=rejected_values(rejected))
    return rejected.reindex(columns=REJECTED_COLUMNS)


#: The columns of the rejected table, as a set.
_REJECTED_SHOWN = frozenset(REJECTED_COLUMNS)


#: Which field's text goes to ``value`` in ``rejected.csv``, per reason (coordinates: both).
_VALUE_FIELD = {
    REASON_PRIVACY: "location",
    REASON_DATE: "raw_date",
    REASON_FUTURE: "raw_date",
    REASON_PERIOD: "raw_date",
    REASON_TYPE: "crime_type",
    REASON_DUPLICATE: "crime_id",
}


def rejected_values(rejected: pd.DataFrame) -> pd.api.extensions.ExtensionArray:
    """Return the raw text of the field that caused each rejection, as Arrow text.

    The location for a privacy offset, the date as read for a date rule (the month when
    the date text is not kept), the crime type, the crime id; ``x=..., y=...`` as read for the
    coordinate rules and "outside study area". Other reasons (malformed rows, duplicate
    publications) set their value where they are made. Built in Arrow, reason by reason:
    no Python string per row.
    """
    n = len(rejected)
    if not n:
        return pd.array([], dtype=TEXT_DTYPE)
    codes, reasons = pd.factorize(rejected["reason"])  # Arrow text hashed as it is
    pieces, order = [], []
    for k, why in enumerate(reasons):
        rows = np.flatnonzero(codes == k)
        whole = len(rows) == n  # one reason for all: no row selection

        def cells(col: str, rows: np.ndarray = rows, whole: bool = whole) -> pa.Array:
            return arrow_cells(rejected[col] if whole else rejected[col].take(rows))

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
        return pd.array(pieces[0], dtype=TEXT_DTYPE)
    where = np.empty(n, dtype=np.int64)
    where[np.concatenate(order)] = np.arange(n)
    return pd.array(pa.concat_arrays(pieces).take(pa.array(where)), dtype=TEXT_DTYPE)


def arrow_cells(values: pd.Series) -> pa.Array:
    """Return cells as Arrow ``large_string`` (numbers as text), missing ones as ''."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):  # Arrow text joined from several files
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.large_string())
    return pc.fill_null(pc.cast(arr, pa.large_string()), "")


def text_column(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    """Return ``n`` cells of one text as an Arrow text column."""
    return pd.array(pa.repeat(pa.scalar(value, pa.large_string()), n), dtype=TEXT_DTYPE)
