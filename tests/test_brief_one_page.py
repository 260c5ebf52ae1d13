"""Every brief prints on one A4 page: the real layouts of the shared London and Vancouver runs.

The busiest wards (longest evidence, rates, the forecast line and its streets) and the one
with the longest name, with their borough and best and worst pages, are printed by Chromium;
each PDF must have exactly one page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pypdf import PdfReader

from hotspots import brief
from tests.fixtures.runs import copy_run

pytestmark = pytest.mark.browser


def _codes(run: Path, busiest: int = 3) -> list[str]:
    """Return the busiest areas' codes and the code of the longest area name with crime."""
    areas = pd.read_csv(run / "areas.csv", dtype={"area_code": str})
    areas = areas[areas["crimes"] > 0]
    codes = areas.nlargest(busiest, "crimes")["area_code"].tolist()
    longest = areas.loc[areas["area_name"].astype(str).str.len().idxmax(), "area_code"]
    return list(dict.fromkeys([*codes, str(longest)]))


def _page_counts(run: Path, codes: list[str], browser: Any) -> dict[str, int]:
    pages = [p for p in brief.write_briefs(run, codes=codes, pdf=False) if p.suffix == ".html"]
    pdfs = brief.write_pdfs(pages, browser=browser)
    return {pdf.name: len(PdfReader(pdf).pages) for pdf in pdfs}


def test_london_briefs_print_on_one_page(
    london_forecast_run: Path, tmp_path: Path, browser: Any
) -> None:
    run = copy_run(london_forecast_run, tmp_path / "run")
    codes = _codes(run)
    counts = _page_counts(run, codes, browser)
    assert {f"{c}.pdf" for c in codes} <= set(counts)
    assert any(name.endswith("_best_worst.pdf") for name in counts)
    assert counts == dict.fromkeys(counts, 1)
    page = (run / "briefs" / f"{codes[0]}.html").read_text(encoding="utf-8")
    for line in ("Rates per 1,000 residents a year", "Forecast for", "possession of weapons"):
        assert line in page, line  # the page tested carries this session's lines
    # the forecast's method and backtest in a few words, not run.json's long sentence
    assert "past months its top 1% of the area held" in page and "Tested on" not in page


def test_vancouver_briefs_print_on_one_page(
    vancouver_run: Path, tmp_path: Path, browser: Any
) -> None:
    run = copy_run(vancouver_run, tmp_path / "run")
    codes = _codes(run)
    counts = _page_counts(run, codes, browser)
    assert {f"{c}.pdf" for c in codes} <= set(counts)
    assert counts == dict.fromkeys(counts, 1)
    assert "by day and hour" in (run / "briefs" / f"{codes[0]}.html").read_text(encoding="utf-8")
