"""What the briefs read: the run folder (:func:`read_run_folder`) and a backtest.

Every file of the run folder is read once into a :class:`RunFolder`; nothing is recomputed. A
missing file or column is named with its fix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots import runfolder
from hotspots.analysis.groups import OTHER_GROUP, BriefSettings
from hotspots.analysis.harm import read_harm_weights
from hotspots.errors import InputDataError
from hotspots.output.export import read_csv
from hotspots.read.layers import read_areas
from hotspots.read.schema import BASIS_LOCATION, BASIS_STREET
from hotspots.temporal.common import HOUR_OF_WEEK_COLUMNS

log = logging.getLogger("hotspots")

__all__ = [
    "RunFolder",
    "read_predictability",
    "read_run_folder",
]

_PLACE_COLUMNS = [
    "area_code",
    "area_rank",
    "street",
    "crimes",
    "hot_months",
    "trend_class",
    "trend_direction",
    "significance",
    "patrol_window",
    "peak_months",
]
_KEY = ["basis", "area_code", "area_rank", "street"]


@dataclass
class RunFolder:
    """What the briefs read from a run folder, each file read once."""

    path: Path
    manifest: dict[str, Any]
    areas: pd.DataFrame
    places: gpd.GeoDataFrame
    monthly: pd.DataFrame
    months: list[str]
    incomplete: list[str]
    outlines: gpd.GeoSeries
    streets: gpd.GeoSeries | None = None
    compare: pd.DataFrame | None = None
    profiles: pd.DataFrame | None = None
    harm_weights: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))
    windows: pd.DataFrame | None = None
    group_profiles: pd.DataFrame | None = None

    @property
    def type_names(self) -> dict[str, str]:
        """Column ``n_<slug>`` to crime type name, for the columns present."""
        names = self.manifest.get("crime_type_columns", {})
        return {c: str(n) for c, n in names.items() if c in self.places.columns}

    @property
    def time_of_day(self) -> bool:
        """Whether the data gives times of day."""
        return bool(self.manifest.get("period", {}).get("time_of_day", False))

    @property
    def source_kind(self) -> str:
        """``police-uk``, ``vancouver`` or ``other`` (a user mapping)."""
        fmt = str(self.manifest.get("parameters", {}).get("fmt", "police-uk"))
        return fmt if fmt in ("police-uk", "vancouver") else "other"


def _missing(run_dir: Path, name: str, have: Iterable[str], need: Iterable[str]) -> None:
    missing = [c for c in need if c not in set(have)]
    if missing:
        msg = (
            f"`hotspots brief` needs {name} with the column(s) {', '.join(missing)}; "
            f"found {run_dir / name} without them (a run from an older version?). Re-run "
            "`hotspots run` to write the run folder again."
        )
        raise InputDataError(msg)


def _need_file(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not path.exists():
        msg = (
            f"`hotspots brief` needs {name} in the run folder; found no {path} (not a run "
            "folder, or one from an older version). Run `hotspots run` to write it."
        )
        raise InputDataError(msg)
    return path


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    _need_file(run_dir, runfolder.RUN_JSON)
    manifest = runfolder.read_manifest(run_dir)
    period = manifest.get("period", {})
    need = ["first_month", "last_month"]
    _missing(
        run_dir, "run.json", [*manifest, *period], ["period", "inputs", "crime_type_columns", *need]
    )
    return manifest


def _input_path(run_dir: Path, manifest: Mapping[str, Any], role: str) -> Path | None:
    """Return an input path of the run, tried as given, then from the run folder upwards."""
    given = next(
        (Path(i["path"]) for i in manifest.get("inputs", []) if i.get("role") == role), None
    )
    if given is None:
        return None
    if given.is_absolute():
        return given if given.exists() else None
    bases = [Path.cwd(), *run_dir.resolve().parents]
    return next((base / given for base in bases if (base / given).exists()), None)


def _read_outlines(
    run_dir: Path, manifest: Mapping[str, Any], path: Path | None, crs: Any
) -> gpd.GeoSeries:
    path = path or _input_path(run_dir, manifest, "areas")
    if path is None or not path.exists():
        given = next(
            (i["path"] for i in manifest.get("inputs", []) if i.get("role") == "areas"), "?"
        )
        msg = (
            f"`hotspots brief` draws ward outlines from the run's areas layer; found no file "
            f"at {given!r} (from run.json, tried from the current folder and above the run "
            "folder). Pass it with --areas PATH."
        )
        raise InputDataError(msg)
    params = manifest.get("parameters", {})
    areas = read_areas(
        path,
        code_col=params.get("area_code"),
        name_col=params.get("area_name"),
        layer=params.get("areas_layer"),
    )
    areas = areas.to_crs(crs) if crs is not None else areas
    return areas.set_index(areas["area_code"].astype(str)).geometry


def _read_streets(
    run_dir: Path, manifest: Mapping[str, Any], path: Path | None, crs: Any
) -> gpd.GeoSeries | None:
    path = path or _input_path(run_dir, manifest, "streets")
    if path is None or not path.exists():
        log.warning(
            "Briefs: the run's street layer was not found; maps show no street network "
            "(pass --streets PATH)"
        )
        return None
    layer = manifest.get("parameters", {}).get("streets_layer")  # the run's --streets-layer
    streets = gpd.read_file(path, engine="pyogrio", columns=[], layer=layer)
    streets = streets[streets.geom_type.isin(["LineString", "MultiLineString"])]
    return streets.geometry.to_crs(crs) if crs is not None else streets.geometry


def _read_place_layer(
    run_dir: Path, name: str, basis: str, type_cols: Sequence[str]
) -> gpd.GeoDataFrame:
    layer = gpd.read_file(run_dir / name, engine="pyogrio")
    _missing(run_dir, name, layer.columns, [*_PLACE_COLUMNS, *type_cols])
    if "basis" not in layer.columns:
        layer["basis"] = basis
    layer = layer[layer["area_rank"].notna()]
    return layer.assign(
        area_code=layer["area_code"].astype(str),
        area_rank=pd.to_numeric(layer["area_rank"]).astype("float64"),
    )


def _keyed(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``_n``: the order of a row among rows of the same place key (ties of rank)."""
    return table.assign(_n=table.groupby(_KEY, sort=False, dropna=False).cumcount())


