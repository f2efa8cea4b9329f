"""The runner: works through the grid, isolates every cell, and stores each row as it finishes.

Data is loaded and split once per (dataset, seed); each generator runs once per (dataset, seed) for
the largest level, and lower levels use a prefix of its texts. A failure in a component becomes a
row with status ``error``, ``timeout`` or ``unavailable`` and a one-line reason; the run goes on.
Cells already ``done`` (or ``skipped``) in the store are not recomputed unless forced; ``error``,
``timeout`` and ``unavailable`` cells are retried by the next run.

The work is two plain functions, :func:`compute_generation` and :func:`compute_cell`, that return
plain data and write nothing but generated chunks through the cache they are given; only the driver
(:class:`Runner`) writes the results store. Another executor can run those functions elsewhere.
"""

from __future__ import annotations

import gc
import sys
import time
import traceback
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from sparsebench.contracts.components import Classifier, DataContext, Dataset, Generator, LabelledTexts
from sparsebench.contracts.enums import Status, role_stamp
from sparsebench.contracts.errors import CellTimeout, Skip, SparsebenchError, Unavailable, UsageError
from sparsebench.contracts.escaping import printable
from sparsebench.contracts.progress import Reporter, SilentReporter, installed, phase
from sparsebench.engine.environment import environment, resolve_device
from sparsebench.engine.generation import DEFAULT_CHUNK, generate
from sparsebench.engine.grid import Cell, Resolved
from sparsebench.engine.identity import closure_digest
from sparsebench.engine.limits import terminate_as_interrupt, time_limit
from sparsebench.engine.resume import stale_reasons
from sparsebench.protocol.cell import run_cell
from sparsebench.protocol.functional import load_evaluations
from sparsebench.protocol.measure import peak_memory, reset_peak_memory
from sparsebench.protocol.quality import set_quality
from sparsebench.protocol.seeds import derive_seed
from sparsebench.protocol.sparsity import Protocol, Splits, base_plan, make_splits, plan_level
from sparsebench.storage.atomic import digest
from sparsebench.storage.cache import GenerationCache
from sparsebench.storage.sqlitefile import Damaged, DiskFull
from sparsebench.storage.store import FINAL_STATUSES, CellRow, ResultStore


class Interrupted(SparsebenchError):
    """Ctrl-C: finished cells are stored; the same command resumes."""

    exit_code = 130


@dataclass
class RunOptions:
    protocol: Protocol
    data_dir: Path
    device: str = "auto"
    timeout: float | None = None
    generation_timeout: float | None = None
    force: bool = False
    download: bool = True
    command: str = ""


@dataclass
class RunSummary:
    cell_ids: list[str]
    statuses: Counter[str] = field(default_factory=Counter)
    reused: int = 0
    computed: int = 0
    seconds: float = 0.0
    #: cells whose stored row no longer matches (cell id -> what changed); they are computed again
    stale: dict[str, str] = field(default_factory=dict)
    #: cells another process finished while this one ran (counted in ``statuses``, neither computed nor reused)
    elsewhere: int = 0


@dataclass
class GenerationOutcome:
    """What one generation produced (plain data: safe to send between processes)."""

    texts: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    status: str = Status.DONE
    reason: str = ""
    trace: str = ""
    quality: dict[str, Any] = field(default_factory=dict)  # of the generated set (sparsebench.protocol.quality)


@dataclass(frozen=True)
class CellContext:
    """What every cell of a run shares: the run id, the environment, the device and the time limit."""

    run_id: str
    env: dict[str, Any]
    device: str
    timeout: float | None = None
    data_dir: Path | None = None  # where evaluation sets (HateCheck) are read
    download: bool = False


