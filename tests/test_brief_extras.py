"""Tests of the briefs' lines from a run's optional files, on small hand-made run folders.

A copy of the shared Vancouver run gets hand-written ``rates.csv``, ``performance.csv``,
``compare_areas.csv`` (groups, windows and exact tests), ``forecast_streets.csv`` with a
``forecast`` entry in run.json, and repeat-caller counts in ``hot_streets.csv``; the briefs
must show each, and a run folder without them must show none.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest

from hotspots import runfolder
from hotspots.brief import read_brief_weights, read_run_folder, write_briefs
from hotspots.brief.context import build_context
from hotspots.brief.page import WEAPONS_NOTE, p_value_text
from hotspots.brief.performance_page import best_worst_page
from hotspots.brief.ward_extras import callers_line, forecast_line, rates_line, ward_extras
from tests.fixtures.runs import copy_run

OPTIONAL = ("rates.csv", "performance.csv", "forecast_streets.csv", "forecast.csv")
SENTENCE = "Next month's list was made by hot_streets; in the backtest it caught 41% of crime."


def _strip(run: Path) -> Path:
    """Remove every optional addition, so the folder is a run without them."""
    for name in OPTIONAL:
        (run / name).unlink(missing_ok=True)
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    manifest.pop("forecast", None)
    (run / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    hot = pd.read_csv(run / "hot_streets.csv", dtype={"area_code": str})
    hot = hot.drop(columns=["repeat_callers_24h", "repeat_callers_6m"], errors="ignore")
    hot.to_csv(run / "hot_streets.csv", index=False)
    cmp = pd.read_csv(run / "compare_areas.csv", dtype={"area_code": str})
    keep = [c for c in cmp.columns if c not in ("kind", "window", "p_previous", "p_year_before")]
    cmp.loc[cmp.get("kind", "type") != "group", keep].drop_duplicates(
        ["area_code", "crime_type"]
    ).to_csv(run / "compare_areas.csv", index=False)
    return run


def _add(run: Path) -> Path:
    """Write known additions into a stripped run folder."""
    areas = pd.read_csv(run / "areas.csv", dtype={"area_code": str})
    codes = areas["area_code"].tolist()[:4]
    rates = pd.DataFrame(
        [
            {
                "level": "area",
                "area_code": "CBD",
                "area_name": "Downtown",
                "crime_group": group,
                "crimes": crimes,
                "months": 12,
                "residents": 60000,
                "rate_per_1000": rate,
                "caveat": "few residents for the crime here: city-centre rates overstate risk",
            }
            for group, crimes, rate in (
                ("All crime", 15000, 250.0),
                ("Theft", 8000, 133.3),
                ("Possession of weapons", 40, 0.7),
            )
        ]
    )
    rates.to_csv(run / "rates.csv", index=False)
    streets = pd.DataFrame(
        {
            "forecast_rank": [1, 2, 3, 4],
            "street": ["Granville St", "Main St", "Hornby St", "Elsewhere Rd"],
            "area_code": ["CBD", "SC", "CBD", "KITS"],
            "expected": [12.25, 8.0, 3.5, 2.0],
        }
    )
    streets.to_csv(run / "forecast_streets.csv", index=False)
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    manifest["forecast"] = {"text": SENTENCE, "method": "hot_streets", "month": "2026-01"}
    (run / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    hot = pd.read_csv(run / "hot_streets.csv", dtype={"area_code": str})
    cbd = (hot["area_code"] == "CBD").cumsum().where(hot["area_code"] == "CBD", 0)
    hot["repeat_callers_24h"] = (cbd.between(1, 3)).astype(int)  # 3 CBD places
    hot["repeat_callers_6m"] = (cbd.between(1, 5)).astype(int) * 2  # 5 CBD places
    hot.to_csv(run / "hot_streets.csv", index=False)
    _add_tests(run, codes)
    return run


def _add_tests(run: Path, codes: list[str]) -> None:
    """Add group rows, a window and exact tests to compare_areas.csv, and a performance.csv."""
    cmp = pd.read_csv(run / "compare_areas.csv", dtype={"area_code": str})
    all_crime = cmp[cmp["crime_type"] == "All crime"].assign(kind="all")
    group = all_crime.assign(crime_type="Burglary", kind="group")
    group["current"], group["previous"] = 40, 20
    group["pct_change_previous"], group["flag_previous"] = 100.0, ""
    group.loc[group["area_code"] == codes[0], ["current", "previous"]] = [3, 2]
    group.loc[group["area_code"] == codes[0], ["pct_change_previous", "flag_previous"]] = [
        float("nan"),
        "too few to compare",
    ]
    table = pd.concat([all_crime, group], ignore_index=True)
    table["window"] = "3 months"
    table["p_previous"] = 0.0123
    table["p_year_before"] = 0.5
    table.to_csv(run / "compare_areas.csv", index=False)
    perf = pd.DataFrame(
        {
            "performance": ["worst"],
            "position": [1],
            "area_code": [codes[1]],
            "area_name": ["Somewhere"],
            "current": [40],
            "compared_with": [20],
            "change": [20],
            "pct_change": [100.0],
            "level": ["area"],
            "crime_group": ["Burglary"],
            "window": ["3 months"],
            "p_value": [0.0123],
        }
    )
    perf.to_csv(run / "performance.csv", index=False)


@pytest.fixture(scope="module")
def runs(vancouver_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("extras")
    bare = _strip(copy_run(vancouver_run, root / "bare"))
    full = _add(_strip(copy_run(vancouver_run, root / "full")))
    return bare, full


def test_p_values_in_plain_words() -> None:
    assert p_value_text(0.0496) == "p = 0.050: more than chance"
    assert p_value_text(0.0504) == "p = 0.050: could be chance"
    assert p_value_text(1e-9) == "p < 0.001: more than chance"


def test_ward_lines_from_the_additions(runs: tuple[Path, Path]) -> None:
    _, full = runs
    settings = read_brief_weights()
    ctx = build_context(read_run_folder(full), settings, predictability=False)
    rates = rates_line(ctx, "CBD")
    assert "All crime 250.0 · Theft 133.3 · Possession of weapons 0.7" in rates
    assert "per 1,000 residents a year" in rates and "city-centre rates overstate" in rates
    assert rates_line(ctx, "KITS") == ""  # no rows for it
    forecast = forecast_line(ctx, "CBD")
    assert "Forecast for 2026-01" in forecast and "in the backtest it caught 41%" in forecast
    assert "(crimes expected): Granville St 12.2; Hornby St 3.5." in forecast
    assert "Main St" not in forecast
    assert "No street of this area is on it" in forecast_line(ctx, "WE")
    assert callers_line(ctx, "CBD").startswith(
        "<p><b>Repeat callers</b>: 3 of the "
    ) and "5 within 6 months" in callers_line(ctx, "CBD")
    assert callers_line(ctx, "KITS").startswith("<p><b>Repeat callers</b>: 0 of the")
    source = ctx.run.manifest.get("data_source", "")
    ctx.run.manifest["data_source"] = f"SYNTHETIC caller column added; {source}"
    assert callers_line(ctx, "CBD").startswith(
        "<p><b>Repeat callers (synthetic demo data)</b>: 3 of the "
    )
    ctx.run.manifest["data_source"] = source


def test_weapons_note_is_police_uk_only(runs: tuple[Path, Path]) -> None:
    _, full = runs
    ctx = build_context(read_run_folder(full), read_brief_weights(), predictability=False)
    assert WEAPONS_NOTE not in rates_line(ctx, "CBD")  # Vancouver data: no police.uk note
    ctx.run.manifest["parameters"]["fmt"] = "police-uk"
    assert "possession of weapons only (police.uk has no knife flag)" in rates_line(ctx, "CBD")


def test_run_without_additions_has_no_extra_lines(runs: tuple[Path, Path]) -> None:
    bare, _ = runs
    ctx = build_context(read_run_folder(bare), read_brief_weights(), predictability=False)
    assert all(ward_extras(ctx, code) == "" for code in ("CBD", "KITS", "WE"))
    pages = write_briefs(bare, codes=["CBD"], pdf=False)
    assert [p.name for p in pages] == ["CBD.html", "all_areas.html"]
    assert "class=more" not in pages[0].read_text(encoding="utf-8")


def test_best_worst_page(runs: tuple[Path, Path]) -> None:
    _, full = runs
    pages = write_briefs(full, codes=["CBD"], pdf=False)
    names = [p.name for p in pages]
    assert names == ["CBD.html", "all_areas.html", "best_worst.html"]
    assert "href='best_worst.html'" in pages[1].read_text(encoding="utf-8")
    page = pages[2].read_text(encoding="utf-8")
    assert "<th colspan=4>Burglary <small>(1 area too few to compare)</small></th>" in page
    assert page.count("p = 0.012: more than chance") >= 4
    assert len(re.findall(r"class='tag worst'", page)) <= 6  # 3 per group at most
    ward = pages[0].read_text(encoding="utf-8")
    assert "Repeat callers" in ward and SENTENCE.replace("'", "&#x27;") in ward


def test_borough_standing_from_performance(runs: tuple[Path, Path]) -> None:
    _, full = runs
    run = read_run_folder(full)
    ctx = build_context(run, read_brief_weights(), predictability=False)
    code = str(ctx.additions.performance["area_code"].iloc[0])
    wards = run.areas[run.areas["area_code"] == code]
    page = best_worst_page(ctx, "Best and worst: B", wards, borough="B")
    assert "run-wide: worst #1 of all (100.0%, p = 0.012: more than chance)" in page


def _layer(run: Path) -> Path:
    """Write a hand-made overlay layer ``layers/two/``: two areas holding some listed places."""
    folder = run / "layers" / "two"
    (folder / "wards").mkdir(parents=True)
    (folder / "layer.json").write_text(json.dumps({"name": "two", "source": "two.gpkg"}))
    lists = {
        new: pd.read_csv(run / "wards" / f"{old}.csv", dtype={"area_code": str}).head(n)
        for new, old, n in (("X1", "CBD", 12), ("X2", "KITS", 8))
    }
    for new, rows in lists.items():
        rows.assign(
            main_area_code=rows["area_code"],
            area_code=new,
            area_name=f"Part {new}",
            area_rank=range(1, len(rows) + 1),
        ).to_csv(folder / "wards" / f"{new}.csv", index=False)
    pd.DataFrame(
        {
            "area_code": list(lists),
            "area_name": [f"Part {c}" for c in lists],
            "crimes": [int(r["crimes"].sum()) for r in lists.values()],
        }
    ).to_csv(folder / "areas.csv", index=False)
    return folder


def test_layer_briefs_from_the_run_places(
    vancouver_run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = copy_run(vancouver_run, tmp_path / "run")
    folder = _layer(run)
    pages = write_briefs(run, pdf=False)
    layer = sorted(p.name for p in pages if p.parent == folder / "briefs")
    assert layer == ["X1.html", "X2.html", "all_areas.html"]
    page = (folder / "briefs" / "X1.html").read_text(encoding="utf-8")
    listed = pd.read_csv(folder / "wards" / "X1.csv")["street"].astype(str)
    named = re.findall(r"<h2>\d\. [^<]* at ([^<(]+?)(?: \(|</h2>)", page)
    assert named and set(named) <= {html.escape(s) for s in listed}
    assert "Area brief: Part X1 (X1)" in page
    assert "not places of the run" not in caplog.text
    # with --ward (codes of the main layer) the layers are left alone
    (folder / "briefs" / "X1.html").unlink()
    write_briefs(run, codes=["CBD"], pdf=False)
    assert not (folder / "briefs" / "X1.html").exists()


def test_big_layer_gets_no_briefs(
    vancouver_run: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = copy_run(vancouver_run, tmp_path / "run")
    folder = _layer(run)
    monkeypatch.setattr(runfolder, "LAYER_AREA_PAGES_MAX", 1)  # the layer has two areas
    with caplog.at_level(logging.INFO, logger="hotspots"):
        pages = write_briefs(run, pdf=False)
    assert not [p for p in pages if p.parent == folder / "briefs"]
    assert any(p.parent == run / "briefs" for p in pages)
    assert "2 areas hold crime, over the 1 that get a brief each" in caplog.text


def test_map_is_inline_svg_of_the_place(runs: tuple[Path, Path]) -> None:
    _, full = runs
    run = read_run_folder(full)
    ctx = build_context(run, read_brief_weights(), predictability=False)
    place = run.places.index[0]
    svg = ctx.painter.svg(str(run.places.at[place, "area_code"]), place, [], title="Map <x>")
    assert svg.startswith("<svg class=map viewBox='0 0 169.92 153.36'")
    assert "aria-label='Map &lt;x&gt;'" in svg and "data:image" not in svg
    assert html.escape(str(run.places.at[place, "street"])) in svg  # the place is named
    assert re.search(r">(50|100|200|500) m</text>", svg)  # scale bar
    assert "r='8.5'" in svg and "fill='#eee'" in svg  # ring round the place; ward inset
