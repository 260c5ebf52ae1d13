"""hotspots.space.grid: points to H3 cells, counts with empty cells, outlines, resolution."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
from shapely.geometry import box

from hotspots.errors import InputDataError
from hotspots.space import grid

BNG = "EPSG:27700"


def _crimes(lonlat: list[tuple[float, float]], types: list[str] | None = None) -> gpd.GeoDataFrame:
    """Crimes at the given lon/lat points, projected to British National Grid."""
    tr = pyproj.Transformer.from_crs("EPSG:4326", BNG, always_xy=True)
    x, y = tr.transform(*np.array(lonlat, dtype=float).T)
    df = pd.DataFrame(
        {
            "x": np.round(x, 2),
            "y": np.round(y, 2),
            "crime_type": types or ["Burglary"] * len(lonlat),
        }
    )
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=BNG)


def _grid_points(spacing: float, n: int = 12) -> gpd.GeoDataFrame:
    xs, ys = np.meshgrid(np.arange(n) * spacing + 530000, np.arange(n) * spacing + 180000)
    df = pd.DataFrame({"x": xs.ravel(), "y": ys.ravel(), "crime_type": "Robbery"})
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=BNG)


# inputs -------------------------------------------------------------------------------------


def test_degrees_are_refused() -> None:
    crimes = _crimes([(-0.12, 51.5)]).to_crs("EPSG:4326")
    with pytest.raises(InputDataError, match=r"projected CRS.*in degrees"):
        grid.points_to_cells(crimes, resolution=9)


def test_missing_columns_are_listed() -> None:
    crimes = _crimes([(-0.12, 51.5)]).drop(columns=["x", "y"])
    with pytest.raises(InputDataError, match=r"lacks the column\(s\) x, y"):
        grid.points_to_cells(crimes, resolution=9)


def test_resolution_must_be_0_to_15() -> None:
    with pytest.raises(InputDataError, match="integer from 0 to 15; got 16"):
        grid.points_to_cells(_crimes([(-0.12, 51.5)]), resolution=16)


def test_unknown_fill_is_refused() -> None:
    with pytest.raises(InputDataError, match="`fill` must be one of"):
        grid.count_by_cell(_crimes([(-0.12, 51.5)]), resolution=9, fill="hull")  # type: ignore[arg-type]


def test_invalid_cells_are_listed() -> None:
    with pytest.raises(InputDataError, match=r"found 1 invalid \(e.g. 'nope'\)"):
        grid.cells_to_polygons(["nope", h3.latlng_to_cell(51.5, -0.12, 9)], crs=BNG)


# outputs ------------------------------------------------------------------------------------


def test_points_to_cells_matches_h3_and_keeps_index() -> None:
    pts = [(-0.12, 51.5), (-0.1201, 51.5001), (-0.2, 51.45), (-0.12, 51.5)]
    crimes = _crimes(pts).set_axis([10, 11, 12, 13])
    crimes.loc[12, "x"] = np.nan
    cells = grid.points_to_cells(crimes, resolution=9)
    assert cells.index.tolist() == [10, 11, 12, 13]
    assert cells.name == "cell" and cells.dtype == "string"
    assert cells[10] == h3.latlng_to_cell(51.5, -0.12, 9) == cells[13]
    assert cells[11] == h3.latlng_to_cell(51.5001, -0.1201, 9)
    assert pd.isna(cells[12])


def test_count_by_cell_fill_options() -> None:
    crimes = _crimes(
        [(-0.12, 51.5), (-0.12, 51.5), (-0.1, 51.51)], ["Burglary", "Robbery", "Robbery"]
    )
    only = grid.count_by_cell(crimes, resolution=9, fill=None, quiet=True)
    ring = grid.count_by_cell(crimes, resolution=9, fill="ring", quiet=True)
    assert list(only.columns) == ["crimes", "n_burglary", "n_robbery"]
    assert (only.dtypes == "int64").all() and only.index.name == "cell"
    assert only["crimes"].to_dict() == {
        h3.latlng_to_cell(51.5, -0.12, 9): 2,
        h3.latlng_to_cell(51.51, -0.1, 9): 1,
    }
    assert only.loc[h3.latlng_to_cell(51.5, -0.12, 9)].tolist() == [2, 1, 1]
    assert len(ring) == 2 + 12  # two cells far apart, each with its six ring neighbours
    assert ring["crimes"].sum() == 3 and (ring["crimes"] == 0).sum() == 12
    assert ring.index.is_monotonic_increasing


def test_count_by_cell_area_fill_adds_cells_of_the_areas() -> None:
    crimes = _crimes([(-0.12, 51.5)])
    x, y = crimes["x"].iloc[0], crimes["y"].iloc[0]
    areas = gpd.GeoDataFrame(geometry=[box(x - 1000, y - 1000, x + 1000, y + 1000)], crs=BNG)
    counts = grid.count_by_cell(crimes, areas, resolution=9, quiet=True)
    inside = h3.geo_to_cells(areas.to_crs("EPSG:4326").geometry.iloc[0], 9)
    assert set(counts.index) == set(inside) | {h3.latlng_to_cell(51.5, -0.12, 9)}
    assert counts["crimes"].sum() == 1


def test_cells_to_polygons_hexagon_and_pentagon() -> None:
    hexagon = h3.latlng_to_cell(51.5, -0.12, 9)
    pentagon = h3.get_pentagons(8)[0]  # odd resolutions add distortion vertices (10 in all)
    out = grid.cells_to_polygons(pd.Series([hexagon, pentagon], index=["a", "b"]), crs="EPSG:4326")
    assert list(out.columns) == ["cell", "geometry"] and out.index.tolist() == ["a", "b"]
    assert out.crs == "EPSG:4326" and (out.geom_type == "Polygon").all()
    assert [len(g.exterior.coords) - 1 for g in out.geometry] == [6, 5]
    metric = grid.cells_to_polygons([hexagon], crs=BNG)
    assert metric.area.iloc[0] == pytest.approx(h3.cell_area(hexagon, "m^2"), rel=0.01)


@pytest.mark.parametrize(("spacing", "expected"), [(90.0, 9), (30.0, 10), (5.0, 10), (1000.0, 7)])
def test_default_resolution_rule(spacing: float, expected: int) -> None:
    # finest r with average edge >= 2 x spacing, within 7-10 (edges: 9 -> 201 m, 10 -> 76 m)
    assert grid.default_resolution(_grid_points(spacing), quiet=True) == expected


# real data ----------------------------------------------------------------------------------


def test_real_london_month(london_month: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    crimes, _ = london_month
    assert grid.default_resolution(crimes, quiet=True) == 9  # police.uk London: 9
    counts = grid.count_by_cell(crimes, resolution=9, quiet=True)
    assert counts["crimes"].sum() == len(crimes)
    assert (counts["crimes"] == 0).any()  # empty cells of the convex hull are there for Gi*
    polys = grid.cells_to_polygons(counts.index, crs=crimes.crs)
    assert polys.area.between(0.09e6, 0.1e6).all()


def test_real_vancouver(vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    crimes, _ = vancouver
    res = grid.default_resolution(crimes, quiet=True)
    assert grid.MIN_RESOLUTION <= res <= grid.MAX_RESOLUTION
    counts = grid.count_by_cell(crimes, resolution=res, fill="ring", quiet=True)
    assert counts["crimes"].sum() == len(crimes)


def test_areas_need_a_crs() -> None:
    areas = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)])
    with pytest.raises(InputDataError, match="`areas` must have a CRS"):
        grid.count_by_cell(_crimes([(-0.12, 51.5)]), areas, resolution=9)


def _plain_cells(crimes: gpd.GeoDataFrame, resolution: int) -> pd.Series:
    """H3 cell of every row, one h3 call per row (the plain way), missing without x/y."""
    tr = pyproj.Transformer.from_crs(crimes.crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(crimes["x"].to_numpy(float), crimes["y"].to_numpy(float))
    cells = [
        h3.latlng_to_cell(b, a, resolution) if np.isfinite(a) and np.isfinite(b) else None
        for a, b in zip(lon, lat, strict=True)
    ]
    return pd.Series(cells, index=crimes.index, dtype="string")


def test_distinct_points_path_matches_the_plain_one(
    vancouver: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    """Cells and counts from the reader's point ids equal one h3 call per row on real points.

    Also when ``point_id`` no longer matches x/y (moved rows), when rows lack x/y, and when
    two ids stand at one point (counted as one point for the resolution rule).
    """
    crimes = vancouver[0].iloc[:40_000].copy()
    assert "point_id" in crimes.columns
    split = crimes.copy()
    ids = split["point_id"].to_numpy().copy()
    ids[::2] = np.where(ids[::2] == ids[0], ids.max() + 1, ids[::2])  # one point, two ids
    split["point_id"] = ids
    moved = crimes.copy()
    moved.loc[moved.index[:50], "x"] += 7.0
    moved.loc[moved.index[50:60], "y"] = np.nan
    for table in (crimes, split, moved):
        xy = table[["x", "y"]].dropna().to_numpy(float)
        assert np.array_equal(grid.distinct_xy(table)[1], np.unique(xy, axis=0))
        plain = _plain_cells(table, 9)
        assert grid.points_to_cells(table, resolution=9).equals(plain)
        counts = grid.count_by_cell(table, resolution=9, fill=None, quiet=True)
        expected = plain.value_counts().sort_index()
        assert counts.index.tolist() == expected.index.tolist()
        assert counts["crimes"].tolist() == expected.tolist()
