"""The study geometry kept on disk, so a rerun on the same street layer skips rebuilding it.

What the backtests and ``run --forecast`` build from the street layer and the study area
alone, never from the crimes, yet at seconds each: the union of the segments' buffers
(:func:`~hotspots.evaluate.study.segments_to_study_area`; Vancouver's 17,320 segments about
1.9 s, London's 16,540 about 1.5 s, twice a city in ``make run``), the H3 cells that may meet
the study area and the land of each grid and H3 cell inside it
(:mod:`~hotspots.evaluate.cells`; about 7 s of Vancouver's evaluation), the raster pixels
inside it
(:func:`~hotspots.evaluate.raster.study_raster_and_samples`) and the pixels of each street
unit (:meth:`~hotspots.evaluate.raster.Samples.unit_pairs`: Vancouver's links 0.4-0.6 s
built, under 0.1 s read back, with none of the 10 million point-pixel pairs held).

Like the street segments and their neighbours (:mod:`hotspots.space.cache`,
:func:`hotspots.analysis.weights.segment_adjacency`), each is kept in the cache folder
(``study/``) under a SHA-256 key of its inputs' bytes (geometries as WKB, in order), its
parameters, the source of the module that builds it and the GEOS, Shapely and H3 versions,
and a later call with the same key reads it back: the same numbers to the bit, so the same
outputs. A file that cannot be read is built again; a folder that cannot be written is
skipped. Each read marks its file used (its modification time), and each new file written
removes the files of ``study/`` unused for :data:`UNUSED_DAYS`: those of earlier code versions
or street layers would otherwise stay for ever (149 MB on a development machine after a day of
changes).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import h3
import numpy as np
import shapely

from hotspots.space.cache import write_atomically

__all__ = ["UNUSED_DAYS", "cached_array", "geometry_bytes"]

#: Bump when what a cached file holds changes.
_LAYOUT = "1"
#: A file of ``study/`` neither read nor written for this many days is removed when a new one
#: is written (a monthly rerun reads its files every month).
UNUSED_DAYS = 60


def geometry_bytes(geoms: shapely.Geometry | np.ndarray) -> bytes:
    """Return the WKB of one geometry or of an array of them, in order, as one key part."""
    wkb = shapely.to_wkb(np.atleast_1d(np.asarray(geoms, dtype=object)), hex=False)
    return b"".join(len(w).to_bytes(8, "little") + w for w in wkb)


def cached_array(
    kind: str,
    parts: Iterable[str | bytes],
    build: Callable[[], np.ndarray],
    cache: str | Path | None,
) -> np.ndarray:
    """Return ``build()``, from ``cache`` when an earlier call with the same key stored it.

    Parameters
    ----------
    kind
        What the array is (the file name's prefix), e.g. ``"union"``.
    parts
        Everything the array depends on: parameters (as text), input geometries
        (:func:`geometry_bytes`) and the building module
        (:func:`hotspots.space.cache.source_digest`).
    build
        Builds the array (numbers only: it is stored without pickling).
    cache
        The cache folder (e.g. :func:`hotspots.space.cache.cache_dir`); None builds every
        time.

    Returns
    -------
    numpy.ndarray
        The array ``build`` returns (or returned for the same key).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> calls = []
    >>> def build():
    ...     calls.append(1)
    ...     return np.arange(3.0)
    >>> [cached_array("demo", ["a"], build, folder).tolist() for _ in range(2)]
    [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    >>> len(calls)
    1
    """
    if cache is None:
        return build()
    key = hashlib.sha256()
    for part in (_LAYOUT, kind, shapely.geos_version_string, shapely.__version__, h3.__version__):
        key.update(part.encode() + b"\0")
    for part in parts:
        key.update(part if isinstance(part, bytes) else part.encode())
        key.update(b"\0")
    file = Path(cache) / "study" / f"{kind}-{key.hexdigest()}.npy"
    try:
        value = np.asarray(np.load(file, allow_pickle=False))
    except (OSError, ValueError, EOFError):  # missing or unreadable: built again
        pass
    else:
        _mark_used(file)
        return value
    value = np.asarray(build())
    if write_atomically(file, lambda fh: np.save(fh, value, allow_pickle=False)) is None:
        _remove_unused(file.parent, keep=file)
    return value


def _mark_used(file: Path) -> None:
    with contextlib.suppress(OSError):  # a folder that cannot be written: left as it was
        os.utime(file)


def _remove_unused(folder: Path, *, keep: Path) -> None:
    """Remove the cached files of ``folder`` unused for :data:`UNUSED_DAYS` (not ``keep``)."""
    before = time.time() - UNUSED_DAYS * 86_400
    for file in folder.glob("*.npy"):
        try:
            if file != keep and file.stat().st_mtime < before:
                file.unlink()
        except OSError:  # removed by another run meanwhile, or not removable: left alone
            pass
