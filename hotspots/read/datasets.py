"""Where the real data lives: a setting defaulting to ``../shared/data``, and its named files.

Downloads: :mod:`hotspots.read.download_police` (police.uk archives) and
:mod:`hotspots.read.download_layers` (boundaries, OSM streets), over :mod:`hotspots.read.fetch`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hotspots.errors import InputDataError

__all__ = [
    "DATA_ENV",
    "NAMED_PATHS",
    "data_dir",
    "get_path",
]

log = logging.getLogger("hotspots")

#: Environment variable that points at the shared data folder.
DATA_ENV = "HOTSPOTS_DATA"


#: Named files inside the data folder.
NAMED_PATHS: dict[str, str] = {
    "london_crimes": "london/crimes",
    "london_wards": "london/wards_2014.gpkg",
    "london_boroughs": "london/boroughs.gpkg",
    "london_streets": "london/streets_osm_london.gpkg",
    "london_streets_central": "london/streets_central_osm.gpkg",
    "london_lsoa": "london/lsoa_2011.gpkg",
    "london_ward_population": "london/ward_population_mid2019.csv",
    "vancouver_crimes": "vancouver/vpd_crimedata_2020_2025.csv.gz",
    "vancouver_streets": "vancouver/public_streets.gpkg",
    "vancouver_areas": "vancouver/local_areas.gpkg",
}


def data_dir() -> Path:
    """Return the shared real-data folder.

    The folder is ``$HOTSPOTS_DATA`` when set; otherwise ``../shared/data`` from the current
    directory, or from the project root when the package is run from its source tree.

    Returns
    -------
    pathlib.Path
        The folder (which may not exist on a machine without the shared data).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    here = Path.cwd() / ".." / "shared" / "data"
    if here.is_dir():
        return here.resolve()
    return (Path(__file__).resolve().parents[3] / "shared" / "data").resolve()


def get_path(name: str) -> Path:
    """Return the path of a named file of the shared real data.

    Parameters
    ----------
    name
        One of ``NAMED_PATHS``, e.g. ``"london_wards"`` or ``"vancouver_crimes"``.

    Returns
    -------
    pathlib.Path
        The file or folder path.

    Raises
    ------
    InputDataError
        If the name is unknown or the file is absent.

    Examples
    --------
    >>> get_path("london_wards").name
    'wards_2014.gpkg'
    """
    if name not in NAMED_PATHS:
        msg = f"unknown dataset `{name}`; choose one of {sorted(NAMED_PATHS)}"
        raise InputDataError(msg)
    path = data_dir() / NAMED_PATHS[name]
    if not path.exists():
        msg = f"dataset `{name}` not found at {path}; set {DATA_ENV} to the shared data folder"
        raise InputDataError(msg)
    return path
