"""The run folder's pages: the city-wide map, a map per area and borough, and ``index.html``.

Page sizes are budgeted: an area map stays well under 3 MB (its own streets, locations and
crime points only; a simplified street network when offline), and the city-wide map draws
only what reads at city scale (simplified boundaries and the top hot streets). The area and
borough maps are written by :mod:`hotspots.output.area_maps` (in two processes where it pays).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from hotspots.output.area_maps import (
    AREA_MAP_BUDGET_MB,
    BOROUGH_LOCATIONS_PER_AREA,
    CONTEXT_M,
    AreaInputs,
    area_map_name,
    borough_map_name,
    write_area_maps,
)
from hotspots.output.map_data import PeriodCounts, period_counts
from hotspots.output.map_options import DEFAULT_TOP_N, SYNTHETIC_MARK, MapOptions
from hotspots.output.map_popups import MONTH_ONLY_WINDOW
from hotspots.output.maps import hot_streets_page
from hotspots.read.schema import BASIS_LOCATION, BASIS_STREET

if TYPE_CHECKING:
    from hotspots.runfolder import RunResult

__all__ = [
    "AREA_MAP_BUDGET_MB",
    "BOROUGH_LOCATIONS_PER_AREA",
    "CONTEXT_M",
    "MAIN_ROAD_M",
    "SYNTHETIC_MARK",
    "area_map_name",
    "borough_map_name",
    "map_counts",
    "map_forecast",
    "map_windows",
    "write_index",
    "write_maps",
]

log = logging.getLogger("hotspots")

#: The city map's background keeps, below street zooms, streets at least this long in all.
MAIN_ROAD_M = 2500.0


def _save(page: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _city_links(
    codes: list[str], out_dir: Path, *, area_maps: bool = True, mapped: set[str] | None = None
) -> dict[str, dict[str, str]]:
    """Popup links of the city-wide map, relative to the run folder: only to files written.

    The area lists are on disk when the maps are written; the area maps are about to be
    written for the codes of ``mapped`` (every code when None) when ``area_maps``; briefs are
    linked only if ``briefs/`` has them (``hotspots brief`` adds them later).
    """
    from hotspots.output.site_index import area_links

    will_map = {f"maps/{area_map_name(c)}" for c in (codes if mapped is None else mapped)}

    def exists(rel: str) -> bool:
        return (out_dir / rel).is_file() or (area_maps and rel in will_map)

    return {c: area_links(c, prefix="", exists=exists) for c in codes}


def write_maps(
    result: RunResult,
    out_dir: Path,
    *,
    title: str,
    offline: bool = False,
    top_n: int = DEFAULT_TOP_N,
    area_maps: bool = True,
    crime_points: bool = True,
    evidence: str = "",
    place: str = "",
    data_source: str = "",
    quiet: bool = False,
    meanwhile: Callable[[], list[Path]] | None = None,
) -> list[Path]:
    """Write ``map.html``, ``maps/<area>.html``, ``maps/borough_<name>.html`` and ``index.html``.

    Parameters
    ----------
    result
        A run's tables (areas with their summary, hot streets, locations, crimes).
    out_dir
        The run folder being written.
    title
        Period and data, shown in every title block.
    offline
        Inline every script and style and draw the street network instead of web tiles.
    top_n
        Hot streets drawn on the city-wide map.
    area_maps
        If False, write only the city-wide map and the index.
    crime_points
        If False (street-level-only publishing), no individual crime locations are drawn.
    evidence
        The backtest sentence, opened on demand in every title block.
    place
        The force or city (:func:`hotspots.output.site_index.place_name`), named in the index title.
    data_source
        The data source's description (run.json's ``data_source``); one holding
        :data:`SYNTHETIC_MARK` labels the repeat-caller layer as synthetic demo data.
    quiet
        Do not log progress.
    meanwhile
        Other files of the run folder for this process to write (e.g. the overlay layers'),
        after the city-wide map, while a second process starts on the area maps.

    Returns
    -------
    list of pathlib.Path
        The pages written, then what ``meanwhile`` wrote.
    """
    summary = result.area_summary
    areas = result.areas.merge(
        summary[[c for c in summary.columns if c not in result.areas.columns or c == "area_code"]],
        on="area_code",
        how="left",
    )
    value = "rate_per_1000" if "rate_per_1000" in areas else "crimes"
    areas[value] = areas[value].where(areas["crimes"] > 0)  # no crime rows: no data, not zero
    codes = sorted(result.area_lists)
    hexes, outlines = result.tables.get("hexagons"), result.tables.get("clusters")
    hot_cells = (
        None if hexes is None else hexes[hexes["gi_class"].astype(str).str.startswith("Hot")]
    )
    counts = map_counts(result)
    windows = map_windows(result)
    corridors = result.tables.get("corridors")
    # street-level-only publishing: no point-level layer
    repeats = result.tables.get("repeat_locations") if crime_points else None
    forecast = map_forecast(result)
    shared = MapOptions(
        counts=counts,
        windows=windows,
        subtitle=title,
        evidence=evidence,
        callers_synthetic=SYNTHETIC_MARK in data_source,
        forecast_info=result.records.get("forecast", {}),
        offline=offline,
    )
    city_options = replace(
        shared,
        forecast=forecast,
        area_value=value,
        top_n=top_n,
        hexes=hot_cells,
        clusters=outlines,
        repeats=repeats,
        corridors=corridors,
        base_streets=_city_base(result) if offline else None,
        title="Hot streets: all areas",
        links=_city_links(codes, out_dir, area_maps=area_maps, mapped=set(areas["area_code"])),
    )

    also: list[Path] = []

    def city() -> list[Path]:
        page = hot_streets_page(_keyed(result.hot_streets, "s"), areas, city_options)
        saved = _save(page, out_dir / "map.html")
        also.extend(meanwhile() if meanwhile is not None else [])
        return [saved]

    if not area_maps:
        files = city()
    else:
        inputs = AreaInputs(
            result=result,
            areas=areas,
            hot=_keyed(result.hot_streets, "s"),
            locations=_keyed(result.locations, "l"),
            shared=shared,
            value=value,
            forecast=forecast,
            crime_points=crime_points,
        )
        # the city map is written while a second process starts on the area maps
        files = write_area_maps(inputs, out_dir / "maps", before=city, quiet=quiet)
    files.append(
        write_index(result, summary, out_dir, title=title, area_maps=area_maps, place=place)
    )
    return files + also


def map_counts(result: RunResult) -> PeriodCounts:
    """Return the counts per street, location and area, type and month, that maps re-rank by.

    Crime groups are the briefs' (:func:`hotspots.brief.classify_crime_types`).
    """
    from hotspots.analysis.groups import classify_crime_types, read_brief_weights

    settings = read_brief_weights()
    types = result.crimes["crime_type"].dropna().unique().tolist()
    return period_counts(
        result.crimes,
        keys=("place_key", "area_code"),
        group_of=classify_crime_types(types, settings=settings),
        group_labels=settings.labels,
    )


def map_windows(result: RunResult) -> dict[str, dict[str, str]]:
    """Return per place key the patrol window of each crime group (5 crimes or more).

    The same windows as ``place_windows.csv``; for data that gives the month only, the
    peak months where they stand out, else "time unknown".
    """
    from hotspots.temporal.group_times import group_window_texts

    table = result.tables.get("place_windows")
    if table is None or table.empty:
        return {}
    return group_window_texts(table, month_only=MONTH_ONLY_WINDOW)


def map_forecast(result: RunResult) -> gpd.GeoDataFrame | None:
    """Return next month's listed places as points with their street's ``forecast_rank``.

    None when the run has no forecast (``hotspots run --forecast``).
    """
    table = result.tables.get("forecast_list")
    if table is None:
        return None
    streets = result.tables.get("forecast_streets")
    points = gpd.GeoDataFrame(
        table.drop(columns=["forecast_rank"], errors="ignore"),
        geometry=gpd.points_from_xy(table["x"], table["y"]),
        crs=result.crimes.crs,
    )
    if "area_code" not in points:
        points["area_code"] = ""
    points["area_code"] = points["area_code"].fillna("").astype(str)
    if streets is not None and "forecast_rank" in streets:
        key = streets.assign(area_code=streets["area_code"].fillna("").astype(str))
        rank = key.set_index(["street_name", "area_code"])["forecast_rank"]
        names = points["street_name"].fillna("(unnamed)").replace("", "(unnamed)")
        pairs = pd.MultiIndex.from_arrays([names, points["area_code"]])
        points["forecast_rank"] = rank.reindex(pairs).to_numpy()
    return points


def _keyed(table: gpd.GeoDataFrame, prefix: str) -> gpd.GeoDataFrame:
    """Add ``place_key`` (``s<i>`` or ``l<i>``: the row's position in the run's table)."""
    return table.assign(place_key=[f"{prefix}{i}" for i in range(len(table))])


def _city_base(result: RunResult) -> gpd.GeoDataFrame:
    """Return the city map's background: every segment, ``main`` where its street is long."""
    segs = result.segments
    named = segs["street_name"].astype(object).fillna("")
    total = segs["length_m"].groupby(named).transform("sum")
    return gpd.GeoDataFrame(
        {"main": ((total >= MAIN_ROAD_M) & (named != "")).to_numpy()},
        geometry=segs.geometry.to_numpy(),
        crs=segs.crs,
    )


def write_index(
    result: RunResult,
    summary: pd.DataFrame,
    out_dir: Path,
    *,
    title: str,
    area_maps: bool,
    place: str = "",
) -> Path:
    """Write ``index.html``: every area with a list, its figures and links to files written.

    Parameters
    ----------
    result
        The run (hot streets and locations: each area's top place).
    summary
        ``areas.csv`` content.
    out_dir
        The run folder being written (its lists and maps are already there).
    title
        Period and data.
    area_maps
        Whether area maps were written (kept for callers; the folder is looked at).
    place
        The force or city (:func:`hotspots.output.site_index.place_name`) for the title.

    Returns
    -------
    pathlib.Path
        The page written (see :func:`hotspots.output.site_index.render_index`).
    """
    from hotspots.output.site_index import write_index as write_page

    places = pd.concat(
        [
            t[["area_code", "area_rank", "street"]].assign(basis=basis)
            for t, basis in ((result.hot_streets, BASIS_STREET), (result.locations, BASIS_LOCATION))
        ],
        ignore_index=True,
    )
    label = "ward" if "borough" in summary.columns else "area"
    layer = "layer" in result.records  # an overlay's folder: layer.json, no run.json
    extra = (
        [("../../index.html", "Main areas"), ("layer.json", "About this layer")]
        if layer
        else [(f"layers/{n}/index.html", f"Areas of layer {n}") for n in result.layers]
    )
    return write_page(
        summary,
        places,
        out_dir,
        subtitle=title,
        place=place,
        area_label=label,
        exists=lambda rel: (rel == "run.json" and not layer) or (out_dir / rel).is_file(),
        extra_links=extra,
        rates=result.tables.get("rates"),
        performance=result.tables.get("performance"),
    )
