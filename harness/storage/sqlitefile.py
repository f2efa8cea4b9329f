"""Opening the results store's SQLite file safely.

* A new store is built under a temporary name and linked into place, so no process ever sees a
  half-made store (an empty file, or one without tables).
* An existing file is inspected before SQLite opens it for writing: an empty file, a file that is not
  SQLite, an SQLite database of another program, and a store of a newer sparsebench are refused with
  one line, and nothing is left beside them (no ``-wal``/``-shm``).
* Viewing opens read-only (``mode=ro``), and with ``immutable=1`` where the directory cannot be
  written (SQLite could not create its shared-memory file there).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from sparsebench.contracts.errors import StoreError

HEADER = b"SQLite format 3\x00"


def inspect(path: Path, schema_version: int) -> None:
    """Refuse ``path`` unless it is a sparsebench store this version can read; touches nothing."""
    try:
        with path.open("rb") as handle:
            head = handle.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read the results store {path}: {exc.strerror or exc}") from None
    if not head:
        raise StoreError(f"{path} is an empty file, not a results store; delete it (or pass another --results DIR) to start a new store")
    if not head.startswith(HEADER) or len(head) < 100:
        raise StoreError(f"cannot open the results store {path}: file is not a database")
    version = int.from_bytes(head[60:64], "big")
    if version > schema_version:
        raise StoreError(f"{path} was written by a newer sparsebench (schema {version}); upgrade sparsebench to read it")
    tables = _tables(path)
    if "cells" not in tables:
        found = f"its tables: {', '.join(sorted(tables)[:6])}" if tables else "it has no tables"
        raise StoreError(f"{path} is an SQLite database but not a sparsebench results store ({found}); pass another --results DIR")


def _tables(path: Path) -> set[str]:
    """Table names, read through an immutable connection (no locks, no -wal/-shm created)."""
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise Damaged(path) if is_damaged(exc) else StoreError(f"cannot open the results store {path}: {exc}") from None
    finally:
        conn.close()


def create(path: Path, build: Callable[[sqlite3.Connection], object]) -> None:
    """Build a new store at ``path`` atomically with ``build`` (the migrations); a store another process linked first is kept."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            build(conn)
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        with contextlib.suppress(FileExistsError):  # another first run won the race: use its store
            os.link(tmp, path)
    except sqlite3.OperationalError as exc:
        raise full_or(exc, path.parent) from None
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def check_writable(path: Path) -> None:
    """Refuse to run into a store whose directory or file cannot be written (viewing it still works)."""
    if not (os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)):
        raise StoreError(
            f"cannot write to the results directory {path.parent} (read-only); view it with "
            f"`bench leaderboard --results {path.parent}`, or run with another --results DIR"
        )


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to an inspected store: read-write in WAL mode, or read-only for viewing."""
    if not readonly:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn
    # No -wal file means no writer holds unsaved pages: read the file as it is, creating nothing beside it
    # (a read-only connection could not remove a -wal/-shm it created). With a writer active, read through
    # its -wal, unless the directory is not writable, where SQLite could not open the shared memory.
    quiet = not os.access(path.parent, os.W_OK) or not Path(f"{path}-wal").exists()
    immutable = "&immutable=1" if quiet else ""
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro{immutable}", uri=True, timeout=60, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 60000")
    return conn


class Damaged(StoreError):
    """The store's file is damaged (SQLite reports it malformed): say so, what was kept, and how to recover it."""

    def __init__(self, path: Path, kept: str = "nothing was written to it") -> None:
        self.path = path
        super().__init__(
            f"the results store {path} is damaged (SQLite: database disk image is malformed); {kept}. "
            f"Copy it aside, then recover its rows with `sqlite3 {path} .recover | sqlite3 recovered.sqlite` and put "
            f"recovered.sqlite in its place (or restore your own backup of it), or pass another --results DIR"
        )


def is_damaged(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying the file's pages are corrupt."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and (code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in str(exc))


class DiskFull(StoreError):
    """The disk holding the results directory is full."""

    def __init__(self, directory: Path, kept: str = "every row stored before is intact") -> None:
        self.directory = directory
        super().__init__(f"the disk holding {directory} is full: {kept}; free space and run the same command again to resume")


def is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the database's size limit) is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and (code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc))


def full_or(exc: BaseException, directory: Path) -> BaseException:
    """:class:`DiskFull` for a full disk (also when SQLite reports it as an I/O error), else ``exc`` itself."""
    return DiskFull(directory) if is_full(exc) or no_space(directory) else exc


def no_space(directory: Path, reserve: int = 64 * 1024) -> bool:
    """Whether the file system holding ``directory`` has (almost) no space left."""
    try:
        info = os.statvfs(directory)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < reserve
