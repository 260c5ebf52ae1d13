"""The files of an overlay area layer: ``layers/<NAME>/``, a self-contained run sub-folder.

Each layer of ``--overlay`` gets the area-level files of a run folder, from the layer's
:class:`~hotspots.runfolder.RunResult` (:func:`hotspots.pipeline.layers.analyse_layer`):
``areas.csv``, ``area_monthly.csv``, the period comparisons and best and worst
(``compare_areas.csv``, ``compare_boroughs.csv`` when the areas have a borough,
``performance.csv``, ``rates.csv`` when the run computes rates), one list per area in
``wards/``, ``map.html``, a map per area in ``maps/`` (unless the layer is too big, see
:data:`hotspots.pipeline.layers.LAYER_AREA_MAPS_MAX`), ``index.html`` and ``layer.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots import runfolder
from hotspots.output import export, site
from hotspots.runfolder import RunResult

__all__ = ["AREA_TABLES", "write_layer", "write_layers"]

#: Area-level tables a layer folder holds when the run computed them, as ``<name>.csv``.
AREA_TABLES = ("compare_areas", "compare_boroughs", "performance", "rates")


def write_layers(
    result: RunResult,
    folder: Path,
    *,
    title: str,
    evidence: str = "",
    offline: bool = False,
    crime_points: bool = True,
    top_n: int,
    place: str = "",
    quiet: bool = False,
) -> list[Path]:
    """Write every overlay of ``result`` into ``<folder>/layers/<name>/``.

    Parameters
    ----------
    result
        The run; its ``layers`` are written (nothing when it has none).
    folder
        The run folder being written.
    title, evidence, offline, crime_points, top_n, place, quiet
        As for :func:`hotspots.output.site.write_maps`.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    files: list[Path] = []
    for name, layer in result.layers.items():
        files += write_layer(
            layer,
            folder / runfolder.LAYERS_DIR / name,
            title=title,
            evidence=evidence,
            offline=offline,
            crime_points=crime_points,
            top_n=top_n,
            place=place,
            quiet=quiet,
        )
    return files


def write_layer(
    layer: RunResult,
    folder: Path,
    *,
    title: str,
    evidence: str = "",
    offline: bool = False,
    crime_points: bool = True,
    top_n: int,
    place: str = "",
    quiet: bool = False,
) -> list[Path]:
    """Write one layer's folder: tables, lists, maps, index and ``layer.json`` (last).

    Parameters
    ----------
    layer
        From :func:`hotspots.pipeline.layers.analyse_layer`.
    folder
        ``<run folder>/layers/<name>`` (created).
    title, evidence, offline, crime_points, top_n, place, quiet
        As for :func:`hotspots.output.site.write_maps`.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = [export.write_csv(layer.area_summary, folder / runfolder.AREAS_CSV)]
    monthly = layer.tables["area_monthly"].rename_axis("area_code").reset_index()
    files.append(export.write_csv(monthly, folder / "area_monthly.csv"))
    files += [
        export.write_csv(layer.tables[name], folder / f"{name}.csv")
        for name in AREA_TABLES
        if name in layer.tables
    ]
    files += export.write_area_csvs(layer.area_lists, folder / runfolder.WARDS_DIR)
    record: dict[str, Any] = layer.records["layer"]
    files += site.write_maps(
        layer,
        folder,
        title=f"{title} (layer {record['name']})",
        evidence=evidence,
        offline=offline,
        top_n=top_n,
        area_maps=bool(record["area_maps"]),
        crime_points=crime_points,
        place=place,
        quiet=quiet,
    )
    path = folder / runfolder.LAYER_JSON
    path.write_text(json.dumps(record, indent=2, default=_plain) + "\n", encoding="utf-8")
    files.append(path)
    return files


def _plain(value: Any) -> Any:
    """JSON for numpy and pandas scalars (``json.dumps``'s ``default``)."""
    if hasattr(value, "item"):
        return value.item()
    if value is pd.NA:
        return None
    return str(value)
