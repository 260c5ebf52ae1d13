"""How often the ``hotspots`` command's process runs Python's cyclic garbage collector.

Python collects cyclic garbage after every 700 new container objects (lists, dicts, tuples
of objects...) by default, and each collection walks the youngest objects and, every tenth
time, the older ones. A run builds millions of short-lived containers: the records of the
maps' data, the rows of the CSVs, the pages of the briefs. With the default, the main
process of London's ``hotspots run`` collected about 3,800 times and spent 3.7-3.9 s in the
collector (timed by ``gc.callbacks``), and its forked processes more; the run's own work
leaves few cycles, so nearly all of that found nothing to free.

:func:`collect_less` raises the first threshold to :data:`YOUNG_THRESHOLD` new containers.
Measured on the 2-core machine, alternated with the default:

- London's ``hotspots run``: 30 collections for 0.5 s in the main process; user CPU 39.9
  and 39.0 s against 44.8 and 45.7 s; peak memory 1.72-1.73 GB against 1.71-1.75 GB.
- ``make run``: 187 and 193 s of the machine's CPU against 195 s in the same half hour
  (London's ``run`` step 45.9 and 47.7 s against 51.4 s), every CSV and plot identical.
- The 10-million-crime run collects a few dozen times either way (the reader holds the
  collector off): no change in time or memory.

Cyclic garbage is still collected, only less often. The outputs do not depend on it.

Only the console command calls it (:func:`hotspots.cli.main`), and the benchmark's worker
that times the command's stages: a notebook or a program importing the package keeps its
own collector settings. Forked worker processes inherit the setting.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "collect_less"]

#: New container objects between two collections of the youngest generation (Python: 700).
YOUNG_THRESHOLD = 50_000


def collect_less() -> tuple[int, int, int]:
    """Collect the youngest generation after :data:`YOUNG_THRESHOLD` new containers.

    The older generations keep Python's own ratios (each collected after ten collections of
    the one below).

    Returns
    -------
    tuple of int
        The thresholds before, for :func:`gc.set_threshold` to restore them.

    Examples
    --------
    >>> before = collect_less()
    >>> gc.get_threshold()[0] == YOUNG_THRESHOLD
    True
    >>> gc.set_threshold(*before)
    """
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, before[1], before[2])
    return before
