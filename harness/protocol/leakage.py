"""Leakage guard for generated texts: near-duplicates of validation or test rows.

Exact duplicates (same :func:`~sparsebench.contracts.fingerprints.dedup_key`) are caught by a set lookup. A near
duplicate is a text whose set of lower-cased character 5-grams (``char_wb``: grams inside word
boundaries, as :func:`sparsebench.protocol.shortcuts.near_duplicates` reads them) has Jaccard similarity at least
:data:`NEAR_DUPLICATE_JACCARD` with the set of some reference row.

:class:`NearDuplicateIndex` answers that exactly, with no missed pair, by prefix filtering
(Chaudhuri et al. 2006; Bayardo et al. 2007): the grams of every set are ordered by their document
frequency in the reference (rarest first); if two sets have Jaccard ≥ t, their prefixes of length
``|x| - ceil(t·|x|) + 1`` share a gram. Only the reference rows' prefixes are indexed, and each query
checks the few rows its own prefix reaches. A query's answer depends on that text and the
reference only, never on the other texts of its batch, so admission stays deterministic.
:class:`EvalGuard` is the runner's rule on top of it (copies of training rows are exempt).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sparsebench.contracts.fingerprints import dedup_key, key_set

NEAR_DUPLICATE_JACCARD = 0.8
GRAM = 5
_EPS = 1e-9

#: the rejection reason of a generated text that nearly duplicates a validation or test row
EVAL_NEAR_DUPLICATE = "near-duplicate of a validation or test row"


def gram_analyzer() -> Callable[[str], list[str]]:
    """The analyzer both guards use: lower-cased character 5-grams within word boundaries."""
    from sklearn.feature_extraction.text import HashingVectorizer

    analyzer: Callable[[str], list[str]] = HashingVectorizer(analyzer="char_wb", ngram_range=(GRAM, GRAM)).build_analyzer()
    return analyzer


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _prefix_length(size: int, threshold: float) -> int:
    return size - math.ceil(threshold * size - _EPS) + 1


class NearDuplicateIndex:
    """The reference rows' 5-gram sets, with an inverted index over their prefixes; built once, queried per text."""

    def __init__(self, reference: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"a Jaccard threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._analyze = gram_analyzer()
        self._sets = [frozenset(self._analyze(text)) for text in reference]
        self._df: dict[str, int] = {}
        for grams in self._sets:
            for gram in grams:
                self._df[gram] = self._df.get(gram, 0) + 1
        self._postings: dict[str, list[int]] = {}
        for row, grams in enumerate(self._sets):
            for gram in self._prefix(grams):
                self._postings.setdefault(gram, []).append(row)

    def __len__(self) -> int:
        return len(self._sets)

    def _prefix(self, grams: frozenset[str]) -> list[str]:
        ordered = sorted(grams, key=lambda g: (self._df.get(g, 0), g))
        return ordered[: _prefix_length(len(ordered), self.threshold)]

    def nearest(self, text: str) -> tuple[int, float] | None:
        """The reference row most similar to ``text`` among those at or above the threshold, and its similarity."""
        grams = frozenset(self._analyze(text))
        if not grams:
            return None
        low, high = self.threshold * len(grams) - _EPS, len(grams) / self.threshold + _EPS
        best: tuple[int, float] | None = None
        for row in sorted({r for gram in self._prefix(grams) for r in self._postings.get(gram, ())}):
            other = self._sets[row]
            if not low <= len(other) <= high:  # Jaccard ≥ t needs t·|x| ≤ |y| ≤ |x| / t
                continue
            score = jaccard(grams, other)
            if score >= self.threshold - _EPS and (best is None or score > best[1]):
                best = (row, score)
        return best

    def matches(self, text: str) -> bool:
        """Whether ``text`` is a near-duplicate of some reference row."""
        return self.nearest(text) is not None

    def flagged(self, texts: Iterable[str]) -> list[int]:
        """Indices of ``texts`` that are near-duplicates of some reference row."""
        return [i for i, text in enumerate(texts) if self.matches(text)]


class EvalGuard:
    """The runner's rule for one splits: is a generated text a near-duplicate of a validation or test row?

    A text with the dedup key of a training row is exempt: that row is already in training, admitted
    by the split guard (:func:`sparsebench.protocol.shortcuts.near_duplicates`), and a copy of it (``oversample``)
    adds no row that training does not hold.
    """

    def __init__(self, splits: Any) -> None:
        self.index = NearDuplicateIndex(list(splits.val_texts) + list(splits.test_texts))
        self.training = key_set(splits.known_keys) - key_set(splits.eval_keys)

    def near_duplicate(self, text: str) -> bool:
        return dedup_key(text) not in self.training and self.index.matches(text)

    def flagged(self, texts: Iterable[str]) -> list[int]:
        """Indices of ``texts`` the rule drops."""
        return [i for i, text in enumerate(texts) if self.near_duplicate(text)]


_GUARDS: dict[str, EvalGuard] = {}


def eval_guard(splits: Any) -> EvalGuard:
    """The guard of ``splits`` (built once: kept for the last splits of this process, by fingerprint)."""
    key = getattr(splits, "fingerprint", "")
    if not key:  # hand-built splits without a fingerprint: no cache key to trust
        return EvalGuard(splits)
    if key not in _GUARDS:
        _GUARDS.clear()
        _GUARDS[key] = EvalGuard(splits)
    return _GUARDS[key]
