"""Backtest hot-spot forecasts month by month: hit rate, PAI and RRI at fixed coverage.

A rolling-origin backtest: for each target month ``t`` after a warm-up, every method builds its
forecast from the complete months before ``t`` only, selects street segments (or grid cells)
up to a coverage budget, and is scored on the crimes of month ``t``. Every method sees the same
crimes, the same target months and the same coverage budgets.

Definitions (the README and ``evaluate.json`` repeat them):

* **Evaluated crimes**: crimes snapped to a street segment (default within 30 m) that lie
  inside the study area, on a segment whose midpoint lies inside it. Grid methods are scored on
  exactly these crimes, so no method can score crime the street methods cannot see.
* **Study area** ``A``: by default the land within the snapping distance of a street segment
  (the street layer's covered region), clipped to the area layer when one is given
  (:func:`segments_to_study_area`). Every method uses the same ``A``.
* **Street length to area**: a segment of length ``l`` stands for ``l x w`` square metres with
  ``w = A / L`` (``L`` = total street length): the study area shared out evenly along the
  streets. So ``p``% of street length is exactly ``p``% of ``A``, and grid methods get the
  same area, ``p``% of ``A``. ``corridor_width_m`` fixes ``w`` instead (e.g. 30 m = 2 x 15 m).
* **Coverage cut**: units are taken in descending score order; units with equal scores form
  one block; whole blocks are taken while they fit, and the block that crosses the budget
  is taken by the fraction that fits: each of its units counts that fraction of its
  length/area and of its crimes (for a block of one unit, the last unit counts by the
  fraction of it that fits). The selected length/area equals the budget exactly, and ties are
  not broken by an arbitrary order (this is the expectation over random tie-breaking).
* **Hit rate** = ``n / N``: ``n`` crimes of month ``t`` in the selection, ``N`` all evaluated
  crimes of month ``t`` (per crime group).
* **PAI** (Chainey, Tompson and Uhlig 2008) = ``(n / N) / (a / A)``, ``a`` the selected area.
* **RRI** (Levine 2008) = ``(n_t / n_prev) / (N_t / N_prev)``: ``n_prev`` the crimes of the
  previous complete month inside the same selection, ``N_prev`` all crimes of that month.
  Missing when ``n_prev`` or ``N_t`` is 0.
* **Incomplete months**: a month whose evaluated crimes (all groups) number fewer than half the
  median month's (months with none count) is incomplete: it is neither a target nor used for
  training, and is listed in the table's ``attrs["months_skipped"]``. "The previous ``k``
  months" are the previous ``k`` complete months.

Methods (``units``: what is selected):

* ``random`` (segments): a uniform random order, seeded per ``seed``, target month and group.
* ``prev_counts`` (segments): crimes per segment in the previous ``window_months`` months.
* ``kde`` (50 m grid): Gaussian kernel density of the previous ``window_months`` months'
  crimes, binned to cell centres, evaluated at the cell centres. Bandwidth by Silverman's rule
  of thumb for two dimensions (identical to Scott's there): ``h = s x n ** (-1/6)`` with
  ``n`` the training crimes and ``s = sqrt((s_x**2 + s_y**2) / 2)``, ``s_x``/``s_y`` the robust
  spreads ``min(std, IQR / 1.349)`` of the training crimes' cell-centre coordinates; ``h`` is
  at least one cell. The density equals scikit-learn's ``KernelDensity(kernel="gaussian")``
  on the binned points up to a constant (a test checks it) but is computed as a separable
  convolution truncated at 5 ``h``, which takes milliseconds instead of seconds per fit.
* ``h3_r9``, ``h3_r10`` (H3 cells): crimes per H3 cell in the previous ``window_months`` months.
* ``hot_streets`` (segments): crimes per 100 m in the previous ``window_months`` months, the
  length floored at 50 m as in :mod:`hotspots.analysis.rank`.
* ``ewma`` (segments): exponentially weighted crimes per 100 m over **all** earlier complete
  months, a month ``d`` calendar months before the target weighted ``0.5 ** (d / h)``
  (half-life ``h`` = ``half_life_months``, default 6).
* ``ewma_nbr`` (segments): ``ewma`` plus ``0.5 x`` the mean ``ewma`` of the segments sharing
  an end point (neighbour smoothing), plus ``0.1 x`` the all-crime ``ewma`` scaled to the
  group's share of all crime (a prior that ranks segments with no crime of a sparse group).

Crime groups (:data:`GROUP_CRIME_TYPES`, matched case-insensitively): ``all`` is every crime
type. VPD records "Offence Against a Person" and "Homicide" without coordinates, so Vancouver
has no violence or robbery points, and no anti-social behaviour: absent groups are skipped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import sparse
from scipy.ndimage import correlate1d

from hotspots import runfolder
from hotspots.analysis.rank import DEFAULT_LENGTH_FLOOR_M
from hotspots.errors import InputDataError, OutputExistsError

# the area backtest (issue 20) lives in sub-modules; they import this module lazily only
from hotspots.evaluate.area_run import (
    forecast_next_month,
    read_chosen,
    run_area,
    write_area,
    write_forecast,
)
from hotspots.evaluate.backtest import (
    ALL_AREA_METHODS,
    AREA_COVERAGES,
    DEFAULT_AREA_METHODS,
    DEFAULT_AREA_MONTHS,
    area_backtest,
    choose_methods,
    prepare_area,
    summarise_area,
)
from hotspots.evaluate.forecasters import METHODS_AREA
from hotspots.evaluate.units import DEFAULT_PIXEL_M, area_cut
from hotspots.output import export
from hotspots.read import crimes as io
from hotspots.space import crs as _crs
from hotspots.space import segments as _segments
from hotspots.space import snap

log = logging.getLogger("hotspots")

#: Crime types of each crime group: police.uk names, then VPD names.
GROUP_CRIME_TYPES: dict[str, tuple[str, ...]] = {
    "burglary": ("Burglary", "Break and Enter Commercial", "Break and Enter Residential/Other"),
    "robbery": ("Robbery",),
    "vehicle_crime": ("Vehicle crime", "Theft from Vehicle", "Theft of Vehicle"),
    "violence": ("Violence and sexual offences", "Offence Against a Person", "Homicide"),
    "asb": ("Anti-social behaviour",),
}
#: Crime groups, in report order; ``all`` is every crime type.
GROUPS: tuple[str, ...] = ("all", *GROUP_CRIME_TYPES)

#: Methods and the units each selects.
METHOD_UNITS: dict[str, str] = {
    "random": "segments",
    "prev_counts": "segments",
    "kde": "grid",
    "h3_r9": "h3_r9",
    "h3_r10": "h3_r10",
    "hot_streets": "segments",
    "ewma": "segments",
    "ewma_nbr": "segments",
}
METHODS: tuple[str, ...] = tuple(METHOD_UNITS)
#: The methods of this package (the others are baselines).
OUR_METHODS: tuple[str, ...] = ("hot_streets", "ewma", "ewma_nbr")

DEFAULT_COVERAGES: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
DEFAULT_WARMUP_MONTHS = 12
DEFAULT_WINDOW_MONTHS = 6
DEFAULT_HALF_LIFE_MONTHS = 6.0
DEFAULT_CELL_SIZE_M = 50.0
#: A month with fewer evaluated crimes than this share of the median month is incomplete.
INCOMPLETE_SHARE = 0.5
NEIGHBOUR_WEIGHT = 0.5
PRIOR_WEIGHT = 0.1
#: The KDE kernel is truncated at this many bandwidths.
KDE_TRUNCATE = 5.0
#: Smallest area given to a cell that holds crime (a sliver at the study-area edge), m².
_MIN_CELL_AREA_M2 = 1.0
_TILE_M = 1000.0

#: Columns of :func:`evaluate_forecasts`' table, in order.
BACKTEST_COLUMNS: list[str] = [
    "group",
    "method",
    "units",
    "coverage_pct",
    "month",
    "prev_month",
    "crimes",
    "captured",
    "hit_rate",
    "area_m2",
    "area_share",
    "pai",
    "crimes_prev",
    "captured_prev",
    "rri",
]
_STATS = ("mean", "std", "min", "max")
#: Columns of :func:`summarise_backtest`' table, in order.
SUMMARY_COLUMNS: list[str] = [
    "group",
    "method",
    "units",
    "coverage_pct",
    "months",
    *(f"{m}_{s}" for m in ("hit_rate", "pai", "rri") for s in _STATS),
]


# --------------------------------------------------------------------------------------------
# study area and months


def segments_to_study_area(
    segments: gpd.GeoDataFrame,
    *,
    distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M,
    areas: gpd.GeoDataFrame | None = None,
) -> shapely.Geometry:
    """Return the region the street layer covers: land within ``distance_m`` of a segment.

    Parameters
    ----------
    segments
        Street segments (projected, metres).
    distance_m
        Buffer distance, metres; use the snapping distance so every snapped crime is inside.
    areas
        Optional polygons (same CRS); the region is clipped to their union.

    Returns
    -------
    shapely.Geometry
        A (Multi)Polygon in the segments' CRS.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> segs = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (100, 0)])], crs=27700)
    >>> round(segments_to_study_area(segs, distance_m=10).area)
    2312
    """
    buffers = shapely.buffer(segments.geometry.to_numpy(), distance_m, quad_segs=8)
    region = shapely.union_all(buffers)
    if areas is not None:
        region = shapely.intersection(region, shapely.union_all(areas.geometry.to_numpy()))
    parts = shapely.get_parts(region)
    polys = shapely.get_parts(parts[np.isin(shapely.get_type_id(parts), (3, 6))])
    return shapely.multipolygons(polys) if len(polys) != 1 else polys[0]


def classify_months(crimes: pd.DataFrame, *, min_share: float = INCOMPLETE_SHARE) -> pd.DataFrame:
    """Return each calendar month of the data with its crime count and whether it is complete.

    Parameters
    ----------
    crimes
        Crimes with ``month`` ("YYYY-MM").
    min_share
        A month is complete when it has at least ``min_share`` x the median month's crimes.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``crimes`` and ``complete`` for every month from the first to the last
        (months without crime included, with 0), in order.

    Notes
    -----
    Formally: with ``c_m`` the crimes of month ``m`` and ``M`` the median of ``c_m`` over all
    calendar months from the first to the last, month ``m`` is complete if
    ``c_m >= min_share x M``.

    Examples
    --------
    >>> crimes = pd.DataFrame({"month": ["2016-01"] * 10 + ["2016-03"] * 2 + ["2016-04"] * 9})
    >>> classify_months(crimes)["complete"].tolist()
    [True, False, False, True]
    """
    counts = crimes["month"].value_counts()
    first, last = pd.Period(counts.index.min(), "M"), pd.Period(counts.index.max(), "M")
    months = [str(p) for p in pd.period_range(first, last, freq="M")]
    n = counts.reindex(months, fill_value=0).astype("int64")
    return pd.DataFrame(
        {
            "month": months,
            "crimes": n.to_numpy(),
            "complete": (n >= min_share * float(n.median())).to_numpy(),
        }
    )


def _calendar(months: Sequence[str]) -> np.ndarray:
    """Return calendar month numbers (year x 12 + month - 1)."""
    return np.array([int(m[:4]) * 12 + int(m[5:7]) - 1 for m in months], dtype=np.int64)


def _group_masks(crime_types: pd.Series) -> dict[str, np.ndarray]:
    folded = crime_types.astype(str).str.strip().str.casefold()
    masks = {"all": np.ones(len(folded), dtype=bool)}
    for group, types in GROUP_CRIME_TYPES.items():
        masks[group] = folded.isin([t.casefold() for t in types]).to_numpy()
    return masks


# --------------------------------------------------------------------------------------------
# units: segments, square cells, H3 cells


@dataclass
class _Units:
    """What a method selects: a cost per unit (metres or m²) and the unit of every crime."""

    cost: np.ndarray
    of_crime: np.ndarray
    is_area: bool
    centres: np.ndarray | None = None  # grid cell centres (for the KDE bandwidth)
    rowcol: np.ndarray | None = None  # grid cell (row, col)
    shape: tuple[int, int] = (0, 0)
    cell_m: float = 0.0


def _tiles(region: shapely.Geometry, tile_m: float = _TILE_M) -> np.ndarray:
    """Cut the region into square tiles so that clipping small cells against it is fast."""
    x0, y0, x1, y1 = region.bounds
    xs, ys = np.arange(x0, x1, tile_m), np.arange(y0, y1, tile_m)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    pieces = shapely.intersection(shapely.box(gx, gy, gx + tile_m, gy + tile_m), region)
    return np.asarray(pieces[~shapely.is_empty(pieces)])


def _clipped_areas(cells: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """Return the area of each cell inside the region (given as tiles)."""
    ci, pi = shapely.STRtree(pieces).query(cells, predicate="intersects")
    area = np.zeros(len(cells))
    np.add.at(area, ci, shapely.area(shapely.intersection(cells[ci], pieces[pi])))
    return area


def _keep_cells(area: np.ndarray, crime_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep cells with area in the region or with crime; return kept ids and their areas."""
    has_crime = np.zeros(len(area), dtype=bool)
    has_crime[crime_cell] = True
    kept = np.flatnonzero((area > 0) | has_crime)
    return kept, np.maximum(area[kept], _MIN_CELL_AREA_M2)


