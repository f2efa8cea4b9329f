"""Every component call, construction included, is isolated in its cell; stalled generations end.

A generator whose constructor raises, one that yields only empty batches, a classifier whose
constructor raises, and an unavailable component that becomes available: each is a row, the run goes
on, and failed or unavailable cells are retried by the next run.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparsebench import hookimpl
from sparsebench.contracts.components import Classifier, GeneratedBatch, GenerationRequest, Generator
from sparsebench.contracts.errors import Unavailable
from sparsebench.engine.generation import MAX_IDLE_BATCHES, ProgressGuard
from sparsebench.engine.grid import plan_cells
from sparsebench.engine.runner import Runner, RunOptions
from sparsebench.engine.suite import Suite
from sparsebench.hooks.loader import load_plugins
from sparsebench.protocol.sparsity import Protocol
from sparsebench.storage.cache import GenerationCache
from sparsebench.storage.store import ResultStore

DATASET = "toxic-mix[negatives=1500,positives=300]"
WEIGHTS_PRESENT = {"value": False}
EMPTY_BATCHES: list[int] = []


class BrokenInit(Generator):
    name = "broken-init"
    description = "test generator whose constructor raises"

    def __init__(self, **config: object) -> None:
        raise RuntimeError("broken-init: cannot reach the model server")

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:  # pragma: no cover - never built
        yield GeneratedBatch([])


class EmptyForever(Generator):
    name = "empty-forever"
    description = "test generator that only yields empty batches"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        while True:
            EMPTY_BATCHES.append(1)
            yield GeneratedBatch([], raw=4, rejected={"refusal": 4})


class NeedsWeights(Generator):
    name = "needs-weights"
    description = "test generator that is unavailable until its weights appear"

    def check_available(self) -> None:
        if not WEIGHTS_PRESENT["value"]:
            raise Unavailable("needs-weights: no weights under /nowhere; fetch them where there is network, then run again")

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        yield GeneratedBatch([f"{request.positives[i % len(request.positives)]} w{i}" for i in range(request.n)])


class BrokenClassifier(Classifier):
    name = "broken-classifier"
    description = "test classifier whose constructor raises"

    def __init__(self) -> None:
        raise ValueError("broken-classifier: bad configuration")

    def fit(self, X, y, validation=None):  # pragma: no cover - never built
        return self

    def predict_proba(self, X):  # pragma: no cover - never built
        raise AssertionError


plugin = types.SimpleNamespace()


@hookimpl
def _generators(register) -> None:
    for cls in (BrokenInit, EmptyForever, NeedsWeights):
        register(cls)


@hookimpl
def _classifiers(register) -> None:
    register(BrokenClassifier)


plugin.register_generators = _generators
plugin.register_classifiers = _classifiers


@pytest.fixture
def registry():
    plugins = load_plugins(extra=[("isolation-tests", plugin)], entry_points=False)
    assert not plugins.failures, plugins.failures
    return plugins.registry


def run_grid(registry, results: Path, generators, classifiers, generation_timeout=None):
    suite = Suite("test", datasets=[DATASET], generators=list(generators), classifiers=list(classifiers), seeds=[0],
                  protocol=Protocol(levels=(0.01,)).validate(), bootstrap=50)
    cells = plan_cells(suite.resolve(registry, "dataset"), suite.resolve(registry, "generator"), suite.resolve(registry, "classifier"),
                       suite.protocol, suite.seeds, suite.bootstrap)
    from sparsebench.contracts.settings import data_dir

    options = RunOptions(protocol=suite.protocol, data_dir=data_dir(), download=False, generation_timeout=generation_timeout)
    with ResultStore(results) as store:
        summary = Runner(store, GenerationCache(results / "cache"), options).run(cells)
        rows = {(r["generator"], r["classifier"]): r for r in store.rows(summary.cell_ids)}
    return summary, rows


def test_a_constructor_that_raises_fails_its_cells_only(registry, tmp_path: Path) -> None:
    summary, rows = run_grid(registry, tmp_path, ["broken-init", "oversample"], ["broken-classifier", "logreg"])
    assert len(rows) == 4 and summary.computed == 4
    broken_gen = rows[("broken-init", "logreg")]
    assert broken_gen["status"] == "error"
    assert broken_gen["reason"] == "generation failed: RuntimeError: broken-init: cannot reach the model server"
    assert "BrokenInit" in broken_gen["details"]["traceback"] or "__init__" in broken_gen["details"]["traceback"]
    broken_clf = rows[("oversample", "broken-classifier")]
    assert broken_clf["status"] == "error" and broken_clf["reason"] == "ValueError: broken-classifier: bad configuration"
    healthy = rows[("oversample", "logreg")]
    assert healthy["status"] == "done" and healthy["metrics"]["auprc"]["value"] > 0


def test_a_generator_of_empty_batches_is_an_error_in_bounded_time(registry, tmp_path: Path) -> None:
    EMPTY_BATCHES.clear()
    started = time.perf_counter()
    summary, rows = run_grid(registry, tmp_path, ["empty-forever", "oversample"], ["logreg"])  # no time limit at all
    elapsed = time.perf_counter() - started
    stalled = rows[("empty-forever", "logreg")]
    assert stalled["status"] == "error"
    assert stalled["reason"].startswith("generation failed: GenerationStalled: empty-forever made no progress")
    assert f"last {MAX_IDLE_BATCHES} batches" in stalled["reason"] and "refusal 800" in stalled["reason"]
    assert len(EMPTY_BATCHES) == MAX_IDLE_BATCHES  # it stopped at the bound, not at a timer
    assert rows[("oversample", "logreg")]["status"] == "done"
    assert elapsed < 60, elapsed


def test_the_guard_resets_on_progress_and_bounds_raw_outputs() -> None:
    guard = ProgressGuard("g", max_batches=3, max_raw=100)
    guard.batch(0, 10, {})
    guard.batch(0, 10, {})
    guard.batch(1, 10, {})  # progress: counting starts again
    guard.batch(0, 10, {})
    guard.batch(0, 10, {})
    with pytest.raises(RuntimeError, match="last 3 batches"):
        guard.batch(0, 10, {"x": 5})
    raw = ProgressGuard("g", max_batches=1000, max_raw=100)
    raw.batch(0, 60, {})
    with pytest.raises(RuntimeError, match="120 raw outputs"):
        raw.batch(0, 60, {"too short": 120})


def test_unavailable_and_error_cells_are_retried_and_the_reason_is_whole(registry, tmp_path: Path) -> None:
    WEIGHTS_PRESENT["value"] = False
    first, rows = run_grid(registry, tmp_path, ["needs-weights", "oversample"], ["logreg"])
    row = rows[("needs-weights", "logreg")]
    assert row["status"] == "unavailable"
    assert row["reason"] == "needs-weights: no weights under /nowhere; fetch them where there is network, then run again"
    WEIGHTS_PRESENT["value"] = True
    try:
        again, rows = run_grid(registry, tmp_path, ["needs-weights", "oversample"], ["logreg"])
    finally:
        WEIGHTS_PRESENT["value"] = False
    assert again.computed == 1 and again.reused == 1
    assert rows[("needs-weights", "logreg")]["status"] == "done"


def test_hand_picked_grids_have_the_generation_limit_their_help_states() -> None:
    from click.testing import CliRunner

    from sparsebench.cli.main import cli
    from sparsebench.engine.suite import DEFAULT_SUITE, load_suite

    limit = load_suite(DEFAULT_SUITE).generation_timeout
    assert limit is not None and limit > 0
    help_text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert f"{limit:g} s for --all and for grids picked with -d/-g/-c" in help_text
