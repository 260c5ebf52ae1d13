"""Assembling the crime table from the files read: threads, the join, the points.

Files are read several at a time, then joined into one table while a second thread finds,
projects and (given areas) locates the distinct points.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeAlias, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from geopandas.array import GeometryArray

from hotspots.errors import InputDataError
from hotspots.read.canonical import TEXT_DTYPE, stack_frames, unify_categories
from hotspots.read.duplicates import (
    FileIdKeys,
    repeated_across_files,
    repeated_ids,
)
from hotspots.read.layers import AreaInput, areas_of
from hotspots.read.schema import REJECTED_COLUMNS
from hotspots.read.sources import (
    Source,
)
from hotspots.rejects import REASON_DUPLICATE, REASON_OUTSIDE, rejected_values
from hotspots.space.areas import AreaLayer
from hotspots.space.locations import (
    factorize_xy,
    polygon_of_points,
)

__all__ = [
    "FileResult",
    "Located",
    "PointsSeen",
    "assemble",
    "collect_results",
    "concat_files",
    "gc_held",
    "locate_points",
    "project_distinct",
    "read_all",
    "read_each",
    "to_geo",
    "without_gc_pauses",
]

log = logging.getLogger("hotspots")

P = ParamSpec("P")
R = TypeVar("R")

#: Most files read at once (each thread holds one decompressed file).
_MAX_READ_THREADS = 4


def without_gc_pauses(work: Callable[P, R]) -> Callable[P, R]:
    """Run ``work`` with Python's cyclic garbage collector held off (restored after).

    Building the crime table, and the stages after it, allocate many objects that form no
    reference cycles (arrays, Arrow buffers, point geometries); each full collection
    meanwhile walks every live object of the process, object columns cell by cell (0.1 to
    0.3 s each on London, several per run). Any cycles made meanwhile (a few dozen small
    objects on London) are collected once the collector is back on.
    """

    @functools.wraps(work)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_held():
            return work(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def gc_held() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off in the block (see :func:`without_gc_pauses`)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@dataclass
class FileResult:
    """What reading one file gives: rows read, kept rows, rejected tables, source CRS."""

    n_read: int
    kept: pd.DataFrame
    rejects: list[pd.DataFrame]
    crs: Any
    id_keys: FileIdKeys | None = None


def read_all(
    sources: list[Source], read_one: Callable[[Source], FileResult], *, quiet: bool
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[Any], list[FileIdKeys | None]]:
    """Read every source, several at a time (Arrow parses and inflates without the GIL).

    Results come back in source order, so the output does not depend on the thread count.
    Returns the kept frames, rejected tables, CRSs and crime-id keys of the files.
    """
    workers = min(len(sources), os.cpu_count() or 1, _MAX_READ_THREADS)
    if workers <= 1:
        results: Iterable[FileResult] = map(read_one, sources)
        pool = None
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotspots-read")
        results = pool.map(read_one, sources)
    try:
        return collect_results(sources, results, quiet=quiet)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def collect_results(
    sources: list[Source], results: Iterable[FileResult], *, quiet: bool
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[Any], list[FileIdKeys | None]]:
    """Return the kept frames, rejected tables, CRSs and crime-id keys of the files read.

    Each file's rows read and kept are logged as its result comes (unless ``quiet``).
    """
    frames, rejects, crss, keys = [], [], [], []
    for source, res in zip(sources, results, strict=True):
        frames.append(res.kept)
        rejects.extend(res.rejects)
        crss.append(res.crs)
        keys.append(res.id_keys)
        if not quiet:
            log.info("read %s: %d rows, %d kept", source.name, res.n_read, len(res.kept))
    return frames, rejects, crss, keys


def read_each(sources: list[Source], read_one: Callable[[Source], R]) -> list[R]:
    """Return ``read_one`` of every source, several read at a time, in source order."""
    workers = min(len(sources), os.cpu_count() or 1, _MAX_READ_THREADS)
    if workers <= 1:
        return [read_one(s) for s in sources]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotspots-read")
    try:
        return list(pool.map(read_one, sources))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def concat_files(
    frames: list[pd.DataFrame],
    rejects: list[pd.DataFrame],
    *,
    across_files_only: bool,
    outside: Callable[[], np.ndarray | None] | None = None,
    id_keys: list[FileIdKeys | None] | None = None,
    then: Callable[[np.ndarray], None] | None = None,
    repeated: np.ndarray | None = None,
    kept_rows: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Join the files' kept rows and rejected tables, then reject repeated crime ids.

    The same as :func:`reject_duplicate_ids` on the joined rows (``id_keys``, the files'
    :class:`FileIdKeys`, make it faster when repeats count only across files).
    ``outside``, when given, returns which joined rows lie outside every area (called once
    the repeats are known); those rows are rejected too, a repeat keeping its own reason.
    The kept rows are copied once, straight into the joined table. Also returns which
    joined rows were rejected; ``then``, when given, is called with them before the copy.
    ``repeated``, when given, holds which joined rows repeat a crime id (found already).

    ``kept_rows``, when given, selects the joined rows the row rules kept (the others are
    in ``rejects`` already): then "joined rows" above means those rows, and each column is
    copied once, from the frames as they are.
    """
    if any(len(f) for f in frames):  # a file that kept nothing adds no row (nor dtype)
        full = [i for i, f in enumerate(frames) if len(f)]
        frames = [frames[i] for i in full]
        id_keys = None if id_keys is None else [id_keys[i] for i in full]
    frames = unify_categories(frames)
    rej = unify_categories([r for r in rejects if len(r)])
    rejected = stack_frames(rej) if rej else pd.DataFrame(columns=REJECTED_COLUMNS)
    if rejected["source_row"].dtype != np.int64:
        rejected = rejected.astype({"source_row": "int64"})
    n = sum(map(len, frames)) if kept_rows is None else int(kept_rows.sum())
    late = np.zeros(n, dtype=np.int8)  # 0 kept, 1 outside every area, 2 repeated id
    dup = repeated  # else found while the areas are looked up
    if dup is None:
        ids = stack_frames([f[["crime_id", "source_file"]] for f in frames], keep=kept_rows)
        if across_files_only and id_keys is not None:
            dup = repeated_across_files(ids, id_keys)
        if dup is None:
            dup = repeated_ids(ids, across_files_only=across_files_only)
    out = outside() if outside is not None else None
    if out is not None:
        late[out] = 1
    late[dup] = 2
    gone = late > 0
    if then is not None:
        then(gone)
    if not gone.any():
        return stack_frames(frames, keep=kept_rows), rejected, gone
    labels = np.array(["", REASON_OUTSIDE, REASON_DUPLICATE], dtype=object)
    gone_rows, stay_rows = gone, ~gone
    if kept_rows is not None:  # the masks over every row of the frames
        gone_rows = np.zeros(len(kept_rows), dtype=bool)
        gone_rows[np.flatnonzero(kept_rows)[gone]] = True
        stay_rows = kept_rows & ~gone_rows
    part = stack_frames(frames, keep=gone_rows)  # raw values: the coordinates as read
    more = part.assign(raw_x=part["x"], raw_y=part["y"], reason=labels[late[gone]])
    more = more.assign(value=rejected_values(more)).reindex(columns=REJECTED_COLUMNS)
    for c in ("raw_x", "raw_y"):  # as text where the reader's rejects hold text
        if rejected[c].dtype == TEXT_DTYPE and more[c].dtype.kind == "f":
            more[c] = _number_text(more[c])
    # column by column: a categorical's codes joined as they are (the categories are the
    # same), where pd.concat would compare and merge their categories
    rejected = stack_frames([rejected, more])
    return stack_frames(frames, keep=stay_rows), rejected, gone


