"""hotspots.output.area_maps: area pages written in one or two processes, the same bytes."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from hotspots.output import area_maps
from hotspots.output.map_options import MapOptions


class _BadPage(area_maps.AreaPage):
    def html(self) -> str:
        msg = "bad page"
        raise ValueError(msg)


def _pages(n: int, *, bad: int | None = None) -> list[area_maps.AreaPage]:
    areas = gpd.GeoDataFrame(
        {"area_code": ["A1"], "area_name": ["Area <1>"], "crimes": [3]},
        geometry=[box(529000, 179000, 531000, 181000)],
        crs=27700,
    )
    pages = []
    for i in range(n):
        hot = gpd.GeoDataFrame(
            {
                "street": [f"Street {i}"],
                "area_code": ["A1"],
                "area_name": ["Area <1>"],
                "crimes": [i + 1],
                "rank": [1],
                "area_rank": [1],
                "n_burglary": [i + 1],
            },
            geometry=[LineString([(530000, 180000 + i), (530100, 180000 + i)])],
            crs=27700,
        )
        options = MapOptions(title=f"Page {i}", focus=["A1"], top_n=None, rank_col="area_rank")
        kind = _BadPage if i == bad else area_maps.AreaPage
        pages.append(kind(f"p{i:02d}.html", hot, areas, options))
    return pages


def _two_cores() -> bool:
    return hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2


def test_workers_one_for_few_pages_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert area_maps.map_workers(2 * area_maps.MIN_PAGES_PER_WORKER - 1) == 1
    monkeypatch.setenv(area_maps.MAP_WORKERS_ENV, "1")
    assert area_maps.map_workers(1000) == 1
    monkeypatch.delenv(area_maps.MAP_WORKERS_ENV)
    assert area_maps.map_workers(1000) == (2 if _two_cores() else 1)


def test_two_processes_write_the_same_pages_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _pages(2 * area_maps.MIN_PAGES_PER_WORKER + 3)
    monkeypatch.setenv(area_maps.MAP_WORKERS_ENV, "1")
    _, one = area_maps.write_pages(pages, tmp_path / "one")
    monkeypatch.delenv(area_maps.MAP_WORKERS_ENV)
    city = tmp_path / "two" / "city.txt"
    first, two = area_maps.write_pages(
        pages, tmp_path / "two", before=lambda: [city] if city.write_text("x") else []
    )
    assert first == [city] and city.is_file()
    assert [p.name for p in one] == [p.name for p in two] == [p.name for p in pages]
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert "Street 5" in (tmp_path / "two" / "p05.html").read_text(encoding="utf-8")


def test_a_failing_page_fails_the_run(tmp_path: Path) -> None:
    pages = _pages(2 * area_maps.MIN_PAGES_PER_WORKER, bad=7)
    # whichever process meets it: this one raises it, or says the other one failed with it
    with pytest.raises((ValueError, RuntimeError), match="bad page"):
        area_maps.write_pages(pages, tmp_path)
