"""Crash-safe file writes: write a temporary file in the same directory, fsync, then rename."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: the public name (``sparsebench.atomic_write``): plugins that keep files of their own (a request cache) write them this way
atomic_write = write_bytes


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form hashed for keys and digests."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def write_json_verified(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with a digest of itself, so a reader can tell a damaged file from a good one."""
    document = {"digest": digest(payload), "payload": payload}
    write_bytes(path, canonical_json(document).encode("utf-8"))


def read_json_verified(path: Path) -> dict[str, Any] | None:
    """The payload written by :func:`write_json_verified`, or None when the file is missing or damaged."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        payload = document["payload"]
        if digest(payload) != document["digest"]:
            return None
        return payload if isinstance(payload, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
