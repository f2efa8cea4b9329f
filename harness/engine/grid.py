"""The benchmark grid: datasets × seeds × generators × levels × classifiers, as resolved cells."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sparsebench.contracts.components import Component, DataContext
from sparsebench.contracts.params import Spec, format_spec, non_defaults, resolve_params
from sparsebench.engine.identity import component_identity, protocol_code
from sparsebench.hooks.registry import Registry
from sparsebench.protocol.sparsity import Protocol
from sparsebench.storage.atomic import digest


@dataclass(frozen=True, eq=False)
class Resolved:
    """A component chosen for a run: its class and every parameter's value.

    Two are equal when their identities are equal: kind, name, every parameter value, the component's
    version and source digest, and (for a dataset) the fingerprint of its content.
    """

    kind: str
    name: str
    cls: type[Component]
    params: dict[str, Any]
    content: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resolved) and (self.kind, digest(self.identity)) == (other.kind, digest(other.identity))

    def __hash__(self) -> int:
        return hash((self.kind, digest(self.identity)))

    @property
    def label(self) -> str:
        """``name[param=value]`` with only the parameters that differ from their defaults."""
        return format_spec(self.name, non_defaults(self.cls.parameters, self.params))

    @property
    def identity(self) -> dict[str, Any]:
        """Everything about the component that can change a result (see :mod:`sparsebench.engine.identity`)."""
        found = {"name": self.name, "params": self.params, **component_identity(self.cls)}
        if self.kind == "dataset" or self.content is not None:  # a generator with no fingerprint keeps its old identity
            found["content"] = self.content
        return found

    def build(self) -> Any:
        return self.cls(**self.params)


def with_content(dataset: Resolved, data_dir: Path) -> Resolved:
    """``dataset`` (or a generator that reads a file) with the fingerprint of its content (file digests, recipe version) filled in.

    A dataset that cannot be fingerprinted now (a missing file) gets the problem as its fingerprint:
    loading it reports the problem properly, and nothing stored can match it.
    """
    ctx = DataContext(data_dir, download=False)
    try:
        content = dataset.build().fingerprint(ctx)
    except Exception as exc:  # noqa: BLE001 - the load reports it with its own message
        content = {"unreadable": f"{type(exc).__name__}: {exc}"}
    return replace(dataset, content=content)


def _reads_content(component: Resolved) -> bool:
    """Whether a generator's texts depend on content beyond its parameters (it overrides ``fingerprint``)."""
    from sparsebench.contracts.components import Generator

    return getattr(component.cls, "fingerprint", Generator.fingerprint) is not Generator.fingerprint


def resolve(registry: Registry, kind: str, spec: Spec, defaults: dict[str, Any] | None = None) -> Resolved:
    """Look ``spec`` up and check its parameters (suite defaults first, then the spec's own)."""
    entry = registry.get(kind, spec.name)
    merged = {**(defaults or {}), **spec.overrides}
    params = resolve_params(f"{kind} {spec.name!r}", entry.cls.parameters, merged)
    return Resolved(kind, spec.name, entry.cls, params)


@dataclass(frozen=True)
class Cell:
    """One grid cell; ``cell_id`` hashes everything that can change its result."""

    dataset: Resolved
    generator: Resolved
    classifier: Resolved
    level: float
    mode: str
    seed: int
    protocol: Protocol
    n_boot: int
    evaluations: tuple[Resolved, ...] = ()  # functional test sets scored after training (HateCheck)

    @property
    def config(self) -> dict[str, Any]:
        config = {
            "dataset": self.dataset.identity,
            "generator": self.generator.identity,
            "classifier": self.classifier.identity,
            "level": self.level,
            "mode": self.mode,
            "seed": self.seed,
            "base_share": self.protocol.base_share,
            "split": list(self.protocol.split),
            "prevalence": self.protocol.prevalence,
            "bootstrap": self.n_boot,
            "protocol_code": protocol_code(),
        }
        if self.evaluations:
            config["evaluations"] = [e.identity for e in self.evaluations]
        return config

    @property
    def cell_id(self) -> str:
        return digest(self.config)[:12]

    @property
    def label(self) -> str:
        return f"{self.generator.label} × {self.classifier.label} @ {self.level:.2%} (seed {self.seed})"


def plan_cells(
    datasets: Sequence[Resolved],
    generators: Sequence[Resolved],
    classifiers: Sequence[Resolved],
    protocol: Protocol,
    seeds: Iterable[int],
    n_boot: int,
    data_dir: Path | None = None,
    evaluations: Sequence[Resolved] = (),
) -> list[Cell]:
    """Every cell, in the order the runner works through them (data and generation are shared).

    Datasets are fingerprinted here (``data_dir``: default ``$SPARSEBENCH_DATA``), so a cell's id
    changes when its data's content does.
    """
    from sparsebench.contracts.settings import data_dir as default_data_dir

    where = data_dir if data_dir is not None else default_data_dir()
    cells = []
    generators = [with_content(g, where) if _reads_content(g) else g for g in generators]
    for dataset in (with_content(d, where) for d in datasets):
        for seed in seeds:
            for generator in generators:
                for level in protocol.levels_for(generator.cls):
                    for classifier in classifiers:
                        cells.append(Cell(dataset, generator, classifier, level, protocol.mode, seed, protocol, n_boot, tuple(evaluations)))
    return cells
