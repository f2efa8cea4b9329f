"""``real-only``: no synthetic rows at all; the 0.25 % row every generator is compared against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, hookimpl


class RealOnly(Generator):
    name: ClassVar[str] = "real-only"
    description: ClassVar[str] = "baseline: train on the real rows at the base share, with no synthetic positives"
    parameters: ClassVar[tuple[Param, ...]] = ()
    role: ClassVar[str | None] = "baseline"
    synthetic: ClassVar[bool] = False

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        return iter(())


@hookimpl
def register_generators(register: Register) -> None:
    register(RealOnly)
