"""Shortcut scorers and the near-duplicate guard: what the protocol computes on every split.

* **Source-only scorers.** A scorer that sees only a row's platform (news, twitter, ...) or its
  collection (the file it came from) and scores it with that group's positive rate in the training
  split. Their test AUROC says how much of the label the source gives away: 0.5 means nothing.
* **Near-duplicate guard.** Texts that are not exact duplicates but share most of their character
  5-grams (Jaccard similarity ≥ :data:`NEAR_DUPLICATE_JACCARD`), such as retweets of one tweet with
  other mentions, are kept out of training and the reserve when they match a validation or test row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from sparsebench.protocol.leakage import NEAR_DUPLICATE_JACCARD  # one threshold for the split guard and the generation guard

_RARE_DF = 20  # n-grams in at most this many texts propose candidate pairs
_MIN_SHARED_RARE = 3


def group_only_auroc(train_groups: Sequence[str], train_labels: np.ndarray, test_groups: Sequence[str], test_labels: np.ndarray) -> float | None:
    """Test AUROC of scoring each row by its group's positive rate on training; None without groups."""
    if not train_groups or not test_groups or len(set(test_groups)) < 2:
        return None if not test_groups or not train_groups else 0.5
    from sklearn.metrics import roc_auc_score

    y_train = np.asarray(train_labels).astype(bool)
    overall = float(y_train.mean()) if len(y_train) else 0.0
    rates: dict[str, float] = {}
    for group in set(train_groups):
        mask = np.array([g == group for g in train_groups])
        rates[group] = float(y_train[mask].mean())
    scores = np.array([rates.get(g, overall) for g in test_groups])
    y_test = np.asarray(test_labels).astype(int)
    if y_test.min() == y_test.max():
        return None
    return float(roc_auc_score(y_test, scores))


def near_duplicates(candidates: Sequence[str], reference: Sequence[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> np.ndarray:
    """Indices of ``candidates`` whose character 5-gram Jaccard similarity to some ``reference`` text is ≥ ``threshold``.

    Candidate pairs share at least three rare 5-grams (in at most 20 texts); each is then checked exactly.
    The texts are hashed in blocks, and only the reference's rare 5-grams are kept between blocks, so
    memory stays near one block's 5-grams however many texts there are (the price: each text is hashed
    twice, once to count how rare each 5-gram is).
    """
    if not candidates or not reference:
        return np.empty(0, dtype=int)
    import scipy.sparse as sp

    grams = _gram_vectorizer()
    df = np.zeros(grams.n_features, dtype=np.int64)
    for texts in (candidates, reference):
        for _, block in _blocks(texts):
            df += np.bincount(grams.transform(block).indices, minlength=grams.n_features)
    rare = df <= _RARE_DF
    ref_rare = sp.vstack([_only(grams.transform(block), rare) for _, block in _blocks(reference)]).tocsr()
    found = [np.empty(0, dtype=np.int64)]
    for offset, block in _blocks(candidates):
        cand = grams.transform(block).tocsr()
        shared = (_only(cand, rare) @ ref_rare.T).tocoo()
        mask = shared.data >= _MIN_SHARED_RARE
        rows, cols = shared.row[mask], shared.col[mask]
        if len(rows):
            found.append(offset + rows[_similar(grams, cand, rows, reference, cols, threshold)])
    return np.unique(np.concatenate(found)).astype(int)


_BLOCK = 20_000  # texts hashed at once: 14 MB of 5-grams for 20,000 short comments (91 a text), a few times that while hashing


def _blocks(texts: Sequence[str]) -> Iterator[tuple[int, Sequence[str]]]:
    for start in range(0, len(texts), _BLOCK):
        yield start, texts[start : start + _BLOCK]


def _only(matrix: Any, columns: np.ndarray) -> Any:
    """``matrix`` (CSR) with the entries outside ``columns`` (a mask over its columns) removed."""
    kept = matrix.copy()
    kept.data = kept.data * columns[kept.indices]
    kept.eliminate_zeros()
    return kept


def _gram_vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char_wb", ngram_range=(5, 5), binary=True, norm=None, alternate_sign=False,
                             n_features=2**22, dtype=np.float32)


def _similar(grams: Any, cand: Any, rows: np.ndarray, reference: Sequence[str], cols: np.ndarray, threshold: float) -> np.ndarray:
    """Which (row, col) pairs reach the Jaccard ``threshold``; the reference rows named are hashed again, whole."""
    wanted = np.unique(cols)
    ref = grams.transform([reference[int(c)] for c in wanted]).tocsr()
    local = np.searchsorted(wanted, cols)
    inter = np.asarray(cand[rows].multiply(ref[local]).sum(axis=1)).ravel()
    sizes_c = np.asarray(cand.sum(axis=1)).ravel()[rows]
    sizes_r = np.asarray(ref.sum(axis=1)).ravel()[local]
    return inter / np.maximum(sizes_c + sizes_r - inter, 1) >= threshold
