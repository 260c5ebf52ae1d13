"""Crime groups and the settings of the briefs: weights, groups, selection rules.

The groups and default weights are documented in ``hotspots/brief_weights.toml``; a user file
of the same form replaces any part of them (:func:`read_brief_weights`).
:func:`classify_crime_types` puts each crime type in its group (or :data:`OTHER_GROUP`). Other
stages (maps, site, pipeline, backtest) read the groups from here, not from the briefs.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotspots.errors import InputDataError

__all__ = [
    "COMPONENTS",
    "OTHER_GROUP",
    "SERIOUS_ACQUISITIVE",
    "SERIOUS_ACQUISITIVE_GROUPS",
    "WEAPONS",
    "WEAPONS_CAVEAT",
    "WEAPON_TYPES",
    "BriefSettings",
    "classify_crime_types",
    "group_label",
    "group_memberships",
    "labelled_memberships",
    "read_brief_weights",
]

#: Score components, in the order the page shows them.
COMPONENTS: tuple[str, ...] = (
    "volume",
    "concentration",
    "persistence",
    "trend",
    "significance",
    "predictability",
)


#: Group of crime types that no group lists.
OTHER_GROUP = "other"
#: Extra group over the brief's (they overlap): burglary, robbery and vehicle crime together.
SERIOUS_ACQUISITIVE = "Serious acquisitive crime"
#: The brief's groups whose crime types make :data:`SERIOUS_ACQUISITIVE`.
SERIOUS_ACQUISITIVE_GROUPS: tuple[str, ...] = ("burglary", "robbery", "vehicle_crime")
#: Extra group of the weapons offences the data can tell: possession of weapons only.
WEAPONS = "Weapons (possession only)"
#: Crime types of :data:`WEAPONS` (police.uk; matched ignoring case).
WEAPON_TYPES: tuple[str, ...] = ("Possession of weapons",)
#: Shown wherever :data:`WEAPONS` is.
WEAPONS_CAVEAT = (
    "police.uk has no knife-crime flag: the weapons group is possession of weapons only"
)


_SELECTION = {
    "min_crimes": int,
    "max_priorities": int,
    "nearby_m": float,
    "max_per_place": int,
    "compare_months": int,
    "too_few": int,
    "skip_groups": list,
}
_BACKTEST = {"method": str, "coverage": float}


@dataclass(frozen=True)
class BriefSettings:
    """Weights, crime groups and selection rules of the briefs (see ``brief_weights.toml``)."""

    weights: Mapping[str, float]
    groups: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, str]
    min_crimes: int = 5
    max_priorities: int = 3
    nearby_m: float = 150.0
    max_per_place: int = 1
    compare_months: int = 3
    too_few: int = 10
    skip_groups: tuple[str, ...] = ()
    backtest_method: str = "hot_streets"
    backtest_coverage: float = 1.0
    source: str = "brief_weights.toml (default)"


def _default_settings_path() -> Path:
    return Path(str(importlib.resources.files("hotspots") / "brief_weights.toml"))


def _load_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        msg = (
            f"`weights` must be a TOML file like hotspots/brief_weights.toml; found no file "
            f"at {path}. Give an existing file or leave --weights out for the defaults."
        )
        raise InputDataError(msg)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        msg = (
            f"`weights` must be valid UTF-8 TOML; {path.name} is not ({err}). Fix the file "
            "(compare hotspots/brief_weights.toml)."
        )
        raise InputDataError(msg) from None


def _table_problems(name: str, table: Any, spec: Mapping[str, type]) -> list[str]:
    if not isinstance(table, dict):
        return [f"[{name}] is not a table"]
    problems = [f"[{name}] has an unknown key {k!r}" for k in table if k not in spec]
    for key, kind in spec.items():
        value = table.get(key)
        if key not in table or kind in (str, list):
            if key in table and not _is_text(value, many=kind is list):
                what = "a list of group names" if kind is list else "text"
                problems.append(f"[{name}] {key} must be {what}, found {value!r}")
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < 0
            or (kind is int and value != int(value))
        ):
            problems.append(
                f"[{name}] {key} must be a non-negative "
                f"{'whole ' if kind is int else ''}number, found {value!r}"
            )
    return problems


def _is_text(value: Any, *, many: bool) -> bool:
    if many:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _group_problems(groups: Any) -> list[str]:
    if not isinstance(groups, dict) or not groups:
        return ["[groups] must hold at least one [groups.<name>] table"]
    problems: list[str] = []
    seen: dict[str, str] = {}
    for key, spec in groups.items():
        types = spec.get("types") if isinstance(spec, dict) else None
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            problems.append(f"[groups.{key}] needs `types`, a list of crime type names")
            continue
        for t in types:
            if t in seen:
                problems.append(f"crime type {t!r} is in [groups.{seen[t]}] and [groups.{key}]")
            seen[t] = key
    return problems


def _settings_problems(merged: Mapping[str, Any]) -> list[str]:
    known = {"weights", "selection", "backtest", "groups"}
    problems = [f"unknown table [{k}]" for k in merged if k not in known]
    problems += _table_problems("weights", merged["weights"], dict.fromkeys(COMPONENTS, float))
    problems += _table_problems("selection", merged["selection"], _SELECTION)
    problems += _table_problems("backtest", merged["backtest"], _BACKTEST)
    problems += _group_problems(merged["groups"])
    weights = merged["weights"] if isinstance(merged["weights"], dict) else {}
    if not problems and not any(weights[k] > 0 for k in COMPONENTS if k != "predictability"):
        problems.append("every weight but predictability is 0")
    return problems


def read_brief_weights(path: str | Path | None = None) -> BriefSettings:
    """Read the score weights, crime groups and selection rules of the briefs.

    Parameters
    ----------
    path
        A TOML file of the form of ``hotspots/brief_weights.toml``. Tables it gives
        (``[weights]``, ``[selection]``, ``[backtest]``) override the defaults key by key;
        a ``[groups]`` table replaces the default groups as a whole. None: the defaults.

    Returns
    -------
    BriefSettings
        The merged settings.

    Raises
    ------
    InputDataError
        If the file is missing, not TOML, or has unknown keys, negative or non-numeric
        weights, or a crime type in two groups (all problems listed).

    Examples
    --------
    >>> s = read_brief_weights()
    >>> s.weights["volume"], s.max_priorities, s.labels["robbery"]
    (0.3, 3, 'Robbery')
    """
    merged = _load_toml(_default_settings_path())
    source = "brief_weights.toml (default)"
    if path is not None:
        user = _load_toml(Path(path))
        for key, value in user.items():
            merged[key] = (
                {**merged[key], **value}
                if key in ("weights", "selection", "backtest") and isinstance(value, dict)
                else value
            )
        source = Path(path).name
    problems = _settings_problems(merged)
    if problems:
        msg = (
            f"brief weights ({source}) must follow hotspots/brief_weights.toml; found "
            f"{'; '.join(problems)}. Fix the file or leave --weights out for the defaults."
        )
        raise InputDataError(msg)
    return _settings_from(merged, source)


def _settings_from(merged: Mapping[str, Any], source: str) -> BriefSettings:
    groups = {k: tuple(v["types"]) for k, v in merged["groups"].items()}
    labels = {
        k: str(v.get("label", k.replace("_", " ").capitalize()))
        for k, v in merged["groups"].items()
    }
    labels.setdefault(OTHER_GROUP, "Other crime")
    sel: dict[str, Any] = {
        k: (tuple(v) if k == "skip_groups" else _SELECTION[k](v))
        for k, v in merged["selection"].items()
    }
    return BriefSettings(
        weights={k: float(merged["weights"][k]) for k in COMPONENTS},
        groups=groups,
        labels=labels,
        backtest_method=str(merged["backtest"]["method"]),
        backtest_coverage=float(merged["backtest"]["coverage"]),
        source=source,
        **sel,
    )


def classify_crime_types(types: Iterable[str], *, settings: BriefSettings) -> dict[str, str]:
    """Return the crime group of each crime type.

    Parameters
    ----------
    types
        Crime type names as in the data (police.uk categories, VPD ``TYPE`` values...).
    settings
        From :func:`read_brief_weights`; its ``groups`` list the types of each group.

    Returns
    -------
    dict
        Type name to group key. Matching ignores case and outer spaces; a type no group
        lists goes to ``"other"``.

    Examples
    --------
    >>> s = read_brief_weights()
    >>> classify_crime_types(["Shoplifting", "Theft of Vehicle", "Fraud"], settings=s)
    {'Shoplifting': 'theft', 'Theft of Vehicle': 'vehicle_crime', 'Fraud': 'other'}
    """
    folded = {t.strip().casefold(): g for g, ts in settings.groups.items() for t in ts}
    return {t: folded.get(t.strip().casefold(), OTHER_GROUP) for t in types}


def group_memberships(types: Iterable[str], *, settings: BriefSettings) -> dict[str, list[str]]:
    """Return every crime group each crime type counts in: the brief's group first.

    Parameters
    ----------
    types
        Crime type names as in the data.
    settings
        From :func:`read_brief_weights`.

    Returns
    -------
    dict
        Type name to group keys: its group of :func:`classify_crime_types`, then
        :data:`SERIOUS_ACQUISITIVE` for the types of :data:`SERIOUS_ACQUISITIVE_GROUPS` and
        :data:`WEAPONS` for :data:`WEAPON_TYPES` (these two groups overlap the brief's).

    Examples
    --------
    >>> s = read_brief_weights()
    >>> group_memberships(["Burglary", "Possession of weapons", "Shoplifting"], settings=s)
    {'Burglary': ['burglary', 'Serious acquisitive crime'], \
'Possession of weapons': ['drugs_weapons', 'Weapons (possession only)'], \
'Shoplifting': ['theft']}
    """
    weapons = {w.casefold() for w in WEAPON_TYPES}
    out = {}
    for crime_type, group in classify_crime_types(types, settings=settings).items():
        extra = [SERIOUS_ACQUISITIVE] * (group in SERIOUS_ACQUISITIVE_GROUPS)
        extra += [WEAPONS] * (crime_type.strip().casefold() in weapons)
        out[crime_type] = [group, *extra]
    return out


def group_label(group: str, *, settings: BriefSettings) -> str:
    """Return a group key's label ("Violence and sexual offences"); extra groups are their own.

    Examples
    --------
    >>> s = read_brief_weights()
    >>> group_label("violence", settings=s), group_label(SERIOUS_ACQUISITIVE, settings=s)
    ('Violence and sexual offences', 'Serious acquisitive crime')
    """
    return str(settings.labels.get(group, group))


def labelled_memberships(types: Iterable[str], *, settings: BriefSettings) -> dict[str, list[str]]:
    """Return :func:`group_memberships` with each group's label instead of its key.

    Examples
    --------
    >>> labelled_memberships(["Robbery"], settings=read_brief_weights())
    {'Robbery': ['Robbery', 'Serious acquisitive crime']}
    """
    return {
        t: [group_label(g, settings=settings) for g in groups]
        for t, groups in group_memberships(types, settings=settings).items()
    }
