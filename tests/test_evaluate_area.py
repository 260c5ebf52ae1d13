"""Tests of the area backtest (issue 20): area PAI, no look-ahead, the near-repeat fit."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from hotspots.evaluate import backtest as bt
from hotspots.evaluate import forecasters as fc
from hotspots.evaluate import nearrepeat as nr
from hotspots.evaluate import units as un

CIRCLE = math.pi * 30.0**2  # the two round caps of a 30 m buffer


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


def _crimes(rows: list[tuple[str, str, float, float]], *, timed: bool = False) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["month", "segment_id", "x", "y"]).assign(crime_type="Burglary")
    if df["segment_id"].isna().all():  # not given: snapped by the backtest
        df = df.drop(columns="segment_id")
    if timed:
        rng = np.random.default_rng(0)
        df["occurred_from"] = pd.to_datetime(df["month"] + "-01") + pd.to_timedelta(
            rng.uniform(0, 27, len(df)), unit="D"
        )
        df["has_time"] = True
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=27700)


# the area cut and area PAI by hand ------------------------------------------------------------


def test_area_cut_counts_shared_land_once() -> None:
    # pixels 0-2; unit 0 holds {0, 1}, unit 1 holds {1, 2}: together 3 pixels, not 4
    inc = sparse.csc_matrix(np.array([[1, 0], [1, 1], [0, 1]], dtype=float))
    area, got = un.area_cut(
        np.array([2.0, 1.0]),
        inc,
        10.0,
        np.array([[4.0], [2.0], [1.0]]),
        np.array([20.0, 25.0, 30.0]),
    )
    assert area.tolist() == [20.0, 25.0, 30.0]
    # 25 m²: unit 0 (20 m²) + half of unit 1's one new pixel
    assert got.ravel().tolist() == [6.0, 6.5, 7.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=8, unique=True), max_size=12))
def test_first_cover_matches_sorting_the_pixels(units: list[list[int]]) -> None:
    """The linear first-cover pass gives each pixel the rank np.unique's first index gives."""
    pix = np.array([q for u in units for q in u], dtype=np.int64)
    rank = np.repeat(np.arange(len(units)), [len(u) for u in units])
    got_pix, got_rank = un.first_cover(pix, rank, 31)
    uniq, first = np.unique(pix, return_index=True)
    order = np.argsort(got_pix)
    assert got_pix[order].tolist() == uniq.tolist()
    assert got_rank[order].tolist() == rank[first].tolist()


def test_area_pai_by_hand_with_overlapping_buffers() -> None:
    """Two links end to end (their buffers overlap) and one far away.

    Land of A and B together: 200 x 60 + pi 30² = 14,827 m² (not 2 x 8,827 = 17,655).
    Study area: that + the far link's 8,827 m² = 23,655 m². The baseline ranks A (most
    crime), then B, then C; at coverage = 14,827 / 23,655 it covers A and B whole, catching
    the 4 of next month's 6 crimes on them: PAI = (4/6) / (14,827/23,655) = 1.064. Counting
    the shared land twice would leave B 68% taken and catch 3.68 crimes (PAI 0.98).
    """
    segs = _segments([[(0, 0), (100, 0)], [(100, 0), (200, 0)], [(0, 500), (100, 500)]])
    region = shapely.union_all(shapely.buffer(segs.geometry.to_numpy(), 30.0))
    plan = {"2020-01": (5, 2, 1), "2020-02": (5, 2, 1), "2020-03": (3, 1, 2)}
    mids = [(50.0, 0.0), (150.0, 0.0), (50.0, 500.0)]
    rows = [
        (m, f"s{i}", *mids[i])
        for m, counts in plan.items()
        for i, n in enumerate(counts)
        for _ in range(n)
    ]
    data = bt.prepare_area(
        _crimes(rows), segs, region, methods=["link_counts"], groups=["all"], pixel_m=1.0
    )
    ab, total = 200 * 60 + CIRCLE, 200 * 60 + CIRCLE + 100 * 60 + CIRCLE
    assert data.extra["raster"].area_m2 == pytest.approx(total, rel=0.005)
    cov = 100 * ab / total
    table = bt.area_backtest(data, targets=[2], methods=["link_counts"], coverages=[cov])
    row = table[table["method"] == "link_counts"].iloc[0]
    assert row["captured"] == pytest.approx(4.0, abs=0.05)
    assert row["pai"] == pytest.approx((4 / 6) / (ab / total), rel=0.01)


# no look-ahead --------------------------------------------------------------------------------


