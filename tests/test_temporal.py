"""Tests of hotspots.temporal: aoristic hour-of-week profiles, monthly tables, trends, periods."""

from __future__ import annotations

import itertools
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from hotspots.analysis.performance import rank_areas
from hotspots.analysis.rates import rate_per_1000
from hotspots.errors import InputDataError
from hotspots.output.charts import hour_day_svg, monthly_svg, plot_hour_day, plot_monthly
from hotspots.read.crimes import read_crimes
from hotspots.read.datasets import get_path
from hotspots.temporal.common import (
    ALL,
    DAYS,
    HOUR_OF_WEEK_COLUMNS,
    MONTH_NAMES,
    NO_TIME_OF_DAY,
    NOT_IN_DATA,
    TOO_FEW,
    TOO_FEW_TO_SAY,
)
from hotspots.temporal.compare import COMPARE_COLUMNS, compare_periods
from hotspots.temporal.group_times import group_windows
from hotspots.temporal.patrol import NO_TIME_STANDS_OUT, patrol_window, patrol_windows
from hotspots.temporal.profiles import (
    MONTH_CHECK_COLUMNS,
    aoristic_weights,
    classify_months,
    hour_day_profile,
    monthly_profile,
)
from hotspots.temporal.seasons import peak_months, seasonality, seasonality_test
from hotspots.temporal.trends import TREND_CLASSES, TREND_COLUMNS, classify_trend

FRI = 4  # day number of Friday (Monday = 0)
MONTHS_2024 = [f"2024-{m:02d}" for m in range(1, 13)]


def _windows(pairs: list[tuple[str, str]], has_time: list[bool] | None = None) -> pd.DataFrame:
    """Crimes with the given [from, to) windows (naive local times)."""
    start, end = zip(*pairs, strict=True)
    return pd.DataFrame(
        {
            "occurred_from": pd.to_datetime(list(start)),
            "occurred_to": pd.to_datetime(list(end)),
            "has_time": has_time if has_time is not None else [False] * len(pairs),
        }
    )


def _months_table(rows: dict[str, list[int]], months: list[str] = MONTHS_2024) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=months)


