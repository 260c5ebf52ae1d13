"""hotspots.output.maps and map_data: layers, popups, counts, links and escaping."""

from __future__ import annotations

import json
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, MultiPoint, box

from hotspots.output import map_data, map_layers, maps
from hotspots.read.schema import HOT_STREET_COLUMNS


def _hot(street: str = "High St") -> gpd.GeoDataFrame:
    row: dict[str, Any] = dict.fromkeys(HOT_STREET_COLUMNS, 1)
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
        profile_svg="<svg><title>p</title></svg>",
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
    out: dict[str, Any] = json.loads(text.group(1))
    return out


def _links(page: str) -> dict[str, Any]:
    text = re.search(r'<script type="application/json" id="hotspots-links">(.*?)</script>', page)
    assert text is not None
    out: dict[str, Any] = json.loads(text.group(1))
    return out


def _crimes() -> pd.DataFrame:
    """Six crimes at two places over three months (one place has dates in two weeks)."""
    return pd.DataFrame(
        {
            "place_key": ["s0", "s0", "s0", "s1", "s1", None],
            "area_code": ["A", "A", "A", "A", "B", "B"],
            "crime_type": ["Burglary", "Burglary", "Robbery", "Shoplifting", "Burglary", "Drugs"],
            "month": ["2024-01", "2024-03", "2024-03", "2024-02", "2024-03", "2024-03"],
            "occurred_from": pd.to_datetime(
                ["2024-01-05", "2024-03-30", "2024-03-20", "2024-02-10", "2024-03-31", "2024-03-01"]
            ),
            "has_time": True,
            "harm": [100.0, 100.0, 365.0, 1.0, 100.0, 20.0],
        }
    )


# outputs ------------------------------------------------------------------------------------


def test_layers_popup_legend_and_links_block() -> None:
    m = maps.explore_hot_streets(
        _hot(),
        _areas(),
        title="Hot streets",
        subtitle="2017-12",
        evidence="Streets like these held 30% of next month's crime.",
        links={"E05000001": {"Ward map": "maps/E05000001.html"}},
    )
    page = m.get_root().render()
    cfg = _config(page)
    assert {"areas", "streets", "counts"} <= set(cfg)
    assert cfg["counts"]["types"] == ["burglary", "robbery"]
    assert cfg["counts"]["groups"] == [["robbery", "Robbery"], ["burglary", "Burglary"]]
    street = cfg["streets"]
    assert street["m"] == [[0, 9, 1, 3]]  # whole-period counts by type when no run counts
    assert street["name"] == ["High St"] and street["ar"] == [1]
    popup = street["popup"][0]
    assert "Whole period: rank 1 overall, 1 in area; 12 crimes on 100 m (12.0 per 100 m)" in popup
    assert "burglary</td><td class=n>9" in popup and "from A Road" in popup
    assert "Trend: <b>emerging</b>" in popup and "Patrol window: <b>Fri 22:00-02:00</b>" in popup
    assert "<svg" not in popup  # city map: charts drawn by the page
    assert "<!--now-->" in popup
    assert _links(page) == {"E05000001": {"Ward map": "maps/E05000001.html"}}
    for text in (
        "hs-group",
        "hs-period",
        "hs-rankby",
        "hs-view",
        "hs-search",
        "hs-legend",
        "How far to trust this list",
        "30% of next month",
        "Control.FullScreen",
        "fitBounds",
        "L.canvas",
        "@media print",
        "A4 landscape",
    ):
        assert text in page, text
    assert "control_scale" in page or "L.control.scale" in page


