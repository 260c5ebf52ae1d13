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

from hotspots import runfolder
from hotspots.errors import InputDataError
from hotspots.output.formulas import neutralise_formulas, restore_formulas
from hotspots.runfolder import area_file_stem

__all__ = [
    "accounting",
    "file_sha256",
    "neutralise_formulas",
    "read_csv",
    "read_run",
    "restore_formulas",
    "safe_file_stem",
    "with_forecast_rank",
    "write_area_csvs",
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


def write_area_csvs(
    lists: Mapping[str, pd.DataFrame],
    out_dir: Path,
    *,
    forecast_streets: pd.DataFrame | None = None,
) -> list[Path]:
    """Write one ranked list per area as ``<out_dir>/<stem>.csv`` (stem: ``area_file_stem``).

    Parameters
    ----------
    lists
        From :func:`hotspots.analysis.rank.area_lists`.
    out_dir
        Folder to write into (created).
    forecast_streets
        Next month's list by street and area (``street``, ``area_code``, ``forecast_rank``,
        from :func:`hotspots.evaluate.forecast.forecast_streets`); when given, each list gains
        a last column ``forecast_rank`` (the street's place in next month's list, empty when
        it is not on it).

    Returns
    -------
    list of pathlib.Path
        Files written, in area-code order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ranks = None if forecast_streets is None else _forecast_ranks(forecast_streets)
    tables = {
        code: df if ranks is None else _with_ranks(df, ranks) for code, df in sorted(lists.items())
    }
    # lists of the same columns and types are made safe and formatted together, then cut
    # into their files: the same bytes as one write_csv each, without its per-call cost
    # (thousands of small lists, e.g. LSOAs)
    alike: dict[tuple[Any, ...], list[str]] = {}
    for code, df in tables.items():
        alike.setdefault((tuple(df.columns), tuple(df.dtypes)), []).append(code)
    paths = {code: out_dir / f"{area_file_stem(code)}.csv" for code in tables}
    for codes in alike.values():
        _write_alike([tables[c] for c in codes], [paths[c] for c in codes])
    return list(paths.values())


def _write_alike(tables: Sequence[pd.DataFrame], paths: Sequence[Path]) -> None:
    """Write tables of the same columns and types as :func:`write_csv` would, one per path."""
    # dates print by column (no time of day when every value is at midnight): not batched
    dates = any(getattr(d, "kind", "") in "mM" for d in tables[0].dtypes)
    if len(tables) == 1 or dates:
        for table, path in zip(tables, paths, strict=True):
            write_csv(table, path)
        return
    both = pd.concat(tables, ignore_index=True)
    lines = neutralise_formulas(both).to_csv(index=False, lineterminator="\n").split("\n")
    if len(lines) != len(both) + 2:  # a cell holds a line break: one file at a time
        for table, path in zip(tables, paths, strict=True):
            write_csv(table, path)
        return
    start = 1
    for table, path in zip(tables, paths, strict=True):
        rows = lines[start : start + len(table)]
        start += len(table)
        path.write_bytes(("\n".join([lines[0], *rows]) + "\n").encode("utf-8"))


def with_forecast_rank(table: pd.DataFrame, forecast_streets: pd.DataFrame) -> pd.DataFrame:
    """Return an area list with ``forecast_rank`` appended (matched on street and area code).

    Examples
    --------
    >>> lst = pd.DataFrame({"street": ["A St", "B Rd"], "area_code": ["E1", "E1"]})
    >>> fc = pd.DataFrame({"street": ["B Rd"], "area_code": ["E1"], "forecast_rank": [3]})
    >>> with_forecast_rank(lst, fc)["forecast_rank"].tolist()
    [<NA>, 3]
    """
    return _with_ranks(table, _forecast_ranks(forecast_streets))


_RANK_KEYS = ["street", "area_code"]


def _forecast_ranks(forecast_streets: pd.DataFrame) -> pd.Series:
    """Return next month's ranks indexed by (street, area code), made once for every list."""
    keyed = forecast_streets.astype({"street": str, "area_code": str}).set_index(_RANK_KEYS)
    return keyed["forecast_rank"]


def _with_ranks(table: pd.DataFrame, ranks: pd.Series) -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays([table[k].astype(str) for k in _RANK_KEYS])
    return table.assign(forecast_rank=ranks.reindex(index).astype("Int64").array)


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
    manifest = runfolder.read_manifest(run_dir)
    areas = read_csv(run_dir / runfolder.AREAS_CSV, dtype={"area_code": str})
    return manifest, areas
