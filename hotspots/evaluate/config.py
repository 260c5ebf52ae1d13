"""Names and defaults of the street backtest (``hotspots evaluate``): groups, methods, columns.

Every other module of :mod:`hotspots.evaluate` reads its constants from here, so this module
imports nothing of the package.
"""

from __future__ import annotations

__all__ = [
    "BACKTEST_COLUMNS",
    "DEFAULT_CELL_SIZE_M",
    "DEFAULT_COVERAGES",
    "DEFAULT_HALF_LIFE_MONTHS",
    "DEFAULT_WARMUP_MONTHS",
    "DEFAULT_WINDOW_MONTHS",
    "GROUPS",
    "GROUP_CRIME_TYPES",
    "INCOMPLETE_SHARE",
    "KDE_TRUNCATE",
    "METHODS",
    "METHOD_UNITS",
    "NEIGHBOUR_WEIGHT",
    "OUR_METHODS",
    "PRIOR_WEIGHT",
    "RULES",
    "STATS",
    "SUMMARY_COLUMNS",
]

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
#: Statistics of :func:`summarise_backtest` per metric.
STATS = ("mean", "std", "min", "max")
#: Columns of :func:`summarise_backtest`' table, in order.
SUMMARY_COLUMNS: list[str] = [
    "group",
    "method",
    "units",
    "coverage_pct",
    "months",
    *(f"{m}_{s}" for m in ("hit_rate", "pai", "rri") for s in STATS),
]

#: The rules of the backtest in one line each (written to ``evaluate.json``).
RULES: dict[str, str] = {
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
