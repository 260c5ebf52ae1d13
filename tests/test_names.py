"""Tests of hotspots.names: location text to street names, naming and agreement."""

from __future__ import annotations

import pandas as pd

from hotspots import names


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
