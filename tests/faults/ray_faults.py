"""Components for the Ray executor's tests (never shipped).

``ray-gpu`` (generator): declares a GPU, waits at a file barrier until ``parties`` generations run at
once, and records the ``CUDA_VISIBLE_DEVICES`` and device its task was given.
``ray-kill`` (classifier): kills its own worker process in ``fit`` (every time, or only the first time
when ``marker`` names a file that does not exist yet).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from faults.plugin import _FaultClassifier
from sparsebench import hookimpl
from sparsebench.contracts.components import GeneratedBatch, GenerationRequest, Generator
from sparsebench.contracts.params import Param
from sparsebench.hooks.specs import Register

BARRIER_S = 60.0


class GpuGenerator(Generator):
    name: ClassVar[str] = "ray-gpu"
    description: ClassVar[str] = "test only: declares a GPU and records the one its task got"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("barrier", "str", "", "directory where concurrent generations meet"),
        Param("parties", "int", 2, "generations that must run at the same time", low=1),
        Param("tag", "str", "", "tells instances apart"),
    )
    gpus: ClassVar[float] = 1.0
    chunk_size: ClassVar[int] = 8

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        self.seen_ = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "device": request.device, "pid": os.getpid()}
        self._meet()
        rng = np.random.default_rng(request.seed)
        texts = [f"{request.positives[int(rng.integers(len(request.positives)))]} {self.config['tag']} {i}" for i in range(request.n)]
        yield GeneratedBatch(texts=[t for t in texts if not request.is_known(t)])

    def _meet(self) -> None:
        barrier = Path(self.config["barrier"])
        barrier.mkdir(parents=True, exist_ok=True)
        (barrier / uuid.uuid4().hex).write_text(str(os.getpid()))
        deadline = time.monotonic() + BARRIER_S
        while len(list(barrier.iterdir())) < self.config["parties"] and time.monotonic() < deadline:
            time.sleep(0.05)

    def resources(self) -> dict[str, Any]:
        return dict(getattr(self, "seen_", {}))


class KillingClassifier(_FaultClassifier):
    name: ClassVar[str] = "ray-kill"
    description: ClassVar[str] = "test only: its worker process dies in fit (SIGKILL)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("marker", "str", "", "die only while this file does not exist (then create it); empty: die every time"),
        Param("random_state", "int", None, "seed (set by the runner)", nullable=True),
    )

    def __init__(self, marker: str = "", random_state: int | None = None) -> None:
        self.marker = marker
        self.random_state = random_state

    def before_fit(self) -> None:
        if self.marker:
            path = Path(self.marker)
            if path.exists():
                return
            path.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def register_generators(register: Register) -> None:
    register(GpuGenerator)


@hookimpl
def register_classifiers(register: Register) -> None:
    register(KillingClassifier)
