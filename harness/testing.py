"""A conformance suite plugin authors run against their components.

    from sparsebench.testing import check_classifier, check_generator

    def test_my_generator():
        check_generator(MyGenerator)

Each check raises ``AssertionError`` with a message that names the rule broken. A component that
cannot run here (its ``check_available`` raises :class:`~sparsebench.Unavailable`) makes the check
raise :class:`ConformanceSkip`, which pytest and unittest report as SKIPPED with the reason, never as
passed. Components can set ``test_params`` (cheap parameter values) so the checks run quickly.

``check_generator`` asks for several chunks the way the runner does (``chunk_size`` texts each, each
chunk with its own seed, texts accepted earlier known to ``is_known``) and fails on a shortfall, a
crash mid-way, a loop that makes no progress within ``time_limit`` seconds, output that copies
validation or test rows, and texts that change for the same seed. ``check_classifier`` checks the
scikit-learn contract with :func:`sklearn.base.clone`, learning on :func:`toy_task`, and a
single-class training batch.
"""

from __future__ import annotations

import time
import unittest
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sparsebench.contracts.components import Classifier, Component, GeneratedBatch, GenerationRequest, Generator
from sparsebench.contracts.errors import SpecError, Unavailable
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.contracts.params import resolve_params
from sparsebench.protocol.seeds import derive_seed

_TOXIC = ["you are a worthless idiot", "shut up you stupid clown", "what a pathetic moron", "get lost, loser, nobody likes you",
          "you disgusting little troll", "total idiot, go away", "stupid pathetic trash person", "you moron, shut your mouth"]
_CLEAN = ["thanks for sharing the recipe", "the game last night was great", "I agree with your point about taxes",
          "lovely weather in the park today", "has anyone tried the new library app", "congrats on the new job",
          "the train was late again this morning", "what a beautiful photo of the lake", "good luck with the exam",
          "I will bring snacks to the meeting", "this article explains the budget well", "happy birthday to your sister"]
_FILLER = ["really", "today", "again", "honestly", "well", "so", "just", "here"]
#: words only validation and test rows of :func:`toy_split` hold, so no generator writes such a row by chance
_EVAL_ONLY = ["meanwhile", "frankly", "anyway", "basically", "apparently", "seriously"]
SEED = 1234


class ConformanceSkip(unittest.SkipTest):
    """The component cannot run here; test runners report the check as SKIPPED with this reason."""


def toy_task(n: int = 240, seed: int = 0, extra: Sequence[str] = ()) -> tuple[list[str], np.ndarray]:
    """A small labelled task (25 % toxic) built from fixed phrases with random filler words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        toxic = i % 4 == 0
        base = _TOXIC[rng.integers(len(_TOXIC))] if toxic else _CLEAN[rng.integers(len(_CLEAN))]
        words = base.split() + list(rng.choice(_FILLER, size=2)) + list(rng.choice(list(extra), size=1) if extra else [])
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(int(toxic))
    return texts, np.array(labels)


@dataclass(frozen=True)
class ToySplit:
    """Training positives for a generator, and the validation and test rows it must never write."""

    train_positives: tuple[str, ...]
    eval_texts: tuple[str, ...]
    reserve: tuple[str, ...] = ()

    @property
    def eval_keys(self) -> frozenset[str]:
        return frozenset(dedup_key(t) for t in self.eval_texts)


def toy_split(positives: Iterable[str] | None = None) -> ToySplit:
    """The check's data: toy training positives (or ``positives``) and 120 validation/test rows."""
    train, labels = toy_task(160, seed=0)
    chosen = tuple(dict.fromkeys(positives or (t for t, label in zip(train, labels, strict=True) if label)))
    evals, _ = toy_task(120, seed=1, extra=_EVAL_ONLY)
    spare, spare_labels = toy_task(1200, seed=3)
    reserve = tuple(dict.fromkeys(t for t, label in zip(spare, spare_labels, strict=True) if label and t not in chosen))
    return ToySplit(chosen, tuple(evals), reserve)