def _crimes_by_month(spec: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Rows of (area, crime_type, month, n) expanded into n crimes each."""
    rows = [(a, t, m) for a, t, m, n in spec for _ in range(n)]
    return pd.DataFrame(rows, columns=["area_code", "crime_type", "month"])


def _bh_by_hand(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values written out: min over k >= i of p_(k) m / k."""
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    q = np.empty(m)
    q[order] = q_sorted
    return q


@pytest.fixture(scope="session")
def london_2016h1(data_root: Path) -> gpd.GeoDataFrame:
    """Real police.uk months 2016-01 to 2016-06 (2016-03 holds only 59 wards)."""
    files = [
        get_path("london_crimes") / f"2016-{m:02d}-metropolitan-street.csv.gz" for m in range(1, 7)
    ]
    crimes, _ = read_crimes(files, fmt="police-uk", quiet=True)
    return crimes


# inputs


def test_aoristic_weights_rejects_reversed_or_missing_windows() -> None:
    crimes = _windows([("2024-05-03 22:00", "2024-05-03 21:00")])
    crimes.loc[1] = [pd.NaT, pd.Timestamp("2024-05-03"), False]
    with pytest.raises(InputDataError, match=r"occurred_from <= occurred_to.*found 2 rows"):
        aoristic_weights(crimes)


def test_aoristic_weights_names_missing_columns() -> None:
    with pytest.raises(InputDataError, match=r"needs the columns \['occurred_to'\]"):
        aoristic_weights(pd.DataFrame({"occurred_from": pd.to_datetime(["2024-01-01"])}))


def test_hour_day_profile_rejects_month_only_rows() -> None:
    crimes = _windows([("2024-05-01", "2024-06-01"), ("2024-06-01", "2024-07-01")])
    with pytest.raises(
        InputDataError,
        match=r"has no time of day \(police.uk gives month "
        r"only\).*use `monthly_profile`",
    ):
        hour_day_profile(crimes)


def test_hour_day_profile_rejects_whole_day_only_rows() -> None:
    crimes = _windows([("2024-05-01", "2024-05-02")])
    with pytest.raises(InputDataError, match="has no time of day"):
        hour_day_profile(crimes)


def test_hour_day_profile_rejects_real_police_uk(london_2016h1: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputDataError, match="has no time of day"):
        hour_day_profile(london_2016h1)


def test_monthly_profile_rejects_bad_months() -> None:
    with pytest.raises(InputDataError, match=r"'YYYY-MM' text; found \['May 2024'\]"):
        monthly_profile(pd.DataFrame({"month": ["2024-05", "May 2024"]}))


def test_monthly_profile_rejects_empty_without_period() -> None:
    with pytest.raises(InputDataError, match="has no rows"):
        monthly_profile(pd.DataFrame({"month": pd.Series([], dtype=str)}))


def test_classify_trend_needs_three_months() -> None:
    monthly = _months_table({"a": [1, 2, 3]}, MONTHS_2024[:3])
    with pytest.raises(InputDataError, match=r"at least 3 months.*found 2 after `exclude`"):
        classify_trend(monthly, exclude=["2024-02"])


def test_classify_trend_rejects_negative_counts() -> None:
    with pytest.raises(InputDataError, match=r"counts >= 0.*1 negative"):
        classify_trend(_months_table({"a": [1, -2, 3, 4]}, MONTHS_2024[:4]))


def test_compare_periods_rejects_zero_months() -> None:
    crimes = _crimes_by_month([("A", "Theft", "2024-01", 1)])
    with pytest.raises(InputDataError, match="`months` must be at least 1; found 0"):
        compare_periods(crimes, by=["area_code"], months=0)


def test_rank_areas_rejects_other_tables() -> None:
    with pytest.raises(InputDataError, match="Build it with `compare_periods`"):
        rank_areas(pd.DataFrame({"area_code": ["A"], "crimes": [3]}))


def test_rate_per_1000_rejects_unrelated_index() -> None:
    with pytest.raises(InputDataError, match="no shared code"):
        rate_per_1000(pd.Series({"A": 3}), pd.Series({"Z": 100.0}))


def test_aoristic_weights_on_hand_made_windows() -> None:
    crimes = _windows(
        [
            ("2024-05-03 22:00", "2024-05-04 00:00"),  # Friday 22:00-00:00: two hours
            (
                "2024-05-08 00:00",
                "2024-05-09 00:00",
            ),  # Wednesday, whole day (VPD 00:00 placeholder)
            ("2024-05-01 00:00", "2024-06-01 00:00"),  # a month (police.uk)
            ("2024-05-06 14:10", "2024-05-06 14:11"),  # Monday, exact time (1 minute)
            ("2024-05-12 23:30", "2024-05-13 00:30"),  # Sunday 23:30 into Monday
            ("2024-05-06 09:15", "2024-05-06 09:15"),  # zero length
            ("2024-05-06 01:30", "2024-05-13 01:15"),  # just under a week: touches Mon 01 twice
        ]
    )
    w = aoristic_weights(crimes).toarray()
    assert w.shape == (7, 168)
    assert_allclose(w.sum(axis=1), 1.0)
    assert_allclose(w[0, [FRI * 24 + 22, FRI * 24 + 23]], [0.5, 0.5])
    assert np.count_nonzero(w[0]) == 2
    assert_allclose(w[1, 2 * 24 : 3 * 24], 1 / 24)
    assert np.count_nonzero(w[1]) == 24
    assert_allclose(w[2], 1 / 168)
    assert w[3, 14] == 1.0
    assert_allclose(w[4, [167, 0]], [0.5, 0.5])
    assert w[5, 9] == 1.0
    assert_allclose(w[6, 1], 0.75 / 167.75)  # 30 min at the start + 15 min at the end


def test_aoristic_weights_read_aware_times_as_local_clock() -> None:
    naive = _windows([("2024-05-03 22:00", "2024-05-04 00:00")])
    aware = naive.assign(
        **{c: naive[c].dt.tz_localize("Europe/London") for c in ("occurred_from", "occurred_to")}
    )
    assert_allclose(aoristic_weights(aware).toarray(), aoristic_weights(naive).toarray())


def test_hour_day_profile_schema_and_sums() -> None:
    crimes = _windows(
        [
            ("2024-05-03 22:00", "2024-05-04 00:00"),
            ("2024-05-03 22:30", "2024-05-03 22:31"),
            ("2024-05-08 00:00", "2024-05-09 00:00"),
            ("2024-05-01 00:00", "2024-06-01 00:00"),
        ],
        has_time=[False, True, False, False],
    )
    crimes["segment_id"] = ["s2", "s1", "s2", None]
    profile = hour_day_profile(crimes, by="segment_id", quiet=True)
    assert list(profile.columns) == HOUR_OF_WEEK_COLUMNS
    assert profile.columns[0] == "Mon 00" and profile.columns[-1] == "Sun 23"
    assert profile.index.tolist() == ["s1", "s2"] and profile.index.name == "segment_id"
    assert (profile.dtypes == "float64").all()
    assert_allclose(profile.sum(axis=1), [1.0, 2.0])  # the row without a segment is left out
    assert profile.loc["s1", "Fri 22"] == 1.0
    assert_allclose(profile.loc["s2", "Fri 23"], 0.5)
    whole = hour_day_profile(crimes, quiet=True)
    assert whole.index.tolist() == [ALL] and whole.index.name == "group"
    assert_allclose(whole.to_numpy().sum(), 4.0)
    assert_allclose(whole.loc["all", "Tue 05"], 1 / 168)


def test_monthly_profile_fills_gaps_with_zeros() -> None:
    crimes = _crimes_by_month(
        [
            ("A", "Theft", "2024-01", 2),
            ("B", "Theft", "2024-04", 1),
            ("A", "Burglary", "2024-04", 3),
        ]
    )
    monthly = monthly_profile(crimes, by="area_code")
    assert monthly.columns.tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert monthly.columns.name == "month" and monthly.index.name == "area_code"
    assert monthly.to_numpy().tolist() == [[2, 0, 0, 3], [0, 0, 0, 1]]
    assert (monthly.dtypes == "int64").all()
    wider = monthly_profile(crimes, start="2023-12", end="2024-02")
    assert wider.columns.tolist() == ["2023-12", "2024-01", "2024-02"]
    assert wider.loc["all"].tolist() == [0, 2, 0]


def test_classify_months_flags_far_below_median() -> None:
    monthly = _months_table({"a": [30, 28, 3, 31], "b": [30, 30, 4, 12]}, MONTHS_2024[:4])
    out = classify_months(monthly, quiet=True)
    assert out.columns.tolist() == MONTH_CHECK_COLUMNS
    assert out["crimes"].tolist() == [60, 58, 7, 43]
    assert out.index[out["incomplete"]].tolist() == ["2024-03"]
    assert_allclose(out.loc["2024-04", "share_of_median"], 43 / 50.5)


def test_seasonality_is_mean_share_of_the_year() -> None:
    months = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)]
    year1 = [1] * 11 + [9]  # December holds 9 of 20
    year2 = [2] * 11 + [8]  # December holds 8 of 30
    monthly = _months_table({"a": year1 + year2, "none": [0] * 24}, months)
    out = seasonality(monthly)
    assert out.columns.tolist() == MONTH_NAMES
    assert_allclose(out.loc["a", "Dec"], (9 / 20 + 8 / 30) / 2)
    assert_allclose(out.loc["a", "Jan"], (1 / 20 + 2 / 30) / 2)
    assert_allclose(out.loc["a"].sum(), 1.0)
    assert out.loc["none"].isna().all()


