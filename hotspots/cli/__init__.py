"""Command line: a thin shell over :func:`hotspots.pipeline.run` and friends."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import click

from hotspots import __version__
from hotspots.cli.common import (
    check_engine,
    denominator_value,
    engine_options,
    layer_options,
    overlay_values,
    setup_logging,
    wait_option,
)
from hotspots.errors import HotspotsError

__all__ = [
    "app",
    "export_cmd",
    "main",
    "run_cmd",
]

#: Commands defined in modules of their own, imported only when one of them is run or asked
#: for its help, so ``hotspots --help`` answers without importing GeoPandas, pandas or Dask:
#: name -> (module, attribute, short help; tests/test_cli_help.py keeps it equal to the
#: command's own).
_LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "brief": (
        "hotspots.cli.brief",
        "brief",
        "Write a one-page brief per ward: three proposed priorities with their evidence.",
    ),
    "download": (
        "hotspots.cli.download",
        "download",
        "Download real crime, boundary and street data for hotspots.",
    ),
    "evaluate": (
        "hotspots.cli.evaluate",
        "evaluate",
        "Backtest hot streets against next month's crime: hit rate, PAI and RRI per method.",
    ),
    "hot-streets": (
        "hotspots.cli.streets",
        "hot_streets",
        "Rank hot streets from raw crime files, on this machine or on a Dask cluster.",
    ),
}

_EPILOG_RUN = """\b
Example (London, police.uk):
  hotspots run --crimes ../shared/data/london/crimes \\
    --areas ../shared/data/london/wards_2014.gpkg \\
    --streets ../shared/data/london/streets_osm_london.gpkg --out outputs/london
"""


#: Environment variable read for ``--scheduler`` (the one Dask itself reads).


class _Group(click.Group):
    """Turns HotspotsError into a one-line message and exit code 1 (traceback with --debug).

    The commands of :data:`_LAZY_COMMANDS` are imported when first needed.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            module, attr, _ = _LAZY_COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their short help, importing none of the lazy ones."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in _LAZY_COMMANDS and name not in self.commands:
                stand_in = click.Command(name, help=_LAZY_COMMANDS[name][2])  # click's cut
                text = stand_in.get_short_help_str(limit)
            else:
                cmd = self.commands[name]
                if cmd.hidden:
                    continue
                text = cmd.get_short_help_str(limit)
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except HotspotsError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(str(err)) from None
        except Exception as err:  # a bug or an input we did not foresee: still no traceback
            if ctx.obj and ctx.obj.get("debug"):
                raise
            msg = (
                f"unexpected {type(err).__name__}: {err}. Run `hotspots --debug ...` for the "
                "traceback and report it with the input that caused it"
            )
            raise click.ClickException(msg) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hotspots")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def app(ctx: click.Context, debug: bool) -> None:
    """Hot streets from police crime extracts: rank, map and export per ward."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Run the ``hotspots`` console command (:data:`app`), then end its process quickly.

    The process ends with the command's exit status once its output is on disk and every
    exit handler has run, without Python freeing each object of the run first (see
    :mod:`hotspots.cli.quick_exit`), and Python's cyclic garbage collector runs less often
    (:mod:`hotspots.cli.collector`). For a console script or ``python -m hotspots.cli``
    only; elsewhere call :data:`app` (a click command).
    """
    from hotspots.cli.collector import collect_less
    from hotspots.cli.quick_exit import end_quickly, exit_status

    status = end_quickly()
    collect_less()
    try:
        app(prog_name="hotspots")
    except SystemExit as done:
        status[0] = exit_status(done.code)
        raise
    except KeyboardInterrupt:
        status[0] = 130  # as a shell reports a command stopped by Ctrl-C
        raise


def _setup_logging(quiet: bool) -> None:
    setup_logging(quiet)


@app.command("run", epilog=_EPILOG_RUN)
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
    "--areas",
    required=True,
    type=click.Path(path_type=Path),
    help="Polygon layer of wards or other areas.",
)
@click.option(
    "--streets",
    required=True,
    type=click.Path(path_type=Path),
    help="Street line layer (OpenStreetMap, OS Open Roads, centrelines).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder to write.")
