"""``hotspots evaluate`` as a function: files in, a backtest folder out (what the CLI calls)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from hotspots.errors import InputDataError, OutputExistsError
from hotspots.evaluate.area_run import area_plots, run_area
from hotspots.evaluate.backtest import DEFAULT_AREA_MONTHS
from hotspots.evaluate.config import (
    DEFAULT_COVERAGES,
    DEFAULT_HALF_LIFE_MONTHS,
    DEFAULT_WARMUP_MONTHS,
    DEFAULT_WINDOW_MONTHS,
    METHODS,
    RULES,
)
from hotspots.evaluate.metrics import summarise_backtest
from hotspots.evaluate.street_backtest import check_forecast_inputs, evaluate_forecasts
from hotspots.evaluate.study import segments_to_study_area
from hotspots.evaluate.units import DEFAULT_PIXEL_M
from hotspots.evaluate.workers import start_forked
from hotspots.evaluate.writer import write_backtest
from hotspots.read.crimes import read_crimes
from hotspots.read.layers import read_areas
from hotspots.read.memory import small_pages
from hotspots.space import crs as _crs
from hotspots.space import snap
from hotspots.space.cache import cache_dir, cached_segments

__all__ = ["BacktestConfig", "BacktestResult", "run_backtest"]


@dataclass
class BacktestConfig:
    """Everything ``hotspots evaluate`` needs; defaults are the documented ones."""

    crimes: list[Path]
    streets: Path
    out: Path
    fmt: str = "police-uk"
    areas: Path | None = None
    areas_layer: str | None = None
    streets_layer: str | None = None
    warmup_months: int = DEFAULT_WARMUP_MONTHS
    window_months: int = DEFAULT_WINDOW_MONTHS
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    months_back: int | None = None
    methods: tuple[str, ...] = METHODS
    groups: tuple[str, ...] | None = None
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS
    snap_distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M
    seed: int = 0
    overwrite: bool = False
    quiet: bool = False
    #: Run the area backtest (micro-units, forecasting methods, the choice per group).
    area: bool = True
    #: Target months of the area backtest (the last ones; at most ``months_back``); None: all
    #: after the warm-up.
    area_months_back: int | None = DEFAULT_AREA_MONTHS
    #: Area-backtest methods; None: the defaults (plus ``point_nr`` with dates and times).
    area_methods: tuple[str, ...] | None = None
    pixel_m: float = DEFAULT_PIXEL_M


@dataclass
class BacktestResult:
    """The tables behind the files of a backtest run folder."""

    out_dir: Path
    table: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any]
    area: dict[str, Any] | None = None


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - t0, 2)


def _load(config: BacktestConfig) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, shapely.Geometry]:
    crimes, _ = read_crimes(config.crimes, fmt=config.fmt, quiet=config.quiet)
    if crimes.empty:
        msg = f"no usable crime rows in {[str(p) for p in config.crimes]}: check --format"
        raise InputDataError(msg)
    # the street file's segments as `hotspots run` builds them, from the cache it shares
    segs = cached_segments(
        config.streets, crs=crimes.crs, layer=config.streets_layer, quiet=config.quiet
    )
    areas = None
    if config.areas is not None:
        areas = _crs.to_metric_crs(
            read_areas(config.areas, layer=config.areas_layer),
            crimes.crs,
            name=Path(config.areas).name,
            quiet=config.quiet,
        )
    # the study area (a union of buffers) and the snapping are independent: side by side
    region = start_forked(
        segments_to_study_area,
        segs,
        distance_m=config.snap_distance_m,
        areas=areas,
        cache=cache_dir(),
    )
    snapped = snap.snap_to_streets(
        crimes, segs, max_distance_m=config.snap_distance_m, quiet=config.quiet
    )
    return crimes.assign(segment_id=snapped["segment_id"]), segs, region()


@small_pages()
def run_backtest(config: BacktestConfig) -> BacktestResult:
    """Read the inputs, backtest every method and write the run folder.

    Runs with ordinary pages (:func:`hotspots.read.memory.small_pages`): the backtest makes
    many new arrays, and NumPy's huge pages cost each one the kernel's compaction. Measured
    in alternated fresh processes (4 pairs), Vancouver's CPU went from 45-59 s to 41-54 s
    (system time 5.7-6.6 s -> 1.9-3.5 s); London's, with NumPy's own switch for the whole
    process (``NUMPY_MADVISE_HUGEPAGE=0``), from 30-40 s to 27-35 s. The whole run (``hotspots
    run``) keeps huge pages: there the saved system time came back as user time.

    Writes ``backtest.csv``, ``backtest_summary.csv``, ``pai_<group>.png``,
    ``hit_rate_<group>.png`` and ``evaluate.json`` into ``config.out``.

    Parameters
    ----------
    config
        Inputs, output folder and options.

    Returns
    -------
    BacktestResult
        The tables written.

    Raises
    ------
    OutputExistsError
        If ``config.out`` exists and ``config.overwrite`` is False.
    InputDataError
        If an input cannot be used.
    """
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        msg = f"output folder {out} exists already; choose another --out or pass --overwrite"
        raise OutputExistsError(msg)
    seconds: dict[str, float] = {}
    with _timed(seconds, "load_and_snap"):
        crimes, segs, region = _load(config)
    # before the fork: a bad option fails at once
    check_forecast_inputs(crimes, segs, study_area=region, **_street_options(config))
    # the street backtest needs nothing the area backtest computes: a forked process does it
    # beside this one (here when waited for, where one process does it all)
    street = start_forked(_street_backtest, config, crimes, segs, region)
    area = None
    if config.area:
        with _timed(seconds, "area_backtest"):
            back = [m for m in (config.months_back, config.area_months_back) if m]
            area = run_area(
                crimes,
                segs,
                region,
                warmup_months=config.warmup_months,
                months_back=min(back) if back else None,
                methods=config.area_methods,
                groups=config.groups,
                pixel_m=config.pixel_m,
                quiet=config.quiet,
                cache=cache_dir(),
            )
    drawn: dict[str, bytes] = {}
    if area is not None and not street.ready():  # this process would wait: draw meanwhile
        drawn = area_plots(area, title=_area_title(config))
    with _timed(seconds, "backtest"):  # the wait for the street backtest
        table = street()
    summary = summarise_backtest(table)
    manifest = _manifest(config, table, seconds)
    if area is not None:
        manifest["area"] = area["manifest"]
    write_backtest(
        out,
        table,
        summary,
        manifest,
        title=_plot_title(config, table),
        overwrite=config.overwrite,
        area=area,
        drawn=drawn,
    )
    return BacktestResult(out, table, summary, manifest, area)


def _street_backtest(
    config: BacktestConfig,
    crimes: gpd.GeoDataFrame,
    segs: gpd.GeoDataFrame,
    region: shapely.Geometry,
) -> pd.DataFrame:
    return evaluate_forecasts(
        crimes,
        segs,
        study_area=region,
        seed=config.seed,
        quiet=config.quiet,
        cache=cache_dir(),
        **_street_options(config),
    )


def _street_options(config: BacktestConfig) -> dict[str, Any]:
    """Return the street backtest's options (checked and used with the same names)."""
    return {
        "methods": config.methods,
        "coverages": config.coverages,
        "warmup_months": config.warmup_months,
        "window_months": config.window_months,
        "groups": config.groups,
        "half_life_months": config.half_life_months,
        "months_back": config.months_back,
    }


def _plot_title(config: BacktestConfig, table: pd.DataFrame) -> str:
    months = table.attrs["months_scored"]
    first = Path(config.crimes[0]).resolve()
    return (
        f"{first.parent.name}/{first.name}: next-month backtest, {months[0]}..{months[-1]}, "
        f"window {config.window_months} months"
    )


def _area_title(config: BacktestConfig) -> str:
    """Return the area plots' title (what :func:`write_backtest` makes of the plot title)."""
    first = Path(config.crimes[0]).resolve()
    return f"{first.parent.name}/{first.name}: area backtest"


def _manifest(
    config: BacktestConfig, table: pd.DataFrame, seconds: dict[str, float]
) -> dict[str, Any]:
    params = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in asdict(config).items()
        if k not in ("out", "overwrite", "quiet")
    }
    params["crimes"] = [str(p) for p in config.crimes]
    return {
        "tool": "hotspots evaluate",
        "parameters": params,
        "rules": RULES,
        **{str(k): v for k, v in table.attrs.items()},
        "seconds_total": seconds,
    }
