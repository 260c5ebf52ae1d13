"""The score of candidate problems (crime group x place) and the choice of priorities.

:func:`rank_problems` counts every crime group at every listed place
(:func:`count_place_groups`), scores the candidates within each ward
(:func:`rank_candidates`), finds the nearby places of each (:func:`assign_nearby`) and keeps
up to three per ward with no near-duplicates (:func:`rank_priorities`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.analysis.groups import (
    COMPONENTS,
    OTHER_GROUP,
    BriefSettings,
    classify_crime_types,
)
from hotspots.analysis.harm import DEFAULT_FALLBACK
from hotspots.brief.inputs import RunFolder

log = logging.getLogger("hotspots")

__all__ = [
    "FALLING",
    "RISING",
    "SIGNIFICANCE_SCORES",
    "assign_nearby",
    "count_place_groups",
    "rank_candidates",
    "rank_priorities",
    "rank_problems",
]

#: Gi* classes and their significance component.
SIGNIFICANCE_SCORES: dict[str, float] = {
    "Hot spot 99%": 1.0,
    "Hot spot 95%": 0.8,
    "Hot spot 90%": 0.6,
}
#: Trend classes and directions that score 1 (rising) and 0 (falling); all else scores 0.5.
RISING = frozenset({"rising", "new", "emerging"})
FALLING = frozenset({"falling", "diminishing", "historical"})


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
    weight = np.array([float(harm_weights.get(type_names[c], DEFAULT_FALLBACK)) for c in cols])
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
    >>> from hotspots.analysis.groups import read_brief_weights
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
    near: dict[tuple[Any, Any], list[Any]] = {}  # (a groupby's agg(tuple) is 100x slower)
    # (the columns as lists first: iterating Arrow strings value by value is slower still)
    cols = [found[c].astype(object).tolist() for c in ("place_id", "group", "other")]
    for place, group, other in zip(*cols, strict=True):
        near.setdefault((place, group), []).append(other)
    keys = zip(
        candidates["place_id"].astype(object).tolist(),
        candidates["group"].astype(object).tolist(),
        strict=True,
    )
    return pd.Series([tuple(near.get(k, ())) for k in keys], index=candidates.index, dtype=object)


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
    >>> from hotspots.analysis.groups import read_brief_weights
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
    by_ward: dict[Any, list[Any]] = {}  # wards in code order (the rows' order)
    for row in order[["area_code", "place_id", "group", "nearby"]].itertuples():
        if pd.isna(row.area_code):
            continue
        chosen = by_ward.setdefault(row.area_code, [])
        if len(chosen) < settings.max_priorities and not _near_duplicate(
            row, chosen, max_per_place=settings.max_per_place
        ):
            chosen.append(row)
    keep = [(row.Index, i + 1) for rows in by_ward.values() for i, row in enumerate(rows)]
    out = scored.loc[[i for i, _ in keep]].copy()
    out["priority"] = [p for _, p in keep]
    return out


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
    else:  # neither: the listed places' own crimes are the floor
        totals = pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []]))
    totals.index.names = ["area_code", "group"]
    floor = listed.groupby(["area_code", "group"])["crimes"].sum()
    return pd.concat([totals.rename("t"), floor.rename("f")], axis=1).max(axis=1)


def _estimated_totals(
    cmp: pd.DataFrame, crimes: pd.Series, group_of: Mapping[str, str]
) -> pd.Series:
    """Return the ward's crimes x the group's share of its crime in the comparison months."""
    if "kind" in cmp.columns and len(cmp):  # the month window's all-crime and type rows
        cmp = cmp[(cmp["window"] == cmp["window"].iloc[0]) & (cmp["kind"] != "group")]
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
