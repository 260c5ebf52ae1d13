"""The significance stage: Gi* on hexagons and segments, density clusters, harm, corridors.

What needs only the ranked crimes (:func:`find`: Gi* and the density clusters) is worked
out in a second process while the run's time stage goes on; :func:`add_significance` then
joins it to the places.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.analysis import clusters, corridors, harm, rank, repeats, stats
from hotspots.errors import InputDataError
from hotspots.pipeline.config import RunConfig
from hotspots.pipeline.places import join_places
from hotspots.runfolder import RunResult
from hotspots.space import cache, grid

log = logging.getLogger("hotspots")

__all__ = [
    "NOT_TESTED",
    "Found",
    "add_harm",
    "add_significance",
    "build_run_corridors",
    "find",
]


@dataclass
class Found:
    """What the significance stage works out from the ranked crimes alone (:func:`find`)."""

    hexes: gpd.GeoDataFrame
    gi_segments: pd.DataFrame
    resolution: int
    labels: pd.Series


def find(
    config: RunConfig,
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    counts: pd.DataFrame,
    points: tuple[np.ndarray, np.ndarray],
) -> Found:
    """Gi* on hexagons and segments, and the density clusters: what needs only the ranking.

    The run computes it in a second process beside the time stage
    (:func:`hotspots.pipeline.beside.start_beside`); :func:`add_significance` completes it.
    ``points`` is :func:`hotspots.space.grid.distinct_xy` of the crimes, found once.
    """
    # the density clusters run in a thread beside Gi*: scikit-learn's HDBSCAN and GEOS's
    # neighbour search each keep one core busy (the crimes are only read until both end)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots-clusters") as pool:
        clustering = pool.submit(
            clusters.cluster_points,
            crimes,
            method=config.significance.cluster_method,  # type: ignore[arg-type]
            seed=config.seed,
            quiet=config.output.quiet,
            distinct=points,
        )
        hexes, gi_segs, resolution = _gistar_both(config, crimes, segments, areas, counts, points)
        labels = clustering.result()
    return Found(hexes, gi_segs, resolution, labels)


def add_harm(config: RunConfig, result: RunResult) -> None:
    """Add each crime's ``harm`` (the harm weights of :mod:`hotspots.analysis.harm`)."""
    weights = harm.read_harm_weights(config.inputs.harm_weights)
    result.crimes["harm"] = harm.assign_harm(result.crimes, weights).to_numpy()


def add_significance(
    result: RunResult, found: Found, points: tuple[np.ndarray, np.ndarray] | None = None
) -> None:
    """Cluster outlines, each place's class, cluster and harm, and the stage's tables.

    Completes :func:`find`; the crimes' ``harm`` (:func:`add_harm`) must be in. ``points``
    is :func:`hotspots.space.grid.distinct_xy` of the crimes when already known.
    """
    crimes, segs = result.crimes, result.segments
    hexes, gi_segs, labels = found.hexes, found.gi_segments, found.labels
    resolution = found.resolution
    outlines = clusters.summarise_clusters(crimes, labels, segs)
    place = _place_significance(result, gi_segs, hexes, labels, resolution)
    place_s = place.reindex([f"s{i}" for i in range(len(result.hot_streets))])
    place.loc[place_s.index, "rank_by_harm"] = (-place_s["harm"]).rank(method="min").astype("Int64")
    result.hot_streets = join_places(result.hot_streets, place, "s")
    result.locations = join_places(result.locations, place.drop(columns="rank_by_harm"), "l")
    result.tables.update(
        hexagons=hexes,
        clusters=outlines,
        repeat_locations=repeats.repeat_locations(crimes, quiet=True, distinct=points),
        segment_gistar=gi_segs,
    )
    result.tables["significance"] = pd.DataFrame(
        {
            "resolution": [resolution],
            **{k: [v] for k, v in labels.attrs.get("parameters", {}).items()},
        }
    )


def _gistar_both(
    config: RunConfig,
    crimes: gpd.GeoDataFrame,
    segs: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    counts: pd.DataFrame,
    points: tuple[np.ndarray, np.ndarray],
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, int]:
    """Gi* on the hexagons (with their polygons) and on the segments; the hex resolution."""
    cells = grid.count_by_cell(  # the resolution chosen from the crimes' distinct points
        crimes,
        areas,
        resolution=config.significance.hex_resolution or None,
        quiet=config.output.quiet,
        distinct=points,
    )
    resolution = int(cells.attrs["resolution"])
    gi_cells = _gistar_or_skip(
        stats.gistar_cells,
        cells,
        "hexagons",
        permutations=config.significance.permutations,
        seed=config.seed,
        quiet=config.output.quiet,
    )
    hexes = grid.cells_to_polygons(gi_cells.index, crs=crimes.crs)
    hexes = hexes.join(gi_cells.drop(columns="value"), on="cell").assign(
        crimes=cells["crimes"].reindex(hexes["cell"]).to_numpy()
    )
    gi_segs = _gistar_or_skip(
        stats.gistar_streets,
        segs,
        "segments",
        counts["crimes"],
        distance_m=config.significance.neighbour_distance_m,
        permutations=config.significance.permutations,
        seed=config.seed,
        quiet=config.output.quiet,
        cache=cache.cache_dir(),  # beside the segment cache: a rerun reads the neighbours
    )
    return hexes, gi_segs, resolution


