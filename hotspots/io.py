"""Read source files into the canonical tables; nothing else.

Every crime reader returns the kept rows as a projected GeoDataFrame in the canonical schema
(:data:`hotspots.schema.CRIME_COLUMNS`) and a rejected table with a ``reason`` for every row it
did not keep, so that rows read = rows kept + rows rejected, per file.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
import pyproj
import shapely

from hotspots import crs as _crs
from hotspots.errors import InputDataError
from hotspots.schema import CRIME_COLUMNS, REJECTED_COLUMNS

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

#: Rejection reasons, in the order they are tested (a row gets the first that applies).
REASON_MALFORMED = "malformed row"
REASON_NO_COORDS = "no coordinates"
REASON_PRIVACY = "privacy offset (location withheld at source)"
REASON_RANGE = "coordinates out of range"
REASON_DATE = "unparseable date"
REASON_FUTURE = "date in the future"
REASON_PERIOD = "outside the chosen period"
REASON_TYPE = "crime type not selected"
REASON_DUPLICATE = "duplicate crime id"
REASON_OUTSIDE = "outside study area"


@dataclass(frozen=True)
class Source:
    """One readable CSV: a plain or gzipped file, or a member of a zip archive."""

    name: str
    path: Path
    member: str | None = None

    def open_bytes(self) -> bytes:
        """Return the whole (decompressed) content of the source."""
        if self.member is not None:
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(self.member)
        with pa.input_stream(str(self.path), compression="detect") as stream:
            return bytes(stream.read())


@dataclass
class Mapping:
    """How the columns of a non-police.uk file map to the canonical crime table."""

    name: str
    columns: dict[str, str]
    crs: str | None = None
    project_to: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# finding files


def find_police_uk_sources(paths: Iterable[str | Path]) -> list[Source]:
    """Return the police.uk street-level CSVs found in files, folders and zip archives.

    Parameters
    ----------
    paths
        Files (``.csv``, ``.csv.gz``, ``.zip``) or folders searched recursively for
        ``*-street.csv``, ``*-street.csv.gz`` and ``*.zip``.

    Returns
    -------
    list of Source
        One source per CSV, sorted by name so reading order is stable.

    Raises
    ------
    InputDataError
        If a path does not exist, or nothing readable is found.
    """
    found: list[Source] = []
    for p in map(Path, paths):
        if not p.exists():
            msg = f"crime input {p} does not exist"
            raise InputDataError(msg)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            found.extend(_sources_in_file(f, from_dir=p.is_dir()))
    if not found:
        msg = (
            f"no police.uk street-level CSV found in {[str(p) for p in paths]}; expected files "
            "named YYYY-MM-<force>-street.csv (.gz) or monthly .zip archives"
        )
        raise InputDataError(msg)
    return sorted(found, key=lambda s: s.name)


def _sources_in_file(f: Path, *, from_dir: bool) -> list[Source]:
    name = f.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(f) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith("-street.csv")]
        if not members and not from_dir:
            msg = f"{f} is a zip archive with no *-street.csv inside"
            raise InputDataError(msg)
        return [Source(f"{f.name}:{Path(m).name}", f, m) for m in sorted(members)]
    if name.endswith(("-street.csv", "-street.csv.gz")) or not from_dir:
        return [Source(f.name, f)]
    return []


# --------------------------------------------------------------------------------------------
# raw CSV reading


@dataclass
class RawTable:
    """All cells of one CSV as text, plus the rows the parser could not split."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    malformed: list[tuple[int, str]]


