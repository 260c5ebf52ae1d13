"""Issue 17, writing side: one writer per output folder, atomic folders, names, formulas."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots import runfolder
from hotspots.analysis.rank import type_columns
from hotspots.cli import app
from hotspots.errors import InputDataError, OutputExistsError
from hotspots.output.export import safe_file_stem
from hotspots.pipeline import ranking
from tests.fixtures.bad.make_bad import COLLIDING_CODES, COLLIDING_TYPES, colliding_names
from tests.fixtures.make_tiny import tiny_args

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"

# A `hotspots` process that imports first, says so (GO.ready), then waits for the file GO
# before it starts the command: the races below then turn on the lock, not on which
# interpreter happened to load faster on a busy machine.
_DRIVER = """
import pathlib, sys, time
from hotspots.cli import app
go = pathlib.Path(sys.argv[1])
pathlib.Path(sys.argv[1] + f".ready{sys.argv[2]}").touch()
while not go.exists():
    time.sleep(0.01)
app(sys.argv[3:], prog_name="hotspots")
"""


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts; any still running at its end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _start(
    args: list[str], go: Path, started: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(go), str(len(started)), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(proc)
    return proc


def _ready(go: Path, started: list[subprocess.Popen[str]]) -> None:
    """Wait until every started process has imported hotspots and waits for its go file.

    The go files of one test share a folder, where each process leaves ``<go>.ready<i>``.
    """
    deadline = time.monotonic() + 180
    while len(list(go.parent.glob("*.ready*"))) < len(started):
        assert time.monotonic() < deadline, "the processes never got ready"
        assert all(p.poll() is None for p in started), [p.communicate() for p in started]
        time.sleep(0.02)


def _complete(out: Path) -> None:
    """Assert ``out`` is a whole run folder and nothing private was left beside it."""
    for name in ("hot_streets.csv", "rejected.csv", "areas.csv", "run.json", "map.html"):
        assert (out / name).is_file(), name
    assert list((out / "wards").glob("*.csv"))
    assert not [p.name for p in out.parent.glob(f".{out.name}.*")]  # no partial, no lock


def _holding(lock: Path, pid: int, proc: subprocess.Popen[str]) -> None:
    """Wait until process ``pid`` holds ``lock`` (its pid written in the lock file)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(lock.read_text())["pid"] == pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    pytest.fail(f"the first run never took the lock: {proc.communicate()}")


# one writer per folder ----------------------------------------------------------------------


