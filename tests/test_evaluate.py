"""Tests of hotspots.evaluate: the rolling-origin backtest, metrics, coverage cut and leakage."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from shapely.geometry import LineString, box
from sklearn.neighbors import KernelDensity

from hotspots import evaluate as ev
from hotspots.cli.evaluate import evaluate as evaluate_cmd
from hotspots.errors import InputDataError
from hotspots.evaluate import methods as ev_methods
from hotspots.evaluate import study as ev_study
from hotspots.read.datasets import get_path
from hotspots.read.layers import read_streets
from hotspots.read.policeuk import read_police_uk
from hotspots.space import crs, segments

N_SEGMENTS = 10
# ten parallel 100 m streets, 200 m apart, inside a 200 m x 1900 m study area (A = 380,000 m²)
STUDY_AREA = box(-50, -50, 150, 200 * (N_SEGMENTS - 1) + 50)


def _segments() -> gpd.GeoDataFrame:
    geoms = [LineString([(0, 200 * i), (100, 200 * i)]) for i in range(N_SEGMENTS)]
    return gpd.GeoDataFrame(
        {
            "segment_id": [f"s{i}" for i in range(N_SEGMENTS)],
            "street_name": [f"Street {i}" for i in range(N_SEGMENTS)],
            "length_m": 100.0,
        },
        geometry=geoms,
        crs=27700,
    )


def _crimes(plan: dict[str, dict[int, int]], crime_type: str = "Burglary") -> gpd.GeoDataFrame:
    """``plan``: month -> {segment number: crimes}; each crime sits at its segment's midpoint."""
    rows = [
        (m, f"s{s}", 50.0, 200.0 * s)
        for m, per in plan.items()
        for s, n in per.items()
        for _ in range(n)
    ]
    df = pd.DataFrame(rows, columns=["month", "segment_id", "x", "y"]).assign(crime_type=crime_type)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=27700)


def _random_plan(seed: int, months: int = 8) -> dict[str, dict[int, int]]:
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.0, 3.0, N_SEGMENTS)
    return {
        f"2020-{m:02d}": dict(enumerate(rng.poisson(rate).tolist())) for m in range(1, months + 1)
    }


def _random_crimes(seed: int = 0) -> gpd.GeoDataFrame:
    crimes = _crimes(_random_plan(seed))
    rob = _crimes(_random_plan(seed + 100), crime_type="Robbery")
    return pd.concat([crimes, rob], ignore_index=True)


HAND_PLAN = {
    "2020-01": {0: 5, 1: 1},
    "2020-02": {0: 4, 1: 2, 2: 1},
    "2020-03": {0: 3, 1: 2, 3: 5},  # the target month: N = 10
}


def _hand_table(**kwargs: object) -> pd.DataFrame:
    return ev.evaluate_forecasts(
        _crimes(HAND_PLAN),
        _segments(),
        study_area=STUDY_AREA,
        methods=["prev_counts"],
        coverages=[10.0, 15.0],
        warmup_months=2,
        window_months=2,
        groups=["all"],
        quiet=True,
        **kwargs,
    )


# inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ["kde", "magic"]}, r"`methods` must be among .*found \['magic'\]"),
        (
            {"coverages": [0.0, 150.0]},
            r"`coverages` are percentages in \(0, 100\]; found \[0.0, 150",
        ),
        ({"window_months": 3, "warmup_months": 2}, r"`window_months` must be 1 to `warmup_months`"),
        ({"groups": ["burglary", "fraud"]}, r"`groups` must be among .*found \['fraud'\]"),
        ({"half_life_months": 0.0}, r"`half_life_months` must be positive"),
        ({"months_back": 0}, r"`months_back` must be at least 1"),
        (
            {"warmup_months": 8},
            r"`warmup_months`=8 leaves no month to score: the data has 8 complete",
        ),
    ],
)
def test_bad_options_are_reported(kwargs: dict[str, object], match: str) -> None:
    options = {"warmup_months": 2, "window_months": 2, "quiet": True, **kwargs}
    with pytest.raises(InputDataError, match=match):
        ev.evaluate_forecasts(_random_crimes(), _segments(), study_area=STUDY_AREA, **options)


