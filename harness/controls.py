"""Negative controls and guards computed by the harness for every dataset.

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

from .leakage import NEAR_DUPLICATE_JACCARD  # one threshold for the split guard and the generation guard

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


_BLOCK = 50_000


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


# --- the controls line after the leaderboard ---------------------------------------------------

#: a negative control passes when its AUROC is at most this (chance is 0.5)
NEGATIVE_CONTROL_MAX_AUROC = 0.60


def control_lines(rows: Sequence[dict], found: Sequence[object]) -> list[str]:
    """Plain-words lines checking the suite's positive and negative controls, then data warnings.

    ``rows`` are stored rows, ``found`` their :func:`sparsebench.paired.comparisons`.
    """
    done = [r for r in rows if r.get("status") == "done"]
    if not done:
        return []
    return [_positive_line(found)] + [_negative_line(name, members) for name, members in _by_dataset(done).items()] + _warning_lines(done)


def _positive_line(found: Sequence[object]) -> str:
    candidates = [c for c in found if getattr(c, "generator", "").split("[", 1)[0] == "real-extra"
                  and getattr(c, "baseline", "") == "real-only" and getattr(c, "metric", "") in ("auprc", "auroc")]
    if not candidates:
        return "positive control not run: the suite needs real-extra and real-only cells of one classifier"
    top = max(getattr(c, "level", 0.0) for c in candidates)
    at_top = [c for c in candidates if getattr(c, "level", 0.0) == top]
    passing = sorted((c for c in at_top if getattr(c, "low", 0.0) > 0), key=lambda c: (-getattr(c, "n_seeds", 0), -getattr(c, "low", 0.0)))
    if passing:
        best = passing[0]
        return (f"positive control passes: real-extra at {top:.2%} beats real-only for {len({_key(c) for c in passing})} of "
                f"{len({_key(c) for c in at_top})} classifier/dataset pairs (e.g. {_describe(best)})")
    return (f"positive control FAILS: real-extra at {top:.2%} does not beat real-only on AUPRC or AUROC for any classifier; "
            "this suite cannot tell the upper bound from the floor")


def _negative_line(dataset: str, members: list[dict]) -> str:
    length = [r["metrics"]["auroc"]["value"] for r in members if _name(r, "classifier") == "length"
              and _name(r, "generator") == "real-only" and "auroc" in r.get("metrics", {})]
    by_seed: dict[int, dict] = {}
    for row in members:
        by_seed.setdefault(int(row["seed"]), (row.get("details") or {}).get("controls") or {})
    platform = [c["platform_only_auroc"] for c in by_seed.values() if c.get("platform_only_auroc") is not None]
    collection = [c["collection_only_auroc"] for c in by_seed.values() if c.get("collection_only_auroc") is not None]
    checks = {"length": _mean(length), "platform-only": _mean(platform)}
    failed = [name for name, value in checks.items() if value is not None and value > NEGATIVE_CONTROL_MAX_AUROC]
    shown = ", ".join(f"{name} AUROC {value:.2f}" for name, value in checks.items() if value is not None) or "no control measured"
    extra = f"; collection-only AUROC {_mean(collection):.2f}" if collection else ""
    if failed:
        return (f"negative controls FAIL on {dataset}: {shown} (above {NEGATIVE_CONTROL_MAX_AUROC:.2f}){extra}: "
                f"the {' and '.join(failed)} shortcut predicts the label without reading toxicity")
    return f"negative controls pass on {dataset}: {shown} (at most {NEGATIVE_CONTROL_MAX_AUROC:.2f}){extra}"


def _warning_lines(done: list[dict]) -> list[str]:
    seen: dict[tuple[str, str], None] = {}
    for row in done:
        for warning in ((row.get("details") or {}).get("controls") or {}).get("warnings", []):
            seen[(row["dataset"], warning)] = None
    return [f"warning: {dataset}: {warning}" for dataset, warning in seen]


def _by_dataset(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["dataset"], []).append(row)
    return out


def _describe(c: object) -> str:
    g = getattr
    return (f"{g(c, 'classifier')} on {g(c, 'dataset')}, {g(c, 'metric').upper()} {g(c, 'delta'):+.3f} "
            f"[{g(c, 'low'):+.3f}, {g(c, 'high'):+.3f}], {g(c, 'n_seeds')} seed{'s' if g(c, 'n_seeds') != 1 else ''}")


def _key(c: object) -> tuple[str, str]:
    return (getattr(c, "dataset", ""), getattr(c, "classifier", ""))


def _name(row: dict, kind: str) -> str:
    return str(row[kind]).split("[", 1)[0]


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def controls_for(rows: Sequence[dict], arrays: object) -> list[str]:
    """:func:`control_lines` for stored rows, with their paired comparisons computed from ``arrays``."""
    from .paired import comparisons

    return control_lines(rows, comparisons(rows, arrays))  # type: ignore[arg-type]
