"""The run folder's tables and plots: CSV, GeoPackage and PNG files of a computed run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hotspots import runfolder, temporal
from hotspots.analysis import callers, concentration
from hotspots.output import export
from hotspots.output.rejected_csv import RejectedCsv
from hotspots.pipeline.config import RunConfig
from hotspots.read import schema
from hotspots.runfolder import RunResult

__all__ = [
    "rejected_parts",
    "run_title",
    "write_plots",
    "write_tables",
]


def rejected_parts(config: RunConfig, result: RunResult) -> RejectedCsv:
    """Return ``rejected.csv``'s parts: the Dask engine's, else made from ``result.rejected``.

    Sorted by file and row; with ``street_level_only`` no coordinates, places or ids of
    individual records. Made once per result (kept in ``result.rejected_csv``).
    """
    if result.rejected_csv is None:
        result.rejected_csv = RejectedCsv.of_frame(
            result.rejected, street_level_only=config.ranking.street_level_only
        )
    return result.rejected_csv


def write_tables(config: RunConfig, result: RunResult, tmp: Path) -> list[Path]:
    """Write the run's CSV and GeoPackage tables into ``tmp``; return the paths written."""
    files = export.write_hot_streets(
        result.hot_streets.drop(
            columns=[c for c in result.hot_streets.columns if c.endswith("_svg")]
        ),
        tmp,
    )
    files += export.write_area_csvs(
        result.area_lists, tmp / "wards", forecast_streets=result.tables.get("forecast_streets")
    )
    files.append(rejected_parts(config, result).write(tmp / runfolder.REJECTED_CSV))
    files.append(export.write_csv(result.area_summary, tmp / "areas.csv"))
    for name in ("compare_areas", "compare_boroughs", "performance", "rates"):
        if name in result.tables:
            files.append(export.write_csv(result.tables[name], tmp / f"{name}.csv"))
    if "corridors" in result.tables:
        table = pd.DataFrame(result.tables["corridors"].drop(columns="geometry"))
        files.append(export.write_csv(table, tmp / runfolder.CORRIDORS_CSV))
    months = result.tables["city_monthly"].T.reset_index().rename(columns={"all": "crimes"})
    months["incomplete"] = result.tables["month_check"]["incomplete"].to_numpy()
    files.append(export.write_csv(months, tmp / "monthly.csv"))
    hexes = result.tables["hexagons"]
    hexes.to_file(tmp / "hexagons.gpkg", layer="hexagons", driver="GPKG", engine="pyogrio")
    files.append(tmp / "hexagons.gpkg")
    outlines = result.tables["clusters"]
    outlines.to_file(tmp / "clusters.gpkg", layer="clusters", driver="GPKG", engine="pyogrio")
    files.append(
        export.write_csv(pd.DataFrame(outlines.drop(columns="geometry")), tmp / "clusters.csv")
    )
    if "caller_ref" in result.crimes.columns:
        places = callers.place_of(result.crimes)
        rc = callers.count_repeat_callers(result.crimes.assign(place=places))
        if config.ranking.street_level_only:  # rounded points could point at an address
            rc = rc[~rc["place"].str.startswith("pt ")]
        files.append(export.write_csv(rc, tmp / "repeat_callers.csv"))
    if not config.ranking.street_level_only:
        rep = result.tables["repeat_locations"]
        files.append(
            export.write_csv(
                pd.DataFrame(rep.drop(columns="geometry")), tmp / "repeat_locations.csv"
            )
        )
    files.append(export.write_csv(_place_monthly(result), tmp / "place_monthly.csv"))
    files.append(export.write_csv(_place_windows(result), tmp / "place_windows.csv"))
    if "place_group_profiles" in result.tables:
        files.append(
            export.write_csv(_place_group_profiles(result), tmp / "place_group_profiles.csv")
        )
    area_monthly = result.tables["area_monthly"]
    files.append(
        export.write_csv(
            area_monthly.rename_axis("area_code").reset_index(), tmp / "area_monthly.csv"
        )
    )
    locs = result.locations.drop(
        columns=[c for c in result.locations.columns if c.endswith("_svg")]
    )
    if len(locs):
        locs.to_file(tmp / "locations.gpkg", layer="locations", driver="GPKG", engine="pyogrio")
        files.append(tmp / "locations.gpkg")
    if "street_profiles" in result.tables:
        prof = result.tables["street_profiles"].round(3)
        hot = result.hot_streets
        head = hot.loc[prof.index, ["rank", "street", "area_code"]]
        files.append(
            export.write_csv(pd.concat([head, prof], axis=1), tmp / "hot_street_profiles.csv")
        )
    return files


