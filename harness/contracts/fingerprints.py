"""What the protocol needs from texts and data files: the duplicate key of a text, its 64-bit digest, and a file's checksum.

The catalogue of public files, their download and their readers belong to the built-in datasets
(``plugins/datasets/_catalogue.py`` and ``_readers.py``); the core knows no dataset's files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

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


def key_digest(key: str) -> int:
    """A dedup key's 64-bit BLAKE2b digest, as a signed integer (the same in every process, unlike ``hash``).

    Two different keys share a digest with probability 2**-64 per pair: among a million keys the chance
    that any two do is about 3e-8, and the chance that a generated text is taken for one of ten million
    known keys it is not is about 5e-13 per text. Code that must never merge two texts (deduplication)
    still compares the keys wherever digests meet.
    """
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True)


class KeySet:
    """A set of dedup keys held as sorted 64-bit digests (8 bytes a key, not a string and a set slot).

    ``key in keys`` takes the key's text (``dedup_key(text) in splits.eval_keys``), as a set of
    strings would; it cannot be iterated, since the keys themselves are not kept (messages name texts).
    """

    __slots__ = ("_digests",)

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._digests = np.unique(np.fromiter((key_digest(k) for k in keys), dtype=np.int64))

    @classmethod
    def of_digests(cls, digests: np.ndarray) -> KeySet:
        """The set of the keys whose digests (:func:`key_digest`, any order, repeats allowed) are ``digests``."""
        made = cls()
        made._digests = np.unique(np.asarray(digests, dtype=np.int64))
        return made

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        digest = key_digest(key)
        at = int(np.searchsorted(self._digests, digest))
        return at < len(self._digests) and int(self._digests[at]) == digest

    def __len__(self) -> int:
        return len(self._digests)

    def __sub__(self, other: KeySet) -> KeySet:
        return KeySet.of_digests(np.setdiff1d(self._digests, other._digests, assume_unique=True))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeySet) and np.array_equal(self._digests, other._digests)

    def __repr__(self) -> str:
        return f"KeySet({len(self)} keys)"


def key_set(keys: KeySet | Iterable[str]) -> KeySet:
    """``keys`` as a :class:`KeySet` (a set of key strings is converted)."""
    return keys if isinstance(keys, KeySet) else KeySet(keys)


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
