"""Repeat callers and victims at the same location, counted without keeping who they are.

Internal extracts (command-and-control calls, crime records) may carry a caller or victim
reference. A mapping names that column as ``caller``; the reader replaces each reference by a
keyed hash (:func:`pseudonymise`) whose key is random per run and never stored, so the
reference itself never reaches memory past the reader, and no output holds either.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import pandas as pd

from hotspots.errors import InputDataError

__all__ = [
    "REPEAT_CALLER_COLUMNS",
    "count_repeat_callers",
    "place_of",
    "pseudonymise",
]

#: Columns of :func:`count_repeat_callers`.
REPEAT_CALLER_COLUMNS: list[str] = [
    "place",
    "calls",
    "callers",
    "repeat_callers_24h",
    "repeat_callers_6m",
    "repeat_callers_all",
]


def pseudonymise(refs: pd.Series, *, key: bytes | None = None) -> pd.Series:
    """Return a keyed hash of each caller/victim reference (missing stays missing).

    Parameters
    ----------
    refs
        References as text.
    key
        Hash key; a fresh random key by default, so hashes cannot be matched across runs.

    Returns
    -------
    pandas.Series
        16-hex-digit tokens, equal for equal references within the call.
    """
    salt = key if key is not None else secrets.token_bytes(16)
    text = refs.astype("string").str.strip()
    uniq = text.dropna().unique()
    table = {r: hashlib.blake2b(str(r).encode(), key=salt, digest_size=8).hexdigest() for r in uniq}
    return text.map(table).astype("string")


def count_repeat_callers(
    crimes: pd.DataFrame, *, place: str = "place", as_of: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Count callers who called about the same place more than once, in 24 hours and 6 months.

    Parameters
    ----------
    crimes
        Records with ``caller_ref`` (pseudonymised), ``occurred_from`` and the ``place`` column
        (e.g. a street segment id, or a rounded point).
    place
        Column naming the place.
    as_of
        The moment "last 24 hours" and "last 6 months" end; the latest record by default.

    Returns
    -------
    pandas.DataFrame
        :data:`REPEAT_CALLER_COLUMNS`, one row per place with calls, sorted by
        ``repeat_callers_6m`` then ``calls`` (descending). No reference is included.

    Raises
    ------
    InputDataError
        If ``crimes`` has no ``caller_ref`` column.

    Notes
    -----
    Formally: a caller is a repeat caller at a place in a window if two or more of their
    records at that place start within the window; the windows are (as_of - 24 h, as_of] and
    (as_of - 6 months, as_of]; ``repeat_callers_all`` uses the whole extract.
    """
    if "caller_ref" not in crimes.columns:
        msg = (
            "`crimes` has no caller_ref: name the caller or victim column as `caller` in "
            "the mapping"
        )
        raise InputDataError(msg)
    df = crimes[[place, "caller_ref", "occurred_from"]].dropna()
    end = pd.Timestamp(as_of) if as_of is not None else df["occurred_from"].max()
    out = df.groupby(place).agg(calls=("caller_ref", "size"), callers=("caller_ref", "nunique"))
    for name, start in (
        ("repeat_callers_24h", end - pd.Timedelta(hours=24)),
        ("repeat_callers_6m", end - pd.DateOffset(months=6)),
        ("repeat_callers_all", None),
    ):
        window = df
        if start is not None:
            window = df[(df["occurred_from"] > start) & (df["occurred_from"] <= end)]
        per = window.groupby([place, "caller_ref"]).size()
        out[name] = (per >= 2).groupby(level=0).sum().reindex(out.index, fill_value=0)
    out = out.astype("int64").reset_index().rename(columns={place: "place"})
    out = out.sort_values(
        ["repeat_callers_6m", "calls", "place"], ascending=[False, False, True], kind="stable"
    )
    return out[REPEAT_CALLER_COLUMNS].reset_index(drop=True)


def place_of(crimes: pd.DataFrame, *, grid_m: float = 10.0) -> pd.Series:
    """Return a place per record: its street segment, else its point rounded to ``grid_m``."""
    point = (
        "pt "
        + (np.round(crimes["x"] / grid_m) * grid_m).astype(int).astype(str)
        + " "
        + (np.round(crimes["y"] / grid_m) * grid_m).astype(int).astype(str)
    )
    seg = crimes["segment_id"] if "segment_id" in crimes else pd.Series(pd.NA, index=crimes.index)
    return seg.astype("string").fillna(point)
