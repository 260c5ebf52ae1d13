"""Mapped crime files: CSV or GeoParquet read through a column mapping (TOML)."""

from __future__ import annotations

import logging
import secrets
import tomllib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj

from hotspots.analysis.callers import pseudonymise
from hotspots.errors import InputDataError
from hotspots.read import memory
from hotspots.read.assemble import (
    FileResult,
    PointsSeen,
    assemble,
    collect_results,
    concat_files,
    read_all,
    read_each,
    to_geo,
    without_gc_pauses,
)
from hotspots.read.canonical import canonical_frame, month_window, to_float
from hotspots.read.csv_engine import RawTable, read_csv_text
from hotspots.read.layers import AreaInput, areas_of
from hotspots.read.mapping_schema import mapping_problems
from hotspots.read.sources import (
    Source,
    mapped_sources,
    short_error,
)
from hotspots.read.stacked import ParsedFile, assemble_stacked, parse_file, stack_fits
from hotspots.rejects import (
    RowFilter,
    arrow_cells,
    malformed_rejects,
    row_reason_codes,
    row_reasons,
    split_rejected,
)
from hotspots.space import crs as _crs
from hotspots.space.areas import join_areas

__all__ = [
    "DATE_PARTS",
    "Mapping",
    "mapped_file_result",
    "mapped_parts",
    "mapped_to_canonical",
    "mapping_text",
    "read_mapped",
    "read_mapped_file",
    "read_mapping",
]

log = logging.getLogger("hotspots")


@dataclass
class Mapping:
    """How the columns of a non-police.uk file map to the canonical crime table."""

    name: str
    columns: dict[str, str]
    crs: str | None = None
    project_to: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)


def read_mapping(spec: str | Path) -> Mapping:
    """Return a column mapping: a built-in name (``vancouver``) or a TOML file path.

    Parameters
    ----------
    spec
        ``"vancouver"`` or the path of a TOML file with a ``[columns]`` table (see the
        README for the keys) and optional ``crs``, ``project_to`` and ``[rules]``.

    Returns
    -------
    Mapping
        The parsed mapping.

    Raises
    ------
    InputDataError
        If the mapping is unknown or lacks coordinate or date columns.
    """
    text = mapping_text(spec)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = f"mapping {spec}: not valid TOML ({err})"
        raise InputDataError(msg) from err
    problems = mapping_problems(doc)
    if problems:
        msg = f"mapping {spec}: " + "; ".join(problems)
        raise InputDataError(msg)
    cols = dict(doc.get("columns", {}))
    has_xy = {"x", "y"} <= cols.keys() or {"lon", "lat"} <= cols.keys() or "geometry" in cols
    has_date = bool({"date", "datetime", "from", "month", "year"} & cols.keys())
    if not (has_xy and has_date):
        msg = (
            f"mapping {spec}: [columns] needs coordinates (x and y, lon and lat, or geometry) "
            f"and a date (date, datetime, from, or year/month/day); found {sorted(cols)}"
        )
        raise InputDataError(msg)
    return Mapping(
        str(doc.get("name", spec)),
        cols,
        doc.get("crs"),
        doc.get("project_to"),
        dict(doc.get("rules", {})),
    )


def mapping_text(spec: str | Path) -> str:
    """Return the TOML text of a mapping: a ``.toml`` file or a built-in mapping's name."""
    path = Path(spec)
    if path.suffix == ".toml" and path.exists():
        return path.read_text(encoding="utf-8")
    builtin = resources.files("hotspots") / "mappings" / f"{spec}.toml"
    if builtin.is_file():
        return builtin.read_text(encoding="utf-8")
    msg = f"unknown --format {spec!r}: use police-uk, vancouver, or the path of a .toml mapping"
    raise InputDataError(msg)


