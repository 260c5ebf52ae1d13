"""The Dask engine's worker side: the plan every task receives and the tasks themselves.

:func:`hotspots.distributed.rank_streets_dask` ships a :class:`Plan` (which files, read how,
projected from where to where) to the workers and runs these tasks there: load and area-join
one file (:func:`load_file`), hash and drop repeated crime ids, cut a file's crimes into
spatial partitions by Z-order grid cell (:func:`cells`, :func:`split_by_cell`), and snap and
count one partition (:func:`snap_part`).

``hotspots run --engine dask`` (:mod:`hotspots.pipeline.dask_stages`) runs two more: read one
file with the package's reader (:func:`read_file`), find and project that file's distinct
points (:func:`locate_file`), and area-join and snap a share of the run's distinct points
(:func:`locate_points`); and, once the client has ranked the rows, count one file's rows
per place, area, crime group, month and hour of the week for the time tables
(:func:`time_rows` keeps the columns they need on the worker, :func:`count_file` counts
them with the numbers the client sends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from hotspots.errors import InputDataError
from hotspots.output.rejected_csv import FilePart, file_part
from hotspots.read.assemble import FileResult, project_distinct
from hotspots.read.duplicates import repeated_ids
from hotspots.read.mapped import Mapping, read_mapped_file, read_mapping
from hotspots.read.policeuk import read_police_uk_file
from hotspots.read.sources import (
    Source,
    choose_publications,
    find_police_uk_sources,
    mapped_sources,
)
from hotspots.rejects import RowFilter
from hotspots.space import crs as _crs
from hotspots.space import names, snap
from hotspots.space.areas import assign_areas
from hotspots.space.locations import factorize_xy, polygon_of_points
from hotspots.temporal.counted import count_groups
from hotspots.temporal.tallies import MONTH_COLUMNS, WINDOW_COLUMNS, TimeCounts, count_part

__all__ = [
    "REJECT_CODES",
    "Located",
    "Plan",
    "as_codes",
    "cell_counts",
    "cells",
    "count_area_file",
    "count_file",
    "drop_ids",
    "empty_counts",
    "file_rejects",
    "id_hashes",
    "ids_with_hashes",
    "load_file",
    "locate_file",
    "locate_points",
    "read_file",
    "rejected_part",
    "snap_part",
    "split_by_cell",
    "time_rows",
    "unify_codes",
    "without_rejects",
]

#: Text columns of a rejected table sent from the workers as categoricals (few distinct
#: values: reasons, months, the coordinates as read, the offending text).
REJECT_CODES = ("reason", "month", "raw_x", "raw_y", "value")


class Plan:
    """Which files, read how, projected from where to where."""

    def __init__(
        self,
        sources: list[Source],
        fmt: str,
        mapping: Mapping | None,
        rowfilter: RowFilter,
        src: Any,
        dst: pyproj.CRS,
        keys: list[int],
    ) -> None:
        self.sources, self.fmt, self.mapping, self.rowfilter = sources, fmt, mapping, rowfilter
        self.src, self.dst, self.keys = src, dst, keys

    @classmethod
    def make(
        cls,
        paths: list[str | Path],
        *,
        fmt: str,
        crs: str | None,
        crime_types: Sequence[str] | None,
        start: str | None,
        end: str | None,
    ) -> Plan:
        """Resolve the crime files, reader, row filter and CRSs of a Dask run."""
        rf = RowFilter(tuple(crime_types) if crime_types else None, start, end)
        if fmt == "police-uk":
            sources = find_police_uk_sources(paths)
            superseded = choose_publications(sources)  # one copy of a re-published month
            sources = [s for s in sources if s.name not in superseded]
            dst = pyproj.CRS.from_user_input(crs or _crs.BRITISH_NATIONAL_GRID)
            # police.uk repeats count across files only: files of one name are one file
            names_seen = {n: i for i, n in enumerate(dict.fromkeys(s.name for s in sources))}
            return cls(
                sources, fmt, None, rf, _crs.WGS84, dst, [names_seen[s.name] for s in sources]
            )
        mapping = read_mapping(fmt)
        sources = mapped_sources(paths)
        if any(s.path.suffix.lower() in (".parquet", ".geoparquet") for s in sources):
            msg = "the Dask engine reads CSV crime files; convert GeoParquet extracts to CSV"
            raise InputDataError(msg)
        src = mapping.crs or (_crs.WGS84 if "lon" in mapping.columns else None)
        target = crs or mapping.project_to or src
        if src is None or target is None or not pyproj.CRS.from_user_input(target).is_projected:
            msg = (
                f"mapping {mapping.name}: the Dask engine needs a projected CRS; give "
                '`crs=` (e.g. "EPSG:32610") or a `project_to` in the mapping'
            )
            raise InputDataError(msg)
        return cls(
            sources,
            fmt,
            mapping,
            rf,
            src,
            pyproj.CRS.from_user_input(target),
            list(range(len(sources))),
        )


def load_file(source: Source, plan: Plan, areas: gpd.GeoDataFrame, grid_m: float) -> pd.DataFrame:
    """Read, project and area-join one file; keep what snapping and counting need."""
    if plan.mapping is None:
        res = read_police_uk_file(source, plan.rowfilter, use_threads=False)
    else:
        res = read_mapped_file(source, plan.mapping, plan.rowfilter, use_threads=False)
    kept = res.kept.reset_index(drop=True)
    if plan.mapping is not None:  # mapped formats reject an id repeated within a file too
        kept = kept[~repeated_ids(kept, across_files_only=False)].reset_index(drop=True)
    codes, ux, uy = project_distinct(
        kept["x"].to_numpy(), kept["y"].to_numpy(), src_crs=plan.src, dst_crs=plan.dst
    )
    part = pd.DataFrame(
        {
            "crime_id": kept["crime_id"],
            "crime_type": kept["crime_type"],
            "location": kept["location"],
            "x": ux[codes],
            "y": uy[codes],
        }
    )
    inside = assign_areas(part, areas)["area_code"].notna().to_numpy()
    part = part[inside].reset_index(drop=True)
    part["cell"] = cells(part["x"].to_numpy(), part["y"].to_numpy(), grid_m)
    return part


def cells(x: np.ndarray, y: np.ndarray, grid_m: float) -> np.ndarray:
    """Z-order (Morton) number of each point's grid cell, so near cells get near numbers."""
    cx = np.floor(x / grid_m).astype(np.int64) + (1 << 20)
    cy = np.floor(y / grid_m).astype(np.int64) + (1 << 20)
    return np.asarray(_interleave(cx) | (_interleave(cy) << 1), dtype=np.int64)


