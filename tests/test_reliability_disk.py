"""Stores that are hard to break: read-only stores can be viewed, a full disk stops the run with one
line and loses nothing, and a file that is not a sparsebench store is refused without a trace left."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults.helpers import write_toxic_csv

from sparsebench.cli import cli
from sparsebench.storage.store import STORE_NAME, ResultStore


@pytest.fixture(scope="module")
def toxic(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    return write_toxic_csv(tmp_path_factory.getbasetemp() / "disk-data" / "toxic.csv", data_dir)


def run_args(toxic: Path, results: Path, *levels: str) -> list[str]:
    spec = f"file[path={toxic}]"
    return ["run", "-d", spec, "-g", "oversample", "-c", "logreg", *(a for lv in levels for a in ("-s", lv)), "--bootstrap", "10", "-q",
            "--results", str(results)]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output  # stdout and stderr, interleaved


def side_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.endswith(("-wal", "-shm", "-journal"))}


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` made unwritable: a read-only bind mount as root (root ignores modes), else chmod."""
    if os.geteuid() != 0:
        os.chmod(directory / STORE_NAME, 0o444)
        os.chmod(directory, 0o555)
        try:
            yield
        finally:
            os.chmod(directory, 0o755)
            os.chmod(directory / STORE_NAME, 0o644)
        return
    if shutil.which("mount") is None or subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True).returncode:
        pytest.skip("cannot make a read-only directory here (root without mount)")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True, capture_output=True)


def test_a_read_only_store_can_be_viewed(toxic: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, out = invoke(*run_args(toxic, results, "5%"))
    assert code == 0, out
    with ResultStore(results, create=False) as store:
        cell_id = store.rows()[0]["cell_id"]
    before = (results / STORE_NAME).read_bytes()
    with read_only(results):
        assert not os.access(results, os.W_OK)
        code, board = invoke("leaderboard", "--results", str(results))
        assert code == 0, board
        assert "oversample" in board and "logreg" in board
        code, shown = invoke("show", cell_id[:8], "--results", str(results))
        assert code == 0 and cell_id in shown
        code, written = invoke(*run_args(toxic, results, "1%"))  # a run must write: one clear line, no crash
        assert code == 1 and written.startswith(f"Error: cannot write to the results directory {results}"), written
    assert (results / STORE_NAME).read_bytes() == before
    assert side_files(results) == set()


def test_a_full_store_stops_the_run_with_one_line_and_keeps_every_row(toxic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    code, out = invoke(*run_args(toxic, results, "5%"))
    assert code == 0, out
    with ResultStore(results, create=False) as store:
        kept = store.rows()
    original = sqlite3.connect

    def capped(*args, **kwargs):  # SQLite's own SQLITE_FULL: the store may not grow by a single page
        conn = original(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", capped)
    code, out = invoke(*run_args(toxic, results, "5%", "1%", "2%"))
    monkeypatch.undo()
    assert code == 1, out
    line = out.strip()
    assert "\n" not in line and "Internal error" not in line
    assert line.startswith(f"Error: the disk holding {results} is full: 0 cells finished in this run and are stored")
    assert "every row stored before is intact" in line and "run the same command again to resume" in line
    with ResultStore(results, create=False) as store:
        assert store.integrity_check() == "ok"
        assert [r["cell_id"] for r in store.rows()] == [r["cell_id"] for r in kept]
    code, out = invoke(*run_args(toxic, results, "5%", "1%", "2%"))
    assert code == 0 and "computed 2, reused 1" in out, out


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (root only): a real full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_disk_keeps_what_was_stored_and_resumes(toxic: Path, tiny_disk: Path) -> None:
    results = tiny_disk / "results"
    code, out = invoke(*run_args(toxic, results, "5%"))
    assert code == 0, out
    filler = tiny_disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:  # fill the disk to the last byte
        while True:
            handle.write(b"\0" * 4096)
    code, out = invoke(*run_args(toxic, results, "5%", "1%", "2%", "10%"))
    assert code == 1 and out.strip().startswith(f"Error: the disk holding {results} is full: "), out
    assert "\n" not in out.strip() and "resume" in out
    filler.unlink()
    code, out = invoke(*run_args(toxic, results, "5%", "1%", "2%", "10%"))
    assert code == 0 and "4 cells (4 done)" in out, out
    with ResultStore(results, create=False) as store:
        assert store.integrity_check() == "ok" and len(store.rows()) == 4


@pytest.mark.parametrize("kind", ["foreign", "no tables", "empty file"])
def test_a_file_that_is_not_a_sparsebench_store_is_refused_without_a_trace(toxic: Path, tmp_path: Path, kind: str) -> None:
    results = tmp_path / "results"
    results.mkdir()
    path = results / STORE_NAME
    if kind == "empty file":
        path.write_bytes(b"")
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE notes (body TEXT)" if kind == "foreign" else "PRAGMA user_version = 0")
        conn.execute("VACUUM")
        conn.commit()
        conn.close()
    before = path.read_bytes()
    for args in (run_args(toxic, results, "5%"), ["leaderboard", "--results", str(results)]):
        code, out = invoke(*args)
        assert code == 1 and out.count("\n") == 1 and out.startswith("Error: "), out
        expected = {"foreign": "not a sparsebench results store (its tables: notes)", "no tables": "not a database",
                    "empty file": "is an empty file, not a results store"}[kind]
        assert expected in out or (kind == "no tables" and "has no tables" in out), out
        assert path.read_bytes() == before
        assert {p.name for p in results.iterdir()} == {STORE_NAME}


def test_bench_cache_lists_prunes_and_clears(toxic: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, out = invoke(*run_args(toxic, results, "5%"))
    assert code == 0, out
    stale = results / "cache" / "ab" / ("ab" + "0" * 62 + ".json")  # an entry no stored cell uses (an older version's)
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text('{"digest": "x", "payload": {}}', encoding="utf-8")
    (stale.parent / f".{stale.name}.1234.tmp").write_text("half", encoding="utf-8")
    code, listing = invoke("cache", "--results", str(results))
    assert code == 0 and "oversample" in listing and "1 temporary files" in listing, listing
    used = int(listing.split("oversample", 1)[1].split("entries")[0])
    assert used >= 1 and f"{used} in use" in listing
    code, pruned = invoke("cache", "prune", "--results", str(results))
    assert code == 0 and "removed 1 unused entries and 1 temporary files" in pruned and f"kept {used} in use" in pruned, pruned
    assert not stale.exists()
    code, out = invoke(*run_args(toxic, results, "5%"), "--force")  # the kept entries are the ones the cell needs
    assert code == 0, out
    with ResultStore(results, create=False) as store:
        assert store.rows()[0]["details"]["generation"]["cached_chunks"] == used
    code, cleared = invoke("cache", "clear", "--yes", "--results", str(results))
    assert code == 0 and f"removed {used} entries" in cleared
    assert not list((results / "cache").glob("*/*.json"))