def read_raw_csv(source: Source, *, required: Sequence[str] = ()) -> RawTable:
    """Read one CSV with every cell as text, keeping malformed rows aside.

    Parameters
    ----------
    source
        The file or archive member.
    required
        Columns that must be present (all missing ones are reported at once).

    Returns
    -------
    RawTable
        Text cells, the 1-based data row number of each, and the malformed rows.

    Raises
    ------
    InputDataError
        If the file is empty, not UTF-8 text, not a CSV, or lacks required columns.
    """
    data = source.open_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    header = _header(data, source)
    missing = [c for c in required if c not in header]
    if missing:
        msg = (
            f"{source.name}: missing required column(s) {missing}; found {header[:12]}. "
            "Check the file is the expected format, or give a column mapping with --format"
        )
        raise InputDataError(msg)
    malformed: list[tuple[int, str]] = []

    def _on_bad(row: Any) -> str:
        malformed.append((int(row.number) - 1 if row.number else -1, str(row.text)[:200]))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 26),
            parse_options=pacsv.ParseOptions(invalid_row_handler=_on_bad, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        msg = f"{source.name}: cannot be read as a UTF-8 CSV ({_short(err)})"
        raise InputDataError(msg) from err
    frame = table.to_pandas()
    return RawTable(frame, _row_numbers(len(frame), malformed), malformed)


def _header(data: bytes, source: Source) -> list[str]:
    if not data.strip():
        msg = f"{source.name}: file is empty"
        raise InputDataError(msg)
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"{source.name}: not UTF-8 text (byte {err.start} of the header); save it as UTF-8"
        raise InputDataError(msg) from err
    if "\x00" in text or "," not in text:
        msg = (
            f"{source.name}: not a comma-separated file (header line {text[:80]!r}); "
            "export it as CSV with commas"
        )
        raise InputDataError(msg)
    return [c.strip().strip('"') for c in text.split(",")]


def _row_numbers(n_ok: int, malformed: list[tuple[int, str]]) -> np.ndarray:
    """Return the physical data-row numbers of the parsed rows, skipping malformed ones."""
    bad = np.array(sorted(n for n, _ in malformed if n > 0), dtype=np.int64)
    allrows = np.arange(1, n_ok + len(malformed) + 1, dtype=np.int64)
    return np.setdiff1d(allrows, bad, assume_unique=True)[:n_ok]


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:160]


# --------------------------------------------------------------------------------------------
# canonical table construction


def _canonical_frame(
    raw: RawTable, source: Source, cols: dict[str, pd.Series | np.ndarray | Any]
) -> pd.DataFrame:
    n = len(raw.frame)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["crime_id"] = cols.get("crime_id", pd.Series([""] * n)).to_numpy()
    out["source_file"] = source.name
    out["source_row"] = raw.row_numbers
    out["occurred_from"] = cols["occurred_from"]
    out["occurred_to"] = cols["occurred_to"]
    out["month"] = out["occurred_from"].dt.strftime("%Y-%m")
    out["has_time"] = cols["has_time"]
    out["crime_type"] = cols.get("crime_type", pd.Series([""] * n)).to_numpy()
    out["location"] = cols.get("location", pd.Series([""] * n)).to_numpy()
    out["x"] = np.asarray(cols["x"], dtype=float)
    out["y"] = np.asarray(cols["y"], dtype=float)
    out["raw_x"] = cols["raw_x"]
    out["raw_y"] = cols["raw_y"]
    out["force"] = cols.get("force", "")
    return out


def _malformed_rejects(raw: RawTable, source: Source) -> pd.DataFrame:
    rows = [
        {"source_file": source.name, "source_row": n, "reason": REASON_MALFORMED, "location": t}
        for n, t in raw.malformed
    ]
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS)


def police_uk_to_canonical(raw: RawTable, source: Source) -> pd.DataFrame:
    """Turn one police.uk CSV's text cells into canonical columns (lon/lat still in degrees).

    Parameters
    ----------
    raw
        The file's text cells from :func:`read_raw_csv`.
    source
        Where they came from (for ``source_file``).

    Returns
    -------
    pandas.DataFrame
        Canonical columns with ``x``/``y`` holding longitude/latitude.
    """
    f = raw.frame
    start = pd.to_datetime(f["Month"].str.strip(), format="%Y-%m", errors="coerce")
    cols: dict[str, Any] = {
        "crime_id": f["Crime ID"].str.strip() if "Crime ID" in f else None,
        "occurred_from": start,
        "occurred_to": start + pd.DateOffset(months=1),
        "has_time": False,
        "crime_type": f["Crime type"].str.strip(),
        "location": f["Location"].str.strip(),
        "x": pd.to_numeric(f["Longitude"].str.strip(), errors="coerce"),
        "y": pd.to_numeric(f["Latitude"].str.strip(), errors="coerce"),
        "raw_x": f["Longitude"].to_numpy(),
        "raw_y": f["Latitude"].to_numpy(),
        "force": f["Falls within"].to_numpy() if "Falls within" in f else "",
    }
    if cols["crime_id"] is None:
        del cols["crime_id"]
    return _canonical_frame(raw, source, cols)


