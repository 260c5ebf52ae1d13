"""The time stage's counts: one counting function, file by file, for both engines.

``hotspots.temporal.tallies`` counts a partition of the rows; the local engine counts its
table file by file (``count_times``), the Dask engine each file on its worker
(``distributed_tasks.count_file``) and sums them. These tests check that the two give the
same tables to the last bit, and that one partition gives what the row functions
(``monthly_profile``, ``hour_day_profile``, ``group_windows``) give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots.distributed_tasks import count_file
from hotspots.pipeline.time_counts import (
    AREA,
    CITY,
    PLACE,
    PLACE_GROUP,
    RunTimes,
    count_times,
    time_keys,
)
from hotspots.temporal.group_times import group_profiles, group_windows, windows_of
from hotspots.temporal.profiles import hour_day_profile, monthly_profile
from hotspots.temporal.tallies import count_part, run_bounds, sum_parts

GROUPS = {"Robbery": "robbery", "Burglary": "burglary", "Theft": "theft"}


def _crimes(n: int = 4000, files: int = 3, *, seed: int = 1, timed: bool = True) -> pd.DataFrame:
    """Crimes of ``files`` files in file order, with windows from a minute to two weeks."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(
        rng.integers(0, 400 * 24 * 60, n), unit="min"
    )
    minutes = rng.choice([0, 1, 45, 60, 150, 24 * 60, 3 * 24 * 60, 8 * 24 * 60, 15 * 24 * 60], n)
    if not timed:  # month-long windows only (police.uk)
        start = start.to_period("M").to_timestamp()
        minutes = np.full(n, 31 * 24 * 60)
    places = np.array([f"s{i}" for i in range(12)] + [f"l{i}" for i in range(5)], dtype=object)
    place = pd.array(places[rng.integers(0, len(places), n)], dtype="string")
    place[rng.random(n) < 0.2] = pd.NA  # crimes on no listed place
    crimes = pd.DataFrame(
        {
            "source_file": np.sort(rng.integers(0, files, n)).astype(str),
            "occurred_from": start,
            "occurred_to": start + pd.to_timedelta(minutes, unit="min"),
            "has_time": (minutes < 24 * 60) & timed,
            "month": start.strftime("%Y-%m"),
            "crime_type": rng.choice([*GROUPS, "Other"], n),
            "area_code": pd.Categorical(rng.choice(["E1", "E2", "E3", "E4"], n)),
            "place_key": place,
        }
    )
    return crimes.sort_values("source_file", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize(("timed", "files"), [(True, 3), (False, 3), (True, 70)])
def test_workers_file_counts_equal_the_local_engines(timed: bool, files: int) -> None:
    """``count_file`` per file (as on the workers), summed: the local engine's tables.

    With 70 files the local engine sums them some at a time (``Summed``), the workers'
    counts here are summed at once: the same sums.
    """
    crimes = _crimes(timed=timed, files=files)
    keys = time_keys(crimes, GROUPS)
    local = count_times(crimes, keys)
    assert keys.hours == timed == local.timed
    # the worker side: each file's rows with a few the client dropped (keep mask), the
    # client's numbers of the kept rows
    extra = crimes.iloc[:7].assign(month="2099-01")  # rows the run dropped: never counted
    parts = []
    for part in run_bounds(crimes["source_file"]):
        rows = pd.concat([crimes.iloc[part], extra], ignore_index=True)
        keep = np.r_[np.ones(part.stop - part.start, bool), np.zeros(len(extra), bool)]
        codes = {
            k: (None if k == CITY else c[part].astype(np.int32), n)
            for k, (c, n) in keys.codes.items()
        }
        parts.append(count_file(rows, keep, codes, keys.first, keys.last, keys.hours))
    workers = sum_parts(parts)
    assert len(parts) == files
    on_workers = RunTimes(workers, keys)
    for key in (CITY, PLACE, AREA, PLACE_GROUP):
        pd.testing.assert_frame_equal(on_workers.monthly(key), local.monthly(key))
        if timed:  # floats: bit for bit
            pd.testing.assert_frame_equal(on_workers.hours(key), local.hours(key), check_exact=True)
        else:
            assert on_workers.hours(key) is None


def test_one_file_gives_the_row_functions_tables() -> None:
    """Counted as one partition: exactly what the per-row functions give."""
    crimes = _crimes(files=1)
    times = count_times(crimes, time_keys(crimes, GROUPS))
    pd.testing.assert_frame_equal(times.monthly(CITY), monthly_profile(crimes, quiet=True))
    pd.testing.assert_frame_equal(times.hours(CITY), hour_day_profile(crimes, quiet=True))
    for key in (PLACE, AREA):
        pd.testing.assert_frame_equal(times.monthly(key), monthly_profile(crimes, by=key))
        pd.testing.assert_frame_equal(
            times.hours(key), hour_day_profile(crimes, by=key, quiet=True), check_exact=True
        )
    profiles = group_profiles(crimes, by=PLACE, group_of=GROUPS)
    pd.testing.assert_frame_equal(times.hours(PLACE_GROUP), profiles, check_exact=True)
    pd.testing.assert_frame_equal(
        windows_of(times.monthly(PLACE_GROUP), times.hours(PLACE_GROUP)),
        group_windows(crimes, by=PLACE, group_of=GROUPS),
    )


def test_files_add_up_to_the_whole() -> None:
    """Over several files the integer counts are the whole table's; the weights agree closely."""
    crimes = _crimes(files=5, seed=3)
    times = count_times(crimes, time_keys(crimes, GROUPS))
    pd.testing.assert_frame_equal(times.monthly(PLACE), monthly_profile(crimes, by=PLACE))
    whole = hour_day_profile(crimes, by=AREA, quiet=True)
    pd.testing.assert_frame_equal(times.hours(AREA), whole, check_exact=False, rtol=1e-12)
    assert times.hours(CITY).to_numpy().sum() == pytest.approx(len(crimes))


def test_rows_outside_the_months_and_without_a_key_are_left_out() -> None:
    rows = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-05"]})
    part = count_part(rows, {"k": (np.array([0, -1, 1]), 2)}, 24288, 24289, hours=False)
    # group 1's only row is outside the months: no counted row, not in the table
    assert part.tallies["k"].months[0].tolist() == [0]


def test_a_file_that_kept_no_row_adds_nothing() -> None:
    """A worker's file with no kept row (and no window columns) counts nothing."""
    crimes = _crimes(files=1)
    keys = time_keys(crimes, GROUPS)
    whole = count_times(crimes, keys)
    codes = {k: (None if k == CITY else c, n) for k, (c, n) in keys.codes.items()}
    rows = crimes[["month", "occurred_from", "occurred_to", "has_time"]]
    empty = pd.DataFrame({"month": pd.Series([], dtype=str)})
    no_codes = {k: (None if k == CITY else c[:0], n) for k, (c, n) in keys.codes.items()}
    parts = [
        count_file(empty, None, no_codes, keys.first, keys.last, keys.hours),
        count_file(rows, None, codes, keys.first, keys.last, keys.hours),
    ]
    summed = sum_parts(parts)
    for key in (CITY, PLACE, PLACE_GROUP):
        whole_hours, summed_hours = whole.counts.tallies[key].short, summed.tallies[key].short
        assert whole_hours is not None and summed_hours is not None
        assert np.array_equal(whole_hours[1], summed_hours[1])
        assert np.array_equal(whole.counts.tallies[key].months[1], summed.tallies[key].months[1])
