"""The run-folder writer: tables, plots, maps and ``run.json`` (last) into a staged folder."""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

from hotspots import runfolder, temporal
from hotspots.analysis import rank, stats
from hotspots.output import export, site, site_index
from hotspots.output.rejected_csv import accounting, kept_per_file
from hotspots.pipeline.beside import start_beside, trim_heap
from hotspots.pipeline.config import RunConfig, StageTimer
from hotspots.pipeline.layer_files import write_layers
from hotspots.pipeline.tables import rejected_parts, run_title, write_plots, write_tables
from hotspots.read.crimes import describe_source
from hotspots.read.sources import skipped_files
from hotspots.runfolder import RunResult

__all__ = [
    "write_run",
]


_LIBRARIES = (
    "hotspots",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyarrow",
    "pandas",
    "numpy",
    "pyproj",
    "folium",
    "scipy",
    "h3",
    "esda",
    "libpysal",
    "scikit-learn",
)


def write_run(result: RunResult, config: RunConfig) -> RunResult:
    """Write the run folder of ``result`` to ``config.out`` through :mod:`hotspots.runfolder`.

    The folder is written under its lock into a private folder and moved into place when
    complete (:func:`hotspots.runfolder.staged_folder`); ``run.json`` is written last.

    Parameters
    ----------
    result
        What :func:`analyse` returned.
    config
        The configuration it was computed with (output folder and options).

    Returns
    -------
    RunResult
        ``result``, with ``out_dir`` set to ``config.out`` and ``manifest`` filled.

    Raises
    ------
    OutputExistsError
        If ``config.out`` exists and ``config.output.overwrite`` is False.
    hotspots.runfolder.OutputFolderBusyError
        If another run is writing ``config.out`` and ``config.output.wait`` is False.
    """
    out = Path(config.out)
    with runfolder.staged_folder(
        out, overwrite=config.output.overwrite, wait=config.output.wait
    ) as tmp:
        _write_into(config, result, tmp)
    result.out_dir = out
    return result


def _write_into(config: RunConfig, result: RunResult, tmp: Path) -> None:
    """Write every file of the run folder into ``tmp``; ``run.json`` last."""
    stage = StageTimer()
    stage.seconds = result.seconds  # the analysis stages' seconds, then these
    trim_heap()  # the analysis stages' temporaries leave the process before the files' peaks
    with stage("exports"):
        # the plots drawn by a second process while this one writes the tables (issue 19:
        # the second core is idle here otherwise); the same files, in the same list order
        plots = start_beside(write_plots, config, result, result.counts, tmp)
        try:
            files = write_tables(config, result, tmp)
        except BaseException:
            with contextlib.suppress(Exception):  # nothing writes into the folder after this
                plots()
            raise
        files += plots()
        if "forecast" in result.records:
            from hotspots import evaluate

            evaluate.write_forecast(tmp, result.tables["forecast_list"], result.records["forecast"])
    # the pages' title, evidence and place, worked out once for the main maps and the layers
    title, evidence = run_title(result), _evidence(result).removeprefix(". ")
    place = site_index.place_name(result.crimes, config.inputs.fmt)
    trim_heap()  # before the maps' own peak and their forked second process

    # what the main maps and the layers' maps share
    pages: dict[str, Any] = {
        "title": title,
        "evidence": evidence,
        "offline": config.output.offline,
        "crime_points": not config.ranking.street_level_only,
        "top_n": config.output.map_top_n,
        "place": place,
        "quiet": config.output.quiet,
    }

    def layer_files() -> list[Path]:
        with stage("layers"):
            return write_layers(result, tmp, **pages)

    with stage("maps"):
        # the overlay layers' files are written by this process while the second one starts
        # on the area maps (issue 19: London's LSOA layer took 7-10 s after the maps, one core
        # busy); the same files, listed after the maps' as before
        files += site.write_maps(
            result,
            tmp,
            **pages,
            area_maps=config.output.area_maps,
            data_source=describe_source(config.inputs.fmt),
            meanwhile=layer_files if result.layers else None,
        )
    manifest = _manifest(config, result, result.concentration, result.naming, stage)
    export.write_manifest(manifest, tmp)  # written last: a folder without it is not a run
    result.manifest = manifest


