"""hotspots.analysis.callers: repeat callers counted on hand-made cases, references never kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hotspots.analysis import callers
from hotspots.errors import InputDataError


def _calls() -> pd.DataFrame:
    t = pd.Timestamp("2024-06-30 12:00")
    rows = [  # (place, caller, hours before the end)
        ("A", "alice", 1),
        ("A", "alice", 20),  # twice within 24 h
        ("A", "bob", 1),
        ("A", "bob", 24 * 40),  # twice within 6 months, not 24 h
        ("A", "carol", 24 * 300),
        ("A", "carol", 24 * 301),  # twice, a year ago
        ("B", "alice", 2),  # once at B
    ]
    return pd.DataFrame(
        {
            "place": [r[0] for r in rows],
            "caller_ref": callers.pseudonymise(pd.Series([r[1] for r in rows])),
            "occurred_from": [t - pd.Timedelta(hours=r[2]) for r in rows],
        }
    )


# inputs -------------------------------------------------------------------------------------


def test_needs_caller_column() -> None:
    with pytest.raises(InputDataError, match="no caller_ref"):
        callers.count_repeat_callers(pd.DataFrame({"place": ["A"]}))


# outputs ------------------------------------------------------------------------------------


def test_repeat_callers_hand_checked() -> None:
    out = callers.count_repeat_callers(_calls())
    assert list(out.columns) == callers.REPEAT_CALLER_COLUMNS
    assert out.set_index("place").loc["A"].tolist() == [6, 3, 1, 2, 3]
    assert out.set_index("place").loc["B"].tolist() == [1, 1, 0, 0, 0]


def test_pseudonyms_hide_references() -> None:
    refs = pd.Series(["alice", "alice", "bob", None])
    tokens = callers.pseudonymise(refs, key=b"k" * 16)
    assert tokens[0] == tokens[1] != tokens[2] and pd.isna(tokens[3])
    assert "alice" not in "".join(tokens.dropna())
    assert callers.pseudonymise(refs)[0] != callers.pseudonymise(refs)[0]  # new key each run


def test_run_with_caller_column_never_writes_references(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hotspots.cli import app
    from tests.fixtures.make_tiny import tiny_caller_args

    out = tmp_path / "run"
    args = tiny_caller_args(
        tmp_path,
        out,
        when=lambda i: f"2024-03-0{1 + i % 3} 2{i % 4}:15",
        caller=lambda i: "CALLER-SECRET-1" if i % 2 else "CALLER-SECRET-2",
    )
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rc = pd.read_csv(out / "repeat_callers.csv")
    assert rc["repeat_callers_all"].sum() > 0
    for p in Path(out).rglob("*"):
        if p.is_file():
            assert b"CALLER-SECRET" not in p.read_bytes(), p


def _map_callers(page: Path) -> dict[str, object]:
    import json
    import re

    text = re.search(r"var cfg = (\{.*?\});\n", page.read_text(encoding="utf-8"), re.S)
    assert text is not None
    callers: dict[str, object] = json.loads(text.group(1))["callers"]
    return callers


@pytest.mark.parametrize("synthetic", [False, True])
def test_maps_show_repeat_callers_labelled_synthetic_by_the_source(
    tmp_path: Path, synthetic: bool
) -> None:
    from click.testing import CliRunner

    from hotspots.cli import app
    from tests.fixtures.make_tiny import tiny_caller_args

    out = tmp_path / "run"
    args = tiny_caller_args(
        tmp_path,
        out,
        when=lambda i: f"2024-03-01 1{i % 10}:00",
        caller=lambda i: f"CALLER-{i % 3}",
        extra=("--offline",),
    )
    if synthetic:  # as tests/fixtures/make_callers.py labels its mapping
        mapping = tmp_path / "m.toml"
        text = mapping.read_text(encoding="utf-8")
        mapping.write_text(
            'description = "SYNTHETIC caller column added; tiny test"\n' + text, encoding="utf-8"
        )
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    hot = pd.read_csv(out / "hot_streets.csv")
    city = _map_callers(out / "map.html")
    assert city["synthetic"] is synthetic
    # every hot street with a repeat caller in 6 months is drawn, with its counts
    want = hot[hot["repeat_callers_6m"] > 0]
    assert sorted(city["s"]) == sorted(want["repeat_callers_6m"].tolist())  # type: ignore[arg-type]
    assert len(want) > 0
    for page in (out / "maps").glob("*.html"):
        assert _map_callers(page)["synthetic"] is synthetic
