"""hotspots.cli.collector: the console command's process collects cyclic garbage less often.

The command runs in a child process: it ends its process (hotspots.cli.quick_exit).
"""

from __future__ import annotations

import gc
import subprocess
import sys

from hotspots.cli import collector

#: The console command, with an exit handler that reports the collector's thresholds.
_PROGRAM = """
import atexit, gc, sys
import hotspots.cli.quick_exit as quick_exit
from hotspots.cli import main

def end_quickly():
    status = ending()
    # registered after the command's own: runs first, while the process still runs Python
    atexit.register(lambda: print("thresholds", *gc.get_threshold()))
    return status

ending, quick_exit.end_quickly = quick_exit.end_quickly, end_quickly
sys.argv = ["hotspots", "--version"]
main()
"""


def test_the_command_collects_after_the_raised_threshold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("thresholds"))
    young, middle, old = map(int, line.split()[1:])
    assert young == collector.YOUNG_THRESHOLD
    assert (middle, old) == gc.get_threshold()[1:]  # Python's own ratios kept


def test_collect_less_returns_what_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        assert collector.collect_less() == before
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
    assert gc.get_threshold() == before
