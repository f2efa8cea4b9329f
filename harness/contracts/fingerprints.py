"""What the protocol needs from texts and data files: the duplicate key of a text and a file's checksum.

The catalogue of public files, their download and their readers belong to the built-in datasets
(``plugins/datasets/_catalogue.py`` and ``_readers.py``); the core knows no dataset's files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_RETWEET = re.compile(r"^(?:rt\b\W*)+")
_MENTION = re.compile(r"@\w+")


def dedup_key(text: str) -> str:
    """The key two texts must share to count as duplicates.

    Case, punctuation and spacing are ignored, and so is retweet and mention noise: a leading ``RT``,
    every ``@mention`` and URLs. ``RT @user: same words`` and ``@user @user same words`` share a key.
    """
    lowered = _URL.sub(" ", text.lower())
    lowered = _RETWEET.sub("", _MENTION.sub(" ", lowered).strip())
    return _SPACE.sub(" ", re.sub(r"[^\w#]+", " ", lowered)).strip()


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
