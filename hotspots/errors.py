"""Exception hierarchy for hotspots.

Every error that the user can fix derives from :class:`HotspotsError`. Input problems also
derive from :class:`ValueError`, so both ``except HotspotsError`` and ``except ValueError`` work.
"""

from __future__ import annotations

__all__ = [
    "CRSMismatchError",
    "DownloadError",
    "HotspotsError",
    "InputDataError",
    "OutputExistsError",
]


class HotspotsError(Exception):
    """Base class for every error hotspots raises on purpose."""


class InputDataError(HotspotsError, ValueError):
    """An input file or table breaks a rule the analysis needs (names the file and problem)."""


class CRSMismatchError(InputDataError):
    """Two layers cannot be put in the same coordinate reference system."""


class OutputExistsError(HotspotsError, FileExistsError):
    """The run folder exists already and ``overwrite`` was not given."""


class DownloadError(HotspotsError):
    """A download failed: HTTP error, timeout, broken connection or unexpected content."""