def test_all_option_problems_are_reported_at_once() -> None:
    with pytest.raises(InputDataError, match=r"`methods`.*; `coverages`.*; `groups`"):
        ev.evaluate_forecasts(
            _random_crimes(),
            _segments(),
            study_area=STUDY_AREA,
            methods=["magic"],
            coverages=[-1.0],
            groups=["fraud"],
        )


def test_bad_inputs_are_reported() -> None:
    crimes = _random_crimes().drop(columns=["crime_type"])
    segs = _segments().to_crs(3857)
    with pytest.raises(InputDataError, match=r"lacks column\(s\) \['crime_type'\].*share a CRS"):
        ev.evaluate_forecasts(crimes, segs, study_area=STUDY_AREA)
    with pytest.raises(InputDataError, match=r"`study_area` must be a non-empty polygon"):
        ev.evaluate_forecasts(_random_crimes(), _segments(), study_area=shapely.Point(0, 0))


def test_no_crime_in_the_study_area_is_an_error() -> None:
    with pytest.raises(InputDataError, match="no crime lies on a street segment inside"):
        ev.evaluate_forecasts(_random_crimes(), _segments(), study_area=box(5000, 5000, 6000, 6000))


def test_expected_capture_errors() -> None:
    table = _hand_table()
    with pytest.raises(InputDataError, match=r"no backtest rows for method 'kde'"):
        ev.expected_capture(table, method="kde", coverage=1.0)
    with pytest.raises(InputDataError, match=r"`coverage` must be 0 to 15.0%.*--coverage 20"):
        ev.expected_capture(table, method="prev_counts", coverage=20.0)


# outputs: metrics against hand-computed values ----------------------------------------------


def test_hit_rate_pai_rri_by_hand() -> None:
    t = _hand_table().set_index("coverage_pct")
    assert list(t.columns) == [c for c in ev.BACKTEST_COLUMNS if c != "coverage_pct"]
    assert (t["month"] == "2020-03").all() and (t["prev_month"] == "2020-02").all()
    # training Jan+Feb: s0 = 9, s1 = 3, s2 = 1. 10% of 1,000 m = 100 m = s0 only.
    row = t.loc[10.0]
    got = (row["crimes"], row["captured"], row["crimes_prev"], row["captured_prev"])
    assert got == (10, 3, 7, 4)
    assert row["hit_rate"] == pytest.approx(0.3)
    assert row["area_share"] == pytest.approx(0.1)  # w = A / L = 380 m: 10% of length = 10% of A
    assert row["pai"] == pytest.approx(3.0)
    assert row["rri"] == pytest.approx((3 / 4) / (10 / 7))
    # 15% = 150 m: s0 whole and half of s1 (2 crimes in March, 2 in February)
    row = t.loc[15.0]
    assert row["captured"] == pytest.approx(4.0) and row["captured_prev"] == pytest.approx(5.0)
    assert row["pai"] == pytest.approx(0.4 / 0.15)
    assert row["rri"] == pytest.approx((4 / 5) / (10 / 7))


def test_fixed_corridor_width_sets_the_street_area() -> None:
    row = _hand_table(corridor_width_m=30.0).set_index("coverage_pct").loc[10.0]
    assert row["area_m2"] == pytest.approx(100 * 30)
    assert row["pai"] == pytest.approx(0.3 / (3000 / STUDY_AREA.area))


def test_ties_are_taken_as_a_block_by_fraction() -> None:
    shares = ev.select_by_budget(np.array([5.0, 1.0, 1.0, 1.0, 0.0]), np.full(5, 100.0), 250.0)
    np.testing.assert_allclose(shares, [1.0, 0.5, 0.5, 0.5, 0.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.floats(1.0, 500.0)), min_size=1, max_size=40),
    st.floats(0.0, 1.2),
)
def test_coverage_cut_is_exact(units: list[tuple[int, float]], share: float) -> None:
    scores, cost = (np.array(v, dtype=float) for v in zip(*units, strict=True))
    budget = share * cost.sum()
    taken = ev.select_by_budget(scores, cost, budget)
    assert (taken * cost).sum() == pytest.approx(min(budget, cost.sum()), rel=1e-9)
    assert ((taken >= 0) & (taken <= 1)).all()
    # a unit is only taken (in part) when every hotter unit is taken whole
    for i in np.flatnonzero(taken > 0):
        assert (taken[scores > scores[i]] == 1).all()