def _grid_world(seed: int) -> tuple[gpd.GeoDataFrame, shapely.Geometry, list[tuple[Any, ...]]]:
    # a 6 x 6 block grid of 100 m links meeting at their end points
    lines = [[(100 * j, 100 * i), (100 * j + 100, 100 * i)] for i in range(7) for j in range(6)]
    lines += [[(100 * i, 100 * j), (100 * i, 100 * j + 100)] for i in range(7) for j in range(6)]
    segs = _segments(lines)
    region = shapely.union_all(shapely.buffer(segs.geometry.to_numpy(), 30.0))
    rng = np.random.default_rng(seed)
    spots = np.column_stack([rng.integers(0, 7, 40) * 100.0, rng.uniform(0, 600, 40)])
    rate = rng.gamma(1.0, 2.0, 40)
    rows = []
    for m in range(1, 15):
        for k, n in enumerate(rng.poisson(rate)):
            rows += [(f"2020-{m:02d}" if m <= 12 else f"2021-{m - 12:02d}", None, *spots[k])] * int(
                n
            )
    return segs, region, rows


def _scores(data: fc.AreaData, p: int) -> dict[tuple[str, float], np.ndarray]:
    hist = fc.History(data, p)
    return {
        (name, v): m.score(hist, "all", v) for name, m in fc.METHODS_AREA.items() for v in m.grid
    }


def test_no_method_sees_the_month_it_forecasts() -> None:
    """Poison month t (the last): its crimes change, every forecast for t stays the same.

    The map-point lattice is an input like the street network (police.uk publishes its map
    points; VPD's are block centroids), so the poisoned month keeps one crime at each of its
    places and piles twice its crimes on three others.
    """
    segs, region, rows = _grid_world(3)
    target = "2021-02"  # the last month
    spots = sorted({(x, y) for _, _, x, y in rows})
    clean = [r for r in rows if r[0] != target]
    n_target = sum(r[0] == target for r in rows)
    kept = sorted({(x, y) for m, _, x, y in rows if m == target})
    poisoned = (
        clean
        + [(target, None, *s) for s in kept]
        + [(target, None, *spots[i % 3]) for i in range(2 * n_target)]
    )
    methods = bt.ALL_AREA_METHODS
    out = []
    for crime_rows in (rows, poisoned):
        crimes = _crimes(crime_rows, timed=True)
        data = bt.prepare_area(crimes, segs, region, methods=methods, groups=["all"])
        p = data.months.index(target)
        bt.prepare_near_repeat_for(data, fit_before=p)
        assert "all" in data.extra["nr_fits"]
        out.append((_scores(data, p), data.extra["nr_fits"]["all"]))
    (a, fit_a), (b, fit_b) = out
    assert fit_a == fit_b
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
    # and the target month itself does change what is scored
    assert not np.array_equal(
        data.counts[("all", "points")][p].toarray(),
        bt.prepare_area(_crimes(rows), segs, region, methods=["link_counts"], groups=["all"])
        .counts[("all", "points")][p]
        .toarray(),
    )


def test_backtest_rows_tuning_and_auto() -> None:
    segs, region, rows = _grid_world(5)
    data = bt.prepare_area(_crimes(rows), segs, region, groups=["all"])
    table = bt.area_backtest(data, targets=list(range(8, len(data.months))))
    methods = set(table["method"])
    assert {*bt.DEFAULT_AREA_METHODS, bt.ENSEMBLE, bt.AUTO} <= methods
    auto = table[table["method"] == bt.AUTO]
    assert set(auto["param"]) <= methods
    assert np.allclose(table["area_share"] * 100, table["coverage_pct"], rtol=1e-6)
    summary = bt.summarise_area(table, n_boot=200)
    base = summary[summary["method"] == fc.BASELINE]
    assert np.allclose(base["ratio_mean"], 1.0)
    chosen = bt.choose_methods(table, summary)
    assert chosen["group"].tolist() == ["all"]
    assert "plain counts per street link" in chosen["text"].iloc[0]


# the near-repeat fit ---------------------------------------------------------------------------


def test_near_repeat_fit_recovers_planted_parameters() -> None:
    xy = np.array([(x, y) for x in range(0, 1500, 50) for y in range(0, 1500, 50)], float)
    tree = cKDTree(xy)
    m = tree.sparse_distance_matrix(tree, nr.MAX_DISTANCE_M, output_type="coo_matrix")
    off = m.row != m.col
    n = len(xy)
    dist = pd.DataFrame(
        {
            "p": np.r_[m.row[off], np.arange(n)],
            "q": np.r_[m.col[off], np.arange(n)],
            "d": np.r_[m.data[off], np.zeros(n)],
        }
    )
    t, point = nr.simulate_near_repeat(
        np.full(n, 0.004), dist, theta=0.4, omega=0.2, sigma=80.0, days=730.0, seed=2
    )
    fit = nr.fit_near_repeat(t, point, dist, n, span_days=730.0)
    assert fit.theta == pytest.approx(0.4, rel=0.2)
    assert fit.omega == pytest.approx(0.2, rel=0.25)
    assert fit.sigma == pytest.approx(80.0, rel=0.25)


