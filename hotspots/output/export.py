"""Write results to disk: hot streets, per-area lists, rejected rows and the run manifest."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from hotspots import runfolder
from hotspots.errors import InputDataError
from hotspots.runfolder import area_file_stem

__all__ = [
    "HANDOUT_DECIMALS",
    "HANDOUT_HEADINGS",
    "HANDOUT_INTEGERS",
    "OSM_ZOOM",
    "XLSX_MAX_WIDTH",
    "accounting",
    "file_sha256",
    "neutralise_formulas",
    "osm_link",
    "read_csv",
    "read_run",
    "restore_formulas",
    "safe_file_stem",
    "tidy_numbers",
    "write_area_csvs",
    "write_area_handouts",
    "write_csv",
    "write_hot_streets",
    "write_manifest",
]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def safe_file_stem(text: str) -> str:
    """Return ``text`` as a file name safe on every operating system.

    Parameters
    ----------
    text
        An area code or name from the data.

    Returns
    -------
    str
        Letters, digits, ``.``, ``_`` and ``-`` only; never empty, never a Windows device
        name, at most 100 characters.

    Examples
    --------
    >>> safe_file_stem("../St. James's / Soho")
    'St._James_s_Soho'
    """
    stem = re.sub(r"_+", "_", _SAFE.sub("_", text)).strip("._")[:100] or "area"
    return f"_{stem}" if stem.upper() in _WINDOWS_RESERVED else stem


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a CSV the same way every time (UTF-8, LF line ends, no index, formulas inert).

    Every text cell and header that a spreadsheet would run as a formula gets a leading
    single quote (:func:`neutralise_formulas`); every CSV the tool writes goes through here.
    """
    neutralise_formulas(df).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return path


