"""Best and worst places: areas and boroughs, per crime group and window (issue 21)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.analysis.performance import (
    PERFORMANCE_COLUMNS,
    best_and_worst,
    compare_and_rank,
    rank_areas,
)
from hotspots.temporal.compare import compare_periods, compare_windows

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]


def _crimes(per_area: dict[str, tuple[str, list[int]]]) -> pd.DataFrame:
    """Crimes of one type per area with the given count in each month of 2024."""
    rows = [
        (area, name, crime_type, month)
        for area, (crime_type, counts) in per_area.items()
        for month, n in zip(MONTHS, counts, strict=True)
        for _ in range(n)
        for name in [f"Area {area}"]
    ]
    crimes = pd.DataFrame(rows, columns=["area_code", "area_name", "crime_type", "month"])
    start = pd.to_datetime(crimes["month"])
    crimes["occurred_from"], crimes["occurred_to"] = start, start + pd.offsets.MonthBegin(1)
    return crimes


CRIMES = _crimes(
    {
        "A": ("Burglary", [5] * 9 + [10] * 3),  # 30 now against 15: worst
        "B": ("Burglary", [10] * 9 + [4] * 3),  # 12 against 30: best
        "C": ("Robbery", [6] * 9 + [7] * 3),  # 21 against 18
        "D": ("Robbery", [2] * 12),  # 6 against 6: too few
    }
)
AREAS = pd.DataFrame(
    {
        "area_code": list("ABCD"),
        "area_name": [f"Area {a}" for a in "ABCD"],
        "borough": ["North", "North", "South", "South"],
        "borough_code": ["N1", "N1", "S1", "S1"],
    }
)


def test_first_rows_are_the_old_best_and_worst() -> None:
    tables = compare_and_rank(CRIMES, AREAS, months=3)
    perf = tables["performance"]
    assert list(perf.columns) == PERFORMANCE_COLUMNS
    first = perf[(perf["level"] == "area") & (perf["crime_group"] == "All crime")]
    old = rank_areas(compare_periods(CRIMES, by=["area_code", "area_name"], quiet=True))
    pd.testing.assert_frame_equal(first[old.columns].reset_index(drop=True), old, check_dtype=False)
    assert perf.index[: len(old)].tolist() == list(range(len(old)))
    assert set(first["window"]) == {"3 months"}


def test_groups_and_boroughs_are_ranked_with_p_values() -> None:
    perf = compare_and_rank(CRIMES, AREAS, months=3)["performance"]
    sac = perf[(perf["level"] == "area") & (perf["crime_group"] == "Serious acquisitive crime")]
    assert sac[["performance", "area_code"]].values.tolist() == [
        ["worst", "A"],
        ["worst", "C"],
        ["best", "B"],
    ]
    worst = sac.iloc[0]
    assert (worst["current"], worst["compared_with"], worst["pct_change"]) == (30, 15, 100.0)
    assert 0 < worst["p_value"] < 0.05
    boroughs = perf[perf["level"] == "borough"]
    assert set(boroughs["area_code"]) == {"N1", "S1"}
    north = boroughs[(boroughs["area_name"] == "North") & (boroughs["crime_group"] == "Burglary")]
    assert north[["performance", "current", "compared_with"]].values.tolist() == [["best", 42, 45]]
    assert "D" not in set(perf["area_code"])  # 6 against 6: under the floor of 10


def test_rank_areas_tells_a_group_from_a_type_of_the_same_name() -> None:
    groups = {"Robbery": ["Robbery"], "Burglary": ["Burglary", "SAC"]}
    table = compare_windows(
        CRIMES, by=["area_code", "area_name"], months=3, groups=groups, quiet=True
    )
    as_type = rank_areas(table, crime_type="Robbery")
    as_group = rank_areas(table, crime_type="Robbery", kind="group")
    assert len(as_type) == len(as_group) == 1  # one row each, not two
    assert np.isclose(as_type["p_value"].iloc[0], as_group["p_value"].iloc[0])


def test_best_and_worst_of_week_windows() -> None:
    days = pd.date_range("2024-01-01", "2024-12-29", freq="D")
    late = days >= pd.Timestamp("2024-12-02")
    crimes = pd.DataFrame(
        {
            "area_code": "A",
            "area_name": "Area A",
            "crime_type": "Burglary",
            "occurred_from": np.r_[days, days[late]],  # twice as many in the last 4 weeks
        }
    )
    crimes["occurred_to"] = crimes["occurred_from"] + pd.Timedelta(hours=1)
    crimes["month"] = crimes["occurred_from"].dt.strftime("%Y-%m")
    table = compare_windows(crimes, by=["area_code", "area_name"], quiet=True)
    perf = best_and_worst({"area": table})
    assert list(pd.unique(perf["window"])) == ["3 months", "4 weeks", "12 weeks"]
    four = perf[perf["window"] == "4 weeks"]
    # 2024-12-02..2024-12-29 (28 days, 2 a day) against the 28 days before (1 a day)
    assert four[["performance", "crime_group", "current", "compared_with"]].values.tolist() == [
        ["worst", "All crime", 56, 28]
    ]


def test_a_borough_mostly_out_of_the_data_is_compared_but_not_ranked() -> None:
    east = _crimes({"E": ("Burglary", [4] * 9 + [8] * 3)})  # 24 now against 12
    crimes = pd.concat([CRIMES, east], ignore_index=True)
    areas = pd.concat(
        [
            AREAS,
            pd.DataFrame(
                {
                    "area_code": ["E", "F", "G"],  # F and G have no crime: not in the extract
                    "area_name": ["Area E", "Area F", "Area G"],
                    "borough": "East",
                    "borough_code": "E1",
                }
            ),
        ],
        ignore_index=True,
    )
    tables = compare_and_rank(crimes, areas, months=3)
    assert "East" in set(tables["compare_boroughs"]["borough"])
    perf = tables["performance"]
    assert "East" not in set(perf.loc[perf["level"] == "borough", "area_name"])
    assert "E" in set(perf.loc[perf["level"] == "area", "area_code"])  # the area still is
