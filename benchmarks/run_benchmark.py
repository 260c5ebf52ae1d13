"""Time every stage of hot streets on real data and a 10-million-crime scale-up, against the
plain GeoPandas approach, and report peak memory.

Usage::

    .venv/bin/python benchmarks/run_benchmark.py                  # London, Vancouver, 10M
    .venv/bin/python benchmarks/run_benchmark.py --skip-london --scale 2000000
    .venv/bin/python benchmarks/run_benchmark.py --plain-rows 1000000   # plain on a sample

Datasets: London (police.uk, 24 months, 1.45 million rows), Vancouver (VPD, 207,000 rows) and
Vancouver scaled up to ``--scale`` crimes on its own street network: the six years repeated
with a seeded jitter of whole metres (-3..3 m per axis) and days (-3..3) per repeat, written
once as gzipped CSVs (one per repeat) under ``outputs/bench/`` and read back through the
real reader, so the load stage is timed honestly.

Each dataset runs twice, each time in a fresh subprocess: "ours" runs ``hotspots run``'s own
stages load, area_join, street_segments (from the segment cache), snapping (with segment
naming) and ranking (with places, locations, place keys and the concentration baseline)
through ``pipeline.rank_stages``, the command's one code path, then times area lists, time
profiles, clusters, maps and exports from the library functions. The reader joins the areas
while it assembles the table, so "load" includes the area join and "area_join" only projects
the area layer for later stages; "plain" is what an analyst would write with GeoPandas
(``pandas.read_csv``, ``points_from_xy``, ``to_crs``, ``sjoin`` with the areas,
``sjoin_nearest(max_distance=30)`` of every crime against every segment, ``groupby``).
Both get the same street segments, built outside the timings.

Memory: the peak resident set size (RSS) of each stage in that subprocess: on Linux the
kernel's own peak (``VmHWM``), reset as each stage starts, so nothing runs beside the timed
code; elsewhere psutil sampled every 10 ms by a thread. The process's peak is the highest
stage peak (or ``resource.getrusage(...).ru_maxrss`` if higher).

The ratio plain / ours is for "hot streets from raw rows": run.json's load..ranking for ours
(street segments and naming included), load + area join + snapping + ranking for plain (given
the segments). Area lists, time profiles, clusters, maps and exports are ours only and listed
separately. ``benchmarks/whole_run.py`` puts this ratio beside the other targets of issue 19.
Results are printed as a table and written to ``outputs/bench/benchmark.json``.

Full run (``--full-run [DATASET]``): instead of the stage table, run ``hotspots run`` on one
dataset as a user would (a subprocess writing a run folder with offline maps, as
``make run``), by default the 10-million-crime scale-up; ``DATASET`` is ``london``,
``vancouver`` or the scale-up's name (``vancouver_10m`` at the default ``--scale``). It prints
the wall time, the peak RSS of that process (``os.wait4``'s ``ru_maxrss``, the figure
``/usr/bin/time -v`` reports as "Maximum resident set size") and the stage seconds from the
run's ``run.json``, and stores them as ``full_run`` under the dataset's entry of
``benchmark.json``, keeping the rest of the file::

    .venv/bin/python benchmarks/run_benchmark.py --full-run             # the 10M scale-up
    .venv/bin/python benchmarks/run_benchmark.py --full-run london
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import importlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from hotspots import pipeline
from hotspots.analysis import rank
from hotspots.cli.collector import collect_less
from hotspots.output import export, maps
from hotspots.read.datasets import data_dir
from hotspots.read.layers import read_areas
from hotspots.space import cache, crs, snap

try:
    import psutil
except ImportError:  # only the process peak is reported then
    psutil = None

ROOT = Path(__file__).resolve().parents[1]
RATIO_STAGES = ("load", "area_join", "street_segments", "snapping", "ranking")
SNAP_M = 30.0
JITTER_M = 3
JITTER_DAYS = 3


# --------------------------------------------------------------------------------------------
# measuring


class Monitor:
    """Wall and CPU seconds and peak RSS of each stage.

    On Linux the kernel's own peak (``VmHWM``) is reset at the start of each stage (writing
    5 to ``/proc/self/clear_refs``) and read at its end: exact, and nothing runs beside the
    timed code. Elsewhere RSS is sampled every 10 ms by a thread, which takes the GIL.
    """

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}
        self._peak = 0
        self._stop = threading.Event()
        self._proc: Any = psutil.Process() if psutil is not None else None
        self._kernel_peak = _reset_peak()
        self._max_seen = 0.0  # process peak (bytes) over the stages so far
        self._thread = None
        if not self._kernel_peak:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _rss(self) -> int:
        return int(self._proc.memory_info().rss) if self._proc is not None else 0

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self._peak = max(self._peak, self._rss())

    def _stage_peak(self) -> int | None:
        if self._kernel_peak:
            return _kernel_peak_bytes()
        return max(self._peak, self._rss()) if self._proc is not None else None

    @contextlib.contextmanager
    def stage(self, name: str, rows: int) -> Iterator[dict[str, Any]]:
        extra: dict[str, Any] = {}
        if self._kernel_peak:
            _reset_peak()
        else:
            self._peak = self._rss()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield extra
        finally:
            seconds = time.perf_counter() - wall
            cpu_seconds = time.process_time() - cpu
            peak = self._stage_peak()
            self.stages[name] = {
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "rows": rows,
                "rows_per_second": round(rows / seconds) if seconds > 0 else None,
                "peak_rss_mb": round(peak / 2**20) if peak is not None else None,
                "process_peak_rss_mb": round(self.process_peak() / 2**20),
                **extra,
            }

    def process_peak(self) -> float:
        """Peak RSS of the process so far (bytes), including stages before a reset."""
        self._max_seen = max(self._max_seen, _maxrss_mb() * 2**20, _kernel_peak_bytes() or 0)
        return self._max_seen

    def skip(self, name: str, why: str) -> None:
        self.stages[name] = {"seconds": None, "note": why}

    def close(self) -> None:
        self._stop.set()


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS of this process to its current RSS; False if not Linux."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _kernel_peak_bytes() is not None


def _kernel_peak_bytes() -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------------------------
# datasets


def datasets(
    data: Path, out: Path, scale: int, seed: int, skip: set[str]
) -> dict[str, dict[str, Any]]:
    london = {
        "fmt": "police-uk",
        "crimes": [str(data / "london" / "crimes")],
        "areas": str(data / "london" / "wards_2014.gpkg"),
        "streets": str(data / "london" / "streets_osm_london.gpkg"),
        "area_code": "ward_code",
    }
    vpd = data / "vancouver" / "vpd_crimedata_2020_2025.csv.gz"
    van = {
        "fmt": "vancouver",
        "crimes": [str(vpd)],
        "areas": str(data / "vancouver" / "local_areas.gpkg"),
        "streets": str(data / "vancouver" / "public_streets.gpkg"),
        "area_code": "mapid",
    }
    found = {}
    if "london" not in skip:
        found["london"] = london
    if "vancouver" not in skip:
        found["vancouver"] = van
    if scale and "scaled" not in skip:
        folder = scale_vancouver(Path(van["crimes"][0]), out / f"vancouver_x{scale}", scale, seed)
        name = f"vancouver_{scale // 1_000_000}m" if scale >= 1_000_000 else f"vancouver_{scale}"
        found[name] = {**van, "crimes": [str(folder)], "generated": True}
    return found


def scale_vancouver(source: Path, folder: Path, scale: int, seed: int) -> Path:
    """Write ``scale`` VPD rows: the real file repeated with a seeded jitter (once; cached)."""
    manifest = {
        "source": source.name,
        "source_bytes": source.stat().st_size,
        "rows": scale,
        "seed": seed,
        "jitter_m": JITTER_M,
        "jitter_days": JITTER_DAYS,
        "layout": 1,
    }
    done = folder / "manifest.json"
    if done.is_file() and json.loads(done.read_text()) == manifest:
        return folder / "crimes"
    print(f"generating {scale:,} crimes in {folder} ...", flush=True)
    t0 = time.perf_counter()
    (folder / "crimes").mkdir(parents=True, exist_ok=True)
    for old in (folder / "crimes").glob("*.csv.gz"):
        old.unlink()
    base = pacsv.read_csv(
        source,
        convert_options=pacsv.ConvertOptions(
            column_types={"X": pa.string(), "Y": pa.string()}, strings_can_be_null=False
        ),
    ).to_pandas()
    rng = np.random.default_rng(seed)
    rep, written = 0, 0
    while written < scale:
        part = base.iloc[: scale - written] if rep else base.iloc[: min(len(base), scale)]
        if rep:
            part = _jitter(part, rng)
        table = pa.Table.from_pandas(part, preserve_index=False)
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
        path = folder / "crimes" / f"vpd_scaled_{rep:03d}.csv.gz"
        path.write_bytes(gzip.compress(sink.getvalue().to_pybytes(), compresslevel=1))
        written += len(part)
        rep += 1
    done.write_text(json.dumps(manifest))
    print(f"  {rep} files in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder / "crimes"


def _jitter(part: Any, rng: np.random.Generator) -> Any:
    """Move each located record by whole metres and shift every date by whole days."""
    n = len(part)
    x = pd.to_numeric(part["X"], errors="coerce").to_numpy()
    y = pd.to_numeric(part["Y"], errors="coerce").to_numpy()
    located = np.isfinite(x) & np.isfinite(y) & ((x != 0) | (y != 0))
    dx, dy = rng.integers(-JITTER_M, JITTER_M + 1, n), rng.integers(-JITTER_M, JITTER_M + 1, n)
    new_x = np.where(located, np.round(x + dx, 4), np.nan)
    new_y = np.where(located, np.round(y + dy, 4), np.nan)
    day = pd.to_datetime(
        pd.DataFrame({"year": part["YEAR"], "month": part["MONTH"], "day": part["DAY"]})
    )
    day = day + pd.to_timedelta(rng.integers(-JITTER_DAYS, JITTER_DAYS + 1, n), unit="D")
    return part.assign(
        YEAR=day.dt.year.to_numpy(),
        MONTH=day.dt.month.to_numpy(),
        DAY=day.dt.day.to_numpy(),
        X=np.where(located, pd.Series(new_x).map("{:.4f}".format), part["X"].to_numpy()),
        Y=np.where(located, pd.Series(new_y).map("{:.4f}".format), part["Y"].to_numpy()),
    )


def _sample(paths: list[str], folder: Path, lines: int = 3000) -> Path:
    """Copy the first ``lines`` rows of the first crime file (for an untimed warm-up run)."""
    first = next(_iter_files(paths))
    opener = gzip.open if first.name.endswith(".gz") else open
    with opener(first, "rt", encoding="utf-8") as fh:
        head = [line for _, line in zip(range(lines + 1), fh, strict=False)]
    out = folder / first.name.removesuffix(".gz")
    out.write_text("".join(head), encoding="utf-8")
    return out


def _iter_files(paths: list[str]) -> Iterator[Path]:
    for p in map(Path, paths):
        yield from (sorted(q for q in p.rglob("*.csv*")) if p.is_dir() else [p])


# --------------------------------------------------------------------------------------------
# the two workers (each runs in a subprocess of its own)


def _segments(spec: dict[str, Any], crs: Any, areas: Any) -> Any:
    segs = cache.cached_segments(spec["streets"], crs=crs, cache=spec["cache"], quiet=True)
    return segs.join(snap.assign_segment_areas(segs, areas))


class _MonitorStages:
    """Lets :func:`hotspots.pipeline.rank_stages` time its stages with a :class:`Monitor`."""

    def __init__(self, mon: Monitor) -> None:
        self.mon = mon
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> Any:
        return self.mon.stage(name, 0)

    @contextlib.contextmanager
    def more(self, name: str) -> Iterator[None]:
        """Time the block and add it to stage ``name`` (as ``StageTimer.more``)."""
        before = dict(self.mon.stages.get(name, {}))
        with self.mon.stage(name, 0):
            yield
        now = self.mon.stages[name]
        for key in ("seconds", "cpu_seconds"):
            if before.get(key) is not None:
                now[key] = round(now[key] + before[key], 3)
        peaks = [p for p in (before.get("peak_rss_mb"), now["peak_rss_mb"]) if p is not None]
        now["peak_rss_mb"] = max(peaks) if peaks else None


def run_ours(spec: dict[str, Any]) -> dict[str, Any]:
    """``hotspots run``'s own stages load..ranking (``pipeline.rank_stages``), then the rest.

    The stages up to ranking are the command's one code path: reading with the area join,
    the area layer, street segments (from the segment cache, as in a monthly rerun: the
    warm-up run built it), snapping with segment naming, ranking with places, locations,
    place keys and the concentration baseline. The stages after it are timed from the
    library functions the run calls. What they write goes to a temporary folder, removed
    after the timing.
    """
    with tempfile.TemporaryDirectory(prefix="hotspots-bench-") as tmp:
        return _run_ours(spec, Path(tmp))


def _run_ours(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    mon = Monitor()
    os.environ[cache.CACHE_ENV] = spec["cache"]
    config = pipeline.RunConfig.from_options(
        crimes=[Path(p) for p in spec["crimes"]],
        fmt=spec["fmt"],
        areas=Path(spec["areas"]),
        streets=Path(spec["streets"]),
        out=out / "run",
        quiet=True,
    )
    ranked = pipeline.rank_stages(config, _MonitorStages(mon))  # type: ignore[arg-type]
    crimes, segs, counts, hot = ranked.crimes, ranked.segments, ranked.counts, ranked.hot_streets
    n = len(crimes) + len(ranked.rejected)
    for st in mon.stages.values():
        st.update(rows=n, rows_per_second=round(n / st["seconds"]) if st["seconds"] else None)
    mon.stages["load"]["note"] = "with the area join (rows outside every area rejected)"
    mon.stages["street_segments"]["note"] = "from the segment cache, with their areas"
    mon.stages["snapping"]["note"] = "with naming segments from the records"
    mon.stages["ranking"].update(
        hot_streets=len(hot),
        note="with places, locations, place keys and the concentration baseline",
    )
    if spec.get("core_only"):  # whole_run.py's target 1: the stages up to ranking only
        mon.close()
        return {
            "stages": mon.stages,
            "rows_read": n,
            "crimes_kept": len(crimes),
            "process_peak_rss_mb": round(mon.process_peak() / 2**20),
        }
    areas = ranked.areas
    with mon.stage("area_lists", n):
        lists = rank.area_lists(
            hot, ranked.locations, area_codes=crimes["area_code"].unique().tolist()
        )
    _optional_stage(
        mon, "time_profiles", n, "hotspots.temporal.profiles", lambda m: _profiles(m, crimes)
    )
    _optional_stage(
        mon, "clusters", n, "hotspots.analysis.clusters", lambda m: _clusters(m, crimes, segs)
    )
    with mon.stage("maps", n):
        per_area = crimes.groupby("area_code").size().rename("crimes").reset_index()
        areas_map = areas.merge(per_area, on="area_code", how="left")
        maps.explore_hot_streets(hot, areas_map, title="Hot streets").save(str(out / "map.html"))
    with mon.stage("exports", n):
        export.write_hot_streets(hot, out)
        export.write_area_csvs(lists, out / "wards")
    mon.close()
    del counts
    return {
        "stages": mon.stages,
        "rows_read": n,
        "crimes_kept": len(crimes),
        "process_peak_rss_mb": round(mon.process_peak() / 2**20),
    }


def _optional_stage(mon: Monitor, name: str, rows: int, module: str, work: Any) -> None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        mon.skip(name, "n/a (module not present)")
        return
    with mon.stage(name, rows) as info:
        info["note"] = work(mod)


def _profiles(temporal: Any, crimes: Any) -> str:
    done = []
    for what, call in (
        ("monthly_profile", lambda: temporal.monthly_profile(crimes, by="area_code", quiet=True)),
        ("hour_day_profile", lambda: temporal.hour_day_profile(crimes, by="area_code", quiet=True)),
    ):
        try:
            call()
            done.append(what)
        except Exception as err:  # a stage that cannot run is reported, not fatal
            done.append(f"{what}: n/a ({type(err).__name__}: {str(err)[:60]})")
    return "; ".join(done)


def _clusters(clusters: Any, crimes: Any, segs: Any) -> str:
    labels = clusters.cluster_points(crimes, quiet=True)
    summary = clusters.summarise_clusters(crimes, labels, segs)
    return f"cluster_points + summarise_clusters: {len(summary)} clusters"


def run_plain(spec: dict[str, Any]) -> dict[str, Any]:
    """The plain GeoPandas approach, stage by stage, on the same files and segments."""
    police = spec["fmt"] == "police-uk"
    lon, lat, target = ("Longitude", "Latitude", 27700) if police else ("X", "Y", 26910)
    areas_ours = crs.to_metric_crs(read_areas(spec["areas"]), target, quiet=True)
    segs = _segments(spec, areas_ours.crs, areas_ours)  # untimed: the same segments as ours
    files = list(_iter_files(spec["crimes"]))
    limit = spec.get("plain_rows")
    mon = Monitor()
    with mon.stage("load", 0):
        df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
        if limit:
            df = df.iloc[:limit]
        n = len(df)
        df = df.dropna(subset=[lon, lat])
        if not police:
            df = df[(df[lon] != 0) | (df[lat] != 0)]
        crimes = gpd.GeoDataFrame(
            df, geometry=gpd.points_from_xy(df[lon], df[lat]), crs=4326 if police else target
        ).to_crs(target)
    mon.stages["load"].update(rows=n, rows_per_second=round(n / mon.stages["load"]["seconds"]))
    with mon.stage("area_join", n):
        areas = gpd.read_file(spec["areas"]).to_crs(target)
        crimes = gpd.sjoin(
            crimes, areas[[spec["area_code"], "geometry"]], how="inner", predicate="within"
        )
    with mon.stage("snapping", n) as info:
        crimes = gpd.sjoin_nearest(
            crimes.drop(columns="index_right"),
            segs[["segment_id", "area_code", "length_m", "geometry"]],
            how="left",
            max_distance=SNAP_M,
            distance_col="snap_m",
        )
        info["snapped"] = int(crimes["segment_id"].notna().sum())
    with mon.stage("ranking", n) as info:
        kind = "Crime type" if police else "TYPE"
        on = crimes.dropna(subset=["segment_id"])
        table = on.groupby(["segment_id", kind]).size().unstack(fill_value=0)
        table["crimes"] = table.sum(axis=1)
        seg = segs.set_index("segment_id")[["area_code", "length_m"]].join(table, how="inner")
        seg["per_100m"] = seg["crimes"] / seg["length_m"].clip(lower=50) * 100
        cut = seg.groupby("area_code")["per_100m"].transform(lambda s: s.quantile(0.8))
        hot = seg[(seg["crimes"] >= 5) & (seg["per_100m"] >= cut)].copy()
        hot["rank"] = hot["per_100m"].rank(ascending=False, method="min")
        hot["area_rank"] = hot.groupby("area_code")["per_100m"].rank(ascending=False, method="min")
        info["hot_segments"] = len(hot)
    mon.close()
    return {
        "stages": mon.stages,
        "rows_read": n,
        "sample_rows": limit,
        "process_peak_rss_mb": round(mon.process_peak() / 2**20),
    }


# --------------------------------------------------------------------------------------------
# driver


def _run_worker(kind: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    result = Path(fh.name).with_suffix(".out.json")
    cmd = [sys.executable, __file__, "--worker", kind, "--spec", fh.name, "--result", str(result)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, check=False, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        Path(fh.name).unlink(missing_ok=True)
    if proc.returncode != 0 or not result.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    out = json.loads(result.read_text())
    result.unlink()
    out["subprocess_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _ratio_seconds(res: dict[str, Any]) -> float | None:
    st = res.get("stages", {})
    try:  # the plain script has no street-segment stage: it is given the segments
        return float(sum(st[s]["seconds"] for s in RATIO_STAGES if s in st))
    except (KeyError, TypeError):
        return None


def _fmt(v: Any, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def print_table(name: str, ours: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    rows = ours.get("rows_read", 0)
    print(f"\n== {name}: {rows:,} rows read, {ours.get('crimes_kept', 0):,} crimes kept ==")
    if "error" in ours:
        print(f"  ours failed: {ours['error']}")
        return {}
    print(
        f"  {'approach':<6} {'stage':<24} {'seconds':>8} {'cpu s':>7} {'rows/s':>12} "
        f"{'peak RSS MB':>11}  note"
    )
    for label, res in (("ours", ours), ("plain", plain)):
        for stage, st in res.get("stages", {}).items():
            note = st.get("note", "")
            print(
                f"  {label:<6} {stage:<24} {_fmt(st.get('seconds'), '8.2f')} "
                f"{_fmt(st.get('cpu_seconds'), '7.2f')} {_fmt(st.get('rows_per_second'), '12,')} "
                f"{_fmt(st.get('peak_rss_mb'), '11,')}  {note}"
            )
        if "error" in res:
            print(f"  {label:<6} failed: {res['error']}")
    o, p = _ratio_seconds(ours), _ratio_seconds(plain)
    summary: dict[str, Any] = {
        "ours_seconds": o,
        "process_peak_rss_mb": ours.get("process_peak_rss_mb"),
        "plain_process_peak_rss_mb": plain.get("process_peak_rss_mb"),
    }
    if o and p:
        sample = plain.get("sample_rows")
        p_full = p * rows / sample if sample and sample < rows else p
        summary.update(
            plain_seconds=round(p_full, 2),
            ratio=round(p_full / o, 1),
            plain_extrapolated_from_rows=sample if p_full != p else None,
        )
        how = (
            f" (plain timed on the first {sample:,} rows and extrapolated linearly)"
            if p_full != p
            else ""
        )
        print(
            f"  hot streets from raw rows (ours: run.json's load..ranking; plain: load + "
            f"area join + snapping + ranking): ours {o:.2f} s, plain {p_full:.2f} s -> "
            f"plain/ours = {p_full / o:.1f}x{how}"
        )
    peaks = [ours["stages"][s].get("peak_rss_mb") or 0 for s in RATIO_STAGES if s in ours["stages"]]
    summary["ratio_stages_peak_rss_mb"] = max(peaks) if peaks else None
    print(f"  peak RSS of the stages load..ranking: {max(peaks or [0]):,} MB")
    total = sum(st["seconds"] for st in ours["stages"].values() if st.get("seconds"))
    summary["ours_all_stages_seconds"] = round(total, 1)
    print(
        f"  all our stages: {total:.1f} s; process peak RSS ours "
        f"{ours.get('process_peak_rss_mb'):,} MB, "
        f"plain {plain.get('process_peak_rss_mb', '-')} MB"
    )
    return summary


# --------------------------------------------------------------------------------------------
# the full run of ``hotspots run``


def _hotspots_command() -> list[str]:
    script = Path(sys.executable).with_name("hotspots")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hotspots.cli"]


def _wait_with_usage(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any]:
    """Wait for ``proc`` and return its exit code and its own resource usage (os.wait4)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > deadline and proc.returncode is None:
            print(f"  timed out after {timeout:.0f} s: stopping it", flush=True)
            proc.kill()
            proc.returncode = -9  # reaped by the next wait4
        time.sleep(0.2)


