"""Tests of hotspots.maps: layers, popups, legend and escaping in the rendered HTML."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import LineString, box

from hotspots import maps
from hotspots.schema import HOT_STREET_COLUMNS


def _hot(street: str = "High St") -> gpd.GeoDataFrame:
    row = dict.fromkeys(HOT_STREET_COLUMNS, 1)
    row.update(street=street, area_code="E05000001", area_name="Area <A>", crimes=12, length_m=100.0,
               crimes_per_100m=12.0, segment_ids="s1", top_crime_type="burglary",
               name_source="street layer", lon=-0.1, lat=51.5, n_burglary=9, n_robbery=3)
    return gpd.GeoDataFrame([row], geometry=[LineString([(530000, 180000), (530100, 180000)])],
                            crs=27700)


def _areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"area_code": ["E05000001"], "area_name": ["Area <A>"], "crimes": [30]},
                            geometry=[box(529000, 179000, 531000, 181000)], crs=27700)


def test_layers_popup_and_legend() -> None:
    m = maps.explore_hot_streets(_hot(), _areas(), title="Hot streets", subtitle="2017-12")
    page = m.get_root().render()
    assert '"Areas"' in page or "Areas" in page
    assert "Hot streets (top 300)" in page
    assert "Rank 1 overall, 1 in area; 12 crimes on 100 m (12.0 per 100 m)" in page
    assert "burglary</td><td align=right>9" in page
    assert "hs-legend" in page and "rank 1-10" in page and "2017-12" in page


def test_markup_in_data_is_escaped() -> None:
    evil = "<img src=x onerror=alert(1)>"
    page = maps.explore_hot_streets(_hot(evil), _areas()).get_root().render()
    assert evil not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Area <A>" not in page


def test_bounds_fit_the_data() -> None:
    m = maps.explore_hot_streets(_hot(), _areas())
    page = m.get_root().render()
    assert "fitBounds" in page
