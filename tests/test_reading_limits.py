"""Issue 17, reading side, through the CLI: files by full path, one publication per
force-month, skipped files listed, bounded memory, layer choice, the mapping schema and the
raw rejected value. Fixtures come from tests/fixtures/bad/make_bad.py."""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.errors import InputDataError

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
sys.path.insert(0, str(BAD))
import make_bad  # noqa: E402

AREAS, STREETS = BAD / "areas_ok.geojson", BAD / "streets_ok.geojson"


def _run(
    tmp_path: Path, crimes: list[Path], *extra: str, areas: Path = AREAS, streets: Path = STREETS
) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    args = [
        "run",
        "--crimes",
        *map(str, crimes),
        "--areas",
        str(areas),
        "--streets",
        str(streets),
        "--out",
        str(out),
        "--min-crimes",
        "1",
        "--no-area-maps",
        "--quiet",
        *extra,
    ]
    res = CliRunner().invoke(app, args)
    return res.exit_code, res.output, out


def _one_line_error(code: int, output: str) -> str:
    assert code == 1, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    return output.strip()


# files by full path, one publication per force-month ------------------------------------------


def test_same_month_from_two_folders_is_counted_once(tmp_path: Path) -> None:
    """Two downloads of one month: the later file is kept, every row of the other (ASB rows
    without a Crime ID too) is rejected as a duplicate publication, named by full path."""
    rows = [*make_bad.good(3, "d"), make_bad.row("", ctype="Anti-social behaviour")]
    old = make_bad.police_uk_month(
        tmp_path / "jan" / "2017-01-metropolitan-street.csv", rows, mtime=1_500_000_000
    )
    new = make_bad.police_uk_month(
        tmp_path / "feb" / "2017-01-metropolitan-street.csv", rows, mtime=1_600_000_000
    )
    for order in ([new.parent, old.parent], [old.parent, new.parent]):
        code, output, out = _run(tmp_path, order, "--overwrite")
        assert code == 0, output
        manifest = json.loads((out / "run.json").read_text())
        assert manifest["accounting"] == {
            str(old): {"read": 4, "kept": 0, "rejected": {"duplicate publication": 4}},
            str(new): {"read": 4, "kept": 4, "rejected": {}},
        }
        rejected = pd.read_csv(out / "rejected.csv", dtype=str)
        assert set(rejected["value"]) == {str(new)}  # the file kept instead


def test_republished_archives_and_skipped_files(tmp_path: Path) -> None:
    """The newer archive month wins whatever the stored dates; outcomes and stop-and-search
    files are listed in run.json."""
    code, output, out = _run(tmp_path, [BAD / "republished"])
    assert code == 0, output
    manifest = json.loads((out / "run.json").read_text())
    kept = {k: v["kept"] for k, v in manifest["accounting"].items()}
    newer = f"{BAD}/republished/2019-02.zip:2017-01/2017-01-metropolitan-street.csv"
    assert kept[newer] == 6 and sum(kept.values()) == 6
    skipped = manifest["skipped_files"]
    assert len(skipped) == 4
    assert {Path(s["path"].split(":")[-1]).name for s in skipped} == set(make_bad.OTHER_FILES)
    assert {s["why"].split(" (")[0] for s in skipped} == {
        "police.uk outcomes file",
        "police.uk stop-and-search file",
    }
    check = Path(__file__).resolve().parents[2] / "shared" / "checks" / "check_run.py"
    if check.exists():
        res = subprocess.run(
            [sys.executable, str(check), str(out)], capture_output=True, text=True, check=False
        )
        assert res.returncode == 0, res.stdout + res.stderr


def test_same_file_given_twice_is_read_once(tmp_path: Path) -> None:
    f = make_bad.police_uk_month(
        tmp_path / "m" / "2017-01-metropolitan-street.csv", make_bad.good(3, "s")
    )
    code, output, out = _run(tmp_path, [f, f.parent, tmp_path / "m" / ".." / "m" / f.name])
    assert code == 0, output
    acc = json.loads((out / "run.json").read_text())["accounting"]
    assert acc == {str(f): {"read": 3, "kept": 3, "rejected": {}}}


# the raw rejected value -----------------------------------------------------------------------


def test_rejected_csv_keeps_the_raw_value(tmp_path: Path) -> None:
    rows = [
        *make_bad.good(2, "v"),
        make_bad.row("v8", month="2017-13"),
        make_bad.row("v9", lon="abc", lat="51.5"),
        "v10,2017-01,too,few",
    ]
    f = make_bad.police_uk_month(tmp_path / "c" / "2017-01-metropolitan-street.csv", rows)
    code, output, out = _run(tmp_path, [f])
    assert code == 0, output
    rejected = pd.read_csv(out / "rejected.csv", dtype=str, keep_default_na=False)
    assert dict(zip(rejected["reason"], rejected["value"], strict=True)) == {
        "unparseable date": "2017-13",
        "no coordinates": "x=abc, y=51.5",
        "malformed row": "v10,2017-01,too,few",
    }


