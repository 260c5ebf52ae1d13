"""Re-link a run folder after ``hotspots brief``: the map pages' links block and the index.

:func:`refresh_links` re-renders ``index.html`` from the folder
(:func:`hotspots.output.site_index.write_index`) and rewrites the ``hotspots-links`` JSON
block of every map page (``map.html``, ``maps/*.html``), so each page links only to files
that exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots.output.export import read_csv
from hotspots.output.maps import links_block
from hotspots.output.site_index import INDEX_ID, area_links, replace_text, write_index

__all__ = ["LINKS_ID", "read_links", "refresh_links"]

#: ``id`` of the JSON block of a map page's popup links (``{area_code: {label: url}}``).
LINKS_ID = "hotspots-links"
_BLOCK = re.compile(
    r'<script type="application/json" id="(?P<id>[\w-]+)">(?P<body>.*?)</script>', re.S
)


def read_links(page: str) -> dict[str, dict[str, str]] | None:
    """Return the ``hotspots-links`` block of a map page, or None if it has none."""
    for m in _BLOCK.finditer(page):
        if m["id"] == LINKS_ID:
            found: dict[str, dict[str, str]] = json.loads(m["body"])
            return found
    return None


def _page_links(
    page: Path, run_dir: Path, links: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Return the links a map page should carry now: those of its areas whose files exist."""
    prefix = "" if page.parent == run_dir else "../"
    own = page.parent != run_dir and not page.name.startswith("borough_")

    def exists(rel: str) -> bool:
        return (run_dir / rel).is_file()

    return {code: area_links(code, prefix=prefix, exists=exists, own_map=own) for code in links}


def refresh_links(run_dir: str | Path) -> list[Path]:
    """Re-render ``index.html`` and every map page's links block from what the folder holds.

    Parameters
    ----------
    run_dir
        A run folder written by ``hotspots run`` (``areas.csv``, ``place_monthly.csv`` and
        ``index.html`` are read).

    Returns
    -------
    list of pathlib.Path
        The pages rewritten. Each map page is changed only inside its ``hotspots-links``
        block (written through a temporary file and a rename); a page without the block is
        left alone.
    """
    run = Path(run_dir)
    written = []
    for page in [run / "map.html", *sorted((run / "maps").glob("*.html"))]:
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        old = read_links(text)
        if old is None:
            continue
        new = links_block(_page_links(page, run, old))
        block = next(m for m in _BLOCK.finditer(text) if m["id"] == LINKS_ID)
        replace_text(page, text[: block.start()] + new + text[block.end() :])
        written.append(page)
    index = run / "index.html"
    if index.is_file() and (run / "areas.csv").is_file():
        meta = _index_meta(index.read_text(encoding="utf-8"))
        summary = read_csv(run / "areas.csv", dtype={"area_code": str})
        places = _read_places(run)
        write_index(
            summary,
            places,
            run,
            exists=lambda rel: (run / rel).is_file(),
            subtitle=meta["subtitle"],
            place=meta["place"],
            area_label=meta["area_label"],
            extra_links=meta["extra_links"],
            rates=_read_optional(run / "rates.csv"),
            performance=_read_optional(run / "performance.csv"),
        )
        written.append(index)
    return written


def _index_meta(page: str) -> dict[str, Any]:
    for m in _BLOCK.finditer(page):
        if m["id"] == INDEX_ID:
            meta = json.loads(m["body"])
            found: dict[str, Any] = {
                k: str(meta.get(k, "")) for k in ("place", "subtitle", "area_label")
            }
            found["extra_links"] = [(str(u), str(t)) for u, t in meta.get("extra_links", [])]
            return found
    return {"place": "", "subtitle": "", "area_label": "area", "extra_links": []}


def _read_optional(path: Path) -> pd.DataFrame | None:
    return read_csv(path, dtype={"area_code": str}) if path.is_file() else None


def _read_places(run: Path) -> pd.DataFrame:
    cols = ["basis", "area_code", "area_rank", "street"]
    path = run / "place_monthly.csv"
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    return read_csv(path, usecols=cols, dtype={"area_code": str, "street": str})
