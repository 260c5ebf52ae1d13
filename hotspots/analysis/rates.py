"""Rates: crimes per 1,000 residents, per a second denominator and per km of street.

:func:`rate_table` makes the run's ``rates.csv``: every area (and borough) and crime group,
per year over the last 12 months, with a plain caveat where a rate per resident misleads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.analysis.groups import (
    WEAPONS,
    WEAPONS_CAVEAT,
    labelled_memberships,
    read_brief_weights,
)
from hotspots.errors import InputDataError
from hotspots.temporal.common import ALL_CRIME, month_numbers
from hotspots.temporal.counted import COUNT, weights

__all__ = [
    "CENTRE_CAVEAT",
    "CENTRE_FACTOR",
    "MIN_MEDIAN_SHARE",
    "MIN_STREET_SHARE",
    "NO_CRIME_CAVEAT",
    "PART_CAVEAT",
    "RATE_COLUMNS",
    "area_street_km",
    "rate_per_1000",
    "rate_table",
    "rates_for_run",
    "read_denominator",
    "split_denominator",
]

#: Columns of :func:`rate_table` (``rates.csv``).
RATE_COLUMNS: list[str] = [
    "level",
    "area_code",
    "area_name",
    "crime_group",
    "crimes",
    "months",
    "residents",
    "rate_per_1000",
    "denominator",
    "denominator_value",
    "rate_per_1000_denominator",
    "street_km",
    "rate_per_km",
    "caveat",
]
#: Caveat of an area with (almost) no crime in the months counted (left out of the extract).
NO_CRIME_CAVEAT = "little or no crime in the data here: the extract may leave this area out"
#: An area with under this share of the median area's crimes counts as left out of the data.
MIN_MEDIAN_SHARE = 0.05
#: Caveat of a borough only some of whose areas have crime in the data.
PART_CAVEAT = "rates over the {} of {} areas with crime in the data"
#: Caveat of places whose crime per resident is far above the median place's.
CENTRE_CAVEAT = "few residents for the crime here: city-centre rates per resident overstate risk"
#: A place's all-crime rate per resident above this multiple of the median gets the caveat.
CENTRE_FACTOR = 3.0
#: Share of an area's crimes snapped to a street for the streets layer to cover the area.
MIN_STREET_SHARE = 0.5


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


def read_denominator(path: str | Path, *, name: str) -> pd.Series:
    """Read a second denominator: one value per area code (like ``--population``).

    Parameters
    ----------
    path
        CSV with an area code column (``area_code``, else the first whose name ends in
        ``code`` or ``cd``) and one value column (the only other column, or the one called
        ``value`` or ``name``).
    name
        The denominator's name, e.g. ``"workday"`` (``--denominator workday=FILE``).

    Returns
    -------
    pandas.Series
        Values (float) indexed by area code, named ``name``.

    Raises
    ------
    InputDataError
        If the code or the value column cannot be told, or a value is not a number >= 0.
    """
    df = pd.read_csv(path, dtype=str)
    coded = [k for k in df.columns if k.lower().endswith(("code", "cd"))]
    code_col = "area_code" if "area_code" in df.columns else (coded or [None])[0]
    others = [k for k in df.columns if k != code_col]
    value_col = next((k for k in others if k.lower() in ("value", name.lower())), None)
    if value_col is None and len(others) == 1:
        value_col = others[0]
    if code_col is None or value_col is None:
        msg = (
            f"{Path(path).name}: --denominator {name} needs an area code column and one value "
            f"column (or one called 'value' or '{name}'); found {list(df.columns)}"
        )
        raise InputDataError(msg)
    values = pd.to_numeric(df[value_col].str.replace(",", ""), errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        msg = (
            f"{Path(path).name} row {row}: --denominator {name} value "
            f"{df[value_col].iloc[row - 2]!r} is not a number >= 0"
        )
        raise InputDataError(msg)
    return pd.Series(values.to_numpy(), index=df[code_col].astype(str), name=name)


def area_street_km(
    crimes: pd.DataFrame, segments: pd.DataFrame, *, min_share: float = MIN_STREET_SHARE
) -> pd.Series:
    """Return the km of street of each area the streets layer covers (NaN where it does not).

    Parameters
    ----------
    crimes
        Crimes with ``area_code`` and ``segment_id`` (missing where not snapped to a street).
    segments
        Street segments with ``area_code`` and ``length_m``.
    min_share
        An area is covered when at least this share of its crimes snapped to a street.

    Returns
    -------
    pandas.Series
        km (float, 3 dp) indexed by the area codes of ``crimes``, named ``street_km``; NaN
        for an area the streets layer does not cover (e.g. London wards outside the four
        boroughs of the OSM extract), never a partial length.
    """
    n = weights(crimes)  # a counted table's rows count several crimes each
    on_street = crimes["segment_id"].notna()
    if n is None:
        snapped = on_street.groupby(crimes["area_code"]).mean()
    else:
        area = crimes["area_code"]
        crimes_on = (on_street * n).groupby(area).sum()
        snapped = crimes_on / pd.Series(n, index=crimes.index).groupby(area).sum()
    km = segments.groupby("area_code")["length_m"].sum() / 1000
    km = km.reindex(snapped.index)
    return km.where(snapped >= min_share).round(3).rename("street_km")


def _group_table(
    crimes: pd.DataFrame, key: str, groups: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Return crimes per place (rows) and crime group (columns, all crime first)."""
    grouped = crimes.groupby([key, "crime_type"])
    sizes = grouped.size() if COUNT not in crimes.columns else grouped[COUNT].sum()
    by_type = sizes.unstack(fill_value=0)
    labels = sorted({g for t in by_type.columns for g in groups.get(str(t), ())})
    table = pd.DataFrame({ALL_CRIME: by_type.sum(axis=1)}, index=by_type.index)
    for label in labels:
        members = [t for t in by_type.columns if label in groups.get(str(t), ())]
        table[label] = by_type[members].sum(axis=1)
    return table


