"""The generation cache and the results store under damage: nothing damaged is ever served, nothing
finished is ever lost, and an interrupted generation resumes to exactly the same texts."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from faults import helpers
from faults.plugin import SlowGenerator

from sparsebench.cli import cli
from sparsebench.contracts.components import DataContext, GeneratedBatch, GenerationRequest
from sparsebench.engine.generation import generate
from sparsebench.plugins.datasets.files import FileDataset
from sparsebench.protocol.sparsity import Protocol, Splits, make_splits
from sparsebench.storage.cache import Chunk, GenerationCache, chunk_key
from sparsebench.storage.sqlitefile import DiskFull
from sparsebench.storage.store import STORE_NAME, CellRow, ResultStore

toxic_csv = helpers.toxic_csv  # shared fixture

KEY = chunk_key({"generator": "g", "chunk": 0})
OTHER = chunk_key({"generator": "g", "chunk": 1})


def _cache(tmp_path: Path) -> GenerationCache:
    cache = GenerationCache(tmp_path / "cache")
    cache.put(KEY, Chunk(texts=["first text", "second text"], seconds=1.5, raw=2), {"chunk": 0})
    return cache


def test_a_truncated_entry_is_removed_not_served(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    path = cache._path(KEY)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert cache.get(KEY) is None and cache.damaged == 1 and not path.exists()


def test_an_edited_entry_fails_its_digest(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    path = cache._path(KEY)
    path.write_text(path.read_text(encoding="utf-8").replace("second text", "secund text"), encoding="utf-8")
    assert cache.get(KEY) is None and cache.damaged == 1


def test_an_entry_under_another_key_is_refused(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache._path(OTHER).parent.mkdir(parents=True, exist_ok=True)
    cache._path(OTHER).write_bytes(cache._path(KEY).read_bytes())
    assert cache.get(OTHER) is None and cache.get(KEY) is not None


def test_a_failed_write_keeps_the_old_entry_and_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(tmp_path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(DiskFull, match=f"the disk holding {tmp_path} is full"):  # the run stops with this line
        cache.put(KEY, Chunk(texts=["replacement"], seconds=0.1), {"chunk": 0})
    monkeypatch.undo()
    entry = cache.get(KEY)
    assert entry is not None and entry.texts == ["first text", "second text"]
    assert [p.name for p in cache._path(KEY).parent.iterdir()] == [cache._path(KEY).name]


def test_a_temporary_file_of_a_killed_writer_is_ignored(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    stale = cache._path(OTHER).parent / f".{OTHER}.json.x1y2.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text('{"digest": "', encoding="utf-8")  # what a SIGKILL mid-write leaves
    assert cache.get(OTHER) is None and cache.damaged == 0


def test_concurrent_writers_of_one_chunk_never_expose_a_partial_entry(tmp_path: Path) -> None:
    """Two processes generating the same chunk write the same key at once; readers see a whole entry or none."""
    import threading

    cache = GenerationCache(tmp_path / "cache")
    seen: list[object] = []

    def write(n: int) -> None:
        for i in range(30):
            cache.put(KEY, Chunk(texts=[f"writer {n} text {j}" for j in range(200)], seconds=float(i)), {"chunk": 0})

    def read() -> None:
        for _ in range(300):
            entry = cache.get(KEY)
            seen.append(entry if entry is None else len(entry.texts))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.damaged == 0 and set(seen) <= {None, 200}
    assert [p.name for p in cache._path(KEY).parent.iterdir()] == [cache._path(KEY).name]


# --- generation resumes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits(toxic_csv: Path) -> Splits:
    params = {p.name: p.default for p in FileDataset.parameters}
    data = FileDataset(**{**params, "path": str(toxic_csv)}).load(DataContext(toxic_csv.parent))
    return make_splits(data, Protocol(), seed=0)


class CrashingGenerator(SlowGenerator):
    """``fault-slow`` that dies after ``batches`` batches (same name and parameters, so the same cache keys)."""

    batches: ClassVar[int] = 9
    done = 0

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        for batch in super().generate(request):  # called once per chunk
            if self.done == self.batches:
                raise RuntimeError("killed mid-generation")
            self.done += 1
            yield batch


def test_an_interrupted_generation_resumes_to_the_same_texts(tmp_path: Path, splits: Splits) -> None:
    full = generate(SlowGenerator(delay=0.0), splits, 40, 7, "cpu", GenerationCache(tmp_path / "one-go"), 8)
    cache = GenerationCache(tmp_path / "resumed")
    with pytest.raises(RuntimeError, match="killed mid-generation"):
        generate(CrashingGenerator(delay=0.0), splits, 40, 7, "cpu", cache, 8)
    assert len(list(cache.root.rglob("*.json"))) == 2  # 9 batches of 2 texts: two whole chunks of 8
    resumed = generate(SlowGenerator(delay=0.0), splits, 40, 7, "cpu", cache, 8)
    assert resumed.texts == full.texts and len(set(full.texts)) == 40
    assert (resumed.cached_chunks, resumed.chunks) == (2, 5)


# --- the store -------------------------------------------------------------------------------------


def _row(cell: str, status: str, run: str = "r1") -> CellRow:
    metrics = {k: {"value": 0.5} for k in ("auprc", "auroc", "f1@val")} if status == "done" else {}
    reason = "" if status == "done" else "boom"
    return CellRow(
        cell, run, "d", "g", "c", 0.05, "replace", 0, status, reason, {"x": 1}, 1.0, 2.0, metrics=metrics, timings={"cell_s": 1.0}
    )


def test_writes_are_idempotent_and_a_done_row_wins(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        assert store.write(_row("aaaa0001", "done"))
        assert store.write(_row("aaaa0001", "done", run="r2"))  # the same cell again: still one row
        assert not store.write(_row("aaaa0001", "error", run="r3"))  # a late failure never replaces a result
        assert store.statuses(["aaaa0001"]) == {"aaaa0001": "done"} and len(store.rows()) == 1
        assert store.write(_row("aaaa0001", "error", run="r4"), force=True)
        assert store.rows()[0]["run_id"] == "r4"
    assert helpers.check_store(tmp_path) == {"aaaa0001": "error"}


def test_a_file_that_is_not_a_store_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / STORE_NAME).write_bytes(b"this is not a database" * 100)
    out = CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path)])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert out.stderr.startswith(f"Error: cannot open the results store {tmp_path / STORE_NAME}: file is not a database")


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    ResultStore(tmp_path).close()
    with sqlite3.connect(tmp_path / STORE_NAME) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    out = CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path)])
    assert out.exit_code == 1 and "written by a newer sparsebench (schema 99)" in out.stderr


def test_show_and_leaderboard_read_without_writing(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.write(_row("abcd0001", "done"))
    before = helpers.snapshot(tmp_path)
    assert CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path), "--format", "json"]).exit_code == 0
    assert json.loads(CliRunner().invoke(cli, ["show", "abcd", "--results", str(tmp_path), "--json"]).stdout)["status"] == "done"
    assert helpers.snapshot(tmp_path) == before
