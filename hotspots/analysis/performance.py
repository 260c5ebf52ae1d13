"""Best and worst: the areas whose crime rose or fell most between two periods.

:func:`rank_areas` ranks one table, crime type (or group) and window; :func:`best_and_worst`
makes the run's ``performance.csv``: areas and boroughs, all crime and every crime group, every
comparison window, with the exact test's p-value beside each change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from hotspots.analysis.groups import labelled_memberships, read_brief_weights
from hotspots.analysis.rates import MIN_MEDIAN_SHARE
from hotspots.errors import InputDataError
from hotspots.temporal.common import ALL_CRIME
from hotspots.temporal.compare import compare_windows
from hotspots.temporal.counted import weights

__all__ = [
    "PERFORMANCE_COLUMNS",
    "RANK_AREA_COLUMNS",
    "best_and_worst",
    "compare_and_rank",
    "rank_areas",
]

RANK_AREA_COLUMNS: list[str] = [
    "performance",
    "position",
    "current",
    "compared_with",
    "change",
    "pct_change",
]
#: Columns of :func:`best_and_worst` (``performance.csv``): the first eight as before.
PERFORMANCE_COLUMNS: list[str] = [
    "performance",
    "position",
    "area_code",
    "area_name",
    *RANK_AREA_COLUMNS[2:],
    "level",
    "crime_group",
    "window",
    "p_value",
]


def rank_areas(
    compare_table: pd.DataFrame,
    *,
    against: Literal["previous", "year_before"] = "previous",
    crime_type: str = ALL_CRIME,
    n: int = 5,
    kind: str | None = None,
    window: str | None = None,
) -> pd.DataFrame:
    """Return the worst (largest rises) and best (largest falls) performing areas.

    Parameters
    ----------
    compare_table
        From :func:`hotspots.temporal.compare.compare_periods` or
        :func:`~hotspots.temporal.compare.compare_windows`.
    against
        Which comparison to rank: ``"previous"`` or ``"year_before"``.
    crime_type
        Which rows to rank; default all crime.
    n
        Areas listed on each side.
    kind, window
        For a table of :func:`~hotspots.temporal.compare.compare_windows`: the row kind
        (default ``"all"`` for all crime, else ``"type"``; ``"group"`` for a crime group)
        and the window (default the table's first).

    Returns
    -------
    pandas.DataFrame
        Up to ``n`` "worst" rows (rises, largest percentage first) then up to ``n`` "best"
        rows (falls, largest first). Columns: ``performance``, ``position`` (1 = most
        extreme), the grouping columns of ``compare_table``, ``current``, ``compared_with``
        (the other period's count), ``change`` and ``pct_change``; and ``p_value`` when the
        table has ``p_<against>``.

    Raises
    ------
    InputDataError
        If ``compare_table`` does not come from :func:`compare_periods`.

    Notes
    -----
    Formally: only rows of ``crime_type`` with an empty ``flag_<against>`` (both counts at
    least ``min_count``) are ranked. Worst: ``pct_change > 0`` sorted by ``pct_change`` then
    ``change`` (descending); best: ``pct_change < 0`` sorted by ``pct_change`` then
    ``change`` (ascending). Ties keep the table's order (the group keys).
    """
    needed = [
        "crime_type",
        "current",
        against,
        f"change_{against}",
        f"pct_change_{against}",
        f"flag_{against}",
    ]
    if any(c not in compare_table.columns for c in needed):
        msg = (
            f"`compare_table` needs the columns {needed}; found "
            f"{list(compare_table.columns)}. Build it with `compare_periods`"
        )
        raise InputDataError(msg)
    groups = list(compare_table.columns[: list(compare_table.columns).index("crime_type")])
    keep = (compare_table["crime_type"] == crime_type) & (compare_table[f"flag_{against}"] == "")
    if "kind" in compare_table.columns:
        kind = kind or ("all" if crime_type == ALL_CRIME else "type")
        keep &= compare_table["kind"] == kind
    if "window" in compare_table.columns and len(compare_table):
        keep &= compare_table["window"] == (window or compare_table["window"].iloc[0])
    rows = compare_table[keep]
    extra = {"p_value": rows[f"p_{against}"]} if f"p_{against}" in rows.columns else {}
    table = rows[groups].assign(
        current=rows["current"],
        compared_with=rows[against],
        change=rows[f"change_{against}"],
        pct_change=rows[f"pct_change_{against}"],
        **extra,
    )
    sides = []
    for name, sign in (("worst", 1), ("best", -1)):
        side = table[np.sign(table["pct_change"]) == sign]
        side = side.assign(_p=-sign * side["pct_change"], _c=-sign * side["change"].astype(float))
        side = side.sort_values(["_p", "_c"], kind="mergesort").head(n)
        sides.append(side.assign(performance=name, position=np.arange(1, len(side) + 1)))
    out = pd.concat(sides, ignore_index=True)
    return out[["performance", "position", *groups, *RANK_AREA_COLUMNS[2:], *extra]]


def best_and_worst(
    tables: Mapping[str, pd.DataFrame],
    *,
    n: int = 5,
    against: Literal["previous", "year_before"] = "previous",
    codes: Mapping[str, str] | None = None,
    leave_out: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Return the best and worst places of every level, crime group and window.

    Parameters
    ----------
    tables
        Level (``"area"``, ``"borough"``) to its table of
        :func:`~hotspots.temporal.compare.compare_windows`, grouped by ``["area_code",
        "area_name"]`` or by one name column (e.g. ``["borough"]``).
    n
        Places listed on each side.
    against
        The comparison ranked.
    codes
        Name to code of the places of name-only levels (borough codes), if known.
    leave_out
        Level to the places not ranked (a borough the extract mostly leaves out: its few
        crimes are those that fall over the edge from next door).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PERFORMANCE_COLUMNS`. Rows of :func:`rank_areas` for each window, then
        level, then all crime and each crime group (in the tables' order), so the first rows
        are those of all crime of the first level in the first window. ``area_code`` and
        ``area_name`` hold a name-only level's code (or "") and name; ``p_value`` is the exact
        test of :func:`~hotspots.temporal.compare.change_p_values`.

    Notes
    -----
    The "too few to compare" floor stays: only changes whose two counts are both at least
    the comparison's ``min_count`` are ranked, whatever their p-value.
    """
    parts = []
    windows = pd.unique(pd.concat([t["window"] for t in tables.values()]))
    for window in windows:
        for level, full in tables.items():
            table = full.copy(deep=False)
            table.attrs = {}  # pandas copies attrs (the periods) on every operation
            rows = table[table["window"] == window]
            if leave_out and level in leave_out:
                rows = rows[~rows[rows.columns[0]].astype(str).isin(leave_out[level])]
            groups = pd.unique(rows.loc[rows["kind"] == "group", "crime_type"])
            for kind, name in [("all", ALL_CRIME), *(("group", g) for g in groups)]:
                ranked = rank_areas(
                    rows, against=against, crime_type=name, n=n, kind=kind, window=window
                )
                parts.append(
                    _as_places(ranked, codes or {}).assign(
                        level=level, crime_group=name, window=window
                    )
                )
    if not parts:
        return pd.DataFrame(columns=PERFORMANCE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[PERFORMANCE_COLUMNS]


def _as_places(ranked: pd.DataFrame, codes: Mapping[str, str]) -> pd.DataFrame:
    """Name a ranked table's place columns ``area_code`` and ``area_name``."""
    if "area_code" in ranked.columns:
        return ranked
    name = ranked.columns[2]  # after performance and position: the one name column
    names = ranked[name].astype(str)
    return ranked.drop(columns=[name]).assign(
        area_code=names.map(lambda v: codes.get(v, "")), area_name=names
    )


def compare_and_rank(
    crimes: pd.DataFrame, areas: pd.DataFrame, *, months: int = 3, quiet: bool = True
) -> dict[str, pd.DataFrame]:
    """Return a run's ``compare_areas``, ``compare_boroughs`` and ``performance`` tables.

    Parameters
    ----------
    crimes
        Crimes with ``area_code``, ``area_name``, ``crime_type``, ``month`` and the windows.
    areas
        ``area_code`` and, for boroughs, ``borough`` (and ``borough_code``).
    months
        The month window (``--compare-months``).
    quiet
        Do not log the periods.

    Returns
    -------
    dict
        :func:`~hotspots.temporal.compare.compare_windows` of the areas (and boroughs, when
        the areas have a ``borough``) with the crime groups of
        :func:`~hotspots.analysis.groups.labelled_memberships`, and their
        :func:`best_and_worst` (boroughs fewer than half of whose areas are in the data are
        compared but not ranked).
    """
    types = [str(t) for t in crimes["crime_type"].dropna().unique()]
    groups = labelled_memberships(types, settings=read_brief_weights())
    out = {
        "compare_areas": compare_windows(
            crimes, by=["area_code", "area_name"], months=months, groups=groups, quiet=quiet
        )
    }
    levels = {"area": out["compare_areas"]}
    codes: dict[str, str] = {}
    leave_out: dict[str, list[str]] = {}
    if "borough" in areas.columns:
        borough = areas.set_index("area_code")["borough"]
        with_b = crimes.assign(borough=crimes["area_code"].map(borough))
        out["compare_boroughs"] = compare_windows(
            with_b, by=["borough"], months=months, groups=groups, quiet=True
        )
        levels["borough"] = out["compare_boroughs"]
        leave_out = {"borough": _boroughs_out(crimes, areas)}
        if "borough_code" in areas.columns:
            pairs = areas.drop_duplicates("borough")
            codes = dict(
                zip(pairs["borough"].astype(str), pairs["borough_code"].astype(str), strict=True)
            )
    out["performance"] = best_and_worst(levels, codes=codes, leave_out=leave_out)
    return out


def _boroughs_out(crimes: pd.DataFrame, areas: pd.DataFrame) -> list[str]:
    """Return the boroughs fewer than half of whose areas are in the data.

    An area is in the data with at least :data:`~hotspots.analysis.rates.MIN_MEDIAN_SHARE`
    of the median area's crimes (the rule of ``rates.csv``).
    """
    n = weights(crimes)  # a counted table's rows count several crimes each
    counts = (
        crimes["area_code"].value_counts()
        if n is None
        else pd.Series(n, index=crimes.index).groupby(crimes["area_code"]).sum()
    ).reindex(areas["area_code"], fill_value=0)
    present = counts >= MIN_MEDIAN_SHARE * counts[counts > 0].median()
    share = present.groupby(areas.set_index("area_code")["borough"].astype(str)).mean()
    return sorted(share.index[share < 0.5])
