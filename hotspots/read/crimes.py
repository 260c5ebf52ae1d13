"""Read crime files of any supported format into the canonical table.

Every crime reader returns the kept rows as a projected GeoDataFrame in the canonical schema
(:data:`hotspots.read.schema.CRIME_COLUMNS`) and a rejected table with a ``reason`` for every
row it did not keep (see :mod:`hotspots.rejects`).
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from hotspots.read.assemble import PointsSeen
from hotspots.read.layers import AreaInput, areas_of
from hotspots.read.mapped import mapping_text, read_mapped, read_mapping
from hotspots.read.policeuk import POLICE_UK_SOURCE, read_police_uk
from hotspots.space import crs as _crs
from hotspots.space.areas import join_areas

__all__ = [
    "describe_source",
    "read_crimes",
]

log = logging.getLogger("hotspots")


def describe_source(fmt: str) -> str:
    """Return a one-line description of a crime format's data source, for reports.

    Parameters
    ----------
    fmt
        ``"police-uk"``, a built-in mapping name or a mapping path.

    Returns
    -------
    str
        The mapping's ``description`` (or its name) for mapped formats.
    """
    if fmt == "police-uk":
        return POLICE_UK_SOURCE
    doc = tomllib.loads(mapping_text(fmt))
    return str(doc.get("description", doc.get("name", fmt)))


def read_crimes(
    paths: Iterable[str | Path],
    *,
    fmt: str = "police-uk",
    crime_types: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    crs: str | None = None,
    quiet: bool = False,
    areas: AreaInput = None,
    on_points: PointsSeen | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read crime files of any supported format into the canonical table.

    Parameters
    ----------
    paths
        Files or folders.
    fmt
        ``"police-uk"``, ``"vancouver"`` or the path of a TOML mapping.
    crime_types, start, end, crs, quiet, areas, on_points
        As in :func:`read_police_uk` and :func:`read_mapped`.

    Returns
    -------
    crimes, rejected
        Kept rows (projected) and rejected rows with reasons.
    """
    paths = list(paths)
    if fmt == "police-uk":
        crimes, rejected = read_police_uk(
            paths,
            crime_types=crime_types,
            start=start,
            end=end,
            quiet=quiet,
            areas=None if crs else areas,
            on_points=None if crs else on_points,
        )
        if crs:
            crimes = _crs.to_metric_crs(crimes, crs, name="crimes", quiet=quiet)
            crimes = crimes.assign(x=crimes.geometry.x, y=crimes.geometry.y)
            polygons = areas_of(areas)
            if polygons is not None:
                crimes, rejected = join_areas(crimes, rejected, polygons)
        return crimes, rejected
    mapped: tuple[gpd.GeoDataFrame, pd.DataFrame] = read_mapped(
        paths,
        read_mapping(fmt),
        crime_types=crime_types,
        start=start,
        end=end,
        crs=crs,
        quiet=quiet,
        areas=areas,
        on_points=on_points,
    )
    return mapped
