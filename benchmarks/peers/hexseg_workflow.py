"""hexseg's workflow on the Vancouver data, the way its README shows it: the Python peer of
``hotspots run`` in the whole-run benchmark (target 2 of issue 19).

Steps (hexseg 0.2.0, ``pip install --group bench``): read the VPD file with pandas and drop the
records without coordinates; hexagons over the local areas (``get_hexagons``, H3 resolution
10 as ``hotspots run`` picks for Vancouver); crimes per hexagon (``summarise_by_hex``); the
spatial lag over the first H3 ring (``add_spatial_lag``) and global and per-area z-scores and
ranks (``add_spatial_stats``); crimes per street segment by nearest road within 30 m
(``count_crimes_by_nearest_road``, ``hotspots run``'s snapping distance); the segment
adjacency graph (``build_adj_graph``) and its greedy segment clusters (``segment_clusters``,
``clusters_to_gdf``, the README's sizes); one Folium map of the top hexagons and the busiest
clusters (``create_folium_map``), saved as HTML.

Usage::

    .venv/bin/python benchmarks/peers/hexseg_workflow.py --out outputs/bench/hexseg.html

It prints one line of JSON: seconds per step, the whole process's seconds being timed by the
caller (imports included, as for ``hotspots run``).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

T0 = time.perf_counter()

import geopandas as gpd  # noqa: E402  (imports are part of the timed workflow)
import hexseg as hs  # noqa: E402
import pandas as pd  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vancouver"
UTM10 = 26910  # the VPD file's own X/Y: NAD83 / UTM zone 10N


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crimes", type=Path, default=DATA / "vpd_crimedata_2020_2025.csv.gz")
    ap.add_argument("--areas", type=Path, default=DATA / "local_areas.gpkg")
    ap.add_argument("--streets", type=Path, default=DATA / "public_streets.gpkg")
    ap.add_argument("--out", type=Path, required=True, help="HTML map to write")
    ap.add_argument("--resolution", type=int, default=10)
    args = ap.parse_args(argv)
    seconds: dict[str, float] = {"imports": round(time.perf_counter() - T0, 3)}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        seconds[name] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()

    warnings.simplefilter("ignore")  # hexseg warns about edge hexagons; not timed output
    df = pd.read_csv(args.crimes)
    df = df.dropna(subset=["X", "Y"])
    df = df[(df["X"] != 0) | (df["Y"] != 0)]
    crimes = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["X"], df["Y"]), crs=UTM10)
    areas = gpd.read_file(args.areas).to_crs(UTM10)
    roads = gpd.read_file(args.streets).to_crs(UTM10)
    lap("read")

    hexes = hs.get_hexagons(areas, name_col="name", resolution=args.resolution)
    hex_counts = hs.summarise_by_hex(hexes_gdf=hexes, crimes_gdf=crimes, count=True)
    hex_lagged = hs.add_spatial_lag(hexes_gdf=hex_counts, count_col="crime_count")
    hex_stats = hs.add_spatial_stats(hex_lagged, col="count_plus_mean", group_col="geo_boundary")
    lap("hexagons")

    roads_with_counts = hs.count_crimes_by_nearest_road(
        crimes_gdf=crimes, roads_gdf=roads, max_dist=30
    )
    lap("nearest_road_counts")
    graph, roads_indexed = hs.build_adj_graph(
        roads_with_counts, fid_col=None, crime_count_col="crime_count", snap_tolerance=1.0
    )
    clusters = hs.segment_clusters(graph, min_size=5, max_size=8, min_crimes=100)
    gdf_clusters = hs.clusters_to_gdf(
        clusters, graph, roads_indexed, fid_col="fid", crime_count_col="crime_count"
    )
    lap("segment_clusters")

    top = gdf_clusters["cluster_crime_sum"].quantile(0.9) if len(gdf_clusters) else 0
    m = hs.create_folium_map(
        hex_gdf=hex_stats,
        hex_query="count_plus_mean_rank_by_geo_boundary <= 20",
        hex_color_col="count_plus_mean_rank_by_geo_boundary",
        seg_gdf=gdf_clusters,
        seg_query=f"cluster_crime_sum >= {top}",
        district_gdf=areas,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    m.save(str(args.out))
    lap("map")
    print(
        json.dumps(
            {
                "crimes": len(crimes),
                "hexagons": len(hex_stats),
                "segments": len(roads_with_counts),
                "clusters": len(clusters),
                "seconds": seconds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
