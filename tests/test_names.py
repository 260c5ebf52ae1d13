"""Tests of hotspots.space.names: location text to street names, naming and agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.space import names


def test_location_to_street() -> None:
    loc = pd.Series(
        [
            "On or near Camden High Street",
            "On or near Supermarket",
            "On or near Euston (station)",
            "10XX GRANVILLE ST",
            "W 4TH AVE / BURRARD ST",
            "OFFSET TO PROTECT PRIVACY",
            "",
            None,
        ]
    )
    assert names.location_to_street(loc).tolist() == [
        "Camden High Street",
        pd.NA,
        pd.NA,
        "Granville St",
        pd.NA,
        pd.NA,
        pd.NA,
        pd.NA,
    ]


def test_name_from_records_majority_and_ties() -> None:
    seg = pd.Series(["a", "a", "a", "b", "b", None])
    street = pd.Series(["X Road", "Y Road", "X Road", "Q", "P", "Z"])
    out = names.name_from_records(seg, street)
    assert out.to_dict() == {"a": "X Road", "b": "P"}


def test_name_agreement_any_of_several_names() -> None:
    out = names.name_agreement(
        pd.Series(["Kingsway", "Strand", "High St.", None]),
        pd.Series(["Aldwych;Kingsway", "The Strand", "high st", "X"]),
    )
    assert out == {"compared": 3, "agree": 2, "rate": round(2 / 3, 4)}


def test_weighted_rows_give_the_records_result() -> None:
    # distinct (segment, street) rows with their record counts = the records themselves
    seg = pd.Series(["a", "a", "a", "b", "b", "b", None])
    street = pd.Series(["X Road", "Y Road", "X Road", "Q", "P", "P", "Z"])
    key = seg.fillna("-") + "|" + street
    first = ~key.duplicated()
    distinct = pd.DataFrame({"seg": seg, "street": street})[first]
    w = key.map(key.value_counts())[first]
    assert (
        names.name_from_records(distinct["seg"], distinct["street"], weights=w).to_dict()
        == names.name_from_records(seg, street).to_dict()
        == {"a": "X Road", "b": "P"}
    )
    seg_name = pd.Series(["X Road", "X Road", "X Road", "P", "P", "P", None])
    both = names.name_agreement(street, seg_name)
    weighted = names.name_agreement(distinct["street"], seg_name[distinct.index], weights=w)
    assert weighted == both == {"compared": 6, "agree": 4, "rate": round(4 / 6, 4)}


def test_location_to_street_same_for_categorical_and_text() -> None:
    loc = pd.Series(["On or near Kingsway", None, "10XX GRANVILLE ST", "On or near Kingsway", ""])
    as_text = names.location_to_street(loc)
    as_cat = names.location_to_street(loc.astype("category"))
    again = names.location_to_street(loc.astype("category").iloc[::-1])  # cached categories
    assert (
        as_cat.tolist()
        == as_text.tolist()
        == ["Kingsway", pd.NA, "Granville St", "Kingsway", pd.NA]
    )
    assert again.tolist() == as_text.tolist()[::-1]
    assert str(as_cat.dtype) == "string"


def test_name_from_records_by_codes_equals_the_grouped_sums() -> None:
    """Whole-number weights (summed by codes) give what float weights (grouped) give."""
    rng = np.random.default_rng(5)
    seg = pd.Series(rng.choice(["s1", "s2", "s3", "s10", None], 400)).astype("category")
    street = pd.Series(rng.choice(["Éa St", "b Rd", "B Rd", "a St", None], 400), dtype="string")
    w = pd.Series(rng.integers(1, 4, 400))
    by_codes = names.name_from_records(seg, street, weights=w)
    grouped = names.name_from_records(seg, street, weights=w.astype(float))
    pd.testing.assert_series_equal(by_codes, grouped)
    plain = names.name_from_records(seg.astype(object), street.astype(object))
    assert plain.to_dict() == names.name_from_records(seg, street).to_dict()


def test_streets_of_plain_text_by_arrow_equal_the_string_methods() -> None:
    """Arrow's kernels (printable ASCII text) give what pandas' string methods give."""
    rng = np.random.default_rng(11)
    parts = [
        "On or near ", "on OR NEAR  ", "10XX ", "1xx ", " 23 ", "X ", "GRANVILLE ST", "W 4TH AVE",
        "SE MARINE DR", "ne ", " / ", "(station)", "(LU Station) ", "Supermarket", "OFFSET",
        "X NK_LOC ST", "1ST", "44TH", "St", "Nd", " ", "-", "'", "a", "7", "_", "Sw", "é", "\t",
    ]  # fmt: skip
    texts = ["".join(rng.choice(parts, rng.integers(0, 5))) for _ in range(3000)] + [None]
    location = pd.Series(texts, dtype=object)
    pd.testing.assert_series_equal(names._streets_of(location), names._any_streets(location))


def test_name_agreement_equals_the_merged_pairs() -> None:
    """Agreement by folded-text codes counts what merging every (row, name part) counted."""
    rng = np.random.default_rng(8)
    streets = ["High St", "high st.", "Mill Lane", "Éa Road", "", "A;B"]
    seg_names = ["High St", "Mill Lane;High  St", "A", "B;A", "éa road", None, ""]
    street = pd.Series(rng.choice(np.array([*streets, None], dtype=object), 500))
    segment_name = pd.Series(rng.choice(np.array(seg_names, dtype=object), 500))
    w = pd.Series(rng.integers(1, 5, 500))
    both = (street.notna() & segment_name.notna()).to_numpy()
    rec = names.normalise_name(street[both]).reset_index(drop=True)
    parts = segment_name[both].astype(str).reset_index(drop=True).str.split(";").explode()
    pairs = pd.DataFrame({"row": parts.index, "name": names.normalise_name(parts).to_numpy()})
    recs = pd.DataFrame({"row": rec.index, "name": rec.to_numpy()})
    agreeing = recs.merge(pairs, on=["row", "name"], how="inner")["row"].unique()
    weights = w.to_numpy()[both]
    found = names.name_agreement(street, segment_name, weights=w)
    assert found["agree"] == int(weights[agreeing].sum()) > 0
    assert found["compared"] == int(weights.sum())
    plain = names.name_agreement(street, segment_name)
    assert (plain["agree"], plain["compared"]) == (len(agreeing), int(both.sum()))
    none = names.name_agreement(street, pd.Series([None] * 500, dtype=object))
    assert none["compared"] == none["agree"] == 0


def test_folded_plain_names_by_arrow_equal_the_string_methods() -> None:
    """Arrow's folding of printable ASCII names gives what pandas' string methods give."""
    rng = np.random.default_rng(12)
    parts = ["High", " St", "ST.", "  ", "-", "'", "_", "a", "7", "O'Brien", "é", "\t", "Ä", "_x_"]
    texts = ["".join(rng.choice(parts, rng.integers(0, 5))) for _ in range(3000)]
    name = pd.Series(pd.unique(np.array(texts, dtype=object)), dtype="string")
    pd.testing.assert_series_equal(names._folded(name), names._any_folded(name))
    plain = name[~name.str.contains(r"[^\x20-\x7E]")]
    assert len(plain) > 100
    pd.testing.assert_series_equal(names._folded(plain), names._any_folded(plain))


def test_prepared_streets_in_a_thread_are_the_streets_of_the_column() -> None:
    """Streets worked out ahead in a thread are those a later call gives, taken once."""
    from concurrent.futures import ThreadPoolExecutor

    loc = pd.Series(["On or near Kingsway", "10XX SE MARINE DR", "4XX W 4TH AVE", None] * 50)
    cat = loc.astype("category")
    expected = names.location_to_street(loc).tolist()
    names._LAST_STREETS.clear()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(names.prepare_streets, cat)
        found = names.location_to_street(cat.iloc[::-1])  # waits for, or does, the same work
    assert found.tolist() == expected[::-1]
    assert names._LAST_STREETS[0] is cat.cat.categories
    assert expected[:3] == ["Kingsway", "SE Marine Dr", "W 4th Ave"]


def test_text_codes_of_the_same_categories_taken_again() -> None:
    """A column of the last categories takes their texts again; other categories do not."""
    cat = pd.Series(["b", None, "a", "b"], dtype="category")
    first = names.text_codes(cat)
    again = names.text_codes(cat.iloc[[3, 1]])  # the same categories object
    assert cat.iloc[[3, 1]].cat.categories is cat.cat.categories
    assert first[0].tolist() == [1, 2, 0, 1] and first[1].tolist() == ["a", "b", ""]
    assert again[0].tolist() == [1, 2] and again[1].tolist() == ["a", "b", ""]
    again[1].iloc[0] = "changed"  # a caller's copy: the next call is not affected
    other = names.text_codes(pd.Series(["z", "a"], dtype="category"))
    assert other[1].tolist() == ["a", "z", ""]
    assert names.text_codes(cat)[1].tolist() == ["a", "b", ""]


def test_most_named_as_grouped_sums_with_ties() -> None:
    """The most records per segment, ties to the alphabetically first street."""
    rng = np.random.default_rng(11)
    seg = rng.integers(-1, 40, 3000)
    street = pd.Series(
        rng.choice(np.array(["B St", "A St", "C Rd", None], dtype=object), 3000), dtype="string"
    )
    n = rng.integers(1, 4, 3000)
    codes, found = names.most_named(seg, street, n)
    df = pd.DataFrame({"seg": seg, "street": street, "n": n}).dropna()
    df = df[df["seg"] >= 0].groupby(["seg", "street"])["n"].sum().reset_index()
    df = df.sort_values(["seg", "n", "street"], ascending=[True, False, True], kind="stable")
    best = df.drop_duplicates("seg")
    assert codes.tolist() == best["seg"].tolist()
    assert found.tolist() == best["street"].tolist()


def _reference_sorted_codes(values: pd.Series) -> tuple[list[int], list[object]]:
    """Codes into the distinct values sorted as Python sorts them (missing: -1)."""
    present = [v for v in values.tolist() if isinstance(v, str)]
    if len(present) < values.notna().sum():  # not text: pandas' own sort
        codes, found = pd.factorize(values, sort=True)
        return codes.tolist(), list(found)
    found = sorted(set(present))
    at = {v: i for i, v in enumerate(found)}
    return [at[v] if isinstance(v, str) else -1 for v in values.tolist()], found


def test_sorted_codes_of_text_of_every_dtype_as_python_sorts() -> None:
    rng = np.random.default_rng(8)
    words = np.array(["b", "a", "", "Ä", "é", "z z", "\U0001f600", "A", "ab", None], dtype=object)
    for _ in range(100):
        values = list(rng.choice(words, int(rng.integers(0, 40))))
        for dtype in ("str", "string", object, "category"):
            column = pd.Series(values, dtype=dtype)
            codes, found = names.sorted_codes(column)
            want_codes, want_found = _reference_sorted_codes(column)
            assert codes.tolist() == want_codes and found.tolist() == want_found
            assert all(type(v) is str for v in found)
    odd = pd.Series(["\ud800", "a", None, np.nan], dtype=object)  # a lone surrogate
    assert names.sorted_codes(odd)[0].tolist() == [1, 0, -1, -1]
    raw = pd.Series([b"x", "a"], dtype=object)  # bytes are not text
    assert names.sorted_codes(raw)[1].tolist() == list(pd.factorize(raw, sort=True)[1])