def full_run(name: str, spec: dict[str, Any], out: Path, timeout: float) -> dict[str, Any]:
    """Run ``hotspots run`` on ``spec`` in a subprocess; return wall time and peak RSS."""
    run_dir = out / f"full_run_{name}"
    cmd = [
        *_hotspots_command(),
        "run",
        "--crimes",
        *spec["crimes"],
        "--format",
        spec["fmt"],
        "--areas",
        spec["areas"],
        "--streets",
        spec["streets"],
        "--area-code",
        spec["area_code"],
        "--out",
        str(run_dir),
        "--overwrite",
        "--offline",
    ]
    log_path = out / f"full_run_{name}.log"
    print(f"full run of {name}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        code, usage = _wait_with_usage(proc, timeout)
    wall = time.perf_counter() - t0
    result: dict[str, Any] = {
        "command": cmd,
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),  # KiB on Linux
        "peak_rss_gib": round(usage.ru_maxrss / 1024**2, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "log": str(log_path),
    }
    manifest = run_dir / "run.json"
    if code == 0 and manifest.is_file():
        run = json.loads(manifest.read_text())
        result.update(
            stage_seconds=run["seconds"],
            rows_read=run["totals"]["read"],
            crimes_kept=run["totals"]["kept"],
        )
    return result


def print_full_run(name: str, res: dict[str, Any]) -> None:
    print(f"\n== full run of hotspots run: {name} ==")
    if res["exit_code"] != 0:
        print(f"  failed with exit code {res['exit_code']}: see {res['log']}")
    print(
        f"  wall {res['wall_seconds']:.1f} s, CPU {res['cpu_seconds']:.1f} s, peak RSS "
        f"{res['peak_rss_mb']:,} MB ({res['peak_rss_gib']:.2f} GiB)"
    )
    if "stage_seconds" in res:
        print(f"  {res['rows_read']:,} rows read, {res['crimes_kept']:,} crimes kept")
        for stage, seconds in res["stage_seconds"].items():
            print(f"  {stage:<24} {seconds:8.1f} s")


def _store_full_run(path: Path, name: str, spec: dict[str, Any], res: dict[str, Any]) -> None:
    """Put ``res`` under ``datasets[name]["full_run"]`` of ``path``, keeping everything else."""
    report = json.loads(path.read_text()) if path.is_file() else {"datasets": {}}
    entry = report.setdefault("datasets", {}).setdefault(name, {"spec": spec})
    entry["full_run"] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **res,
    }
    path.write_text(json.dumps(report, indent=2))


