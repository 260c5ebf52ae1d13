"""Tests of hotspots.read.crimes: the readers, on the real files and on hand-made edge cases."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from hotspots.errors import InputDataError
from hotspots.read import csv_engine, mapped, sources
from hotspots.read.datasets import get_path
from hotspots.read.layers import read_areas, read_streets
from hotspots.read.mapped import read_mapped, read_mapping
from hotspots.read.policeuk import POLICE_UK_COLUMNS, read_police_uk
from hotspots.read.schema import CRIME_COLUMNS, REJECTED_COLUMNS
from hotspots.read.sources import Source
from hotspots.rejects import (
    REASON_DATE,
    REASON_DUPLICATE,
    REASON_MALFORMED,
    REASON_NO_COORDS,
    REASON_PERIOD,
    REASON_PRIVACY,
    REASON_RANGE,
    REASON_TYPE,
)

HEADER = ",".join(POLICE_UK_COLUMNS)


def _row(
    cid: str = "abc",
    month: str = "2017-01",
    lon: str = "-0.12",
    lat: str = "51.51",
    loc: str = "On or near Strand",
    ctype: str = "Burglary",
) -> str:
    force = "Metropolitan Police Service"
    return f"{cid},{month},{force},{force},{lon},{lat},{loc},,,{ctype},,"


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# inputs -------------------------------------------------------------------------------------


def test_missing_columns_named(tmp_path: Path) -> None:
    f = _write(tmp_path / "2017-01-x-street.csv", ["a,b"], header="Crime ID,Month")
    with pytest.raises(
        InputDataError,
        match=r"2017-01-x-street.csv: missing required column\(s\) "
        r"\['Longitude', 'Latitude', 'Location', 'Crime type'\]",
    ):
        read_police_uk([f])


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "2017-01-x-street.csv"
    f.write_bytes(b"")
    with pytest.raises(InputDataError, match=r"2017-01-x-street\.csv: file is empty"):
        read_police_uk([f])


def test_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "2017-01-x-street.csv"
    f.write_bytes((HEADER + "\n" + _row(loc="On or near Caf\xe9 Road") + "\n").encode("latin-1"))
    with pytest.raises(
        InputDataError, match=r"2017-01-x-street\.csv: cannot be read as a UTF-8 CSV"
    ):
        read_police_uk([f])


def test_not_a_csv(tmp_path: Path) -> None:
    f = tmp_path / "2017-01-x-street.csv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    with pytest.raises(InputDataError, match="not"):
        read_police_uk([f])


def test_zip_without_street_csv(tmp_path: Path) -> None:
    z = tmp_path / "2017-01.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("2017-01/2017-01-metropolitan-outcomes.csv", "a,b\n1,2\n")
    with pytest.raises(InputDataError, match=r"2017-01.zip is a zip archive with no \*-street.csv"):
        read_police_uk([z])


def test_missing_path() -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        read_police_uk([Path("/nonexistent/folder")])


def test_unknown_mapping() -> None:
    with pytest.raises(InputDataError, match="unknown --format 'nope'"):
        read_mapping("nope")


def test_mapping_needs_coordinates(tmp_path: Path) -> None:
    m = tmp_path / "m.toml"
    m.write_text('[columns]\ndate = "d"\n', encoding="utf-8")
    with pytest.raises(InputDataError, match="needs coordinates"):
        read_mapping(m)


def test_areas_must_be_polygons(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame({"ward_code": ["A"]}, geometry=gpd.points_from_xy([0], [0]), crs=27700)
    f = tmp_path / "pts.gpkg"
    pts.to_file(f)
    with pytest.raises(InputDataError, match="areas must be polygons"):
        read_areas(f)


def test_streets_must_be_lines(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame({"name": ["A"]}, geometry=gpd.points_from_xy([0], [0]), crs=27700)
    f = tmp_path / "pts.gpkg"
    pts.to_file(f)
    with pytest.raises(InputDataError, match="streets must be a line layer"):
        read_streets(f)


# outputs ------------------------------------------------------------------------------------


def test_every_row_kept_or_rejected(tmp_path: Path) -> None:
    rows = [
        _row("a"),
        _row("", lon="", lat=""),  # no coordinates
        _row("c", month="2017-13"),  # bad month
        _row("d", lon="200"),  # out of range
        "e,2017-01,too,few,fields",  # malformed
        _row("", ctype="Anti-social behaviour"),  # empty id: never a duplicate
        _row("", ctype="Anti-social behaviour"),
    ]
    f = _write(tmp_path / "2017-01-x-street.csv", rows)
    kept, rej = read_police_uk([f], quiet=True)
    assert len(kept) + len(rej) == len(rows)
    assert dict(zip(rej["source_row"], rej["reason"], strict=True)) == {
        2: REASON_NO_COORDS,
        3: REASON_DATE,
        4: REASON_RANGE,
        5: REASON_MALFORMED,
    }
    assert kept["source_row"].tolist() == [1, 6, 7]
    assert list(rej.columns) == REJECTED_COLUMNS


def test_duplicate_ids_across_files_only(tmp_path: Path) -> None:
    a = _write(tmp_path / "2017-01-a-street.csv", [_row("x"), _row("x", ctype="Robbery")])
    b = _write(tmp_path / "2017-01-b-street.csv", [_row("x")])
    kept, rej = read_police_uk([a, b], quiet=True)
    assert len(kept) == 2  # police.uk repeats an id within a file for separate offences
    assert rej[["source_file", "reason", "value"]].values.tolist() == [
        [str(b.resolve()), REASON_DUPLICATE, "x"]  # files are named by their full path
    ]


def test_plain_gzip_and_zip_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    src = _write(tmp_path / "plain" / "2017-01-metropolitan-street.csv", [_row("a"), _row("b")])
    gz = tmp_path / "gz" / "2017-01-metropolitan-street.csv.gz"
    gz.parent.mkdir()
    with src.open("rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    z = tmp_path / "zip" / "2017-01.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(src, "2017-01/2017-01-metropolitan-street.csv")
        zf.writestr("2017-01/2017-01-metropolitan-outcomes.csv", "x\n")
    frames = [read_police_uk([p], quiet=True)[0] for p in (src.parent, gz.parent, z.parent)]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(
            f.drop(columns="source_file"), frames[0].drop(columns="source_file")
        )


def test_big_gzip_is_streamed_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gzip files over the in-memory limit are streamed by Arrow: same rows, and a file cut
    short is reported by name on both paths."""
    path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    whole = read_police_uk([path], quiet=True)
    monkeypatch.setattr(csv_engine, "_INFLATE_WHOLE_MAX", 0)
    streamed = read_police_uk([path], quiet=True)
    pd.testing.assert_frame_equal(streamed[0], whole[0])
    pd.testing.assert_frame_equal(streamed[1], whole[1])
    cut = tmp_path / "2017-12-cut-street.csv.gz"
    cut.write_bytes(path.read_bytes()[:200_000])
    with pytest.raises(InputDataError, match=r"2017-12-cut-street\.csv\.gz: cannot be read"):
        read_police_uk([cut], quiet=True)
    monkeypatch.undo()
    with pytest.raises(InputDataError, match=r"2017-12-cut-street\.csv\.gz: not a readable gzip"):
        read_police_uk([cut], quiet=True)


