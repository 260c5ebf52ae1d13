"""The ``hotspots hot-streets`` command: the hot-street table on this machine or on Dask.

A thin shell over :func:`hotspots.distributed.rank_streets_from_files`. Register it on the
main group with ``app.add_command(hot_streets)``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import click
import pandas as pd

from hotspots import distributed as _distributed
from hotspots import runfolder
from hotspots.analysis import rank
from hotspots.cli.common import (
    check_engine,
    engine_options,
    layer_options,
    setup_logging,
    wait_option,
)
from hotspots.output import export
from hotspots.space import segments, snap

__all__ = ["hot_streets"]

#: Environment variable read for ``--scheduler`` (the one Dask itself reads).

_INSTALL_HINT = "pip install -e '.[dask]'"


@click.command(name="hot-streets")
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
@click.option(
    "--format",
    "fmt",
    default="police-uk",
    show_default=True,
    help="police-uk, vancouver, or the path of a TOML column mapping.",
)
@click.option("--area-code", help="Column of the area code (guessed if not given).")
@click.option("--area-name", help="Column of the area name (guessed if not given).")
@engine_options("Run in this process, or on a Dask cluster.")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    help="Spatial partitions of the Dask run [default: twice the worker threads].",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the scheduler and a first worker.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@wait_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--street-name", "street_name_col", help="Column of street names in --streets.")
@layer_options
@click.option("--crs", help="Projected CRS to work in (default as in `hotspots run`).")
@click.option(
    "--crime-type", "crime_types", multiple=True, help="Keep only this crime type (repeat)."
)
@click.option("--start", help="First month to keep, YYYY-MM.")
@click.option("--end", help="Last month to keep, YYYY-MM.")
@click.option(
    "--snap-distance",
    "snap_distance_m",
    type=float,
    default=snap.DEFAULT_SNAP_DISTANCE_M,
    show_default=True,
    help="Snapping tolerance, metres.",
)
@click.option(
    "--max-segment-length",
    "max_segment_length_m",
    type=float,
    default=segments.DEFAULT_MAX_LENGTH_M,
    show_default=True,
    help="Longest street segment, metres.",
)
@click.option(
    "--min-crimes",
    type=int,
    default=rank.DEFAULT_MIN_CRIMES,
    show_default=True,
    help="Fewest crimes on a hot segment.",
)
@click.option(
    "--hot-quantile",
    type=float,
    default=rank.DEFAULT_HOT_QUANTILE,
    show_default=True,
    help="Per-area quantile of crimes per 100 m at which a segment is hot.",
)
@click.option(
    "--length-floor",
    "length_floor_m",
    type=float,
    default=rank.DEFAULT_LENGTH_FLOOR_M,
    show_default=True,
    help="Length floor of crimes per 100 m, metres.",
)
@click.pass_context
def hot_streets(
    ctx: click.Context,
    /,
    *,
    crimes: tuple[Path, ...],
    more_crimes: tuple[Path, ...],
    out: Path,
    overwrite: bool,
    wait: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Rank hot streets from raw crime files, on this machine or on a Dask cluster.

    Load, area join, snapping and ranking only (no time profiles, clusters or maps): writes
    OUT/hot_streets.csv, with the columns of the `hotspots run` file that these stages
    make, and OUT/hot_streets.json (engine, cluster, partitions, seconds). Both engines give
    the same table. `--engine dask` starts a local cluster of --workers processes, or with
    --scheduler (or DASK_SCHEDULER_ADDRESS) runs on an existing cluster, whose workers need
    hotspots installed and the crime files at the same paths.

    \b
    Example (London on a local Dask cluster of 2 workers):
      hotspots hot-streets --crimes ../shared/data/london/crimes \\
        --areas ../shared/data/london/wards_2014.gpkg \\
        --streets ../shared/data/london/streets_osm_london.gpkg \\
        --engine dask --workers 2 --out outputs/hot_streets_london
    Example (an existing cluster):
      hotspots hot-streets --crimes /shared/crimes --areas /shared/wards.gpkg \\
        --streets /shared/streets.gpkg --engine dask --scheduler tcp://scheduler:8786 \\
        --out outputs/hot_streets
    """  # noqa: D301
    _setup_logging(quiet)
    engine, workers = options.pop("engine"), options.pop("workers")
    partitions, timeout = options.pop("partitions"), options.pop("connect_timeout")
    scheduler = check_engine(
        ctx,
        engine=engine,
        scheduler=options.pop("scheduler"),
        workers=workers,
        partitions=partitions,
    )
    runfolder.check_writable(out, overwrite=overwrite)  # before any input is read
    with runfolder.folder_lock(out, wait=wait):  # one writer of OUT at a time
        _rank_and_write(
            out,
            [*crimes, *more_crimes],
            options,
            engine=engine,
            workers=workers,
            partitions=partitions,
            timeout=timeout,
            scheduler=scheduler,
            overwrite=overwrite,
            quiet=quiet,
        )