def _sum_all(values: pd.Series, parent: pd.Series) -> pd.Series:
    """Sum ``values`` (by area code) per parent, NaN where any of its areas lacks one."""
    frame = pd.DataFrame({"v": values.reindex(parent.index), "p": parent})
    return (
        frame.groupby("p")["v"].sum(min_count=1).where(frame["v"].notna().groupby(frame["p"]).all())
    )


def _text(values: pd.Series) -> pd.Series:
    """Return ``values`` as text with "" where missing (a map that found nothing is float)."""
    return values.astype(object).where(values.notna(), "")


def _level_rates(
    counts: pd.DataFrame,
    names: pd.Series,
    codes: pd.Series,
    per: dict[str, pd.Series | None],
    years: float,
) -> pd.DataFrame:
    """Return the rates rows of one level (places x groups) before caveats."""
    long = counts.stack().rename("crimes").reset_index()
    long.columns = ["_place", "crime_group", "crimes"]
    place = long["_place"]
    out = pd.DataFrame(
        {
            "area_code": _text(place.map(codes)),
            "area_name": _text(place.map(names)),
            "crime_group": long["crime_group"],
            "crimes": long["crimes"].astype("int64"),
        }
    )
    per_year = long["crimes"] / years
    for col, series in per.items():
        out[col] = place.map(series) if series is not None else np.nan
    out["rate_per_1000"] = (per_year / out["residents"].where(out["residents"] > 0) * 1000).round(2)
    value = out["denominator_value"]
    out["rate_per_1000_denominator"] = (per_year / value.where(value > 0) * 1000).round(2)
    out["rate_per_km"] = (per_year / out["street_km"].where(out["street_km"] > 0)).round(2)
    out["_place"] = place
    return out


