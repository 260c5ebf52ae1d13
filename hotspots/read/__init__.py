"""Reading: crime files, the canonical crime table, boundaries, streets and downloads.

The public readers are re-exported here, each imported from its module on first use
(PEP 562), so importing a sub-module such as :mod:`hotspots.read.sources` loads no reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotspots.read.crimes import read_crimes
    from hotspots.read.datasets import get_path
    from hotspots.read.layers import read_areas, read_population, read_streets
    from hotspots.read.policeuk import read_police_uk

__all__ = [
    "get_path",
    "read_areas",
    "read_crimes",
    "read_police_uk",
    "read_population",
    "read_streets",
]

#: Public name -> the sub-module that defines it.
_READERS: dict[str, str] = {
    "read_crimes": "crimes",
    "read_police_uk": "policeuk",
    "read_areas": "layers",
    "read_streets": "layers",
    "read_population": "layers",
    "get_path": "datasets",
}


def __getattr__(name: str) -> Any:
    """Import a public reader from its sub-module on first use."""
    if name not in _READERS:
        msg = f"module 'hotspots.read' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(f"hotspots.read.{_READERS[name]}"), name)
