"""hotspots.cli.quick_exit: the console command ends quickly, its exit otherwise unchanged.

Each test runs a child process: ending quickly in this one would end the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hotspots.cli.quick_exit import exit_status

#: A program that leaves work for Python's exit, then ends as the command does.
_PROGRAM = """
import atexit, logging, shutil, sys, tempfile, threading, time, weakref
from pathlib import Path
from hotspots.cli.quick_exit import end_quickly, exit_status

out = Path(sys.argv[1])
status = end_quickly()
log = logging.getLogger("child")
log.addHandler(logging.FileHandler(out / "log.txt"))
log.warning("logged")  # flushed by logging's shutdown, which ran before we registered

def late():
    time.sleep(0.3)
    (out / "thread.txt").write_text("done")

threading.Thread(target=late).start()  # not a daemon: waited for
atexit.register(lambda: (out / "handler.txt").write_text("ran"))
folder = Path(tempfile.mkdtemp(dir=out))

class Holder:
    pass

holder = Holder()
weakref.finalize(holder, shutil.rmtree, folder)  # run at exit while holder lives

class Freed:
    def __del__(self):
        (out / "freed.txt").write_text("freed")  # Python's teardown would call this

kept = Freed()
(out / "folder.txt").write_text(str(folder))
sys.stdout.write("no newline, still written")
code = {code!r}
try:
    raise SystemExit(code)
except SystemExit as done:
    status[0] = exit_status(done.code)
    raise
"""


def _run(tmp_path: Path, code: object) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "child.py"
    program.write_text(textwrap.dedent(_PROGRAM.format(code=code)))
    return subprocess.run(
        [sys.executable, str(program), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("code", "expected"), [(None, 0), (3, 3), ("a message", 1)])
def test_the_exit_does_all_but_free_memory(tmp_path: Path, code: object, expected: int) -> None:
    done = _run(tmp_path, code)
    assert done.returncode == expected, done.stderr
    assert done.stdout == "no newline, still written"
    assert (tmp_path / "thread.txt").read_text() == "done"
    assert (tmp_path / "handler.txt").read_text() == "ran"
    assert (tmp_path / "log.txt").read_text() == "logged\n"
    assert not Path((tmp_path / "folder.txt").read_text()).exists()
    assert not (tmp_path / "freed.txt").exists()  # the objects were left to the system
    if isinstance(code, str):
        assert code in done.stderr  # Python still prints the message


def test_exit_status_is_pythons() -> None:
    assert [exit_status(c) for c in (None, 0, 1, 2, 256 + 4, True, False, "x", 1.5)] == [
        0,
        0,
        1,
        2,
        4,
        1,
        0,
        1,
        1,
    ]


@pytest.mark.parametrize(
    ("args", "code", "stream", "text"),
    [
        (["--version"], 0, "stdout", "hotspots, version"),
        (["run"], 2, "stderr", "Missing option '--crimes'"),
        (["export", "/nonexistent/run"], 2, "stderr", "does not exist"),
    ],
)
def test_the_command_keeps_its_exit_codes(
    args: list[str], code: int, stream: str, text: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hotspots.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == code
    assert text in getattr(done, stream)


def test_a_failed_command_keeps_its_one_line_error(tmp_path: Path) -> None:
    crimes = tmp_path / "crimes.csv"
    crimes.write_text("nothing,here\n1,2\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotspots.cli",
            "run",
            "--crimes",
            str(crimes),
            "--areas",
            str(tmp_path / "missing.gpkg"),
            "--streets",
            str(tmp_path / "missing.gpkg"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Error" in done.stderr