def _caveats(
    rows: pd.DataFrame,
    group_caveats: Mapping[str, str],
    place_caveats: Mapping[str, str],
    factor: float,
) -> pd.Series:
    """Return each row's caveat: the place's (no crime, city centre), then the group's."""
    allc = rows[rows["crime_group"] == ALL_CRIME].set_index("_place")["rate_per_1000"]
    median = allc[allc > 0].median()
    centre = allc > factor * median if pd.notna(median) else allc > np.inf
    text = []
    for place, group in zip(rows["_place"], rows["crime_group"], strict=True):
        parts = [place_caveats[place]] if place in place_caveats else []
        parts += [CENTRE_CAVEAT] if bool(centre.get(place, False)) else []
        parts += [group_caveats[group]] if group in group_caveats else []
        text.append("; ".join(parts))
    return pd.Series(text, index=rows.index)


def _boroughs(
    areas: pd.DataFrame, counts: pd.DataFrame, per: Mapping[str, pd.Series | None]
) -> tuple[pd.DataFrame, pd.Series, pd.Series, dict[str, pd.Series | None], dict[str, str]]:
    """Return the borough level: counts, names, codes, denominators and caveats.

    Crimes and denominators are summed over the areas with crime in the data, so both
    sides of a rate cover the same ground; a borough only some of whose areas are in the
    data gets :data:`PART_CAVEAT`.
    """
    parent = areas.set_index("area_code")["borough"].astype(str)
    allc = counts[ALL_CRIME]
    present = counts.index[allc >= MIN_MEDIAN_SHARE * allc[allc > 0].median()]
    b_counts = counts.loc[present].groupby(parent.reindex(present)).sum()
    b_counts = b_counts.reindex(sorted(set(parent)), fill_value=0)
    b_per = {
        k: (_sum_all(v, parent.reindex(present)) if v is not None else None) for k, v in per.items()
    }
    names = pd.Series(b_counts.index, index=b_counts.index)
    codes = (
        areas.drop_duplicates("borough").set_index("borough")["borough_code"].astype(str)
        if "borough_code" in areas.columns
        else pd.Series(dtype=str)
    )
    n_all = parent.value_counts()
    n_with = parent.reindex(present).value_counts().reindex(n_all.index, fill_value=0)
    notes = {
        str(b): NO_CRIME_CAVEAT if n_with[b] == 0 else PART_CAVEAT.format(n_with[b], n_all[b])
        for b in n_all.index
        if n_with[b] < n_all[b]
    }
    return b_counts, names, codes, b_per, notes