def _interleave(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint64) & np.uint64(0x1FFFFF)
    for shift, mask in (
        (32, 0x1F00000000FFFF),
        (16, 0x1F0000FF0000FF),
        (8, 0x100F00F00F00F00F),
        (4, 0x10C30C30C30C30C3),
        (2, 0x1249249249249249),
    ):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v.astype(np.int64)


def id_hashes(part: pd.DataFrame) -> np.ndarray:
    """64-bit hashes of a file's distinct non-empty crime ids."""
    ids = part["crime_id"].dropna()
    ids = ids[ids != ""].unique()
    return np.asarray(pd.util.hash_array(np.asarray(ids, dtype=object)), dtype=np.uint64)


def ids_with_hashes(part: pd.DataFrame, wanted: np.ndarray) -> np.ndarray:
    """Return a file's distinct non-empty crime ids whose hash is one of ``wanted``."""
    ids = part["crime_id"].fillna("").to_numpy(dtype=object)
    hashes = pd.util.hash_array(ids)
    return np.unique(ids[np.isin(hashes, wanted) & (ids != "")])


def drop_ids(part: pd.DataFrame, drop: set[str]) -> pd.DataFrame:
    """Drop the records with an id in ``drop``; keep what snapping and counting need."""
    keep = ~part["crime_id"].isin(drop).to_numpy() if drop else np.ones(len(part), dtype=bool)
    return part.loc[keep, ["crime_type", "location", "x", "y", "cell"]].reset_index(drop=True)


def cell_counts(part: pd.DataFrame) -> pd.Series:
    """Crimes per grid cell of one file."""
    return part["cell"].value_counts()


def split_by_cell(part: pd.DataFrame, bounds: np.ndarray) -> list[pd.DataFrame]:
    """Cut a file's crimes into the spatial partitions (cell ranges ending at ``bounds``)."""
    which = np.searchsorted(bounds, part["cell"].to_numpy(), side="left")
    return [part[which == i].drop(columns="cell") for i in range(len(bounds))]


