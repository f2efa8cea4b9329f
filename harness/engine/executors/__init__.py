"""Executors: where the runner's work happens.

``sequential`` (the default and the reference) computes every generation and cell in this process,
one after another. ``ray`` spreads them over a Ray cluster (an embedded local one, or one joined by
address) and keeps this process the only writer of the store and the generation cache. Both give the
same rows: same cell ids, statuses and metrics.
"""

from __future__ import annotations

from sparsebench.contracts.errors import UsageError
from sparsebench.contracts.progress import Reporter
from sparsebench.engine.runner import Runner, RunOptions
from sparsebench.storage.cache import GenerationCache
from sparsebench.storage.store import ResultStore

EXECUTORS = ("sequential", "ray")


def make_runner(
    executor: str,
    store: ResultStore,
    cache: GenerationCache,
    options: RunOptions,
    reporter: Reporter | None = None,
    address: str | None = None,
) -> Runner:
    """The runner for ``executor``; ``address`` names a Ray cluster to join (``ray`` only)."""
    if executor == "sequential":
        return Runner(store, cache, options, reporter)
    if executor == "ray":
        from sparsebench.engine.executors.ray_runner import RayRunner

        return RayRunner(store, cache, options, reporter, address=address)
    raise UsageError(f"unknown executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