def test_every_method_is_cut_at_the_same_area_on_the_same_months() -> None:
    t = ev.evaluate_forecasts(
        _random_crimes(),
        _segments(),
        study_area=STUDY_AREA,
        warmup_months=3,
        window_months=2,
        quiet=True,
    )
    np.testing.assert_allclose(t["area_share"], t["coverage_pct"] / 100, rtol=1e-9)
    keys = t.groupby(["method", "group"])[["month", "coverage_pct"]].apply(
        lambda d: tuple(sorted(map(tuple, d.to_numpy().tolist())))
    )
    assert keys.nunique() == 1
    assert set(t["method"]) == set(ev.METHODS) and set(t["group"]) == {"all", "burglary", "robbery"}
    assert len(t) == 5 * len(ev.METHODS) * 4 * 3
    # every method is scored on the same crimes
    assert t.groupby(["group", "month"])["crimes"].nunique().eq(1).all()


def test_random_baseline_is_reproducible() -> None:
    def run(seed: int) -> pd.Series:
        t = ev.evaluate_forecasts(
            _random_crimes(),
            _segments(),
            study_area=STUDY_AREA,
            methods=["random"],
            warmup_months=2,
            window_months=1,
            seed=seed,
            quiet=True,
        )
        return t["captured"]

    pd.testing.assert_series_equal(run(1), run(1))
    assert not run(1).equals(run(2))


# outputs: no method sees the month it predicts ----------------------------------------------


def _poisoned(study: ev_study.Study, p: int) -> ev_study.Study:
    """The study with every count of month ``p`` and later replaced by NaN."""

    def poison(m: sparse.csr_matrix) -> sparse.csr_matrix:
        dense = m.toarray()
        dense[p:] = np.nan
        return sparse.csr_matrix(dense)

    return dataclasses.replace(study, counts={k: poison(v) for k, v in study.counts.items()})


@pytest.mark.parametrize("method", ev.METHODS)
def test_forecasts_never_read_the_target_month(method: str) -> None:
    study = ev_study.prepare_study(
        _random_crimes(),
        _segments(),
        STUDY_AREA,
        methods=ev.METHODS,
        groups=None,
        cell_m=50.0,
        width_m=None,
        quiet=True,
    )
    opts = ev_methods.ScoreOptions(window_months=2, half_life_months=6.0, seed=0)
    for p in (3, 5, 7):
        for group in ("all", "robbery"):
            clean = ev_methods.SCORERS[method](ev_study.StudyHistory(study, p), group, opts)
            dirty = ev_methods.SCORERS[method](
                ev_study.StudyHistory(_poisoned(study, p), p), group, opts
            )
            assert np.isfinite(dirty).all()
            np.testing.assert_array_equal(clean, dirty)


def test_changing_a_month_changes_no_earlier_score() -> None:
    plan = _random_plan(3)
    moved = {**plan, "2020-06": {s: plan["2020-06"].get(N_SEGMENTS - 1 - s, 0) for s in range(10)}}
    tables = [
        ev.evaluate_forecasts(
            _crimes(p),
            _segments(),
            study_area=STUDY_AREA,
            warmup_months=2,
            window_months=2,
            quiet=True,
        )
        for p in (plan, moved)
    ]
    before = [t[t["month"] < "2020-06"].reset_index(drop=True) for t in tables]
    pd.testing.assert_frame_equal(before[0], before[1])
    assert not tables[0].equals(tables[1])


