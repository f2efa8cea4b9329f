"""``real-extra``: add held-back real positives from the reserve, the upper bound for any generator.

The reserve holds real toxic rows that are in no split, so this baseline never sees validation or
test rows. It answers: what if the synthetic rows were as good as real ones?
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, hookimpl


class RealExtra(Generator):
    name: ClassVar[str] = "real-extra"
    description: ClassVar[str] = "upper bound: add real positives held back from every split (the reserve)"
    parameters: ClassVar[tuple[Param, ...]] = ()
    uses_reserve: ClassVar[bool] = True
    role: ClassVar[str | None] = "upper-bound"

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        order = np.random.default_rng(request.seed).permutation(len(request.reserve))
        texts: list[str] = []
        skipped = 0
        for i in order:
            if len(texts) == request.n:
                break
            text = request.reserve[i]
            if request.is_known(text) or text in texts:
                skipped += 1
                continue
            texts.append(text)
        yield GeneratedBatch(texts=texts, raw=len(texts) + skipped, rejected={"already used": skipped} if skipped else {})


@hookimpl
def register_generators(register: Register) -> None:
    register(RealExtra)
