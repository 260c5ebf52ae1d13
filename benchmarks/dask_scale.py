"""Time ``hotspots run --engine dask`` on an N-crime scale-up; peak memory of client and workers.

Usage::

    .venv/bin/python benchmarks/dask_scale.py                        # 10M: dask and local
    .venv/bin/python benchmarks/dask_scale.py --rows 60000000 --no-local --delete-data

The crimes are the Vancouver scale-up of ``benchmarks/run_benchmark.py`` (its
``scale_vancouver``: the six VPD years repeated with a seeded jitter, one gzipped CSV of
about 207,000 rows per repeat), reused from ``outputs/bench/`` when that folder already holds
the same set, else written under ``--out``. Each engine runs ``hotspots run`` as a user would
(a subprocess writing a run folder with offline maps, the options of ``run_benchmark.py
--full-run``), the Dask engine on a local cluster of ``--workers`` worker processes.

Memory: psutil samples the resident set size (RSS) of every process of the run's tree every
``--every`` seconds: the client (the ``hotspots run`` process, which also runs the local
cluster's scheduler and nannies), each Dask worker (a process the cluster spawned), the run's
forked second process ("fork": its RSS counts pages it shares with the client copy-on-write)
and any other (multiprocessing's resource tracker). Reported: each one's peak, and the peak of
the tree's sum at one sample. The client's peak is also taken from the kernel (``os.wait4``'s
``ru_maxrss``), which sampling cannot miss.

``--rank-only`` runs only the stages load..ranking (what the Dask engine distributes), in a
child process of this script, and also reports the client's crime and rejected tables and
its RSS after them: what the client must hold before the aggregated stages start.

Results: a table on stdout and ``OUT/dask_scale.json`` (one entry per rows and engine; the
file keeps the entries of earlier calls).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as rb  # noqa: E402  (benchmarks/ is not a package)

ROOT = HERE.parent
MB = 2**20


def crimes_folder(rows: int, out: Path, data: Path) -> Path:
    """The scale-up's crime folder: ``outputs/bench``'s if it holds this set, else ``out``'s."""
    source = data / "vancouver" / "vpd_crimedata_2020_2025.csv.gz"
    shared = ROOT / "outputs" / "bench" / f"vancouver_x{rows}"
    manifest = shared / "manifest.json"
    if manifest.is_file():
        found = json.loads(manifest.read_text())
        if found.get("rows") == rows and found.get("seed") == 0 and found.get("layout") == 1:
            return shared / "crimes"
    return rb.scale_vancouver(source, out / f"vancouver_x{rows}", rows, 0)


def command(crimes: Path, data: Path, run_dir: Path, engine: str, workers: int) -> list[str]:
    """The ``hotspots run`` command line of ``run_benchmark.full_run`` (plus the engine)."""
    van = data / "vancouver"
    cmd = [
        str(Path(sys.executable).with_name("hotspots")),
        "run",
        "--crimes",
        str(crimes),
        "--format",
        "vancouver",
        "--areas",
        str(van / "local_areas.gpkg"),
        "--streets",
        str(van / "public_streets.gpkg"),
        "--area-code",
        "mapid",
        "--out",
        str(run_dir),
        "--overwrite",
        "--offline",
    ]
    if engine == "dask":
        cmd += ["--engine", "dask", "--workers", str(workers)]
    return cmd


