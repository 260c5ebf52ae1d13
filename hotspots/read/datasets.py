"""Where the real data lives (a setting defaulting to ``../shared/data``) and how to download it."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import geopandas as gpd
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from shapely.geometry import LineString

from hotspots.errors import DownloadError, InputDataError

__all__ = [
    "BOUNDARY_SOURCES",
    "DATA_ENV",
    "NAMED_PATHS",
    "OVERPASS_URL",
    "POLICE_UK_ARCHIVE_URL",
    "STREET_CLASSES",
    "BoundarySource",
    "data_dir",
    "download_boundaries",
    "download_file",
    "download_osm_streets",
    "download_police_uk",
    "get_path",
]

log = logging.getLogger("hotspots")

#: Environment variable that points at the shared data folder.
DATA_ENV = "HOTSPOTS_DATA"

#: Named files inside the data folder.
NAMED_PATHS: dict[str, str] = {
    "london_crimes": "london/crimes",
    "london_wards": "london/wards_2014.gpkg",
    "london_boroughs": "london/boroughs.gpkg",
    "london_streets": "london/streets_osm_london.gpkg",
    "london_streets_central": "london/streets_central_osm.gpkg",
    "london_lsoa": "london/lsoa_2011.gpkg",
    "london_ward_population": "london/ward_population_mid2019.csv",
    "vancouver_crimes": "vancouver/vpd_crimedata_2020_2025.csv.gz",
    "vancouver_streets": "vancouver/public_streets.gpkg",
    "vancouver_areas": "vancouver/local_areas.gpkg",
}


def data_dir() -> Path:
    """Return the shared real-data folder.

    The folder is ``$HOTSPOTS_DATA`` when set; otherwise ``../shared/data`` from the current
    directory, or from the project root when the package is run from its source tree.

    Returns
    -------
    pathlib.Path
        The folder (which may not exist on a machine without the shared data).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / ".." / "shared" / "data"
    if here.is_dir():
        return here.resolve()
    return (Path(__file__).resolve().parents[3] / "shared" / "data").resolve()


def get_path(name: str) -> Path:
    """Return the path of a named file of the shared real data.

    Parameters
    ----------
    name
        One of ``NAMED_PATHS``, e.g. ``"london_wards"`` or ``"vancouver_crimes"``.

    Returns
    -------
    pathlib.Path
        The file or folder path.

    Raises
    ------
    InputDataError
        If the name is unknown or the file is absent.

    Examples
    --------
    >>> get_path("london_wards").name
    'wards_2014.gpkg'
    """
    if name not in NAMED_PATHS:
        msg = f"unknown dataset `{name}`; choose one of {sorted(NAMED_PATHS)}"
        raise InputDataError(msg)
    path = data_dir() / NAMED_PATHS[name]
    if not path.exists():
        msg = f"dataset `{name}` not found at {path}; set {DATA_ENV} to the shared data folder"
        raise InputDataError(msg)
    return path


# ---------------------------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------------------------


class BoundarySource(NamedTuple):
    """A boundary or street file that :func:`download_boundaries` knows how to fetch."""

    url: str
    filename: str
    title: str


#: Base URL of police.uk's monthly bulk archives (``{base}/YYYY-MM.zip``).
POLICE_UK_ARCHIVE_URL = "https://data.police.uk/data/archive"

#: Public Overpass API endpoint used by :func:`download_osm_streets`.
OVERPASS_URL = "https://overpass-api.de/api/interpreter"

#: OSM ``highway`` values kept as streets (the classes of ``london_streets``).
STREET_CLASSES: tuple[str, ...] = (
    "residential",
    "unclassified",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
    "trunk",
    "trunk_link",
    "living_street",
    "pedestrian",
)

