"""The area join: which area polygon holds each crime.

One implementation, :class:`AreaLayer`, used by the readers (while assembling the table),
by :func:`join_areas` (a table already read: outside rows rejected) and by
:func:`assign_areas` (area columns only, outside rows missing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from hotspots.errors import InputDataError
from hotspots.rejects import REASON_OUTSIDE, split_rejected
from hotspots.space import crs as _crs
from hotspots.space.locations import (
    distinct_points,
    polygon_of_points,
    spread_category,
)

__all__ = [
    "AreaLayer",
    "assign_areas",
    "join_areas",
]

log = logging.getLogger("hotspots")


@dataclass(frozen=True)
class AreaLayer:
    """Area polygons in the crimes' CRS, sorted by code (ties go to the smaller code).

    :meth:`of` builds it from a layer of :func:`read_areas`; :meth:`locate` finds the area
    of each distinct location of a crime table; :meth:`columns` spreads the area codes and
    names to the rows as categoricals.
    """

    polygons: np.ndarray
    codes: np.ndarray
    names: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, areas: gpd.GeoDataFrame, dst_crs: Any) -> AreaLayer:
        """Project ``areas`` to ``dst_crs`` (if needed) and sort them by code."""
        projected = _crs.to_metric_crs(areas, dst_crs, name="areas", quiet=True)
        order = np.argsort(projected["area_code"].to_numpy(), kind="stable")
        return cls(
            projected.geometry.to_numpy()[order],
            projected["area_code"].to_numpy()[order],
            projected["area_name"].to_numpy()[order],
            projected.total_bounds,
        )

    def locate(self, crimes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the area of each distinct location of ``crimes`` (-1 outside all).

        Also each row's location number and the locations' x and y.
        """
        codes, ux, uy = distinct_points(crimes)
        return polygon_of_points(ux, uy, self.polygons), codes, ux, uy

    def columns(self, hit: np.ndarray, codes: np.ndarray) -> dict[str, pd.Categorical]:
        """Return ``area_code``/``area_name`` per row from :meth:`locate`'s first two."""
        return {
            "area_code": spread_category(self.codes, hit, codes),
            "area_name": spread_category(self.names, hit, codes),
        }

    def no_overlap_message(self, x: np.ndarray, y: np.ndarray, crs: Any) -> str:
        """Say that no crime (at x/y, in ``crs``) falls in an area, giving both extents."""
        span = [np.nanmin(x), np.nanmin(y), np.nanmax(x), np.nanmax(y)]
        return (
            "no crime falls inside the area layer: check that --areas covers the same place "
            f"as --crimes (crimes span {np.round(span).tolist()}, areas "
            f"{np.round(self.bounds).tolist()} in {pyproj.CRS.from_user_input(crs).to_string()})"
        )


def join_areas(
    crimes: gpd.GeoDataFrame, rejected: pd.DataFrame, areas: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Add the area of each crime and reject the crimes outside every area.

    The readers do this while assembling the table when given ``areas``; this function is
    for a table already read.

    Parameters
    ----------
    crimes
        Canonical crime table (projected).
    rejected
        The rejected table so far.
    areas
        Area polygons (any CRS; projected to the crimes' CRS).

    Returns
    -------
    crimes, rejected
        Crimes with ``area_code`` and ``area_name`` (a point on a shared edge, or in two
        overlapping areas, goes to the smaller code), and the rejected table with the
        crimes outside every area added (reason ``outside study area``).

    Raises
    ------
    InputDataError
        If no crime falls inside any area (the message gives both extents).
    """
    layer, hit, codes, ux, uy = _locate(crimes, areas, crimes.crs)
    outside = (hit < 0)[codes]
    if len(crimes) and outside.all():
        raise InputDataError(layer.no_overlap_message(ux, uy, crimes.crs))
    joined = crimes.assign(**layer.columns(hit, codes))
    reason = np.full(len(joined), "", dtype=object)
    reason[outside] = REASON_OUTSIDE
    frame = joined.assign(raw_x=joined["x"], raw_y=joined["y"])
    kept, more = split_rejected(frame, reason)
    kept = gpd.GeoDataFrame(kept, geometry="geometry", crs=crimes.crs)
    return kept, pd.concat([rejected, more], ignore_index=True)


def assign_areas(crimes: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the area code and name of the polygon holding each crime.

    The same lookup as :func:`join_areas`, without rejecting anything: for a table whose
    rows must all stay (a crime outside every area gets missing values).

    Parameters
    ----------
    crimes
        Canonical crime table (projected); ``x``/``y`` are used.
    areas
        Polygons from :func:`hotspots.read_areas` (projected to the crimes' CRS if needed).

    Returns
    -------
    pandas.DataFrame
        ``area_code`` and ``area_name`` with the index of ``crimes``; missing where no
        polygon holds the point. A point inside two overlapping polygons, or on a shared
        edge, goes to the one with the smaller ``area_code``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> areas = gpd.GeoDataFrame({"area_code": ["A"], "area_name": ["a"]},
    ...                          geometry=[box(0, 0, 10, 10)], crs=27700)
    >>> crimes = gpd.GeoDataFrame({"x": [5.0, 50.0], "y": [5.0, 5.0]},
    ...                           geometry=gpd.points_from_xy([5, 50], [5, 5]), crs=27700)
    >>> assign_areas(crimes, areas)["area_code"].tolist()
    ['A', nan]
    """
    target = getattr(crimes, "crs", None) or areas.crs  # a plain table: the areas' CRS
    layer, hit, codes, _, _ = _locate(crimes, areas, target)
    return pd.DataFrame(layer.columns(hit, codes), index=crimes.index)


def _locate(
    crimes: pd.DataFrame, areas: gpd.GeoDataFrame, crs: Any
) -> tuple[AreaLayer, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the layer in ``crs`` and :meth:`AreaLayer.locate` of the crimes' locations."""
    layer = AreaLayer.of(areas, crs)
    hit, codes, ux, uy = layer.locate(crimes)
    return layer, hit, codes, ux, uy
