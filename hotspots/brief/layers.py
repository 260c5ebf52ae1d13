"""The briefs of an overlay area layer: ``layers/<NAME>/`` of a run folder read as a run.

A layer folder holds the area-level files of a run (``areas.csv``, ``compare_areas.csv``,
``rates.csv``, ``performance.csv``, a list per area in ``wards/``, ``layer.json``) but not
the places themselves: each row of a layer's list is a place of the main run (a hot street
listed in every area of the layer holding its crimes, a location in one). :func:`read_layer`
takes the main run's places, months and time windows for the rows of the layer's lists,
ranked as the layer ranks them, so the briefs of the layer are written by the same code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from hotspots.brief.inputs import RunFolder
from hotspots.output.export import read_csv
from hotspots.read.schema import BASIS_STREET
from hotspots.runfolder import AREAS_CSV, LAYERS_DIR

log = logging.getLogger("hotspots")

__all__ = [
    "layer_area_codes",
    "layer_folders",
    "read_layer",
]

_LIST = ["area_code", "area_rank", "basis", "street", "main_area_code"]


def layer_folders(run_dir: Path) -> list[Path]:
    """Return the run's overlay layer folders (``layers/<NAME>/`` with areas and a layer.json)."""
    root = run_dir / LAYERS_DIR
    if not root.is_dir():
        return []
    return [
        d
        for d in sorted(root.iterdir())
        if (d / "layer.json").is_file() and (d / AREAS_CSV).is_file() and (d / "wards").is_dir()
    ]


def layer_area_codes(layer_dir: Path) -> list[str]:
    """Return the codes of the layer's areas with crime (those that get a brief), sorted.

    Read from the layer's ``areas.csv`` alone, so a layer too big for briefs is known before
    its lists (one file per area: thousands for a layer of LSOAs) are read.
    """
    areas = read_csv(layer_dir / AREAS_CSV, dtype={"area_code": str})
    return sorted(areas.loc[areas["crimes"] > 0, "area_code"].astype(str))


def _layer_lists(layer_dir: Path) -> pd.DataFrame:
    """Every row of the layer's lists (``wards/*.csv``) with the columns that key a place."""
    frames = [
        read_csv(path, dtype={"area_code": str, "main_area_code": str, "street": str})
        for path in sorted((layer_dir / "wards").glob("*.csv"))
    ]
    frames = [f for f in frames if all(c in f.columns for c in _LIST)]
    if not frames:
        return pd.DataFrame(columns=[*_LIST, "rank"])
    rows = pd.concat(frames, ignore_index=True)
    return rows.assign(area_rank=pd.to_numeric(rows["area_rank"]).astype("float64"))


def _location_key(basis: Any, code: Any, street: Any, lon: Any, lat: Any) -> tuple[Any, ...]:
    return (str(basis), str(code), str(street), round(float(lon), 5), round(float(lat), 5))


def _main_ids(run: RunFolder, rows: pd.DataFrame) -> pd.Series:
    """Return the main run's place id of each row: streets by city rank, others by point."""
    places = run.places.reset_index()
    streets = places[places["basis"] == BASIS_STREET]
    by_rank = dict(zip(pd.to_numeric(streets["rank"]), streets["place_id"], strict=True))
    others = places[places["basis"] != BASIS_STREET]
    point = ["basis", "area_code", "street", "lon", "lat"]
    by_point = (
        {
            _location_key(*k[:-1]): k[-1]
            for k in others[[*point, "place_id"]].itertuples(index=False)
        }
        if all(c in others.columns for c in point)
        else {}
    )
    ranks = pd.to_numeric(rows.get("rank", pd.Series(index=rows.index, dtype=float)))
    ids = [
        by_rank.get(rank) if basis == BASIS_STREET else by_point.get(_location_key(basis, *rest))
        for basis, rank, *rest in zip(
            rows["basis"],
            ranks,
            rows["main_area_code"],
            rows["street"],
            rows.get("lon", pd.Series(index=rows.index, dtype=float)),
            rows.get("lat", pd.Series(index=rows.index, dtype=float)),
            strict=True,
        )
    ]
    return pd.Series(ids, index=rows.index, dtype=object)


