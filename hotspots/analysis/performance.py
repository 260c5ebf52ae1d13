"""Best and worst: the areas whose crime rose or fell most between two periods."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from hotspots.errors import InputDataError
from hotspots.temporal.common import ALL_CRIME

__all__ = [
    "RANK_AREA_COLUMNS",
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


def rank_areas(
    compare_table: pd.DataFrame,
    *,
    against: Literal["previous", "year_before"] = "previous",
    crime_type: str = ALL_CRIME,
    n: int = 5,
) -> pd.DataFrame:
    """Return the worst (largest rises) and best (largest falls) performing areas.

    Parameters
    ----------
    compare_table
        From :func:`compare_periods`.
    against
        Which comparison to rank: ``"previous"`` or ``"year_before"``.
    crime_type
        Which rows to rank; default all crime.
    n
        Areas listed on each side.

    Returns
    -------
    pandas.DataFrame
        Up to ``n`` "worst" rows (rises, largest percentage first) then up to ``n`` "best"
        rows (falls, largest first). Columns: ``performance``, ``position`` (1 = most
        extreme), the grouping columns of ``compare_table``, ``current``, ``compared_with``
        (the other period's count), ``change`` and ``pct_change``.

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
    rows = compare_table[
        (compare_table["crime_type"] == crime_type) & (compare_table[f"flag_{against}"] == "")
    ]
    table = rows[groups].assign(
        current=rows["current"],
        compared_with=rows[against],
        change=rows[f"change_{against}"],
        pct_change=rows[f"pct_change_{against}"],
    )
    sides = []
    for name, sign in (("worst", 1), ("best", -1)):
        side = table[np.sign(table["pct_change"]) == sign]
        side = side.assign(_p=-sign * side["pct_change"], _c=-sign * side["change"].astype(float))
        side = side.sort_values(["_p", "_c"], kind="mergesort").head(n)
        sides.append(side.assign(performance=name, position=np.arange(1, len(side) + 1)))
    out = pd.concat(sides, ignore_index=True)
    return out[["performance", "position", *groups, *RANK_AREA_COLUMNS[2:]]]
