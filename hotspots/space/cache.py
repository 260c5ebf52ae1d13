"""Street segments kept on disk per street file, so a monthly rerun skips rebuilding them.

A cached table is a GeoParquet file named by a SHA-256 key of everything the segments depend
on: the street file's bytes, the parameters (``max_length_m``, target CRS, column and layer
choices) and the source of the code that builds them. A changed file, parameter or
hotspots version therefore misses the cache and the segments are built afresh.

Beside them, the segments' areas (:func:`cached_segment_areas`): a row of the area layer
per segment, keyed by the segments' key, the areas' codes, names and geometries and the
code that assigns them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyproj
import shapely

from hotspots.read import layers
from hotspots.read.layers import read_streets
from hotspots.space import crs as _crs
from hotspots.space import locations, nearest, segments, snap

__all__ = [
    "CACHE_ENV",
    "cache_dir",
    "cached_segment_areas",
    "cached_segments",
    "file_sha256",
    "log_hit",
    "peek_segments",
    "segments_file",
    "segments_key",
    "source_digest",
    "write_atomically",
]

log = logging.getLogger("hotspots")

#: Environment variable naming the cache folder (default ``~/.cache/hotspots``).
CACHE_ENV = "HOTSPOTS_CACHE"

#: Bump when the layout of a cached file changes.
_LAYOUT = 1

#: Modules whose source decides what the segments are; a change to one misses the cache.
_CODE = (segments, layers, _crs)

#: Modules whose source decides which area a segment is in.
_AREAS_CODE = (snap, locations, nearest)


def cache_dir() -> Path:
    """Return the cache folder: ``$HOTSPOTS_CACHE`` if set, else ``~/.cache/hotspots``.

    Returns
    -------
    pathlib.Path
        The folder (created when something is first written to it).
    """
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hotspots"


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes.

    Parameters
    ----------
    path
        Any file.

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    with Path(path).open("rb") as fh:  # read into one reused buffer (no new block a read)
        return hashlib.file_digest(fh, "sha256").hexdigest()


def segments_key(
    path: str | Path,
    *,
    max_length_m: float,
    crs: Any,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
) -> str:
    """Return the cache key of the segments built from one street file with given options.

    Parameters
    ----------
    path
        The street file.
    max_length_m, crs, name_col, id_col, layer
        As in :func:`cached_segments`.

    Returns
    -------
    str
        SHA-256 hex digest of the file's digest, the options and the building code.
    """
    parts = {
        "layout": _LAYOUT,
        "file": file_sha256(path),
        "max_length_m": repr(float(max_length_m)),
        "crs": pyproj.CRS.from_user_input(crs).to_wkt(),
        "name_col": name_col,
        "id_col": id_col,
        "layer": layer,
        "code": [source_digest(m) for m in _CODE],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def source_digest(module: Any) -> str:
    """Return the SHA-256 hex digest of a module's source file (its name if it has none).

    Part of a cache key: a change to the code that builds an entry misses the cache.
    """
    path = Path(str(getattr(module, "__file__", "")))
    return file_sha256(path) if path.is_file() else str(getattr(module, "__name__", module))


def cached_segments(
    path: str | Path,
    *,
    max_length_m: float = segments.DEFAULT_MAX_LENGTH_M,
    crs: Any,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
    cache: str | Path | None = None,
    refresh: bool = False,
    quiet: bool = False,
) -> gpd.GeoDataFrame:
    """Return the street segments of a street file, from the cache when it holds them.

    The same as :func:`hotspots.read.layers.read_streets`, then
    :func:`hotspots.space.crs.to_metric_crs` to ``crs``, then
    :func:`hotspots.space.segments.lines_to_segments`; the result is stored as GeoParquet under
    ``cache`` and returned from there by later calls with the same file and options.

    Parameters
    ----------
    path
        The street line file.
    max_length_m
        Longest segment in metres (as in :func:`hotspots.space.segments.lines_to_segments`).
    crs
        The run's projected CRS (metres).
    name_col, id_col, layer
        As in :func:`hotspots.read.layers.read_streets`.
    cache
        Cache folder; default :func:`cache_dir` (``$HOTSPOTS_CACHE`` or
        ``~/.cache/hotspots``). Segments go in its ``segments`` subfolder.
    refresh
        If True, rebuild and overwrite the cached copy.
    quiet
        If True, do not log hits, misses and the steps of a rebuild.

    Returns
    -------
    geopandas.GeoDataFrame
        Exactly what the uncached steps return (columns, dtypes, order, CRS).

    Raises
    ------
    InputDataError
        If the street file cannot be read (see :func:`hotspots.read.layers.read_streets`).
    CRSMismatchError
        If ``crs`` is not a projected CRS in metres.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> one = cached_segments(get_path("london_streets_central"), crs="EPSG:27700",
    ...                       cache=folder, quiet=True)
    >>> two = cached_segments(get_path("london_streets_central"), crs="EPSG:27700",
    ...                       cache=folder, quiet=True)
    >>> one.equals(two)
    True
    """
    file = segments_file(
        path,
        max_length_m=max_length_m,
        crs=crs,
        name_col=name_col,
        id_col=id_col,
        layer=layer,
        cache=cache,
    )
    if file.is_file() and not refresh:
        segs = _read_cached(file)
        if segs is not None:
            if not quiet:
                log_hit(path, file)
            return segs
    streets = read_streets(path, name_col=name_col, id_col=id_col, layer=layer)
    streets = _crs.to_metric_crs(streets, crs, name=Path(path).name, quiet=quiet)
    segs = segments.lines_to_segments(streets, max_length_m=max_length_m, quiet=quiet)
    _write_cached(segs, file, quiet=quiet)
    return segs


def segments_file(
    path: str | Path,
    *,
    max_length_m: float = segments.DEFAULT_MAX_LENGTH_M,
    crs: Any,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
    cache: str | Path | None = None,
) -> Path:
    """Return the cache file of the segments of a street file with these options.

    Parameters
    ----------
    path, max_length_m, crs, name_col, id_col, layer, cache
        As in :func:`cached_segments`.

    Returns
    -------
    pathlib.Path
        The GeoParquet file (which may not exist yet).
    """
    folder = Path(cache) if cache is not None else cache_dir()
    key = segments_key(
        path, max_length_m=max_length_m, crs=crs, name_col=name_col, id_col=id_col, layer=layer
    )
    return folder / "segments" / (key + ".parquet")


def peek_segments(
    path: str | Path,
    *,
    max_length_m: float = segments.DEFAULT_MAX_LENGTH_M,
    crs: Any,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
    cache: str | Path | None = None,
) -> tuple[gpd.GeoDataFrame | None, Path]:
    """Return the cached segments of a street file (None if not cached) and their file.

    What :func:`cached_segments` returns on a hit, read without logging anything (a run
    reads them beside the crimes and logs :func:`log_hit` once it uses them); a miss or an
    unreadable file gives None, left to :func:`cached_segments` to rebuild and report.

    Parameters
    ----------
    path, max_length_m, crs, name_col, id_col, layer, cache
        As in :func:`cached_segments`.

    Returns
    -------
    segments, file
        The segments or None, and the cache file.
    """
    file = segments_file(
        path,
        max_length_m=max_length_m,
        crs=crs,
        name_col=name_col,
        id_col=id_col,
        layer=layer,
        cache=cache,
    )
    if not file.is_file():
        return None, file
    try:
        meta = pq.read_schema(file).metadata or {}
        kinds = json.loads(meta[_META_KEY])
        segs = gpd.read_parquet(file)
    except Exception:  # unreadable: cached_segments warns and rebuilds it
        return None, file
    return _restored(segs, kinds), file


def log_hit(path: str | Path, file: Path) -> None:
    """Log that the segments of street file ``path`` were read from cache ``file``."""
    log.info("street segments of %s read from the cache (%s)", Path(path).name, file)


def _read_cached(file: Path) -> gpd.GeoDataFrame | None:
    """Read a cached table back with its original dtypes, or None if it is unreadable."""
    try:
        meta = pq.read_schema(file).metadata or {}
        kinds = json.loads(meta[_META_KEY])
        segs = gpd.read_parquet(file)
    except Exception as err:  # any unreadable cache file is rebuilt
        log.warning("ignoring unreadable cache file %s (%s)", file, str(err)[:120])
        return None
    return _restored(segs, kinds)


def _restored(segs: gpd.GeoDataFrame, kinds: dict[str, Any]) -> gpd.GeoDataFrame:
    for col, (dtype, missing) in kinds.items():
        segs[col] = _restore(segs[col], dtype, missing)
    return segs


#: Key of the dtypes stored in the Parquet schema metadata.
_META_KEY = b"hotspots_dtypes"

#: The missing-value objects an object column may hold, by name.
_MISSING: dict[str, Any] = {"none": None, "pd.NA": pd.NA, "nan": float("nan")}


def _missing_kind(values: pd.Series) -> str | None:
    """Name the one kind of missing value an object column holds (None if mixed)."""
    found = {
        ("none" if v is None else "pd.NA" if v is pd.NA else "nan")
        for v in values[values.isna()].head(10_000)
    }
    return found.pop() if len(found) == 1 else ("none" if not found else None)


def _restore(values: pd.Series, dtype: str, missing: str) -> pd.Series:
    if dtype != "object":
        return values.astype(dtype)
    out = values.astype(object)
    return out.where(out.notna(), _MISSING[missing]) if out.isna().any() else out


def _write_cached(segs: gpd.GeoDataFrame, file: Path, *, quiet: bool) -> None:
    """Write atomically (temporary file, then rename), so readers never see half a file."""
    kinds: dict[str, tuple[str, str]] = {}
    for col, dtype in segs.dtypes.items():
        if col == segs.geometry.name:
            continue
        missing = _missing_kind(segs[col]) if str(dtype) == "object" else "none"
        if missing is None:
            return  # mixed missing values would not come back the same: do not cache
        kinds[str(col)] = (str(dtype), missing)

    def write(fh: BinaryIO) -> None:
        # GeoPandas' GeoParquet (its geo metadata), the dtypes added to the schema's metadata
        made = io.BytesIO()
        segs.to_parquet(made, index=True)
        table = pq.read_table(made)
        meta = {**(table.schema.metadata or {}), _META_KEY: json.dumps(kinds).encode()}
        pq.write_table(table.replace_schema_metadata(meta), fh)

    err = write_atomically(file, write)
    if err is not None:  # a read-only or full disk must not stop the run
        log.warning("could not write the segment cache %s (%s)", file, err)
        return
    if not quiet:
        log.info("street segments cached in %s", file)


def cached_segment_areas(
    segs: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, file: Path
) -> pd.DataFrame:
    """Return :func:`hotspots.space.snap.assign_segment_areas`, kept beside the segments' cache.

    ``file`` is the cache file ``segs`` were read from (:func:`peek_segments`). Each
    segment's row of the area layer is stored under ``segment_areas``, named by a key of
    the segments' file, the areas' codes, names and geometries (in their CRS, the
    segments') and the code that assigns them; a monthly rerun with the same streets and
    areas reads them back instead of locating every segment's midpoint. A missing,
    unreadable or mismatched file is worked out afresh (and written, if the folder allows).

    Parameters
    ----------
    segs
        Segments as read from ``file``.
    areas
        Area polygons in the segments' CRS, with ``area_code`` and ``area_name``.
    file
        The segments' cache file.

    Returns
    -------
    pandas.DataFrame
        ``area_code`` and ``area_name`` with the index of ``segs``.
    """
    where = file.parent.parent / "segment_areas" / (_areas_key(file, areas) + ".npy")
    rows = _read_rows(where, len(segs), len(areas))
    if rows is None:
        rows = snap.segment_area_rows(segs, areas)
        _write_rows(rows, where)
    return snap.segment_area_columns(areas, rows, segs.index)


def _areas_key(file: Path, areas: gpd.GeoDataFrame) -> str:
    """Return the key of the areas of the segments of cache ``file`` among ``areas``."""
    digest = hashlib.sha256(file.stem.encode())
    for module in _AREAS_CODE:
        digest.update(source_digest(module).encode())
    for col in ("area_code", "area_name"):
        digest.update(json.dumps([None if pd.isna(v) else str(v) for v in areas[col]]).encode())
    for wkb in shapely.to_wkb(areas.geometry.to_numpy(), include_srid=False):
        digest.update(len(wkb or b"").to_bytes(8, "little"))
        digest.update(wkb or b"")
    return digest.hexdigest()


def _read_rows(where: Path, n: int, k: int) -> np.ndarray | None:
    """Return the stored rows if the file holds ``n`` rows of ``k`` areas, else None."""
    try:
        rows = np.load(where, allow_pickle=False)
    except (OSError, ValueError):  # missing or unreadable: worked out again
        return None
    ok = rows.dtype == np.int64 and rows.shape == (n,)
    return rows if ok and (not n or (rows.min() >= -1 and rows.max() < k)) else None


def _write_rows(rows: np.ndarray, where: Path) -> None:
    """Write the rows atomically; a folder or disk that cannot be written only warns."""
    err = write_atomically(
        where, lambda fh: np.save(fh, np.asarray(rows, dtype=np.int64), allow_pickle=False)
    )
    if err is not None:  # a read-only or full disk must not stop the run
        log.warning("could not write the segment areas cache %s (%s)", where, err)


def write_atomically(file: Path, write: Callable[[BinaryIO], object]) -> OSError | None:
    """Write ``file`` by ``write`` into a temporary file beside it, then rename it into place.

    Readers never see half a file, and two runs writing the same entry leave one whole.

    Parameters
    ----------
    file
        The file to write (its folder is made if missing).
    write
        Writes the content to the binary file it is given.

    Returns
    -------
    OSError or None
        The error of a folder or disk that cannot be written (nothing is left behind), else
        None.
    """
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem[:16]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            Path(tmp).replace(file)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as err:
        return err
    return None
