"""The one pipeline: extracts -> canonical crimes -> areas and segments -> ranks -> outputs.

The CLI and the notebooks call :func:`run`; each stage is a library function of its own
module, so any of them can also be called alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots import concentration, crs, export, io, maps, names, rank, segments, snap
from hotspots.errors import InputDataError, OutputExistsError

log = logging.getLogger("hotspots")
logging.getLogger("pyogrio").setLevel(logging.WARNING)

_LIBRARIES = ("hotspots", "geopandas", "shapely", "pyogrio", "pyarrow", "pandas", "numpy",
              "pyproj", "folium", "scipy")


@dataclass
class RunConfig:
    """Everything a run needs; defaults are the documented ones."""

    crimes: list[Path]
    areas: Path
    streets: Path
    out: Path
    fmt: str = "police-uk"
    area_code: str | None = None
    area_name: str | None = None
    street_name_col: str | None = None
    population: Path | None = None
    crs: str | None = None
    crime_types: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    snap_distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M
    max_segment_length_m: float = segments.DEFAULT_MAX_LENGTH_M
    min_crimes: int = rank.DEFAULT_MIN_CRIMES
    hot_quantile: float = rank.DEFAULT_HOT_QUANTILE
    length_floor_m: float = rank.DEFAULT_LENGTH_FLOOR_M
    map_top_n: int = maps.DEFAULT_TOP_N
    seed: int = 0
    overwrite: bool = False
    quiet: bool = False


@dataclass
class RunResult:
    """What a run produced, in memory, besides the files in ``out_dir``."""

    out_dir: Path
    crimes: gpd.GeoDataFrame
    rejected: pd.DataFrame
    segments: gpd.GeoDataFrame
    hot_streets: gpd.GeoDataFrame
    area_lists: dict[str, pd.DataFrame]
    manifest: dict[str, Any] = field(default_factory=dict)


class _Stages:
    """Times each stage for the manifest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 3)


def run(config: RunConfig) -> RunResult:
    """Run the whole analysis and write the run folder.

    Parameters
    ----------
    config
        Inputs, output folder and parameters.

    Returns
    -------
    RunResult
        The tables behind the files written to ``config.out``.

    Raises
    ------
    OutputExistsError
        If ``config.out`` exists and ``config.overwrite`` is False.
    InputDataError
        If an input file cannot be used (the message names it).
    """
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        msg = f"run folder {out} exists already; choose another --out or pass --overwrite"
        raise OutputExistsError(msg)
    stage = _Stages()
    with stage("load"):
        crimes, rejected = io.read_crimes(config.crimes, fmt=config.fmt, crs=config.crs,
                                          crime_types=config.crime_types, start=config.start,
                                          end=config.end, quiet=config.quiet)
    if crimes.empty:
        msg = f"no usable crime rows in {[str(p) for p in config.crimes]}: see the rejected reasons"
        raise InputDataError(msg)
    with stage("area_join"):
        areas = _read_areas(config, crimes.crs)
        crimes, rejected = _join_areas(crimes, rejected, areas)
    with stage("street_segments"):
        segs = _build_segments(config, crimes.crs, areas)
    with stage("snapping"):
        crimes = crimes.join(snap.snap_to_streets(crimes, segs, max_distance_m=config.snap_distance_m,
                                                  quiet=config.quiet))
        segs, naming = _name_segments(crimes, segs, police_uk=config.fmt == "police-uk")
    with stage("ranking"):
        counts = rank.count_by_segment(crimes, segs)
        hot = rank.rank_streets(segs, counts, min_crimes=config.min_crimes,
                                hot_quantile=config.hot_quantile, length_floor_m=config.length_floor_m)
        type_cols = [c for c in counts.columns if c != "crimes"]
        locs = rank.rank_locations(crimes[crimes["segment_id"].isna()], min_crimes=config.min_crimes,
                                   type_cols=type_cols)
        lists = rank.area_lists(hot, locs, area_codes=crimes["area_code"].unique().tolist())
        conc = concentration.count_concentration(counts["crimes"].to_numpy(),
                                                 segs["length_m"].to_numpy(), seed=config.seed)
    result = RunResult(out, crimes, rejected, segs, hot, lists)
    _write_outputs(config, result, areas, counts, conc, naming, stage)
    return result