def test_markup_in_data_is_escaped() -> None:
    evil = "<img src=x onerror=alert(1)></script>{{7*7}}"
    page = (
        maps.explore_hot_streets(
            _hot(evil), _areas(), links={"E1": {"</script><b>": "x'><script>"}}
        )
        .get_root()
        .render()
    )
    assert "<img src=x" not in page and "</script>{{" not in page and '<script>"' not in page
    props = _config(page)["streets"]
    assert props["name"][0] == "&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;{{7*7}}"
    assert "&lt;img" in props["popup"][0] and "<img" not in props["popup"][0]
    assert "Area <A>" not in page
    assert _links(page) == {"E1": {"</script><b>": "x'><script>"}}


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
    repeats = gpd.GeoDataFrame(
        {
            "crimes": [40],
            "months": [12],
            "first_month": ["2017-01"],
            "last_month": ["2017-12"],
            "top_types": ["burglary 100%"],
            "location": ["On or near <Park>"],
            "area_code": ["E05000001"],
        },
        geometry=gpd.points_from_xy([530500], [180500]),
        crs=27700,
    )
    crimes = pd.DataFrame(
        {
            "lat": [51.5, 51.5, 51.50002],
            "lon": [-0.1, -0.1, -0.10001],
            "type": ["burglary", "burglary", "robbery"],
        }
    )
    page = (
        maps.explore_hot_streets(
            _hot(),
            _areas(),
            locations=locs,
            crimes=crimes,
            repeats=repeats,
            base_streets=_hot(),
            focus=["E05000001"],
            top_n=None,
            rank_col="area_rank",
            trend="rising",
            offline=True,
        )
        .get_root()
        .render()
    )
    cfg = _config(page)
    # two burglaries at one point, then a robbery 2 and -1 units of 1e-5 degrees away
    assert cfg["crimes"] == [5150000, -10000, 0, 2, 2, -1, 1, 1] and cfg["focus"] is True
    assert cfg["rankBands"][0][2] == "area rank 1-3" and cfg["trend"] == "rising"
    assert "rank 2 in area; 7 crimes at this police.uk location" in cfg["locations"]["popup"][0]
    assert "<svg><title>p</title></svg>" in cfg["streets"]["popup"][0]  # hour-of-week chart
    assert cfg["repeats"]["n"] == [40] and "On or near &lt;Park&gt;" in cfg["repeats"]["tip"][0]
    assert "tile.openstreetmap" not in page  # offline: no tile layer
    assert cfg["base"]["full"] and "main" not in cfg["base"]


def test_period_counts_are_flat_type_month_cells() -> None:
    counts = map_data.period_counts(
        _crimes(),
        group_of={"Burglary": "burglary", "Robbery": "robbery", "Shoplifting": "theft"},
        group_labels={
            "burglary": "Burglary",
            "robbery": "Robbery",
            "theft": "Theft",
            "vehicle_crime": "Vehicle crime",
            "other": "Other crime",
        },
    )
    assert counts.months == ["2024-01", "2024-02", "2024-03"]
    assert counts.types == ["Burglary", "Drugs", "Robbery", "Shoplifting"]
    assert counts.groups == ["burglary", "other", "robbery", "theft"]
    assert list(counts.group_labels) == ["burglary", "robbery", "theft", "other"]
    assert counts.harm == [100.0, 20.0, 365.0, 1.0]
    # cell = type * 3 + month: s0 has burglary in Jan and Mar, robbery in Mar
    assert counts.places["s0"] == [0, 1, 2, 1, 8, 1]
    assert counts.places["A"] == [0, 1, 2, 1, 8, 1, 10, 1]
    assert counts.places["B"] == [2, 1, 5, 1]
    # weeks counted back from 2024-03-31 (week 23 the last seven days)
    assert counts.last_day == "2024-03-31"
    assert counts.weekly["s0"] == [11, 1, 23, 1, 2 * 24 + 22, 1]  # 86, 1 and 11 days back
    assert counts.weekly["s1"] == [23, 1, 3 * 24 + 16, 1]
    cfg = counts.config()
    assert cfg["typeGroup"] == [0, 3, 1, 2] and cfg["weeks"] == map_data.WEEKS


def test_month_only_data_has_no_weeks() -> None:
    crimes = _crimes().assign(has_time=False)
    counts = map_data.period_counts(crimes, group_of={}, group_labels={"other": "Other"})
    assert counts.weekly == {} and counts.config()["weeks"] == 0


