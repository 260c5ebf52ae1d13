"""Ward briefs: up to three proposed priorities per ward, with their evidence, on one page.

A *priority* is a problem a team can act on: one crime group at one place of the ward's list
(a hot street or a police.uk location, with the listed places near it) at a time (its patrol
window where the data has times, else the months when it peaks). :func:`write_briefs` reads
an existing run folder (nothing is recomputed), scores every candidate (place x crime group)
of each ward with :func:`rank_candidates`, keeps up to three with :func:`rank_priorities`
and writes ``RUN_DIR/briefs/<area_code>.html`` (and ``.pdf``), plus one page per borough.

The score and its default weights are documented in ``hotspots/brief_weights.toml``; a user
file of the same form replaces any part of them (:func:`read_brief_weights`).
"""

from __future__ import annotations

import asyncio
import base64
import html
import importlib.resources
import io
import json
import logging
import math
import os
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from hotspots import runfolder
from hotspots.analysis import harm as _harm
from hotspots.errors import HotspotsError, InputDataError
from hotspots.output import export as _export
from hotspots.output.site_index import borough_brief_name, brief_name, refresh_links
from hotspots.read import crimes as _io
from hotspots.read.schema import BASIS_LOCATION, BASIS_STREET
from hotspots.runfolder import area_file_stem
from hotspots.temporal import HOUR_OF_WEEK_COLUMNS, NO_TIME_STANDS_OUT, TOO_FEW_TO_SAY

log = logging.getLogger("hotspots")

__all__ = [
    "COMPONENTS",
    "BriefSettings",
    "RunFolder",
    "assign_nearby",
    "classify_crime_types",
    "count_period_change",
    "count_place_groups",
    "hour_week_svg",
    "monthly_bars_svg",
    "rank_candidates",
    "rank_priorities",
    "rank_problems",
    "read_brief_weights",
    "read_predictability",
    "read_run_folder",
    "write_briefs",
    "write_pdfs",
]

#: Score components, in the order the page shows them.
COMPONENTS: tuple[str, ...] = (
    "volume",
    "concentration",
    "persistence",
    "trend",
    "significance",
    "predictability",
)
#: Gi* classes and their significance component.
SIGNIFICANCE_SCORES: dict[str, float] = {
    "Hot spot 99%": 1.0,
    "Hot spot 95%": 0.8,
    "Hot spot 90%": 0.6,
}
#: Trend classes and directions that score 1 (rising) and 0 (falling); all else scores 0.5.
RISING = frozenset({"rising", "new", "emerging"})
FALLING = frozenset({"falling", "diminishing", "historical"})
#: Group of crime types that no group lists.
OTHER_GROUP = "other"
#: Chromium used for PDFs unless ``$HOTSPOTS_CHROMIUM`` says otherwise.
CHROMIUM = "/usr/bin/chromium"
#: Pages printed to PDF at a time (one browser tab each). Several tabs gave no speed-up on a
#: 2-core machine (40 London briefs: 10.9-13.1 s with 1 tab, 11.9-13.1 s with 2, 13.3-14.2 s
#: with 4; benchmarks/brief_pdf.py): printing is bound by Chromium's CPU time.
PDF_TABS = 1
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

_SELECTION = {
    "min_crimes": int,
    "max_priorities": int,
    "nearby_m": float,
    "max_per_place": int,
    "compare_months": int,
    "too_few": int,
    "skip_groups": list,
}
_BACKTEST = {"method": str, "coverage": float}
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


# --------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class BriefSettings:
    """Weights, crime groups and selection rules of the briefs (see ``brief_weights.toml``)."""

    weights: Mapping[str, float]
    groups: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, str]
    min_crimes: int = 5
    max_priorities: int = 3
    nearby_m: float = 150.0
    max_per_place: int = 1
    compare_months: int = 3
    too_few: int = 10
    skip_groups: tuple[str, ...] = ()
    backtest_method: str = "hot_streets"
    backtest_coverage: float = 1.0
    source: str = "brief_weights.toml (default)"


def _default_settings_path() -> Path:
    return Path(str(importlib.resources.files("hotspots") / "brief_weights.toml"))


def _load_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        msg = (
            f"`weights` must be a TOML file like hotspots/brief_weights.toml; found no file "
            f"at {path}. Give an existing file or leave --weights out for the defaults."
        )
        raise InputDataError(msg)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        msg = (
            f"`weights` must be valid UTF-8 TOML; {path.name} is not ({err}). Fix the file "
            "(compare hotspots/brief_weights.toml)."
        )
        raise InputDataError(msg) from None


def _table_problems(name: str, table: Any, spec: Mapping[str, type]) -> list[str]:
    if not isinstance(table, dict):
        return [f"[{name}] is not a table"]
    problems = [f"[{name}] has an unknown key {k!r}" for k in table if k not in spec]
    for key, kind in spec.items():
        value = table.get(key)
        if key not in table or kind in (str, list):
            if key in table and not _is_text(value, many=kind is list):
                what = "a list of group names" if kind is list else "text"
                problems.append(f"[{name}] {key} must be {what}, found {value!r}")
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < 0
            or (kind is int and value != int(value))
        ):
            problems.append(
                f"[{name}] {key} must be a non-negative "
                f"{'whole ' if kind is int else ''}number, found {value!r}"
            )
    return problems


def _is_text(value: Any, *, many: bool) -> bool:
    if many:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _group_problems(groups: Any) -> list[str]:
    if not isinstance(groups, dict) or not groups:
        return ["[groups] must hold at least one [groups.<name>] table"]
    problems: list[str] = []
    seen: dict[str, str] = {}
    for key, spec in groups.items():
        types = spec.get("types") if isinstance(spec, dict) else None
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            problems.append(f"[groups.{key}] needs `types`, a list of crime type names")
            continue
        for t in types:
            if t in seen:
                problems.append(f"crime type {t!r} is in [groups.{seen[t]}] and [groups.{key}]")
            seen[t] = key
    return problems


def _settings_problems(merged: Mapping[str, Any]) -> list[str]:
    known = {"weights", "selection", "backtest", "groups"}
    problems = [f"unknown table [{k}]" for k in merged if k not in known]
    problems += _table_problems("weights", merged["weights"], dict.fromkeys(COMPONENTS, float))
    problems += _table_problems("selection", merged["selection"], _SELECTION)
    problems += _table_problems("backtest", merged["backtest"], _BACKTEST)
    problems += _group_problems(merged["groups"])
    weights = merged["weights"] if isinstance(merged["weights"], dict) else {}
    if not problems and not any(weights[k] > 0 for k in COMPONENTS if k != "predictability"):
        problems.append("every weight but predictability is 0")
    return problems


def read_brief_weights(path: str | Path | None = None) -> BriefSettings:
    """Read the score weights, crime groups and selection rules of the briefs.

    Parameters
    ----------
    path
        A TOML file of the form of ``hotspots/brief_weights.toml``. Tables it gives
        (``[weights]``, ``[selection]``, ``[backtest]``) override the defaults key by key;
        a ``[groups]`` table replaces the default groups as a whole. None: the defaults.

    Returns
    -------
    BriefSettings
        The merged settings.

    Raises
    ------
    InputDataError
        If the file is missing, not TOML, or has unknown keys, negative or non-numeric
        weights, or a crime type in two groups (all problems listed).

    Examples
    --------
    >>> s = read_brief_weights()
    >>> s.weights["volume"], s.max_priorities, s.labels["robbery"]
    (0.3, 3, 'Robbery')
    """
    merged = _load_toml(_default_settings_path())
    source = "brief_weights.toml (default)"
    if path is not None:
        user = _load_toml(Path(path))
        for key, value in user.items():
            merged[key] = (
                {**merged[key], **value}
                if key in ("weights", "selection", "backtest") and isinstance(value, dict)
                else value
            )
        source = Path(path).name
    problems = _settings_problems(merged)
    if problems:
        msg = (
            f"brief weights ({source}) must follow hotspots/brief_weights.toml; found "
            f"{'; '.join(problems)}. Fix the file or leave --weights out for the defaults."
        )
        raise InputDataError(msg)
    return _settings_from(merged, source)


def _settings_from(merged: Mapping[str, Any], source: str) -> BriefSettings:
    groups = {k: tuple(v["types"]) for k, v in merged["groups"].items()}
    labels = {
        k: str(v.get("label", k.replace("_", " ").capitalize()))
        for k, v in merged["groups"].items()
    }
    labels.setdefault(OTHER_GROUP, "Other crime")
    sel: dict[str, Any] = {
        k: (tuple(v) if k == "skip_groups" else _SELECTION[k](v))
        for k, v in merged["selection"].items()
    }
    return BriefSettings(
        weights={k: float(merged["weights"][k]) for k in COMPONENTS},
        groups=groups,
        labels=labels,
        backtest_method=str(merged["backtest"]["method"]),
        backtest_coverage=float(merged["backtest"]["coverage"]),
        source=source,
        **sel,
    )


