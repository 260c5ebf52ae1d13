"""Ceilings of the area backtest: could any forecast reach 1.3x the baseline at 5% of area?

Usage::

    python benchmarks/forecast_ceiling.py [--city london|vancouver|both] [--draws 4]
        [--months 24] [--no-gbm]

For each city (the data of ``make run``) and crime group, on the area backtest's target months
(the last ``--months`` after a 12-month warm-up) and at 1% and 5% of the study area, the
hit rate of: the baseline (plain counts per street link), ``point_cover`` (the chosen method),
``point_gbm`` (:mod:`hotspots.evaluate.boosted`), and the ceilings of
:mod:`hotspots.evaluate.ceiling` (``hindsight``, ``oracle``, ``poisson_*``), each as a ratio
to its reference with 95% bootstrap intervals over months. Writes, per city,
``outputs/ceiling_<city>/``: ``ceiling_table.csv`` (month by month), ``ceiling_summary.csv``
and ``ceiling.md`` (the printed table, with ``point_gbm`` against ``point_cover``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.evaluate import backtest as bt
from hotspots.evaluate import boosted, ceiling
from hotspots.evaluate import forecasters as fc
from hotspots.evaluate.study import segments_to_study_area
from hotspots.read.crimes import read_crimes
from hotspots.read.layers import read_areas, read_streets
from hotspots.space import crs, segments, snap

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CITIES = {
    "london": (
        [DATA / "london" / "crimes"],
        "police-uk",
        DATA / "london" / "streets_osm_london.gpkg",
        DATA / "london" / "wards_2014.gpkg",
    ),
    "vancouver": (
        [DATA / "vancouver" / "vpd_crimedata_2020_2025.csv.gz"],
        "vancouver",
        DATA / "vancouver" / "public_streets.gpkg",
        DATA / "vancouver" / "local_areas.gpkg",
    ),
}
WARMUP_MONTHS = 12


def prepare(city: str) -> fc.AreaData:
    """Read a city's inputs as ``hotspots evaluate`` does and prepare the area backtest."""
    paths, fmt, streets_path, areas_path = CITIES[city]
    crimes, _ = read_crimes(paths, fmt=fmt, quiet=True)
    streets = crs.to_metric_crs(
        read_streets(streets_path), crimes.crs, name=streets_path.name, quiet=True
    )
    segs = segments.lines_to_segments(streets, quiet=True)
    areas = crs.to_metric_crs(read_areas(areas_path), crimes.crs, name=areas_path.name, quiet=True)
    region = segments_to_study_area(segs, distance_m=snap.DEFAULT_SNAP_DISTANCE_M, areas=areas)
    snapped = snap.snap_to_streets(
        crimes, segs, max_distance_m=snap.DEFAULT_SNAP_DISTANCE_M, quiet=True
    )
    crimes = crimes.assign(segment_id=snapped["segment_id"])
    return bt.prepare_area(crimes, segs, region, methods=bt.DEFAULT_AREA_METHODS)


def _gbm(hist: fc.History, group: str) -> np.ndarray:
    return boosted.score_point_gbm(hist, group, boosted.GBM_TRAIN_MONTHS[0])


def markdown(summary: pd.DataFrame, versus: pd.DataFrame, *, title: str) -> str:
    """Return the summary as a markdown table: one row per group x method, 1% and 5% columns."""
    lines = [
        f"## {title}",
        "",
        "ratio to reference (95% interval over months); hit rate in brackets",
        "",
        "| group | method | reference | at 1% | at 5% |",
        "|---|---|---|---|---|",
    ]

    def cell(r: pd.Series) -> str:
        return (
            f"{r['ratio_mean']:.3f} ({r['ratio_lo']:.3f}-{r['ratio_hi']:.3f}) "
            f"[{100 * r['hit_rate_mean']:.1f}%]"
        )

    both = pd.concat([summary, versus.assign(method=versus["method"] + " vs point_cover")])
    for (g, m), rows in both.groupby(["group", "method"], sort=False):
        by = rows.set_index("coverage_pct")
        cells = [cell(by.loc[c]) if c in by.index else "-" for c in (1.0, 5.0)]
        lines.append(f"| {g} | {m} | {rows['reference'].iloc[0]} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the ceilings for the cities asked and write ``outputs/ceiling_<city>/``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", choices=[*CITIES, "both"], default="both")
    ap.add_argument("--draws", type=int, default=ceiling.POISSON_DRAWS)
    ap.add_argument("--months", type=int, default=bt.DEFAULT_AREA_MONTHS)
    ap.add_argument("--no-gbm", action="store_true", help="leave point_gbm out (faster)")
    ap.add_argument(
        "--poisson-window",
        type=int,
        default=None,
        help="the simulated rates from the months within N of the target (default: all); "
        "writes outputs/ceiling_<city>_w<N>",
    )
    args = ap.parse_args()
    for city in list(CITIES) if args.city == "both" else [args.city]:
        t0 = time.perf_counter()
        data = prepare(city)
        targets = list(range(WARMUP_MONTHS, len(data.months)))[-args.months :]
        scorers = {} if args.no_gbm else {"point_gbm": ("points", _gbm)}
        table = ceiling.ceiling_backtest(
            data,
            targets=targets,
            scorers=scorers,
            draws=args.draws,
            poisson_window_months=args.poisson_window,
            seed=0,
        )
        summary = ceiling.summarise_ceiling(table)
        versus = ceiling.summarise_ceiling(table, against="point_cover")
        versus = versus[versus["method"] == "point_gbm"]
        tag = f"_w{args.poisson_window}" if args.poisson_window is not None else ""
        world = f"the {args.poisson_window} months either side" if tag else "every month"
        out = ROOT / "outputs" / f"ceiling_{city}{tag}"
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "ceiling_table.csv", index=False)
        summary.to_csv(out / "ceiling_summary.csv", index=False)
        title = (
            f"{city}: {len(targets)} target months {data.months[targets[0]]}.."
            f"{data.months[targets[-1]]}, {args.draws} simulated months each, simulated "
            f"rates from {world} ({time.perf_counter() - t0:.0f} s)"
        )
        text = markdown(summary, versus, title=title)
        (out / "ceiling.md").write_text(text, encoding="utf-8")
        print(text, flush=True)


if __name__ == "__main__":
    main()