def test_gzip_of_several_members_is_read_whole(tmp_path: Path) -> None:
    """The gzip trailer gives only the last member's size: the buffer grows to the rest."""
    path = tmp_path / "2017-01-x-street.csv.gz"
    body = "".join(_row(f"id{i}") + "\n" for i in range(20_000))
    path.write_bytes(gzip.compress((HEADER + "\n").encode()) + gzip.compress(body.encode()))
    content = sources.gunzip_buffer(Source(path.name, path)).to_pybytes()
    assert content == gzip.decompress(path.read_bytes())
    kept, rejected = read_police_uk([path], quiet=True)
    assert len(kept) + len(rejected) == 20_000


def test_bom_is_ignored(tmp_path: Path) -> None:
    f = tmp_path / "2017-01-x-street.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n" + _row() + "\n").encode())
    kept, _ = read_police_uk([f], quiet=True)
    assert len(kept) == 1


def test_type_and_period_filters(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "2017-01-x-street.csv",
        [_row("a"), _row("b", ctype="Robbery"), _row("c", month="2016-12")],
    )
    kept, rej = read_police_uk([f], crime_types=["burglary"], start="2017-01", quiet=True)
    assert kept["crime_id"].tolist() == ["a"]
    assert sorted(rej["reason"]) == sorted([REASON_PERIOD, REASON_TYPE])


