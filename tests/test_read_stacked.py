"""Crime files made canonical once for all (:mod:`hotspots.read.stacked`).

The joined reading must give exactly what reading file by file gives (the path it replaces,
still used for one police.uk file and as the fallback): the same kept rows, dtypes and categories,
and the same rejected rows in the same order. Small files are generated with malformed
rows, bad coordinates and months, ids repeated inside and across files, and files that
keep nothing; the file-by-file result is had by turning the joined path off.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots.read import mapped, policeuk, stacked
from hotspots.read.layers import read_areas
from hotspots.read.policeuk import POLICE_UK_COLUMNS, read_police_uk
from hotspots.read.sources import Source

HEADER = ",".join(POLICE_UK_COLUMNS)

_row = st.tuples(
    st.sampled_from(["", "id1", "id2", "x" * 64, "y" * 64]),  # empty: anti-social behaviour
    st.sampled_from(["2017-01", "2017-02", "2017-13"]),
    st.sampled_from(["-0.1201", "-0.1302", "", "200", " -0.1403"]),
    st.sampled_from(["51.5101", "51.5202"]),
    st.sampled_from(["Burglary", "Anti-social behaviour", "Robbery ", "Drugs"]),
    st.sampled_from(["On or near Strand", "On or near Mall", " On or near Strand"]),
    st.booleans(),  # a malformed row (one field too many)
)
_file = st.lists(_row, min_size=0, max_size=8)


def _text(rows: list[tuple[str, str, str, str, str, str, bool]]) -> str:
    force = "Metropolitan Police Service"
    lines = [
        f"{cid},{month},{force},{force},{lon},{lat},{loc},,,{ctype},," + (",extra" if bad else "")
        for cid, month, lon, lat, ctype, loc, bad in rows
    ]
    return "\n".join([HEADER, *lines]) + "\n"


def _both(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch, **options: object
) -> tuple[tuple[gpd.GeoDataFrame, pd.DataFrame], tuple[gpd.GeoDataFrame, pd.DataFrame]]:
    joined = read_police_uk(paths, quiet=True, **options)  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(policeuk, "assemble_stacked", lambda *a, **k: None)
        by_file = read_police_uk(paths, quiet=True, **options)  # type: ignore[arg-type]
    return joined, by_file


def _assert_same(
    a: tuple[gpd.GeoDataFrame, pd.DataFrame], b: tuple[gpd.GeoDataFrame, pd.DataFrame]
) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(a[0]), pd.DataFrame(b[0]), check_exact=True)
    for col, dtype in a[0].dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            assert dtype.categories.equals(b[0][col].dtype.categories), col
            assert dtype.categories.dtype == b[0][col].dtype.categories.dtype, col
    pd.testing.assert_frame_equal(_decoded(a[1]), _decoded(b[1]), check_exact=True)


def _decoded(rejected: pd.DataFrame) -> pd.DataFrame:
    """The rejected table's cells as Python objects (text columns' dtypes not compared).

    Its categorical columns hold the categories of the files the rows came from, and text
    joined from tables of different categories falls back to objects, which differ by
    path; what is written (each cell, in order) is compared.
    """
    text = [c for c in rejected.columns if c != "source_row"]
    return rejected.astype(dict.fromkeys(text, object))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(_file, min_size=2, max_size=4), period=st.booleans())
def test_joined_files_read_as_file_by_file(
    files: list[list[tuple[str, str, str, str, str, str, bool]]], period: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        paths = []
        for i, rows in enumerate(files):
            path = Path(tmp) / f"2017-{i + 1:02d}-force{i}-street.csv.gz"
            path.write_bytes(gzip.compress(_text(rows).encode(), mtime=0))
            paths.append(path)
        options = {"start": "2017-02", "end": "2017-02"} if period else {}
        try:
            joined, by_file = _both(paths, mp, **options)
        except Exception as err:  # no row at all: both ways must fail alike
            with pytest.raises(type(err)):
                _both(paths, mp, **options)
            return
        _assert_same(joined, by_file)


def test_real_months_with_areas_and_period(
    data_root: Path, london_wards: gpd.GeoDataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three London months, one outside the period (it keeps nothing), joined with wards."""
    folder = data_root / "london" / "crimes"
    paths = [folder / f"2017-{m:02d}-metropolitan-street.csv.gz" for m in (10, 11, 12)]
    joined, by_file = _both(paths, monkeypatch, start="2017-11", areas=london_wards)
    assert set(joined[0]["month"]) == {"2017-11", "2017-12"}
    assert len(joined[1]) > 60000  # October, rejected
    _assert_same(joined, by_file)


def _both_mapped(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch, **options: object
) -> tuple[tuple[gpd.GeoDataFrame, pd.DataFrame], tuple[gpd.GeoDataFrame, pd.DataFrame]]:
    mapping = mapped.read_mapping("vancouver")
    joined = mapped.read_mapped(paths, mapping, quiet=True, **options)  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(mapped, "assemble_stacked", lambda *a, **k: None)
        by_file = mapped.read_mapped(paths, mapping, quiet=True, **options)  # type: ignore[arg-type]
    return joined, by_file


