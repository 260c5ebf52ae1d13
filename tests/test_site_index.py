"""Tests of the run folder's index page and of the links of its pages (issue 16, item 7).

Every link on ``index.html`` and in the ``hotspots-links`` block of every map page must lead to
a file of the run folder: after a plain ``hotspots run`` (with and without area maps) and after
``hotspots brief``, which adds the brief links. The index sorts, searches and filters in the
browser (Playwright, network blocked). The runs are the session's shared runs
(tests/conftest.py): London, two months, central streets, no area maps; Vancouver from 2025-07
with area maps; both with offline maps.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.cli.brief import brief as brief_cmd
from hotspots.output import site_index, site_refresh
from hotspots.output.maps import links_block
from hotspots.read.schema import BASIS_LOCATION, BASIS_STREET
from tests.browser_helpers import block_network

HOSTILE = "Evil </script><img src=x onerror=alert(1)> & Lane"


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if k == "href" and v]


def _page_links(page: Path) -> list[str]:
    """Every link of a page: its <a href>s and the URLs of its hotspots-links block."""
    text = page.read_text(encoding="utf-8")
    parser = _Hrefs()
    parser.feed(text)
    block = site_refresh.read_links(text) or {}
    return parser.hrefs + [u for links in block.values() for u in links.values()]


def _broken(run: Path) -> tuple[int, list[str]]:
    """Count the links of the index and the map pages, and list those that lead nowhere."""
    pages = [run / "index.html", run / "map.html", *sorted((run / "maps").glob("*.html"))]
    n, broken = 0, []
    for page in pages:
        for url in _page_links(page):
            if url.startswith(("#", "data:")):
                continue
            n += 1
            assert "://" not in url, url  # relative links only
            if not (page.parent / url).is_file():
                broken.append(f"{page.relative_to(run)} -> {url}")
    return n, broken


def _labels(page: Path) -> set[str]:
    block = site_refresh.read_links(page.read_text(encoding="utf-8")) or {}
    return {label for links in block.values() for label in links}


def _without_links_block(page: Path) -> str:
    text = page.read_text(encoding="utf-8")
    return re.sub(
        r'<script type="application/json" id="hotspots-links">.*?</script>', "", text, flags=re.S
    )


# a plain run, then the briefs --------------------------------------------------------------


@pytest.mark.parametrize("run_name", ["london_run", "vancouver_run"])
def test_every_link_of_a_plain_run_resolves(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Path = request.getfixturevalue(run_name)
    n, broken = _broken(run)
    assert n > 40 and broken == []
    assert not (run / "briefs").exists()
    index = (run / "index.html").read_text(encoding="utf-8")
    assert "briefs/" not in index and "hotspots brief" in index
    assert "Brief" not in _labels(run / "map.html")
    has_maps = (run / "maps").is_dir()
    assert ("Area map" in _labels(run / "map.html")) == has_maps
    assert ("maps/" in index) == has_maps


@pytest.mark.parametrize(
    ("run_name", "boroughs"),
    # London: the wards of two boroughs (all 588 briefs take 20 s and link the same way);
    # Vancouver: every area
    [("london_run", ("Westminster", "Camden")), ("vancouver_run", None)],
)
def test_brief_adds_the_brief_links_and_every_link_resolves(
    run_name: str, boroughs: tuple[str, ...] | None, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(request.getfixturevalue(run_name), run)
    maps = [run / "map.html", *sorted((run / "maps").glob("*.html"))]
    before = {p: _without_links_block(p) for p in maps}
    areas = pd.read_csv(run / "areas.csv", dtype={"area_code": str})
    if boroughs is not None:
        areas = areas[areas["borough"].isin(boroughs) & (areas["crimes"] > 0)]
        assert areas["borough"].nunique() == len(boroughs)
    chosen = [] if boroughs is None else [x for c in areas["area_code"] for x in ("--ward", c)]
    res = CliRunner().invoke(brief_cmd, [str(run), "--no-pdf", "--quiet", *chosen])
    assert res.exit_code == 0, res.output
    n, broken = _broken(run)
    assert n > 40 and broken == []
    briefs = {p.name for p in (run / "briefs").glob("*.html")}
    index = (run / "index.html").read_text(encoding="utf-8")
    linked = set(re.findall(r"href='briefs/([^']+)'", index))
    listed = areas["area_code"]
    wards = {
        site_index.brief_name(c)
        for c in listed
        if (run / "wards" / f"{Path(site_index.brief_name(c)).stem}.csv").is_file()
    }
    assert wards and wards <= linked <= briefs  # every briefed area's brief, borough briefs
    if boroughs is not None:
        assert {f"borough_{b}.html" for b in boroughs} <= linked
    assert "Brief" in _labels(run / "map.html")
    for page in maps:  # nothing but the links block changed
        assert _without_links_block(page) == before[page], page.name
    if (run / "maps").is_dir():
        area_page = next(
            p for p in maps if p.parent.name == "maps" and not p.name.startswith("borough_")
        )
        assert _labels(area_page) == {"Area list (CSV)", "Brief"}


# the index page ------------------------------------------------------------------------------


def test_index_names_the_force_or_city(london_run: Path, vancouver_run: Path) -> None:
    london = (london_run / "index.html").read_text(encoding="utf-8")
    assert "<title>Metropolitan Police Service: hot streets by ward</title>" in london
    vancouver = (vancouver_run / "index.html").read_text(encoding="utf-8")
    assert "<title>Vancouver: hot streets by area</title>" in vancouver


def test_index_shows_the_top_location_where_an_area_has_no_street(london_run: Path) -> None:
    index = (london_run / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>.*?</tr>", index)
    places = pd.read_csv(
        london_run / "place_monthly.csv", usecols=["basis", "area_code"], dtype={"area_code": str}
    )
    with_place = set(places["area_code"])
    by_location = set(places.loc[places["basis"] == BASIS_LOCATION, "area_code"]) - set(
        places.loc[places["basis"] == BASIS_STREET, "area_code"]
    )
    assert len(by_location) > 100  # the central street layer leaves most wards to locations
    empty = [r for r in rows if re.search(r"<td></td><td>(<a|$)", r)]
    codes = [re.search(r"class=code>([^<]+)<", r).group(1) for r in empty]  # type: ignore[union-attr]
    assert not set(codes) & with_place
    assert index.count("police.uk location</span>") >= len(by_location)


def test_top_places_prefer_the_hot_street() -> None:
    places = pd.DataFrame(
        {
            "basis": [BASIS_LOCATION, BASIS_STREET, BASIS_STREET, BASIS_LOCATION],
            "area_code": ["A", "A", "A", "B"],
            "area_rank": [1, 2, 1, 1],
            "street": ["Parking Area", "Low St", "High St", "On or near Mall"],
        }
    )
    top = site_index.top_places(places)
    assert top["street"].to_dict() == {"A": "High St", "B": "On or near Mall"}


def test_render_index_links_only_what_exists_and_escapes() -> None:
    summary = pd.DataFrame(
        {
            "area_code": ["A1", "B2", "C3"],
            "area_name": [HOSTILE, "Bee", "Sea"],
            "crimes": [10, 30, 0],
            "trend_class": ["persistent", "new", ""],
            "recent_pct_change_previous": [12.0, None, None],
            "recent_flag_previous": [None, "too few to compare", None],
        }
    )
    places = pd.DataFrame(
        {"basis": [BASIS_STREET], "area_code": ["A1"], "area_rank": [1], "street": [HOSTILE]}
    )
    have = {"map.html", "wards/A1.csv", "wards/B2.csv", "maps/B2.html", "briefs/A1.html"}
    page = site_index.render_index(
        summary, places, exists=have.__contains__, subtitle="2024-01 to 2024-12", place="Test Force"
    )
    hrefs = re.findall(r"href='([^']+)'", page)
    assert set(hrefs) == have  # C3 has no list: not listed; no run.json or CSVs: not linked
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "<title>Test Force: hot streets by area</title>" in page
    assert page.index(">Bee <") < page.index("Evil")  # busiest first
    assert "data-v='12'" in page and ">+12%<" in page
    meta = re.search(r'id="hotspots-index">(.*?)</script>', page, re.S)
    assert meta and json.loads(meta.group(1))["place"] == "Test Force"
    assert "</script><img" not in meta.group(1)


def test_refresh_replaces_only_the_links_block(tmp_path: Path) -> None:
    run = tmp_path
    (run / "maps").mkdir()
    (run / "wards").mkdir()
    (run / "briefs").mkdir()
    code = "E1"
    (run / "wards" / "E1.csv").write_text("x\n", encoding="utf-8")
    (run / "briefs" / "E1.html").write_text("brief", encoding="utf-8")
    old = {code: {"Area map": "maps/E1.html", "Area list (CSV)": "wards/E1.csv"}}
    head = f"<html><body><p>{HOSTILE}</p>"
    tail = "<script>var x = 1;</script></body></html>"
    (run / "map.html").write_text(head + links_block(old) + tail, encoding="utf-8")
    written = site_refresh.refresh_links(run)
    assert written == [run / "map.html"]  # no index.html here: only the map
    text = (run / "map.html").read_text(encoding="utf-8")
    assert text.startswith(head) and text.endswith(tail)
    # maps/E1.html does not exist: its link is dropped; the brief exists: it is added
    assert site_refresh.read_links(text) == {
        code: {"Area list (CSV)": "wards/E1.csv", "Brief": "briefs/E1.html"}
    }
    assert not list(run.glob(".map.html.*"))  # no temporary file left


def test_place_name_from_forces_or_mapping() -> None:
    crimes = pd.DataFrame({"force": ["A Police"] * 3 + ["B Police"] * 2 + ["C Police"]})
    assert site_index.place_name(crimes) == "A Police, B Police and 1 other force(s)"
    assert site_index.place_name(pd.DataFrame({"x": [1]}), "police-uk") == ""
    assert site_index.place_name(pd.DataFrame({"x": [1]}), "vancouver") == "Vancouver"


# in the browser ------------------------------------------------------------------------------


def _visible(page: Any, col: int) -> list[str]:
    js = f"""() => Array.from(document.querySelectorAll('#areas tbody tr'))
      .filter(r => !r.hidden).map(r => r.cells[{col}].getAttribute('data-v')
      ?? r.cells[{col}].textContent)"""
    return list(page.evaluate(js))


@pytest.mark.browser
def test_index_sorts_searches_and_filters(london_run: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    blocked: list[str] = []
    block_network(page, blocked)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((london_run / "index.html").resolve().as_uri())
    heads = page.eval_on_selector_all("#areas th", "ths => ths.map(t => t.textContent)")
    crimes_col, name_col = heads.index("Crimes"), heads.index("Area")
    n = len(_visible(page, crimes_col))
    assert n > 400
    page.click("#areas th:has-text('Crimes')")  # numbers sort largest first on the first click
    values = [float(v) for v in _visible(page, crimes_col)]
    assert values == sorted(values, reverse=True)
    page.click("#areas th:has-text('Crimes')")
    values = [float(v) for v in _visible(page, crimes_col)]
    assert values == sorted(values)
    page.click("#areas th:has-text('Area')")
    names = [v.lower() for v in _visible(page, name_col)]
    assert names == sorted(names)
    page.fill("#q", "westminster")
    shown = _visible(page, name_col)
    assert 0 < len(shown) < n
    rows = page.eval_on_selector_all(
        "#areas tbody tr:not([hidden])", "rs => rs.map(r => r.textContent.toLowerCase())"
    )
    assert all("westminster" in r for r in rows)
    assert page.text_content("#shown") == f"{len(shown)} of {n} wards"
    page.fill("#q", "")
    page.select_option("#borough", "Camden")
    boroughs = page.eval_on_selector_all(
        "#areas tbody tr:not([hidden]) td.b", "cs => cs.map(c => c.textContent)"
    )
    assert boroughs and set(boroughs) == {"Camden"}
    assert blocked == [] and errors == []
    page.close()
