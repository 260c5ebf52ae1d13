"""Rates: crimes per 1,000 residents."""

from __future__ import annotations

import pandas as pd

from hotspots.errors import InputDataError

__all__ = [
    "rate_per_1000",
]


def rate_per_1000(counts: pd.Series, population: pd.Series) -> pd.Series:
    """Return crimes per 1,000 residents, aligned on the index (area code).

    Parameters
    ----------
    counts
        Crimes per area, indexed by area code.
    population
        Residents per area, indexed by area code (e.g. :func:`hotspots.read_population`).

    Returns
    -------
    pandas.Series
        Indexed like ``counts``, named ``rate_per_1000`` (float64); NaN where the population is
        missing or not above 0.

    Raises
    ------
    InputDataError
        If the two share no area code at all.

    Examples
    --------
    >>> rate_per_1000(pd.Series({"A": 30, "B": 5}), pd.Series({"A": 6000.0, "C": 10.0}))
    A    5.0
    B    NaN
    Name: rate_per_1000, dtype: float64
    """
    pop = pd.to_numeric(population, errors="coerce").groupby(level=0).sum(min_count=1)
    pop = pop.reindex(counts.index)
    if len(counts) and pop.isna().all():
        msg = (
            f"`population` must be indexed by the area codes of `counts`; found no shared "
            f"code (counts: {list(counts.index[:3])}, population: "
            f"{list(population.index[:3])}). Index both by area code"
        )
        raise InputDataError(msg)
    rate = counts.astype(float) / pop.where(pop > 0) * 1000
    return rate.rename("rate_per_1000")
