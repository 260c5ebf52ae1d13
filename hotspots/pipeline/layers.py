"""Several area layers in one run: every crime in one area of each layer, each layer's lists.

The main layer (``--areas``) names each hot street's area and keeps the run folder's top-level
files. Each overlay (``--overlay NAME=PATH``, or ``NAME=h3:RES`` for a hexagon grid built by
the run) gets the area-level tables of a run of its own, computed from the same crimes, hot
streets and listed locations:

* every kept crime goes to at most one area of the layer (:data:`OVERLAP_RULE`);
* a hot street is listed in every area of the layer holding one of its crimes
  (:data:`STREET_RULE`), a listed location in the area holding most of its crimes;
* the time summaries, period comparisons and best and worst areas are those of the main
  layer's, per area of the layer.

:func:`analyse_layer` returns the layer as a :class:`~hotspots.runfolder.RunResult` whose
``area_code``/``area_name`` are the layer's, so the writers of the main layer write it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots import runfolder
from hotspots.analysis import rank
from hotspots.analysis.rates import rates_for_run
from hotspots.errors import InputDataError
from hotspots.pipeline.config import RunConfig
from hotspots.pipeline.places import summarise_areas, with_map_links
from hotspots.pipeline.time_profiles import area_tables
from hotspots.read.layers import read_areas
from hotspots.runfolder import RunResult
from hotspots.space import crs, grid
from hotspots.space.locations import distinct_points, polygon_of_points, spread_category

__all__ = [
    "GRID_PREFIX",
    "LAYER_AREA_MAPS_MAX",
    "LOCATION_RULE",
    "OVERLAP_RULE",
    "STREET_RULE",
    "PreparedLayer",
    "analyse_layer",
    "assign_layer",
    "layer_areas",
    "prepare_layer",
]

#: How a crime inside several areas of one layer (overlapping areas, a shared edge) is placed.
OVERLAP_RULE = (
    "a crime inside several areas of the layer (overlapping areas, or on a shared edge) "
    "goes to the smallest of them by area, ties to the smaller code; a crime outside every "
    "area of the layer is in none"
)
#: How a hot street crossing several areas of a layer is listed.
STREET_RULE = (
    "a hot street is listed in every area of the layer that holds at least one of its crimes: "
    "crimes_in_area counts those, the other figures are the whole street's, and "
    "main_area_code names the area of the main layer the street is ranked in"
)
#: Where a listed police.uk location goes.
LOCATION_RULE = "a listed location goes to the area of the layer holding most of its crimes"
#: Layers with more areas holding crime than this get no map per area (lists, map and index).
LAYER_AREA_MAPS_MAX = runfolder.LAYER_AREA_PAGES_MAX
#: ``--overlay NAME=h3:RES``: a layer of the H3 cells at resolution RES that hold crime.
GRID_PREFIX = "h3:"


def layer_areas(source: str, crimes: gpd.GeoDataFrame, *, quiet: bool = True) -> gpd.GeoDataFrame:
    """Return the areas of an overlay in the crimes' CRS: a polygon file, or an H3 grid.

    Parameters
    ----------
    source
        A polygon file (code and name columns guessed as for ``--areas``), or ``h3:RES``:
        the H3 cells at resolution RES (0-15) that hold at least one crime.
    crimes
        The run's crimes (projected; ``x``/``y`` used for a grid).
    quiet
        Do not announce a reprojection.

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_code``, ``area_name``, the file's other columns and polygons.

    Raises
    ------
    InputDataError
        If the file cannot be read as areas, or RES is not a whole number 0-15.
    """
    if source.startswith(GRID_PREFIX):
        resolution = _grid_resolution(source)
        cells = grid.points_to_cells(crimes, resolution=resolution).dropna().unique()
        hexes = grid.cells_to_polygons(sorted(cells), crs=crimes.crs)
        return gpd.GeoDataFrame(
            {
                "area_code": hexes["cell"].astype(str).to_numpy(),
                "area_name": [f"H3 cell {c}" for c in hexes["cell"]],
            },
            geometry=hexes.geometry.to_numpy(),
            crs=crimes.crs,
        )
    layer = read_areas(Path(source))
    return crs.to_metric_crs(layer, crimes.crs, name=Path(source).name, quiet=quiet)


def _grid_resolution(source: str) -> int:
    text = source.removeprefix(GRID_PREFIX)
    if not text.isdigit() or not 0 <= int(text) <= 15:
        msg = f"--overlay ...={source}: the H3 resolution must be a whole number 0-15 (e.g. h3:8)"
        raise InputDataError(msg)
    return int(text)


def assign_layer(
    crimes: pd.DataFrame, areas: gpd.GeoDataFrame, *, grid_resolution: int | None = None
) -> tuple[pd.Series, int]:
    """Return the area of ``areas`` each crime is in, by :data:`OVERLAP_RULE`.

    Parameters
    ----------
    crimes
        Crimes with ``x``/``y`` in the CRS of ``areas``.
    areas
        ``area_code`` and polygons (which may overlap).
    grid_resolution
        For an H3 layer: each crime's cell at this resolution (exact, no polygon test).

    Returns
    -------
    codes, in_several
        The area code per crime (a categorical, missing outside every area), on the index
        of ``crimes``; and how many crimes lie inside more than one area (resolved by the
        rule).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> areas = gpd.GeoDataFrame({"area_code": ["big", "small"]},
    ...                          geometry=[box(0, 0, 100, 100), box(0, 0, 10, 10)])
    >>> crimes = pd.DataFrame({"x": [5.0, 50.0, 500.0], "y": [5.0, 50.0, 5.0]})
    >>> codes, several = assign_layer(crimes, areas)
    >>> codes.tolist(), several
    (['small', 'big', nan], 1)
    """
    if grid_resolution is not None:
        cells = grid.points_to_cells(crimes, resolution=grid_resolution)
        known = pd.Index(areas["area_code"].astype(str), dtype=object)
        cat = pd.Categorical(cells.astype(object), categories=known)  # others: missing
        return pd.Series(cat, index=crimes.index, name="area_code"), 0
    order = np.lexsort((areas["area_code"].astype(str).to_numpy(), areas.geometry.area.to_numpy()))
    polys = areas.geometry.to_numpy()[order]
    codes = areas["area_code"].astype(str).to_numpy()[order]
    point_of_row, ux, uy = distinct_points(crimes)
    hit = polygon_of_points(ux, uy, polys)
    tree = shapely.STRtree(polys)
    point_no, _ = tree.query(shapely.points(ux, uy), predicate="intersects")
    several_points = np.bincount(point_no, minlength=len(ux)) > 1
    in_several = int(several_points[point_of_row].sum())
    cat = spread_category(codes, hit, point_of_row, index=crimes.index)
    return cat.rename("area_code"), in_several


@dataclass
class PreparedLayer:
    """What a layer needs of the crimes alone: its areas, each crime's area, the area tables.

    :func:`prepare_layer` makes it, beside the place-level stages if it can
    (:func:`hotspots.pipeline.beside.start_beside`); :func:`analyse_layer` completes it.
    """

    areas: gpd.GeoDataFrame
    #: The layer's area of each crime (categorical; missing outside every area).
    codes: pd.Series
    #: Crimes inside more than one of the layer's areas.
    in_several: int
    #: ``area_time``, ``area_monthly``, the comparisons, ``performance`` and ``rates``.
    tables: dict[str, pd.DataFrame]


def prepare_layer(
    config: RunConfig, result: RunResult, name: str, source: str, incomplete: list[str]
) -> PreparedLayer:
    """Read a layer, place every crime in it and compute its area-level tables.

    Parameters
    ----------
    config
        The run's time options.
    result
        The run: crimes with their main areas, segments and ``city_monthly``.
    name, source
        The layer's name and its polygon file or ``h3:RES`` (:func:`layer_areas`).
    incomplete
        Months left out of trend tests.

    Returns
    -------
    PreparedLayer
        Areas, each crime's area (:data:`OVERLAP_RULE`), crimes in several areas and the
        area tables.

    Raises
    ------
    InputDataError
        If the layer cannot be read or no crime falls in any of its areas.
    """
    crimes = result.crimes
    areas = layer_areas(source, crimes, quiet=config.output.quiet)
    resolution = _grid_resolution(source) if source.startswith(GRID_PREFIX) else None
    codes, in_several = assign_layer(crimes, areas, grid_resolution=resolution)
    inside = codes.notna().to_numpy()
    if not inside.any():
        msg = f"--overlay {name}={source}: no crime falls in any of its {len(areas)} areas"
        raise InputDataError(msg)
    names = areas.set_index("area_code")["area_name"].astype(str)
    layer_codes = codes[inside]
    sub = crimes.loc[inside].assign(area_code=layer_codes, area_name=layer_codes.map(names))
    view = RunResult(
        result.out_dir,
        sub,
        result.rejected.iloc[:0],
        areas,
        result.segments,
        result.hot_streets,
        result.locations,
        {},
    )
    view.tables["city_monthly"] = result.tables["city_monthly"]
    tables = area_tables(config, view, incomplete)
    segments = _layer_segments(result.segments, areas, resolution)
    tables["rates"] = rates_for_run(sub, areas, segments)
    return PreparedLayer(areas, codes, in_several, tables)


def analyse_layer(
    config: RunConfig,
    result: RunResult,
    name: str,
    source: str,
    prepared: PreparedLayer | None = None,
) -> RunResult:
    """Return the run seen through one more area layer (the main one is ``result``'s).

    Parameters
    ----------
    config
        The run's configuration (time options; whether area maps are written).
    result
        The analysed run: crimes with ``place_key``, hot streets, listed locations, tables.
    name
        The layer's name (its folder ``layers/<name>/``).
    source
        A polygon file or ``h3:RES`` (:func:`layer_areas`).
    prepared
        :func:`prepare_layer` of this layer, if already computed.

    Returns
    -------
    RunResult
        Crimes in an area of the layer (``area_code``/``area_name`` the layer's, the main
        layer's in ``main_area_code``), the layer's areas, its hot streets and locations per
        area (:data:`STREET_RULE`, :data:`LOCATION_RULE`), area lists, area summary and the
        area-level tables; ``records["layer"]`` describes the layer for ``layer.json``.

    Raises
    ------
    InputDataError
        If the layer cannot be read or no crime falls in any of its areas.
    """
    if prepared is None:
        prepared = prepare_layer(config, result, name, source, _incomplete(result))
    crimes, areas, codes = result.crimes, prepared.areas, prepared.codes
    inside = codes.notna().to_numpy()
    names = areas.set_index("area_code")["area_name"].astype(str)
    sub = crimes.loc[inside]
    layer_codes = codes[inside]  # categorical: no text per row
    hot, locs, keys, renamed = _layer_places(result, sub["place_key"], layer_codes, names)
    sub = sub.assign(
        main_area_code=sub["area_code"],
        area_code=layer_codes,
        area_name=layer_codes.map(names),
        place_key=keys,
    )
    view = RunResult(
        result.out_dir / "layers" / name,
        sub,
        result.rejected.iloc[:0],
        areas,
        result.segments,
        hot,
        locs,
        {},
        counts=result.counts,
        seconds={},
    )
    view.tables.update(_shared_tables(result, renamed))
    view.tables.update(prepared.tables)
    with_crime = [str(c) for c in layer_codes.cat.remove_unused_categories().cat.categories]
    view.area_lists = rank.area_lists(hot, locs, area_codes=with_crime)
    maps = config.output.area_maps and len(view.area_lists) <= LAYER_AREA_MAPS_MAX
    if maps:
        view.area_lists = {c: with_map_links(c, t) for c, t in view.area_lists.items()}
    view.area_summary = summarise_areas(view, None)
    outside = int((~inside).sum())
    view.records["layer"] = _describe(name, source, areas, view, prepared.in_several, outside, maps)
    return view


def _layer_segments(
    segments: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, resolution: int | None
) -> pd.DataFrame:
    """Return the segments' ``length_m`` and the layer's area at each one's midpoint."""
    mid = segments.geometry.interpolate(0.5, normalized=True)
    points = gpd.GeoDataFrame({"x": mid.x, "y": mid.y}, geometry=mid, crs=segments.crs)
    codes, _ = assign_layer(points, areas, grid_resolution=resolution)
    return pd.DataFrame({"area_code": codes.to_numpy(), "length_m": segments["length_m"]})


def _incomplete(result: RunResult) -> list[str]:
    months = result.tables["month_check"]
    return [str(m) for m in months.index[months["incomplete"]]]


def _layer_places(
    result: RunResult, place_key: pd.Series, codes: pd.Series, names: pd.Series
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.Series, pd.DataFrame]:
    """Return the hot streets and locations per area of the layer, and each crime's new key.

    A hot street appears once per area holding its crimes, a location once (its area the
    one holding most of its crimes); the keys are the rows' positions (``s<i>``, ``l<i>``).
    Also the table of old and new keys (``old``, ``new``). Rows are handled as integer
    codes: no text per crime.
    """
    key_cat = pd.Categorical(place_key)
    area_cat = pd.Categorical(codes)
    k, a = key_cat.codes.astype(np.int64), area_cat.codes.astype(np.int64)
    valid = (k >= 0) & (a >= 0)
    n_areas = max(len(area_cat.categories), 1)
    pair = k * n_areas + a
    ids, counts = np.unique(pair[valid], return_counts=True)
    per = pd.DataFrame(
        {
            "key": np.asarray(key_cat.categories, dtype=object)[ids // n_areas],
            "code": np.asarray(area_cat.categories, dtype=object)[ids % n_areas],
            "crimes_in_area": counts,
            "pair": ids,
        }
    )
    per["kind"] = per["key"].str[0]
    per["row"] = per["key"].str[1:].astype("int64")
    streets = per[per["kind"] == "s"].sort_values(["row", "code"], kind="stable")
    locs = per[per["kind"] == "l"].sort_values(
        ["row", "crimes_in_area", "code"], ascending=[True, False, True], kind="stable"
    )
    locs = locs.drop_duplicates("row")  # the area holding most of its crimes (ties: smaller code)
    hot = _relabel(result.hot_streets, streets, names, streets_list=True)
    listed = _relabel(result.locations, locs, names, streets_list=False)
    renamed = pd.concat(
        [
            streets[["key", "pair"]].assign(new=[f"s{i}" for i in range(len(streets))]),
            locs[["key", "pair"]].assign(new=[f"l{i}" for i in range(len(locs))]),
        ],
        ignore_index=True,
    ).sort_values("pair", kind="stable")
    sorted_pairs = renamed["pair"].to_numpy()
    at = np.searchsorted(sorted_pairs, pair)
    found = valid & (at < len(sorted_pairs))
    found[found] = sorted_pairs[at[found]] == pair[found]
    new_codes = np.where(found, at, -1)
    new_cat = pd.Categorical.from_codes(
        new_codes, categories=pd.Index(renamed["new"], dtype=object)
    )
    keys = pd.Series(new_cat, index=place_key.index).astype(place_key.dtype)
    return hot, listed, keys, renamed.rename(columns={"key": "old"})[["old", "new"]]


def _relabel(
    table: gpd.GeoDataFrame, rows: pd.DataFrame, names: pd.Series, *, streets_list: bool
) -> gpd.GeoDataFrame:
    """Return ``table``'s rows ``rows["row"]`` in the layer's areas, ranked within each."""
    out = table.iloc[rows["row"].to_numpy()].reset_index(drop=True)
    codes = rows["code"].astype(str).to_numpy()
    pos = out.columns.get_loc("area_name") + 1
    out.insert(pos, "main_area_code", out["area_code"].astype(str).to_numpy())
    out.insert(pos + 1, "main_area_name", out["area_name"].astype(str).to_numpy())
    out.insert(pos + 2, "crimes_in_area", rows["crimes_in_area"].astype("int64").to_numpy())
    out["area_code"] = codes
    out["area_name"] = names.reindex(codes).to_numpy()
    # text as plain objects: thousands of per-area lists are cut from these rows, and
    # slicing Arrow-backed text costs far more per slice (the files hold the same text)
    text = [c for c in out.columns if isinstance(out[c].dtype, pd.StringDtype)]
    out = out.astype(dict.fromkeys(text, object))
    if streets_list and len(out):  # streets in city-rank order within each area of the layer
        out["area_rank"] = out.groupby("area_code")["rank"].rank(method="min").astype("int64")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=table.crs)


def _shared_tables(result: RunResult, renamed: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return the run's tables a layer's maps reuse, re-keyed to the layer's places."""
    mapping = renamed
    out: dict[str, pd.DataFrame] = {
        k: result.tables[k] for k in ("hexagons", "clusters", "month_check", "city_monthly")
    }
    windows = result.tables.get("place_windows")
    if windows is not None:  # indexed by place key (and crime group)
        names = [n or "place_key" for n in windows.index.names]
        flat = windows.reset_index(names=names)
        merged = mapping.merge(flat, left_on="old", right_on="place_key", how="inner")
        merged = merged.drop(columns=["old", "place_key"]).rename(columns={"new": "place_key"})
        out["place_windows"] = merged.set_index(names)
    return out


def _describe(
    name: str,
    source: str,
    areas: gpd.GeoDataFrame,
    view: RunResult,
    in_several: int,
    outside: int,
    maps: bool,
) -> dict[str, Any]:
    """Return ``layer.json``: where the layer came from, how crimes and streets were placed."""
    hot = view.hot_streets
    per_street = hot.groupby("segment_ids", dropna=False).size()  # a street's own segments
    return {
        "name": name,
        "source": source,
        "areas": len(areas),
        "areas_with_crime": len(view.area_lists),
        "crimes_in_layer": len(view.crimes),
        "crimes_outside": outside,
        "crimes_in_several_areas": in_several,
        "overlap_rule": OVERLAP_RULE,
        "street_rule": STREET_RULE,
        "location_rule": LOCATION_RULE,
        "hot_streets_listed": len(per_street),
        "hot_streets_in_several_areas": int((per_street > 1).sum()),
        "list_rows": len(hot) + len(view.locations),
        "area_maps": maps,
    }