def rate_table(
    crimes: pd.DataFrame,
    areas: pd.DataFrame,
    *,
    groups: Mapping[str, Sequence[str]],
    population: pd.Series | None = None,
    denominator: pd.Series | None = None,
    street_km: pd.Series | None = None,
    group_caveats: Mapping[str, str] | None = None,
    months: int = 12,
    centre_factor: float = CENTRE_FACTOR,
) -> pd.DataFrame:
    """Return the rates of every area (and borough) and crime group: ``rates.csv``.

    Parameters
    ----------
    crimes
        Crimes with ``month``, ``crime_type`` and ``area_code``.
    areas
        ``area_code``, ``area_name`` and, for a borough level, ``borough`` (and
        ``borough_code``).
    groups
        Crime type to the group labels it counts in (groups may overlap).
    population
        Residents per area code.
    denominator
        A second denominator per area code, named (e.g. workday population).
    street_km
        km of street per area code (:func:`area_street_km`; NaN where not covered).
    group_caveats
        Group label to a caveat shown on its rows (e.g. weapons: possession only).
    months
        Months counted: the last ``months`` months of the data, or all when fewer.
    centre_factor
        A place whose all-crime rate per resident exceeds this multiple of the median
        place's gets :data:`CENTRE_CAVEAT` on all its rows.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RATE_COLUMNS`, one row per level x place x crime group ("All crime"
        first, then the groups by label): areas by code, then boroughs by name.

    Notes
    -----
    Rates are per year: ``crimes / months x 12``, per 1,000 residents, per 1,000 of the
    second denominator, and per km of street. An area with under :data:`MIN_MEDIAN_SHARE`
    of the median area's crimes is taken as not in the data (an extract that leaves it out,
    its few crimes falling over the edge from next door): its rates are empty, with
    :data:`NO_CRIME_CAVEAT`. A borough's crimes, residents, denominator and km are the
    sums over its areas in the data (a denominator missing if one of them lacks a value),
    and the caveat says how many of its areas that is. Residents are the only people a resident rate
    counts: where many come in to work, shop or drink (a city centre) a rate per resident
    overstates the risk to each person there, hence :data:`CENTRE_CAVEAT`.
    """
    numbers = month_numbers(crimes["month"])
    last = int(numbers.max())
    start = max(int(numbers.min()), last - months + 1)
    years = (last - start + 1) / 12
    names = areas.set_index("area_code")["area_name"].astype(str)
    counts = _group_table(crimes[numbers >= start], "area_code", groups)
    counts = counts.reindex(names.index, fill_value=0)
    allc = counts[ALL_CRIME]
    absent = counts.index[allc < MIN_MEDIAN_SHARE * allc[allc > 0].median()]
    per = {
        k: (
            v.groupby(level=0).sum(min_count=1).drop(absent, errors="ignore")
            if v is not None
            else None
        )
        for k, v in {
            "residents": population,
            "denominator_value": denominator,
            "street_km": street_km,
        }.items()
    }
    codes = pd.Series(names.index, index=names.index)
    levels = [
        (
            "area",
            _level_rates(counts, names, codes, per, years),
            dict.fromkeys(absent, NO_CRIME_CAVEAT),
        )
    ]
    if "borough" in areas.columns:
        b_counts, b_names, b_codes, b_per, notes = _boroughs(areas, counts, per)
        levels.append(("borough", _level_rates(b_counts, b_names, b_codes, b_per, years), notes))
    parts = [
        rows.assign(
            level=level,
            months=last - start + 1,
            denominator=str(denominator.name) if denominator is not None else "",
            caveat=_caveats(rows, group_caveats or {}, notes, centre_factor),
        )
        for level, rows, notes in levels
    ]
    return pd.concat(parts, ignore_index=True)[RATE_COLUMNS]


def split_denominator(spec: str) -> tuple[str, Path]:
    """Return the name and file of a ``--denominator NAME=CSV`` option.

    Examples
    --------
    >>> split_denominator("workday=data/workday.csv")
    ('workday', PosixPath('data/workday.csv'))
    """
    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip():
        msg = f"--denominator must be NAME=CSV (e.g. workday=workday.csv); found {spec!r}"
        raise InputDataError(msg)
    return name.strip(), Path(path.strip())


def rates_for_run(
    crimes: pd.DataFrame,
    areas: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    population: pd.Series | None = None,
    denominator: str | None = None,
) -> pd.DataFrame:
    """Return a run's ``rates.csv``: :func:`rate_table` with the brief's groups and extras.

    Parameters
    ----------
    crimes
        The run's crimes (``area_code``, ``segment_id``, ``crime_type``, ``month``).
    areas
        The run's areas.
    segments
        The run's street segments (``area_code``, ``length_m``), for rates per km.
    population
        Residents per area code (``--population``).
    denominator
        ``NAME=CSV`` of a second denominator (``--denominator``).

    Returns
    -------
    pandas.DataFrame
        :data:`RATE_COLUMNS`; the weapons group carries
        :data:`~hotspots.analysis.groups.WEAPONS_CAVEAT`.
    """
    types = [str(t) for t in crimes["crime_type"].dropna().unique()]
    second = None
    if denominator:
        name, path = split_denominator(denominator)
        second = read_denominator(path, name=name)
    return rate_table(
        crimes,
        areas,
        groups=labelled_memberships(types, settings=read_brief_weights()),
        population=population,
        denominator=second,
        street_km=area_street_km(crimes, segments),
        group_caveats={WEAPONS: WEAPONS_CAVEAT},
    )
