"""The ``hotspots brief`` command: a thin shell over :func:`hotspots.brief.writer.write_briefs`.

Register it on the main group with ``app.add_command(brief)``.
"""

from __future__ import annotations

from pathlib import Path

import click

from hotspots.cli.common import setup_logging, wait_option
from hotspots.runfolder import folder_lock

__all__ = ["brief"]

_EPILOG = """\b
Examples:
  hotspots brief outputs/london
  hotspots brief outputs/london --ward E05000644 --no-pdf
  hotspots brief outputs/london --backtest outputs/evaluate_london --weights my_weights.toml
"""


@click.command(name="brief", epilog=_EPILOG)
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--ward",
    "wards",
    multiple=True,
    help="Area code to write a brief for (repeat); every area with crime by default.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML of score weights and rules (default: hotspots/brief_weights.toml).",
)
@click.option(
    "--backtest",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder written by `hotspots evaluate`: adds how well each crime group "
    "was predicted to the score.",
)
@click.option(
    "--no-pdf",
    "pdf",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Write HTML only (PDFs need Playwright and Chromium).",
)
@click.option(
    "--areas",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The run's area layer, if the path in run.json does not resolve here.",
)
@click.option(
    "--streets",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The run's street layer, if the path in run.json does not resolve here.",
)
@wait_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def brief(
    *,
    run_dir: Path,
    wards: tuple[str, ...],
    weights: Path | None,
    backtest: Path | None,
    pdf: bool,
    areas: Path | None,
    streets: Path | None,
    wait: bool,
    quiet: bool,
) -> None:
    """Write a one-page brief per ward: three proposed priorities with their evidence.

    Reads an existing run folder (nothing is recomputed) and writes only RUN_DIR/briefs/:
    <area_code>.html and .pdf per ward, and borough_<name>.html and .pdf per borough
    (all_areas.html where the areas have no borough), with a best and worst page beside each
    when the run compares crime groups. Without --ward, each overlay layer of the run
    (layers/<NAME>/) gets its briefs too, in layers/<NAME>/briefs/.
    """
    from hotspots.brief.writer import write_briefs

    setup_logging(quiet)
    with folder_lock(run_dir, wait=wait):  # reading and writing: no run replaces it meanwhile
        files = write_briefs(
            run_dir,
            codes=wards or None,
            weights=weights,
            backtest=backtest,
            pdf=pdf,
            areas=areas,
            streets=streets,
            wait=wait,
        )
    main = [f for f in files if f.parent == run_dir / "briefs"]
    html_n = sum(f.suffix == ".html" for f in main)
    layers = sum(f.suffix == ".html" for f in files) - html_n
    more = f"; {layers} pages in layers/*/briefs" if layers else ""
    click.echo(f"{run_dir / 'briefs'}: {html_n} pages, {len(main) - html_n} PDFs{more}")
