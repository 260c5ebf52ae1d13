"""Comparison windows: the exact test of a change, rolling weeks, crime-group rows (issue 21)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from hotspots.temporal.common import NOT_IN_DATA, TOO_FEW
from hotspots.temporal.compare import (
    WINDOW_COMPARE_COLUMNS,
    binomial_p_values,
    change_p_values,
    compare_periods,
    compare_windows,
    has_dates,
    last_complete_week,
)


def _two_sided(k: int, n: int, share: float) -> float:
    """The two-sided binomial p-value by hand: outcomes no more likely than the one seen."""
    prob = [math.comb(n, i) * share**i * (1 - share) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(p for p in prob if p <= prob[k] * (1 + 1e-7)))


def _3g(value: float) -> float:
    return float(f"{value:.3g}")


def _dated(days: list[str], *, types: list[str] | None = None, area: str = "A") -> pd.DataFrame:
    start = pd.to_datetime(pd.Series(days), format="ISO8601")
    return pd.DataFrame(
        {
            "area_code": area,
            "crime_type": types or ["Burglary"] * len(days),
            "month": start.dt.strftime("%Y-%m"),
            "occurred_from": start,
            "occurred_to": start + pd.Timedelta(hours=1),
        }
    )


def test_change_p_value_equals_the_hand_computed_binomial() -> None:
    # 15 crimes now against 5 before, equal windows: 2 x P(X >= 15), X ~ Binomial(20, 1/2)
    hand = 2 * sum(math.comb(20, k) for k in range(15, 21)) / 2**20
    assert hand == pytest.approx(0.041389, abs=1e-6)
    got = change_p_values(pd.Series([15, 5, 3]), pd.Series([5, 15, 0]))
    assert got[0] == _3g(hand) == 0.0414  # 3 significant digits
    assert got[1] == got[0]  # a fall is tested like a rise
    assert got[2] == pytest.approx(0.25)  # 3 against 0: 2 x (1/2)^3


def test_change_p_value_weighs_unequal_windows() -> None:
    # 10 crimes in a window twice as long as the other one, which had 2: share 2/3
    got = change_p_values(pd.Series([10]), pd.Series([2]), share=2 / 3)[0]
    assert got == _3g(_two_sided(10, 12, 2 / 3))
    assert got != pytest.approx(change_p_values(pd.Series([10]), pd.Series([2]))[0], rel=1e-2)


@pytest.mark.parametrize("share", [0.5, 29 / 60, 2 / 3, 0.1])
def test_binomial_p_values_are_binomtest_s(share: float) -> None:
    rng = np.random.default_rng(21)
    n = np.r_[1, 2, 7, rng.integers(1, 400, 150), rng.integers(1000, 30000, 20)]
    k = np.r_[0, 2, 7, [rng.integers(0, m + 1) for m in n[3:]]]
    k = np.r_[k, np.round(share * n[:40]).astype(np.int64)]  # near the mode
    n = np.r_[n, n[:40]]
    want = np.array([binomtest(int(a), int(b), share).pvalue for a, b in zip(k, n, strict=True)])
    np.testing.assert_allclose(binomial_p_values(k, n, share), want, rtol=1e-12, atol=1e-300)


def test_change_p_value_is_missing_without_counts() -> None:
    got = change_p_values(pd.Series([0, 4], dtype="Int64"), pd.Series([0, pd.NA], dtype="Int64"))
    assert np.isnan(got).all()


@pytest.mark.parametrize(
    ("last_day", "sunday"),
    [
        ("2025-12-28", "2025-12-28"),  # a Sunday: its week is complete
        ("2025-12-27", "2025-12-21"),  # a Saturday: the week before
        ("2025-12-29", "2025-12-28"),  # a Monday
        ("2025-12-31", "2025-12-28"),  # the Vancouver extract ends on a Wednesday
    ],
)
def test_last_complete_week_ends_on_the_last_whole_sunday(last_day: str, sunday: str) -> None:
    assert last_complete_week(_dated(["2025-06-02", last_day])) == sunday


def test_four_week_windows_count_to_the_day() -> None:
    # data from Monday 2024-01-01 to Wednesday 2025-12-31: the last complete week ends
    # Sunday 2025-12-28, so the current 4 weeks are 2025-12-01..2025-12-28
    days = ["2024-01-01", "2025-12-31"]  # bounds; Wednesday 31 Dec is after the window
    days += ["2025-12-01"] * 12 + ["2025-12-28 23:30"] * 3  # first and last day of current
    days += ["2025-11-30"] * 5 + ["2025-11-03"] * 2  # last and first day of previous
    days += ["2024-12-02"] * 4 + ["2024-12-29"] * 1 + ["2024-12-30"] * 9  # year before..after
    out = compare_windows(_dated(days), by=["area_code"], weeks=[4], min_count=1, quiet=True)
    row = out[(out["window"] == "4 weeks") & (out["kind"] == "all")].iloc[0]
    assert (row["current"], row["previous"], row["year_before"]) == (15, 7, 5)
    assert out.attrs["periods"]["4 weeks"] == {
        "current": "2025-12-01..2025-12-28",
        "previous": "2025-11-03..2025-11-30",
        "year_before": "2024-12-02..2024-12-29",
    }
    assert row["p_previous"] == _3g(_two_sided(15, 22, 0.5))


def test_week_windows_outside_the_data_are_flagged() -> None:
    days = [f"2025-{m:02d}-{d:02d}" for m in range(9, 13) for d in (1, 10, 20)]
    out = compare_windows(_dated(days), by=["area_code"], quiet=True)
    assert list(out["window"].unique()) == ["3 months", "4 weeks", "12 weeks", "52 weeks"]
    year = out[out["window"] == "52 weeks"].iloc[0]
    assert year["flag_previous"] == NOT_IN_DATA and np.isnan(year["p_previous"])
    four = out[out["window"] == "4 weeks"].iloc[0]
    assert four["flag_previous"] == TOO_FEW and not np.isnan(four["p_previous"])


def test_month_only_data_has_no_week_windows_and_keeps_compare_periods_rows() -> None:
    months = [f"2024-{m:02d}" for m in range(1, 13)] * 3
    crimes = pd.DataFrame(
        {
            "area_code": ["A", "B", "A"] * 12,
            "crime_type": ["Robbery", "Burglary", "Theft from the person"] * 12,
            "month": months,
        }
    )
    start = pd.to_datetime(crimes["month"])
    crimes["occurred_from"], crimes["occurred_to"] = start, start + pd.offsets.MonthBegin(1)
    assert not has_dates(crimes)
    groups = {"Robbery": ["Robbery", "SAC"], "Burglary": ["Burglary", "SAC"]}
    out = compare_windows(crimes, by=["area_code"], months=3, groups=groups, quiet=True)
    old = compare_periods(crimes, by=["area_code"], months=3, quiet=True)
    pd.testing.assert_frame_equal(out.iloc[: len(old)][old.columns], old)
    assert list(out.columns[-4:]) == WINDOW_COMPARE_COLUMNS
    assert set(out["window"]) == {"3 months"}
    groups_rows = out[out["kind"] == "group"].set_index(["area_code", "crime_type"])
    # Robbery counts both in its own group and in SAC; the group and type share a label
    assert groups_rows.loc[("A", "SAC"), "current"] == 3
    assert groups_rows.loc[("A", "Robbery"), "current"] == 3
    assert ("A", "Theft from the person") not in groups_rows.index
    # month periods differ in days: Oct-Dec 92 days against Jul-Sep 92, Oct-Dec 2023 absent
    row = out[(out["kind"] == "all") & (out["area_code"] == "A")].iloc[0]
    assert row["p_previous"] == _3g(_two_sided(6, 12, 0.5))


def test_month_windows_weigh_their_days() -> None:
    # February 2024 (29 days) against January (31 days): share 29/60, not 1/2
    crimes = _dated(["2024-01-05"] * 3 + ["2024-02-05"] * 12)
    crimes["occurred_to"] = crimes["occurred_from"] + pd.offsets.MonthBegin(1)  # month-only
    out = compare_windows(crimes, by=["area_code"], months=1, min_count=1, quiet=True)
    row = out[out["kind"] == "all"].iloc[0]
    assert row["window"] == "month"
    assert row["p_previous"] == _3g(_two_sided(12, 15, 29 / 60))
    assert row["p_previous"] != _3g(_two_sided(12, 15, 0.5))
