"""``rejected.csv`` written in parts (one per crime file) equals the whole table's sort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hotspots.distributed_tasks import as_codes, file_rejects, rejected_part
from hotspots.output import export
from hotspots.output.rejected_csv import (
    STREET_LEVEL_COLUMNS,
    RejectedCsv,
    accounting,
    kept_per_file,
)
from hotspots.read.assemble import FileResult, _number_text
from hotspots.read.canonical import TEXT_DTYPE
from hotspots.read.schema import REJECTED_COLUMNS


def _rejected(seed: int = 0) -> pd.DataFrame:
    """Rejected rows of three files as a run holds them: each file's reader rows in file
    order, then the rows the join rejected (outside every area) of all files, by row."""
    rng = np.random.default_rng(seed)
    names = ["/d/b.csv", "/d/a.csv", "/d/c.csv"]  # files in an order that is not the names'
    frames = []
    for name in names:
        n = int(rng.integers(5, 40))
        rows = np.sort(rng.choice(1000, n, replace=False)) + 1
        frames.append(
            pd.DataFrame(
                {
                    "source_file": name,
                    "source_row": rows,
                    "reason": rng.choice(["no coordinates", "unparseable date"], n),
                    "crime_id": None,
                    "month": rng.choice(["2020-01", "2020-02", None], n),
                    "crime_type": rng.choice(["=HYPERLINK(1)", 'Theft, "from" car', "a\nb"], n),
                    "location": "on the street",
                    "raw_x": rng.choice(["0.0", "", "-12.5"], n),
                    "raw_y": "1.5",
                    "value": "x=0.0, y=1.5",
                }
            )
        )
    late = pd.concat([f.sample(3, random_state=seed) for f in frames], ignore_index=True)
    late = late.assign(source_row=late["source_row"] + 1000, reason="outside study area")
    late["raw_x"] = 491234.5  # the join's rows take their coordinates from x, y (numbers)
    whole = pd.concat([*frames, late], ignore_index=True).reindex(columns=REJECTED_COLUMNS)
    return whole.astype({"source_file": "category"})


def _old_csv(rejected: pd.DataFrame, path: Path, *, street_level_only: bool) -> bytes:
    """rejected.csv as the run folder's writer wrote it before the parts."""
    table = rejected.sort_values(["source_file", "source_row"], kind="stable")
    if street_level_only:
        table = table[STREET_LEVEL_COLUMNS]
    return export.write_csv(table, path).read_bytes()


@pytest.mark.parametrize("street_level_only", [False, True])
def test_parts_write_the_whole_tables_sort(tmp_path: Path, street_level_only: bool) -> None:
    rejected = _rejected()
    old = _old_csv(rejected, tmp_path / "old.csv", street_level_only=street_level_only)
    parts = RejectedCsv.of_frame(rejected, street_level_only=street_level_only)
    assert parts.write(tmp_path / "new.csv").read_bytes() == old
    assert parts.total == len(rejected)
    assert len(old.splitlines()) > len(rejected)  # a cell with a line break is quoted


def test_workers_parts_equal_the_local_ones(tmp_path: Path) -> None:
    """Each file's reader rows (sent as codes) and the join's rows, made into a part apart."""
    rejected = _rejected(1)
    late = rejected["reason"] == "outside study area"
    local = RejectedCsv.of_frame(rejected, street_level_only=False)
    workers = RejectedCsv(local.columns)
    for name in ["/d/b.csv", "/d/a.csv", "/d/c.csv"]:
        own = rejected[(rejected["source_file"] == name).to_numpy()]
        res = FileResult(
            len(own), own.iloc[:0], [as_codes(own[~late[own.index]], ["reason"])], None
        )
        part = rejected_part([file_rejects(res)], own[late[own.index]], street_level_only=False)
        workers.add(name, part, on_disk=True)
    assert workers.reasons == local.reasons
    new = workers.write(tmp_path / "new.csv").read_bytes()
    assert new == _old_csv(rejected, tmp_path / "old.csv", street_level_only=False)
    folder = workers.folder
    assert folder is not None and len(list(folder.iterdir())) == 3
    del workers
    assert not folder.exists()


def test_accounting_from_counts_equals_the_tables() -> None:
    rejected = _rejected(2)
    kept = pd.DataFrame({"source_file": pd.Categorical(["/d/a.csv"] * 4 + ["/d/e.csv"])})
    parts = RejectedCsv.of_frame(rejected, street_level_only=False)
    mine = accounting(kept_per_file(kept["source_file"]), parts.reasons)
    assert mine == export.accounting(kept, rejected.astype({"source_file": object}))
    assert set(mine) == {"/d/a.csv", "/d/b.csv", "/d/c.csv", "/d/e.csv"}


def test_no_rejected_row_writes_the_header(tmp_path: Path) -> None:
    empty = pd.DataFrame(columns=REJECTED_COLUMNS)
    parts = RejectedCsv.of_frame(empty, street_level_only=False)
    assert parts.write(tmp_path / "r.csv").read_bytes() == _old_csv(
        empty, tmp_path / "old.csv", street_level_only=False
    )
    assert parts.total == 0


def test_a_forked_copy_leaves_the_parts_folder(tmp_path: Path) -> None:
    """A forked copy of this process (the run's second process) leaves this one's parts."""
    import multiprocessing as mp

    parts = RejectedCsv.of_frame(_rejected(3), street_level_only=False)
    on_disk = RejectedCsv(parts.columns)
    for name, part in parts.parts.items():
        assert not isinstance(part, Path)
        on_disk.add(name, part, on_disk=True)
    folder = on_disk.folder
    assert folder is not None

    child = mp.get_context("fork").Process(target=on_disk.remove)
    child.start()
    child.join()
    assert child.exitcode == 0 and folder.is_dir()
    assert (
        on_disk.write(tmp_path / "r.csv").read_bytes()
        == parts.write(tmp_path / "p.csv").read_bytes()
    )


def test_coordinates_joined_as_text_are_written_as_the_numbers_were() -> None:
    """The coordinates of rows outside every area join the reader's text as text: the CSV
    holds what it held when they joined as numbers (Python objects), byte for byte."""
    numbers = pd.Series([491234.5678, -0.1278, 1e16, 0.1 + 0.2, np.nan, -0.0, 1e-7, np.inf, 5.0])
    read = pd.Series(pd.array(["0.0", "-0.12"], dtype=TEXT_DTYPE))
    as_objects = pd.DataFrame(
        {"raw_x": np.concatenate([read.to_numpy(dtype=object), numbers.to_numpy(dtype=object)])}
    )
    text = _number_text(numbers)
    assert text.dtype == TEXT_DTYPE and text.isna().tolist() == numbers.isna().tolist()
    as_text = pd.DataFrame({"raw_x": pd.concat([read, text], ignore_index=True)})
    written = [export.neutralise_formulas(t).to_csv(index=False) for t in (as_objects, as_text)]
    assert written[0] == written[1]
    assert written[1].splitlines()[4:6] == ["-0.1278", "1e+16"]
