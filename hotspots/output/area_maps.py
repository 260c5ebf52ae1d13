"""The map of each area and borough (``maps/``), written in two processes where it pays.

Each page is one :class:`AreaPage`: what to draw (its hot streets, areas and options). The
run's tables are split by area once (:class:`AreaInputs`); the pages are then built and
written by the run's process and, on a machine with two or more cores, one forked copy of
it that shares those tables (copy-on-write: nothing is pickled) and the rendered page
template. The two take pages in turn from a shared counter, so a slow page holds up only
its own process. Every page is the same byte for byte whichever process writes it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from hotspots.analysis.rank import type_columns
from hotspots.output.export import safe_file_stem
from hotspots.output.map_data import encode_frame
from hotspots.output.map_options import MapOptions
from hotspots.output.maps import hot_streets_page, warm_page_template
from hotspots.runfolder import area_file_stem
from hotspots.space.crs import WGS84
from hotspots.space.locations import factorize_xy

if TYPE_CHECKING:
    from hotspots.runfolder import RunResult

__all__ = [
    "AREA_MAP_BUDGET_MB",
    "BASE_SIMPLIFY_M",
    "BOROUGH_LOCATIONS_PER_AREA",
    "CONTEXT_M",
    "MAP_WORKERS_ENV",
    "MIN_PAGES_PER_WORKER",
    "AreaInputs",
    "AreaPage",
    "AreaPages",
    "area_map_name",
    "borough_map_name",
    "map_workers",
    "write_area_maps",
    "write_pages",
]

log = logging.getLogger("hotspots")

#: Area maps draw the street network this far around the area (metres).
CONTEXT_M = 400.0
#: Borough maps draw at most this many police.uk locations per area (the top of each list).
BOROUGH_LOCATIONS_PER_AREA = 15
#: Size budget of an area map; a larger page is logged as a warning.
AREA_MAP_BUDGET_MB = 1.0
#: Simplification of an area map's background network, metres (as ``page_data`` simplifies
#: an area map's ``base_streets``).
BASE_SIMPLIFY_M = 2.0
#: Environment variable: processes writing the area maps (default: 2 where 2 cores are free).
MAP_WORKERS_ENV = "HOTSPOTS_MAP_WORKERS"
#: A second process is started only for at least this many pages each.
MIN_PAGES_PER_WORKER = 8


def area_map_name(code: str) -> str:
    """Return the file name of an area's map inside ``maps/`` (stem: ``area_file_stem``)."""
    return f"{area_file_stem(code)}.html"


def borough_map_name(borough: str) -> str:
    """Return the file name of a borough's map inside ``maps/``."""
    return f"borough_{safe_file_stem(borough)}.html"


@dataclass(frozen=True, eq=False)
class AreaInputs:
    """A run's tables split by area once, for every area and borough page.

    Parameters
    ----------
    result
        The run.
    areas
        Areas with their summary columns (``crimes``, the area value, ``borough``).
    hot, locations
        Hot streets and listed locations with ``place_key``.
    shared
        The options every page shares (counts, windows, title, evidence, offline, ...).
    value
        The areas' value column.
    forecast
        Next month's listed places (point geometry), or None.
    crime_points
        Whether individual crime locations are drawn.
    """

    result: RunResult
    areas: gpd.GeoDataFrame
    hot: gpd.GeoDataFrame
    locations: gpd.GeoDataFrame
    shared: MapOptions
    value: str
    forecast: gpd.GeoDataFrame | None
    crime_points: bool

    @property
    def repeats(self) -> gpd.GeoDataFrame | None:
        """Repeat locations (None when street-level only)."""
        return self.result.tables.get("repeat_locations") if self.crime_points else None

    @property
    def corridors(self) -> gpd.GeoDataFrame | None:
        """The run's corridors, or None."""
        return self.result.tables.get("corridors")


@dataclass(frozen=True, eq=False)
class AreaPage:
    """One page of ``maps/``: its file name and what it draws."""

    name: str
    hot: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    options: MapOptions

    def html(self) -> str:
        """Return the page (:func:`hotspots.output.maps.hot_streets_page`)."""
        return hot_streets_page(self.hot, self.areas, self.options)


