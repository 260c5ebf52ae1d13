"""hotspots.analysis.harm: the default CCHI table, user tables, fallback, harm per segment."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString

from hotspots.analysis import harm
from hotspots.errors import InputDataError

POLICE_UK = [
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
]
VPD = [
    "Break and Enter Commercial",
    "Break and Enter Residential/Other",
    "Homicide",
    "Mischief",
    "Offence Against a Person",
    "Other Theft",
    "Theft from Vehicle",
    "Theft of Bicycle",
    "Theft of Vehicle",
    "Vehicle Collision or Pedestrian Struck (with Fatality)",
    "Vehicle Collision or Pedestrian Struck (with Injury)",
]


def _crimes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "crime_type": ["Robbery", "Shoplifting", "Burglary", "Robbery", "Drugs"],
            "segment_id": pd.Series(["a", "a", "b", None, "b"], dtype="string"),
        }
    )


# inputs -------------------------------------------------------------------------------------


def test_bad_table_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "weights.csv"
    path.write_text(
        "# my table\ncrime_type,weight\nRobbery,365\nRobbery,1\nDrugs,-3\nBurglary,lots\n",
        encoding="utf-8",
    )
    with pytest.raises(
        InputDataError,
        match=(
            r"weights.csv need one numeric.*1 rows with a weight that is not a number \(data "
            r"rows 4\); 1 rows with a negative weight \(data rows 3\); 2 rows with a "
            r"repeated crime_type \(data rows 1, 2\)"
        ),
    ):
        harm.read_harm_weights(path)


def test_table_without_weight_column(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("type,days\nRobbery,365\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="lacks the column\\(s\\) crime_type, weight"):
        harm.read_harm_weights(path)


def test_segment_id_is_required() -> None:
    with pytest.raises(InputDataError, match="snap_to_streets"):
        harm.harm_by_segment(_crimes().drop(columns="segment_id"))


def test_negative_fallback_is_refused() -> None:
    with pytest.raises(InputDataError, match="`fallback` must be a non-negative number"):
        harm.assign_harm(_crimes(), fallback=-1)


# outputs ------------------------------------------------------------------------------------


def test_default_table_covers_police_uk_and_vpd() -> None:
    weights = harm.read_harm_weights()
    assert weights.index.tolist() == POLICE_UK + VPD
    assert weights.dtype == "float64" and weights.name == "weight"
    assert (weights > 0).all()
    assert weights["Homicide"] > weights["Robbery"] > weights["Burglary"] > weights["Drugs"]
    assert weights["Anti-social behaviour"] == harm.DEFAULT_FALLBACK == 1.0  # the CCHI floor


def test_unknown_types_get_the_fallback_and_a_warning() -> None:
    crimes = pd.DataFrame({"crime_type": ["Robbery", "Made up", "Made up", None]})
    with pytest.warns(
        UserWarning,
        match="3 crimes have a type without a harm weight: "
        "'Made up' \\(2\\), nan \\(1\\).*fallback weight 1",
    ):
        got = harm.assign_harm(crimes)
    assert got.tolist() == [365.0, 1.0, 1.0, 1.0] and got.name == "harm"
    with pytest.warns(UserWarning, match="fallback weight 0"):
        assert harm.assign_harm(crimes, fallback=0).tolist() == [365.0, 0.0, 0.0, 0.0]


def test_harm_by_segment_sums_weights() -> None:
    got = harm.harm_by_segment(_crimes())
    assert list(got.columns) == harm.HARM_COLUMNS and got.index.tolist() == ["a", "b"]
    assert got.to_dict("index") == {
        "a": {"crimes": 2, "harm": 366.0},
        "b": {"crimes": 2, "harm": 244.68 + 3.66},
    }


def test_harm_by_segment_indexed_like_segments(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(
        "crime_type,weight\nRobbery,10\nShoplifting,1\nBurglary,5\nDrugs,2\n", encoding="utf-8"
    )
    segs = gpd.GeoDataFrame(
        {"segment_id": ["c", "b", "a"]},
        geometry=[LineString([(0, 0), (1, 0)])] * 3,
        index=[7, 8, 9],
    )
    got = harm.harm_by_segment(_crimes(), harm.read_harm_weights(path), segments=segs)
    assert got.index.tolist() == [7, 8, 9]
    assert got["harm"].tolist() == [0.0, 7.0, 11.0] and got["crimes"].tolist() == [0, 2, 2]
    assert got.dtypes.tolist() == ["int64", "float64"]


# real data ----------------------------------------------------------------------------------


def test_real_london_types_all_weighted(
    london_month: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    crimes, _ = london_month
    got = harm.assign_harm(crimes)  # filterwarnings=error: an unknown type would fail here
    assert got.index.equals(crimes.index) and (got >= 1).all()


def test_real_vancouver_types_all_weighted(
    vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    crimes, _ = vancouver
    got = harm.assign_harm(crimes)
    assert got.sum() > len(crimes)


def test_empty_type_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("crime_type,weight\n,3\nRobbery,365\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"1 rows with an empty crime_type \(data rows 1\)"):
        harm.read_harm_weights(path)