def _number_text(numbers: pd.Series) -> pd.Series:
    """Return numbers as Arrow text, each as Python writes it (``str``), missing ones missing.

    The text the CSV writer makes of a number in a column of Python objects, so a column of
    the rejected table joined from text and numbers is written as before, byte for byte;
    joined as text, it is not turned into a Python object per cell (Vancouver's 23,259
    rejected rows, 754 of them outside every area: 3.6 -> 0.6 ms for the two columns).
    """
    missing = numbers.isna().to_numpy()
    cells = [None if gone else str(v) for v, gone in zip(numbers.tolist(), missing, strict=True)]
    return pd.Series(pd.array(cells, dtype=TEXT_DTYPE), index=numbers.index, copy=False)


def assemble(
    frames: list[pd.DataFrame],
    rejects: list[pd.DataFrame],
    *,
    across_files_only: bool,
    src_crs: Any,
    dst_crs: Any,
    areas: AreaInput = None,
    id_keys: list[FileIdKeys | None] | None = None,
    repeated: np.ndarray | None = None,
    located: Future[Located] | None = None,
    kept_rows: np.ndarray | None = None,
    on_points: PointsSeen | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Run :func:`concat_files` and :func:`to_geo`, the points in a second thread.

    The distinct points are found, projected and (with ``areas``) looked up in the area
    polygons while the first thread joins the tables; both mostly run without the GIL.
    Rows outside every area are rejected in the same pass that copies the kept rows; the
    point geometries and other per-row point columns are built while the rows are copied.
    ``located``, when given, is :func:`locate_points` of the frames' rows, started already.
    ``kept_rows`` is as in :func:`concat_files` (``located`` and ``repeated`` then of those
    rows). ``on_points`` is told the points as :func:`locate_points` projects them (not when
    ``located`` is given: its caller told it).
    """

    def locate() -> Located:
        x = np.concatenate([f["x"].to_numpy() for f in frames])
        y = np.concatenate([f["y"].to_numpy() for f in frames])
        if kept_rows is not None:
            x, y = x[kept_rows], y[kept_rows]
        return locate_points(
            x, y, src_crs=src_crs, dst_crs=dst_crs, areas=areas, on_points=on_points
        )

    moved = pyproj.CRS.from_user_input(src_crs) != pyproj.CRS.from_user_input(dst_crs)

    def per_row(gone: np.ndarray) -> dict[str, Any]:
        codes, ux, uy, layer, hit = points.result()
        kept_codes = codes[~gone] if gone.any() else codes
        distinct = (kept_codes, ux, uy, shapely.points(ux, uy))
        cols = _point_columns(distinct, dst_crs, moved=moved)
        if layer is not None and hit is not None:
            cols.update(layer.columns(hit, kept_codes))
        return cols

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-points") as pool:
        points = located if located is not None else pool.submit(locate)
        rows: list[Any] = []

        def outside() -> np.ndarray | None:
            codes, *_, hit = points.result()
            return None if hit is None else (hit < 0)[codes]

        def then(gone: np.ndarray) -> None:  # the point columns, beside the table's copy
            rows.append(pool.submit(per_row, gone))

        kept, rejected, _ = concat_files(
            frames,
            rejects,
            across_files_only=across_files_only,
            outside=outside if areas is not None else None,
            id_keys=id_keys,
            then=then,
            repeated=repeated,
            kept_rows=kept_rows,
        )
        codes, ux, uy, layer, _ = points.result()
        cols = rows[0].result()
    if layer is not None and len(kept) == 0 and len(codes):
        raise InputDataError(layer.no_overlap_message(ux, uy, dst_crs))
    return to_geo(kept, src_crs=src_crs, dst_crs=dst_crs, points=cols), rejected


#: What :func:`locate_points` gives: a code per row, the distinct points projected, and
#: (given areas) the area layer and the area of each distinct point (-1 outside all).
Located = tuple[np.ndarray, np.ndarray, np.ndarray, AreaLayer | None, np.ndarray | None]

#: Told the distinct points of the rows read as soon as they are projected, before they are
#: looked up in the areas and while the crime table is still being assembled: their x and
#: y in the crimes' CRS. They hold every kept row's point, and maybe others (of rows
#: rejected after all). Called in the reader's points thread: it should only hand the
#: points to work of its own (snapping them in a thread, say) and return. A reader that
#: takes another path may never call it.
PointsSeen: TypeAlias = Callable[[np.ndarray, np.ndarray], None]


def locate_points(
    x: np.ndarray,
    y: np.ndarray,
    *,
    src_crs: Any,
    dst_crs: Any,
    areas: AreaInput,
    on_points: PointsSeen | None = None,
) -> Located:
    """Return the rows' distinct points, projected, and (given ``areas``) the area of each.

    Areas being read in a thread are waited for once the points are projected, and
    ``on_points`` is told the projected points then.
    """
    codes, ux, uy = project_distinct(x, y, src_crs=src_crs, dst_crs=dst_crs)
    if on_points is not None:
        on_points(ux, uy)
    polygons = areas_of(areas)
    if polygons is None:
        return codes, ux, uy, None, None
    layer = AreaLayer.of(polygons, dst_crs)
    return codes, ux, uy, layer, polygon_of_points(ux, uy, layer.polygons)


def _distinct_points(
    x: np.ndarray, y: np.ndarray, *, src_crs: Any, dst_crs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes, ux, uy = project_distinct(x, y, src_crs=src_crs, dst_crs=dst_crs)
    return codes, ux, uy, shapely.points(ux, uy)


def to_geo(
    frame: pd.DataFrame,
    *,
    src_crs: Any,
    dst_crs: Any,
    points: dict[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """Project x/y from ``src_crs`` to ``dst_crs``, handling each distinct point once.

    Rows at one location share one point geometry (shapely geometries are immutable), which
    saves a GEOS point per row on police.uk data, where many records share a map point.
    ``points`` is :func:`_point_columns` of the frame's rows (plus any other columns to
    add), when already known.
    """
    dst = pyproj.CRS.from_user_input(dst_crs)
    moved = pyproj.CRS.from_user_input(src_crs) != dst
    if points is None:
        distinct = _distinct_points(
            frame["x"].to_numpy(), frame["y"].to_numpy(), src_crs=src_crs, dst_crs=dst
        )
        points = _point_columns(distinct, dst, moved=moved)
    cols = {c: frame[c].array for c in frame.columns if c not in ("raw_x", "raw_y")}
    cols.update(points)  # x/y replaced only if projected
    return gpd.GeoDataFrame(
        cols, index=pd.RangeIndex(len(frame)), geometry="geometry", crs=dst, copy=False
    )


def _point_columns(
    distinct: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], dst_crs: Any, *, moved: bool
) -> dict[str, Any]:
    """Return the per-row ``point_id`` and ``geometry`` (and projected x/y if ``moved``).

    ``distinct`` is a code per row and the distinct points (see :func:`_distinct_points`).
    """
    codes, ux, uy, geoms = distinct
    cols: dict[str, Any] = {
        "point_id": codes.astype(np.int32 if len(ux) < 2**31 else np.int64),
        "geometry": GeometryArray(geoms[codes], crs=pyproj.CRS.from_user_input(dst_crs)),
    }
    if moved:
        cols.update(x=ux[codes], y=uy[codes])
    return cols


def project_distinct(
    x: np.ndarray, y: np.ndarray, *, src_crs: Any, dst_crs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a code per row and the distinct points projected (rounded to 1 cm if moved)."""
    src, dst = pyproj.CRS.from_user_input(src_crs), pyproj.CRS.from_user_input(dst_crs)
    codes, ux, uy = factorize_xy(x, y)
    if src != dst:
        tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        tx, ty = tr.transform(ux, uy)
        ux, uy = np.round(np.asarray(tx), 2), np.round(np.asarray(ty), 2)
    return codes, ux, uy
