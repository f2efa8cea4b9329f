"""The benchmark grid: datasets × seeds × generators × levels × classifiers, as resolved cells."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .atomic import digest
from .components import Component
from .params import Spec, format_spec, non_defaults, resolve_params
from .registry import Registry
from .sparsity import Protocol


@dataclass(frozen=True, eq=False)
class Resolved:
    """A component chosen for a run: its class and every parameter's value.

    Two are equal when kind, name and every parameter value are equal.
    """

    kind: str
    name: str
    cls: type[Component]
    params: dict[str, Any]

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
        return {"name": self.name, "params": self.params}

    def build(self) -> Any:
        return self.cls(**self.params)


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

    @property
    def config(self) -> dict[str, Any]:
        return {
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
        }

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
) -> list[Cell]:
    """Every cell, in the order the runner works through them (data and generation are shared)."""
    cells = []
    for dataset in datasets:
        for seed in seeds:
            for generator in generators:
                synthetic = getattr(generator.cls, "synthetic", True)
                levels = protocol.levels if synthetic else (protocol.base_share,)
                for level in levels:
                    for classifier in classifiers:
                        cells.append(Cell(dataset, generator, classifier, level, protocol.mode, seed, protocol, n_boot))
    return cells
