"""Ward briefs: up to three proposed priorities per ward, with their evidence, on one page.

A *priority* is a problem a team can act on: one crime group at one place of the ward's list
(a hot street or a police.uk location, with the listed places near it) at a time (its patrol
window where the data has times, else the months when it peaks). :func:`write_briefs` reads
an existing run folder (nothing is recomputed), scores every candidate (place x crime group)
of each ward with :func:`rank_candidates`, keeps up to three with :func:`rank_priorities`
and writes ``RUN_DIR/briefs/<area_code>.html`` (and ``.pdf``), plus one page per borough.

The score and its default weights are documented in ``hotspots/brief_weights.toml``; a user
file of the same form replaces any part of them (:func:`read_brief_weights`, in
:mod:`hotspots.analysis.groups`, re-exported here).

Modules: :mod:`~hotspots.brief.inputs` (the run folder), :mod:`~hotspots.brief.score`
(candidates and priorities), :mod:`~hotspots.brief.context` (what every page shares),
:mod:`~hotspots.brief.charts` and :mod:`~hotspots.brief.placemap` (charts and maps),
:mod:`~hotspots.brief.page`, :mod:`~hotspots.brief.evidence`, :mod:`~hotspots.brief.ward_page`
and :mod:`~hotspots.brief.borough_page` (the pages), :mod:`~hotspots.brief.pdf` (printing) and
:mod:`~hotspots.brief.writer` (:func:`write_briefs`).
"""

from __future__ import annotations

from hotspots.analysis.groups import (
    COMPONENTS,
    OTHER_GROUP,
    BriefSettings,
    classify_crime_types,
    read_brief_weights,
)
from hotspots.brief.charts import hour_week_svg, monthly_bars_svg
from hotspots.brief.context import count_period_change
from hotspots.brief.inputs import RunFolder, read_predictability, read_run_folder
from hotspots.brief.pdf import write_pdfs
from hotspots.brief.score import (
    assign_nearby,
    count_place_groups,
    rank_candidates,
    rank_priorities,
    rank_problems,
)
from hotspots.brief.writer import write_briefs

__all__ = [
    "COMPONENTS",
    "OTHER_GROUP",
    "BriefSettings",
    "RunFolder",
    "assign_nearby",
    "classify_crime_types",
    "count_period_change",
    "count_place_groups",
    "hour_week_svg",
    "monthly_bars_svg",
    "rank_candidates",
    "rank_priorities",
    "rank_problems",
    "read_brief_weights",
    "read_predictability",
    "read_run_folder",
    "write_briefs",
    "write_pdfs",
]
