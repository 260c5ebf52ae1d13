"""The stages up to the ranked lists: reading with the area join, segments, snapping, ranks."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj

from hotspots.analysis import concentration, location_ranks, rank
from hotspots.errors import InputDataError
from hotspots.pipeline.config import RunConfig, StageTimer
from hotspots.read import memory
from hotspots.read.assemble import without_gc_pauses
from hotspots.read.crimes import read_crimes
from hotspots.read.layers import read_areas_beside
from hotspots.read.mapped import read_mapping
from hotspots.space import cache, crs, names, snap

__all__ = [
    "Places",
    "Ranked",
    "build_segments",
    "listed_rows",
    "name_segments",
    "place_keys",
    "rank_snapped",
    "rank_stages",
    "unsnapped_places",
]


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


@without_gc_pauses  # no full collection walking the crime table's cells between stages
def rank_stages(config: RunConfig, stage: StageTimer | None = None) -> Ranked:
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
    stage = stage or StageTimer()
    memory.choose_arrow_pool()  # Arrow's buffers from jemalloc (see there)
    with ThreadPoolExecutor(1, thread_name_prefix="hotspots-segments") as early:
        # the street segments read from their cache beside the crimes (their CRS is known
        # before the crimes are read, except for some mapped files: then read after)
        expected = _expected_crs(config)
        lines = None if expected is None else early.submit(_peek_lines, config, expected)
        ahead = _Ahead(config, early, lines)
        with stage("load"):  # with the area join: rows outside every area rejected on reading
            areas_read = read_areas_beside(  # in a thread, while the crimes are read
                config.areas,
                code_col=config.inputs.area_code,
                name_col=config.inputs.area_name,
                layer=config.inputs.areas_layer,
            )
            # projected once to the crimes' CRS where known, after the segments' peek: the
            # reader's area join and the run take that one layer
            to_join = (
                areas_read
                if expected is None
                else early.submit(_projected_areas, areas_read, expected)
            )
            ahead.areas(to_join)
            crimes, rejected = read_crimes(
                config.crimes,
                fmt=config.inputs.fmt,
                crs=config.inputs.crs,
                crime_types=config.period.crime_types,
                start=config.period.start,
                end=config.period.end,
                quiet=config.output.quiet,
                areas=to_join,
                on_points=ahead.located,
            )
            area_layer = to_join.result()
        if crimes.empty:
            msg = (
                f"no usable crime rows in {[str(p) for p in config.crimes]}: "
                "see the rejected reasons"
            )
            raise InputDataError(msg)
        # the streets the location texts name, worked out beside the segments and snapping
        # (Arrow's kernels, without the GIL; the early thread may still be snapping), for
        # naming segments and the places
        _beside(names.prepare_streets, crimes["location"], name="hotspots-names")
        with stage("area_join"):  # the join itself ran in "load"; the layer for maps and lists
            name = Path(config.areas).name
            source = areas_read.result().crs
            if not config.output.quiet and pyproj.CRS.from_user_input(source) != crimes.crs:
                crs.log_projection(source, crimes.crs, name)
            areas = crs.to_metric_crs(area_layer, crimes.crs, name=name, quiet=True)
        with stage("street_segments"):
            same = lines is not None and pyproj.CRS.from_user_input(expected) == crimes.crs
            found, file = lines.result() if same and lines else (None, None)
            if found is not None and file is not None and not config.output.quiet:
                cache.log_hit(config.streets, file)  # as cached_segments logs a hit
            segs = ahead.segments() if same else None
            if segs is None:
                segs = build_segments(config, crimes.crs, areas, lines=found)
        with stage("snapping"):
            crimes = crimes.join(
                snap.snap_to_streets(
                    crimes,
                    segs,
                    max_distance_m=config.ranking.snap_distance_m,
                    quiet=config.output.quiet,
                    known=ahead.snapped() if same else None,
                )
            )
    return rank_snapped(config, stage, crimes, rejected, areas, segs)


def rank_snapped(
    config: RunConfig,
    stage: StageTimer,
    crimes: gpd.GeoDataFrame,
    rejected: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    segs: gpd.GeoDataFrame,
) -> Ranked:
    """Name the segments and rank streets and locations from a read, area-joined, snapped table.

    The steps of :func:`rank_stages` after snapping (the Dask engine's stages end here too):
    counts and segment names (timed with snapping), hot streets, the places of the unsnapped
    records (:func:`unsnapped_places`) and each crime's key. The random baseline is worked
    out in a thread beside naming and ranking.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="hotspots-rank") as pool:
        with stage.more("snapping"):
            counts = rank.count_by_segment(crimes, segs)  # names play no part in the counts
            # the baseline's random draws run without the GIL, beside naming and ranking
            baseline = pool.submit(
                concentration.count_concentration,
                counts["crimes"].to_numpy(),
                segs["length_m"].to_numpy(),
                seed=config.seed,
            )
            segs, naming = name_segments(crimes, segs, police_uk=config.inputs.fmt == "police-uk")
        with stage("ranking"):
            hot = rank.rank_streets(
                segs,
                counts,
                min_crimes=config.ranking.min_crimes,
                hot_quantile=config.ranking.hot_quantile,
                length_floor_m=config.ranking.length_floor_m,
            )
            # in turn, not in a thread: like naming and ranking it mostly holds the GIL
            # (measured: London 413 -> 345 ms for snapping + ranking, Vancouver 120 -> 110)
            found = unsnapped_places(
                crimes,
                min_crimes=config.ranking.min_crimes,
                street_level_only=config.ranking.street_level_only,
            )
            locs = found.locations
            place = np.full(len(crimes), -1, dtype=found.place.codes.dtype)
            place[found.rows] = found.place.codes  # the snapped rows: no place
            crimes["place"] = pd.Series(
                pd.Categorical.from_codes(place, dtype=found.place.dtype, validate=False),
                index=crimes.index,
            )
            crimes["place_key"] = place_keys(crimes, hot, locs, location_rows=found.location_rows)
            conc = baseline.result()
    return Ranked(crimes, rejected, areas, segs, counts, hot, locs, conc, naming)


