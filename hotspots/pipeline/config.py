"""The configuration of a run: the input files, the run folder and the option groups."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hotspots.analysis import rank, stats
from hotspots.space import segments, snap

__all__ = [
    "PARAMETERS",
    "EngineOptions",
    "ForecastOptions",
    "InputOptions",
    "OutputOptions",
    "PeriodOptions",
    "RankingOptions",
    "RunConfig",
    "SignificanceOptions",
    "StageTimer",
    "TimeOptions",
]


@dataclass
class InputOptions:
    """How to read the inputs: format, column and layer names, population, CRS, harm weights."""

    #: police-uk, vancouver, or the path of a TOML column mapping.
    fmt: str = "police-uk"
    area_code: str | None = None
    area_name: str | None = None
    street_name_col: str | None = None
    areas_layer: str | None = None
    streets_layer: str | None = None
    #: CSV of residents per area code, for rates per 1,000.
    population: Path | None = None
    #: NAME=CSV of a second denominator per area code (rates.csv), e.g. workday population.
    denominator: str | None = None
    #: Projected CRS to work in (default: chosen from the data).
    crs: str | None = None
    #: CSV of crime_type,weight (default: the packaged Crime Harm Index table).
    harm_weights: Path | None = None
    #: More area layers, (name, polygon file or ``h3:RES``) each: ``layers/<name>/``.
    overlays: tuple[tuple[str, str], ...] = ()


@dataclass
class PeriodOptions:
    """Which crimes to keep: crime types and the first and last month (YYYY-MM)."""

    crime_types: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None


@dataclass
class RankingOptions:
    """Snapping, segmenting and ranking of streets and locations."""

    snap_distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M
    max_segment_length_m: float = segments.DEFAULT_MAX_LENGTH_M
    min_crimes: int = rank.DEFAULT_MIN_CRIMES
    hot_quantile: float = rank.DEFAULT_HOT_QUANTILE
    length_floor_m: float = rank.DEFAULT_LENGTH_FLOOR_M
    #: Publish street segments only: no point-level places, crime points or coordinates.
    street_level_only: bool = False


@dataclass
class TimeOptions:
    """Period comparisons and patrol windows."""

    #: Months in the period comparison (last N vs previous N and a year before).
    compare_months: int = 3
    #: A second patrol window is named only while the first holds less than this share.
    patrol_share: float = 0.5


@dataclass
class SignificanceOptions:
    """Gi* on hexagons and segments, and density clusters."""

    #: H3 resolution of the hexagons (default: from the spacing of crime locations).
    hex_resolution: int | None = None
    neighbour_distance_m: float = stats.DEFAULT_DISTANCE_M
    permutations: int = stats.DEFAULT_PERMUTATIONS
    cluster_method: str = "hdbscan"


@dataclass
class ForecastOptions:
    """A ``hotspots evaluate`` folder as evidence, and next month's list (issue 20)."""

    backtest: Path | None = None
    #: Rank next month's list with the method ``backtest`` chose.
    forecast: bool = False


@dataclass
class OutputOptions:
    """What the run folder holds and how it is written."""

    map_top_n: int = 300
    area_maps: bool = True
    offline: bool = False
    overwrite: bool = False
    wait: bool = False
    quiet: bool = False


@dataclass
class EngineOptions:
    """Where the stages that touch every crime row run (:mod:`hotspots.pipeline.dask_stages`)."""

    #: ``local`` (this process) or ``dask``.
    engine: str = "local"
    #: Workers of the local Dask cluster (default: one per CPU).
    workers: int | None = None
    #: Address of an existing Dask scheduler, e.g. tcp://host:8786.
    scheduler: str | None = None


_GROUPS = {
    "inputs": InputOptions,
    "period": PeriodOptions,
    "ranking": RankingOptions,
    "time": TimeOptions,
    "significance": SignificanceOptions,
    "forecast": ForecastOptions,
    "output": OutputOptions,
    "engine": EngineOptions,
}