def generation_count(generator: Resolved, splits: Splits, protocol: Protocol, chunk: int) -> int:
    """How many texts the largest level needs, in whole chunks (0 for the real-only baseline)."""
    levels = protocol.levels_for(generator.cls) if getattr(generator.cls, "synthetic", True) else ()
    needed = max((plan_level(len(splits.train_neg), len(splits.train_pos), lv, protocol.mode).synthetic for lv in levels), default=0)
    return -(-needed // chunk) * chunk  # whole chunks only: every level reads a prefix of one sequence


def compute_generation(
    generator: Resolved, splits: Splits, protocol: Protocol, seed: int, device: str, cache: GenerationCache, limit: float | None
) -> GenerationOutcome:
    """Build the generator and produce every level's texts; any failure, construction included, is the outcome.

    Touches nothing but ``cache`` (any object with ``get`` and ``put``), which the caller owns.
    """
    outcome = GenerationOutcome()
    try:
        built: Generator = generator.build()
        chunk = int(getattr(built, "chunk_size", DEFAULT_CHUNK))
        count = generation_count(generator, splits, protocol, chunk)
        built.check_available()
        if count:
            reset_peak_memory()
            with time_limit(limit, f"generation with {generator.name}"):
                gen_seed = derive_seed(seed, "generator", generator.name)
                result = generate(built, splits, count, gen_seed, device, cache, chunk, generator.identity)
            outcome.texts, outcome.stats = result.texts, result.stats()
            if result.cached_chunks < result.chunks:  # a fully cached generation measured nothing
                outcome.stats.update(peak_memory())
            outcome.quality = _assess(outcome.texts, splits, device, seed, cache)
        outcome.resources = built.resources()
    except (KeyboardInterrupt, DiskFull, Damaged):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a component becomes a row
        outcome.status, outcome.reason = _status_of(exc)
        outcome.reason = f"generation failed: {outcome.reason}" if outcome.status == Status.ERROR else outcome.reason
        outcome.trace = traceback.format_exc()
    return outcome


def failed_row(cell: Cell, ctx: CellContext, status: str, reason: str, trace: str = "") -> CellRow:
    """A row for ``cell`` with ``status`` and no metrics (its dataset failed, or a starting point)."""
    now = time.time()
    return CellRow(
        cell_id=cell.cell_id, run_id=ctx.run_id, dataset=cell.dataset.label, generator=cell.generator.label,
        classifier=cell.classifier.label, level=cell.level, mode=cell.mode, seed=cell.seed, status=status,
        reason=reason, config=cell.config, started_at=now, finished_at=now, env=ctx.env,
        dataset_name=cell.dataset.name, generator_name=cell.generator.name, classifier_name=cell.classifier.name,
        details={"roles": role_stamp(cell.generator.cls, cell.classifier.cls), **({"traceback": trace} if trace else {})},
    )


def compute_cell(cell: Cell, splits: Splits, generation: GenerationOutcome, ctx: CellContext) -> CellRow:
    """Train and score one cell on its generation's texts; any failure, construction included, is the row's status."""
    row = failed_row(cell, ctx, Status.DONE, "")
    started = row.started_at
    row.details = {"roles": row.details["roles"], "splits": splits.counts(), "dataset_fingerprint": splits.fingerprint, "controls": splits.controls}
    if generation.status != Status.DONE:
        row.status, row.reason = generation.status, generation.reason
        row.details["traceback"] = generation.trace
    else:
        _train_and_score(cell, splits, generation, row, ctx)
    row.details["generation"] = generation.stats
    row.details["quality"] = generation.quality
    row.details["generator_resources"] = generation.resources
    row.timings.update({f"generation_{k}": v for k, v in _gen_timings(generation.stats).items()})
    row.finished_at = time.time()
    row.timings["cell_s"] = row.finished_at - started
    return row


def _train_and_score(cell: Cell, splits: Splits, generation: GenerationOutcome, row: CellRow, ctx: CellContext) -> None:
    try:
        classifier = _classifier(cell, ctx.device)
        classifier.check_available()
        plan = _plan(cell, splits)
        with time_limit(ctx.timeout, f"cell {cell.cell_id}"):
            evaluations, unscored = load_evaluations(cell.evaluations, ctx.data_dir, ctx.download)
            outcome = run_cell(classifier, splits, plan, generation.texts, cell.seed, cell.protocol.prevalence, cell.n_boot, evaluations)
        outcome.details["functional"].update(unscored)
        row.metrics, row.timings = outcome.metrics, outcome.timings
        row.arrays = outcome.arrays
        row.details.update(outcome.details)
        row.details["classifier_resources"] = classifier.resources()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a component becomes a row
        row.status, row.reason = _status_of(exc)
        row.details["traceback"] = traceback.format_exc()


def _assess(texts: list[str], splits: Splits, device: str, seed: int, cache: Any) -> dict[str, Any]:
    """The quality of one generated set, computed once per content and kept beside the cache; a failure is recorded, never fatal.

    The key digests the texts, the dataset's fingerprint, the seed, the device and the quality code's import closure,
    so a run that reuses a generation (a new classifier, a retried cell) embeds nothing again.
    """
    key = digest({"texts": texts, "dataset": splits.fingerprint, "seed": seed, "device": device,
                  "code": closure_digest("sparsebench.protocol.quality")})
    stored = cache.get_quality(key) if hasattr(cache, "get_quality") else None
    if stored is not None:
        return stored
    try:
        with phase("quality of the generated set", total=None):
            quality = set_quality(splits, device, derive_seed(seed, "quality")).assess(texts)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a quality metric must not cost the cells their results
        return {"error": _status_of(exc)[1]}
    if hasattr(cache, "put_quality"):
        cache.put_quality(key, quality)
    return quality


def _plan(cell: Cell, splits: Splits) -> Any:
    if not getattr(cell.generator.cls, "synthetic", True):
        return base_plan(splits, cell.protocol.base_share)
    return plan_level(len(splits.train_neg), len(splits.train_pos), cell.level, cell.mode)


def _classifier(cell: Cell, device: str) -> Classifier:
    classifier: Classifier = cell.classifier.build()
    params = classifier.get_params(deep=False)
    updates: dict[str, Any] = {}
    if "random_state" in params and params["random_state"] is None:
        updates["random_state"] = derive_seed(cell.seed, "classifier")
    if params.get("device") == "auto":
        updates["device"] = device
    return classifier.set_params(**updates) if updates else classifier


class Runner:
    def __init__(self, store: ResultStore, cache: GenerationCache, options: RunOptions, reporter: Reporter | None = None) -> None:
        self.store = store
        self.cache = cache
        self.options = options
        self.reporter = reporter or SilentReporter()
        self.run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self._env: dict[str, Any] | None = None
        self._data: dict[str, LabelledTexts] = {}
        self._device: str | None = None
        self._run_recorded = False

    # --- the loop ---------------------------------------------------------------------------------

    #: said after "N cells finished in this run and are stored; " when a run is interrupted
    interrupt_note: str = ""

    def run(self, cells: list[Cell]) -> RunSummary:
        """Compute the cells not stored yet; interruption, a full disk and staleness behave the same for every executor."""
        started = time.perf_counter()
        summary = RunSummary([c.cell_id for c in cells])
        pending = self._pending(cells, summary)
        summary.stale = stale_reasons(self.store, pending)
        if summary.stale:
            first = next(iter(summary.stale.values()))
            self.reporter.note(f"{len(summary.stale)} stored cells are stale and will be computed again ({first})")
        self.reporter.start(len(pending))
        with installed(self.reporter), terminate_as_interrupt():
            try:
                self._execute(self._settle_unavailable(pending, summary), summary)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"Interrupted: {summary.computed} cells finished in this run and are stored; {self.interrupt_note}"
                    "run the same command again to resume"
                ) from None
            except DiskFull as exc:
                raise DiskFull(exc.directory, _kept(summary)) from None
            except Damaged as exc:
                if summary.computed:
                    raise Damaged(exc.path, f"{summary.computed} cells of this run were written before SQLite found the damage") from None
                raise
            finally:
                self.reporter.stop()
        if self.cache.damaged:
            self.reporter.note(f"{self.cache.damaged} damaged cache entries were dropped and generated again")
        summary.seconds = time.perf_counter() - started
        return summary

    def _execute(self, pending: list[Cell], summary: RunSummary) -> None:
        """Compute ``pending`` in this process, one (dataset, seed) at a time."""
        for (_, seed), group in groupby(pending, key=lambda c: (c.dataset, c.seed)):
            self._run_data_group(list(group), seed, summary)

    def _settle_unavailable(self, pending: list[Cell], summary: RunSummary) -> list[Cell]:
        """Store cells whose generator or classifier cannot run here, before any data is loaded or text generated.

        A component is built once and asked ``check_available()``; nothing is loaded. So a warm run whose only
        pending cells are ``unavailable`` (weights missing) loads no dataset, generates nothing, embeds nothing.
        """
        reasons: dict[Resolved, str | None] = {}
        remaining = []
        for cell in pending:
            reason = next((r for r in (self._unavailable(cell.generator, reasons), self._unavailable(cell.classifier, reasons)) if r), None)
            if reason is None:
                remaining.append(cell)
                continue
            if not self._still_pending(cell, summary):  # another run stored it meanwhile
                continue
            self.reporter.cell_started(cell.label)
            self._finish(cell, failed_row(cell, self.context, Status.UNAVAILABLE, reason), summary)
        return remaining

    @staticmethod
    def _unavailable(component: Resolved, seen: dict[Resolved, str | None]) -> str | None:
        if component not in seen:
            try:
                component.build().check_available()
                seen[component] = None
            except Unavailable as exc:
                seen[component] = _one_line(str(exc))
            except Exception:  # noqa: BLE001 - any other failure is the cell's to report, with its traceback
                seen[component] = None
        return seen[component]

    def _pending(self, cells: list[Cell], summary: RunSummary) -> list[Cell]:
        if self.options.force:
            return cells
        stored = self.store.statuses(summary.cell_ids)
        pending = [c for c in cells if stored.get(c.cell_id) not in FINAL_STATUSES]
        for cell in cells:
            if stored.get(cell.cell_id) in FINAL_STATUSES:
                summary.statuses[stored[cell.cell_id]] += 1
        summary.reused = len(cells) - len(pending)
        return pending

    @property
    def env(self) -> dict[str, Any]:
        if self._env is None:
            self._env = environment()
        return self._env

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self.options.device)
        return self._device

    def _run_data_group(self, cells: list[Cell], seed: int, summary: RunSummary) -> None:
        try:
            splits = self._splits(cells[0], seed)
        except UsageError:
            raise  # bad input (a missing or malformed data file) stops the run with a clear message
        except Exception as exc:  # noqa: BLE001 - a broken dataset plugin fails its cells, not the run
            status, reason = _status_of(exc)
            for cell in cells:
                self._finish(cell, failed_row(cell, self.context, status, f"dataset failed: {reason}", traceback.format_exc()), summary)
            return
        for _, group in groupby(cells, key=lambda c: c.generator):
            gen_cells = list(group)
            outcome = self._generate(gen_cells, splits, seed)
            for cell in gen_cells:
                if self._still_pending(cell, summary):
                    self.reporter.cell_started(cell.label)
                    self._finish(cell, compute_cell(cell, splits, outcome, self.context), summary)

    def _still_pending(self, cell: Cell, summary: RunSummary) -> bool:
        """Another process may have finished this cell while we worked on others (counted in ``summary``)."""
        if self.options.force:
            return True
        stored = self.store.statuses([cell.cell_id]).get(cell.cell_id)
        if stored not in FINAL_STATUSES:
            return True
        summary.statuses[str(stored)] += 1
        summary.elsewhere += 1
        return False

    def _finish(self, cell: Cell, row: CellRow, summary: RunSummary) -> None:
        if not self._run_recorded:
            self.store.start_run(self.run_id, self.options.command, self.env)
            self._run_recorded = True
        written = self.store.write(row, force=self.options.force)
        # a done row another process stored first is kept: count what the store (and the table) holds
        summary.statuses[row.status if written else self.store.statuses([cell.cell_id]).get(cell.cell_id, row.status)] += 1
        summary.computed += 1
        self.reporter.cell_finished(cell.label, row.status, row.reason, metrics=row.metrics)

    # --- data and generation ----------------------------------------------------------------------

    def _splits(self, cell: Cell, seed: int) -> Splits:
        key = f"{cell.dataset.label}#{seed}"
        fresh = key not in self._data
        if fresh:
            dataset: Dataset = cell.dataset.build()
            ctx = DataContext(self.options.data_dir, download=self.options.download, seed=seed)
            with phase(f"loading dataset {cell.dataset.label} (seed {seed})", total=None):
                self._data = {key: dataset.load(ctx)}  # one dataset in memory at a time
        try:
            splits = make_splits(self._data[key], cell.protocol, seed)
        except UsageError as exc:
            raise type(exc)(f"dataset {cell.dataset.label} (seed {seed}): {exc}") from None
        if fresh:  # said once the data is known to be good: a refusal stays the only line
            self.reporter.note(f"loaded dataset {cell.dataset.label} (seed {seed}): {len(self._data[key].texts):,} rows")
        return splits

    def _generate(self, cells: list[Cell], splits: Splits, seed: int) -> GenerationOutcome:
        return compute_generation(cells[0].generator, splits, cells[0].protocol, seed, self.device, self.cache, self.options.generation_timeout)

    @property
    def context(self) -> CellContext:
        return CellContext(self.run_id, self.env, self.device, self.options.timeout, self.options.data_dir, self.options.download)


