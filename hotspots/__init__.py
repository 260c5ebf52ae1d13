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
    from hotspots.brief import write_briefs
    from hotspots.cache import cached_segments
    from hotspots.clusters import cluster_points, repeat_locations, summarise_clusters
    from hotspots.concentration import count_concentration
    from hotspots.corridors import build_corridors
    from hotspots.crs import to_metric_crs
    from hotspots.datasets import get_path
    from hotspots.errors import HotspotsError, InputDataError, OutputExistsError
    from hotspots.export import read_run, write_area_handouts
    from hotspots.grid import count_by_cell
    from hotspots.harm import assign_harm, read_harm_weights
    from hotspots.io import read_areas, read_crimes, read_police_uk, read_population, read_streets
    from hotspots.maps import explore_hot_streets
    from hotspots.names import location_to_street, name_agreement, normalise_name
    from hotspots.pipeline import RunConfig, analyse, rank_stages, run, write_run
    from hotspots.rank import area_lists, count_by_segment, rank_locations, rank_streets
    from hotspots.report import summarise_run
    from hotspots.runfolder import RunResult
    from hotspots.site import write_maps
    from hotspots.snap import assign_segment_areas, snap_to_streets
    from hotspots.stats import gistar_cells, gistar_streets
    from hotspots.temporal import (
        classify_trend,
        compare_periods,
        has_time_of_day,
        hour_day_profile,
        monthly_profile,
        plot_hour_day,
        plot_monthly,
        time_summary,
    )

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # read
    "read_crimes": "io",
    "read_police_uk": "io",
    "read_areas": "io",
    "read_streets": "io",
    "read_population": "io",
    "get_path": "datasets",
    # space
    "to_metric_crs": "crs",
    "cached_segments": "cache",
    "assign_segment_areas": "snap",
    "snap_to_streets": "snap",
    "count_by_cell": "grid",
    "location_to_street": "names",
    "name_agreement": "names",
    "normalise_name": "names",
    # counts and ranks
    "count_by_segment": "rank",
    "rank_streets": "rank",
    "rank_locations": "rank",
    "area_lists": "rank",
    "count_concentration": "concentration",
    "read_harm_weights": "harm",
    "assign_harm": "harm",
    "build_corridors": "corridors",
    # time
    "monthly_profile": "temporal",
    "hour_day_profile": "temporal",
    "classify_trend": "temporal",
    "compare_periods": "temporal",
    "time_summary": "temporal",
    "has_time_of_day": "temporal",
    "plot_monthly": "temporal",
    "plot_hour_day": "temporal",
    # significance and clusters
    "gistar_cells": "stats",
    "gistar_streets": "stats",
    "cluster_points": "clusters",
    "summarise_clusters": "clusters",
    "repeat_locations": "clusters",
    # the whole run
    "RunConfig": "pipeline",
    "RunResult": "runfolder",
    "rank_stages": "pipeline",
    "analyse": "pipeline",
    "write_run": "pipeline",
    "run": "pipeline",
    # outputs
    "explore_hot_streets": "maps",
    "write_maps": "site",
    "read_run": "export",
    "write_area_handouts": "export",
    "summarise_run": "report",
    "write_briefs": "brief",
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
