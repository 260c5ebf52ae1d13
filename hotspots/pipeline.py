"""The one pipeline: extracts to canonical crimes, areas, segments, ranks, time and outputs.

Data flows one way: read extracts -> canonical crime table -> areas and street segments ->
counts and ranks -> time, significance and clusters -> maps, exports and the manifest.

:func:`run` is ``write_run(analyse(config), config)``: :func:`analyse` runs every stage in
memory and returns a :class:`~hotspots.runfolder.RunResult` without writing anything;
:func:`write_run` writes the run folder through :mod:`hotspots.runfolder`. The CLI calls
:func:`run`; each stage is a library function of its own module, so any of them can also be
called alone (``import hotspots as hs``).
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots import runfolder, temporal
from hotspots.analysis import callers, clusters, concentration, corridors, harm, rank, stats
from hotspots.errors import InputDataError
from hotspots.output import export, site, site_index
from hotspots.read import crimes as io
from hotspots.read import schema
from hotspots.runfolder import RunResult
from hotspots.space import cache, crs, grid, names, segments, snap

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
    "place_keys",
    "rank_stages",
    "run",
    "write_run",
]

log = logging.getLogger("hotspots")
logging.getLogger("pyogrio").setLevel(logging.WARNING)

_LIBRARIES = (
    "hotspots",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyarrow",
    "pandas",
    "numpy",
    "pyproj",
    "folium",
    "scipy",
    "h3",
    "esda",
    "libpysal",
    "scikit-learn",
)


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
    #: Projected CRS to work in (default: chosen from the data).
    crs: str | None = None
    #: CSV of crime_type,weight (default: the packaged Crime Harm Index table).
    harm_weights: Path | None = None


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


_GROUPS = {
    "inputs": InputOptions,
    "period": PeriodOptions,
    "ranking": RankingOptions,
    "time": TimeOptions,
    "significance": SignificanceOptions,
    "forecast": ForecastOptions,
    "output": OutputOptions,
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
    "crs",
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


class _Stages:
    """Times each stage for the manifest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 3)


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
    stage = _Stages()
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
    )
    with stage("time_profiles"):
        _add_time(config, result)
    with stage("significance_clusters"):
        _add_significance(config, result, ranked.counts)
    with stage("corridors"):
        result.tables["corridors"] = _corridors(result, ranked.counts)
    if config.forecast.backtest:
        result.tables["backtest"] = pd.DataFrame(
            [backtest_evidence(config.forecast.backtest, result)]
        )
    if config.forecast.forecast:
        with stage("forecast"):
            _add_forecast(config, result)
    if "caller_ref" in crimes.columns:
        _add_repeat_callers(result)
    result.area_lists = rank.area_lists(
        result.hot_streets, result.locations, area_codes=crimes["area_code"].unique().tolist()
    )
    result.locations = _location_ranks(result.locations, result.area_lists)
    if config.output.area_maps:
        result.area_lists = {
            code: _with_map_links(code, table) for code, table in result.area_lists.items()
        }
    population = io.read_population(config.inputs.population) if config.inputs.population else None
    result.area_summary = _area_summary(result, population)
    return result


def write_run(result: RunResult, config: RunConfig) -> RunResult:
    """Write the run folder of ``result`` to ``config.out`` through :mod:`hotspots.runfolder`.

    The folder is written under its lock into a private folder and moved into place when
    complete (:func:`hotspots.runfolder.staged_folder`); ``run.json`` is written last.

    Parameters
    ----------
    result
        What :func:`analyse` returned.
    config
        The configuration it was computed with (output folder and options).

    Returns
    -------
    RunResult
        ``result``, with ``out_dir`` set to ``config.out`` and ``manifest`` filled.

    Raises
    ------
    OutputExistsError
        If ``config.out`` exists and ``config.output.overwrite`` is False.
    hotspots.runfolder.OutputFolderBusyError
        If another run is writing ``config.out`` and ``config.output.wait`` is False.
    """
    out = Path(config.out)
    with runfolder.staged_folder(
        out, overwrite=config.output.overwrite, wait=config.output.wait
    ) as tmp:
        _write_into(config, result, tmp)
    result.out_dir = out
    return result


@dataclass
class Ranked:
    """What the stages load through ranking give: everything behind the hot-street lists."""

    crimes: gpd.GeoDataFrame
    rejected: pd.DataFrame
    areas: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    counts: pd.DataFrame
    hot_streets: gpd.GeoDataFrame
    locations: gpd.GeoDataFrame
    concentration: dict[str, Any]
    naming: dict[str, Any]


