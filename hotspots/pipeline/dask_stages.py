"""``hotspots run --engine dask``: the stages that touch every crime row, on a Dask cluster.

:func:`dask_rank_stages` gives what :func:`hotspots.pipeline.ranking.rank_stages` gives (the
same segments, ranked lists and crime table, value for value, but for the table's unused
columns; the rejected rows as ``rejected.csv``'s lines, step 7), with the row work on the
cluster's workers:

1. **read** (one task per crime file): the package's reader of one file
   (:func:`hotspots.distributed_tasks.read_file`): parsing, canonical columns, the row
   filters and their rejected rows.
2. **locate** (one task per file, on the worker holding it): the file's distinct points are
   found and projected (:func:`hotspots.distributed_tasks.locate_file`). The client
   meanwhile reads the areas and builds (or reads from the cache) the street segments, sent
   to every worker.
3. **area join and snapping** (a task per share of about a million points, nearby points
   together): the run's distinct points, each once however many files repeat it, looked up
   in the area polygons and snapped to the segments
   (:func:`hotspots.distributed_tasks.locate_points`), while the client joins the tables:
4. **join** (client): each file's rows fetched as soon as it is located, then joined in file
   order, every distinct point numbered as the single-machine reader numbers it, crime ids
   repeated across files and crimes outside every area rejected
   (:func:`hotspots.read.assemble.concat_files`, the reader's own function), and the
   workers' answers spread to the rows as categorical codes.
5. **rank** (client): segment names from the records, counts per segment, the hot streets,
   police.uk locations and the concentration figures, as ``hotspots run`` does.
6. **time counts** (one task per file, on the worker that read it): each file's month and
   window columns stayed on its worker (:func:`hotspots.distributed_tasks.time_rows`); the
   client numbers every row's place, area and (place, crime group)
   (:func:`hotspots.pipeline.time_counts.time_keys`) and sends each file its rows' numbers
   and which of its rows the join kept; the worker counts them per month and hour of the
   week (:func:`hotspots.distributed_tasks.count_file`, the function the local engine
   counts each file with) and the client sums the files' counts in file order. Every time
   table (``city_monthly``, ``month_check``, the places' and areas' trends, patrol windows
   and peaks, ``place_monthly``, ``area_monthly``, the hour-of-week profiles, the crime
   groups' windows and profiles) is made from these sums: the aoristic expansion of every
   window into hour cells, the time stage's largest per-row work, runs on the workers.
   Beside them, the area stage's counts: the client numbers every row's (area, crime type,
   on a street or not) (:func:`hotspots.pipeline.area_counts.area_keys`) and each worker
   counts its file's rows per number, month, day and whether dated to the day
   (:func:`hotspots.distributed_tasks.count_area_file`, the local engine's function per
   file); the area comparisons, best and worst and rates read the summed counts (a counted
   table, :mod:`hotspots.temporal.counted`) in place of the crimes.
7. **rejected rows** (one task per file name, after the join): each file's rejected rows
   stay on the worker that read it (:func:`hotspots.distributed_tasks.file_rejects`); the
   client sends each file the rows its join rejected (outside every area, a repeated id:
   few) and the worker makes the file's lines of ``rejected.csv``
   (:func:`hotspots.distributed_tasks.rejected_part`, i.e.
   :func:`hotspots.output.rejected_csv.file_part`, which the local engine writes its table
   with, file by file). Only the lines and the counts per reason come to the client, which
   keeps the lines in a temporary file per crime file until the run folder's writer joins
   them in order of file name (:class:`hotspots.output.rejected_csv.RejectedCsv`); run.json's
   accounting is made from the counts.

Every step is per file or per point, so the result equals the single-machine run's
(tests/test_dask_run.py compares every CSV of the two run folders byte for byte). The
client holds the joined crime table, as the later stages of the run (significance,
clusters, repeat locations, forecast, maps) still read every crime row, held compactly:

- without the columns no later stage reads (:data:`UNUSED_COLUMNS`: police.uk's crime ids,
  64 characters a row) and without ``snap_distance_m`` (read by no stage after snapping);
- ``geometry`` only where a record snapped to no street (the one reader of the per-row
  points, the unsnapped records' places; every later stage reads ``x`` and ``y``), None
  elsewhere: a shapely point per distinct location was the client's largest item;
- ``source_row`` as 32-bit integers; the rejected rows not at all (step 7; the few the
  join rejects are held until step 7 as categoricals, :func:`compact_text`).

What this costs per row is measured by ``benchmarks/dask_scale.py``.

What the client still reads row by row after ranking, and what would replace it (counts per
file on the workers, keyed by the client's numbers as the time counts are):

- time tables (:mod:`hotspots.pipeline.time_profiles`): nothing, the time counts above;
- area comparisons, best and worst (:mod:`hotspots.analysis.performance`) and rates
  (:mod:`hotspots.analysis.rates`) of the main layer: nothing, the area counts above (an
  ``--overlay`` layer's still count its crimes: its areas are found per row);
- ``rejected.csv``: nothing, step 7;
- Gi* hexagons (:mod:`hotspots.space.grid`): x, y, crime_type; counts per (distinct point,
  crime type);
- density clusters (:mod:`hotspots.analysis.clusters`): x, y; the distinct points with
  their counts as weights;
- repeat locations, harm, place significance, corridors: the point, crime_type,
  segment_id, place_key and cluster label; counts per (point or place, crime type);
- forecast (``--forecast`` only; the backtest evidence reads no crime): x, y, month,
  crime_type, segment_id and area_code of each crime, for a raster of pixels per month and,
  for the near-repeat method, each crime's date: counts per (distinct point, month, crime
  type) would do for all but near-repeat, which needs the events;
- maps (:mod:`hotspots.output.area_maps`, :mod:`hotspots.output.map_data`): x, y,
  crime_type, area_code, occurred_from, has_time; counts per (point, crime type, area) and
  per (place, week);
- run.json and the run's title: source_file, month, the windows; counts per file.

Of these, the Gi* hexagons' counts are one pass of ``bincount`` over the client's per-row
point numbers (``point_id``, from the join) and crime types: counting them on the workers
would save the client little while it holds the points for the other readers above. Their
cost is per distinct point (the H3 cell of each, and the points' spacing that chooses the
resolution; the clusters' neighbour search likewise), which on the jittered scale-up of
``benchmarks/dask_scale.py`` is nearly per row. The client's table shrinks only once every
reader of the points takes counts per distinct point.

The cluster: ``scheduler`` (a running Dask scheduler) if given, else a local cluster of
``workers`` processes, one thread each; without either, the default Dask client if one
exists (e.g. a ``distributed.Client`` the caller made), else a local cluster of one worker
per CPU. The cluster started here is closed once the time counts are made, before the
aggregated stages run, freeing the workers' memory.

Limits: police.uk files with ``--crs`` (the local reader re-projects from British National
Grid) and mapped files without a projected target CRS (the local reader picks the UTM zone
from all rows) are refused with a one-line error: give ``project_to`` in the mapping.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from geopandas.array import GeometryArray

from hotspots.distributed import start_local_cluster
from hotspots.distributed_tasks import (
    REJECT_CODES,
    Located,
    cells,
    file_rejects,
    locate_file,
    locate_points,
    read_file,
    time_rows,
    unify_codes,
    without_rejects,
)
from hotspots.errors import HotspotsError, InputDataError
from hotspots.pipeline.beside import trim_heap
from hotspots.pipeline.config import EngineOptions, RunConfig, StageTimer
from hotspots.pipeline.dask_counts import (
    DaskCounts,
    collect_rejected_parts,
    count_on_workers,
    kept_rows,
    submit_rejected_parts,
)
from hotspots.pipeline.ranking import Ranked, build_segments, rank_snapped
from hotspots.read.assemble import FileResult, concat_files, gc_held, to_geo
from hotspots.read.layers import read_areas
from hotspots.read.mapped import Mapping, read_mapping
from hotspots.read.sources import (
    Source,
    choose_publications,
    find_police_uk_sources,
    mapped_sources,
    scan_police_uk,
)
from hotspots.rejects import RowFilter
from hotspots.space import crs
from hotspots.space.areas import AreaLayer
from hotspots.space.locations import factorize_xy, spread_category

__all__ = [
    "UNUSED_COLUMNS",
    "compact_text",
    "dask_client",
    "dask_rank_stages",
]

log = logging.getLogger("hotspots")

#: Seconds to wait for a first worker of an existing scheduler.
WORKER_TIMEOUT_S = 30.0
#: Columns of the crime table no stage after reading uses: not kept on the client.
UNUSED_COLUMNS = ("crime_id",)
#: Crime files that carry their own CRS.
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
#: Most distinct points in one snapping task.
SNAP_SHARE_POINTS = 1_000_000
#: Grid cell by which the points are ordered into snapping shares, metres.
SNAP_CELL_M = 2000.0


@dataclass
class _Files:
    """Which files, read how: the sources, their reader and the choices made before reading."""

    sources: list[Source]
    mapping: Mapping | None
    rowfilter: RowFilter
    superseded: dict[str, str]


def dask_rank_stages(
    config: RunConfig, stage: StageTimer | None = None, record: dict[str, Any] | None = None
) -> tuple[Ranked, DaskCounts]:
    """Run the stages load through ranking of ``hotspots run`` with the row work on Dask.

    Then count the rows for the time tables on the workers (the ``time_counts`` stage).

    Parameters
    ----------
    config
        Inputs and parameters; ``config.engine`` says which cluster.
    stage
        Timer of the stages (run.json's ``seconds``): ``load`` covers reading, projecting,
        the area join and snapping on the workers and the joined table on the client;
        ``street_segments`` the segments built meanwhile; ``snapping`` spreading the
        workers' segments to the rows.
    record
        Filled with what run.json's ``engine`` entry says: cluster, workers, partitions
        (file tasks), the seconds from the last file task sent until every file's rows were
        on the client (``fetch_seconds``), the seconds joining them (``join_seconds``), the
        client's crime table in MB and its resident size (``client_rss_mb``) once the files
        are fetched, once joined, and after ranking (the heap trimmed).

    Returns
    -------
    Ranked
        The same as :func:`hotspots.pipeline.ranking.rank_stages` gives, but for the crime
        table's :data:`UNUSED_COLUMNS` and ``snap_distance_m``, its ``geometry`` (None where
        a record snapped) and the dtypes that hold it compactly (see the module's notes).
    DaskCounts
        The time counts of the run, the same as
        :func:`hotspots.pipeline.time_counts.count_times` gives for the crime table; the
        area stage's counts, as :func:`hotspots.pipeline.area_counts.count_areas` gives;
        ``rejected.csv``'s parts, made on the workers (the ``Ranked``'s rejected table holds
        no row), the same as :meth:`hotspots.output.rejected_csv.RejectedCsv.of_frame` makes
        from the local engine's table.

    Raises
    ------
    InputDataError
        If an input cannot be used, or the files need a choice made from all rows.
    HotspotsError
        If Dask (``dask[distributed]``) is not installed or the scheduler cannot be reached.
    """
    stage = stage or StageTimer()
    record = {} if record is None else record
    files = _files(config)  # before any cluster starts: a refused input fails at once
    with gc_held(), dask_client(config.engine) as (client, where):
        record.update(
            engine="dask",
            scheduler=where,
            workers=len(client.nthreads()),
            threads=sum(client.nthreads().values()),
        )
        with stage("load"):
            record["partitions"] = len(files.sources)
            reads = [
                client.submit(
                    read_file,
                    s,
                    files.mapping,
                    files.rowfilter,
                    files.superseded.get(s.name),
                    pure=False,
                )
                for s in files.sources
            ]
            area_layer = read_areas(
                config.areas,
                code_col=config.inputs.area_code,
                name_col=config.inputs.area_name,
                layer=config.inputs.areas_layer,
            )
            src, dst = _crs_pair(client, config, files, reads)
            layer = AreaLayer.of(area_layer, dst)
            polygons = client.scatter(layer.polygons, broadcast=True)
            located = [client.submit(locate_file, r, src, dst) for r in reads]
            # the columns the time tables count, and the rejected rows, stay on the worker
            # that read the file
            timed_rows = [client.submit(time_rows, r) for r in reads]
            rejects = [client.submit(file_rejects, r) for r in reads]
            reads = [client.submit(without_rejects, r) for r in reads]
        with stage("area_join"):
            areas = crs.to_metric_crs(
                area_layer, dst, name=Path(config.areas).name, quiet=config.output.quiet
            )
        with stage("street_segments"):  # while the workers read
            segs = build_segments(config, dst, areas)
        with stage.more("load"):
            t0 = time.perf_counter()
            results, points = _gather(client, reads, located)
            record["fetch_seconds"] = round(time.perf_counter() - t0, 3)
            record["client_rss_mb"] = {"fetched": _rss_mb()}
            codes, ux, uy = _number_points(points)
            del points
            # the workers find the areas and segments of the run's distinct points while this
            # process joins the tables (it waits for the areas when it needs them)
            shares = _Shares(client, polygons, segs, ux, uy, config.ranking.snap_distance_m)
            t0 = time.perf_counter()
            lengths = [len(r.kept) for r in results]
            crimes, late, kept_codes, gone = _assemble(
                results,
                codes,
                ux,
                uy,
                shares,
                police_uk=files.mapping is None,
                src=src,
                dst=dst,
                layer=layer,
            )
            del results, codes
            # each file's rejected rows made into rejected.csv's lines on its worker, with
            # the rows the join rejected (few): only the lines come to this process
            names = [source.name for source in files.sources]
            parts = submit_rejected_parts(
                client, names, rejects, late, street_level_only=config.ranking.street_level_only
            )
            rejected, late, rejects = late.iloc[:0], None, []
            record["join_seconds"] = round(time.perf_counter() - t0, 3)
            record["client_rss_mb"]["joined"] = _rss_mb()
            # the files' tables are freed: their memory (half the resident size at 60M rows)
            # goes back to the system, else naming and ranking add their peaks on top of it
            trim_heap()
        with stage("snapping"):
            _, segment, _ = shares.result()
        ranked = _rank(config, stage, crimes, rejected, areas, segs, kept_codes, segment)
        record["client_crime_table_mb"] = round(crimes.memory_usage(deep=True).sum() / 2**20, 1)
        del crimes, rejected
        with stage("time_counts"):  # each file's rows counted on its worker
            times, area_counts = count_on_workers(
                client, ranked.crimes, timed_rows, kept_rows(lengths, gone)
            )
        with stage("rejected_rows"):
            rejected_csv = collect_rejected_parts(
                parts, street_level_only=config.ranking.street_level_only
            )
    trim_heap()  # the joined files' memory goes back to the system before the later stages
    record["client_rss_mb"]["ranked"] = _rss_mb()
    return ranked, DaskCounts(times, area_counts, rejected_csv)


def _rank(
    config: RunConfig,
    stage: StageTimer,
    crimes: gpd.GeoDataFrame,
    rejected: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    segs: gpd.GeoDataFrame,
    kept_codes: np.ndarray,
    segment: np.ndarray,
) -> Ranked:
    """Spread the workers' segments to the rows and rank them (:func:`rank_snapped`)."""
    with gc_held():
        if crimes.empty:
            msg = (
                f"no usable crime rows in {[str(p) for p in config.crimes]}: "
                "see the rejected reasons"
            )
            raise InputDataError(msg)
        with stage.more("snapping"):
            # a column added in place: join would copy the whole table (3.7 GB at 60M rows)
            crimes["segment_id"] = _segment_ids(crimes, segs, kept_codes, segment)
            if not config.output.quiet:
                found = crimes["segment_id"].notna()
                log.info(
                    "snapped %d of %d crimes (%.1f%%) within %.0f m",
                    int(found.sum()),
                    len(found),
                    100 * found.mean(),
                    config.ranking.snap_distance_m,
                )
        return rank_snapped(config, stage, crimes, rejected, areas, segs)


