"""The bad-input corpus (tests/fixtures/bad/): every case gives a run whose manifest accounts
for every row, or a one-line error naming the file and problem with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotspots.cli import app

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
AREAS, STREETS = BAD / "areas_ok.geojson", BAD / "streets_ok.geojson"

# (crime input, areas, streets, {file: (kept, {reason: n})}) for runs that must succeed
OK_CASES = {
    "truncated last row": (
        "2017-01-truncated-street.csv",
        AREAS,
        STREETS,
        {"2017-01-truncated-street.csv": (4, {"malformed row": 1})},
    ),
    "malformed rows": (
        "2017-01-malformed-street.csv",
        AREAS,
        STREETS,
        {"2017-01-malformed-street.csv": (5, {"malformed row": 2})},
    ),
    "BOM": ("2017-01-bom-street.csv", AREAS, STREETS, {"2017-01-bom-street.csv": (3, {})}),
    "NaN and out-of-range coordinates": (
        "2017-01-badcoords-street.csv",
        AREAS,
        STREETS,
        {"2017-01-badcoords-street.csv": (2, {"no coordinates": 3, "coordinates out of range": 1})},
    ),
    "lat/lon swapped": (
        "2017-01-swapped-street.csv",
        AREAS,
        STREETS,
        {"2017-01-swapped-street.csv": (1, {"outside study area": 3})},
    ),
    "metres given as degrees": (
        "2017-01-metres-street.csv",
        AREAS,
        STREETS,
        {"2017-01-metres-street.csv": (1, {"coordinates out of range": 1})},
    ),
    "date in the future": (
        "2099-01-future-street.csv",
        AREAS,
        STREETS,
        {"2099-01-future-street.csv": (1, {"date in the future": 1})},
    ),
    "mixed forces and months": (
        "mixed",
        AREAS,
        STREETS,
        {
            "mixed/2017-01-metropolitan-street.csv": (3, {}),
            "mixed/2017-02-city-of-london-street.csv": (2, {}),
        },
    ),
    "the same month as a file and in a zip": (  # one publication: the later file is kept
        "duplicates",
        AREAS,
        STREETS,
        {
            "duplicates/2017-01-metropolitan-street.csv": (3, {}),
            "duplicates/2017-01.zip:2017-01/2017-01-metropolitan-street.csv": (
                0,
                {"duplicate publication": 3},
            ),
        },
    ),
    "republished month in two archives": (  # the 2019-02 archive's copy is kept, ASB too
        "republished",
        AREAS,
        STREETS,
        {
            "republished/2019-01.zip:2017-01/2017-01-metropolitan-street.csv": (
                0,
                {"duplicate publication": 5},
            ),
            "republished/2019-02.zip:2017-01/2017-01-metropolitan-street.csv": (6, {}),
        },
    ),
    "self-intersecting polygon": (
        "2017-01-bom-street.csv",
        BAD / "areas_selfintersecting.geojson",
        STREETS,
        {"2017-01-bom-street.csv": (3, {})},
    ),
    "overlapping areas": (
        "2017-01-bom-street.csv",
        BAD / "areas_overlapping.geojson",
        STREETS,
        {"2017-01-bom-street.csv": (3, {})},
    ),
}

# (crime input, areas, streets, text the one-line error must contain)
ERROR_CASES = {
    "missing column": (
        "2017-01-missingcol-street.csv",
        AREAS,
        STREETS,
        "2017-01-missingcol-street.csv: missing required column(s) ['Latitude']",
    ),
    "renamed columns": (
        "2017-01-renamed-street.csv",
        AREAS,
        STREETS,
        "missing required column(s) ['Longitude', 'Latitude']",
    ),
    "wrong delimiter": (
        "2017-01-semicolon-street.csv",
        AREAS,
        STREETS,
        "2017-01-semicolon-street.csv: not a comma-separated file",
    ),
    "not UTF-8": (
        "2017-01-latin1-street.csv",
        AREAS,
        STREETS,
        "2017-01-latin1-street.csv: cannot be read as a UTF-8 CSV",
    ),
    "empty file": (
        "2017-01-empty-street.csv",
        AREAS,
        STREETS,
        "2017-01-empty-street.csv: file is empty",
    ),
    "header only": ("2017-01-headeronly-street.csv", AREAS, STREETS, "no usable crime rows"),
    "gzip cut short": (
        "2017-01-cutshort-street.csv.gz",
        AREAS,
        STREETS,
        "2017-01-cutshort-street.csv.gz: not a readable gzip file",
    ),
    "zip with no CSV": (
        "2017-01-nocsv.zip",
        AREAS,
        STREETS,
        "2017-01-nocsv.zip is a zip archive with no *-street.csv",
    ),
    "street layer of points": (
        "2017-01-bom-street.csv",
        AREAS,
        BAD / "streets_points.geojson",
        "streets_points.geojson: streets must be a line layer",
    ),
    "areas not overlapping": (
        "2017-01-bom-street.csv",
        BAD / "areas_elsewhere.geojson",
        STREETS,
        "no crime falls inside the area layer",
    ),
}


def _invoke(crimes: str, areas: Path, streets: Path, out: Path) -> tuple[int, str]:
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--crimes",
            str(BAD / crimes),
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
        ],
    )
    return res.exit_code, res.output


def _relative(name: str) -> str:
    """Return a file name of run.json's accounting relative to the corpus folder."""
    return name.removeprefix(f"{BAD}/")


def _data_rows(path: Path) -> int:
    return max(0, len(path.read_bytes().splitlines()) - 1) if path.is_file() else -1


# inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_input_gives_one_line_error(case: str, tmp_path: Path) -> None:
    crimes, areas, streets, text = ERROR_CASES[case]
    code, output = _invoke(crimes, areas, streets, tmp_path / "out")
    assert code == 1, output
    assert text in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*partial"))


# outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(OK_CASES))
def test_bad_input_run_accounts_for_every_row(case: str, tmp_path: Path) -> None:
    crimes, areas, streets, expected = OK_CASES[case]
    code, output = _invoke(crimes, areas, streets, tmp_path / "out")
    assert code == 0, output
    acc = json.loads((tmp_path / "out" / "run.json").read_text())["accounting"]
    assert all(Path(f.split(".zip:")[0]).is_absolute() for f in acc)  # files by full path
    got = {_relative(f): (a["kept"], a["rejected"]) for f, a in acc.items()}
    assert isinstance(expected, dict)
    if case.startswith("the same month"):  # the two files' times decide: either may be newer
        got = dict(zip(expected, sorted(got.values(), key=lambda v: -v[0]), strict=True))
    assert got == expected
    for f, a in acc.items():
        assert a["read"] == a["kept"] + sum(a["rejected"].values())
        rows = _data_rows(BAD / crimes) if (BAD / crimes).is_file() else -1
        assert rows in (-1, a["read"]), f"{f}: file has {rows} data rows, manifest read {a['read']}"


def test_every_fixture_has_a_case() -> None:
    used = {c[0] for c in (*OK_CASES.values(), *ERROR_CASES.values())}
    used |= {Path(c[1]).name for c in (*OK_CASES.values(), *ERROR_CASES.values())}
    used |= {Path(c[2]).name for c in (*OK_CASES.values(), *ERROR_CASES.values())}
    present = {p.name for p in BAD.iterdir() if p.suffix != ".py" and p.name != "__pycache__"}
    assert present <= used, f"fixtures without a test: {sorted(present - used)}"
