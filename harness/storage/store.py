"""The results store: one SQLite row per grid cell, written the moment the cell finishes.

SQLite in WAL mode with a busy timeout, so several ``bench run`` processes can share one store.
Writes are idempotent, keyed by the cell id (a hash of the cell's full configuration); a finished
(``done``) row is only replaced by another ``done`` row, unless the run was forced.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from sparsebench.contracts import enums as schema
from sparsebench.contracts.enums import Status
from sparsebench.contracts.errors import StoreError, UsageError
from sparsebench.storage import migrations
from sparsebench.storage import sqlitefile as storefile

SCHEMA_VERSION = migrations.VERSION
STORE_NAME = "sparsebench.sqlite"
STATUSES = tuple(sorted(Status))  # the SQL CHECK below spells the same, sorted (tests/test_schema.py)
#: statuses a run reuses; ``error``, ``timeout`` and ``unavailable`` cells are retried
FINAL_STATUSES = schema.FINAL_STATUSES
JSON_COLUMNS = ("config", "metrics", "timings", "details", "env")

_ARRAY_DTYPES = ("<f4", "<f8", "|i1")


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """SQLite's "database disk image is malformed", met anywhere in ``method``, becomes :class:`storefile.Damaged`."""

    @wraps(method)
    def call(self: ResultStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if storefile.is_damaged(exc):
                raise storefile.Damaged(self.path) from None
            raise

    return cast(_F, call)


@dataclass
class CellRow:
    """Everything stored for one cell."""

    cell_id: str
    run_id: str
    dataset: str
    generator: str
    classifier: str
    level: float
    mode: str
    seed: int
    status: str
    reason: str
    config: dict[str, Any]
    started_at: float
    finished_at: float
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    #: each component's bare name beside its label (``logreg`` for ``logreg[C=4]``)
    dataset_name: str = ""
    generator_name: str = ""
    classifier_name: str = ""
    #: named 1-d arrays stored beside the row (see :meth:`ResultStore.arrays`); not a column
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "arrays"}