@dataclass
class Places:
    """The places of the unsnapped records (see :func:`unsnapped_places`)."""

    rows: np.ndarray
    place: pd.Categorical
    locations: gpd.GeoDataFrame
    location_rows: np.ndarray


def unsnapped_places(
    crimes: gpd.GeoDataFrame, *, min_crimes: int, street_level_only: bool
) -> Places:
    """Return the place of each unsnapped record, the listed locations, and where each counts.

    Parameters
    ----------
    crimes
        Snapped crimes (``segment_id`` missing where unsnapped).
    min_crimes
        Fewest crimes a listed location has.
    street_level_only
        If True, no location is listed (the places are still given).

    Returns
    -------
    Places
        ``rows`` (positions of the unsnapped records), their ``place``
        (:func:`hotspots.analysis.location_ranks.location_place`), the ``locations`` of
        :func:`hotspots.analysis.location_ranks.rank_locations` and each unsnapped
        record's row in them (``location_rows``, -1 for none).
    """
    type_cols = rank.count_columns(crimes["crime_type"])  # as count_by_segment's
    rows = np.flatnonzero(crimes["segment_id"].isna().to_numpy())
    # each distinct record (text, area, map point) once, standing for its records, with
    # their crimes counted per type column
    point = ["point_id"] if "point_id" in crimes else ["x", "y"]
    keys = ["location", "area_code", "area_name", *point]
    first, inverse, _ = location_ranks.distinct_rows(*(_taken(crimes[c], rows) for c in keys))
    column = location_ranks.type_codes(crimes["crime_type"], type_cols)[rows]
    counts = location_ranks.type_counts(inverse, column, len(first), len(type_cols))
    at = rows[first]
    records = pd.DataFrame({c: crimes[c].take(at) for c in keys})
    records["x"] = crimes["x"].to_numpy()[at]
    records["y"] = crimes["y"].to_numpy()[at]
    # a record with no counted type still stands for its records in the places' numbering
    weight = np.bincount(inverse, minlength=len(first))
    records["place"] = location_ranks.location_place(records, weights=weight)
    if street_level_only:  # streets only: no places listed
        counts = counts[:0]
    locs, found = location_ranks.rank_location_counts(
        records.iloc[: len(counts)],
        counts,
        min_crimes=min_crimes,
        type_cols=type_cols,
        crs=crimes.crs,
    )
    if street_level_only:
        found = np.full(len(records), -1, dtype=np.int64)
    return Places(rows, records["place"].array.take(inverse), locs, found[inverse])