class AreaPages(Sequence[AreaPage]):
    """Every area page (by code), then every borough page (by name), each built when asked for.

    The run's tables are split by area once, here; a process writing some of the pages builds
    only those.

    Parameters
    ----------
    inputs
        The run's tables (:class:`AreaInputs`).
    folder
        The ``maps/`` folder (borough pages link to the area files of the run folder).
    """

    def __init__(self, inputs: AreaInputs, folder: Path) -> None:
        r = inputs.result
        self.inputs, self.folder = inputs, folder
        crimes = r.crimes if inputs.crime_points else r.crimes.iloc[:0]
        self.points = _crime_points(crimes)
        # each table split by area once (not one comparison over every row per area)
        self.hot_by, self.locs_by = _by_area(inputs.hot), _by_area(inputs.locations)
        self.points_by = _by_area(self.points)
        repeats, corridors, fc = inputs.repeats, inputs.corridors, inputs.forecast
        self.repeats_by = _by_area(repeats) if repeats is not None else {}
        self.corridors_by = _by_areas(corridors) if corridors is not None else {}
        self.forecast_by = _by_area(fc) if fc is not None else {}
        self.trend = (
            r.area_summary.set_index("area_code")["trend_class"]
            if "trend_class" in r.area_summary
            else pd.Series(dtype=object)
        )
        # the offline background: every segment simplified and encoded once, as an area
        # map's own share would be (both are per geometry), not once per map it shows on
        self.base_rings = (
            encode_frame(r.segments, simplify_m=BASE_SIMPLIFY_M) if inputs.shared.offline else []
        )
        areas = inputs.areas
        self.rows: dict[str, int] = {}
        for i, c in enumerate(areas["area_code"].astype(str)):
            self.rows.setdefault(c, i)
        codes = [c for c in sorted(r.area_lists) if c in self.rows]
        self.area_maps = {f"maps/{area_map_name(c)}" for c in codes}
        self.specs: list[tuple[str, Any]] = [("area", c) for c in codes]
        if "borough" in areas.columns:
            for borough, part in areas.groupby("borough", sort=True):
                if (part["crimes"] > 0).any():
                    self.specs.append(("borough", (borough, part)))

    def __len__(self) -> int:
        return len(self.specs)

    @overload
    def __getitem__(self, i: int) -> AreaPage: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[AreaPage]: ...

    def __getitem__(self, i: int | slice) -> AreaPage | Sequence[AreaPage]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        kind, what = self.specs[i]
        return self._area(what) if kind == "area" else self._borough(*what)

    def name(self, i: int) -> str:
        """Return the file name of page ``i`` (without building it)."""
        kind, what = self.specs[i]
        return area_map_name(what) if kind == "area" else borough_map_name(str(what[0]))

    def _area(self, code: str) -> AreaPage:
        inputs, r = self.inputs, self.inputs.result
        areas, shared = inputs.areas, inputs.shared
        repeats, corridors, fc = inputs.repeats, inputs.corridors, inputs.forecast
        row = areas.iloc[[self.rows[code]]]
        shape = row.geometry.iloc[0]
        near = areas.iloc[areas.sindex.query(shape.buffer(CONTEXT_M), predicate="intersects")]
        base = None
        if shared.offline:
            near_segs = r.segments.sindex.query(shape.buffer(CONTEXT_M), predicate="intersects")
            if len(near_segs):
                base = [ring for i in near_segs for ring in self.base_rings[i]]
        options = replace(
            shared,
            locations=_part(self.locs_by, code, inputs.locations),
            crimes=_part(self.points_by, code, self.points),
            base_rings=base,
            focus=[code],
            hexes=_within(r.tables.get("hexagons"), shape),
            clusters=_within(r.tables.get("clusters"), shape),
            repeats=None if repeats is None else _part(self.repeats_by, code, repeats),
            corridors=None if corridors is None else _part(self.corridors_by, code, corridors),
            corridor_count=None if corridors is None else len(corridors),
            forecast=None if fc is None else _part(self.forecast_by, code, fc),
            area_value=inputs.value,
            top_n=None,
            rank_col="area_rank",
            title=f"Hot streets: {row['area_name'].iloc[0]} ({code})",
            trend=str(self.trend.get(code, "") or ""),
            # files this run writes; `hotspots brief` adds the brief links to the links block
            links={code: {"Area list (CSV)": f"../wards/{area_file_stem(code)}.csv"}},
        )
        hot = _part(self.hot_by, code, inputs.hot)
        return AreaPage(area_map_name(code), hot, near, options)

    def _borough(self, borough: Any, part: gpd.GeoDataFrame) -> AreaPage:
        inputs, r = self.inputs, self.inputs.result
        hot, locs, fc = inputs.hot, inputs.locations, inputs.forecast
        repeats, corridors = inputs.repeats, inputs.corridors
        codes = part["area_code"].tolist()
        top_locs = locs[locs["area_code"].isin(codes)].sort_values("area_rank", kind="stable")
        top_locs = top_locs.groupby("area_code", sort=False).head(BOROUGH_LOCATIONS_PER_AREA)
        outline = part.geometry.union_all()
        options = replace(
            inputs.shared,
            locations=top_locs,
            hexes=_within(r.tables.get("hexagons"), outline),
            clusters=_within(r.tables.get("clusters"), outline),
            repeats=None if repeats is None else repeats[repeats["area_code"].isin(codes)],
            corridors=None if corridors is None else _touching(corridors, codes),
            corridor_count=None if corridors is None else len(corridors),
            forecast=None if fc is None else fc[fc["area_code"].isin(codes)],
            focus=codes,
            area_value=inputs.value,
            top_n=None,
            title=f"Hot streets: {borough}",
            links=_borough_links(codes, self.folder, self.area_maps),
        )
        name = borough_map_name(str(borough))
        return AreaPage(name, hot[hot["area_code"].isin(codes)], part, options)


