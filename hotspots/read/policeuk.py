"""police.uk street-level crime CSVs: their columns and their reader."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.read import memory
from hotspots.read.assemble import (
    FileResult,
    PointsSeen,
    assemble,
    collect_results,
    read_all,
    read_each,
    without_gc_pauses,
)
from hotspots.read.canonical import TEXT_DTYPE, canonical_frame, month_window_text, to_float
from hotspots.read.csv_engine import RawTable, read_csv_text
from hotspots.read.duplicates import FileIdKeys
from hotspots.read.layers import AreaInput
from hotspots.read.sources import (
    Source,
    choose_publications,
    find_police_uk_sources,
    scan_police_uk,
)
from hotspots.read.stacked import (
    ParsedFile,
    assemble_stacked,
    cells_frame,
    parse_file,
    stack_fits,
)
from hotspots.rejects import (
    REASON_PUBLICATION,
    RowFilter,
    malformed_rejects,
    row_reason_codes,
    row_reasons,
    split_rejected,
    text_column,
)
from hotspots.space import crs as _crs

__all__ = [
    "POLICE_UK_COLUMNS",
    "POLICE_UK_REQUIRED",
    "POLICE_UK_SOURCE",
    "police_uk_file_result",
    "police_uk_parts",
    "police_uk_to_canonical",
    "read_police_uk",
    "read_police_uk_file",
]

log = logging.getLogger("hotspots")

#: Columns of a police.uk street-level CSV, as published.
POLICE_UK_COLUMNS: list[str] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]


POLICE_UK_REQUIRED: list[str] = ["Month", "Longitude", "Latitude", "Location", "Crime type"]


#: The columns the reader uses (the rest are checked for shape but not built).
_POLICE_UK_USED = ("Crime ID", "Month", "Falls within", *POLICE_UK_REQUIRED[1:])


def police_uk_to_canonical(
    raw: RawTable, source: Source, *, parts: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Turn one police.uk CSV's text cells into canonical columns (lon/lat still in degrees).

    Parameters
    ----------
    raw
        The file's text cells from :func:`read_raw_csv`.
    source
        Where they came from (for ``source_file``).
    parts
        :func:`police_uk_parts` of the cells, when made already.

    Returns
    -------
    pandas.DataFrame
        Canonical columns with ``x``/``y`` holding longitude/latitude.
    """
    f = raw.frame
    cols: dict[str, Any] = {
        "has_time": False,
        "raw_x": f["Longitude"],
        "raw_y": f["Latitude"],
        "raw_date": f["Month"],
        "force": "",
        **(police_uk_parts(f) if parts is None else parts),
    }
    return canonical_frame(raw, source, cols)


#: Canonical text columns held as categories, and the police.uk columns they come from.
_CATEGORY_SOURCES = (
    ("crime_type", "Crime type"),
    ("location", "Location"),
    ("force", "Falls within"),
)


def police_uk_parts(frame: pd.DataFrame) -> dict[str, Any]:
    """Return the canonical columns made from police.uk text cells by more than a copy.

    The month window and its text, the coordinates as numbers, the crime id stripped of
    spaces, and the text columns held as categories Arrow dictionary-encoded (stripped as
    categories, see :func:`canonical_frame`). Each file's are made in its reader thread.
    """
    start, end, month = _by_dictionary(frame["Month"], lambda m: month_window_text(m, "%Y-%m"))
    parts: dict[str, Any] = {
        "occurred_from": start,
        "occurred_to": end,
        "month": month,
        "x": to_float(frame["Longitude"]),
        "y": to_float(frame["Latitude"]),
    }
    if "Crime ID" in frame:
        ids = frame["Crime ID"]
        stripped = ids.str.strip()  # the same text if no byte was stripped: kept once
        parts["crime_id"] = ids if _text_bytes(stripped) == _text_bytes(ids) else stripped
    for key, col in _CATEGORY_SOURCES:
        if col in frame:  # dictionary-encoded as parsed, or here
            parts[key] = pa.chunked_array(frame[col].array.__arrow_array__()).dictionary_encode()
    return parts


