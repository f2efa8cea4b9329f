"""Shared pieces of the reliability tests: the fault plugin as an installed distribution, a small
real dataset as a CSV file, and checks of the results store and the generation cache."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sparsebench.storage.atomic import read_json_verified
from sparsebench.storage.store import JSON_COLUMNS, STATUSES, STORE_NAME

TESTS = Path(__file__).resolve().parents[1]
DIST = "sparsebench_faults-0.1.dist-info"

# What a leaderboard row must reproduce exactly; timings, run ids and timestamps are left out.
COMPARED = (
    "dataset",
    "generator",
    "classifier",
    "level",
    "mode",
    "seed",
    "status",
    "reason",
    "auprc",
    "auprc_low",
    "auprc_high",
    "auroc",
    "f1@val",
    "f1@val_low",
    "f1@val_high",
    "precision@val",
    "recall@val",
    "test_positives",
    "test_rows",
    "train_size",
    "synthetic",
    "acceptance_rate",
)


def install_fault_plugin(site: Path) -> Path:
    """A distribution ``sparsebench-faults`` under ``site`` whose ``sparsebench`` entry point is ``faults.plugin``.

    Put ``site`` and the tests directory on ``sys.path`` (or ``PYTHONPATH``) and plugin discovery finds it
    the way it finds any installed plugin.
    """
    info = site / DIST
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sparsebench-faults\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[sparsebench]\nfaults = faults.plugin\n", encoding="utf-8")
    return site


def subprocess_env(site: Path, **extra: str) -> dict[str, str]:
    """The environment for a ``bench`` subprocess that sees the fault plugin."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["SPARSEBENCH_PLUGINS"] = "sparsebench-faults"  # the tests' own fake distribution, nothing else installed
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def write_toxic_csv(path: Path, data_dir: Path, negatives: int = 1500, positives: int = 300) -> Path:
    """A CSV (text,label) of ``toxic-mix`` rows: a real dataset that loads in milliseconds."""
    if path.exists():
        return path
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(recipe="study", negatives=negatives, positives=positives, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(data.texts, (int(x) for x in data.labels)))
    tmp.replace(path)
    return path


# --- fixtures (import them into a test module to use them) -----------------------------------------


@pytest.fixture(scope="module")
def fault_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the fault plugin's distribution metadata."""
    return install_fault_plugin(tmp_path_factory.mktemp("site"))


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch, fault_site: Path) -> Path:
    """The fault plugin visible to plugin discovery in this process."""
    monkeypatch.syspath_prepend(str(fault_site))
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", "sparsebench-faults")
    return fault_site


@pytest.fixture(scope="module")
def toxic_csv(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """1,800 real rows of toxic-mix (300 toxic) as a CSV, shared by the whole session."""
    return write_toxic_csv(tmp_path_factory.getbasetemp() / "faults-data" / "toxic-mix-1800.csv", data_dir)


# --- the store -------------------------------------------------------------------------------------


def raw_rows(results: Path) -> list[dict[str, Any]]:
    """Every row of both tables, read with plain sqlite3 (not through the code under test)."""
    path = results / STORE_NAME
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:  # read-write: a read-only connection would leave -wal/-shm files behind
        conn.row_factory = sqlite3.Row
        cells = [dict(r) for r in conn.execute("SELECT * FROM cells ORDER BY cell_id")]
        runs = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY run_id")]
    conn.close()
    return cells + runs


def snapshot(results: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The store's rows and the SHA-256 of every file in the results directory (cache included)."""
    digests = {}
    if results.exists():
        for path in sorted(results.rglob("*")):
            if path.is_file() and not path.name.endswith(("-wal", "-shm")):  # SQLite's transient WAL files
                digests[str(path.relative_to(results))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return raw_rows(results), digests


def check_store(results: Path, planned: set[str] | None = None) -> dict[str, str]:
    """Integrity of the store: SQLite's own check, no partial rows, each cell once. Returns statuses."""
    path = results / STORE_NAME
    with sqlite3.connect(path, timeout=60) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in conn.execute("SELECT cell_id FROM cells")]
        assert len(ids) == len(set(ids)), "a cell is stored twice"
        columns = ["cell_id", "status", "reason", *JSON_COLUMNS]
        statuses = {}
        for values in conn.execute(f"SELECT {', '.join(columns)} FROM cells"):
            row = dict(zip(columns, values))
            _check_row(row)
            statuses[row["cell_id"]] = row["status"]
    conn.close()
    if planned is not None:
        assert set(statuses) <= planned, f"unplanned cells in the store: {set(statuses) - planned}"
    return statuses


def _check_row(row: dict[str, Any]) -> None:
    assert row["status"] in STATUSES
    decoded = {key: json.loads(row[key]) for key in JSON_COLUMNS}
    assert decoded["config"], f"cell {row['cell_id']} has no configuration"
    if row["status"] == "done":
        assert {"auprc", "auroc", "f1@val"} <= set(decoded["metrics"]), f"done cell {row['cell_id']} lacks metrics"
        assert decoded["timings"].get("cell_s") is not None
    else:
        assert row["reason"], f"{row['status']} cell {row['cell_id']} has no reason"


def check_cache(results: Path) -> dict[str, int]:
    """Every cache entry verifies and sits under its own key; temporary files of killed writers are counted."""
    counts = {"entries": 0, "temporary": 0}
    root = results / "cache"
    if not root.exists():
        return counts
    for path in root.rglob("*"):
        if path.is_dir():
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            counts["temporary"] += 1
            continue
        payload = read_json_verified(path)
        assert payload is not None, f"damaged cache entry {path}"
        assert payload["key"] == path.stem, f"cache entry {path} holds key {payload['key']}"
        counts["entries"] += 1
    return counts


def leaderboard(results: Path) -> dict[str, dict[str, Any]]:
    """The leaderboard as ``bench leaderboard --format json`` writes it, keyed by cell, compared columns only."""
    from click.testing import CliRunner

    from sparsebench.cli import cli

    out = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--format", "json"])
    assert out.exit_code == 0, out.output
    return {r["cell"]: {k: r.get(k) for k in COMPARED} for r in json.loads(out.stdout)}


def one_cell(data: Path | str, results: Path, *extra: str, quiet: bool = True) -> list[str]:
    """``bench run`` arguments for one small cell: oversample × logreg at 5 % on a CSV file."""
    return ["run", "-d", f"file[path={data}]", "-g", "oversample", "-c", "logreg", "-s", "5%", "--bootstrap", "10", "--seeds", "0",
            "--results", str(results), *(["-q"] if quiet else []), *extra]


@pytest.fixture(scope="module", name="template")
def one_cell_template(tmp_path_factory: pytest.TempPathFactory, toxic_csv: Path) -> Path:
    """A results directory holding one finished cell (computed once per module)."""
    from click.testing import CliRunner

    from sparsebench.cli import cli

    results = tmp_path_factory.mktemp("template") / "results"
    out = CliRunner().invoke(cli, one_cell(toxic_csv, results))
    assert out.exit_code == 0, out.output
    return results


@pytest.fixture(name="results")
def one_cell_results(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the one-cell results directory for a test to damage."""
    import shutil

    copy = tmp_path / "results"
    shutil.copytree(template, copy)
    return copy