def rank_only_command(crimes: Path, data: Path, engine: str, workers: int) -> list[str]:
    """A child run of only the stages load..ranking (``--rank-only``), in this script."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-rank",
        str(crimes),
        "--data",
        str(data),
        "--workers",
        str(workers),
        "--engine",
        engine,
    ]


def child_rank(crimes: Path, data: Path, engine: str, workers: int) -> None:
    """Run load..ranking on ``engine`` and print what the client holds (one JSON line)."""
    from hotspots import pipeline
    from hotspots.pipeline.config import StageTimer
    from hotspots.pipeline.dask_stages import dask_rank_stages

    van = data / "vancouver"
    config = pipeline.RunConfig.from_options(
        crimes=[crimes],
        fmt="vancouver",
        areas=van / "local_areas.gpkg",
        streets=van / "public_streets.gpkg",
        area_code="mapid",
        out=Path("unused"),
        quiet=True,
        engine=engine,
        workers=workers if engine == "dask" else None,
    )
    stage, record = StageTimer(), dict[str, Any]()
    rejected_rows: int | None = None  # the Dask engine's rejected rows stay in parts
    if engine == "dask":
        ranked, counts = dask_rank_stages(config, stage, record)
        rejected_rows = counts.rejected.total
    else:
        ranked = pipeline.rank_stages(config, stage)
    crimes_mb = ranked.crimes.memory_usage(deep=True).sum() / MB
    rejected_mb = ranked.rejected.memory_usage(deep=True).sum() / MB
    rss = psutil.Process().memory_info().rss / MB
    out = {
        "stage_seconds": stage.seconds,
        "engine_record": record,
        "crimes_kept": len(ranked.crimes),
        "rejected": len(ranked.rejected) if rejected_rows is None else rejected_rows,
        "crimes_table_mb": round(crimes_mb),
        "rejected_table_mb": round(rejected_mb),
        "client_rss_after_ranking_mb": round(rss),
    }
    print("RESULT " + json.dumps(out, default=str), flush=True)


def stages_command(cmd: list[str], detail: list[str]) -> list[str]:
    """The ``hotspots run`` command ``cmd`` run inside a child of this script (``--stages``)."""
    more = [f"--detail={d}" for d in detail]
    return [sys.executable, str(Path(__file__).resolve()), "--child-stages", *more, "--", *cmd[1:]]


def child_stages(args: list[str], every: float, detail: list[str]) -> None:
    """Run ``hotspots <args>`` here, sampling this process's RSS stage by stage.

    Prints one JSON line: per stage of the run (run.json's stages, in order, and the gaps
    between them), this process's peak and closing RSS, the forked second process's peak
    unique set size (USS: pages it does not share) and the machine's lowest available
    memory while the stage ran. Each ``detail`` function (``module:name``) called during
    the run is marked as a stage of its own.
    """
    import threading

    from hotspots.cli import app
    from hotspots.pipeline import config as cfg

    marks: list[tuple[str, float]] = [("start", time.perf_counter())]
    samples: list[tuple[float, int, int, int]] = []
    me = psutil.Process()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            fork_uss = 0
            for child in me.children(recursive=True):
                try:
                    line = " ".join(child.cmdline())
                    if "spawn_main" in line or "forkserver" in line or "resource_tracker" in line:
                        continue
                    fork_uss += child.memory_full_info().uss
                except psutil.Error:
                    continue
            samples.append(
                (
                    time.perf_counter(),
                    me.memory_info().rss,
                    fork_uss,
                    psutil.virtual_memory().available,
                )
            )
            time.sleep(every)

    plain = cfg.StageTimer.__call__

    @contextlib.contextmanager
    def timed(self: Any, name: str) -> Iterator[None]:
        marks.append((f"(before {name})", time.perf_counter()))
        with plain(self, name):
            yield
        marks.append((name, time.perf_counter()))

    cfg.StageTimer.__call__ = timed  # type: ignore[method-assign]
    for target in detail:
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        setattr(module, attr, _marked(getattr(module, attr), attr, marks))
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        app(args, standalone_mode=False)
    finally:
        marks.append(("(after the last stage)", time.perf_counter()))
        done.set()
        thread.join()
    rows = []
    for (_, lo), (name, hi) in itertools.pairwise(marks):
        inside = [s for s in samples if lo <= s[0] <= hi]
        if not inside or hi - lo < every:
            continue
        rows.append(
            {
                "stage": name,
                "seconds": round(hi - lo, 2),
                "client_peak_mb": round(max(s[1] for s in inside) / MB),
                "client_end_mb": round(inside[-1][1] / MB),
                "fork_peak_uss_mb": round(max(s[2] for s in inside) / MB),
                "min_available_mb": round(min(s[3] for s in inside) / MB),
            }
        )
    print("STAGES " + json.dumps(rows), flush=True)


def _marked(func: Any, name: str, marks: list[tuple[str, float]]) -> Any:
    """``func``, marking in ``marks`` where each of its calls starts and ends."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        marks.append((f"(before {name})", time.perf_counter()))
        try:
            return func(*args, **kwargs)
        finally:
            marks.append((f"{name}()", time.perf_counter()))

    return wrapper


