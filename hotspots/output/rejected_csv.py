"""``rejected.csv`` in parts: each crime file's rejected rows made into lines where they are.

``rejected.csv`` lists every rejected row sorted by ``source_file`` and ``source_row``. Its
lines are made one crime file at a time (:func:`file_part`: the file's rejected rows, the
reader's then those the join rejected, stably sorted by ``source_row``), and the files'
parts written one after another in order of file name (:class:`RejectedCsv`). Both engines
make the parts with :func:`file_part`:

- the local engine from its rejected table, file by file (:meth:`RejectedCsv.of_frame`);
- the Dask engine on the worker that read each file (:mod:`hotspots.pipeline.dask_stages`):
  only the part's text and its counts per reason reach the client, which keeps the text in
  a temporary file until the run folder is written.

Files of one name (the same path given twice) make one part, from their rows together, so
the lines are those of one sort of the whole table. The counts per file and reason give
run.json's accounting (:func:`accounting`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from hotspots.output.formulas import neutralise_formulas
from hotspots.read.schema import REJECTED_COLUMNS

__all__ = [
    "STREET_LEVEL_COLUMNS",
    "FilePart",
    "RejectedCsv",
    "accounting",
    "csv_columns",
    "file_part",
    "kept_per_file",
]

#: The columns of ``rejected.csv`` with ``--street-level-only`` (no coordinates, places, ids).
STREET_LEVEL_COLUMNS = ["source_file", "source_row", "reason", "month", "crime_type"]


def csv_columns(*, street_level_only: bool) -> list[str]:
    """Return the columns of ``rejected.csv``."""
    return list(STREET_LEVEL_COLUMNS if street_level_only else REJECTED_COLUMNS)


@dataclass
class FilePart:
    """One file name's lines of ``rejected.csv`` and its rows per reason.

    ``text`` holds the lines (UTF-8, no header), or ``table`` the rows to write as them.
    """

    text: bytes
    reasons: dict[str, int]
    table: pd.DataFrame | None = field(default=None, repr=False)

    def write_to(self, out: BinaryIO) -> None:
        """Write the lines to ``out``, as :func:`hotspots.output.export.write_csv` would."""
        if self.table is None:
            out.write(self.text)
            return
        self.table.to_csv(
            out, mode="wb", index=False, header=False, lineterminator="\n", encoding="utf-8"
        )


def file_part(
    frames: Sequence[pd.DataFrame], *, street_level_only: bool, as_text: bool = True
) -> FilePart:
    """Return the lines of ``rejected.csv`` for the rejected rows of one file name.

    Parameters
    ----------
    frames
        Rejected tables (:data:`hotspots.read.schema.REJECTED_COLUMNS`) of rows of one
        ``source_file``, in the order the run's rejected table holds them: the reader's rows
        of each file of that name in file order, then the rows the join rejected.
    street_level_only
        Write only :data:`STREET_LEVEL_COLUMNS`.
    as_text
        Make the lines now (else the part holds the rows, made into lines when written).

    Returns
    -------
    FilePart
        The rows stably sorted by ``source_row``, written as :func:`hotspots.output.export.
        write_csv` writes them (formulas made inert), and the number of rows per reason.

    Examples
    --------
    >>> rows = pd.DataFrame({"source_file": "a.csv", "source_row": [5, 2], "reason": "x"})
    >>> part = file_part([rows.reindex(columns=REJECTED_COLUMNS)], street_level_only=True)
    >>> part.text.decode().splitlines(), part.reasons
    (['a.csv,2,x,,', 'a.csv,5,x,,'], {'x': 2})
    """
    rows = [f for f in frames if len(f)]
    if not rows:
        return FilePart(b"", {})
    table = rows[0] if len(rows) == 1 else pd.concat(rows, ignore_index=True)
    table = table.sort_values("source_row", kind="stable")
    reasons = table["reason"].astype(object).value_counts(sort=False)
    counts = {str(k): int(n) for k, n in reasons.items()}
    shown = neutralise_formulas(
        table.reindex(columns=csv_columns(street_level_only=street_level_only))
    )
    if not as_text:
        return FilePart(b"", counts, shown)
    text = shown.to_csv(index=False, header=False, lineterminator="\n", encoding="utf-8")
    return FilePart(text.encode("utf-8"), counts)


@dataclass
class RejectedCsv:
    """``rejected.csv``'s parts, one per file name, and the rejected rows per file and reason.

    A part is held as its text, or in a file of a temporary folder (:meth:`add` with
    ``on_disk``) that is removed with this object.
    """

    columns: list[str]
    parts: dict[str, FilePart | Path] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    folder: Path | None = field(default=None, repr=False)
    #: Removes the temporary folder now (else it goes with this object); in the process that
    #: made it only, not in a forked copy (e.g. the run's second process).
    remove: Callable[[], object] = field(default=lambda: None, repr=False, compare=False)

    @classmethod
    def of_frame(cls, rejected: pd.DataFrame, *, street_level_only: bool) -> RejectedCsv:
        """Return the parts of a whole rejected table (the local engine's), file by file."""
        out = cls(csv_columns(street_level_only=street_level_only))
        if not len(rejected):
            return out
        codes, names = pd.factorize(rejected["source_file"])
        order = np.argsort(codes, kind="stable")  # each file's rows together, in order
        bounds = np.cumsum([0, *np.bincount(codes, minlength=len(names))])
        for k, name in enumerate(names):
            rows = rejected.take(order[bounds[k] : bounds[k + 1]])
            out.add(
                str(name), file_part([rows], street_level_only=street_level_only, as_text=False)
            )
        return out

    def add(self, name: str, part: FilePart, *, on_disk: bool = False) -> None:
        """Add the part of file name ``name`` (each name once), kept in a file if ``on_disk``."""
        if name in self.parts:
            msg = f"rejected.csv: a second part for {name!r}"
            raise ValueError(msg)
        self.reasons[name] = dict(sorted(part.reasons.items()))
        if not on_disk:
            self.parts[name] = part
            return
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="hotspots-rejected-"))
            self.remove = weakref.finalize(self, _remove_folder, self.folder, os.getpid())
        path = self.folder / f"{len(self.parts)}.csv"
        with path.open("wb") as f:
            part.write_to(f)
        self.parts[name] = path

    @property
    def total(self) -> int:
        """The number of rejected rows."""
        return sum(sum(r.values()) for r in self.reasons.values())

    def write(self, path: Path) -> Path:
        """Write ``rejected.csv``: the header, then the parts in order of file name."""
        header = neutralise_formulas(pd.DataFrame(columns=self.columns)).to_csv(
            index=False, lineterminator="\n", encoding="utf-8"
        )
        with path.open("wb") as out:
            out.write(header.encode("utf-8"))
            for name in sorted(self.parts):
                part = self.parts[name]
                if isinstance(part, FilePart):
                    part.write_to(out)
                    continue
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out)
        return path


