"""Reading the other layers: area polygons, street lines and population tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from hotspots.errors import InputDataError
from hotspots.read.sources import (
    short_error,
)

__all__ = [
    "AREA_CODE_CANDIDATES",
    "AREA_NAME_CANDIDATES",
    "STREET_ID_CANDIDATES",
    "STREET_NAME_CANDIDATES",
    "AreaInput",
    "areas_of",
    "read_areas",
    "read_areas_beside",
    "read_population",
    "read_streets",
]

log = logging.getLogger("hotspots")

AREA_CODE_CANDIDATES = (
    "area_code",
    "ward_code",
    "borough_code",
    "mapid",
    "code",
    "gss_code",
    "lad_code",
    "lsoa11cd",
    "wd14cd",
    "wd22cd",
    "id",
)


AREA_NAME_CANDIDATES = (
    "area_name",
    "ward_name",
    "borough",
    "name",
    "lsoa11nm",
    "wd14nm",
    "wd22nm",
    "label",
)


STREET_NAME_CANDIDATES = (
    "street_name",
    "name",
    "name1",
    "road_name",
    "roadname",
    "hblock",
    "streetname",
    "st_name",
)


STREET_ID_CANDIDATES = ("street_id", "osm_id", "seg_id", "identifier", "id", "fid", "toid")


def _pick(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _read_layer(path: str | Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    """Read one layer of a vector file; with several layers, ``layer`` must name one.

    ``what`` is ``"area"`` or ``"street"``, which names the option that chooses the layer
    (``--areas-layer``, ``--streets-layer``) in the one-line errors.
    """
    p = Path(path)
    if not p.exists():
        msg = f"{what} file {p} does not exist"
        raise InputDataError(msg)
    option = f"--{what}s-layer"
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(p)]
    except (pyogrio.errors.DataSourceError, ValueError) as err:
        msg = f"{p.name}: cannot be read as a {what} layer ({short_error(err)})"
        raise InputDataError(msg) from err
    if layer is None and len(layers) > 1:
        msg = (
            f"{p}: {len(layers)} layers ({', '.join(layers)}); choose the {what} layer "
            f"with {option}"
        )
        raise InputDataError(msg)
    if layer is not None and layer not in layers:
        msg = f"{p}: no layer {layer!r} (given by {option}); its layers are {', '.join(layers)}"
        raise InputDataError(msg)
    try:
        return gpd.read_file(p, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as err:
        msg = f"{p.name}: cannot be read as a {what} layer ({short_error(err)})"
        raise InputDataError(msg) from err


def read_areas(
    path: str | Path,
    *,
    code_col: str | None = None,
    name_col: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a polygon layer (wards, boroughs, local areas...) with a code and a name per area.

    Parameters
    ----------
    path
        Any vector file pyogrio reads (GeoPackage, GeoJSON, Shapefile...).
    code_col, name_col
        Columns holding each area's code and name; guessed from common names
        (``ward_code``, ``mapid``, ``ward_name``, ``name``...) when not given.
    layer
        Layer to read from a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``area_code``, ``area_name``, the file's other columns, and polygon geometry
        (invalid polygons repaired with ``make_valid``), in the file's CRS.

    Raises
    ------
    InputDataError
        If the layer has no polygons, no usable code column, or duplicate codes.

    Examples
    --------
    >>> wards = read_areas(get_path("london_wards"))
    >>> len(wards), wards["area_code"].iloc[0]
    (625, 'E05000026')
    """
    gdf = _read_layer(path, layer, "area")
    name = Path(path).name
    code = code_col or _pick(gdf.columns, AREA_CODE_CANDIDATES)
    label = name_col or _pick(gdf.columns, AREA_NAME_CANDIDATES) or code
    problems = _area_problems(gdf, code, label, name)
    if problems:
        raise InputDataError(f"{name}: " + "; ".join(problems))
    out = gdf.assign(area_code=gdf[str(code)].astype(str), area_name=gdf[str(label)].astype(str))
    bad = ~out.geometry.is_valid
    if bad.any():
        log.warning("%s: %d invalid polygon(s) repaired with make_valid", name, int(bad.sum()))
        out.loc[bad, "geometry"] = shapely.make_valid(out.geometry[bad].to_numpy())
    cols = ["area_code", "area_name"] + [
        c for c in gdf.columns if c not in (code, label, "geometry")
    ]
    return out[[*cols, "geometry"]]


