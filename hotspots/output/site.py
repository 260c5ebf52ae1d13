"""The run folder's pages: the city-wide map, a map per area and borough, and ``index.html``.

Page sizes are budgeted: an area map stays well under 3 MB (its own streets, locations and
crime points only; a simplified street network when offline), and the city-wide map draws
only what reads at city scale (simplified boundaries and the top hot streets).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.analysis.rank import type_columns
from hotspots.output.export import safe_file_stem
from hotspots.output.map_data import PeriodCounts, period_counts
from hotspots.output.map_options import DEFAULT_TOP_N, MapOptions
from hotspots.output.map_popups import MONTH_ONLY_WINDOW
from hotspots.output.maps import hot_streets_page
from hotspots.read.schema import BASIS_LOCATION, BASIS_STREET
from hotspots.runfolder import area_file_stem
from hotspots.space.crs import WGS84
from hotspots.space.locations import factorize_xy

if TYPE_CHECKING:
    from hotspots.runfolder import RunResult

__all__ = [
    "AREA_MAP_BUDGET_MB",
    "BOROUGH_LOCATIONS_PER_AREA",
    "CONTEXT_M",
    "MAIN_ROAD_M",
    "area_map_name",
    "borough_map_name",
    "map_counts",
    "map_windows",
    "write_index",
    "write_maps",
]

log = logging.getLogger("hotspots")

#: Area maps draw the street network this far around the area (metres).
CONTEXT_M = 400.0
#: Borough maps draw at most this many police.uk locations per area (the top of each list).
BOROUGH_LOCATIONS_PER_AREA = 15
#: Size budget of an area map; a larger page is logged as a warning.
AREA_MAP_BUDGET_MB = 1.0
#: The city map's background keeps, below street zooms, streets at least this long in all.
MAIN_ROAD_M = 2500.0


def _save(page: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def area_map_name(code: str) -> str:
    """Return the file name of an area's map inside ``maps/`` (stem: ``area_file_stem``)."""
    return f"{area_file_stem(code)}.html"


def borough_map_name(borough: str) -> str:
    """Return the file name of a borough's map inside ``maps/``."""
    return f"borough_{safe_file_stem(borough)}.html"