# next month's list ----------------------------------------------------------------------------


def test_forecast_uses_the_chosen_method_and_says_so(tmp_path: Path) -> None:
    from hotspots.evaluate import area_run, forecast

    segs, region, rows = _grid_world(7)
    crimes = _crimes(rows)
    area = area_run.run_area(crimes, segs, region, warmup_months=8, months_back=None)
    area_run.write_area(tmp_path, area, title="grid")
    assert {"area_backtest.csv", "area_summary.csv", "area_chosen.csv", "area_pai_all.png"} <= {
        p.name for p in tmp_path.iterdir()
    }
    table, record = forecast.forecast_next_month(crimes, segs, region, backtest_dir=tmp_path)
    chosen = pd.read_csv(tmp_path / "area_chosen.csv").set_index("group")
    assert record["method"] == chosen.at["all", "method"]
    assert record["month"] == "2021-03"
    assert record["text"].startswith("Next month's list (all crime) was made by")
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table["cum_area_pct"].is_monotonic_increasing
    # the list covers about 1% of the land: the last unit crosses it
    assert table["cum_area_pct"].iloc[-1] >= 1.0 > max(table["cum_area_pct"].iloc[:-1], default=0)
    streets = forecast.forecast_streets(table)
    assert streets["places"].sum() == len(table)


def test_forecast_streets_carry_area_rank_and_expected_crimes(tmp_path: Path) -> None:
    """The contract's per-street columns: forecast_rank, street, area_code, expected."""
    from hotspots.evaluate import area_run, forecast

    segs, region, rows = _grid_world(7)
    crimes = _crimes(rows)
    crimes["area_code"] = np.where(crimes["x"] < crimes["x"].median(), "W", "E")
    area = area_run.run_area(crimes, segs, region, warmup_months=8, months_back=None)
    area_run.write_area(tmp_path, area, title="grid")
    table, record = forecast.forecast_next_month(crimes, segs, region, backtest_dir=tmp_path)
    assert set(table["area_code"]) <= {"W", "E"}
    # the expected crimes add up to the backtest's hit rate times the recent crimes per month
    hit = pd.read_csv(tmp_path / "area_chosen.csv").set_index("group").at["all", "hit_rate_1"]
    assert table["expected"].sum() == pytest.approx(record["expected_crimes"], abs=0.1)
    per_month = crimes["month"].value_counts().sort_index()
    age = np.arange(len(per_month), 0, -1)  # months before the month forecast
    w = 0.5 ** (age / 12.0)
    total = float((per_month.to_numpy() * w).sum() / w.sum())
    assert record["expected_crimes"] == pytest.approx(hit * total, rel=0.01)
    streets = forecast.forecast_streets(table)
    assert list(streets.columns[-4:]) == ["forecast_rank", "street", "area_code", "expected"]
    assert streets["forecast_rank"].tolist() == list(range(1, len(streets) + 1))
    assert streets["best_rank"].is_monotonic_increasing
    assert (streets["street"] == streets["street_name"]).all()
    assert streets["expected"].sum() == pytest.approx(table["expected"].sum(), abs=0.01)
    assert not streets.duplicated(["street", "area_code"]).any()


@pytest.mark.e2e
def test_run_forecast_on_real_data(london_backtest: Path, london_forecast_run: Path) -> None:
    """evaluate (2 area months, all crime) then run --forecast on central London.

    Both are the session's shared folders (tests/conftest.py): ``london_backtest`` is the
    evaluate, ``london_forecast_run`` the run with ``--backtest`` and ``--forecast``.
    """
    import json

    chosen = pd.read_csv(london_backtest / "area_chosen.csv")
    assert chosen["group"].tolist() == ["all"] and (chosen["months"] == 2).all()
    out = london_forecast_run
    record = json.loads((out / "run.json").read_text())["forecast"]
    assert record["method"] == chosen.at[0, "method"]
    assert record["month"] == "2018-01"
    assert "times as much as plain counts per street link" in record["text"]
    listed = pd.read_csv(out / "forecast.csv")
    assert len(listed) == record["listed"] >= 3
    assert (out / "forecast_streets.csv").is_file()