def rank_stages(config: RunConfig, stage: _Stages | None = None) -> Ranked:
    """Run the stages load, area_join, street_segments, snapping and ranking of :func:`run`.

    The one code path of ``hotspots run`` up to the ranked lists (the benchmark times this).

    Parameters
    ----------
    config
        Inputs and parameters (nothing is written).
    stage
        Timer of the stages (their seconds go to run.json); a new one if not given.

    Returns
    -------
    Ranked
        Crimes (with ``segment_id``, ``place`` and ``place_key``), rejected rows, areas,
        named segments, counts per segment, hot streets, listed locations, concentration
        figures and the naming summary.

    Raises
    ------
    InputDataError
        If no crime row can be used.
    """
    stage = stage or _Stages()
    with stage("load"):  # with the area join: rows outside every area rejected while reading
        area_layer = io.read_areas(
            config.areas,
            code_col=config.inputs.area_code,
            name_col=config.inputs.area_name,
            layer=config.inputs.areas_layer,
        )
        crimes, rejected = io.read_crimes(
            config.crimes,
            fmt=config.inputs.fmt,
            crs=config.inputs.crs,
            crime_types=config.period.crime_types,
            start=config.period.start,
            end=config.period.end,
            quiet=config.output.quiet,
            areas=area_layer,
        )
    if crimes.empty:
        msg = f"no usable crime rows in {[str(p) for p in config.crimes]}: see the rejected reasons"
        raise InputDataError(msg)
    with stage("area_join"):  # the join itself ran in "load"; the layer for maps and lists
        areas = crs.to_metric_crs(
            area_layer, crimes.crs, name=Path(config.areas).name, quiet=config.output.quiet
        )
    with stage("street_segments"):
        segs = _build_segments(config, crimes.crs, areas)
    with stage("snapping"):
        crimes = crimes.join(
            snap.snap_to_streets(
                crimes,
                segs,
                max_distance_m=config.ranking.snap_distance_m,
                quiet=config.output.quiet,
            )
        )
        segs, naming = _name_segments(crimes, segs, police_uk=config.inputs.fmt == "police-uk")
    with stage("ranking"):
        counts = rank.count_by_segment(crimes, segs)
        hot = rank.rank_streets(
            segs,
            counts,
            min_crimes=config.ranking.min_crimes,
            hot_quantile=config.ranking.hot_quantile,
            length_floor_m=config.ranking.length_floor_m,
        )
        type_cols = [c for c in counts.columns if c != "crimes"]
        off = crimes["segment_id"].isna().to_numpy()  # only the columns places need
        cols = ["location", "area_code", "area_name", "crime_type", "x", "y", "point_id"]
        unsnapped = crimes.loc[off, [c for c in [*cols, "geometry"] if c in crimes]]
        unsnapped["place"] = rank.location_place(unsnapped)
        crimes["place"] = unsnapped["place"].reindex(crimes.index)  # once, reused
        if config.ranking.street_level_only:  # publish street segments only: no point-level places
            unsnapped = unsnapped.iloc[:0]
        locs = rank.rank_locations(
            unsnapped, min_crimes=config.ranking.min_crimes, type_cols=type_cols
        )
        conc = concentration.count_concentration(
            counts["crimes"].to_numpy(), segs["length_m"].to_numpy(), seed=config.seed
        )
        crimes["place_key"] = place_keys(crimes, hot, locs)
    return Ranked(crimes, rejected, areas, segs, counts, hot, locs, conc, naming)


