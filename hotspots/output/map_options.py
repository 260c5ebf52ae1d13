"""The options of one map page, in one typed bundle (:class:`MapOptions`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from hotspots.output.map_data import PeriodCounts

__all__ = ["DEFAULT_TOP_N", "SYNTHETIC_MARK", "MapOptions"]

#: Hot streets drawn on the city-wide map by default.
DEFAULT_TOP_N = 300
#: A data source description holding this word labels made-up data (the synthetic caller
#: column of ``tests/fixtures/make_callers.py``): the repeat-caller layer and the briefs'
#: repeat-caller line say so.
SYNTHETIC_MARK = "SYNTHETIC"


@dataclass(frozen=True, kw_only=True, eq=False)
class MapOptions:
    """Everything a map page shows besides its hot streets and areas.

    Parameters
    ----------
    locations
        police.uk locations listed where the street layer does not reach (multipoints), with
        ``place_key`` (``l<i>``) like the hot streets.
    hexes
        H3 hexagons with ``gi_class`` (Gi* class) and ``crimes``, drawn coloured by class.
    clusters
        Cluster outlines with ``cluster_id`` and ``crimes``.
    repeats
        Repeat locations (:func:`hotspots.analysis.repeats.repeat_locations`), a switchable
        layer.
    corridors
        Corridors (:func:`hotspots.analysis.corridors.build_corridors`), a layer off by
        default: the best ranked are drawn, coloured by rank.
    corridor_count
        Corridors in the run, that the ranks are out of (default: ``len(corridors)``; give
        it when ``corridors`` is one area's part).
    crimes
        Crime locations with ``lat``, ``lon`` and ``type`` (type key; optionally ``n``, the
        crimes a row stands for); drawn only when zoomed in.
    base_streets
        Street lines drawn as a light base layer (for offline maps, which have no tiles); a
        boolean ``main`` column marks the roads kept at city zooms.
    base_rings
        The background network already encoded (:func:`hotspots.output.map_data.encode_frame`
        rings, simplified by 2 m as an area map's ``base_streets`` are): used instead of
        ``base_streets`` where a run encodes its network once for all its area maps.
    counts
        Counts per place, type and month (:func:`hotspots.output.map_data.period_counts`)
        for the group, harm and period choices; None: whole-period counts from the ``n_``
        columns.
    windows
        Per place key, the patrol window of each crime group key
        (:func:`hotspots.temporal.group_window_texts`): a popup shows the chosen group's.
    focus
        Area codes the map is about (a ward map); empty for the city-wide map.
    area_value
        Column of the areas shown when ``counts`` has no area counts.
    top_n
        Draw the top ``top_n`` hot streets of each choice (None: all).
    rank_col
        ``"rank"`` (city-wide bands) or ``"area_rank"`` (bands within the area) for colours.
    title, subtitle
        Title block: the map's name, then the period and data it shows.
    evidence
        The backtest sentence, shown on demand under "How far to trust this list".
    trend
        The area's trend over the whole period, quoted in the title block.
    links
        Per area code, links (label -> relative URL) shown in popups, written as the page's
        ``hotspots-links`` JSON block.
    callers_synthetic
        The caller column is labelled synthetic demo data (the repeat-caller layer says so).
    forecast
        Next month's listed places on this map (:func:`hotspots.evaluate.forecast_next_month`
        rows with point geometry and the street's ``forecast_rank``): a layer off by default.
        None: the run has no forecast (no layer).
    forecast_info
        The forecast's record (``month``, ``listed``, ``streets``, ``coverage_pct`` and
        ``text``: which method made the list and how it did in the backtest).
    offline
        If True, no tile layer is added (pass ``base_streets`` instead); the page inlines
        its scripts (:func:`hotspots.output.offline.inline_assets`).
    """

    locations: gpd.GeoDataFrame | None = None
    hexes: gpd.GeoDataFrame | None = None
    clusters: gpd.GeoDataFrame | None = None
    repeats: gpd.GeoDataFrame | None = None
    corridors: gpd.GeoDataFrame | None = None
    corridor_count: int | None = None
    crimes: pd.DataFrame | None = None
    base_streets: gpd.GeoDataFrame | None = None
    base_rings: Sequence[str] | None = None
    counts: PeriodCounts | None = None
    windows: Mapping[str, Mapping[str, str]] | None = None
    focus: Sequence[str] = ()
    area_value: str = "crimes"
    top_n: int | None = DEFAULT_TOP_N
    rank_col: str = "rank"
    title: str = "Hot streets"
    subtitle: str = ""
    evidence: str = ""
    trend: str = ""
    links: Mapping[str, Mapping[str, str]] | None = None
    callers_synthetic: bool = False
    forecast: gpd.GeoDataFrame | None = None
    forecast_info: Mapping[str, Any] = field(default_factory=dict)
    offline: bool = False