def test_seasonality_leaves_out_excluded_months() -> None:
    monthly = _months_table({"a": [10] * 11 + [20]})
    plain = seasonality(monthly)
    dropped = seasonality(monthly, exclude=["2024-12"])
    assert plain.loc["a", "Dec"] > plain.loc["a", "Jan"]
    assert np.isnan(dropped.loc["a", "Dec"])
    assert_allclose(dropped.loc["a", "Jan"], 1 / 11)


def test_trend_of_increasing_and_flat_series() -> None:
    monthly = _months_table({"up": list(range(1, 13)), "flat": [4] * 12})
    out = classify_trend(monthly, quiet=True)
    assert out.columns.tolist() == TREND_COLUMNS
    up, flat = out.loc["up"], out.loc["flat"]
    # S = 66 (all 66 pairs rise); var(S) = 12 * 11 * 29 / 18; continuity-corrected Z
    assert up["s_statistic"] == 66 and up["tau"] == 1.0
    assert_allclose(up["p_value"], 2 * stats.norm.sf(65 / np.sqrt(12 * 11 * 29 / 18)))
    assert up["p_value"] < 1e-4 and up["direction"] == "rising"
    assert_allclose(up["slope_per_month"], 1.0)
    assert flat["tau"] == 0.0 and flat["p_value"] == 1.0
    assert flat["direction"] == "no clear trend" and flat["slope_per_month"] == 0.0


def test_trend_with_ties_by_hand() -> None:
    # x = 1 1 2 2 3: S = 8; ties of size 2 twice: var = (5*4*15 - 2*2*1*9) / 18
    out = classify_trend(_months_table({"a": [1, 1, 2, 2, 3]}, MONTHS_2024[:5]), quiet=True)
    var = (300 - 36) / 18
    assert out.loc["a", "s_statistic"] == 8
    assert_allclose(out.loc["a", "p_value"], 2 * stats.norm.sf(7 / np.sqrt(var)))
    assert_allclose(out.loc["a", "tau"], 8 / np.sqrt((10 - 2) * 10))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trend_tau_and_slope_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(3, size=(4, 24))  # many ties
    months = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    out = classify_trend(pd.DataFrame(counts, columns=months), quiet=True)
    t = np.arange(24)
    for i, row in enumerate(counts):
        assert_allclose(out.loc[i, "tau"], stats.kendalltau(t, row).statistic)
        assert_allclose(out.loc[i, "slope_per_month"], stats.theilslopes(row, t).slope)


def test_s_statistic_is_the_sum_over_every_pair_of_months() -> None:
    rng = np.random.default_rng(7)
    counts = np.round(rng.gamma(1.0, 3.0, size=(6, 30)), 1)  # weights with ties and zeros
    months = [f"{y}-{m:02d}" for y in (2022, 2023, 2024) for m in range(1, 11)]
    out = classify_trend(pd.DataFrame(counts, columns=months), quiet=True)
    i, j = np.triu_indices(30, 1)
    assert out["s_statistic"].tolist() == np.sign(counts[:, j] - counts[:, i]).sum(axis=1).tolist()