def _rss_mb() -> int:
    """Return the resident size of this process in MB (psutil comes with Dask's distributed)."""
    import psutil

    rss: int = psutil.Process().memory_info().rss
    return round(rss / 2**20)


# --------------------------------------------------------------------------------------------
# the cluster


@contextmanager
def dask_client(engine: EngineOptions) -> Iterator[tuple[Any, str]]:
    """Yield a Dask client for ``engine`` and a description of its cluster.

    A cluster or connection made here is closed on leaving; a default client found is not.

    Raises
    ------
    HotspotsError
        If Dask is not installed, or the scheduler cannot be reached or has no worker.
    """
    dist = _distributed()
    if engine.scheduler:
        client = _connect(dist, engine.scheduler)
        try:
            yield client, engine.scheduler
        finally:
            client.close()
        return
    if engine.workers is None:
        try:
            yield dist.get_client(), "the default Dask client"
            return
        except ValueError:  # no default client: a local cluster
            pass
    n = engine.workers or os.cpu_count() or 1
    with (
        start_local_cluster(dist, n) as cluster,
        dist.Client(cluster) as client,
    ):
        yield client, f"local cluster of {n} workers"


def _distributed() -> Any:
    try:
        import distributed  # optional dependency (the `dask` extra), imported when used
    except ImportError:
        msg = (
            "--engine dask needs Dask (dask[distributed]), which is not installed: "
            "run `pip install -e '.[dask]'`, or use --engine local"
        )
        raise HotspotsError(msg) from None
    return distributed


