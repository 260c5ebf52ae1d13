"""Downloading boundary files and OpenStreetMap streets (through the Overpass API)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
from shapely.geometry import LineString

from hotspots.errors import DownloadError, InputDataError
from hotspots.read.fetch import announce, download_file, fetch, rebase_url, request

__all__ = [
    "BOUNDARY_SOURCES",
    "OVERPASS_URL",
    "STREET_CLASSES",
    "BoundarySource",
    "download_boundaries",
    "download_osm_streets",
]

log = logging.getLogger("hotspots")


class BoundarySource(NamedTuple):
    """A boundary or street file that :func:`download_boundaries` knows how to fetch."""

    url: str
    filename: str
    title: str


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


_HIGHWAY_RE = re.compile(r"^[a-z_]+$")


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
    url = rebase_url(source.url, base_url)
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
    announce(f"Wrote {len(streets)} OSM streets to {out}", quiet)
    return out


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
    fetch(request(url, data), sink, label="Overpass streets", timeout_s=timeout_s, quiet=quiet)
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