def test_sen_slope_uses_month_spacing_when_months_are_excluded() -> None:
    monthly = _months_table({"a": [0, 1, 99, 3, 4, 5]}, MONTHS_2024[:6])
    out = classify_trend(monthly, exclude=["2024-03"], quiet=True)
    assert out.loc["a", "months"] == 5
    assert_allclose(out.loc["a", "slope_per_month"], 1.0)


def test_benjamini_hochberg_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted 0.01, 0.03, 0.04, 0.20 -> 0.04, 0.06, 0.0533, 0.20 -> step-up minimum
    assert_allclose(_bh_by_hand(p), [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert_allclose(stats.false_discovery_control(p), _bh_by_hand(p))
    rng = np.random.default_rng(5)
    rising = np.arange(12) * rng.integers(0, 2, (30, 1))  # about half the rows rise
    monthly = pd.DataFrame(rng.poisson(4, size=(30, 12)) + rising, columns=MONTHS_2024)
    out = classify_trend(monthly, quiet=True)
    assert_allclose(out["q_value"], _bh_by_hand(out["p_value"].to_numpy()))
    significant = out["q_value"] < 0.05
    assert (out.loc[significant, "direction"] != "no clear trend").all()
    assert (out.loc[~significant, "direction"] == "no clear trend").all()


def test_each_trend_class_on_constructed_series() -> None:
    rows = {
        "none": [0] * 12,
        "new": [0] * 10 + [6, 6],
        "emerging": list(range(12)),  # hot from 5 onwards, rising
        "diminishing": list(range(20, 8, -1)),  # always hot, falling
        "persistent": [6, 7] * 6,
        "historical": list(range(12, 0, -1)),  # hot early, falling, not hot now
        "intermittent": [6, 0, 0, 6, 0, 0, 6, 0, 0, 0, 0, 6],
        "sporadic": [0, 6, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0],
    }
    out = classify_trend(_months_table(rows), threshold=5, quiet=True)
    assert out["trend_class"].to_dict() == {name: name for name in rows}
    assert set(out["trend_class"]) == set(TREND_CLASSES)
    assert out.loc["emerging", "direction"] == "rising"
    assert out.loc["diminishing", "direction"] == "falling"
    assert out.loc["persistent", "direction"] == "no clear trend"
    assert out["hot_months"].tolist() == [0, 2, 7, 12, 12, 8, 4, 2]


def test_hot_threshold_is_a_quantile_of_positive_row_months() -> None:
    monthly = _months_table({"a": [0] * 6 + [1, 2, 3, 4, 5, 10], "b": [0] * 12})
    out = classify_trend(monthly, hot_quantile=0.5, quiet=True)
    assert out["hot_threshold"].iloc[0] == np.quantile([1, 2, 3, 4, 5, 10], 0.5)
    assert out.loc["a", "hot_months"] == 3


def test_compare_periods_counts_changes_and_flags() -> None:
    crimes = _crimes_by_month(
        [
            ("A", "Theft", "2023-01", 1),  # in no period; the data start before the year before
            ("A", "Theft", "2023-06", 20),
            ("A", "Theft", "2024-03", 10),
            ("A", "Theft", "2024-06", 15),
            ("A", "Burglary", "2024-06", 2),
            ("B", "Theft", "2024-04", 30),
            ("B", "Theft", "2024-05", 3),
            ("B", "Theft", "2023-05", 40),
        ]
    )
    out = compare_periods(crimes, by=["area_code"], months=3, quiet=True)
    assert out.columns.tolist() == ["area_code", *COMPARE_COLUMNS]
    assert out.attrs["periods"] == {
        "current": "2024-04..2024-06",
        "previous": "2024-01..2024-03",
        "year_before": "2023-04..2023-06",
    }
    assert out[["area_code", "crime_type"]].values.tolist() == [
        ["A", "All crime"],
        ["A", "Burglary"],
        ["A", "Theft"],
        ["B", "All crime"],
        ["B", "Theft"],
    ]
    a = out.iloc[0]
    assert (a["current"], a["previous"], a["year_before"]) == (17, 10, 20)
    assert a["change_previous"] == 7 and a["pct_change_previous"] == 70.0
    assert a["flag_previous"] == "" and a["pct_change_year_before"] == -15.0
    burglary = out.iloc[1]
    assert burglary["flag_previous"] == TOO_FEW and np.isnan(burglary["pct_change_previous"])
    assert out.iloc[3]["flag_previous"] == TOO_FEW  # B had 0 crimes in the previous period
    assert str(out["current"].dtype) == "Int64" and out["pct_change_previous"].dtype == "float64"


def test_compare_periods_flags_periods_outside_the_data() -> None:
    crimes = _crimes_by_month([("A", "Theft", m, 12) for m in MONTHS_2024])
    out = compare_periods(crimes, by=[], months=3, end="2024-12", quiet=True)
    assert out["crime_type"].tolist() == ["All crime", "Theft"]
    assert (out["flag_year_before"] == NOT_IN_DATA).all()
    assert out["year_before"].isna().all() and out["pct_change_year_before"].isna().all()
    assert (out["pct_change_previous"] == 0.0).all()
    later = compare_periods(crimes, by=[], months=3, end="2025-02", quiet=True)
    assert (later["flag_previous"] == NOT_IN_DATA).all()


def test_rank_areas_lists_worst_rises_then_best_falls() -> None:
    spec = [("A", 20, 10), ("B", 10, 20), ("C", 30, 20), ("D", 12, 40), ("E", 50, 3)]
    crimes = _crimes_by_month(
        [(a, "Theft", "2024-02", cur) for a, cur, _ in spec]
        + [(a, "Theft", "2024-01", prev) for a, _, prev in spec]
    )
    table = compare_periods(crimes, by=["area_code"], months=1, quiet=True)
    out = rank_areas(table, n=5)
    assert out.columns.tolist() == [
        "performance",
        "position",
        "area_code",
        "current",
        "compared_with",
        "change",
        "pct_change",
    ]
    assert out[["performance", "position", "area_code"]].values.tolist() == [
        ["worst", 1, "A"],
        ["worst", 2, "C"],
        ["best", 1, "D"],
        ["best", 2, "B"],
    ]
    assert out["pct_change"].tolist() == [100.0, 50.0, -70.0, -50.0]  # E (3 before) too few


def test_rate_per_1000_aligns_on_codes() -> None:
    rate = rate_per_1000(
        pd.Series({"A": 30, "B": 5, "C": 1}), pd.Series({"B": 2500.0, "A": 6000.0, "C": 0.0})
    )
    assert rate.name == "rate_per_1000" and rate.index.tolist() == ["A", "B", "C"]
    assert_allclose(rate.to_numpy(), [5.0, 2.0, np.nan])


def test_svgs_are_small_self_contained_xml() -> None:
    row = pd.Series(np.arange(168.0), index=HOUR_OF_WEEK_COLUMNS)
    svg = hour_day_svg(row, title="Crimes <by> hour")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(svg.encode()) < 6000
    title = root.find(f"{ns}title")
    assert title is not None and title.text == "Crimes <by> hour"
    assert [t.text for t in root.iter(f"{ns}text")][:7] == list(DAYS)
    assert "<script" not in svg and "href" not in svg
    line = monthly_svg(pd.Series([3, 0, 7], index=["2024-01", "2024-02", "2024-03"]))
    texts = [t.text for t in ET.fromstring(line).iter(f"{ns}text")]
    assert "2024-01" in texts and "2024-03" in texts
    line_title = ET.fromstring(line).find(f"{ns}title")
    assert line_title is not None and "2024-01 to 2024-03" in str(line_title.text)


def test_plots_write_identical_pngs(tmp_path: Path) -> None:
    row = np.linspace(0, 5, 168)
    first = plot_hour_day(row, tmp_path / "a.png", title="Test street")
    second = plot_hour_day(row, tmp_path / "b.png", title="Test street")
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.read_bytes() == second.read_bytes()
    series = pd.Series([5, 1, 6, 7], index=MONTHS_2024[:4])
    out = plot_monthly(series, tmp_path / "m.png", title="Test", incomplete=["2024-02"])
    assert out.exists() and b"Software" not in out.read_bytes()


def test_vancouver_city_profile_has_no_midnight_spike(
    vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    crimes = vancouver[0]
    profile = hour_day_profile(crimes, quiet=True)
    assert_allclose(profile.to_numpy().sum(), len(crimes))
    by_hour = profile.loc["all"].to_numpy().reshape(7, 24).sum(axis=0)
    # the raw start hours do pile up at 00:00 (the VPD placeholder) ...
    raw = crimes["occurred_from"].dt.hour.value_counts().sort_index().to_numpy()
    assert raw[0] > 1.5 * raw[1]
    # ... the aoristic profile does not: hour 0 is no outlier among the night hours
    assert by_hour[0] < 1.25 * max(by_hour[23], by_hour[1])
    z = (by_hour[0] - by_hour.mean()) / by_hour.std()
    assert abs(z) < 2
    text = patrol_window(profile.loc["all"])
    assert text and not text.startswith(TOO_FEW_TO_SAY)


def test_vancouver_monthly_and_trend_tables(
    vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    crimes = vancouver[0]
    monthly = monthly_profile(crimes, by="crime_type", quiet=True)
    assert monthly.shape[1] == 72 and monthly.columns[0] == "2020-01"
    assert monthly.to_numpy().sum() == len(crimes)
    assert not classify_months(monthly, quiet=True)["incomplete"].any()
    trends = classify_trend(monthly, quiet=True)
    assert trends.index.equals(monthly.index)
    assert set(trends["trend_class"]) <= set(TREND_CLASSES)


def test_hour_day_profile_handles_a_million_and_a_half_rows(
    vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    cols = ["occurred_from", "occurred_to", "has_time", "crime_type"]
    big = pd.concat([pd.DataFrame(vancouver[0][cols])] * 8, ignore_index=True)
    assert len(big) > 1_400_000
    started = time.perf_counter()
    profile = hour_day_profile(big, by="crime_type", quiet=True)
    assert time.perf_counter() - started < 10
    assert_allclose(profile.to_numpy().sum(), len(big))


def test_london_monthly_profile_flags_2016_03(london_2016h1: gpd.GeoDataFrame) -> None:
    monthly = monthly_profile(london_2016h1, quiet=True)
    assert monthly.columns.tolist() == [f"2016-{m:02d}" for m in range(1, 7)]
    checks = classify_months(monthly, quiet=True)
    assert checks.index[checks["incomplete"]].tolist() == ["2016-03"]
    assert checks.loc["2016-03", "share_of_median"] < 0.2
    trend = classify_trend(monthly, exclude=["2016-03"], quiet=True)
    assert trend.loc["all", "months"] == 5


# patrol windows (issue 16): at most two windows of at most 4 clock hours, with their share

_DAY_NO = {d: i for i, d in enumerate(DAYS)}
_PHRASE = re.compile(
    r"^(?P<days>daily|\w{3}(?:-\w{3})?)(?: (?P<a>\d\d):00-(?P<b>\d\d):00| all day) "
    r"\((?P<pct>\d+)%\)$"
)


def _cells_of(phrase: str) -> tuple[set[int], int]:
    """Hour cells of one window phrase and the percentage it states (an independent parser)."""
    m = _PHRASE.match(phrase)
    assert m, phrase
    if m["days"] == "daily":
        first, n_days = 0, 7
    else:
        ends = m["days"].split("-")
        first = _DAY_NO[ends[0]]
        n_days = (_DAY_NO[ends[-1]] - first) % 7 + 1
    start = int(m["a"]) if m["a"] else 0
    length = ((int(m["b"]) - start) % 24 or 24) if m["a"] else 24
    cells = {((first + k) * 24 + start + j) % 168 for k in range(n_days) for j in range(length)}
    return cells, int(m["pct"])


def _row(spec: dict[str, float], background: float = 0.0) -> np.ndarray:
    row = pd.Series(background, index=HOUR_OF_WEEK_COLUMNS)
    for cell, value in spec.items():
        row[cell] = value
    return np.asarray(row.to_numpy(dtype=float))


def test_patrol_window_rejects_bad_rows_and_options() -> None:
    with pytest.raises(InputDataError, match=r"168 finite weights >= 0.*found 24 values"):
        patrol_window(np.ones(24))
    with pytest.raises(InputDataError, match=r"`share` must be in \(0, 1\]"):
        patrol_window(np.ones(168), share=0)
    with pytest.raises(InputDataError, match="`max_windows` 1 or 2"):
        patrol_windows(pd.DataFrame([np.ones(168)]), max_windows=3)


def test_patrol_window_finds_a_known_best_four_hour_window() -> None:
    row = _row({f"Thu {h}": 6.0 for h in (18, 19, 20, 21)}, background=0.25)
    total = 24 + 0.25 * 164
    expected_share = (24 + 0) / total
    text = patrol_window(row, max_windows=1)
    assert text == f"Thu 18:00-22:00 ({expected_share:.0%})"
    # a five-hour burst is still cut to at most 4 hours
    five = _row({f"Thu {h}": 6.0 for h in range(17, 22)})
    cells, _ = _cells_of(patrol_window(five, max_windows=1))
    assert len(cells) == 4


def test_patrol_window_two_windows_with_their_shares() -> None:
    night = ("Fri 22", "Fri 23", "Sat 00", "Sat 01", "Sat 22", "Sat 23", "Sun 00", "Sun 01")
    spec = dict.fromkeys(night, 10.0)
    spec |= {"Tue 13": 15.0, "Tue 14": 15.0}
    row = _row(spec, background=0.5)
    total = row.sum()
    out = patrol_windows(pd.DataFrame([row]))
    text = out["patrol_window"].iloc[0]
    first, second = text.split("; ")
    assert first == f"Fri-Sat 22:00-02:00 ({80 / total:.0%})"
    assert second == f"Tue 13:00-15:00 ({30 / total:.0%})"
    assert_allclose(out["window_share"].iloc[0], 110 / total)
    assert_allclose(out["window_crimes"].iloc[0], 110)
    # no second window once the first holds `share` of the crime
    assert patrol_window(row, share=80 / total - 0.01) == first
    assert patrol_window(row, max_windows=1) == first


def test_patrol_window_wraps_past_midnight_and_sunday_to_monday() -> None:
    assert patrol_window(_row({"Sun 22": 5, "Sun 23": 5, "Mon 00": 5, "Mon 01": 5})) == (
        "Sun 22:00-02:00 (100%)"
    )
    sun_mon = {f"{d} {h}": 5.0 for d in ("Sun", "Mon") for h in (20, 21, 22, 23)}
    assert patrol_window(sun_mon_row := _row(sun_mon)) == "Sun-Mon 20:00-00:00 (100%)"
    assert sun_mon_row.sum() == 40
    nightly = _row({f"{d} 22": 2.0 for d in DAYS})
    assert patrol_window(nightly) == "daily 22:00-23:00 (100%)"


def test_patrol_window_ties_are_deterministic() -> None:
    twins = _row({"Mon 10": 5, "Mon 11": 5, "Thu 10": 5, "Thu 11": 5}, background=0.1)
    text = patrol_window(twins)
    assert text.startswith("Mon 10:00-12:00") and "Thu 10:00-12:00" in text
    table = pd.DataFrame([twins[np.roll(np.arange(168), 0)], twins], index=["a", "b"])
    out = patrol_windows(table.iloc[::-1])
    assert out.loc["a", "patrol_window"] == out.loc["b", "patrol_window"] == text


def test_patrol_window_days_only_flat_and_too_few() -> None:
    day = np.zeros(168)
    day[2 * 24 : 3 * 24] = 0.5  # crimes known only to the day (Wednesdays): no hour stands out
    assert patrol_window(day) == "Wed all day (100%)"
    weekend = np.zeros(168)
    weekend[5 * 24 :] = 1.0
    weekend[:24] = 0.2
    assert patrol_window(weekend) == "Sat-Sun all day (91%)"
    assert patrol_window(np.ones(168)) == NO_TIME_STANDS_OUT
    assert patrol_window(np.full(168, 4 / 168)) == "too few crimes to say (n = 4.0)"


def _best_excess_by_brute_force(row: np.ndarray) -> float:
    """The largest excess share over every window whose days each hold an even share."""
    best = -1.0
    for length, first, n_days, hour in itertools.product(
        range(1, 5), range(7), range(1, 8), range(24)
    ):
        days = [[((first + k) * 24 + hour + j) % 168 for j in range(length)] for k in range(n_days)]
        if min(row[d].sum() for d in days) / row.sum() < length / 168:
            continue
        cells = {c for d in days for c in d}
        best = max(best, row[list(cells)].sum() / row.sum() - len(cells) / 168)
    return best


def test_patrol_windows_state_the_true_share_and_the_best_window() -> None:
    rng = np.random.default_rng(7)
    rows = rng.gamma(0.3, 1.0, size=(12, 168)) * rng.integers(1, 4, size=(12, 1))
    rows[:, 4 * 24 + 20 : 4 * 24 + 23] += rng.uniform(0, 3, size=(12, 1))
    out = patrol_windows(pd.DataFrame(rows))
    for row, (_, r) in zip(rows, out.iterrows(), strict=True):
        phrases = r["patrol_window"].split("; ")
        assert 1 <= len(phrases) <= 2
        cells = [_cells_of(p) for p in phrases]
        for c, pct in cells:
            assert abs(row[list(c)].sum() / row.sum() * 100 - pct) <= 0.5 + 1e-9
        assert not set.intersection(*[c for c, _ in cells]) or len(cells) == 1
        union = set().union(*[c for c, _ in cells])
        assert_allclose(r["window_share"], row[list(union)].sum() / row.sum())
        first = cells[0][0]
        if "all day" not in phrases[0]:
            excess = row[list(first)].sum() / row.sum() - len(first) / 168
            assert_allclose(excess, _best_excess_by_brute_force(row), atol=1e-12)


def test_patrol_windows_in_blocks_are_each_rows_own() -> None:
    """Rows are answered in blocks (:data:`hotspots.temporal.patrol._WINDOW_BLOCK`): as alone."""
    rng = np.random.default_rng(11)
    rows = rng.poisson(0.4, size=(700, 168)).astype(float)
    rows[::3, 4 * 24 + 20 : 4 * 24 + 23] += 3
    table = pd.DataFrame(rows, index=[f"p{i}" for i in range(700)])
    out = patrol_windows(table)
    for i in rng.choice(700, size=30, replace=False):
        pd.testing.assert_frame_equal(out.iloc[[i]], patrol_windows(table.iloc[[i]]))


def test_patrol_windows_of_many_rows_are_quick() -> None:
    rows = np.random.default_rng(0).poisson(0.3, size=(2000, 168)).astype(float)
    started = time.perf_counter()
    out = patrol_windows(pd.DataFrame(rows))
    assert time.perf_counter() - started < 10
    assert out["patrol_window"].str.len().gt(0).all()


# months: peaks only where they differ from chance


def _years(per_month: list[float], years: tuple[int, ...] = (2022, 2023, 2024)) -> pd.DataFrame:
    cols = [f"{y}-{m:02d}" for y in years for m in range(1, 13)]
    return pd.DataFrame([per_month * len(years)], columns=cols, index=["a"])


def test_peak_months_none_for_uniform_months() -> None:
    # the same rate per day: February's 28 days are not a trough, 31-day months no peak
    days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    monthly = _years([d * 2.0 for d in days], years=(2023,))
    assert seasonality_test(monthly)["p_value"].iloc[0] > 0.99
    assert peak_months(monthly).iloc[0] == ""


def test_peak_months_none_for_noise_of_35_a_month() -> None:
    rng = np.random.default_rng(3)
    cols = [f"{y}-{m:02d}" for y in (2022, 2023, 2024) for m in range(1, 13)]
    monthly = pd.DataFrame(rng.poisson(35, size=(200, 36)), columns=cols)
    named = peak_months(monthly)
    assert (named != "").mean() <= 0.05  # the false discovery rate holds over the rows
    q = seasonality_test(monthly)["q_value"]
    assert (q >= 0.05).mean() >= 0.95


def test_peak_months_names_a_planted_peak() -> None:
    per_month = [35.0] * 12
    per_month[6] = per_month[7] = 70.0  # Jul and Aug doubled
    monthly = _years(per_month)
    assert seasonality_test(monthly)["q_value"].iloc[0] < 1e-4
    assert peak_months(monthly).iloc[0] == "Jul, Aug"
    # the same with Poisson noise, 35 a month and 70 in July and August, over three years
    rng = np.random.default_rng(11)
    noisy = pd.DataFrame(rng.poisson(np.tile(per_month, 3), size=(20, 36)), columns=monthly.columns)
    assert (peak_months(noisy) == "Jul, Aug").mean() >= 0.9


def test_peak_months_none_for_a_spike_in_one_year() -> None:
    # a July spike in 2022 only is no season: months vary between years beyond Poisson noise
    rng = np.random.default_rng(5)
    values = rng.poisson(35, size=36).astype(float)
    values[6] = 140
    cols = [f"{y}-{m:02d}" for y in (2022, 2023, 2024) for m in range(1, 13)]
    monthly = pd.DataFrame([values], columns=cols, index=["a"])
    test = seasonality_test(monthly)
    assert test["dispersion"].iloc[0] > 2
    assert test["p_value"].iloc[0] > 0.05
    assert peak_months(monthly).iloc[0] == ""
    # a plain G-test of the calendar-month totals against an even rate would call it a peak
    totals = values.reshape(3, 12).sum(axis=0)
    assert stats.chisquare(totals).pvalue < 1e-6


def test_peak_months_allow_a_level_that_changes_between_years() -> None:
    # the same summer peak every year while the level doubles: a season, and only that
    per_month = np.array([30.0] * 12)
    per_month[[5, 6]] = 60
    values = np.concatenate([per_month, 2 * per_month])
    monthly = pd.DataFrame(
        [values], columns=[f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)], index=["a"]
    )
    assert peak_months(monthly).iloc[0] == "Jun, Jul"


def test_seasonality_test_adjusts_for_months_seen_more_often() -> None:
    # 18 months at an even rate: Jan-Jun seen twice, Jul-Dec once; no season in it
    cols = [f"2023-{m:02d}" for m in range(1, 13)] + [f"2024-{m:02d}" for m in range(1, 7)]
    monthly = pd.DataFrame([[30] * 18], columns=cols, index=["a"])
    assert seasonality_test(monthly)["p_value"].iloc[0] > 0.5
    assert peak_months(monthly).iloc[0] == ""
    # an excluded (incomplete) month is not a trough either
    dented = monthly.copy()
    dented["2024-03"] = 2
    assert peak_months(dented, exclude=["2024-03"]).iloc[0] == ""


def test_group_windows_give_each_group_its_own_window() -> None:
    friday_night = [("2024-05-03 22:10", "2024-05-03 22:20")] * 6
    tuesday_noon = [("2024-05-07 12:05", "2024-05-07 12:10")] * 8
    crimes = _windows(friday_night + tuesday_noon)
    crimes["crime_type"] = ["Robbery"] * 6 + ["Shoplifting"] * 8
    crimes["place"] = "p1"
    crimes["month"] = "2024-05"
    out = group_windows(crimes, by="place", group_of={"Robbery": "robbery", "Shoplifting": "theft"})
    assert out.loc[("p1", "robbery"), "patrol_window"] == "Fri 22:00-23:00 (100%)"
    assert out.loc[("p1", "theft"), "patrol_window"] == "Tue 12:00-13:00 (100%)"
    assert out["crimes"].tolist() == [6, 8]
    month_only = crimes.assign(
        has_time=False,
        occurred_from=pd.Timestamp("2024-05-01"),
        occurred_to=pd.Timestamp("2024-06-01"),
    )
    plain = group_windows(month_only, by="place", group_of={"Robbery": "robbery"})
    assert plain.index.tolist() == [("p1", "robbery")]
    assert plain["patrol_window"].tolist() == [NO_TIME_OF_DAY]