def test_incomplete_months_are_skipped_as_targets_and_history() -> None:
    plan = _random_plan(4)
    plan["2020-04"] = {0: 1}  # far below half the median month
    t = ev.evaluate_forecasts(
        _crimes(plan),
        _segments(),
        study_area=STUDY_AREA,
        methods=["hot_streets"],
        warmup_months=2,
        window_months=2,
        quiet=True,
    )
    assert t.attrs["months_skipped"] == {"2020-04": 1}
    assert "2020-04" not in set(t["month"]) | set(t["prev_month"])
    assert t.loc[t["month"] == "2020-05", "prev_month"].unique().tolist() == ["2020-03"]


# outputs: KDE, summary, expected capture ----------------------------------------------------


def test_kde_on_grid_equals_scikit_learn() -> None:
    counts = np.zeros((30, 40))
    counts[10, 12], counts[11, 12], counts[20, 30], counts[5, 35] = 3, 1, 2, 1
    cell, h = 50.0, 120.0
    rows, cols = np.nonzero(counts)
    centres = np.column_stack([cols, rows]) * cell
    kde = KernelDensity(bandwidth=h).fit(centres, sample_weight=counts[rows, cols])
    gy, gx = np.mgrid[0:30, 0:40]
    expected = np.exp(kde.score_samples(np.column_stack([gx.ravel(), gy.ravel()]) * cell))
    got = ev.kde_on_grid(counts, bandwidth_m=h, cell_m=cell).ravel()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-5 * expected.max())


def test_summary_and_expected_capture() -> None:
    t = ev.evaluate_forecasts(
        _random_crimes(),
        _segments(),
        study_area=STUDY_AREA,
        methods=["ewma", "random"],
        warmup_months=3,
        window_months=2,
        groups=["all"],
        quiet=True,
    )
    s = ev.summarise_backtest(t)
    assert list(s.columns) == ev.SUMMARY_COLUMNS
    assert len(s) == 2 * 4 and (s["months"] == 5).all()
    one = s[(s["method"] == "ewma") & (s["coverage_pct"] == 5.0)].iloc[0]
    rows = t[(t["method"] == "ewma") & (t["coverage_pct"] == 5.0)]
    assert one["pai_mean"] == pytest.approx(rows["pai"].mean())
    assert one["hit_rate_std"] == pytest.approx(rows["hit_rate"].std(ddof=1))
    assert one["pai_min"] == rows["pai"].min() and one["pai_max"] == rows["pai"].max()
    assert ev.expected_capture(t, method="ewma", coverage=5.0) == pytest.approx(
        rows["hit_rate"].mean()
    )
    mid = ev.expected_capture(t, method="ewma", coverage=1.5)
    low, high = (ev.expected_capture(t, method="ewma", coverage=c) for c in (1.0, 2.0))
    assert mid == pytest.approx((low + high) / 2)


# outputs: command line ----------------------------------------------------------------------


def _write_police_uk(folder: Path, crimes: gpd.GeoDataFrame) -> None:
    lonlat = crimes.set_geometry(
        gpd.points_from_xy(crimes["x"] + 530000, crimes["y"] + 180000), crs=27700
    ).to_crs(4326)
    for month, part in lonlat.groupby("month"):
        pd.DataFrame(
            {
                "Crime ID": [f"{month}-{i}" for i in range(len(part))],
                "Month": month,
                "Reported by": "Test Police",
                "Falls within": "Test Police",
                "Longitude": part.geometry.x.round(6),
                "Latitude": part.geometry.y.round(6),
                "Location": "On or near Test Street",
                "LSOA code": "",
                "LSOA name": "",
                "Crime type": part["crime_type"],
                "Last outcome category": "",
                "Context": "",
            }
        ).to_csv(folder / f"{month}-test-street.csv", index=False)


