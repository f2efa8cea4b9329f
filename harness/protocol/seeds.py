"""Seeds: one independent 32-bit seed per axis (data, generator, classifier), derived from its parts."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from any parts: one independent seed per axis (data, generator, classifier)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
