"""One place for the choice of projected CRS and for lon/lat versus x/y order."""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj

from hotspots.errors import CRSMismatchError

__all__ = [
    "BRITISH_NATIONAL_GRID",
    "WGS84",
    "log_projection",
    "lon_lat",
    "to_metric_crs",
    "utm_crs_for",
]

log = logging.getLogger("hotspots")

#: British National Grid, metres: the CRS for police.uk data.
BRITISH_NATIONAL_GRID = "EPSG:27700"
WGS84 = "EPSG:4326"


def lon_lat(x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the WGS84 longitude and latitude of points ``x``, ``y`` in ``crs``.

    The numbers ``GeoSeries.to_crs(WGS84)`` gives for the same points (the same
    transformation, kept once per CRS), without making a geometry per point.

    Examples
    --------
    >>> lon, lat = lon_lat(np.array([530000.0]), np.array([180000.0]), BRITISH_NATIONAL_GRID)
    >>> round(float(lon[0]), 4), round(float(lat[0]), 4)
    (-0.1284, 51.504)
    """
    source = pyproj.CRS.from_user_input(crs)
    if source.is_exact_same(_wgs84()):
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    lon, lat = _to_wgs84(source).transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


@functools.cache
def _wgs84() -> pyproj.CRS:
    return pyproj.CRS.from_user_input(WGS84)


@functools.lru_cache(maxsize=8)
def _to_wgs84(source: pyproj.CRS) -> pyproj.Transformer:
    """Return the transformer ``GeoSeries.to_crs`` uses (``always_xy``), made once per CRS."""
    return pyproj.Transformer.from_crs(source, _wgs84(), always_xy=True)


def utm_crs_for(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """Return the WGS84 UTM zone CRS that holds the median of the given lon/lat points.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (WGS84).

    Returns
    -------
    pyproj.CRS
        The UTM zone (north or south) around the median point.

    Raises
    ------
    CRSMismatchError
        If there is no finite coordinate to choose a zone from.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        msg = "cannot choose a UTM zone: no finite lon/lat coordinates"
        raise CRSMismatchError(msg)
    mlon, mlat = float(np.median(lon[ok])), float(np.median(lat[ok]))
    found = pyproj.database.query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=pyproj.aoi.AreaOfInterest(mlon, mlat, mlon, mlat),
    )
    return pyproj.CRS.from_epsg(int(found[0].code))


def to_metric_crs(
    gdf: gpd.GeoDataFrame, crs: pyproj.CRS | str, *, name: str = "layer", quiet: bool = False
) -> gpd.GeoDataFrame:
    """Project ``gdf`` to the run's metric ``crs``, announcing the change.

    Parameters
    ----------
    gdf
        Any layer with a CRS set.
    crs
        The run's projected CRS (units metres).
    name
        What to call the layer in messages, e.g. the file name.
    quiet
        If True, do not log the reprojection.

    Returns
    -------
    geopandas.GeoDataFrame
        ``gdf`` in ``crs`` (the same object when it is already there).

    Raises
    ------
    CRSMismatchError
        If ``gdf`` has no CRS, or ``crs`` is not in metres.
    """
    target = pyproj.CRS.from_user_input(crs)
    if not target.is_projected or target.axis_info[0].unit_name not in ("metre", "meter"):
        msg = f"the run CRS must be projected in metres; got {target.to_string()}"
        raise CRSMismatchError(msg)
    if gdf.crs is None:
        msg = f"`{name}` has no CRS; set one (e.g. EPSG:4326 for lon/lat) and read it again"
        raise CRSMismatchError(msg)
    if pyproj.CRS.from_user_input(gdf.crs) == target:
        return gdf
    if not quiet:
        log_projection(gdf.crs, target, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return gdf.to_crs(target)


def log_projection(source: Any, target: Any, name: str) -> None:
    """Log that layer ``name`` is projected from CRS ``source`` to ``target`` (metres)."""
    log.info(
        "%s projected from %s to %s (metres)",
        name,
        pyproj.CRS.from_user_input(source).to_string(),
        pyproj.CRS.from_user_input(target).to_string(),
    )