def read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV the tool wrote, with the quotes :func:`write_csv` added to formulas removed.

    Parameters
    ----------
    path
        A CSV of a run folder (``hot_streets.csv``, ``areas.csv``, ``wards/*.csv``, ...).
    **kwargs
        Passed to :func:`pandas.read_csv` (``dtype``, ``usecols``, ...).

    Returns
    -------
    pandas.DataFrame
        The table as the run held it: a text cell or header written as ``'=1+1`` reads back
        as ``=1+1``, so pages built from the run folder show the source's own text (and a
        hand-out written from it is neutralised again on the way out).
    """
    return restore_formulas(pd.read_csv(path, **kwargs))


def restore_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with the quote that :func:`neutralise_formulas` adds taken off again.

    Examples
    --------
    >>> restore_formulas(pd.DataFrame({"s": ["'=HYPERLINK(1)", "'plain"], "'=1+1": [1, 2]}))
    ... # doctest: +NORMALIZE_WHITESPACE
                  s  =1+1
    0  =HYPERLINK(1)     1
    1        'plain      2
    """
    out = df.copy(deep=False)
    for i, dtype in enumerate(df.dtypes):
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            continue
        column = df.iloc[:, i]
        quoted = column.str.startswith("'", na=False).astype(bool)
        if not quoted.any():
            continue
        rest = column[quoted].str.slice(1)
        formula = rest.map(_is_formula).astype(bool)
        if formula.any():
            fixed = column.astype(object).copy()
            fixed[rest[formula].index] = rest[formula]
            out.isetitem(i, fixed)
    if any(_is_quoted_formula(c) for c in df.columns):
        out.columns = [c[1:] if _is_quoted_formula(c) else c for c in df.columns]
    return out


def _is_quoted_formula(name: Any) -> bool:
    return isinstance(name, str) and name.startswith("'") and _is_formula(name[1:])


def write_hot_streets(hot: gpd.GeoDataFrame, out_dir: Path) -> list[Path]:
    """Write ``hot_streets.csv`` (no geometry) and ``hot_streets.gpkg`` (layer ``hot_streets``).

    Parameters
    ----------
    hot
        From :func:`hotspots.analysis.rank.rank_streets`.
    out_dir
        The run folder.

    Returns
    -------
    list of pathlib.Path
        The two files written.
    """
    csv = write_csv(pd.DataFrame(hot.drop(columns="geometry")), out_dir / runfolder.HOT_STREETS_CSV)
    gpkg = out_dir / "hot_streets.gpkg"
    hot.to_file(gpkg, layer="hot_streets", driver="GPKG", engine="pyogrio")
    return [csv, gpkg]


def write_area_csvs(lists: Mapping[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write one ranked list per area as ``<out_dir>/<stem>.csv`` (stem: ``area_file_stem``).

    Parameters
    ----------
    lists
        From :func:`hotspots.analysis.rank.area_lists`.
    out_dir
        Folder to write into (created).

    Returns
    -------
    list of pathlib.Path
        Files written, in area-code order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(df, out_dir / f"{area_file_stem(code)}.csv") for code, df in sorted(lists.items())
    ]


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file (folders: of their sorted files' digests)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def accounting(kept: pd.DataFrame, rejected: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Return rows read, kept and rejected (by reason) per input file.

    Parameters
    ----------
    kept
        Final kept crimes with ``source_file``.
    rejected
        Rejected rows with ``source_file`` and ``reason``.

    Returns
    -------
    dict
        File -> ``{"read", "kept", "rejected": {reason: count}}``, with read = kept +
        the sum of rejected, by construction from the two tables.
    """
    k = kept["source_file"].value_counts()
    r = rejected.groupby(["source_file", "reason"]).size()
    files = sorted(set(k.index) | set(rejected["source_file"]))
    out = {}
    for f in files:
        rej = {str(reason): int(n) for (ff, reason), n in r.items() if ff == f}
        nk = int(k.get(f, 0))
        out[str(f)] = {
            "read": nk + sum(rej.values()),
            "kept": nk,
            "rejected": dict(sorted(rej.items())),
        }
    return out


def write_manifest(manifest: Mapping[str, Any], out_dir: Path) -> Path:
    """Write ``run.json`` (indented, keys in the order given).

    Parameters
    ----------
    manifest
        JSON-serialisable run description.
    out_dir
        The run folder.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = out_dir / runfolder.RUN_JSON
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# hand-out exports for ward teams

#: Internal column -> heading a ward team understands, in hand-out order. Columns a run does
#: not have are left out; crime-type counts follow "Crimes".
HANDOUT_HEADINGS: dict[str, str] = {
    "area_rank": "Rank in ward",
    "street": "Street",
    "extent": "From / to",
    "basis": "Based on",
    "crimes": "Crimes",
    "crimes_per_100m": "Crimes per 100 m",
    "harm": "Harm (CCHI days)",
    "area_harm_rank": "Harm rank in ward list",
    "rank_by_harm": "Harm rank (all streets)",
    "repeat_callers_24h": "Repeat callers (24 hours)",
    "repeat_callers_6m": "Repeat callers (6 months)",
    "length_m": "Length (m)",
    "trend_class": "Trend",
    "trend_direction": "Direction (monthly test)",
    "significance": "Significance (Gi*)",
    "cluster_id": "Cluster",
    "patrol_window": "Patrol window",
    "peak_months": "Peak months",
    "lat": "Centre latitude",
    "lon": "Centre longitude",
    "map_link": "Map link",
    "osm_link": "OpenStreetMap",
    "segment_ids": "Segment ids",
}
#: Hand-out columns holding whole numbers (written as integers, never ``121.0``).
HANDOUT_INTEGERS: tuple[str, ...] = (
    "area_rank",
    "rank",
    "crimes",
    "segment_count",
    "cluster_id",
    "harm",
    "area_harm_rank",
    "rank_by_harm",
    "length_m",
    "repeat_callers_24h",
    "repeat_callers_6m",
)
#: Hand-out columns rounded to a number of decimals (rates and coordinates).
HANDOUT_DECIMALS: dict[str, int] = {"crimes_per_100m": 1, "lat": 5, "lon": 5}
#: Zoom of the OpenStreetMap link written beside each row's map link.
OSM_ZOOM = 18
#: Widest column of the XLSX hand-out (characters); longer text wraps or is cut off on screen.
XLSX_MAX_WIDTH = 50
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _is_formula(text: str) -> bool:
    return text.startswith(_FORMULA_START) and re.fullmatch(_NUMBER, text) is None


def _neutralise_text(s: pd.Series) -> pd.Series:
    """Prefix ``'`` to the text cells of ``s`` that start like a formula (not plain numbers)."""
    if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "mixed", "mixed-integer"):
        return s
    first = s.str.startswith(_FORMULA_START, na=False).astype(bool)
    if not first.any():
        return s
    bad = first & ~s.str.fullmatch(_NUMBER, na=False).astype(bool)
    out = s.astype(object).copy()
    out[bad] = "'" + s[bad].astype(str)
    return out


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with every text cell and header a spreadsheet would run as a formula inert.

    Parameters
    ----------
    df
        Any table.

    Returns
    -------
    pandas.DataFrame
        A shallow copy in which every text cell and column name starting with ``=``, ``+``,
        ``-``, ``@``, tab or carriage return is prefixed with a single quote (the OWASP
        CSV-injection rule), unless it is a plain number written as text (``-0.12``).
        Numbers are left alone; a cell neutralised once is not changed again.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"s": ["=HYPERLINK(1)", "-0.5"], "=1+1": [-1, 2]}))
    ... # doctest: +NORMALIZE_WHITESPACE
                   s  '=1+1
    0  '=HYPERLINK(1)     -1
    1           -0.5      2
    """
    out = df.copy(deep=False)
    for i, dtype in enumerate(df.dtypes):
        column = df.iloc[:, i]
        if isinstance(dtype, pd.CategoricalDtype):  # e.g. area names: text behind codes
            categories = pd.Series(dtype.categories)
            if _neutralise_text(categories) is categories:
                continue
            column = column.astype(object)
        if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
            fixed = _neutralise_text(column)
            if fixed is not column:
                out.isetitem(i, fixed)
    if any(isinstance(c, str) and _is_formula(c) for c in df.columns):
        out.columns = [f"'{c}" if isinstance(c, str) and _is_formula(c) else c for c in df.columns]
    return out


def _handout_table(
    lists: pd.DataFrame, type_names: Mapping[str, str], *, map_links: pd.Series | None = None
) -> pd.DataFrame:
    """Return a ward list as a hand-out: chosen columns, headings, tidy numbers, links.

    ``map_links`` replaces the list's ``map_link`` (relative to the hand-out folder); an
    OpenStreetMap link at each row's centre and the harm rank within the list are added.
    """
    lists = lists.copy()
    if map_links is not None and "map_link" in lists.columns:
        lists["map_link"] = map_links.to_numpy()
    if {"lat", "lon"} <= set(lists.columns):
        lists["osm_link"] = [
            osm_link(lat, lon) for lat, lon in zip(lists["lat"], lists["lon"], strict=True)
        ]
    if "harm" in lists.columns:
        harm = pd.to_numeric(lists["harm"], errors="coerce")
        lists["area_harm_rank"] = (-harm).rank(method="min").astype("Int64")
    keep = [c for c in HANDOUT_HEADINGS if c in lists.columns]
    type_cols = [c for c in lists.columns if c in type_names]
    pos = keep.index("crimes") + 1 if "crimes" in keep else len(keep)
    cols = keep[:pos] + type_cols + keep[pos:]
    headings = {**HANDOUT_HEADINGS, **{c: f"{type_names[c]}" for c in type_cols}}
    table = tidy_numbers(
        lists[cols], integers=[*HANDOUT_INTEGERS, *type_cols], decimals=HANDOUT_DECIMALS
    )
    return table.rename(columns=headings)


def tidy_numbers(
    table: pd.DataFrame, *, integers: Sequence[str], decimals: Mapping[str, int]
) -> pd.DataFrame:
    """Return ``table`` with whole-number columns as integers and other columns rounded.

    Parameters
    ----------
    table
        Any table (not changed).
    integers
        Columns rounded to whole numbers and stored as nullable integers (``Int64``), so a
        column with gaps prints ``121``, not ``121.0``. Missing names are skipped.
    decimals
        Column -> decimals to round to. Missing names are skipped.

    Returns
    -------
    pandas.DataFrame
        A copy; columns that are not numbers are left alone.

    Examples
    --------
    >>> t = pd.DataFrame({"id": [121.0, None], "rate": [1539.171, 2.04]})
    >>> tidy_numbers(t, integers=["id"], decimals={"rate": 1}).to_csv(index=False).split()
    ['id,rate', '121,1539.2', ',2.0']
    """
    out = table.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col].dtype) or pd.api.types.is_bool_dtype(
            out[col].dtype
        ):
            continue
        if col in integers:
            out[col] = out[col].astype("Float64").round(0).astype("Int64")
        elif col in decimals:
            out[col] = out[col].round(decimals[col])
    return out


def osm_link(lat: float, lon: float, *, zoom: int = OSM_ZOOM) -> str:
    """Return an OpenStreetMap address with a marker at (``lat``, ``lon``).

    The link works wherever the hand-out goes (mailed alone, printed), unlike a link to the
    run folder's maps. Missing coordinates give an empty string.

    Examples
    --------
    >>> osm_link(49.2828161, -123.1186092)
    'https://www.openstreetmap.org/?mlat=49.28282&mlon=-123.11861#map=18/49.28282/-123.11861'
    """
    if pd.isna(lat) or pd.isna(lon):
        return ""
    at = f"{lat:.5f}", f"{lon:.5f}"
    return f"https://www.openstreetmap.org/?mlat={at[0]}&mlon={at[1]}#map={zoom}/{at[0]}/{at[1]}"


def _relative_map_links(links: pd.Series, run: Path, out: Path) -> pd.Series:
    """Return each list's ``map_link`` (relative to ``wards/``) relative to ``out`` instead.

    A link whose map page the run did not write is left empty (it could only break).
    """
    base = (run / runfolder.WARDS_DIR).resolve()
    out_abs = out.resolve()
    fixed: list[str] = []
    for link in links:
        if not isinstance(link, str) or not link:
            fixed.append("")
            continue
        page, _, place = link.partition("#")
        target = Path(os.path.normpath(base / page))
        if not target.is_file():
            fixed.append("")
            continue
        rel = Path(os.path.relpath(target, out_abs)).as_posix()
        fixed.append(f"{rel}#{place}" if place else rel)
    return pd.Series(fixed, index=links.index, dtype=object)


def read_run(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Return a run folder's manifest and area table (``run.json``, ``areas.csv``).

    Parameters
    ----------
    run_dir
        A folder written by ``hotspots run``.

    Returns
    -------
    manifest, areas
        The parsed ``run.json`` and ``areas.csv``.

    Raises
    ------
    InputDataError
        If the folder is not a complete run folder.
    """
    need = (runfolder.RUN_JSON, runfolder.AREAS_CSV, runfolder.WARDS_DIR)
    missing = [n for n in need if not (run_dir / n).exists()]
    if missing:
        msg = (
            f"{run_dir} is not a complete run folder (missing {missing}); run `hotspots run` first"
        )
        raise InputDataError(msg)
    manifest = json.loads((run_dir / runfolder.RUN_JSON).read_text(encoding="utf-8"))
    areas = read_csv(run_dir / runfolder.AREAS_CSV, dtype={"area_code": str})
    return manifest, areas


def _header_rows(area: pd.Series, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    period = manifest.get("period", {})
    borough = next(
        (str(area[c]) for c in ("borough", "borough_name") if c in area and pd.notna(area[c])), ""
    )
    rows = [("Ward", f"{area['area_name']} ({area['area_code']})")]
    if borough:
        rows.append(("Borough", borough))
    rows += [
        ("Period", f"{period.get('first_month', '?')} to {period.get('last_month', '?')}"),
        ("Data source", str(manifest.get("data_source", ""))),
        ("Run date", str(manifest.get("created", ""))[:10]),
    ]
    if manifest.get("backtest"):
        rows.append(("Backtest", str(manifest["backtest"]["text"])))
    return rows


def write_area_handouts(
    run_dir: str | Path,
    *,
    codes: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    wait: bool = False,
) -> list[Path]:
    """Write each area's ranked list as a hand-out CSV and XLSX, from an existing run folder.

    Parameters
    ----------
    run_dir
        A folder written by ``hotspots run`` (nothing is recomputed).
    codes
        Area codes to write; all areas with a list when None.
    out_dir
        Where to write; ``<run_dir>/exports`` by default.
    wait
        If another run holds the lock of the run folder (or of ``out_dir``), wait for it.

    Returns
    -------
    list of pathlib.Path
        The files written: ``<stem>_<name>.csv`` and ``.xlsx`` per area, ``<stem>`` from
        :func:`hotspots.runfolder.area_file_stem` (distinct per code on every operating
        system). Each starts with a header block (ward, borough, period, data source, run
        date); every text cell and heading that a spreadsheet would run as a formula is
        neutralised (a leading quote; in the XLSX, also stored as text).

    Raises
    ------
    InputDataError
        If the folder is not a run folder or a requested code has no list.
    """
    run = Path(run_dir)
    manifest, areas = read_run(run)
    lists = run / runfolder.WARDS_DIR
    available = {p.stem: p for p in lists.glob("*.csv")}
    listed = {c: _list_stem(c, available) for c in areas["area_code"].astype(str)}
    wanted = list(codes) if codes else sorted(c for c, s in listed.items() if s is not None)
    unknown = [c for c in wanted if _list_stem(c, available) is None]
    if unknown:
        msg = (
            f"no area list for {unknown} in {lists}; "
            f"choose from {sorted(c for c, s in listed.items() if s)[:10]}..."
        )
        raise InputDataError(msg)
    out = Path(out_dir) if out_dir else run / runfolder.EXPORTS_DIR
    type_names = manifest.get("crime_type_columns", {})
    by_code = areas.set_index("area_code")
    written: list[Path] = []
    with runfolder.staged_files(out, lock=None if out_dir else run, wait=wait) as tmp:
        for code in wanted:
            stem = area_file_stem(code)
            table = read_csv(available[str(_list_stem(code, available))], dtype={"area_code": str})
            area = (
                by_code.loc[code].copy()
                if code in by_code.index
                else pd.Series({"area_name": code})
            )
            area["area_code"] = code
            name = f"{stem}_{safe_file_stem(str(area['area_name']))}"
            links = (
                _relative_map_links(table["map_link"], run, out)
                if "map_link" in table.columns
                else None
            )
            handout = _handout_table(table, type_names, map_links=links)
            header = _header_rows(area, manifest)
            _write_handout_csv(handout, header, tmp / f"{name}.csv")
            _write_handout_xlsx(handout, header, tmp / f"{name}.xlsx")
            written += [out / f"{name}.csv", out / f"{name}.xlsx"]
    return written


def _list_stem(code: str, available: Mapping[str, Path]) -> str | None:
    """Return the stem of ``code``'s list among ``available``: today's name, else the old one.

    Run folders written before :func:`hotspots.runfolder.area_file_stem` named every list
    ``safe_file_stem(code)``; codes with lower-case letters or unsafe characters now carry a
    hash, so an old folder is still exported (an old name only if the file lists ``code``).
    """
    if area_file_stem(code) in available:
        return area_file_stem(code)
    old = safe_file_stem(code)
    if old not in available:
        return None
    held = pd.read_csv(available[old], usecols=["area_code"], dtype={"area_code": str})
    return old if set(held["area_code"]) == {code} else None  # never another code's list


def _write_handout_csv(table: pd.DataFrame, header: list[tuple[str, str]], path: Path) -> Path:
    head = neutralise_formulas(pd.DataFrame(header))
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads UTF-8
        head.to_csv(fh, index=False, header=False, lineterminator="\n")
        fh.write("\n")
        neutralise_formulas(table).to_csv(fh, index=False, lineterminator="\n")
    return path


def _write_handout_xlsx(table: pd.DataFrame, header: list[tuple[str, str]], path: Path) -> Path:
    """Write the XLSX hand-out: header block, then the table with a filter on its headings.

    Links are real hyperlinks (the map page relative to the hand-out, and OpenStreetMap);
    whole numbers are integer cells; columns get widths from their contents.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "Hot streets"
    head = neutralise_formulas(pd.DataFrame(header, columns=["label", "value"]))
    row_no = 0  # rows counted here: ws.max_row scans every cell on each call
    for label, value in zip(head["label"], head["value"], strict=True):
        row_no += 1
        _text_cell(ws.cell(row_no, 1), label)
        ws.cell(row_no, 1).font = Font(bold=True)
        _text_cell(ws.cell(row_no, 2), value)
    body = neutralise_formulas(table)
    top = row_no + 2  # one empty row, then the headings
    for j, heading in enumerate(body.columns, start=1):
        cell = ws.cell(top, j)
        _text_cell(cell, str(heading))  # headings from data: never formulas
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    links = {
        j
        for j, c in enumerate(table.columns, start=1)
        if c in (HANDOUT_HEADINGS["map_link"], HANDOUT_HEADINGS["osm_link"])
    }
    formats = _number_formats(table)
    row_no = top
    for row in body.itertuples(index=False):
        row_no += 1
        for j, v in enumerate(row, start=1):
            if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
                continue
            cell = ws.cell(row_no, j)
            _text_cell(cell, v)
            if j in links and isinstance(v, str) and v:
                _link_cell(cell, v)
            elif j in formats:
                cell.number_format = formats[j]
    lines = 1
    for j, heading in enumerate(body.columns, start=1):
        width = _column_width(str(heading), body.iloc[:, j - 1])
        ws.column_dimensions[get_column_letter(j)].width = width
        lines = max(lines, -(-len(str(heading)) // int(width - 1)))
    ws.row_dimensions[top].height = 15 * lines
    last = get_column_letter(max(len(body.columns), 1))
    ws.auto_filter.ref = f"A{top}:{last}{row_no}"
    ws.freeze_panes = ws.cell(top + 1, 3)
    wb.save(path)
    return path


def _number_formats(table: pd.DataFrame) -> dict[int, str]:
    """Return column number -> Excel number format for the integer and rounded columns."""
    formats: dict[int, str] = {}
    for j, col in enumerate(table.columns, start=1):
        dtype = table[col].dtype
        if pd.api.types.is_integer_dtype(dtype):
            formats[j] = "0"
        elif pd.api.types.is_float_dtype(dtype):
            key = next((k for k, h in HANDOUT_HEADINGS.items() if h == col), "")
            places = HANDOUT_DECIMALS.get(key)
            if places is not None:
                formats[j] = "0." + "0" * places if places else "0"
    return formats


def _column_width(heading: str, values: pd.Series) -> float:
    """Return a column width (characters) from its longest value and longest heading word."""
    texts = values.dropna().astype(str)
    longest = int(texts.str.len().max()) if len(texts) else 0
    word = max((len(w) for w in heading.split()), default=0)
    return float(min(max(longest, word, min(len(heading), 14), 6) + 2, XLSX_MAX_WIDTH))


def _link_cell(cell: Any, target: str) -> None:
    """Make ``cell`` a hyperlink to ``target`` (a web address, or a file with ``#place``).

    A file link is stored as the target plus a location, the form in which a spreadsheet
    resolves a relative path against the workbook's own folder and keeps the ``#place``.
    """
    from openpyxl.worksheet.hyperlink import Hyperlink

    if target.startswith(("http://", "https://")):
        cell.hyperlink = Hyperlink(ref=cell.coordinate, target=target)
    else:
        page, _, place = target.partition("#")
        cell.hyperlink = Hyperlink(ref=cell.coordinate, target=page, location=place or None)
    cell.style = "Hyperlink"


def _text_cell(cell: Any, value: Any) -> None:
    """Set a cell; text is always stored as text, never as a formula."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value.item() if hasattr(value, "item") else value