#: Known boundary and street sources, by the name ``download_boundaries`` takes.
BOUNDARY_SOURCES: dict[str, BoundarySource] = {
    "london_statistical_gis": BoundarySource(
        url=(
            "https://data.london.gov.uk/download/statistical-gis-boundary-files-london/"
            "9ba8c833-6370-4b11-abdc-314aa020d5e0/statistical-gis-boundaries-london.zip"
        ),
        filename="statistical-gis-boundaries-london.zip",
        title="London Datastore statistical GIS boundary files (wards, boroughs, LSOA; zip)",
    ),
    "vancouver_local_areas": BoundarySource(
        url=(
            "https://opendata.vancouver.ca/api/explore/v2.1/catalog/datasets/"
            "local-area-boundary/exports/geojson"
        ),
        filename="local-area-boundary.geojson",
        title="City of Vancouver local area boundary (22 areas; GeoJSON)",
    ),
    "vancouver_public_streets": BoundarySource(
        url=(
            "https://opendata.vancouver.ca/api/explore/v2.1/catalog/datasets/"
            "public-streets/exports/geojson"
        ),
        filename="public-streets.geojson",
        title="City of Vancouver public streets centrelines (GeoJSON)",
    ),
    "greater_london_osm": BoundarySource(
        url=(
            "https://download.geofabrik.de/europe/united-kingdom/england/"
            "greater-london-latest.osm.pbf"
        ),
        filename="greater-london-latest.osm.pbf",
        title="Geofabrik OpenStreetMap extract of Greater London (osm.pbf)",
    ),
}

