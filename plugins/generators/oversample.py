"""``oversample``: duplicate the real training positives, the classic baseline synthetic data must beat."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, hookimpl


class Oversample(Generator):
    name: ClassVar[str] = "oversample"
    description: ClassVar[str] = "baseline: repeat the real training positives (random order, each used equally often)"
    parameters: ClassVar[tuple[Param, ...]] = ()

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        if not request.positives:
            return
        rng = np.random.default_rng(request.seed)
        texts: list[str] = []
        while len(texts) < request.n:
            texts += [request.positives[i] for i in rng.permutation(len(request.positives))]
        yield GeneratedBatch(texts=texts[: request.n], raw=request.n)


@hookimpl
def register_generators(register: Register) -> None:
    register(Oversample)