# bounded memory -------------------------------------------------------------------------------


@pytest.mark.e2e  # whole `hotspots run`s in subprocesses, each inflating gigabytes
@pytest.mark.parametrize("bombs", [1, 3])
def test_decompression_bomb_stops_with_one_line_under_a_memory_limit(
    tmp_path: Path, bombs: int
) -> None:
    """A .csv.gz of 4 MB inflating to 6 GiB of empty rows (or a folder of three, inflated
    at once by the reader's threads), under a 4 GiB address-space limit: a one-line error
    naming a file and the limit, not the OOM killer."""
    folder = tmp_path / "bombs"
    folder.mkdir()
    for force in "abc"[:bombs]:
        make_bad.decompression_bomb(folder / f"2017-01-{force}-street.csv.gz", mebibytes=6144)
    limit = 4 << 30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotspots.cli",
            "run",
            "--crimes",
            str(folder),
            "--areas",
            str(AREAS),
            "--streets",
            str(STREETS),
            "--out",
            str(tmp_path / "out"),
        ],
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert time.perf_counter() - started < 30
    assert res.returncode == 1, res.stdout + res.stderr
    lines = (res.stdout + res.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert f"{folder}/2017-01-" in lines[0] and "too big for the memory available" in lines[0]
    assert "address-space limit" in lines[0]


def test_line_longer_than_a_block_is_one_line(tmp_path: Path) -> None:
    f = make_bad.long_line(tmp_path / "l" / "2017-01-long-street.csv", mebibytes=17)
    message = _one_line_error(*_run(tmp_path, [f])[:2])
    assert f"{f}: a line is longer than " in message and "MiB (a line break missing?)" in message


def test_no_line_break_at_all_is_one_line(tmp_path: Path) -> None:
    f = make_bad.long_line(tmp_path / "l" / "2017-01-noline-street.csv", mebibytes=2, header=False)
    message = _one_line_error(*_run(tmp_path, [f])[:2])
    assert f"{f}: no line break in the first 1 MiB" in message
    gz = f.with_name("2017-01-noline-street.csv.gz")  # 64 MiB inflated: stopped after 1 MiB
    gz.write_bytes(gzip.compress(b"x" * (64 << 20), compresslevel=1))
    message = _one_line_error(*_run(tmp_path, [gz])[:2])
    assert f"{gz}: no line break in the first 1 MiB" in message


# layers ---------------------------------------------------------------------------------------


def test_several_layers_need_a_choice(tmp_path: Path) -> None:
    both = make_bad.two_layer_geopackage(tmp_path / "both.gpkg")
    f = BAD / "2017-01-bom-street.csv"
    message = _one_line_error(*_run(tmp_path, [f], areas=both, streets=STREETS)[:2])
    assert "2 layers (wards, roads); choose the area layer with --areas-layer" in message
    message = _one_line_error(
        *_run(tmp_path, [f], "--areas-layer", "wards", areas=both, streets=both)[:2]
    )
    assert "choose the street layer with --streets-layer" in message
    message = _one_line_error(*_run(tmp_path, [f], "--areas-layer", "ward", areas=both)[:2])
    assert "no layer 'ward' (given by --areas-layer); its layers are wards, roads" in message
    code, output, out = _run(
        tmp_path,
        [f],
        "--areas-layer",
        "wards",
        "--streets-layer",
        "roads",
        areas=both,
        streets=both,
    )
    assert code == 0, output
    assert json.loads((out / "run.json").read_text())["totals"]["kept"] == 3


# the mapping schema ---------------------------------------------------------------------------

_GOOD_COLUMNS = 'x = "X"\ny = "Y"\nmonth = "Month"\ncrime_type = "Type"\n'


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            'crs = "EPSG:27700"\n[columns]\n' + _GOOD_COLUMNS.replace("crime_type", "crime_typ"),
            ["[columns] unknown key 'crime_typ' (did you mean 'crime_type'?)"],
        ),
        (
            'crs = "EPSG:27700"\n[columns]\n'
            + _GOOD_COLUMNS.replace('month = "Month"', 'month = ["Month"]'),
            ["[columns] month must be text (a column name); found ['Month']"],
        ),
        (
            'crs = 27700\nprojekt_to = "EPSG:27700"\n[columns]\n'
            + _GOOD_COLUMNS
            + '[rules]\nzero_xy_is_privacy_offset = "yes"\n',
            [
                "crs must be text; found 27700",
                "unknown key 'projekt_to' (did you mean 'project_to'?)",
                "[rules] zero_xy_is_privacy_offset must be true or false; found 'yes'",
            ],
        ),
    ],
)
def test_mapping_schema_errors_before_reading(
    tmp_path: Path, toml: str, expected: list[str]
) -> None:
    csv, mapping = make_bad.mapped_extract(tmp_path / "m", toml)
    message = _one_line_error(*_run(tmp_path, [csv], "--format", str(mapping))[:2])
    assert f"mapping {mapping}: " in message
    for text in expected:
        assert text in message
    assert "extract.csv" not in message  # no data was read


