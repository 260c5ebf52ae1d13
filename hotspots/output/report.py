"""The written summary of a run, in Markdown, from the files of its run folder."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hotspots.output.export import read_csv, read_run
from hotspots.temporal.common import NO_TIME_OF_DAY

if TYPE_CHECKING:
    from hotspots.runfolder import RunResult

__all__ = [
    "DEFAULT_TOP_N",
    "summarise_run",
]

#: Hot streets listed in the summary's table by default.
DEFAULT_TOP_N = 10

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_CONCENTRATION_ROWS = (
    ("share_of_crime_on_top_1pct_segments", "Share of crime on the top 1% of segments"),
    ("share_of_crime_on_top_5pct_segments", "Share of crime on the top 5% of segments"),
    ("share_of_segments_holding_half_of_crime", "Share of segments holding half of crime"),
)


def summarise_run(
    run_dir: str | os.PathLike[str] | RunResult, *, top_n: int = DEFAULT_TOP_N
) -> str:
    """Return the written summary of a run as Markdown, read from its run folder.

    Parameters
    ----------
    run_dir
        A folder written by ``hotspots run`` (or :func:`hotspots.pipeline.run`), or the
        :class:`~hotspots.runfolder.RunResult` of a run, whose ``out_dir`` is read. Only
        ``run.json``, ``hot_streets.csv``, ``areas.csv`` and ``performance.csv`` are read, so
        the summary can be written again for any existing folder without recomputing.
    top_n
        Hot streets listed in the table (by ``rank``; default 10).

    Returns
    -------
    str
        Markdown with a title and these sections: period and data source; rows read, kept
        and rejected (with reasons); snapping and street names; concentration against the
        random baseline; the top hot streets (area, crimes, rate, trend, significance, patrol
        window); best and worst performing areas; incomplete months; caveats. Text from the
        data (street and area names) is escaped for Markdown.

    Raises
    ------
    InputDataError
        If the folder is not a complete run folder (``run.json``, ``areas.csv`` or ``wards/``
        missing).
    FileNotFoundError
        If ``hot_streets.csv`` is missing.

    Notes
    -----
    The comparison periods are the run's: the last ``compare_months`` months of the data
    against the months just before (``performance.csv``, built by
    :func:`hotspots.analysis.performance.rank_areas`). A population file's year is read from its
    file name (e.g. ``ward_population_mid2019.csv``) and compared with the crime period.

    Examples
    --------
    >>> print(summarise_run("outputs/london"))  # doctest: +SKIP
    # Hot streets run: 2016-01 to 2017-12
    ...
    """
    folder = Path(run_dir.out_dir) if hasattr(run_dir, "out_dir") else Path(run_dir)
    manifest, areas = read_run(folder)
    hot = read_csv(folder / "hot_streets.csv", dtype={"area_code": str})
    performance = _read_optional(folder / "performance.csv")
    period = manifest.get("period", {})
    parts = [
        f"# Hot streets run: {period.get('first_month', '?')} to {period.get('last_month', '?')}",
        _section_period(manifest),
        _section_rows(manifest),
        _section_snapping(manifest),
        _section_concentration(manifest),
        _section_hot_streets(hot, areas, top_n=top_n),
        _section_performance(performance, manifest),
        _section_incomplete(manifest),
        _section_caveats(manifest),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


# --------------------------------------------------------------------------------------------
# formatting helpers


def _md(value: Any) -> str:
    """Escape text from the data so Markdown shows it as written."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def _code(value: Any) -> str:
    """Return text as a Markdown code span (backticks inside are dropped)."""
    return f"`{str(value).replace('`', '')}`"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _pct(share: Any, digits: int = 1) -> str:
    """Format a share (0-1) as a percentage; "n/a" when missing."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "n/a"
    return f"{100 * float(share):.{digits}f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Return a Markdown table; numbers (cells starting with a digit or sign) align right."""
    align = [
        "---:" if rows and all(re.match(r"^[-+]?\d", r[i] or "0") for r in rows) else "---"
        for i in range(len(header))
    ]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _read_optional(path: Path) -> pd.DataFrame:
    """Read a CSV of the run folder, or an empty table when the run did not write it."""
    if not path.is_file():
        return pd.DataFrame()
    return read_csv(path, dtype={"area_code": str})