def _remove_folder(folder: Path, pid: int) -> None:
    """Remove the parts' folder, in the process that made it (not in a forked copy)."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def accounting(
    kept: Mapping[str, int], rejected: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, object]]:
    """Return rows read, kept and rejected (by reason) per input file, for run.json.

    The same as :func:`hotspots.output.export.accounting` gives for the kept and rejected
    tables, from their counts per file (and reason).

    Examples
    --------
    >>> accounting({"a": 3}, {"a": {"x": 1}, "b": {"y": 2}})["b"]
    {'read': 2, 'kept': 0, 'rejected': {'y': 2}}
    """
    out: dict[str, dict[str, object]] = {}
    for f in sorted(set(kept) | {f for f, r in rejected.items() if r}):
        rej = {str(reason): int(n) for reason, n in rejected.get(f, {}).items() if n}
        nk = int(kept.get(f, 0))
        out[str(f)] = {
            "read": nk + sum(rej.values()),
            "kept": nk,
            "rejected": dict(sorted(rej.items())),
        }
    return out


def kept_per_file(source_file: pd.Series) -> dict[str, int]:
    """Return the kept rows per file from the kept rows' ``source_file`` (as ``value_counts``)."""
    return {str(k): int(n) for k, n in source_file.value_counts().items()}
