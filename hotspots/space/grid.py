"""H3 hexagons: crimes to cells, counts per cell with the empty cells, and cell outlines.

Cells are H3 (v4) cell ids as strings. Coordinates are converted from the crimes' projected
CRS to WGS84 longitude/latitude once per distinct location: police.uk puts every record on
one of a fixed set of map points, so 1.4 million London records need only about 45,000
look-ups.

Default resolution
------------------
:func:`default_resolution` takes the **finest** resolution whose average hexagon edge
(``h3.average_hexagon_edge_length``) is at least ``SPACING_FACTOR`` (2) times the median
distance from each distinct crime location to its nearest other distinct location, within
``MIN_RESOLUTION``-``MAX_RESOLUTION`` (7-10). A hexagon is then about four location spacings
across and holds several map points, so a cell count is not the count of one point. On
police.uk London data (map points about 60-90 m apart) the rule gives resolution 9: hexagons
of 0.105 km^2 with an average edge of 201 m (h3 v4's table; h3 v3 quoted 174 m), about the
size of a city block and its frontages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely
from h3.api import basic_int as h3_int
from scipy.spatial import cKDTree

from hotspots.analysis.rank import type_columns
from hotspots.errors import InputDataError
from hotspots.space.locations import distinct_points, factorize_xy

__all__ = [
    "FILL_OPTIONS",
    "MAX_RESOLUTION",
    "MIN_RESOLUTION",
    "SPACING_FACTOR",
    "WGS84",
    "cells_to_polygons",
    "count_by_cell",
    "default_resolution",
    "distinct_xy",
    "points_to_cells",
    "unique_xy",
    "validate_projected",
]

log = logging.getLogger("hotspots")

WGS84 = "EPSG:4326"

#: Coarsest and finest resolution :func:`default_resolution` may choose.
MIN_RESOLUTION = 7
MAX_RESOLUTION = 10

#: A default hexagon edge is at least this many median location spacings.
SPACING_FACTOR = 2.0

#: Allowed values of ``fill`` in :func:`count_by_cell`.
FILL_OPTIONS = ("area", "ring", None)

Fill = Literal["area", "ring"] | None


def validate_projected(
    crimes: pd.DataFrame, caller: str, columns: Sequence[str] = ("x", "y")
) -> None:
    """Raise if ``crimes`` lacks ``columns`` or a projected (metre) CRS; report every problem.

    Parameters
    ----------
    crimes
        The table to check.
    caller
        Name of the public function, used in the message.
    columns
        Columns that must be present.

    Raises
    ------
    InputDataError
        Listing the missing columns and the CRS problem together.
    """
    problems = []
    missing = [c for c in columns if c not in crimes.columns]
    if missing:
        problems.append(f"it lacks the column(s) {', '.join(missing)}")
    crs = getattr(crimes, "crs", None)
    if crs is None:
        problems.append("it has no CRS")
    elif pyproj.CRS.from_user_input(crs).is_geographic:
        problems.append(f"its CRS {crs} is in degrees")
    if problems:
        msg = (
            f"`crimes` passed to {caller} must be the canonical crime table in a projected "
            f"CRS (metres); {'; '.join(problems)}. Read it with hotspots.read.crimes.read_crimes, "
            "which projects the points."
        )
        raise InputDataError(msg)


def _check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int | np.integer) or not 0 <= resolution <= 15:
        msg = (
            f"`resolution` must be an H3 resolution, an integer from 0 to 15; got "
            f"{resolution!r}. Use 9 for street-block hexagons or default_resolution(crimes)."
        )
        raise InputDataError(msg)


def _to_lonlat(x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    lon, lat = tr.transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def unique_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the distinct points (sorted by x, then y), each row's point, and the counts.

    Same result as ``np.unique(np.column_stack([x, y]), axis=0, ...)``, much faster: the
    rows are hashed (:func:`hotspots.space.locations.factorize_xy`, linear) and only the distinct
    points are sorted.
    """
    codes, ux, uy = factorize_xy(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    order = np.lexsort((uy, ux))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    inv = rank[codes]
    return np.column_stack([ux[order], uy[order]]), inv, np.bincount(inv, minlength=len(order))


def distinct_xy(crimes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's distinct point (-1 without x/y) and the distinct points (n x 2).

    The points are those of :func:`unique_xy` on the rows with x and y, in its order (by x,
    then y), found from the reader's ``point_id`` where it still holds
    (:func:`distinct_points`): only the distinct points are sorted, no row is hashed again.
    A run finds them once for Gi*'s cells, the density clusters and the repeat locations
    (:func:`count_by_cell`, :func:`hotspots.analysis.clusters.cluster_points`,
    :func:`hotspots.analysis.repeats.repeat_locations`): the 10-million-crime scale-up's
    2 million points took 3-4 s each time.
    """
    codes, ux, uy = distinct_points(crimes)
    ok = np.flatnonzero(np.isfinite(ux) & np.isfinite(uy))
    x, y = ux[ok] + 0.0, uy[ok] + 0.0  # -0.0 is 0.0, as in factorize_xy
    order = np.lexsort((y, x))
    sx, sy = x[order], y[order]
    new = np.ones(len(order), dtype=bool)  # two ids at one point count as one point
    new[1:] = (sx[1:] != sx[:-1]) | (sy[1:] != sy[:-1])
    of_code = np.full(len(ux), -1, dtype=np.intp)
    of_code[ok[order]] = np.cumsum(new) - 1
    return of_code[codes], np.column_stack([sx[new], sy[new]])


def _point_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Return the H3 cell of each point as a 64-bit integer (one h3 call per point)."""
    cells = map(h3_int.latlng_to_cell, lat.tolist(), lon.tolist(), [resolution] * len(lat))
    return np.fromiter(cells, dtype=np.uint64, count=len(lat))


def _cell_codes(
    crimes: gpd.GeoDataFrame,
    resolution: int,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each crime's index into the sorted cells (-1 without x/y), the cells, the points.

    H3 is asked once per distinct point; the cells are named (and sorted as text) once each.
    ``distinct`` is :func:`distinct_xy` of ``crimes`` when already known.
    """
    codes, uniq = distinct_xy(crimes) if distinct is None else distinct
    lon, lat = _to_lonlat(uniq[:, 0], uniq[:, 1], crimes.crs)
    numbers, point_code = np.unique(_point_cells(lon, lat, resolution), return_inverse=True)
    names = np.array([h3_int.int_to_str(c) for c in numbers.tolist()], dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    point_cell = rank[point_code.ravel()]
    return np.where(codes >= 0, point_cell[codes], -1), names[order], uniq


def points_to_cells(crimes: gpd.GeoDataFrame, *, resolution: int) -> pd.Series:
    """Return the H3 cell holding each crime.

    Parameters
    ----------
    crimes
        Canonical crime table in a projected CRS; ``x`` and ``y`` (metres) are used.
    resolution
        H3 resolution, 0 (coarsest) to 15 (finest).

    Returns
    -------
    pandas.Series
        H3 cell ids (``string`` dtype, named ``cell``) with the index of ``crimes``;
        missing where ``x`` or ``y`` is missing.

    Raises
    ------
    InputDataError
        If ``crimes`` lacks ``x``/``y`` or a projected CRS, or ``resolution`` is not 0-15.

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> points_to_cells(crimes, resolution=9).iloc[0]
    '89194ad960bffff'
    """
    validate_projected(crimes, "points_to_cells")
    _check_resolution(resolution)
    codes, cells, _ = _cell_codes(crimes, resolution)
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(cells, dtype="string"))
    return pd.Series(cat, index=crimes.index, name="cell").astype("string")


def default_resolution(crimes: gpd.GeoDataFrame, *, quiet: bool = False) -> int:
    """Choose an H3 resolution from the spacing of the distinct crime locations.

    Parameters
    ----------
    crimes
        Canonical crime table in a projected CRS.
    quiet
        If True, do not log the choice.

    Returns
    -------
    int
        The resolution (see the module notes for the rule): 9 on police.uk London data.

    Raises
    ------
    InputDataError
        If ``crimes`` lacks ``x``/``y`` or a projected CRS.

    Notes
    -----
    Formally: with ``s`` the median, over distinct locations, of the distance to the nearest
    other distinct location, the result is the largest ``r`` in 7-10 with
    ``average_hexagon_edge_length(r) >= 2 s``, or 7 if none. With fewer than two distinct
    locations it is 9.

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> default_resolution(crimes, quiet=True)
    9
    """
    validate_projected(crimes, "default_resolution")
    return _resolution_of(distinct_xy(crimes)[1], quiet=quiet)


def _resolution_of(xy: np.ndarray, *, quiet: bool) -> int:
    """Return :func:`default_resolution` of the distinct points ``xy`` (n x 2)."""
    if len(xy) < 2:
        spacing, res = float("nan"), 9
    else:
        tree = cKDTree(xy, balanced_tree=False)  # quicker to build; the same distances
        spacing = float(np.median(tree.query(xy, k=2, workers=-1)[0][:, 1]))
        fits = [
            r
            for r in range(MIN_RESOLUTION, MAX_RESOLUTION + 1)
            if h3.average_hexagon_edge_length(r, "m") >= SPACING_FACTOR * spacing
        ]
        res = max(fits) if fits else MIN_RESOLUTION
    if not quiet:
        log.info(
            "H3 resolution %d chosen automatically (hexagon edge %.0f m; distinct crime "
            "locations a median %.0f m apart)",
            res,
            h3.average_hexagon_edge_length(res, "m"),
            spacing,
        )
    return res


def _area_cells(polygons: gpd.GeoSeries, resolution: int) -> set[str]:
    """Cells whose centres fall inside any of the polygons (h3 ``geo_to_cells``)."""
    found: set[str] = set()
    for geom in polygons.to_crs(WGS84).make_valid().to_numpy():
        for part in getattr(geom, "geoms", [geom]):
            if isinstance(part, shapely.Polygon) and not part.is_empty:
                found.update(h3.geo_to_cells(part, resolution))
    return found


def _fill_cells(
    areas: gpd.GeoDataFrame | None,
    points: np.ndarray,
    occupied: set[str],
    *,
    crs: Any,
    resolution: int,
    fill: Fill,
) -> set[str]:
    """Empty cells to add: of the areas (or the points' convex hull), or the first rings."""
    if fill is None:
        return set()
    if fill == "ring":
        return {n for c in occupied for n in h3.grid_ring(c, 1)}
    if areas is not None:
        return _area_cells(areas.geometry.to_crs(crs), resolution)
    hull = shapely.convex_hull(shapely.multipoints(points))
    return _area_cells(gpd.GeoSeries([hull.buffer(1.0)], crs=crs), resolution)


def _type_counts(crimes: pd.DataFrame, codes: np.ndarray, cells: np.ndarray) -> pd.DataFrame:
    """Crimes per cell, in all and per type (columns as rank.count_by_segment)."""
    tcode, types = pd.factorize(crimes["crime_type"], sort=True)
    ok = codes >= 0
    typed = ok & (tcode >= 0)
    flat = np.bincount(
        codes[typed] * len(types) + tcode[typed], minlength=len(cells) * len(types)
    ).reshape(len(cells), len(types))
    table = pd.DataFrame(
        flat,
        index=pd.Index(cells, dtype="string", name="cell"),
        columns=[type_columns(types)[str(t)] for t in types],
    )
    table = table.T.groupby(level=0, sort=False).sum().T  # two types folding to one column
    table.insert(0, "crimes", np.bincount(codes[ok], minlength=len(cells)))
    return table


def count_by_cell(
    crimes: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame | None = None,
    *,
    resolution: int | None = None,
    fill: Fill = "area",
    quiet: bool = False,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Count crimes per H3 cell, in all and per crime type, including empty cells of the extent.

    Gi* compares each cell's neighbourhood with the whole table, so the cells without crime
    inside the study extent must be present as zeros; ``fill`` says which empty cells to add.

    Parameters
    ----------
    crimes
        Canonical crime table in a projected CRS.
    areas
        Optional polygons of the study area (e.g. the wards the extract covers), any CRS.
    resolution
        H3 resolution; by default :func:`default_resolution`.
    fill
        ``"area"``: add every cell whose centre lies in ``areas`` or, without ``areas``, in
        the convex hull of the crimes. ``"ring"``: add the six neighbours of every cell with
        crime. ``None``: only cells with crime.
    quiet
        If True, do not log automatic choices.
    distinct
        :func:`distinct_xy` of ``crimes`` when already known.

    Returns
    -------
    pandas.DataFrame
        Indexed by cell id (named ``cell``, sorted): ``crimes`` then one ``n_<type>`` column
        per crime type (as :func:`hotspots.analysis.rank.count_by_segment`), all ``int64``. Cells
        with crime always appear, also outside ``areas``; ``crimes`` sums to the number of
        crimes with coordinates. ``attrs["resolution"]`` holds the resolution used.

    Raises
    ------
    InputDataError
        If ``crimes`` is not projected, ``areas`` has no CRS, ``resolution`` is not 0-15 or
        ``fill`` is unknown.

    Examples
    --------
    >>> from hotspots.read import crimes as io
    >>> path = get_path("london_crimes") / "2017-12-metropolitan-street.csv.gz"
    >>> crimes, _ = io.read_crimes([path], quiet=True)
    >>> counts = count_by_cell(crimes, resolution=8, quiet=True)
    >>> int(counts["crimes"].sum()) == len(crimes), bool((counts["crimes"] == 0).any())
    (True, True)
    """
    validate_projected(crimes, "count_by_cell", ("x", "y", "crime_type"))
    if fill not in FILL_OPTIONS:
        msg = f"`fill` must be one of {FILL_OPTIONS}; got {fill!r}. Use 'area' for Gi*."
        raise InputDataError(msg)
    if areas is not None and areas.crs is None:
        msg = "`areas` must have a CRS; found none. Read them with hotspots.read_areas."
        raise InputDataError(msg)
    if distinct is None:  # once, for the resolution and the cells
        distinct = distinct_xy(crimes)
    res = _resolution_of(distinct[1], quiet=quiet) if resolution is None else resolution
    _check_resolution(res)
    codes, cells, points = _cell_codes(crimes, res, distinct)
    table = _type_counts(crimes, codes, cells)
    extra = _fill_cells(
        areas, points, set(table.index), crs=crimes.crs, resolution=res, fill=fill
    ) - set(table.index)
    index = pd.Index(sorted([*table.index, *extra]), dtype="string", name="cell")
    table = table.reindex(index, fill_value=0)
    if not quiet:
        log.info(
            "%d H3 cells at resolution %d: %d with crime, %d empty (fill=%s)",
            len(table),
            res,
            len(table) - len(extra),
            len(extra),
            fill,
        )
    table = table.astype("int64")
    table.attrs["resolution"] = res
    return table


def cells_to_polygons(cells: Sequence[str] | pd.Series | pd.Index, *, crs: Any) -> gpd.GeoDataFrame:
    """Return the hexagon (or pentagon) outline of each H3 cell.

    Parameters
    ----------
    cells
        H3 cell ids; a Series keeps its index, other sequences get a positional index.
    crs
        CRS of the output, e.g. the crimes' ``crimes.crs`` or ``"EPSG:4326"``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``cell`` (``string``) and ``geometry`` (Polygon) in ``crs``.

    Raises
    ------
    InputDataError
        If any id is not a valid H3 cell (all bad ids are listed, up to five).

    Examples
    --------
    >>> cells_to_polygons(["89194ad3003ffff"], crs="EPSG:27700").area.round(-3).tolist()
    [94000.0]
    """
    ser = cells if isinstance(cells, pd.Series) else pd.Series(list(cells))
    ids = ser.astype(str).to_numpy()
    bad = [c for c in ids if not h3.is_valid_cell(c)]
    if bad:
        msg = (
            f"`cells` must be valid H3 cell ids; found {len(bad)} invalid "
            f"(e.g. {', '.join(map(repr, bad[:5]))}). Pass ids from points_to_cells."
        )
        raise InputDataError(msg)
    rings = [h3.cell_to_boundary(c) for c in ids]
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    latlng = np.array([p for r in rings for p in r], dtype=float).reshape(-1, 2)
    parts = np.repeat(np.arange(len(ids)), sizes)
    polys = (
        shapely.polygons(shapely.linearrings(latlng[:, ::-1], indices=parts))
        if len(ids)
        else np.array([], dtype=object)
    )
    gdf = gpd.GeoDataFrame(
        {"cell": pd.array(ids, dtype="string")}, geometry=polys, crs=WGS84, index=ser.index
    )
    return gdf.to_crs(crs)
