"""Tests of the canonical table built from cells parsed block by block (hotspots.read.canonical).

Arrow's parser, on every core, dictionary-encodes each block of a file on its own; the
categories made of those chunks, and the empty text columns, must be those of the text as
one column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hotspots.read.canonical import TEXT_DTYPE, canonical_frame
from hotspots.read.csv_engine import RawTable
from hotspots.read.sources import Source


def _chunks(blocks: list[list[str]]) -> pa.ChunkedArray:
    """Return text dictionary-encoded block by block, as Arrow's threaded parser gives it."""
    kind = pa.dictionary(pa.int32(), pa.string())
    return pa.chunked_array([pa.array(b, pa.string()).dictionary_encode() for b in blocks], kind)


def _frame(blocks: list[list[str]]) -> pd.DataFrame:
    n = sum(len(b) for b in blocks)
    start = pd.Series(pd.to_datetime(["2020-01-05"] * n))
    cols = {
        "occurred_from": start,
        "occurred_to": start,
        "has_time": False,
        "x": np.zeros(n),
        "y": np.zeros(n),
        "raw_x": pd.Series(["0"] * n, dtype=TEXT_DTYPE),
        "raw_y": pd.Series(["0"] * n, dtype=TEXT_DTYPE),
        "location": _chunks(blocks),
        "crime_type": _chunks([["Theft"] * len(b) for b in blocks]),
    }
    raw = RawTable(pd.DataFrame(index=pd.RangeIndex(n)), np.arange(1, n + 1), [])
    return canonical_frame(raw, Source("f.csv", Path("f.csv")), cols)


@pytest.mark.parametrize(
    "blocks",
    [
        [["10XX MAIN ST", " 10XX MAIN ST", "1XX E HASTINGS ST "], ["Z ST", "10XX MAIN ST", "A"]],
        [["b", "a"], [], ["a ", "c", "b"], ["", " "]],
        [["only one block", "only one block"]],
    ],
)
def test_blocks_make_the_categories_of_the_whole_column(blocks: list[list[str]]) -> None:
    """Stripped, sorted as Arrow sorts text, codes in the order of the rows."""
    frame = _frame(blocks)
    cells = [s.strip() for b in blocks for s in b]
    expected = sorted(set(cells), key=lambda s: s.encode())
    location = frame["location"].array
    assert list(location.categories) == expected
    assert location.categories.dtype == TEXT_DTYPE
    assert list(location.astype(object)) == cells
    assert location.codes.dtype == np.int8  # as pandas keeps codes of a few categories


def test_empty_text_columns_are_arrow_text() -> None:
    """``crime_id`` and ``raw_date``, not given, are empty Arrow text on every row."""
    frame = _frame([["a", "b"], ["c"]])
    for col in ("crime_id", "raw_date"):
        assert frame[col].dtype == TEXT_DTYPE
        assert frame[col].tolist() == ["", "", ""]
        assert frame[col].array._pa_array.type == pa.large_string()
    frame.loc[0, "crime_id"] = "x"  # one column changed, the other left as it was
    assert frame["raw_date"].tolist() == ["", "", ""]