def _rank_and_write(
    out: Path,
    paths: list[Path],
    options: dict[str, Any],
    *,
    engine: Literal["local", "dask"],
    workers: int | None,
    partitions: int | None,
    timeout: float,
    scheduler: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Rank on the chosen engine and write OUT (the caller holds OUT's lock)."""
    areas, streets = options.pop("areas"), options.pop("streets")
    options["crime_types"] = tuple(options["crime_types"]) or None
    started = time.perf_counter()
    with _cluster(engine, scheduler, workers, timeout) as (client, where):
        n_parts = _partitions(client, partitions)
        n_workers = len(client.nthreads()) if client is not None else None
        hot = _distributed.rank_streets_from_files(
            _for_workers(paths) if client is not None else paths,
            areas,
            streets,
            engine=engine,
            client=client,
            npartitions=n_parts,
            quiet=quiet,
            **options,
        )
    seconds = round(time.perf_counter() - started, 1)
    manifest = {
        "tool": "hotspots hot-streets",
        "engine": engine,
        "scheduler": where,
        "workers": n_workers,
        "partitions": n_parts,
        "inputs": {
            "crimes": [str(p) for p in paths],
            "areas": str(areas),
            "streets": str(streets),
            "format": options["fmt"],
        },
        "parameters": {k: v for k, v in options.items() if k != "fmt"},
        "rows": None,  # neither engine returns its row accounting: see `hotspots run`
        "hot_streets": len(hot),
        "seconds": seconds,
    }
    _write(hot, manifest, out, overwrite=overwrite)
    if not quiet:
        on = f", {where}, {n_parts} partitions" if where else ""
        click.echo(f"{out}: {len(hot)} hot streets in {seconds} s ({engine} engine{on})")


def _for_workers(paths: list[Path]) -> list[Path]:
    """Absolute paths: the workers of an existing cluster do not share this folder."""
    return [p.absolute() for p in paths]


def _setup_logging(quiet: bool) -> None:
    """Log hotspots' choices to stderr; keep Dask's own INFO chatter out of the terminal."""
    setup_logging(quiet, filters=(_quiet_dask,))


def _quiet_dask(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or not record.name.startswith("distributed")


@contextmanager
def _cluster(
    engine: str, scheduler: str | None, workers: int | None, timeout: float
) -> Iterator[tuple[Any, str | None]]:
    """Yield a Dask client and a description of its cluster (None, None for the local engine)."""
    if engine == "local":
        yield None, None
        return
    dist = _import_distributed()
    if scheduler:
        client = _connect(dist, scheduler, timeout)
        where = scheduler
        cluster = None
    else:
        n = workers or os.cpu_count() or 1
        cluster = _distributed.start_local_cluster(dist, n)
        client, where = dist.Client(cluster), f"local cluster of {n} workers"
    try:
        yield client, where
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _import_distributed() -> Any:
    try:
        import distributed  # optional dependency: the `dask` extra
    except ImportError:
        msg = (
            f"--engine dask needs Dask (dask[distributed]), which is not installed: "
            f"run `{_INSTALL_HINT}`, or use --engine local"
        )
        raise click.ClickException(msg) from None
    return distributed


def _connect(dist: Any, scheduler: str, timeout: float) -> Any:
    """Connect to an existing scheduler and wait for a first worker; one-line errors."""
    try:
        client = dist.Client(scheduler, timeout=timeout)
    except (OSError, ValueError, TimeoutError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        msg = (
            f"cannot reach the Dask scheduler at {scheduler!r}: {reason}. Check the address "
            "(tcp://host:8786) and that the scheduler runs, or leave out --scheduler "
            "to start a local cluster"
        )
        raise click.ClickException(msg) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        msg = (
            f"the Dask scheduler at {scheduler!r} has no workers after {timeout:g} s; "
            "start some (dask worker " + scheduler + ") or raise --connect-timeout"
        )
        raise click.ClickException(msg) from None
    return client


def _partitions(client: Any, partitions: int | None) -> int | None:
    """Spatial partitions of a Dask run: as given, else twice the cluster's worker threads."""
    if client is None:
        return None
    return partitions or max(1, 2 * sum(client.nthreads().values()))


def _write(
    hot: pd.DataFrame, manifest: dict[str, Any], out: Path, *, overwrite: bool
) -> list[Path]:
    """Write hot_streets.csv and hot_streets.json into a fresh ``out`` (replaced whole)."""
    with runfolder.staged_folder(out, overwrite=overwrite) as tmp:
        table = pd.DataFrame(hot.drop(columns="geometry"))
        files = [export.write_csv(table, tmp / "hot_streets.csv"), tmp / "hot_streets.json"]
        files[1].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return [out / f.name for f in files]
