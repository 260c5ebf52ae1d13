"""Write the briefs of a run folder: :func:`write_briefs`, the one entry point."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots import runfolder
from hotspots.analysis.groups import BriefSettings, read_brief_weights
from hotspots.brief.borough_page import borough_page
from hotspots.brief.context import (
    BriefContext,
    build_context,
    count_nearby_groups,
    group_scores_by_place,
)
from hotspots.brief.inputs import RunFolder, read_predictability, read_run_folder
from hotspots.brief.layers import layer_area_codes, layer_folders, read_layer
from hotspots.brief.page import escape_text
from hotspots.brief.pdf import PdfPrinter, write_pdfs
from hotspots.brief.performance_page import best_worst_name, best_worst_page, has_best_worst
from hotspots.brief.score import rank_problems
from hotspots.brief.ward_page import ward_page
from hotspots.errors import InputDataError
from hotspots.output.site_index import borough_brief_name, brief_name
from hotspots.output.site_refresh import refresh_links

log = logging.getLogger("hotspots")

#: Processes writing ward pages (forked: each inherits the run read once); 1 writes them here.
PAGE_PROCESSES = 2
#: Fewest pages per process worth a fork.
MIN_PAGES_PER_PROCESS = 20
_SHARED: dict[str, Any] = {}

__all__ = [
    "MIN_PAGES_PER_PROCESS",
    "PAGE_PROCESSES",
    "write_briefs",
]


def _wanted_codes(run: RunFolder, codes: Sequence[str] | None) -> list[str]:
    with_crime = run.areas.loc[run.areas["crimes"] > 0, "area_code"].astype(str).tolist()
    if not codes:
        return sorted(with_crime)
    unknown = [c for c in codes if c not in run.areas.index]
    if unknown:
        msg = (
            f"`--ward` must be an area code of the run; found {unknown}, not in "
            f"{run.path / 'areas.csv'}. Choose from e.g. {sorted(with_crime)[:5]}"
        )
        raise InputDataError(msg)
    return list(dict.fromkeys(codes))


def write_briefs(
    run_dir: str | Path,
    *,
    codes: Sequence[str] | None = None,
    weights: str | Path | None = None,
    backtest: str | Path | None = None,
    pdf: bool = True,
    areas: str | Path | None = None,
    streets: str | Path | None = None,
    wait: bool = False,
) -> list[Path]:
    """Write a one-page brief per ward (and a page per borough) from an existing run folder.

    Parameters
    ----------
    run_dir
        A folder written by ``hotspots run``; nothing in it is changed but ``briefs/``.
    codes
        Area codes to write; every area with crime when None. Borough pages are written for
        the boroughs of these areas (all their wards listed). When None, the areas of each
        overlay layer of the run (``layers/<NAME>/``) get their briefs too.
    weights
        A TOML file of score weights and rules (:func:`read_brief_weights`).
    backtest
        A folder written by ``hotspots evaluate``: adds the predictability component.
    pdf
        Also print each page to PDF beside it (headless Chromium through Playwright).
    areas, streets
        The run's area and street layers when run.json's paths do not resolve.
    wait
        If another command holds the run folder's lock, wait for it instead of failing.

    Returns
    -------
    list of pathlib.Path
        The files written: ``briefs/<area_code>.html`` (and ``.pdf``), and
        ``briefs/borough_<name>.html`` (and ``.pdf``) where ``areas.csv`` has boroughs,
        else ``briefs/all_areas.html``; beside each, ``..._best_worst.html`` (and ``.pdf``)
        when ``compare_areas.csv`` has crime groups and exact tests; then the same in
        ``layers/<NAME>/briefs/`` for each layer.

    Raises
    ------
    InputDataError
        If a file, column or area code is missing, or the weights file is invalid.
    HotspotsError
        If ``pdf`` and Chromium cannot be started.
    """
    start = time.perf_counter()
    settings = read_brief_weights(weights)
    run = read_run_folder(run_dir, areas=areas, streets=streets)
    wanted = _wanted_codes(run, codes)
    predict = read_predictability(backtest, settings=settings) if backtest else None
    # Chromium starts while the problems are scored on one core (no wall time of its own)
    with PdfPrinter(expected=len(wanted)) if pdf else contextlib.nullcontext() as printer:
        pages, files = _write_folder(
            run, settings, predict, wanted, pdf=pdf, wait=wait, printer=printer
        )
    for layer_dir in layer_folders(run.path) if codes is None else []:
        layer_codes = layer_area_codes(layer_dir)  # before the lists: a big layer is skipped
        if len(layer_codes) > runfolder.LAYER_AREA_PAGES_MAX:
            log.info(
                "Layer %s: %d areas hold crime, over the %d that get a brief each; its lists "
                "and index cover them",
                layer_dir.name,
                len(layer_codes),
                runfolder.LAYER_AREA_PAGES_MAX,
            )
            continue
        more = _write_folder(
            read_layer(run, layer_dir),
            settings,
            predict,
            layer_codes,
            pdf=pdf,
            wait=wait,
            lock=run.path,
        )
        pages, files = pages + more[0], files + more[1]
    log.info(
        "Briefs: %d pages written to %s in %.1f s",
        len(pages),
        run.path / runfolder.BRIEFS_DIR,
        time.perf_counter() - start,
    )
    return files


def _write_folder(
    run: RunFolder,
    settings: BriefSettings,
    predict: Mapping[str, float] | None,
    wanted: Sequence[str],
    *,
    pdf: bool,
    wait: bool,
    lock: Path | None = None,
    printer: PdfPrinter | None = None,
) -> tuple[list[Path], list[Path]]:
    """Write the briefs of one folder (the run's, or a layer's) into its ``briefs/``.

    ``printer``: Chromium started ahead for this folder's PDFs (else started when needed).
    """
    scored = rank_problems(run, settings=settings, predictability=predict)
    chosen = scored[scored["priority"].notna()].sort_values(["area_code", "priority"])
    ctx = build_context(run, settings, predict is not None)
    ctx.also = group_scores_by_place(scored[scored["place_id"].isin(chosen["place_id"])])
    out = run.path / runfolder.BRIEFS_DIR
    lock = lock or run.path
    # written privately, then moved into briefs/ file by file, under the run folder's lock
    if printer is not None:
        printer.ready()  # the page writers fork after the browsers have started
    with runfolder.staged_files(out, lock=lock, wait=wait) as tmp:
        pages = _write_pages(ctx, wanted, chosen, tmp)
        pdfs: list[Path] = []
        if pdf:
            pdfs = printer.print(pages) if printer is not None else write_pdfs(pages)
        files = pages + pdfs
    with runfolder.folder_lock(lock, wait=wait):  # the index and maps now link the briefs
        linked = refresh_links(run.path)
    log.info("Briefs: links added to %d pages of %s", len(linked), run.path)
    return [out / f.relative_to(tmp) for f in pages], [out / f.relative_to(tmp) for f in files]


def _write_pages(
    ctx: BriefContext, wanted: Sequence[str], chosen: pd.DataFrame, out: Path
) -> list[Path]:
    """Write the ward pages, then the borough pages (each before its best/worst page).

    With enough wards, forked processes write them (each inherits the run read once): the
    ward pages in a few interleaved parts and the borough pages in two, handed out as the
    processes free up, so both cores stay busy to the end.
    """
    by_ward = chosen[chosen["area_code"].isin(wanted)]
    top = chosen[chosen["priority"] == 1]
    ctx.group_counts = count_nearby_groups(ctx, by_ward)
    sets = _borough_sets(ctx, wanted)
    workers = min(PAGE_PROCESSES, os.cpu_count() or 1, len(wanted) // MIN_PAGES_PER_PROCESS)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _ward_pages_here(ctx, wanted, by_ward, out) + _borough_pages_here(
            ctx, sets, top, out
        )
    _SHARED["pages"] = (ctx, by_ward, top, sets, out)  # read by the forked workers
    n = 2 * workers
    tasks: list[tuple[str, list[Any]]] = [
        ("boroughs", list(range(len(sets)))[i::2]) for i in range(2)
    ]
    tasks += [("wards", list(wanted[i::n])) for i in range(n)]
    try:
        fork = multiprocessing.get_context("fork")
        with warnings.catch_warnings():  # Python 3.12+ warns of fork beside idle BLAS threads
            warnings.filterwarnings(
                "ignore", "This process .* is multi-threaded", DeprecationWarning
            )
            with ProcessPoolExecutor(max_workers=workers, mp_context=fork) as pool:
                done = list(pool.map(_pages_forked, tasks))
    finally:
        _SHARED.clear()
    written = {p.name: p for part in done for p in part}
    wards = [written[brief_name(code)] for code in wanted]
    boroughs = [written[p.name] for i in range(len(sets)) for p in _borough_files(sets[i], ctx)]
    return wards + boroughs


def _pages_forked(task: tuple[str, Sequence[Any]]) -> list[Path]:
    """Write one part of :func:`_write_pages` in a forked worker."""
    ctx, by_ward, top, sets, out = _SHARED["pages"]
    kind, items = task
    if kind == "wards":
        return _ward_pages_here(ctx, items, by_ward[by_ward["area_code"].isin(items)], out)
    return _borough_pages_here(ctx, [sets[i] for i in items], top, out)


def _ward_pages_here(
    ctx: BriefContext, wanted: Sequence[str], chosen: pd.DataFrame, out: Path
) -> list[Path]:
    by_ward = dict(iter(chosen.groupby("area_code", sort=False)))
    pages = []
    empty = chosen.iloc[:0]
    for code in wanted:
        path = out / brief_name(code)
        path.write_text(ward_page(ctx, code, by_ward.get(code, empty)), encoding="utf-8")
        pages.append(path)
    return pages


#: One borough page to write: borough name (None: all areas), title, file name, its areas.
_BoroughSet = tuple[str | None, str, str, pd.DataFrame]


def _borough_sets(ctx: BriefContext, wanted: Sequence[str]) -> list[_BoroughSet]:
    """Return the page of each borough of ``wanted`` (one of all areas where there are none)."""
    areas = ctx.run.areas[ctx.run.areas["crimes"] > 0]
    if "borough" not in areas.columns:
        return [(None, f"All {ctx.label.lower()}s", "all_areas.html", areas)]
    boroughs = sorted(areas.loc[areas["area_code"].isin(wanted), "borough"].dropna().unique())
    return [
        (b, f"Borough brief: {b}", borough_brief_name(b), areas[areas["borough"] == b])
        for b in map(str, boroughs)
    ]


def _borough_files(one: _BoroughSet, ctx: BriefContext) -> list[Path]:
    """Return the files a borough set writes, in order: its page, then its best/worst page."""
    name, _, file, _ = one
    return [Path(file), *([Path(best_worst_name(name))] if has_best_worst(ctx) else [])]


def _borough_pages_here(
    ctx: BriefContext, sets: Sequence[_BoroughSet], top: pd.DataFrame, out: Path
) -> list[Path]:
    """Write the page of each borough set, each followed by its best/worst page."""
    unit = ctx.label.lower()
    pages = []
    for name, title, file, wards in sets:
        link = ""
        other = out / best_worst_name(name)
        if has_best_worst(ctx):
            other.write_text(
                best_worst_page(
                    ctx, f"Best and worst: {name or f'all {unit}s'}", wards, borough=name
                ),
                encoding="utf-8",
            )
            link = (
                f"<p class=caveat><a href='{escape_text(other.name)}'>Best and worst by crime "
                "group</a>: the largest rises and falls of each group, with the chance of "
                "each.</p>"
            )
        path = out / file
        path.write_text(borough_page(ctx, title, wards, top, more=link), encoding="utf-8")
        pages += [path, other] if link else [path]
    return pages
