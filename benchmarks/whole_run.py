"""Every speed target of issue 19 in one run, each figure printed beside its peer or budget.

Usage::

    make bench-peers                                  # once per machine: R + sfhotspot, hexseg
    .venv/bin/python benchmarks/whole_run.py          # all targets (about 15 minutes)
    .venv/bin/python benchmarks/whole_run.py --quick  # targets 1, 2, 4 and 6, once each

Targets (issue 19), each timed here in this one run:

1. ``hotspots run``'s own stages load..ranking (``pipeline.rank_stages``: run.json's load,
   area_join, street_segments, snapping, ranking) against the plain GeoPandas script
   (``run_benchmark.run_plain``: read_csv, points_from_xy, to_crs, sjoin, sjoin_nearest,
   groupby), London and Vancouver, each in a fresh process after an untimed warm-up on a
   3,000-row sample (so imports and first calls are not timed, for either), the two
   alternated ``--repeat`` times, medians compared. Budget: plain / ours at least 5.
2. The whole Vancouver ``hotspots run --offline`` (process wall time: imports and every
   output) against hexseg's workflow (``benchmarks/peers/hexseg_workflow.py``, also a whole
   process), alternated, median of ``--repeat``. Budget: faster than hexseg (aim: half).
3. London, whole processes: ``hotspots run --offline`` with every ward and borough map
   (budget 30 s), ``hotspots brief`` on that folder with PDFs (30 s) and ``make run`` after
   installs (120 s, into a folder of its own; exactly what a user types, its three chains
   run a step per core at a time by the Makefile). The machine's busy CPU time meanwhile (on
   the idle machine: all the steps', Chromium's printing included) is printed beside it:
   divided by the cores, it is the least wall time the machine allows. A step that fails
   fails the row.
4. Gi* with FDR on hexagons and on street segments, Vancouver (``grid.count_by_cell``,
   ``stats.gistar_cells``, ``stats.gistar_streets`` as ``hotspots run`` calls them, in a warm
   process) against R's sfhotspot ``hotspot_gistar(cell_size = 100, kde = FALSE)`` on the same
   crimes (``benchmarks/peers/sfhotspot_gistar.R``; the function call alone), alternated,
   medians. Budget: at least 10 times faster.
5. The 10-million-crime scale-up, ``hotspots run`` as a user runs it
   (``run_benchmark.py --full-run``): wall time (budget 120 s) and peak RSS (4 GB).
6. ``hotspots --help``: process wall time, median of 10 (budget 0.5 s).
7. ``hotspots run --engine dask`` on a 2-worker local cluster, the whole run with every
   output, on the ``--t7-rows`` scale-up (default 60 million crimes: about ten years of
   England and Wales), by ``benchmarks/dask_scale.py --no-local``: wall time, the peak RSS
   of the client and of each worker, and ``check_run.py`` on its run folder (the row
   accounting and the output contract). The issue sets no time or memory budget: the row
   is met when the run completes and its folder passes the check. Its crimes (1.2 GB of
   gzipped files at 60 million) are written once under ``OUT/t7_dask`` and reused.

The full run takes about 15 minutes on an idle 2-core machine (target 7 about 5 of them, and
6 more the first time, to write its crimes; ``--only`` picks targets).
``--quick`` runs targets 1, 2, 4 and 6 once each (about 3 minutes). Figures go to
``OUT/whole_run.json`` and a Markdown table (the README's) to ``OUT/whole_run.md``. The
machine should be otherwise idle: every figure is a wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import run_benchmark as rb  # noqa: E402  (benchmarks/ is not a package)

PY = sys.executable
BIN = Path(PY).parent


def _data_dir(arg: Path | None) -> Path:
    from hotspots.read.datasets import data_dir

    return arg or data_dir()


def _timed(
    cmd: list[str], *, log: Path, timeout: float = 1800, cwd: Path = ROOT
) -> tuple[float, int, Any]:
    """Run ``cmd``; return its wall seconds, exit code and resource usage (os.wait4)."""
    t0 = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
        code, usage = rb._wait_with_usage(proc, timeout)
    return time.perf_counter() - t0, code, usage


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


# --------------------------------------------------------------------------------------------
# target 1


def target1(data: Path, out: Path, repeat: int, timeout: float) -> dict[str, Any]:
    """Ours and the plain script alternated ``repeat`` times per city; medians compared."""
    res: dict[str, Any] = {}
    for name, found in rb.datasets(data, out, 0, 0, {"scaled"}).items():
        spec = {**found, "cache": str(out / "segment_cache"), "core_only": True}
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "plain": []}
        for _ in range(repeat):
            runs["ours"].append(rb._run_worker("ours", spec, timeout))
            runs["plain"].append(rb._run_worker("plain", {**spec, "plain_rows": None}, timeout))
        secs = {k: [s for s in map(rb._ratio_seconds, v) if s] for k, v in runs.items()}
        o, p = (statistics.median(v) if v else None for v in (secs["ours"], secs["plain"]))
        res[name] = {
            "ours_seconds": round(o, 2) if o else None,
            "plain_seconds": round(p, 2) if p else None,
            "ratio": round(p / o, 1) if o and p else None,
            "ours_runs": [round(s, 3) for s in secs["ours"]],
            "plain_runs": [round(s, 3) for s in secs["plain"]],
            "ours_stages": [
                {k: v.get("seconds") for k, v in r.get("stages", {}).items()} for r in runs["ours"]
            ],
            "plain_stages": [
                {k: v.get("seconds") for k, v in r.get("stages", {}).items()} for r in runs["plain"]
            ],
            "errors": [r["error"] for v in runs.values() for r in v if "error" in r],
        }
        print(
            f"  target 1 {name}: ours {res[name]['ours_runs']} s, "
            f"plain {res[name]['plain_runs']} s, median ratio {res[name]['ratio']}",
            flush=True,
        )
    return res


# --------------------------------------------------------------------------------------------
# target 2


def _run_cmd(spec: dict[str, Any], run_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        *rb._hotspots_command(),
        "run",
        "--crimes",
        *spec["crimes"],
        "--format",
        spec["fmt"],
        "--areas",
        spec["areas"],
        "--streets",
        spec["streets"],
        "--out",
        str(run_dir),
        "--overwrite",
        "--offline",
        "--quiet",
        *extra,
    ]


def target2(data: Path, out: Path, repeat: int, warm: bool, timeout: float) -> dict[str, Any]:
    spec = rb.datasets(data, out, 0, 0, {"london", "scaled"})["vancouver"]
    ours_cmd = _run_cmd(spec, out / "t2_vancouver")
    peer_cmd = [
        PY,
        str(HERE / "peers" / "hexseg_workflow.py"),
        "--out",
        str(out / "t2_hexseg.html"),
    ]
    if not _has_hexseg():
        print("  target 2: hexseg is not installed (run `make bench-peers`)", flush=True)
        peer_cmd = []
    ours: list[float] = []
    peer: list[float] = []
    errors = []
    for i in range(repeat + int(warm)):
        for cmd, into, tag in ((ours_cmd, ours, "ours"), (peer_cmd, peer, "hexseg")):
            if not cmd:
                continue
            secs, code, _ = _timed(cmd, log=out / f"t2_{tag}.log", timeout=timeout)
            if code != 0:
                errors.append(f"{tag} exit {code}: see {out / f't2_{tag}.log'}")
            elif i >= int(warm):  # the first round warms caches and is not counted
                into.append(secs)
            print(
                f"  target 2 {tag} run {i + 1}: {secs:.1f} s"
                f"{' (warm-up)' if i < int(warm) else ''}",
                flush=True,
            )
    stages = {}
    manifest = out / "t2_vancouver" / "run.json"
    if manifest.is_file():
        stages = json.loads(manifest.read_text())["seconds"]
    o, p = _median(ours), _median(peer)
    return {
        "ours_seconds": ours,
        "hexseg_seconds": peer,
        "ours_median": o,
        "hexseg_median": p,
        "ratio": round(p / o, 2) if o and p else None,
        "run_json_seconds": stages,
        "errors": errors,
    }


def _has_hexseg() -> bool:
    found = subprocess.run([PY, "-c", "import hexseg"], check=False, capture_output=True)
    return found.returncode == 0


# --------------------------------------------------------------------------------------------
# target 3


def target3(data: Path, out: Path, timeout: float) -> dict[str, Any]:
    spec = rb.datasets(data, out, 0, 0, {"vancouver", "scaled"})["london"]
    run_dir = out / "t3_london"
    res: dict[str, Any] = {}
    cmd = _run_cmd(
        spec, run_dir, ["--population", str(data / "london" / "ward_population_mid2019.csv")]
    )
    secs, code, _ = _timed(cmd, log=out / "t3_run.log", timeout=timeout)
    res["run_seconds"], res["run_exit"] = round(secs, 1), code
    if (run_dir / "run.json").is_file():
        res["run_json_seconds"] = json.loads((run_dir / "run.json").read_text())["seconds"]
    print(f"  target 3 London run: {secs:.1f} s (exit {code})", flush=True)
    if code == 0:
        cmd = [*rb._hotspots_command(), "brief", str(run_dir), "--quiet"]
        secs, code, _ = _timed(cmd, log=out / "t3_brief.log", timeout=timeout)
        res["brief_seconds"], res["brief_exit"] = round(secs, 1), code
        print(f"  target 3 London brief with PDFs: {secs:.1f} s (exit {code})", flush=True)
    make_out = out / "t3_make_run"
    cmd = ["make", "run", f"OUT={make_out}", f"DATA={data}"]
    busy = _busy_seconds()
    secs, code, usage = _timed(cmd, log=out / "t3_make_run.log", timeout=timeout)
    res["make_run_seconds"], res["make_run_exit"] = round(secs, 1), code
    # CPU of the processes make reaped (Chromium's renderers, orphaned when a browser closes,
    # are not among them), and the machine's busy CPU meanwhile (all of it, on an idle
    # machine): divided by the cores, the least wall time the machine allows
    res["make_run_cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    after = _busy_seconds()
    if busy is not None and after is not None:
        res["make_run_machine_cpu_seconds"] = round(after - busy, 1)
    res["make_run_cores"] = os.cpu_count()
    print(
        f"  target 3 make run: {secs:.1f} s (exit {code}; CPU {res['make_run_cpu_seconds']:.1f} s"
        f" reaped, {res.get('make_run_machine_cpu_seconds', 'n/a')} s machine)",
        flush=True,
    )
    return res


def _busy_seconds() -> float | None:
    """Return the CPU seconds the machine has been busy since boot (Linux), else None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# target 4


