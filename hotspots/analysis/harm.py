"""Crime harm weights (Cambridge Crime Harm Index) and harm per street segment.

A count treats a shoplifting like a robbery; harm weights each crime by the seriousness of
its type. The default table, ``hotspots/harm_weights.csv``, gives every one of the 14
police.uk categories and the 11 VPD ``TYPE`` values a weight in Cambridge Crime Harm Index
days (Sherman, Neyroud & Neyroud 2016, doi:10.1093/police/paw003): the starting-point
sentence of a first offender under the England and Wales sentencing guidelines. The file's
header states the source of each value and the mapping choices (anti-social behaviour at
the 1-day floor; Canadian VPD groups through the nearest English offence subgroup).

A crime type missing from the table gets ``DEFAULT_FALLBACK`` (1 day, the CCHI floor) and a
``UserWarning`` naming the types, so unknown types still count but never inflate harm.
A user table is any CSV with ``crime_type`` and ``weight`` columns (``#`` starts a comment).
"""

from __future__ import annotations

import importlib.resources
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.errors import InputDataError

__all__ = [
    "DEFAULT_FALLBACK",
    "HARM_COLUMNS",
    "assign_harm",
    "harm_by_segment",
    "read_harm_weights",
]

#: Weight of a crime type that the table does not list (the CCHI floor, days).
DEFAULT_FALLBACK = 1.0
#: Columns of :func:`harm_by_segment`.
HARM_COLUMNS: list[str] = ["crimes", "harm"]


def _default_table() -> Path:
    return Path(str(importlib.resources.files("hotspots") / "harm_weights.csv"))


def _table_problems(table: pd.DataFrame) -> list[str]:
    missing = [c for c in ("crime_type", "weight") if c not in table.columns]
    if missing:
        return [f"it lacks the column(s) {', '.join(missing)}"]
    problems = []
    weight = pd.to_numeric(table["weight"], errors="coerce")
    rows = table.index.to_numpy() + 1
    checks = {
        "an empty crime_type": table["crime_type"].fillna("").str.strip().eq(""),
        "a weight that is not a number": weight.isna(),
        "a negative weight": weight < 0,
        "a repeated crime_type": table["crime_type"].duplicated(keep=False),
    }
    for what, bad in checks.items():
        if bad.any():
            problems.append(
                f"{int(bad.sum())} rows with {what} (data rows "
                f"{', '.join(map(str, rows[bad.to_numpy()][:5]))})"
            )
    return problems


def read_harm_weights(path: str | Path | None = None) -> pd.Series:
    """Read a table of harm weights per crime type.

    Parameters
    ----------
    path
        CSV with ``crime_type`` and ``weight`` columns (other columns are ignored; lines
        starting with ``#`` are comments). By default the packaged Cambridge Crime Harm
        Index table (see the module notes).

    Returns
    -------
    pandas.Series
        ``float64`` weights named ``weight``, indexed by ``crime_type`` in file order.

    Raises
    ------
    InputDataError
        If the file lacks a column, or has empty or repeated types or weights that are
        missing, not numbers or negative (all problems listed, with data row numbers).
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> weights = read_harm_weights()
    >>> len(weights), weights["Robbery"], weights["Homicide"]
    (25, np.float64(365.0), np.float64(5475.0))
    """
    source = _default_table() if path is None else Path(path)
    table = pd.read_csv(source, comment="#", dtype={"crime_type": "string"})
    problems = _table_problems(table)
    if problems:
        msg = (
            f"harm weights in {source.name} need one numeric, non-negative weight per crime "
            f"type; found {'; '.join(problems)}. Fix the file or leave `path` out for the "
            "default table."
        )
        raise InputDataError(msg)
    weights = pd.to_numeric(table["weight"]).astype("float64")
    return pd.Series(
        weights.to_numpy(),
        index=pd.Index(table["crime_type"].str.strip(), name="crime_type"),
        name="weight",
    )