def _write_streets(folder: Path) -> Path:
    segs = _segments()
    moved = segs.set_geometry(segs.translate(530000, 180000), crs=27700)
    path = folder / "streets.geojson"
    moved.rename(columns={"street_name": "name"}).to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def test_cli_writes_the_run_folder(tmp_path: Path) -> None:
    crimes_dir = tmp_path / "crimes"
    crimes_dir.mkdir()
    _write_police_uk(crimes_dir, _random_crimes())
    args = [
        "--crimes",
        str(crimes_dir),
        "--streets",
        str(_write_streets(tmp_path)),
        "--out",
        str(tmp_path / "out"),
        "--warmup",
        "3",
        "--window",
        "2",
        "--coverage",
        "10",
        "--coverage",
        "20",
        "--months-back",
        "4",
        "--quiet",
    ]
    res = CliRunner().invoke(evaluate_cmd, args)
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(
        [
            "backtest.csv",
            "backtest_summary.csv",
            "evaluate.json",
            *(
                f"{m}_{g}.png"
                for m in ("pai", "hit_rate", "area_pai")
                for g in ("all", "burglary", "robbery")
            ),
            "area_backtest.csv",
            "area_summary.csv",
            "area_chosen.csv",
        ]
    )
    manifest = json.loads((tmp_path / "out" / "evaluate.json").read_text())
    assert manifest["months_scored"] == ["2020-05", "2020-06", "2020-07", "2020-08"]
    assert manifest["parameters"]["coverages"] == [10.0, 20.0]
    table = pd.read_csv(tmp_path / "out" / "backtest.csv")
    assert list(table.columns) == ev.BACKTEST_COLUMNS and len(table) == 4 * 8 * 2 * 3
    again = CliRunner().invoke(evaluate_cmd, args)
    assert again.exit_code == 1 and "exists already" in again.output


def test_cli_reports_bad_options_without_traceback(tmp_path: Path) -> None:
    crimes_dir = tmp_path / "crimes"
    crimes_dir.mkdir()
    _write_police_uk(crimes_dir, _random_crimes())
    res = CliRunner().invoke(
        evaluate_cmd,
        [
            "--crimes",
            str(crimes_dir),
            "--streets",
            str(_write_streets(tmp_path)),
            "--out",
            str(tmp_path / "out"),
            "--coverage",
            "150",
        ],
    )
    assert res.exit_code == 1
    assert "Error: `coverages` are percentages in (0, 100]" in res.output


# outputs: real data -------------------------------------------------------------------------


def _smoke(crimes: gpd.GeoDataFrame, segs: gpd.GeoDataFrame, *, months: int) -> pd.DataFrame:
    area = ev.segments_to_study_area(segs)
    t = ev.evaluate_forecasts(
        crimes,
        segs,
        study_area=area,
        warmup_months=3,
        window_months=2,
        groups=["all", "burglary"],
        quiet=True,
    )
    assert len(t) == months * len(ev.METHODS) * 4 * 2
    assert t["hit_rate"].between(0, 1).all()
    np.testing.assert_allclose(t["area_share"], t["coverage_pct"] / 100, rtol=1e-6)
    s = ev.summarise_backtest(t).set_index(["group", "method", "coverage_pct"])
    assert s.loc[("all", "ewma", 5.0), "pai_mean"] > 3 * s.loc[("all", "random", 5.0), "pai_mean"]
    return t


@pytest.mark.e2e
def test_real_vancouver_months(vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    crimes = vancouver[0][vancouver[0]["month"].between("2025-01", "2025-05")]
    streets = crs.to_metric_crs(read_streets(get_path("vancouver_streets")), crimes.crs)
    segs = segments.lines_to_segments(streets.cx[489000:493000, 5456000:5460000], quiet=True)
    t = _smoke(crimes, segs, months=2)
    assert t["month"].unique().tolist() == ["2025-04", "2025-05"]


@pytest.mark.e2e
def test_real_london_months(data_root: Path) -> None:
    files = [
        get_path("london_crimes") / f"2017-{m:02d}-metropolitan-street.csv.gz" for m in range(8, 13)
    ]
    crimes, _ = read_police_uk(files, quiet=True)
    streets = crs.to_metric_crs(read_streets(get_path("london_streets")), crimes.crs)
    segs = segments.lines_to_segments(streets.cx[528000:531000, 180000:182500], quiet=True)
    t = _smoke(crimes, segs, months=2)
    assert t.attrs["months_skipped"] == {}
    assert pyproj.CRS(crimes.crs).to_epsg() == 27700
