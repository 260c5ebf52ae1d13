"""The time stage: trends, patrol windows, peaks, monthly tables and period comparisons."""

from __future__ import annotations

import logging

import pandas as pd

from hotspots.pipeline.config import RunConfig
from hotspots.pipeline.places import join_places
from hotspots.pipeline.time_counts import AREA, CITY, PLACE, PLACE_GROUP, RunTimes
from hotspots.runfolder import RunResult
from hotspots.temporal.group_times import windows_of
from hotspots.temporal.profiles import classify_months, monthly_profile
from hotspots.temporal.summary import summarise_times, time_summary

log = logging.getLogger("hotspots")

__all__ = [
    "add_time",
    "area_tables",
    "group_tables",
    "month_tables",
]


def month_tables(times: RunTimes) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Return the crimes per month of the whole area, the months' check, the incomplete months.

    Parameters
    ----------
    times
        The run's time counts (:mod:`hotspots.pipeline.time_counts`).

    Returns
    -------
    city, months, incomplete
        ``city_monthly`` (one row, a column per month), ``month_check`` (one row per month,
        ``incomplete`` among its columns) and the incomplete months, left out of trend tests.
    """
    city = times.monthly(CITY)
    months = classify_months(city)
    return city, months, months.index[months["incomplete"]].tolist()


def add_time(
    config: RunConfig,
    result: RunResult,
    *,
    times: RunTimes,
    area_level: bool = True,
    group_level: bool = True,
) -> None:
    """Add trends, patrol windows and peaks to hot streets, locations and areas.

    Parameters
    ----------
    config
        The run's time options.
    result
        The run so far (crimes with ``place_key``, hot streets, locations).
    area_level
        Also add the areas' tables (:func:`area_tables`); False where they are computed
        beside this stage (:func:`hotspots.pipeline.beside.start_beside`).
    group_level
        Also add the crime groups' tables (:func:`group_tables`); False where they are
        computed beside this stage.
    times
        The run's time counts (:func:`hotspots.pipeline.time_counts.count_times`, or the Dask
        engine's): every table is taken from them.
    """
    city, months, incomplete = month_tables(times)
    if incomplete and not config.output.quiet:
        log.info("incomplete months left out of trend tests: %s", ", ".join(incomplete))
    _add_place_time(config, result, incomplete, city, months, area_level=area_level, times=times)
    # not in a thread beside the place summaries: measured, the two hold the GIL in turn
    # (wall time = CPU time) and the thread only added switching; a forked process helps
    if group_level:
        result.tables.update(group_tables(config, incomplete, times))


def group_tables(
    config: RunConfig, incomplete: list[str], times: RunTimes
) -> dict[str, pd.DataFrame]:
    """Return the crime groups' tables at every place: hour-of-week profiles and windows.

    Parameters
    ----------
    config
        The run's time options.
    incomplete
        Months left out of the peak months.
    times
        The run's time counts (the places' crime groups among them).

    Returns
    -------
    dict
        ``place_windows`` (patrol windows and peak months per place and crime group) and,
        where the crimes have a time of day, ``place_group_profiles``.
    """
    group_profiles = times.hours(PLACE_GROUP)
    windows = windows_of(
        times.monthly(PLACE_GROUP),
        group_profiles,
        exclude=incomplete,
        share=config.time.patrol_share,
    )
    tables = {"place_windows": windows}
    if group_profiles is not None:
        tables["place_group_profiles"] = group_profiles
    return tables


def _add_place_time(
    config: RunConfig,
    result: RunResult,
    incomplete: list[str],
    city: pd.DataFrame,
    months: pd.DataFrame,
    *,
    area_level: bool,
    times: RunTimes,
) -> None:
    """Add the time summaries of places and areas, the monthly tables and the comparisons."""
    summary, profile = _summary(config, result.crimes, PLACE, incomplete, times, graphics=True)
    result.hot_streets = join_places(result.hot_streets, summary, "s")
    result.locations = join_places(result.locations, summary, "l")
    result.tables.update(city_monthly=city, month_check=months, place_monthly=times.monthly(PLACE))
    if profile is not None:
        streets = profile.loc[profile.index.str.startswith("s")]
        streets.index = [int(k[1:]) for k in streets.index]
        result.tables["street_profiles"] = streets.sort_index()
        result.tables["city_profile"] = times.hours(CITY)
    if area_level:
        result.tables.update(area_tables(config, result, incomplete, times))


def area_tables(
    config: RunConfig,
    result: RunResult,
    incomplete: list[str],
    times: RunTimes | None = None,
    *,
    counted: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Return the area-level time tables of ``result``'s areas (the main layer or an overlay).

    Parameters
    ----------
    config
        The run's time options.
    result
        Crimes with ``area_code``/``area_name`` (and ``month``), the areas, and the city's
        ``city_monthly`` table (its first and last month bound the monthly table).
    incomplete
        Months left out of trend tests.
    times
        The run's time counts, for the main layer's areas; None for an overlay's areas, whose
        crimes are counted here.
    counted
        The run's counted table (:meth:`hotspots.pipeline.area_counts.AreaCounts.counted`),
        compared in place of the crimes; None: the crimes are.

    Returns
    -------
    dict
        ``area_time`` (trend, patrol window and peaks per area), ``area_monthly``,
        ``compare_areas``, ``compare_boroughs`` (when the areas have a ``borough``) and
        ``performance`` (best and worst areas).
    """
    crimes = result.crimes
    area_time, _ = _summary(config, crimes, AREA, incomplete, times, graphics=False)
    city = result.tables["city_monthly"]
    first, last = city.columns[0], city.columns[-1]
    monthly = (
        times.monthly(AREA)
        if times is not None
        else monthly_profile(crimes, by="area_code", start=first, end=last, quiet=True)
    )
    compared = result.crimes if counted is None else counted
    return {
        "area_time": area_time,
        "area_monthly": monthly,
        **_comparisons(config, compared, result.areas),
    }


def _summary(
    config: RunConfig,
    crimes: pd.DataFrame,
    by: str,
    incomplete: list[str],
    times: RunTimes | None,
    *,
    graphics: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return :func:`time_summary` of the places or areas ``by``, from ``times`` if made."""
    quiet = config.output.quiet or not graphics  # the areas' summary is quiet
    share = config.time.patrol_share
    if times is None:
        return time_summary(
            crimes, by=by, exclude=incomplete, share=share, graphics=graphics, quiet=quiet
        )
    return summarise_times(
        times.monthly(by),
        times.hours(by),
        exclude=incomplete,
        share=share,
        graphics=graphics,
        quiet=quiet,
    )


def _comparisons(
    config: RunConfig, crimes: pd.DataFrame, areas: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Return the period comparisons of areas (and boroughs) and the areas' best and worst."""
    from hotspots.analysis.performance import compare_and_rank

    return compare_and_rank(crimes, areas, months=config.time.compare_months)
