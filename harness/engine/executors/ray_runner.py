"""The Ray executor's driver: submit generations and cells as Ray tasks, store each row as it returns.

Each (dataset, seed) is loaded and split here, once, and put into Ray's object store. Each
(dataset, seed, generator) becomes one generation task; when it returns, its cells become tasks
that read the same texts (lower levels a prefix of them). Tasks ask for the CPUs and GPUs their
component declares (:meth:`~sparsebench.contracts.components.Component.demand`). This process alone writes
the store and the cache, in the order results arrive, through the runner's own code: resume,
identity, statuses and reasons are those of the sequential executor. A worker that dies is retried
by Ray; when the retries are spent the cell (or every cell of the generation) is stored as ``error``
with the reason. Ctrl-C cancels what is still queued or running and keeps what finished.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sparsebench.contracts.enums import Status
from sparsebench.contracts.errors import UsageError
from sparsebench.contracts.progress import Reporter
from sparsebench.engine.executors import ray_tasks
from sparsebench.engine.executors.ray_progress import ProgressRelay
from sparsebench.engine.grid import Cell, Resolved
from sparsebench.engine.runner import GenerationOutcome, Runner, RunOptions, RunSummary, _one_line, compute_cell, failed_row
from sparsebench.protocol.sparsity import Splits
from sparsebench.storage.cache import GenerationCache
from sparsebench.storage.store import CellRow, ResultStore

RETRIES = 2  # Ray re-runs a task whose worker died this many times before its cells become errors
WAIT_S = 0.25  # how often the driver wakes to show the workers' progress


@dataclass
class _Generation:
    cells: list[Cell]
    splits: Splits
    splits_ref: Any

    @property
    def label(self) -> str:
        return self.cells[0].generator.label


@dataclass
class _CellTask:
    cell: Cell

    @property
    def label(self) -> str:
        return self.cell.label


@dataclass
class _Session:
    ray: Any
    device: str
    generate: Any
    score: Any
    relay: ProgressRelay
    outstanding: dict[Any, Any] = field(default_factory=dict)


class RayRunner(Runner):
    """A :class:`~sparsebench.engine.runner.Runner` whose generations and cells run as Ray tasks."""

    def __init__(
        self,
        store: ResultStore,
        cache: GenerationCache,
        options: RunOptions,
        reporter: Reporter | None = None,
        address: str | None = None,
        retries: int = RETRIES,
    ) -> None:
        super().__init__(store, cache, options, reporter)
        self.address = address
        self.retries = retries

    interrupt_note = "outstanding Ray tasks were cancelled; "

    def _execute(self, pending: list[Cell], summary: RunSummary) -> None:
        """Compute ``pending`` on Ray; outstanding tasks are cancelled on the way out of an interruption or a full disk."""
        if pending:
            with _connected(self.address) as ray:
                self._run_on(ray, pending, summary)

    # --- scheduling -------------------------------------------------------------------------------

    def _run_on(self, ray: Any, cells: list[Cell], summary: RunSummary) -> None:
        session = _Session(ray, _cluster_device(ray, self.options.device), ray.remote(ray_tasks.generation_task),
                           ray.remote(ray_tasks.cell_task), ProgressRelay(ray, self.reporter))
        try:
            for (_, seed), group in groupby(cells, key=lambda c: (c.dataset, c.seed)):
                self._submit_data_group(session, list(group), seed, summary)
            while session.outstanding:
                ready, _ = ray.wait(list(session.outstanding), num_returns=1, timeout=WAIT_S)
                session.relay.drain()
                for ref in ready:
                    self._collect(session, ref, summary)
                session.relay.show(len(session.outstanding))
        except BaseException:
            for ref in session.outstanding:
                ray.cancel(ref, force=True)
            raise
        finally:
            session.relay.close()

    def _submit_data_group(self, session: _Session, cells: list[Cell], seed: int, summary: RunSummary) -> None:
        try:
            splits = self._splits(cells[0], seed)
        except UsageError:
            raise  # bad input stops the run with a clear message, as in the sequential executor
        except Exception as exc:  # noqa: BLE001 - a broken dataset plugin fails its cells, not the run
            from sparsebench.engine.runner import _status_of

            status, reason = _status_of(exc)
            for cell in cells:
                self._finish(cell, failed_row(cell, self.context, status, f"dataset failed: {reason}", traceback.format_exc()), summary)
            return
        splits_ref = session.ray.put(splits)
        for _, group in groupby(cells, key=lambda c: c.generator):
            job = _Generation(list(group), splits, splits_ref)
            options = self._task_options(session, job.cells[0].generator)
            reporter = session.relay.reporter(job.label)
            ref = session.generate.options(**options).remote(job.cells, splits_ref, seed, self.options, self.run_id, str(self.cache.root), reporter)
            session.outstanding[ref] = job

    def _task_options(self, session: _Session, component: Resolved) -> dict[str, Any]:
        own = component.params.get("device")
        device = session.device if own in (None, "auto") else str(own)
        return {**component.cls.demand(device), "max_retries": self.retries, "retry_exceptions": False}

    def _collect(self, session: _Session, ref: Any, summary: RunSummary) -> None:
        job = session.outstanding.pop(ref)
        session.relay.collected(job.label)
        if isinstance(job, _Generation):
            self._generation_done(session, job, self._generation_outcome(session, ref), summary)
        else:
            self._finish(job.cell, self._cell_result(session, ref, job.cell), summary)

    def _generation_outcome(self, session: _Session, ref: Any) -> GenerationOutcome:
        try:
            result = session.ray.get(ref)
        except session.ray.exceptions.RayError as exc:
            return GenerationOutcome(status=Status.ERROR, reason=f"generation failed: {self._lost(exc)}", trace=_one_line(str(exc), 4000))
        for entry in result["chunks"]:  # the driver is the cache's only writer
            self.cache.put(entry["key"], ray_tasks.chunk_from(entry["chunk"]), entry["meta"])
        return GenerationOutcome(**result["outcome"])

    def _generation_done(self, session: _Session, job: _Generation, outcome: GenerationOutcome, summary: RunSummary) -> None:
        shared = session.ray.put(ray_tasks.json_safe(outcome.__dict__)) if outcome.status == Status.DONE else None
        for cell in job.cells:
            if not self._still_pending(cell):
                continue
            if outcome.status != Status.DONE:  # no training: the row says why, as in the sequential executor
                self._finish(cell, compute_cell(cell, job.splits, outcome, self.context), summary)
                continue
            options = self._task_options(session, cell.classifier)
            reporter = session.relay.reporter(cell.label)
            ref = session.score.options(**options).remote(cell, job.splits_ref, shared, self.options, self.run_id, reporter)
            session.outstanding[ref] = _CellTask(cell)

    def _cell_result(self, session: _Session, ref: Any, cell: Cell) -> CellRow:
        try:
            return ray_tasks.row_from(session.ray.get(ref))
        except session.ray.exceptions.RayError as exc:
            return failed_row(cell, self.context, Status.ERROR, self._lost(exc), _one_line(str(exc), 4000))

    def _lost(self, exc: Exception) -> str:
        """A one-line reason for a task Ray could not complete: its worker or node died (retried first), or it broke."""
        lines = [line for line in str(exc).splitlines() if line.strip()]
        if isinstance(exc, self._ray_task_error):  # the task itself raised: not retried, its own message says why
            return _one_line(f"Ray task raised {lines[-1] if lines else type(exc).__name__}")
        return _one_line(f"Ray task failed after {self.retries} retries ({type(exc).__name__}): {lines[0] if lines else ''}")

    @property
    def _ray_task_error(self) -> type[Exception]:
        import ray

        return ray.exceptions.RayTaskError


def _cluster_device(ray: Any, requested: str) -> str:
    """``cuda`` when the run asks for it, or asks for ``auto`` and the cluster has GPUs; else ``cpu``."""
    if requested.startswith("cuda"):
        return "cuda"
    if requested == "cpu":
        return "cpu"
    return "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"


@contextmanager
def _connected(address: str | None) -> Iterator[Any]:
    """Ray, joined to the cluster at ``address`` (or ``RAY_ADDRESS``), else to a new local one this run stops.

    A Ray already initialised in this process (a test's, a notebook's) is used as it is.
    """
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'sparsebench[ray]'") from None
    _check_reachable(address)
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # noqa: BLE001 - any failure to start or join is the user's to fix
        where = f"join the Ray cluster at {address}" if address else "start a local Ray"
        raise UsageError(f"cannot {where}: {_one_line(str(exc), 200)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` nobody listens on: Ray itself would retry for many minutes."""
    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except ValueError:
        raise UsageError(f"--ray-address {address!r}: expected HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:PORT or auto") from None
    except OSError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} (is `ray start --head` running there?)") from None
