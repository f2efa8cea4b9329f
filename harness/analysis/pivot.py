"""The study's table shape: generator × level for one metric and one classifier.

Seeds are folded first (mean with a t-interval over seeds, see :mod:`sparsebench.analysis.aggregate`), so a
table cell is one configuration. Only ``done`` cells have values; the others are counted in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparsebench.analysis.columns import header
from sparsebench.contracts.enums import Status
from sparsebench.contracts.errors import UsageError
from sparsebench.protocol.metrics import METRIC_KEYS


@dataclass
class Pivot:
    title: str
    levels: list[float]
    rows: list[tuple[str, list[str]]]
    notes: list[str] = field(default_factory=list)


def pivots(records: list[dict[str, Any]], metric: str) -> list[Pivot]:
    """One pivot per (dataset, classifier) among ``records`` (flat leaderboard records)."""
    if records and metric not in records[0]:
        raise UsageError(f"--pivot: {metric!r} is not a column")
    from sparsebench.analysis.aggregate import aggregate_seeds

    done = aggregate_seeds([r for r in records if r["status"] == Status.DONE])
    keys = sorted({(r["dataset"], r["classifier"]) for r in records})
    return [_one(done, records, dataset, classifier, metric) for dataset, classifier in keys]


def _one(done: list[dict[str, Any]], records: list[dict[str, Any]], dataset: str, classifier: str, metric: str) -> Pivot:
    mine = [r for r in done if r["dataset"] == dataset and r["classifier"] == classifier]
    levels = sorted({r["level"] for r in mine})
    generators = sorted({r["generator"] for r in mine}, key=lambda g: (_order(g), g))
    table = {(r["generator"], r["level"]): r for r in mine}
    rows = [(g, [_text(table.get((g, lv)), metric) for lv in levels]) for g in generators]
    short = next((r.get("dataset_short") for r in records if r["dataset"] == dataset), None) or dataset
    seeds = max((len(str(r.get("seed", "")).split(",")) for r in mine), default=1)
    title = f"{header(metric).split(' [', 1)[0]} of {classifier} on {short}, generator × level" + (f" (mean of {seeds} seeds)" if seeds > 1 else "")
    failed = [r for r in records if r["dataset"] == dataset and r["classifier"] == classifier and r["status"] != Status.DONE]
    notes = [f"{len(failed)} cells not done ({', '.join(sorted({r['status'] for r in failed}))}) are left out"] if failed else []
    return Pivot(title, levels, rows, notes)


def _order(generator: str) -> int:
    """The references first (what you have, the free baseline, the upper bound), then the generators."""
    from sparsebench.analysis.roles import rank

    return rank(generator)


def _text(record: dict[str, Any] | None, metric: str) -> str:
    if record is None or record.get(metric) is None:
        return ""
    value, low, high = record[metric], record.get(f"{metric}_low"), record.get(f"{metric}_high")
    if metric in METRIC_KEYS and low is not None and high is not None:
        return f"{value:.3f} [{low:.3f}, {high:.3f}]"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
