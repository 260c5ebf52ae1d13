"""The one pipeline: extracts to canonical crimes, areas, segments, ranks, time and outputs.

Data flows one way: read extracts -> canonical crime table -> areas and street segments ->
counts and ranks -> time, significance and clusters -> maps, exports and the manifest.

:func:`run` is ``write_run(analyse(config), config)``: :func:`analyse` runs every stage in
memory and returns a :class:`~hotspots.runfolder.RunResult` without writing anything;
:func:`write_run` writes the run folder through :mod:`hotspots.runfolder`. The CLI calls
:func:`run`; each stage is a library function of its own module, so any of them can also be
called alone (``import hotspots as hs``).

The modules, in the order the data flows through them:

* :mod:`~hotspots.pipeline.config`: :class:`RunConfig` and its option groups;
* :mod:`~hotspots.pipeline.ranking`: reading with the area join, segments, snapping, ranks;
* :mod:`~hotspots.pipeline.places`: repeat callers, area lists' links, the area summary;
* :mod:`~hotspots.pipeline.time_profiles`: trends, patrol windows, period comparisons;
* :mod:`~hotspots.pipeline.significance`: Gi*, density clusters, harm, corridors;
* :mod:`~hotspots.pipeline.forecast`: backtest evidence and next month's list;
* :mod:`~hotspots.pipeline.tables` and :mod:`~hotspots.pipeline.writer`: the run folder;
* :mod:`~hotspots.pipeline.runner`: :func:`analyse` and :func:`run`.
"""

from __future__ import annotations

from hotspots.pipeline.config import (
    PARAMETERS,
    ForecastOptions,
    InputOptions,
    OutputOptions,
    PeriodOptions,
    RankingOptions,
    RunConfig,
    SignificanceOptions,
    TimeOptions,
)
from hotspots.pipeline.forecast import backtest_evidence
from hotspots.pipeline.ranking import Ranked, build_segments, name_segments, place_keys, rank_stages
from hotspots.pipeline.runner import analyse, run
from hotspots.pipeline.significance import NOT_TESTED
from hotspots.pipeline.writer import write_run

__all__ = [
    "NOT_TESTED",
    "PARAMETERS",
    "ForecastOptions",
    "InputOptions",
    "OutputOptions",
    "PeriodOptions",
    "Ranked",
    "RankingOptions",
    "RunConfig",
    "SignificanceOptions",
    "TimeOptions",
    "analyse",
    "backtest_evidence",
    "build_segments",
    "name_segments",
    "place_keys",
    "rank_stages",
    "run",
    "write_run",
]
