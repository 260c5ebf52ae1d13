"""The "when" of each crime group at each place: hour-of-week profiles, patrol windows, peaks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hotspots.temporal.common import (
    NO_TIME_OF_DAY,
    factorize_sorted,
    has_time_of_day,
    memo_by_arrow,
    require_columns,
)
from hotspots.temporal.patrol import WINDOW_COLUMNS, patrol_windows
from hotspots.temporal.profiles import hour_day_profile, monthly_profile
from hotspots.temporal.seasons import peak_months

__all__ = [
    "GROUP_WINDOW_COLUMNS",
    "group_profiles",
    "group_window_texts",
    "group_windows",
    "place_group_codes",
    "place_group_index",
    "windows_of",
]

GROUP_WINDOW_COLUMNS: list[str] = ["crimes", *WINDOW_COLUMNS, "peak_months"]


def place_group_codes(
    crimes: pd.DataFrame, by: str, group_of: Mapping[str, str]
) -> tuple[np.ndarray, pd.Index, pd.Index]:
    """Return each crime's number ``place * len(groups) + group`` (-1: place or group unknown).

    Also returned: the places (sorted) and groups (sorted) that the numbers count in.
    """
    place, places = memo_by_arrow("groups", crimes[by], factorize_sorted)
    tcode, types = pd.factorize(crimes["crime_type"])  # per distinct type, not per crime
    of_type = [group_of.get(str(t)) for t in types]
    groups = sorted({g for g in of_type if g is not None})
    number = np.array([groups.index(g) if g is not None else -1 for g in of_type] + [-1])
    gcode = number[tcode]  # code -1 (a missing type) takes the last, -1
    key = place * max(len(groups), 1) + gcode  # a new array: numbered in place
    key[(place < 0) | (gcode < 0)] = -1
    return key.astype(np.int64, copy=False), pd.Index(places), pd.Index(groups)


def _place_group_key(
    crimes: pd.DataFrame, by: str, group_of: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.Index, pd.Index]:
    """Return the time columns of ``crimes`` with ``_pg``, one number per place and group.

    ``_pg`` is missing where the place or the group is unknown; also returned: the places and
    groups that the numbers ``place * len(groups) + group`` count in.
    """
    key, places, groups = place_group_codes(crimes, by, group_of)
    cols = [c for c in ("month", "occurred_from", "occurred_to", "has_time") if c in crimes]
    keyed = pd.DataFrame({c: crimes[c].array for c in cols}, index=crimes.index)
    keyed["_pg"] = pd.Series(key, index=crimes.index).where(key >= 0)
    return keyed, places, groups


def place_group_index(
    codes: pd.Index, places: pd.Index, groups: pd.Index, by: str
) -> pd.MultiIndex:
    """Return the (place, group) of each number ``place * len(groups) + group``."""
    numbers = codes.to_numpy(dtype=np.int64)
    width = max(len(groups), 1)
    return pd.MultiIndex.from_arrays(
        [places[numbers // width], groups[numbers % width]], names=[by, "group"]
    )


def group_profiles(crimes: pd.DataFrame, *, by: str, group_of: Mapping[str, str]) -> pd.DataFrame:
    """Return the hour-of-week profile of every crime group at every place.

    Parameters
    ----------
    crimes
        Crimes with ``crime_type``, the ``by`` column (missing: left out), ``occurred_from``,
        ``occurred_to`` and ``has_time``.
    by
        The place key.
    group_of
        Crime type to crime group; a type it lacks is left out.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``by``, ``"group"``) for the pairs with crime; columns
        :data:`HOUR_OF_WEEK_COLUMNS` (aoristic weights, :func:`hour_day_profile`).

    Raises
    ------
    InputDataError
        If no crime has a time of day (police.uk data).
    """
    require_columns(crimes, [by, "crime_type"], "group_profiles")
    keyed, places, groups = _place_group_key(crimes, by, group_of)
    profile = hour_day_profile(keyed, by="_pg", quiet=True)
    profile.index = place_group_index(profile.index, places, groups, by)
    return profile


def group_windows(
    crimes: pd.DataFrame,
    *,
    by: str,
    group_of: Mapping[str, str],
    exclude: Sequence[str] | None = None,
    share: float = 0.5,
    min_crimes: float = 5,
    profiles: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the patrol windows and peak months of every crime group at every place.

    Parameters
    ----------
    crimes
        Crimes with ``crime_type``, ``month``, the ``by`` column (missing: left out) and, for
        windows, ``occurred_from``, ``occurred_to`` and ``has_time``.
    by
        The place key, e.g. ``"place_key"`` or ``"area_code"``.
    group_of
        Crime type to crime group (e.g. from ``hotspots.brief.classify_crime_types``); a type
        it lacks is left out.
    exclude
        Months left out of the seasonality test (incomplete months).
    share, min_crimes
        As in :func:`patrol_windows`.
    profiles
        :func:`group_profiles` of the same crimes, if already made.

    Returns
    -------
    pandas.DataFrame
        One row per place and group with crime, indexed by (``by``, ``"group"``), columns
        :data:`GROUP_WINDOW_COLUMNS`: ``crimes`` (int64), ``patrol_window`` (text;
        :data:`NO_TIME_OF_DAY` for month-only data), ``window_share``, ``window_crimes`` and
        ``peak_months`` (:func:`peak_months`, tested over the place-group rows with at least
        ``min_crimes`` crimes together; empty for the others).

    Examples
    --------
    >>> crimes = pd.DataFrame({
    ...     "place": ["a"] * 6, "crime_type": ["Robbery"] * 5 + ["Shoplifting"],
    ...     "month": ["2024-01"] * 6,
    ...     "occurred_from": pd.to_datetime(["2024-01-05 22:10"] * 5 + ["2024-01-02 10:00"]),
    ...     "occurred_to": pd.to_datetime(["2024-01-05 22:20"] * 5 + ["2024-01-02 10:05"]),
    ...     "has_time": [True] * 6})
    >>> out = group_windows(crimes, by="place", group_of={"Robbery": "robbery",
    ...                                                   "Shoplifting": "theft"})
    >>> out["patrol_window"].tolist()
    ['Fri 22:00-23:00 (100%)', 'too few crimes to say (n = 1.0)']
    """
    require_columns(crimes, [by, "crime_type", "month"], "group_windows")
    keyed, places, groups = _place_group_key(crimes, by, group_of)
    monthly = monthly_profile(keyed, by="_pg", quiet=True)
    monthly.index = place_group_index(monthly.index, places, groups, by)
    if has_time_of_day(crimes) and profiles is None:
        profiles = group_profiles(crimes, by=by, group_of=group_of)
    return windows_of(
        monthly,
        profiles if has_time_of_day(crimes) else None,
        exclude=exclude,
        share=share,
        min_crimes=min_crimes,
    )