def gistar_worker(data: Path, repeat: int) -> dict[str, Any]:
    """In this (warm) process: Gi* on hexagons and segments as ``hotspots run`` does, timed."""
    from hotspots import pipeline
    from hotspots.analysis import stats
    from hotspots.space import grid

    van = data / "vancouver"
    config = pipeline.RunConfig.from_options(
        crimes=[van / "vpd_crimedata_2020_2025.csv.gz"],
        fmt="vancouver",
        areas=van / "local_areas.gpkg",
        streets=van / "public_streets.gpkg",
        out=Path("unused"),
        quiet=True,
    )
    ranked = pipeline.rank_stages(config)
    crimes, segs = ranked.crimes, ranked.segments
    times, detail = [], {}
    for _ in range(repeat + 1):  # the first round warms the first calls
        t0 = time.perf_counter()
        resolution = grid.default_resolution(crimes, quiet=True)
        cells = grid.count_by_cell(crimes, ranked.areas, resolution=resolution, quiet=True)
        t1 = time.perf_counter()
        gi_cells = stats.gistar_cells(cells, quiet=True)
        t2 = time.perf_counter()
        gi_segs = stats.gistar_streets(segs, ranked.counts["crimes"], quiet=True)
        t3 = time.perf_counter()
        times.append(t3 - t0)
        detail = {
            "count_by_cell": round(t1 - t0, 3),
            "gistar_cells": round(t2 - t1, 3),
            "gistar_streets": round(t3 - t2, 3),
        }
    return {
        "seconds": [round(t, 3) for t in times[1:]],
        "last": detail,
        "cells": len(gi_cells),
        "segments": len(gi_segs),
        "resolution": resolution,
        "crimes": len(crimes),
    }


