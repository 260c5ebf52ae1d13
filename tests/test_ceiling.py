"""Tests of the forecast ceilings and the boosted forecaster (issue 20, the Vancouver 5% gap)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from hotspots.evaluate import backtest as bt
from hotspots.evaluate import boosted
from hotspots.evaluate import ceiling as ce
from hotspots.evaluate import forecasters as fc

DISC = math.pi * 30.0**2  # the land of one map point (30 m buffer)
#: Three map points on one 600 m street, 200 m apart: their lands do not overlap.
SPOTS = [(100.0, 0.0), (300.0, 0.0), (500.0, 0.0)]


def _segments(lines: list[list[tuple[float, float]]]) -> gpd.GeoDataFrame:
    geoms = [LineString(c) for c in lines]
    return gpd.GeoDataFrame(
        {
            "segment_id": [f"s{i}" for i in range(len(geoms))],
            "street_name": [f"Street {i}" for i in range(len(geoms))],
            "length_m": [g.length for g in geoms],
        },
        geometry=geoms,
        crs=27700,
    )


def _crimes(rows: list[tuple[str, float, float]]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["month", "x", "y"]).assign(crime_type="Burglary")
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=27700)


def _street_world(plan: list[tuple[int, int, int]]) -> fc.AreaData:
    """One street, the three map points of SPOTS, ``plan[m]`` crimes at each in month m."""
    segs = _segments([[(0, 0), (600, 0)]])
    region = shapely.buffer(segs.geometry.iloc[0], 30.0)
    rows = [
        (f"2020-{m + 1:02d}", *SPOTS[i])
        for m, counts in enumerate(plan)
        for i, n in enumerate(counts)
        for _ in range(n)
    ]
    return bt.prepare_area(_crimes(rows), segs, region, groups=["all"], pixel_m=1.0)


def _point_of(data: fc.AreaData, xy: tuple[float, float]) -> int:
    return int(np.flatnonzero((data.units["points"].xy == xy).all(axis=1))[0])


def test_hindsight_and_oracle_by_hand() -> None:
    """Target month 4: A 0, B 1, C 3 crimes; A led every month before, C's big month is after.

    At the land of one map point (coverage = pi 30² / (600 x 60 + pi 30²)):

    * hindsight takes C, catching 3 of 4: hit 0.75;
    * the long-run oracle (months 1-3 and 5) rates A (4+4+4+0)/4 = 3, B 3/4, C 20/4 = 5:
      it takes C too (the future month tells it), hit 0.75;
    * point_cover sees months 1-3 only and takes A: hit 0;
    * the baseline has one link, the whole study area: it catches the coverage share.
    """
    data = _street_world([(4, 1, 0), (4, 1, 0), (4, 1, 0), (0, 1, 3), (0, 0, 20)])
    area = 600 * 60 + DISC
    assert data.extra["raster"].area_m2 == pytest.approx(area, rel=0.005)
    assert data.units["points"].area_m2 == pytest.approx(np.full(3, DISC), rel=0.01)
    a, c = _point_of(data, SPOTS[0]), _point_of(data, SPOTS[2])
    rate = ce.oracle_rate(data, "all", 3)
    assert rate[a] == 3.0 and rate[c] == 5.0
    cov = 100 * float(data.units["points"].area_m2[c]) / data.extra["raster"].area_m2
    table = ce.ceiling_backtest(data, targets=[3], coverages=[cov], draws=0)
    hit = table.set_index("method")["hit_rate"]
    assert hit["hindsight"] == pytest.approx(0.75)
    assert hit["oracle"] == pytest.approx(0.75)
    assert hit["point_cover"] == pytest.approx(0.0)
    assert hit[fc.BASELINE] == pytest.approx(cov / 100, rel=1e-6)
    share = table.set_index("method")["area_share"]
    assert np.allclose(share, cov / 100, rtol=1e-6)
    summary = ce.summarise_ceiling(table, n_boot=10)
    ratio = summary.set_index("method")["ratio_mean"]
    assert ratio["hindsight"] == pytest.approx(0.75 / (cov / 100))


def test_hindsight_scores_take_the_densest_new_land_first() -> None:
    data = _street_world([(2, 2, 2), (2, 5, 3)])
    data.extra["cover_budget_m2"] = 2.5 * DISC
    actual = data.extra["pixel_counts"]["all"][1].toarray().ravel()
    scores = ce.hindsight_scores(data, actual)
    order = [int(i) for i in np.argsort(-scores)]
    assert order == [_point_of(data, s) for s in (SPOTS[1], SPOTS[2], SPOTS[0])]


def test_poisson_ceiling_matches_the_known_rates() -> None:
    """Long-run rates A 6, B 2, C 2 a month: the oracle list (A's land) expects 6/10 of a month.

    Given a simulated month's total, A's crimes are binomial with p = 0.6, so the mean hit
    rate of the oracle list is 0.6 (months with crime); hindsight never does worse.
    """
    data = _street_world([(6, 2, 2)] * 9)
    cov = 100 * DISC / data.extra["raster"].area_m2
    budgets = np.array([cov / 100 * data.extra["raster"].area_m2])
    data.extra["cover_budget_m2"] = float(budgets.max()) * 1.05
    sim = ce.poisson_ceiling(
        data, "all", 8, budgets=budgets, rng=np.random.default_rng(1), draws=400
    )
    assert sim["poisson_oracle"].shape == (400, 1)
    assert float(np.nanmean(sim["poisson_oracle"])) == pytest.approx(0.6, abs=0.03)
    assert (sim["poisson_hindsight"] >= sim["poisson_oracle"] - 1e-9).all()
    # the baseline's one link is the whole study area: it catches the coverage share
    assert float(np.nanmean(sim["poisson_baseline"])) == pytest.approx(cov / 100, rel=1e-6)


def test_cover_scores_is_point_cover_for_its_rate() -> None:
    data = _street_world([(3, 1, 2), (2, 2, 1), (4, 0, 1), (1, 1, 1)])
    data.extra["cover_budget_m2"] = 2 * DISC
    hist = fc.History(data, 3)
    mine = ce.cover_scores(data, fc.ewma_rate(hist, "all", "points", 12.0))
    np.testing.assert_array_equal(mine, fc.score_point_cover(hist, "all", 12.0))


# the boosted forecaster -------------------------------------------------------------------------


def _grid_rows(seed: int, months: int = 20) -> tuple[gpd.GeoDataFrame, shapely.Geometry, list]:
    lines = [[(100 * j, 100 * i), (100 * j + 100, 100 * i)] for i in range(5) for j in range(4)]
    lines += [[(100 * i, 100 * j), (100 * i, 100 * j + 100)] for i in range(5) for j in range(4)]
    segs = _segments(lines)
    region = shapely.union_all(shapely.buffer(segs.geometry.to_numpy(), 30.0))
    rng = np.random.default_rng(seed)
    spots = np.column_stack([rng.integers(0, 5, 30) * 100.0, rng.uniform(0, 400, 30)])
    rate = rng.gamma(1.0, 2.0, 30)
    rows = []
    for m in range(months):
        month = f"{2020 + m // 12}-{m % 12 + 1:02d}"
        for k, n in enumerate(rng.poisson(rate)):
            rows += [(month, *spots[k])] * int(n)
    return segs, region, rows


def test_gbm_does_not_see_the_month_it_forecasts() -> None:
    """Poison month t and every later one: the model and forecast for t stay the same."""
    segs, region, rows = _grid_rows(7)
    target = "2021-03"  # month 15 of 20: origin 12, so the model is fitted on months 0-11
    late = sorted({m for m, _, _ in rows if m >= target})
    spots = sorted({(x, y) for _, x, y in rows})
    poisoned = [r for r in rows if r[0] < target]
    for month in late:  # a crime at every place, then a pile on two of them
        poisoned += [(month, *s) for s in spots] + [(month, *spots[i % 2]) for i in range(60)]
    out = []
    for crime_rows in (rows, poisoned):
        data = bt.prepare_area(_crimes(crime_rows), segs, region, groups=["all"])
        p = data.months.index(target)
        out.append(boosted.score_point_gbm(fc.History(data, p), "all", 12.0))
        assert {k[1] for k in data.extra["gbm_models"]} == {12}
    np.testing.assert_array_equal(out[0], out[1])
    assert not np.array_equal(data.counts[("all", "points")][p].toarray(), 0)


def test_gbm_features_and_calibration() -> None:
    segs, region, rows = _grid_rows(11)
    data = bt.prepare_area(_crimes(rows), segs, region, groups=["all"])
    x = boosted.point_features(data, "all", 13)
    assert x.shape == (len(data.units["points"]), len(boosted.FEATURES) + 1)
    own = data.counts[("all", "points")].toarray()
    np.testing.assert_allclose(x[:, 0], own[12], rtol=1e-6)  # own_1: the month before
    np.testing.assert_allclose(x[:, 2], own[7:13].mean(axis=0), rtol=1e-5)  # own_6
    assert (x[:, boosted.FEATURES.index("months_since_last")] >= 0).all()
    model = boosted.fit_point_gbm(data, "all", 12, train_months=12)
    train = np.vstack([boosted.point_features(data, "all", q) for q in range(12)])
    # the Poisson fit keeps the total (the l2 penalty keeps the log-link steps finite)
    assert model.predict(train).sum() == pytest.approx(own[:12].sum(), rel=0.1)


def test_gbm_forecasts_the_month_after_the_data() -> None:
    """As ``hotspots run --forecast`` asks: the month after the last complete one."""
    segs, region, rows = _grid_rows(13, months=14)
    data = bt.prepare_area(_crimes(rows), segs, region, groups=["all"])
    data.cal = np.r_[data.cal, data.cal[-1] + 1]
    data.extra["cover_budget_m2"] = 0.05 * data.extra["raster"].area_m2
    p = len(data.months)
    scores = boosted.score_point_gbm(fc.History(data, p), "all", 12.0)
    assert scores.shape == (len(data.units["points"]),)
    assert (scores >= 1).sum() > 0  # some points taken by the cover rule
    assert boosted.POINT_GBM is fc.METHODS_AREA["point_gbm"]
    assert boosted.POINT_GBM.grid == boosted.GBM_TRAIN_MONTHS


def test_oracle_rate_in_a_window_by_hand() -> None:
    data = _street_world([(3, 0, 0), (9, 0, 0), (5, 0, 0), (4, 0, 0), (8, 0, 0)])
    a = _point_of(data, SPOTS[0])
    assert len(data.months) == 5
    assert ce.oracle_rate(data, "all", 2)[a] == pytest.approx((3 + 9 + 4 + 8) / 4)
    assert ce.oracle_rate(data, "all", 2, window_months=1)[a] == pytest.approx((9 + 4) / 2)
    assert ce.oracle_rate(data, "all", 0, window_months=1)[a] == pytest.approx(9.0)
