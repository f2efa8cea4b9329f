"""A conformance suite plugin authors can run against their components.

    from sparsebench.testing import check_classifier, check_generator

    def test_my_classifier():
        check_classifier(MyClassifier)

Each check raises ``AssertionError`` with a message that says which rule was broken. Components can
set ``test_params`` (a dict of cheap parameter values) so the checks train and generate quickly.
``check_classifier`` trains on a small synthetic-vocabulary task that any text classifier should learn.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from .components import Classifier, Component, GeneratedBatch, GenerationRequest, Generator
from .errors import SpecError, Unavailable
from .params import resolve_params

_TOXIC = ["you are a worthless idiot", "shut up you stupid clown", "what a pathetic moron", "get lost, loser, nobody likes you",
          "you disgusting little troll", "total idiot, go away", "stupid pathetic trash person", "you moron, shut your mouth"]
_CLEAN = ["thanks for sharing the recipe", "the game last night was great", "I agree with your point about taxes",
          "lovely weather in the park today", "has anyone tried the new library app", "congrats on the new job",
          "the train was late again this morning", "what a beautiful photo of the lake", "good luck with the exam",
          "I will bring snacks to the meeting", "this article explains the budget well", "happy birthday to your sister"]


def toy_task(n: int = 240, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """A small labelled task (25 % toxic) built from fixed phrases with random filler words."""
    rng = np.random.default_rng(seed)
    filler = ["really", "today", "again", "honestly", "well", "so", "just", "here"]
    texts, labels = [], []
    for i in range(n):
        toxic = i % 4 == 0
        base = _TOXIC[rng.integers(len(_TOXIC))] if toxic else _CLEAN[rng.integers(len(_CLEAN))]
        words = base.split() + list(rng.choice(filler, size=2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(int(toxic))
    return texts, np.array(labels)


def check_declared_parameters(component: type[Component]) -> None:
    """Names are valid, defaults pass their own checks, and unknown parameters are rejected."""
    assert component.name, f"{component.__name__} needs a `name`"
    assert component.description, f"{component.name}: add a one-line `description`"
    names = [p.name for p in component.parameters]
    assert len(names) == len(set(names)), f"{component.name}: parameter names repeat: {names}"
    for param in component.parameters:
        if param.default is not None:
            param.coerce(param.default, component.name)
    try:
        resolve_params(component.name, component.parameters, {"no_such_parameter_xyz": "1"})
    except SpecError:
        pass
    else:  # pragma: no cover - resolve_params always raises here
        raise AssertionError(f"{component.name}: unknown parameters must be rejected")


def check_classifier(cls: type[Classifier], params: dict[str, Any] | None = None, min_auprc: float = 0.6) -> Classifier:
    """The scikit-learn contract, reproducibility, and learning on :func:`toy_task`."""
    from sklearn.base import clone
    from sklearn.metrics import average_precision_score

    check_declared_parameters(cls)
    values = {**{p.name: p.default for p in cls.parameters}, **getattr(cls, "test_params", {}), **(params or {})}
    estimator = cls(**values)
    assert estimator.get_params(deep=False) == values, f"{cls.name}: __init__ must store every parameter unchanged"
    assert clone(estimator).get_params(deep=False) == values, f"{cls.name}: clone() must reproduce the parameters"
    try:
        estimator.check_available()
    except Unavailable:
        return estimator
    texts, labels = toy_task()
    val = (texts[:60], labels[:60])
    fitted = estimator.fit(texts[60:], labels[60:], validation=val)
    assert fitted is estimator, f"{cls.name}: fit must return self"
    assert list(estimator.classes_) == [0, 1], f"{cls.name}: classes_ must be [0, 1]"
    test_texts, test_labels = toy_task(120, seed=1)
    proba = np.asarray(estimator.predict_proba(test_texts))
    assert proba.shape == (len(test_texts), 2), f"{cls.name}: predict_proba must return shape (n, 2), got {proba.shape}"
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1, atol=1e-4), f"{cls.name}: rows of predict_proba must be probabilities"
    auprc = average_precision_score(test_labels, proba[:, 1])
    assert auprc >= min_auprc, f"{cls.name}: AUPRC {auprc:.3f} on the toy task is below {min_auprc}"
    assert set(np.unique(estimator.predict(test_texts))) <= {0, 1}
    return estimator


def check_generator(cls: type[Generator], params: dict[str, Any] | None = None, positives: Sequence[str] | None = None, n: int = 8) -> list[str]:
    """Batches of strings, at most ``n`` accepted texts, and the same texts again for the same seed."""
    check_declared_parameters(cls)
    assert inspect.isgeneratorfunction(cls.generate) or callable(cls.generate), f"{cls.name}: generate must be callable"
    values = {**{p.name: p.default for p in cls.parameters}, **getattr(cls, "test_params", {}), **(params or {})}
    positives = tuple(positives or _TOXIC)

    def run(seed: int) -> list[str]:
        generator = cls(**values)
        try:
            generator.check_available()
        except Unavailable:
            return []
        request = GenerationRequest(n=n, positives=positives, seed=seed, device="cpu", reserve=tuple(_TOXIC) if cls.uses_reserve else ())
        texts: list[str] = []
        for batch in generator.generate(request):
            assert isinstance(batch, GeneratedBatch), f"{cls.name}: generate must yield GeneratedBatch objects"
            assert all(isinstance(t, str) for t in batch.texts), f"{cls.name}: texts must be strings"
            assert all(isinstance(v, int) and v >= 0 for v in batch.rejected.values()), f"{cls.name}: rejected counts must be ints"
            texts += batch.texts
            if len(texts) >= n:
                break
        return texts[:n]

    first = run(1234)
    if cls.synthetic:
        assert first or _unavailable(cls, values), f"{cls.name}: produced no texts for n={n}"
    assert run(1234) == first, f"{cls.name}: the same seed must give the same texts"
    return first


def _unavailable(cls: type[Generator], values: dict[str, Any]) -> bool:
    try:
        cls(**values).check_available()
    except Unavailable:
        return True
    return False
