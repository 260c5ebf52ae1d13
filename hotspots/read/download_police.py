"""Downloading police.uk street-level crime: monthly archives cut to the months and forces asked."""

from __future__ import annotations

import logging
import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path

from hotspots.errors import DownloadError, InputDataError
from hotspots.read.fetch import CHUNK_BYTES, announce, download_file

__all__ = [
    "POLICE_UK_ARCHIVE_URL",
    "download_police_uk",
    "months_between",
]

log = logging.getLogger("hotspots")

#: Base URL of police.uk's monthly bulk archives (``{base}/YYYY-MM.zip``).
POLICE_UK_ARCHIVE_URL = "https://data.police.uk/data/archive"


_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


_FORCE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


_STREET_MEMBER_RE = re.compile(r"(?:^|/)(\d{4}-\d{2})-([a-z0-9-]+)-street\.csv$")


def download_police_uk(
    months: str | Iterable[str],
    *,
    forces: Iterable[str] | None = None,
    out_dir: str | os.PathLike[str],
    base_url: str = POLICE_UK_ARCHIVE_URL,
    overwrite: bool = False,
    quiet: bool = False,
    timeout_s: float = 60,
) -> list[Path]:
    """Download police.uk monthly archives and extract their street-level crime CSVs.

    police.uk publishes ``{base_url}/YYYY-MM.zip``; each archive holds folders
    ``YYYY-MM/YYYY-MM-<force>-street.csv`` (plus ``-outcomes.csv`` and
    ``-stop-and-search.csv``, which are not extracted). Archives are kept in
    ``out_dir/archives`` and the CSVs are written flat into ``out_dir``.

    Parameters
    ----------
    months
        Months to fetch, as ``"YYYY-MM"`` strings (one string or several).
    forces
        police.uk force slugs to keep, e.g. ``["metropolitan", "city-of-london"]``. None
        (default) keeps every force in the archive.
    out_dir
        Folder for the CSVs (created when missing).
    base_url
        Where the archives are; change it only to use a mirror or a test server.
    overwrite
        If False (default), archives and CSVs already on disk are kept. If True, both are
        fetched and written again.
    quiet
        If True, show no progress bar and log nothing.
    timeout_s
        Seconds to wait for the server to connect or send the next bytes.

    Returns
    -------
    list of pathlib.Path
        The street CSVs for the requested months and forces, sorted by path.

    Raises
    ------
    InputDataError
        If a month is not ``YYYY-MM`` or a force is not a slug.
    DownloadError
        On an HTTP error or timeout, or if an archive is not a zip or holds no street CSV for
        its month (and forces). The message names the URL.

    Warns
    -----
    UserWarning
        If ``forces`` are given and police.uk has no street CSV for some of them in some of the
        requested months (forces do miss months); their counts will be missing, not zero.

    Notes
    -----
    Each police.uk archive holds the months up to its own month (the last 36 for recent
    archives), so the archive of the latest requested month is fetched first and every other
    requested month found in it is taken from it; an archive is fetched for each month still
    missing after that. The archives are large (more than 1 GB for recent months); delete
    ``out_dir/archives`` once the CSVs are extracted.

    Examples
    --------
    >>> download_police_uk(
    ...     ["2017-01", "2017-02"], forces=["metropolitan"], out_dir="data/police_uk"
    ... )  # doctest: +SKIP
    [PosixPath('data/police_uk/2017-01-metropolitan-street.csv'), ...]
    """
    wanted = _validate_months(months)
    slugs = _validate_forces(forces)
    out = Path(out_dir)
    paths, pending = ([], wanted) if overwrite else _split_on_disk(wanted, slugs, out)
    while pending:
        month = pending[-1]
        url = f"{base_url.rstrip('/')}/{month}.zip"
        dest = out / "archives" / f"{month}.zip"
        archive = download_file(url, dest, overwrite=overwrite, timeout_s=timeout_s, quiet=quiet)
        found = _extract_street_csvs(
            archive, url=url, months=pending, forces=slugs, out_dir=out, overwrite=overwrite
        )
        announce(f"Took {len(found)} street CSVs from {url}", quiet)
        paths += found
        pending = [m for m in pending if m not in {_month_of(p) for p in found}]
    _warn_missing_forces(paths, months=wanted, forces=slugs)
    return sorted(paths)


def _validate_months(months: str | Iterable[str]) -> list[str]:
    """Return the distinct months sorted, or raise listing every month that is not YYYY-MM."""
    items = [months] if isinstance(months, str) else list(months)
    bad = [m for m in items if not isinstance(m, str) or not _MONTH_RE.match(m)]
    if bad or not items:
        found = f"got {bad}" if bad else "got none"
        msg = f"`months` must be 'YYYY-MM' strings (e.g. '2017-01'); {found}. Fix or drop them."
        raise InputDataError(msg)
    return sorted(set(items))