def _month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _n_months(period: Mapping[str, Any]) -> int:
    first, last = period.get("first_month"), period.get("last_month")
    if not first or not last:
        return 0
    return _month_index(str(last)) - _month_index(str(first)) + 1


# --------------------------------------------------------------------------------------------
# sections


def _section_period(manifest: Mapping[str, Any]) -> str:
    period = manifest.get("period", {})
    crimes = [i["path"] for i in manifest.get("inputs", []) if i.get("role") == "crimes"]
    fmt = manifest.get("parameters", {}).get("fmt", "?")
    lines = [
        "## Period and data",
        "",
        f"- **Period:** {period.get('first_month', '?')} to {period.get('last_month', '?')} "
        f"({_n_months(period)} months); "
        + ("times of day known." if period.get("time_of_day") else "month only, no times of day."),
        f"- **Data source:** {_md(manifest.get('data_source', 'not recorded'))} "
        f"(format {_code(fmt)}).",
        f"- **Crime files:** {', '.join(_code(p) for p in crimes) or 'not recorded'}; "
        f"{_plural(len(manifest.get('accounting', {})), 'file')} read.",
    ]
    if manifest.get("created"):
        lines.append(f"- **Run written:** {manifest['created']}.")
    return "\n".join(lines)


def _section_rows(manifest: Mapping[str, Any]) -> str:
    accounting: Mapping[str, Any] = manifest.get("accounting", {})
    totals = manifest.get("totals", {})
    read, kept = int(totals.get("read", 0)), int(totals.get("kept", 0))
    reasons: Counter[str] = Counter()
    for counts in accounting.values():
        reasons.update({k: int(v) for k, v in counts.get("rejected", {}).items()})
    bad = [
        name
        for name, a in accounting.items()
        if a["read"] != a["kept"] + sum(a.get("rejected", {}).values())
    ]
    check = (
        "read = kept + rejected in every file."
        if not bad
        else f"**accounting does not add up** in {', '.join(map(_md, bad))}."
    )
    lines = [
        "## Rows read, kept and rejected",
        "",
        f"{read:,} rows read, {kept:,} kept ({_pct(kept / read if read else math.nan, 2)}), "
        f"{read - kept:,} rejected (listed row by row in `rejected.csv`); {check}",
    ]
    if reasons:
        rows = [
            [_md(reason), f"{n:,}", _pct(n / read, 2)]
            for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        lines += ["", _table(["Reason", "Rows", "Share of rows read"], rows)]
    return "\n".join(lines)


def _section_snapping(manifest: Mapping[str, Any]) -> str:
    snapping = manifest.get("snapping", {})
    naming = manifest.get("naming", {})
    distance = float(snapping.get("max_distance_m", math.nan))
    lines = ["## Snapping and street names", ""]
    if snapping:
        police_uk = manifest.get("parameters", {}).get("fmt") == "police-uk"
        off = " Each ward's list ranks those by police.uk location instead." if police_uk else ""
        lines.append(
            f"- **Snapped:** {_pct(snapping.get('share_snapped'))} of kept crimes "
            f"({int(snapping.get('snapped', 0)):,}) lie within {distance:g} m of a street segment "
            f"and count towards hot streets; {int(snapping.get('not_snapped', 0)):,} do not." + off
        )
    agreement = naming.get("location_text_vs_street_layer_name", {})
    compared = int(agreement.get("compared", 0) or 0)
    if compared:
        lines.append(
            f"- **Name agreement:** the record's street text names the snapped segment's "
            f"street in {_pct(agreement.get('rate'))} of {compared:,} records compared "
            "(points of interest and junctions left out)."
        )
    elif naming:
        lines.append(
            "- **Name agreement:** not measured: no record could be compared with a "
            "street-layer name (the layer has no names here)."
        )
    if naming:
        lines.append(
            f"- **Segment names:** {int(naming.get('named_by_street_layer', 0)):,} of "
            f"{int(naming.get('segments', 0)):,} segments named by the street layer, "
            f"{int(naming.get('named_from_crime_records', 0)):,} from the crime records, "
            f"{int(naming.get('unnamed', 0)):,} unnamed."
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def _section_concentration(manifest: Mapping[str, Any]) -> str:
    conc = manifest.get("concentration", {})
    observed, baseline = conc.get("observed", {}), conc.get("random_baseline", {})
    if not observed:
        return ""
    rows = [
        [label, _pct(observed.get(key)), _pct(baseline.get(key))]
        for key, label in _CONCENTRATION_ROWS
    ]
    rows.append(
        [
            "Gini coefficient",
            f"{observed.get('gini', math.nan):.2f}",
            f"{baseline.get('gini', math.nan):.2f}",
        ]
    )
    top1, base1 = (
        observed.get("share_of_crime_on_top_1pct_segments"),
        baseline.get("share_of_crime_on_top_1pct_segments"),
    )
    ratio = (
        f" The top 1% of segments hold {float(top1) / float(base1):.1f} times the crime "
        "they would hold by chance."
        if top1 and base1
        else ""
    )
    return "\n".join(
        [
            "## Concentration",
            "",
            f"How the {int(conc.get('crimes', 0)):,} snapped crimes spread over the "
            f"{int(conc.get('segments', 0)):,} street segments, against a random baseline "
            f"(the same crimes placed on the same segments at random in proportion to "
            f"length).{ratio}",
            "",
            _table(["Measure", "Observed", "Random baseline"], rows),
        ]
    )


def _trend_text(row: pd.Series) -> str:
    cls, direction = row.get("trend_class"), row.get("trend_direction")
    if not isinstance(cls, str):
        return "n/a"
    if cls.startswith("n/a") or not isinstance(direction, str):
        return _md(cls)
    return f"{_md(cls)}, {_md(direction)}"


def _window_text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "n/a"
    return "n/a (month only)" if value == NO_TIME_OF_DAY else _md(value)


def _section_hot_streets(hot: pd.DataFrame, areas: pd.DataFrame, *, top_n: int) -> str:
    with_crime = int((areas["crimes"] > 0).sum()) if "crimes" in areas else len(areas)
    with_hot = int(hot["area_code"].nunique()) if len(hot) else 0
    intro = (
        f"{len(hot):,} hot streets in {with_hot:,} of {with_crime:,} areas with crime "
        f"({len(areas):,} areas in all). Ranked by crimes per 100 m; full list in "
        "`hot_streets.csv`, each area's list in `wards/`."
    )
    if hot.empty:
        return f"## Top hot streets\n\n{intro}"
    top = hot.sort_values(
        ["rank", "rank_by_count"] if "rank_by_count" in hot else ["rank"], kind="stable"
    ).head(top_n)
    rows = []
    for _, r in top.iterrows():
        extent = f" ({_md(r['extent'])})" if isinstance(r.get("extent"), str) else ""
        rows.append(
            [
                str(int(r["rank"])),
                f"{_md(r['street'])}{extent}",
                f"{_md(r['area_name'])} ({_md(r['area_code'])})",
                f"{int(r['crimes']):,}",
                f"{float(r['crimes_per_100m']):,.1f}",
                _trend_text(r),
                _md(r.get("significance")) or "n/a",
                _window_text(r.get("patrol_window")),
            ]
        )
    header = [
        "Rank",
        "Street",
        "Area",
        "Crimes",
        "Per 100 m",
        "Trend",
        "Significance",
        "Patrol window",
    ]
    return "\n".join([f"## Top {len(top)} hot streets", "", intro, "", _table(header, rows)])


def _comparison_periods(manifest: Mapping[str, Any]) -> tuple[str, str]:
    months = int(manifest.get("parameters", {}).get("compare_months", 3))
    last = manifest.get("period", {}).get("last_month")
    if not last:
        return "the last months", "the months before"
    end = _month_index(str(last))
    return (
        f"{_month_label(end - months + 1)} to {last}",
        f"{_month_label(end - 2 * months + 1)} to {_month_label(end - months)}",
    )


def _section_performance(performance: pd.DataFrame, manifest: Mapping[str, Any]) -> str:
    title = "## Best and worst performing areas"
    months = int(manifest.get("parameters", {}).get("compare_months", 3))
    n_months = _n_months(manifest.get("period", {}))
    if n_months < 2 * months:
        return (
            f"{title}\n\nNot compared: the run covers {_plural(n_months, 'month')}; "
            f"comparing the last {months} months with the {months} before needs "
            f"{2 * months}."
        )
    current, previous = _comparison_periods(manifest)
    head = (
        f"{title}\n\nAll crime in {current} against {previous} (areas with at least 10 "
        "crimes in both periods; `performance.csv`, details in `compare_areas.csv`)."
    )
    if "level" in performance.columns and len(performance):  # areas, all crime, first window
        first = performance["window"].iloc[0]
        performance = performance[
            (performance["level"] == "area")
            & (performance["crime_group"] == "All crime")
            & (performance["window"] == first)
        ]
    if performance.empty:
        return f"{head}\n\nNo area had at least 10 crimes in both periods and a change."
    parts = [head]
    for side, title in (("worst", "Worst (largest rises)"), ("best", "Best (largest falls)")):
        rows = [
            [
                str(int(r["position"])),
                f"{_md(r['area_name'])} ({_md(r['area_code'])})",
                f"{int(r['current']):,}",
                f"{int(r['compared_with']):,}",
                f"{int(r['change']):+,}",
                f"{float(r['pct_change']):+.1f}%",
            ]
            for _, r in performance[performance["performance"] == side].iterrows()
        ]
        body = (
            _table(["#", "Area", "Now", "Before", "Change", "Change %"], rows) if rows else "none"
        )
        parts += [f"**{title}**", body]
    return "\n\n".join(parts)


def _section_incomplete(manifest: Mapping[str, Any]) -> str:
    months = manifest.get("period", {}).get("incomplete_months", [])
    if not months:
        return "## Incomplete months\n\nNone: every month holds at least half the median month."
    return (
        "## Incomplete months\n\n"
        f"{', '.join(map(str, months))}: fewer than half the crimes of the median month. "
        "They are left out of trends and marked in `monthly.csv`; a comparison period "
        "that holds one compares badly."
    )


def _population_caveat(manifest: Mapping[str, Any]) -> str | None:
    paths = [i["path"] for i in manifest.get("inputs", []) if i.get("role") == "population"]
    if not paths:
        return "No population file was given: areas are compared by counts, not rates."
    name = Path(paths[0]).name
    years = _YEAR.findall(name)
    period = manifest.get("period", {})
    first, last = (str(period.get(k, "0000"))[:4] for k in ("first_month", "last_month"))
    span = first if first == last else f"{first}-{last}"
    if not years:
        return (
            f"Rates per 1,000 residents use {_code(name)}; check that its year matches "
            f"the crime period ({span})."
        )
    year = years[-1]
    if first <= year <= last:
        return f"Rates per 1,000 residents use the {year} population ({_code(name)})."
    return (
        f"Rates per 1,000 residents use a {year} population estimate ({_code(name)}) for "
        f"crime in {span}: an approximation, worst where the population changed."
    )


def _section_caveats(manifest: Mapping[str, Any]) -> str:
    period = manifest.get("period", {})
    params = manifest.get("parameters", {})
    n_months = _n_months(period)
    notes: list[str | None] = []
    if not period.get("time_of_day"):
        notes.append(
            "The data gives the month only (police.uk): no times of day or patrol "
            "windows; use the peak months and monthly trends instead. police.uk "
            "locations are anonymised to map points, not exact addresses."
        )
    if n_months < 3:
        notes.append(f"Only {_plural(n_months, 'month')}: too short for trends (3 at least).")
    if n_months < 2 * int(params.get("compare_months", 3)):
        notes.append("Too few months to compare the last period with the one before.")
    share = manifest.get("snapping", {}).get("share_snapped")
    if share is not None and not math.isnan(float(share)) and float(share) < 0.5:
        notes.append(
            f"Only {_pct(share)} of crime lies on the street layer: hot streets cover "
            "part of the area; the rest is ranked by location in each area's list."
        )
    privacy = sum(
        int(n)
        for a in manifest.get("accounting", {}).values()
        for reason, n in a.get("rejected", {}).items()
        if reason.startswith("privacy")
    )
    if privacy:
        notes.append(
            f"{privacy:,} rows were withheld at source for privacy and are not "
            "mapped: offences against the person are under-counted on streets."
        )
    notes.append(_population_caveat(manifest))
    notes.append(
        "Significance is the Gi* class of the street's hottest segment (q-values "
        "corrected for many tests); a high rank without significance can be chance."
    )
    return "## Caveats\n\n" + "\n".join(f"- {n}" for n in notes if n)
