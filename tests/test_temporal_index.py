"""The index page's crime groups: group rates per area and best and worst by group (issue 21)."""

from __future__ import annotations

import re

import pandas as pd

from hotspots.analysis.groups import SERIOUS_ACQUISITIVE, WEAPONS, WEAPONS_CAVEAT
from hotspots.analysis.rates import CENTRE_CAVEAT
from hotspots.output import site_index
from hotspots.output.index_groups import best_worst_section, group_columns
from hotspots.read.schema import BASIS_STREET

SUMMARY = pd.DataFrame(
    {
        "area_code": ["A1", "B2"],
        "area_name": ["Alpha", "Beta"],
        "crimes": [120, 900],
        "rate_per_1000": [60.0, 900.0],
    }
)
PLACES = pd.DataFrame(
    {"basis": [BASIS_STREET], "area_code": ["A1"], "area_rank": [1], "street": ["High St"]}
)


def _rates() -> pd.DataFrame:
    rows = []
    for code, name, sac, caveat in (("A1", "Alpha", 12.5, ""), ("B2", "Beta", 80.0, CENTRE_CAVEAT)):
        for group, rate, note in (
            ("All crime", 60.0, caveat),
            (SERIOUS_ACQUISITIVE, sac, caveat),
            (WEAPONS, 1.5, "; ".join(c for c in (caveat, WEAPONS_CAVEAT) if c)),
        ):
            rows.append(("area", code, name, group, rate, None, note))
    return pd.DataFrame(
        rows,
        columns=[
            "level",
            "area_code",
            "area_name",
            "crime_group",
            "rate_per_1000",
            "rate_per_km",
            "caveat",
        ],
    )


def _performance() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "performance": ["worst", "best"],
            "position": [1, 1],
            "area_code": ["B2", "N1"],
            "area_name": ["Beta", "North"],
            "current": [40, 10],
            "compared_with": [20, 30],
            "change": [20, -20],
            "pct_change": [100.0, -66.7],
            "level": ["area", "borough"],
            "crime_group": [SERIOUS_ACQUISITIVE, SERIOUS_ACQUISITIVE],
            "window": ["3 months", "3 months"],
            "p_value": [0.0124, 0.00112],
        }
    )


def test_group_columns_show_the_meeting_groups_with_caveats() -> None:
    heads, cells = group_columns(_rates())
    assert heads == [  # no violence rows: no column
        "All crime per 1,000 a year",
        "SAC per 1,000 a year",
        "Weapons* per 1,000 a year",
    ]
    assert "data-v='12.5'>12.5<" in cells["A1"]
    # a city-centre caveat is a star with the caveat as tooltip; weapons' own is the heading's
    assert f"title='{CENTRE_CAVEAT}'>80.0 *</span>" in cells["B2"]
    assert "1.5 *" in cells["B2"] and "title" not in cells["A1"]


def test_best_worst_section_links_areas_and_shows_p_values() -> None:
    block = best_worst_section(_performance(), exists={"maps/B2.html"}.__contains__)
    assert block.startswith("<details>")
    assert "<a href='maps/B2.html'>Beta (+100%, p 0.012)</a>" in block
    assert "North (-67%, p 0.0011)" in block and "maps/N1" not in block
    assert best_worst_section(None, exists=bool) == ""
    assert best_worst_section(_performance().iloc[:, :8], exists=bool) == ""  # an old file


def test_index_page_has_the_group_columns_and_block() -> None:
    have = {"wards/A1.csv", "wards/B2.csv", "maps/B2.html"}
    page = site_index.render_index(
        SUMMARY,
        PLACES,
        exists=have.__contains__,
        subtitle="2024",
        rates=_rates(),
        performance=_performance(),
    )
    head = page.split("<table id=areas>")[1].split("</thead>")[0]
    heads = re.findall(r"<th[^>]*>([^<]+)</th>", head)
    # one rate per resident: the rate a year with its caveat, not also the whole period's
    assert heads[:4] == [
        "Area",
        "Crimes",
        "All crime per 1,000 a year",
        "SAC per 1,000 a year",
    ]
    assert "Per 1,000 residents" not in head
    assert "Best and worst by crime group" in page
    plain = site_index.render_index(SUMMARY, PLACES, exists=have.__contains__, subtitle="2024")
    assert "SAC per 1,000 a year" not in plain and "<details>" not in plain
    assert "<th data-type=num tabindex=0 role=button>Per 1,000 residents, whole period" in plain