def _grid_units(pieces: np.ndarray, xy: np.ndarray, cell_m: float) -> _Units:
    bounds = shapely.total_bounds(pieces)
    x0, y0 = np.floor(bounds[:2] / cell_m) * cell_m
    nx, ny = (int(np.ceil((bounds[2 + i] - (x0, y0)[i]) / cell_m)) + 1 for i in (0, 1))
    col, row = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny)))
    cells = shapely.box(
        x0 + col * cell_m, y0 + row * cell_m, x0 + (col + 1) * cell_m, y0 + (row + 1) * cell_m
    )
    crime_rc = np.floor((xy - [x0, y0]) / cell_m).astype(np.int64)
    crime_cell = crime_rc[:, 1] * nx + crime_rc[:, 0]
    kept, area = _keep_cells(_clipped_areas(cells, pieces), crime_cell)
    lookup = np.full(nx * ny, -1, dtype=np.int64)
    lookup[kept] = np.arange(len(kept))
    rowcol = np.column_stack([row[kept], col[kept]])
    centres = np.column_stack([x0 + (col[kept] + 0.5) * cell_m, y0 + (row[kept] + 0.5) * cell_m])
    return _Units(area, lookup[crime_cell], True, centres, rowcol, (ny, nx), cell_m)


def _h3_candidates(pieces: np.ndarray, to_lonlat: pyproj.Transformer, res: int) -> set[str]:
    """Return every H3 cell that may overlap the region, from a lattice finer than the cells.

    A hexagon of edge ``e`` holds a disc of radius 0.87 ``e`` around its centre, so a lattice of
    spacing 0.4 ``e`` puts a point in every cell; cells overlapping the region have such a point
    within 2.5 ``e`` (more than a cell's diameter) of it.
    """
    edge = float(h3.average_hexagon_edge_length(res, unit="m"))
    x0, y0, x1, y1 = shapely.total_bounds(pieces)
    step, pad = 0.4 * edge, 2.5 * edge
    gx, gy = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(x0 - pad, x1 + pad, step), np.arange(y0 - pad, y1 + pad, step)
        )
    )
    near = shapely.STRtree(pieces).query(shapely.points(gx, gy), predicate="dwithin", distance=pad)
    idx = np.unique(near[0])
    return _h3_cells(gx[idx], gy[idx], to_lonlat, res)