@without_gc_pauses
@memory.small_pages()
def read_mapped(
    paths: Iterable[str | Path],
    mapping: Mapping,
    *,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    crs: str | None = None,
    quiet: bool = False,
    areas: AreaInput = None,
    on_points: PointsSeen | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read CSV or GeoParquet crime files through a column mapping into one table.

    Parameters
    ----------
    paths
        CSV (plain or gzipped) or GeoParquet files, or folders of them.
    mapping
        From :func:`read_mapping`.
    crime_types, start, end
        Row filters as in :func:`read_police_uk`.
    crs
        Projected CRS to use; by default the mapping's ``project_to``, the data's own CRS if it
        is projected, or the UTM zone around the data.
    quiet
        If True, do not log progress.
    areas
        Area polygons to join (or a future of them), as in :func:`read_police_uk`.
    on_points
        Told the rows' points once projected, as in :func:`read_police_uk`.

    Returns
    -------
    crimes, rejected
        Kept rows in a metric CRS, and every other row with its ``reason``.

    Raises
    ------
    InputDataError
        If a file cannot be read or lacks a mapped column.

    Examples
    --------
    >>> crimes, rejected = read_mapped([get_path("vancouver_crimes")], read_mapping("vancouver"),
    ...                                start="2025-12", quiet=True)
    >>> crimes.crs.to_epsg(), bool(crimes["has_time"].any())
    (26910, True)
    """
    rf = RowFilter(tuple(crime_types) if crime_types else None, start, end)
    lonlat = "lon" in mapping.columns
    sources = mapped_sources(paths)
    csv_src = mapping.crs or (_crs.WGS84 if lonlat else None)  # CSV files name no CRS
    csv_dst = crs or mapping.project_to or (_projected(csv_src) if csv_src else None)
    if (
        csv_dst is not None
        and "geometry" not in mapping.columns
        and not any(s.path.suffix.lower() in _PARQUET for s in sources)
        and stack_fits(sources)
    ):  # CSV files: parsed in threads (one file on every core), made canonical once for all
        one = len(sources) == 1  # one file: parsed on every core
        items = read_each(sources, lambda s: _parse_mapped(s, mapping, use_threads=one))
        done = assemble_stacked(
            sources,
            items,
            canonical=lambda raw, s, parts: mapped_to_canonical(raw, s, mapping, parts=parts),
            reasons=lambda canon: row_reason_codes(canon, rf, lonlat=lonlat, rules=mapping.rules),
            across_files_only=False,
            src_crs=csv_src,
            dst_crs=csv_dst,
            areas=areas,
            quiet=quiet,
            raw_columns=_text_columns(mapping),
            on_points=on_points,
        )
        if done is not None:
            return done
        results = [  # file by file, from the cells parsed
            mapped_file_result(it.raw(), None, it.source, mapping, rf)
            for it in items
            if isinstance(it, ParsedFile)
        ]
        frames, rejects, crss, _ = collect_results(sources, results, quiet=quiet)
    else:

        def read_one(source: Source) -> FileResult:
            return read_mapped_file(source, mapping, rf, use_threads=len(sources) == 1)

        frames, rejects, crss, _ = read_all(sources, read_one, quiet=quiet)
    src = crss[-1] or mapping.crs or (_crs.WGS84 if lonlat else None)
    if src is None:
        msg = f'mapping {mapping.name}: x/y columns need a `crs` (e.g. crs = "EPSG:26910")'
        raise InputDataError(msg)
    dst = (
        crs or mapping.project_to or (src if pyproj.CRS.from_user_input(src).is_projected else None)
    )
    if dst is not None:
        return assemble(
            frames,
            rejects,
            across_files_only=False,
            src_crs=src,
            dst_crs=dst,
            areas=areas,
            on_points=on_points,
        )
    kept_all, rejected, _ = concat_files(frames, rejects, across_files_only=False)
    crimes = to_geo(kept_all, src_crs=src, dst_crs=_default_metric(kept_all, src))
    polygons = areas_of(areas)
    return (crimes, rejected) if polygons is None else join_areas(crimes, rejected, polygons)


def read_mapped_file(
    source: Source, mapping: Mapping, rf: RowFilter, *, use_threads: bool
) -> FileResult:
    """Read one mapped file: kept rows (source CRS) and rejected tables, before id checks."""
    raw, src_crs = _read_mapped_raw(source, mapping, use_threads=use_threads)
    return mapped_file_result(raw, src_crs, source, mapping, rf)


def mapped_file_result(
    raw: RawTable, src_crs: Any, source: Source, mapping: Mapping, rf: RowFilter
) -> FileResult:
    """Return :func:`read_mapped_file` of a file whose cells (in ``src_crs``) are read."""
    canon = mapped_to_canonical(raw, source, mapping)
    lonlat = "lon" in mapping.columns
    kept, rej = split_rejected(canon, row_reasons(canon, rf, lonlat=lonlat, rules=mapping.rules))
    return FileResult(len(canon), kept, [malformed_rejects(raw, source), rej], src_crs)


#: File name endings read as GeoParquet.
_PARQUET = (".parquet", ".geoparquet")


def _projected(src: Any) -> Any:
    """Return ``src`` if it is a projected CRS, else None."""
    return src if pyproj.CRS.from_user_input(src).is_projected else None


def _parse_mapped(source: Source, mapping: Mapping, *, use_threads: bool) -> ParsedFile:
    """Parse one mapped CSV, with its coordinates as numbers (see :func:`parse_file`).

    The columns held as categories (crime type, location) are dictionary-encoded as they
    are parsed.
    """
    return parse_file(
        source,
        required=_required(mapping),
        columns=list(mapping.columns.values()),
        numbers=_number_columns(mapping),
        encoded=_encoded_columns(mapping),
        use_threads=use_threads,
        parts=lambda table: mapped_parts(table, mapping, both_at_once=use_threads),
    )


#: Mapping keys whose columns become categories, taken as the parser encoded them.
_ENCODED_KEYS = ("crime_type", "location")


def _encoded_columns(mapping: Mapping) -> list[str]:
    """Return the file columns dictionary-encoded as parsed: those of :data:`_ENCODED_KEYS`.

    A column also mapped to another key (read as plain text there) is not encoded.
    """
    c = mapping.columns
    other = {v for k, v in c.items() if k not in _ENCODED_KEYS}
    return [c[k] for k in _ENCODED_KEYS if k in c and c[k] not in other]


def _text_columns(mapping: Mapping) -> list[str]:
    """Return the file columns :func:`mapped_to_canonical` reads as text, given its parts."""
    encoded = set(_encoded_columns(mapping))
    return list(dict.fromkeys(v for v in mapping.columns.values() if v not in encoded))


def mapped_parts(
    table: pa.Table, mapping: Mapping, *, both_at_once: bool = False
) -> dict[str, Any]:
    """Return the coordinates of a mapped file's cells as numbers (``x`` and ``y``).

    ``table`` is the Arrow table as parsed: the coordinates are parsed from its text (no
    pandas column is made). Also the columns of :data:`_ENCODED_KEYS` that came
    dictionary-encoded (as Arrow chunked arrays, made categories by
    :func:`canonical_frame`). With ``both_at_once`` (one file read on every core), ``y`` is
    parsed in a second thread while ``x`` is (Arrow parses numbers without the GIL).
    """
    c = mapping.columns
    xk, yk = ("lon", "lat") if "lon" in c else ("x", "y")

    def numbers(key: str) -> np.ndarray:
        return to_float(table.column(c[key]))

    if both_at_once:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-read") as pool:
            y = pool.submit(numbers, yk)
            parts: dict[str, Any] = {"x": numbers(xk), "y": y.result()}
    else:
        parts = {"x": numbers(xk), "y": numbers(yk)}
    for key in _ENCODED_KEYS:
        if key in c and c[key] in table.column_names:
            column = table.column(c[key])
            if pa.types.is_dictionary(column.type):
                parts[key] = column
    return parts


def _cells(column: pd.Series) -> pd.Series:
    """Return a column's cells as text (numbers parsed already left as they are)."""
    return column if column.dtype.kind == "f" else column.astype(str)


def _default_metric(frame: pd.DataFrame, src: Any) -> pyproj.CRS:
    src_crs = pyproj.CRS.from_user_input(src)
    if src_crs.is_projected:
        return src_crs
    return _crs.utm_crs_for(frame["x"].to_numpy(), frame["y"].to_numpy())


def _read_mapped_raw(
    source: Source, mapping: Mapping, *, use_threads: bool = False
) -> tuple[RawTable, Any]:
    if source.path.suffix.lower() in _PARQUET:
        return _read_parquet_raw(source, mapping)
    return read_csv_text(
        source,
        required=_required(mapping),
        use_threads=use_threads,
        columns=list(mapping.columns.values()),
        numbers=_number_columns(mapping),
    ), None


def _required(mapping: Mapping) -> list[str]:
    """Return the file columns a mapped CSV must have (all mapped but the optional ones)."""
    optional = ("id", "location", "force", "caller")
    return [c for k, c in mapping.columns.items() if k not in optional]


def _number_columns(mapping: Mapping) -> list[str]:
    """Columns only ever read as numbers: the date parts when the date comes from them."""
    c = mapping.columns
    if "year" not in c or "from" in c or "datetime" in c:
        return []
    return [c[k] for k in DATE_PARTS if k in c]


def _read_parquet_raw(source: Source, mapping: Mapping) -> tuple[RawTable, Any]:
    try:
        gdf = gpd.read_parquet(source.path)
    except Exception as err:  # pyarrow raises many types for a bad file
        msg = f"{source.name}: cannot be read as GeoParquet ({short_error(err)})"
        raise InputDataError(msg) from err
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geom_col = mapping.columns.get("geometry")
    if geom_col:
        pts = gdf.geometry
        frame[geom_col + "__x"] = np.where(pts.geom_type == "Point", pts.x, np.nan)
        frame[geom_col + "__y"] = np.where(pts.geom_type == "Point", pts.y, np.nan)
    frame = frame.astype(str).replace({"nan": "", "None": "", "NaT": ""})
    return RawTable(frame, np.arange(1, len(frame) + 1), []), gdf.crs


def mapped_to_canonical(
    raw: RawTable, source: Source, mapping: Mapping, *, parts: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Turn a mapped file's text cells into canonical columns (coordinates in source CRS).

    Parameters
    ----------
    raw
        Text cells from :func:`read_raw_csv` (or a GeoParquet file).
    source
        Where they came from.
    mapping
        The column mapping.
    parts
        :func:`mapped_parts` of the cells, when made already.

    Returns
    -------
    pandas.DataFrame
        Canonical columns with ``x``/``y`` in the source CRS.
    """
    f, c = raw.frame, mapping.columns
    as_is = ("crime_type", "location", "force", "x", "y", "lon", "lat")  # stripped later
    text = {
        k: _cells(f[v])
        if k in as_is
        else f[v]
        if f[v].dtype.kind == "f"
        else f[v].astype(str).str.strip()
        for k, v in c.items()
        if v in f
    }
    if "geometry" in c:
        text["x"], text["y"] = f[c["geometry"] + "__x"], f[c["geometry"] + "__y"]
    xk, yk = ("lon", "lat") if "lon" in c else ("x", "y")
    start, end, has_time = _mapped_times(text, mapping)
    cols: dict[str, Any] = {
        "occurred_from": start,
        "occurred_to": end,
        "has_time": has_time,
        "x": to_float(text[xk]) if parts is None else parts["x"],
        "y": to_float(text[yk]) if parts is None else parts["y"],
        "raw_x": text[xk],
        "raw_y": text[yk],
        "raw_date": _raw_date(text, start),
    }
    for key, canon in (
        ("id", "crime_id"),
        ("crime_type", "crime_type"),
        ("location", "location"),
        ("force", "force"),
    ):
        if parts is not None and key in _ENCODED_KEYS and key in parts:
            cols[canon] = parts[key]  # dictionary-encoded as parsed
        elif key in text:
            cols[canon] = text[key]
    frame = canonical_frame(raw, source, cols)
    if "caller" in text:  # a caller/victim reference: keyed hash only, the key is never stored
        frame["caller_ref"] = pseudonymise(text["caller"], key=mapping.hash_key).to_numpy()
    return frame


def _raw_date(text: dict[str, pd.Series], start: pd.Series) -> Any:
    """Return the date text as read, for ``value`` in the rejected table.

    The mapped date column (``from``, ``datetime``, ``date`` or ``month``, as
    :func:`_mapped_times` picks it); date parts are joined as ``year-month-day hour:minute``
    for the rows whose date could not be made, and left empty elsewhere.
    """
    for key in ("from", "datetime"):
        if key in text:
            return text[key]
    if "year" not in text:
        return text.get("date", text.get("month", ""))
    bad = start.isna().to_numpy()
    if not bad.any():
        return ""  # every date made: one empty text for all rows
    out = np.full(len(start), "", dtype=object)
    if bad.any():
        parts = [arrow_cells(text[k][bad]).to_pylist() for k in DATE_PARTS if k in text]
        out[bad] = [" ".join(p) for p in zip(*parts, strict=True)]
    return pd.Series(out, index=start.index)


def _mapped_times(
    text: dict[str, pd.Series], mapping: Mapping
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Return window start, window end (exclusive) and whether the time of day is known."""
    c = mapping.columns
    if "from" in text:
        start = _parse_dt(text["from"], c.get("from_format"))
        end = _parse_dt(text["to"], c.get("to_format")) if "to" in text else start
        end = end.where(end >= start, start) + pd.Timedelta(minutes=1)
        timed = (start.dt.hour + start.dt.minute > 0).to_numpy() | (end > start).to_numpy()
        return start, end, timed
    if "datetime" in text:
        start = _parse_dt(text["datetime"], c.get("datetime_format"))
    elif "year" in text:
        start = _datetime_from_parts(text)
    elif "date" in text:
        day = _parse_dt(text["date"], c.get("date_format")).dt.normalize()
        return day, day + pd.Timedelta(days=1), np.zeros(len(day), dtype=bool)
    else:
        month, end = month_window(text["month"], c.get("month_format", "%Y-%m"))
        return month, end, np.zeros(len(month), dtype=bool)
    return _exact_or_day(start, mapping)


DATE_PARTS = ("year", "month", "day", "hour", "minute")


def _datetime_from_parts(text: dict[str, pd.Series]) -> pd.Series:
    """Return the datetimes given by year/month/day/hour/minute columns (NaT where invalid).

    Whole columns of valid calendar values are assembled in NumPy; anything else goes
    through ``pd.to_datetime`` on the whole table, as before.
    """
    keys = [k for k in DATE_PARTS if k in text]
    if keys == list(DATE_PARTS):
        stamps = _stamps_from_parts(*(to_float(text[k]) for k in DATE_PARTS))
        if stamps is not None:
            return pd.Series(stamps, index=text["year"].index, copy=False)  # new: no copy
    parts = {k: pd.to_numeric(text[k], errors="coerce") for k in keys}
    return pd.to_datetime(pd.DataFrame(parts), errors="coerce")


def _stamps_from_parts(
    y: np.ndarray, mo: np.ndarray, d: np.ndarray, h: np.ndarray, mi: np.ndarray
) -> np.ndarray | None:
    """Return ``datetime64[us]`` from whole-number date parts, or None.

    None if any part is not a valid calendar value (years 1900-2100).

    Calendar arithmetic is done once per distinct month (a small table of first days and
    month lengths), the rows only add integers, in place (each new array of a big table
    costs page faults, more than the arithmetic).
    """
    with np.errstate(invalid="ignore"):  # a missing part fails every comparison
        ok = (y >= 1900) & (y <= 2100) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= 31)
        ok &= (h >= 0) & (h <= 23) & (mi >= 0) & (mi <= 59)
    if not ok.all():
        return None
    whole = [v.astype(np.int32) for v in (y, mo, d, h, mi)]  # in range: exact
    if not all((w == v).all() for w, v in zip(whole, (y, mo, d, h, mi), strict=True)):
        return None
    yi, moi, di, hi, mii = whole
    at = yi  # months since 1970-01, then since the first month
    at -= 1970
    at *= 12
    at += moi
    at -= 1
    lo = int(at.min()) if len(at) else 0
    firsts = np.arange(lo, lo + (int(at.max()) - lo + 2 if len(at) else 1))
    first_day = firsts.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    at -= lo
    if (di > np.diff(first_day).astype(np.int32)[at]).any():  # 30 February and the like
        return None
    minutes = first_day.take(at, mode="clip")  # days since 1970, minutes, µs (in range)
    minutes += di
    minutes -= 1
    minutes *= 1440
    hi *= 60
    minutes += hi
    minutes += mii
    minutes *= 60_000_000
    return minutes.view("datetime64[us]")


def _exact_or_day(start: pd.Series, mapping: Mapping) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Exact times become 1-minute windows; 00:00 placeholders become the whole day.

    Datetimes without a time zone, in microseconds or nanoseconds, are worked on as
    integers (the time of day is the remainder of a day); others through pandas' calendar
    fields (pandas adds a minute to coarser units in microseconds).
    """
    values = start.to_numpy()
    if values.dtype in (np.dtype("datetime64[us]"), np.dtype("datetime64[ns]")):
        return _exact_or_day_naive(values, start.index, mapping)
    midnight = (start.dt.hour == 0) & (start.dt.minute == 0)
    unknown = (
        midnight.to_numpy()
        if mapping.rules.get("midnight_means_unknown_time")
        else np.zeros(len(start), dtype=bool)
    )
    end = start + pd.Timedelta(minutes=1)
    end = end.where(~unknown, start + pd.Timedelta(days=1))
    return start, end, ~unknown & start.notna().to_numpy()


def _exact_or_day_naive(
    values: np.ndarray, index: pd.Index, mapping: Mapping
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Return :func:`_exact_or_day` of datetimes without a time zone (NumPy ``datetime64``)."""
    missing = np.isnat(values)
    minute, day = np.timedelta64(1, "m"), np.timedelta64(1, "D")
    if mapping.rules.get("midnight_means_unknown_time"):
        per_minute = 60_000_000 * (1000 if values.dtype == np.dtype("datetime64[ns]") else 1)
        per_day = 1440 * per_minute
        # hour and minute 0: less than a minute into the day (NaT is never midnight)
        unknown = (values.view(np.int64) % per_day < per_minute) & ~missing
        end = values + minute
        end[unknown] += day - minute
    else:
        unknown = np.zeros(len(values), dtype=bool)
        end = values + minute
    start, ends = (pd.Series(v, index=index, copy=False) for v in (values, end))  # no copies
    return start, ends, ~unknown & ~missing


def _parse_dt(s: pd.Series, fmt: str | None) -> pd.Series:
    """Parse date text, each distinct value once (records repeat dates many times)."""
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    parsed = pd.to_datetime(pd.Series(uniq, dtype=s.dtype), format=fmt or "mixed", errors="coerce")
    return pd.Series(parsed.array.take(codes), index=s.index)