def _build_segments(config: RunConfig, target: Any, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # built once per street file and parameters (keyed by checksum), then read from the cache
    segs = cache.cached_segments(
        config.streets,
        max_length_m=config.ranking.max_segment_length_m,
        crs=target,
        name_col=config.inputs.street_name_col,
        layer=config.inputs.streets_layer,
        quiet=config.output.quiet,
    )
    return segs.join(snap.assign_segment_areas(segs, areas))


def _name_segments(
    crimes: gpd.GeoDataFrame, segs: gpd.GeoDataFrame, *, police_uk: bool
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fill missing segment names from the records snapped to them; measure agreement."""
    # each distinct (segment, location text) once, weighted by its records
    first, _, weight = rank.distinct_rows(crimes["segment_id"], crimes["location"])
    pairs = pd.DataFrame(crimes[["segment_id", "location"]]).iloc[first]
    records = pd.Series(weight, index=pairs.index)
    street = names.location_to_street(pairs["location"])
    layer_named = segs["street_name"].notna()
    by_seg = segs.set_index("segment_id")["street_name"]
    on = pairs["segment_id"].notna()
    agreement = names.name_agreement(
        street[on], pairs["segment_id"][on].map(by_seg), weights=records[on]
    )
    inferred = names.name_from_records(pairs["segment_id"], street, weights=records)
    filled = segs["street_name"].fillna(segs["segment_id"].map(inferred))
    unnamed = np.full(len(segs), None, dtype=object)
    source = np.where(
        layer_named, "street layer", np.where(filled.notna(), "crime records", unnamed)
    )
    segs = segs.assign(street_name=filled.astype("string"), name_source=source)
    naming = {
        "segments": len(segs),
        "named_by_street_layer": int(layer_named.sum()),
        "named_from_crime_records": int((source == "crime records").sum()),
        "unnamed": int(filled.isna().sum()),
        "location_text_vs_street_layer_name": agreement,
        "note": (
            "agreement compares the police.uk 'On or near' street with the name of the "
            "segment the record snapped to (points of interest and junctions excluded)"
            if police_uk
            else "agreement compares the record's location text with the segment's name"
        ),
    }
    return segs, naming


def _add_repeat_callers(result: RunResult) -> None:
    """Give each hot street and listed location its repeat callers in 24 hours and 6 months.

    Counted per listed place (a hot street's segments together), as
    :func:`hotspots.analysis.callers.count_repeat_callers` counts them; the columns reach the area
    lists, hand-outs and ``hot_streets.csv``. No reference is kept.
    """
    rc = callers.count_repeat_callers(result.crimes, place="place_key").set_index("place")
    for prefix, name in (("s", "hot_streets"), ("l", "locations")):
        table = getattr(result, name)
        keys = [f"{prefix}{i}" for i in range(len(table))]
        for col in ("repeat_callers_24h", "repeat_callers_6m"):
            table[col] = rc[col].reindex(keys).fillna(0).astype("int64").to_numpy()


def _corridors(result: RunResult, counts: pd.DataFrame) -> gpd.GeoDataFrame:
    """Corridors of named roads ranked per km (:mod:`hotspots.analysis.corridors`)."""
    segs, crimes = result.segments, result.crimes
    seg_harm = crimes.groupby("segment_id", observed=True)["harm"].sum()
    type_names = {c: t for t, c in rank.type_columns(crimes["crime_type"].unique()).items()}
    return corridors.build_corridors(
        segs,
        counts,
        type_names=type_names,
        harm=pd.Series(seg_harm.reindex(segs["segment_id"]).fillna(0).to_numpy(), index=segs.index),
    )


def _with_map_links(code: str, table: pd.DataFrame) -> pd.DataFrame:
    """Add ``map_link``: the area map opened at each row's centre (relative to a run subfolder)."""
    page = f"../maps/{site.area_map_name(code)}"
    links = [
        f"{page}#{lat:.5f},{lon:.5f},18"
        for lat, lon in zip(table["lat"], table["lon"], strict=True)
    ]
    pos = table.columns.get_loc("lat") + 1
    out = table.copy()
    out.insert(pos, "map_link", pd.Series(links, index=table.index, dtype=object))
    return out


def _location_ranks(locs: gpd.GeoDataFrame, lists: dict[str, pd.DataFrame]) -> gpd.GeoDataFrame:
    """Copy each listed location's rank in its area list back onto the location table."""
    ranks = {
        (code, street): r
        for code, table in lists.items()
        for street, r, basis in zip(
            table["street"], table["area_rank"], table["basis"], strict=True
        )
        if basis == schema.BASIS_LOCATION
    }
    keys = zip(locs["area_code"], locs["street"], strict=True)
    return locs.assign(area_rank=[ranks.get(k) for k in keys])


# --------------------------------------------------------------------------------------------
# time


def place_keys(crimes: pd.DataFrame, hot: pd.DataFrame, locations: pd.DataFrame) -> pd.Series:
    """Return, per crime, the row of ``hot`` ("s<i>") or ``locations`` ("l<i>") it counts in.

    Parameters
    ----------
    crimes
        Crimes with ``segment_id``, ``area_code`` and ``location``.
    hot, locations
        Hot streets and listed locations (their row positions are the keys).

    Returns
    -------
    pandas.Series
        Key per crime; missing for crimes on no listed place.
    """
    # keys as numbers into one label list ("s0".., then "l0"..), -1 for none: no text per row
    labels = pd.array(
        [*(f"s{i}" for i in range(len(hot))), *(f"l{i}" for i in range(len(locations)))],
        dtype="string",
    )
    seg_to_street = {
        seg: i for i, ids in enumerate(hot["segment_ids"].tolist()) for seg in str(ids).split(";")
    }
    seg = crimes["segment_id"]
    if isinstance(seg.dtype, pd.CategoricalDtype):  # each segment looked up once
        codes, ids = seg.cat.codes.to_numpy(), seg.cat.categories
    else:
        codes, ids = pd.factorize(seg)
    per_seg = np.array([*(seg_to_street.get(s, -1) for s in ids), -1], dtype=np.int64)
    key = per_seg[codes]  # code -1 (unsnapped) takes the last entry: none
    loc_key = {
        (a, p): len(hot) + i
        for i, (a, p) in enumerate(
            zip(locations["area_code"].tolist(), locations["street"].tolist(), strict=True)
        )
    }
    unsnapped = seg.isna().to_numpy()
    if loc_key and unsnapped.any():
        place = (
            crimes.loc[unsnapped, "place"]
            if "place" in crimes
            else rank.location_place(crimes.loc[unsnapped])
        )
        area = crimes.loc[unsnapped, "area_code"]
        first, inverse, _ = rank.distinct_rows(area, place)  # each (area, place) looked up once
        pairs = zip(area.iloc[first].tolist(), place.iloc[first].tolist(), strict=True)
        found = np.array([loc_key.get(k, -1) for k in pairs], dtype=np.int64)
        key[unsnapped] = found[inverse]
    return pd.Series(labels.take(key, allow_fill=True), index=crimes.index)


def _add_time(config: RunConfig, result: RunResult) -> None:
    """Add trends, patrol windows and peaks to hot streets, locations and areas."""
    crimes = result.crimes
    city = temporal.monthly_profile(crimes, quiet=True)
    months = temporal.classify_months(city)
    incomplete = months.index[months["incomplete"]].tolist()
    if incomplete and not config.output.quiet:
        log.info("incomplete months left out of trend tests: %s", ", ".join(incomplete))
    _add_place_time(config, result, incomplete, city, months)
    # not in a thread beside the place summaries: measured, the two hold the GIL in turn
    # (wall time = CPU time) and the thread only added switching
    group_profiles, windows = _group_windows(config, crimes, incomplete)
    if group_profiles is not None:
        result.tables["place_group_profiles"] = group_profiles
    result.tables["place_windows"] = windows


def _add_place_time(
    config: RunConfig,
    result: RunResult,
    incomplete: list[str],
    city: pd.DataFrame,
    months: pd.DataFrame,
) -> None:
    """Add the time summaries of places and areas, the monthly tables and the comparisons."""
    crimes = result.crimes
    summary, profile = temporal.time_summary(
        crimes,
        by="place_key",
        exclude=incomplete,
        share=config.time.patrol_share,
        quiet=config.output.quiet,
    )
    result.hot_streets = _join_places(result.hot_streets, summary, "s")
    result.locations = _join_places(result.locations, summary, "l")
    area_time, _ = temporal.time_summary(
        crimes,
        by="area_code",
        exclude=incomplete,
        share=config.time.patrol_share,
        graphics=False,
        quiet=True,
    )
    first, last = city.columns[0], city.columns[-1]
    result.tables.update(
        city_monthly=city,
        month_check=months,
        area_time=area_time,
        place_monthly=temporal.monthly_profile(
            crimes, by="place_key", start=first, end=last, quiet=True
        ),
        area_monthly=temporal.monthly_profile(
            crimes, by="area_code", start=first, end=last, quiet=True
        ),
    )
    if profile is not None:
        streets = profile.loc[profile.index.str.startswith("s")]
        streets.index = [int(k[1:]) for k in streets.index]
        result.tables["street_profiles"] = streets.sort_index()
        result.tables["city_profile"] = temporal.hour_day_profile(crimes, quiet=True)
    result.tables.update(_comparisons(config, result))


def _group_windows(
    config: RunConfig, crimes: pd.DataFrame, incomplete: list[str]
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Return the crime groups' hour-of-week profiles and patrol windows at every place.

    Groups are the brief's; the profiles are None for month-only data, the windows table
    holds the peak months too.
    """
    from hotspots.analysis.groups import classify_crime_types, read_brief_weights

    types = [str(t) for t in crimes["crime_type"].dropna().unique()]  # not per row
    group_of = classify_crime_types(types, settings=read_brief_weights())
    profiles = None
    if temporal.has_time_of_day(crimes):
        profiles = temporal.group_profiles(crimes, by="place_key", group_of=group_of)
    return profiles, temporal.group_windows(
        crimes,
        by="place_key",
        group_of=group_of,
        exclude=incomplete,
        share=config.time.patrol_share,
        profiles=profiles,
    )


def _join_places(table: gpd.GeoDataFrame, summary: pd.DataFrame, prefix: str) -> gpd.GeoDataFrame:
    """Insert ``summary`` (indexed by place key) before the crime-type counts of ``table``."""
    keys = [f"{prefix}{i}" for i in range(len(table))]
    cols = summary.reindex(keys).reset_index(drop=True)
    cols.index = table.index
    type_cols = [c for c in table.columns if c.startswith("n_")]
    base = [c for c in table.columns if c not in type_cols and c != "geometry"]
    joined = pd.concat([table[base], cols, table[[*type_cols, "geometry"]]], axis=1)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=table.crs)


def _comparisons(config: RunConfig, result: RunResult) -> dict[str, pd.DataFrame]:
    crimes = result.crimes
    out = {
        "compare_areas": temporal.compare_periods(
            crimes, by=["area_code", "area_name"], months=config.time.compare_months
        )
    }
    if "borough" in result.areas.columns:
        borough = result.areas.set_index("area_code")["borough"]
        with_b = crimes.assign(borough=crimes["area_code"].map(borough))
        out["compare_boroughs"] = temporal.compare_periods(
            with_b, by=["borough"], months=config.time.compare_months
        )
    out["performance"] = temporal.rank_areas(out["compare_areas"])
    return out


# --------------------------------------------------------------------------------------------
# significance, clusters and harm


def _add_significance(config: RunConfig, result: RunResult, counts: pd.DataFrame) -> None:
    """Gi* on hexagons and segments, density clusters, repeat locations and harm per place."""
    crimes = result.crimes
    # the density clusters run in a thread beside Gi*: scikit-learn's HDBSCAN and GEOS's
    # neighbour search each keep one core busy (the crimes are only read until both end)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-clusters") as pool:
        clustering = pool.submit(
            clusters.cluster_points,
            crimes,
            method=config.significance.cluster_method,  # type: ignore[arg-type]
            seed=config.seed,
            quiet=config.output.quiet,
        )
        hexes, gi_segs, resolution = _gistar_both(config, result, counts)
        labels = clustering.result()
    _add_significance_rest(config, result, hexes, gi_segs, labels, resolution)


def _gistar_both(
    config: RunConfig, result: RunResult, counts: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, int]:
    """Gi* on the hexagons (with their polygons) and on the segments; the hex resolution."""
    crimes, segs = result.crimes, result.segments
    resolution = config.significance.hex_resolution or grid.default_resolution(
        crimes, quiet=config.output.quiet
    )
    cells = grid.count_by_cell(
        crimes, result.areas, resolution=resolution, quiet=config.output.quiet
    )
    gi_cells = _gistar_or_skip(
        stats.gistar_cells,
        cells,
        "hexagons",
        permutations=config.significance.permutations,
        seed=config.seed,
        quiet=config.output.quiet,
    )
    hexes = grid.cells_to_polygons(gi_cells.index, crs=crimes.crs)
    hexes = hexes.join(gi_cells.drop(columns="value"), on="cell").assign(
        crimes=cells["crimes"].reindex(hexes["cell"]).to_numpy()
    )
    gi_segs = _gistar_or_skip(
        stats.gistar_streets,
        segs,
        "segments",
        counts["crimes"],
        distance_m=config.significance.neighbour_distance_m,
        permutations=config.significance.permutations,
        seed=config.seed,
        quiet=config.output.quiet,
    )
    return hexes, gi_segs, resolution


def _add_significance_rest(
    config: RunConfig,
    result: RunResult,
    hexes: gpd.GeoDataFrame,
    gi_segs: pd.DataFrame,
    labels: pd.Series,
    resolution: int,
) -> None:
    """Cluster outlines, harm, each place's class and cluster, and the tables of the stage."""
    crimes, segs = result.crimes, result.segments
    outlines = clusters.summarise_clusters(crimes, labels, segs)
    weights = harm.read_harm_weights(config.inputs.harm_weights)
    crimes["harm"] = harm.assign_harm(crimes, weights).to_numpy()
    place = _place_significance(result, gi_segs, hexes, labels, resolution)
    place_s = place.reindex([f"s{i}" for i in range(len(result.hot_streets))])
    place.loc[place_s.index, "rank_by_harm"] = (-place_s["harm"]).rank(method="min").astype("Int64")
    result.hot_streets = _join_places(result.hot_streets, place, "s")
    result.locations = _join_places(result.locations, place.drop(columns="rank_by_harm"), "l")
    result.tables.update(
        hexagons=hexes,
        clusters=outlines,
        repeat_locations=clusters.repeat_locations(crimes, quiet=True),
        segment_gistar=gi_segs,
    )
    result.tables["significance"] = pd.DataFrame(
        {
            "resolution": [resolution],
            **{k: [v] for k, v in labels.attrs.get("parameters", {}).items()},
        }
    )


NOT_TESTED = "Not tested (too few units)"


def _gistar_or_skip(
    fn: Any, units: pd.DataFrame, what: str, *args: Any, **kwargs: Any
) -> pd.DataFrame:
    """Run a Gi* wrapper; with too few units for the statistic, say so instead of failing."""
    try:
        out: pd.DataFrame = fn(units, *args, **kwargs)
    except InputDataError as err:
        log.warning("Gi* on %s skipped: %s", what, err)
        out = pd.DataFrame(
            {
                "value": np.nan,
                "neighbours": 0,
                "z": np.nan,
                "p": np.nan,
                "p_perm": np.nan,
                "q": np.nan,
                "gi_class": NOT_TESTED,
            },
            index=units.index,
        )
    return out


def _place_significance(
    result: RunResult,
    gi_segs: pd.DataFrame,
    hexes: gpd.GeoDataFrame,
    labels: pd.Series,
    resolution: int,
) -> pd.DataFrame:
    """Return per place key its Gi* class, main density cluster and harm.

    Hot streets take the class of their hottest segment, locations that of their hexagon.
    """
    crimes = result.crimes
    seg_stats = gi_segs.assign(segment_id=result.segments["segment_id"].to_numpy())
    rows = [
        (f"s{i}", sid)
        for i, ids in enumerate(result.hot_streets["segment_ids"])
        for sid in str(ids).split(";")
    ]
    per_seg = pd.DataFrame(rows, columns=["key", "segment_id"]).merge(seg_stats, on="segment_id")
    best = per_seg.sort_values(["key", "z"], ascending=[True, False]).drop_duplicates("key")
    out = best.set_index("key")[["gi_class", "z", "q"]]
    locs = result.locations
    if len(locs):
        pts = gpd.GeoDataFrame(geometry=locs.geometry.centroid, crs=locs.crs)
        cells = grid.points_to_cells(
            pts.assign(x=pts.geometry.x, y=pts.geometry.y), resolution=resolution
        )
        by_cell = hexes.set_index("cell")[["gi_class", "z", "q"]]
        loc_stats = by_cell.reindex(cells.to_numpy())
        loc_stats.index = [f"l{i}" for i in range(len(locs))]
        out = pd.concat([out, loc_stats])
    out = out.rename(columns={"gi_class": "significance", "z": "gi_z", "q": "gi_q"})
    out["significance"] = out["significance"].astype("string")
    out[["gi_z", "gi_q"]] = out[["gi_z", "gi_q"]].astype(float).round(4)
    keyed = pd.DataFrame({"key": crimes["place_key"], "cluster": labels, "harm": crimes["harm"]})
    keyed = keyed.dropna(subset=["key"])
    out["cluster_id"] = _main_cluster(keyed)
    out["harm"] = keyed.groupby("key")["harm"].sum().round(1)
    return out


def _main_cluster(keyed: pd.DataFrame) -> pd.Series:
    """Return the cluster holding at least half of each place's crimes (missing: none)."""
    share = keyed.groupby(["key", "cluster"]).size() / keyed.groupby("key").size()
    share = share.reset_index(name="share")
    share = share[(share["cluster"] >= 0) & (share["share"] >= 0.5)]
    return share.set_index("key")["cluster"].astype("Int64")


def _add_forecast(config: RunConfig, result: RunResult) -> None:
    """Rank next month's list with the method the backtest chose (written by write_run)."""
    from hotspots import evaluate

    if config.forecast.backtest is None:
        msg = "--forecast needs --backtest <a hotspots evaluate folder> (it holds the choice)"
        raise InputDataError(msg)
    region = evaluate.segments_to_study_area(
        result.segments, distance_m=config.ranking.snap_distance_m
    )
    table, record = evaluate.forecast_next_month(
        result.crimes, result.segments, region, backtest_dir=config.forecast.backtest
    )
    result.tables["forecast_list"] = table
    result.tables["forecast"] = pd.DataFrame([{k: v for k, v in record.items() if k != "backtest"}])
    result.records["forecast"] = record


def backtest_evidence(backtest_dir: Path, result: RunResult) -> dict[str, Any]:
    """Return how much of next month's crime streets like the listed ones held in a backtest.

    Parameters
    ----------
    backtest_dir
        A folder written by ``hotspots evaluate`` (its ``backtest.csv`` is read).
    result
        The run: the listed hot streets' share of street length sets the coverage.

    Returns
    -------
    dict
        ``method`` ("hot_streets"), ``coverage_pct`` (the listed streets' share of street
        length, capped at the largest level scored), ``expected_share``, ``months`` scored and
        a one-line ``text`` for maps and hand-outs.

    Raises
    ------
    InputDataError
        If the folder holds no ``backtest.csv``.
    """
    from hotspots import evaluate

    path = Path(backtest_dir) / "backtest.csv"
    if not path.is_file():
        msg = f"--backtest {backtest_dir}: no backtest.csv; run `hotspots evaluate` first"
        raise InputDataError(msg)
    table = pd.read_csv(path)
    rows = table[(table["method"] == "hot_streets") & (table["group"] == "all")]
    listed = 100 * result.hot_streets["length_m"].sum() / result.segments["length_m"].sum()
    coverage = float(min(listed, rows["coverage_pct"].max()))
    share = evaluate.expected_capture(table, method="hot_streets", coverage=coverage)
    months = int(rows["month"].nunique())
    scope = (
        f"the top {coverage:.1f}% of street length (this list covers {listed:.1f}%)"
        if listed > coverage + 0.05
        else f"hot streets covering {coverage:.1f}% of street length"
    )
    text = (
        f"Backtest over {months} months: {scope} "
        f"held on average {100 * share:.0f}% of the next month's crime on these streets' network"
    )
    return {
        "method": "hot_streets",
        "coverage_pct": round(coverage, 2),
        "listed_length_pct": round(listed, 2),
        "expected_share": round(share, 4),
        "months": months,
        "text": text,
    }


# --------------------------------------------------------------------------------------------
# outputs


def _area_summary(result: RunResult, population: pd.Series | None) -> pd.DataFrame:
    crimes, areas = result.crimes, result.areas
    g = crimes.groupby("area_code")
    summary = pd.DataFrame({"crimes": g.size(), "snapped": g["segment_id"].count()})
    extra = [c for c in areas.columns if c not in ("area_code", "area_name", "geometry")]
    summary = (
        areas[["area_code", "area_name", *extra]].set_index("area_code").join(summary, how="left")
    )
    summary = summary.fillna({"crimes": 0, "snapped": 0}).astype(
        {"crimes": "int64", "snapped": "int64"}
    )
    summary["hot_streets"] = (
        result.hot_streets["area_code"]
        .value_counts()
        .reindex(summary.index, fill_value=0)
        .astype("int64")
    )
    if population is not None:
        summary["population"] = population.reindex(summary.index)
        summary["rate_per_1000"] = temporal.rate_per_1000(summary["crimes"], population).round(2)
    area_time = result.tables["area_time"].drop(columns=["hot_months"], errors="ignore")
    summary = summary.join(area_time, how="left")
    change = result.tables["compare_areas"]
    allc = change[change["crime_type"] == temporal.ALL_CRIME].set_index("area_code")
    for col in (
        "current",
        "previous",
        "pct_change_previous",
        "flag_previous",
        "year_before",
        "pct_change_year_before",
        "flag_year_before",
    ):
        summary[f"recent_{col}"] = allc[col].reindex(summary.index)
    return summary.reset_index().sort_values("area_code", kind="stable")


def _write_tables(config: RunConfig, result: RunResult, tmp: Path) -> list[Path]:
    files = export.write_hot_streets(
        result.hot_streets.drop(
            columns=[c for c in result.hot_streets.columns if c.endswith("_svg")]
        ),
        tmp,
    )
    files += export.write_area_csvs(result.area_lists, tmp / "wards")
    rejected = result.rejected.sort_values(["source_file", "source_row"], kind="stable")
    if config.ranking.street_level_only:  # no coordinates, places or ids of individual records
        rejected = rejected[["source_file", "source_row", "reason", "month", "crime_type"]]
    files.append(export.write_csv(rejected, tmp / "rejected.csv"))
    files.append(export.write_csv(result.area_summary, tmp / "areas.csv"))
    for name in ("compare_areas", "compare_boroughs", "performance"):
        if name in result.tables:
            files.append(export.write_csv(result.tables[name], tmp / f"{name}.csv"))
    if "corridors" in result.tables:
        table = pd.DataFrame(result.tables["corridors"].drop(columns="geometry"))
        files.append(export.write_csv(table, tmp / runfolder.CORRIDORS_CSV))
    months = result.tables["city_monthly"].T.reset_index().rename(columns={"all": "crimes"})
    months["incomplete"] = result.tables["month_check"]["incomplete"].to_numpy()
    files.append(export.write_csv(months, tmp / "monthly.csv"))
    hexes = result.tables["hexagons"]
    hexes.to_file(tmp / "hexagons.gpkg", layer="hexagons", driver="GPKG", engine="pyogrio")
    files.append(tmp / "hexagons.gpkg")
    outlines = result.tables["clusters"]
    outlines.to_file(tmp / "clusters.gpkg", layer="clusters", driver="GPKG", engine="pyogrio")
    files.append(
        export.write_csv(pd.DataFrame(outlines.drop(columns="geometry")), tmp / "clusters.csv")
    )
    if "caller_ref" in result.crimes.columns:
        places = callers.place_of(result.crimes)
        rc = callers.count_repeat_callers(result.crimes.assign(place=places))
        if config.ranking.street_level_only:  # rounded points could point at an address
            rc = rc[~rc["place"].str.startswith("pt ")]
        files.append(export.write_csv(rc, tmp / "repeat_callers.csv"))
    if not config.ranking.street_level_only:
        rep = result.tables["repeat_locations"]
        files.append(
            export.write_csv(
                pd.DataFrame(rep.drop(columns="geometry")), tmp / "repeat_locations.csv"
            )
        )
    files.append(export.write_csv(_place_monthly(result), tmp / "place_monthly.csv"))
    files.append(export.write_csv(_place_windows(result), tmp / "place_windows.csv"))
    if "place_group_profiles" in result.tables:
        files.append(
            export.write_csv(_place_group_profiles(result), tmp / "place_group_profiles.csv")
        )
    area_monthly = result.tables["area_monthly"]
    files.append(
        export.write_csv(
            area_monthly.rename_axis("area_code").reset_index(), tmp / "area_monthly.csv"
        )
    )
    locs = result.locations.drop(
        columns=[c for c in result.locations.columns if c.endswith("_svg")]
    )
    if len(locs):
        locs.to_file(tmp / "locations.gpkg", layer="locations", driver="GPKG", engine="pyogrio")
        files.append(tmp / "locations.gpkg")
    if "street_profiles" in result.tables:
        prof = result.tables["street_profiles"].round(3)
        hot = result.hot_streets
        head = hot.loc[prof.index, ["rank", "street", "area_code"]]
        files.append(
            export.write_csv(pd.concat([head, prof], axis=1), tmp / "hot_street_profiles.csv")
        )
    return files


def _place_monthly(result: RunResult) -> pd.DataFrame:
    """Crimes per month of every listed place: hot streets, then police.uk locations."""
    monthly = result.tables["place_monthly"]
    heads = []
    for prefix, table, basis in (
        ("s", result.hot_streets, schema.BASIS_STREET),
        ("l", result.locations, schema.BASIS_LOCATION),
    ):
        head = table[["area_code", "area_rank", "street"]].copy()
        head.insert(0, "basis", basis)
        head.index = [f"{prefix}{i}" for i in range(len(table))]
        heads.append(head)
    head = pd.concat(heads)
    body = monthly.reindex(head.index).fillna(0).astype("int64")
    return pd.concat([head, body], axis=1).sort_values(["area_code", "area_rank"], kind="stable")


def _place_windows(result: RunResult, min_crimes: int = 5) -> pd.DataFrame:
    """Patrol window and peak months of each crime group (``min_crimes``) at each place.

    For data that gives the month only the window columns are left empty.
    """
    windows = result.tables["place_windows"]
    windows = windows[windows["crimes"] >= min_crimes].reset_index()
    month_only = windows["patrol_window"] == temporal.NO_TIME_OF_DAY
    windows["patrol_window"] = windows["patrol_window"].mask(month_only, "")
    head = _place_monthly(result)[["basis", "area_code", "area_rank", "street"]]
    head["_order"] = np.arange(len(head))  # the order of place_monthly.csv
    body = windows.join(head, on="place_key", how="inner")
    cols = ["basis", "area_code", "area_rank", "street", "group", *temporal.GROUP_WINDOW_COLUMNS]
    body["window_share"] = body["window_share"].round(3)
    body["window_crimes"] = body["window_crimes"].round(1)
    return body.sort_values(["_order", "group"], kind="stable")[cols]


def _place_group_profiles(result: RunResult, min_crimes: float = 5) -> pd.DataFrame:
    """Hour-of-week profile of each crime group (with ``min_crimes``) at each listed place."""
    prof = result.tables["place_group_profiles"]
    prof = prof[prof.sum(axis=1) >= min_crimes].round(2).reset_index()
    head = _place_monthly(result)[["basis", "area_code", "area_rank", "street"]]
    head["_order"] = np.arange(len(head))  # the order of place_monthly.csv
    body = prof.join(head, on="place_key", how="inner")
    cols = ["basis", "area_code", "area_rank", "street", "group", *temporal.HOUR_OF_WEEK_COLUMNS]
    return body.sort_values(["_order", "group"], kind="stable")[cols]


def _write_plots(
    config: RunConfig, result: RunResult, counts: pd.DataFrame, tmp: Path
) -> list[Path]:
    title = _title(result)
    month_check = result.tables["month_check"]
    files = [
        concentration.plot_lorenz(
            counts["crimes"].to_numpy(),
            result.segments["length_m"].to_numpy(),
            tmp / "concentration.png",
            title=title,
            seed=config.seed,
        ),
        temporal.plot_monthly(
            result.tables["city_monthly"].loc["all"],
            tmp / "monthly.png",
            title=f"Crimes per month: {title}",
            incomplete=month_check.index[month_check["incomplete"]].tolist(),
        ),
    ]
    if "city_profile" in result.tables:
        files.append(
            temporal.plot_hour_day(
                result.tables["city_profile"].loc["all"],
                tmp / "hour_of_week.png",
                title=f"Crimes by day and hour: {title}",
            )
        )
    return files


def _write_into(config: RunConfig, result: RunResult, tmp: Path) -> None:
    """Write every file of the run folder into ``tmp``; ``run.json`` last."""
    stage = _Stages()
    stage.seconds = result.seconds  # the analysis stages' seconds, then these
    with stage("exports"):
        files = _write_tables(config, result, tmp)
        files += _write_plots(config, result, result.counts, tmp)
        if "forecast" in result.records:
            from hotspots import evaluate

            evaluate.write_forecast(tmp, result.tables["forecast_list"], result.records["forecast"])
    with stage("maps"):
        files += site.write_maps(
            result,
            tmp,
            title=_title(result),
            evidence=_evidence(result).removeprefix(". "),
            offline=config.output.offline,
            crime_points=not config.ranking.street_level_only,
            top_n=config.output.map_top_n,
            area_maps=config.output.area_maps,
            place=site_index.place_name(result.crimes, config.inputs.fmt),
            quiet=config.output.quiet,
        )
    manifest = _manifest(config, result, result.concentration, result.naming, stage)
    export.write_manifest(manifest, tmp)  # written last: a folder without it is not a run
    result.manifest = manifest


def _title(result: RunResult) -> str:
    months = result.crimes["month"]
    files = result.crimes["source_file"].nunique()
    return f"{months.min()} to {months.max()}: {len(result.crimes):,} crimes from {files} file(s)"


def _evidence(result: RunResult) -> str:
    if "backtest" not in result.tables:
        return ""
    return ". " + str(result.tables["backtest"]["text"].iloc[0])


def _manifest(
    config: RunConfig,
    result: RunResult,
    conc: dict[str, Any],
    naming: dict[str, Any],
    stage: _Stages,
) -> dict[str, Any]:
    crimes = result.crimes
    inputs = [
        {"role": role, "path": str(p), "sha256": export.file_sha256(Path(p))}
        for role, paths in (
            ("crimes", config.crimes),
            ("areas", [config.areas]),
            ("streets", [config.streets]),
            ("population", [config.inputs.population] if config.inputs.population else []),
        )
        for p in paths
    ]
    params = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in config.options().items()
        if k not in ("population", "overwrite", "wait", "quiet")
    }
    snapped = int(crimes["segment_id"].notna().sum())
    month_check = result.tables["month_check"]
    return {
        "tool": "hotspots run",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "crs": crimes.crs.to_string(),
        "period": {
            "first_month": crimes["month"].min(),
            "last_month": crimes["month"].max(),
            "incomplete_months": month_check.index[month_check["incomplete"]].tolist(),
            "time_of_day": temporal.has_time_of_day(crimes),
        },
        "data_source": io.describe_source(config.inputs.fmt),
        "inputs": inputs,
        "parameters": params,
        "versions": {
            "python": platform.python_version(),
            **{lib: version(lib) for lib in _LIBRARIES},
        },
        "accounting": export.accounting(crimes, result.rejected),
        "skipped_files": io.skipped_files(config.crimes, fmt=config.inputs.fmt),
        "totals": {
            "read": len(crimes) + len(result.rejected),
            "kept": len(crimes),
            "rejected": len(result.rejected),
        },
        "snapping": {
            "max_distance_m": config.ranking.snap_distance_m,
            "snapped": snapped,
            "not_snapped": len(crimes) - snapped,
            "share_snapped": round(snapped / len(crimes), 4),
        },
        "naming": naming,
        "crime_type_columns": dict(
            sorted(
                {c: t for t, c in rank.type_columns(crimes["crime_type"].unique()).items()}.items()
            )
        ),
        "hot_streets": len(result.hot_streets),
        "listed_locations": len(result.locations),
        "areas_with_lists": len(result.area_lists),
        "concentration": conc,
        "significance": _significance_summary(result),
        "backtest": (
            result.tables["backtest"].iloc[0].to_dict() if "backtest" in result.tables else None
        ),
        "forecast": result.tables["forecast"].iloc[0].to_dict()
        if "forecast" in result.tables
        else None,
        "seconds": stage.seconds,
    }


def _significance_summary(result: RunResult) -> dict[str, Any]:
    params = result.tables["significance"].iloc[0].to_dict()
    counts = {
        name: result.tables[t]["gi_class"].astype(str).value_counts().to_dict()
        for name, t in (("hexagons", "hexagons"), ("segments", "segment_gistar"))
    }
    counts["hot_streets"] = result.hot_streets["significance"].astype(str).value_counts().to_dict()
    return {
        "method": "Getis-Ord Gi* (esda.G_Local, star=True, binary weights), two-sided normal "
        "p-values, Benjamini-Hochberg q-values; classes at 90/95/99% on q",
        "hexagon_resolution": int(params.pop("resolution")),
        "segment_neighbours": f"segments sharing an end or within {stats.DEFAULT_DISTANCE_M:.0f} m",
        "hot_street_class": "the class of its segment with the highest z",
        "location_class": "the class of the hexagon holding the location",
        "clusters": {
            **{k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()},
            "count": len(result.tables["clusters"]),
        },
        "classes": counts,
    }