def _validate_forces(forces: Iterable[str] | None) -> set[str] | None:
    """Return the force slugs as a set, or raise listing every one that is not a slug."""
    if forces is None:
        return None
    slugs = [forces] if isinstance(forces, str) else list(forces)
    bad = [f for f in slugs if not isinstance(f, str) or not _FORCE_RE.match(f)]
    if bad or not slugs:
        found = f"got {bad}" if bad else "got an empty list"
        msg = (
            f"`forces` must be police.uk force slugs such as 'metropolitan' or "
            f"'city-of-london'; {found}. Use the lower-case, hyphenated names of the CSV files."
        )
        raise InputDataError(msg)
    return set(slugs)


def months_between(start: str, end: str) -> list[str]:
    """Return every month from ``start`` to ``end`` inclusive, as YYYY-MM strings."""
    _validate_months([start, end])
    if end < start:
        msg = f"the month range must run forwards; got start {start} after end {end}. Swap them."
        raise InputDataError(msg)
    year, month = int(start[:4]), int(start[5:])
    months = []
    while f"{year:04d}-{month:02d}" <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _street_csv_name(month: str, force: str) -> str:
    """Return the police.uk file name of one month's street CSV for one force."""
    return f"{month}-{force}-street.csv"


def _month_of(path: Path) -> str:
    """Return the YYYY-MM month at the start of a police.uk CSV file name."""
    return path.name[:7]


def _split_on_disk(
    months: list[str], forces: set[str] | None, out_dir: Path
) -> tuple[list[Path], list[str]]:
    """Split ``months`` into CSVs already in ``out_dir`` and months still to fetch.

    A month counts as on disk only when forces are given and every force's CSV exists (the
    forces an archive holds are unknown before it is read).
    """
    paths: list[Path] = []
    pending: list[str] = []
    for month in months:
        files = [out_dir / _street_csv_name(month, f) for f in sorted(forces or ())]
        if files and all(f.exists() for f in files):
            paths += files
        else:
            pending.append(month)
    return paths, pending


def _extract_street_csvs(
    archive: Path,
    *,
    url: str,
    months: list[str],
    forces: set[str] | None,
    out_dir: Path,
    overwrite: bool,
) -> list[Path]:
    """Extract the street CSVs of ``months`` and ``forces`` from ``archive`` into ``out_dir``.

    The archive must hold at least the latest of ``months``; the others are taken when present.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _street_members(zf)
            _require_month(members, month=months[-1], forces=forces, url=url)
            chosen = {
                key: info
                for key, info in members.items()
                if key[0] in months and (forces is None or key[1] in forces)
            }
            return [
                _extract_member(zf, info, out_dir / _street_csv_name(*key), overwrite)
                for key, info in sorted(chosen.items())
            ]
    except zipfile.BadZipFile as err:
        msg = (
            f"download failed: {url} is not a zip archive ({err}); saved as {archive}. "
            "Delete it and try again, or pass overwrite=True."
        )
        raise DownloadError(msg) from err


def _warn_missing_forces(paths: list[Path], *, months: list[str], forces: set[str] | None) -> None:
    """Warn about each requested (month, force) whose street CSV police.uk does not publish."""
    have = {path.name for path in paths}
    missing = [
        f"{force} {month}"
        for month in months
        for force in sorted(forces or ())
        if _street_csv_name(month, force) not in have
    ]
    if missing:
        msg = (
            f"police.uk publishes no street CSV for {len(missing)} requested force-months: "
            f"{', '.join(missing)}. Crime counts for them will be missing, not zero."
        )
        warnings.warn(msg, UserWarning, stacklevel=3)


def _street_members(zf: zipfile.ZipFile) -> dict[tuple[str, str], zipfile.ZipInfo]:
    """Map (month, force) to each ``YYYY-MM-<force>-street.csv`` member of a police.uk zip."""
    members = {}
    for info in zf.infolist():
        match = _STREET_MEMBER_RE.search(info.filename)
        if match and not info.is_dir():
            members[(match.group(1), match.group(2))] = info
    return members


def _require_month(
    members: dict[tuple[str, str], zipfile.ZipInfo],
    *,
    month: str,
    forces: set[str] | None,
    url: str,
) -> None:
    """Raise DownloadError if ``members`` hold no street CSV of ``month`` (and ``forces``)."""
    in_month = sorted(force for m, force in members if m == month)
    if any(forces is None or force in forces for force in in_month):
        return
    if not members:
        found = "no *-street.csv file at all"
    elif in_month:
        found = f"street CSVs of {month} only for forces {in_month}"
    else:
        found = f"street CSVs only for months {sorted({m for m, _ in members})}"
    wanted = f"{month}" + (f" and forces {sorted(forces)}" if forces else "")
    msg = (
        f"the archive {url} must hold a street CSV for {wanted}; it has {found}. "
        "Check the month and the force slugs (e.g. 'metropolitan', 'city-of-london')."
    )
    raise DownloadError(msg)


def _extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, overwrite: bool
) -> Path:
    """Copy one zip member to ``dest`` (via a ``.part`` file) unless it exists already."""
    if dest.exists() and not overwrite:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with zf.open(info) as src, part.open("wb") as dst:
            while chunk := src.read(CHUNK_BYTES):
                dst.write(chunk)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(dest)
    return dest
