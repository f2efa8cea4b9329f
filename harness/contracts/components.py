"""The contracts every dataset, generator and classifier plugin implements.

* :class:`Dataset` returns labelled texts with their provenance.
* :class:`Generator` writes synthetic positives in batches and says what it spent.
* :class:`Classifier` follows the scikit-learn estimator contract (``fit`` / ``predict_proba`` /
  ``get_params``), so any estimator that reads raw texts can be wrapped.

Components declare their parameters once, as :class:`~sparsebench.contracts.params.Param` tuples in
``parameters``: that list drives the constructor (a class without its own ``__init__`` gets one whose
signature lists exactly those parameters, so scikit-learn's ``get_params`` and ``clone`` work), stores
each value as an attribute of the same name, and gives ``config`` (every parameter's value) and
``bench list``. The CLI accepts ``name[param=value,...]`` and checks values before anything runs.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from sparsebench.contracts.params import Param, resolve_params


class Component:
    """What all components share: a registry name, a one-line description and declared parameters."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    #: what the component is to the analysis (:mod:`sparsebench.analysis.roles`): ``"baseline"`` (a generator every
    #: other is compared with), ``"upper-bound"`` (a generator of real positives: the exchange rate's
    #: calibration), ``"control"`` (a classifier that must not learn the label), or None (an ordinary one)
    role: ClassVar[str | None] = None
    #: cheap parameter values for the conformance suite (:mod:`sparsebench.testing`), e.g. a tiny budget
    test_params: ClassVar[dict[str, Any]] = {}
    #: what one task of this component asks a scheduler for (the Ray executor): CPUs, and GPUs on CUDA only
    cpus: ClassVar[float] = 1.0
    gpus: ClassVar[float] = 0.0
    #: runs only with parameters its user gives (a file, a server URL): ``"*"`` in a suite leaves it out
    needs_parameters: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        """Store every declared parameter as an attribute (its default when not given)."""
        declared = type(self).parameters
        unknown = sorted(set(values) - {p.name for p in declared})
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}")
        for param in declared:
            setattr(self, param.name, values.get(param.name, param.default))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__ and _generated_init(cls):
            cls.__init__ = _constructor(cls)  # type: ignore[method-assign]

    @property
    def config(self) -> dict[str, Any]:
        """Every declared parameter's value, by name."""
        return {param.name: getattr(self, param.name) for param in type(self).parameters}

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> Component:
        """Build an instance from raw ``param=value`` overrides, checking each value first."""
        return cls(**resolve_params(f"{cls.kind} {cls.name!r}", cls.parameters, overrides))

    def check_available(self) -> None:  # noqa: B027 - optional hook with a default
        """Raise :class:`~sparsebench.contracts.errors.Unavailable` when this component cannot run here."""

    @classmethod
    def demand(cls, device: str) -> dict[str, float]:
        """The CPUs and GPUs one task of this component needs when it runs on ``device``."""
        return {"num_cpus": float(cls.cpus), "num_gpus": float(cls.gpus) if device.startswith("cuda") else 0.0}

    def resources(self) -> dict[str, Any]:
        """What the component used (weights, budget, device), recorded in the result row."""
        return {}


def _generated_init(cls: type) -> bool:
    """Whether the ``__init__`` ``cls`` inherits is Component's own or a generated one (not a hand-written one)."""
    owner = next(base for base in cls.__mro__[1:] if "__init__" in base.__dict__)
    return owner is Component or getattr(owner.__dict__["__init__"], "_from_parameters", False)


def _constructor(cls: type[Component]) -> Any:
    """``__init__`` for ``cls`` whose signature lists its declared parameters (keyword-only, with defaults)."""

    def __init__(self: Component, **values: Any) -> None:
        Component.__init__(self, **values)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    declared = [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default) for p in cls.parameters]
    __init__.__signature__ = inspect.Signature([self_param, *declared])  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__._from_parameters = True  # type: ignore[attr-defined]
    return __init__


class ConfiguredComponent(Component):
    """Kept for plugins written against it: the same as :class:`Component` (parameters are attributes and ``config``)."""


# --- datasets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataContext:
    """Where datasets read from, and whether they may download what is missing."""

    data_dir: Path
    download: bool = True
    seed: int = 0


@dataclass
class LabelledTexts:
    """Texts with binary labels (1 = toxic), where each row came from, and spare real positives.

    ``reserve`` holds real positives that must stay out of every split (the ``real-extra``
    generator's upper bound draws from it). ``provenance`` names the files, checksums and licences.
    """

    texts: list[str]
    labels: np.ndarray
    sources: list[str]
    reserve: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: the platform of each row (``news``, ``twitter``, ``reddit``, ...); ``sources`` is its collection.
    #: Empty when unknown. The harness scores platform-only and collection-only negative controls.
    platforms: list[str] = field(default_factory=list)
    #: the unit each row belongs to (a post whose sentences are rows, a thread); empty when rows stand
    #: alone. The protocol keeps every group inside one split, so no two rows of a group straddle
    #: train, validation and test.
    groups: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int8)
        if not (len(self.texts) == len(self.labels) == len(self.sources)):
            raise ValueError("texts, labels and sources must have the same length")
        if self.platforms and len(self.platforms) != len(self.texts):
            raise ValueError("platforms must be empty or have one entry per text")
        if self.groups and len(self.groups) != len(self.texts):
            raise ValueError("groups must be empty or have one entry per text")


