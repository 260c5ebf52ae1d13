"""hotspots: hot streets from police crime extracts.

The public verbs are importable from the package itself, so a notebook can read, analyse,
explore and map without writing a run folder::

    import hotspots as hs

    crimes, rejected = hs.read_crimes([path], fmt="vancouver", start="2025-10")
    result = hs.analyse(hs.RunConfig.from_options(crimes=[path], areas=a, streets=s, out=o))
    hs.explore_hot_streets(result.hot_streets)

Each name is imported from its module on first use (PEP 562), so ``import hotspots`` and
``hotspots --help`` load no heavy library.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("hotspots")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from hotspots.analysis.clusters import cluster_points, summarise_clusters
    from hotspots.analysis.concentration import count_concentration
    from hotspots.analysis.corridors import build_corridors
    from hotspots.analysis.harm import assign_harm, read_harm_weights
    from hotspots.analysis.location_ranks import rank_locations
    from hotspots.analysis.rank import area_lists, count_by_segment, rank_streets
    from hotspots.analysis.repeats import repeat_locations
    from hotspots.analysis.stats import gistar_cells, gistar_streets
    from hotspots.brief.writer import write_briefs
    from hotspots.errors import HotspotsError, InputDataError, OutputExistsError
    from hotspots.output.charts import plot_hour_day, plot_monthly
    from hotspots.output.export import read_run
    from hotspots.output.handouts import write_area_handouts
    from hotspots.output.maps import explore_hot_streets
    from hotspots.output.report import summarise_run
    from hotspots.output.site import write_maps
    from hotspots.pipeline.config import RunConfig
    from hotspots.pipeline.ranking import rank_stages
    from hotspots.pipeline.runner import analyse, run
    from hotspots.pipeline.writer import write_run
    from hotspots.read.crimes import read_crimes
    from hotspots.read.datasets import get_path
    from hotspots.read.layers import read_areas, read_population, read_streets
    from hotspots.read.policeuk import read_police_uk
    from hotspots.runfolder import RunResult
    from hotspots.space.cache import cached_segments
    from hotspots.space.crs import to_metric_crs
    from hotspots.space.grid import count_by_cell
    from hotspots.space.names import location_to_street, name_agreement, normalise_name
    from hotspots.space.snap import assign_segment_areas, snap_to_streets
    from hotspots.temporal.common import has_time_of_day
    from hotspots.temporal.compare import compare_periods
    from hotspots.temporal.profiles import hour_day_profile, monthly_profile
    from hotspots.temporal.summary import time_summary
    from hotspots.temporal.trends import classify_trend

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # read
    "read_crimes": "read.crimes",
    "read_police_uk": "read.policeuk",
    "read_areas": "read.layers",
    "read_streets": "read.layers",
    "read_population": "read.layers",
    "get_path": "read.datasets",
    # space
    "to_metric_crs": "space.crs",
    "cached_segments": "space.cache",
    "assign_segment_areas": "space.snap",
    "snap_to_streets": "space.snap",
    "count_by_cell": "space.grid",
    "location_to_street": "space.names",
    "name_agreement": "space.names",
    "normalise_name": "space.names",
    # counts and ranks
    "count_by_segment": "analysis.rank",
    "rank_streets": "analysis.rank",
    "rank_locations": "analysis.location_ranks",
    "area_lists": "analysis.rank",
    "count_concentration": "analysis.concentration",
    "read_harm_weights": "analysis.harm",
    "assign_harm": "analysis.harm",
    "build_corridors": "analysis.corridors",
    # time
    "monthly_profile": "temporal.profiles",
    "hour_day_profile": "temporal.profiles",
    "classify_trend": "temporal.trends",
    "compare_periods": "temporal.compare",
    "time_summary": "temporal.summary",
    "has_time_of_day": "temporal.common",
    "plot_monthly": "output.charts",
    "plot_hour_day": "output.charts",
    # significance and clusters
    "gistar_cells": "analysis.stats",
    "gistar_streets": "analysis.stats",
    "cluster_points": "analysis.clusters",
    "summarise_clusters": "analysis.clusters",
    "repeat_locations": "analysis.repeats",
    # the whole run
    "RunConfig": "pipeline.config",
    "RunResult": "runfolder",
    "rank_stages": "pipeline.ranking",
    "analyse": "pipeline.runner",
    "write_run": "pipeline.writer",
    "run": "pipeline.runner",
    # outputs
    "explore_hot_streets": "output.maps",
    "write_maps": "output.site",
    "read_run": "output.export",
    "write_area_handouts": "output.handouts",
    "summarise_run": "output.report",
    "write_briefs": "brief.writer",
    # errors
    "HotspotsError": "errors",
    "InputDataError": "errors",
    "OutputExistsError": "errors",
}

__all__ = [
    "HotspotsError",
    "InputDataError",
    "OutputExistsError",
    "RunConfig",
    "RunResult",
    "__version__",
    "analyse",
    "area_lists",
    "assign_harm",
    "assign_segment_areas",
    "build_corridors",
    "cached_segments",
    "classify_trend",
    "cluster_points",
    "compare_periods",
    "count_by_cell",
    "count_by_segment",
    "count_concentration",
    "explore_hot_streets",
    "get_path",
    "gistar_cells",
    "gistar_streets",
    "has_time_of_day",
    "hour_day_profile",
    "location_to_street",
    "monthly_profile",
    "name_agreement",
    "normalise_name",
    "plot_hour_day",
    "plot_monthly",
    "rank_locations",
    "rank_stages",
    "rank_streets",
    "read_areas",
    "read_crimes",
    "read_harm_weights",
    "read_police_uk",
    "read_population",
    "read_run",
    "read_streets",
    "repeat_locations",
    "run",
    "snap_to_streets",
    "summarise_clusters",
    "summarise_run",
    "time_summary",
    "to_metric_crs",
    "write_area_handouts",
    "write_briefs",
    "write_maps",
    "write_run",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'hotspots' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"hotspots.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
