"""``oversample``: duplicate the real training positives, the classic baseline synthetic data must beat."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, hookimpl


class Oversample(Generator):
    name: ClassVar[str] = "oversample"
    description: ClassVar[str] = "baseline: repeat the real training positives (random order, each used equally often)"
    parameters: ClassVar[tuple[Param, ...]] = ()
    role: ClassVar[str | None] = "baseline"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        if not request.positives:
            return
        yield GeneratedBatch(texts=repeat_evenly(request.positives, request.offset, request.n), raw=request.n)


def repeat_evenly(positives: tuple[str, ...], offset: int, n: int) -> list[str]:
    """Positions ``offset`` … ``offset + n`` of one sequence of shuffled passes over ``positives``.

    The sequence depends on the positives only, not on the chunk, so across all chunks every positive
    is used equally often (±1) and each pass is a fresh random order.
    """
    seed = int.from_bytes(hashlib.sha256("\x1f".join(positives).encode("utf-8")).digest()[:8], "little")
    size = len(positives)
    first, last = offset // size, (offset + n - 1) // size
    texts: list[str] = []
    for rep in range(first, last + 1):
        order = np.random.default_rng([seed, rep]).permutation(size)
        texts += [positives[i] for i in order]
    start = offset - first * size
    return texts[start : start + n]


@hookimpl
def register_generators(register: Register) -> None:
    register(Oversample)