def _borough_links(
    codes: list[str], folder: Path, area_maps: set[str]
) -> dict[str, dict[str, str]]:
    """Popup links of a borough map (in ``folder``): to the area files written or to write."""
    from hotspots.output.site_index import area_links

    def exists(rel: str) -> bool:
        return rel in area_maps or (folder.parent / rel).is_file()

    return {c: area_links(c, prefix="../", exists=exists) for c in codes}


def write_area_maps(
    inputs: AreaInputs,
    folder: Path,
    *,
    before: Callable[[], list[Path]] | None = None,
    quiet: bool = False,
) -> list[Path]:
    """Write every area and borough map of a run into ``folder``.

    Parameters
    ----------
    inputs
        The run's tables and the shared options.
    folder
        The ``maps/`` folder.
    before
        Other work of this process (e.g. the city-wide map), done while a second process
        starts on the area maps (see :func:`write_pages`).
    quiet
        Do not log progress.

    Returns
    -------
    list of pathlib.Path
        What ``before`` wrote, then the area pages (by code) and the borough pages (by name).
    """
    pages = AreaPages(inputs, folder)
    first, files = write_pages(pages, folder, before=before)
    for (kind, _), path in zip(pages.specs, files, strict=True):
        size = path.stat().st_size / 1e6 if kind == "area" else 0.0  # area maps are budgeted
        if size > AREA_MAP_BUDGET_MB:
            log.warning(
                "%s is %.1f MB, over the %.0f MB budget", path.name, size, AREA_MAP_BUDGET_MB
            )
    if not quiet:
        log.info("wrote %d area and borough maps", len(files))
    return first + files


def map_workers(pages: int) -> int:
    """Return the processes to write ``pages`` pages with: 1 or 2.

    Two where the machine gives this process two cores or more, fork is available, there
    are at least :data:`MIN_PAGES_PER_WORKER` pages each, and :data:`MAP_WORKERS_ENV` does
    not say 1.

    Examples
    --------
    >>> map_workers(3)
    1
    """
    if os.environ.get(MAP_WORKERS_ENV, "").strip() == "1" or pages < 2 * MIN_PAGES_PER_WORKER:
        return 1
    if "fork" not in mp.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if (cores or 1) >= 2 else 1


