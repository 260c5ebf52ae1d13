"""Tests of `hotspots brief`: scores, the no-near-duplicate rule, pages and PDFs.

Run folders are the session's shared runs of `hotspots run` on small slices of the real data
(two London months with the central street layer; Vancouver from 2025-07; tests/conftest.py).
A test that writes briefs into a run writes them into its own copy.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots import brief
from hotspots.brief.context import build_context
from hotspots.brief.evidence import describe_when
from hotspots.brief.ward_page import side_panel, ward_page
from hotspots.cli.brief import brief as brief_cmd
from hotspots.errors import InputDataError
from hotspots.read.datasets import get_path
from tests.fixtures.runs import copy_run

HOSTILE = "Evil <img src=x onerror=\"alert('x')\"> & Lane"


@pytest.fixture(scope="module")
def settings() -> brief.BriefSettings:
    return brief.read_brief_weights()


def _ranked(run_dir: Path, settings: brief.BriefSettings) -> tuple[brief.RunFolder, pd.DataFrame]:
    run = brief.read_run_folder(run_dir)
    return run, brief.rank_problems(run, settings=settings)


def _candidate(**kw: Any) -> dict[str, Any]:
    base = {
        "area_code": "A",
        "group": "robbery",
        "crimes": 20,
        "harm": 20 * 365.0,
        "ward_group_crimes": 200,
        "hot_months": 6,
        "trend_direction": "no clear trend",
        "trend_class": "sporadic",
        "significance": "Not significant",
    }
    return {**base, **kw}


# inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[weights]\nvolume = -1\n", r"\[weights\] volume must be a non-negative number"),
        ("[weights]\nvolum = 1\n", r"unknown key 'volum'"),
        (
            "[groups.a]\ntypes = ['Robbery']\n[groups.b]\ntypes = ['Robbery']\n",
            r"'Robbery' is in \[groups.a\] and \[groups.b\]",
        ),
        ("[weights\n", r"must be valid UTF-8 TOML"),
        ("[selection]\nskip_groups = 'traffic'\n", r"skip_groups must be a list of group names"),
    ],
)
def test_weights_file_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputDataError, match=match):
        brief.read_brief_weights(path)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"found no file at .*nope\.toml"):
        brief.read_brief_weights(tmp_path / "nope.toml")


def test_missing_file_and_column_are_named(tmp_path: Path, london_run: Path) -> None:
    shutil.copy(london_run / "run.json", tmp_path / "run.json")
    with pytest.raises(InputDataError, match=r"needs areas.csv in the run folder"):
        brief.read_run_folder(tmp_path)
    areas = pd.read_csv(london_run / "areas.csv").drop(columns="crimes")
    areas.to_csv(tmp_path / "areas.csv", index=False)
    with pytest.raises(InputDataError, match=r"needs areas.csv with the column\(s\) crimes"):
        brief.read_run_folder(tmp_path)


def test_unresolvable_area_layer_asks_for_it(tmp_path: Path, london_run: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(london_run, run, ignore=shutil.ignore_patterns("briefs", "*.html"))
    manifest = json.loads((run / "run.json").read_text())
    for item in manifest["inputs"]:
        if item["role"] == "areas":
            item["path"] = "gone/wards.gpkg"
    (run / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(InputDataError, match=r"Pass it with --areas PATH"):
        brief.read_run_folder(run)
    assert len(brief.read_run_folder(run, areas=get_path("london_wards")).outlines) > 600


def test_unknown_ward(london_run: Path, tmp_path: Path) -> None:
    run = copy_run(london_run, tmp_path / "run")
    with pytest.raises(InputDataError, match=r"`--ward` must be an area code of the run"):
        brief.write_briefs(run, codes=["NOT-A-WARD"], pdf=False)


# outputs: score and rules -------------------------------------------------------------------


def test_rising_significant_concentrated_outranks_flat_scattered(
    settings: brief.BriefSettings,
) -> None:
    # same volume (20 robberies) in the same ward; the first is rising, a 99% hot spot, hot
    # every month and holds 20 of the ward's 40 robberies against 20 of 200 thefts
    good = _candidate(
        hot_months=12, trend_direction="rising", significance="Hot spot 99%", ward_group_crimes=40
    )
    flat = _candidate(group="theft", harm=20 * 365.0, hot_months=1, ward_group_crimes=400)
    scored = brief.rank_candidates(pd.DataFrame([flat, good]), settings=settings, months=12)
    assert scored["score"].iloc[1] > scored["score"].iloc[0]
    assert scored.loc[
        1, ["volume", "concentration", "persistence", "trend", "significance"]
    ].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert scored.loc[0, "volume"] == 1.0 and scored.loc[0, "concentration"] == 0.1


def test_components_are_normalised_within_each_ward(settings: brief.BriefSettings) -> None:
    rows = [
        _candidate(area_code=a, crimes=n, harm=n * 365.0)
        for a, n in (("A", 10), ("A", 40), ("B", 5))
    ]
    scored = brief.rank_candidates(pd.DataFrame(rows), settings=settings, months=12)
    assert scored.groupby("area_code")["volume"].max().tolist() == [1.0, 1.0]
    assert scored.groupby("area_code")["concentration"].max().tolist() == [1.0, 1.0]
    assert scored["score"].between(0, 100).all()
    assert "predictability" not in scored.columns


def test_user_weights_change_the_score(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(
        "[weights]\nvolume = 1\nconcentration = 0\npersistence = 0\ntrend = 0\n"
        "significance = 0\npredictability = 0\n",
        encoding="utf-8",
    )
    own = brief.read_brief_weights(path)
    rows = pd.DataFrame([_candidate(crimes=10, harm=99.0), _candidate(crimes=5, harm=9.0)])
    scored = brief.rank_candidates(rows, settings=own, months=12)
    np.testing.assert_allclose(scored["score"], [100.0, 100 * np.log(10) / np.log(100)])


def test_skip_groups_are_never_proposed(tmp_path: Path, vancouver_run: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("[selection]\nskip_groups = ['traffic']\n", encoding="utf-8")
    own = brief.read_brief_weights(path)
    _, scored = _ranked(vancouver_run, own)
    assert len(scored) and "traffic" not in set(scored["group"])


def test_predictability_from_a_backtest(tmp_path: Path, settings: brief.BriefSettings) -> None:
    summary = pd.DataFrame(
        {
            "group": ["all", "robbery"] * 2,
            "method": "hot_streets",
            "coverage_pct": [1.0, 1.0, 5.0, 5.0],
            "hit_rate_mean": [0.10, 0.20, 0.3, 0.5],
        }
    )
    summary.to_csv(tmp_path / "backtest_summary.csv", index=False)
    pred = brief.read_predictability(tmp_path, settings=settings)
    assert pred["robbery"] == 1.0 and pred["theft"] == pytest.approx(0.5)
    scored = brief.rank_candidates(
        pd.DataFrame([_candidate()]), settings=settings, months=12, predictability=pred
    )
    assert scored["predictability"].iloc[0] == 1.0


def test_no_near_duplicates(settings: brief.BriefSettings) -> None:
    # p1 and p2 are near each other; p9 is elsewhere
    c = pd.DataFrame(
        {
            "area_code": "A",
            "crimes": 10,
            "place_id": ["p1", "p1", "p2", "p2", "p9", "p9"],
            "group": ["theft", "asb", "theft", "violence", "theft", "asb"],
            "score": [90, 85, 80, 75, 70, 10],
            "nearby": [("p2",), (), ("p1",), (), (), ()],
        }
    )
    chosen = brief.rank_priorities(c, settings=settings)
    # p1 asb: p1 already leads; p2 theft: same group at a nearby place
    assert chosen[["place_id", "group", "priority"]].values.tolist() == [
        ["p1", "theft", 1],
        ["p2", "violence", 2],
        ["p9", "theft", 3],
    ]
    two = brief.BriefSettings(**{**settings.__dict__, "max_per_place": 2})
    assert brief.rank_priorities(c, settings=two)["place_id"].tolist() == ["p1", "p1", "p2"]


def test_count_period_change_flags_small_counts() -> None:
    months = [f"2024-{m:02d}" for m in range(1, 13)] + [f"2025-{m:02d}" for m in range(1, 13)]
    monthly = pd.DataFrame([np.full(24, 10), np.full(24, 1)], columns=months)
    out = brief.count_period_change(monthly, months=months)
    assert out["pct_previous"].tolist()[0] == 0.0 and out["flag_previous"].tolist() == [
        "",
        "too few to compare",
    ]
    assert out["year_before"].tolist() == [30.0, 3.0]


# outputs: real data -------------------------------------------------------------------------


@pytest.mark.parametrize("run_name", ["london_run", "vancouver_run"])
def test_priorities_on_real_data(
    run_name: str, request: pytest.FixtureRequest, settings: brief.BriefSettings
) -> None:
    run_dir: Path = request.getfixturevalue(run_name)
    run, scored = _ranked(run_dir, settings)
    chosen = scored[scored["priority"].notna()]
    # two London months are thin: most, not all, wards have a group with 5 crimes at a place
    assert chosen["area_code"].nunique() > 0.8 * (run.areas["crimes"] > 0).sum()
    assert chosen.groupby("area_code").size().max() == 3
    for code, ward in chosen.groupby("area_code"):
        listed = set(pd.read_csv(run_dir / "wards" / f"{code}.csv")["street"].astype(str))
        named = {
            run.places.at[p, "street"] for r in ward.itertuples() for p in (r.place_id, *r.nearby)
        }
        assert named <= listed, code
        assert ward["place_id"].is_unique, code  # max_per_place = 1
        for group, same in ward.groupby("group"):
            places = [{r.place_id, *r.nearby} for r in same.itertuples()]
            assert all(not (a & b) for i, a in enumerate(places) for b in places[i + 1 :]), (
                code,
                group,
            )


def test_vancouver_priorities_have_their_own_groups_window(
    vancouver_run: Path, settings: brief.BriefSettings
) -> None:
    run, scored = _ranked(vancouver_run, settings)
    chosen = scored[scored["priority"].notna()]
    assert chosen["area_code"].nunique() == len(run.areas)
    assert run.windows is not None
    ctx = build_context(run, settings, predictability=False)
    whens = [describe_when(ctx, r.place_id, r.group) for r in chosen.itertuples()]
    # e.g. "Fri-Sat 20:00-00:00 (31%)", "daily 12:00-16:00 (41%); Mon 08:00-10:00 (9%)"
    window = r"(daily|(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-\w{3})?) (\d\d:00-\d\d:00|all day) \(\d+%\)"
    for (short, sentence), r in zip(whens, chosen.itertuples(), strict=True):
        own = run.windows.loc[(r.place_id, r.group)]
        assert short == own["patrol_window"] or short in (
            "too few to name a time",
            "no day or hour stands out",
        )
        if short == own["patrol_window"]:
            assert all(re.fullmatch(window, p) for p in short.split("; ")), short
            assert len(short.split("; ")) <= 2
            assert settings.labels[r.group].lower() in sentence
            first = short.split("; ")[0]
            said = first.rsplit(" (", 1)[0]
            assert sentence.startswith(f"{said[0].upper()}{said[1:]} holds "), sentence
    # the heatmap beside it is the group's too
    r = next(chosen.itertuples())
    assert f"{settings.labels[r.group]} here by day and hour" in side_panel(ctx, r)
    # the window is the group's, not all crime's: it differs for some priorities
    all_crime = [ctx.rec[r.place_id]["patrol_window"] for r in chosen.itertuples()]
    assert sum(w != s for w, (s, _) in zip(all_crime, whens, strict=True)) > len(whens) / 4


def test_london_priorities_say_the_time_is_unknown(
    london_run: Path, settings: brief.BriefSettings
) -> None:
    run, scored = _ranked(london_run, settings)
    chosen = scored[scored["priority"].notna()]
    ctx = build_context(run, settings, predictability=False)
    assert run.windows is not None
    for r in chosen.itertuples():
        short, sentence = describe_when(ctx, r.place_id, r.group)
        assert short.startswith("time unknown"), short
        assert "chance" in sentence
        peaks = run.windows.loc[(r.place_id, r.group), "peak_months"]
        assert (peaks in short) if peaks else short.endswith("no month stands out")


def _snapshot(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if "briefs" not in p.relative_to(root).parts
    }


def test_cli_touches_nothing_outside_briefs_but_the_links(london_run: Path, tmp_path: Path) -> None:
    london_run = copy_run(london_run, tmp_path / "run")
    links = re.compile(r'<script type="application/json" id="hotspots-links">.*?</script>', re.S)
    pages = ("index.html", "map.html")
    map_before = links.sub("", (london_run / "map.html").read_text(encoding="utf-8"))
    before = {k: v for k, v in _snapshot(london_run).items() if k not in pages}
    areas = pd.read_csv(london_run / "areas.csv")
    codes = areas.loc[
        (areas["borough"] == "Westminster") & (areas["crimes"] > 0), "area_code"
    ].tolist()[:3]
    args = [str(london_run), "--no-pdf", "--quiet", *(x for c in codes for x in ("--ward", c))]
    res = CliRunner().invoke(brief_cmd, args)
    assert res.exit_code == 0, res.output
    assert {k: v for k, v in _snapshot(london_run).items() if k not in pages} == before
    # the map changes only in its links block, which now links the briefs written
    assert links.sub("", (london_run / "map.html").read_text(encoding="utf-8")) == map_before
    assert f"briefs/{codes[0]}.html" in (london_run / "index.html").read_text(encoding="utf-8")
    written = sorted(p.name for p in (london_run / "briefs").iterdir())
    best_worst = "kind" in pd.read_csv(london_run / "compare_areas.csv", nrows=0).columns
    extra = ["borough_Westminster_best_worst.html"] if best_worst else []
    assert written == sorted([*(f"{c}.html" for c in codes), "borough_Westminster.html", *extra])
    page = (london_run / "briefs" / f"{codes[0]}.html").read_text(encoding="utf-8")
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org", "")
    for text in (
        "Ward brief",
        "Victim",
        "Offender",
        "Location",
        "Time",
        "month only in police.uk",
        "Per 1,000 residents",
        "How the priorities",
    ):
        assert text in page, text


def test_data_text_is_escaped(london_run: Path, settings: brief.BriefSettings) -> None:
    run, scored = _ranked(london_run, settings)
    chosen = scored[scored["priority"].notna()]
    code = chosen["area_code"].iloc[0]
    run.places.loc[run.places["area_code"] == code, "street"] = HOSTILE
    run.areas.loc[code, "area_name"] = HOSTILE
    ctx = build_context(run, settings, predictability=False)
    page = ward_page(ctx, code, chosen[chosen["area_code"] == code])
    assert "<img src=x" not in page
    assert html.escape(HOSTILE) in page


@pytest.mark.browser
def test_pdf_has_one_page(vancouver_run: Path, tmp_path: Path, browser: Any) -> None:
    vancouver_run = copy_run(vancouver_run, tmp_path / "run")
    pages = brief.write_briefs(vancouver_run, codes=["CBD"], pdf=False)
    pdfs = brief.write_pdfs(pages[:1], browser=browser)
    count = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdfs[0].read_bytes()))
    assert pdfs[0].name == "CBD.pdf" and count == 1


@pytest.mark.browser
def test_pdfs_printed_several_at_a_time(vancouver_run: Path, tmp_path: Path, browser: Any) -> None:
    vancouver_run = copy_run(vancouver_run, tmp_path / "run")
    pages = brief.write_briefs(vancouver_run, codes=["CBD", "WE", "KITS"], pdf=False)
    for p in pages:
        p.with_suffix(".pdf").unlink(missing_ok=True)
    pdfs = brief.write_pdfs(pages, tabs=2)  # its own Chromium, two tabs
    assert pdfs == [p.with_suffix(".pdf") for p in pages]
    for pdf in pdfs:
        assert pdf.read_bytes().startswith(b"%PDF")
