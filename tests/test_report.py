"""hotspots.output.report: the written summary, from hand-made run folders."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from hotspots.errors import InputDataError
from hotspots.output.report import summarise_run
from hotspots.temporal.common import NO_TIME_OF_DAY


def _manifest(**changes: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "created": "2024-02-01T10:00:00+00:00",
        "period": {
            "first_month": "2023-07",
            "last_month": "2023-12",
            "incomplete_months": ["2023-09"],
            "time_of_day": False,
        },
        "data_source": "police.uk street-level crime (month only)",
        "inputs": [
            {"role": "crimes", "path": "extract/2023-12"},
            {"role": "population", "path": "data/ward_population_mid2019.csv"},
        ],
        "parameters": {"fmt": "police-uk", "compare_months": 3},
        "accounting": {
            "a.csv": {
                "read": 100,
                "kept": 90,
                "rejected": {"outside study area": 6, "duplicate crime id": 4},
            },
            "b.csv": {"read": 50, "kept": 48, "rejected": {"outside study area": 2}},
        },
        "totals": {"read": 150, "kept": 138, "rejected": 12},
        "snapping": {
            "max_distance_m": 30.0,
            "snapped": 100,
            "not_snapped": 38,
            "share_snapped": 0.7246,
        },
        "naming": {
            "segments": 40,
            "named_by_street_layer": 35,
            "named_from_crime_records": 3,
            "unnamed": 2,
            "location_text_vs_street_layer_name": {"compared": 80, "agree": 68, "rate": 0.85},
        },
        "concentration": {
            "segments": 40,
            "crimes": 100,
            "observed": {
                "share_of_crime_on_top_1pct_segments": 0.3,
                "share_of_crime_on_top_5pct_segments": 0.6,
                "share_of_segments_holding_half_of_crime": 0.03,
                "gini": 0.9,
            },
            "random_baseline": {
                "share_of_crime_on_top_1pct_segments": 0.05,
                "share_of_crime_on_top_5pct_segments": 0.2,
                "share_of_segments_holding_half_of_crime": 0.2,
                "gini": 0.5,
            },
        },
    }
    manifest.update(changes)
    return manifest


def _hot(n: int, **columns: Any) -> pd.DataFrame:
    hot = pd.DataFrame(
        {
            "rank": range(1, n + 1),
            "rank_by_count": range(1, n + 1),
            "street": [f"Street {i}" for i in range(1, n + 1)],
            "extent": ["from A Road to B Road"] * n,
            "area_code": ["W1"] * n,
            "area_name": ["Westward"] * n,
            "crimes": [50 - i for i in range(n)],
            "crimes_per_100m": [100.0 - i for i in range(n)],
            "trend_class": ["persistent"] * n,
            "trend_direction": ["rising"] * n,
            "patrol_window": [NO_TIME_OF_DAY] * n,
            "significance": ["Hot spot 99%"] * n,
        }
    )
    return hot.assign(**columns)


def _write_run(
    folder: Path,
    *,
    manifest: dict[str, Any] | None = None,
    hot: pd.DataFrame | None = None,
    performance: pd.DataFrame | None = None,
) -> Path:
    (folder / "wards").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(manifest or _manifest()), encoding="utf-8")
    (hot if hot is not None else _hot(12)).to_csv(folder / "hot_streets.csv", index=False)
    pd.DataFrame(
        {
            "area_code": ["W1", "W2", "W3"],
            "area_name": ["Westward", "Eastward", "Nord"],
            "crimes": [120, 18, 0],
        }
    ).to_csv(folder / "areas.csv", index=False)
    if performance is None:
        performance = pd.DataFrame(
            {
                "performance": ["worst", "best"],
                "position": [1, 1],
                "area_code": ["W1", "W2"],
                "area_name": ["Westward", "Eastward"],
                "current": [60, 10],
                "compared_with": [40, 20],
                "change": [20, -10],
                "pct_change": [50.0, -50.0],
            }
        )
    performance.to_csv(folder / "performance.csv", index=False)
    return folder


# inputs


def test_summarise_run_rejects_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="is not a complete run folder"):
        summarise_run(tmp_path)


# outputs


def test_summary_has_every_section(tmp_path: Path) -> None:
    text = summarise_run(_write_run(tmp_path / "run"))
    assert text.startswith("# Hot streets run: 2023-07 to 2023-12\n")
    for heading in (
        "## Period and data",
        "## Rows read, kept and rejected",
        "## Snapping and street names",
        "## Concentration",
        "## Top 10 hot streets",
        "## Best and worst performing areas",
        "## Incomplete months",
        "## Caveats",
    ):
        assert f"\n{heading}\n" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_summary_gives_the_figures_of_the_run(tmp_path: Path) -> None:
    text = summarise_run(_write_run(tmp_path / "run"))
    assert "150 rows read, 138 kept (92.00%), 12 rejected" in text
    assert "read = kept + rejected in every file" in text
    assert "| outside study area | 8 | 5.33% |" in text
    assert "| duplicate crime id | 4 | 2.67% |" in text
    assert "72.5% of kept crimes (100) lie within 30 m" in text
    assert "85.0% of 80 records compared" in text
    assert "| Share of crime on the top 1% of segments | 30.0% | 5.0% |" in text
    assert "6.0 times the crime" in text
    assert "| Gini coefficient | 0.90 | 0.50 |" in text
    assert "2023-10 to 2023-12 against 2023-07 to 2023-09" in text
    assert "| 1 | Westward (W1) | 60 | 40 | +20 | +50.0% |" in text
    assert "| 1 | Eastward (W2) | 10 | 20 | -10 | -50.0% |" in text
    assert "2023-09: fewer than half" in text
    assert "2019 population estimate" in text and "crime in 2023" in text
    assert "month only" in text.split("## Caveats")[1]


def test_top_table_lists_top_n_streets_by_rank(tmp_path: Path) -> None:
    hot = _hot(12).iloc[::-1]  # file order must not matter
    text = summarise_run(_write_run(tmp_path / "run", hot=hot), top_n=3)
    section = text.split("## Top 3 hot streets\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "(W1)" in line]
    assert [r.split(" | ")[0] for r in rows] == ["| 1", "| 2", "| 3"]
    assert rows[0] == (
        "| 1 | Street 1 (from A Road to B Road) | Westward (W1) | 50 | 100.0 | "
        "persistent, rising | Hot spot 99% | n/a (month only) |"
    )
    assert "12 hot streets in 1 of 2 areas with crime (3 areas in all)" in text


def test_text_from_the_data_is_escaped(tmp_path: Path) -> None:
    hot = _hot(1, street=["A|B <script>*x*"])
    text = summarise_run(_write_run(tmp_path / "run", hot=hot))
    assert r"A\|B \<script\>\*x\*" in text
    assert "<script>" not in text


def test_short_run_without_times_population_or_comparison(tmp_path: Path) -> None:
    manifest = _manifest(
        period={
            "first_month": "2023-11",
            "last_month": "2023-12",
            "incomplete_months": [],
            "time_of_day": True,
        },
        inputs=[{"role": "crimes", "path": "vpd.csv"}],
        naming={
            "segments": 40,
            "named_by_street_layer": 0,
            "named_from_crime_records": 30,
            "unnamed": 10,
            "location_text_vs_street_layer_name": {"compared": 0, "agree": 0, "rate": math.nan},
        },
        accounting={
            "vpd.csv": {
                "read": 10,
                "kept": 7,
                "rejected": {"privacy offset (location withheld at source)": 3},
            }
        },
    )
    hot = _hot(2, patrol_window=["Fri-Sat 22:00-02:00", math.nan])
    folder = _write_run(
        tmp_path / "run",
        manifest=manifest,
        hot=hot,
        performance=pd.DataFrame(columns=["performance", "position"]),
    )
    text = summarise_run(SimpleNamespace(out_dir=folder))  # a RunResult is read via out_dir
    assert "| Fri-Sat 22:00-02:00 |" in text and "| n/a |" in text
    assert "Not compared: the run covers 2 months" in text
    assert "Name agreement:** not measured" in text
    assert "No population file was given" in text
    assert "3 rows were withheld at source for privacy" in text
    assert "Only 2 months: too short for trends" in text
    assert "None: every month" in text
    assert "month only" not in text.split("## Caveats")[1]


def test_no_hot_streets(tmp_path: Path) -> None:
    text = summarise_run(_write_run(tmp_path / "run", hot=_hot(0)))
    assert "0 hot streets in 0 of 2 areas" in text
    assert "| Rank |" not in text
