"""The hot-street pipeline on Dask: the same table as one machine, from files on many.

:func:`rank_streets_dask` runs load, area join, snapping, counting and ranking as Dask tasks:

1. **load**: one task per crime file reads it with the package's reader and projects it
   (each distinct point once), then joins the areas (broadcast to every worker) and drops
   the crimes outside them, as ``hotspots run`` does.
2. **repeated crime ids**: every file sends the 64-bit hashes of its ids to the client;
   only ids whose hash shows up in two files are compared as text, and a record whose id
   appeared in an earlier file is dropped, exactly as the single-machine reader does.
3. **spatial partitions**: crimes are regrouped by a coarse grid (``grid_m``, default 5 km)
   into ``npartitions`` spatial partitions of about equal size, taking whole cells in
   Z-order, so each partition holds nearby crimes and their repeated locations.
4. **snap and count**: each partition snaps its distinct locations to the street segments
   (built once on the client, from the segment cache, and broadcast to every worker), then
   counts crimes per segment and crime type and per segment and recorded street name.
5. **rank**: the client adds up the small count tables, names unnamed segments from the
   records as ``hotspots run`` does, and ranks with :func:`hotspots.analysis.rank.rank_streets`.

The tasks that run on the workers, and the plan they receive, are in
:mod:`hotspots.distributed_tasks`.

Snapping is per point, so partitions cannot change it: the result equals the
single-machine hot-street table (the tests check this with ``assert_frame_equal``).

Running on an existing cluster: pass ``client=distributed.Client("tcp://scheduler:8786")``
(or the address string itself). Every worker must have hotspots installed and see the crime
files at the same paths (a shared or network file system).
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from hotspots.analysis import rank
from hotspots.distributed_tasks import (
    Plan,
    cell_counts,
    drop_ids,
    empty_counts,
    id_hashes,
    ids_with_hashes,
    load_file,
    snap_part,
    split_by_cell,
)
from hotspots.errors import HotspotsError, InputDataError
from hotspots.read.crimes import read_crimes
from hotspots.read.layers import read_areas
from hotspots.space import cache, names, segments, snap
from hotspots.space import crs as _crs
from hotspots.space.areas import assign_areas

__all__ = [
    "DEFAULT_GRID_M",
    "rank_streets_dask",
    "rank_streets_from_files",
    "start_local_cluster",
]

log = logging.getLogger("hotspots")

_NONE = np.array(None, dtype=object)

#: Default grid cell of the spatial partitioning, metres.
DEFAULT_GRID_M = 5000.0

Engine = Literal["local", "dask"]


def rank_streets_from_files(
    crime_paths: Iterable[str | Path],
    areas: str | Path | gpd.GeoDataFrame,
    streets: str | Path | gpd.GeoDataFrame,
    *,
    fmt: str = "police-uk",
    engine: Engine = "local",
    client: Any = None,
    npartitions: int | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """Return the hot-street table from crime files, on this machine or on Dask.

    Parameters
    ----------
    crime_paths, areas, streets, fmt
        As in :func:`rank_streets_dask`.
    engine
        ``"local"`` runs the library's stages in this process (what ``hotspots run``
        does); ``"dask"`` runs :func:`rank_streets_dask`.
    client, npartitions
        Dask options (ignored by the local engine).
    **options
        The keyword options of :func:`rank_streets_dask`.

    Returns
    -------
    geopandas.GeoDataFrame
        The table of :func:`hotspots.analysis.rank.rank_streets`.

    Raises
    ------
    ValueError
        If ``engine`` is unknown.
    """
    if engine == "dask":
        return rank_streets_dask(
            crime_paths, areas, streets, fmt=fmt, client=client, npartitions=npartitions, **options
        )
    if engine != "local":
        msg = f"`engine` must be 'local' or 'dask'; got {engine!r}"
        raise ValueError(msg)
    return _rank_local(list(crime_paths), areas, streets, fmt=fmt, **options)


def rank_streets_dask(
    crime_paths: Iterable[str | Path],
    areas: str | Path | gpd.GeoDataFrame,
    streets: str | Path | gpd.GeoDataFrame,
    *,
    fmt: str = "police-uk",
    client: Any = None,
    npartitions: int | None = None,
    crs: str | None = None,
    area_code: str | None = None,
    area_name: str | None = None,
    street_name_col: str | None = None,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    snap_distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M,
    max_segment_length_m: float = segments.DEFAULT_MAX_LENGTH_M,
    min_crimes: int = rank.DEFAULT_MIN_CRIMES,
    hot_quantile: float = rank.DEFAULT_HOT_QUANTILE,
    length_floor_m: float = rank.DEFAULT_LENGTH_FLOOR_M,
    grid_m: float = DEFAULT_GRID_M,
    segment_cache: str | Path | None = None,
    quiet: bool = False,
    areas_layer: str | None = None,
    streets_layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Return the hot streets of crime files, computed on a Dask cluster.

    Parameters
    ----------
    crime_paths
        Crime files or folders, as for ``hotspots run --crimes``.
    areas
        Area polygon file (or an already read GeoDataFrame with ``area_code`` and
        ``area_name``).
    streets
        Street line file (or segments already built, with ``segment_id``).
    fmt
        ``"police-uk"``, ``"vancouver"`` or a mapping TOML path.
    client
        A ``distributed.Client``, or a scheduler address such as ``"tcp://host:8786"``.
        None uses the default client if one exists, else starts a local cluster.
    npartitions
        Spatial partitions; default twice the cluster's worker threads.
    crs
        The run's projected CRS (default: British National Grid for police.uk, else the
        mapping's ``project_to`` or its own projected CRS).
    area_code, area_name, street_name_col
        Column choices, as in ``hotspots run``.
    crime_types, start, end
        Row filters, as in :func:`hotspots.read.crimes.read_crimes`.
    snap_distance_m, max_segment_length_m, min_crimes, hot_quantile, length_floor_m
        As in ``hotspots run``.
    grid_m
        Grid cell of the spatial partitioning, metres.
    segment_cache
        Folder of the segment cache (default :func:`hotspots.space.cache.cache_dir`).
    quiet
        If True, do not log progress.
    areas_layer, streets_layer
        Layer of each file to read, when it holds several.

    Returns
    -------
    geopandas.GeoDataFrame
        The same table as :func:`hotspots.analysis.rank.rank_streets` on one machine.

    Raises
    ------
    InputDataError
        If an input cannot be used, no crime is usable, or no crime falls in the areas.
    HotspotsError
        If Dask (``dask[distributed]``) is not installed.
    """
    client, own = _client(_distributed(), client)
    try:
        plan = Plan.make(
            list(crime_paths), fmt=fmt, crs=crs, crime_types=crime_types, start=start, end=end
        )
        area_gdf = _areas(
            areas,
            plan.dst,
            area_code=area_code,
            area_name=area_name,
            quiet=quiet,
            layer=areas_layer,
        )
        segs = _segments(
            streets,
            plan.dst,
            area_gdf,
            street_name_col=street_name_col,
            max_length_m=max_segment_length_m,
            cache_dir=segment_cache,
            quiet=quiet,
            layer=streets_layer,
        )
        n_parts = npartitions or max(1, 2 * sum(client.nthreads().values()))
        parts = _load(client, plan, area_gdf, grid_m)
        parts = _drop_repeated_ids(client, plan, parts)
        counts, streets_named = _snap_and_count(
            client, parts, segs, n_parts, grid_m, snap_distance_m
        )
    finally:
        if own:
            client.close()
    return _rank(
        segs,
        counts,
        streets_named,
        min_crimes=min_crimes,
        hot_quantile=hot_quantile,
        length_floor_m=length_floor_m,
    )


