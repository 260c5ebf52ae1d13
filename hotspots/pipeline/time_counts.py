"""The counts behind the run's time tables, made file by file: the same on both engines.

Every time table of ``hotspots run`` (crimes per month and hour-of-week weights of the
whole run, each listed place, each area, each crime group at each place) is a sum over the
crime rows. :func:`time_keys` numbers each crime's place, area and (place, crime group) on
the run's crime table; the rows are then counted one crime file at a time
(:func:`hotspots.temporal.tallies.count_part`) and the files' counts summed in file order:

- the local engine counts its own table's rows, file by file (:func:`count_times`);
- the Dask engine counts each file's rows on the worker that read it, with the numbers the
  client sends (:mod:`hotspots.pipeline.dask_stages`), and sums the files' counts.

The same function counts each file in the same order on both, so their tables are the same
to the last bit (the hour weights are floats). :class:`RunTimes` turns the counts into the
tables of :mod:`hotspots.pipeline.time_profiles`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from hotspots.temporal.common import (
    ALL,
    factorize_sorted,
    has_time_of_day,
    memo_by_arrow,
    month_numbers,
)
from hotspots.temporal.group_times import place_group_codes, place_group_index
from hotspots.temporal.tallies import (
    TimeCounts,
    count_runs,
    hour_table,
    monthly_table,
    present_groups,
    run_bounds,
)

__all__ = [
    "AREA",
    "CITY",
    "PLACE",
    "PLACE_GROUP",
    "RunTimes",
    "TimeKeys",
    "count_times",
    "crime_groups",
    "time_keys",
]

#: The keys counted: the whole run, each listed place, each area, each place's crime group.
CITY, PLACE, AREA, PLACE_GROUP = ALL, "place_key", "area_code", "place_group"


@dataclass
class TimeKeys:
    """Each crime's group number per key, what the numbers stand for, and what to count.

    ``codes`` maps a key to each row's number (-1: not counted) and the number of groups;
    ``labels`` the groups of :data:`CITY`, :data:`PLACE` and :data:`AREA`; ``places`` and
    ``groups`` what :data:`PLACE_GROUP`'s numbers ``place * len(groups) + group`` stand for;
    ``first`` and ``last`` the run's months (year * 12 + month - 1); ``hours`` whether the
    crimes have times of day (then the hours are counted too).
    """

    codes: dict[str, tuple[np.ndarray, int]]
    labels: dict[str, pd.Index]
    places: pd.Index
    groups: pd.Index
    first: int
    last: int
    hours: bool

    def rows(self, part: slice) -> dict[str, tuple[np.ndarray, int]]:
        """Return the numbers of the rows ``part`` (e.g. one file's rows of the table)."""
        return {k: (np.ascontiguousarray(c[part]), n) for k, (c, n) in self.codes.items()}


def crime_groups(crimes: pd.DataFrame) -> dict[str, str]:
    """Return the brief's crime group of each crime type of ``crimes`` (a type it lacks: none)."""
    from hotspots.analysis.groups import classify_crime_types, read_brief_weights

    types = [str(t) for t in crimes["crime_type"].dropna().unique()]  # not per row
    return classify_crime_types(types, settings=read_brief_weights())


def time_keys(crimes: pd.DataFrame, group_of: Mapping[str, str] | None = None) -> TimeKeys:
    """Return the numbers of each crime's place, area and (place, crime group) for the counts.

    Parameters
    ----------
    crimes
        The ranked crimes: ``month``, ``place_key``, ``area_code``, ``crime_type``, and the
        windows ``occurred_from``, ``occurred_to``, ``has_time``.
    group_of
        Crime type to crime group; default the brief's groups (:func:`crime_groups`).

    Returns
    -------
    TimeKeys
        The numbers, their labels and the months (as
        :func:`hotspots.temporal.profiles.monthly_profile` labels the groups: sorted).
    """
    group_of = crime_groups(crimes) if group_of is None else group_of
    numbers = month_numbers(crimes["month"])
    place, places = memo_by_arrow("groups", crimes[PLACE], factorize_sorted)
    area, areas = factorize_sorted(crimes[AREA])
    pg, pg_places, groups = place_group_codes(crimes, PLACE, group_of)
    codes = {
        CITY: (np.zeros(len(crimes), dtype=np.int64), 1),
        PLACE: (place.astype(np.int64, copy=False), len(places)),
        AREA: (area.astype(np.int64, copy=False), len(areas)),
        PLACE_GROUP: (pg, len(pg_places) * max(len(groups), 1)),
    }
    labels = {
        CITY: pd.Index([ALL], name="group"),
        PLACE: pd.Index(places, name=PLACE),
        AREA: pd.Index(areas, name=AREA),
    }
    return TimeKeys(
        codes,
        labels,
        pg_places,
        groups,
        int(numbers.min()) if len(numbers) else 0,
        int(numbers.max()) if len(numbers) else -1,
        bool(len(crimes)) and has_time_of_day(crimes),
    )


def count_times(crimes: pd.DataFrame, keys: TimeKeys) -> RunTimes:
    """Count ``crimes`` file by file (``source_file``, in order), as the Dask engine does.

    Parameters
    ----------
    crimes
        The ranked crimes, each file's rows together (as the readers join them).
    keys
        From :func:`time_keys` on ``crimes``.

    Returns
    -------
    RunTimes
        The run's time counts.

    Notes
    -----
    The files are told apart by ``source_file``: two files of the same name read one after
    the other count as one here and as two on the Dask engine, whose hour weights may then
    differ in the last bits (the counts per month do not).
    """
    parts = run_bounds(crimes["source_file"])
    counts = count_runs(crimes, keys.codes, keys.first, keys.last, hours=keys.hours, parts=parts)
    return RunTimes(counts, replace(keys, codes={}))  # the rows' numbers have done their work


@dataclass
class RunTimes:
    """The run's time counts (:class:`hotspots.temporal.tallies.TimeCounts`) as tables.

    ``keys`` says what the groups' numbers stand for (its rows' numbers are not kept).
    """

    counts: TimeCounts
    keys: TimeKeys
    made: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def timed(self) -> bool:
        """Whether the crimes have times of day (else the hour tables are None)."""
        return self.keys.hours

    def monthly(self, key: str) -> pd.DataFrame:
        """Crimes per month of each group of ``key`` (as ``monthly_profile(crimes, by=key)``)."""
        if ("monthly", key) not in self.made:  # asked for twice: places' and areas' tables
            self.made["monthly", key] = monthly_table(self.counts, key, self._labels(key))
        return self.made["monthly", key]

    def hours(self, key: str) -> pd.DataFrame | None:
        """Hour-of-week weights of each group of ``key`` (``hour_day_profile``); None: no times."""
        if not self.keys.hours:
            return None
        if ("hours", key) not in self.made:
            self.made["hours", key] = hour_table(self.counts, key, self._labels(key))
        return self.made["hours", key]

    def _labels(self, key: str) -> pd.Index:
        if key != PLACE_GROUP:
            return self.keys.labels[key]
        present = pd.Index(present_groups(self.counts, PLACE_GROUP))
        return place_group_index(present, self.keys.places, self.keys.groups, PLACE)