def _crime_points(crimes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Crimes per distinct location, crime type and area: lat/lon, type key, area, count ``n``.

    Counted on integer codes (each distinct point projected once), so no per-crime text or
    coordinate table is built for millions of crimes.
    """
    point, ux, uy = factorize_xy(crimes["x"].to_numpy(float), crimes["y"].to_numpy(float))
    ll = gpd.GeoSeries(gpd.points_from_xy(ux, uy), crs=crimes.crs).to_crs(WGS84)
    type_code, types = pd.factorize(crimes["crime_type"])
    area_code, areas = pd.factorize(crimes["area_code"])
    n_types, n_areas = len(types) + 1, len(areas) + 1  # code 0: missing
    key = (point * n_types + type_code + 1) * n_areas + area_code + 1
    key, n = np.unique(key, return_counts=True)
    point, rest = np.divmod(key, n_types * n_areas)
    type_code, area_code = np.divmod(rest, n_areas)
    type_key = np.array([None, *(type_columns(types)[str(t)][2:] for t in types)], dtype=object)
    area = np.array([None, *areas], dtype=object)
    return pd.DataFrame(
        {
            "lat": ll.y.to_numpy()[point],
            "lon": ll.x.to_numpy()[point],
            "type": type_key[type_code],
            "area_code": area[area_code],
            "n": n,
        }
    )


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
    quiet: bool = False,
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
    quiet
        Do not log progress.

    Returns
    -------
    list of pathlib.Path
        The pages written.
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
    city_options = MapOptions(
        area_value=value,
        top_n=top_n,
        hexes=hot_cells,
        clusters=outlines,
        repeats=repeats,
        corridors=corridors,
        counts=counts,
        windows=windows,
        base_streets=_city_base(result) if offline else None,
        title="Hot streets: all areas",
        subtitle=title,
        evidence=evidence,
        links=_city_links(codes, out_dir, area_maps=area_maps, mapped=set(areas["area_code"])),
        offline=offline,
    )
    city = hot_streets_page(_keyed(result.hot_streets, "s"), areas, city_options)
    files = [_save(city, out_dir / "map.html")]
    if area_maps:
        files += _area_pages(
            result,
            areas,
            value,
            out_dir / "maps",
            title=title,
            evidence=evidence,
            counts=counts,
            windows=windows,
            repeats=repeats,
            corridors=corridors,
            offline=offline,
            crime_points=crime_points,
            quiet=quiet,
        )
    files.append(
        write_index(result, summary, out_dir, title=title, area_maps=area_maps, place=place)
    )
    return files


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


def _area_pages(
    result: RunResult,
    areas: gpd.GeoDataFrame,
    value: str,
    folder: Path,
    *,
    title: str,
    evidence: str,
    counts: PeriodCounts,
    windows: dict[str, dict[str, str]],
    repeats: gpd.GeoDataFrame | None,
    corridors: gpd.GeoDataFrame | None,
    offline: bool,
    crime_points: bool,
    quiet: bool,
) -> list[Path]:
    points = _crime_points(result.crimes if crime_points else result.crimes.iloc[:0])
    hot, locs = _keyed(result.hot_streets, "s"), _keyed(result.locations, "l")
    # each table split by area once (not one comparison over every row per area)
    hot_by, locs_by, points_by = _by_area(hot), _by_area(locs), _by_area(points)
    repeats_by = _by_area(repeats) if repeats is not None else {}
    corridors_by = _by_areas(corridors) if corridors is not None else {}
    trend = (
        result.area_summary.set_index("area_code")["trend_class"]
        if "trend_class" in result.area_summary
        else pd.Series(dtype=object)
    )
    files = []
    sindex = areas.sindex
    for code in sorted(result.area_lists):
        row = areas.loc[areas["area_code"] == code]
        if row.empty:
            continue
        shape = row.geometry.iloc[0]
        near = areas.iloc[sindex.query(shape.buffer(CONTEXT_M), predicate="intersects")]
        base = None
        if offline:
            segs = result.segments
            base = segs.iloc[segs.sindex.query(shape.buffer(CONTEXT_M), predicate="intersects")]
        options = MapOptions(
            locations=_part(locs_by, code, locs),
            crimes=_part(points_by, code, points),
            base_streets=base,
            focus=[code],
            hexes=_within(result.tables.get("hexagons"), shape),
            clusters=_within(result.tables.get("clusters"), shape),
            repeats=None if repeats is None else _part(repeats_by, code, repeats),
            corridors=None if corridors is None else _part(corridors_by, code, corridors),
            corridor_count=None if corridors is None else len(corridors),
            counts=counts,
            windows=windows,
            area_value=value,
            top_n=None,
            rank_col="area_rank",
            title=f"Hot streets: {row['area_name'].iloc[0]} ({code})",
            subtitle=title,
            evidence=evidence,
            trend=str(trend.get(code, "") or ""),
            # files this run writes; `hotspots brief` adds the brief links to the links block
            links={code: {"Area list (CSV)": f"../wards/{area_file_stem(code)}.csv"}},
            offline=offline,
        )
        m = hot_streets_page(_part(hot_by, code, hot), near, options)
        path = _save(m, folder / area_map_name(code))
        size = path.stat().st_size / 1e6
        if size > AREA_MAP_BUDGET_MB:
            log.warning(
                "%s is %.1f MB, over the %.0f MB budget", path.name, size, AREA_MAP_BUDGET_MB
            )
        files.append(path)
    files += _borough_pages(
        result,
        areas,
        value,
        folder,
        title=title,
        evidence=evidence,
        counts=counts,
        windows=windows,
        repeats=repeats,
        corridors=corridors,
        offline=offline,
    )
    if not quiet:
        log.info("wrote %d area and borough maps", len(files))
    return files


def _by_area(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return the rows of ``table`` per ``area_code``."""
    codes = pd.Series(table["area_code"].astype(object).to_numpy())
    return {str(k): table.iloc[i] for k, i in codes.groupby(codes, sort=False).indices.items()}


def _area_lists(table: pd.DataFrame) -> list[list[str]]:
    """Return the area codes of each row: ``area_codes`` (``;``-separated) else ``area_code``."""
    col = "area_codes" if "area_codes" in table else "area_code"
    return [str(v).split(";") for v in table[col]]


def _by_areas(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return the rows per area code, a row crossing areas (``area_codes``) going to each."""
    rows: dict[str, list[int]] = {}
    for i, codes in enumerate(_area_lists(table)):
        for code in dict.fromkeys(codes):
            rows.setdefault(code, []).append(i)
    return {code: table.iloc[i] for code, i in rows.items()}


def _touching(table: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Return the rows of ``table`` in any of ``codes`` (by ``area_codes``)."""
    want = set(codes)
    return table.iloc[[i for i, c in enumerate(_area_lists(table)) if want.intersection(c)]]


def _part(parts: dict[str, Any], code: str, table: Any) -> Any:
    """Return ``parts[code]``, or no rows of ``table``."""
    return parts[code] if code in parts else table.iloc[:0]


def _within(layer: gpd.GeoDataFrame | None, shape: Any) -> gpd.GeoDataFrame | None:
    """Return the features of ``layer`` that intersect ``shape`` (None stays None)."""
    if layer is None or layer.empty:
        return layer
    return layer.iloc[layer.sindex.query(shape, predicate="intersects")]


def _borough_pages(
    result: RunResult,
    areas: gpd.GeoDataFrame,
    value: str,
    folder: Path,
    *,
    title: str,
    evidence: str,
    counts: PeriodCounts,
    windows: dict[str, dict[str, str]],
    repeats: gpd.GeoDataFrame | None,
    corridors: gpd.GeoDataFrame | None,
    offline: bool,
) -> list[Path]:
    if "borough" not in areas.columns:
        return []
    files = []
    hot, locs = _keyed(result.hot_streets, "s"), _keyed(result.locations, "l")
    for borough, part in areas.groupby("borough", sort=True):
        codes = part["area_code"].tolist()
        if not (part["crimes"] > 0).any():
            continue
        top_locs = locs[locs["area_code"].isin(codes)].sort_values("area_rank", kind="stable")
        top_locs = top_locs.groupby("area_code", sort=False).head(BOROUGH_LOCATIONS_PER_AREA)
        outline = part.geometry.union_all()
        options = MapOptions(
            locations=top_locs,
            hexes=_within(result.tables.get("hexagons"), outline),
            clusters=_within(result.tables.get("clusters"), outline),
            repeats=None if repeats is None else repeats[repeats["area_code"].isin(codes)],
            corridors=None if corridors is None else _touching(corridors, codes),
            corridor_count=None if corridors is None else len(corridors),
            counts=counts,
            windows=windows,
            focus=codes,
            area_value=value,
            top_n=None,
            title=f"Hot streets: {borough}",
            subtitle=title,
            evidence=evidence,
            links=_borough_links(codes, folder),
            offline=offline,
        )
        m = hot_streets_page(hot[hot["area_code"].isin(codes)], part, options)
        files.append(_save(m, folder / borough_map_name(str(borough))))
    return files


def _borough_links(codes: list[str], folder: Path) -> dict[str, dict[str, str]]:
    """Popup links of a borough map (in ``folder``): to the area files already written."""
    from hotspots.output.site_index import area_links

    return {
        c: area_links(c, prefix="../", exists=lambda rel: (folder.parent / rel).is_file())
        for c in codes
    }


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
    return write_page(
        summary,
        places,
        out_dir,
        subtitle=title,
        place=place,
        area_label=label,
        exists=lambda rel: rel == "run.json" or (out_dir / rel).is_file(),
    )