class Dataset(ConfiguredComponent, ABC):
    """A source of labelled texts. ``load`` must be deterministic for its parameters."""

    kind: ClassVar[str] = "dataset"

    @abstractmethod
    def load(self, ctx: DataContext) -> LabelledTexts:
        """Read (and if allowed download) the data and return it."""

    def fingerprint(self, ctx: DataContext) -> Any:
        """What the content depends on beyond the parameters and code (file digests, a recipe version), JSON-safe.

        Part of every cell's id, computed before anything runs, so keep it cheap. The default, ``None``,
        suits data fixed by the parameters and code (files pinned by checksum); read files must override it.
        """
        return None


# --- generators ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationRequest:
    """What the runner asks a generator for.

    ``positives`` are the real training positives only (never validation or test rows).
    ``reserve`` is filled only for generators that set ``uses_reserve`` (the upper-bound baseline).
    ``is_known(text)`` says whether a text duplicates a real row of any split (train, validation or
    test) or a text already accepted for this sequence, without handing those rows to the generator.
    """

    n: int
    positives: tuple[str, ...]
    seed: int
    device: str = "cpu"
    reserve: tuple[str, ...] = ()
    is_known: Callable[[str], bool] = field(default=lambda text: False, repr=False)
    #: how many texts of this (dataset, seed, generator) sequence earlier requests (chunks) produced
    offset: int = 0


@dataclass
class GeneratedBatch:
    """One batch of accepted texts and its cost.

    ``tokens`` counts new tokens generated (where the generator has them); ``raw`` counts raw outputs
    before cleaning; ``rejected`` maps a reason to how many raw outputs were dropped for it.
    ``rejected_texts`` may hold ``(reason, text)`` pairs of rejected outputs, for people to read
    (``bench samples GEN --rejected``); the runner stores at most ``REJECTED_KEPT`` per reason and chunk.
    """

    texts: list[str]
    tokens: int | None = None
    raw: int | None = None
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_texts: list[tuple[str, str]] = field(default_factory=list)


REJECTED_KEPT = 20


class Generator(ConfiguredComponent, ABC):
    """Writes synthetic positives.

    ``synthetic = False`` marks a generator that adds nothing and runs at the base share only; with
    ``role = "baseline"`` it is the reference every verdict is read against (``real-only``).
    ``uses_reserve = True`` marks generators that read held-back real positives (an upper bound).
    ``chunk_size`` is the unit of caching and resuming: the runner asks for that many texts at a time,
    each chunk with its own seed.
    """

    kind: ClassVar[str] = "generator"
    synthetic: ClassVar[bool] = True
    uses_reserve: ClassVar[bool] = False
    chunk_size: ClassVar[int] = 64

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        """Yield batches until ``request.n`` texts were accepted (or the generator gives up)."""

    def fingerprint(self, ctx: DataContext) -> Any:
        """What the texts depend on beyond the parameters and code (a corpus file's digest), JSON-safe, or None.

        As :meth:`Dataset.fingerprint`: part of every cell's id, computed before anything runs, so keep it cheap.
        """
        return None


# --- classifiers --------------------------------------------------------------------------------


Validation = tuple[Sequence[str], np.ndarray]


class Classifier(Component, ClassifierMixin, BaseEstimator):
    """A scikit-learn estimator over raw texts with labels 0/1.

    Subclasses list every parameter in ``__init__`` (stored unchanged, as scikit-learn requires)
    and in ``parameters``. ``fit(texts, y, validation=(texts, y))`` may use the validation set for
    early stopping; ``predict_proba`` returns an ``(n, 2)`` array ordered as ``classes_``.
    """

    kind: ClassVar[str] = "classifier"

    @abstractmethod
    def fit(self, X: Sequence[str], y: Any, validation: Validation | None = None) -> Classifier:
        """Train on texts ``X`` with labels ``y`` and return ``self``."""

    @abstractmethod
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(X), 2)``, columns ordered as ``classes_``."""

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[np.argmax(proba, axis=1)]

    def _check_classes(self, y: Any) -> np.ndarray:
        """Store ``classes_`` and return ``y`` as an int array; both classes must be present."""
        labels = np.asarray(y).astype(int)
        classes = np.unique(labels)
        if not np.array_equal(classes, [0, 1]):
            raise ValueError(f"training labels must hold both classes 0 and 1, got {classes.tolist()}")
        self.classes_ = classes
        return labels


def declared_names(component: type[Component]) -> list[str]:
    """Names of a component's declared parameters, in order."""
    return [param.name for param in component.parameters]
