"""The ``hotspots evaluate`` command: a thin shell over :func:`hotspots.evaluate.run_backtest`.

Register it on the main group with ``app.add_command(evaluate)``.
"""

from __future__ import annotations

from pathlib import Path

import click

from hotspots import evaluate as _evaluate
from hotspots import runfolder
from hotspots.cli.common import layer_options, setup_logging, wait_option
from hotspots.errors import HotspotsError

__all__ = ["evaluate"]


@click.command(name="evaluate")
@click.option(
    "--crimes",
    "crimes",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Crime files or folders (repeat, or list several after one --crimes).",
)
@click.argument("more_crimes", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--streets",
    required=True,
    type=click.Path(path_type=Path),
    help="Street line layer (OpenStreetMap, OS Open Roads, centrelines).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option(
    "--format",
    "fmt",
    default="police-uk",
    show_default=True,
    help="police-uk, vancouver, or the path of a TOML column mapping.",
)
@click.option(
    "--areas",
    type=click.Path(path_type=Path),
    help="Polygon layer to clip the study area to (e.g. the city's local areas).",
)
@layer_options
@click.option(
    "--warmup",
    "warmup_months",
    type=int,
    default=_evaluate.DEFAULT_WARMUP_MONTHS,
    show_default=True,
    help="Complete months before the first month scored.",
)
@click.option(
    "--window",
    "window_months",
    type=int,
    default=_evaluate.DEFAULT_WINDOW_MONTHS,
    show_default=True,
    help="Months of history of the window methods (k).",
)
@click.option(
    "--coverage",
    "coverages",
    type=float,
    multiple=True,
    help="Coverage level, percent of street length (repeat) [default: 0.5 1 2 5].",
)
@click.option("--months-back", type=int, help="Score only the last N months (for speed).")
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(_evaluate.METHODS),
    help="Method to score (repeat) [default: all].",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    type=click.Choice(_evaluate.GROUPS),
    help="Crime group to score (repeat) [default: every group present].",
)
@click.option(
    "--half-life",
    "half_life_months",
    type=float,
    default=_evaluate.DEFAULT_HALF_LIFE_MONTHS,
    show_default=True,
    help="Half-life of the ewma methods, months.",
)
@click.option(
    "--snap-distance",
    "snap_distance_m",
    type=float,
    default=30.0,
    show_default=True,
    help="Snapping tolerance and study-area buffer, metres.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random baseline.")
@click.option(
    "--area/--no-area",
    "area",
    default=True,
    show_default=True,
    help="Also run the area backtest: micro-units, forecasting methods, the method "
    "chosen per crime group (area_*.csv, area_pai_<group>.png).",
)
@click.option(
    "--area-months-back",
    type=int,
    default=_evaluate.DEFAULT_AREA_MONTHS,
    show_default=True,
    help="Target months of the area backtest (the last ones).",
)
@click.option(
    "--area-method",
    "area_methods",
    multiple=True,
    type=click.Choice(_evaluate.ALL_AREA_METHODS),
    help="Area-backtest method (repeat) [default: link_counts point_ewma point_eb "
    "point_season point_cover].",
)
@click.option(
    "--pixel",
    "pixel_m",
    type=float,
    default=_evaluate.DEFAULT_PIXEL_M,
    show_default=True,
    help="Raster pixel of the area backtest, metres.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@wait_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def evaluate(
    *,
    crimes: tuple[Path, ...],
    more_crimes: tuple[Path, ...],
    coverages: tuple[float, ...],
    methods: tuple[str, ...],
    groups: tuple[str, ...],
    area_methods: tuple[str, ...],
    quiet: bool,
    wait: bool,
    **options: object,
) -> None:
    """Backtest hot streets against next month's crime: hit rate, PAI and RRI per method.

    For every month after the warm-up, each method forecasts from the earlier months only and
    is scored on that month at fixed coverage (share of street length, and the same share of
    the study area for grid methods). Writes OUT/backtest.csv, OUT/backtest_summary.csv,
    OUT/pai_<group>.png, OUT/hit_rate_<group>.png and OUT/evaluate.json; the area backtest
    adds OUT/area_backtest.csv, OUT/area_summary.csv, OUT/area_chosen.csv and
    OUT/area_pai_<group>.png (PAI by land area, 95% bootstrap intervals over months).

    \b
    Example (London, police.uk, last 6 months only):
      hotspots evaluate --crimes ../shared/data/london/crimes \\
        --streets ../shared/data/london/streets_osm_london.gpkg \\
        --out outputs/evaluate_london --months-back 6
    Example (Vancouver):
      hotspots evaluate --crimes ../shared/data/vancouver/vpd_crimedata_2020_2025.csv.gz \\
        --format vancouver --streets ../shared/data/vancouver/public_streets.gpkg \\
        --areas ../shared/data/vancouver/local_areas.gpkg --out outputs/evaluate_vancouver
    """  # noqa: D301
    setup_logging(quiet)
    config = _evaluate.BacktestConfig(
        crimes=[*crimes, *more_crimes],
        coverages=coverages or _evaluate.DEFAULT_COVERAGES,
        methods=methods or _evaluate.METHODS,
        groups=groups or None,
        quiet=quiet,
        area_methods=area_methods or None,
        **options,  # type: ignore[arg-type]  # click gives the declared types
    )
    try:
        runfolder.check_writable(config.out, overwrite=config.overwrite)  # before any reading
        with runfolder.folder_lock(config.out, wait=wait):  # one writer of OUT at a time
            result = _evaluate.run_backtest(config)
    except HotspotsError as err:
        raise click.ClickException(str(err)) from err
    months = result.table.attrs["months_scored"]
    click.echo(
        f"{result.out_dir}: {len(months)} months scored ({months[0]}..{months[-1]}), "
        f"{result.table['method'].nunique()} methods, "
        f"{result.table['group'].nunique()} groups; skipped "
        f"{list(result.table.attrs['months_skipped']) or 'none'}"
    )
