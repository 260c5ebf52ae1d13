"""Temporal profiles and trends: when each hot street is hot, and whether it is getting worse.

One module per concept: :mod:`~hotspots.temporal.common` (the definitions: hour of week,
aoristic weights, months), :mod:`~hotspots.temporal.profiles` (hour x day, monthly and
aoristic tables), :mod:`~hotspots.temporal.seasons`, :mod:`~hotspots.temporal.trends`,
:mod:`~hotspots.temporal.compare` (period comparison), :mod:`~hotspots.temporal.patrol`
(patrol windows), :mod:`~hotspots.temporal.group_times` (per crime group) and
:mod:`~hotspots.temporal.summary` (the per-place time columns of a run). Charts live in
:mod:`hotspots.output.charts`, rates and best/worst in :mod:`hotspots.analysis.rates` and
:mod:`hotspots.analysis.performance`; their names are still importable from here.

Each name is imported from its module on first use (PEP 562), so the modules can import
one another (and the charts) without a cycle through this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotspots.analysis.performance import (
        RANK_AREA_COLUMNS,
        rank_areas,
    )
    from hotspots.analysis.rates import (
        rate_per_1000,
    )
    from hotspots.output.charts import (
        hour_day_svg,
        monthly_svg,
        plot_hour_day,
        plot_monthly,
    )
    from hotspots.temporal.common import (
        ALL,
        ALL_CRIME,
        DAYS,
        HOUR_OF_WEEK_COLUMNS,
        HOURS_PER_WEEK,
        MONTH_NAMES,
        NO_TIME_OF_DAY,
        NOT_IN_DATA,
        TOO_FEW,
        TOO_FEW_TO_SAY,
        has_time_of_day,
    )
    from hotspots.temporal.compare import (
        COMPARE_COLUMNS,
        KINDS,
        WEEK_WINDOWS,
        WINDOW_COMPARE_COLUMNS,
        binomial_p_values,
        change_p_values,
        compare_periods,
        compare_windows,
        has_dates,
        last_complete_week,
        window_label,
    )
    from hotspots.temporal.group_times import (
        GROUP_WINDOW_COLUMNS,
        group_profiles,
        group_window_texts,
        group_windows,
    )
    from hotspots.temporal.patrol import (
        DAY_ONLY_LIFT,
        MAX_WINDOW_HOURS,
        NO_TIME_STANDS_OUT,
        WINDOW_COLUMNS,
        patrol_window,
        patrol_windows,
    )
    from hotspots.temporal.profiles import (
        MONTH_CHECK_COLUMNS,
        aoristic_weights,
        classify_months,
        hour_day_profile,
        monthly_profile,
    )
    from hotspots.temporal.seasons import (
        SEASON_TEST_COLUMNS,
        peak_months,
        seasonality,
        seasonality_test,
    )
    from hotspots.temporal.summary import (
        TIME_COLUMNS,
        TOO_SHORT_FOR_TREND,
        time_summary,
    )
    from hotspots.temporal.trends import (
        TREND_CLASSES,
        TREND_COLUMNS,
        classify_trend,
    )

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "ALL": "hotspots.temporal.common",
    "ALL_CRIME": "hotspots.temporal.common",
    "DAYS": "hotspots.temporal.common",
    "HOURS_PER_WEEK": "hotspots.temporal.common",
    "HOUR_OF_WEEK_COLUMNS": "hotspots.temporal.common",
    "MONTH_NAMES": "hotspots.temporal.common",
    "NOT_IN_DATA": "hotspots.temporal.common",
    "NO_TIME_OF_DAY": "hotspots.temporal.common",
    "TOO_FEW": "hotspots.temporal.common",
    "TOO_FEW_TO_SAY": "hotspots.temporal.common",
    "has_time_of_day": "hotspots.temporal.common",
    "MONTH_CHECK_COLUMNS": "hotspots.temporal.profiles",
    "aoristic_weights": "hotspots.temporal.profiles",
    "classify_months": "hotspots.temporal.profiles",
    "hour_day_profile": "hotspots.temporal.profiles",
    "monthly_profile": "hotspots.temporal.profiles",
    "SEASON_TEST_COLUMNS": "hotspots.temporal.seasons",
    "peak_months": "hotspots.temporal.seasons",
    "seasonality": "hotspots.temporal.seasons",
    "seasonality_test": "hotspots.temporal.seasons",
    "TREND_CLASSES": "hotspots.temporal.trends",
    "TREND_COLUMNS": "hotspots.temporal.trends",
    "classify_trend": "hotspots.temporal.trends",
    "COMPARE_COLUMNS": "hotspots.temporal.compare",
    "compare_periods": "hotspots.temporal.compare",
    "KINDS": "hotspots.temporal.compare",
    "WEEK_WINDOWS": "hotspots.temporal.compare",
    "WINDOW_COMPARE_COLUMNS": "hotspots.temporal.compare",
    "binomial_p_values": "hotspots.temporal.compare",
    "change_p_values": "hotspots.temporal.compare",
    "compare_windows": "hotspots.temporal.compare",
    "has_dates": "hotspots.temporal.compare",
    "last_complete_week": "hotspots.temporal.compare",
    "window_label": "hotspots.temporal.compare",
    "DAY_ONLY_LIFT": "hotspots.temporal.patrol",
    "MAX_WINDOW_HOURS": "hotspots.temporal.patrol",
    "NO_TIME_STANDS_OUT": "hotspots.temporal.patrol",
    "WINDOW_COLUMNS": "hotspots.temporal.patrol",
    "patrol_window": "hotspots.temporal.patrol",
    "patrol_windows": "hotspots.temporal.patrol",
    "GROUP_WINDOW_COLUMNS": "hotspots.temporal.group_times",
    "group_profiles": "hotspots.temporal.group_times",
    "group_window_texts": "hotspots.temporal.group_times",
    "group_windows": "hotspots.temporal.group_times",
    "TIME_COLUMNS": "hotspots.temporal.summary",
    "TOO_SHORT_FOR_TREND": "hotspots.temporal.summary",
    "time_summary": "hotspots.temporal.summary",
    "hour_day_svg": "hotspots.output.charts",
    "monthly_svg": "hotspots.output.charts",
    "plot_hour_day": "hotspots.output.charts",
    "plot_monthly": "hotspots.output.charts",
    "RANK_AREA_COLUMNS": "hotspots.analysis.performance",
    "rank_areas": "hotspots.analysis.performance",
    "rate_per_1000": "hotspots.analysis.rates",
}

__all__ = [
    "ALL",
    "ALL_CRIME",
    "COMPARE_COLUMNS",
    "DAYS",
    "DAY_ONLY_LIFT",
    "GROUP_WINDOW_COLUMNS",
    "HOURS_PER_WEEK",
    "HOUR_OF_WEEK_COLUMNS",
    "KINDS",
    "MAX_WINDOW_HOURS",
    "MONTH_CHECK_COLUMNS",
    "MONTH_NAMES",
    "NOT_IN_DATA",
    "NO_TIME_OF_DAY",
    "NO_TIME_STANDS_OUT",
    "RANK_AREA_COLUMNS",
    "SEASON_TEST_COLUMNS",
    "TIME_COLUMNS",
    "TOO_FEW",
    "TOO_FEW_TO_SAY",
    "TOO_SHORT_FOR_TREND",
    "TREND_CLASSES",
    "TREND_COLUMNS",
    "WEEK_WINDOWS",
    "WINDOW_COLUMNS",
    "WINDOW_COMPARE_COLUMNS",
    "aoristic_weights",
    "binomial_p_values",
    "change_p_values",
    "classify_months",
    "classify_trend",
    "compare_periods",
    "compare_windows",
    "group_profiles",
    "group_window_texts",
    "group_windows",
    "has_dates",
    "has_time_of_day",
    "hour_day_profile",
    "hour_day_svg",
    "last_complete_week",
    "monthly_profile",
    "monthly_svg",
    "patrol_window",
    "patrol_windows",
    "peak_months",
    "plot_hour_day",
    "plot_monthly",
    "rank_areas",
    "rate_per_1000",
    "seasonality",
    "seasonality_test",
    "time_summary",
    "window_label",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'hotspots.temporal' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