def test_real_police_uk_month(london_month: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    kept, rej = london_month
    path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        n_lines = sum(1 for _ in fh) - 1
    assert len(kept) + len(rej) == n_lines
    assert kept.crs.to_epsg() == 27700
    assert [c for c in CRIME_COLUMNS if c not in kept.columns] == []
    assert kept.geom_type.unique().tolist() == ["Point"]
    assert kept["month"].unique().tolist() == ["2017-12"]
    assert not kept["has_time"].any()
    # London lies in British National Grid eastings 500-560 km, northings 155-200 km
    assert kept["x"].between(500_000, 565_000).all() and kept["y"].between(155_000, 205_000).all()


def test_real_vancouver_mapping(vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    kept, rej = vancouver
    assert len(kept) + len(rej) == 206_933  # SOURCES.md row count
    reasons = rej["reason"].value_counts()
    # SOURCES.md: 22,505 rows have no usable coordinate (offset to 0/0, or empty X/Y)
    assert reasons[REASON_PRIVACY] + reasons[REASON_NO_COORDS] == 22_505
    assert kept.crs.to_epsg() == 26910
    midnight = (kept["occurred_from"].dt.hour == 0) & (kept["occurred_from"].dt.minute == 0)
    assert not kept.loc[midnight, "has_time"].any()  # the 00:00 placeholder is not a time
    assert kept.loc[~midnight, "has_time"].all()
    whole_day = kept.loc[midnight, "occurred_to"] - kept.loc[midnight, "occurred_from"]
    assert (whole_day == pd.Timedelta(days=1)).all()


def test_geoparquet_through_mapping(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {
            "ref": ["1", "2", "3"],
            "when": ["2024-01-05 22:30", "2024-01-06 01:10", "bad"],
            "offence": ["Robbery", "Burglary", "Robbery"],
        },
        geometry=gpd.points_from_xy([-123.12, -123.10, -123.11], [49.28, 49.27, 49.26]),
        crs=4326,
    )
    f = tmp_path / "extract.parquet"
    gdf.to_parquet(f)
    m = tmp_path / "m.toml"
    m.write_text(
        '[columns]\nid = "ref"\ndatetime = "when"\ncrime_type = "offence"\ngeometry = "geometry"\n',
        encoding="utf-8",
    )
    kept, rej = read_mapped([f], read_mapping(m), quiet=True)
    assert kept.crs.to_epsg() == 32610  # UTM zone 10N chosen from the data
    assert kept["has_time"].all() and len(kept) == 2
    assert rej["reason"].tolist() == [REASON_DATE]


def test_read_areas_guesses_fields(london_wards: gpd.GeoDataFrame) -> None:
    assert list(london_wards.columns[:2]) == ["area_code", "area_name"]
    assert london_wards["area_code"].is_unique and len(london_wards) == 625
    assert "borough" in london_wards.columns


def test_read_streets_explodes_multilines(data_root: Path) -> None:
    s = read_streets(get_path("vancouver_streets"))
    assert s.geom_type.unique().tolist() == ["LineString"]
    assert len(s) >= 17_031 and s["street_name"].isna().all()
    assert np.array_equal(s["source_id"].iloc[:3].to_numpy(), np.array(["0", "1", "2"]))


def test_datetime_from_parts_equals_pandas() -> None:
    """Date parts assembled in NumPy give pd.to_datetime's answer; any invalid part sends
    the whole column to pandas (NaT there)."""
    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(1, 200))
        parts = {
            "year": rng.integers(2015, 2026, n),
            "month": rng.integers(1, 13, n),
            "day": rng.integers(1, 32, n),
            "hour": rng.integers(0, 24, n),
            "minute": rng.integers(0, 60, n),
        }
        frame = pd.DataFrame(parts).astype(float)
        if trial % 4 == 1:
            frame.loc[0, "hour"] = np.nan
        if trial % 4 == 2:
            frame.loc[0, "minute"] = 7.5
        text = {k: frame[k] for k in frame}
        got = mapped._datetime_from_parts(text)
        want = pd.to_datetime(frame, errors="coerce")
        np.testing.assert_array_equal(
            got.to_numpy().astype("datetime64[us]"), want.to_numpy().astype("datetime64[us]")
        )


def test_reader_restores_the_garbage_collector(tmp_path: Path) -> None:
    import gc

    f = _write(tmp_path / "2017-01-x-street.csv", [_row("a")])
    assert gc.isenabled()
    read_police_uk([f], quiet=True)
    assert gc.isenabled()
    with pytest.raises(InputDataError):
        read_police_uk([tmp_path / "missing-street.csv"], quiet=True)
    assert gc.isenabled()
    gc.disable()
    try:
        read_police_uk([f], quiet=True)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_file_that_keeps_nothing_leaves_the_dtypes_alone(tmp_path: Path) -> None:
    """A file whose every month is bad parses its dates at another resolution; it adds no
    kept row, so the joined dates stay datetimes (not Python objects)."""
    good = _write(tmp_path / "2017-01-a-street.csv", [_row("a")])
    bad = _write(tmp_path / "2017-02-b-street.csv", [_row("b", month="2017-13")])
    kept, rejected = read_police_uk([good, bad], quiet=True)
    assert kept["occurred_from"].dtype.kind == "M"
    assert rejected["value"].tolist() == ["2017-13"]


def test_repeated_ids_from_several_files_keep_their_values(tmp_path: Path) -> None:
    a = _write(tmp_path / "2017-01-a-street.csv", [_row("x"), _row("y")])
    b = _write(tmp_path / "2017-01-b-street.csv", [_row("x"), _row("z", lon="")])
    c = _write(tmp_path / "2017-01-c-street.csv", [_row("y")])
    kept, rej = read_police_uk([a, b, c], quiet=True)
    assert kept["crime_id"].tolist() == ["x", "y"]
    assert sorted(rej[["reason", "value"]].values.tolist()) == [
        [REASON_DUPLICATE, "x"],
        [REASON_DUPLICATE, "y"],
        [REASON_NO_COORDS, "x=, y=51.51"],
    ]