# --------------------------------------------------------------------------------------------
# rejection rules


@dataclass(frozen=True)
class RowFilter:
    """Which rows to keep, beyond having usable coordinates and dates."""

    crime_types: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    today: dt.date = field(default_factory=dt.date.today)


def _reasons(
    frame: pd.DataFrame, rowfilter: RowFilter, *, lonlat: bool, rules: dict[str, Any]
) -> np.ndarray:
    """Return the rejection reason of each row ('' where kept), first rule that applies."""
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    loc = frame["location"].astype(str).str.strip().str.upper()
    privacy_locs = {s.upper() for s in rules.get("privacy_locations", [])}
    zero_priv = bool(rules.get("zero_xy_is_privacy_offset", False))
    conds: list[tuple[str, np.ndarray]] = [
        (REASON_PRIVACY, loc.isin(privacy_locs).to_numpy() | (zero_priv & (x == 0) & (y == 0))),
        (REASON_NO_COORDS, ~np.isfinite(x) | ~np.isfinite(y)),
        (REASON_RANGE, _out_of_range(x, y, lonlat=lonlat)),
        (REASON_DATE, frame["occurred_from"].isna().to_numpy()),
        (REASON_FUTURE, (frame["occurred_from"] > pd.Timestamp(rowfilter.today)).to_numpy()),
        (REASON_PERIOD, _outside_period(frame["month"], rowfilter)),
        (REASON_TYPE, _type_not_selected(frame["crime_type"], rowfilter)),
    ]
    reason = np.full(len(frame), "", dtype=object)
    for label, cond in conds:
        reason[(reason == "") & np.asarray(cond, dtype=bool)] = label
    return reason


