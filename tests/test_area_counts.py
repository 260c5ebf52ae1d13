"""The area stage's tables from counts per file equal those from the crime rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots.analysis.performance import compare_and_rank
from hotspots.analysis.rates import area_street_km, rates_for_run
from hotspots.distributed_tasks import count_area_file
from hotspots.pipeline.area_counts import AreaCounts, area_keys, count_areas
from hotspots.temporal.counted import COUNT, count_groups, sum_groups


def _crimes(*, dated: bool, seed: int = 0, n: int = 6000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Crimes of three files over 30 months in six areas of two boroughs, and the areas."""
    rng = np.random.default_rng(seed)
    codes = ["E1", "E2", "E3", "W1", "W2", "W3"]
    areas = pd.DataFrame(
        {
            "area_code": codes,
            "area_name": [f"Area {c}" for c in codes],
            "borough": ["East"] * 3 + ["West"] * 3,
            "borough_code": ["B1"] * 3 + ["B2"] * 3,
        }
    )
    area = rng.choice(6, n, p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05])
    day = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    start = day + pd.to_timedelta(rng.integers(0, 24 * 60, n), unit="min")
    if dated:
        end = start + pd.to_timedelta(rng.choice([0, 30, 3 * 24 * 60], n), unit="min")
    else:  # police.uk: the month only
        start = start.to_period("M").to_timestamp()
        end = (start + pd.offsets.MonthBegin(1)).to_numpy()
    types = ["Burglary", "Robbery", "Vehicle crime", "Shoplifting", "Possession of weapons"]
    crimes = pd.DataFrame(
        {
            "source_file": pd.Categorical(np.repeat(["a", "b", "c"], n // 3)),
            "occurred_from": start,
            "occurred_to": end,
            "month": pd.Series(start).dt.strftime("%Y-%m").astype("str"),
            "crime_type": pd.Categorical(rng.choice(types, n)),
            "area_code": pd.Categorical(np.asarray(codes)[area]),
            "area_name": pd.Categorical(areas["area_name"].to_numpy()[area]),
            "segment_id": pd.Categorical(np.where(rng.random(n) < 0.8, "s1", None)),
        }
    )
    return crimes, areas


@pytest.mark.parametrize("dated", [True, False])
def test_comparisons_from_counts_equal_the_rows(dated: bool) -> None:
    crimes, areas = _crimes(dated=dated)
    counted = count_areas(crimes, area_keys(crimes)).counted()
    assert len(counted) < len(crimes) and counted[COUNT].sum() == len(crimes)
    rows = compare_and_rank(crimes, areas)
    cells = compare_and_rank(counted, areas)
    assert set(rows) == set(cells) == {"compare_areas", "compare_boroughs", "performance"}
    for name, table in rows.items():
        pd.testing.assert_frame_equal(cells[name], table, check_exact=True)
        assert cells[name].attrs == table.attrs
    if dated:  # the week windows were compared
        assert (rows["compare_areas"]["window"] == "52 weeks").any()


def test_rates_from_counts_equal_the_rows() -> None:
    crimes, areas = _crimes(dated=True, seed=1)
    segments = pd.DataFrame({"area_code": ["E1", "E2", "W1"], "length_m": [1200.0, 800.0, 50.0]})
    counted = count_areas(crimes, area_keys(crimes)).counted()
    pd.testing.assert_series_equal(
        area_street_km(counted, segments), area_street_km(crimes, segments), check_exact=True
    )
    population = pd.Series([1000, 2000, 1500, 900, 800, 700], index=areas["area_code"])
    pd.testing.assert_frame_equal(
        rates_for_run(counted, areas, segments, population=population),
        rates_for_run(crimes, areas, segments, population=population),
        check_exact=True,
    )


def test_workers_file_counts_sum_to_the_local_counts() -> None:
    """Each file counted apart (a worker's task, rows dropped by the join left out)."""
    crimes, _ = _crimes(dated=True, seed=2)
    keys = area_keys(crimes)
    local = count_areas(crimes, keys)
    parts = []
    for name in ["a", "b", "c"]:
        at = np.flatnonzero((crimes["source_file"] == name).to_numpy())
        rows = crimes.iloc[at][["month", "occurred_from", "occurred_to"]]
        with_dropped = pd.concat([rows, rows.iloc[:5]], ignore_index=True)
        keep = np.r_[np.ones(len(rows), bool), np.zeros(5, bool)]
        parts.append(count_area_file(with_dropped, keep, keys.codes[at]))
    workers = AreaCounts(sum_groups(parts[::-1]), keys.columns)  # integers: any order
    pd.testing.assert_frame_equal(workers.table, local.table, check_exact=True)
    pd.testing.assert_frame_equal(
        count_groups(crimes, keys.codes), local.table, check_exact=True
    )  # one partition or three