def _kept(summary: RunSummary) -> str:
    return (
        f"{summary.computed} cells finished in this run and are stored, and every row stored before is intact "
        "(the cell being written was not stored; generated texts already cached are kept)"
    )


def _status_of(exc: BaseException) -> tuple[str, str]:
    """A status and a one-line reason for an exception raised by a component."""
    memory = _out_of_memory(exc)
    if memory:
        return Status.ERROR, memory
    if isinstance(exc, Unavailable):
        return Status.UNAVAILABLE, _one_line(str(exc))
    if isinstance(exc, Skip):
        return Status.SKIPPED, _one_line(str(exc))
    if isinstance(exc, CellTimeout):
        return Status.TIMEOUT, _one_line(str(exc))
    if isinstance(exc, UsageError):
        return Status.ERROR, _one_line(str(exc))
    text = _one_line(str(exc))
    return Status.ERROR, f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _out_of_memory(exc: BaseException) -> str:
    """A reason that says what to change when ``exc`` is an out-of-memory error, else ''."""
    torch = sys.modules.get("torch")
    gpu_oom = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    text = _one_line(str(exc), 160)
    if (gpu_oom is not None and isinstance(exc, gpu_oom)) or "CUDA out of memory" in text:
        _release_gpu_memory()
        return f"GPU out of memory ({text}); lower the component's batch size (e.g. [batch_size=8]) or its sequence length"
    if isinstance(exc, MemoryError):
        gc.collect()
        return f"out of memory ({type(exc).__name__}{': ' + text if text else ''}); use a smaller dataset, batch size or model"
    return ""


def _release_gpu_memory() -> None:
    """Give cached GPU memory back after an out-of-memory error, so the next cell starts clean."""
    gc.collect()
    torch = sys.modules.get("torch")
    with suppress(Exception):  # cleanup must never fail a cell
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line, whole unless ``limit`` is given (stored reasons are never cut)."""
    line = printable(" ".join(text.split()))
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


def _gen_timings(stats: dict[str, Any]) -> dict[str, Any]:
    keys = ("generation_s", "texts_per_s", "tokens_per_s", "s_per_text", "peak_rss_mb", "peak_gpu_mb")
    return {k.removeprefix("generation_"): stats.get(k) for k in keys if stats.get(k) is not None}
