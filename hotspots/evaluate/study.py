"""The study of the street backtest: study area, complete months, evaluated crimes, counts.

:func:`prepare_study` computes once what every method of :func:`~hotspots.evaluate.
street_backtest.evaluate_forecasts` needs: the complete months, the units of every method and
the crimes per month and unit of every crime group. A :class:`StudyHistory` is what a method
sees for one target month: the months before it only.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from hotspots.errors import InputDataError
from hotspots.evaluate.cells import MethodUnits, build_method_units, segment_neighbours
from hotspots.evaluate.config import GROUP_CRIME_TYPES, GROUPS, INCOMPLETE_SHARE, METHOD_UNITS
from hotspots.evaluate.geometry_cache import cached_array, geometry_bytes
from hotspots.space import snap
from hotspots.space.cache import source_digest

__all__ = [
    "Study",
    "StudyHistory",
    "calendar_numbers",
    "classify_months",
    "evaluated_crimes",
    "group_masks",
    "prepare_study",
    "segments_to_study_area",
]


# --------------------------------------------------------------------------------------------
# study area and months


def segments_to_study_area(
    segments: gpd.GeoDataFrame,
    *,
    distance_m: float = snap.DEFAULT_SNAP_DISTANCE_M,
    areas: gpd.GeoDataFrame | None = None,
    cache: str | Path | None = None,
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
    cache
        A cache folder (:func:`hotspots.space.cache.cache_dir`): the union of the segments'
        buffers is kept there and read back for the same segments and distance
        (:mod:`hotspots.evaluate.geometry_cache`); None builds it every time.

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
    geoms = segments.geometry.to_numpy()

    def union() -> np.ndarray:
        buffers = shapely.buffer(geoms, distance_m, quad_segs=8)
        return np.frombuffer(shapely.to_wkb(shapely.union_all(buffers), hex=False), np.uint8)

    parts: list[str | bytes] = [
        repr(float(distance_m)),
        source_digest(sys.modules[__name__]),
        geometry_bytes(geoms),
    ]
    region = shapely.from_wkb(cached_array("union", parts, union, cache).tobytes())
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


def calendar_numbers(months: Sequence[str]) -> np.ndarray:
    """Return calendar month numbers (year x 12 + month - 1)."""
    return np.array([int(m[:4]) * 12 + int(m[5:7]) - 1 for m in months], dtype=np.int64)


def group_masks(crime_types: pd.Series) -> dict[str, np.ndarray]:
    """Return a boolean mask of the crimes of each group of :data:`GROUP_CRIME_TYPES` (and ``all``).

    Examples
    --------
    >>> group_masks(pd.Series(["Robbery", "Burglary"]))["robbery"].tolist()
    [True, False]
    """
    folded = crime_types.astype(str).str.strip().str.casefold()
    masks = {"all": np.ones(len(folded), dtype=bool)}
    for group, types in GROUP_CRIME_TYPES.items():
        masks[group] = folded.isin([t.casefold() for t in types]).to_numpy()
    return masks


# --------------------------------------------------------------------------------------------
# the prepared study: complete months x units count matrices


@dataclass
class Study:
    """Everything the backtest needs, computed once."""

    months: list[str]
    cal: np.ndarray
    units: dict[str, MethodUnits]
    counts: dict[tuple[str, str], sparse.csr_matrix]
    groups: list[str]
    length_m: np.ndarray
    neighbours: sparse.csr_matrix
    area_m2: float
    street_m: float
    width_m: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyHistory:
    """What a forecaster may see for target month ``p``: the complete months before it only."""

    study: Study
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


def evaluated_crimes(
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
    seg = _segment_rows(seg_id, segs["segment_id"])
    x, y = crimes["x"].to_numpy(dtype=float), crimes["y"].to_numpy(dtype=float)
    inside = np.zeros(len(crimes), dtype=bool)
    inside[seg >= 0] = shapely.contains_xy(region, x[seg >= 0], y[seg >= 0])
    keep = np.flatnonzero(inside)  # the text columns become Python strings for these only
    out = pd.DataFrame(
        {
            "month": crimes["month"].take(keep).to_numpy(),
            "crime_type": crimes["crime_type"].take(keep).to_numpy(),
            "x": x[keep],
            "y": y[keep],
            "seg": seg[keep],
        }
    )
    # dates and times for the near-repeat term; the area, for the places of next month's list
    for col in ("occurred_from", "has_time", "area_code"):
        if col in crimes:
            out[col] = crimes[col].take(keep).to_numpy()
    counts = {
        "crimes_given": len(crimes),
        "not_on_a_kept_segment": int((seg < 0).sum()),
        "outside_study_area": int(((seg >= 0) & ~inside).sum()),
        "evaluated": len(out),
    }
    return out, segs, counts


def _segment_rows(seg_id: pd.Series, ids: pd.Series) -> np.ndarray:
    """Return each crime's row in the kept segments (by ``segment_id`` as text), -1 for none.

    A categorical ``seg_id`` (as the reader gives it) is looked up once per category.

    Examples
    --------
    >>> ids = pd.Series(["a", "b", "c"])
    >>> _segment_rows(pd.Series(["c", None, "a", "z"], dtype="category"), ids).tolist()
    [2, -1, 0, -1]
    >>> _segment_rows(pd.Series(["c", None, "a", "z"]), ids).tolist()
    [2, -1, 0, -1]
    """
    index = pd.Index(ids.astype(str))
    if isinstance(seg_id.dtype, pd.CategoricalDtype):
        codes = seg_id.cat.codes.to_numpy()
        rows = index.get_indexer(seg_id.cat.categories.astype(str))
        return np.where(codes >= 0, rows[np.maximum(codes, 0)], -1)
    seg = index.get_indexer(seg_id.astype(str).to_numpy())
    return np.where(seg_id.notna().to_numpy(), seg, -1)


def _count_matrix(month_pos: np.ndarray, unit: np.ndarray, n: tuple[int, int]) -> sparse.csr_matrix:
    data = np.ones(len(unit))
    return sparse.coo_matrix((data, (month_pos, unit)), shape=n).tocsr()


def prepare_study(
    crimes: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    region: shapely.Geometry,
    *,
    methods: Sequence[str],
    groups: Sequence[str] | None,
    cell_m: float,
    width_m: float | None,
    quiet: bool,
    cache: str | Path | None = None,
) -> Study:
    """Return the study: complete months, every method's units and the counts per group.

    Parameters
    ----------
    crimes, segments, region
        As for :func:`~hotspots.evaluate.street_backtest.evaluate_forecasts`.
    methods
        Methods whose units to build.
    groups
        Crime groups (None: every group of :data:`GROUPS` present).
    cell_m
        Side of the KDE grid cells, metres.
    width_m
        Corridor width turning street length into area; None: area / street length.
    quiet
        If True, do not log.
    cache
        A cache folder for the study geometry (:mod:`hotspots.evaluate.geometry_cache`);
        None builds it every time.

    Raises
    ------
    InputDataError
        If no crime lies on a segment inside the study area.
    """
    ev, segs, accounting = evaluated_crimes(crimes, segments, region, quiet=quiet)
    if ev.empty:
        msg = (
            "no crime lies on a street segment inside `study_area`: check that the crimes, "
            "streets and study area cover the same place and CRS"
        )
        raise InputDataError(msg)
    table = classify_months(ev)
    months = table.loc[table["complete"], "month"].tolist()
    ev = ev[ev["month"].isin(months)].reset_index(drop=True)
    needed = {METHOD_UNITS[m] for m in methods}
    units = build_method_units(ev, segs, region, needed, cell_m, cache)
    masks = group_masks(ev["crime_type"])
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
    return Study(
        months,
        calendar_numbers(months),
        units,
        counts,
        present,
        units["segments"].cost,
        segment_neighbours(segs),
        area,
        street,
        width_m or area / street,
        info,
    )