# --------------------------------------------------------------------------------------------
# set-up


def _distributed() -> Any:
    try:
        import distributed  # optional dependency, imported when used
    except ImportError as err:
        msg = (
            "the Dask engine needs dask[distributed]: pip install 'dask[distributed]' "
            "(or use engine='local')"
        )
        raise HotspotsError(msg) from err
    return distributed


def start_local_cluster(dist: Any, n_workers: int | None = None) -> Any:
    """Start a Dask ``LocalCluster`` (one thread per worker, dashboard on a free port).

    Starting worker processes makes Dask set variables in this process's environment
    (``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED``, ...) for its workers and leave them set;
    they are put back as they were, so the stages this process runs after (and the
    programs it starts) see the environment the user gave.

    Parameters
    ----------
    dist
        The ``distributed`` module.
    n_workers
        Worker processes (Dask's default if None).
    """
    before = dict(os.environ)
    cluster = dist.LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=":0")
    for name in set(os.environ) - set(before):
        del os.environ[name]
    os.environ.update({k: v for k, v in before.items() if os.environ.get(k) != v})
    return cluster


def _client(dist: Any, client: Any) -> tuple[Any, bool]:
    """Return the client to use and whether this call made it (and must close it)."""
    if isinstance(client, str):
        return dist.Client(client), True
    if client is not None:
        return client, False
    try:
        return dist.get_client(), False
    except ValueError:  # no default client: start a local cluster for this call
        return dist.Client(start_local_cluster(dist)), True