_CHUNK_BYTES = 1 << 16
_USER_AGENT = "hotspots/0.1 (+https://pypi.org/project/hotspots/; python-urllib)"
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_FORCE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_STREET_MEMBER_RE = re.compile(r"(?:^|/)(\d{4}-\d{2})-([a-z0-9-]+)-street\.csv$")
_HIGHWAY_RE = re.compile(r"^[a-z_]+$")


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    sha256: str | None = None,
    timeout_s: float = 60,
    quiet: bool = False,
) -> Path:
    """Download ``url`` to ``dest``, streaming to a ``.part`` file that is renamed when complete.

    Parameters
    ----------
    url
        The http(s) URL to fetch.
    dest
        The file to write. Its folder is created when missing.
    overwrite
        If False (default), an existing ``dest`` is kept and not fetched again (unless it fails
        the ``sha256`` check). If True, it is downloaded again.
    sha256
        Expected SHA-256 hex digest of the file. When given, the download is checked and
        rejected (the partial file deleted) on a mismatch.
    timeout_s
        Seconds to wait for the server to connect or send the next bytes.
    quiet
        If True, show no progress bar and log nothing.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        On an HTTP error, a timeout, a broken connection, a truncated body or a checksum
        mismatch. The message names the URL.

    Examples
    --------
    >>> download_file("https://example.org/data.csv", "data/data.csv")  # doctest: +SKIP
    PosixPath('data/data.csv')
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        if sha256 is None or _sha256_of(dest) == sha256.lower():
            _announce(f"Kept existing {dest} (pass overwrite=True to download it again)", quiet)
            return dest
        _announce(f"Existing {dest} fails the sha256 check; downloading it again", quiet)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with part.open("wb") as sink:
            digest = _fetch(_request(url), sink, label=dest.name, timeout_s=timeout_s, quiet=quiet)
        _check_sha256(url, digest, sha256)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(dest)
    return dest


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
        _announce(f"Took {len(found)} street CSVs from {url}", quiet)
        paths += found
        pending = [m for m in pending if m not in {_month_of(p) for p in found}]
    _warn_missing_forces(paths, months=wanted, forces=slugs)
    return sorted(paths)


def download_boundaries(
    name: str,
    *,
    out_dir: str | os.PathLike[str],
    base_url: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    timeout_s: float = 60,
) -> Path:
    """Download a known boundary or street file (one of ``BOUNDARY_SOURCES``) into ``out_dir``.

    Parameters
    ----------
    name
        A key of ``BOUNDARY_SOURCES``, e.g. ``"london_statistical_gis"`` or
        ``"vancouver_local_areas"``.
    out_dir
        Folder for the file (created when missing); the file keeps the publisher's name.
    base_url
        If given, replaces the scheme and host of the source URL (e.g.
        ``"http://127.0.0.1:8000"`` for a mirror or a test server); the path is kept.
    overwrite
        If False (default), an existing file is kept. If True, it is downloaded again.
    quiet
        If True, show no progress bar and log nothing.
    timeout_s
        Seconds to wait for the server to connect or send the next bytes.

    Returns
    -------
    pathlib.Path
        The downloaded file (a zip, GeoJSON or osm.pbf, as published).

    Raises
    ------
    InputDataError
        If ``name`` is unknown or ``base_url`` has no scheme and host.
    DownloadError
        On an HTTP error or timeout (the message names the URL).

    Examples
    --------
    >>> download_boundaries("vancouver_local_areas", out_dir="data/boundaries")  # doctest: +SKIP
    PosixPath('data/boundaries/local-area-boundary.geojson')
    """
    if name not in BOUNDARY_SOURCES:
        msg = (
            f"`name` must be a known boundary source; got {name!r}. "
            f"Choose one of {sorted(BOUNDARY_SOURCES)}."
        )
        raise InputDataError(msg)
    source = BOUNDARY_SOURCES[name]
    url = _rebase_url(source.url, base_url)
    dest = Path(out_dir) / source.filename
    return download_file(url, dest, overwrite=overwrite, timeout_s=timeout_s, quiet=quiet)


def download_osm_streets(
    bbox: Sequence[float],
    *,
    out_path: str | os.PathLike[str],
    overpass_url: str = OVERPASS_URL,
    highway_classes: Sequence[str] = STREET_CLASSES,
    quiet: bool = False,
    timeout_s: float = 180,
) -> Path:
    """Download OpenStreetMap streets in ``bbox`` from the Overpass API into a GeoPackage.

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in degrees (WGS84 longitude/latitude).
    out_path
        The GeoPackage to write (layer ``streets``, EPSG:4326). An existing file is replaced.
    overpass_url
        The Overpass ``interpreter`` endpoint.
    highway_classes
        OSM ``highway`` values to keep; the default is ``STREET_CLASSES``. Ways tagged
        ``area=yes`` (pedestrian squares) are left out.
    quiet
        If True, show no progress bar and log nothing.
    timeout_s
        Seconds the Overpass server may spend on the query, and the client waits for bytes.

    Returns
    -------
    pathlib.Path
        ``out_path``. Its columns are ``street_id`` (``"way/<id>"``), ``name`` (OSM ``name``;
        null when the way has none), ``road_class`` (OSM ``highway``) and LineString geometry.

    Raises
    ------
    InputDataError
        If ``bbox`` is not (west, south, east, north) in degrees, a highway class is not a plain
        OSM value, or the area holds no street of the classes.
    DownloadError
        On an HTTP error, a timeout, or an Overpass error reply (the message names the URL).

    Examples
    --------
    >>> download_osm_streets(
    ...     (-0.132, 51.502, -0.108, 51.522), out_path="data/streets_central.gpkg"
    ... )  # doctest: +SKIP
    PosixPath('data/streets_central.gpkg')
    """
    west, south, east, north = _validate_bbox(bbox)
    classes = _validate_highway_classes(highway_classes)
    query = _overpass_query((south, west, north, east), classes, timeout_s=timeout_s)
    payload = _post_overpass(overpass_url, query, timeout_s=timeout_s, quiet=quiet)
    streets = _overpass_to_streets(payload)
    if streets.empty:
        msg = (
            f"`bbox` must hold streets; Overpass found no way of classes {list(classes)} in "
            f"(west={west}, south={south}, east={east}, north={north}). Check the bbox order "
            "(west, south, east, north) and that it covers a built-up area."
        )
        raise InputDataError(msg)
    out = Path(out_path)
    _write_gpkg(streets, out, layer="streets")
    _announce(f"Wrote {len(streets)} OSM streets to {out}", quiet)
    return out


# --- HTTP ------------------------------------------------------------------------------------


def _request(url: str, data: bytes | None = None) -> urllib.request.Request:
    """Build a GET (or, with ``data``, form POST) request that names the client."""
    headers = {"User-Agent": _USER_AGENT}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return urllib.request.Request(url, data=data, headers=headers)


def _fetch(
    request: urllib.request.Request, sink: IO[bytes], *, label: str, timeout_s: float, quiet: bool
) -> str:
    """Stream the body of ``request`` into ``sink``; return its SHA-256 hex digest."""
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            total = _content_length(response)
            digest, size = _copy_body(response, sink, total=total, label=label, quiet=quiet)
    except urllib.error.HTTPError as err:
        err.close()
        hint = _http_hint(err.code)
        msg = f"download failed: {url} answered HTTP {err.code} {err.reason}. {hint}"
        raise DownloadError(msg) from err
    except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException) as err:
        raise DownloadError(_network_message(url, err, timeout_s)) from err
    if total is not None and size != total:
        msg = f"download failed: {url} sent {size} of {total} bytes. Try again."
        raise DownloadError(msg)
    return digest


def _content_length(response: http.client.HTTPResponse) -> int | None:
    """Return the Content-Length of ``response``, or None when absent or not a number."""
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _copy_body(
    response: http.client.HTTPResponse,
    sink: IO[bytes],
    *,
    total: int | None,
    label: str,
    quiet: bool,
) -> tuple[str, int]:
    """Copy ``response`` to ``sink`` in chunks; return (sha256 hex digest, bytes copied)."""
    digest = hashlib.sha256()
    size = 0
    with _progress(label, total, quiet=quiet) as advance:
        while chunk := response.read(_CHUNK_BYTES):
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            advance(len(chunk))
    return digest.hexdigest(), size


@contextlib.contextmanager
def _progress(label: str, total: int | None, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """Yield a function that advances a rich progress bar by n bytes (a no-op when quiet)."""
    if quiet:
        yield lambda n: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _http_hint(code: int) -> str:
    """Return the fix to suggest for an HTTP error status."""
    if code == 404:
        return "Check the URL (for police.uk: that the month is published yet)."
    if code in (429, 503, 504):
        return "The server is busy: wait a minute and try again (or query a smaller area)."
    return "Check the URL, or try again later."


def _network_message(url: str, err: Exception, timeout_s: float) -> str:
    """Describe a timeout or connection failure for ``url``."""
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, TimeoutError):
        return (
            f"download failed: {url} sent nothing for {timeout_s:g} s (timeout). "
            "Try again, or pass a longer timeout."
        )
    return f"download failed: could not read {url} ({reason}). Check the network and URL."


def _check_sha256(url: str, digest: str, expected: str | None) -> None:
    """Raise DownloadError if ``expected`` is given and differs from ``digest``."""
    if expected is not None and digest != expected.lower():
        msg = (
            f"`sha256` must match the download; {url} gave {digest}, expected {expected}. "
            "The partial file was deleted: check the URL and checksum, or try again."
        )
        raise DownloadError(msg)


def _sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _rebase_url(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by those of ``base_url`` (keeping its path)."""
    if base_url is None:
        return url
    base = urllib.parse.urlsplit(base_url)
    if not base.scheme or not base.netloc:
        msg = f"`base_url` must start with scheme://host; got {base_url!r}, e.g. 'http://127.0.0.1:8000'."
        raise InputDataError(msg)
    parts = urllib.parse.urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urllib.parse.urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def _announce(message: str, quiet: bool) -> None:
    """Log ``message`` at INFO level unless ``quiet``."""
    if not quiet:
        log.info(message)