def _outlines(layer_dir: Path, codes: pd.Series, crs: Any) -> gpd.GeoSeries:
    """Return the layer's area outlines where they can be made (H3 cells), else none."""
    info = json.loads((layer_dir / "layer.json").read_text(encoding="utf-8"))
    source = str(info.get("source", ""))
    empty = gpd.GeoSeries([], crs=crs, dtype="geometry")
    if not source.startswith("h3:"):
        return empty
    import h3

    def cell(code: str) -> Any:
        try:
            return shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(code)])
        except (ValueError, TypeError):  # not a cell id: no outline
            return None

    shapes = gpd.GeoSeries([cell(str(c)) for c in codes], index=codes.astype(str), crs=4326)
    shapes = shapes[shapes.notna()]
    return shapes.to_crs(crs) if crs is not None else shapes


def _renamed(table: pd.DataFrame | None, new_of: pd.DataFrame) -> pd.DataFrame | None:
    """Re-key a table indexed by place id (or place id and group) to the layer's place ids."""
    if table is None:
        return None
    if isinstance(table.index, pd.MultiIndex):
        rows = pd.DataFrame({"old": table.index.get_level_values(0), "_row": range(len(table))})
        pairs = new_of.merge(rows, on="old")
        out = table.iloc[pairs["_row"].to_numpy()]
        rest = [out.index.get_level_values(i) for i in range(1, table.index.nlevels)]
        keys = pd.MultiIndex.from_arrays([pairs["new"].to_numpy(), *rest], names=table.index.names)
        return out.set_axis(keys)
    keep = new_of[new_of["old"].isin(table.index)]
    return table.loc[keep["old"]].set_axis(pd.Index(keep["new"], name=table.index.name))


def read_layer(run: RunFolder, layer_dir: Path) -> RunFolder:
    """Return the run folder of an overlay layer, its places those of the main run.

    Parameters
    ----------
    run
        The main run folder (:func:`~hotspots.brief.inputs.read_run_folder`).
    layer_dir
        One of :func:`layer_folders`.

    Returns
    -------
    RunFolder
        The layer's areas and comparisons, a place per row of its lists (ranked within the
        layer's areas), with the main run's months, windows and geometry of each. Rows whose
        place is not in the main run are left out (logged).
    """
    areas = read_csv(layer_dir / AREAS_CSV, dtype={"area_code": str})
    rows = _layer_lists(layer_dir)
    old = _main_ids(run, rows)
    if old.isna().any():
        log.warning(
            "Briefs: %d rows of %s's lists are not places of the run; left out",
            int(old.isna().sum()),
            layer_dir.name,
        )
    rows, old = rows[old.notna()], old[old.notna()]
    new_of = pd.DataFrame({"new": [f"q{i}" for i in range(len(rows))], "old": old.to_numpy()})
    places = run.places.loc[new_of["old"]].copy()
    places.index = pd.Index(new_of["new"], name="place_id")
    places = places.assign(
        area_code=rows["area_code"].astype(str).to_numpy(),
        area_rank=rows["area_rank"].to_numpy(),
    )
    compare = None
    if (layer_dir / "compare_areas.csv").exists():
        compare = read_csv(layer_dir / "compare_areas.csv", dtype={"area_code": str})
    return dataclasses.replace(
        run,
        path=layer_dir,
        areas=areas.set_index("area_code", drop=False),
        places=gpd.GeoDataFrame(places, geometry="geometry", crs=run.places.crs),
        monthly=run.monthly.reindex(new_of["old"]).set_axis(new_of["new"]).fillna(0),
        outlines=_outlines(layer_dir, areas["area_code"], run.places.crs),
        compare=compare,
        profiles=_renamed(run.profiles, new_of),
        windows=_renamed(run.windows, new_of),
        group_profiles=_renamed(run.group_profiles, new_of),
    )
