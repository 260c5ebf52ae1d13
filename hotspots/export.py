"""Write results to disk: hot streets, per-area lists, rejected rows and the run manifest."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from hotspots.errors import InputDataError

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
    """Write a CSV the same way every time (UTF-8, LF line ends, no index)."""
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return path


def write_hot_streets(hot: gpd.GeoDataFrame, out_dir: Path) -> list[Path]:
    """Write ``hot_streets.csv`` (no geometry) and ``hot_streets.gpkg`` (layer ``hot_streets``).

    Parameters
    ----------
    hot
        From :func:`hotspots.rank.rank_streets`.
    out_dir
        The run folder.

    Returns
    -------
    list of pathlib.Path
        The two files written.
    """
    csv = write_csv(pd.DataFrame(hot.drop(columns="geometry")), out_dir / "hot_streets.csv")
    gpkg = out_dir / "hot_streets.gpkg"
    hot.to_file(gpkg, layer="hot_streets", driver="GPKG", engine="pyogrio")
    return [csv, gpkg]


def write_area_csvs(lists: Mapping[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write one ranked list per area as ``<out_dir>/<area_code>.csv``.

    Parameters
    ----------
    lists
        From :func:`hotspots.rank.area_lists`.
    out_dir
        Folder to write into (created).

    Returns
    -------
    list of pathlib.Path
        Files written, in area-code order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(df, out_dir / f"{safe_file_stem(code)}.csv") for code, df in sorted(lists.items())
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
    path = out_dir / "run.json"
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
    "segment_ids": "Segment ids",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with text cells that a spreadsheet would run as a formula made inert.

    Parameters
    ----------
    df
        Any table.

    Returns
    -------
    pandas.DataFrame
        A copy in which every text cell starting with ``=``, ``+``, ``-``, ``@``, tab or
        carriage return is prefixed with a single quote (the OWASP CSV-injection rule).
        Numbers are left alone.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"s": ["=HYPERLINK(1)", "High St"], "n": [-1, 2]}))
    ... # doctest: +NORMALIZE_WHITESPACE
                   s  n
    0  '=HYPERLINK(1)  -1
    1        High St  2
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col]
            bad = s.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
            out[col] = s.where(~bad, "'" + s.astype(str))
    return out


def _handout_table(lists: pd.DataFrame, type_names: Mapping[str, str]) -> pd.DataFrame:
    keep = [c for c in HANDOUT_HEADINGS if c in lists.columns]
    type_cols = [c for c in lists.columns if c in type_names]
    pos = keep.index("crimes") + 1 if "crimes" in keep else len(keep)
    cols = keep[:pos] + type_cols + keep[pos:]
    headings = {**HANDOUT_HEADINGS, **{c: f"{type_names[c]}" for c in type_cols}}
    return lists[cols].rename(columns=headings)


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
    missing = [n for n in ("run.json", "areas.csv", "wards") if not (run_dir / n).exists()]
    if missing:
        msg = (
            f"{run_dir} is not a complete run folder (missing {missing}); run `hotspots run` first"
        )
        raise InputDataError(msg)
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    areas = pd.read_csv(run_dir / "areas.csv", dtype={"area_code": str})
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
    run_dir: str | Path, *, codes: Sequence[str] | None = None, out_dir: str | Path | None = None
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

    Returns
    -------
    list of pathlib.Path
        The files written: ``<code>_<name>.csv`` and ``.xlsx`` per area (names made safe for
        every operating system). Each starts with a header block (ward, borough, period,
        data source, run date); text cells that a spreadsheet would run as a formula are
        neutralised (CSV: a leading quote; XLSX: stored as text).

    Raises
    ------
    InputDataError
        If the folder is not a run folder or a requested code has no list.
    """
    run = Path(run_dir)
    manifest, areas = read_run(run)
    available = {p.stem: p for p in (run / "wards").glob("*.csv")}
    wanted = list(codes) if codes else sorted(available)
    unknown = [c for c in wanted if safe_file_stem(c) not in available]
    if unknown:
        msg = f"no area list for {unknown} in {run / 'wards'}; choose from {sorted(available)[:10]}..."
        raise InputDataError(msg)
    out = Path(out_dir) if out_dir else run / "exports"
    out.mkdir(parents=True, exist_ok=True)
    type_names = manifest.get("crime_type_columns", {})
    by_code = areas.set_index("area_code")
    written: list[Path] = []
    for code in wanted:
        table = pd.read_csv(available[safe_file_stem(code)], dtype={"area_code": str})
        area = by_code.loc[code].copy() if code in by_code.index else pd.Series({"area_name": code})
        area["area_code"] = code
        stem = safe_file_stem(f"{code}_{area['area_name']}")
        handout = _handout_table(table, type_names)
        header = _header_rows(area, manifest)
        written.append(_write_handout_csv(handout, header, out / f"{stem}.csv"))
        written.append(_write_handout_xlsx(handout, header, out / f"{stem}.xlsx"))
    return written


def _write_handout_csv(table: pd.DataFrame, header: list[tuple[str, str]], path: Path) -> Path:
    head = neutralise_formulas(pd.DataFrame(header))
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads UTF-8
        head.to_csv(fh, index=False, header=False, lineterminator="\n")
        fh.write("\n")
        neutralise_formulas(table).to_csv(fh, index=False, lineterminator="\n")
    return path


def _write_handout_xlsx(table: pd.DataFrame, header: list[tuple[str, str]], path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Hot streets"
    for label, value in header:
        ws.append([label, None])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        _text_cell(ws.cell(ws.max_row, 2), value)
    ws.append([])
    ws.append(list(table.columns))
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for row in table.itertuples(index=False):
        ws.append([None] * len(row))
        for j, v in enumerate(row, start=1):
            _text_cell(ws.cell(ws.max_row, j), v)
    ws.freeze_panes = ws.cell(len(header) + 3, 3)
    wb.save(path)
    return path


def _text_cell(cell: Any, value: Any) -> None:
    """Set a cell; text is always stored as text, never as a formula."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value.item() if hasattr(value, "item") else value