def test_encoded_geometry_round_trips_at_five_decimals() -> None:
    line = LineString([(-0.12345, 51.50853), (-0.12, 51.51), (-0.11, 51.4999)])
    [encoded] = map_data.encode_geometry(line)
    assert _decode(encoded) == [(51.50853, -0.12345), (51.51, -0.12), (51.4999, -0.11)]
    poly = map_data.encode_geometry(box(0, 0, 1, 1))
    assert len(poly) == 1 and len(_decode(poly[0][0])) == 5


def _decode(text: str) -> list[tuple[float, float]]:
    values, shift, acc = [], 0, 0
    for ch in text:
        b = ord(ch) - 63
        acc |= (b & 31) << shift
        shift += 5
        if b < 32:
            values.append(~(acc >> 1) if acc & 1 else acc >> 1)
            shift, acc = 0, 0
    lat = lon = 0
    out = []
    for dlat, dlon in zip(values[::2], values[1::2], strict=True):
        lat, lon = lat + dlat, lon + dlon
        out.append((round(lat / 1e5, 5), round(lon / 1e5, 5)))
    return out


def test_page_from_one_rendered_skeleton_holds_each_maps_data() -> None:
    first = maps.hot_streets_page(
        _hot("First St"), _areas(), title="Map {{one}}", links={"E05000001": {"List": "a.csv"}}
    )
    second = maps.hot_streets_page(_hot("Second St"), _areas(), title="Map two")
    assert _config(first)["streets"]["name"] == ["First St"]
    assert _config(second)["streets"]["name"] == ["Second St"]
    assert "Map &#123;&#123;one&#125;&#125;" in first and "Map two" in second
    assert _links(first) == {"E05000001": {"List": "a.csv"}} and _links(second) == {}
    assert "@@hotspots" not in first + second
    w, s, e, n = _areas().to_crs(4326).total_bounds  # the map opens on the areas
    assert _config(first)["bounds"] == [[round(s, 5), round(w, 5)], [round(n, 5), round(e, 5)]]


def test_frame_encoding_matches_one_geometry_at_a_time() -> None:
    from shapely.geometry import MultiLineString, MultiPolygon, Point

    shapes = [
        LineString([(530000, 180000), (530100, 180050), (529000, 181000)]),
        MultiLineString(
            [[(530000, 180000), (530100, 180000)], [(531000, 181000), (531100, 181500)]]
        ),
        box(529000, 179000, 531000, 181000),
        MultiPolygon([box(0, 0, 10, 10).difference(box(2, 2, 3, 3)), box(20, 20, 30, 30)]),
        Point(530000, 180000),
        MultiPoint([(530000, 180000), (530010, 180020)]),
        LineString(),
    ]
    frame = gpd.GeoDataFrame(geometry=shapes, crs=27700)
    one_by_one = [map_data.encode_geometry(g) for g in frame.geometry.to_crs(4326)]
    assert map_data.encode_frame(frame) == one_by_one
    assert one_by_one[-1] == [] and len(one_by_one[3]) == 2 and len(one_by_one[3][0]) == 2


def test_popup_gives_repeat_callers_counts_never_a_reference() -> None:
    hot = _hot().assign(repeat_callers_6m=3, repeat_callers_24h=0)
    page = maps.hot_streets_page(hot, _areas(), title="Callers")
    popup = _config(page)["streets"]["popup"][0]
    assert "Repeat callers: <b>3</b> in the last 6 months, <b>0</b> in the last 24 hours" in popup
    # without a caller column in the input there is no such line
    plain = _config(maps.hot_streets_page(_hot(), _areas()))["streets"]["popup"][0]
    assert "Repeat callers" not in plain