class ResultStore:
    """Open (and create) the store under ``directory``.

    ``create=False`` opens an existing store read-only, for viewing: it never writes, so it works on
    a read-only directory or file (see :mod:`sparsebench.storage.sqlitefile`).
    """

    def __init__(self, directory: Path, create: bool = True) -> None:
        self.path = directory / STORE_NAME
        self.readonly = not create
        if not create and not self.path.exists():
            raise UsageError(f"no results in {directory} yet (no {STORE_NAME}); run `bench run --all` first, or pass --results DIR")
        try:
            if create:
                _check_directory(directory)
                directory.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    storefile.create(self.path, migrations.upgrade)
            storefile.inspect(self.path, SCHEMA_VERSION)
            if create:
                storefile.check_writable(self.path)
            self._conn = storefile.connect(self.path, readonly=self.readonly)
            if not self.readonly:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._abandon()
            if storefile.is_damaged(exc):
                raise storefile.Damaged(self.path) from None
            raise storefile.full_or(StoreError(f"cannot open the results store {self.path}: {exc}"), directory) from None
        except StoreError:
            self._abandon()
            raise
        except OSError as exc:
            self._abandon()
            if storefile.is_full(exc) or storefile.no_space(directory):
                raise storefile.DiskFull(directory) from None
            raise StoreError(f"cannot create the results directory {directory}: {exc.strerror}") from None

    def _abandon(self) -> None:
        """Close a connection opened before the store was refused: SQLite then removes the -wal/-shm it made."""
        conn = self.__dict__.pop("_conn", None)
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer sparsebench (schema {version}); upgrade sparsebench to read it")
        newer = migrations.unknown(self._conn)
        if newer:
            raise StoreError(f"{self.path} was written by a newer sparsebench (migration {newer[0]!r}); upgrade sparsebench to read it")
        if migrations.applied(self._conn) != [m.__name__ for m in migrations.MIGRATIONS]:
            migrations.upgrade(self._conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a full disk becomes :class:`~sparsebench.storage.sqlitefile.DiskFull` (nothing half-written)."""
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only, for viewing")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if storefile.is_full(exc) or storefile.no_space(self.path.parent):
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise storefile.DiskFull(self.path.parent) from None
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------------

    @_guarded
    def start_run(self, run_id: str, command: str, env: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, started_at, command, env) VALUES (?, ?, ?, ?)",
                (run_id, time.time(), command, json.dumps(env)),
            )

    @_guarded
    def write(self, row: CellRow, force: bool = False) -> bool:
        """Store ``row``; returns False when a ``done`` row was kept instead (another process won)."""
        if row.status not in STATUSES:
            raise ValueError(f"unknown status {row.status!r}")
        values = row.as_dict()
        for kind in ("dataset", "generator", "classifier"):  # rows built by hand (tests, older code) name their components too
            values[f"{kind}_name"] = values[f"{kind}_name"] or values[kind].split("[", 1)[0]
        for key in JSON_COLUMNS:
            values[key] = json.dumps(values[key], allow_nan=True, default=str)
        columns = list(values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "cell_id")
        guard = "" if force else " WHERE cells.status != 'done' OR excluded.status = 'done'"
        # Column names are ours and every value is a placeholder.
        sql = (
            f"INSERT INTO cells ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "  # noqa: S608
            f"ON CONFLICT(cell_id) DO UPDATE SET {updates}{guard}"
        )
        with self.transaction() as conn:
            cursor = conn.execute(sql, [values[c] for c in columns])
            written = cursor.rowcount > 0
            if written:  # the arrays always belong to the row stored, never to an older computation
                conn.execute("DELETE FROM arrays WHERE cell_id = ?", (row.cell_id,))
                conn.executemany("INSERT INTO arrays (cell_id, name, dtype, data) VALUES (?, ?, ?, ?)", _encode_arrays(row))
        return written

    # --- reading ---------------------------------------------------------------------------------

    @_guarded
    def statuses(self, cell_ids: Iterable[str]) -> dict[str, str]:
        ids = list(cell_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            sql = f"SELECT cell_id, status FROM cells WHERE cell_id IN ({', '.join('?' * len(part))})"  # noqa: S608 - only placeholders
            found.update(dict(self._conn.execute(sql, part).fetchall()))
        return found

    @_guarded
    def rows(self, cell_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored rows (all, or those of ``cell_ids``) with JSON columns decoded."""
        self._conn.row_factory = sqlite3.Row
        try:
            if cell_ids is None:
                fetched = self._conn.execute("SELECT * FROM cells ORDER BY finished_at").fetchall()
            else:
                ids = list(cell_ids)
                fetched = []
                for start in range(0, len(ids), 500):
                    part = ids[start : start + 500]
                    sql = f"SELECT * FROM cells WHERE cell_id IN ({', '.join('?' * len(part))}) ORDER BY finished_at"  # noqa: S608 - only placeholders
                    fetched += self._conn.execute(sql, part).fetchall()
        finally:
            self._conn.row_factory = None
        return [_decode(dict(row)) for row in fetched]

    @_guarded
    def positions(self) -> list[dict[str, Any]]:
        """Every stored row's id, grid position, status and configuration, newest first."""
        sql = "SELECT cell_id, dataset, generator, classifier, level, mode, seed, status, config FROM cells ORDER BY finished_at DESC"
        found = []
        for cell_id, dataset, generator, classifier, level, mode, seed, status, config in self._conn.execute(sql):
            try:
                decoded = json.loads(config)
            except ValueError:
                decoded = {}
            found.append({
                "cell_id": cell_id, "dataset": dataset, "generator": generator, "classifier": classifier,
                "level": level, "mode": mode, "seed": seed, "status": status, "config": decoded,
            })
        return found

    @_guarded
    def find(self, prefix: str) -> dict[str, Any]:
        """The row whose cell id starts with ``prefix`` (at least 4 characters, unambiguous)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
            raise UsageError(f"{prefix!r} is not a cell id: give at least 4 hex characters, as shown by `bench leaderboard`")
        ids = [r[0] for r in self._conn.execute("SELECT cell_id FROM cells WHERE cell_id LIKE ?", (prefix + "%",))]
        if not ids:
            raise UsageError(f"no cell with id {prefix!r} in {self.path}")
        if len(ids) > 1:
            raise UsageError(f"cell id {prefix!r} is ambiguous ({len(ids)} cells match); give more characters")
        return self.rows(ids)[0]

    @_guarded
    def arrays(self, cell_id: str) -> dict[str, np.ndarray]:
        """The named arrays stored with a cell (empty for failed cells and for rows of older versions)."""
        try:
            fetched = self._conn.execute("SELECT name, dtype, data FROM arrays WHERE cell_id = ?", (cell_id,)).fetchall()
        except sqlite3.OperationalError:  # a store of an older version, opened read-only: no arrays table
            return {}
        return {name: np.frombuffer(data, dtype=np.dtype(dtype)) for name, dtype, data in fetched if dtype in _ARRAY_DTYPES}

    @_guarded
    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run: its id, start time, command line and environment."""
        fetched = self._conn.execute("SELECT run_id, started_at, command, env FROM runs ORDER BY started_at").fetchall()
        return [{"run_id": r, "started_at": t, "command": c, "env": json.loads(e) if e else {}} for r, t, c, e in fetched]

    @_guarded
    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def _check_directory(directory: Path) -> None:
    """Refuse a results path that is a file (or lies under one) before trying to create it."""
    for part in (directory, *directory.parents):
        if part.exists() and not part.is_dir():
            where = "is a file" if part == directory else f"lies under {part}, which is a file"
            raise UsageError(f"the results directory {directory} {where}, not a directory; pass --results DIR with a directory (created if missing)")
        if part.exists():
            return


def _encode_arrays(row: CellRow) -> list[tuple[str, str, str, bytes]]:
    encoded = []
    for name, values in row.arrays.items():
        array = np.asarray(values)
        dtype = array.dtype.newbyteorder("<") if array.dtype.kind == "f" else array.dtype
        if dtype.str not in _ARRAY_DTYPES or array.ndim != 1:
            raise ValueError(f"array {name!r}: only 1-d float32, float64 or int8 arrays are stored, got {array.dtype} {array.shape}")
        encoded.append((row.cell_id, name, dtype.str, array.astype(dtype).tobytes()))
    return encoded


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_COLUMNS:
        row[key] = json.loads(row[key]) if row.get(key) else {}
    return row