def _connect(dist: Any, scheduler: str) -> Any:
    try:
        client = dist.Client(scheduler)  # Dask's distributed.comm.timeouts.connect (30 s)
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
    except (OSError, ValueError, TimeoutError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        msg = (
            f"cannot use the Dask scheduler at {scheduler!r}: {reason}. Check the address "
            "(tcp://host:8786), that it runs and has workers, or leave out --scheduler"
        )
        raise HotspotsError(msg) from None
    return client


# --------------------------------------------------------------------------------------------
# the files and their CRSs


def _files(config: RunConfig) -> _Files:
    """Resolve the crime files and their reader as the single-machine readers do."""
    period = config.period
    rf = RowFilter(
        tuple(period.crime_types) if period.crime_types else None, period.start, period.end
    )
    if config.inputs.fmt == "police-uk":
        if config.inputs.crs:
            msg = (
                "--crs with police.uk files is not on the Dask engine (the local reader "
                "re-projects from British National Grid): leave out --crs or use --engine local"
            )
            raise InputDataError(msg)
        sources, skipped = scan_police_uk(config.crimes)
        if not sources:
            find_police_uk_sources(config.crimes)  # raises the error for no files
        superseded = choose_publications(sources)
        if skipped and not config.output.quiet:
            log.info("skipped %d files that are not street-level crime (run.json)", len(skipped))
        return _Files(sources, None, rf, superseded)
    return _Files(mapped_sources(config.crimes), read_mapping(config.inputs.fmt), rf, {})


def _crs_pair(
    client: Any, config: RunConfig, files: _Files, reads: list[Any]
) -> tuple[Any, pyproj.CRS]:
    """Return the run's source and target CRS, chosen as the single-machine readers choose."""
    if files.mapping is None:
        return crs.WGS84, pyproj.CRS.from_user_input(crs.BRITISH_NATIONAL_GRID)
    mapping = files.mapping
    # the reader takes the last file's own CRS, which only GeoParquet has: no wait for CSVs
    parquet = bool(reads) and files.sources[-1].path.suffix.lower() in PARQUET_SUFFIXES
    src = (
        (client.submit(_file_crs, reads[-1]).result() if parquet else None)
        or mapping.crs
        or (crs.WGS84 if "lon" in mapping.columns else None)
    )
    if src is None:
        msg = f'mapping {mapping.name}: x/y columns need a `crs` (e.g. crs = "EPSG:26910")'
        raise InputDataError(msg)
    projected = pyproj.CRS.from_user_input(src).is_projected
    dst = config.inputs.crs or mapping.project_to or (src if projected else None)
    if dst is None:
        msg = (
            f"mapping {mapping.name}: the Dask engine needs a projected CRS to work in; give "
            '--crs (e.g. "EPSG:32610") or `project_to` in the mapping, or use --engine local'
        )
        raise InputDataError(msg)
    return src, pyproj.CRS.from_user_input(dst)


def _gather(
    client: Any, reads: list[Any], located: list[Any]
) -> tuple[list[FileResult], list[Located]]:
    """Fetch each file's rows and points as soon as it is located, freeing its worker's copy."""
    results: list[Any] = [None] * len(reads)
    points: list[Any] = [None] * len(reads)
    at = {f.key: i for i, f in enumerate(located)}
    for done in _distributed().as_completed(located):
        i = at[done.key]
        results[i], points[i] = client.gather([reads[i], done])
        reads[i] = located[i] = None  # the last references: the workers drop both
        done.release()
    return results, points


def _file_crs(res: FileResult) -> Any:
    return res.crs


# --------------------------------------------------------------------------------------------
# the joined table (client)


def _number_points(points: list[Located]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the run's distinct points, numbered as the single-machine reader numbers them.

    Returns each kept row's point (files in order) and each point's projected x and y.
    """
    # the reader numbers every distinct point in order of first row: the files' distinct
    # points (each file's in order of its first row), numbered once more, give the same
    glob, _, _ = factorize_xy(
        np.concatenate([p.raw_x for p in points] or [np.zeros(0)]),
        np.concatenate([p.raw_y for p in points] or [np.zeros(0)]),
    )
    first = _first_rows(glob)
    starts = np.cumsum([0, *(len(p.raw_x) for p in points)])
    codes = np.concatenate(
        [glob[lo + p.codes] for lo, p in zip(starts, points, strict=False)]
        or [np.zeros(0, np.int64)]
    )

    def per_point(name: str) -> np.ndarray:
        joined = np.concatenate([getattr(p, name) for p in points] or [np.zeros(0)])
        return np.asarray(joined[first])

    return codes, per_point("x"), per_point("y")


def _assemble(
    results: list[FileResult],
    codes: np.ndarray,
    ux: np.ndarray,
    uy: np.ndarray,
    shares: _Shares,
    *,
    police_uk: bool,
    src: Any,
    dst: pyproj.CRS,
    layer: AreaLayer,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Join the files as :func:`hotspots.read.assemble.assemble` does, from the numbered points.

    Returns the crimes with their areas, the rejected rows, each kept row's point and which
    of the files' rows were dropped (outside every area, a repeated id).
    """
    kept, rejected, gone = concat_files(
        [r.kept for r in results],
        unify_codes([rej for r in results for rej in r.rejects if len(rej)], REJECT_CODES),
        across_files_only=police_uk,
        outside=lambda: (shares.result()[0] < 0)[codes],
        id_keys=[r.id_keys for r in results] if police_uk else None,
    )
    if len(kept) == 0 and len(codes):
        raise InputDataError(layer.no_overlap_message(ux, uy, dst))
    kept_codes = codes[~gone] if gone.any() else codes
    area, segment, _ = shares.result()
    cols: dict[str, Any] = {
        "point_id": kept_codes.astype(np.int32 if len(ux) < 2**31 else np.int64),
        "geometry": GeometryArray(_unsnapped_points(ux, uy, segment)[kept_codes], crs=dst),
    }
    if pyproj.CRS.from_user_input(src) != dst:
        cols.update(x=ux[kept_codes], y=uy[kept_codes])
    cols.update(layer.columns(area.astype(np.int64), kept_codes))
    # the ids have done their work (repeats rejected above): no later stage reads them, and
    # police.uk's are 64 hex characters a row
    kept = kept.drop(columns=[c for c in UNUSED_COLUMNS if c in kept])
    crimes = to_geo(kept, src_crs=src, dst_crs=dst, points=cols)
    if len(crimes) and crimes["source_row"].max() < 2**31:  # row numbers: int32 holds them
        crimes["source_row"] = crimes["source_row"].astype(np.int32)
    return crimes, compact_text(rejected), kept_codes, gone


def _unsnapped_points(ux: np.ndarray, uy: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Each distinct point's shapely point where it snapped to no segment, else None.

    The crime table's geometry is read only for the unsnapped records (their places,
    :func:`hotspots.pipeline.ranking.unsnapped_places`); every later stage reads ``x`` and
    ``y``. A shapely point costs about 150 bytes, and most points snap.
    """
    geoms = np.full(len(ux), None, dtype=object)
    off = np.flatnonzero(segment < 0)
    geoms[off] = shapely.points(ux[off], uy[off])
    return geoms


def compact_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with each text column of few distinct values held as a categorical.

    Its CSV is the same (a categorical writes its values); a column of mostly distinct
    values (e.g. police.uk's crime ids) stays as it is.

    Examples
    --------
    >>> t = compact_text(pd.DataFrame({"reason": ["a", "a", "b", "a"], "n": [1, 2, 3, 4]}))
    >>> t.dtypes.astype(str).tolist()
    ['category', 'int64']
    """
    out = frame.copy(deep=False)
    for name in frame.columns:
        col = frame[name]
        if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
            continue
        if isinstance(col.dtype, pd.CategoricalDtype) or len(col) < 2:
            continue
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        if len(uniques) <= len(col) // 2:
            out[name] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    return out


class _Shares:
    """The area and segment of each distinct point, found by the workers in shares.

    Shares of about :data:`SNAP_SHARE_POINTS` nearby points (Z-order cells of
    :data:`SNAP_CELL_M`), at least two per worker thread; :meth:`result` waits for them.
    """

    def __init__(
        self,
        client: Any,
        polygons: Any,
        segs: gpd.GeoDataFrame,
        ux: np.ndarray,
        uy: np.ndarray,
        max_distance_m: float,
    ) -> None:
        order = np.argsort(cells(ux, uy, SNAP_CELL_M), kind="stable")
        threads = sum(client.nthreads().values())
        n = max(1, 2 * threads, -(-len(order) // SNAP_SHARE_POINTS))
        segs_f = client.scatter(segs[["segment_id", "geometry"]], broadcast=True)
        self.size = len(ux)
        self.parts = []
        for rows in np.array_split(order, n):
            xy = client.scatter(np.stack([ux[rows], uy[rows]]))
            task = client.submit(locate_points, xy, polygons, segs_f, max_distance_m)
            self.parts.append((rows, task))
        self.found: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return each point's area polygon, segment code (-1: none) and snap distance."""
        if self.found is None:
            area = np.full(self.size, -1, dtype=np.int32)
            segment = np.full(self.size, -1, dtype=np.int64)
            distance = np.full(self.size, np.nan)
            for rows, task in self.parts:
                area[rows], segment[rows], distance[rows] = task.result()
                task.release()
            self.found, self.parts = (area, segment, distance), []
        return self.found


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Position of each code's first row, for codes numbered in order of first row."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    top = np.maximum.accumulate(codes)
    new = np.r_[True, top[1:] > top[:-1]]
    return np.asarray(np.flatnonzero(new), dtype=np.int64)


def _segment_ids(
    crimes: gpd.GeoDataFrame, segs: gpd.GeoDataFrame, kept_codes: np.ndarray, segment: np.ndarray
) -> pd.Series:
    """``segment_id`` per row, as :func:`snap_to_streets` gives it."""
    # the workers' codes number the sorted segment ids (the categories snapping gives)
    _, ids = pd.factorize(pd.Series(segs["segment_id"].to_numpy(), dtype="str"), sort=True)
    return spread_category(
        np.asarray(ids, dtype=object), segment.astype(np.int64), kept_codes, crimes.index
    )