def _evidence(result: RunResult) -> str:
    """Return ". " and the backtest's one-line text, or "" without a backtest."""
    if "backtest" not in result.tables:
        return ""
    return ". " + str(result.tables["backtest"]["text"].iloc[0])


def _manifest(
    config: RunConfig,
    result: RunResult,
    conc: dict[str, Any],
    naming: dict[str, Any],
    stage: StageTimer,
) -> dict[str, Any]:
    crimes = result.crimes
    rejected = rejected_parts(config, result)
    inputs = [
        {"role": role, "path": str(p), "sha256": export.file_sha256(Path(p))}
        for role, paths in (
            ("crimes", config.crimes),
            ("areas", [config.areas]),
            ("streets", [config.streets]),
            ("population", [config.inputs.population] if config.inputs.population else []),
            ("overlays", [s for _, s in config.inputs.overlays if not s.startswith("h3:")]),
        )
        for p in paths
    ]
    params = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in config.options().items()
        if k not in ("population", "overwrite", "wait", "quiet")
    }
    snapped = int(crimes["segment_id"].notna().sum())
    month_check = result.tables["month_check"]
    return {
        "tool": "hotspots run",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "crs": crimes.crs.to_string(),
        "period": {
            "first_month": crimes["month"].min(),
            "last_month": crimes["month"].max(),
            "incomplete_months": month_check.index[month_check["incomplete"]].tolist(),
            "time_of_day": temporal.has_time_of_day(crimes),
        },
        "data_source": describe_source(config.inputs.fmt),
        "inputs": inputs,
        "parameters": params,
        "versions": {
            "python": platform.python_version(),
            **{lib: version(lib) for lib in _LIBRARIES},
        },
        "accounting": accounting(kept_per_file(crimes["source_file"]), rejected.reasons),
        "skipped_files": skipped_files(config.crimes, fmt=config.inputs.fmt),
        "totals": {
            "read": len(crimes) + rejected.total,
            "kept": len(crimes),
            "rejected": rejected.total,
        },
        "snapping": {
            "max_distance_m": config.ranking.snap_distance_m,
            "snapped": snapped,
            "not_snapped": len(crimes) - snapped,
            "share_snapped": round(snapped / len(crimes), 4),
        },
        "naming": naming,
        "crime_type_columns": dict(
            sorted(
                {c: t for t, c in rank.type_columns(crimes["crime_type"].unique()).items()}.items()
            )
        ),
        "hot_streets": len(result.hot_streets),
        "listed_locations": len(result.locations),
        "areas_with_lists": len(result.area_lists),
        "concentration": conc,
        "significance": _significance_summary(result),
        "backtest": (
            result.tables["backtest"].iloc[0].to_dict() if "backtest" in result.tables else None
        ),
        "forecast": result.tables["forecast"].iloc[0].to_dict()
        if "forecast" in result.tables
        else None,
        "layers": {name: layer.records["layer"] for name, layer in result.layers.items()},
        "seconds": stage.seconds,
        "engine": result.records.get("engine", {"engine": "local"}),
    }


def _significance_summary(result: RunResult) -> dict[str, Any]:
    params = result.tables["significance"].iloc[0].to_dict()
    counts = {
        name: result.tables[t]["gi_class"].astype(str).value_counts().to_dict()
        for name, t in (("hexagons", "hexagons"), ("segments", "segment_gistar"))
    }
    counts["hot_streets"] = result.hot_streets["significance"].astype(str).value_counts().to_dict()
    return {
        "method": "Getis-Ord Gi* (esda.G_Local, star=True, binary weights), two-sided normal "
        "p-values, Benjamini-Hochberg q-values; classes at 90/95/99% on q",
        "hexagon_resolution": int(params.pop("resolution")),
        "segment_neighbours": f"segments sharing an end or within {stats.DEFAULT_DISTANCE_M:.0f} m",
        "hot_street_class": "the class of its segment with the highest z",
        "location_class": "the class of the hexagon holding the location",
        "clusters": {
            **{k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()},
            "count": len(result.tables["clusters"]),
        },
        "classes": counts,
    }
