"""The load stage's cheaper paths give what the plain ones give.

The area layer read in a thread (:func:`hotspots.read.layers.read_areas_beside`), the
privacy locations found per category in Arrow, the kept rows taken by position, found once
for all columns (:func:`hotspots.read.canonical.stack_frames`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.errors import InputDataError
from hotspots.read.canonical import TEXT_DTYPE, stack_frames
from hotspots.read.crimes import read_crimes
from hotspots.read.layers import areas_of, read_areas, read_areas_beside
from hotspots.rejects import _per_distinct, _privacy_location

#: Characters that make the ASCII path and Python's own differ if handled apart.
_PIECES = ["a", "A", "z", " ", "\t", "\x1c", "\x1f", "\x0b", "OFFSET", "x", "ß", "\u0131", "ﬁ", "é"]
_PRIVACY = {"OFFSET", "X", "FIX", "IX", "", "A A"}
_WORDS = {
    "ascii": st.lists(st.sampled_from(_PIECES[:10]), max_size=4).map("".join),
    "any": st.lists(st.sampled_from(_PIECES), max_size=4).map("".join),
}


def _python_test(u: pd.Series) -> np.ndarray:
    return np.asarray(u.astype(str).str.strip().str.upper().isin(_PRIVACY).to_numpy())


@pytest.mark.parametrize("text", ["ascii", "any"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_privacy_per_category_as_per_row(text: str, data: st.DataObject) -> None:
    """Per category (in Arrow for ASCII text, else Python) as the test of every row's text."""
    words = data.draw(st.lists(_WORDS[text], min_size=1, max_size=40, unique=True))
    picks = data.draw(st.lists(st.integers(-1, 39), max_size=80))
    dtype = pd.CategoricalDtype(pd.Index(pd.array(words, dtype=TEXT_DTYPE)))
    codes = np.array([p if p < len(words) else -1 for p in picks], dtype=np.int64)
    location = pd.Series(pd.Categorical.from_codes(codes, dtype=dtype))
    as_text = pd.Series(location.astype(object), dtype=TEXT_DTYPE)
    expected = _per_distinct(as_text, _python_test)
    assert np.array_equal(_privacy_location(location, _PRIVACY), expected)


@pytest.mark.parametrize("dropped", ["none", "few", "many", "all", "mask of none"])
def test_stack_frames_plans(dropped: str) -> None:
    """Each way of copying kept rows gives ``pd.concat`` then a row selection."""
    rng = np.random.default_rng(7)
    frames = [
        pd.DataFrame(
            {
                "x": rng.normal(size=n),
                "k": rng.integers(0, 9, n).astype(np.int16),
                "t": pd.array([f"r{i}" for i in range(n)], dtype=TEXT_DTYPE),
                "c": pd.Categorical.from_codes(rng.integers(0, 3, n), categories=["a", "b", "c"]),
            }
        )
        for n in (3000, 1, 2500)
    ]
    total = sum(map(len, frames))
    keep = {
        "none": None,
        "few": ~np.isin(np.arange(total), [5, 6, 3000, 5400]),
        "many": rng.random(total) < 0.6,
        "all": np.zeros(total, dtype=bool),
        "mask of none": np.ones(total, dtype=bool),
    }[dropped]
    got = stack_frames(frames, keep=keep)
    joined = pd.concat(frames, ignore_index=True)
    expected = joined if keep is None else joined[keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=True)


def test_areas_beside_as_read(data_root: Path) -> None:
    """The layer read in a thread is the layer :func:`read_areas` gives."""
    path = data_root / "vancouver" / "local_areas.gpkg"
    later = read_areas_beside(path)
    pd.testing.assert_frame_equal(pd.DataFrame(areas_of(later)), pd.DataFrame(read_areas(path)))


def test_areas_beside_error_on_result(tmp_path: Path) -> None:
    """A bad area file's one-line error comes from the future, unchanged."""
    bad = tmp_path / "areas.gpkg"
    bad.write_text("not a layer")
    with pytest.raises(InputDataError) as direct:
        read_areas(bad)
    with pytest.raises(InputDataError) as later:
        read_areas_beside(bad).result()
    assert str(later.value) == str(direct.value)


def test_read_crimes_with_areas_being_read(data_root: Path) -> None:
    """A reader given the future of the areas joins them as given the layer."""
    van = data_root / "vancouver"
    crimes = [van / "vpd_crimedata_2020_2025.csv.gz"]
    areas = read_areas(van / "local_areas.gpkg")
    kept, rejected = read_crimes(crimes, fmt="vancouver", start="2025-06", quiet=True, areas=areas)
    kept2, rejected2 = read_crimes(
        crimes,
        fmt="vancouver",
        start="2025-06",
        quiet=True,
        areas=read_areas_beside(van / "local_areas.gpkg"),
    )
    pd.testing.assert_frame_equal(pd.DataFrame(kept), pd.DataFrame(kept2))
    pd.testing.assert_frame_equal(rejected, rejected2)
    assert "area_code" in kept2 and (rejected2["reason"] == "outside study area").any()
