"""Property tests: one police.uk month read from several downloads is read once.

Small police.uk files are generated (crimes with and without Crime IDs, repeats inside the
file, rows with bad coordinates or months) and written as plain, gzipped or zipped copies in
two download folders with their own modification times. Whatever the order of the folders,
the kept rows are those of the newer copy read alone, and every row of the other copy is
rejected as a duplicate publication.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots.read.policeuk import POLICE_UK_COLUMNS, read_police_uk
from hotspots.rejects import REASON_PUBLICATION

HEADER = ",".join(POLICE_UK_COLUMNS)
FORCE = "Metropolitan Police Service"

_row = st.tuples(
    st.sampled_from(["", "id1", "id2", "id3", "x" * 64]),  # empty: anti-social behaviour
    st.sampled_from(["2017-01", "2017-01", "2017-13"]),
    st.sampled_from(["-0.1201", "-0.1302", "", "200"]),
    st.sampled_from(["51.5101", "51.5202"]),
    st.sampled_from(["Burglary", "Anti-social behaviour", "Robbery"]),
)
_rows = st.lists(_row, min_size=1, max_size=12)


def _text(rows: list[tuple[str, str, str, str, str]]) -> str:
    lines = [
        f"{cid},{month},{FORCE},{FORCE},{lon},{lat},On or near Strand,,,{ctype},,"
        for cid, month, lon, lat, ctype in rows
    ]
    return "\n".join([HEADER, *lines]) + "\n"


def _write(folder: Path, text: str, form: str, mtime: float) -> Path:
    """Write one copy of the month as a plain, gzipped or zipped file; return the folder."""
    folder.mkdir(parents=True)
    name = "2017-01-metropolitan-street.csv"
    if form == "plain":
        path = folder / name
        path.write_text(text, encoding="utf-8")
    elif form == "gzip":
        path = folder / f"{name}.gz"
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path = folder / "download.zip"  # not an archive-month name: times decide
        when = time.localtime(mtime)[:6]  # zip times are local wall-clock times
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(zipfile.ZipInfo(f"2017-01/{name}", date_time=when), text)
    os.utime(path, (mtime, mtime))
    return folder


def _kept(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    kept, rejected = read_police_uk(paths, quiet=True)
    rows = pd.DataFrame(kept.drop(columns=["source_file", "geometry"]))
    for col in rows.columns[rows.dtypes == "category"]:  # categories hold every file's words
        rows[col] = rows[col].astype(object)
    return rows.sort_values(["source_row"]).reset_index(drop=True), rejected


_forms = st.sampled_from(["plain", "gzip", "zip"])
_times = st.integers(min_value=1_400_000_000, max_value=1_700_000_000).map(float)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=_rows,
    forms=st.tuples(_forms, _forms),
    times=st.tuples(_times, _times),
    reverse=st.booleans(),
)
def test_same_month_twice_keeps_what_once_keeps(
    rows: list[tuple[str, str, str, str, str]],
    forms: tuple[str, str],
    times: tuple[float, float],
    reverse: bool,
) -> None:
    text = _text(rows)
    with tempfile.TemporaryDirectory() as tmp:
        a = _write(Path(tmp) / "download_a", text, forms[0], times[0])
        b = _write(Path(tmp) / "download_b", text, forms[1], times[1])
        once, _ = _kept([a])
        twice, rejected = _kept([b, a] if reverse else [a, b])
        pd.testing.assert_frame_equal(twice, once, check_dtype=len(once) > 0)
        n = len(rows)
        assert (rejected["reason"] == REASON_PUBLICATION).sum() == n  # one copy, whole
        assert len(twice) + len(rejected) == 2 * n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    old_rows=_rows,
    new_rows=_rows,
    forms=st.tuples(_forms, _forms),
    times=st.tuples(_times, _times).filter(lambda t: abs(t[0] - t[1]) > 4),
    reverse=st.booleans(),
)
def test_a_republished_month_keeps_the_newer_copy(
    old_rows: list[tuple[str, str, str, str, str]],
    new_rows: list[tuple[str, str, str, str, str]],
    forms: tuple[str, str],
    times: tuple[float, float],
    reverse: bool,
) -> None:
    """Two different publications: the kept rows are the newer one's, read alone."""
    with tempfile.TemporaryDirectory() as tmp:
        first = _write(Path(tmp) / "first", _text(old_rows), forms[0], times[0])
        second = _write(Path(tmp) / "second", _text(new_rows), forms[1], times[1])
        newer = first if times[0] > times[1] else second
        alone, _ = _kept([newer])
        both, rejected = _kept([second, first] if reverse else [first, second])
        pd.testing.assert_frame_equal(both, alone, check_dtype=len(alone) > 0)
        older_rows = new_rows if newer is first else old_rows
        superseded = rejected[rejected["reason"] == REASON_PUBLICATION]
        assert len(superseded) == len(older_rows)
        assert superseded["source_file"].nunique() == 1
        assert Path(str(superseded["source_file"].iloc[0]).split(".zip:")[0]).is_absolute()