def _taken(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """Return ``column`` at ``rows`` (a categorical's codes only: no values copied)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Series(column.cat.codes.to_numpy()[rows], copy=False)
    return column.take(rows)


def build_segments(
    config: RunConfig,
    target: Any,
    areas: gpd.GeoDataFrame,
    *,
    lines: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Return the street segments of ``config.streets`` in CRS ``target``, with their areas.

    ``lines`` are the segments already read (in ``target``), without their areas.
    """
    segs = _segment_lines(config, target) if lines is None else lines
    return segs.join(snap.assign_segment_areas(segs, areas))


def _segment_options(config: RunConfig, target: Any) -> dict[str, Any]:
    """Return the options that make ``config.streets``' segments (and key their cache)."""
    return {
        "max_length_m": config.ranking.max_segment_length_m,
        "crs": target,
        "name_col": config.inputs.street_name_col,
        "layer": config.inputs.streets_layer,
    }


def _segment_lines(config: RunConfig, target: Any) -> gpd.GeoDataFrame:
    """Return the segments of ``config.streets`` in ``target``."""
    # built once per street file and parameters (keyed by checksum), then read from the cache
    return cache.cached_segments(
        config.streets, **_segment_options(config, target), quiet=config.output.quiet
    )


def _peek_lines(config: RunConfig, target: Any) -> tuple[gpd.GeoDataFrame | None, Path]:
    """Return the segments of ``config.streets`` in ``target`` if cached (see ``peek_segments``)."""
    return cache.peek_segments(config.streets, **_segment_options(config, target))


def _projected_areas(read: Future[gpd.GeoDataFrame], target: str) -> gpd.GeoDataFrame:
    """Return the area layer being read, projected to ``target`` (logged by the run)."""
    return crs.to_metric_crs(read.result(), target, name="areas", quiet=True)


def _beside(work: Callable[..., Any], *args: Any, name: str) -> None:
    """Start ``work(*args)`` in a thread of its own, not waited for (its errors dropped)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    try:
        pool.submit(work, *args)
    finally:
        pool.shutdown(wait=False)  # the thread ends when the work is done


class _Ahead:
    """Work on the cached segments started before the crimes are read, in the early thread.

    Once the area layer is projected, the segments' areas are joined (:meth:`areas`; kept
    beside the segments' cache, :func:`hotspots.space.cache.cached_segment_areas`); once
    the reader has projected the points of the rows read (:meth:`located`, its
    ``on_points``), they are snapped to the segments while the reader looks them up in the
    areas and assembles the crime table. Both run only where the segments were in the cache
    in the crimes' expected CRS.
    """

    def __init__(
        self,
        config: RunConfig,
        early: ThreadPoolExecutor,
        lines: Future[tuple[gpd.GeoDataFrame | None, Path]] | None,
    ) -> None:
        self._config, self._early, self._lines = config, early, lines
        self._segs: Future[gpd.GeoDataFrame | None] | None = None
        self._snapped: Future[snap.SnappedPoints | None] | None = None

    def areas(self, areas: Future[gpd.GeoDataFrame] | Any) -> None:
        """Join the segments to ``areas`` (the projected layer, a future) when both are in."""
        if self._lines is not None and isinstance(areas, Future):
            self._segs = self._early.submit(self._with_areas, self._lines, areas)

    def located(self, x: np.ndarray, y: np.ndarray) -> None:
        """Snap the reader's projected points (its ``on_points``)."""
        if self._lines is not None:
            self._snapped = self._early.submit(self._snap, x, y)

    def segments(self) -> gpd.GeoDataFrame | None:
        """Return the cached segments with their areas (None if not worked out ahead)."""
        return None if self._segs is None else self._segs.result()

    def snapped(self) -> snap.SnappedPoints | None:
        """Return the located points snapped (None if not worked out ahead)."""
        return None if self._snapped is None else self._snapped.result()

    @staticmethod
    def _with_areas(
        lines: Future[tuple[gpd.GeoDataFrame | None, Path]], areas: Future[gpd.GeoDataFrame]
    ) -> gpd.GeoDataFrame | None:
        found, file = lines.result()
        if found is None:
            return None
        # kept beside the segments' cache: a rerun with the same streets and areas reads them
        return found.join(cache.cached_segment_areas(found, areas.result(), file))

    def _snap(self, x: np.ndarray, y: np.ndarray) -> snap.SnappedPoints | None:
        found, _ = self._lines.result() if self._lines is not None else (None, None)
        if found is None:
            return None
        return snap.snap_points(x, y, found, max_distance_m=self._config.ranking.snap_distance_m)


def _expected_crs(config: RunConfig) -> str | None:
    """Return the CRS the crimes will be read into, where known before reading them."""
    if config.inputs.crs:
        return config.inputs.crs
    if config.inputs.fmt == "police-uk":
        return crs.BRITISH_NATIONAL_GRID
    try:
        mapping = read_mapping(config.inputs.fmt)
    except InputDataError:  # reported when the crimes are read
        return None
    if mapping.project_to:
        return mapping.project_to
    # a GeoParquet file's own CRS comes first; a CSV's is the mapping's
    csv_only = all(
        Path(p).is_file() and Path(p).name.lower().endswith((".csv", ".csv.gz"))
        for p in config.crimes
    )
    if csv_only and mapping.crs and pyproj.CRS.from_user_input(mapping.crs).is_projected:
        return mapping.crs
    return None


def name_segments(
    crimes: gpd.GeoDataFrame, segs: gpd.GeoDataFrame, *, police_uk: bool
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fill missing segment names from the records snapped to them; measure agreement."""
    # each distinct (segment, location text) of the snapped records once, weighted by its
    # records (the unsnapped ones name no segment)
    seg_ids = crimes["segment_id"]
    if isinstance(seg_ids.dtype, pd.CategoricalDtype):  # each segment looked up once
        codes, ids = seg_ids.cat.codes.to_numpy(), seg_ids.cat.categories
    else:
        codes, ids = pd.factorize(seg_ids)
    # each record's segment as a row of segs (-1: unsnapped, or a segment not in segs)
    ids, listed = pd.Index(ids), pd.Index(segs["segment_id"])
    same = ids.equals(listed)  # the snapped categories are the segments' own ids
    at = np.r_[np.arange(len(ids)) if same else listed.get_indexer(ids), -1][codes]
    on = np.flatnonzero(codes >= 0)
    loc = crimes["location"].take(on)
    first, _, weight = location_ranks.distinct_rows(pd.Series(codes[on], copy=False), loc)
    row = at[on[first]]  # each distinct (segment, location text) once, with its records
    records = pd.Series(weight)
    street = names.location_to_street(loc.iloc[first].reset_index(drop=True))
    layer = segs["street_name"]
    layer_named = layer.notna()
    layer_name = pd.Series(np.r_[layer.to_numpy(dtype=object), None][row], dtype=object)
    agreement = names.name_agreement(street, layer_name, weights=records)
    named, found = names.most_named(row, street, weight)
    inferred = np.full(len(segs), None, dtype=object)
    inferred[named] = found
    filled = pd.Series(
        np.where(layer_named, layer.to_numpy(dtype=object), inferred), index=segs.index
    )
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


def place_keys(
    crimes: pd.DataFrame,
    hot: pd.DataFrame,
    locations: pd.DataFrame,
    *,
    location_rows: np.ndarray | None = None,
) -> pd.Series:
    """Return, per crime, the row of ``hot`` ("s<i>") or ``locations`` ("l<i>") it counts in.

    Parameters
    ----------
    crimes
        Crimes with ``segment_id``, ``area_code`` and ``location``.
    hot, locations
        Hot streets and listed locations (their row positions are the keys).
    location_rows
        The row of ``locations`` of each unsnapped crime, in order (-1 for none), when
        already known (:func:`listed_rows`).

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
    seg = crimes["segment_id"]
    if isinstance(seg.dtype, pd.CategoricalDtype):  # each segment looked up once
        codes, ids = seg.cat.codes.to_numpy(), seg.cat.categories
    else:
        codes, ids = pd.factorize(seg)
    per_seg = np.r_[_street_of_segments(hot["segment_ids"], pd.Index(ids)), -1]
    key = per_seg[codes]  # code -1 (unsnapped) takes the last entry: none
    unsnapped = seg.isna().to_numpy()
    if len(locations) and unsnapped.any():
        if location_rows is None:
            place = (
                crimes.loc[unsnapped, "place"]
                if "place" in crimes
                else location_ranks.location_place(crimes.loc[unsnapped])
            )
            location_rows = listed_rows(crimes.loc[unsnapped, "area_code"], place, locations)
        key[unsnapped] = np.where(location_rows >= 0, len(hot) + location_rows, -1)
    return pd.Series(labels.take(key, allow_fill=True), index=crimes.index)


def listed_rows(area: pd.Series, place: pd.Series, locations: pd.DataFrame) -> np.ndarray:
    """Return the row of ``locations`` with each record's (area, place) (-1 for none).

    Parameters
    ----------
    area, place
        Area code and place (:func:`hotspots.analysis.location_ranks.location_place`) of
        each record.
    locations
        Listed locations (``area_code`` and ``street``); a pair listed twice goes to the
        later row.

    Returns
    -------
    numpy.ndarray
        One row number per record.
    """
    if not len(locations) or not len(area):
        return np.full(len(area), -1, dtype=np.int64)
    first, inverse, _ = location_ranks.distinct_rows(area, place)  # each pair looked up once
    found = _location_rows(locations, area.iloc[first], place.iloc[first])
    return np.asarray(found[inverse], dtype=np.int64)


def _street_of_segments(segment_ids: pd.Series, ids: pd.Index) -> np.ndarray:
    """Return the row of the hot street holding each of ``ids`` (-1 for none).

    ``segment_ids`` holds each hot street's segments joined by ";"; a segment listed by two
    streets goes to the later one.
    """
    found = np.full(len(ids), -1, dtype=np.int64)
    if not len(segment_ids):
        return found
    text = [v if isinstance(v, str) else str(v) for v in segment_ids.tolist()]
    parts = pc.split_pattern(pa.array(text, type=pa.string()), ";")  # as str.split(";")
    owner = np.asarray(pc.list_parent_indices(parts).to_numpy(), dtype=np.int64)
    listed = pc.list_flatten(parts)
    known = pa.array(pd.Index(ids).astype(str).array, type=pa.string())
    at = pc.index_in(listed, value_set=known)  # each listed id's place among ids
    at = np.asarray(at.to_numpy(zero_copy_only=False), dtype=float)  # missing: NaN
    ok = ~np.isnan(at)
    np.maximum.at(found, at[ok].astype(np.int64), owner[ok])  # the later street
    return found


def _location_rows(locations: pd.DataFrame, area: pd.Series, place: pd.Series) -> np.ndarray:
    """Return the row of ``locations`` with each (area, place), by area code and street (-1: none).

    A pair listed twice goes to the later row.
    """
    listed = pd.MultiIndex.from_arrays(
        [locations["area_code"].to_numpy(dtype=object), locations["street"].to_numpy(dtype=object)]
    )
    rows = np.flatnonzero(~listed.duplicated(keep="last"))
    asked = pd.MultiIndex.from_arrays([area.to_numpy(dtype=object), place.to_numpy(dtype=object)])
    at = listed[rows].get_indexer(asked)
    return np.where(at >= 0, rows[np.maximum(at, 0)], -1).astype(np.int64)
