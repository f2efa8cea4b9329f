"""What runs inside a Ray worker: one generation, or one cell, returned as JSON-safe data.

Workers never write the results store or the generation cache. A generation reads cached chunks
where the cache directory is visible (the same machine, or a shared file system) and hands every
chunk it had to compute back to the driver, which stores it; a cell returns its row as a plain dict,
its test scores and bootstrap draws as lists (exact for float64, float32 and int8). Both go through
the runner's own code, so a row computed here is the row the sequential executor computes. Ray is
imported only for the worker's GPU assignment.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from sparsebench.contracts.progress import Reporter, SilentReporter, installed
from sparsebench.engine.environment import environment
from sparsebench.engine.grid import Cell
from sparsebench.engine.runner import CellContext, GenerationOutcome, RunOptions, compute_cell, compute_generation
from sparsebench.protocol.sparsity import Splits
from sparsebench.storage.atomic import read_json_verified
from sparsebench.storage.cache import FORMAT_VERSION, Chunk, GenerationCache, chunk_from_payload
from sparsebench.storage.store import CellRow


class WorkerCache(GenerationCache):
    """Reads the driver's cache without changing it and keeps the chunks computed here for the driver."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fresh: list[dict[str, Any]] = []

    def get(self, key: str) -> Chunk | None:
        payload = read_json_verified(self._path(key))  # a damaged entry reads as missing; the driver replaces it
        if payload is None or payload.get("key") != key or payload.get("version") != FORMAT_VERSION:
            return None
        return chunk_from(payload)

    def put(self, key: str, chunk: Chunk, meta: dict[str, Any]) -> None:
        self.fresh.append({"key": key, "chunk": asdict(chunk), "meta": meta})


chunk_from = chunk_from_payload  # the cache's own reader, so rejected texts survive the Ray boundary


def json_safe(value: Any) -> Any:
    """``value`` as the store will hold it: plain JSON types only (the store's own encoding)."""
    return json.loads(json.dumps(value, allow_nan=True, default=str))


def worker_device() -> str:
    """``cuda`` when Ray gave this task a GPU (then ``CUDA_VISIBLE_DEVICES`` names only that one), else ``cpu``."""
    import ray

    return "cuda" if ray.get_gpu_ids() else "cpu"


def _context(run_id: str, options: RunOptions, reporter: Reporter | None) -> CellContext:
    begin = getattr(reporter, "begin", None)
    if begin is not None:
        begin()  # the driver now counts this task as running
    return CellContext(run_id, environment(), worker_device(), options.timeout)


def generation_task(
    cells: list[Cell], splits: Splits, seed: int, options: RunOptions, run_id: str, cache_root: str, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Generate the texts of one (dataset, seed, generator) for every level of ``cells``."""
    cache = WorkerCache(Path(cache_root))
    ctx = _context(run_id, options, reporter)
    with installed(reporter or SilentReporter()):
        outcome = compute_generation(cells[0].generator, splits, cells[0].protocol, seed, ctx.device, cache, options.generation_timeout)
    return json_safe({"outcome": asdict(outcome), "chunks": cache.fresh})


def cell_task(
    cell: Cell, splits: Splits, generation: dict[str, Any], options: RunOptions, run_id: str, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Train and score one cell on its generation's texts; returns the row for the driver to store."""
    ctx = _context(run_id, options, reporter)
    with installed(reporter or SilentReporter()):
        row = compute_cell(cell, splits, GenerationOutcome(**generation), ctx)
    row.env = environment()  # again, now that the classifier has imported torch: the row names the worker's GPU
    arrays = {name: {"dtype": np.asarray(a).dtype.str, "values": np.asarray(a).tolist()} for name, a in row.arrays.items()}
    return json_safe({"row": row.as_dict(), "arrays": arrays})


def row_from(result: dict[str, Any]) -> CellRow:
    """The :class:`CellRow` a cell task returned, its arrays (test scores, bootstrap draws) rebuilt exactly."""
    arrays = {name: np.asarray(a["values"], dtype=np.dtype(a["dtype"])) for name, a in result["arrays"].items()}
    return CellRow(**result["row"], arrays=arrays)
