"""Next month's list in the ward lists: ``forecast_rank`` by street and area, and hand-outs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hotspots.evaluate.forecast import forecast_streets
from hotspots.output import export
from hotspots.output.handouts import handout_table


def _forecast() -> pd.DataFrame:
    # next month's list: places on B Rd (area E1) first, then A St in E2, then A St in E1
    table = pd.DataFrame(
        {
            "rank": [1, 2, 3, 4],
            "street_name": ["B Rd", "A St", "A St", "B Rd"],
            "crimes_per_month": [2.0, 1.5, 1.0, 0.5],
            "area_code": ["E1", "E2", "E1", "E1"],
            "expected": [1.0, 0.8, 0.5, 0.2],
        }
    )
    return forecast_streets(table)


def test_ward_lists_gain_the_street_rank_in_next_months_list(tmp_path: Path) -> None:
    lists = {
        "E1": pd.DataFrame(
            {"area_rank": [1, 2, 3], "street": ["A St", "C Ave", "B Rd"], "area_code": "E1"}
        ),
        "E2": pd.DataFrame({"area_rank": [1], "street": ["A St"], "area_code": "E2"}),
    }
    paths = export.write_area_csvs(lists, tmp_path, forecast_streets=_forecast())
    e1, e2 = (export.read_csv(p, dtype={"area_code": str}) for p in paths)
    assert e1.columns[-1] == "forecast_rank"
    # B Rd in E1 holds the list's first place; A St is 2nd in E2 and 3rd in E1; C Ave is off it
    assert e1["forecast_rank"].tolist()[0] == 3
    assert pd.isna(e1["forecast_rank"].iloc[1])
    assert e1["forecast_rank"].iloc[2] == 1
    assert e2["forecast_rank"].tolist() == [2]
    # the rows and their other values are those of the list without a forecast
    plain = export.write_area_csvs(lists, tmp_path / "plain")
    e1_plain = export.read_csv(plain[0], dtype={"area_code": str})
    pd.testing.assert_frame_equal(e1.drop(columns="forecast_rank"), e1_plain)
    assert "forecast_rank" not in e1_plain.columns


def test_handout_shows_the_forecast_rank_as_a_whole_number() -> None:
    lst = pd.DataFrame(
        {"area_rank": [1, 2], "street": ["A St", "B Rd"], "crimes": [5, 4], "area_code": "E1"}
    )
    lst = export.with_forecast_rank(lst, _forecast())
    out = handout_table(lst, {})
    assert "Rank in next month's list" in out.columns
    assert out["Rank in next month's list"].astype(str).tolist() == ["3", "1"]
