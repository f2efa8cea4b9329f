"""Which stored cells a run may reuse, and why the others are stale.

A cell is reused only when a row with its exact id (a digest of its whole identity) is stored with a
final status. A stored row for the same grid position (dataset, generator and classifier labels,
level, mode, seed) under another id is *stale*: something it depended on changed. This module says
what, by comparing the stored configuration with the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparsebench.engine.grid import Cell
from sparsebench.engine.identity import describe_change
from sparsebench.storage.store import ResultStore


def position(record: dict[str, Any] | Cell) -> tuple[Any, ...]:
    """Where a cell sits in the grid, independent of its identity."""
    if isinstance(record, Cell):
        return (record.dataset.label, record.generator.label, record.classifier.label, float(record.level), record.mode, int(record.seed))
    return (record["dataset"], record["generator"], record["classifier"], float(record["level"]), record["mode"], int(record["seed"]))


def stale_reasons(store: ResultStore, cells: Sequence[Cell]) -> dict[str, str]:
    """For each cell with no row of its own but a stored row at its grid position: what changed since."""
    stored_ids = set(store.statuses(c.cell_id for c in cells))
    missing = {position(c): c for c in cells if c.cell_id not in stored_ids}
    if not missing:
        return {}
    reasons: dict[str, str] = {}
    for record in store.positions():
        cell = missing.get(position(record))
        if cell is None or cell.cell_id in reasons:
            continue
        old = record["config"] if isinstance(record["config"], dict) else {}
        reasons[cell.cell_id] = f"stored {record['status']} row {record['cell_id'][:8]} is stale: {describe_change(old, cell.config)}"
    return reasons


def stale_in(cells: Sequence[Cell], results: str | Path | None = None) -> dict[str, str]:
    """:func:`stale_reasons` for the store under ``results``, read-only; empty where there is no store yet."""
    from sparsebench.contracts.settings import results_dir
    from sparsebench.storage.store import STORE_NAME

    directory = results_dir(None if results is None else str(results))
    if not (directory / STORE_NAME).exists():
        return {}
    with ResultStore(directory, create=False) as store:
        return stale_reasons(store, cells)