def snap_part(
    pieces: list[pd.DataFrame], segs: gpd.GeoDataFrame, max_distance_m: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Snap one spatial partition; count per (segment, type) and per (segment, street)."""
    part = pd.concat(pieces, ignore_index=True)
    if part.empty:
        return empty_counts()
    seg = snap.snap_to_streets(part, segs, max_distance_m=max_distance_m, quiet=True)["segment_id"]
    on = part[seg.notna().to_numpy()].assign(segment_id=seg.dropna().to_numpy())
    counts = on.groupby(["segment_id", "crime_type"], sort=False).size().rename("n").reset_index()
    codes, uniq = pd.factorize(on["location"], use_na_sentinel=False)
    street = names.location_to_street(pd.Series(uniq, dtype=on["location"].dtype))
    named = pd.DataFrame(
        {"segment_id": on["segment_id"].to_numpy(), "street": street.to_numpy()[codes]}
    ).dropna()
    per_street = (
        named.groupby(["segment_id", "street"], sort=False).size().rename("n").reset_index()
    )
    return counts, per_street


def empty_counts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the two count tables of :func:`snap_part` with no rows."""
    return (
        pd.DataFrame({"segment_id": [], "crime_type": [], "n": []}),
        pd.DataFrame({"segment_id": [], "street": [], "n": []}),
    )


# --------------------------------------------------------------------------------------------
# hotspots run --engine dask: one file read, then its distinct points located


def read_file(
    source: Source, mapping: Mapping | None, rf: RowFilter, superseded_by: str | None
) -> FileResult:
    """Read one crime file as ``hotspots run`` reads it (police.uk when ``mapping`` is None).

    The kept rows lose ``raw_x``/``raw_y``: the run's table drops them, and a row rejected
    later (outside every area, a repeated id) takes its coordinates from ``x``/``y``.
    """
    if mapping is None:
        res = read_police_uk_file(source, rf, use_threads=False, superseded_by=superseded_by)
    else:
        res = read_mapped_file(source, mapping, rf, use_threads=False)
    res.kept = res.kept.drop(columns=["raw_x", "raw_y"], errors="ignore")
    res.rejects = [as_codes(r, REJECT_CODES) for r in res.rejects]
    return res


def without_rejects(res: FileResult) -> FileResult:
    """Return ``res`` without its rejected rows (they stay on the worker: :func:`file_rejects`)."""
    return FileResult(res.n_read, res.kept, [], res.crs, res.id_keys)


def file_rejects(res: FileResult) -> pd.DataFrame | None:
    """Return the rows the reader rejected from one file, stacked (None: none)."""
    rows = [r for r in res.rejects if len(r)]
    if not rows:
        return None
    return rows[0] if len(rows) == 1 else pd.concat(rows, ignore_index=True)


def rejected_part(
    rejects: Sequence[pd.DataFrame | None], late: pd.DataFrame | None, *, street_level_only: bool
) -> FilePart:
    """Return one file name's lines of ``rejected.csv`` and its rows per reason.

    ``rejects`` are the reader's rejected rows of each file of that name (in file order,
    :func:`file_rejects`), ``late`` the rows the client's join rejected (outside every area,
    a repeated id); :func:`hotspots.output.rejected_csv.file_part`, as the local engine.
    """
    frames = [r for r in (*rejects, late) if r is not None]
    return file_part(frames, street_level_only=street_level_only)


def as_codes(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return ``frame`` with each of ``columns`` as a categorical of its values, in any order.

    The values stay as they are (text, numbers, a mix; missing ones missing), so the table
    writes the same CSV; categories in order of first row (mixed values do not sort).

    Examples
    --------
    >>> t = as_codes(pd.DataFrame({"raw_x": ["0.0", np.nan, "0.0", 1.5]}), ["raw_x"])
    >>> t["raw_x"].cat.categories.tolist(), t["raw_x"].cat.codes.tolist()
    (['0.0', 1.5], [0, -1, 0, 1])
    """
    out = frame.copy(deep=False)
    for name in columns:
        if name in frame and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            codes, uniques = pd.factorize(frame[name].to_numpy(dtype=object))
            categories = pd.Index(uniques, dtype=object)
            out[name] = pd.Categorical.from_codes(codes, categories=categories)
    return out


def unify_codes(frames: list[pd.DataFrame], columns: Sequence[str]) -> list[pd.DataFrame]:
    """Give each of ``columns`` (categoricals from :func:`as_codes`) one set of categories.

    The frames can then be stacked code by code. A column not categorical in every frame
    is left alone.

    Examples
    --------
    >>> a = as_codes(pd.DataFrame({"reason": ["x", "y"]}), ["reason"])
    >>> b = as_codes(pd.DataFrame({"reason": ["z", "x"]}), ["reason"])
    >>> [f["reason"].cat.codes.tolist() for f in unify_codes([a, b], ["reason"])]
    [[0, 1], [2, 0]]
    """
    out = [f.copy(deep=False) for f in frames]
    for name in columns:
        if not frames or not all(
            name in f and isinstance(f[name].dtype, pd.CategoricalDtype) for f in frames
        ):
            continue
        cats = [f[name].cat.categories for f in frames]
        union = pd.Index(np.concatenate([c.to_numpy(dtype=object) for c in cats]), dtype=object)
        union = union.unique()
        for f, c in zip(out, cats, strict=True):
            to_union = np.append(union.get_indexer(c), -1)  # code -1 (missing) stays -1
            codes = to_union[f[name].cat.codes.to_numpy()]
            f[name] = pd.Categorical.from_codes(codes, categories=union)
    return out


@dataclass
class Located:
    """One file's distinct points: where each row is, and the points as read and projected.

    ``codes`` numbers each kept row's point (in order of first row); ``raw_x``/``raw_y`` are
    the points as read, ``x``/``y`` projected.
    """

    codes: np.ndarray
    raw_x: np.ndarray
    raw_y: np.ndarray
    x: np.ndarray
    y: np.ndarray


def locate_file(res: FileResult, src: Any, dst: Any) -> Located:
    """Find and project the distinct points of one file read by :func:`read_file`.

    Projection is per point, so a file's points equal those of the whole table: the client
    numbers the points of all files as the single-machine reader does.
    """
    codes, rx, ry = factorize_xy(res.kept["x"].to_numpy(), res.kept["y"].to_numpy())
    _, x, y = project_distinct(rx, ry, src_crs=src, dst_crs=dst)  # already distinct: same order
    small = np.int32 if len(rx) < 2**31 else np.int64
    return Located(codes.astype(small), rx, ry, x, y)


def locate_points(
    xy: np.ndarray, polygons: np.ndarray, segs: gpd.GeoDataFrame, max_distance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the area and the snapped segment of distinct points (x first row, y second).

    ``area`` is the first of ``polygons`` holding each point (-1: none), as the reader's area
    join finds it; ``segment`` the code of its segment among the sorted segment ids (the
    categories :func:`hotspots.space.snap.snap_to_streets` gives ``segment_id``; -1: none
    within ``max_distance_m``, or outside every area) and ``distance`` its
    ``snap_distance_m``.
    """
    x, y = xy[0], xy[1]
    area = polygon_of_points(x, y, polygons)
    inside = np.flatnonzero(area >= 0)
    segment = np.full(len(x), -1, dtype=np.int32)
    distance = np.full(len(x), np.nan)
    if len(inside):
        points = gpd.GeoDataFrame({"x": x[inside], "y": y[inside]})
        snapped = snap.snap_to_streets(points, segs, max_distance_m=max_distance_m, quiet=True)
        segment[inside] = snapped["segment_id"].cat.codes.to_numpy()
        distance[inside] = snapped["snap_distance_m"].to_numpy()
    return area.astype(np.int32), segment, distance


# --------------------------------------------------------------------------------------------
# hotspots run --engine dask: one file's rows counted for the time tables


def time_rows(res: FileResult) -> pd.DataFrame:
    """Return the columns of a file's kept rows that the time tables count (month, window)."""
    cols = [c for c in (*MONTH_COLUMNS, *WINDOW_COLUMNS) if c in res.kept]
    return res.kept[cols].copy()


def count_file(
    rows: pd.DataFrame,
    keep: np.ndarray | None,
    codes: dict[str, tuple[np.ndarray | None, int]],
    first: int,
    last: int,
    hours: bool,
) -> TimeCounts:
    """Count one file's rows for the run's time tables, as the local engine counts that file.

    Parameters
    ----------
    rows
        The file's kept rows (:func:`time_rows`).
    keep
        Which of them the run kept (a repeated crime id or a point outside every area is
        dropped when the client joins the files); None: all.
    codes
        Per key, the group number of each kept row (the client's numbers) and the number of
        groups; numbers None: every row counts in the one group.
    first, last, hours
        As in :func:`hotspots.temporal.tallies.count_part`.
    """
    frame = rows if keep is None else rows[keep]
    keys = {
        name: (
            np.zeros(len(frame), dtype=np.int64) if numbers is None else numbers.astype(np.int64),
            n,
        )
        for name, (numbers, n) in codes.items()
    }
    return count_part(frame, keys, first, last, hours=hours)


def count_area_file(
    rows: pd.DataFrame, keep: np.ndarray | None, groups: np.ndarray
) -> pd.DataFrame:
    """Count one file's rows for the area stage, as the local engine counts that file.

    ``rows`` and ``keep`` are as in :func:`count_file`; ``groups`` is each kept row's group
    (:func:`hotspots.pipeline.area_counts.area_keys`, the client's numbers). Returns
    :func:`hotspots.temporal.counted.count_groups` of the rows.
    """
    return count_groups(rows if keep is None else rows[keep], groups)
