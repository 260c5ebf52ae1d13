"""The whole run: :func:`run` is ``write_run(analyse(config), config)``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hotspots import runfolder
from hotspots.analysis import rank
from hotspots.analysis.rates import rates_for_run
from hotspots.pipeline import significance
from hotspots.pipeline.area_counts import AreaCounts, area_keys, count_areas
from hotspots.pipeline.beside import start_beside, trim_heap
from hotspots.pipeline.config import RunConfig, StageTimer
from hotspots.pipeline.dask_stages import dask_rank_stages
from hotspots.pipeline.forecast import add_forecast, backtest_evidence
from hotspots.pipeline.layers import PreparedLayer, analyse_layer, prepare_layer
from hotspots.pipeline.places import (
    add_repeat_callers,
    location_ranks,
    summarise_areas,
    with_map_links,
)
from hotspots.pipeline.ranking import rank_stages
from hotspots.pipeline.time_counts import RunTimes, count_times, time_keys
from hotspots.pipeline.time_profiles import add_time, area_tables, month_tables
from hotspots.pipeline.writer import write_run
from hotspots.read.layers import read_population
from hotspots.runfolder import RunResult
from hotspots.space import grid

__all__ = [
    "analyse",
    "run",
]


def run(config: RunConfig) -> RunResult:
    """Run the whole analysis and write the run folder: ``write_run(analyse(config), config)``.

    Parameters
    ----------
    config
        Inputs, output folder and parameters.

    Returns
    -------
    RunResult
        The tables behind the files written to ``config.out``.

    Raises
    ------
    OutputExistsError
        If ``config.out`` exists and ``config.output.overwrite`` is False.
    hotspots.runfolder.OutputFolderBusyError
        If another run is writing ``config.out`` and ``config.output.wait`` is False.
    hotspots.runfolder.OutputFolderError
        If ``config.out`` cannot be written (checked before any input is read).
    InputDataError
        If an input file cannot be used (the message names it).
    """
    out = Path(config.out)
    # the folder's lock is taken and --out checked before any input is read (write_run takes
    # the lock again: it is re-entrant)
    runfolder.check_writable(out, overwrite=config.output.overwrite)
    with runfolder.folder_lock(out, wait=config.output.wait):
        return write_run(analyse(config), config)


def analyse(config: RunConfig) -> RunResult:
    """Run every analysis stage of :func:`run` in memory; nothing is written.

    Parameters
    ----------
    config
        Inputs and parameters (``config.out`` only becomes the result's ``out_dir``).

    Returns
    -------
    RunResult
        Crimes, areas, segments, hot streets, listed locations, area lists, the area summary
        and the tables of the time, significance, corridor and forecast stages, with the
        seconds of each stage; ``manifest`` stays empty until :func:`write_run`.

    Raises
    ------
    InputDataError
        If an input file cannot be used (the message names it).
    """
    stage = StageTimer()
    engine: dict[str, object] = {"engine": config.engine.engine}  # run.json's "engine"
    times: RunTimes | None = None
    area_counts: AreaCounts | None = None  # the local engine counts in the second process
    rejected_csv = None  # the local engine's rejected.csv is made from its rejected table
    if config.engine.engine == "dask":  # the row stages and counts on Dask (issue 19.7)
        ranked, counts = dask_rank_stages(config, stage, engine)
        times, area_counts, rejected_csv = counts.times, counts.areas, counts.rejected
    else:
        ranked = rank_stages(config, stage)
    crimes = ranked.crimes
    result = RunResult(
        Path(config.out),
        crimes,
        ranked.rejected,
        ranked.areas,
        ranked.segments,
        ranked.hot_streets,
        ranked.locations,
        {},
        counts=ranked.counts,
        concentration=ranked.concentration,
        naming=ranked.naming,
        seconds=stage.seconds,
        records={"engine": engine},
        rejected_csv=rejected_csv,
    )
    population = read_population(config.inputs.population) if config.inputs.population else None
    if times is None:
        with stage("time_counts"):  # the per-row counts of the time tables, file by file
            times = count_times(crimes, time_keys(crimes))
    city, months, incomplete = month_tables(times)
    result.tables.update(city_monthly=city, month_check=months)
    # Gi* and the density clusters need only the ranked crimes, and the area-level tables
    # only the crimes with their areas: second processes compute them (and the overlays')
    # while this one does the place-level stages (issue 19); the crime groups' tables stay
    # here: measured, in a second process they only moved its work under the significance
    # stage's two threads (Vancouver slower, 10M no faster)
    # the crimes' distinct points, found once for Gi*'s cells, the density clusters and the
    # repeat locations (the 10M scale-up's 2 million points: 3-4 s each time)
    points = grid.distinct_xy(crimes)
    found = start_beside(
        significance.find, config, crimes, ranked.segments, ranked.areas, ranked.counts, points
    )
    area_level = start_beside(
        _area_stage, config, result, population, incomplete, times, area_counts
    )
    with stage("time_profiles"):
        add_time(config, result, area_level=False, times=times)
    trim_heap()  # each stage's temporaries leave the process before the next one's peak
    with stage("corridors"):  # before the wait for Gi*: they need the crimes' harm only
        significance.add_harm(config, result)
        corridors = significance.build_run_corridors(result, ranked.counts)
    with stage("significance_clusters"):  # the wait for the second process, if any
        significance.add_significance(result, found(), points)
    trim_heap()
    result.tables["corridors"] = corridors
    if config.forecast.backtest:
        result.tables["backtest"] = pd.DataFrame(
            [backtest_evidence(config.forecast.backtest, result)]
        )
    if config.forecast.forecast:
        with stage("forecast"):
            add_forecast(config, result)
    if "caller_ref" in crimes.columns:
        add_repeat_callers(result)
    result.area_lists = rank.area_lists(
        result.hot_streets, result.locations, area_codes=crimes["area_code"].unique().tolist()
    )
    result.locations = location_ranks(result.locations, result.area_lists)
    if config.output.area_maps:
        result.area_lists = {
            code: with_map_links(code, table) for code, table in result.area_lists.items()
        }
    with stage("area_tables"):  # the wait for the second process, if any
        tables, prepared = area_level()
    result.tables.update(tables)
    result.area_summary = summarise_areas(result, population)
    for name, source in config.inputs.overlays:
        with stage(f"layer_{name}"):
            result.layers[name] = analyse_layer(config, result, name, source, prepared[name])
    return result


def _area_stage(
    config: RunConfig,
    result: RunResult,
    population: pd.Series | None,
    incomplete: list[str],
    times: RunTimes,
    areas: AreaCounts | None,
) -> tuple[dict[str, pd.DataFrame], dict[str, PreparedLayer]]:
    """Return the main layer's area tables with ``rates``, and each overlay prepared.

    The comparisons and rates read the counted table of ``areas``
    (:mod:`hotspots.pipeline.area_counts`) in place of the crimes: the Dask engine's
    workers made it; the local engine counts its crimes here, file by file, in the second
    process.
    """
    if areas is None:
        areas = count_areas(result.crimes, area_keys(result.crimes))
    counted = areas.counted()
    tables = area_tables(config, result, incomplete, times, counted=counted)
    tables["rates"] = rates_for_run(
        result.crimes if counted is None else counted,
        result.areas,
        result.segments,
        population=population,
        denominator=config.inputs.denominator,
    )
    layers = {
        name: prepare_layer(config, result, name, source, incomplete)
        for name, source in config.inputs.overlays
    }
    return tables, layers