def _out_of_range(x: np.ndarray, y: np.ndarray, *, lonlat: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if lonlat:
            return (np.abs(x) > 180) | (np.abs(y) > 90) | ((x == 0) & (y == 0))
        return (x == 0) & (y == 0)


def _outside_period(month: pd.Series, rf: RowFilter) -> np.ndarray:
    m = month.fillna("").to_numpy(dtype=object)
    out = np.zeros(len(m), dtype=bool)
    if rf.start:
        out |= (m != "") & (m < rf.start)
    if rf.end:
        out |= (m != "") & (m > rf.end)
    return out


def _type_not_selected(types: pd.Series, rf: RowFilter) -> np.ndarray:
    if not rf.crime_types:
        return np.zeros(len(types), dtype=bool)
    wanted = {t.casefold() for t in rf.crime_types}
    return ~types.str.casefold().isin(wanted).to_numpy()


def split_rejected(frame: pd.DataFrame, reason: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a canonical frame into kept rows and a rejected table with reasons.

    Parameters
    ----------
    frame
        Canonical columns plus ``raw_x``/``raw_y``.
    reason
        One reason per row; the empty string keeps the row.

    Returns
    -------
    kept, rejected
        The kept rows (all columns) and the rejected table (:data:`REJECTED_COLUMNS`).
    """
    bad = reason != ""
    rejected = frame.loc[bad].assign(reason=reason[bad])
    rejected = rejected.reindex(columns=REJECTED_COLUMNS)
    return frame.loc[~bad], rejected


def reject_duplicate_ids(
    kept: pd.DataFrame, rejected: pd.DataFrame, *, across_files_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject every repeat of a non-empty crime id after its first appearance.

    Parameters
    ----------
    kept
        Kept rows in reading order (files sorted by name, rows in file order).
    rejected
        The rejected table so far.
    across_files_only
        If True, a repeat is rejected only when its first appearance is in another file (the
        same extract read twice). police.uk publishes several rows with one Crime ID inside a
        monthly file (separate offences or outcomes of one incident, each a record in its
        published counts), so those are kept.

    Returns
    -------
    kept, rejected
        With the repeats moved from ``kept`` to ``rejected`` (reason ``duplicate crime id``).
    """
    ids = kept["crime_id"].fillna("")
    dup = (ids != "").to_numpy() & ids.duplicated(keep="first").to_numpy()
    if across_files_only and dup.any():
        first_file = kept.groupby(ids, sort=False)["source_file"].transform("first")
        dup &= (kept["source_file"] != first_file).to_numpy()
    if not dup.any():
        return kept, rejected
    reason = np.where(dup, REASON_DUPLICATE, "").astype(object)
    kept2, more = split_rejected(kept, reason)
    return kept2, pd.concat([rejected, more], ignore_index=True)


# --------------------------------------------------------------------------------------------
# public readers


def read_police_uk(
    paths: Iterable[str | Path],
    *,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    quiet: bool = False,
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
    >>> crimes, rejected = read_police_uk([get_path("london_crimes")], start="2017-12",
    ...                                   end="2017-12", quiet=True)
    >>> crimes.crs.to_epsg(), len(crimes) + len(rejected) > 60000
    (27700, True)
    """
    rf = RowFilter(tuple(crime_types) if crime_types else None, start, end)
    frames, rejects = [], []
    for source in find_police_uk_sources(paths):
        raw = read_raw_csv(source, required=POLICE_UK_REQUIRED)
        canon = police_uk_to_canonical(raw, source)
        kept, rej = split_rejected(canon, _reasons(canon, rf, lonlat=True, rules={}))
        frames.append(kept)
        rejects.extend([_malformed_rejects(raw, source), rej])
        if not quiet:
            log.info("read %s: %d rows, %d kept", source.name, len(canon), len(kept))
    kept_all, rejected = _concat(frames, rejects)
    kept_all, rejected = reject_duplicate_ids(kept_all, rejected, across_files_only=True)
    return _to_geo(kept_all, src_crs=_crs.WGS84, dst_crs=_crs.BRITISH_NATIONAL_GRID), rejected


def _concat(frames: list[pd.DataFrame], rejects: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    kept = pd.concat(frames, ignore_index=True)
    rej = [r for r in rejects if len(r)]
    rejected = (
        pd.concat(rej, ignore_index=True) if rej else pd.DataFrame(columns=REJECTED_COLUMNS)
    )
    return kept, rejected.astype({"source_row": "int64"})


def _to_geo(frame: pd.DataFrame, *, src_crs: Any, dst_crs: Any) -> gpd.GeoDataFrame:
    """Project x/y from ``src_crs`` to ``dst_crs`` (transforming each distinct point once)."""
    src, dst = pyproj.CRS.from_user_input(src_crs), pyproj.CRS.from_user_input(dst_crs)
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    if src != dst:
        xy = np.column_stack([x, y])
        uniq, inv = np.unique(xy, axis=0, return_inverse=True)
        tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        ux, uy = tr.transform(uniq[:, 0], uniq[:, 1])
        x, y = np.round(np.asarray(ux)[inv.ravel()], 2), np.round(np.asarray(uy)[inv.ravel()], 2)
    out = frame.drop(columns=["raw_x", "raw_y"]).assign(x=x, y=y)
    out = out.reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(x, y), crs=dst)


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
    text = _mapping_text(spec)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = f"mapping {spec}: not valid TOML ({err})"
        raise InputDataError(msg) from err
    cols = dict(doc.get("columns", {}))
    has_xy = {"x", "y"} <= cols.keys() or {"lon", "lat"} <= cols.keys() or "geometry" in cols
    has_date = bool({"date", "datetime", "from", "month", "year"} & cols.keys())
    if not (has_xy and has_date):
        msg = (
            f"mapping {spec}: [columns] needs coordinates (x and y, lon and lat, or geometry) "
            f"and a date (date, datetime, from, or year/month/day); found {sorted(cols)}"
        )
        raise InputDataError(msg)
    return Mapping(str(doc.get("name", spec)), cols, doc.get("crs"), doc.get("project_to"),
                   dict(doc.get("rules", {})))


POLICE_UK_SOURCE = (
    "police.uk street-level crime (month only, no time of day; locations anonymised to "
    "police.uk map points), Open Government Licence v3.0"
)


def describe_source(fmt: str) -> str:
    """Return a one-line description of a crime format's data source, for reports.

    Parameters
    ----------
    fmt
        ``"police-uk"``, a built-in mapping name or a mapping path.

    Returns
    -------
    str
        The mapping's ``description`` (or its name) for mapped formats.
    """
    if fmt == "police-uk":
        return POLICE_UK_SOURCE
    doc = tomllib.loads(_mapping_text(fmt))
    return str(doc.get("description", doc.get("name", fmt)))


def _mapping_text(spec: str | Path) -> str:
    path = Path(spec)
    if path.suffix == ".toml" and path.exists():
        return path.read_text(encoding="utf-8")
    builtin = resources.files("hotspots") / "mappings" / f"{spec}.toml"
    if builtin.is_file():
        return builtin.read_text(encoding="utf-8")
    msg = f"unknown --format {spec!r}: use police-uk, vancouver, or the path of a .toml mapping"
    raise InputDataError(msg)


def read_mapped(
    paths: Iterable[str | Path],
    mapping: Mapping,
    *,
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    crs: str | None = None,
    quiet: bool = False,
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
    frames, rejects = [], []
    for source in _mapped_sources(paths):
        raw, src_crs = _read_mapped_raw(source, mapping)
        canon = mapped_to_canonical(raw, source, mapping)
        reasons = _reasons(canon, rf, lonlat=lonlat, rules=mapping.rules)
        kept, rej = split_rejected(canon, reasons)
        frames.append(kept)
        rejects.extend([_malformed_rejects(raw, source), rej])
        if not quiet:
            log.info("read %s: %d rows, %d kept", source.name, len(canon), len(kept))
    kept_all, rejected = _concat(frames, rejects)
    kept_all, rejected = reject_duplicate_ids(kept_all, rejected)
    src = src_crs or mapping.crs or (_crs.WGS84 if lonlat else None)
    if src is None:
        msg = f"mapping {mapping.name}: x/y columns need a `crs` (e.g. crs = \"EPSG:26910\")"
        raise InputDataError(msg)
    dst = crs or mapping.project_to or _default_metric(kept_all, src)
    return _to_geo(kept_all, src_crs=src, dst_crs=dst), rejected


def _default_metric(frame: pd.DataFrame, src: Any) -> pyproj.CRS:
    src_crs = pyproj.CRS.from_user_input(src)
    if src_crs.is_projected:
        return src_crs
    return _crs.utm_crs_for(frame["x"].to_numpy(), frame["y"].to_numpy())


def _mapped_sources(paths: Iterable[str | Path]) -> list[Source]:
    out: list[Source] = []
    for p in map(Path, paths):
        if not p.exists():
            msg = f"crime input {p} does not exist"
            raise InputDataError(msg)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        out.extend(Source(f.name, f) for f in files if _is_table_file(f) or not p.is_dir())
    if not out:
        msg = f"no CSV or GeoParquet file found in {[str(p) for p in paths]}"
        raise InputDataError(msg)
    return sorted(out, key=lambda s: s.name)


def _is_table_file(f: Path) -> bool:
    return f.name.lower().endswith((".csv", ".csv.gz", ".parquet", ".geoparquet"))


def _read_mapped_raw(source: Source, mapping: Mapping) -> tuple[RawTable, Any]:
    if source.path.suffix.lower() in (".parquet", ".geoparquet"):
        return _read_parquet_raw(source, mapping)
    required = [c for k, c in mapping.columns.items() if k not in ("id", "location", "force")]
    return read_raw_csv(source, required=required), None


def _read_parquet_raw(source: Source, mapping: Mapping) -> tuple[RawTable, Any]:
    try:
        gdf = gpd.read_parquet(source.path)
    except Exception as err:  # pyarrow raises many types for a bad file
        msg = f"{source.name}: cannot be read as GeoParquet ({_short(err)})"
        raise InputDataError(msg) from err
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geom_col = mapping.columns.get("geometry")
    if geom_col:
        pts = gdf.geometry
        frame[geom_col + "__x"] = np.where(pts.geom_type == "Point", pts.x, np.nan)
        frame[geom_col + "__y"] = np.where(pts.geom_type == "Point", pts.y, np.nan)
    frame = frame.astype(str).replace({"nan": "", "None": "", "NaT": ""})
    return RawTable(frame, np.arange(1, len(frame) + 1), []), gdf.crs


def mapped_to_canonical(raw: RawTable, source: Source, mapping: Mapping) -> pd.DataFrame:
    """Turn a mapped file's text cells into canonical columns (coordinates in source CRS).

    Parameters
    ----------
    raw
        Text cells from :func:`read_raw_csv` (or a GeoParquet file).
    source
        Where they came from.
    mapping
        The column mapping.

    Returns
    -------
    pandas.DataFrame
        Canonical columns with ``x``/``y`` in the source CRS.
    """
    f, c = raw.frame, mapping.columns
    text = {k: f[v].astype(str).str.strip() for k, v in c.items() if v in f}
    if "geometry" in c:
        text["x"], text["y"] = f[c["geometry"] + "__x"], f[c["geometry"] + "__y"]
    xk, yk = ("lon", "lat") if "lon" in c else ("x", "y")
    start, end, has_time = _mapped_times(text, mapping)
    cols: dict[str, Any] = {
        "occurred_from": start,
        "occurred_to": end,
        "has_time": has_time,
        "x": pd.to_numeric(text[xk], errors="coerce"),
        "y": pd.to_numeric(text[yk], errors="coerce"),
        "raw_x": text[xk].to_numpy(),
        "raw_y": text[yk].to_numpy(),
    }
    for key, canon in (("id", "crime_id"), ("crime_type", "crime_type"), ("location", "location"),
                       ("force", "force")):
        if key in text:
            cols[canon] = text[key]
    return _canonical_frame(raw, source, cols)


def _mapped_times(
    text: dict[str, pd.Series], mapping: Mapping
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Return window start, window end (exclusive) and whether the time of day is known."""
    c = mapping.columns
    if "from" in text:
        start = _parse_dt(text["from"], c.get("from_format"))
        end = _parse_dt(text["to"], c.get("to_format")) if "to" in text else start
        end = end.where(end >= start, start) + pd.Timedelta(minutes=1)
        return start, end, (start.dt.hour + start.dt.minute > 0).to_numpy() | (end > start).to_numpy()
    if "datetime" in text:
        start = _parse_dt(text["datetime"], c.get("datetime_format"))
    elif "year" in text:
        parts = {k: pd.to_numeric(text[k], errors="coerce") for k in
                 ("year", "month", "day", "hour", "minute") if k in text}
        start = pd.to_datetime(pd.DataFrame(parts), errors="coerce")
    elif "date" in text:
        day = _parse_dt(text["date"], c.get("date_format")).dt.normalize()
        return day, day + pd.Timedelta(days=1), np.zeros(len(day), dtype=bool)
    else:
        month = pd.to_datetime(text["month"], format=c.get("month_format", "%Y-%m"), errors="coerce")
        return month, month + pd.DateOffset(months=1), np.zeros(len(month), dtype=bool)
    return _exact_or_day(start, mapping)


def _exact_or_day(start: pd.Series, mapping: Mapping) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Exact times become 1-minute windows; 00:00 placeholders become the whole day."""
    midnight = (start.dt.hour == 0) & (start.dt.minute == 0)
    unknown = midnight.to_numpy() if mapping.rules.get("midnight_means_unknown_time") else np.zeros(
        len(start), dtype=bool)
    end = start + pd.Timedelta(minutes=1)
    end = end.where(~unknown, start + pd.Timedelta(days=1))
    return start, end, ~unknown & start.notna().to_numpy()


def _parse_dt(s: pd.Series, fmt: str | None) -> pd.Series:
    return pd.to_datetime(s, format=fmt or "mixed", errors="coerce")


def read_crimes(
    paths: Iterable[str | Path],
    *,
    fmt: str = "police-uk",
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    crs: str | None = None,
    quiet: bool = False,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read crime files of any supported format into the canonical table.

    Parameters
    ----------
    paths
        Files or folders.
    fmt
        ``"police-uk"``, ``"vancouver"`` or the path of a TOML mapping.
    crime_types, start, end, crs, quiet
        As in :func:`read_police_uk` and :func:`read_mapped`.

    Returns
    -------
    crimes, rejected
        Kept rows (projected) and rejected rows with reasons.
    """
    paths = list(paths)
    if fmt == "police-uk":
        crimes, rejected = read_police_uk(paths, crime_types=crime_types, start=start, end=end,
                                          quiet=quiet)
        if crs:
            crimes = _crs.to_metric_crs(crimes, crs, name="crimes", quiet=quiet)
            crimes = crimes.assign(x=crimes.geometry.x, y=crimes.geometry.y)
        return crimes, rejected
    return read_mapped(paths, read_mapping(fmt), crime_types=crime_types, start=start, end=end,
                       crs=crs, quiet=quiet)


# --------------------------------------------------------------------------------------------
# areas and streets

AREA_CODE_CANDIDATES = ("area_code", "ward_code", "borough_code", "mapid", "code", "gss_code",
                        "lad_code", "lsoa11cd", "wd14cd", "wd22cd", "id")
AREA_NAME_CANDIDATES = ("area_name", "ward_name", "borough", "name", "lsoa11nm", "wd14nm",
                        "wd22nm", "label")
STREET_NAME_CANDIDATES = ("street_name", "name", "name1", "road_name", "roadname", "hblock",
                          "streetname", "st_name")
STREET_ID_CANDIDATES = ("street_id", "osm_id", "seg_id", "identifier", "id", "fid", "toid")


def _pick(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _read_layer(path: str | Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    p = Path(path)
    if not p.exists():
        msg = f"{what} file {p} does not exist"
        raise InputDataError(msg)
    try:
        return gpd.read_file(p, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as err:
        msg = f"{p.name}: cannot be read as a {what} layer ({_short(err)})"
        raise InputDataError(msg) from err


def read_areas(
    path: str | Path,
    *,
    code_col: str | None = None,
    name_col: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a polygon layer (wards, boroughs, local areas...) with a code and a name per area.

    Parameters
    ----------
    path
        Any vector file pyogrio reads (GeoPackage, GeoJSON, Shapefile...).
    code_col, name_col
        Columns holding each area's code and name; guessed from common names
        (``ward_code``, ``mapid``, ``ward_name``, ``name``...) when not given.
    layer
        Layer to read from a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``area_code``, ``area_name``, the file's other columns, and polygon geometry
        (invalid polygons repaired with ``make_valid``), in the file's CRS.

    Raises
    ------
    InputDataError
        If the layer has no polygons, no usable code column, or duplicate codes.

    Examples
    --------
    >>> wards = read_areas(get_path("london_wards"))
    >>> len(wards), wards["area_code"].iloc[0]
    (625, 'E05000026')
    """
    gdf = _read_layer(path, layer, "area")
    name = Path(path).name
    code = code_col or _pick(gdf.columns, AREA_CODE_CANDIDATES)
    label = name_col or _pick(gdf.columns, AREA_NAME_CANDIDATES) or code
    problems = _area_problems(gdf, code, label, name)
    if problems:
        raise InputDataError(f"{name}: " + "; ".join(problems))
    out = gdf.assign(area_code=gdf[str(code)].astype(str), area_name=gdf[str(label)].astype(str))
    bad = ~out.geometry.is_valid
    if bad.any():
        log.warning("%s: %d invalid polygon(s) repaired with make_valid", name, int(bad.sum()))
        out.loc[bad, "geometry"] = shapely.make_valid(out.geometry[bad].to_numpy())
    cols = ["area_code", "area_name"] + [c for c in gdf.columns if c not in (code, label, "geometry")]
    return out[[*cols, "geometry"]]


def _area_problems(gdf: gpd.GeoDataFrame, code: str | None, label: str | None, name: str) -> list[str]:
    problems = []
    if len(gdf) == 0:
        return ["the area layer is empty"]
    kinds = set(gdf.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        problems.append(f"areas must be polygons; found {sorted(kinds)}")
    if code is None or code not in gdf.columns:
        problems.append(
            f"no area code column (looked for {list(AREA_CODE_CANDIDATES)}); "
            f"columns are {list(gdf.columns)}: name one with --area-code"
        )
    elif gdf[code].duplicated().any():
        dups = sorted(gdf.loc[gdf[code].duplicated(), code].astype(str).unique())[:5]
        problems.append(f"area codes must be unique; {dups} repeat: dissolve them first")
    if label is not None and label not in gdf.columns:
        problems.append(f"no column {label!r} for area names")
    return problems


def read_streets(
    path: str | Path,
    *,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a street line layer (OpenStreetMap, OS Open Roads, city centrelines).

    Parameters
    ----------
    path
        Any vector line file pyogrio reads.
    name_col
        Column with street names; guessed (``name``, ``name1``, ``street_name``...) if not
        given; streets are unnamed when there is none.
    id_col
        Column with the source's feature id; guessed, else the row number.
    layer
        Layer to read from a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source_id`` (str), ``street_name`` (str or missing) and LineString geometry
        (multi-lines exploded), in the file's CRS.

    Raises
    ------
    InputDataError
        If the layer is empty or holds no lines.

    Examples
    --------
    >>> streets = read_streets(get_path("london_streets"))
    >>> streets.geom_type.unique().tolist(), bool(streets["street_name"].notna().mean() > 0.9)
    (['LineString'], True)
    """
    gdf = _read_layer(path, layer, "street")
    fname = Path(path).name
    kinds = set(gdf.geom_type.dropna())
    if len(gdf) == 0 or not kinds & {"LineString", "MultiLineString"}:
        msg = (
            f"{fname}: streets must be a line layer; found {sorted(kinds) or 'no features'}. "
            "Give a file of street centrelines (LineString)"
        )
        raise InputDataError(msg)
    other = gdf.geom_type.isin(["LineString", "MultiLineString"])
    if (~other).any():
        log.warning("%s: %d non-line feature(s) ignored", fname, int((~other).sum()))
    name = name_col or _pick(gdf.columns, STREET_NAME_CANDIDATES)
    ident = id_col or _pick(gdf.columns, STREET_ID_CANDIDATES)
    ids = gdf[ident].astype(str) if ident else pd.Series(np.arange(len(gdf)).astype(str), gdf.index)
    names = gdf[name].astype("string").str.strip().replace("", pd.NA) if name else pd.NA
    out = gpd.GeoDataFrame({"source_id": ids, "street_name": names}, geometry=gdf.geometry,
                           crs=gdf.crs)[other.to_numpy()]
    out = out.explode(index_parts=False).reset_index(drop=True)
    return out[~out.geometry.is_empty & out.geometry.notna()].reset_index(drop=True)


def read_population(
    path: str | Path, *, code_col: str | None = None, population_col: str | None = None
) -> pd.Series:
    """Read a population table into a Series of residents indexed by area code.

    Parameters
    ----------
    path
        CSV file with one row per area.
    code_col, population_col
        Column names; guessed (``*_code``/``population*``) when not given.

    Returns
    -------
    pandas.Series
        Residents per area code (float), named ``population``.

    Raises
    ------
    InputDataError
        If the columns cannot be found.
    """
    df = pd.read_csv(path, dtype=str)
    code = code_col or _pick(df.columns, AREA_CODE_CANDIDATES)
    pop = population_col or next((c for c in df.columns if c.lower().startswith("population")), None)
    if code is None or pop is None:
        msg = (
            f"{Path(path).name}: needs an area code and a population column; found "
            f"{list(df.columns)}. Name them with --population-code/--population-col"
        )
        raise InputDataError(msg)
    values = pd.to_numeric(df[pop], errors="coerce")
    return pd.Series(values.to_numpy(), index=df[code].astype(str), name="population")