def test_mapped_files_read_as_file_by_file(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vancouver's extract cut into three files (one with a malformed row); two, a period."""
    lines = gzip.decompress(
        (data_root / "vancouver" / "vpd_crimedata_2020_2025.csv.gz").read_bytes()
    ).splitlines(keepends=True)
    paths = []
    for i, (lo, hi) in enumerate(((1, 20001), (20001, 40001), (150001, 170001))):
        body = lines[lo:hi] + ([b"a,b\n"] if i == 1 else [])
        paths.append(tmp_path / f"part{i}.csv")
        paths[-1].write_bytes(lines[0] + b"".join(body))
    areas = read_areas(data_root / "vancouver" / "local_areas.gpkg")
    joined, by_file = _both_mapped(paths, monkeypatch, areas=areas)
    assert (joined[1]["reason"] == "malformed row").sum() == 1
    _assert_same(joined, by_file)
    _assert_same(*_both_mapped(paths[1:], monkeypatch, start="2023-01"))


def test_text_over_the_limit_read_file_by_file(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More text than STACK_MAX_BYTES is not joined first (memory), and reads the same."""
    folder = data_root / "london" / "crimes"
    paths = [folder / f"2017-{m:02d}-metropolitan-street.csv.gz" for m in (11, 12)]
    sources = [Source(str(p), p) for p in paths]
    size = sum(map(stacked.text_bytes, sources))
    assert size == sum(len(gzip.decompress(p.read_bytes())) for p in paths)
    assert stacked.stack_fits(sources, limit=size)
    assert not stacked.stack_fits(sources, limit=size - 1)
    joined = read_police_uk(paths, quiet=True)
    with monkeypatch.context() as m:
        m.setattr(stacked, "STACK_MAX_BYTES", size - 1)

        def never(*args: object, **kwargs: object) -> None:
            msg = "joined although over the limit"
            raise AssertionError(msg)

        m.setattr(policeuk, "assemble_stacked", never)
        by_file = read_police_uk(paths, quiet=True)
    _assert_same(joined, by_file)


def test_one_mapped_file_read_as_file_by_file(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vancouver's whole extract, one file: joined (parsed on every core) as file by file."""
    path = data_root / "vancouver" / "vpd_crimedata_2020_2025.csv.gz"
    areas = read_areas(data_root / "vancouver" / "local_areas.gpkg")
    joined, by_file = _both_mapped([path], monkeypatch, areas=areas)
    assert len(joined[0]) + len(joined[1]) == 206_933
    assert set(joined[1]["reason"]) == {
        "privacy offset (location withheld at source)",
        "no coordinates",
        "outside study area",
    }
    _assert_same(joined, by_file)


_VPD_HEADER = "TYPE,YEAR,MONTH,DAY,HOUR,MINUTE,HUNDRED_BLOCK,NEIGHBOURHOOD,X,Y"


@pytest.mark.parametrize(
    "rows",
    [
        [  # kept rows, a malformed row, no coordinates, a bad date, midnight, privacy offsets
            "Theft from Vehicle,2021,3,4,13,5, 10XX ALBERNI ST,CBD,491000.5,5459000.25",
            "Mischief,2021,3,31,0,0,10XX ALBERNI ST,CBD,491000.5,5459000.25",
            "Mischief,2021,2,30,1,2,10XX BEACH AVE,CBD,491010.0,5459010.0",
            "Mischief,2021,2,3,1,2,10XX BEACH AVE ,CBD,,",
            "Offence Against a Person,2021,5,6,0,0,OFFSET TO PROTECT PRIVACY,CBD,0.0,0.0",
            "Theft of Bicycle,2020,12,31,23,59,YUKON ST / W 8TH AVE,FAIR,491500,5457000,extra",
            "Theft of Bicycle,2022,1,1,0,1,YUKON ST / W 8TH AVE,FAIR,1.0,2.0",
        ],
        [  # every row rejected: read file by file, as before
            "Offence Against a Person,2021,5,6,0,0,OFFSET TO PROTECT PRIVACY,CBD,0.0,0.0",
            "Homicide,2021,5,7,0,0,OFFSET TO PROTECT PRIVACY,CBD,0.0,0.0",
        ],
    ],
)
def test_one_generated_mapped_file_read_as_file_by_file(
    rows: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One small mapped file, with each kind of rejected row, read both ways."""
    path = tmp_path / "vpd.csv"
    path.write_text("\n".join([_VPD_HEADER, *rows]) + "\n", encoding="utf-8")
    try:
        joined, by_file = _both_mapped([path], monkeypatch)
    except Exception as err:  # no row kept: both ways must fail alike
        with pytest.raises(type(err)):
            _both_mapped([path], monkeypatch)
        return
    assert len(joined[0]) + len(joined[1]) == len(rows)
    _assert_same(joined, by_file)