def target4(data: Path, out: Path, repeat: int, timeout: float) -> dict[str, Any]:
    crimes = data / "vancouver" / "vpd_crimedata_2020_2025.csv.gz"
    ours_cmd = [
        PY,
        __file__,
        "--worker-gistar",
        "--data",
        str(data),
        "--repeat",
        "1",
        "--out",
        str(out),
    ]
    r_cmd = ["Rscript", str(HERE / "peers" / "sfhotspot_gistar.R"), str(crimes)]
    has_r = (
        shutil.which("Rscript") is not None
        and subprocess.run(
            ["Rscript", "-e", "library(sfhotspot)"], check=False, capture_output=True
        ).returncode
        == 0
    )
    if not has_r:
        print("  target 4: R or sfhotspot missing (run `make bench-peers`)", flush=True)
    ours: list[float] = []
    peer: list[float] = []
    last: dict[str, Any] = {}
    for _ in range(repeat):
        proc = subprocess.run(
            ours_cmd, check=False, capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode == 0:
            last = json.loads(proc.stdout.strip().splitlines()[-1])
            ours.extend(last["seconds"])
        else:
            print(f"  target 4 ours failed: {proc.stderr.strip()[-300:]}", flush=True)
        if has_r:
            proc = subprocess.run(
                r_cmd, check=False, capture_output=True, text=True, timeout=timeout
            )
            if proc.returncode == 0:
                peer.append(json.loads(proc.stdout.strip().splitlines()[-1])["gistar_seconds"])
            else:
                print(f"  target 4 sfhotspot failed: {proc.stderr.strip()[-300:]}", flush=True)
        print(f"  target 4 round: ours {ours[-1:]} s, sfhotspot {peer[-1:]} s", flush=True)
    o, p = _median(ours), _median(peer)
    return {
        "ours_seconds": ours,
        "sfhotspot_seconds": peer,
        "ours_median": o,
        "sfhotspot_median": p,
        "ratio": round(p / o, 1) if o and p else None,
        "ours_detail": last,
    }


# --------------------------------------------------------------------------------------------
# targets 5 and 6


def target5(data: Path, out: Path, timeout: float) -> dict[str, Any]:
    cmd = [
        PY,
        str(HERE / "run_benchmark.py"),
        "--full-run",
        "--data",
        str(data),
        "--out",
        str(out),
        "--timeout",
        str(timeout),
    ]
    secs, code, _ = _timed(cmd, log=out / "t5_full_run.log", timeout=timeout + 900)
    res: dict[str, Any] = {"exit": code, "benchmark_seconds": round(secs, 1)}
    path = out / "benchmark.json"
    if code == 0 and path.is_file():
        entry = json.loads(path.read_text())["datasets"].get("vancouver_10m", {})
        full = entry.get("full_run", {})
        res.update(
            wall_seconds=full.get("wall_seconds"),
            peak_rss_gib=full.get("peak_rss_gib"),
            peak_rss_mb=full.get("peak_rss_mb"),
            stage_seconds=full.get("stage_seconds"),
        )
    print(f"  target 5: {res}", flush=True)
    return res


def target6(out: Path, repeat: int) -> dict[str, Any]:
    cmd = [*rb._hotspots_command(), "--help"]
    times = [_timed(cmd, log=out / "t6_help.log")[0] for _ in range(repeat)]
    print(f"  target 6: {[round(t, 3) for t in times]}", flush=True)
    return {"seconds": [round(t, 3) for t in times], "median": round(statistics.median(times), 3)}


# --------------------------------------------------------------------------------------------
# target 7


def target7(data: Path, out: Path, rows: int, timeout: float) -> dict[str, Any]:
    """The whole ``--engine dask`` run on the ``rows`` scale-up (``dask_scale.py``)."""
    folder = out / "t7_dask"
    cmd = [PY, str(HERE / "dask_scale.py"), "--rows", str(rows), "--no-local", "--workers", "2"]
    cmd += ["--out", str(folder), "--data", str(data)]
    secs, code, _ = _timed(cmd, log=out / "t7_dask_scale.log", timeout=timeout + 3600)
    res: dict[str, Any] = {"rows": rows, "exit": code, "benchmark_seconds": round(secs, 1)}
    report = folder / "dask_scale.json"
    entry = json.loads(report.read_text())["runs"].get(f"{rows}/dask") if report.is_file() else None
    if code == 0 and entry:
        peaks = entry.get("peak_rss_mb", {})
        res.update(
            wall_seconds=entry.get("wall_seconds"),
            client_peak_mb=entry.get("client_peak_rss_mb_kernel"),
            # the cluster's two worker processes: the two largest of dask_scale's "worker"
            # processes (it counts multiprocessing's small forkserver among them)
            worker_peaks_mb=sorted(peaks.get("worker", []), reverse=True)[:2],
            fork_peak_mb=max(peaks.get("fork", [0]) or [0]),
            rows_read=entry.get("rows_read"),
            crimes_kept=entry.get("crimes_kept"),
            stage_seconds=entry.get("stage_seconds"),
        )
        res["check_run"] = _check_run(data, folder / f"run_{rows}_dask", out)
    print(f"  target 7: {res}", flush=True)
    return res


def _check_run(data: Path, run_dir: Path, out: Path) -> bool | None:
    """``check_run.py`` (beside the shared data) on ``run_dir``: passed, or None if absent."""
    checker = data.parent / "checks" / "check_run.py"
    if not checker.is_file():
        return None
    _, code, _ = _timed([PY, str(checker), str(run_dir)], log=out / "t7_check_run.log")
    return code == 0


# --------------------------------------------------------------------------------------------
# report


def _row(target: str, what: str, ours: str, peer: str, result: str, ok: bool | None) -> list[str]:
    return [target, what, ours, peer, result, {True: "yes", False: "NO", None: "-"}[ok]]


def _fmt(v: float | None, unit: str = " s") -> str:
    return "n/a" if v is None else f"{v:.2f}{unit}" if v < 10 else f"{v:.1f}{unit}"


def table(res: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, r in res.get("t1", {}).items():
        ratio = r.get("ratio")
        rows.append(
            _row(
                "1",
                f"{name}: run.json load..ranking vs plain GeoPandas script (medians)",
                _fmt(r["ours_seconds"]),
                f"plain {_fmt(r['plain_seconds'])}",
                f"{ratio}x (budget >= 5x)" if ratio else "n/a",
                None if ratio is None else ratio >= 5,
            )
        )
    if "t2" in res:
        r = res["t2"]
        ratio = r.get("ratio")
        rows.append(
            _row(
                "2",
                "Vancouver whole `hotspots run --offline` vs hexseg workflow (median)",
                _fmt(r["ours_median"]),
                f"hexseg {_fmt(r['hexseg_median'])}",
                f"hexseg/ours {ratio}x (budget > 1x, aim 2x)" if ratio else "n/a",
                None if ratio is None else ratio > 1,
            )
        )
    if "t3" in res:
        r = res["t3"]
        for key, what, budget in (
            ("run_seconds", "London `hotspots run --offline`, all maps", 30),
            ("brief_seconds", "London `hotspots brief` with PDFs", 30),
            ("make_run_seconds", "`make run` after installs", 120),
        ):
            v = r.get(key)
            failed = r.get(key.replace("_seconds", "_exit")) not in (0, None)
            note = "FAILED (see its log)" if failed else ""
            cpu = r.get("make_run_machine_cpu_seconds", r.get("make_run_cpu_seconds"))
            if key == "make_run_seconds" and cpu is not None:
                cores = r.get("make_run_cores") or 1
                note = f"{note} CPU {_fmt(cpu)}, floor {_fmt(cpu / cores)} on {cores} cores"
            ok = None if v is None else v < budget and not failed
            rows.append(_row("3", what, _fmt(v), f"budget {budget} s", note.strip(), ok))
    if "t4" in res:
        r = res["t4"]
        ratio = r.get("ratio")
        rows.append(
            _row(
                "4",
                "Vancouver Gi* + FDR, hexagons and streets vs sfhotspot "
                "hotspot_gistar(kde = FALSE)",
                _fmt(r["ours_median"]),
                f"sfhotspot {_fmt(r['sfhotspot_median'])}",
                f"{ratio}x (budget >= 10x)" if ratio else "n/a",
                None if ratio is None else ratio >= 10,
            )
        )
    if "t5" in res:
        r = res["t5"]
        w, g = r.get("wall_seconds"), r.get("peak_rss_gib")
        rows.append(
            _row(
                "5",
                "10M scale-up full run: wall, peak RSS",
                _fmt(w),
                "budget 120 s, 4 GB",
                "" if g is None else f"{g:.2f} GiB",
                None if w is None or g is None else w < 120 and g * 1.0737 < 4,
            )
        )
    if "t6" in res:
        m = res["t6"]["median"]
        rows.append(
            _row("6", "`hotspots --help` (median of runs)", _fmt(m), "budget 0.5 s", "", m < 0.5)
        )
    if "t7" in res:
        r = res["t7"]
        w, workers = r.get("wall_seconds"), r.get("worker_peaks_mb") or []
        memory = (
            f"client {r['client_peak_mb'] / 1024:.1f} GB, workers "
            + ", ".join(f"{m / 1024:.1f}" for m in workers)
            + " GB; check_run "
            + {True: "passes", False: "FAILS", None: "not found"}[r.get("check_run")]
            if w is not None
            else "FAILED (see t7_dask_scale.log)"
        )
        rows.append(
            _row(
                "7",
                f"{r['rows']:,} crimes, whole `run --engine dask`, 2-worker local cluster: "
                "wall, peak RSS",
                _fmt(w),
                "no budget: completes, folder checked",
                memory,
                w is not None and r.get("check_run") is not False,
            )
        )
    return rows


def print_report(res: dict[str, Any], out: Path) -> None:
    rows = table(res)
    head = ["target", "what", "ours", "peer / budget", "result", "met"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print("\n== issue 19 targets ==")
    for r in [head, *rows]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    (out / "whole_run.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print(f"\nMarkdown table: {out / 'whole_run.md'}; figures: {out / 'whole_run.json'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="targets 1, 2, 4 and 6 once each (no warm-up round)"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="rounds of targets 1, 2 and 4 (default 3; 1 with --quick)",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        choices=["1", "2", "3", "4", "5", "6", "7"],
        help="run only these targets",
    )
    ap.add_argument(
        "--t7-rows",
        type=int,
        default=60_000_000,
        help="crimes in target 7's scale-up (default 60 million)",
    )
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    ap.add_argument("--worker-gistar", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    data = _data_dir(args.data)
    if args.worker_gistar:
        print(json.dumps(gistar_worker(data, args.repeat or 1)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    repeat = args.repeat or (1 if args.quick else 3)
    wanted = set(args.only or (["1", "2", "4", "6"] if args.quick else list("1234567")))
    started = time.perf_counter()
    res: dict[str, Any] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "quick": args.quick,
        "repeat": repeat,
    }
    if "6" in wanted:
        res["t6"] = target6(args.out, 5 if args.quick else 10)
    if "1" in wanted:
        res["t1"] = target1(data, args.out, repeat, args.timeout)
    if "4" in wanted:
        res["t4"] = target4(data, args.out, repeat, args.timeout)
    if "2" in wanted:
        res["t2"] = target2(data, args.out, repeat, not args.quick, args.timeout)
    if "3" in wanted:
        res["t3"] = target3(data, args.out, args.timeout)
    if "5" in wanted:
        res["t5"] = target5(data, args.out, args.timeout)
    if "7" in wanted:
        res["t7"] = target7(data, args.out, args.t7_rows, args.timeout)
    res["seconds"] = round(time.perf_counter() - started, 1)
    res["machine"]["load_average_at_end"] = os.getloadavg()
    (args.out / "whole_run.json").write_text(json.dumps(res, indent=2))
    print_report(res, args.out)
    print(f"whole benchmark: {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
