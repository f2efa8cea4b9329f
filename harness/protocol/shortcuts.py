"""Shortcut scorers and the near-duplicate guard: what the protocol computes on every split.

* **Source-only scorers.** A scorer that sees only a row's platform (news, twitter, ...) or its
  collection (the file it came from) and scores it with that group's positive rate in the training
  split. Their test AUROC says how much of the label the source gives away: 0.5 means nothing.
* **Near-duplicate guard.** Texts that are not exact duplicates but share most of their character
  5-grams (Jaccard similarity ≥ :data:`NEAR_DUPLICATE_JACCARD`), such as retweets of one tweet with
  other mentions, are kept out of training and the reserve when they match a validation or test row.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """
    if not candidates or not reference:
        return np.empty(0, dtype=int)
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=(5, 5), binary=True, norm=None, alternate_sign=False,
                                   n_features=2**22, dtype=np.float32)
    cand = vectorizer.transform(candidates).tocsr()
    ref = vectorizer.transform(reference).tocsr()
    df = np.bincount(cand.indices, minlength=cand.shape[1]) + np.bincount(ref.indices, minlength=ref.shape[1])
    keep = sp.diags((df <= _RARE_DF).astype(np.float32))
    shared = ((cand @ keep) @ (ref @ keep).T).tocoo()
    mask = shared.data >= _MIN_SHARED_RARE
    rows, cols = shared.row[mask], shared.col[mask]
    if not len(rows):
        return np.empty(0, dtype=int)
    inter = np.asarray(cand[rows].multiply(ref[cols]).sum(axis=1)).ravel()
    sizes_c = np.asarray(cand.sum(axis=1)).ravel()
    sizes_r = np.asarray(ref.sum(axis=1)).ravel()
    jaccard = inter / np.maximum(sizes_c[rows] + sizes_r[cols] - inter, 1)
    return np.unique(rows[jaccard >= threshold])
