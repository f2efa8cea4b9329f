"""``eda``: easy data augmentation of the real training positives, a baseline without any model.

Each synthetic text takes the next training positive in a seeded rotation and applies one to
``ops_per_text`` operations, each touching about ``alpha`` of its words:

* ``swap``: exchange two words;
* ``delete``: drop words (never all of them);
* ``insert``: insert words taken from *other* training positives (no synonym lists);
* ``noise``: character noise inside words (drop, double or swap adjacent letters).

Texts equal to a real row, to an earlier output or to their source are rejected. Deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, SpecError, UsageError, dedup_key, hookimpl

from ._admit import Admission

OPERATIONS = ("swap", "delete", "insert", "noise")
Words = list[str]


class EDAGenerator(Generator):
    name: ClassVar[str] = "eda"
    description: ClassVar[str] = "baseline: augment real training positives (word swap, deletion, insertion from others, char noise)"
    chunk_size: ClassVar[int] = 64
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("alpha", "float", 0.15, "share of a text's words each operation touches", low=0.01, high=0.9),
        Param("ops_per_text", "int", 2, "most operations applied to one text (1..this many, drawn per text)", low=1, high=6),
        Param("operations", "str", ",".join(OPERATIONS), "comma-separated subset of swap, delete, insert, noise"),
        Param("max_attempts", "int", 50, "draws per requested text before giving up", low=1),
    )

    def check_available(self) -> None:
        self._operations()

    def _operations(self) -> tuple[str, ...]:
        chosen = tuple(op.strip() for op in self.config["operations"].split(",") if op.strip())
        unknown = sorted(set(chosen) - set(OPERATIONS))
        if unknown or not chosen:
            given = self.config["operations"]
            raise SpecError(f"eda: operations must be a comma-separated subset of {', '.join(OPERATIONS)}; got {given!r}")
        return chosen

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        if not request.positives:
            raise UsageError("eda augments real training positives, and the training set has none")
        rng = np.random.default_rng([request.seed, 0xEDA])
        sources = [request.positives[i].split() for i in rng.permutation(len(request.positives))]
        operations = self._operations()
        admission = Admission(request, self.config["max_attempts"])
        while admission.wants_more():
            index = admission.attempts % len(sources)
            admission.attempts += 1
            text = self.augment(sources[index], sources, index, operations, rng)
            key = dedup_key(text)
            if not key or key == dedup_key(" ".join(sources[index])):
                admission.reject("unchanged", text)
            else:
                admission.offer(text)
        yield admission.batch()

    def augment(self, words: Words, sources: list[Words], index: int, operations: tuple[str, ...], rng: np.random.Generator) -> str:
        """Apply a random number of the chosen operations to one text."""
        out = list(words)
        for _ in range(int(rng.integers(1, self.config["ops_per_text"] + 1))):
            op = operations[int(rng.integers(len(operations)))]
            count = max(1, math.ceil(self.config["alpha"] * len(out)))
            out = _OPS[op](out, count, rng, sources, index)
        return " ".join(out)


def _swap(words: Words, count: int, rng: np.random.Generator, sources: list[Words], index: int) -> Words:
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(count):
        i, j = rng.choice(len(out), size=2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def _delete(words: Words, count: int, rng: np.random.Generator, sources: list[Words], index: int) -> Words:
    if len(words) <= 1:
        return list(words)
    drop = set(rng.choice(len(words), size=min(count, len(words) - 1), replace=False).tolist())
    return [w for i, w in enumerate(words) if i not in drop]


def _insert(words: Words, count: int, rng: np.random.Generator, sources: list[Words], index: int) -> Words:
    donors = [s for i, s in enumerate(sources) if i != index and s] or [s for s in sources if s]
    out = list(words)
    for _ in range(count):
        donor = donors[int(rng.integers(len(donors)))]
        out.insert(int(rng.integers(len(out) + 1)), donor[int(rng.integers(len(donor)))])
    return out


def _noise(words: Words, count: int, rng: np.random.Generator, sources: list[Words], index: int) -> Words:
    out = list(words)
    candidates = [i for i, w in enumerate(out) if sum(ch.isalpha() for ch in w) >= 3]
    for i in rng.permutation(candidates)[:count].tolist() if candidates else []:
        out[i] = _char_noise(out[i], rng)
    return out


def _char_noise(word: str, rng: np.random.Generator) -> str:
    at = int(rng.integers(len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        return word[:at] + word[at + 1 :]
    if kind == 1:
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


_OPS: dict[str, Callable[[Words, int, np.random.Generator, list[Words], int], Words]] = {
    "swap": _swap,
    "delete": _delete,
    "insert": _insert,
    "noise": _noise,
}


@hookimpl
def register_generators(register: Register) -> None:
    register(EDAGenerator)
