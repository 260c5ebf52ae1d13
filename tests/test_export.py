"""Tests of hotspots.output.export: hand-out CSV/XLSX, formula neutralising, safe names, CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.output.export import accounting, neutralise_formulas, safe_file_stem
from hotspots.output.handouts import handout_table
from tests.fixtures.make_tiny import tiny_args


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    out = root / "run"
    res = CliRunner().invoke(app, tiny_args(root, out, "--min-crimes", "3", "--quiet"))
    assert res.exit_code == 0, res.output
    return out


# inputs -------------------------------------------------------------------------------------


def test_export_needs_a_run_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["export", str(tmp_path)])
    assert res.exit_code == 1 and "is not a complete run folder" in res.output


def test_export_unknown_ward(tiny_run: Path) -> None:
    res = CliRunner().invoke(app, ["export", str(tiny_run), "--ward", "NOPE"])
    assert res.exit_code == 1 and "no area list for ['NOPE']" in res.output


# outputs ------------------------------------------------------------------------------------


def test_safe_file_stem() -> None:
    assert safe_file_stem("CON") == "_CON"
    assert safe_file_stem("../../etc/passwd") == "etc_passwd"
    assert safe_file_stem("") == "area"


def test_neutralise_keeps_numbers() -> None:
    df = neutralise_formulas(pd.DataFrame({"a": ["+1+1", "@x", "ok"], "b": [-1.5, 2.0, 3.0]}))
    assert df["a"].tolist() == ["'+1+1", "'@x", "ok"] and df["b"].tolist() == [-1.5, 2.0, 3.0]


def test_neutralise_headers_and_text_numbers() -> None:
    raw = pd.DataFrame(
        {
            "=1+1": ["-0.41", "+1", "1e5", "-1+1", "'=x", None],
            "ok": pd.array(["=A1", "\tx", "a", "b", "c", None], dtype="string"),
        }
    )
    df = neutralise_formulas(raw)
    assert list(df.columns) == ["'=1+1", "ok"]
    assert df["'=1+1"].tolist()[:5] == ["-0.41", "+1", "1e5", "'-1+1", "'=x"]
    assert pd.isna(df["'=1+1"].iloc[5])
    assert df["ok"].tolist()[:3] == ["'=A1", "'\tx", "a"]
    assert neutralise_formulas(df).equals(df)  # once only
    assert list(raw.columns) == ["=1+1", "ok"] and raw.iloc[0, 0] == "-0.41"  # input unchanged


def test_tiny_run_accounts_for_every_row(tiny_run: Path) -> None:
    import json

    acc = json.loads((tiny_run / "run.json").read_text())["accounting"]
    by_name = {Path(f).name: counts for f, counts in acc.items()}  # keys: full paths (issue 17)
    assert by_name == {"2017-01-metropolitan-street.csv": {"read": 15, "kept": 15, "rejected": {}}}


def test_xlsx_header_columns_and_formula_as_text(tiny_run: Path) -> None:
    res = CliRunner().invoke(app, ["export", str(tiny_run), "--ward", "W1"])
    assert res.exit_code == 0, res.output
    files = sorted((tiny_run / "exports").iterdir())
    assert [p.name for p in files] == ["W1_Evil_Ward.csv", "W1_Evil_Ward.xlsx"]
    ws = openpyxl.load_workbook(files[1]).active
    header = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, 6)}
    assert header["Ward"] == "'=Evil Ward (W1)" and ws.cell(1, 2).data_type == "s"
    assert header["Borough"] == "B" and header["Period"] == "2017-01 to 2017-03"
    assert header["Data source"].startswith("police.uk street-level crime")
    columns = [c.value for c in ws[7]]
    assert columns[:4] == ["Rank in ward", "Street", "From / to", "Based on"]
    assert "Burglary" in columns and "Robbery" in columns
    street = ws.cell(8, 2)
    assert street.value == '\'=HYPERLINK("http://x")' and street.data_type == "s"
    text = files[0].read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'=Evil Ward (W1)" in text


def test_accounting_adds_up() -> None:
    kept = pd.DataFrame({"source_file": ["a", "a", "b"]})
    rej = pd.DataFrame({"source_file": ["a", "c"], "reason": ["x", "y"]})
    assert accounting(kept, rej) == {
        "a": {"read": 3, "kept": 2, "rejected": {"x": 1}},
        "b": {"read": 1, "kept": 1, "rejected": {}},
        "c": {"read": 1, "kept": 0, "rejected": {"y": 1}},
    }


# hand-out links, numbers, widths and filter (issue 21) -------------------------------------


@pytest.fixture(scope="module")
def moved_export(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("elsewhere") / "team" / "handouts"
    res = CliRunner().invoke(app, ["export", str(tiny_run), "--ward", "W1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _table_rows(ws: Any) -> tuple[int, list[str]]:
    top = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Rank in ward")
    return top, [c.value for c in ws[top]]


def test_xlsx_links_are_real_hyperlinks_relative_to_the_handout(
    tiny_run: Path, moved_export: Path
) -> None:
    ws = openpyxl.load_workbook(moved_export / "W1_Evil_Ward.xlsx").active
    top, columns = _table_rows(ws)
    row = top + 1
    lat = ws.cell(row, columns.index("Centre latitude") + 1).value
    lon = ws.cell(row, columns.index("Centre longitude") + 1).value
    page = ws.cell(row, columns.index("Map link") + 1).hyperlink
    assert page is not None and not Path(page.target).is_absolute()
    assert (moved_export / page.target).resolve() == (tiny_run / "maps" / "W1.html").resolve()
    assert page.location == f"{lat:.5f},{lon:.5f},18"
    osm = ws.cell(row, columns.index("OpenStreetMap") + 1).hyperlink
    assert osm.target == (
        f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=18/{lat:.5f}/{lon:.5f}"
    )
    text = (moved_export / "W1_Evil_Ward.csv").read_text(encoding="utf-8-sig")
    assert f"{page.target}#{page.location}" in text and osm.target in text


def test_xlsx_filter_widths_integers_and_harm_rank(moved_export: Path) -> None:
    ws = openpyxl.load_workbook(moved_export / "W1_Evil_Ward.xlsx").active
    top, columns = _table_rows(ws)
    last_col = openpyxl.utils.get_column_letter(len(columns))
    assert ws.auto_filter.ref == f"A{top}:{last_col}{ws.max_row}"
    assert ws.max_row > top  # the filter covers at least one street
    widths = [
        ws.column_dimensions[openpyxl.utils.get_column_letter(j)].width
        for j in range(1, len(columns) + 1)
    ]
    assert all(6 <= w <= 50 for w in widths)
    assert widths[columns.index("Street")] >= len(ws.cell(top + 1, 2).value)
    for name in (
        "Rank in ward",
        "Crimes",
        "Harm rank in ward list",
        "Harm rank (all streets)",
        "Harm (CCHI days)",
        "Burglary",
    ):
        cell = ws.cell(top + 1, columns.index(name) + 1)
        assert type(cell.value) is int and cell.data_type == "n", name
    harm = [
        ws.cell(r, columns.index("Harm (CCHI days)") + 1).value
        for r in range(top + 1, ws.max_row + 1)
    ]
    ranks = [
        ws.cell(r, columns.index("Harm rank in ward list") + 1).value
        for r in range(top + 1, ws.max_row + 1)
    ]
    assert ranks == [1 + sum(h > x for h in harm) for x in harm]


def test_handout_numbers_whole_and_rounded() -> None:
    lists = pd.DataFrame(
        {
            "area_rank": [1, 2],
            "street": ["A St", "B St"],
            "crimes": [9, 4],
            "crimes_per_100m": [1539.171, 2.04],
            "harm": [16335.5, 20.0],
            "cluster_id": [121.0, float("nan")],
            "lat": [49.2828161, 49.1],
            "lon": [-123.1, -123.2],
            "n_burglary": [3.0, 1.0],
        }
    )
    out = handout_table(lists, {"n_burglary": "Burglary"})
    text = out.to_csv(index=False).splitlines()
    assert text[0].split(",")[:4] == ["Rank in ward", "Street", "Crimes", "Burglary"]
    row = dict(zip(text[0].split(","), text[1].split(","), strict=False))
    assert row["Cluster"] == "121" and row["Burglary"] == "3"
    assert row["Crimes per 100 m"] == "1539.2" and row["Harm (CCHI days)"] == "16336"
    assert row["Centre latitude"] == "49.28282" and row["Harm rank in ward list"] == "1"
    assert text[2].split(",")[_col(text[0], "Cluster")] == ""


def _col(header: str, name: str) -> int:
    return header.split(",").index(name)


def test_repeat_callers_reach_ward_lists_and_handouts(tmp_path: Path) -> None:
    from tests.fixtures.make_tiny import tiny_caller_args

    # 15 records on three streets; 2024-03-03 is the last day
    out = tmp_path / "run"
    args = tiny_caller_args(
        tmp_path,
        out,
        when=lambda i: "2024-03-03 20:15" if i < 2 else f"2024-0{1 + i % 3}-01 10:00",
        caller=lambda i: "SECRET-A" if i < 4 else f"SECRET-{i}",
        extra=("--no-area-maps",),
    )
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lists = pd.concat([pd.read_csv(p) for p in (out / "wards").glob("*.csv")])
    # records 0-3 (caller A, the first street: 7 records) are on one place; two of them on
    # the last day: one repeat caller in 24 hours and in 6 months there, none elsewhere
    top = lists.sort_values("crimes", ascending=False).iloc[0]
    assert (top["repeat_callers_24h"], top["repeat_callers_6m"]) == (1, 1)
    assert lists["repeat_callers_6m"].sum() == 1
    res = CliRunner().invoke(app, ["export", str(out), "--ward", str(top["area_code"])])
    assert res.exit_code == 0, res.output
    xlsx = next((out / "exports").glob("*.xlsx"))
    ws = openpyxl.load_workbook(xlsx).active
    row, columns = _table_rows(ws)
    cell = ws.cell(row + 1, columns.index("Repeat callers (6 months)") + 1)
    assert cell.value == 1 and type(cell.value) is int
    for p in out.rglob("*"):
        if p.is_file():
            assert b"SECRET" not in p.read_bytes(), p


def test_run_csv_reads_back_the_source_text(tmp_path: Path) -> None:
    """What write_csv neutralises, read_csv restores: pages show the source's own text."""
    from hotspots.output.export import read_csv, write_csv

    table = pd.DataFrame(
        {"street": ['=HYPERLINK("x")', "'plain", "-0.5", "@SUM(1)"], "=1+1": [1, 2, 3, 4]}
    )
    path = write_csv(table, tmp_path / "t.csv")
    assert "'=HYPERLINK" in path.read_text(encoding="utf-8")
    back = read_csv(path, dtype={"street": str})
    assert list(back.columns) == ["street", "=1+1"]
    assert back["street"].tolist() == table["street"].tolist()
