"""The analyst notebooks in notebooks/: stored clean, and executed top to bottom on real data.

Each notebook has one cell tagged ``parameters`` (papermill-style). A test injects its own
values in a new cell right after it (as papermill does), executes the notebook with nbclient in
a Jupyter kernel running this interpreter, and writes every output under a pytest tmp folder.
The runs share one kernel, its names cleared before each run.
``monthly_run`` and ``explore_ward`` run on a small generated extract (tests/fixtures/
make_small.py), so they stay quick; ``data_quality`` runs on one month of the real London data.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbformat import NotebookNode

from hotspots.read.datasets import data_dir, get_path
from tests.fixtures.make_small import HOT_WARD, write_small

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_NAMES = ["monthly_run", "explore_ward", "data_quality"]
KERNEL = "python3"
CELL_TIMEOUT_S = 180

Execute = Callable[[str, dict[str, Any]], NotebookNode]


def _read(name: str) -> NotebookNode:
    nb: NotebookNode = nbformat.read(  # type: ignore[no-untyped-call]
        NOTEBOOKS / f"{name}.ipynb", as_version=4
    )
    return nb


def _parameters_index(nb: NotebookNode) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        msg = f"a notebook needs exactly one cell tagged `parameters`; found {len(tagged)}"
        raise ValueError(msg)
    return tagged[0]


def inject_parameters(nb: NotebookNode, params: dict[str, Any]) -> NotebookNode:
    """Insert a cell assigning ``params`` right after the ``parameters`` cell (papermill-style).

    Only names the parameters cell assigns may be injected, so a misspelt name fails here
    instead of being silently ignored.
    """
    index = _parameters_index(nb)
    tree = ast.parse(nb.cells[index].source)
    known = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    unknown = sorted(set(params) - known)
    if unknown:
        msg = f"parameters {unknown} are not in the notebook's parameters cell ({sorted(known)})"
        raise ValueError(msg)
    lines = ["# Injected parameters"] + [f"{k} = {v!r}" for k, v in params.items()]
    cell = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
        "\n".join(lines), id="injected-parameters"
    )
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def _stderr(nb: NotebookNode) -> str:
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    )


def _outputs_of(nb: NotebookNode, mime: str) -> str:
    return "".join(
        str(o.get("data", {}).get(mime, ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


@pytest.fixture(scope="module")
def kernel_name() -> str:
    """The Jupyter kernel that runs this interpreter (the venv's ipykernel)."""
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(
            f"no `{KERNEL}` Jupyter kernel: run `{sys.executable} -m ipykernel install "
            "--sys-prefix`"
        )
    exe = spec.argv[0]
    # jupyter_client starts "python" as sys.executable; any other path must be this interpreter
    if exe not in {"python", "python3"} and Path(exe).resolve() != Path(sys.executable).resolve():
        pytest.fail(
            f"the `{KERNEL}` kernel runs {exe}, not {sys.executable}: run "
            f"`{sys.executable} -m ipykernel install --sys-prefix`"
        )
    return KERNEL


@pytest.fixture(scope="module")
def kernel(
    kernel_name: str, data_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AsyncKernelManager]:
    """One Jupyter kernel for the module's notebook runs (starting one costs about 3 s of CPU).

    Each run starts by clearing the kernel's names (``%reset -f``, see :func:`execute`), so a
    notebook still has to import and define every name it uses; only the modules imported stay
    loaded from one run to the next.
    """
    starter = NotebookClient(
        nbformat.v4.new_notebook(),  # type: ignore[no-untyped-call]
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("kernel"))}},
    )
    km = starter.create_kernel_manager()
    assert isinstance(km, AsyncKernelManager)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOTSPOTS_DATA", str(data_root))  # the kernel's environment
        starter.start_new_kernel()
    yield km
    run_sync(km.shutdown_kernel)(now=True)


@pytest.fixture
def execute(kernel: AsyncKernelManager, tmp_path: Path) -> Execute:
    """Return a function that executes a notebook with parameters, in a tmp working folder.

    A first cell (not part of the notebook) clears the shared kernel's names and moves it to
    this test's working folder.
    """
    work = tmp_path / "work"
    work.mkdir()

    def _execute(name: str, params: dict[str, Any]) -> NotebookNode:
        nb = inject_parameters(_read(name), params)
        fresh = nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            f"%reset -f\n__import__('os').chdir({str(work)!r})", id="fresh-namespace"
        )
        nb.cells.insert(0, fresh)
        client = NotebookClient(nb, km=kernel, timeout=CELL_TIMEOUT_S)
        try:
            client.execute()
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
        assert "Warning" not in _stderr(nb), _stderr(nb)
        return nb

    return _execute