def _role(proc: psutil.Process, root: int) -> str:
    """Client, worker (a process the local cluster spawned) or other, from its command line."""
    if proc.pid == root:
        return "client"
    try:
        line = " ".join(proc.cmdline())
    except psutil.Error:
        return "other"
    if "resource_tracker" in line:
        return "other"
    return "worker" if "spawn_main" in line or "forkserver" in line else "fork"


def measured_run(cmd: list[str], log_path: Path, every: float) -> dict[str, Any]:
    """Run ``cmd``; sample its process tree's RSS; return wall time and the peaks."""
    peaks: dict[int, dict[str, Any]] = {}
    tree_peak = 0
    t0 = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)
        usage = None
        while usage is None:
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                seen = peaks.setdefault(p.pid, {"role": _role(p, proc.pid), "peak_rss": 0})
                seen["peak_rss"] = max(seen["peak_rss"], rss)
            tree_peak = max(tree_peak, total)
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                usage, code = ru, os.waitstatus_to_exitcode(status)
            else:
                time.sleep(every)
    wall = time.perf_counter() - t0
    by_role: dict[str, list[float]] = {}
    for p in peaks.values():
        by_role.setdefault(p["role"], []).append(round(p["peak_rss"] / MB))
    result: dict[str, Any] = {
        "command": cmd,
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "client_peak_rss_mb_kernel": round(usage.ru_maxrss / 1024),  # KiB on Linux
        "client_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": {role: sorted(v, reverse=True) for role, v in sorted(by_role.items())},
        "tree_peak_rss_mb": round(tree_peak / MB),
        "log": str(log_path),
    }
    return result


def add_run_json(result: dict[str, Any], run_dir: Path) -> None:
    """Add the run's stage seconds, totals and engine entry from its run.json."""
    manifest = run_dir / "run.json"
    if result["exit_code"] == 0 and manifest.is_file():
        run = json.loads(manifest.read_text())
        result.update(
            stage_seconds=run["seconds"],
            rows_read=run["totals"]["read"],
            crimes_kept=run["totals"]["kept"],
            engine_record=run.get("engine"),
        )


def print_result(rows: int, engine: str, res: dict[str, Any]) -> None:
    """Print one run's figures."""
    print(f"\n== {rows:,} rows, {engine} engine ==")
    if res["exit_code"] != 0:
        print(f"  failed with exit code {res['exit_code']}: see {res['log']}")
    peaks = res["peak_rss_mb"]
    print(
        f"  wall {res['wall_seconds']:.1f} s; client peak RSS {res['client_peak_rss_mb_kernel']:,}"
        f" MB (kernel), CPU {res['client_cpu_seconds']:.1f} s"
    )
    for role in ("client", "worker", "fork", "other"):
        if role in peaks:
            print(f"  peak RSS {role:<7} {', '.join(f'{v:,} MB' for v in peaks[role])}")
    print(f"  peak RSS of the whole tree at one sample: {res['tree_peak_rss_mb']:,} MB")
    if "client_rss_after_ranking_mb" in res:
        print(
            f"  after ranking: {res['crimes_kept']:,} crimes ({res['crimes_table_mb']:,} MB table),"
            f" {res['rejected']:,} rejected ({res['rejected_table_mb']:,} MB); client RSS "
            f"{res['client_rss_after_ranking_mb']:,} MB"
        )
    if "rows_read" in res:
        print(f"  {res['rows_read']:,} rows read, {res['crimes_kept']:,} crimes kept")
    if res.get("engine_record"):
        print(f"  engine: {res['engine_record']}")
    if res.get("stage_memory"):
        print("  memory by stage: client peak / at end, fork USS peak, machine's least available")
        for row in res["stage_memory"]:
            print(
                f"  {row['stage']:<34} {row['seconds']:7.1f} s {row['client_peak_mb']:7,} /"
                f" {row['client_end_mb']:7,} MB  fork {row['fork_peak_uss_mb']:6,} MB  avail"
                f" {row['min_available_mb']:7,} MB"
            )
    if "stage_seconds" in res:
        for stage, seconds in res["stage_seconds"].items():
            print(f"  {stage:<24} {seconds:8.1f} s")


