"""The listed places and the areas: repeat callers, ranks and map links, the area summary."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from hotspots.analysis import callers
from hotspots.analysis.rates import rate_per_1000
from hotspots.output import site
from hotspots.read import schema
from hotspots.runfolder import RunResult
from hotspots.temporal.common import ALL_CRIME

__all__ = [
    "add_repeat_callers",
    "join_places",
    "location_ranks",
    "summarise_areas",
    "with_map_links",
]


def add_repeat_callers(result: RunResult) -> None:
    """Give each hot street and listed location its repeat callers in 24 hours and 6 months.

    Counted per listed place (a hot street's segments together), as
    :func:`hotspots.analysis.callers.count_repeat_callers` counts them; the columns reach the area
    lists, hand-outs and ``hot_streets.csv``. No reference is kept.
    """
    rc = callers.count_repeat_callers(result.crimes, place="place_key").set_index("place")
    for prefix, name in (("s", "hot_streets"), ("l", "locations")):
        table = getattr(result, name)
        keys = [f"{prefix}{i}" for i in range(len(table))]
        for col in ("repeat_callers_24h", "repeat_callers_6m"):
            table[col] = rc[col].reindex(keys).fillna(0).astype("int64").to_numpy()


def with_map_links(code: str, table: pd.DataFrame) -> pd.DataFrame:
    """Add ``map_link``: the area map opened at each row's centre (relative to a run subfolder)."""
    page = f"../maps/{site.area_map_name(code)}"
    links = [
        f"{page}#{lat:.5f},{lon:.5f},18"
        for lat, lon in zip(table["lat"], table["lon"], strict=True)
    ]
    pos = table.columns.get_loc("lat") + 1
    out = table.copy()
    out.insert(pos, "map_link", pd.Series(links, index=table.index, dtype=object))
    return out


def location_ranks(locs: gpd.GeoDataFrame, lists: dict[str, pd.DataFrame]) -> gpd.GeoDataFrame:
    """Copy each listed location's rank in its area list back onto the location table."""
    ranks = {
        (code, street): r
        for code, table in lists.items()
        for street, r, basis in zip(
            table["street"], table["area_rank"], table["basis"], strict=True
        )
        if basis == schema.BASIS_LOCATION
    }
    keys = zip(locs["area_code"], locs["street"], strict=True)
    return locs.assign(area_rank=[ranks.get(k) for k in keys])


def summarise_areas(result: RunResult, population: pd.Series | None) -> pd.DataFrame:
    """Return ``areas.csv``: per area its crimes, hot streets, rate, time summary and change."""
    crimes, areas = result.crimes, result.areas
    g = crimes.groupby("area_code")
    summary = pd.DataFrame({"crimes": g.size(), "snapped": g["segment_id"].count()})
    extra = [c for c in areas.columns if c not in ("area_code", "area_name", "geometry")]
    summary = (
        areas[["area_code", "area_name", *extra]].set_index("area_code").join(summary, how="left")
    )
    summary = summary.fillna({"crimes": 0, "snapped": 0}).astype(
        {"crimes": "int64", "snapped": "int64"}
    )
    summary["hot_streets"] = (
        result.hot_streets["area_code"]
        .value_counts()
        .reindex(summary.index, fill_value=0)
        .astype("int64")
    )
    if population is not None:
        summary["population"] = population.reindex(summary.index)
        summary["rate_per_1000"] = rate_per_1000(summary["crimes"], population).round(2)
    area_time = result.tables["area_time"].drop(columns=["hot_months"], errors="ignore")
    summary = summary.join(area_time, how="left")
    change = result.tables["compare_areas"]
    allc = change[change["crime_type"] == ALL_CRIME]
    allc = allc.drop_duplicates("area_code").set_index("area_code")  # the month window's
    for col in (
        "current",
        "previous",
        "pct_change_previous",
        "flag_previous",
        "year_before",
        "pct_change_year_before",
        "flag_year_before",
    ):
        summary[f"recent_{col}"] = allc[col].reindex(summary.index)
    return summary.reset_index().sort_values("area_code", kind="stable")


def join_places(table: gpd.GeoDataFrame, summary: pd.DataFrame, prefix: str) -> gpd.GeoDataFrame:
    """Insert ``summary`` (indexed by place key) before the crime-type counts of ``table``."""
    keys = [f"{prefix}{i}" for i in range(len(table))]
    cols = summary.reindex(keys).reset_index(drop=True)
    cols.index = table.index
    type_cols = [c for c in table.columns if c.startswith("n_")]
    base = [c for c in table.columns if c not in type_cols and c != "geometry"]
    joined = pd.concat([table[base], cols, table[[*type_cols, "geometry"]]], axis=1)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=table.crs)