def test_group_patrol_windows_are_embedded_as_group_and_text_indices() -> None:
    hot = pd.concat([_hot("A St"), _hot("B St")], ignore_index=True).assign(place_key=["s0", "s1"])
    windows = {
        "s0": {"burglary": "Fri 20:00-00:00 (31%)", "robbery": "Sat <22:00>"},
        "s1": {"burglary": "Fri 20:00-00:00 (31%)", "unknown group": "x"},
    }
    cfg = _config(maps.hot_streets_page(hot, _areas(), windows=windows))
    groups = [g for g, _ in cfg["counts"]["groups"]]
    texts = cfg["windowTexts"]
    assert texts == ["Fri 20:00-00:00 (31%)", "Sat &lt;22:00&gt;"]  # distinct, escaped
    wn = cfg["streets"]["wn"]
    assert wn[0] == [groups.index("burglary"), 0, groups.index("robbery"), 1]
    assert wn[1] == [groups.index("burglary"), 0]  # a group the page does not offer: left out
    popup = cfg["streets"]["popup"][0]
    assert "Patrol window: <b>Fri 22:00-02:00</b>" in popup  # all crime
    month_only = _hot().assign(patrol_window="n/a: the data gives the month only")
    popup = _config(maps.hot_streets_page(month_only, _areas()))["streets"]["popup"][0]
    assert "Patrol window: <b>time unknown (the data gives the month only)</b>" in popup


def test_corridors_layer_best_ranks_with_colour_and_popup() -> None:
    rows = []
    for rank in (2, 1, 30):
        rows.append(
            {
                "rank": rank,
                "rank_by_harm": 4 - rank % 3,
                "rank_by_collisions": rank,
                "street": f"Road <{rank}>",
                "extent": "from A to B",
                "area_name": "X",
                "length_m": 1500.0,
                "segment_count": 6,
                "crimes": 30 * rank,
                "crimes_per_km": 20.0 * rank,
                "harm_per_km": 1000.0,
                "collisions": 3,
                "collisions_per_km": 2.0,
            }
        )
    geoms = [LineString([(530000, 180000 + 10 * i), (531500, 180000 + 10 * i)]) for i in range(3)]
    corridors = gpd.GeoDataFrame(rows, geometry=geoms, crs=27700)
    cfg = _config(maps.hot_streets_page(_hot(), _areas(), corridors=corridors))
    c = cfg["corridors"]
    assert c["total"] == 3 and c["collisions"] is True and len(c["g"]) == 3
    assert c["c"] == ["#3f007d", "#3f007d", "#9e9ac8"]  # ranks 1, 2, 30 (band 26-50)
    first = c["popup"][0]
    assert first.startswith("<div class=hs-popup><b class=hs-name>Road &lt;1&gt;</b>")
    assert "Rank <b>1</b> of 3 by crimes per km" in first and "Length 1.50 km (6 segments)" in first
    assert "Collisions: 3, <b>2.00 per km</b>" in first and "Harm: 1,000 days per km" in first
    no_collisions = corridors.drop(
        columns=["collisions", "collisions_per_km", "rank_by_collisions"]
    )
    popup = _config(maps.hot_streets_page(_hot(), _areas(), corridors=no_collisions))["corridors"][
        "popup"
    ][0]
    assert "Collisions" not in popup and "by collisions" not in popup
    assert "corridors" not in _config(maps.hot_streets_page(_hot(), _areas()))
    # an area's part of the run's corridors: ranks out of the run's count
    part = _config(
        maps.hot_streets_page(_hot(), _areas(), corridors=corridors.iloc[:1], corridor_count=692)
    )["corridors"]
    assert part["total"] == 692 and "Rank <b>2</b> of 692 by crimes per km" in part["popup"][0]


def test_repeat_callers_layer_places_counts_and_synthetic_label() -> None:
    hot = pd.concat([_hot("A St"), _hot("B St"), _hot("C St")], ignore_index=True).assign(
        repeat_callers_24h=[1, 0, 0], repeat_callers_6m=[4, 0, 2]
    )
    locs = gpd.GeoDataFrame(
        {"street": ["Loc <1>"], "area_code": ["E05000001"], "area_name": ["A"], "crimes": [5]},
        geometry=[MultiPoint([(530000, 180000)])],
        crs=27700,
    ).assign(area_rank=1, repeat_callers_24h=[0], repeat_callers_6m=[3])
    cfg = _config(maps.hot_streets_page(hot, _areas(), locations=locs, callers_synthetic=True))
    rc = cfg["callers"]
    # B St has no repeat caller: left out; the location's index follows the three streets
    assert rc["i"] == [0, 2, 3] and rc["d"] == [1, 0, 0] and rc["s"] == [4, 2, 3]
    assert rc["ll"][0] == [51.5, -0.1] and rc["synthetic"] is True
    assert len(rc["ll"][2]) == 2  # the location's point, from its geometry
    assert "callers" not in _config(maps.hot_streets_page(_hot(), _areas()))
    real = _config(maps.hot_streets_page(hot, _areas()))["callers"]
    assert real["synthetic"] is False
    assert "SYNTHETIC" not in json.dumps(real)


