"""Several area layers in one run (``--overlay NAME=PATH``): constructed cases (issue 21.4).

A 1 km strip of two made-up wards with one street across the middle: 4 crimes at its west
end and 4 at its east end (one segment, one hot street). The overlays cut the strip so that
the street crosses two of their areas, and nest or repeat areas so that a crime lies in
several areas of one layer.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, box

from hotspots.cli import app
from hotspots.pipeline.layers import assign_layer, layer_areas
from hotspots.runfolder import parse_overlay
from tests.fixtures.make_tiny import HEADER


def _points(xy: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame({"x": [p[0] for p in xy], "y": [p[1] for p in xy]})


def _layer(codes: list[str], boxes: list[tuple[float, float, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_code": codes, "area_name": [f"Area {c}" for c in codes]},
        geometry=[box(*b) for b in boxes],
        crs=27700,
    )


# --------------------------------------------------------------------------------------------
# the assignment rule


def test_overlapping_areas_go_to_the_smallest() -> None:
    areas = _layer(["big", "small"], [(0, 0, 100, 100), (0, 0, 10, 10)])
    codes, several = assign_layer(_points([(5, 5), (50, 50), (500, 5)]), areas)
    assert codes.tolist()[:2] == ["small", "big"]
    assert pd.isna(codes.iloc[2])  # outside every area: in none
    assert several == 1


def test_equal_overlapping_areas_go_to_the_smaller_code() -> None:
    areas = _layer(["Z", "B", "A"], [(0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 100, 100)])
    codes, several = assign_layer(_points([(5, 5), (5, 5), (50, 5)]), areas)
    assert codes.tolist() == ["B", "B", "A"]
    assert several == 2


def test_a_point_on_a_shared_edge_is_in_one_area() -> None:
    areas = _layer(["W", "E"], [(0, 0, 10, 10), (10, 0, 20, 10)])  # equal size: smaller code
    codes, several = assign_layer(_points([(10, 5), (15, 5)]), areas)
    assert codes.tolist() == ["E", "E"]
    assert several == 1


def test_h3_layer_is_the_cells_holding_crime() -> None:
    crimes = gpd.GeoDataFrame(
        _points([(530100, 180100), (530120, 180100), (540000, 190000)]),
        geometry=gpd.points_from_xy([530100, 530120, 540000], [180100, 180100, 190000]),
        crs=27700,
    )
    areas = layer_areas("h3:9", crimes)
    assert len(areas) == 2 and areas["area_code"].is_unique
    codes, several = assign_layer(crimes, areas, grid_resolution=9)
    assert codes.iloc[0] == codes.iloc[1] != codes.iloc[2] and several == 0
    assert set(codes) == set(areas["area_code"])


@pytest.mark.parametrize(
    ("text", "problem"),
    [("lsoa", "expected NAME=PATH"), ("=x.gpkg", "the name ''"), ("../x=y", "the name '../x'")],
)
def test_overlay_value_errors(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_overlay(text)


def test_h3_resolution_must_be_0_to_15() -> None:
    from hotspots.errors import InputDataError

    crimes = gpd.GeoDataFrame(_points([(1.0, 1.0)]), geometry=gpd.points_from_xy([1], [1]))
    with pytest.raises(InputDataError, match="whole number 0-15"):
        layer_areas("h3:16", crimes.set_crs(27700))


# --------------------------------------------------------------------------------------------
# a whole run with two overlays


def _write_inputs(folder: Path) -> dict[str, Path]:
    """Two wards, one street across both, 4 + 4 crimes on it and 2 on a side street."""
    wards = _layer(
        ["W1", "W2"], [(530000, 180000, 530500, 181000), (530500, 180000, 531000, 181000)]
    )
    streets = gpd.GeoDataFrame(
        {"name": ["Long Street", "Side Street"]},
        geometry=[
            LineString([(530100, 180500), (530400, 180500)]),
            LineString([(530700, 180800), (530900, 180800)]),
        ],
        crs=27700,
    )
    at = [(530150, 180502, "Long Street", 4), (530350, 180502, "Long Street", 4)]
    at.append((530800, 180801, "Side Street", 2))
    pts = gpd.GeoSeries(
        gpd.points_from_xy([a[0] for a in at], [a[1] for a in at]), crs=27700
    ).to_crs(4326)
    rows = []
    for p, (_, _, name, n) in zip(pts, at, strict=True):
        for k in range(n):
            rows.append(
                f"id{p.x:.5f}_{k},2017-0{1 + k % 3},Metropolitan Police Service,"
                f"Metropolitan Police Service,{p.x:.6f},{p.y:.6f},On or near {name},,,Burglary,,"
            )
    crimes = folder / "2017-01-metropolitan-street.csv"
    crimes.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    wards.to_crs(4326).to_file(folder / "wards.gpkg", layer="wards")
    streets.to_crs(4326).to_file(folder / "streets.gpkg", layer="streets")
    # halves: the long street crosses from W to E; nested: a small box inside a big one
    _layer(
        ["W", "E"], [(530000, 180000, 530250, 181000), (530250, 180000, 531000, 181000)]
    ).to_file(folder / "halves.gpkg", layer="halves")
    _layer(
        ["big", "small", "twin"],
        [
            (530000, 180000, 531000, 181000),
            (530300, 180400, 530400, 180600),
            (530300, 180400, 530400, 180600),
        ],
    ).to_file(folder / "nested.gpkg", layer="nested")
    return {"crimes": crimes, "areas": folder / "wards.gpkg", "streets": folder / "streets.gpkg"}


@pytest.fixture(scope="module")
def layered_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    paths = _write_inputs(root)
    out = root / "run"
    args = [
        "run",
        "--crimes",
        str(paths["crimes"]),
        "--areas",
        str(paths["areas"]),
        "--streets",
        str(paths["streets"]),
        "--out",
        str(out),
        "--min-crimes",
        "2",
        "--max-segment-length",
        "1000",
        "--overlay",
        f"halves={root / 'halves.gpkg'}",
        "--overlay",
        f"nested={root / 'nested.gpkg'}",
        "--quiet",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return out


def test_each_layer_has_its_folder(layered_run: Path) -> None:
    manifest = json.loads((layered_run / "run.json").read_text())
    assert list(manifest["layers"]) == ["halves", "nested"]
    for name in ("halves", "nested"):
        folder = layered_run / "layers" / name
        for file in ("areas.csv", "compare_areas.csv", "performance.csv", "rates.csv", "map.html"):
            assert (folder / file).is_file(), file
        assert json.loads((folder / "layer.json").read_text()) == manifest["layers"][name]
    # the main layer keeps its files at the top of the run folder
    assert (layered_run / "areas.csv").is_file() and (layered_run / "wards").is_dir()


def test_every_crime_in_one_area_of_each_layer(layered_run: Path) -> None:
    kept = json.loads((layered_run / "run.json").read_text())["totals"]["kept"]
    assert kept == 10
    for name, expected in (("halves", {"W": 4, "E": 6}), ("nested", {"small": 4, "big": 6})):
        areas = pd.read_csv(layered_run / "layers" / name / "areas.csv")
        got = dict(zip(areas["area_code"], areas["crimes"], strict=True))
        assert {k: v for k, v in got.items() if v} == expected
        record = json.loads((layered_run / "layers" / name / "layer.json").read_text())
        assert record["crimes_in_layer"] == kept and record["crimes_outside"] == 0
    nested = json.loads((layered_run / "layers" / "nested" / "layer.json").read_text())
    assert nested["crimes_in_several_areas"] == 4  # small, twin and big: small (code) wins
    assert "smallest" in nested["overlap_rule"]


def test_a_street_crossing_two_areas_is_listed_in_both(layered_run: Path) -> None:
    main = pd.read_csv(layered_run / "hot_streets.csv")
    long_street = main[main["street"] == "Long Street"].iloc[0]
    assert long_street["crimes"] == 8
    lists = {
        p.stem: pd.read_csv(p) for p in (layered_run / "layers" / "halves" / "wards").glob("*.csv")
    }
    rows = {code: t[t["street"] == "Long Street"].iloc[0] for code, t in lists.items() if len(t)}
    assert set(rows) >= {"W", "E"}
    assert rows["W"]["crimes_in_area"] == 4 and rows["E"]["crimes_in_area"] == 4
    assert rows["W"]["crimes"] == rows["E"]["crimes"] == 8  # the whole street's figures
    assert rows["W"]["main_area_code"] == rows["E"]["main_area_code"] == "W1"
    assert rows["W"]["area_rank"] == 1


def test_index_pages_link_the_layers(layered_run: Path) -> None:
    main = (layered_run / "index.html").read_text(encoding="utf-8")
    assert "href='layers/halves/index.html'" in main and "href='layers/nested/index.html'" in main
    page = (layered_run / "layers" / "halves" / "index.html").read_text(encoding="utf-8")
    assert "href='../../index.html'" in page and "href='layer.json'" in page
    assert "href='run.json'" not in page  # a layer folder has no run.json


def test_layer_json_counts_the_streets(layered_run: Path) -> None:
    halves = json.loads((layered_run / "layers" / "halves" / "layer.json").read_text())
    hot = pd.read_csv(layered_run / "hot_streets.csv")
    assert halves["hot_streets_listed"] == len(hot)
    assert halves["hot_streets_in_several_areas"] == 1  # Long Street, in W and E


@pytest.mark.parametrize(
    ("values", "problem"),
    [(["lsoa"], "expected NAME=PATH"), (["a=x.gpkg", "a=y.gpkg"], "more than once: a")],
)
def test_overlay_option_errors_are_one_line(
    tmp_path: Path, values: list[str], problem: str
) -> None:
    args = ["run", "--crimes", "c.csv", "--areas", "a.gpkg", "--streets", "s.gpkg"]
    args += ["--out", str(tmp_path / "out")]
    for value in values:
        args += ["--overlay", value]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and problem in res.output
    assert not (tmp_path / "out").exists()


def test_a_big_layer_gets_lists_but_no_map_per_area(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hotspots.pipeline import layers

    monkeypatch.setattr(layers, "LAYER_AREA_MAPS_MAX", 1)  # "halves" has 2 areas with crime
    paths = _write_inputs(tmp_path)
    out = tmp_path / "run"
    args = ["run", "--crimes", str(paths["crimes"]), "--areas", str(paths["areas"])]
    args += ["--streets", str(paths["streets"]), "--out", str(out), "--min-crimes", "2"]
    args += ["--overlay", f"halves={tmp_path / 'halves.gpkg'}", "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    folder = out / "layers" / "halves"
    assert json.loads((folder / "layer.json").read_text())["area_maps"] is False
    assert not (folder / "maps").exists() and (folder / "map.html").is_file()
    lists = [pd.read_csv(p) for p in (folder / "wards").glob("*.csv")]
    assert len(lists) == 2 and all("map_link" not in t.columns for t in lists)
    assert (out / "maps").is_dir()  # the main layer keeps its maps


def _fail(text: str) -> None:
    from hotspots.errors import InputDataError

    raise InputDataError(text)


def test_work_beside_returns_or_raises_in_either_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from hotspots.errors import InputDataError
    from hotspots.pipeline.beside import WORKERS_ENV, can_fork, start_beside

    for workers in ("", "1"):  # a second process where the machine allows it, then one
        monkeypatch.setenv(WORKERS_ENV, workers)
        assert can_fork() is False or workers == ""
        assert start_beside(sum, [1, 2, 3])() == 6
        with pytest.raises(InputDataError, match="bad layer"):
            start_beside(_fail, "bad layer")()