def _skip_unless_available(component: Component) -> None:
    try:
        component.check_available()
    except Unavailable as exc:
        raise ConformanceSkip(f"{component.name}: cannot run here: {exc}") from None


def _values(cls: type[Component], params: dict[str, Any] | None) -> dict[str, Any]:
    return {**{p.name: p.default for p in cls.parameters}, **getattr(cls, "test_params", {}), **(params or {})}


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


# --- generators ----------------------------------------------------------------------------------


@dataclass
class _Chunk:
    texts: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0


def check_generator(
    cls: type[Generator],
    params: dict[str, Any] | None = None,
    positives: Sequence[str] | None = None,
    chunks: int = 3,
    time_limit: float = 300.0,
) -> list[str]:
    """Run ``chunks`` chunks as the runner would and return the accepted texts (see the module docstring)."""
    check_declared_parameters(cls)
    values = _values(cls, params)
    split = toy_split(positives)
    _skip_unless_available(cls(**values))
    deadline = time.monotonic() + time_limit
    first = _run_chunks(cls(**values), split, chunks, deadline, time_limit)
    again = _run_chunks(cls(**values), split, 1, deadline, time_limit)
    assert again == first[: len(again)], f"{cls.name}: the same seed must give the same texts (chunk 0 differed on a second run)"
    return first


def _run_chunks(generator: Generator, split: ToySplit, chunks: int, deadline: float, time_limit: float) -> list[str]:
    size = int(getattr(generator, "chunk_size", Generator.chunk_size))
    seen = {dedup_key(t) for t in split.train_positives} | set(split.eval_keys)
    accepted: list[str] = []
    for index in range(chunks):
        chunk = _run_chunk(generator, split, index, size, seen, (deadline, time_limit))
        if generator.synthetic and len(chunk.texts) < size:
            reasons = ", ".join(f"{why} {n}" for why, n in chunk.rejected.most_common(3)) or "none"
            raise AssertionError(
                f"{generator.name}: shortfall: produced {len(chunk.texts)} of {size} texts in chunk {index} "
                f"({sum(chunk.rejected.values())} rejected: {reasons}); the runner would fail every cell"
            )
        if not generator.synthetic:
            assert not chunk.texts, f"{generator.name}: synthetic = False, but it produced {len(chunk.texts)} texts"
        accepted += chunk.texts
        seen.update(dedup_key(t) for t in chunk.texts)
    return accepted


def _run_chunk(generator: Generator, split: ToySplit, index: int, size: int, seen: set[str], limit: tuple[float, float]) -> _Chunk:
    chunk = _Chunk()
    local: set[str] = set()
    request = GenerationRequest(
        n=size, positives=split.train_positives, seed=derive_seed(SEED, "chunk", index), device="cpu",
        reserve=split.reserve if generator.uses_reserve else (),
        is_known=lambda text: (key := dedup_key(text)) in seen or key in local,
    )
    batches: Any = None
    while len(chunk.texts) < size:
        try:
            batches = iter(generator.generate(request)) if batches is None else batches
            batch = next(batches, None)
        except Exception as exc:  # noqa: BLE001 - the point is to report it
            raise AssertionError(
                f"{generator.name}: generate raised {type(exc).__name__}: {exc} after {len(chunk.texts)} texts in chunk {index}"
            ) from exc
        if batch is None:
            break
        _absorb(generator, chunk, batch, split, local, size)
        _check_progress(generator, chunk, index, size, limit)
    return chunk


def _absorb(generator: Generator, chunk: _Chunk, batch: Any, split: ToySplit, local: set[str], size: int) -> None:
    assert isinstance(batch, GeneratedBatch), f"{generator.name}: generate must yield GeneratedBatch objects, got {type(batch).__name__}"
    assert all(isinstance(t, str) for t in batch.texts), f"{generator.name}: texts must be strings"
    assert all(isinstance(v, int) and v >= 0 for v in batch.rejected.values()), f"{generator.name}: rejected counts must be ints >= 0"
    chunk.batches += 1
    chunk.rejected.update(batch.rejected)
    leaked = [t for t in batch.texts if dedup_key(t) in split.eval_keys]
    assert not leaked, (
        f"{generator.name}: leakage: wrote {len(leaked)} validation/test rows (e.g. {leaked[0]!r}); "
        "write from request.positives only, never from another copy of the data"
    )
    for text in batch.texts:
        if not text.strip():
            chunk.rejected["empty"] += 1
        elif len(chunk.texts) < size:
            chunk.texts.append(text)
            local.add(dedup_key(text))