def _areas(
    areas: Any,
    dst: pyproj.CRS,
    *,
    area_code: str | None,
    area_name: str | None,
    quiet: bool,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    if not isinstance(areas, gpd.GeoDataFrame):
        areas = read_areas(areas, code_col=area_code, name_col=area_name, layer=layer)
    return _crs.to_metric_crs(areas, dst, name="areas", quiet=quiet)


def _segments(
    streets: Any,
    dst: pyproj.CRS,
    areas: gpd.GeoDataFrame,
    *,
    street_name_col: str | None,
    max_length_m: float,
    cache_dir: Any,
    quiet: bool,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    if isinstance(streets, gpd.GeoDataFrame):
        segs = _crs.to_metric_crs(streets, dst, name="segments", quiet=quiet)
    else:
        segs = cache.cached_segments(
            streets,
            max_length_m=max_length_m,
            crs=dst,
            name_col=street_name_col,
            layer=layer,
            cache=cache_dir,
            quiet=quiet,
        )
    if "area_code" not in segs:
        segs = segs.join(snap.assign_segment_areas(segs, areas))
    return segs


# --------------------------------------------------------------------------------------------
# orchestration (on the client)


def _load(client: Any, plan: Plan, areas: gpd.GeoDataFrame, grid_m: float) -> list[Any]:
    areas_f = client.scatter(areas, broadcast=True)
    plan_f = client.scatter(plan, broadcast=True)
    return [
        client.submit(load_file, src, plan_f, areas_f, grid_m, pure=False) for src in plan.sources
    ]


def _drop_repeated_ids(client: Any, plan: Plan, parts: list[Any]) -> list[Any]:
    """Drop every record whose id appeared in an earlier file (as the single-machine reader)."""
    hashes = client.gather([client.submit(id_hashes, p) for p in parts])
    owners = pd.DataFrame(
        {
            "h": np.concatenate(list(hashes) or [np.zeros(0, np.uint64)]),
            "key": np.repeat(plan.keys, [len(h) for h in hashes]),
        }
    )
    shared = owners.groupby("h")["key"].nunique()
    wanted = shared.index[shared > 1].to_numpy(dtype=np.uint64)
    if not len(wanted):
        return [client.submit(drop_ids, p, set()) for p in parts]
    found = client.gather([client.submit(ids_with_hashes, p, wanted) for p in parts])
    first: dict[str, int] = {}
    for key, ids in zip(plan.keys, found, strict=True):
        for i in ids:
            first[i] = min(first.get(i, key), key)
    drops = [{i for i in ids if first[i] < key} for key, ids in zip(plan.keys, found, strict=True)]
    return [client.submit(drop_ids, p, d) for p, d in zip(parts, drops, strict=True)]


def _partition_bounds(counts: pd.Series, n_parts: int) -> np.ndarray:
    """Last cell number of each spatial partition: whole cells, about equal crime counts."""
    counts = counts.groupby(level=0).sum().sort_index()
    if counts.empty:
        return np.array([np.iinfo(np.int64).max])
    cum = counts.cumsum().to_numpy()
    targets = cum[-1] * np.arange(1, n_parts) / n_parts
    cut = np.unique(np.searchsorted(cum, targets, side="left"))
    bounds = counts.index.to_numpy()[cut[cut < len(counts) - 1]]
    return np.asarray(np.r_[bounds, np.iinfo(np.int64).max], dtype=np.int64)


def _snap_and_count(
    client: Any,
    parts: list[Any],
    segs: gpd.GeoDataFrame,
    n_parts: int,
    grid_m: float,
    max_distance_m: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    cells = client.gather([client.submit(cell_counts, p) for p in parts])
    bounds = _partition_bounds(pd.concat(cells) if cells else pd.Series(dtype="int64"), n_parts)
    split = [client.submit(split_by_cell, p, bounds) for p in parts]
    segs_f = client.scatter(segs, broadcast=True)
    snapped = []
    for i in range(len(bounds)):
        pieces = [client.submit(operator.getitem, s, i) for s in split]
        snapped.append(client.submit(snap_part, pieces, segs_f, max_distance_m))
    results = client.gather(snapped)
    if not results:
        return empty_counts()
    counts = pd.concat([r[0] for r in results], ignore_index=True)
    streets = pd.concat([r[1] for r in results], ignore_index=True)
    return (
        counts.groupby(["segment_id", "crime_type"])["n"].sum().reset_index(),
        streets.groupby(["segment_id", "street"])["n"].sum().reset_index(),
    )


def _rank(
    segs: gpd.GeoDataFrame,
    counts: pd.DataFrame,
    streets: pd.DataFrame,
    *,
    min_crimes: int,
    hot_quantile: float,
    length_floor_m: float,
) -> gpd.GeoDataFrame:
    if counts.empty:
        msg = "no crime falls inside the area layer, or none was usable: nothing to rank"
        raise InputDataError(msg)
    segs = _name_from_counts(segs, streets)
    table = counts.pivot(index="segment_id", columns="crime_type", values="n").fillna(0)
    table = table.reindex(columns=sorted(table.columns))
    table.columns = [rank.type_columns(table.columns)[str(c)] for c in table.columns]
    table = table.T.groupby(level=0, sort=False).sum().T
    table = table.reindex(segs["segment_id"].to_numpy(), fill_value=0)
    table.insert(0, "crimes", table.sum(axis=1))
    table.index = segs.index
    return rank.rank_streets(
        segs,
        table.astype("int64"),
        min_crimes=min_crimes,
        hot_quantile=hot_quantile,
        length_floor_m=length_floor_m,
    )


def _name_from_counts(segs: gpd.GeoDataFrame, streets: pd.DataFrame) -> gpd.GeoDataFrame:
    """Fill missing segment names from the records, as ``hotspots run`` does.

    Per segment, the street its records name most often (ties: alphabetically first), from
    the per-partition counts: the same as :func:`hotspots.space.names.name_from_records`.
    """
    best = streets.sort_values(
        ["segment_id", "n", "street"], ascending=[True, False, True], kind="stable"
    ).drop_duplicates("segment_id")
    inferred = best.set_index("segment_id")["street"].astype("string")
    layer_named = segs["street_name"].notna()
    filled = segs["street_name"].fillna(segs["segment_id"].map(inferred))
    source = np.where(layer_named, "street layer", np.where(filled.notna(), "crime records", _NONE))
    return segs.assign(street_name=filled.astype("string"), name_source=source)


# --------------------------------------------------------------------------------------------
# the single-machine path, stage by stage as ``hotspots run``


def _rank_local(
    paths: list[str | Path],
    areas: Any,
    streets: Any,
    *,
    fmt: str,
    crs: str | None = None,
    area_code: str | None = None,
    area_name: str | None = None,
    street_name_col: str | None = None,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    snap_distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M,
    max_segment_length_m: float = segments.DEFAULT_MAX_LENGTH_M,
    min_crimes: int = rank.DEFAULT_MIN_CRIMES,
    hot_quantile: float = rank.DEFAULT_HOT_QUANTILE,
    length_floor_m: float = rank.DEFAULT_LENGTH_FLOOR_M,
    segment_cache: str | Path | None = None,
    quiet: bool = False,
    areas_layer: str | None = None,
    streets_layer: str | None = None,
    **_dask_only: Any,
) -> gpd.GeoDataFrame:
    crimes, _ = read_crimes(
        paths, fmt=fmt, crs=crs, crime_types=crime_types, start=start, end=end, quiet=quiet
    )
    area_gdf = _areas(
        areas, crimes.crs, area_code=area_code, area_name=area_name, quiet=quiet, layer=areas_layer
    )
    crimes = crimes[assign_areas(crimes, area_gdf)["area_code"].notna().to_numpy()]
    segs = _segments(
        streets,
        crimes.crs,
        area_gdf,
        street_name_col=street_name_col,
        max_length_m=max_segment_length_m,
        cache_dir=segment_cache,
        quiet=quiet,
        layer=streets_layer,
    )
    crimes = crimes.join(
        snap.snap_to_streets(crimes, segs, max_distance_m=snap_distance_m, quiet=quiet)
    )
    street = names.location_to_street(crimes["location"])
    inferred = names.name_from_records(crimes["segment_id"], street)
    layer_named = segs["street_name"].notna()
    filled = segs["street_name"].fillna(segs["segment_id"].map(inferred))
    source = np.where(layer_named, "street layer", np.where(filled.notna(), "crime records", _NONE))
    segs = segs.assign(street_name=filled.astype("string"), name_source=source)
    counts = rank.count_by_segment(crimes, segs)
    return rank.rank_streets(
        segs,
        counts,
        min_crimes=min_crimes,
        hot_quantile=hot_quantile,
        length_floor_m=length_floor_m,
    )