def _read_areas(config: RunConfig, target: Any) -> gpd.GeoDataFrame:
    areas = io.read_areas(config.areas, code_col=config.area_code, name_col=config.area_name)
    return crs.to_metric_crs(areas, target, name=Path(config.areas).name, quiet=config.quiet)


def _join_areas(
    crimes: gpd.GeoDataFrame, rejected: pd.DataFrame, areas: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    joined = crimes.join(snap.assign_areas(crimes, areas))
    outside = joined["area_code"].isna().to_numpy()
    if outside.all():
        msg = (
            "no crime falls inside the area layer: check that --areas covers the same place as "
            f"--crimes (crimes span {np.round(crimes.total_bounds).tolist()}, areas "
            f"{np.round(areas.total_bounds).tolist()} in {crimes.crs.to_string()})"
        )
        raise InputDataError(msg)
    reason = np.where(outside, io.REASON_OUTSIDE, "").astype(object)
    frame = joined.assign(raw_x=joined["x"], raw_y=joined["y"])
    kept, more = io.split_rejected(frame, reason)
    kept = gpd.GeoDataFrame(kept.drop(columns=["raw_x", "raw_y"]), geometry="geometry", crs=crimes.crs)
    return kept, pd.concat([rejected, more], ignore_index=True)


def _build_segments(config: RunConfig, target: Any, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    streets = io.read_streets(config.streets, name_col=config.street_name_col)
    streets = crs.to_metric_crs(streets, target, name=Path(config.streets).name, quiet=config.quiet)
    segs = segments.lines_to_segments(streets, max_length_m=config.max_segment_length_m,
                                      quiet=config.quiet)
    return segs.join(snap.assign_segment_areas(segs, areas))


def _name_segments(
    crimes: gpd.GeoDataFrame, segs: gpd.GeoDataFrame, *, police_uk: bool
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fill missing segment names from the records snapped to them; measure agreement."""
    street = names.location_to_street(crimes["location"])
    layer_named = segs["street_name"].notna()
    by_seg = segs.set_index("segment_id")["street_name"]
    agreement = names.name_agreement(street[crimes["segment_id"].notna()],
                                     crimes["segment_id"].dropna().map(by_seg))
    inferred = names.name_from_records(crimes["segment_id"], street)
    filled = segs["street_name"].fillna(segs["segment_id"].map(inferred))
    source = np.where(layer_named, "street layer",
                      np.where(filled.notna(), "crime records", None))
    segs = segs.assign(street_name=filled.astype("string"), name_source=source)
    naming = {
        "segments": len(segs),
        "named_by_street_layer": int(layer_named.sum()),
        "named_from_crime_records": int((source == "crime records").sum()),
        "unnamed": int(filled.isna().sum()),
        "location_text_vs_street_layer_name": agreement,
        "note": ("agreement compares the police.uk 'On or near' street with the name of the "
                 "segment the record snapped to (points of interest and junctions excluded)"
                 if police_uk else
                 "agreement compares the record's location text with the segment's name"),
    }
    return segs, naming


def _area_summary(crimes: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, result: RunResult,
                  population: pd.Series | None) -> pd.DataFrame:
    g = crimes.groupby("area_code")
    summary = pd.DataFrame({"crimes": g.size(), "snapped": g["segment_id"].count()})
    extra = [c for c in areas.columns if c not in ("area_code", "area_name", "geometry")]
    summary = areas[["area_code", "area_name", *extra]].set_index("area_code").join(summary, how="left")
    summary = summary.fillna({"crimes": 0, "snapped": 0}).astype({"crimes": "int64", "snapped": "int64"})
    summary["hot_streets"] = result.hot_streets["area_code"].value_counts().reindex(
        summary.index, fill_value=0).astype("int64")
    if population is not None:
        summary["population"] = population.reindex(summary.index)
        summary["rate_per_1000"] = (summary["crimes"] / summary["population"] * 1000).round(2)
    return summary.reset_index().sort_values("area_code", kind="stable")


def _write_outputs(config: RunConfig, result: RunResult, areas: gpd.GeoDataFrame,
                   counts: pd.DataFrame, conc: dict[str, Any], naming: dict[str, Any],
                   stage: _Stages) -> None:
    out = Path(config.out)
    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    population = io.read_population(config.population) if config.population else None
    with stage("exports"):
        files = export.write_hot_streets(result.hot_streets, tmp)
        files += export.write_area_csvs(result.area_lists, tmp / "wards")
        files.append(export.write_csv(result.rejected.sort_values(["source_file", "source_row"],
                                                                  kind="stable"), tmp / "rejected.csv"))
        summary = _area_summary(result.crimes, areas, result, population)
        files.append(export.write_csv(summary, tmp / "areas.csv"))
        files.append(concentration.plot_lorenz(counts["crimes"].to_numpy(),
                                               result.segments["length_m"].to_numpy(),
                                               tmp / "concentration.png", title=_title(result),
                                               seed=config.seed))
    with stage("maps"):
        areas_map = areas.merge(summary[["area_code", "crimes"]], on="area_code", how="left")
        m = maps.explore_hot_streets(result.hot_streets, areas_map, top_n=config.map_top_n,
                                     title="Hot streets", subtitle=_title(result))
        m.save(str(tmp / "map.html"))
        files.append(tmp / "map.html")
    manifest = _manifest(config, result, conc, naming, stage)
    export.write_manifest(manifest, tmp)
    result.manifest = manifest
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    result.out_dir = out


def _title(result: RunResult) -> str:
    months = result.crimes["month"]
    files = result.crimes["source_file"].nunique()
    return f"{months.min()} to {months.max()}: {len(result.crimes):,} crimes from {files} file(s)"


def _manifest(config: RunConfig, result: RunResult, conc: dict[str, Any], naming: dict[str, Any],
              stage: _Stages) -> dict[str, Any]:
    crimes = result.crimes
    inputs = [{"role": role, "path": str(p), "sha256": export.file_sha256(Path(p))}
              for role, paths in (("crimes", config.crimes), ("areas", [config.areas]),
                                  ("streets", [config.streets]),
                                  ("population", [config.population] if config.population else []))
              for p in paths]
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
              if k not in ("crimes", "areas", "streets", "out", "population", "overwrite", "quiet")}
    snapped = int(crimes["segment_id"].notna().sum())
    return {
        "tool": "hotspots run",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "crs": crimes.crs.to_string(),
        "period": {"first_month": crimes["month"].min(), "last_month": crimes["month"].max()},
        "inputs": inputs,
        "parameters": params,
        "versions": {"python": platform.python_version(), **{lib: version(lib) for lib in _LIBRARIES}},
        "accounting": export.accounting(crimes, result.rejected),
        "totals": {"read": len(crimes) + len(result.rejected), "kept": len(crimes),
                   "rejected": len(result.rejected)},
        "snapping": {"max_distance_m": config.snap_distance_m, "snapped": snapped,
                     "not_snapped": len(crimes) - snapped,
                     "share_snapped": round(snapped / len(crimes), 4)},
        "naming": naming,
        "data_source": io.describe_source(config.fmt),
        "crime_type_columns": dict(sorted(
            {rank.type_column(t): t for t in crimes["crime_type"].unique()}.items())),
        "hot_streets": len(result.hot_streets),
        "areas_with_lists": len(result.area_lists),
        "concentration": conc,
        "seconds": stage.seconds,
    }