def _h3_cells(x: np.ndarray, y: np.ndarray, to_lonlat: pyproj.Transformer, res: int) -> set[str]:
    lon, lat = to_lonlat.transform(x, y)
    return {h3.latlng_to_cell(la, lo, res) for lo, la in zip(lon, lat, strict=True)}


def _h3_units(pieces: np.ndarray, xy: np.ndarray, crs: Any, res: int) -> _Units:
    to_lonlat = pyproj.Transformer.from_crs(crs, _crs.WGS84, always_xy=True)
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    lon, lat = to_lonlat.transform(uniq[:, 0], uniq[:, 1])
    crime_ids = [h3.latlng_to_cell(la, lo, res) for lo, la in zip(lon, lat, strict=True)]
    ids = np.array(sorted(_h3_candidates(pieces, to_lonlat, res) | set(crime_ids)))
    back = pyproj.Transformer.from_crs(_crs.WGS84, crs, always_xy=True)
    rings = [np.array(h3.cell_to_boundary(c)) for c in ids]  # (lat, lng) vertices
    lat, lng = np.vstack(rings).T
    ring_of = np.repeat(np.arange(len(ids)), [len(r) for r in rings])
    polys = shapely.polygons(
        shapely.linearrings(np.column_stack(back.transform(lng, lat)), indices=ring_of)
    )
    crime_cell = np.searchsorted(ids, np.array(crime_ids))[inv.ravel()]
    kept, area = _keep_cells(_clipped_areas(polys, pieces), crime_cell)
    lookup = np.full(len(ids), -1, dtype=np.int64)
    lookup[kept] = np.arange(len(kept))
    return _Units(area, lookup[crime_cell], True)