def test_valid_mapping_keeps_raw_dates(tmp_path: Path) -> None:
    csv, mapping = make_bad.mapped_extract(
        tmp_path / "m", 'crs = "EPSG:27700"\n[columns]\n' + _GOOD_COLUMNS
    )
    code, output, out = _run(tmp_path, [csv], "--format", str(mapping))
    assert code == 0, output
    rejected = pd.read_csv(out / "rejected.csv", dtype=str)
    assert rejected[["reason", "value"]].values.tolist() == [["unparseable date", "2017-13"]]
    assert rejected["source_file"].tolist() == [str(csv)]


def test_hot_streets_reads_the_chosen_layers(tmp_path: Path) -> None:
    both = make_bad.two_layer_geopackage(tmp_path / "both.gpkg")
    base = [
        "hot-streets",
        "--crimes",
        str(BAD / "2017-01-bom-street.csv"),
        "--areas",
        str(both),
        "--streets",
        str(both),
        "--min-crimes",
        "1",
        "--quiet",
    ]
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a")])
    message = _one_line_error(res.exit_code, res.output)
    assert "choose the area layer with --areas-layer" in message
    res = CliRunner().invoke(
        app,
        [*base, "--out", str(tmp_path / "b"), "--areas-layer", "wards", "--streets-layer", "roads"],
    )
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "b" / "hot_streets.csv")["crimes"].sum() == 3


def test_evaluate_reads_the_chosen_layers(tmp_path: Path) -> None:
    both = make_bad.two_layer_geopackage(tmp_path / "both.gpkg")
    base = [
        "evaluate",
        "--crimes",
        str(BAD / "2017-01-bom-street.csv"),
        "--streets",
        str(both),
        "--quiet",
    ]
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert "choose the street layer with --streets-layer" in _one_line_error(
        res.exit_code, res.output
    )
    res = CliRunner().invoke(
        app, [*base, "--out", str(tmp_path / "b"), "--streets-layer", "roads", "--areas", str(both)]
    )
    assert "choose the area layer with --areas-layer" in _one_line_error(res.exit_code, res.output)
    res = CliRunner().invoke(
        app,
        [
            *base,
            "--out",
            str(tmp_path / "c"),
            "--streets-layer",
            "roads",
            "--areas",
            str(both),
            "--areas-layer",
            "wards",
        ],
    )
    assert "layer" not in res.output and "no month to score" in res.output  # read, then too few


@pytest.mark.parametrize("form", ["plain", "gzip", "big gzip", "zip member"])
def test_every_way_of_reading_checks_the_memory_left(
    tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain files, gzip inflated whole or streamed, and zip members are all set against the
    memory left (here a 2 MiB budget) before they are parsed."""
    from hotspots.read import csv_engine, memory
    from hotspots.read.policeuk import read_police_uk

    text = "\n".join([make_bad.HEADER, *make_bad.good(20_000, "m")]) + "\n"  # 3 MB
    name = "2017-01-metropolitan-street.csv"
    if form == "plain":
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
    elif form in ("gzip", "big gzip"):
        path = tmp_path / f"{name}.gz"
        path.write_bytes(gzip.compress(text.encode()))
        if form == "big gzip":  # streamed by Arrow: counted in a first pass
            monkeypatch.setattr(csv_engine, "_INFLATE_WHOLE_MAX", 0)
    else:
        path = tmp_path / "2017-01.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"2017-01/{name}", text)
    monkeypatch.setattr(memory, "available", lambda: memory.Budget(2 << 20, "test budget of 2 MiB"))
    with pytest.raises(
        InputDataError,
        match="too big for the memory available: .* MiB of text"
        r".* free under the test budget of 2 MiB",
    ):
        read_police_uk([path], quiet=True)
    monkeypatch.setattr(memory, "available", lambda: memory.Budget(1 << 40, "test budget"))
    kept, rejected = read_police_uk([path], quiet=True)
    assert len(kept) + len(rejected) == 20_000


def test_arrow_allocates_from_jemalloc_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's Arrow buffers come from jemalloc (faster and smaller than mimalloc here);
    a pool chosen in ARROW_DEFAULT_MEMORY_POOL is kept."""
    import pyarrow as pa

    from hotspots.read import memory

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:  # a wheel without jemalloc: the run keeps Arrow's default
        pytest.skip("pyarrow built without jemalloc")
    was = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.mimalloc_memory_pool())
        monkeypatch.setenv(memory.ARROW_POOL_ENV, "mimalloc")
        memory.choose_arrow_pool()
        assert pa.default_memory_pool().backend_name == "mimalloc"
        monkeypatch.delenv(memory.ARROW_POOL_ENV)
        memory.choose_arrow_pool()
        assert pa.default_memory_pool().backend_name == "jemalloc"
    finally:
        pa.set_memory_pool(was)
