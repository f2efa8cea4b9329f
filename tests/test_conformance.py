"""Every registered component passes the conformance suite that plugin authors run (sparsebench.testing)."""

from __future__ import annotations

import inspect
import random
import unittest
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sparsebench import Classifier, GeneratedBatch, GenerationRequest, Generator, Param, Unavailable
from sparsebench.hooks import specs as hookspecs
from sparsebench.hooks.loader import load_plugins
from sparsebench.testing import ConformanceSkip, check_classifier, check_declared_parameters, check_generator, toy_split

REGISTRY = load_plugins(entry_points=False).registry


@pytest.mark.parametrize("name", REGISTRY.names("classifier"))
def test_classifier_conformance(name: str) -> None:
    check_classifier(REGISTRY.get("classifier", name).cls)


@pytest.mark.parametrize("name", REGISTRY.names("generator"))
def test_generator_conformance(name: str) -> None:
    check_generator(REGISTRY.get("generator", name).cls)


@pytest.mark.parametrize("name", REGISTRY.names("dataset"))
def test_dataset_parameters(name: str) -> None:
    check_declared_parameters(REGISTRY.get("dataset", name).cls)


@pytest.mark.parametrize("hook", sorted(hookspecs.HOOKS))
def test_every_hook_is_documented_and_tested(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert ":param register:" in doc, f"{hook} needs a :param register: line in its docstring"
    tests = Path(__file__).parent
    used = [p.name for p in tests.glob("test_*.py") if p.name != Path(__file__).name and hook in p.read_text()]
    assert used, f"no test exercises the {hook} hook directly"
    docs = Path(__file__).parents[1] / "docs" / "plugins.md"
    assert hook in docs.read_text(), f"docs/plugins.md must document {hook}"


def test_conformance_catches_a_broken_classifier() -> None:
    class Forgetful(Classifier):
        name = "forgetful"
        description = "stores a parameter under another name"
        parameters = (Param("alpha", "float", 1.0),)

        def __init__(self, alpha: float = 1.0) -> None:
            self.beta = alpha

        def fit(self, X, y, validation=None):
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X):
            return np.tile([0.5, 0.5], (len(X), 1))

    with pytest.raises((AssertionError, AttributeError)):
        check_classifier(Forgetful)


class _Base(Generator):
    description = "a deliberately broken generator"

    def texts(self, request: GenerationRequest):
        """Distinct, new texts: two seeded positives joined (what the guide's shout does)."""
        rng = random.Random(request.seed)
        while True:
            first, second = rng.sample(request.positives, 2)
            text = f"{first} and also {second} {rng.randrange(10**6)}"
            if not request.is_known(text):
                yield text


class Works(_Base):
    name = "works"

    def generate(self, request):
        texts = self.texts(request)
        while True:
            yield GeneratedBatch([next(texts) for _ in range(16)])


class OldDocsShout(_Base):
    """The guide's former example: one batch of shouted positives, which the dedup rejects."""

    name = "old-shout"

    def generate(self, request):
        texts = [p.upper() + "!" for p in request.positives]
        kept = [t for t in texts if not request.is_known(t)]
        yield GeneratedBatch(kept[: request.n], raw=len(texts), rejected={"duplicate": len(texts) - len(kept)})


class CrashesAt40(_Base):
    name = "crashes"

    def generate(self, request):
        texts = self.texts(request)
        yield GeneratedBatch([next(texts) for _ in range(40)])
        raise RuntimeError("out of ideas")


class EmptyForever(_Base):
    name = "empty-forever"

    def generate(self, request):
        while True:
            yield GeneratedBatch([])


class Leaky(_Base):
    """Reads its own copy of the data instead of request.positives (and so writes test rows)."""

    name = "leaky"

    def generate(self, request):
        yield GeneratedBatch(list(toy_split().eval_texts[:8]))
        yield from Works().generate(request)


class Unseeded(Works):
    name = "unseeded"

    def generate(self, request):
        yield from Works.generate(self, replace(request, seed=random.randrange(10**9)))


class NoTorch(Works):
    name = "no-torch"

    def check_available(self):
        raise Unavailable("needs torch: pip install 'sparsebench[torch]'")


def test_a_working_generator_passes_several_chunks() -> None:
    texts = check_generator(Works)
    assert len(texts) == 3 * Works.chunk_size == len(set(texts))


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (OldDocsShout, r"old-shout: shortfall: produced 0 of 64 texts in chunk 0 \(40 rejected: duplicate 40\)"),
        (CrashesAt40, r"crashes: generate raised RuntimeError: out of ideas after 40 texts in chunk 0"),
        (EmptyForever, r"empty-forever: no end within 0.5 s: \d+ batches gave 0 of 64 texts in chunk 0"),
        (Leaky, r"leaky: leakage: wrote 8 validation/test rows"),
        (Unseeded, r"unseeded: the same seed must give the same texts"),
    ],
)
def test_conformance_fails_a_broken_generator_naming_the_problem(broken: type[Generator], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_generator(broken, time_limit=0.5 if broken is EmptyForever else 60.0)


def test_a_component_that_cannot_run_is_skipped_with_its_reason() -> None:
    with pytest.raises(ConformanceSkip, match=r"no-torch: cannot run here: needs torch: pip install"):
        check_generator(NoTorch)
    assert issubclass(ConformanceSkip, unittest.SkipTest)  # what pytest and unittest report as SKIPPED


class _Classifier(Classifier):
    description = "a deliberately broken classifier"
    parameters = (Param("alpha", "float", 1.0),)

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X, y, validation=None):
        labels = self._check_classes(y)
        self.weights_ = {w: labels[[w in t.split() for t in X]].mean() for w in {w for t in X for w in t.split()}}
        return self

    def predict_proba(self, X):
        score = np.array([max([self.weights_.get(w, 0.0) for w in t.split()] or [0.0]) for t in X])
        return np.column_stack([1 - score, score])


class Counting(_Classifier):
    name = "counting"


class SingleClassCrash(_Classifier):
    name = "single-class-crash"

    def fit(self, X, y, validation=None):
        self.classes_ = np.unique(y)
        self.weights_ = {w: np.asarray(y)[[w in t.split() for t in X]].mean() for w in {w for t in X for w in t.split()}}
        self.weights_[""] = np.bincount(np.asarray(y))[1]  # IndexError with no positives
        return self


class FittedInInit(_Classifier):
    name = "fitted-in-init"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.classes_ = np.array([0, 1])


def test_conformance_checks_classifiers_through_clone_and_a_single_class_batch() -> None:
    assert isinstance(check_classifier(Counting), Counting)
    with pytest.raises(AssertionError, match=r"single-class-crash: fit on a single-class batch raised IndexError"):
        check_classifier(SingleClassCrash)
    with pytest.raises(AssertionError, match=r"fitted-in-init: clone\(\) of a fitted model must be unfitted"):
        check_classifier(FittedInInit)
