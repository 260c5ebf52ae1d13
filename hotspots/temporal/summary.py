"""The 'time' of each place for the run's tables: trend class, patrol window, peak months."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hotspots.output.charts import hour_day_svg, monthly_svg, monthly_svgs
from hotspots.temporal.common import NO_TIME_OF_DAY, has_time_of_day
from hotspots.temporal.patrol import patrol_windows
from hotspots.temporal.profiles import hour_day_profile, monthly_profile
from hotspots.temporal.seasons import peak_months
from hotspots.temporal.trends import classify_trend

__all__ = [
    "TIME_COLUMNS",
    "TOO_SHORT_FOR_TREND",
    "summarise_times",
    "time_summary",
]

#: Columns :func:`time_summary` adds to hot streets, locations and areas.
TIME_COLUMNS: list[str] = [
    "trend_class",
    "trend_direction",
    "trend_p",
    "trend_q",
    "slope_per_month",
    "hot_months",
    "patrol_window",
    "peak_months",
]
TOO_SHORT_FOR_TREND = "n/a: fewer than 3 months"


def time_summary(
    crimes: pd.DataFrame,
    *,
    by: str,
    exclude: Sequence[str] | None = None,
    share: float = 0.5,
    graphics: bool = True,
    quiet: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return the 'time' of each place: trend, trend class, patrol window and peak months.

    Parameters
    ----------
    crimes
        Crimes with the ``by`` column (missing: left out).
    by
        The place key, e.g. a hot-street id or ``area_code``.
    exclude
        Months left out of trend tests and peaks (incomplete months).
    share
        A second patrol window is named only while the first holds less than this share
        (:func:`patrol_windows`).
    graphics
        If True, add ``monthly_svg`` (and ``profile_svg`` where there are times) for popups.
    quiet
        Do not log.

    Returns
    -------
    summary, profile
        ``summary`` indexed by place with :data:`TIME_COLUMNS` (the patrol window says
        ``NO_TIME_OF_DAY`` for month-only data) and the SVG columns; ``profile`` the
        7 x 24 hour-of-week table (None for month-only data).
    """
    monthly = monthly_profile(crimes, by=by, quiet=True)
    profile = hour_day_profile(crimes, by=by, quiet=True) if has_time_of_day(crimes) else None
    return summarise_times(
        monthly, profile, exclude=exclude, share=share, graphics=graphics, quiet=quiet
    )


def summarise_times(
    monthly: pd.DataFrame,
    profile: pd.DataFrame | None,
    *,
    exclude: Sequence[str] | None = None,
    share: float = 0.5,
    graphics: bool = True,
    quiet: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return :func:`time_summary`'s tables from the places' counts instead of their crimes.

    Parameters
    ----------
    monthly
        Crimes per month of each place (:func:`monthly_profile`).
    profile
        Hour-of-week weights of the places (:func:`hour_day_profile`), None for data that
        gives the month only.
    exclude, share, graphics, quiet
        As in :func:`time_summary`.

    Returns
    -------
    summary, profile
        As :func:`time_summary` gives them.
    """
    tested = [m for m in monthly.columns if m not in set(exclude or ())]
    if len(tested) >= 3:
        trend = classify_trend(monthly, exclude=exclude, quiet=quiet)
    else:
        trend = pd.DataFrame(
            {
                "trend_class": TOO_SHORT_FOR_TREND,
                "direction": TOO_SHORT_FOR_TREND,
                "p_value": np.nan,
                "q_value": np.nan,
                "slope_per_month": np.nan,
                "hot_months": 0,
            },
            index=monthly.index,
        )
    out = pd.DataFrame(index=monthly.index)
    out["trend_class"] = trend["trend_class"]
    out["trend_direction"] = trend["direction"]
    out["trend_p"] = trend["p_value"].round(4)
    out["trend_q"] = trend["q_value"].round(4)
    out["slope_per_month"] = trend["slope_per_month"].round(3)
    out["hot_months"] = trend["hot_months"]
    out["peak_months"] = peak_months(monthly, exclude=exclude)
    if profile is None:
        out["patrol_window"] = NO_TIME_OF_DAY
    else:
        profile = profile.reindex(out.index, fill_value=0.0)
        out["patrol_window"] = patrol_windows(profile, share=share)["patrol_window"]
    if graphics:
        labels = [str(m) for m in monthly.columns]  # rows as arrays: no Series per place
        rows = monthly.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(rows).any():  # as monthly_svg would say for the row
            out["monthly_svg"] = [monthly_svg(monthly.loc[k]) for k in monthly.index]
        else:
            out["monthly_svg"] = monthly_svgs(rows, labels)
        if profile is not None:
            out["profile_svg"] = [hour_day_svg(r) for r in profile.to_numpy()]
    return out[[*TIME_COLUMNS, *[c for c in out.columns if c.endswith("_svg")]]], profile