def _extract(months: list[str], folder: Path) -> Path:
    """Copy the London files of ``months`` into ``folder``: a new extract as an analyst gets it."""
    folder.mkdir(parents=True)
    for month in months:
        for path in get_path("london_crimes").glob(f"{month}-*"):
            shutil.copy(path, folder / path.name)
    return folder


def _london(crimes: Path, out: Path, start: str, end: str) -> dict[str, Any]:
    return {"crimes": str(crimes), "start": start, "end": end, "out": str(out)}


def _small(inputs: dict[str, Path], out: Path, start: str, end: str) -> dict[str, Any]:
    """Parameters for the generated extract ``inputs`` (written by ``write_small``)."""
    paths = {k: str(v) for k, v in inputs.items()}
    return paths | {"population": None, "start": start, "end": end, "out": str(out)}


def _check_run(run_dir: Path) -> None:
    """Check a run folder with the shared contract checker (or its core rules if absent)."""
    checker = data_dir().parent / "checks" / "check_run.py"
    if checker.is_file():
        done = subprocess.run(
            [sys.executable, str(checker), str(run_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0 and "adds up" in done.stdout, done.stdout + done.stderr
    else:
        for name in ("hot_streets.csv", "hot_streets.gpkg", "map.html", "run.json"):
            assert (run_dir / name).is_file(), name
        assert list((run_dir / "wards").glob("*.csv"))


# inputs


def test_inject_parameters_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"parameters \['strat'\] are not in"):
        inject_parameters(_read("monthly_run"), {"strat": "2017-01"})


def test_inject_parameters_puts_the_cell_after_the_parameters_cell() -> None:
    nb = inject_parameters(_read("monthly_run"), {"start": "2017-10"})
    index = _parameters_index(nb)
    assert nb.cells[index + 1].source.splitlines()[1:] == ["start = '2017-10'"]


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_is_stored_clean(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "strip outputs"
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    params = nb.cells[_parameters_index(nb)]
    assert all(isinstance(n, ast.Assign) for n in ast.parse(params.source).body)
    source = "\n".join(c.source for c in code)
    # no hard-coded absolute paths: defaults come from get_path and relative output folders
    assert not re.search(r"""["'](/|[A-Za-z]:\\)""", source)
    # they call the package, not copies of its code
    assert "import hotspots as hs" in source  # the public API (hotspots/__init__.py)
    assert not any(
        isinstance(n, ast.FunctionDef | ast.ClassDef)
        for c in code
        for n in ast.walk(ast.parse(c.source))
    )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


# outputs


@pytest.mark.e2e
def test_monthly_run_on_two_month_ranges(execute: Execute, tmp_path: Path) -> None:
    runs = {}
    small = write_small(tmp_path / "small")
    for start, end in [("2017-05", "2017-06"), ("2017-03", "2017-04")]:
        out = tmp_path / f"run_{start}_{end}"
        nb = execute("monthly_run", _small(small, out, start, end))
        _check_run(out)
        summary = (out / "summary.md").read_text(encoding="utf-8")
        assert summary.startswith(f"# Hot streets run: {start} to {end}\n")
        assert "## Top 10 hot streets" in summary
        assert summary in _outputs_of(nb, "text/markdown")
        assert list((out / "exports").glob("*.xlsx"))
        runs[start] = out
    assert (runs["2017-05"] / "run.json").read_text() != (runs["2017-03"] / "run.json").read_text()


@pytest.mark.e2e
def test_explore_ward_executes(execute: Execute, tmp_path: Path) -> None:
    out = tmp_path / "run"
    params = _small(write_small(tmp_path / "small"), out, "2017-01", "2017-06") | {"ward": HOT_WARD}
    nb = execute("explore_ward", params)
    assert "leaflet" in _outputs_of(nb, "text/html").lower()
    assert (out / "figures" / f"{HOT_WARD}_monthly.png").is_file()
    assert list((out / "exports").glob(f"{HOT_WARD}_*.csv"))


@pytest.mark.e2e
def test_data_quality_executes(execute: Execute, tmp_path: Path) -> None:
    extract = _extract(["2017-12"], tmp_path / "extract")
    out = tmp_path / "run"
    nb = execute("data_quality", _london(extract, out, "2017-12", "2017-12"))
    assert "adds_up" in _outputs_of(nb, "text/html")
    assert "snapped" in _outputs_of(nb, "text/plain") + "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