def _lookup(
    crime_type: pd.Series, weights: pd.Series, fallback: float, stacklevel: int
) -> pd.Series:
    """Weight of each crime, with ``fallback`` and a warning for unlisted types."""
    harm = crime_type.map(weights)
    unknown = harm.isna()
    if unknown.any():
        counts = crime_type[unknown].value_counts(dropna=False)
        listed = ", ".join(f"{t!r} ({n})" for t, n in counts.head(10).items())
        warnings.warn(
            f"{int(unknown.sum())} crimes have a type without a harm weight: {listed}; "
            f"they get the fallback weight {fallback:g}. Add the types to the weight "
            "table to weigh them properly.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return harm.fillna(fallback).astype("float64").rename("harm")


def _weights_or_default(
    crimes: pd.DataFrame, weights: pd.Series | None, fallback: float
) -> pd.Series:
    """Check the inputs (all problems at once) and return ``weights`` or the default table."""
    problems = []
    if "crime_type" not in crimes.columns:
        problems.append("`crimes` lacks the column crime_type")
    if not (np.isfinite(fallback) and fallback >= 0):
        problems.append(f"`fallback` must be a non-negative number, got {fallback!r}")
    if weights is not None and (weights.index.has_duplicates or (weights < 0).any()):
        problems.append("`weights` must have one non-negative weight per crime type")
    if problems:
        msg = "; ".join(problems) + ". Use the canonical crime table and read_harm_weights()."
        raise InputDataError(msg)
    return read_harm_weights() if weights is None else weights


def assign_harm(
    crimes: pd.DataFrame,
    weights: pd.Series | None = None,
    *,
    fallback: float = DEFAULT_FALLBACK,
) -> pd.Series:
    """Return the harm weight of each crime from its ``crime_type``.

    Parameters
    ----------
    crimes
        Table with ``crime_type``.
    weights
        From :func:`read_harm_weights`; by default the packaged table.
    fallback
        Weight of a type the table does not list (default 1, the CCHI floor).

    Returns
    -------
    pandas.Series
        ``float64`` harm named ``harm``, indexed like ``crimes``.

    Raises
    ------
    InputDataError
        If ``crime_type`` is missing or ``weights``/``fallback`` are invalid.

    Warns
    -----
    UserWarning
        Naming the types that got the fallback weight, with their counts.

    Examples
    --------
    >>> assign_harm(pd.DataFrame({"crime_type": ["Robbery", "Shoplifting"]})).tolist()
    [365.0, 1.0]
    """
    table = _weights_or_default(crimes, weights, fallback)
    return _lookup(crimes["crime_type"], table, fallback, stacklevel=3)


def harm_by_segment(
    crimes: pd.DataFrame,
    weights: pd.Series | None = None,
    *,
    segments: gpd.GeoDataFrame | None = None,
    fallback: float = DEFAULT_FALLBACK,
) -> pd.DataFrame:
    """Sum the harm of the crimes snapped to each street segment.

    Parameters
    ----------
    crimes
        Crimes with ``crime_type`` and ``segment_id`` (missing where unsnapped).
    weights
        From :func:`read_harm_weights`; by default the packaged table.
    segments
        Optional: all segments. The result is then indexed like ``segments`` (like
        :func:`hotspots.analysis.rank.count_by_segment`), with zeros for segments without crime.
    fallback
        Weight of a type the table does not list (default 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``crimes`` (``int64``) and ``harm`` (``float64``, CCHI days): indexed like
        ``segments`` when given, else by ``segment_id`` (sorted; snapped crimes only).

    Raises
    ------
    InputDataError
        If ``crime_type`` or ``segment_id`` is missing, or ``weights``/``fallback`` are
        invalid.

    Warns
    -----
    UserWarning
        Naming the types that got the fallback weight.

    Examples
    --------
    >>> crimes = pd.DataFrame({"crime_type": ["Robbery", "Shoplifting", "Robbery"],
    ...                        "segment_id": ["a", "a", None]})
    >>> harm_by_segment(crimes).to_dict("index")
    {'a': {'crimes': 2, 'harm': 366.0}}
    """
    if "segment_id" not in crimes.columns:
        msg = (
            "`crimes` must have segment_id to be summed by segment; found none. Join "
            "hotspots.space.snap.snap_to_streets(crimes, segments) first."
        )
        raise InputDataError(msg)
    table = _weights_or_default(crimes, weights, fallback)
    snapped = crimes[crimes["segment_id"].notna()]
    harm = _lookup(snapped["crime_type"], table, fallback, stacklevel=3)
    key = snapped["segment_id"].astype(str).rename("segment_id")
    out = pd.DataFrame({"crimes": 1, "harm": harm}).groupby(key, sort=True).sum()
    if segments is not None:
        out = out.reindex(segments["segment_id"].astype(str).to_numpy(), fill_value=0)
        out.index = segments.index
    return out.astype({"crimes": "int64", "harm": "float64"})[HARM_COLUMNS]
