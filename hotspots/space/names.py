"""Street names: clean police.uk and VPD location text, name segments, measure agreement."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "POLICE_UK_POI",
    "location_to_street",
    "most_named",
    "name_agreement",
    "name_from_records",
    "normalise_name",
    "prepare_streets",
    "sorted_codes",
    "text_codes",
]

#: police.uk anonymised locations that are points of interest, not streets.
POLICE_UK_POI: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        "Supermarket",
        "Parking Area",
        "Petrol Station",
        "Shopping Area",
        "Nightclub",
        "Sports/Recreation Area",
        "Pedestrian Subway",
        "Further/Higher Educational Building",
        "Theatre/Concert Hall",
        "Hospital",
        "Police Station",
        "Conference/Exhibition Centre",
        "Bus/Coach Station",
        "Airport/Airfield",
        "Motorway Service Area",
        "Race Track",
        "Prison",
        "Theme/Adventure Park",
        "Park/Open Space",
        "Place Of Worship",
        "Hotel/Motel",
    )
)
_STATION = re.compile(r"\((?:station|lu station|dlr|tram stop|overground|rail station)\)\s*$", re.I)
_BLOCK = re.compile(r"^\s*\d+X*\s+", re.I)
_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


#: The categories of the last categorical location column and their streets: a run asks for
#: the streets of one table's locations several times (naming, places, clusters).
_LAST_STREETS: list[Any] = []
#: Held while the streets of a categorical column's categories are worked out, so a call
#: waits for the same work begun in another thread (:func:`prepare_streets`).
_STREETS_LOCK = threading.Lock()


def location_to_street(location: pd.Series) -> pd.Series:
    """Return the street named by each location text, or missing for places that are not streets.

    Parameters
    ----------
    location
        police.uk ``Location`` ("On or near Camden High Street") or VPD ``HUNDRED_BLOCK``
        ("10XX GRANVILLE ST") text.

    Returns
    -------
    pandas.Series
        "Camden High Street", "Granville St"; missing for police.uk points of interest
        ("On or near Supermarket", stations), VPD intersections ("A ST / B AVE"), privacy
        placeholders and empty text.

    Examples
    --------
    >>> location_to_street(pd.Series(["On or near Kingsway", "On or near Supermarket",
    ...                               "10XX GRANVILLE ST", "W 4TH AVE / BURRARD ST",
    ...                               "X NK_LOC ST"])).tolist()
    ['Kingsway', <NA>, 'Granville St', <NA>, <NA>]
    """
    codes, uniques = text_codes(location)
    if not isinstance(location.dtype, pd.CategoricalDtype):
        streets = _streets_of(uniques)
    else:
        with _STREETS_LOCK:
            cats = location.cat.categories
            if _LAST_STREETS and _LAST_STREETS[0] is cats:
                streets = _LAST_STREETS[1]  # the same categories as the last call (a run's)
            else:
                streets = _streets_of(uniques)
                _LAST_STREETS[:] = [cats, streets]
    return pd.Series(streets.array.take(codes), index=location.index, dtype="string")


def prepare_streets(location: pd.Series) -> None:
    """Work out the streets of a categorical location column's categories ahead of use.

    Meant for a thread beside other work (Arrow's string kernels run without the GIL): a
    later :func:`location_to_street` of the same column takes them, or waits for them.

    Parameters
    ----------
    location
        Location text; only a categorical column's categories are worked out.
    """
    if isinstance(location.dtype, pd.CategoricalDtype):
        location_to_street(location.iloc[:0])


def text_codes(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Return a code per row and the distinct texts, missing read as "".

    A categorical column gives its own codes (no text is copied per row); other columns are
    factorised.

    Parameters
    ----------
    text
        Text, categorical or not.

    Returns
    -------
    codes, uniques
        ``uniques.iloc[codes]`` equals ``text.fillna("").astype(str)``; ``uniques`` is an
        object Series.

    Examples
    --------
    >>> codes, uniques = text_codes(pd.Series(["b", None, "b"], dtype="category"))
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0], ['b', ''])
    """
    if isinstance(text.dtype, pd.CategoricalDtype):
        cats = text.cat.categories
        codes = text.cat.codes.to_numpy().astype(np.int64)
        codes[codes < 0] = len(cats)
        last = _LAST_TEXTS
        if last and last[0] is cats:  # the same categories as the last call (a run's)
            return codes, pd.Series(last[1], dtype=object)
        if isinstance(cats.dtype, pd.StringDtype) or (
            cats.dtype == object and all(isinstance(c, str) for c in cats)
        ):  # text already: taken whole from the index, not cell by cell
            words = cats.to_numpy(dtype=object, na_value="")
        else:
            words = np.array([str(c) for c in cats], dtype=object)
        words = np.append(words, "")
        _remember_texts(cats, words)
        return codes, pd.Series(words, dtype=object)
    codes, found = pd.factorize(text.fillna("").astype(str), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64), pd.Series(np.asarray(found, dtype=object))


#: The categories of the last categorical text column :func:`text_codes` was given, and
#: their texts (with "" for missing, last): a run asks for the same column's several times.
_LAST_TEXTS: tuple[Any, np.ndarray] | tuple[()] = ()


def _remember_texts(cats: pd.Index, words: np.ndarray) -> None:
    """Keep ``words`` as the texts of ``cats`` for the next :func:`text_codes` call."""
    global _LAST_TEXTS  # noqa: PLW0603 (one binding swapped whole: safe across threads)
    _LAST_TEXTS = (cats, words)


def _streets_of(location: pd.Series) -> pd.Series:
    """Return the street of each distinct location text (see :func:`location_to_street`).

    Text of printable ASCII characters only (all police.uk and VPD locations) is worked out
    by Arrow's string kernels, whose white space, case and regular expressions (RE2) agree
    with Python's on those characters; any other text by pandas' string methods.
    """
    return _by_kernels(location.fillna("").astype(str), _plain_streets, _any_streets)


def _by_kernels(
    text: pd.Series,
    plain_fn: Callable[[pa.Array], pa.Array],
    any_fn: Callable[[pd.Series], pd.Series],
) -> pd.Series:
    """Return ``plain_fn`` of the texts of printable ASCII only, ``any_fn`` of the others.

    ``plain_fn`` works on Arrow text (its kernels agree with Python's string methods on
    those characters), ``any_fn`` on pandas text; the result is pandas text on ``text``'s
    index.
    """
    words = pa.array(text.to_numpy(dtype=object), type=pa.string())
    plain = pc.invert(pc.match_substring_regex(words, _NOT_PLAIN)).to_numpy(zero_copy_only=False)
    if plain.all():
        return pd.Series(plain_fn(words), index=text.index, dtype="string")
    out = pd.Series(pd.NA, index=text.index, dtype="string")
    out[plain] = pd.Series(plain_fn(words.filter(pa.array(plain))), dtype="string").array
    out[~plain] = any_fn(text[~plain]).array
    return out


#: Any character but printable ASCII (for RE2).
_NOT_PLAIN = r"[^\x20-\x7E]"
#: :data:`_STATION`, :data:`_BLOCK` and the leading "On or near" in RE2 syntax.
_STATION_RE2 = r"(?i)\((?:station|lu station|dlr|tram stop|overground|rail station)\)\s*$"
_BLOCK_RE2 = r"(?i)^\s*\d+X*\s+"
_ON_OR_NEAR_RE2 = r"(?i)^On or near\s+"


def _plain_streets(words: pa.Array) -> pa.Array:
    """Return :func:`_any_streets` of printable ASCII texts, by Arrow's kernels."""
    text = pc.utf8_trim_whitespace(words)
    text = pc.replace_substring_regex(text, _ON_OR_NEAR_RE2, "")
    poi = pc.or_(
        pc.is_in(pc.utf8_lower(text), value_set=pa.array(sorted(POLICE_UK_POI))),
        pc.match_substring_regex(text, _STATION_RE2),
    )
    junction = pc.and_(pc.match_substring(text, " / "), pc.invert(poi))
    vpd = pc.match_substring_regex(text, _BLOCK_RE2)
    if pc.any(vpd).as_py():  # hundred blocks ("10XX GRANVILLE ST"): title case after
        titled = pc.utf8_title(pc.replace_substring_regex(text, _BLOCK_RE2, ""))
        # compass prefixes stay upper case; "4Th" -> "4th" (each only where it occurs)
        compass = [(rf"\b{word}\b", word.upper()) for word in ("Ne", "Nw", "Se", "Sw")]
        titled = _replaced_where(titled, r"\b(?:Ne|Nw|Se|Sw)\b", compass)
        ordinal = [(rf"(\d){end}\b", rf"\1{end.lower()}") for end in ("St", "Nd", "Rd", "Th")]
        titled = _replaced_where(titled, r"\d(?:St|Nd|Rd|Th)\b", ordinal)
        text = pc.if_else(vpd, titled, text)
    upper = pc.utf8_upper(text)
    unknown = pc.or_(pc.starts_with(upper, "OFFSET"), pc.match_substring(upper, "NK_LOC"))
    bad = pc.or_(pc.or_(poi, junction), pc.or_(pc.equal(text, ""), unknown))
    return pc.if_else(bad, pa.scalar(None, pa.string()), text)


def _replaced_where(text: pa.Array, found: str, replacements: list[tuple[str, str]]) -> pa.Array:
    """Return ``text`` with each (pattern, replacement) applied in turn (RE2).

    Only the texts matching ``found`` are worked on: every text a pattern changes matches it.
    """
    on = pc.match_substring_regex(text, found)
    if not pc.any(on).as_py():
        return text
    part = text.filter(on)
    for pattern, replacement in replacements:
        part = pc.replace_substring_regex(part, pattern, replacement)
    return pc.replace_with_mask(text, on, part)


def _any_streets(location: pd.Series) -> pd.Series:
    """Return the street of each location text, by pandas' string methods (any text)."""
    text = location.fillna("").astype(str).str.strip()
    text = text.str.replace(r"^On or near\s+", "", regex=True, case=False)
    poi = text.str.casefold().isin(POLICE_UK_POI) | text.str.contains(_STATION)
    junction = text.str.contains(" / ", regex=False) & ~poi
    vpd = text.str.match(_BLOCK).to_numpy(dtype=bool)
    if vpd.any():  # hundred blocks only ("10XX GRANVILLE ST"): police.uk text has few
        text = text.copy()
        text[vpd] = _title_case(text[vpd].str.replace(_BLOCK, "", regex=True))
    upper = text.str.upper()
    # VPD placeholders: "OFFSET TO PROTECT PRIVACY", "X NK_LOC ST" (location not known)
    unknown = upper.str.startswith("OFFSET") | upper.str.contains("NK_LOC")
    bad = poi | junction | (text == "") | unknown
    return text.where(~bad).astype("string")


_DIRECTIONS = re.compile(r"\b(Ne|Nw|Se|Sw)\b")
_ORDINAL = re.compile(r"(\d)(St|Nd|Rd|Th)\b")


def _title_case(text: pd.Series) -> pd.Series:
    """Title case that keeps compass prefixes upper case ("SE MARINE DR" -> "SE Marine Dr")."""
    titled = text.str.title().str.replace(_DIRECTIONS, lambda m: m.group(1).upper(), regex=True)
    return titled.str.replace(_ORDINAL, lambda m: m.group(1) + m.group(2).lower(), regex=True)


def normalise_name(name: pd.Series) -> pd.Series:
    """Return names folded for comparison: lower case, no punctuation, single spaces.

    Parameters
    ----------
    name
        Street names.

    Returns
    -------
    pandas.Series
        Folded names (missing stays missing).
    """
    codes, uniques = pd.factorize(name.astype("string"))  # each distinct name folded once
    folded = _folded(pd.Series(uniques, dtype="string"))
    return pd.Series(folded.array.take(codes, allow_fill=True), index=name.index, dtype="string")


def _folded(name: pd.Series) -> pd.Series:
    """Return :func:`normalise_name` of distinct names (no missing value).

    Names of printable ASCII characters only are folded by Arrow's kernels (lower case,
    and of white space only the space), any other name by pandas' string methods.
    """
    return _by_kernels(name, _plain_folded, _any_folded)


def _plain_folded(words: pa.Array) -> pa.Array:
    """Return :func:`_any_folded` of printable ASCII names, by Arrow's kernels."""
    text = pc.replace_substring_regex(pc.utf8_lower(words), r"[^a-z0-9_ ]", "")
    return pc.utf8_trim(pc.replace_substring_regex(text, r" +", " "), " ")


def _any_folded(name: pd.Series) -> pd.Series:
    """Return names folded by pandas' string methods (any text)."""
    s = name.astype("string").str.casefold().str.replace(_PUNCT, "", regex=True)
    return s.str.replace(_SPACE, " ", regex=True).str.strip()


def name_from_records(
    segment_id: pd.Series, street: pd.Series, *, weights: pd.Series | None = None
) -> pd.Series:
    """Return, per segment, the street named most often by the records snapped to it.

    Parameters
    ----------
    segment_id
        Snapped segment of each record (missing where unsnapped).
    street
        Street from :func:`location_to_street` of each record.
    weights
        Records each row stands for (default one): distinct (segment, street) rows with
        their counts give the result of the records themselves.

    Returns
    -------
    pandas.Series
        Indexed by segment id. Ties go to the alphabetically first name, so the result does
        not depend on row order.
    """
    n = 1 if weights is None else weights.to_numpy()
    if np.asarray(n).dtype.kind in "iu":  # whole numbers: summed exactly by codes
        return _name_from_codes(segment_id, street, np.broadcast_to(n, len(segment_id)))
    df = pd.DataFrame({"segment_id": segment_id, "street": street, "n": n}).dropna()
    if df.empty:
        return pd.Series(dtype="string", name="street_name")
    counts = df.groupby(["segment_id", "street"], sort=True)["n"].sum().reset_index()
    counts = counts.sort_values(
        ["segment_id", "n", "street"], ascending=[True, False, True], kind="stable"
    )
    best = counts.drop_duplicates("segment_id").set_index("segment_id")["street"]
    return best.astype("string").rename("street_name")


def _name_from_codes(segment_id: pd.Series, street: pd.Series, n: np.ndarray) -> pd.Series:
    """:func:`name_from_records` with whole-number weights ``n``, by integer codes."""
    if isinstance(segment_id.dtype, pd.CategoricalDtype):  # in its categories' order
        seg = np.asarray(segment_id.cat.codes.to_numpy(), dtype=np.int64)
        ids: Any = segment_id.cat.categories
    else:
        seg, ids = sorted_codes(segment_id)
    codes, found = most_named(seg, street, n)
    if not len(codes):
        return pd.Series(dtype="string", name="street_name")
    if isinstance(segment_id.dtype, pd.CategoricalDtype):
        index = pd.CategoricalIndex(
            pd.Categorical.from_codes(codes, dtype=segment_id.dtype), name="segment_id"
        )
    else:
        index = pd.Index(ids[codes], name="segment_id")
    return pd.Series(found, index=index, dtype="string", name="street_name")


def most_named(seg: np.ndarray, street: pd.Series, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the street named most often per segment code, as :func:`name_from_records`.

    Parameters
    ----------
    seg
        Segment code of each row (-1: none).
    street
        Street of each row (missing: none).
    n
        Records each row stands for (whole numbers).

    Returns
    -------
    codes, names
        The segment codes with a named row, ascending, and the street of each (ties go to
        the alphabetically first name).
    """
    name, streets = sorted_codes(street)
    ok = (seg >= 0) & (name >= 0)
    if not ok.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    width = len(streets)
    key = seg[ok].astype(np.int64) * width + name[ok]
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    # the records of each (segment, street), by segment then street (exact whole numbers)
    total = np.add.reduceat(
        np.broadcast_to(np.asarray(n, dtype=np.int64), len(seg))[ok][order], starts
    )
    pairs = key[starts]
    s, t = pairs // width, pairs % width
    # per segment the most records, ties to the alphabetically first name (the first
    # pair of the segment with its most)
    first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    most = np.repeat(np.maximum.reduceat(total, first), np.diff(np.r_[first, len(s)]))
    top = np.flatnonzero(total == most)
    top = top[np.r_[True, s[top][1:] != s[top][:-1]]]
    return s[top], streets[t[top]]


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return a code per value (-1 for missing) and the distinct values, sorted.

    Text sorts as Python compares it (by code point): by Arrow on its UTF-8 bytes, whose
    order is the code points', where it encodes; other values as ``pd.factorize`` sorts.

    Examples
    --------
    >>> codes, uniques = sorted_codes(pd.Series(["b", None, "a", "b"]))
    >>> codes.tolist(), uniques.tolist()
    ([1, -1, 0, 1], ['a', 'b'])
    >>> sorted_codes(pd.Series([None, None]))[0].tolist()
    [-1, -1]
    """
    text = _arrow_text(values)
    if text is not None:  # text: numbered and sorted by Arrow, no Python string compared
        encoded = pc.dictionary_encode(text)
        order = np.asarray(pc.sort_indices(encoded.dictionary), dtype=np.int64)
        rank = np.empty(len(order) + 1, dtype=np.int64)
        rank[order] = np.arange(len(order))
        rank[-1] = -1  # missing: code -1
        at = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), dtype=np.int64)
        found = encoded.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
        return rank[at], np.asarray(found, dtype=object)
    codes, found = pd.factorize(values)  # in order of appearance
    found = np.asarray(found, dtype=object)
    if not len(found):  # nothing but missing values
        return np.asarray(codes, dtype=np.int64), found
    if not all(isinstance(v, str) for v in found):
        codes, found = pd.factorize(values, sort=True)
        return np.asarray(codes, dtype=np.int64), np.asarray(found, dtype=object)
    try:
        order = np.asarray(pc.sort_indices(pa.array(found, type=pa.string())), dtype=np.int64)
    except (pa.ArrowException, UnicodeError):  # e.g. a lone surrogate: Python's own sort
        order = np.array(sorted(range(len(found)), key=found.__getitem__), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return codes, found[order]


def _arrow_text(values: pd.Series) -> pa.Array | None:
    """Return ``values`` as Arrow text where they are text (missing as null), else None.

    Arrow-backed text as it is; an object column of ``str`` values and missing ones
    converted (None where that fails, e.g. on a lone surrogate).
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        text = pa.array(values.array)
    elif pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(values) == "string":
        try:
            text = pa.array(values.to_numpy(), type=pa.string(), from_pandas=True)
        except (pa.ArrowException, UnicodeError):
            return None
    else:
        return None
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def name_agreement(
    street: pd.Series, segment_name: pd.Series, *, weights: pd.Series | None = None
) -> dict[str, float | int]:
    """Return how often a record's street text names the segment it was snapped to.

    Parameters
    ----------
    street
        Street from :func:`location_to_street` of each snapped record.
    segment_name
        Street-layer name of the segment each record was snapped to (a segment carrying
        several names joins them with ``;``).
    weights
        Records each row stands for (default one each), as in :func:`name_from_records`.

    Returns
    -------
    dict
        ``compared`` (records with both a street text and a segment name), ``agree`` and
        ``rate`` (agree / compared).
    """
    both = (street.notna() & segment_name.notna()).to_numpy()
    w = np.ones(int(both.sum()), dtype=np.int64) if weights is None else weights.to_numpy()[both]
    agreeing = np.zeros(len(w), dtype=bool)
    if both.any():  # each distinct segment name split and folded once
        rec = normalise_name(street[both]).to_numpy(dtype=object)
        seg, seg_names = pd.factorize(segment_name[both].astype(str))
        split = [str(name).split(";") for name in seg_names]
        owner = np.repeat(np.arange(len(split)), [len(p) for p in split])
        parts = normalise_name(pd.Series([p for ps in split for p in ps], dtype=object))
        # folded texts numbered together: a record agrees where its segment lists its text
        text, _ = pd.factorize(np.concatenate([rec, parts.to_numpy(dtype=object)]))
        width = int(text.max()) + 1
        listed = owner * width + text[len(rec) :]
        agreeing = np.isin(seg.astype(np.int64) * width + text[: len(rec)], listed)
    agree, compared = int(w[agreeing].sum()), int(w.sum())
    return {
        "compared": compared,
        "agree": int(agree),
        "rate": round(agree / compared, 4) if compared else float("nan"),
    }
