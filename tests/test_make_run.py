"""``make run``: three chains at once, each in order; a failing step fails the whole.

The Makefile runs London, Vancouver and the callers demo at once (``JOBS``, a step per chain),
each chain's steps in order (evaluate, run, brief), London's at the highest CPU priority.
These tests read make's dry run and make one real, fast failure (a data folder without the
data), never a whole run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def _installed() -> bool:
    """Whether set-up is done (else ``make run`` would install first: not in a test)."""
    done = _make("-q", ".venv/bin/.installed", "node_modules/.package-lock.json", check=False)
    return done.returncode == 0


def _steps(text: str) -> list[str]:
    """The hotspots commands of a dry run, as ``<what> <folder>`` in their order."""
    found = []
    for cmd in re.split(r"\n(?!\s)", text):
        step = re.search(
            r"hotspots (evaluate|run|brief)\b.*?--out (\S+)|hotspots (brief) (\S+)", cmd, re.S
        )
        made = re.search(r"make_callers .* (\S+) --year", cmd, re.S)
        if step:
            found.append(f"{step[1] or step[3]} {Path(step[2] or step[4]).name}")
        elif made:
            found.append(f"make_callers {Path(made[1]).name}")
    return found


def test_each_city_alone_runs_its_steps_in_order(tmp_path: Path) -> None:
    out = f"OUT={tmp_path}"
    london = _steps(_make("-n", "run-london", out).stdout)
    assert london == ["evaluate evaluate_london", "run london", "brief london"]
    vancouver = _steps(_make("-n", "run-vancouver", out).stdout)
    assert vancouver == ["evaluate evaluate_vancouver", "run vancouver", "brief vancouver"]
    callers = _steps(_make("-n", "run-callers-demo", out).stdout)
    assert callers == ["make_callers callers_demo_data", "run callers_demo", "brief callers_demo"]


def test_make_run_is_the_three_chains_london_first(tmp_path: Path) -> None:
    dry = _make("-n", "run", f"OUT={tmp_path}").stdout
    assert re.search(r"make .*-j3 --output-sync=target", dry)
    steps = _steps(dry)
    assert len(steps) == 9
    for chain in (
        ["evaluate evaluate_london", "run london", "brief london"],
        ["evaluate evaluate_vancouver", "run vancouver", "brief vancouver"],
    ):
        assert [s for s in steps if s in chain] == chain
    # London's steps at the normal priority, Vancouver's slightly lower, the demo's low
    for cmd in re.split(r"\n(?!\s)", dry):
        if re.search(r"hotspots (evaluate|run|brief)|make_callers", cmd):
            nice = re.match(r"nice -n (\d+) ", cmd)
            level = int(nice[1]) if nice else 0
            where = "london" if "/london" in cmd else "callers" if "callers" in cmd else "vancouver"
            assert level == {"london": 0, "vancouver": 2, "callers": 10}[where], cmd
    one = _make("-n", "run", "JOBS=1", "NICE_CALLERS=0", f"OUT={tmp_path}").stdout
    assert re.search(r"make .*-j1 ", one) and "nice -n 10" not in one


@pytest.mark.e2e
@pytest.mark.skipif(not _installed(), reason="set-up not done: make run would install first")
def test_a_failing_step_fails_make_run_with_its_message(tmp_path: Path) -> None:
    empty = tmp_path / "no_data"
    empty.mkdir()
    done = _make("run", f"DATA={empty}", f"OUT={tmp_path / 'out'}", check=False)
    said = done.stdout + done.stderr
    assert done.returncode != 0
    # the step's own one-line error (the chain that starts first fails first; with one job
    # at a time the other never starts)
    assert re.search(rf"{re.escape(str(empty))}/(london/crimes|vancouver/\S+) does not exist", said)
    assert re.search(r"\*\*\* \[Makefile:\d+: (london|vancouver)-evaluate\] Error", said)
    assert not (tmp_path / "out" / "london").exists()  # later steps of the chain never ran
