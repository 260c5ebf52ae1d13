"""Tests of hotspots.export: hand-out CSV/XLSX, formula neutralising, safe names, CLI."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.cli import app
from hotspots.export import accounting, neutralise_formulas, safe_file_stem
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
    raw = pd.DataFrame({"=1+1": ["-0.41", "+1", "1e5", "-1+1", "'=x", None],
                        "ok": pd.array(["=A1", "\tx", "a", "b", "c", None], dtype="string")})
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