# --- police.uk -------------------------------------------------------------------------------


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


def _months_between(start: str, end: str) -> list[str]:
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
            while chunk := src.read(_CHUNK_BYTES):
                dst.write(chunk)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(dest)
    return dest


# --- OpenStreetMap ---------------------------------------------------------------------------


def _validate_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Return ``bbox`` as four floats, or raise listing every rule it breaks."""
    values = list(bbox)
    if len(values) != 4:
        msg = f"`bbox` must be 4 numbers (west, south, east, north); got {len(values)}: {values}."
        raise InputDataError(msg)
    west, south, east, north = (float(v) for v in values)
    problems = [
        text
        for bad, text in [
            (not -180 <= west <= 180 or not -180 <= east <= 180, "longitudes outside -180..180"),
            (not -90 <= south <= 90 or not -90 <= north <= 90, "latitudes outside -90..90"),
            (west >= east, f"west {west} is not less than east {east}"),
            (south >= north, f"south {south} is not less than north {north}"),
        ]
        if bad
    ]
    if problems:
        msg = (
            f"`bbox` must be (west, south, east, north) in degrees; got {tuple(values)}: "
            f"{'; '.join(problems)}. Give it as W S E N, e.g. (-0.132, 51.502, -0.108, 51.522)."
        )
        raise InputDataError(msg)
    return west, south, east, north


def _validate_highway_classes(classes: Sequence[str]) -> tuple[str, ...]:
    """Return the classes, or raise listing every one that is not a plain OSM highway value."""
    items = [classes] if isinstance(classes, str) else list(classes)
    bad = [c for c in items if not isinstance(c, str) or not _HIGHWAY_RE.match(c)]
    if bad or not items:
        found = f"got {bad}" if bad else "got none"
        msg = (
            "`highway_classes` must be OSM highway values in lower case (e.g. 'residential'); "
            f"{found}. See STREET_CLASSES for the default list."
        )
        raise InputDataError(msg)
    return tuple(items)


def _overpass_query(
    bbox_swne: tuple[float, float, float, float], classes: Sequence[str], *, timeout_s: float
) -> str:
    """Return the Overpass QL query for ways of ``classes`` in a (south, west, north, east) box."""
    box = ",".join(f"{v:.7f}" for v in bbox_swne)
    pattern = "|".join(classes)
    return (
        f"[out:json][timeout:{int(timeout_s)}];\n"
        f'way["highway"~"^({pattern})$"]["area"!="yes"]({box});\n'
        "out geom;\n"
    )


def _post_overpass(url: str, query: str, *, timeout_s: float, quiet: bool) -> dict[str, Any]:
    """POST ``query`` to an Overpass endpoint and return the decoded JSON reply."""
    data = urllib.parse.urlencode({"data": query}).encode()
    sink = io.BytesIO()
    _fetch(_request(url, data), sink, label="Overpass streets", timeout_s=timeout_s, quiet=quiet)
    try:
        payload = json.loads(sink.getvalue())
    except ValueError as err:
        msg = f"download failed: {url} did not answer with JSON ({err}). Check `overpass_url`."
        raise DownloadError(msg) from err
    remark = str(payload.get("remark", "")) if isinstance(payload, dict) else ""
    if not isinstance(payload, dict) or "error" in remark.lower():
        msg = (
            f"download failed: Overpass at {url} reported an error: {remark or 'no elements'}. "
            "Query a smaller bbox or try again later."
        )
        raise DownloadError(msg)
    return payload


def _overpass_to_streets(payload: dict[str, Any]) -> gpd.GeoDataFrame:
    """Turn an Overpass ``out geom;`` reply into street LineStrings (EPSG:4326), sorted by id."""
    rows = []
    for element in payload.get("elements", []):
        points = [p for p in element.get("geometry") or [] if p is not None]
        if element.get("type") != "way" or len(points) < 2:
            continue
        tags = element.get("tags") or {}
        line = LineString([(p["lon"], p["lat"]) for p in points])
        rows.append((int(element["id"]), tags.get("name"), tags.get("highway"), line))
    rows.sort(key=lambda row: row[0])
    return gpd.GeoDataFrame(
        {
            "street_id": [f"way/{row[0]}" for row in rows],
            "name": [row[1] for row in rows],
            "road_class": [row[2] for row in rows],
        },
        geometry=[row[3] for row in rows],
        crs="EPSG:4326",
    )


def _write_gpkg(gdf: gpd.GeoDataFrame, out_path: Path, *, layer: str) -> None:
    """Write ``gdf`` as the only layer of a new GeoPackage, replacing ``out_path`` at the end."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    part = out_path.with_name(f".{out_path.stem}.part.gpkg")
    part.unlink(missing_ok=True)
    try:
        gdf.to_file(part, layer=layer, driver="GPKG", engine="pyogrio")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(out_path)
