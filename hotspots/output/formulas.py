"""Spreadsheet formulas in text cells: made inert on the way out, restored on the way in."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["is_formula", "neutralise_formulas", "restore_formulas"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def is_formula(text: str) -> bool:
    """Return True if a spreadsheet would run ``text`` as a formula (plain numbers are not)."""
    return text.startswith(_FORMULA_START) and re.fullmatch(_NUMBER, text) is None


def _neutralise_text(s: pd.Series) -> pd.Series:
    """Prefix ``'`` to the text cells of ``s`` that start like a formula (not plain numbers)."""
    if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "mixed", "mixed-integer"):
        return s
    first = s.str.startswith(_FORMULA_START, na=False).astype(bool)
    if not first.any():
        return s
    bad = first & ~s.str.fullmatch(_NUMBER, na=False).astype(bool)
    out = s.astype(object).copy()
    out[bad] = "'" + s[bad].astype(str)
    return out


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with every text cell and header a spreadsheet would run as a formula inert.

    Parameters
    ----------
    df
        Any table.

    Returns
    -------
    pandas.DataFrame
        A shallow copy in which every text cell and column name starting with ``=``, ``+``,
        ``-``, ``@``, tab or carriage return is prefixed with a single quote (the OWASP
        CSV-injection rule), unless it is a plain number written as text (``-0.12``).
        Numbers are left alone; a cell neutralised once is not changed again.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"s": ["=HYPERLINK(1)", "-0.5"], "=1+1": [-1, 2]}))
    ... # doctest: +NORMALIZE_WHITESPACE
                   s  '=1+1
    0  '=HYPERLINK(1)     -1
    1           -0.5      2
    """
    out = df.copy(deep=False)
    for i, dtype in enumerate(df.dtypes):
        column = df.iloc[:, i]
        if isinstance(dtype, pd.CategoricalDtype):  # e.g. area names: text behind codes
            categories = pd.Series(dtype.categories)
            if _neutralise_text(categories) is categories:
                continue
            column = column.astype(object)
        if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
            fixed = _neutralise_text(column)
            if fixed is not column:
                out.isetitem(i, fixed)
    if any(isinstance(c, str) and is_formula(c) for c in df.columns):
        out.columns = [f"'{c}" if isinstance(c, str) and is_formula(c) else c for c in df.columns]
    return out


def restore_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with the quote that :func:`neutralise_formulas` adds taken off again.

    Examples
    --------
    >>> restore_formulas(pd.DataFrame({"s": ["'=HYPERLINK(1)", "'plain"], "'=1+1": [1, 2]}))
    ... # doctest: +NORMALIZE_WHITESPACE
                  s  =1+1
    0  =HYPERLINK(1)     1
    1        'plain      2
    """
    out = df.copy(deep=False)
    for i, dtype in enumerate(df.dtypes):
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            continue
        column = df.iloc[:, i]
        quoted = column.str.startswith("'", na=False).astype(bool)
        if not quoted.any():
            continue
        rest = column[quoted].str.slice(1)
        formula = rest.map(is_formula).astype(bool)
        if formula.any():
            fixed = column.astype(object).copy()
            fixed[rest[formula].index] = rest[formula]
            out.isetitem(i, fixed)
    if any(_is_quoted_formula(c) for c in df.columns):
        out.columns = [c[1:] if _is_quoted_formula(c) else c for c in df.columns]
    return out


def _is_quoted_formula(name: Any) -> bool:
    return isinstance(name, str) and name.startswith("'") and is_formula(name[1:])