def read_areas_beside(
    path: str | Path,
    *,
    code_col: str | None = None,
    name_col: str | None = None,
    layer: str | None = None,
) -> Future[gpd.GeoDataFrame]:
    """Start :func:`read_areas` in a thread of its own; return its future.

    The area layer is read while the crimes are inflated and parsed (GDAL's reading and
    Arrow's run without the GIL): a reader given the future (see :data:`AreaInput`) waits
    for it only where it looks points up in the areas. Its errors are raised by
    ``result()``, as :func:`read_areas` raises them.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-areas")
    try:
        return pool.submit(read_areas, path, code_col=code_col, name_col=name_col, layer=layer)
    finally:
        pool.shutdown(wait=False)  # the thread ends when the layer is read


#: Area polygons given to a crime reader: read already, being read in a thread (see
#: :func:`read_areas_beside`), or none.
AreaInput: TypeAlias = gpd.GeoDataFrame | Future[gpd.GeoDataFrame] | None


def areas_of(areas: AreaInput) -> gpd.GeoDataFrame | None:
    """Return the area polygons of an :data:`AreaInput`, waiting for them if being read."""
    return areas.result() if isinstance(areas, Future) else areas


def _area_problems(
    gdf: gpd.GeoDataFrame, code: str | None, label: str | None, name: str
) -> list[str]:
    problems = []
    if len(gdf) == 0:
        return ["the area layer is empty"]
    kinds = set(gdf.geom_type.dropna())
    if not kinds or not kinds <= {"Polygon", "MultiPolygon"}:
        problems.append(f"areas must be polygons; found {sorted(kinds)}")
    if code is None or code not in gdf.columns:
        problems.append(
            f"no area code column (looked for {list(AREA_CODE_CANDIDATES)}); "
            f"columns are {list(gdf.columns)}: name one with --area-code"
        )
    elif gdf[code].duplicated().any():
        dups = sorted(gdf.loc[gdf[code].duplicated(), code].astype(str).unique())[:5]
        problems.append(f"area codes must be unique; {dups} repeat: dissolve them first")
    if label is not None and label not in gdf.columns:
        problems.append(f"no column {label!r} for area names")
    return problems


def read_streets(
    path: str | Path,
    *,
    name_col: str | None = None,
    id_col: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a street line layer (OpenStreetMap, OS Open Roads, city centrelines).

    Parameters
    ----------
    path
        Any vector line file pyogrio reads.
    name_col
        Column with street names; guessed (``name``, ``name1``, ``street_name``...) if not
        given; streets are unnamed when there is none.
    id_col
        Column with the source's feature id; guessed, else the row number.
    layer
        Layer to read from a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source_id`` (str), ``street_name`` (str or missing) and LineString geometry
        (multi-lines exploded), in the file's CRS.

    Raises
    ------
    InputDataError
        If the layer is empty or holds no lines.

    Examples
    --------
    >>> streets = read_streets(get_path("london_streets"))
    >>> streets.geom_type.unique().tolist(), bool(streets["street_name"].notna().mean() > 0.9)
    (['LineString'], True)
    """
    gdf = _read_layer(path, layer, "street")
    fname = Path(path).name
    kinds = set(gdf.geom_type.dropna())
    if len(gdf) == 0 or not kinds & {"LineString", "MultiLineString"}:
        msg = (
            f"{fname}: streets must be a line layer; found {sorted(kinds) or 'no features'}. "
            "Give a file of street centrelines (LineString)"
        )
        raise InputDataError(msg)
    other = gdf.geom_type.isin(["LineString", "MultiLineString"])
    if (~other).any():
        log.warning("%s: %d non-line feature(s) ignored", fname, int((~other).sum()))
    name = name_col or _pick(gdf.columns, STREET_NAME_CANDIDATES)
    ident = id_col or _pick(gdf.columns, STREET_ID_CANDIDATES)
    ids = gdf[ident].astype(str) if ident else pd.Series(np.arange(len(gdf)).astype(str), gdf.index)
    names = gdf[name].astype("string").str.strip().replace("", pd.NA) if name else pd.NA
    out = gpd.GeoDataFrame(
        {"source_id": ids, "street_name": names}, geometry=gdf.geometry, crs=gdf.crs
    )[other.to_numpy()]
    out = out.explode(index_parts=False).reset_index(drop=True)
    return out[~out.geometry.is_empty & out.geometry.notna()].reset_index(drop=True)


def read_population(
    path: str | Path, *, code_col: str | None = None, population_col: str | None = None
) -> pd.Series:
    """Read a population table into a Series of residents indexed by area code.

    Parameters
    ----------
    path
        CSV file with one row per area.
    code_col, population_col
        Column names; guessed (``*_code``/``population*``) when not given.

    Returns
    -------
    pandas.Series
        Residents per area code (float), named ``population``.

    Raises
    ------
    InputDataError
        If the columns cannot be found.
    """
    df = pd.read_csv(path, dtype=str)
    code = code_col or _pick(df.columns, AREA_CODE_CANDIDATES)
    pop = population_col or next(
        (c for c in df.columns if c.lower().startswith("population")), None
    )
    if code is None or pop is None:
        msg = (
            f"{Path(path).name}: needs an area code and a population column; found "
            f"{list(df.columns)}. Name them with --population-code/--population-col"
        )
        raise InputDataError(msg)
    values = pd.to_numeric(df[pop], errors="coerce")
    return pd.Series(values.to_numpy(), index=df[code].astype(str), name="population")
