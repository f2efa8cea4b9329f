"""The runner end to end on real data: statuses, resume, caching, isolation, leakage guards."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sparsebench import hookimpl
from sparsebench.contracts.components import Classifier, GeneratedBatch, GenerationRequest, Generator
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.contracts.params import Param
from sparsebench.engine.grid import plan_cells
from sparsebench.engine.runner import Runner, RunOptions
from sparsebench.engine.suite import Suite
from sparsebench.hooks.loader import load_plugins
from sparsebench.protocol.sparsity import Protocol, make_splits
from sparsebench.storage.cache import GenerationCache
from sparsebench.storage.store import ResultStore

DATASET = "toxic-mix[negatives=1500,positives=300]"
CALLS: list[int] = []
SEEN_REQUESTS: list[GenerationRequest] = []


class Counting(Generator):
    """Counts how often it is asked to generate; echoes training positives with a suffix."""

    name = "counting"
    description = "test generator"
    parameters = (Param("suffix", "str", "x"),)

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        CALLS.append(request.n)
        SEEN_REQUESTS.append(request)
        texts = [f"{request.positives[i % len(request.positives)]} {self.config['suffix']}{i}" for i in range(request.n)]
        yield GeneratedBatch(texts, tokens=3 * request.n, raw=request.n + 2, rejected={"too short": 2})


class Leaky(Generator):
    """Tries to smuggle test rows into training."""

    name = "leaky"
    description = "test generator"
    stolen: list[str] = []

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        yield GeneratedBatch(list(self.stolen))
        yield GeneratedBatch([f"fresh text {request.seed} {i}" for i in range(request.n)])


class Exploding(Classifier):
    name = "exploding"
    description = "test classifier"
    parameters = (Param("when", "str", "fit", choices=("fit", "nan", "single")),)

    def __init__(self, when: str = "fit") -> None:
        self.when = when

    def fit(self, X, y, validation=None):
        if self.when == "fit":
            raise RuntimeError("boom in fit")
        self.classes_ = np.array([0]) if self.when == "single" else np.array([0, 1])
        return self

    def predict_proba(self, X):
        if self.when == "single":
            return np.ones((len(X), 1))
        return np.full((len(X), 2), np.nan)


test_plugin = types.SimpleNamespace()


@hookimpl
def _register_generators(register) -> None:
    for cls in (Counting, Leaky):
        register(cls)


@hookimpl
def _register_classifiers(register) -> None:
    register(Exploding)


test_plugin.register_generators = _register_generators
test_plugin.register_classifiers = _register_classifiers


@pytest.fixture
def registry():
    plugins = load_plugins(extra=[("runner-tests", test_plugin)], entry_points=False)
    assert not plugins.failures, plugins.failures
    return plugins.registry


def run_grid(registry, results: Path, generators, classifiers, levels=(0.01, 0.05), force=False, seeds=(0,)):
    suite = Suite("test", datasets=[DATASET], generators=list(generators), classifiers=list(classifiers), seeds=list(seeds), protocol=Protocol(levels=levels).validate(), bootstrap=100)
    cells = plan_cells(
        suite.resolve(registry, "dataset"), suite.resolve(registry, "generator"), suite.resolve(registry, "classifier"), suite.protocol, suite.seeds, suite.bootstrap
    )
    from sparsebench.contracts.settings import data_dir

    with ResultStore(results) as store:
        runner = Runner(store, GenerationCache(results / "cache"), RunOptions(protocol=suite.protocol, data_dir=data_dir(), force=force, download=False))
        summary = runner.run(cells)
        rows = {r["cell_id"]: r for r in store.rows(summary.cell_ids)}
    return summary, rows


def metrics_of(rows: dict) -> dict:
    return {cid: (r["status"], r["metrics"]) for cid, r in rows.items()}


def test_grid_statuses_and_resume(registry, tmp_path: Path) -> None:
    generators, classifiers = ["real-only", "oversample", "real-extra"], ["logreg"]
    first, rows = run_grid(registry, tmp_path, generators, classifiers)
    assert len(rows) == 1 + 2 * 2  # real-only at the base share only
    assert first.computed == 5 and first.reused == 0 and first.statuses == {"done": 5}
    levels = sorted((r["generator"], r["level"]) for r in rows.values())
    assert levels == [("oversample", 0.01), ("oversample", 0.05), ("real-extra", 0.01), ("real-extra", 0.05), ("real-only", 0.0025)]
    for row in rows.values():
        assert set(row["metrics"]) >= {"auprc", "auroc", "f1@val", "precision@0.5"}
        assert row["metrics"]["auprc"]["low"] <= row["metrics"]["auprc"]["value"] <= row["metrics"]["auprc"]["high"]
        assert row["env"]["packages"]["scikit-learn"] and row["details"]["dataset_fingerprint"]
        assert row["timings"]["train_samples_per_s"] > 0 and row["timings"]["peak_rss_mb"] > 50
        if row["generator"] != "real-only":
            assert row["timings"]["generation_peak_rss_mb"] > 50 and row["timings"]["generation_texts_per_s"] > 0
    second, again = run_grid(registry, tmp_path, generators, classifiers)
    assert second.computed == 0 and second.reused == 5
    assert metrics_of(again) == metrics_of(rows)
    forced, recomputed = run_grid(registry, tmp_path, ["oversample"], classifiers, force=True)
    assert forced.computed == 2
    assert all(recomputed[c]["metrics"] == rows[c]["metrics"] for c in recomputed)  # same seeds, same numbers


def test_results_reproduce_in_a_fresh_store(registry, tmp_path: Path) -> None:
    _, a = run_grid(registry, tmp_path / "a", ["oversample", "real-extra"], ["logreg"], levels=(0.03,))
    _, b = run_grid(registry, tmp_path / "b", ["oversample", "real-extra"], ["logreg"], levels=(0.03,))
    assert metrics_of(a) == metrics_of(b)


def test_generation_is_cached_across_classifiers_and_levels(registry, tmp_path: Path) -> None:
    CALLS.clear()
    run_grid(registry, tmp_path, ["counting"], ["logreg"])
    assert CALLS == [64] * len(CALLS) and len(CALLS) >= 1
    generated = len(CALLS)
    run_grid(registry, tmp_path, ["counting"], ["exploding[when=nan]"])
    assert len(CALLS) == generated  # a classifier change never re-generates
    run_grid(registry, tmp_path, ["counting[suffix=y]"], ["logreg"])
    assert len(CALLS) == 2 * generated  # a generator parameter change does


def test_generators_see_training_positives_only(registry, tmp_path: Path, data_dir: Path) -> None:
    SEEN_REQUESTS.clear()
    run_grid(registry, tmp_path, ["counting"], ["logreg"], levels=(0.01,))
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(negatives=1500, positives=300, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    splits = make_splits(data, Protocol(), seed=0)
    request = SEEN_REQUESTS[0]
    assert request.positives == tuple(splits.train_pos)
    assert request.reserve == ()  # only generators that declare uses_reserve get it
    assert request.is_known(splits.test_texts[0]) and request.is_known(splits.val_texts[0].upper())
    assert not request.is_known("a brand new sentence nobody wrote before")


def test_leakage_guard_rejects_validation_and_test_rows(registry, tmp_path: Path, data_dir: Path) -> None:
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(negatives=1500, positives=300, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    splits = make_splits(data, Protocol(), seed=0)
    Leaky.stolen = splits.test_texts[:5] + splits.val_texts[:3]
    _, rows = run_grid(registry, tmp_path, ["leaky"], ["logreg"], levels=(0.01,))
    (row,) = rows.values()
    assert row["status"] == "done"
    assert row["details"]["generation"]["rejected"]["matches a validation or test row"] == 8


def test_failing_classifiers_become_rows_and_the_run_goes_on(registry, tmp_path: Path) -> None:
    summary, rows = run_grid(registry, tmp_path, ["oversample"], ["exploding", "exploding[when=nan]", "exploding[when=single]", "logreg"], levels=(0.01,))
    by_classifier = {r["classifier"]: r for r in rows.values()}
    assert by_classifier["exploding"]["status"] == "error"
    assert by_classifier["exploding"]["reason"] == "RuntimeError: boom in fit"
    assert "NaN or infinite scores" in by_classifier["exploding[when=nan]"]["reason"]
    assert "single class" in by_classifier["exploding[when=single]"]["reason"]
    assert by_classifier["logreg"]["status"] == "done"
    assert "boom in fit" in by_classifier["exploding"]["details"]["traceback"]
    assert summary.statuses == {"error": 3, "done": 1}
    again, _ = run_grid(registry, tmp_path, ["oversample"], ["exploding", "logreg"], levels=(0.01,))
    assert again.computed == 1 and again.reused == 1  # errors are retried, done cells are not


def test_real_extra_draws_from_the_reserve_only(registry, tmp_path: Path, data_dir: Path) -> None:
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix
    from sparsebench.plugins.generators.real_extra import RealExtra

    data = ToxicMix(negatives=1500, positives=300, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    splits = make_splits(data, Protocol(), seed=0)
    from sparsebench.engine.generation import generate

    result = generate(RealExtra(), splits, 128, seed=1, device="cpu", cache=GenerationCache(tmp_path / "c"))
    assert len(result.texts) == len(set(result.texts)) == 128
    assert set(result.texts) <= set(splits.reserve)
    assert not any(dedup_key(t) in splits.eval_keys for t in result.texts)
