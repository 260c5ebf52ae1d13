"""Tests of hotspots.maps: layers, popups, legend, links and escaping in the rendered HTML."""

from __future__ import annotations

import json
import re
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, MultiPoint, box

from hotspots import maps
from hotspots.schema import HOT_STREET_COLUMNS


def _hot(street: str = "High St") -> gpd.GeoDataFrame:
    row = dict.fromkeys(HOT_STREET_COLUMNS, 1)
    row.update(
        street=street,
        extent="from A Road",
        area_code="E05000001",
        area_name="Area <A>",
        crimes=12,
        length_m=100.0,
        crimes_per_100m=12.0,
        segment_ids="s1",
        top_crime_type="burglary",
        name_source="street layer",
        lon=-0.1,
        lat=51.5,
        trend_class="emerging",
        patrol_window="Fri 22:00-02:00",
        monthly_svg="<svg><title>m</title></svg>",
        n_burglary=9,
        n_robbery=3,
    )
    return gpd.GeoDataFrame(
        [row], geometry=[LineString([(530000, 180000), (530100, 180000)])], crs=27700
    )


def _areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_code": ["E05000001"], "area_name": ["Area <A>"], "crimes": [30]},
        geometry=[box(529000, 179000, 531000, 181000)],
        crs=27700,
    )


def _config(page: str) -> dict[str, Any]:
    text = re.search(r"var cfg = (\{.*?\});\n", page, re.S)
    assert text is not None
    return json.loads(text.group(1))


# outputs ------------------------------------------------------------------------------------


def test_layers_popup_and_legend() -> None:
    m = maps.explore_hot_streets(
        _hot(),
        _areas(),
        title="Hot streets",
        subtitle="2017-12",
        links={"E05000001": {"Ward map": "maps/E05000001.html"}},
    )
    page = m.get_root().render()
    cfg = _config(page)
    assert {"areas", "streets", "types"} <= set(cfg)
    assert cfg["types"] == ["burglary", "robbery"]
    street = cfg["streets"]["features"][0]["properties"]
    assert street["t"] == {"burglary": 9, "robbery": 3}
    popup = street["popup"]
    assert "Rank 1 overall, 1 in area; 12 crimes on 100 m (12.0 per 100 m)" in popup
    assert "burglary</td><td class=n>9" in popup and "from A Road" in popup
    assert "Trend: <b>emerging</b>" in popup and "Patrol window: <b>Fri 22:00-02:00</b>" in popup
    assert "<svg><title>m</title></svg>" in popup  # our own chart, kept as is
    assert "href='maps/E05000001.html'" in popup
    for text in (
        "'Hot streets'",
        "L.control.layers",
        "hs-search",
        "hs-type",
        "hs-legend",
        "Hot streets",
        "2017-12",
        "Control.FullScreen",
        "fitBounds",
    ):
        assert text in page, text
    assert "control_scale" in page or "L.control.scale" in page


def test_markup_in_data_is_escaped() -> None:
    evil = "<img src=x onerror=alert(1)></script>{{7*7}}"
    page = maps.explore_hot_streets(_hot(evil), _areas()).get_root().render()
    assert "<img src=x" not in page and "</script>{{" not in page
    props = _config(page)["streets"]["features"][0]["properties"]
    assert props["name"] == "&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;{{7*7}}"
    assert "&lt;img" in props["popup"] and "<img" not in props["popup"]
    assert "Area <A>" not in page


def test_area_map_layers_and_rank_bands() -> None:
    locs = gpd.GeoDataFrame(
        {
            "street": ["Park Road"],
            "area_code": ["E05000001"],
            "area_name": ["a"],
            "area_rank": [2],
            "rank": [pd.NA],
            "crimes": [7],
            "length_m": [float("nan")],
            "n_burglary": [7],
            "n_robbery": [0],
        },
        geometry=[MultiPoint([(530500, 180500)])],
        crs=27700,
    )
    crimes = pd.DataFrame({"lat": [51.5], "lon": [-0.1], "type": ["burglary"]})
    page = (
        maps.explore_hot_streets(
            _hot(),
            _areas(),
            locations=locs,
            crimes=crimes,
            base_streets=_hot(),
            focus=["E05000001"],
            top_n=None,
            rank_col="area_rank",
            offline=True,
        )
        .get_root()
        .render()
    )
    cfg = _config(page)
    assert cfg["crimes"] == [[51.5, -0.1, 0, 1]] and cfg["focus"] is True
    assert cfg["rankBands"][0][1] == "area rank 1-3"
    assert "rank 2 in area; 7 crimes at this police.uk location".lower() in (
        cfg["locations"]["features"][0]["properties"]["popup"].lower()
    )
    assert "tile.openstreetmap" not in page  # offline: no tile layer
    assert "base" in cfg