@click.option(
    "--format",
    "fmt",
    default="police-uk",
    show_default=True,
    help="police-uk, vancouver, or the path of a TOML column mapping.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
@wait_option
@click.option("--area-code", help="Column of the area code (guessed if not given).")
@click.option("--area-name", help="Column of the area name (guessed if not given).")
@click.option("--street-name", "street_name_col", help="Column of street names in --streets.")
@layer_options
@click.option(
    "--population",
    type=click.Path(path_type=Path),
    help="CSV of residents per area code, for rates per 1,000.",
)
@click.option(
    "--denominator",
    metavar="NAME=CSV",
    callback=denominator_value,
    help="A second denominator for rates.csv: NAME=CSV of area code and value "
    "(e.g. workday=workday.csv).",
)
@click.option(
    "--overlay",
    "overlays",
    multiple=True,
    metavar="NAME=PATH",
    callback=overlay_values,
    help="Another area layer (repeat), e.g. lsoa=lsoa.gpkg, or NAME=h3:8 for a hexagon grid: "
    "its lists, maps and comparisons go to OUT/layers/NAME/.",
)
@click.option(
    "--crs",
    help="Projected CRS to work in (default: EPSG:27700 for police.uk, "
    "the data's own or its UTM zone otherwise).",
)
@click.option(
    "--crime-type", "crime_types", multiple=True, help="Keep only this crime type (repeat)."
)
@click.option("--start", help="First month to keep, YYYY-MM.")
@click.option("--end", help="Last month to keep, YYYY-MM.")
@click.option(
    "--snap-distance",
    "snap_distance_m",
    type=float,
    default=30.0,
    show_default=True,
    help="Snapping tolerance, metres.",
)
@click.option(
    "--max-segment-length",
    "max_segment_length_m",
    type=float,
    default=250.0,
    show_default=True,
    help="Longest street segment, metres.",
)
@click.option(
    "--min-crimes",
    type=int,
    default=5,
    show_default=True,
    help="Fewest crimes on a hot segment or listed location.",
)
@click.option(
    "--hot-quantile",
    type=float,
    default=0.8,
    show_default=True,
    help="Per-area quantile of crimes per 100 m at which a segment is hot.",
)
@click.option(
    "--length-floor",
    "length_floor_m",
    type=float,
    default=50.0,
    show_default=True,
    help="Length floor of crimes per 100 m, metres.",
)
@click.option(
    "--map-top",
    "map_top_n",
    type=int,
    default=300,
    show_default=True,
    help="Hot streets drawn on map.html.",
)
@click.option(
    "--compare-months",
    type=int,
    default=3,
    show_default=True,
    help="Months in the period comparison (last N vs previous N and a year before).",
)
@click.option(
    "--patrol-share",
    type=float,
    default=0.5,
    show_default=True,
    help="A second patrol window is named only while the first holds less than this share.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Self-contained HTML: scripts inlined, street network instead of web tiles.",
)
@click.option(
    "--no-area-maps",
    "area_maps",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Write only the city-wide map (no map per area and borough).",
)
@click.option(
    "--hex-resolution",
    type=int,
    help="H3 resolution of the hexagon layer "
    "(default: chosen from the spacing of crime locations; London 9).",
)
@click.option(
    "--permutations",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Conditional permutations for the Gi* pseudo p-value p_perm (e.g. 999; 0: none). "
    "The significance classes use the analytic p-values and do not depend on it.",
)
@click.option(
    "--cluster-method",
    type=click.Choice(["hdbscan", "dbscan"]),
    default="hdbscan",
    show_default=True,
    help="Density clustering of crime points.",
)
@click.option(
    "--harm-weights",
    type=click.Path(path_type=Path),
    help="CSV of crime_type,weight (default: the packaged Crime Harm Index table).",
)
@click.option(
    "--backtest",
    type=click.Path(path_type=Path, file_okay=False),
    help="A `hotspots evaluate` folder: maps and hand-outs then say how much of next "
    "month's crime streets like the listed ones held.",
)
@click.option(
    "--forecast",
    is_flag=True,
    help="With --backtest: rank next month's list with the method the backtest chose "
    "(OUT/forecast.csv, OUT/forecast.json, a 'forecast' entry in run.json).",
)
@click.option(
    "--street-level-only",
    is_flag=True,
    help="Privacy: publish street segments only (no crime points, no point-level "
    "places, no record ids or coordinates in rejected.csv).",
)
@engine_options(
    "Where reading, the area join and snapping run: this process, or a Dask cluster "
    "(a local one, or --scheduler); the rest of the run stays here."
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def run_cmd(
    ctx: click.Context, /, crimes: tuple[Path, ...], more_crimes: tuple[Path, ...], **options: Any
) -> None:
    """Rank hot streets from crime extracts and write a run folder.

    Writes OUT/hot_streets.csv and .gpkg, OUT/wards/<area_code>.csv, OUT/map.html,
    OUT/maps/ (a map per area and borough), OUT/index.html, OUT/rejected.csv, OUT/areas.csv,
    period comparisons, monthly and hour-of-week profiles, plots and OUT/run.json.
    One run at a time writes an OUT: a second fails at once (or waits, with --wait).
    """
    from hotspots import runfolder

    options["scheduler"] = check_engine(
        ctx,
        engine=options["engine"],
        scheduler=options["scheduler"],
        workers=options["workers"],
    )
    _setup_logging(options["quiet"])
    if options["engine"] == "dask":  # Dask's INFO chatter kept out (read when it is imported)
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    out, overwrite, wait = options["out"], options["overwrite"], options["wait"]
    runfolder.check_writable(out, overwrite=overwrite)  # at once: before imports and reading
    with runfolder.folder_lock(out, wait=wait):  # run() takes it again (re-entrant)
        from hotspots.pipeline import RunConfig, run  # here: `hotspots --help` stays fast

        options["crime_types"] = tuple(options["crime_types"]) or None
        config = RunConfig.from_options(crimes=[*crimes, *more_crimes], **options)
        result = run(config)
    acc = result.manifest["totals"]
    click.echo(
        f"{result.out_dir}: {len(result.hot_streets)} hot streets, "
        f"{len(result.area_lists)} area lists; rows read {acc['read']}, "
        f"kept {acc['kept']}, rejected {acc['rejected']}"
    )


@app.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--ward", "wards", multiple=True, help="Area code to export (repeat); all by default."
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Folder to write (default RUN_DIR/exports)."
)
@wait_option
def export_cmd(run_dir: Path, wards: tuple[str, ...], out: Path | None, wait: bool) -> None:
    """Write hand-out CSV and XLSX hotspot lists per ward from an existing run folder.

    Nothing is recomputed. Example: hotspots export outputs/london --ward E05000644
    """
    from hotspots.output.handouts import write_area_handouts
    from hotspots.runfolder import folder_lock

    with folder_lock(run_dir, wait=wait):  # read and written with no run replacing it
        files = write_area_handouts(run_dir, codes=wards or None, out_dir=out, wait=wait)
    click.echo(f"wrote {len(files)} files to {files[0].parent if files else out}")


if __name__ == "__main__":  # python -m hotspots.cli
    main()