def _check_progress(generator: Generator, chunk: _Chunk, index: int, size: int, limit: tuple[float, float]) -> None:
    deadline, seconds = limit
    if time.monotonic() > deadline:
        raise AssertionError(
            f"{generator.name}: no end within {seconds:g} s: {chunk.batches} batches gave {len(chunk.texts)} of {size} texts "
            f"in chunk {index}; generate must stop (or raise) when it cannot make progress"
        )


# --- classifiers ---------------------------------------------------------------------------------


def check_classifier(cls: type[Classifier], params: dict[str, Any] | None = None, min_auprc: float = 0.6) -> Classifier:
    """The scikit-learn contract (through ``clone``), learning on :func:`toy_task`, and a single-class batch."""
    from sklearn.base import clone

    check_declared_parameters(cls)
    values = _values(cls, params)
    prototype = cls(**values)
    assert prototype.get_params(deep=False) == values, f"{cls.name}: __init__ must store every parameter unchanged"
    _skip_unless_available(prototype)
    estimator = clone(prototype)
    assert estimator.get_params(deep=False) == values, f"{cls.name}: clone() must reproduce the parameters"
    _check_learns(cls, estimator, min_auprc)
    assert not hasattr(clone(estimator), "classes_"), f"{cls.name}: clone() of a fitted model must be unfitted (set fitted state in fit only)"
    _check_single_class(cls, clone(prototype))
    return estimator


def _check_learns(cls: type[Classifier], estimator: Classifier, min_auprc: float) -> None:
    from sklearn.metrics import average_precision_score

    texts, labels = toy_task()
    fitted = estimator.fit(texts[60:], labels[60:], validation=(texts[:60], labels[:60]))
    assert fitted is estimator, f"{cls.name}: fit must return self"
    assert list(estimator.classes_) == [0, 1], f"{cls.name}: classes_ must be [0, 1]"
    test_texts, test_labels = toy_task(120, seed=1)
    proba = _check_proba(cls, estimator, test_texts)
    auprc = average_precision_score(test_labels, proba[:, 1])
    assert auprc >= min_auprc, f"{cls.name}: AUPRC {auprc:.3f} on the toy task is below {min_auprc}"
    assert set(np.unique(estimator.predict(test_texts))) <= {0, 1}, f"{cls.name}: predict must return labels 0/1"


def _check_proba(cls: type[Classifier], estimator: Classifier, texts: list[str]) -> np.ndarray:
    proba = np.asarray(estimator.predict_proba(texts))
    assert proba.shape == (len(texts), 2), f"{cls.name}: predict_proba must return shape (n, 2), got {proba.shape}"
    finite = np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)
    assert finite, f"{cls.name}: rows of predict_proba must be probabilities (finite, summing to 1)"
    return proba


def _check_single_class(cls: type[Classifier], estimator: Classifier) -> None:
    """Only negatives: either a ValueError that says so, or a model whose probabilities are still (n, 2)."""
    texts, labels = toy_task(80, seed=2)
    negatives = [t for t, label in zip(texts, labels, strict=True) if not label]
    try:
        estimator.fit(negatives, np.zeros(len(negatives), dtype=int))
    except ValueError as exc:
        assert str(exc).strip(), f"{cls.name}: fit on a single-class batch raised ValueError without a message"
        return
    except Exception as exc:  # noqa: BLE001 - the point is to report it
        raise AssertionError(
            f"{cls.name}: fit on a single-class batch raised {type(exc).__name__}: {exc}; raise ValueError saying both classes are needed"
        ) from exc
    _check_proba(cls, estimator, negatives[:10])
