"""What every page of one run of the briefs shares (:class:`BriefContext`).

:func:`build_context` computes it once: the period change of every listed place
(:func:`count_period_change`), the comparison windows, the map painter and the place records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hotspots.analysis.groups import BriefSettings
from hotspots.brief.additions import RunAdditions, read_additions
from hotspots.brief.inputs import RunFolder
from hotspots.brief.placemap import MapPainter
from hotspots.brief.score import count_place_groups

log = logging.getLogger("hotspots")

__all__ = [
    "BriefContext",
    "build_context",
    "count_nearby_groups",
    "count_period_change",
    "group_scores_by_place",
]


@dataclass
class BriefContext:
    """What every page of one run shares."""

    run: RunFolder
    settings: BriefSettings
    painter: MapPainter
    changes: pd.DataFrame
    windows: dict[str, list[str]]
    predictability: bool
    group_counts: dict[tuple[str, str], float] = field(default_factory=dict)
    rec: dict[str, dict[str, Any]] = field(default_factory=dict)
    also: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    additions: RunAdditions = field(default_factory=RunAdditions)
    #: Tables the pages compute once per run (e.g. the best and worst rows).
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``Ward`` for police.uk data, else ``Area``: what the pages call an area."""
        return "Ward" if self.run.source_kind == "police-uk" else "Area"


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


def _comparison_windows(months: Sequence[str], n: int) -> dict[str, list[str]]:
    current = list(months[-n:])
    return {
        "current": current,
        "previous": list(months[-2 * n : -n]) if len(months) >= 2 * n else [],
        "year_before": [f"{int(m[:4]) - 1}{m[4:]}" for m in current],
    }


def build_context(run: RunFolder, settings: BriefSettings, predictability: bool) -> BriefContext:
    """Return what every page of the run shares: period changes, windows, map painter."""
    complete = [m for m in run.months if m not in run.incomplete]
    changes = count_period_change(
        run.monthly,
        months=complete,
        compare_months=settings.compare_months,
        too_few=settings.too_few,
    )
    places = pd.DataFrame(run.places.drop(columns="geometry"))
    # to_dict("index") column by column: row by row over Arrow strings it took 1.2 s of
    # London's 36,248 places (while the other core waits), this 0.3 s; the same values
    cols = list(places.columns)
    columns = [places[c].astype(object).tolist() for c in cols]
    rows = zip(*columns, strict=True) if cols else ([] for _ in places.index)
    records = {
        str(k): dict(zip(cols, row, strict=True))
        for k, row in zip(places.index.tolist(), rows, strict=True)
    }
    return BriefContext(
        run=run,
        settings=settings,
        painter=MapPainter(run),
        changes=changes,
        windows=_comparison_windows(complete, settings.compare_months),
        predictability=predictability,
        rec=records,
        additions=read_additions(run.path, run.manifest),
    )


def group_scores_by_place(scored: pd.DataFrame) -> dict[str, list[tuple[str, float, float]]]:
    """Return every crime group of each place as (group, crimes, score), best score first."""
    rows = scored.sort_values(["place_id", "score"], ascending=[True, False], kind="stable")
    out: dict[str, list[tuple[str, float, float]]] = {}
    for pid, group, crimes, score in zip(
        rows["place_id"], rows["group"], rows["crimes"], rows["score"], strict=True
    ):
        out.setdefault(str(pid), []).append((str(group), float(crimes), float(score)))
    return out


def count_nearby_groups(ctx: BriefContext, chosen: pd.DataFrame) -> dict[tuple[str, str], float]:
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