def _place_monthly(result: RunResult) -> pd.DataFrame:
    """Crimes per month of every listed place: hot streets, then police.uk locations."""
    monthly = result.tables["place_monthly"]
    heads = []
    for prefix, table, basis in (
        ("s", result.hot_streets, schema.BASIS_STREET),
        ("l", result.locations, schema.BASIS_LOCATION),
    ):
        head = table[["area_code", "area_rank", "street"]].copy()
        head.insert(0, "basis", basis)
        head.index = [f"{prefix}{i}" for i in range(len(table))]
        heads.append(head)
    head = pd.concat(heads)
    body = monthly.reindex(head.index).fillna(0).astype("int64")
    return pd.concat([head, body], axis=1).sort_values(["area_code", "area_rank"], kind="stable")


def _place_windows(result: RunResult, min_crimes: int = 5) -> pd.DataFrame:
    """Patrol window and peak months of each crime group (``min_crimes``) at each place.

    For data that gives the month only the window columns are left empty.
    """
    windows = result.tables["place_windows"]
    windows = windows[windows["crimes"] >= min_crimes].reset_index()
    month_only = windows["patrol_window"] == temporal.NO_TIME_OF_DAY
    windows["patrol_window"] = windows["patrol_window"].mask(month_only, "")
    head = _place_monthly(result)[["basis", "area_code", "area_rank", "street"]]
    head["_order"] = np.arange(len(head))  # the order of place_monthly.csv
    body = windows.join(head, on="place_key", how="inner")
    cols = ["basis", "area_code", "area_rank", "street", "group", *temporal.GROUP_WINDOW_COLUMNS]
    body["window_share"] = body["window_share"].round(3)
    body["window_crimes"] = body["window_crimes"].round(1)
    return body.sort_values(["_order", "group"], kind="stable")[cols]


def _place_group_profiles(result: RunResult, min_crimes: float = 5) -> pd.DataFrame:
    """Hour-of-week profile of each crime group (with ``min_crimes``) at each listed place."""
    prof = result.tables["place_group_profiles"]
    prof = prof[prof.sum(axis=1) >= min_crimes].round(2).reset_index()
    head = _place_monthly(result)[["basis", "area_code", "area_rank", "street"]]
    head["_order"] = np.arange(len(head))  # the order of place_monthly.csv
    body = prof.join(head, on="place_key", how="inner")
    cols = ["basis", "area_code", "area_rank", "street", "group", *temporal.HOUR_OF_WEEK_COLUMNS]
    return body.sort_values(["_order", "group"], kind="stable")[cols]


def write_plots(
    config: RunConfig, result: RunResult, counts: pd.DataFrame, tmp: Path
) -> list[Path]:
    """Write the concentration, monthly and hour-of-week plots into ``tmp``; return the paths."""
    title = run_title(result)
    month_check = result.tables["month_check"]
    files = [
        concentration.plot_lorenz(
            counts["crimes"].to_numpy(),
            result.segments["length_m"].to_numpy(),
            tmp / "concentration.png",
            title=title,
            seed=config.seed,
        ),
        temporal.plot_monthly(
            result.tables["city_monthly"].loc["all"],
            tmp / "monthly.png",
            title=f"Crimes per month: {title}",
            incomplete=month_check.index[month_check["incomplete"]].tolist(),
        ),
    ]
    if "city_profile" in result.tables:
        files.append(
            temporal.plot_hour_day(
                result.tables["city_profile"].loc["all"],
                tmp / "hour_of_week.png",
                title=f"Crimes by day and hour: {title}",
            )
        )
    return files


def run_title(result: RunResult) -> str:
    """Return the one-line title of the run: its months, crimes and files."""
    months = result.crimes["month"]
    files = result.crimes["source_file"].nunique()
    return f"{months.min()} to {months.max()}: {len(result.crimes):,} crimes from {files} file(s)"
