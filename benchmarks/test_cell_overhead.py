"""One logreg cell through the harness against bare scikit-learn on the same rows (pytest-benchmark).

Run: ``python -m pytest benchmarks/test_cell_overhead.py --benchmark-only``. Both cases use the full
balanced ``toxic-mix`` split of seed 0 at the 5 % level (real-extra positives): the bare case fits
TF-IDF + LogisticRegression with the plugin's settings and predicts validation and test; the harness
case runs :func:`sparsebench.protocol.cell.run_cell` (fit, both predictions, validation threshold, every metric
with 1,000 bootstrap resamples, the draws kept for paired comparisons). The ratio of the two means is
the harness's overhead; the target is at most 1.3x (docs/classifiers.md states the measured ratio).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sparsebench.contracts.components import DataContext
from sparsebench.hooks.loader import load_plugins
from sparsebench.plugins.datasets.toxic_mix import ToxicMix
from sparsebench.protocol.cell import run_cell
from sparsebench.protocol.sparsity import Protocol, make_splits, plan_level, training_set


@pytest.fixture(scope="module")
def cell():
    data_dir = Path(os.environ.get("SPARSEBENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    splits = make_splits(ToxicMix().load(DataContext(data_dir, download=False, seed=0)), Protocol(), 0)
    plan = plan_level(len(splits.train_neg), len(splits.train_pos), 0.05, "replace")
    return splits, plan, splits.reserve[: plan.synthetic]


def test_bare_sklearn_logreg(benchmark, cell) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    splits, plan, synthetic = cell
    texts, labels, _ = training_set(splits, plan, synthetic, 0)

    def bare() -> np.ndarray:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), max_features=100_000, sublinear_tf=True)
        model = LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced", random_state=0)
        model.fit(vectorizer.fit_transform(texts), labels)
        model.predict_proba(vectorizer.transform(splits.val_texts))
        return model.predict_proba(vectorizer.transform(splits.test_texts))[:, 1]

    scores = benchmark.pedantic(bare, rounds=3, iterations=1)
    assert len(scores) == len(splits.test_texts)


def test_harness_logreg_cell(benchmark, cell) -> None:
    splits, plan, synthetic = cell
    cls = load_plugins(entry_points=False).registry.get("classifier", "logreg").cls

    def harness():
        return run_cell(cls.from_overrides({}).set_params(random_state=0), splits, plan, synthetic, 0, 0.0025, 1000)

    outcome = benchmark.pedantic(harness, rounds=3, iterations=1)
    assert 0.5 < outcome.metrics["auroc"]["value"] < 1 and len(outcome.arrays["draws:auprc"]) == 1000