def main_full_run(args: argparse.Namespace) -> int:
    data = args.data or data_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = args.full_run
    skip = {k for k in ("london", "vancouver") if wanted != k}
    if wanted in ("london", "vancouver"):
        skip.add("scaled")
    found = datasets(data, args.out, args.scale, args.seed, skip)
    if wanted == "scaled":
        wanted = next((k for k in found if k not in ("london", "vancouver")), "scaled")
    if wanted not in found:
        print(
            f"--full-run {args.full_run}: no such dataset; choose london, vancouver or "
            f"{', '.join(found) or 'a scale-up (--scale N)'}",
            file=sys.stderr,
        )
        return 2
    res = full_run(wanted, found[wanted], args.out, args.timeout)
    print_full_run(wanted, res)
    path = args.out / "benchmark.json"
    _store_full_run(path, wanted, found[wanted], res)
    print(f"\nfigures written to {path} (datasets.{wanted}.full_run)")
    return 0 if res["exit_code"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scale",
        type=int,
        default=10_000_000,
        help="crimes in the Vancouver scale-up (0: none; default 10,000,000)",
    )
    ap.add_argument("--skip-london", action="store_true")
    ap.add_argument("--skip-vancouver", action="store_true")
    ap.add_argument("--skip-plain", action="store_true", help="time ours only")
    ap.add_argument(
        "--plain-rows",
        type=int,
        default=None,
        help="time the plain approach on the first N rows of the scale-up and "
        "extrapolate linearly (default: all rows)",
    )
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    ap.add_argument(
        "--full-run",
        nargs="?",
        const="scaled",
        default=None,
        metavar="DATASET",
        help="run `hotspots run` on one dataset (london, vancouver or the "
        "scale-up's name; default the scale-up) and record its wall time and "
        "peak RSS instead of the stage table",
    )
    ap.add_argument("--worker", choices=["ours", "plain"], help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        spec = json.loads(args.spec.read_text())
        work = run_ours if args.worker == "ours" else run_plain
        if args.worker == "ours":
            collect_less()  # as in the command's process (hotspots.cli.main)
        with tempfile.TemporaryDirectory() as tmp:  # warm up: imports and first calls untimed
            work({**spec, "crimes": [str(_sample(spec["crimes"], Path(tmp)))], "plain_rows": None})
        args.result.write_text(json.dumps(work(spec)))
        return 0
    if args.full_run:
        return main_full_run(args)

    data = args.data or data_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    skip = {k for k, v in (("london", args.skip_london), ("vancouver", args.skip_vancouver)) if v}
    report: dict[str, Any] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "memory_method": "peak RSS per stage: the kernel's VmHWM, reset at the start of each "
        "stage (on Linux; elsewhere psutil sampled every 10 ms), in a fresh "
        "subprocess per dataset and approach; process peak: the highest of "
        "those and getrusage ru_maxrss",
        "ratio_stages": list(RATIO_STAGES),
        "datasets": {},
    }
    for name, found in datasets(data, args.out, args.scale, args.seed, skip).items():
        spec = {**found, "cache": str(args.out / "segment_cache")}
        t0 = time.perf_counter()
        ours = _run_worker("ours", spec, args.timeout)
        ours_wall = time.perf_counter() - t0
        plain: dict[str, Any] = {}
        if not args.skip_plain:
            sample = args.plain_rows if spec.get("generated") else None
            plain = _run_worker("plain", {**spec, "plain_rows": sample}, args.timeout)
        summary = print_table(name, ours, plain)
        summary["ours_subprocess_seconds"] = round(ours_wall, 1)
        report["datasets"][name] = {"spec": spec, "ours": ours, "plain": plain, "summary": summary}
        print(f"  whole run of ours (subprocess, imports included): {ours_wall:.0f} s", flush=True)
    path = args.out / "benchmark.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