def write_pages(
    pages: Sequence[AreaPage],
    folder: Path,
    *,
    before: Callable[[], list[Path]] | None = None,
) -> tuple[list[Path], list[Path]]:
    """Build and write ``pages`` into ``folder``, in one process or two (:func:`map_workers`).

    The second process is a fork of this one: it shares ``pages`` (built lazily, as
    :class:`AreaPages` does) and the rendered page template, and takes pages in turn with
    this one from a shared counter, which this one joins once ``before`` is done.

    Parameters
    ----------
    pages
        The pages; ``pages[i]`` may build page ``i`` when asked for.
    folder
        Folder to write to (made if missing).
    before
        Other work for this process, done first (while the second process writes pages).

    Returns
    -------
    tuple of lists of pathlib.Path
        What ``before`` returned, and the pages written in the order of ``pages``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if map_workers(len(pages)) == 1:
        first = before() if before is not None else []
        return first, [_save(page, folder) for page in pages]
    warm_page_template(pages[0].options.offline)  # rendered once, shared with the fork
    ctx = mp.get_context("fork")
    counter = ctx.Value("i", 0)
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(pages, folder, counter, send), daemon=True)
    with warnings.catch_warnings():  # Python 3.12+ warns of fork in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child.start()
    send.close()
    try:
        first = before() if before is not None else []
        mine = _take_turns(pages, folder, counter)
        theirs = receive.recv()
    except EOFError:
        theirs = "it ended without a word"
    except BaseException:  # this process failed: stop the other one too
        child.terminate()
        raise
    finally:
        child.join()
        receive.close()
    if isinstance(theirs, str):
        msg = f"writing the area maps failed in the second process: {theirs}"
        raise RuntimeError(msg)
    done = {**mine, **theirs}
    if len(done) != len(pages):
        msg = f"the area maps were not all written ({len(done)} of {len(pages)})"
        raise RuntimeError(msg)
    return first, [folder / done[i] for i in range(len(pages))]


def _take_turns(pages: Sequence[AreaPage], folder: Path, counter: Any) -> dict[int, str]:
    """Write the pages whose turn this process takes (the shared counter's next number)."""
    done: dict[int, str] = {}
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value += 1
        if i >= len(pages):
            return done
        done[i] = _save(pages[i], folder).name


def _child(pages: Sequence[AreaPage], folder: Path, counter: Any, send: Any) -> None:
    """Take turns in the second process, then send the pages written (or the traceback)."""
    try:
        result: dict[int, str] | str = _take_turns(pages, folder, counter)
    except BaseException:
        result = traceback.format_exc()
    with contextlib.suppress(BrokenPipeError):
        send.send(result)
    send.close()


def _save(page: AreaPage, folder: Path) -> Path:
    path = folder / page.name
    path.write_text(page.html(), encoding="utf-8")
    return path


def _crime_points(crimes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Crimes per distinct location, crime type and area: lat/lon, type key, area, count ``n``.

    Counted on integer codes (each distinct point projected once), so no per-crime text or
    coordinate table is built for millions of crimes.
    """
    point, ux, uy = factorize_xy(crimes["x"].to_numpy(float), crimes["y"].to_numpy(float))
    # the coordinates projected as arrays: GeoSeries.to_crs's numbers, without two shapely
    # points per distinct location (about 0.6 GB at 10 million crimes)
    lon, lat = pyproj.Transformer.from_crs(crimes.crs, WGS84, always_xy=True).transform(ux, uy)
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
            "lat": np.asarray(lat)[point],
            "lon": np.asarray(lon)[point],
            "type": type_key[type_code],
            "area_code": area[area_code],
            "n": n,
        }
    )


def _by_area(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return the rows of ``table`` per ``area_code``."""
    # grouped on integer codes: no Python string per row (millions of crime points at 10M)
    codes, areas = pd.factorize(table["area_code"])
    groups = pd.Series(codes).groupby(codes, sort=False).indices
    return {str(areas[k]): table.iloc[i] for k, i in groups.items() if k >= 0}


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