def test_forecast_layer_places_ranks_expected_and_sentence() -> None:
    forecast = gpd.GeoDataFrame(
        {
            "rank": [2, 1],
            "street_name": ["B <Rd>", None],
            "area_code": ["E05000001", "E05000001"],
            "crimes_per_month": [1.0, 2.0],
            "expected": [0.456, 3.0],
            "forecast_rank": [2, 1],
        },
        geometry=gpd.points_from_xy([530050, 530000], [180000, 180000]),
        crs=27700,
    )
    info = {"month": "2026-01", "listed": 290, "streets": 84, "coverage_pct": 1.0,
            "text": "Next month's list was made by <method>."}  # fmt: skip
    cfg = _config(maps.hot_streets_page(_hot(), _areas(), forecast=forecast, forecast_info=info))
    f = cfg["forecast"]
    assert f["r"] == [1, 2] and f["sr"] == [1, 2] and f["e"] == [3.0, 0.46]  # by list rank
    assert f["name"] == ["(unnamed street)", "B &lt;Rd&gt;"]
    assert f["month"] == "2026-01" and f["listed"] == 290 and f["streets"] == 84
    assert f["text"] == "Next month&#x27;s list was made by &lt;method&gt;."
    assert "forecast" not in _config(maps.hot_streets_page(_hot(), _areas()))


def _crime_points_by_groupby(crimes: pd.DataFrame, type_keys: list[str]) -> list[int]:
    """The crime layer's points as pandas groups them: one (lat, lon, type), counts summed."""
    idx = {t: i for i, t in enumerate(type_keys)}
    typ = crimes["type"].astype(object).map(idx).to_numpy(float)
    n = crimes["n"].to_numpy(np.int64) if "n" in crimes else np.ones(len(crimes), np.int64)
    lat = np.round(crimes["lat"].to_numpy(float) * 1e5).astype(np.int64)
    lon = np.round(crimes["lon"].to_numpy(float) * 1e5).astype(np.int64)
    ok = ~np.isnan(typ)
    key = pd.DataFrame({"lat": lat[ok], "lon": lon[ok], "t": typ[ok].astype(np.int64), "n": n[ok]})
    g = key.groupby(["lat", "lon", "t"], sort=True)["n"].sum().reset_index()
    return [
        int(v)
        for row in zip(
            np.diff(g["lat"], prepend=0), np.diff(g["lon"], prepend=0), g["t"], g["n"], strict=True
        )
        for v in row
    ]


def test_crime_points_are_the_groups_of_point_and_type() -> None:
    """Rows summed per point and type, in order, as pandas groups them (other types dropped)."""
    rng = np.random.default_rng(1)
    keys = ["a", "b", "c", "d", "e"]
    for trial in range(200):
        m = int(rng.integers(0, 300))
        crimes = pd.DataFrame(
            {
                "type": rng.choice([*keys, "other", None], m),
                "lat": 51.5 + rng.integers(-50, 50, m) * 1e-4 + rng.choice([0, 3e-6, -0.5], m),
                "lon": -0.1 + rng.integers(-50, 50, m) * 1e-4,
            }
        )
        if trial % 2:
            crimes["n"] = rng.integers(1, 5, m)
        shown = list(rng.permutation(keys)[: int(rng.integers(1, 6))])
        got = map_layers._crime_points(crimes, shown)
        assert json.dumps(got) == json.dumps(_crime_points_by_groupby(crimes, shown))
