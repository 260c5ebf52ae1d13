"""Rates per 1,000 residents, per a second denominator and per km, by crime group (issue 21)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hotspots.analysis.groups import (
    SERIOUS_ACQUISITIVE,
    WEAPONS,
    WEAPONS_CAVEAT,
    group_memberships,
    labelled_memberships,
    read_brief_weights,
)
from hotspots.analysis.rates import (
    CENTRE_CAVEAT,
    NO_CRIME_CAVEAT,
    RATE_COLUMNS,
    area_street_km,
    rate_table,
    read_denominator,
    split_denominator,
)
from hotspots.errors import InputDataError

GROUPS = {
    "Burglary": ["Burglary", SERIOUS_ACQUISITIVE],
    "Robbery": ["Robbery", SERIOUS_ACQUISITIVE],
    "Possession of weapons": ["Drugs and weapons", WEAPONS],
    "Shoplifting": ["Theft"],
}


def _crimes(counts: dict[tuple[str, str], int], months: list[str]) -> pd.DataFrame:
    """``counts[(area, type)]`` crimes spread over ``months`` (round robin)."""
    rows = [
        (area, crime_type, months[i % len(months)])
        for (area, crime_type), n in counts.items()
        for i in range(n)
    ]
    return pd.DataFrame(rows, columns=["area_code", "crime_type", "month"])


AREAS = pd.DataFrame(
    {
        "area_code": ["A", "B", "C", "D"],
        "area_name": ["Alpha", "Beta", "Centre", "Delta"],
        "borough": ["North", "North", "South", "South"],
        "borough_code": ["N1", "N1", "S1", "S1"],
    }
)
YEAR = [f"2024-{m:02d}" for m in range(1, 13)]
COUNTS = {
    ("A", "Burglary"): 24,
    ("A", "Robbery"): 6,
    ("B", "Shoplifting"): 40,
    ("C", "Shoplifting"): 600,
    ("C", "Possession of weapons"): 12,
    ("D", "Burglary"): 30,
}
POPULATION = pd.Series({"A": 2000.0, "B": 4000.0, "C": 1000.0, "D": 3000.0})


def _rate(table: pd.DataFrame, level: str, code: str, group: str, col: str) -> object:
    row = table[
        (table["level"] == level) & (table["area_code"] == code) & (table["crime_group"] == group)
    ]
    assert len(row) == 1, (level, code, group)
    return row[col].iloc[0]


def test_group_rates_per_1000_residents_per_year() -> None:
    table = rate_table(_crimes(COUNTS, YEAR), AREAS, groups=GROUPS, population=POPULATION)
    assert list(table.columns) == RATE_COLUMNS
    # A: 24 burglaries + 6 robberies a year, 2,000 residents
    assert _rate(table, "area", "A", "Burglary", "rate_per_1000") == 12.0
    assert _rate(table, "area", "A", SERIOUS_ACQUISITIVE, "crimes") == 30
    assert _rate(table, "area", "A", SERIOUS_ACQUISITIVE, "rate_per_1000") == 15.0
    assert _rate(table, "area", "A", "All crime", "rate_per_1000") == 15.0
    # groups are listed per place, all crime first; a group with no crime here shows 0
    a_rows = table[(table["level"] == "area") & (table["area_code"] == "A")]
    assert a_rows["crime_group"].iloc[0] == "All crime"
    assert _rate(table, "area", "A", "Theft", "crimes") == 0
    # boroughs sum crimes and residents: North = A + B
    assert _rate(table, "borough", "N1", "All crime", "crimes") == 70
    assert _rate(table, "borough", "N1", "All crime", "rate_per_1000") == round(70 / 6, 2)
    assert _rate(table, "borough", "N1", "All crime", "area_name") == "North"


def test_rates_are_per_year_when_the_data_is_shorter() -> None:
    half = [f"2024-{m:02d}" for m in range(1, 7)]
    table = rate_table(_crimes(COUNTS, half), AREAS, groups=GROUPS, population=POPULATION)
    assert _rate(table, "area", "A", "Burglary", "months") == 6
    assert _rate(table, "area", "A", "Burglary", "rate_per_1000") == 24.0  # 24 in half a year


def test_only_the_last_twelve_months_count() -> None:
    two_years = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    table = rate_table(_crimes(COUNTS, two_years), AREAS, groups=GROUPS, population=POPULATION)
    assert _rate(table, "area", "A", "Burglary", "crimes") == 12


def test_city_centre_and_weapons_caveats() -> None:
    table = rate_table(
        _crimes(COUNTS, YEAR),
        AREAS,
        groups=GROUPS,
        population=POPULATION,
        group_caveats={WEAPONS: WEAPONS_CAVEAT},
    )
    # C: 612 crimes a year for 1,000 residents, far above the median area's 15
    assert _rate(table, "area", "C", "Theft", "caveat") == CENTRE_CAVEAT
    assert _rate(table, "area", "C", WEAPONS, "caveat") == f"{CENTRE_CAVEAT}; {WEAPONS_CAVEAT}"
    assert _rate(table, "area", "A", "Theft", "caveat") == ""
    assert _rate(table, "area", "A", WEAPONS, "caveat") == WEAPONS_CAVEAT


def test_area_missing_from_the_extract_has_no_rate() -> None:
    counts = {**COUNTS, ("D", "Burglary"): 0}
    table = rate_table(_crimes(counts, YEAR), AREAS, groups=GROUPS, population=POPULATION)
    assert np.isnan(_rate(table, "area", "D", "All crime", "rate_per_1000"))
    assert _rate(table, "area", "D", "All crime", "caveat") == NO_CRIME_CAVEAT
    # South's rate is C's alone, and says so
    assert _rate(table, "borough", "S1", "All crime", "residents") == 1000.0
    assert "1 of 2 areas" in str(_rate(table, "borough", "S1", "All crime", "caveat"))


def test_second_denominator_and_street_km(tmp_path: Path) -> None:
    path = tmp_path / "workday.csv"
    path.write_text('ward_code,workday\nA,10000\nB,"2,000"\nC,50000\nD,0\n', encoding="utf-8")
    workday = read_denominator(path, name="workday")
    km = pd.Series({"A": 4.0, "B": np.nan, "C": 2.5, "D": 10.0})
    table = rate_table(
        _crimes(COUNTS, YEAR), AREAS, groups=GROUPS, denominator=workday, street_km=km
    )
    assert _rate(table, "area", "A", "All crime", "denominator") == "workday"
    assert _rate(table, "area", "A", "All crime", "rate_per_1000_denominator") == 3.0
    assert np.isnan(_rate(table, "area", "D", "All crime", "rate_per_1000_denominator"))  # 0
    assert _rate(table, "area", "A", "All crime", "rate_per_km") == 7.5
    assert np.isnan(_rate(table, "area", "B", "All crime", "rate_per_km"))  # not covered
    assert np.isnan(_rate(table, "area", "A", "All crime", "rate_per_1000"))  # no residents
    assert np.isnan(_rate(table, "borough", "N1", "All crime", "street_km"))  # B lacks km
    assert _rate(table, "borough", "S1", "All crime", "street_km") == 12.5


def test_street_km_only_where_the_streets_cover_the_area() -> None:
    crimes = pd.DataFrame(
        {
            "area_code": ["A", "A", "A", "B", "B", "B"],
            "segment_id": [1, 2, np.nan, np.nan, np.nan, 7],
        }
    )
    segments = pd.DataFrame({"area_code": ["A", "A", "B"], "length_m": [1500.0, 500.0, 80.0]})
    km = area_street_km(crimes, segments)
    assert km["A"] == 2.0  # 2 of 3 crimes snapped
    assert np.isnan(km["B"])  # 1 of 3: the streets layer does not cover B (no partial km)
    assert area_street_km(crimes, segments, min_share=0.3)["B"] == 0.08


def test_denominator_errors_name_the_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "jobs.csv"
    bad.write_text("area_code,jobs\nA,12\nB,many\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"jobs.csv row 3: --denominator jobs value 'many'"):
        read_denominator(bad, name="jobs")
    two = tmp_path / "two.csv"
    two.write_text("area_code,x,y\nA,1,2\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="one value column"):
        read_denominator(two, name="jobs")
    with pytest.raises(InputDataError, match="NAME=CSV"):
        split_denominator("jobs.csv")
    assert split_denominator(" jobs = a.csv") == ("jobs", Path("a.csv"))


def test_group_memberships_add_serious_acquisitive_and_weapons() -> None:
    settings = read_brief_weights()
    types = ["Burglary", "Robbery", "Vehicle crime", "Theft of Vehicle", "Possession of weapons"]
    types += ["Drugs", "Shoplifting", "Break and Enter Commercial"]
    got = group_memberships(types, settings=settings)
    sac = {t for t, groups in got.items() if SERIOUS_ACQUISITIVE in groups}
    assert sac == {
        "Burglary",
        "Robbery",
        "Vehicle crime",
        "Theft of Vehicle",
        "Break and Enter Commercial",
    }
    assert {t for t, g in got.items() if WEAPONS in g} == {"Possession of weapons"}
    assert got["Drugs"] == ["drugs_weapons"]
    labels = labelled_memberships(["Burglary"], settings=settings)
    assert labels == {"Burglary": ["Burglary", SERIOUS_ACQUISITIVE]}


def test_run_writes_rates_with_both_denominators(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hotspots.cli import app
    from hotspots.output.export import read_csv
    from tests.fixtures.make_tiny import tiny_args

    (tmp_path / "pop.csv").write_text("ward_code,population\nW1,3000\nW2,1000\n")
    (tmp_path / "jobs.csv").write_text("ward_code,jobs\nW1,500\nW2,20000\n")
    out = tmp_path / "run"
    args = tiny_args(tmp_path, out, "--quiet", "--no-area-maps")
    args += ["--population", str(tmp_path / "pop.csv")]
    args += ["--denominator", f"jobs={tmp_path / 'jobs.csv'}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rates = read_csv(out / "rates.csv", dtype={"area_code": str})
    assert list(rates.columns) == RATE_COLUMNS
    w1 = rates[(rates["level"] == "area") & (rates["area_code"] == "W1")].set_index("crime_group")
    # W1 holds the first two places' 7 + 2 crimes over 3 months: 36 a year
    assert w1.loc["All crime", "crimes"] == 9 and w1.loc["All crime", "months"] == 3
    assert w1.loc["All crime", "rate_per_1000"] == 12.0  # 36 a year / 3,000 residents
    assert w1.loc["All crime", "denominator"] == "jobs"
    assert w1.loc["All crime", "rate_per_1000_denominator"] == 72.0  # 36 / 500 jobs
    assert w1.loc[SERIOUS_ACQUISITIVE, "crimes"] == 9  # burglary and robbery only
    assert set(rates["level"]) == {"area", "borough"}
    bad = CliRunner().invoke(app, [*args[:-2], "--overwrite", "--denominator", "jobs.csv"])
    assert bad.exit_code == 2 and "NAME=CSV" in bad.output  # refused before the run
    (tmp_path / "bad.csv").write_text("ward_code,jobs\nW1,lots\n")
    bad = CliRunner().invoke(app, [*args[:-2], "--denominator", f"jobs={tmp_path / 'bad.csv'}"])
    assert bad.exit_code == 2 and "bad.csv row 2" in bad.output
