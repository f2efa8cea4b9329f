"""Components that fail on purpose, for the reliability tests (never shipped).

Generators: ``fault-slow`` (correct but slow, small chunks: kills land mid-generation), ``fault-short``
(stops at half), ``fault-junk`` (only empty or non-string outputs), ``fault-raise``, ``fault-hang``.
Classifiers: ``fault-slow`` (correct but slow), ``fault-raise``, ``fault-nan``, ``fault-oneclass``,
``fault-oom`` (torch's CUDA out-of-memory error), ``fault-cuda`` (a real one, on a GPU), ``fault-memory`` (MemoryError), ``fault-hang``,
``fault-stubborn`` (hangs and swallows every Exception), ``fault-ctrlc`` (Ctrl-C while training).
Dataset: ``fault-broken`` (its loader crashes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from sparsebench import hookimpl
from sparsebench.contracts.components import Classifier, DataContext, Dataset, GeneratedBatch, GenerationRequest, Generator, LabelledTexts, Validation
from sparsebench.contracts.errors import Unavailable
from sparsebench.contracts.params import Param
from sparsebench.hooks.specs import Register

HANG_S = 3600.0


# --- generators ------------------------------------------------------------------------------------

#: a file's path: where it is set, ``fault-slow``'s generation waits (up to a minute) until the file exists, so a
#: test can hold the slow cells back while the others finish (tests/test_executor_ray.py sets it for its Ray workers)
GATE = "SPARSEBENCH_TEST_GATE"


def _wait_for_gate() -> None:
    gate = os.environ.get(GATE)
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)


class SlowGenerator(Generator):
    """Deterministic variants of the real positives, two per batch, ``delay`` seconds per batch."""

    name: ClassVar[str] = "fault-slow"
    description: ClassVar[str] = "test only: correct texts, slowly, in chunks of 8"
    parameters: ClassVar[tuple[Param, ...]] = (Param("delay", "float", 0.03, "seconds per batch of two texts", low=0),)
    chunk_size: ClassVar[int] = 8

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        _wait_for_gate()
        rng = np.random.default_rng(request.seed)
        made = 0
        while made < request.n:
            time.sleep(self.config["delay"])
            texts = [_variant(request, rng) for _ in range(2)]
            texts = [t for t in texts if not request.is_known(t)]
            made += len(texts)
            yield GeneratedBatch(texts=texts, raw=2, rejected={"duplicate": 2 - len(texts)} if len(texts) < 2 else {})


def _variant(request: GenerationRequest, rng: np.random.Generator) -> str:
    base = request.positives[int(rng.integers(len(request.positives)))]
    return f"{base} variant {int(rng.integers(1_000_000_000))}"


class ShortGenerator(Generator):
    name: ClassVar[str] = "fault-short"
    description: ClassVar[str] = "test only: returns half the texts asked for"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        yield GeneratedBatch(texts=[f"short text number {i}" for i in range(request.n // 2)])


class JunkGenerator(Generator):
    name: ClassVar[str] = "fault-junk"
    description: ClassVar[str] = "test only: yields empty strings, whitespace and non-strings"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        yield GeneratedBatch(texts=["", "   ", None, 42, b"bytes"] * request.n)  # type: ignore[list-item]


class RaisingGenerator(Generator):
    name: ClassVar[str] = "fault-raise"
    description: ClassVar[str] = "test only: raises in generate"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        raise RuntimeError("fault-raise: the model server went away")
        yield  # pragma: no cover - makes this a generator function


class HangingGenerator(Generator):
    name: ClassVar[str] = "fault-hang"
    description: ClassVar[str] = "test only: never returns"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        time.sleep(HANG_S)
        yield GeneratedBatch(texts=[])


# --- classifiers -----------------------------------------------------------------------------------


class _FaultClassifier(Classifier):
    """TF-IDF + logistic regression with a hook for each fault; subclasses declare ``parameters``."""

    parameters: ClassVar[tuple[Param, ...]] = (Param("random_state", "int", None, "seed (set by the runner)", nullable=True),)

    def __init__(self, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, X: Sequence[str], y: Any, validation: Validation | None = None) -> _FaultClassifier:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = self._check_classes(y)
        self.before_fit()
        self.vectorizer_ = TfidfVectorizer(sublinear_tf=True)
        self.model_ = LogisticRegression(class_weight="balanced", random_state=self.random_state, max_iter=1000)
        self.model_.fit(self.vectorizer_.fit_transform(list(X)), labels)
        return self

    def before_fit(self) -> None:
        pass

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self.vectorizer_.transform(list(X))))


class SlowClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-slow"
    description: ClassVar[str] = "test only: correct, but sleeps before fitting"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("delay", "float", 0.15, "seconds to sleep in fit", low=0),
        Param("random_state", "int", None, "seed (set by the runner)", nullable=True),
    )

    def __init__(self, delay: float = 0.15, random_state: int | None = None) -> None:
        self.delay = delay
        self.random_state = random_state

    def before_fit(self) -> None:
        time.sleep(self.delay)


class RaisingClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-raise"
    description: ClassVar[str] = "test only: raises in fit"

    def before_fit(self) -> None:
        raise ValueError("fault-raise: the solver diverged")


class NaNClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-nan"
    description: ClassVar[str] = "test only: NaN scores"

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return np.full((len(X), 2), np.nan)


class OneClassClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-oneclass"
    description: ClassVar[str] = "test only: learns a single class"

    def fit(self, X: Sequence[str], y: Any, validation: Validation | None = None) -> OneClassClassifier:
        self.classes_ = np.array([0])
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return np.ones((len(X), 1))


class OOMClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-oom"
    description: ClassVar[str] = "test only: raises torch.cuda.OutOfMemoryError in fit"

    def before_fit(self) -> None:
        message = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.80 GiB"
        try:
            import torch
        except ImportError:
            raise RuntimeError(message) from None  # what torch before 2.1 raised
        raise torch.cuda.OutOfMemoryError(message)


class CudaClassifier(_FaultClassifier):
    """Holds ``gib`` GiB on the GPU, then asks for as much again: a real CUDA out-of-memory error.

    If the memory of an earlier cell was not given back, the first allocation fails instead.
    """

    name: ClassVar[str] = "fault-cuda"
    description: ClassVar[str] = "test only: a real CUDA out-of-memory error (needs a GPU)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("gib", "int", 100, "GiB held before the failing allocation", low=1),
        Param("random_state", "int", None, "seed (set by the runner)", nullable=True),
    )

    def __init__(self, gib: int = 100, random_state: int | None = None) -> None:
        self.gib = gib
        self.random_state = random_state

    def check_available(self) -> None:
        import torch

        if not torch.cuda.is_available():
            raise Unavailable("fault-cuda needs a CUDA GPU")

    def before_fit(self) -> None:
        import torch

        try:
            self.held_ = torch.empty(self.gib * 2**30, dtype=torch.uint8, device="cuda")
        except torch.cuda.OutOfMemoryError:
            raise RuntimeError("the GPU memory of an earlier cell was not given back") from None
        self.more_ = torch.empty(self.gib * 2**30, dtype=torch.uint8, device="cuda")


class MemoryClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-memory"
    description: ClassVar[str] = "test only: raises MemoryError in fit"

    def before_fit(self) -> None:
        raise MemoryError


class HangingClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-hang"
    description: ClassVar[str] = "test only: fit never returns"

    def before_fit(self) -> None:
        time.sleep(HANG_S)


class StubbornClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-stubborn"
    description: ClassVar[str] = "test only: hangs, and swallows every Exception raised while it waits"

    def before_fit(self) -> None:
        for _ in range(3):
            try:
                time.sleep(HANG_S)
            except Exception:  # noqa: BLE001 - on purpose: a time limit must not be swallowed like this
                pass


class CtrlCClassifier(_FaultClassifier):
    name: ClassVar[str] = "fault-ctrlc"
    description: ClassVar[str] = "test only: the user presses Ctrl-C while it trains"

    def before_fit(self) -> None:
        raise KeyboardInterrupt


# --- dataset ---------------------------------------------------------------------------------------


class BrokenDataset(Dataset):
    name: ClassVar[str] = "fault-broken"
    description: ClassVar[str] = "test only: the loader crashes"

    def load(self, ctx: DataContext) -> LabelledTexts:
        raise KeyError("fault-broken: the loader hit a bug")


GENERATORS = (SlowGenerator, ShortGenerator, JunkGenerator, RaisingGenerator, HangingGenerator)
CLASSIFIERS = (
    SlowClassifier,
    RaisingClassifier,
    NaNClassifier,
    OneClassClassifier,
    OOMClassifier,
    CudaClassifier,
    MemoryClassifier,
    HangingClassifier,
    StubbornClassifier,
    CtrlCClassifier,
)


@hookimpl
def register_generators(register: Register) -> None:
    for cls in GENERATORS:
        register(cls)


@hookimpl
def register_classifiers(register: Register) -> None:
    for cls in CLASSIFIERS:
        register(cls)


@hookimpl
def register_datasets(register: Register) -> None:
    register(BrokenDataset)
