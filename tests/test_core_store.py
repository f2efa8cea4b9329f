"""The SQLite results store: idempotent writes keyed by cell, the done-row guard, lookups."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from sparsebench.contracts.errors import StoreError, UsageError
from sparsebench.storage.store import CellRow, ResultStore


def row(cell_id: str, status: str = "done", auprc: float = 0.5) -> CellRow:
    now = time.time()
    return CellRow(
        cell_id=cell_id, run_id="r1", dataset="d", generator="g", classifier="c", level=0.01, mode="replace", seed=0,
        status=status, reason="" if status == "done" else "why", config={"k": cell_id}, started_at=now, finished_at=now,
        metrics={"auprc": {"value": auprc, "low": auprc - 0.1, "high": auprc + 0.1}}, timings={"train_s": 1.5},
    )


def test_round_trip_and_wal(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.write(row("aaaa0001"))
        (stored,) = store.rows()
        assert stored["metrics"]["auprc"]["value"] == 0.5 and stored["config"] == {"k": "aaaa0001"}
        assert store.statuses(["aaaa0001", "missing"]) == {"aaaa0001": "done"}
        assert store.integrity_check() == "ok"
    mode = sqlite3.connect(tmp_path / "sparsebench.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_writes_are_idempotent_and_done_rows_win(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.write(row("aaaa0001", "error"))
        store.write(row("aaaa0001", "done", 0.4))
        assert store.write(row("aaaa0001", "error")) is False  # a later failure never hides a finished result
        store.write(row("aaaa0001", "done", 0.6))
        (stored,) = store.rows()
        assert (stored["status"], stored["metrics"]["auprc"]["value"]) == ("done", 0.6)
        store.write(row("aaaa0001", "timeout"), force=True)
        assert store.rows()[0]["status"] == "timeout"
        assert len(store.rows()) == 1


def test_find_by_prefix(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        store.write(row("abcd1111"))
        store.write(row("abcd2222"))
        assert store.find("abcd1")["cell_id"] == "abcd1111"
        with pytest.raises(UsageError, match="ambiguous"):
            store.find("abcd")
        with pytest.raises(UsageError, match="no cell"):
            store.find("ffff")
        with pytest.raises(UsageError, match="not a cell id"):
            store.find("../x")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    ResultStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "sparsebench.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer sparsebench"):
        ResultStore(tmp_path)


def test_opening_for_reading_does_not_create(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no results"):
        ResultStore(tmp_path / "none", create=False)
    assert not (tmp_path / "none").exists()
