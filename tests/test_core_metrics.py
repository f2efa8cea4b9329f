"""The metrics against scikit-learn on fixed inputs, and the bootstrap's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from sparsebench.protocol.metrics import best_f1_threshold, bootstrap_weights, curve_metrics, evaluate, threshold_metrics
from sparsebench.protocol.sparsity import deployment_weights


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.08).astype(int)
    scores = np.round(np.clip(rng.normal(0.3 + 0.35 * y, 0.2), 0, 1), 2)  # rounded: many ties
    return y, scores, deployment_weights(y, 0.0025)


def test_curve_metrics_match_sklearn_with_weights_and_ties(scored) -> None:
    y, s, w = scored
    ours = curve_metrics(y, s, w)
    assert ours["auprc"][0] == pytest.approx(average_precision_score(y, s, sample_weight=w), abs=1e-12)
    assert ours["auroc"][0] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


def test_curve_metrics_unweighted_fixed_values() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.9])
    ours = curve_metrics(y, s, np.ones(6))
    assert ours["auprc"][0] == pytest.approx(average_precision_score(y, s))
    assert ours["auroc"][0] == pytest.approx(roc_auc_score(y, s))
    assert ours["auroc"][0] == pytest.approx(7 / 9)


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.75, 1.01])
def test_threshold_metrics_match_sklearn(scored, threshold: float) -> None:
    y, s, w = scored
    pred = (s >= threshold).astype(int)
    ours = threshold_metrics(y, s, w, threshold)
    assert ours["precision"][0] == pytest.approx(precision_score(y, pred, sample_weight=w, zero_division=0))
    assert ours["recall"][0] == pytest.approx(recall_score(y, pred, sample_weight=w, zero_division=0))
    assert ours["f1"][0] == pytest.approx(f1_score(y, pred, sample_weight=w, zero_division=0))


def test_deployment_weights_restore_prevalence() -> None:
    y = np.array([1] * 100 + [0] * 900)
    w = deployment_weights(y, 0.0025)
    assert w[y == 1].sum() / w.sum() == pytest.approx(0.0025)
    assert np.all(w[y == 0] == 1)


def test_best_threshold_maximises_f1(scored) -> None:
    y, s, w = scored
    best = best_f1_threshold(y, s, w)
    f1_best = threshold_metrics(y, s, w, best)["f1"][0]
    for t in np.unique(s):
        assert threshold_metrics(y, s, w, t)["f1"][0] <= f1_best + 1e-12


def test_bootstrap_is_stratified_and_seeded(scored) -> None:
    y, _, w = scored
    a = bootstrap_weights(y, w, 50, seed=1)
    b = bootstrap_weights(y, w, 50, seed=1)
    assert np.array_equal(a, b)
    counts = a / w
    assert np.allclose(counts[:, y == 1].sum(axis=1), (y == 1).sum())
    assert np.allclose(counts[:, y == 0].sum(axis=1), (y == 0).sum())


def test_evaluate_intervals_bracket_the_point_estimate(scored) -> None:
    y, s, w = scored
    result = evaluate(y, s, w, val_threshold=0.6, n_boot=300, seed=0)
    assert set(result) == {"auprc", "auroc", "pauroc@0.1", "precision@0.5", "recall@0.5", "f1@0.5", "precision@val", "recall@val", "f1@val"}
    for key, row in result.items():
        assert row["low"] <= row["value"] <= row["high"], key
    assert result["auroc"]["high"] - result["auroc"]["low"] < 0.1
    assert evaluate(y, s, w, 0.6, n_boot=300, seed=0) == result


def test_perfect_and_random_scores() -> None:
    y = np.array([0] * 500 + [1] * 50)
    w = deployment_weights(y, 0.0025)
    perfect = evaluate(y, y.astype(float), w, 0.5, n_boot=100)
    assert perfect["auprc"]["value"] == 1.0 and perfect["auroc"]["value"] == 1.0 and perfect["f1@val"]["value"] == 1.0
    constant = evaluate(y, np.full(len(y), 0.3), w, 0.5, n_boot=0)
    assert constant["auprc"]["value"] == pytest.approx(0.0025)
    assert constant["auroc"]["value"] == pytest.approx(0.5)


@pytest.mark.parametrize("max_fpr", [0.05, 0.1, 0.5])
def test_partial_auroc_matches_sklearn_max_fpr(scored, max_fpr: float) -> None:
    from sparsebench.protocol.metrics import partial_auroc

    y, s, w = scored
    order = np.argsort(-s, kind="mergesort")
    last = np.r_[np.flatnonzero(np.diff(s[order])), len(s) - 1]
    tp = np.cumsum(w[order] * y[order])[last]
    fp = np.cumsum(w[order] * (1 - y[order]))[last]
    fpr, tpr = np.r_[0.0, fp / fp[-1]][None, :], np.r_[0.0, tp / tp[-1]][None, :]
    assert partial_auroc(fpr, tpr, max_fpr)[0] == pytest.approx(roc_auc_score(y, s, sample_weight=w, max_fpr=max_fpr), abs=1e-12)


def test_partial_auroc_in_curve_metrics_reads_chance_and_perfect() -> None:
    y = np.array([0, 1] * 50)
    assert curve_metrics(y, y.astype(float), np.ones(100))["pauroc@0.1"][0] == pytest.approx(1.0)
    assert curve_metrics(y, np.zeros(100), np.ones(100))["pauroc@0.1"][0] == pytest.approx(0.5)