def _read_places(
    run_dir: Path, manifest: Mapping[str, Any]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    monthly = read_csv(_need_file(run_dir, "place_monthly.csv"), dtype={"area_code": str})
    _missing(run_dir, "place_monthly.csv", monthly.columns, _KEY)
    type_cols = list(manifest["crime_type_columns"])
    layers = []
    for name, basis in (("hot_streets.gpkg", BASIS_STREET), ("locations.gpkg", BASIS_LOCATION)):
        if (monthly["basis"] == basis).any():
            _need_file(run_dir, name)
            layers.append(_read_place_layer(run_dir, name, basis, type_cols))
    if not layers:
        return gpd.GeoDataFrame(columns=[*_PLACE_COLUMNS, "basis", "geometry"]), monthly.iloc[:0]
    places = pd.concat(layers, ignore_index=True)
    places.index = pd.Index([f"p{i}" for i in range(len(places))], name="place_id")
    monthly["area_rank"] = pd.to_numeric(monthly["area_rank"]).astype("float64")
    ids = _keyed(places.reset_index()).merge(_keyed(monthly), on=[*_KEY, "_n"], how="left")
    month_cols = [c for c in monthly.columns if len(c) == 7 and c[4] == "-"]
    counts = ids.set_index("place_id")[month_cols].fillna(0).astype("int64")
    return gpd.GeoDataFrame(places, geometry="geometry", crs=layers[0].crs), counts


def _read_profiles(run_dir: Path, places: pd.DataFrame) -> pd.DataFrame | None:
    path = run_dir / "hot_street_profiles.csv"
    if not path.exists():
        return None
    prof = read_csv(path, dtype={"area_code": str})
    key = ["rank", "street", "area_code"]
    _missing(run_dir, "hot_street_profiles.csv", prof.columns, key)
    streets = places[places["basis"] == BASIS_STREET]

    def index(table: pd.DataFrame) -> pd.MultiIndex:
        order = table.groupby(key, sort=False).cumcount()
        return pd.MultiIndex.from_arrays([*(table[k].to_numpy() for k in key), order.to_numpy()])

    values = prof.drop(columns=key).set_axis(index(prof))
    found = values.reindex(index(streets)).set_axis(streets.index)
    return found.dropna(how="all")


def _read_place_groups(
    run_dir: Path, name: str, places: pd.DataFrame, cols: Sequence[str]
) -> pd.DataFrame | None:
    """Return a table of ``name`` by place and crime group, indexed by ``(place_id, group)``.

    None for a run folder without the file (a run from an older version, or month-only data).
    """
    path = run_dir / name
    if not path.exists():
        return None
    table = read_csv(
        path,
        dtype={
            "area_code": str,
            "street": str,
            "group": str,
            "patrol_window": str,
            "peak_months": str,
        },
    )
    _missing(run_dir, name, table.columns, [*_KEY, "group", *cols])
    keys = table[[*_KEY, "group"]].assign(
        area_rank=pd.to_numeric(table["area_rank"]).astype("float64"), _row=np.arange(len(table))
    )
    keys["_n"] = keys.groupby([*_KEY, "group"], sort=False, dropna=False).cumcount()
    ids = _keyed(places.reset_index()[["place_id", *_KEY]])
    found = ids.merge(keys, on=[*_KEY, "_n"], how="inner")
    values = table[list(cols)].iloc[found["_row"].to_numpy()]
    return values.set_axis(pd.MultiIndex.from_frame(found[["place_id", "group"]]))


def _read_windows(run_dir: Path, places: pd.DataFrame) -> pd.DataFrame | None:
    """Return the patrol window and peak months of each crime group at each place."""
    cols = ["crimes", "patrol_window", "window_share", "window_crimes", "peak_months"]
    found = _read_place_groups(run_dir, "place_windows.csv", places, cols)
    if found is None:
        log.warning(
            "Briefs: place_windows.csv not found in %s (a run from an older version); "
            "'When' describes all crime at the place",
            run_dir,
        )
        return None
    return found.fillna({"peak_months": ""})


def _read_harm(run_dir: Path, manifest: Mapping[str, Any]) -> pd.Series:
    given = manifest.get("parameters", {}).get("harm_weights")
    path = None
    if given:
        path = next(
            (b / given for b in [Path.cwd(), *run_dir.resolve().parents] if (b / given).exists()),
            None,
        )
        if path is None:
            log.warning("Briefs: the run's harm table %s was not found; using the default", given)
    return read_harm_weights(path)


def read_run_folder(
    run_dir: str | Path, *, areas: str | Path | None = None, streets: str | Path | None = None
) -> RunFolder:
    """Read what the briefs need from a run folder written by ``hotspots run``.

    Parameters
    ----------
    run_dir
        The run folder.
    areas
        The area layer of the run (ward outlines); by default the ``areas`` input named in
        ``run.json``, looked up as given, from the current folder and from the folders above
        the run folder.
    streets
        The street layer of the run (drawn on the maps); found the same way. Optional: a
        missing street layer is logged and the maps show no street network.

    Returns
    -------
    RunFolder
        Every file read once.

    Raises
    ------
    InputDataError
        If a file or column the briefs need is missing (named, with the fix).
    """
    run = Path(run_dir)
    manifest = _read_manifest(run)
    areas_csv = read_csv(_need_file(run, "areas.csv"), dtype={"area_code": str})
    _missing(run, "areas.csv", areas_csv.columns, ["area_code", "area_name", "crimes"])
    places, monthly = _read_places(run, manifest)
    crs = places.crs or manifest.get("crs")
    incomplete = [str(m) for m in manifest["period"].get("incomplete_months", [])]
    compare = None
    if (run / "compare_areas.csv").exists():
        compare = read_csv(run / "compare_areas.csv", dtype={"area_code": str})
    return RunFolder(
        path=run,
        manifest=manifest,
        areas=areas_csv.set_index("area_code", drop=False),
        places=places,
        monthly=monthly,
        months=list(monthly.columns),
        incomplete=incomplete,
        outlines=_read_outlines(run, manifest, Path(areas) if areas else None, crs),
        streets=_read_streets(run, manifest, Path(streets) if streets else None, crs),
        compare=compare,
        profiles=_read_profiles(run, places),
        harm_weights=_read_harm(run, manifest),
        windows=_read_windows(run, places),
        group_profiles=_read_place_groups(
            run, "place_group_profiles.csv", places, HOUR_OF_WEEK_COLUMNS
        ),
    )


def read_predictability(backtest_dir: str | Path, *, settings: BriefSettings) -> dict[str, float]:
    """Return how well the backtest predicted each crime group, scaled so the best is 1.

    Parameters
    ----------
    backtest_dir
        A folder written by ``hotspots evaluate`` (its ``backtest_summary.csv`` is read).
    settings
        Method and coverage of ``[backtest]`` and the crime groups.

    Returns
    -------
    dict
        Group key to ``expected_capture(method, coverage)`` of the backtest group of the same
        key (``all`` for groups the backtest does not score), divided by the largest.

    Raises
    ------
    InputDataError
        If the file or its columns are missing, or the method or coverage was not scored.
    """
    from hotspots.evaluate import expected_capture

    folder = Path(backtest_dir)
    summary = read_csv(_need_file(folder, "backtest_summary.csv"))
    _missing(
        folder,
        "backtest_summary.csv",
        summary.columns,
        ["group", "method", "coverage_pct", "hit_rate_mean"],
    )
    table = summary.rename(columns={"hit_rate_mean": "hit_rate"})
    scored = set(table["group"])
    capture = {
        g: expected_capture(
            table,
            method=settings.backtest_method,
            coverage=settings.backtest_coverage,
            group=g if g in scored else "all",
        )
        for g in [*settings.groups, OTHER_GROUP]
    }
    top = max(capture.values())
    return {g: (v / top if top > 0 else 0.0) for g, v in capture.items()}
