"""Training and scoring one cell: fit on the level's training set, pick the threshold on validation,
score the test set with bootstrap intervals, and time each phase."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sparsebench.contracts.components import Classifier
from sparsebench.contracts.progress import phase
from sparsebench.protocol.functional import FunctionalCases, score_cases
from sparsebench.protocol.measure import Stopwatch, peak_memory, reset_peak_memory
from sparsebench.protocol.metrics import best_f1_threshold, evaluate_draws, summarise
from sparsebench.protocol.seeds import derive_seed
from sparsebench.protocol.sparsity import LevelPlan, Splits, deployment_weights, training_set


@dataclass
class CellOutcome:
    metrics: dict[str, Any]
    timings: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    #: stored beside the row for paired comparisons: test scores and labels, bootstrap draws
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


#: metrics whose bootstrap draws are stored, so paired differences need no re-scoring
PAIRED_METRICS = ("auprc", "auroc", "pauroc@0.1", "f1@val")


def positive_scores(classifier: Classifier, texts: Sequence[str]) -> np.ndarray:
    """The classifier's probability of class 1 for ``texts``, checked for shape and finiteness."""
    proba = np.asarray(classifier.predict_proba(list(texts)), dtype=float)
    classes = list(np.asarray(getattr(classifier, "classes_", [0, 1])).tolist())
    if proba.ndim != 2 or proba.shape[0] != len(texts) or proba.shape[1] != len(classes):
        raise ValueError(f"predict_proba returned shape {proba.shape}, expected ({len(texts)}, 2)")
    if 1 not in classes or len(classes) != 2:
        raise ValueError(f"classifier has classes_ {classes}, expected [0, 1] (was it trained on a single class?)")
    scores = proba[:, classes.index(1)]
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise ValueError(f"classifier returned NaN or infinite scores for {bad} of {len(texts)} texts")
    return scores


def run_cell(
    classifier: Classifier,
    splits: Splits,
    plan: LevelPlan,
    synthetic: Sequence[str],
    seed: int,
    prevalence: float,
    n_boot: int,
    evaluations: Sequence[tuple[str, FunctionalCases]] = (),
) -> CellOutcome:
    """Fit, threshold on validation, score on test and on each evaluation set. Raises whatever the classifier raises."""
    reset_peak_memory()
    texts, labels, _ = training_set(splits, plan, synthetic, seed)
    with phase(f"training {classifier.name}", total=None), Stopwatch() as fit_watch:
        classifier.fit(texts, labels, validation=(splits.val_texts, splits.val_labels))
    n_pred = len(splits.val_texts) + len(splits.test_texts)
    with phase(f"scoring {classifier.name}", total=None), Stopwatch() as pred_watch:
        val_scores = positive_scores(classifier, splits.val_texts)
        test_scores = positive_scores(classifier, splits.test_texts)
    val_weights = deployment_weights(splits.val_labels, prevalence)
    test_weights = deployment_weights(splits.test_labels, prevalence)
    with Stopwatch() as metrics_watch:  # the validation threshold, the test metrics and their bootstrap draws
        threshold = best_f1_threshold(splits.val_labels, val_scores, val_weights)
        point, draws = evaluate_draws(splits.test_labels, test_scores, test_weights, threshold, n_boot, derive_seed(seed, "bootstrap"))
        metrics = summarise(point, draws)
    timings = {
        "train_s": fit_watch.seconds,
        "train_samples_per_s": len(texts) / fit_watch.seconds if fit_watch.seconds > 0 else None,
        "predict_s": pred_watch.seconds,
        "predict_samples_per_s": n_pred / pred_watch.seconds if pred_watch.seconds > 0 else None,
        "metrics_s": metrics_watch.seconds,
        **peak_memory(),
    }
    functional, timings["functional_s"] = score_functional(classifier, evaluations, threshold)
    details = {
        "threshold": threshold,
        "functional": functional,
        "training": {
            "size": plan.size,
            "negatives": plan.negatives,
            "real_positives": plan.real_positives,
            "synthetic_positives": plan.synthetic,
            "positive_share": plan.share,
        },
        "test_positive_weight": float(test_weights[splits.test_labels == 1][0]),
    }
    arrays: dict[str, np.ndarray] = {"test_scores": test_scores.astype(np.float32), "test_labels": np.asarray(splits.test_labels, dtype=np.int8)}
    arrays.update({f"draws:{key}": draws[key] for key in PAIRED_METRICS if len(draws.get(key, ()))})
    return CellOutcome(metrics, timings, details, arrays)


def score_functional(classifier: Classifier, evaluations: Sequence[tuple[str, FunctionalCases]], threshold: float) -> tuple[dict[str, Any], float]:
    """Each evaluation set scored at the cell's validation threshold, and the seconds that took."""
    results: dict[str, Any] = {}
    with Stopwatch() as watch:
        for name, cases in evaluations:
            with phase(f"functional tests {name}", total=None):
                results[name] = score_cases(cases, positive_scores(classifier, cases.texts), threshold)
    return results, watch.seconds
