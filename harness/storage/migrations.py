"""The results store's schema as an ordered list of named migrations, each applied once and recorded in the store.

A new store runs them all; an older store runs the ones it lacks when a run opens it for writing (viewing never
writes); a store that records a migration this sparsebench does not know, or a ``user_version`` above the number
of migrations, was written by a newer sparsebench and is refused. ``PRAGMA user_version`` is the count applied.
Add a schema change as a new function at the end of :data:`MIGRATIONS`; never edit or reorder one that shipped.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from sparsebench.contracts.enums import Status

_STATUS_CHECK = ", ".join(f"'{s}'" for s in sorted(Status))


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run ``sql``'s statements inside the caller's transaction (``executescript`` would commit it first)."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def cells_and_runs(conn: sqlite3.Connection) -> None:
    """One row per cell (configuration, status, metrics, timings, details, environment) and one per run."""
    _script(conn, f"""
        CREATE TABLE IF NOT EXISTS cells (
            cell_id     TEXT PRIMARY KEY,
            run_id      TEXT NOT NULL,
            dataset     TEXT NOT NULL,
            generator   TEXT NOT NULL,
            classifier  TEXT NOT NULL,
            level       REAL NOT NULL,
            mode        TEXT NOT NULL,
            seed        INTEGER NOT NULL,
            status      TEXT NOT NULL CHECK (status IN ({_STATUS_CHECK})),
            reason      TEXT NOT NULL DEFAULT '',
            config      TEXT NOT NULL,
            metrics     TEXT NOT NULL DEFAULT '{{}}',
            timings     TEXT NOT NULL DEFAULT '{{}}',
            details     TEXT NOT NULL DEFAULT '{{}}',
            env         TEXT NOT NULL DEFAULT '{{}}',
            started_at  REAL NOT NULL,
            finished_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS runs (
            run_id     TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            command    TEXT NOT NULL,
            env        TEXT NOT NULL
        );
    """)


def arrays(conn: sqlite3.Connection) -> None:
    """Per-cell arrays (test scores and labels, bootstrap draws) as raw little-endian bytes with their dtype, never pickles."""
    _script(conn, """
        CREATE TABLE IF NOT EXISTS arrays (
            cell_id TEXT NOT NULL,
            name    TEXT NOT NULL,
            dtype   TEXT NOT NULL CHECK (dtype IN ('<f4', '<f8', '|i1')),
            data    BLOB NOT NULL,
            PRIMARY KEY (cell_id, name)
        );
    """)


def component_names(conn: sqlite3.Connection) -> None:
    """Each component's bare name beside its ``name[params]`` label, filled in for rows stored before."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(cells)")}
    for kind in ("dataset", "generator", "classifier"):
        if f"{kind}_name" not in have:
            conn.execute(f"ALTER TABLE cells ADD COLUMN {kind}_name TEXT NOT NULL DEFAULT ''")
        conn.execute(f"UPDATE cells SET {kind}_name = CASE WHEN instr({kind}, '[') > 0 "  # noqa: S608 - our own names
                     f"THEN substr({kind}, 1, instr({kind}, '[') - 1) ELSE {kind} END WHERE {kind}_name = ''")


#: every migration, in the order it is applied; the names are recorded in the store
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (cells_and_runs, arrays, component_names)
VERSION = len(MIGRATIONS)


def applied(conn: sqlite3.Connection) -> list[str]:
    """The names of the migrations a store records (a store of sparsebench <= 0.1.0 records none: see :func:`upgrade`)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone():
        return []
    return [row[0] for row in conn.execute("SELECT name FROM migrations ORDER BY position")]


def unknown(conn: sqlite3.Connection) -> list[str]:
    """Migrations the store records that this sparsebench does not know (a newer sparsebench wrote it)."""
    known = {m.__name__ for m in MIGRATIONS}
    return [name for name in applied(conn) if name not in known]


def upgrade(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations ``conn``'s store lacks, in one transaction; returns their names.

    Every migration is idempotent (``IF NOT EXISTS``, columns added only when missing), so two processes that
    open an old store at once both succeed, and a store of sparsebench 0.1.0 (``user_version`` 1, no record) is
    brought up by running them all.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS migrations (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at REAL NOT NULL)")
        done = set(applied(conn))
        ran = []
        for position, migration in enumerate(MIGRATIONS, start=1):
            if migration.__name__ in done:
                continue
            migration(conn)
            conn.execute("INSERT INTO migrations (position, name, applied_at) VALUES (?, ?, ?)", (position, migration.__name__, time.time()))
            ran.append(migration.__name__)
        conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return ran