def classify_crime_types(types: Iterable[str], *, settings: BriefSettings) -> dict[str, str]:
    """Return the crime group of each crime type.

    Parameters
    ----------
    types
        Crime type names as in the data (police.uk categories, VPD ``TYPE`` values...).
    settings
        From :func:`read_brief_weights`; its ``groups`` list the types of each group.

    Returns
    -------
    dict
        Type name to group key. Matching ignores case and outer spaces; a type no group
        lists goes to ``"other"``.

    Examples
    --------
    >>> s = read_brief_weights()
    >>> classify_crime_types(["Shoplifting", "Theft of Vehicle", "Fraud"], settings=s)
    {'Shoplifting': 'theft', 'Theft of Vehicle': 'vehicle_crime', 'Fraud': 'other'}
    """
    folded = {t.strip().casefold(): g for g, ts in settings.groups.items() for t in ts}
    return {t: folded.get(t.strip().casefold(), OTHER_GROUP) for t in types}


# --------------------------------------------------------------------------------------------
# the run folder


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
    manifest: dict[str, Any] = json.loads(
        _need_file(run_dir, "run.json").read_text(encoding="utf-8")
    )
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
    areas = _io.read_areas(
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
    monthly = _export.read_csv(_need_file(run_dir, "place_monthly.csv"), dtype={"area_code": str})
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
    prof = _export.read_csv(path, dtype={"area_code": str})
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
    table = _export.read_csv(
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
    return _harm.read_harm_weights(path)


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
    areas_csv = _export.read_csv(_need_file(run, "areas.csv"), dtype={"area_code": str})
    _missing(run, "areas.csv", areas_csv.columns, ["area_code", "area_name", "crimes"])
    places, monthly = _read_places(run, manifest)
    crs = places.crs or manifest.get("crs")
    incomplete = [str(m) for m in manifest["period"].get("incomplete_months", [])]
    compare = None
    if (run / "compare_areas.csv").exists():
        compare = _export.read_csv(run / "compare_areas.csv", dtype={"area_code": str})
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
    summary = _export.read_csv(_need_file(folder, "backtest_summary.csv"))
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


# --------------------------------------------------------------------------------------------
# candidates and score


def count_place_groups(
    places: pd.DataFrame,
    *,
    type_names: Mapping[str, str],
    settings: BriefSettings,
    harm_weights: pd.Series,
) -> pd.DataFrame:
    """Return crimes and harm of every crime group at every place, one row per pair.

    Parameters
    ----------
    places
        Listed places with ``area_code`` and ``n_<slug>`` counts, indexed by place id.
    type_names
        ``n_<slug>`` column to crime type name (run.json ``crime_type_columns``).
    settings
        The crime groups.
    harm_weights
        Weight per crime type (:func:`hotspots.analysis.harm.read_harm_weights`); a type it lacks
        weighs :data:`hotspots.analysis.harm.DEFAULT_FALLBACK`.

    Returns
    -------
    pandas.DataFrame
        ``place_id, area_code, group, crimes, harm`` for the pairs with crime.
    """
    cols = [c for c in type_names if c in places.columns]
    group_of = classify_crime_types([type_names[c] for c in cols], settings=settings)
    keys = [g for g in [*settings.groups, OTHER_GROUP] if g in group_of.values()]
    onehot = np.array([[group_of[type_names[c]] == g for g in keys] for c in cols], dtype=float)
    weight = np.array(
        [float(harm_weights.get(type_names[c], _harm.DEFAULT_FALLBACK)) for c in cols]
    )
    counts = places[cols].fillna(0).to_numpy(dtype=float)
    crimes, harm = counts @ onehot, (counts * weight) @ onehot
    long = pd.DataFrame(
        {
            "place_id": np.repeat(places.index.to_numpy(), len(keys)),
            "area_code": np.repeat(places["area_code"].to_numpy(), len(keys)),
            "group": np.tile(keys, len(places)),
            "crimes": crimes.ravel(),
            "harm": harm.ravel(),
        }
    )
    return long[long["crimes"] > 0].reset_index(drop=True)


def _trend_score(direction: pd.Series, trend_class: pd.Series) -> np.ndarray:
    up = direction.isin(RISING) | trend_class.isin(RISING)
    down = direction.isin(FALLING) | trend_class.isin(FALLING)
    return np.where(up, 1.0, np.where(down, 0.0, 0.5))


def _share_of_max(values: pd.Series, wards: pd.Series) -> pd.Series:
    top = values.groupby(wards).transform("max")
    return (values / top.where(top > 0)).fillna(0.0)


def rank_candidates(
    candidates: pd.DataFrame,
    *,
    settings: BriefSettings,
    months: int,
    predictability: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Score candidate problems (crime group x place) within each ward, 0 to 100.

    Parameters
    ----------
    candidates
        One row per candidate: ``area_code, group, crimes, harm, ward_group_crimes`` (the
        ward's crimes of that group), and the place's ``hot_months, trend_direction,
        trend_class, significance``.
    settings
        The weights.
    months
        Complete months in the period (the scale of ``hot_months``).
    predictability
        Group to 0..1 (:func:`read_predictability`); None leaves the component out.

    Returns
    -------
    pandas.DataFrame
        The candidates with one column per component of :data:`COMPONENTS` (0 to 1) and
        ``score`` (0 to 100).

    Notes
    -----
    Formally, within each ward: *volume* = log(1 + harm) / max over the ward's candidates of
    log(1 + harm); *concentration* = s / max s, s = min(1, crimes / ward_group_crimes);
    *persistence* = min(1, hot_months / months); *trend* = 1 if the place is rising (trend
    direction rising, or class new or emerging), 0 if falling (direction falling, or class
    diminishing or historical), else 0.5; *significance* = 1, 0.8, 0.6 for Gi* hot spots at
    99, 95, 90 % and 0 otherwise; *predictability* = ``predictability[group]``.
    score = 100 x sum(w_i x c_i) / sum(w_i) over the components used.

    Examples
    --------
    >>> s = read_brief_weights()
    >>> c = pd.DataFrame({"area_code": "A", "group": "robbery", "crimes": [20, 20],
    ...     "harm": [7300.0, 7300.0], "ward_group_crimes": 100, "hot_months": [12, 2],
    ...     "trend_direction": ["rising", "no clear trend"], "trend_class": "sporadic",
    ...     "significance": ["Hot spot 99%", "Not significant"]})
    >>> rank_candidates(c, settings=s, months=12)["score"].round(1).tolist()
    [100.0, 66.7]
    """
    out = candidates.copy()
    ward = out["area_code"]
    out["volume"] = _share_of_max(np.log1p(out["harm"].astype(float)), ward)
    share = out["crimes"] / out["ward_group_crimes"].where(out["ward_group_crimes"] > 0)
    out["concentration"] = _share_of_max(share.clip(upper=1.0).fillna(0.0), ward)
    out["persistence"] = (out["hot_months"].fillna(0) / max(months, 1)).clip(0.0, 1.0)
    out["trend"] = _trend_score(out["trend_direction"], out["trend_class"])
    out["significance"] = out["significance"].map(SIGNIFICANCE_SCORES).fillna(0.0)
    used = [c for c in COMPONENTS if c != "predictability" or predictability is not None]
    if predictability is not None:
        out["predictability"] = out["group"].map(predictability).fillna(0.0)
    total = sum(settings.weights[c] for c in used)
    out["score"] = 100 * sum(settings.weights[c] * out[c] for c in used) / total
    return out


def assign_nearby(
    places: gpd.GeoDataFrame, candidates: pd.DataFrame, *, distance_m: float
) -> pd.Series:
    """Return, per candidate, the other candidates of its ward and group within a distance.

    Parameters
    ----------
    places
        Listed places (geometry in metres), indexed by place id.
    candidates
        ``place_id, area_code, group, crimes``.
    distance_m
        Largest distance between the two places' geometries, metres.

    Returns
    -------
    pandas.Series
        Aligned with ``candidates``: a tuple of place ids, most crimes of the group first.
    """
    empty = pd.Series([()] * len(candidates), index=candidates.index, dtype=object)
    if candidates.empty:
        return empty
    geoms = places.geometry
    left, right = geoms.sindex.query(geoms, predicate="dwithin", distance=distance_m)
    pos = pd.Series(np.arange(len(places)), index=places.index)
    pairs = pd.DataFrame({"place_id": places.index[left], "other": places.index[right]})
    pairs = pairs[pairs["place_id"] != pairs["other"]]
    key = candidates[["place_id", "area_code", "group"]]
    found = pairs.merge(key, on="place_id").merge(
        candidates[["place_id", "area_code", "group", "crimes"]].rename(
            columns={"place_id": "other"}
        ),
        on=["other", "area_code", "group"],
    )
    found = found.assign(_pos=pos.reindex(found["other"]).to_numpy()).sort_values(
        ["crimes", "_pos"], ascending=[False, True], kind="stable"
    )
    near = found.groupby(["place_id", "group"], sort=False)["other"].agg(tuple)
    keys = pd.MultiIndex.from_frame(candidates[["place_id", "group"]])
    return pd.Series(near.reindex(keys).to_numpy(), index=candidates.index).where(
        lambda s: s.notna(), empty
    )


def _near_duplicate(row: Any, chosen: list[Any], *, max_per_place: int) -> bool:
    place = {row.place_id, *row.nearby}
    same_anchor = sum(c.place_id == row.place_id for c in chosen)
    overlap = any(c.group == row.group and place & {c.place_id, *c.nearby} for c in chosen)
    return overlap or same_anchor >= max_per_place


def rank_priorities(scored: pd.DataFrame, *, settings: BriefSettings) -> pd.DataFrame:
    """Pick up to ``max_priorities`` candidates per ward, best score first, no near-duplicates.

    Parameters
    ----------
    scored
        From :func:`rank_candidates`, with ``place_id`` and ``nearby`` (a tuple of place
        ids, :func:`assign_nearby`).
    settings
        ``max_priorities`` and ``max_per_place``.

    Returns
    -------
    pandas.DataFrame
        The chosen rows with ``priority`` (1, 2, 3) per ward, wards in code order.

    Notes
    -----
    Candidates are taken in order of score (then crimes, then place id, then group); one is
    skipped as a near-duplicate when (a) a priority already chosen has the same crime group
    and their places overlap: the two places, or any of their nearby places, are the same;
    or (b) its place already leads ``max_per_place`` chosen priorities (default 1: every
    priority at its own place; 2 allows a second, different crime group at a place). So the
    priorities of a ward always differ in place or in crime group.

    Examples
    --------
    >>> s = read_brief_weights()
    >>> c = pd.DataFrame({"area_code": "A", "place_id": ["p1", "p2", "p1", "p3"],
    ...     "group": ["theft", "theft", "asb", "asb"], "score": [90, 80, 70, 60],
    ...     "crimes": 10, "nearby": [(), ("p1",), (), ()]})
    >>> rank_priorities(c, settings=s)[["place_id", "group", "priority"]].values.tolist()
    [['p1', 'theft', 1], ['p3', 'asb', 2]]
    """
    order = scored.sort_values(
        ["area_code", "score", "crimes", "place_id", "group"],
        ascending=[True, False, False, True, True],
        kind="stable",
    )
    keep: list[Any] = []
    for _, ward in order.groupby("area_code", sort=True):
        chosen: list[Any] = []
        for row in ward.itertuples():
            if len(chosen) == settings.max_priorities:
                break
            if not _near_duplicate(row, chosen, max_per_place=settings.max_per_place):
                chosen.append(row)
        keep += [(row.Index, i + 1) for i, row in enumerate(chosen)]
    out = scored.loc[[i for i, _ in keep]].copy()
    out["priority"] = [p for _, p in keep]
    return out


# --------------------------------------------------------------------------------------------
# evidence: period change, ward totals, charts, maps


def count_period_change(
    monthly: pd.DataFrame, *, months: Sequence[str], compare_months: int = 3, too_few: int = 10
) -> pd.DataFrame:
    """Compare each row's last N months with the N before and the same N a year before.

    Parameters
    ----------
    monthly
        Counts, one column per month ``YYYY-MM``.
    months
        The complete months to use, oldest first (incomplete months left out).
    compare_months
        N.
    too_few
        A change is given only when both counts are at least this.

    Returns
    -------
    pandas.DataFrame
        ``current, previous, year_before`` (NaN when the months are not in the data),
        ``pct_previous, pct_year_before`` and ``flag_previous, flag_year_before`` ("too few
        to compare", "not in the period" or "").

    Examples
    --------
    >>> m = pd.DataFrame([[5, 5, 5, 20, 20, 20]], columns=[f"2024-0{i}" for i in range(1, 7)])
    >>> count_period_change(m, months=list(m.columns))[["previous", "current", "pct_previous"]]
       previous  current  pct_previous
    0      15.0     60.0         300.0
    """
    n = compare_months
    current = list(months[-n:])
    previous = list(months[-2 * n : -n]) if len(months) >= 2 * n else []
    year = [f"{int(m[:4]) - 1}{m[4:]}" for m in current]
    out = pd.DataFrame(index=monthly.index)
    out["current"] = monthly[current].sum(axis=1).astype(float)
    for name, cols in (("previous", previous), ("year_before", year)):
        ok = len(cols) == n and all(c in months for c in cols)
        out[name] = monthly[cols].sum(axis=1).astype(float) if ok else np.nan
        small = (out[[name, "current"]].min(axis=1) < too_few) if ok else False
        pct = (out["current"] - out[name]) / out[name].where(out[name] > 0) * 100
        out[f"pct_{name}"] = pct.where(~small).round(1) if ok else np.nan
        out[f"flag_{name}"] = (
            np.where(small, "too few to compare", "") if ok else "not in the period"
        )
    return out


def _ward_group_totals(run: RunFolder, listed: pd.DataFrame, settings: BriefSettings) -> pd.Series:
    """Return the ward's crimes of each group: areas.csv counts if there, else estimated."""
    names = run.manifest["crime_type_columns"]
    group_of = classify_crime_types(names.values(), settings=settings)
    cols = [c for c in names if c in run.areas.columns]
    if cols:
        counts = run.areas[cols].rename(columns=lambda c: group_of[names[c]])
        totals = counts.T.groupby(level=0).sum().T.stack()
    elif run.compare is not None:
        totals = _estimated_totals(run.compare, run.areas["crimes"], group_of)
    else:
        totals = pd.Series(dtype=float)
    totals.index.names = ["area_code", "group"]
    floor = listed.groupby(["area_code", "group"])["crimes"].sum()
    return pd.concat([totals.rename("t"), floor.rename("f")], axis=1).max(axis=1)


def _estimated_totals(
    cmp: pd.DataFrame, crimes: pd.Series, group_of: Mapping[str, str]
) -> pd.Series:
    """Return the ward's crimes x the group's share of its crime in the comparison months."""
    months = cmp[["current", "previous", "year_before"]].fillna(0).sum(axis=1)
    cmp = cmp.assign(n=months, group=cmp["crime_type"].map(group_of))
    total = cmp[cmp["crime_type"] == "All crime"].set_index("area_code")["n"]
    by_group = (
        cmp[cmp["group"].notna() & (cmp["crime_type"] != "All crime")]
        .groupby(["area_code", "group"])["n"]
        .sum()
    )
    share = by_group / total.reindex(by_group.index.get_level_values(0)).to_numpy()
    ward_crimes = crimes.reindex(share.index.get_level_values(0)).to_numpy()
    return (share * ward_crimes).replace([np.inf], np.nan).dropna()


def monthly_bars_svg(
    counts: pd.Series,
    *,
    incomplete: Sequence[str] = (),
    windows: Mapping[str, Sequence[str]] | None = None,
    title: str,
) -> str:
    """Return a bar chart of monthly counts as inline SVG, comparison months coloured.

    Parameters
    ----------
    counts
        Counts indexed by month ``YYYY-MM``.
    incomplete
        Months drawn as outlines (left out of comparisons).
    windows
        ``current``, ``previous``, ``year_before``: the months of each comparison window.
    title
        Accessible label and tooltip.

    Returns
    -------
    str
        An ``<svg>`` element, 330 x 70 units, scaling to its container's width.

    Examples
    --------
    >>> svg = monthly_bars_svg(pd.Series([1, 4], index=["2024-01", "2024-02"]), title="t")
    >>> svg.startswith("<svg") and "2024-02" in svg
    True
    """
    colour = {
        m: c
        for key, c in (("year_before", "#6baed6"), ("previous", "#969696"), ("current", "#bd0026"))
        for m in (windows or {}).get(key, [])
    }
    values = counts.to_numpy(dtype=float)
    top = max(float(values.max()) if len(values) else 0.0, 1.0)
    x0, x1, y0, y1 = 28.0, 326.0, 6.0, 54.0
    width = (x1 - x0) / max(len(values), 1)
    body = [f'<path d="M{x0} {y1}H{x1}" stroke="#999" stroke-width=".5"/>']
    for i, (month, v) in enumerate(zip(counts.index, values, strict=True)):
        h = (y1 - y0) * v / top
        style = (
            'fill="none" stroke="#999" stroke-dasharray="1 1"'
            if month in incomplete
            else f'fill="{colour.get(month, "#d0d0d0")}"'
        )
        body.append(
            f'<rect x="{x0 + i * width + 0.5:.1f}" y="{y1 - h:.1f}" width='
            f'"{max(width - 1, 0.5):.1f}" height="{max(h, 0.01):.1f}" {style}>'
            f"<title>{html.escape(str(month))}: {v:g}</title></rect>"
        )
    body += _chart_labels(list(map(str, counts.index)), top, x0, width, y0, y1)
    text = html.escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 330 70" role="img" aria-label="{text}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{text}</title>{"".join(body)}</svg>'
    )


def _chart_labels(
    months: list[str], top: float, x0: float, width: float, y0: float, y1: float
) -> list[str]:
    style = 'font-size="8" fill="#555" font-family="sans-serif"'
    out = [
        f'<text x="{x0 - 3}" y="{y0 + 6}" text-anchor="end" {style}>{top:g}</text>',
        f'<text x="{x0 - 3}" y="{y1}" text-anchor="end" {style}>0</text>',
    ]
    years = [i for i, m in enumerate(months) if m.endswith("-01") or i == 0]
    step = 3 if len(months) <= 24 else 12
    quarters = (
        [i for i in range(0, len(months), step) if all(abs(i - j) >= 3 for j in years)]
        if step == 3
        else []
    )
    for i in sorted({*years, *quarters}):
        label = (
            months[i][:4]
            if i in years and len(months) > 24
            else (months[i] if i in years else months[i][5:])
        )
        out.append(
            f'<text x="{x0 + (i + 0.5) * width:.1f}" y="{y1 + 10}" text-anchor="middle" '
            f"{style}>{html.escape(label)}</text>"
        )
    return out


_COL = {
    "ward": "#444444",
    "street": "#d4d4d4",
    "other": "#a8a8a8",
    "near": "#f28e2b",
    "place": "#bd0026",
}


class _MapPainter:
    """Small static maps of a place: ward outline, street network, listed places; no tiles.

    One matplotlib figure is drawn again for every map (new axes cost more than the drawing).
    """

    size_in = (2.36, 2.13)

    def __init__(self, run: RunFolder) -> None:
        self.streets = run.streets
        self.geoms = run.places.geometry.to_numpy()
        self.pos = {pid: i for i, pid in enumerate(run.places.index)}
        self.names = run.places["street"].astype(str).to_numpy()
        self.ranks = run.places["area_rank"].to_numpy()
        self.by_ward = {
            k: np.asarray(v)
            for k, v in run.places.reset_index(drop=True).groupby("area_code").indices.items()
        }
        self.wards = dict(zip(run.outlines.index, run.outlines.to_numpy(), strict=True))
        self.fig = Figure(figsize=self.size_in)
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.inset = self.fig.add_axes((0.77, 0.75, 0.22, 0.24))
        for ax in (self.ax, self.inset):
            ax.set_axis_off()
            ax.set_aspect("equal")
        self.inset.add_patch(
            Rectangle(
                (0, 0),
                1,
                1,
                transform=self.inset.transAxes,
                fc="white",
                ec="#888",
                lw=0.5,
                zorder=0,
            )
        )
        self.keep = set(self.inset.patches)

    def data_uri(self, code: str, place: str, nearby: Sequence[str]) -> str:
        """Return the map of ``place`` (and ``nearby``) in ward ``code`` as an SVG data URI."""
        self._clear()
        ids = [self.pos[place], *(self.pos[p] for p in nearby)]
        box = self._extent(ids, self.size_in[0] / self.size_in[1])
        self._draw_base(code, box)
        self._draw_places(ids, box)
        _scale_bar(self.ax, box)
        self._draw_inset(code, ids[0])
        buf = io.StringIO()
        with mpl.rc_context({"svg.hashsalt": "hotspots-brief", "svg.fonttype": "none"}):
            self.fig.savefig(buf, format="svg", metadata={"Date": None})
        data = base64.b64encode(buf.getvalue().encode("utf-8")).decode("ascii")
        return f"data:image/svg+xml;base64,{data}"

    def _clear(self) -> None:
        for ax in (self.ax, self.inset):
            for artist in [*ax.collections, *ax.lines, *ax.texts, *ax.patches]:
                if artist not in self.keep:
                    artist.remove()

    def _extent(self, ids: Sequence[int], aspect: float) -> tuple[float, float, float, float]:
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.geoms[list(ids)])
        half = max(200.0, max(xmax - xmin, ymax - ymin) / 2 + 90.0)
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        return cx - half * aspect, cy - half, cx + half * aspect, cy + half

    def _draw_base(self, code: str, box: tuple[float, float, float, float]) -> None:
        ax = self.ax
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        if self.streets is not None:
            hits = self.streets.sindex.query(shapely.box(*box))
            _lines(
                ax, shapely.clip_by_rect(self.streets.to_numpy()[hits], *box), _COL["street"], 0.7
            )
        if code in self.wards:
            outline = shapely.boundary(np.array([self.wards[code]]))
            _lines(ax, shapely.clip_by_rect(outline, *box), _COL["ward"], 1.0, dashes=(4, 2))
        others = self.geoms[self.by_ward.get(code, np.array([], dtype=int))]
        _shapes(ax, others[shapely.intersects(others, shapely.box(*box))], _COL["other"], 1.2, 3)

    def _draw_places(self, ids: Sequence[int], box: tuple[float, float, float, float]) -> None:
        _shapes(self.ax, self.geoms[list(ids[1:])], _COL["near"], 2.4, 12, zorder=3)
        _shapes(self.ax, self.geoms[ids[:1]], _COL["place"], 3.4, 24, zorder=6)
        points = shapely.point_on_surface(self.geoms[list(ids)])
        self.ax.plot(
            [points[0].x],
            [points[0].y],
            "o",
            ms=17,
            mfc="none",
            mec=_COL["place"],
            mew=1.0,
            zorder=6,
        )
        for n, (i, pt) in enumerate(zip(ids, points, strict=True)):
            anchor = n == 0
            label = self.names[i].replace("$", r"\$") if anchor else f"#{int(self.ranks[i])}"
            offset = (9, 8) if anchor else (4, -9)
            self.ax.annotate(
                label,
                (pt.x, pt.y),
                xytext=offset,
                textcoords="offset points",
                fontsize=7 if anchor else 6,
                color=_COL["place"] if anchor else "#8a4a00",
                fontweight="bold" if anchor else "normal",
                annotation_clip=True,
                ha="left" if pt.x < (box[0] + box[2]) / 2 else "right",
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
                zorder=5,
            )

    def _draw_inset(self, code: str, anchor: int) -> None:
        if code not in self.wards:
            return
        _polys(self.inset, self.wards[code])
        pt = shapely.point_on_surface(self.geoms[anchor])
        self.inset.plot([pt.x], [pt.y], "o", ms=3.5, color=_COL["place"])


def _lines(
    ax: Any,
    geoms: np.ndarray,
    colour: str,
    width: float,
    dashes: tuple[float, float] | None = None,
    zorder: float = 1,
) -> None:
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    parts = parts[shapely.get_type_id(parts) == 1]  # LineString
    if len(parts):
        coll = LineCollection(
            [shapely.get_coordinates(p) for p in parts],
            colors=colour,
            linewidths=width,
            capstyle="round",
            zorder=zorder,
        )
        if dashes is not None:
            coll.set_linestyle((0, dashes))
        ax.add_collection(coll)


def _shapes(
    ax: Any, geoms: np.ndarray, colour: str, width: float, size: float, zorder: float = 2
) -> None:
    _lines(ax, geoms, colour, width, zorder=zorder)
    points = shapely.get_parts(geoms)
    points = points[shapely.get_type_id(points) == 0]
    if len(points):
        xy = shapely.get_coordinates(points)
        ax.plot(
            xy[:, 0], xy[:, 1], "o", ms=math.sqrt(size), color=colour, mew=0, zorder=zorder + 0.5
        )


def _polys(ax: Any, geom: Any) -> None:
    for poly in shapely.get_parts(geom):
        ax.add_patch(Polygon(np.asarray(poly.exterior.coords), fc="#eeeeee", ec="#444", lw=0.6))
    xmin, ymin, xmax, ymax = geom.bounds
    pad = max(xmax - xmin, ymax - ymin) * 0.06
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)


def _scale_bar(ax: Any, box: tuple[float, float, float, float]) -> None:
    span = box[2] - box[0]
    length = next(v for v in (500, 200, 100, 50) if v <= span / 3)
    x, y = box[0] + span * 0.05, box[1] + (box[3] - box[1]) * 0.05
    ax.plot([x, x + length], [y, y], color="#222", lw=1.5, solid_capstyle="butt")
    ax.text(
        x + length / 2,
        y + (box[3] - box[1]) * 0.02,
        f"{length} m",
        fontsize=6,
        ha="center",
        va="bottom",
        color="#222",
    )


# --------------------------------------------------------------------------------------------
# pages


_CSS = """
@page{size:A4;margin:10mm 11mm 11mm}
*{box-sizing:border-box}
body{font:9pt/1.32 "DejaVu Sans",Arial,sans-serif;color:#222;margin:0}
@media screen{body{max-width:188mm;margin:8mm auto;padding:0 4mm}}
h1{font-size:14pt;margin:0 0 1mm}h2{font-size:10.5pt;margin:0}
.meta{color:#444;font-size:8pt;margin:0 0 1mm}
.caveat{font-size:7.8pt;color:#555;margin:0 0 2mm}
.facts{display:flex;flex-wrap:wrap;gap:.5mm 5mm;margin:0 0 2.5mm;padding:1.5mm 2mm;
background:#f4f4f4;border-radius:1mm;font-size:8.5pt}
.facts b{font-weight:600}
.prio{break-inside:avoid;page-break-inside:avoid;border:1px solid #ccc;
border-left:4px solid #bd0026;padding:2mm 2.5mm;margin:0 0 2.5mm}
.head{display:flex;justify-content:space-between;align-items:baseline;gap:3mm}
.score{font-size:8pt;color:#fff;background:#bd0026;border-radius:1mm;padding:.2mm 1.5mm;
white-space:nowrap}
.when{margin:.3mm 0 1mm;font-weight:600;color:#7a0019}
.grid{display:grid;grid-template-columns:1fr 60mm;gap:3mm;align-items:start}
table.ev{border-collapse:collapse;width:100%;font-size:8pt}
table.ev th{text-align:left;font-weight:600;color:#444;width:22mm;vertical-align:top;
padding:.2mm 2mm .2mm 0}
table.ev td{padding:.2mm 0}
.chart{margin-top:1mm}
svg.chart,svg.week{width:100%;height:auto;display:block}svg.week{margin-top:1mm}
.legend{font-size:6.8pt;color:#555}.sw{display:inline-block;width:2mm;height:2mm;
margin:0 .5mm 0 1.3mm;vertical-align:-.2mm}
img.map{width:60mm;height:54.1mm;display:block;border:1px solid #ddd}
.volt{font-size:7.5pt;color:#333;margin:1.2mm 0 0;padding:0;list-style:none;
display:grid;grid-template-columns:1fr 1fr;gap:.2mm 4mm}
.volt b{color:#555}
.why{font-size:7pt;color:#777;margin-top:.6mm}
.none{padding:3mm;border:1px dashed #bbb;color:#555;margin-bottom:3mm}
.foot{font-size:7pt;color:#555;border-top:1px solid #ccc;padding-top:1.2mm;
break-inside:avoid}
.foot a,.meta a{color:#333}
table.wards{border-collapse:collapse;width:100%;font-size:8pt}
table.wards th,table.wards td{border-bottom:1px solid #ddd;padding:.8mm 1.5mm;text-align:left;
vertical-align:top}
table.wards th{background:#f0f0f0}table.wards tr{break-inside:avoid}
td.n{text-align:right;white-space:nowrap}.up{color:#b30000}.down{color:#2b7a2b}
.tag{font-size:6.5pt;border-radius:1mm;padding:0 1mm;color:#fff}
.tag.worst{background:#b30000}.tag.best{background:#2b7a2b}
"""


@dataclass
class _Context:
    """What every page of one run shares."""

    run: RunFolder
    settings: BriefSettings
    painter: _MapPainter
    changes: pd.DataFrame
    windows: dict[str, list[str]]
    predictability: bool
    group_counts: dict[tuple[str, str], float] = field(default_factory=dict)
    rec: dict[str, dict[str, Any]] = field(default_factory=dict)
    also: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "Ward" if self.run.source_kind == "police-uk" else "Area"


def _header(ctx: _Context, area: Mapping[str, Any], title: str) -> str:
    m = ctx.run.manifest
    p = m["period"]
    period = f"{p['first_month']} to {p['last_month']}"
    if ctx.run.incomplete:
        period += f" (incomplete, left out of comparisons: {', '.join(ctx.run.incomplete)})"
    borough = area.get("borough")
    parts = [
        f"<b>Borough</b> {_e(borough)}" if borough and pd.notna(borough) else "",
        f"<b>Period</b> {_e(period)}",
        f"<b>Data</b> {_e(m.get('data_source', ''))}",
        f"<b>Run</b> {_e(str(m.get('created', ''))[:10])}",
    ]
    meta = " · ".join(x for x in parts if x)
    return (
        f"<h1>{_e(title)}</h1><p class=meta>{meta}</p>"
        f"<p class=caveat>{_e(_CAVEATS[ctx.run.source_kind])}</p>"
    )


def _flag(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _ward_facts(area: Mapping[str, Any]) -> str:
    facts = [f"<span><b>Crimes</b> {_num(area.get('crimes'))}</span>"]
    if pd.notna(area.get("rate_per_1000", np.nan)):
        facts.append(
            f"<span><b>Per 1,000 residents</b> {_num(area['rate_per_1000'], 1)} "
            f"(population {_num(area.get('population'))})</span>"
        )
    for key, label in (
        ("previous", "Last 3 months vs previous 3"),
        ("year_before", "vs a year before"),
    ):
        if f"recent_{key}" in area:
            text = _change_text(
                area.get("recent_current"),
                area.get(f"recent_{key}"),
                area.get(f"recent_pct_change_{key}"),
                _flag(area.get(f"recent_flag_{key}")),
            )
            facts.append(f"<span><b>{label}</b> {_e(text)}</span>")
    if area.get("trend_class"):
        facts.append(
            f"<span><b>Trend</b> {_e(area.get('trend_class'))}, "
            f"{_e(area.get('trend_direction'))}</span>"
        )
    return f"<div class=facts>{''.join(facts)}</div>"


_VOLT = {
    "police-uk": {
        "victim": "not in police.uk data (no victim details, so no repeat victims): check "
        "local crime records.",
        "offender": "not in police.uk data: ask local intelligence who is involved.",
        "location": "{place}. police.uk moves each crime to an anonymous map point nearby: "
        "near, not at, the spot.",
        "time": "month only in police.uk, no day or hour. {when}",
    },
    "vancouver": {
        "victim": "not in VPD open data (no victim details, so no repeat victims).",
        "offender": "not in VPD open data: ask local intelligence who is involved.",
        "location": "{place}. VPD places property crime in its hundred block; violence is "
        "published without a location, so it is missing.",
        "time": "VPD gives day and hour (unknown times spread over the day). {when}",
    },
    "other": {
        "victim": "not in this extract (no victim details).",
        "offender": "not in this extract: ask local intelligence who is involved.",
        "location": "{place}.",
        "time": "{when}",
    },
}

_CAVEATS = {
    "police-uk": "What the data cannot tell: police.uk gives the month, not the day or hour; "
    "locations are anonymised map points; victims and offenders are not "
    "published; anti-social behaviour counts incidents.",
    "vancouver": "What the data cannot tell: VPD open data has no victims or offenders; "
    "property crime is placed in its hundred block; offences against a person "
    "(violence) have no location and are absent.",
    "other": "What the data cannot tell: no victims or offenders; counts as published.",
}


def _when(ctx: _Context, place_id: str, group: str) -> tuple[str, str]:
    """Return when the priority's own crime group happens here: (short text, sentence)."""
    place = ctx.rec[place_id]
    label = ctx.settings.labels.get(group, group).lower()
    where = "this street's" if place["basis"] == BASIS_STREET else "this location's"
    win = ctx.run.windows
    key = (place_id, group)
    if win is None or key not in win.index:  # an older run, or groups of other --weights
        return _when_all_crime(place, ctx.run.time_of_day)
    w = win.loc[key]
    if not ctx.run.time_of_day:
        return _peaks_text(str(w["peak_months"]), label, where)
    window = str(w["patrol_window"])
    if window.startswith(TOO_FEW_TO_SAY):
        return (
            "too few to name a time",
            f"{_num(w['crimes'])} {label} crimes here: too few to name a time.",
        )
    if window == NO_TIME_STANDS_OUT:
        return (
            "no day or hour stands out",
            f"{label.capitalize()} here is spread over the week: {NO_TIME_STANDS_OUT}.",
        )
    parts = [p.rsplit(" (", 1) for p in window.split("; ")]
    said = [
        f"{t} holds {pct.rstrip(')')} of {where} {label}"
        if i == 0
        else f"{t} another {pct.rstrip(')')}"
        for i, (t, pct) in enumerate(parts)
    ]
    sentence = f"{' and '.join(said)} ({_num(w['window_crimes'])} of {_num(w['crimes'])} crimes)."
    return window, sentence[0].upper() + sentence[1:]


def _peaks_text(peaks: str, label: str, where: str) -> tuple[str, str]:
    """When for data that gives the month only: the peak months, if they beat chance."""
    if not peaks or peaks == "nan":
        return (
            "time unknown; no month stands out",
            f"No month stands out from chance for {where} {label}.",
        )
    return (
        f"time unknown; busiest {peaks}",
        f"{label.capitalize()} here peaks in {peaks}, more than chance would give "
        "(seasonality test, see the README).",
    )


def _when_all_crime(place: Mapping[str, Any], time_of_day: bool) -> tuple[str, str]:
    """When for all crime at the place (no window of the group in the run folder)."""
    window = str(place.get("patrol_window") or "")
    if time_of_day and window and not window.startswith(("n/a", TOO_FEW_TO_SAY)):
        return f"all crime: {window}", f"All crime here: {window}."
    peaks = str(place.get("peak_months") or "")
    if not peaks or peaks == "nan":
        return "no clear peak", "No month stands out for all crime here."
    return f"all crime peaks {peaks}", f"All crime here peaks in {peaks}."


def _e(value: Any) -> str:
    return html.escape(
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    )


def _num(value: Any, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def _change_text(current: Any, other: Any, pct: Any, flag: Any) -> str:
    if str(flag) == "not in the period" or pd.isna(other):
        return "not in the period"
    base = f"{_num(current)} vs {_num(other)}"
    if str(flag):
        return f"{base}, {flag}"
    if not pct:
        return f"{base}, no change"
    return f"{base}, {'up' if pct > 0 else 'down'} {abs(pct):.0f}%"


def _place_name(place: Mapping[str, Any]) -> str:
    extent = str(place.get("extent") or "")
    name = str(place.get("street"))
    return f"{name} ({extent})" if extent and extent != "nan" else name


def _spread(geom: Any) -> tuple[int, float]:
    """Map points of a place and the largest distance between them, metres."""
    points = shapely.get_coordinates(geom) if shapely.get_type_id(geom) == 4 else np.empty((0, 2))
    if len(points) < 2:
        return len(points), 0.0
    diff = points[:, None, :] - points[None, :, :]
    return len(points), float(np.sqrt((diff**2).sum(axis=2)).max())


def _place_text(ctx: _Context, row: Any) -> str:
    anchor = ctx.rec[row.place_id]
    text = f"#{int(anchor['area_rank'])} in the {ctx.label.lower()} list"
    n, far = _spread(ctx.painter.geoms[ctx.painter.pos[row.place_id]])
    if n > 1 and far > ctx.settings.nearby_m:
        text += (
            f"; police.uk gives {n} map points this name here, up to {far:,.0f} m apart "
            "(a name, not one spot)"
        )
    near = [
        f"{_e(ctx.rec[p]['street'])} #{int(ctx.rec[p]['area_rank'])} "
        f"({_num(ctx.group_counts.get((p, row.group), 0))})"
        for p in row.nearby[:3]
    ]
    if near:
        text += f". Nearby with the same crime (within {ctx.settings.nearby_m:g} m): " + (
            ", ".join(near)
        )
    return text


def _evidence_rows(ctx: _Context, row: Any) -> list[tuple[str, str]]:
    place = ctx.rec[row.place_id]
    ch = ctx.changes.loc[row.place_id]
    share = row.crimes / row.ward_group_crimes if row.ward_group_crimes else np.nan
    months = len(ctx.run.months) - len(ctx.run.incomplete)
    gi = f", Gi* z {place['gi_z']:.1f}" if pd.notna(place.get("gi_z", np.nan)) else ""
    rows = [
        (
            "This crime here",
            f"{_num(row.crimes)} of the {ctx.label.lower()}'s "
            f"{_num(row.ward_group_crimes)} ({_num(share * 100)}%); harm "
            f"{_num(row.harm)} days",
        ),
        (
            "All crime here",
            f"{_num(place['crimes'])}. Last 3 months vs previous 3: "
            + _change_text(ch["current"], ch["previous"], ch["pct_previous"], ch["flag_previous"])
            + "; vs a year before: "
            + _change_text(
                ch["current"], ch["year_before"], ch["pct_year_before"], ch["flag_year_before"]
            ),
        ),
        (
            "Pattern",
            f"{place['trend_class']}, {place['trend_direction']}; hot in "
            f"{_num(place['hot_months'])} of {months} months; {place['significance']}"
            f"{gi}",
        ),
    ]
    others = [
        f"{ctx.settings.labels.get(g, g)} {_num(n)} (score {sc:.0f})"
        for g, n, sc in ctx.also.get(row.place_id, [])
        if g != row.group
    ][:3]
    if others:
        rows.append(("Also here", "; ".join(others)))
    out = [(_e(k), _e(v)) for k, v in rows]
    return [*out, ("Place", _place_text(ctx, row))]


def _volt(ctx: _Context, row: Any, when_text: str) -> str:
    place = ctx.rec[row.place_id]
    texts = _VOLT[ctx.run.source_kind]
    basis = "hot street" if place["basis"] == BASIS_STREET else "police.uk location"
    lines = {
        "Victim": texts["victim"],
        "Offender": texts["offender"],
        "Location": texts["location"].format(place=f"{place['street']}: a {basis}"),
        "Time": texts["time"].format(when=when_text),
    }
    items = "".join(f"<li><b>{k}</b> {_e(v)}</li>" for k, v in lines.items())
    return f"<ul class=volt>{items}</ul>"


def _why(ctx: _Context, row: Any) -> str:
    used = [c for c in COMPONENTS if c != "predictability" or ctx.predictability]
    parts = [f"{c} {getattr(row, c):.2f}" for c in used]
    return (
        f"<div class=why>Score {row.score:.0f}/100, weighted mean of {', '.join(parts)} "
        "(see below)</div>"
    )


def hour_week_svg(values: np.ndarray, *, title: str) -> str:
    """Return a 7 x 24 hour-of-week heatmap as inline SVG, sized for print.

    Parameters
    ----------
    values
        168 counts, Monday 00 h first.
    title
        Accessible label.

    Returns
    -------
    str
        An ``<svg>`` element: rows Monday to Sunday, columns 00 to 23 h, five shades by share
        of the busiest hour (white: none).

    Examples
    --------
    >>> hour_week_svg(np.arange(168.0), title="t").count('width="5"')
    168
    """
    top = float(values.max()) if len(values) else 0.0
    level = np.ceil(values / top * 5).astype(int) if top > 0 else np.zeros(168, dtype=int)
    shades = ("#ffffff", "#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
    cells = [
        f'<rect x="{14 + 5 * (i % 24)}" y="{1 + 5 * (i // 24)}" width="5" height="5" '
        f'fill="{shades[lev]}"/>'
        for i, lev in enumerate(level)
    ]
    style = 'font-size="4.6" fill="#555" font-family="sans-serif"'
    days = [
        f'<text x="0" y="{5 + 5 * i}" {style}>{d}</text>'
        for i, d in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    ]
    hours = [f'<text x="{14 + 5 * h}" y="41" {style}>{h:02d}</text>' for h in (0, 6, 12, 18)]
    text = html.escape(title)
    return (
        f'<svg class="week" viewBox="0 0 135 43" role="img" aria-label="{text}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{text}</title>'
        f'<rect x="14" y="1" width="120" height="35" fill="none" stroke="#ccc" '
        f'stroke-width=".3"/>{"".join(cells + days + hours)}</svg>'
    )


def _chart(ctx: _Context, row: Any) -> str:
    counts = ctx.run.monthly.loc[row.place_id]
    chart = monthly_bars_svg(
        counts,
        incomplete=ctx.run.incomplete,
        windows=ctx.windows,
        title=f"All crime per month at {row.street}",
    )
    sw = "".join(
        f"<span class=sw style='background:{c}'></span>{t}"
        for c, t in (
            ("#bd0026", "last 3 months"),
            ("#969696", "previous 3"),
            ("#6baed6", "same 3 a year before"),
        )
    )
    return f"<div class=chart>{chart}<div class=legend>All crime per month here:{sw}</div></div>"


def _side(ctx: _Context, row: Any) -> str:
    uri = ctx.painter.data_uri(row.area_code, row.place_id, row.nearby[:3])
    alt = _e(
        f"Map of {row.street}: the place in red, nearby places with the same crime in "
        "orange, other listed places grey, the boundary dashed"
    )
    side = f"<img class=map alt='{alt}' src='{uri}'>"
    groups, prof = ctx.run.group_profiles, ctx.run.profiles
    label = ctx.settings.labels.get(row.group, row.group)
    if groups is not None and (row.place_id, row.group) in groups.index:
        values = groups.loc[(row.place_id, row.group)].to_numpy(dtype=float)
        side += hour_week_svg(values, title=f"{label} here by hour of the week")
        side += f"<div class=legend>{_e(label)} here by day and hour</div>"
    elif prof is not None and row.place_id in prof.index:
        side += hour_week_svg(
            prof.loc[row.place_id].to_numpy(dtype=float), title="All crime here by hour of the week"
        )
        side += "<div class=legend>All crime here by day and hour</div>"
    return f"<div class=side>{side}</div>"


def _proposal(ctx: _Context, row: Any) -> str:
    place = ctx.rec[row.place_id]
    when_short, when_text = _when(ctx, row.place_id, row.group)
    label = ctx.settings.labels.get(row.group, row.group)
    title = f"{row.priority}. {label} at {_place_name(place)}"
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in _evidence_rows(ctx, row))
    return (
        f"<section class=prio><div class=head><h2>{_e(title)}</h2>"
        f"<span class=score>score {row.score:.0f}</span></div>"
        f"<div class=when>When: {_e(when_short)}</div><div class=grid><div>"
        f"<table class=ev>{table}</table>{_chart(ctx, row)}</div>"
        f"{_side(ctx, row)}</div>{_volt(ctx, row, when_text)}"
        f"{_why(ctx, row)}</section>"
    )


def _footer(ctx: _Context, code: str) -> str:
    st = ctx.settings
    used = [c for c in COMPONENTS if c != "predictability" or ctx.predictability]
    weights = ", ".join(f"{c} {st.weights[c]:g}" for c in used)
    stem = _e(area_file_stem(code))
    links = [f"<a href='../wards/{stem}.csv'>full list (CSV)</a>"]
    if (ctx.run.path / "maps" / f"{area_file_stem(code)}.html").exists():
        links.insert(0, f"<a href='../maps/{stem}.html'>interactive map</a>")
    area = ctx.label.lower()
    leads = "a priority" if st.max_per_place == 1 else f"{st.max_per_place} priorities"
    backtest = (
        ", predictability (backtest capture of the group, against the best group)"
        if ctx.predictability
        else ""
    )
    return (
        "<div class=foot><b>How the priorities are chosen.</b> Every crime group with at least "
        f"{st.min_crimes} crimes at a listed place is a candidate. Its score (0-100) is a "
        f"weighted mean of: volume (harm-weighted crimes, log scale, against the {area}'s "
        f"largest), concentration (the place's share of the {area}'s crimes of that group, "
        "against the largest share), persistence (share of months the place was hot), trend "
        "(rising 1, flat 0.5, falling 0), significance (Gi* hot spot 99/95/90%: 1/0.8/0.6)"
        f"{backtest}. Weights ({_e(st.source)}): {_e(weights)}."
        + (f" Not proposed: {_e(', '.join(st.skip_groups))}." if st.skip_groups else "")
        + " Candidates are taken best "
        "first; one is skipped when an earlier priority has the same crime group at the same "
        f"or a nearby place (within {st.nearby_m:g} m), or when its place already leads "
        f"{leads}. Counts by month and the period change are for all crime at the place. "
        + " · ".join(links)
        + "</div>"
    )


def _ward_page(ctx: _Context, code: str, chosen: pd.DataFrame) -> str:
    area = ctx.run.areas.loc[code].to_dict() if code in ctx.run.areas.index else {"area_name": code}
    title = f"{ctx.label} brief: {area.get('area_name', code)} ({code})"
    if chosen.empty:
        body = (
            f"<div class=none>No place in this {ctx.label.lower()}'s list has "
            f"{ctx.settings.min_crimes} or more crimes of one crime group: no priority "
            "is proposed.</div>"
        )
    else:
        body = "".join(_proposal(ctx, row) for row in chosen.itertuples())
    return _page(title, _header(ctx, area, title) + _ward_facts(area) + body + _footer(ctx, code))


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
        f"<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# borough pages


def _performance_key(areas: pd.DataFrame) -> str:
    """Return the comparison wards are sorted by: a year before where known, else previous."""
    for key in ("year_before", "previous"):
        col = f"recent_pct_change_{key}"
        if col in areas.columns and areas[col].notna().any():
            return key
    return ""


def _tags(change: pd.Series) -> dict[str, str]:
    """Mark the three largest rises "worst" and the three largest falls "best"."""
    ranked = change.dropna().sort_values(kind="stable")
    falls, rises = ranked[ranked < 0].index[:3], ranked[ranked > 0].index[::-1][:3]
    return {
        **dict.fromkeys(falls, "<span class='tag best'>best</span> "),
        **dict.fromkeys(rises, "<span class='tag worst'>worst</span> "),
    }


def _change_cell(w: pd.Series, key: str) -> str:
    if f"recent_{key}" not in w:
        return "<td>n/a</td>"
    pct = w.get(f"recent_pct_change_{key}", np.nan)
    cls = "up" if pd.notna(pct) and pct > 0 else ("down" if pd.notna(pct) and pct < 0 else "")
    text = _change_text(
        w.get("recent_current"), w.get(f"recent_{key}"), pct, _flag(w.get(f"recent_flag_{key}"))
    )
    return f"<td class='{cls}'>{_e(text)}</td>"


def _top_priority(ctx: _Context, code: str, top: Mapping[str, Any]) -> str:
    r = top.get(code)
    if r is None:
        return "none proposed"
    place = ctx.rec[r["place_id"]]
    return (
        f"{ctx.settings.labels.get(r['group'], r['group'])} at {_place_name(place)}, "
        f"{_when(ctx, r['place_id'], r['group'])[0]} (score {r['score']:.0f})"
    )


def _borough_row(
    ctx: _Context, code: str, w: pd.Series, tag: str, top: Mapping[str, Any], *, rate: bool
) -> str:
    name = f"{tag}<a href='{_e(brief_name(code))}'>{_e(w['area_name'])}</a>"
    rate_cell = f"<td class=n>{_num(w.get('rate_per_1000', np.nan), 1)}</td>" if rate else ""
    return (
        f"<tr><td>{name}</td><td class=n>{_num(w['crimes'])}</td>{rate_cell}"
        f"{_change_cell(w, 'previous')}{_change_cell(w, 'year_before')}"
        f"<td>{_e(_top_priority(ctx, code, top))}</td></tr>"
    )


def _borough_page(ctx: _Context, title: str, wards: pd.DataFrame, top: pd.DataFrame) -> str:
    key = _performance_key(wards)
    change = wards.get(f"recent_pct_change_{key}", pd.Series(np.nan, index=wards.index))
    order = wards.assign(_c=change).sort_values(
        ["_c", "crimes"], ascending=[False, False], na_position="last", kind="stable"
    )
    tags, firsts = _tags(change), top.set_index("area_code").to_dict("index")
    rate = "rate_per_1000" in wards.columns and bool(wards["rate_per_1000"].notna().any())
    rows = "".join(
        _borough_row(ctx, str(c), w, tags.get(c, ""), firsts, rate=rate)
        for c, w in order.iterrows()
    )
    what = {
        "year_before": "the same 3 months a year before (same season)",
        "previous": "the previous 3 months",
    }.get(key, "the period before")
    unit = ctx.label.lower()
    note = (
        f"<p class=caveat>{ctx.label}s sorted by the change of their last 3 months against "
        f'{what}: the largest rises first, the largest falls last; "worst" and "best" '
        "mark the three largest of each. Changes with fewer than 10 crimes either side are "
        f"not compared and sort last. Open a {unit} for its brief.</p>"
    )
    head = [
        ctx.label,
        "Crimes",
        *(["Per 1,000 residents"] if rate else []),
        "Last 3 months vs previous 3",
        "vs a year before",
        "Top priority",
    ]
    table = (
        "<table class=wards><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return _page(title, _header(ctx, {}, title) + note + table)


# --------------------------------------------------------------------------------------------
# orchestration


def rank_problems(
    run: RunFolder, *, settings: BriefSettings, predictability: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Score every candidate problem of every ward and number the proposed priorities.

    Parameters
    ----------
    run
        From :func:`read_run_folder`.
    settings
        From :func:`read_brief_weights`.
    predictability
        From :func:`read_predictability`; None leaves that component out.

    Returns
    -------
    pandas.DataFrame
        One row per candidate (crime group with at least ``min_crimes`` crimes at a listed
        place; groups of ``skip_groups`` left out): ``place_id, area_code, group, crimes,
        harm, ward_group_crimes``, the place's ``street, area_rank``, the components,
        ``score``, ``nearby`` and ``priority`` (1 to 3 for the proposed priorities, else
        missing).
    """
    long = count_place_groups(
        run.places, type_names=run.type_names, settings=settings, harm_weights=run.harm_weights
    )
    totals = _ward_group_totals(run, long, settings)
    keep = (long["crimes"] >= settings.min_crimes) & ~long["group"].isin(settings.skip_groups)
    cand = long[keep].copy()
    idx = pd.MultiIndex.from_frame(cand[["area_code", "group"]])
    cand["ward_group_crimes"] = totals.reindex(idx).to_numpy()
    attrs = ["street", "area_rank", "hot_months", "trend_direction", "trend_class", "significance"]
    cand = cand.join(run.places[attrs], on="place_id")
    months = len(run.months) - len([m for m in run.incomplete if m in run.months])
    scored = rank_candidates(cand, settings=settings, months=months, predictability=predictability)
    scored["nearby"] = assign_nearby(run.places, scored, distance_m=settings.nearby_m)
    chosen = rank_priorities(scored, settings=settings)
    scored["priority"] = chosen["priority"].reindex(scored.index).astype("Int64")
    return scored


def _comparison_windows(months: Sequence[str], n: int) -> dict[str, list[str]]:
    current = list(months[-n:])
    return {
        "current": current,
        "previous": list(months[-2 * n : -n]) if len(months) >= 2 * n else [],
        "year_before": [f"{int(m[:4]) - 1}{m[4:]}" for m in current],
    }


def _context(run: RunFolder, settings: BriefSettings, predictability: bool) -> _Context:
    complete = [m for m in run.months if m not in run.incomplete]
    changes = count_period_change(
        run.monthly,
        months=complete,
        compare_months=settings.compare_months,
        too_few=settings.too_few,
    )
    records = pd.DataFrame(run.places.drop(columns="geometry")).to_dict("index")
    return _Context(
        run=run,
        settings=settings,
        painter=_MapPainter(run),
        changes=changes,
        windows=_comparison_windows(complete, settings.compare_months),
        predictability=predictability,
        rec={str(k): v for k, v in records.items()},
    )


def _wanted_codes(run: RunFolder, codes: Sequence[str] | None) -> list[str]:
    with_crime = run.areas.loc[run.areas["crimes"] > 0, "area_code"].astype(str).tolist()
    if not codes:
        return sorted(with_crime)
    unknown = [c for c in codes if c not in run.areas.index]
    if unknown:
        msg = (
            f"`--ward` must be an area code of the run; found {unknown}, not in "
            f"{run.path / 'areas.csv'}. Choose from e.g. {sorted(with_crime)[:5]}"
        )
        raise InputDataError(msg)
    return list(dict.fromkeys(codes))


def write_briefs(
    run_dir: str | Path,
    *,
    codes: Sequence[str] | None = None,
    weights: str | Path | None = None,
    backtest: str | Path | None = None,
    pdf: bool = True,
    areas: str | Path | None = None,
    streets: str | Path | None = None,
    wait: bool = False,
) -> list[Path]:
    """Write a one-page brief per ward (and a page per borough) from an existing run folder.

    Parameters
    ----------
    run_dir
        A folder written by ``hotspots run``; nothing in it is changed but ``briefs/``.
    codes
        Area codes to write; every area with crime when None. Borough pages are written for
        the boroughs of these areas (all their wards listed).
    weights
        A TOML file of score weights and rules (:func:`read_brief_weights`).
    backtest
        A folder written by ``hotspots evaluate``: adds the predictability component.
    pdf
        Also print each page to PDF beside it (headless Chromium through Playwright).
    areas, streets
        The run's area and street layers when run.json's paths do not resolve.
    wait
        If another command holds the run folder's lock, wait for it instead of failing.

    Returns
    -------
    list of pathlib.Path
        The files written: ``briefs/<area_code>.html`` (and ``.pdf``), and
        ``briefs/borough_<name>.html`` (and ``.pdf``) where ``areas.csv`` has boroughs,
        else ``briefs/all_areas.html``.

    Raises
    ------
    InputDataError
        If a file, column or area code is missing, or the weights file is invalid.
    HotspotsError
        If ``pdf`` and Chromium cannot be started.
    """
    start = time.perf_counter()
    settings = read_brief_weights(weights)
    run = read_run_folder(run_dir, areas=areas, streets=streets)
    wanted = _wanted_codes(run, codes)
    predict = read_predictability(backtest, settings=settings) if backtest else None
    scored = rank_problems(run, settings=settings, predictability=predict)
    chosen = scored[scored["priority"].notna()].sort_values(["area_code", "priority"])
    ctx = _context(run, settings, predict is not None)
    ctx.also = _also_here(scored[scored["place_id"].isin(chosen["place_id"])])
    out = run.path / runfolder.BRIEFS_DIR
    # written privately, then moved into briefs/ file by file, under the run folder's lock
    with runfolder.staged_files(out, lock=run.path, wait=wait) as tmp:
        pages = _write_ward_pages(ctx, wanted, chosen[chosen["area_code"].isin(wanted)], tmp)
        pages += _write_borough_pages(ctx, wanted, chosen[chosen["priority"] == 1], tmp)
        files = pages + (write_pdfs(pages) if pdf else [])
    with runfolder.folder_lock(run.path, wait=wait):  # the index and maps now link the briefs
        linked = refresh_links(run.path)
    log.info(
        "Briefs: %d pages written to %s in %.1f s; links added to %d pages",
        len(pages),
        out,
        time.perf_counter() - start,
        len(linked),
    )
    return [out / f.relative_to(tmp) for f in files]


def _also_here(scored: pd.DataFrame) -> dict[str, list[tuple[str, float, float]]]:
    """Return every crime group of each place as (group, crimes, score), best score first."""
    rows = scored.sort_values(["place_id", "score"], ascending=[True, False], kind="stable")
    out: dict[str, list[tuple[str, float, float]]] = {}
    for pid, group, crimes, score in zip(
        rows["place_id"], rows["group"], rows["crimes"], rows["score"], strict=True
    ):
        out.setdefault(str(pid), []).append((str(group), float(crimes), float(score)))
    return out


def _write_ward_pages(
    ctx: _Context, wanted: Sequence[str], chosen: pd.DataFrame, out: Path
) -> list[Path]:
    by_ward = dict(iter(chosen.groupby("area_code", sort=False)))
    ctx.group_counts = _group_counts(ctx, chosen)
    pages = []
    empty = chosen.iloc[:0]
    for code in wanted:
        path = out / brief_name(code)
        path.write_text(_ward_page(ctx, code, by_ward.get(code, empty)), encoding="utf-8")
        pages.append(path)
    return pages


def _group_counts(ctx: _Context, chosen: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Crimes of the chosen groups at the chosen places and their nearby places."""
    ids = {p for row in chosen.itertuples() for p in (row.place_id, *row.nearby[:4])}
    if not ids:
        return {}
    long = count_place_groups(
        ctx.run.places.loc[sorted(ids)],
        type_names=ctx.run.type_names,
        settings=ctx.settings,
        harm_weights=ctx.run.harm_weights,
    )
    return {
        (p, g): n for p, g, n in zip(long["place_id"], long["group"], long["crimes"], strict=True)
    }


def _write_borough_pages(
    ctx: _Context, wanted: Sequence[str], top: pd.DataFrame, out: Path
) -> list[Path]:
    areas = ctx.run.areas[ctx.run.areas["crimes"] > 0]
    if "borough" not in areas.columns:
        path = out / "all_areas.html"
        path.write_text(
            _borough_page(ctx, f"All {ctx.label.lower()}s", areas, top), encoding="utf-8"
        )
        return [path]
    boroughs = sorted(areas.loc[areas["area_code"].isin(wanted), "borough"].dropna().unique())
    pages = []
    for name in boroughs:
        path = out / borough_brief_name(str(name))
        wards = areas[areas["borough"] == name]
        path.write_text(_borough_page(ctx, f"Borough brief: {name}", wards, top), encoding="utf-8")
        pages.append(path)
    return pages


# --------------------------------------------------------------------------------------------
# PDF


def _chromium() -> str:
    path = os.environ.get("HOTSPOTS_CHROMIUM", CHROMIUM)
    if not Path(path).is_file():
        msg = (
            f"PDF briefs are printed by Chromium; found none at {path}. Install it "
            "(apt-get install chromium), set HOTSPOTS_CHROMIUM, or pass --no-pdf."
        )
        raise HotspotsError(msg)
    return path


def write_pdfs(pages: Sequence[Path], *, browser: Any = None, tabs: int = PDF_TABS) -> list[Path]:
    """Print HTML pages to A4 PDFs beside them, with one headless Chromium.

    Parameters
    ----------
    pages
        HTML files (self-contained: no network is used; any request but ``file:``,
        ``data:`` and ``about:`` is blocked).
    browser
        A running Playwright ``Browser`` (sync API) to use, one tab at a time; by default
        Chromium (``$HOTSPOTS_CHROMIUM`` or ``/usr/bin/chromium``) is started and closed.
    tabs
        Pages printed at a time by the browser started here (one tab each).

    Returns
    -------
    list of pathlib.Path
        The PDFs written (``<page>.pdf``), in the order of ``pages``.

    Raises
    ------
    HotspotsError
        If Playwright is not installed or Chromium is not found.
    """
    start = time.perf_counter()
    if browser is not None:
        written = _print_pages(browser, pages)
    elif pages:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            msg = (
                "PDF briefs need Playwright; found it not installed. Install the extra: "
                "pip install 'hotspots[pdf]', or pass --no-pdf."
            )
            raise HotspotsError(msg) from None
        path = _chromium()
        # a loop of its own in a thread of its own: works where a loop runs already (Jupyter)
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(asyncio.run, _print_tabs(path, pages, max(tabs, 1))).result()
    else:
        written = []
    log.info("Briefs: %d PDFs printed in %.1f s", len(written), time.perf_counter() - start)
    return written


def _local_only(url: str) -> bool:
    return url.startswith(("file:", "data:", "about:"))


async def _print_tabs(chromium: str, pages: Sequence[Path], tabs: int) -> list[Path]:
    """Print ``pages`` from one Chromium, ``tabs`` pages at a time (async Playwright)."""
    from playwright.async_api import Route, async_playwright

    async def route(r: Route) -> None:
        await (r.continue_() if _local_only(r.request.url) else r.abort())

    todo = list(enumerate(pages))
    written: dict[int, Path] = {}

    async def work(browser: Any) -> None:
        tab = await browser.new_page()
        await tab.route("**/*", route)
        try:
            while todo:
                i, page = todo.pop(0)
                await tab.goto(page.resolve().as_uri(), wait_until="load")
                target = page.with_suffix(".pdf")
                await tab.pdf(
                    path=str(target), format="A4", print_background=True, prefer_css_page_size=True
                )
                written[i] = target
        finally:
            await tab.close()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            await asyncio.gather(*(work(browser) for _ in range(min(tabs, len(pages)))))
        finally:
            await browser.close()
    return [written[i] for i in range(len(pages))]


def _print_pages(browser: Any, pages: Sequence[Path]) -> list[Path]:
    tab = browser.new_page()
    tab.route(
        "**/*", lambda route: route.continue_() if _local_only(route.request.url) else route.abort()
    )
    written = []
    try:
        for page in pages:
            tab.goto(page.resolve().as_uri(), wait_until="load")
            target = page.with_suffix(".pdf")
            tab.pdf(path=str(target), format="A4", print_background=True, prefer_css_page_size=True)
            written.append(target)
    finally:
        tab.close()
    return written