NOT_TESTED = "Not tested (too few units)"


def _gistar_or_skip(
    fn: Any, units: pd.DataFrame, what: str, *args: Any, **kwargs: Any
) -> pd.DataFrame:
    """Run a Gi* wrapper; with too few units for the statistic, say so instead of failing."""
    try:
        out: pd.DataFrame = fn(units, *args, **kwargs)
    except InputDataError as err:
        log.warning("Gi* on %s skipped: %s", what, err)
        out = pd.DataFrame(
            {
                "value": np.nan,
                "neighbours": 0,
                "z": np.nan,
                "p": np.nan,
                "p_perm": np.nan,
                "q": np.nan,
                "gi_class": NOT_TESTED,
            },
            index=units.index,
        )
    return out


def _place_significance(
    result: RunResult,
    gi_segs: pd.DataFrame,
    hexes: gpd.GeoDataFrame,
    labels: pd.Series,
    resolution: int,
) -> pd.DataFrame:
    """Return per place key its Gi* class, main density cluster and harm.

    Hot streets take the class of their hottest segment, locations that of their hexagon.
    """
    crimes = result.crimes
    seg_stats = gi_segs.assign(segment_id=result.segments["segment_id"].to_numpy())
    rows = [
        (f"s{i}", sid)
        for i, ids in enumerate(result.hot_streets["segment_ids"])
        for sid in str(ids).split(";")
    ]
    per_seg = pd.DataFrame(rows, columns=["key", "segment_id"]).merge(seg_stats, on="segment_id")
    best = per_seg.sort_values(["key", "z"], ascending=[True, False]).drop_duplicates("key")
    out = best.set_index("key")[["gi_class", "z", "q"]]
    locs = result.locations
    if len(locs):
        pts = gpd.GeoDataFrame(geometry=locs.geometry.centroid, crs=locs.crs)
        cells = grid.points_to_cells(
            pts.assign(x=pts.geometry.x, y=pts.geometry.y), resolution=resolution
        )
        by_cell = hexes.set_index("cell")[["gi_class", "z", "q"]]
        loc_stats = by_cell.reindex(cells.to_numpy())
        loc_stats.index = [f"l{i}" for i in range(len(locs))]
        out = pd.concat([out, loc_stats])
    out = out.rename(columns={"gi_class": "significance", "z": "gi_z", "q": "gi_q"})
    out["significance"] = out["significance"].astype("string")
    out[["gi_z", "gi_q"]] = out[["gi_z", "gi_q"]].astype(float).round(4)
    keyed = pd.DataFrame({"key": crimes["place_key"], "cluster": labels, "harm": crimes["harm"]})
    keyed = keyed.dropna(subset=["key"])
    out["cluster_id"] = _main_cluster(keyed)
    out["harm"] = keyed.groupby("key")["harm"].sum().round(1)
    return out


def _main_cluster(keyed: pd.DataFrame) -> pd.Series:
    """Return the cluster holding at least half of each place's crimes (missing: none)."""
    share = keyed.groupby(["key", "cluster"]).size() / keyed.groupby("key").size()
    share = share.reset_index(name="share")
    share = share[(share["cluster"] >= 0) & (share["share"] >= 0.5)]
    return share.set_index("key")["cluster"].astype("Int64")


def build_run_corridors(result: RunResult, counts: pd.DataFrame) -> gpd.GeoDataFrame:
    """Corridors of named roads ranked per km (:mod:`hotspots.analysis.corridors`)."""
    segs, crimes = result.segments, result.crimes
    seg_harm = crimes.groupby("segment_id", observed=True)["harm"].sum()
    type_names = {c: t for t, c in rank.type_columns(crimes["crime_type"].unique()).items()}
    return corridors.build_corridors(
        segs,
        counts,
        type_names=type_names,
        harm=pd.Series(seg_harm.reindex(segs["segment_id"]).fillna(0).to_numpy(), index=segs.index),
    )