@pytest.mark.e2e  # whole `hotspots run`s in subprocesses
def test_second_run_into_the_same_out_fails_at_once_naming_the_first(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    out = tmp_path / "run"
    args = tiny_args(tmp_path, out, "--min-crimes", "2", "--quiet")
    first, second = tmp_path / "go1", tmp_path / "go2"
    a, b = _start(args, first, started), _start(args, second, started)
    _ready(first, started)
    first.touch()
    _holding(runfolder.lock_path(out), a.pid, a)
    t0 = time.monotonic()
    second.touch()
    _, err_b = b.communicate(timeout=120)
    waited = time.monotonic() - t0
    assert b.returncode == 1
    line = err_b.strip()
    assert line.count("\n") == 0, err_b
    assert f"output folder {out} is being written by another run (pid {a.pid} on " in line
    assert " run --crimes " in line and "pass --wait" in line  # the other run's command
    assert a.poll() is None, "the lock test must end while the first run still writes"
    assert waited < 5, f"the second run took {waited:.1f} s to fail"
    assert a.wait(timeout=300) == 0, a.communicate()
    _complete(out)


@pytest.mark.e2e  # whole `hotspots run`s in subprocesses
def test_two_runs_started_together_one_wins_and_the_folder_is_whole(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    out = tmp_path / "run"
    args = tiny_args(tmp_path, out, "--min-crimes", "2", "--quiet")
    go = tmp_path / "go"
    procs = [_start(args, go, started), _start(args, go, started)]
    _ready(go, started)
    go.touch()  # both imported and polling: they start in the same instant
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    assert sorted(rc for rc, _ in results) == [0, 1], results
    loser = next(err for rc, err in results if rc == 1).strip()
    assert "is being written by another run" in loser or "exists already" in loser, loser
    _complete(out)


@pytest.mark.e2e  # whole `hotspots run`s in subprocesses
def test_wait_runs_one_after_the_other_and_needs_overwrite(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    out = tmp_path / "run"
    args = tiny_args(tmp_path, out, "--min-crimes", "2")
    go_a, go_b = tmp_path / "a", tmp_path / "b"
    a = _start([*args, "--quiet"], go_a, started)
    b_plain = _start([*args, "--wait"], go_b, started)
    b_over = _start([*args, "--wait", "--overwrite"], go_b, started)
    _ready(go_a, started)
    go_a.touch()
    _holding(runfolder.lock_path(out), a.pid, a)
    go_b.touch()
    assert a.wait(timeout=300) == 0, a.communicate()
    first = json.loads((out / "run.json").read_text())["created"]
    _, err_plain = b_plain.communicate(timeout=300)
    _, err_over = b_over.communicate(timeout=300)
    assert b_plain.returncode == 1 and "exists already" in err_plain.strip().splitlines()[-1]
    assert b_over.returncode == 0, err_over
    assert f"waiting for the run writing {out} (pid {a.pid} " in err_over
    assert json.loads((out / "run.json").read_text())["created"] >= first
    _complete(out)


def _lock_holder(out: Path, body: str = "    print('held', flush=True)\n") -> subprocess.Popen[str]:
    """Start a process that takes ``out``'s lock, runs ``body`` under it, then sleeps."""
    script = (
        "import os, sys, time\nfrom hotspots import runfolder\n"
        f"with runfolder.folder_lock(sys.argv[1]):\n{body}    time.sleep(600)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE, text=True
    )


def test_killed_holder_never_blocks(tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = _lock_holder(out)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with (
        pytest.raises(runfolder.OutputFolderBusyError, match=f"pid {holder.pid} on "),
        runfolder.folder_lock(out),
    ):
        pass
    holder.kill()
    holder.communicate()
    with runfolder.folder_lock(out) as lock:  # the kernel released the dead run's lock
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_killed_holder_never_blocks_while_its_fork_lives_on(tmp_path: Path) -> None:
    # the run's second processes are forks; one still working when the run is killed must
    # not keep the folder locked (an flock lock belongs to the open file a fork shares)
    out = tmp_path / "run"
    holder = _lock_holder(
        out,
        "    child = os.fork()\n"
        "    if child == 0:\n"  # the fork's first line: it runs once the fork is set up
        "        print('forked', flush=True)\n        os.close(1)\n"
        "        time.sleep(600)\n        os._exit(0)\n"
        "    print(child, flush=True)\n",
    )
    assert holder.stdout is not None
    lines = sorted(holder.stdout.readline().strip() for _ in range(2))
    assert lines[1] == "forked"
    fork = int(lines[0])
    try:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        os.kill(fork, 0)  # the fork is still alive
        with runfolder.folder_lock(out) as lock:
            assert json.loads(lock.read_text())["pid"] == os.getpid()
    finally:
        os.kill(fork, 9)


@pytest.fixture
def held(started: list[subprocess.Popen[str]]) -> Callable[[Path], int]:
    """Hold the lock of a folder in another process; return that process's id."""

    def hold(out: Path) -> int:
        proc = _lock_holder(out)
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc.pid

    return hold


@pytest.mark.parametrize("command", ["evaluate", "hot-streets"])
def test_every_writer_takes_the_lock(
    tmp_path: Path, held: Callable[[Path], int], command: str
) -> None:
    out = tmp_path / "out"
    pid = held(out)
    args = [
        command,
        "--crimes",
        str(tmp_path / "none.csv"),
        "--streets",
        str(tmp_path / "s.gpkg"),
        "--out",
        str(out),
        "--quiet",
    ]
    if command == "hot-streets":
        args += ["--areas", str(tmp_path / "a.gpkg")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1
    (line,) = res.output.strip().splitlines()
    assert f"output folder {out} is being written by another run (pid {pid} on " in line


@pytest.mark.parametrize("command", [["export"], ["brief", "--no-pdf"]])
def test_brief_and_export_take_the_run_folders_lock(
    colliding_run: Path, held: Callable[[Path], int], command: list[str]
) -> None:
    before = sorted(p.name for p in colliding_run.rglob("*"))
    pid = held(colliding_run)
    res = CliRunner().invoke(app, [command[0], str(colliding_run), *command[1:]])
    assert res.exit_code == 1
    (line,) = res.output.strip().splitlines()
    assert f"output folder {colliding_run} is being written by another run (pid {pid} " in line
    assert sorted(p.name for p in colliding_run.rglob("*")) == before


def test_lock_is_reentrant_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path)
    monkeypatch.chdir(tmp_path / "sub")
    with (
        runfolder.folder_lock(out),
        runfolder.folder_lock(Path("../run")),
        runfolder.staged_folder(tmp_path / "link" / "run") as tmp,
    ):  # one folder, three names
        (tmp / "x.txt").write_text("x")
    assert (out / "x.txt").read_text() == "x"
    assert not list(tmp_path.glob(".run.*"))


@pytest.mark.parametrize("theirs", [["theirs.txt"], []])
def test_staged_folder_never_replaces_a_folder_made_meanwhile(
    tmp_path: Path, theirs: list[str]
) -> None:
    out = tmp_path / "run"
    with (
        pytest.raises(OutputExistsError, match="made by another program"),
        runfolder.staged_folder(out) as tmp,
    ):
        (tmp / "mine.txt").write_text("mine")
        out.mkdir()  # an old version of the tool, or a person, without the lock
        for name in theirs:  # even an empty folder (a plain rename would replace it)
            (out / name).write_text("theirs")
    assert [p.name for p in out.iterdir()] == theirs
    assert not list(tmp_path.glob(".run.*"))


def test_staged_folder_overwrite_replaces_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with runfolder.staged_folder(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (out / "old.txt").exists()  # untouched until the new folder is complete
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert not list(tmp_path.glob(".run.*"))


def test_staged_files_keep_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "briefs"
    folder.mkdir(parents=True)
    (folder / "W1.html").write_text("old W1")
    (folder / "W2.html").write_text("old W2")
    with runfolder.staged_files(folder, lock=tmp_path / "run") as tmp:
        (tmp / "W1.html").write_text("new W1")
    assert (folder / "W1.html").read_text() == "new W1"
    assert (folder / "W2.html").read_text() == "old W2"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["briefs"]


# --out checked before reading ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_unwritable_out_fails_before_any_input_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    def no_reading(*args: object, **kwargs: object) -> None:
        msg = "input was read"
        raise AssertionError(msg)

    monkeypatch.setattr(ranking, "read_crimes", no_reading)
    monkeypatch.setattr(ranking, "read_areas_beside", no_reading)
    blocker = tmp_path / "taken.txt"
    blocker.write_text("a file in the way")
    out = blocker if where == "file" else blocker / "run"
    args = [
        "run",
        "--crimes",
        str(tmp_path / "none.csv"),
        "--areas",
        str(tmp_path / "a.gpkg"),
        "--streets",
        str(tmp_path / "s.gpkg"),
        "--out",
        str(out),
        "--quiet",
    ]
    t0 = time.monotonic()
    res = CliRunner().invoke(app, args)
    assert time.monotonic() - t0 < 5
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "unexpected" not in lines[0], res.output
    assert f"{out}" in lines[0]
    assert ("is a file, not a folder" if where == "file" else "cannot") in lines[0]
    assert blocker.read_text() == "a file in the way"


@pytest.mark.parametrize("out", [".", ".."])
def test_out_must_name_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runfolder.OutputFolderError, match="must name a folder of its own"):
        runfolder.check_writable(Path(out), overwrite=True)


def test_unwritable_out_in_a_subprocess_exits_fast(tmp_path: Path) -> None:
    blocker = tmp_path / "taken.txt"
    blocker.write_text("x")
    args = [
        sys.executable,
        "-m",
        "hotspots.cli",
        "run",
        "--crimes",
        "/nonexistent/crimes",
        "--areas",
        "/nonexistent/a.gpkg",
        "--streets",
        "/nonexistent/s.gpkg",
        "--out",
        str(blocker / "run"),
    ]
    res = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("Error: cannot create the folder of --out"), res.stderr
    assert "nonexistent" not in res.stderr  # failed on --out, before looking at any input


# names and formulas -------------------------------------------------------------------------


def test_area_file_stem_distinct_and_stable() -> None:
    stems = [runfolder.area_file_stem(c) for c in COLLIDING_CODES]
    assert len({s.casefold() for s in stems}) == 3  # distinct on case-insensitive disks too
    assert all(s == safe_file_stem(s) for s in stems)
    assert runfolder.area_file_stem("E05000644") == "E05000644"  # ordinary codes keep names
    assert runfolder.area_file_stem("CBD") == "CBD"
    assert runfolder.area_file_stem("a/b") == runfolder.area_file_stem("a/b")


def test_type_columns_keep_distinct_types_apart() -> None:
    cols = type_columns([*COLLIDING_TYPES, "Burglary", "Anti-social behaviour"])
    assert len(set(cols.values())) == len(cols) == 5
    assert cols["Burglary"] == "n_burglary"
    assert cols["Anti-social behaviour"] == "n_anti_social_behaviour"


@pytest.fixture(scope="module")
def colliding_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collide")
    f = colliding_names(root / "in")
    out = root / "run"
    weights = root / "weights.csv"  # without, a warning (an error under pytest) for each type
    pd.DataFrame({"crime_type": COLLIDING_TYPES, "weight": [1, 2, 3]}).to_csv(weights, index=False)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "run",
            "--crimes",
            str(f["crimes"]),
            "--areas",
            str(f["areas"]),
            "--streets",
            str(f["streets"]),
            "--out",
            str(out),
            "--harm-weights",
            str(weights),
            "--min-crimes",
            "2",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["brief", str(out), "--no-pdf", "--quiet"])
    assert res.exit_code == 0, res.output
    return out


def test_colliding_codes_each_get_their_own_files(colliding_run: Path) -> None:
    out = colliding_run
    for code in COLLIDING_CODES:
        stem = runfolder.area_file_stem(code)
        table = pd.read_csv(out / "wards" / f"{stem}.csv", dtype={"area_code": str})
        assert set(table["area_code"]) == {code}
        assert (out / "maps" / f"{stem}.html").is_file()
        assert code in (out / "briefs" / f"{stem}.html").read_text(encoding="utf-8")
        (csv,) = (out / "exports").glob(f"{stem}_*.csv")
        assert f"({code})" in csv.read_text(encoding="utf-8-sig").splitlines()[0]
    assert len(list((out / "exports").glob("*.xlsx"))) == 3
    index = (out / "index.html").read_text(encoding="utf-8")
    for code in COLLIDING_CODES:
        assert f"wards/{runfolder.area_file_stem(code)}.csv" in index
        assert f"maps/{runfolder.area_file_stem(code)}.html" in index


def test_export_reads_lists_of_folders_written_before_the_hashed_names(
    colliding_run: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(colliding_run, old, ignore=shutil.ignore_patterns("exports", "briefs"))
    for code in ("a/b", "A_B"):  # as an older version named them: a_b.csv (A_B.csv unchanged)
        new = old / "wards" / f"{runfolder.area_file_stem(code)}.csv"
        new.rename(old / "wards" / f"{safe_file_stem(code)}.csv")
    (old / "wards" / f"{runfolder.area_file_stem('a_b')}.csv").unlink()  # a_b: no list
    res = CliRunner().invoke(app, ["export", str(old)])
    assert res.exit_code == 0, res.output
    heads = sorted(
        p.read_text(encoding="utf-8-sig").splitlines()[0] for p in (old / "exports").glob("*.csv")
    )
    assert [h.rsplit("(", 1)[1] for h in heads] == ["A_B)", "a/b)"]  # a_b not given A_B's list


def test_colliding_types_keep_their_columns_and_labels(colliding_run: Path) -> None:
    labels = json.loads((colliding_run / "run.json").read_text())["crime_type_columns"]
    assert sorted(labels.values()) == sorted(COLLIDING_TYPES)
    hot = pd.read_csv(colliding_run / "hot_streets.csv")
    assert set(labels) <= set(hot.columns)
    assert sorted(hot[list(labels)].sum().tolist()) == [6, 9, 9]  # none summed into another
    (xlsx,) = (colliding_run / "exports").glob(f"{runfolder.area_file_stem('a/b')}_*.xlsx")
    headings = [c.value for c in openpyxl.load_workbook(xlsx).active[7]]
    assert {"'=1+1", "'+1+1", '\'=HYPERLINK("http://x","y")'} <= set(headings)


def _formula_cells(path: Path) -> list[str]:
    table = pd.read_csv(path, dtype=str, keep_default_na=False, header=None)
    cells = table.to_numpy().ravel().tolist()
    return [
        c
        for c in cells
        if c.startswith(_FORMULA) and not pd.Series([c]).str.fullmatch(_NUMBER).iloc[0]
    ]


def test_no_csv_or_xlsx_cell_or_header_is_a_formula(colliding_run: Path) -> None:
    csvs = [p for p in colliding_run.rglob("*.csv") if "exports" not in p.parts]
    assert len(csvs) >= 10
    found = {p.name: _formula_cells(p) for p in csvs}
    assert not {k: v for k, v in found.items() if v}
    names = pd.read_csv(colliding_run / "areas.csv")["area_name"].tolist()
    assert sorted(names) == sorted(["'=cmd|' /C calc'!A0", "'@SUM(1)", "'-2+3"])
    for xlsx in (colliding_run / "exports").glob("*.xlsx"):
        ws = openpyxl.load_workbook(xlsx).active
        cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
        assert all(c.data_type != "f" for c in cells)
        texts = [str(c.value) for c in cells if c.data_type == "s"]
        assert not [t for t in texts if t.startswith(_FORMULA)]
    for csv in (colliding_run / "exports").glob("*.csv"):
        text = csv.read_text(encoding="utf-8-sig")
        assert "\n=" not in text and ",=" not in text and ",+" not in text and ",@" not in text


# warnings ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("always::UserWarning")
@pytest.mark.parametrize("quiet", [False, True])
def test_library_warnings_are_one_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    import warnings

    from hotspots.output import site

    def warn_then_fail(*args: object, **kwargs: object) -> None:
        warnings.warn("first line\n  second line of a library warning", UserWarning, stacklevel=1)
        msg = "stop here"
        raise RuntimeError(msg)

    monkeypatch.setattr(site, "write_maps", warn_then_fail)
    extra = ["--min-crimes", "2", *(["--quiet"] if quiet else [])]
    res = CliRunner().invoke(app, tiny_args(tmp_path, tmp_path / "run", *extra))
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if "library warning" in ln]
    if quiet:
        assert lines == []
    else:
        assert len(lines) == 1
        assert lines[0].startswith("warning (UserWarning, test_runfolder.py:")
        assert lines[0].endswith("): first line second line of a library warning")
    assert "warnings.warn(" not in res.output  # no source line


def test_read_manifest_is_the_one_reader_with_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"period": {"first_month": "2025-01"}}', encoding="utf-8")
    assert runfolder.read_manifest(tmp_path) == {"period": {"first_month": "2025-01"}}
    with pytest.raises(InputDataError, match=r"run\.json: no run manifest here") as missing:
        runfolder.read_manifest(tmp_path / "nowhere")
    (tmp_path / "run.json").write_text('{"period": ', encoding="utf-8")
    with pytest.raises(InputDataError, match=r"run\.json: not a valid run manifest") as broken:
        runfolder.read_manifest(tmp_path)
    (tmp_path / "run.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputDataError, match="a JSON object is expected"):
        runfolder.read_manifest(tmp_path)
    assert "\n" not in str(missing.value) and "\n" not in str(broken.value)
