"""Content-addressed cache of generated texts, one file per chunk.

A chunk's key hashes the generator name and parameters, the dataset fingerprint, the seed, the
chunk's index and size: a classifier change never re-generates, and an interrupted generation
resumes at the first missing chunk. Files are JSON (never pickle), written atomically and verified
on read; a damaged file is removed and regenerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsebench.storage.atomic import digest, read_json_verified, write_json_verified
from sparsebench.storage.sqlitefile import DiskFull, is_full

FORMAT_VERSION = 1
_KEY = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Chunk:
    """Accepted texts of one chunk and what producing them cost."""

    texts: list[str]
    seconds: float
    tokens: int | None = None
    raw: int | None = None
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_texts: list[tuple[str, str]] = field(default_factory=list)

    def as_payload(self, key: str, meta: dict[str, Any]) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "key": key,
            "meta": meta,
            "texts": self.texts,
            "seconds": self.seconds,
            "tokens": self.tokens,
            "raw": self.raw,
            "rejected": self.rejected,
            "rejected_texts": [list(pair) for pair in self.rejected_texts],
        }


def chunk_key(meta: dict[str, Any]) -> str:
    """The cache key of a chunk, from its generator, parameters, data fingerprint, seed, index and size."""
    return digest({"version": FORMAT_VERSION, **meta})


class GenerationCache:
    """Chunks under ``root/<key[:2]>/<key>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.damaged = 0

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are SHA-256 digests; anything else could address a path outside the cache
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Chunk | None:
        path = self._path(key)
        if not path.exists():
            return None
        payload = read_json_verified(path)
        if payload is None or payload.get("key") != key or payload.get("version") != FORMAT_VERSION:
            self.damaged += 1
            path.unlink(missing_ok=True)
            return None
        return chunk_from_payload(payload)

    def put(self, key: str, chunk: Chunk, meta: dict[str, Any]) -> None:
        try:
            write_json_verified(self._path(key), chunk.as_payload(key, meta))
        except OSError as exc:
            if is_full(exc):  # the run stops with one line; the entries written before stay whole
                raise DiskFull(self.root.parent) from None
            raise


    # --- quality assessments of whole generated sets, by content ---------------------------------

    def _quality_path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.root.parent / "quality" / key[:2] / f"{key}.json"

    def get_quality(self, key: str) -> dict[str, Any] | None:
        """A stored quality assessment (``None`` when absent or damaged: it is computed again)."""
        path = self._quality_path(key)
        payload = read_json_verified(path) if path.exists() else None
        if payload is None or payload.get("key") != key:
            return None
        quality = payload.get("quality")
        return quality if isinstance(quality, dict) else None

    def put_quality(self, key: str, quality: dict[str, Any]) -> None:
        try:
            write_json_verified(self._quality_path(key), {"key": key, "quality": quality})
        except OSError as exc:
            if is_full(exc):
                raise DiskFull(self.root.parent) from None
            raise


def chunk_from_payload(payload: dict[str, Any]) -> Chunk:
    """A chunk back from its JSON form (a cache entry, or a Ray worker's result)."""
    return Chunk(
        texts=[str(t) for t in payload["texts"]],
        seconds=float(payload["seconds"]),
        tokens=payload.get("tokens"),
        raw=payload.get("raw"),
        rejected={str(k): int(v) for k, v in (payload.get("rejected") or {}).items()},
        rejected_texts=[(str(r), str(t)) for r, t in payload.get("rejected_texts") or []],
    )