def _text_bytes(text: pd.Series) -> int:
    """Return the number of bytes of a column's Arrow text."""
    lengths = pc.binary_length(pa.chunked_array(text.array.__arrow_array__()))
    return int(pc.sum(lengths).as_py() or 0)


def _by_dictionary(
    text: pd.Series, work: Callable[[pd.Series], tuple[pd.Series, ...]]
) -> tuple[pd.Series, ...]:
    """Return ``work(text)``, on each distinct value only if the text is dictionary-encoded.

    ``work`` gives columns whose cells depend on their own row's text only.
    """
    if not (
        isinstance(text.dtype, pd.ArrowDtype) and pa.types.is_dictionary(text.dtype.pyarrow_dtype)
    ):
        return work(text)
    encoded = pa.chunked_array(text.array.__arrow_array__()).unify_dictionaries().combine_chunks()
    words = pd.Series(pd.array(encoded.dictionary, dtype=TEXT_DTYPE))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return tuple(pd.Series(col.array.take(codes), index=text.index) for col in work(words))


@without_gc_pauses
@memory.small_pages()
def read_police_uk(
    paths: Iterable[str | Path],
    *,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    quiet: bool = False,
    areas: AreaInput = None,
    on_points: PointsSeen | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read police.uk street-level CSVs (plain, gzipped or in monthly zips) into one table.

    Parameters
    ----------
    paths
        Files or folders; folders are searched for ``*-street.csv(.gz)`` and ``*.zip``.
    crime_types
        Keep only these crime types (case-insensitive); others are rejected with a reason.
    start, end
        First and last month to keep, ``"YYYY-MM"``; others are rejected with a reason.
    quiet
        If True, do not log progress.
    areas
        Area polygons (from :func:`read_areas`, any CRS): each kept row gets the
        ``area_code``/``area_name`` of the area holding it (see :func:`join_areas`) and rows
        outside every area are rejected, in the same pass that assembles the table. A
        future of them (:func:`hotspots.read.layers.read_areas_beside`) is waited for only
        where the points are looked up.
    on_points
        Told the rows' distinct points once projected, while the table is assembled (see
        :data:`hotspots.read.assemble.PointsSeen`): the run snaps them meanwhile.

    Returns
    -------
    crimes, rejected
        Kept rows in EPSG:27700 (British National Grid, metres) with the canonical columns,
        and every other row with its ``reason``.

    Raises
    ------
    InputDataError
        If a file is empty, not UTF-8, not a CSV, or lacks a required column.

    Examples
    --------
    >>> month = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, rejected = read_police_uk([month], start="2017-12", end="2017-12", quiet=True)
    >>> crimes.crs.to_epsg(), len(crimes) + len(rejected) > 60000
    (27700, True)
    """
    rf = RowFilter(tuple(crime_types) if crime_types else None, start, end)
    sources, skipped = scan_police_uk(paths)
    if not sources:
        find_police_uk_sources(paths)  # raises the error for no files
    superseded = choose_publications(sources)
    if not quiet:
        _log_skipped(skipped)
        for name, winner in sorted(superseded.items()):
            log.warning(
                "%s: the same force-month as %s, the newer publication; every row rejected as %r",
                name,
                winner,
                REASON_PUBLICATION,
            )

    if len(sources) > 1 and stack_fits(sources):  # parsed in threads, made canonical once
        items = read_each(sources, lambda s: _parse_one(s, rf, superseded.get(s.name)))
        done = assemble_stacked(
            sources,
            items,
            canonical=lambda raw, source, parts: police_uk_to_canonical(raw, source, parts=parts),
            reasons=lambda canon: row_reason_codes(canon, rf, lonlat=True, rules={}),
            across_files_only=True,
            src_crs=_crs.WGS84,
            dst_crs=_crs.BRITISH_NATIONAL_GRID,
            areas=areas,
            quiet=quiet,
            raw_columns=("Longitude", "Latitude", "Month"),
            on_points=on_points,
        )
        if done is not None:
            return done
        results = [  # file by file, from the cells parsed
            it if isinstance(it, FileResult) else police_uk_file_result(it.raw(), it.source, rf)
            for it in items
        ]
        frames, rejects, _, keys = collect_results(sources, results, quiet=quiet)
    else:

        def read_one(source: Source) -> FileResult:
            return read_police_uk_file(
                source, rf, use_threads=True, superseded_by=superseded.get(source.name)
            )

        frames, rejects, _, keys = read_all(sources, read_one, quiet=quiet)
    return assemble(
        frames,
        rejects,
        across_files_only=True,
        src_crs=_crs.WGS84,
        dst_crs=_crs.BRITISH_NATIONAL_GRID,
        areas=areas,
        id_keys=keys,
        on_points=on_points,
    )


POLICE_UK_SOURCE = (
    "police.uk street-level crime (month only, no time of day; locations anonymised to "
    "police.uk map points), Open Government Licence v3.0"
)


def read_police_uk_file(
    source: Source, rf: RowFilter, *, use_threads: bool, superseded_by: str | None = None
) -> FileResult:
    """Read one police.uk CSV: kept rows (lon/lat) and rejected tables, before id checks.

    A file ``superseded_by`` a newer publication of its force-month (see
    :func:`choose_publications`) keeps nothing: every row, malformed ones included, is
    rejected as a duplicate publication, ``value`` naming the file kept instead.
    """
    raw = read_csv_text(
        source, required=POLICE_UK_REQUIRED, use_threads=use_threads, columns=_POLICE_UK_USED
    )
    return police_uk_file_result(raw, source, rf, superseded_by=superseded_by)


def police_uk_file_result(
    raw: RawTable, source: Source, rf: RowFilter, *, superseded_by: str | None = None
) -> FileResult:
    """Return :func:`read_police_uk_file` of a file whose cells are read already."""
    canon = police_uk_to_canonical(raw, source)
    if superseded_by is not None:
        kept, rej = split_rejected(canon, np.full(len(canon), REASON_PUBLICATION, dtype=object))
        rej["value"] = text_column(superseded_by, len(rej))
        bad = malformed_rejects(raw, source, reason=REASON_PUBLICATION, value=superseded_by)
        return FileResult(len(canon), kept, [bad, rej], None, FileIdKeys.of(kept["crime_id"]))
    kept, rej = split_rejected(canon, row_reasons(canon, rf, lonlat=True, rules={}))
    return FileResult(
        len(canon),
        kept,
        [malformed_rejects(raw, source), rej],
        None,
        FileIdKeys.of(kept["crime_id"]),
    )


def _parse_one(source: Source, rf: RowFilter, superseded_by: str | None) -> ParsedFile | FileResult:
    """Parse one of several files (a superseded publication is read whole: all rejected)."""
    if superseded_by is not None:
        return read_police_uk_file(source, rf, use_threads=False, superseded_by=superseded_by)
    return parse_file(
        source,
        required=POLICE_UK_REQUIRED,
        columns=_POLICE_UK_USED,
        parts=lambda table: police_uk_parts(cells_frame(table)),
        encoded=("Month", *(col for _, col in _CATEGORY_SOURCES)),
    )


def _log_skipped(skipped: list[dict[str, str]]) -> None:
    """Log the files passed over in the crime folders (all listed in ``run.json``)."""
    if len(skipped) <= _SKIPPED_LOGGED:
        for item in skipped:
            log.info("skipped %s: %s", item["path"], item["why"])
        return
    kinds: dict[str, int] = {}
    for item in skipped:
        kinds[item["why"]] = kinds.get(item["why"], 0) + 1
    log.info(
        "skipped %d files that are not street-level crime (%s); listed in run.json "
        "under skipped_files",
        len(skipped),
        "; ".join(f"{n} {why}" for why, n in sorted(kinds.items())),
    )


#: Most skipped files logged one by one (more are summed up by kind).
_SKIPPED_LOGGED = 10
