"""A per-request cache of a served model's answers, so that no request is paid for twice.

An entry's key is the SHA-256 of the server's identity (the model name and what the server reports
about it, see :func:`server_identity`), the endpoint and the full request body (messages or prompt,
sampling parameters, the request's seed). A changed prompt, sampling parameter, seed or model misses;
the same request to the same model hits, whatever the URL or port it is served at and whichever run
or chunk asks. Entries are JSON files ``<root>/<key[:2]>/<key>.json`` written atomically (temporary file,
fsync, rename) as each answer arrives, so a run killed mid-chunk keeps every answer it had; a damaged
entry is ignored and asked again. The API key is in no entry: it is sent as a header, never in a body.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
_KEY = re.compile(r"^[0-9a-f]{64}$")
#: fields of a /v1/models entry that change between calls or restarts without the model changing (vLLM's ``created``)
VOLATILE = frozenset({"created", "object", "permission", "permissions"})


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(identity: dict[str, Any], endpoint: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({"version": FORMAT_VERSION, "server": identity, "endpoint": endpoint, "body": body}).encode()).hexdigest()


def server_identity(model: str, listing: Any) -> dict[str, Any]:
    """The model name and the server's own description of it in ``GET /models`` (volatile fields dropped)."""
    entries = listing.get("data") if isinstance(listing, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            return {"model": model, "listed": {k: v for k, v in sorted(entry.items()) if k not in VOLATILE}}
    return {"model": model, "listed": None}


class RequestCache:
    """Answers by request key under ``root``; ``hits`` and ``writes`` count this process's use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = self.writes = 0

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a request key: {key!r}")
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("response"), dict):
            return None
        self.hits += 1
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(canonical({**entry, "key": key}))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.writes += 1
