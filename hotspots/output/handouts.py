"""Hand-outs for ward teams: each area's list as a CSV and an XLSX with a header block."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots import runfolder
from hotspots.errors import InputDataError
from hotspots.output.export import read_csv, read_run, safe_file_stem
from hotspots.output.formulas import neutralise_formulas
from hotspots.output.xlsx import write_table_xlsx
from hotspots.runfolder import area_file_stem

__all__ = [
    "HANDOUT_DECIMALS",
    "HANDOUT_HEADINGS",
    "HANDOUT_INTEGERS",
    "OSM_ZOOM",
    "handout_table",
    "osm_link",
    "tidy_numbers",
    "write_area_handouts",
]

#: Internal column -> heading a ward team understands, in hand-out order. Columns a run does
#: not have are left out; crime-type counts follow "Crimes".
HANDOUT_HEADINGS: dict[str, str] = {
    "area_rank": "Rank in ward",
    "forecast_rank": "Rank in next month's list",
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
    "forecast_rank",
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


def handout_table(
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
    if manifest.get("forecast"):
        rows.append(("Next month's list", str(manifest["forecast"].get("text", ""))))
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
            handout = handout_table(table, type_names, map_links=links)
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
    """Write the XLSX hand-out: map and OpenStreetMap links as hyperlinks, rounded numbers."""
    return write_table_xlsx(
        table,
        header,
        path,
        links=(HANDOUT_HEADINGS["map_link"], HANDOUT_HEADINGS["osm_link"]),
        decimals={HANDOUT_HEADINGS[k]: v for k, v in HANDOUT_DECIMALS.items()},
    )