def _segment_neighbours(segments: gpd.GeoDataFrame) -> sparse.csr_matrix:
    """Return the row-normalised adjacency of segments sharing an end point (no self loops)."""
    geoms = segments.geometry.to_numpy()
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(geoms, i)) for i in (0, -1)])
    _, vertex = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
    n = len(segments)
    pairs = pd.DataFrame({"seg": np.tile(np.arange(n), 2), "v": vertex.ravel()}).drop_duplicates()
    both = pairs.merge(pairs, on="v")
    both = both[both["seg_x"] != both["seg_y"]]
    ij = (both["seg_x"].to_numpy(), both["seg_y"].to_numpy())
    adj = sparse.coo_matrix((np.ones(len(both)), ij), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    degree = np.asarray(adj.sum(axis=1)).ravel()
    return sparse.csr_matrix(
        sparse.diags(np.divide(1.0, degree, where=degree > 0, out=np.zeros(n))) @ adj
    )


# --------------------------------------------------------------------------------------------
# the prepared study: complete months x units count matrices


@dataclass
class _Study:
    """Everything the backtest needs, computed once."""

    months: list[str]
    cal: np.ndarray
    units: dict[str, _Units]
    counts: dict[tuple[str, str], sparse.csr_matrix]
    groups: list[str]
    length_m: np.ndarray
    neighbours: sparse.csr_matrix
    area_m2: float
    street_m: float
    width_m: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _History:
    """What a forecaster may see for target month ``p``: the complete months before it only."""

    study: _Study
    p: int

    @property
    def cal(self) -> np.ndarray:
        """Calendar numbers of the months before the target."""
        return self.study.cal[: self.p]

    @property
    def target_cal(self) -> int:
        """Calendar number of the target month (its date, never its data)."""
        return int(self.study.cal[self.p])

    def rows(self, group: str, units: str) -> sparse.csr_matrix:
        """Return the counts of the months before the target (``p`` rows x units)."""
        return self.study.counts[(group, units)][: self.p]


@dataclass(frozen=True)
class _Options:
    window_months: int
    half_life_months: float
    seed: int
    kde_bandwidth_m: float | None = None


def _evaluated(
    crimes: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, region: shapely.Geometry, *, quiet: bool
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, dict[str, int]]:
    """Return the evaluated crimes (with ``seg``, the segment row) and the segments kept."""
    shapely.prepare(region)
    mid = shapely.line_interpolate_point(segments.geometry.to_numpy(), 0.5, normalized=True)
    segs = segments[shapely.contains(region, mid)].reset_index(drop=True)
    seg_id = (
        crimes["segment_id"]
        if "segment_id" in crimes
        else snap.snap_to_streets(crimes, segs, quiet=quiet)["segment_id"]
    )
    seg = pd.Index(segs["segment_id"].astype(str)).get_indexer(seg_id.astype(str).to_numpy())
    seg = np.where(seg_id.notna().to_numpy(), seg, -1)
    x, y = crimes["x"].to_numpy(dtype=float), crimes["y"].to_numpy(dtype=float)
    inside = np.zeros(len(crimes), dtype=bool)
    inside[seg >= 0] = shapely.contains_xy(region, x[seg >= 0], y[seg >= 0])
    out = pd.DataFrame(
        {
            "month": crimes["month"].to_numpy(),
            "crime_type": crimes["crime_type"].to_numpy(),
            "x": x,
            "y": y,
            "seg": seg,
        }
    )
    for col in ("occurred_from", "has_time"):  # dates and times, for the near-repeat term
        if col in crimes:
            out[col] = crimes[col].to_numpy()
    out = out[inside]
    counts = {
        "crimes_given": len(crimes),
        "not_on_a_kept_segment": int((seg < 0).sum()),
        "outside_study_area": int(((seg >= 0) & ~inside).sum()),
        "evaluated": len(out),
    }
    return out.reset_index(drop=True), segs, counts


def _count_matrix(month_pos: np.ndarray, unit: np.ndarray, n: tuple[int, int]) -> sparse.csr_matrix:
    data = np.ones(len(unit))
    return sparse.coo_matrix((data, (month_pos, unit)), shape=n).tocsr()


def _build_units(
    ev: pd.DataFrame,
    segs: gpd.GeoDataFrame,
    region: shapely.Geometry,
    needed: set[str],
    cell_m: float,
) -> dict[str, _Units]:
    xy = ev[["x", "y"]].to_numpy()
    length = segs["length_m"].to_numpy(dtype=float)
    units = {"segments": _Units(length, ev["seg"].to_numpy(), is_area=False)}
    if needed - {"segments"}:
        pieces = _tiles(region)
        if "grid" in needed:
            units["grid"] = _grid_units(pieces, xy, cell_m)
        for res in (9, 10):
            if f"h3_r{res}" in needed:
                units[f"h3_r{res}"] = _h3_units(pieces, xy, segs.crs, res)
    return units


def _prepare(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    region: shapely.Geometry,
    *,
    methods: Sequence[str],
    groups: Sequence[str] | None,
    cell_m: float,
    width_m: float | None,
    quiet: bool,
) -> _Study:
    ev, segs, accounting = _evaluated(crimes, segments, region, quiet=quiet)
    if ev.empty:
        msg = (
            "no crime lies on a street segment inside `study_area`: check that the crimes, "
            "streets and study area cover the same place and CRS"
        )
        raise InputDataError(msg)
    table = classify_months(ev)
    months = table.loc[table["complete"], "month"].tolist()
    ev = ev[ev["month"].isin(months)].reset_index(drop=True)
    units = _build_units(ev, segs, region, {METHOD_UNITS[m] for m in methods}, cell_m)
    masks = _group_masks(ev["crime_type"])
    present = [g for g in (groups or GROUPS) if masks[g].any()]
    pos = pd.Index(months).get_indexer(ev["month"].to_numpy())
    counts = {
        (g, name): _count_matrix(pos[masks[g]], u.of_crime[masks[g]], (len(months), len(u.cost)))
        for g in set(present) | {"all"}
        for name, u in units.items()
    }
    area, street = float(region.area), float(segs["length_m"].sum())
    skipped = table.loc[~table["complete"], ["month", "crimes"]]
    info = {
        "accounting": accounting,
        "months_skipped": dict(
            zip(skipped["month"], skipped["crimes"].astype(int).tolist(), strict=True)
        ),
        "groups_absent": [g for g in (groups or GROUPS) if g not in present],
    }
    return _Study(
        months,
        _calendar(months),
        units,
        counts,
        present,
        units["segments"].cost,
        _segment_neighbours(segs),
        area,
        street,
        width_m or area / street,
        info,
    )


# --------------------------------------------------------------------------------------------
# forecasters: each sees a _History (months before the target) and returns a score per unit


def _window(hist: _History, group: str, units: str, k: int) -> np.ndarray:
    return np.asarray(hist.rows(group, units)[-k:].sum(axis=0)).ravel()


def _decayed(hist: _History, group: str, half_life: float) -> np.ndarray:
    weights = 0.5 ** ((hist.target_cal - hist.cal) / half_life)
    return np.asarray(hist.rows(group, "segments").T @ weights).ravel()


def _per_100m(hist: _History, counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts / np.maximum(hist.study.length_m, DEFAULT_LENGTH_FLOOR_M) * 100)


def _score_random(hist: _History, group: str, opts: _Options) -> np.ndarray:
    rng = np.random.default_rng([opts.seed, hist.target_cal, GROUPS.index(group)])
    return rng.random(len(hist.study.length_m))


def _score_prev_counts(hist: _History, group: str, opts: _Options) -> np.ndarray:
    return _window(hist, group, "segments", opts.window_months)


def _score_hot_streets(hist: _History, group: str, opts: _Options) -> np.ndarray:
    return _per_100m(hist, _window(hist, group, "segments", opts.window_months))


def _score_ewma(hist: _History, group: str, opts: _Options) -> np.ndarray:
    return _per_100m(hist, _decayed(hist, group, opts.half_life_months))


def _score_ewma_nbr(hist: _History, group: str, opts: _Options) -> np.ndarray:
    own = _score_ewma(hist, group, opts)
    every = own if group == "all" else _score_ewma(hist, "all", opts)
    share = own.sum() / every.sum() if every.sum() > 0 else 0.0
    nbr = np.asarray(hist.study.neighbours @ own)
    return np.asarray(own + NEIGHBOUR_WEIGHT * nbr + PRIOR_WEIGHT * share * every)


def _h3_scorer(res: int) -> Callable[[_History, str, _Options], np.ndarray]:
    def score(hist: _History, group: str, opts: _Options) -> np.ndarray:
        return _window(hist, group, f"h3_r{res}", opts.window_months)

    return score


def kde_bandwidth(centres: np.ndarray, weights: np.ndarray, *, min_m: float) -> float:
    """Return the KDE bandwidth by Silverman's two-dimensional rule of thumb, in metres.

    Parameters
    ----------
    centres
        Point coordinates (n x 2), metres.
    weights
        Crimes at each point.
    min_m
        Smallest bandwidth returned (one grid cell).

    Returns
    -------
    float
        ``h = s x n ** (-1/6)``, ``s = sqrt((s_x**2 + s_y**2) / 2)`` with ``s_x``, ``s_y`` the
        weighted ``min(std, IQR / 1.349)`` per axis and ``n`` the total weight; at least
        ``min_m`` (also when there are fewer than two crimes).

    Examples
    --------
    >>> pts = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0], [1000.0, 1000.0]])
    >>> round(kde_bandwidth(pts, np.ones(4), min_m=50.0), 1)
    396.9
    """
    n = float(weights.sum())
    if n < 2:
        return min_m
    spreads = [_robust_spread(centres[:, i], weights) for i in (0, 1)]
    s = math.sqrt((spreads[0] ** 2 + spreads[1] ** 2) / 2)
    return float(max(s * n ** (-1 / 6), min_m))


def _robust_spread(v: np.ndarray, w: np.ndarray) -> float:
    mean = np.average(v, weights=w)
    std = math.sqrt(float(np.average((v - mean) ** 2, weights=w)))
    order = np.argsort(v, kind="stable")
    cum = (np.cumsum(w[order]) - 0.5 * w[order]) / w.sum()
    q1, q3 = np.interp([0.25, 0.75], cum, v[order])
    iqr = (q3 - q1) / 1.349
    return min(std, iqr) if iqr > 0 else std


def kde_on_grid(counts: np.ndarray, *, bandwidth_m: float, cell_m: float) -> np.ndarray:
    """Return a Gaussian kernel density of binned crimes at the grid's cell centres.

    Parameters
    ----------
    counts
        Crimes per cell, a 2-D (rows x columns) array.
    bandwidth_m
        Kernel standard deviation, metres.
    cell_m
        Cell size, metres.

    Returns
    -------
    numpy.ndarray
        Density per square metre, the same shape: ``sum_j c_j K(d_ij) / sum_j c_j`` with
        ``K`` the 2-D Gaussian, truncated at ``KDE_TRUNCATE`` bandwidths. It equals
        scikit-learn's ``KernelDensity(bandwidth=bandwidth_m)`` fitted on the cell centres with
        ``sample_weight=counts``.
    """
    r = int(np.ceil(KDE_TRUNCATE * bandwidth_m / cell_m))
    kernel = np.exp(-0.5 * (np.arange(-r, r + 1) * cell_m / bandwidth_m) ** 2)
    smooth = correlate1d(
        correlate1d(counts, kernel, axis=0, mode="constant"), kernel, axis=1, mode="constant"
    )
    total = counts.sum()
    return np.asarray(smooth / (2 * np.pi * bandwidth_m**2 * total) if total > 0 else smooth)


def _kde_h(hist: _History, group: str, opts: _Options) -> tuple[float, np.ndarray]:
    """Return the bandwidth and the training counts per grid cell."""
    grid = hist.study.units["grid"]
    assert grid.centres is not None  # internal invariant, for mypy
    train = _window(hist, group, "grid", opts.window_months)
    if opts.kde_bandwidth_m:
        return opts.kde_bandwidth_m, train
    return kde_bandwidth(grid.centres, train, min_m=grid.cell_m), train


def _score_kde(hist: _History, group: str, opts: _Options) -> np.ndarray:
    grid = hist.study.units["grid"]
    assert grid.rowcol is not None  # internal invariant, for mypy
    h, train = _kde_h(hist, group, opts)
    counts = np.zeros(grid.shape)
    counts[grid.rowcol[:, 0], grid.rowcol[:, 1]] = train
    dens = kde_on_grid(counts, bandwidth_m=h, cell_m=grid.cell_m)
    return np.asarray(dens[grid.rowcol[:, 0], grid.rowcol[:, 1]])


_SCORERS: dict[str, Callable[[_History, str, _Options], np.ndarray]] = {
    "random": _score_random,
    "prev_counts": _score_prev_counts,
    "kde": _score_kde,
    "h3_r9": _h3_scorer(9),
    "h3_r10": _h3_scorer(10),
    "hot_streets": _score_hot_streets,
    "ewma": _score_ewma,
    "ewma_nbr": _score_ewma_nbr,
}


# --------------------------------------------------------------------------------------------
# selection and scoring


def select_by_budget(scores: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Return the share of each unit selected when taking units by score up to ``budget``.

    Parameters
    ----------
    scores
        Forecast score per unit (higher is hotter).
    cost
        Length or area per unit (positive).
    budget
        Total length or area to select, in the units of ``cost``.

    Returns
    -------
    numpy.ndarray
        1 for units taken whole, a fraction for the units of the block of equal scores that
        crosses the budget, 0 otherwise. ``(share * cost).sum()`` equals ``budget`` (or the
        total cost when the budget exceeds it).

    Examples
    --------
    >>> select_by_budget(np.array([3.0, 2.0, 2.0, 1.0]), np.array([10.0, 10, 10, 10]), 20.0)
    array([1. , 0.5, 0.5, 0. ])
    """
    return np.asarray(_block_shares(scores, cost, np.array([budget]))[0])


def _block_shares(scores: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Return selection shares (budgets x units) by the block rule of the module notes."""
    order = np.argsort(-scores, kind="stable")
    s, c = scores[order], cost[order]
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    end = np.r_[start[1:], len(s)]
    cum = np.r_[0.0, np.cumsum(c)]
    before, upto = cum[start], cum[end]
    b = np.minimum(np.searchsorted(upto, budgets, side="left"), len(start) - 1)
    frac = np.clip((budgets - before[b]) / (upto[b] - before[b]), 0.0, 1.0)
    block_of = np.repeat(np.arange(len(start)), end - start)
    shares = np.where(
        block_of < b[:, None], 1.0, np.where(block_of == b[:, None], frac[:, None], 0.0)
    )
    out = np.empty_like(shares)
    out[:, order] = shares
    return out


def _score_month(
    study: _Study,
    p: int,
    group: str,
    *,
    methods: Sequence[str],
    opts: _Options,
    coverages: Sequence[float],
) -> list[dict[str, Any]]:
    hist, rows = _History(study, p), []
    for method in methods:
        name = METHOD_UNITS[method]
        units = study.units[name]
        scale = 1.0 if units.is_area else study.width_m
        budgets = np.asarray(coverages) / 100 * study.street_m * study.width_m / scale
        shares = _block_shares(_SCORERS[method](hist, group, opts), units.cost, budgets)
        actual = study.counts[(group, name)][[p, p - 1]].toarray()
        captured = shares @ actual.T  # budgets x (target, previous)
        area = shares @ units.cost * scale
        rows += [
            _row(
                study,
                p,
                key=(group, method, name, cov),
                captured=captured[i],
                area=area[i],
                actual=actual,
            )
            for i, cov in enumerate(coverages)
        ]
    return rows


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def _row(
    study: _Study,
    p: int,
    *,
    key: tuple[str, str, str, float],
    captured: np.ndarray,
    area: float,
    actual: np.ndarray,
) -> dict[str, Any]:
    group, method, units, coverage = key
    n_t, n_prev = float(captured[0]), float(captured[1])
    big_t, big_prev = actual.sum(axis=1)
    hit = _ratio(n_t, big_t)
    share = area / study.area_m2
    return {
        "group": group,
        "method": method,
        "units": units,
        "coverage_pct": float(coverage),
        "month": study.months[p],
        "prev_month": study.months[p - 1],
        "crimes": int(big_t),
        "captured": n_t,
        "hit_rate": hit,
        "area_m2": area,
        "area_share": share,
        "pai": hit / share,
        "crimes_prev": int(big_prev),
        "captured_prev": n_prev,
        "rri": _ratio(_ratio(n_t, n_prev), _ratio(big_t, big_prev)),
    }


# --------------------------------------------------------------------------------------------
# public API


def _option_problems(
    methods: Sequence[str],
    coverages: Sequence[float],
    *,
    warmup_months: int,
    window_months: int,
    groups: Sequence[str] | None,
    half_life_months: float,
    months_back: int | None,
) -> list[str]:
    problems = []
    bad = [m for m in methods if m not in METHOD_UNITS]
    if bad or not methods:
        problems.append(f"`methods` must be among {list(METHODS)}; found {bad or 'none'}")
    bad_c = [c for c in coverages if not 0 < c <= 100]
    if bad_c or not coverages:
        problems.append(f"`coverages` are percentages in (0, 100]; found {bad_c or 'none'}")
    if not 1 <= window_months <= warmup_months:
        problems.append(
            f"`window_months` must be 1 to `warmup_months`; found {window_months} "
            f"with warm-up {warmup_months}"
        )
    if groups is not None and (bad_g := [g for g in groups if g not in GROUPS]):
        problems.append(f"`groups` must be among {list(GROUPS)}; found {bad_g}")
    if not half_life_months > 0:
        problems.append(f"`half_life_months` must be positive; found {half_life_months}")
    if months_back is not None and months_back < 1:
        problems.append(f"`months_back` must be at least 1; found {months_back}")
    return problems


def _input_problems(
    crimes: pd.DataFrame, segments: gpd.GeoDataFrame, study_area: shapely.Geometry
) -> list[str]:
    problems = []
    if missing := [c for c in ("month", "crime_type", "x", "y") if c not in crimes]:
        problems.append(f"`crimes` lacks column(s) {missing}; read it with hotspots.read_crimes")
    if missing_s := [c for c in ("segment_id", "length_m") if c not in segments]:
        problems.append(f"`segments` lacks {missing_s}; make it with lines_to_segments")
    elif not (segments["length_m"] > 0).all():
        problems.append("`segments` must all have positive `length_m`; drop zero-length ones")
    crs_c, crs_s = getattr(crimes, "crs", None), segments.crs
    if crs_c is not None and crs_s is not None and pyproj.CRS(crs_c) != pyproj.CRS(crs_s):
        problems.append(
            f"`crimes` ({crs_c}) and `segments` ({crs_s}) must share a CRS; "
            "project both with hotspots.space.crs.to_metric_crs"
        )
    if shapely.is_empty(study_area) or study_area.geom_type not in ("Polygon", "MultiPolygon"):
        problems.append(f"`study_area` must be a non-empty polygon; found {study_area.geom_type}")
    return problems


def _targets(study: _Study, warmup_months: int, months_back: int | None) -> list[int]:
    targets = list(range(warmup_months, len(study.months)))
    if not targets:
        msg = (
            f"`warmup_months`={warmup_months} leaves no month to score: the data has "
            f"{len(study.months)} complete month(s) ({study.months[0]}..{study.months[-1]}). "
            "Use a shorter warm-up or more months"
        )
        raise InputDataError(msg)
    return targets[-months_back:] if months_back else targets


def evaluate_forecasts(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    study_area: shapely.Geometry,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    warmup_months: int = DEFAULT_WARMUP_MONTHS,
    window_months: int = DEFAULT_WINDOW_MONTHS,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS,
    cell_size_m: float = DEFAULT_CELL_SIZE_M,
    corridor_width_m: float | None = None,
    kde_bandwidth_m: float | None = None,
    months_back: int | None = None,
    quiet: bool = False,
) -> pd.DataFrame:
    """Backtest every method month by month and score it against the next month's crime.

    Parameters
    ----------
    crimes
        Canonical crimes (projected). A ``segment_id`` column is used when present; otherwise
        the crimes are snapped to ``segments`` within 30 m.
    segments
        Street segments from :func:`hotspots.space.segments.lines_to_segments`, same CRS.
    study_area
        The region ``A`` (a polygon in the same CRS), e.g. from :func:`segments_to_study_area`.
    methods
        Any of :data:`METHODS` (see the module notes).
    coverages
        Coverage levels, percent of total street length (and the same percent of ``A``).
    warmup_months
        Complete months before the first target month.
    window_months
        Months of history (``k``) of the window methods: ``prev_counts``, ``kde``, ``h3_*``,
        ``hot_streets``.
    groups
        Crime groups to score (:data:`GROUPS`); by default every group present in the data.
    seed
        Seed of the ``random`` baseline.
    half_life_months
        Half-life of the ``ewma`` weights, in calendar months.
    cell_size_m
        Side of the ``kde`` grid cells, metres.
    corridor_width_m
        Width that turns street length into area; by default ``A`` / total street length.
    kde_bandwidth_m
        Fixed ``kde`` bandwidth, metres; by default Silverman's rule on each training window.
    months_back
        Score only the last ``months_back`` target months (history still starts at the first).
    quiet
        If True, do not log progress.

    Returns
    -------
    pandas.DataFrame
        One row per group x method x coverage x target month: :data:`BACKTEST_COLUMNS`.
        ``attrs`` holds the months scored and skipped, ``A``, the street length, the corridor
        width, the KDE bandwidths used and the crime accounting.

    Raises
    ------
    InputDataError
        If an option or input breaks a rule (all problems are listed), or no month is left to
        score after the warm-up.
    """
    problems = _option_problems(
        methods,
        coverages,
        warmup_months=warmup_months,
        window_months=window_months,
        groups=groups,
        half_life_months=half_life_months,
        months_back=months_back,
    )
    problems += _input_problems(crimes, segments, study_area)
    if problems:
        raise InputDataError("; ".join(problems))
    t0 = time.perf_counter()
    study = _prepare(
        crimes,
        segments,
        study_area,
        methods=methods,
        groups=groups,
        cell_m=cell_size_m,
        width_m=corridor_width_m,
        quiet=quiet,
    )
    targets = _targets(study, warmup_months, months_back)
    t1 = time.perf_counter()
    opts = _Options(window_months, half_life_months, seed, kde_bandwidth_m)
    rows = [
        row
        for g in study.groups
        for p in targets
        for row in _score_month(study, p, g, methods=methods, opts=opts, coverages=coverages)
    ]
    table = _sorted(pd.DataFrame(rows, columns=BACKTEST_COLUMNS))
    table.attrs.update(_attrs(study, targets, t1 - t0, time.perf_counter() - t1))
    if "kde" in methods:
        table.attrs["kde_bandwidth_m"] = _bandwidths(study, targets, opts)
    if not quiet:
        log.info(
            "scored %d months x %d methods x %d groups in %.1f s",
            len(targets),
            len(methods),
            len(study.groups),
            time.perf_counter() - t1,
        )
    return table


def _attrs(study: _Study, targets: list[int], prep_s: float, score_s: float) -> dict[str, Any]:
    return {
        "months_complete": study.months,
        "months_scored": [study.months[p] for p in targets],
        **study.info,
        "groups": study.groups,
        "study_area_m2": round(study.area_m2, 1),
        "street_length_m": round(study.street_m, 1),
        "corridor_width_m": round(study.width_m, 3),
        "segments": len(study.length_m),
        "units": {k: len(u.cost) for k, u in study.units.items()},
        "seconds": {"prepare": round(prep_s, 2), "score": round(score_s, 2)},
    }


def _bandwidths(study: _Study, targets: list[int], opts: _Options) -> dict[str, list[float]]:
    """Return the smallest, median and largest KDE bandwidth used per group, metres."""
    out = {}
    for g in study.groups:
        h = [_kde_h(_History(study, p), g, opts)[0] for p in targets]
        out[g] = [round(float(v), 1) for v in np.quantile(h, [0, 0.5, 1])]
    return out


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    keys = {"group": list(GROUPS), "method": list(METHODS)}
    rank = {k: table[k].map({v: i for i, v in enumerate(order)}) for k, order in keys.items()}
    order = np.lexsort((table["month"], table["coverage_pct"], rank["method"], rank["group"]))
    return table.iloc[order].reset_index(drop=True)


def summarise_backtest(table: pd.DataFrame) -> pd.DataFrame:
    """Return the mean and spread of hit rate, PAI and RRI over the backtest months.

    Parameters
    ----------
    table
        From :func:`evaluate_forecasts`.

    Returns
    -------
    pandas.DataFrame
        One row per group x method x coverage: :data:`SUMMARY_COLUMNS`. ``months`` counts the
        months with crime of the group; ``std`` is the sample standard deviation (n - 1);
        missing values (no crime; RRI with nothing in the selection the month before) are
        left out.

    Examples
    --------
    >>> t = pd.DataFrame({"group": "all", "method": "ewma", "units": "segments",
    ...                   "coverage_pct": 1.0, "month": ["2017-01", "2017-02"],
    ...                   "hit_rate": [0.1, 0.3], "pai": [10.0, 30.0], "rri": [1.0, 1.0]})
    >>> summarise_backtest(t)[["months", "hit_rate_mean", "pai_std"]].round(2).values.tolist()
    [[2.0, 0.2, 14.14]]
    """
    keys = ["group", "method", "units", "coverage_pct"]
    g = table.groupby(keys, sort=False)
    stats = g[["hit_rate", "pai", "rri"]].agg(list(_STATS))
    stats.columns = ["_".join(map(str, pair)) for pair in stats.columns.to_flat_index()]
    out = stats.reset_index()
    out.insert(4, "months", g["hit_rate"].count().to_numpy())
    return out[SUMMARY_COLUMNS]


def expected_capture(
    table: pd.DataFrame, *, method: str, coverage: float, group: str = "all"
) -> float:
    """Return the expected share of next month's crime inside the top ``coverage`` % of streets.

    The mean backtest hit rate of ``method`` for ``group``, interpolated linearly in coverage
    between the levels scored (and from 0 at 0 %), e.g. to say on a map that "these streets,
    2.3 % of the street length, held about 20 % of the next month's crime in the backtest".

    Parameters
    ----------
    table
        From :func:`evaluate_forecasts`.
    method
        A method in the table.
    coverage
        Share of street length listed, percent.
    group
        Crime group.

    Returns
    -------
    float
        Expected share (0 to 1).

    Raises
    ------
    InputDataError
        If the method or group is not in the table, or ``coverage`` is beyond the largest
        level scored.

    Examples
    --------
    >>> t = pd.DataFrame({"group": "all", "method": "ewma", "units": "segments",
    ...                   "coverage_pct": [1.0, 5.0], "month": "2017-01",
    ...                   "hit_rate": [0.1, 0.3], "pai": [10.0, 6.0], "rri": 1.0})
    >>> round(expected_capture(t, method="ewma", coverage=2.0), 3)
    0.15
    """
    rows = table[(table["method"] == method) & (table["group"] == group)]
    if rows.empty:
        msg = (
            f"no backtest rows for method {method!r} and group {group!r}; the table has "
            f"methods {sorted(table['method'].unique())} and groups "
            f"{sorted(table['group'].unique())}"
        )
        raise InputDataError(msg)
    curve = rows.groupby("coverage_pct")["hit_rate"].mean().sort_index()
    if not 0 <= coverage <= curve.index.max():
        msg = (
            f"`coverage` must be 0 to {curve.index.max()}% (the largest level scored); found "
            f"{coverage}. Run the backtest with --coverage {coverage}"
        )
        raise InputDataError(msg)
    return float(np.interp(coverage, np.r_[0.0, curve.index], np.r_[0.0, curve.to_numpy()]))


# --------------------------------------------------------------------------------------------
# plots


_METRIC_LABELS = {"pai": "PAI (hit rate / area share)", "hit_rate": "hit rate (share of crime)"}


def plot_backtest(
    summary: pd.DataFrame, path: Path, *, group: str, metric: str = "pai", title: str = ""
) -> Path:
    """Plot a metric against coverage, one line per method (mean, bars: min to max).

    Parameters
    ----------
    summary
        From :func:`summarise_backtest`.
    path
        PNG file to write.
    group
        Crime group to plot.
    metric
        ``"pai"`` or ``"hit_rate"``.
    title
        Title line above the group name.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    fig = Figure(figsize=(7.5, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    part = summary[summary["group"] == group]
    for i, (method, rows) in enumerate(part.groupby("method", sort=False)):
        x, mean = rows["coverage_pct"].to_numpy(), rows[f"{metric}_mean"].to_numpy()
        err = np.vstack([mean - rows[f"{metric}_min"], rows[f"{metric}_max"] - mean])
        ours = method in OUR_METHODS
        ax.errorbar(
            x * (1 + 0.012 * (i - 4)),
            mean,
            yerr=err,
            label=method,
            marker="o",
            linestyle="-" if ours else "--",
            linewidth=2.2 if ours else 1.2,
            capsize=2,
            markersize=4,
        )
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(sorted(part["coverage_pct"].unique()))
    ax.set_xticklabels([f"{c:g}%" for c in sorted(part["coverage_pct"].unique())])
    ax.set_xlabel("coverage (share of street length = share of study area)")
    ax.set_ylabel(_METRIC_LABELS[metric])
    months = int(part["months"].max()) if len(part) else 0
    ax.set_title(f"{title}\n{group}: mean over {months} months (bars: min to max)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    return path


# --------------------------------------------------------------------------------------------
# run: files in, run folder out (what the CLI calls)


@dataclass
class BacktestConfig:
    """Everything ``hotspots evaluate`` needs; defaults are the documented ones."""

    crimes: list[Path]
    streets: Path
    out: Path
    fmt: str = "police-uk"
    areas: Path | None = None
    areas_layer: str | None = None
    streets_layer: str | None = None
    warmup_months: int = DEFAULT_WARMUP_MONTHS
    window_months: int = DEFAULT_WINDOW_MONTHS
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    months_back: int | None = None
    methods: tuple[str, ...] = METHODS
    groups: tuple[str, ...] | None = None
    half_life_months: float = DEFAULT_HALF_LIFE_MONTHS
    snap_distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M
    seed: int = 0
    overwrite: bool = False
    quiet: bool = False
    #: Run the area backtest (micro-units, forecasting methods, the choice per group).
    area: bool = True
    #: Target months of the area backtest (the last ones; at most ``months_back``); None: all
    #: after the warm-up.
    area_months_back: int | None = DEFAULT_AREA_MONTHS
    #: Area-backtest methods; None: the defaults (plus ``point_nr`` with dates and times).
    area_methods: tuple[str, ...] | None = None
    pixel_m: float = DEFAULT_PIXEL_M


@dataclass
class BacktestResult:
    """The tables behind the files of a backtest run folder."""

    out_dir: Path
    table: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any]
    area: dict[str, Any] | None = None


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - t0, 2)


def _load(config: BacktestConfig) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, shapely.Geometry]:
    crimes, _ = io.read_crimes(config.crimes, fmt=config.fmt, quiet=config.quiet)
    if crimes.empty:
        msg = f"no usable crime rows in {[str(p) for p in config.crimes]}: check --format"
        raise InputDataError(msg)
    streets = _crs.to_metric_crs(
        io.read_streets(config.streets, layer=config.streets_layer),
        crimes.crs,
        name=Path(config.streets).name,
        quiet=config.quiet,
    )
    segs = _segments.lines_to_segments(streets, quiet=config.quiet)
    areas = None
    if config.areas is not None:
        areas = _crs.to_metric_crs(
            io.read_areas(config.areas, layer=config.areas_layer),
            crimes.crs,
            name=Path(config.areas).name,
            quiet=config.quiet,
        )
    region = segments_to_study_area(segs, distance_m=config.snap_distance_m, areas=areas)
    snapped = snap.snap_to_streets(
        crimes, segs, max_distance_m=config.snap_distance_m, quiet=config.quiet
    )
    return crimes.assign(segment_id=snapped["segment_id"]), segs, region


def run_backtest(config: BacktestConfig) -> BacktestResult:
    """Read the inputs, backtest every method and write the run folder.

    Writes ``backtest.csv``, ``backtest_summary.csv``, ``pai_<group>.png``,
    ``hit_rate_<group>.png`` and ``evaluate.json`` into ``config.out``.

    Parameters
    ----------
    config
        Inputs, output folder and options.

    Returns
    -------
    BacktestResult
        The tables written.

    Raises
    ------
    OutputExistsError
        If ``config.out`` exists and ``config.overwrite`` is False.
    InputDataError
        If an input cannot be used.
    """
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        msg = f"output folder {out} exists already; choose another --out or pass --overwrite"
        raise OutputExistsError(msg)
    seconds: dict[str, float] = {}
    with _timed(seconds, "load_and_snap"):
        crimes, segs, region = _load(config)
    with _timed(seconds, "backtest"):
        table = evaluate_forecasts(
            crimes,
            segs,
            study_area=region,
            methods=config.methods,
            coverages=config.coverages,
            warmup_months=config.warmup_months,
            window_months=config.window_months,
            groups=config.groups,
            seed=config.seed,
            half_life_months=config.half_life_months,
            months_back=config.months_back,
            quiet=config.quiet,
        )
    summary = summarise_backtest(table)
    area = None
    if config.area:
        with _timed(seconds, "area_backtest"):
            back = [m for m in (config.months_back, config.area_months_back) if m]
            area = run_area(
                crimes,
                segs,
                region,
                warmup_months=config.warmup_months,
                months_back=min(back) if back else None,
                methods=config.area_methods,
                groups=config.groups,
                pixel_m=config.pixel_m,
                quiet=config.quiet,
            )
    manifest = _manifest(config, table, seconds)
    if area is not None:
        manifest["area"] = area["manifest"]
    _write(
        out,
        table,
        summary,
        manifest,
        title=_plot_title(config, table),
        overwrite=config.overwrite,
        area=area,
    )
    return BacktestResult(out, table, summary, manifest, area)


def _plot_title(config: BacktestConfig, table: pd.DataFrame) -> str:
    months = table.attrs["months_scored"]
    first = Path(config.crimes[0]).resolve()
    return (
        f"{first.parent.name}/{first.name}: next-month backtest, {months[0]}..{months[-1]}, "
        f"window {config.window_months} months"
    )


def _write(
    out: Path,
    table: pd.DataFrame,
    summary: pd.DataFrame,
    manifest: dict[str, Any],
    *,
    title: str,
    overwrite: bool,
    area: dict[str, Any] | None = None,
) -> None:
    # a private folder moved into place when complete, under OUT's lock (runfolder)
    with runfolder.staged_folder(out, overwrite=overwrite) as tmp:
        export.write_csv(table, tmp / "backtest.csv")
        export.write_csv(summary, tmp / "backtest_summary.csv")
        for group in summary["group"].unique():
            for metric in ("pai", "hit_rate"):
                plot_backtest(
                    summary, tmp / f"{metric}_{group}.png", group=group, metric=metric, title=title
                )
        if area is not None:
            write_area(tmp, area, title=title.split(":", maxsplit=1)[0] + ": area backtest")
        (tmp / "evaluate.json").write_text(
            json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8"
        )


def _manifest(
    config: BacktestConfig, table: pd.DataFrame, seconds: dict[str, float]
) -> dict[str, Any]:
    params = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in asdict(config).items()
        if k not in ("out", "overwrite", "quiet")
    }
    params["crimes"] = [str(p) for p in config.crimes]
    return {
        "tool": "hotspots evaluate",
        "parameters": params,
        "rules": _RULES,
        **{str(k): v for k, v in table.attrs.items()},
        "seconds_total": seconds,
    }


_RULES: dict[str, str] = {
    "evaluated_crimes": "snapped to a street segment within the snap distance, inside the study "
    "area, on a segment whose midpoint is inside it",
    "study_area": "land within the snap distance of a street segment, clipped to --areas",
    "street_area": "length x corridor_width_m, corridor_width_m = study area / street length",
    "coverage_cut": "units by descending score; equal scores form a block; the block crossing "
    "the budget counts by the fraction that fits (exact budget)",
    "pai": "(n/N) / (a/A)",
    "rri": "Levine: (n_t / n_prev) / (N_t / N_prev), prev = last complete month before t",
    "incomplete_month": f"fewer evaluated crimes than {INCOMPLETE_SHARE} x the median month: "
    "not a target, not used for training",
    "kde_bandwidth": "Silverman 2-D rule h = s n^(-1/6), s = sqrt((s_x^2+s_y^2)/2), "
    "s_i = min(std, IQR/1.349) of training crimes at 50 m cell centres; "
    "h >= one cell; Gaussian kernel truncated at 5 h",
    "ewma": "weight 0.5^(d/half_life) for a month d calendar months before the target",
    "ewma_nbr": f"ewma + {NEIGHBOUR_WEIGHT} x mean ewma of segments sharing an end point + "
    f"{PRIOR_WEIGHT} x group share x all-crime ewma",
    "random": "uniform random order per seed, target month and group",
}


__all__ = [
    "ALL_AREA_METHODS",
    "AREA_COVERAGES",
    "BACKTEST_COLUMNS",
    "DEFAULT_AREA_METHODS",
    "DEFAULT_AREA_MONTHS",
    "DEFAULT_COVERAGES",
    "DEFAULT_HALF_LIFE_MONTHS",
    "DEFAULT_PIXEL_M",
    "DEFAULT_WARMUP_MONTHS",
    "DEFAULT_WINDOW_MONTHS",
    "GROUPS",
    "GROUP_CRIME_TYPES",
    "METHODS",
    "METHODS_AREA",
    "METHOD_UNITS",
    "OUR_METHODS",
    "SUMMARY_COLUMNS",
    "BacktestConfig",
    "BacktestResult",
    "area_backtest",
    "area_cut",
    "choose_methods",
    "classify_months",
    "evaluate_forecasts",
    "expected_capture",
    "forecast_next_month",
    "kde_bandwidth",
    "kde_on_grid",
    "plot_backtest",
    "prepare_area",
    "read_chosen",
    "run_area",
    "run_backtest",
    "segments_to_study_area",
    "select_by_budget",
    "summarise_area",
    "summarise_backtest",
    "write_area",
    "write_forecast",
]
