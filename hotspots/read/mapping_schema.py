"""The schema of a TOML column mapping (``--format my_mapping.toml``), checked before any data.

A mapping is read only if every key is known and every value has the right type: an unknown
or misspelt key is reported with the nearest valid name, a wrong type with the type wanted,
each problem naming its key, all problems at once.
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = [
    "COLUMN_KEYS",
    "FORMAT_KEYS",
    "RULES",
    "TOP_LEVEL",
    "mapping_problems",
]

#: Top-level keys: what each holds.
TOP_LEVEL: dict[str, str] = {
    "name": "text",
    "description": "text",
    "crs": "text",
    "project_to": "text",
    "columns": "table",
    "rules": "table",
}

#: ``[columns]`` keys naming a column of the file (all text).
COLUMN_KEYS: tuple[str, ...] = (
    "x",
    "y",
    "lon",
    "lat",
    "geometry",
    "date",
    "datetime",
    "from",
    "to",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "crime_type",
    "id",
    "location",
    "force",
    "caller",
)
#: ``[columns]`` keys giving strptime formats of date columns (all text).
FORMAT_KEYS: tuple[str, ...] = (
    "date_format",
    "datetime_format",
    "from_format",
    "to_format",
    "month_format",
)
#: ``[rules]`` keys: what each holds.
RULES: dict[str, str] = {
    "zero_xy_is_privacy_offset": "true or false",
    "privacy_locations": "a list of text",
    "midnight_means_unknown_time": "true or false",
}

_CHECKS: dict[str, Any] = {
    "text": lambda v: isinstance(v, str),
    "table": lambda v: isinstance(v, dict),
    "true or false": lambda v: isinstance(v, bool),
    "a list of text": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
}


def mapping_problems(doc: dict[str, Any]) -> list[str]:
    """Return every way a parsed mapping breaks the schema (empty if it is valid).

    Parameters
    ----------
    doc
        The mapping file parsed by :mod:`tomllib`.

    Returns
    -------
    list of str
        One line per problem, naming the key (``[columns] month``): the top-level keys
        first, then ``[columns]``, then ``[rules]``.

    Examples
    --------
    >>> mapping_problems({"columns": {"x": "X", "y": "Y", "mnth": "M"}, "crs": 26910})
    ['crs must be text; found 26910', "[columns] unknown key 'mnth' (did you mean 'month'?)"]
    >>> mapping_problems({"columns": {"lon": "a", "lat": "b", "month": ["Month"]}})
    ["[columns] month must be text (a column name); found ['Month']"]
    """
    problems: list[str] = []
    for key, value in doc.items():
        kind = TOP_LEVEL.get(key)
        if kind is None:
            problems.append(_unknown("", key, TOP_LEVEL))
        elif not _CHECKS[kind](value):
            problems.append(f"{key} must be {_article(kind)}; found {_show(value)}")
    columns = doc.get("columns", {})
    if isinstance(columns, dict):
        valid = (*COLUMN_KEYS, *FORMAT_KEYS)
        for key, value in columns.items():
            if key not in valid:
                problems.append(_unknown("[columns] ", key, valid))
            elif not isinstance(value, str) or not value.strip():
                what = "a column name" if key in COLUMN_KEYS else "a strptime format"
                problems.append(f"[columns] {key} must be text ({what}); found {_show(value)}")
    rules = doc.get("rules", {})
    if isinstance(rules, dict):
        for key, value in rules.items():
            kind = RULES.get(key)
            if kind is None:
                problems.append(_unknown("[rules] ", key, RULES))
            elif not _CHECKS[kind](value):
                problems.append(f"[rules] {key} must be {kind}; found {_show(value)}")
    return problems


def _unknown(where: str, key: str, valid: Any) -> str:
    near = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(valid)}"
    return f"{where}unknown key {key!r} ({hint})"


def _article(kind: str) -> str:
    return {"text": "text", "table": "a table ([...])"}.get(kind, kind)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
