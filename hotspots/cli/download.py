"""The ``hotspots download`` command group: fetch police.uk crimes, boundaries and OSM streets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from hotspots.errors import HotspotsError
from hotspots.read.download_layers import (
    BOUNDARY_SOURCES,
    OVERPASS_URL,
    download_boundaries,
    download_osm_streets,
)
from hotspots.read.download_police import (
    POLICE_UK_ARCHIVE_URL,
    download_police_uk,
    months_between,
)

__all__ = ["boundaries", "download", "osm_streets", "police_uk"]

# Command docstrings are the --help text. They hold click's "\b" marker (keep the next block
# unwrapped), a real backspace character, hence the `noqa: D301` on each of them.

_OUT_DIR = click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path)
_OUT_FILE = click.Path(file_okay=True, dir_okay=False, writable=True, path_type=Path)


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a HotspotsError into a ClickException (message, no traceback, exit code 1)."""
    try:
        yield
    except HotspotsError as err:
        raise click.ClickException(str(err)) from err


@click.group(name="download")
def download() -> None:
    """Download real crime, boundary and street data for hotspots.

    \b
    Example:
      hotspots download police-uk --from 2017-01 --to 2017-12 --out data/crimes
      hotspots download boundaries london_statistical_gis --out data/boundaries
      hotspots download osm-streets --bbox -0.132 51.502 -0.108 51.522 --out streets.gpkg
    """  # noqa: D301


def _months_from_options(months: tuple[str, ...], start: str | None, end: str | None) -> list[str]:
    """Return the months given by ``--month`` or by the ``--from``/``--to`` range."""
    if months and (start or end):
        msg = "give either --month (repeatable) or --from/--to, not both"
        raise click.UsageError(msg)
    if months:
        return list(months)
    if not (start and end):
        msg = (
            "give the months: --month YYYY-MM (repeatable), or both --from YYYY-MM and --to YYYY-MM"
        )
        raise click.UsageError(msg)
    with _user_errors():
        return months_between(start, end)


@download.command(name="police-uk")
@click.option("--month", "months", multiple=True, metavar="YYYY-MM", help="A month (repeatable).")
@click.option("--from", "start", metavar="YYYY-MM", help="First month of a range.")
@click.option("--to", "end", metavar="YYYY-MM", help="Last month of a range (inclusive).")
@click.option(
    "--force",
    "forces",
    multiple=True,
    metavar="SLUG",
    help="Force slug to keep, e.g. metropolitan or city-of-london (repeatable; default: all).",
)
@click.option("--out", "out_dir", type=_OUT_DIR, required=True, help="Folder for the CSVs.")
@click.option("--base-url", default=POLICE_UK_ARCHIVE_URL, show_default=True, help="Archive URL.")
@click.option("--overwrite", is_flag=True, help="Download and extract again files on disk.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def police_uk(
    *,
    months: tuple[str, ...],
    start: str | None,
    end: str | None,
    forces: tuple[str, ...],
    out_dir: Path,
    base_url: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Download police.uk street-level crime CSVs, one per month and force.

    Fetches the monthly archives YYYY-MM.zip from data.police.uk (large: over 1 GB each;
    kept in OUT/archives) and extracts only the YYYY-MM-<force>-street.csv files into OUT.
    Prints the CSV paths.

    \b
    Example:
      hotspots download police-uk --from 2016-01 --to 2017-12 --force metropolitan --out data
      hotspots download police-uk --month 2017-01 --month 2017-02 --out data
    """  # noqa: D301
    wanted = _months_from_options(months, start, end)
    with _user_errors():
        paths = download_police_uk(
            wanted,
            forces=forces or None,
            out_dir=out_dir,
            base_url=base_url,
            overwrite=overwrite,
            quiet=quiet,
        )
    for path in paths:
        click.echo(str(path))


_SOURCES_HELP = "\n".join(f"  {name:<26} {s.title}" for name, s in sorted(BOUNDARY_SOURCES.items()))


@download.command(name="boundaries", epilog=f"\b\nKnown sources:\n{_SOURCES_HELP}")
@click.argument("name", type=click.Choice(sorted(BOUNDARY_SOURCES)))
@click.option("--out", "out_dir", type=_OUT_DIR, required=True, help="Folder for the file.")
@click.option("--base-url", default=None, help="Replace scheme and host of the source URL.")
@click.option("--overwrite", is_flag=True, help="Download again a file on disk.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def boundaries(
    *, name: str, out_dir: Path, base_url: str | None, overwrite: bool, quiet: bool
) -> None:
    """Download a known boundary or street file NAME into OUT, as published.

    See boundaries/README.md for each source's fields, licence and quirks. Prints the path.

    \b
    Example:
      hotspots download boundaries london_statistical_gis --out data/boundaries
    """  # noqa: D301
    with _user_errors():
        path = download_boundaries(
            name, out_dir=out_dir, base_url=base_url, overwrite=overwrite, quiet=quiet
        )
    click.echo(str(path))


@download.command(name="osm-streets")
@click.option(
    "--bbox",
    nargs=4,
    type=float,
    required=True,
    metavar="W S E N",
    help="West, south, east, north in degrees (WGS84).",
)
@click.option("--out", "out_path", type=_OUT_FILE, required=True, help="GeoPackage to write.")
@click.option("--overpass-url", default=OVERPASS_URL, show_default=True, help="Overpass API.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def osm_streets(
    *, bbox: tuple[float, float, float, float], out_path: Path, overpass_url: str, quiet: bool
) -> None:
    """Download OpenStreetMap streets in a bounding box into a GeoPackage (layer streets).

    Queries the Overpass API for residential to trunk roads, living streets and pedestrian
    streets; writes street_id, name, road_class and LineStrings in EPSG:4326. Prints the path.

    \b
    Example (Covent Garden to Holborn):
      hotspots download osm-streets --bbox -0.132 51.502 -0.108 51.522 --out streets.gpkg
    """  # noqa: D301
    with _user_errors():
        path = download_osm_streets(bbox, out_path=out_path, overpass_url=overpass_url, quiet=quiet)
    click.echo(str(path))
