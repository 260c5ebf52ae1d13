"""Write results to disk: hot streets, per-area lists, rejected rows and the run manifest."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


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
    stem = _SAFE.sub("_", text).strip("._")[:100] or "area"
    return f"_{stem}" if stem.upper() in _WINDOWS_RESERVED else stem


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a CSV the same way every time (UTF-8, ``\\n`` line ends, no index)."""
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
    return [write_csv(df, out_dir / f"{safe_file_stem(code)}.csv") for code, df in sorted(lists.items())]


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
        out[str(f)] = {"read": nk + sum(rej.values()), "kept": nk, "rejected": dict(sorted(rej.items()))}
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
