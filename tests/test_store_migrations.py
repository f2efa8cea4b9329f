"""The store's schema moves by named migrations recorded in the store: old stores are upgraded, newer ones refused."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench.cli import cli
from sparsebench.contracts.errors import StoreError
from sparsebench.storage import migrations
from sparsebench.storage.store import ResultStore

#: the schema sparsebench 0.1.0 wrote (user_version 1, no record of migrations), as it shipped
OLD_SCHEMA = """
CREATE TABLE cells (cell_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, dataset TEXT NOT NULL, generator TEXT NOT NULL,
    classifier TEXT NOT NULL, level REAL NOT NULL, mode TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'error', 'skipped', 'timeout', 'unavailable')),
    reason TEXT NOT NULL DEFAULT '', config TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}', details TEXT NOT NULL DEFAULT '{}', env TEXT NOT NULL DEFAULT '{}',
    started_at REAL NOT NULL, finished_at REAL NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, started_at REAL NOT NULL, command TEXT NOT NULL, env TEXT NOT NULL);
"""


def old_store(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sparsebench.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(OLD_SCHEMA)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO cells (cell_id, run_id, dataset, generator, classifier, level, mode, seed, status, config, "
                 "metrics, started_at, finished_at) VALUES ('abcdef123456', 'r', 'toxic-mix[negatives=4000]', 'llm[strategy=few-shot]', "
                 "'logreg', 0.05, 'replace', 0, 'done', '{}', ?, 0, 1)", (json.dumps({"auroc": {"value": 0.7}}),))
    conn.close()
    return path


def test_a_new_store_records_every_migration_in_order(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        assert migrations.applied(store._conn) == ["cells_and_runs", "arrays", "component_names"]
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == migrations.VERSION == 3


def test_an_old_store_is_upgraded_when_a_run_opens_it_and_keeps_its_rows(tmp_path: Path) -> None:
    old_store(tmp_path)
    with ResultStore(tmp_path) as store:
        assert migrations.applied(store._conn) == [m.__name__ for m in migrations.MIGRATIONS]
        (row,) = store.rows()
    assert (row["dataset_name"], row["generator_name"], row["classifier_name"]) == ("toxic-mix", "llm", "logreg")
    assert row["metrics"]["auroc"]["value"] == 0.7 and row["generator"] == "llm[strategy=few-shot]"
    with ResultStore(tmp_path) as store:  # a second open applies nothing
        assert migrations.upgrade(store._conn) == []


def test_viewing_an_old_store_does_not_upgrade_it(tmp_path: Path) -> None:
    path = old_store(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"llm[strategy=few-shot]"' in result.output
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_store_with_a_migration_this_version_does_not_know_is_refused(tmp_path: Path) -> None:
    ResultStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "sparsebench.sqlite", isolation_level=None)
    conn.execute("INSERT INTO migrations (position, name, applied_at) VALUES (4, 'from_the_future', 0)")
    conn.close()
    with pytest.raises(StoreError, match="newer sparsebench .*'from_the_future'"):
        ResultStore(tmp_path)
    result = CliRunner().invoke(cli, ["run", "-g", "oversample", "-c", "logreg", "--results", str(tmp_path)])
    assert result.exit_code != 0 and "newer sparsebench" in result.output and "Traceback" not in result.output