def store(path: Path, rows: int, engine: str, res: dict[str, Any]) -> None:
    """Put ``res`` under ``runs["<rows>/<engine>"]`` of ``path``, keeping the other entries."""
    report = json.loads(path.read_text()) if path.is_file() else {"runs": {}}
    report["runs"][f"{rows}/{engine}"] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
        },
        **res,
    }
    path.write_text(json.dumps(report, indent=2))


def parser() -> argparse.ArgumentParser:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="crimes in the scale-up")
    ap.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    ap.add_argument("--no-local", action="store_true", help="run the Dask engine only")
    ap.add_argument("--no-dask", action="store_true", help="run the local engine only")
    ap.add_argument("--every", type=float, default=0.1, help="seconds between samples")
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "dask_scale")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument(
        "--delete-data", action="store_true", help="delete a scale-up written under --out"
    )
    ap.add_argument(
        "--rank-only",
        action="store_true",
        help="run only the stages load..ranking (what the Dask engine distributes), in a child "
        "process of this script, and report what the client holds after them",
    )
    ap.add_argument(
        "--stages",
        action="store_true",
        help="run each whole run inside a child process of this script and report its memory "
        "stage by stage (client peak and closing RSS, the fork's USS, the machine's lowest "
        "available memory)",
    )
    ap.add_argument("--child-rank", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-stages", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--detail",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="with --stages: also mark each call of this function as a stage (repeatable)",
    )
    ap.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="dask", help=argparse.SUPPRESS)
    return ap


def main() -> int:
    """Run the benchmark; return the exit code (1 if a run failed)."""
    args = parser().parse_args()
    if args.child_stages:
        rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
        child_stages(rest, args.every, args.detail)
        return 0
    if args.child_rank:
        child_rank(args.child_rank, args.data, args.engine, args.workers)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    crimes = crimes_folder(args.rows, args.out, args.data)
    print(f"crimes: {crimes}", flush=True)
    engines = [e for e, skip in (("dask", args.no_dask), ("local", args.no_local)) if not skip]
    failed = False
    for engine in engines:
        name = f"{engine}_rank_only" if args.rank_only else engine
        run_dir = args.out / f"run_{args.rows}_{name}"
        if args.rank_only:
            cmd = rank_only_command(crimes, args.data, engine, args.workers)
        else:
            cmd = command(crimes, args.data, run_dir, engine, args.workers)
            if args.stages:
                cmd = stages_command(cmd, args.detail)
        print(f"{name}: {' '.join(cmd)}", flush=True)
        log_path = args.out / f"run_{args.rows}_{name}.log"
        res = measured_run(cmd, log_path, args.every)
        if args.rank_only:
            found = [ln for ln in log_path.read_text().splitlines() if ln.startswith("RESULT ")]
            res.update(json.loads(found[-1][7:]) if found else {})
        else:
            add_run_json(res, run_dir)
        found = [ln for ln in log_path.read_text().splitlines() if ln.startswith("STAGES ")]
        if found:
            res["stage_memory"] = json.loads(found[-1][7:])
        print_result(args.rows, name, res)
        store(args.out / "dask_scale.json", args.rows, name, res)
        failed |= res["exit_code"] != 0
    if args.delete_data and crimes.is_relative_to(args.out):
        shutil.rmtree(crimes.parent)
        print(f"deleted {crimes.parent}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
