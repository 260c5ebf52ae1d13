"""The output folder contract: one writer per folder, atomic publication, stable file names.

Every command that writes a folder (``run``, ``evaluate``, ``hot-streets``, ``brief``,
``export``) goes through this module:

* :func:`folder_lock` takes an exclusive lock on ``<parent>/.<name>.lock`` before any work, so
  a second writer of the same folder fails at once with a one-line error naming the folder and
  the run that holds it (process id, host, start time, command), or waits (``--wait``). The
  lock is an ``fcntl.flock`` lock: the kernel releases it when its process dies, so a killed
  run never blocks the next one. It is re-entrant within a process.
* :func:`staged_folder` writes into a private ``.<name>.partial-<pid>-<random>`` folder and
  moves it into place only when complete, refusing to replace a folder it was not told to
  replace (``overwrite``); :func:`staged_files` does the same for files added to a folder
  that exists (``briefs/``, ``exports/``), one atomic replace per file.
* :class:`RunResult` is what a run computed, in memory: :func:`hotspots.pipeline.analyse`
  returns it without writing anything and :func:`hotspots.pipeline.write_run` writes it.
* :func:`area_file_stem` names every per-area file (lists, maps, briefs, hand-outs) so that
  distinct area codes never share a file, on any operating system.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotspots.errors import HotspotsError, InputDataError, OutputExistsError

try:  # POSIX; the lock is advisory and per open file description
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from hotspots.output.rejected_csv import RejectedCsv

__all__ = [
    "AREAS_CSV",
    "BRIEFS_DIR",
    "EXPORTS_DIR",
    "HOT_STREETS_CSV",
    "LAYERS_DIR",
    "LAYER_AREA_PAGES_MAX",
    "LAYER_JSON",
    "MAPS_DIR",
    "REJECTED_CSV",
    "RUN_JSON",
    "WARDS_DIR",
    "OutputFolderBusyError",
    "OutputFolderError",
    "RunResult",
    "area_file_stem",
    "check_writable",
    "folder_lock",
    "lock_path",
    "parse_overlay",
    "read_manifest",
    "staged_files",
    "staged_folder",
]

log = logging.getLogger("hotspots")

#: File and folder names of a run folder (see the README, "The run folder").
RUN_JSON = "run.json"
HOT_STREETS_CSV = "hot_streets.csv"
AREAS_CSV = "areas.csv"
REJECTED_CSV = "rejected.csv"
CORRIDORS_CSV = "corridors.csv"
WARDS_DIR = "wards"
MAPS_DIR = "maps"
BRIEFS_DIR = "briefs"
EXPORTS_DIR = "exports"
#: Overlay area layers: ``layers/<NAME>/`` holds a layer's area-level files and ``layer.json``.
LAYERS_DIR = "layers"
LAYER_JSON = "layer.json"
#: Overlay layers with more areas holding crime than this get no page per area (no area maps,
#: no briefs): their lists, one map and an index cover them (e.g. London's 3,809 LSOAs).
LAYER_AREA_PAGES_MAX = 1000

_HASH_CHARS = 8


def _empty_frame() -> pd.DataFrame:
    import pandas as pd  # here: importing this module (the CLI does) stays light

    return pd.DataFrame()


@dataclass
class RunResult:
    """What a run computed, in memory: the tables behind the files of a run folder.

    :func:`hotspots.pipeline.analyse` returns it without writing anything;
    :func:`hotspots.pipeline.write_run` writes it to ``out_dir`` and fills ``manifest``.
    """

    #: The run folder the result is (or will be) written to.
    out_dir: Path
    crimes: gpd.GeoDataFrame
    rejected: pd.DataFrame
    areas: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    hot_streets: gpd.GeoDataFrame
    locations: gpd.GeoDataFrame
    area_lists: dict[str, pd.DataFrame]
    area_summary: pd.DataFrame = field(default_factory=_empty_frame)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: The contents of ``run.json``; empty until the folder is written.
    manifest: dict[str, Any] = field(default_factory=dict)
    #: Crimes per segment by crime type (:func:`hotspots.analysis.rank.count_by_segment`).
    counts: pd.DataFrame = field(default_factory=_empty_frame)
    #: Concentration figures (:func:`hotspots.analysis.concentration.count_concentration`).
    concentration: dict[str, Any] = field(default_factory=dict)
    #: How segments were named (the ``naming`` entry of ``run.json``).
    naming: dict[str, Any] = field(default_factory=dict)
    #: JSON records written beside the tables (``forecast`` -> ``forecast.json``).
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Seconds per stage (the ``seconds`` entry of ``run.json``).
    seconds: dict[str, float] = field(default_factory=dict)
    #: Overlay area layers (``--overlay``): name -> the run seen through that layer's areas,
    #: written to ``layers/<name>/`` (its ``records["layer"]`` is ``layer.json``).
    layers: dict[str, RunResult] = field(default_factory=dict)
    #: ``rejected.csv`` in parts, with the rejected rows per file and reason: made on the Dask
    #: engine's workers (``rejected`` then holds no row), else from ``rejected`` when written.
    rejected_csv: RejectedCsv | None = None


_held: dict[str, int] = {}  # lock files this process holds -> nesting depth
_held_guard = threading.Lock()
_held_fds: dict[str, int] = {}  # the open lock files behind them


def _close_locks_in_child() -> None:
    """Close a forked child's copies of the held lock files (``os.register_at_fork``).

    An ``flock`` lock belongs to the open file, which a fork shares: a child still holding
    its copy (the run's second process, its plots) would keep the folder locked after the
    run was killed. The child never releases the lock itself, so it needs no copy.
    """
    for fd in _held_fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)


class OutputFolderError(HotspotsError):
    """An output folder cannot be written (a file in the way, no permission, a read-only disk)."""


class OutputFolderBusyError(OutputFolderError):
    """Another run is writing the same output folder (and ``wait`` was not given)."""


# --------------------------------------------------------------------------------------------
# names


_LAYER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def parse_overlay(text: str) -> tuple[str, str]:
    """Return (name, source) of an ``--overlay NAME=PATH`` (or ``NAME=h3:RES``) value.

    Parameters
    ----------
    text
        The option's value.

    Returns
    -------
    tuple of str
        The layer's name (its folder ``layers/<name>/``) and the file or grid it comes from.

    Raises
    ------
    ValueError
        If the value has no ``=`` or nothing after it, or the name is not 1-40 letters,
        digits, ``_`` or ``-`` starting with a letter or digit (the message says which).

    Examples
    --------
    >>> parse_overlay("lsoa=data/lsoa_2011.gpkg")
    ('lsoa', 'data/lsoa_2011.gpkg')
    """
    name, sep, source = text.partition("=")
    name, source = name.strip(), source.strip()
    if not sep or not source:
        msg = f"--overlay {text!r}: expected NAME=PATH (or NAME=h3:RES), e.g. lsoa=lsoa.gpkg"
        raise ValueError(msg)
    if not _LAYER_NAME.fullmatch(name):
        msg = (
            f"--overlay {text!r}: the name {name!r} becomes the folder {LAYERS_DIR}/{name}/: "
            "use 1-40 letters, digits, '_' or '-', starting with a letter or digit"
        )
        raise ValueError(msg)
    return name, source


def area_file_stem(code: str) -> str:
    """Return the file stem of an area's list, map, brief and hand-out: distinct per code.

    Parameters
    ----------
    code
        The area code as in the data.

    Returns
    -------
    str
        The code itself when it is already a safe file name without lower-case letters (as
        ``E05000644`` or ``CBD``); otherwise the cleaned code (letters, digits, ``.``, ``_``
        and ``-``) plus ``-`` and the first 8 hex digits of the SHA-256 of the code. Two codes
        that clean to the same text (``a/b``, ``a_b``) or differ only in case (``A_B``,
        ``a_b``, which share a file on Windows and macOS) so get distinct, stable names.

    Examples
    --------
    >>> area_file_stem("E05000644")
    'E05000644'
    >>> [area_file_stem(c) for c in ("a/b", "a_b", "A_B")]
    ['a_b-c14cddc0', 'a_b-648fa9b3', 'A_B']
    """
    from hotspots.output.export import safe_file_stem

    stem = safe_file_stem(code)
    if stem == code and not any(c.islower() for c in code):
        return stem
    digest = hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"{stem[: 99 - _HASH_CHARS]}-{digest}"


# --------------------------------------------------------------------------------------------
# the lock


def lock_path(out: Path) -> Path:
    """Return the lock file of output folder ``out``: ``<parent>/.<name>.lock``."""
    out = Path(out)
    return out.parent / f".{out.name}.lock"


def check_writable(out: Path, *, overwrite: bool) -> None:
    """Fail fast, before any input is read, if ``out`` cannot become the output folder.

    Parameters
    ----------
    out
        The output folder to be written.
    overwrite
        Whether an existing folder may be replaced.

    Raises
    ------
    OutputExistsError
        If ``out`` is a folder and ``overwrite`` is False.
    OutputFolderError
        If ``out`` is a file, or its parent cannot be created or written.
    """
    out = Path(out)
    if out.name in ("", ".", ".."):
        msg = f"--out {out} must name a folder of its own (e.g. outputs/run), not . or .."
        raise OutputFolderError(msg)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} is a file, not a folder: remove it or choose another --out"
        raise OutputFolderError(msg)
    if out.exists() and not overwrite:
        msg = f"output folder {out} exists already; choose another --out or pass --overwrite"
        raise OutputExistsError(msg)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f"cannot create the folder of --out {out}: {err.strerror or err}"
        raise OutputFolderError(msg) from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        msg = f"cannot write --out {out}: no write permission on {out.parent}"
        raise OutputFolderError(msg)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """Return a run folder's ``run.json``: the one place the manifest is parsed.

    Parameters
    ----------
    run_dir
        A folder written by ``hotspots run``.

    Returns
    -------
    dict
        The parsed manifest.

    Raises
    ------
    InputDataError
        If ``run.json`` is missing, not valid JSON or not an object (one line naming the file).
    """
    path = Path(run_dir) / RUN_JSON
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: no run manifest here; run `hotspots run` first"
        raise InputDataError(msg) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path}: not a valid run manifest ({exc}); run `hotspots run` again"
        raise InputDataError(msg) from None
    if not isinstance(manifest, dict):
        msg = f"{path}: not a valid run manifest (a JSON object is expected)"
        raise InputDataError(msg)
    return manifest


def _holder_text(fd: int) -> str:
    """Describe the run holding a lock from what it wrote into the lock file."""
    try:
        raw = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        info = json.loads(raw)
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a run that has not yet said who it is"


def _command() -> str:
    words = [Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]]
    text = shlex.join(words)
    return text if len(text) <= 200 else text[:197] + "..."


def _open_locked(path: Path, out: Path, *, wait: bool) -> int:
    """Open and lock ``path`` (retrying if its holder removed it meanwhile); return the fd."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_text(fd)
                if not wait:
                    msg = (
                        f"output folder {out} is being written by another run ({holder}); "
                        "wait for it to finish, pass --wait, or choose another --out"
                    )
                    raise OutputFolderBusyError(msg) from None
                log.info("waiting for the run writing %s (%s)", out, holder)
                fcntl.flock(fd, fcntl.LOCK_EX)
            if path.exists() and os.path.samestat(os.fstat(fd), path.stat()):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed the file while we waited: lock the new one


@contextmanager
def folder_lock(out: Path, *, wait: bool = False) -> Iterator[Path]:
    """Hold the one-writer lock of output folder ``out`` for the ``with`` block.

    Parameters
    ----------
    out
        The output folder (it need not exist; its parent is created).
    wait
        Wait for another run holding the lock instead of failing.

    Yields
    ------
    pathlib.Path
        The lock file, ``<parent>/.<name>.lock`` (removed when released).

    Raises
    ------
    OutputFolderBusyError
        If another process holds the lock and ``wait`` is False: one line naming the folder
        and the other run (process id, host, start time, command).
    OutputFolderError
        If the lock file cannot be created (the folder's parent is not writable).
    """
    out = Path(out)
    path = lock_path(out)
    key = str(path.parent.resolve() / path.name)  # one key however the folder is spelt
    with _held_guard:
        if key in _held:  # this process holds it already (a command calling the library)
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield path
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    if fcntl is None:  # pragma: no cover - no advisory locks on this platform
        yield path
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_locked(path, out, wait=wait)
    except OSError as err:
        msg = f"cannot write --out {out}: {err.strerror or err} ({path})"
        raise OutputFolderError(msg) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": _command(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
    with _held_guard:
        _held[key] = 1
        _held_fds[key] = fd
    try:
        yield path
    finally:
        with _held_guard:
            del _held[key]
            del _held_fds[key]
        with contextlib.suppress(OSError):  # still locked: a waiter then locks a new file
            path.unlink()
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------------------------
# atomic writing


def _private(out: Path, kind: str) -> Path:
    return out.parent / f".{out.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _remove_stale(out: Path) -> None:
    """Remove private folders of earlier runs into ``out`` (called under its lock)."""
    for kind in ("partial", "old"):
        for stale in out.parent.glob(f".{out.name}.{kind}-*"):
            if stale.is_dir():
                log.info("removing %s, left by a run that was stopped", stale)
                shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def staged_folder(out: Path, *, overwrite: bool = False, wait: bool = False) -> Iterator[Path]:
    """Write a whole output folder privately; publish it at the end of the block, or never.

    Parameters
    ----------
    out
        The output folder.
    overwrite
        Replace ``out`` if it exists. Without it, an ``out`` that exists (before, or made by
        another writer meanwhile) is never touched.
    wait
        Wait for another run holding the folder's lock (see :func:`folder_lock`).

    Yields
    ------
    pathlib.Path
        The private ``.<name>.partial-<pid>-<random>`` folder to write into. If the block
        raises, it is removed and ``out`` is left as it was.

    Raises
    ------
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    OutputFolderError, OutputFolderBusyError
        As :func:`check_writable` and :func:`folder_lock`.
    """
    out = Path(out)
    check_writable(out, overwrite=overwrite)
    with folder_lock(out, wait=wait):
        check_writable(out, overwrite=overwrite)  # again: a waited-for run may have made it
        _remove_stale(out)
        tmp = _private(out, "partial")
        try:
            tmp.mkdir()
        except OSError as err:
            msg = f"cannot write --out {out}: {err.strerror or err} ({tmp})"
            raise OutputFolderError(msg) from None
        try:
            yield tmp
            _publish(tmp, out, overwrite=overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-written folder behind
            raise


def _publish(tmp: Path, out: Path, *, overwrite: bool) -> None:
    """Move the finished ``tmp`` to ``out``; the old ``out`` is moved aside first, then removed."""
    old = None
    if out.exists() and overwrite and out.is_dir():
        old = _private(out, "old")
        out.rename(old)
    try:
        _rename_noreplace(tmp, out)
    except FileExistsError:
        msg = (
            f"output folder {out} was made by another program while this run wrote; "
            "it is left as it is. Choose another --out or pass --overwrite"
        )
        raise OutputExistsError(msg) from None
    except BaseException:
        if old is not None and not out.exists():
            old.rename(out)  # put the previous folder back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100  # Linux
_RENAME_NOREPLACE = 1


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; FileExistsError if ``dst`` exists, even an empty folder.

    On Linux one ``renameat2(RENAME_NOREPLACE)`` call, so no other program can slip a folder
    in between the check and the move; elsewhere a check, then ``rename``.
    """
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is not None:
        if (
            renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
            == 0
        ):
            return
        code = ctypes.get_errno()
        if code in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(code, os.strerror(code), str(dst))
        if code not in (errno.ENOSYS, errno.EINVAL):  # EINVAL: a file system without the flag
            raise OSError(code, os.strerror(code), str(src))
    if dst.exists() or dst.is_symlink():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    src.rename(dst)


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load (not on POSIX)
        return None


@contextmanager
def staged_files(folder: Path, *, lock: Path | None = None, wait: bool = False) -> Iterator[Path]:
    """Write files privately, then move each into ``folder`` (replacing same-named files).

    For folders that collect files over several commands (``briefs/``, ``exports/``): files
    already in ``folder`` and not written again are kept.

    Parameters
    ----------
    folder
        The folder to add the files to (created).
    lock
        The output folder whose lock is held meanwhile (default ``folder`` itself); e.g. the
        run folder for ``RUN/briefs``, so a brief never interleaves with a run replacing it.
    wait
        Wait for another run holding the lock (see :func:`folder_lock`).

    Yields
    ------
    pathlib.Path
        A private folder beside ``folder``; on error it is removed and ``folder`` untouched.
    """
    folder = Path(folder)
    with folder_lock(lock if lock is not None else folder, wait=wait):
        if folder.exists() and not folder.is_dir():
            msg = f"{folder} is a file, not a folder: remove it or choose another --out"
            raise OutputFolderError(msg)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _remove_stale(folder)
            tmp = _private(folder, "partial")
            tmp.mkdir()
        except OSError as err:
            msg = f"cannot write {folder}: {err.strerror or err}"
            raise OutputFolderError(msg) from None
        try:
            yield tmp
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    target = folder / path.relative_to(tmp)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    path.replace(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