def windows_of(
    monthly: pd.DataFrame,
    profiles: pd.DataFrame | None,
    *,
    exclude: Sequence[str] | None = None,
    share: float = 0.5,
    min_crimes: float = 5,
) -> pd.DataFrame:
    """Return :func:`group_windows`'s table from the place-group counts instead of the crimes.

    Parameters
    ----------
    monthly
        Crimes per month of every (place, group) with crime (:func:`monthly_profile`,
        indexed by place and group).
    profiles
        Their hour-of-week weights (:func:`group_profiles`), None for data that gives the
        month only.
    exclude, share, min_crimes
        As in :func:`group_windows`.

    Returns
    -------
    pandas.DataFrame
        As :func:`group_windows` gives it.
    """
    out = pd.DataFrame(
        {"crimes": monthly.sum(axis=1).astype(np.int64).to_numpy()}, index=monthly.index
    )
    enough = (out["crimes"] >= min_crimes).to_numpy()  # tested: the rows that can say anything
    out["peak_months"] = ""
    out.loc[enough, "peak_months"] = peak_months(monthly[enough], exclude=exclude).to_numpy()
    if profiles is not None:
        profile = profiles.reindex(out.index, fill_value=0.0)
        out = out.join(patrol_windows(profile, share=share, min_crimes=min_crimes))
    else:
        out = out.assign(patrol_window=NO_TIME_OF_DAY, window_share=np.nan, window_crimes=np.nan)
    return out[GROUP_WINDOW_COLUMNS]


def group_window_texts(
    windows: pd.DataFrame, *, min_crimes: int = 5, month_only: str = NO_TIME_OF_DAY
) -> dict[str, dict[str, str]]:
    """Return, per place, the "when" of each crime group: for map popups and embedded data.

    Parameters
    ----------
    windows
        From :func:`group_windows` (indexed by place key and group).
    min_crimes
        Groups with fewer crimes at a place are left out.
    month_only
        Text for data that gives the month only, where no peak month stands out.

    Returns
    -------
    dict
        Place key to {group: text}: the patrol windows with their shares, or for month-only
        data the peak months ("peaks Jun, Jul") or ``month_only``.

    Examples
    --------
    >>> w = pd.DataFrame({"crimes": [9, 2], "patrol_window": ["Fri 22:00-23:00 (60%)", "x"],
    ...                   "peak_months": ["", ""]},
    ...                  index=pd.MultiIndex.from_tuples([("s0", "robbery"), ("s0", "theft")]))
    >>> group_window_texts(w)
    {'s0': {'robbery': 'Fri 22:00-23:00 (60%)'}}
    """
    out: dict[str, dict[str, str]] = {}
    kept = windows[windows["crimes"] >= min_crimes]
    for (place, group), window, peaks in zip(
        kept.index, kept["patrol_window"], kept["peak_months"], strict=True
    ):
        text = str(window)
        if text == NO_TIME_OF_DAY:
            text = f"peaks {peaks}" if isinstance(peaks, str) and peaks else month_only
        out.setdefault(str(place), {})[str(group)] = text
    return out
