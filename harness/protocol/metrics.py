"""Quality metrics with bootstrap intervals, weighted to the deployment prevalence.

All metrics take sample weights, so a test set enriched with positives (for statistical power) is
scored as if positives were as rare as in deployment. Intervals come from a stratified bootstrap
over test rows (positives and negatives resampled separately, so the weighted prevalence stays
fixed): every resample is a vector of row multiplicities, and all resamples are scored at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

CURVE_METRICS = ("auprc", "auroc", "pauroc@0.1")
#: the false-positive rate up to which the partial AUROC is taken
PARTIAL_MAX_FPR = 0.1
THRESHOLD_METRICS = ("precision", "recall", "f1")
DEFAULT_BOOTSTRAP = 1000


def curve_metrics(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted average precision and AUROC for each row of ``weights`` (shape ``(B, n)`` or ``(n,)``).

    Definitions match scikit-learn's ``average_precision_score`` and ``roc_auc_score`` with
    ``sample_weight``: tied scores form one threshold.
    """
    y = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=float)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    order = np.argsort(-scores, kind="mergesort")
    s_sorted = scores[order]
    y_sorted = y[order]
    w_sorted = w[:, order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(w_sorted * y_sorted, axis=1)[:, last_of_tie]
    fp = np.cumsum(w_sorted * ~y_sorted, axis=1)[:, last_of_tie]
    pos = tp[:, -1:]
    neg = fp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / pos
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        fpr = fp / neg
    recall_steps = np.diff(np.concatenate([np.zeros_like(recall[:, :1]), recall], axis=1), axis=1)
    auprc = np.sum(recall_steps * precision, axis=1)
    tpr0 = np.concatenate([np.zeros_like(recall[:, :1]), recall], axis=1)
    fpr0 = np.concatenate([np.zeros_like(fpr[:, :1]), fpr], axis=1)
    auroc = np.sum(np.diff(fpr0, axis=1) * (tpr0[:, 1:] + tpr0[:, :-1]) / 2, axis=1)
    return {"auprc": auprc, "auroc": auroc, "pauroc@0.1": partial_auroc(fpr0, tpr0, PARTIAL_MAX_FPR)}


def partial_auroc(fpr: np.ndarray, tpr: np.ndarray, max_fpr: float) -> np.ndarray:
    """Standardized partial AUROC up to ``max_fpr`` (McClish 1989), row by row, as scikit-learn's ``max_fpr``.

    ``fpr`` and ``tpr`` are ``(B, m)`` ROC points starting at 0; the curve is cut at ``max_fpr`` by
    linear interpolation. The area is rescaled so that chance reads 0.5 and a perfect ranking 1.
    """
    start, end = fpr[:, :-1], fpr[:, 1:]
    cut = np.minimum(end, max_fpr)
    width = np.clip(cut - start, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(end > start, (tpr[:, 1:] - tpr[:, :-1]) / (end - start), 0.0)
    tpr_cut = tpr[:, :-1] + slope * width
    area = np.sum(width * (tpr[:, :-1] + tpr_cut) / 2, axis=1)
    low, high = max_fpr**2 / 2, max_fpr
    return 0.5 * (1 + (area - low) / (high - low))


def threshold_metrics(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Weighted precision, recall and F1 of ``scores >= threshold``; 0 where undefined (as scikit-learn)."""
    y = np.asarray(y).astype(bool)
    predicted = np.asarray(scores, dtype=float) >= threshold
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    tp = (w * (predicted & y)).sum(axis=1)
    fp = (w * (predicted & ~y)).sum(axis=1)
    fn = (w * (~predicted & y)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """The score threshold that maximises weighted F1 (used on validation only)."""
    y = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.asarray(weights, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    s_sorted = scores[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(weights[order] * y[order])[last_of_tie]
    fp = np.cumsum(weights[order] * ~y[order])[last_of_tie]
    fn = tp[-1] - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return float(s_sorted[last_of_tie[int(np.argmax(f1))]])


BOOTSTRAP_CHUNK = 200


def bootstrap_weights(y: np.ndarray, base: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` weights: stratified bootstrap multiplicities times the base weights."""
    parts = list(bootstrap_chunks(y, base, n_boot, seed))
    return np.concatenate(parts) if parts else np.empty((0, len(y)))


def bootstrap_chunks(y: np.ndarray, base: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """The rows of :func:`bootstrap_weights`, :data:`BOOTSTRAP_CHUNK` resamples at a time.

    Each resample draws as many rows of each class as the test set holds, with replacement; a chunk
    of resamples is drawn at once (one integer matrix per class and one ``bincount``). The draws
    depend only on ``y``, ``n_boot`` and ``seed``.
    """
    y = np.asarray(y).astype(bool)
    base = np.asarray(base, dtype=float)
    n = len(y)
    rng = np.random.default_rng([seed, 0xB1])
    classes = [index for index in (np.flatnonzero(y), np.flatnonzero(~y)) if len(index)]
    for start in range(0, n_boot, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, n_boot - start)
        offsets = np.arange(size, dtype=np.int64)[:, None] * n
        flat = np.concatenate([(index[rng.integers(0, len(index), size=(size, len(index)))] + offsets).ravel() for index in classes])
        yield np.bincount(flat, minlength=size * n).reshape(size, n) * base


def evaluate(
    y: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    val_threshold: float,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Every metric on the test set, with a percentile 95 % bootstrap interval.

    Keys: ``auprc``, ``auroc``, ``precision@0.5`` …, ``f1@val`` (at the validation threshold).
    """
    return summarise(*evaluate_draws(y, scores, weights, val_threshold, n_boot, seed))


def evaluate_draws(
    y: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    val_threshold: float,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The point value of every metric and its ``n_boot`` bootstrap draws.

    The resamples depend only on the labels, the base weights, ``n_boot`` and ``seed``, so two
    classifiers scored on the same test set with the same seed see the same resamples: the
    difference of their draws is a paired bootstrap of the difference (:mod:`sparsebench.analysis.paired`).
    """
    point = {key: float(values[0]) for key, values in _all_metrics(y, scores, weights, val_threshold).items()}
    parts: dict[str, list[np.ndarray]] = {key: [] for key in point}
    for boot in bootstrap_chunks(y, weights, n_boot, seed):
        for key, values in _all_metrics(y, scores, boot, val_threshold).items():
            parts[key].append(values)
    draws = {key: np.concatenate(values) if values else np.empty(0) for key, values in parts.items()}
    return point, draws


def summarise(point: dict[str, float], draws: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{"value", "low", "high"}`` per metric: the point value and the 2.5 / 97.5 percentiles of its draws."""
    result: dict[str, dict[str, float]] = {}
    for key, value in point.items():
        row = {"value": value}
        sample = draws.get(key)
        if sample is not None and len(sample):
            row["low"], row["high"] = (float(q) for q in np.nanpercentile(sample, [2.5, 97.5]))
        result[key] = row
    return result


def _all_metrics(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, val_threshold: float) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = dict(curve_metrics(y, scores, weights))
    for suffix, threshold in (("0.5", 0.5), ("val", val_threshold)):
        for key, values in threshold_metrics(y, scores, weights, threshold).items():
            out[f"{key}@{suffix}"] = values
    return out


METRIC_KEYS: tuple[str, ...] = (
    "auprc",
    "auroc",
    "pauroc@0.1",
    "f1@val",
    "precision@val",
    "recall@val",
    "f1@0.5",
    "precision@0.5",
    "recall@0.5",
)


def summary(metrics: dict[str, Any], key: str) -> str:
    """``0.412 [0.371, 0.455]`` for listings."""
    row = metrics.get(key)
    if not row:
        return ""
    if "low" in row:
        return f"{row['value']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
    return f"{row['value']:.3f}"