#: The options of a run, flat, in the order of run.json's ``parameters``.
PARAMETERS = (
    "fmt",
    "area_code",
    "area_name",
    "street_name_col",
    "areas_layer",
    "streets_layer",
    "population",
    "denominator",
    "crs",
    "overlays",
    "crime_types",
    "start",
    "end",
    "snap_distance_m",
    "max_segment_length_m",
    "min_crimes",
    "hot_quantile",
    "length_floor_m",
    "compare_months",
    "patrol_share",
    "hex_resolution",
    "neighbour_distance_m",
    "permutations",
    "cluster_method",
    "harm_weights",
    "backtest",
    "forecast",
    "street_level_only",
    "map_top_n",
    "area_maps",
    "offline",
    "seed",
    "overwrite",
    "wait",
    "quiet",
    "engine",
    "workers",
    "scheduler",
)


@dataclass
class RunConfig:
    """Everything a run needs: the input files, the run folder and the option groups.

    Defaults are the documented ones. :meth:`from_options` builds one from flat options
    (the command line's names).

    Examples
    --------
    >>> config = RunConfig.from_options(crimes=[Path("c.csv")], areas=Path("a.gpkg"),
    ...                                 streets=Path("s.gpkg"), out=Path("out"), start="2025-10")
    >>> config.period.start, config.ranking.min_crimes
    ('2025-10', 5)
    """

    crimes: list[Path]
    areas: Path
    streets: Path
    out: Path
    inputs: InputOptions = field(default_factory=InputOptions)
    period: PeriodOptions = field(default_factory=PeriodOptions)
    ranking: RankingOptions = field(default_factory=RankingOptions)
    time: TimeOptions = field(default_factory=TimeOptions)
    significance: SignificanceOptions = field(default_factory=SignificanceOptions)
    forecast: ForecastOptions = field(default_factory=ForecastOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    #: Seed of every random draw (concentration intervals, permutations, clusters).
    seed: int = 0

    @classmethod
    def from_options(
        cls, *, crimes: list[Path], areas: Path, streets: Path, out: Path, **options: Any
    ) -> RunConfig:
        """Return a configuration from flat options, each sorted into its group.

        Parameters
        ----------
        crimes, areas, streets, out
            Crime files or folders, area layer, street layer and run folder.
        **options
            Any of :data:`PARAMETERS` (e.g. ``fmt``, ``start``, ``min_crimes``, ``quiet``).

        Returns
        -------
        RunConfig
            The configuration.

        Raises
        ------
        TypeError
            If an option is not one of :data:`PARAMETERS`.
        """
        unknown = sorted(set(options) - set(PARAMETERS))
        if unknown:
            msg = f"unknown run option(s): {', '.join(unknown)}"
            raise TypeError(msg)
        groups = {
            name: group(**{f.name: options[f.name] for f in fields(group) if f.name in options})
            for name, group in _GROUPS.items()
        }
        return cls(
            crimes=crimes,
            areas=areas,
            streets=streets,
            out=out,
            seed=options.get("seed", 0),
            **groups,
        )

    def options(self) -> dict[str, Any]:
        """Return every option flat, in the order of :data:`PARAMETERS`."""
        flat: dict[str, Any] = {"seed": self.seed}
        for name in _GROUPS:
            flat.update(asdict(getattr(self, name)))
        return {k: flat[k] for k in PARAMETERS}


class StageTimer:
    """Times each stage of a run for the manifest (``with stage("name"): ...``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block it wraps as stage ``name``."""
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 3)

    @contextmanager
    def more(self, name: str) -> Iterator[None]:
        """Time the block it wraps and add its seconds to stage ``name`` (timed before)."""
        before = self.seconds.get(name, 0.0)
        with self(name):
            yield
        self.seconds[name] = round(self.seconds[name] + before, 3)
