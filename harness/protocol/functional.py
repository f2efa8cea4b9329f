"""Functional test sets (HateCheck and the like): cases a trained classifier is scored on per cell.

An evaluation set is a component of kind ``evaluation``, registered through the
``register_evaluations`` hook. It returns :class:`FunctionalCases`: texts with gold labels, each case
in one functionality (a family of cases such as negation or counter-speech) and optionally aimed at
a target group. The runner scores every trained classifier on them at the cell's validation
threshold; the cases are never used for training, tuning or the threshold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sparsebench.contracts.components import ConfiguredComponent, DataContext


@dataclass
class FunctionalCases:
    """Test cases: ``labels`` 1 = hateful/toxic; ``functionality`` and ``target`` per case ('' = none)."""

    texts: list[str]
    labels: np.ndarray
    functionality: list[str]
    target: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int8)
        if not (len(self.texts) == len(self.labels) == len(self.functionality) == len(self.target)):
            raise ValueError("texts, labels, functionality and target must have the same length")

    def stratified(self, per_functionality: int, seed: int = 0) -> FunctionalCases:
        """A fixed subset: at most ``per_functionality`` cases of each functionality (see :func:`stratified_index`)."""
        return self.subset(stratified_index(self, per_functionality, seed))

    def subset(self, index: Sequence[int]) -> FunctionalCases:
        keep = list(index)
        return FunctionalCases(
            [self.texts[i] for i in keep],
            self.labels[keep],
            [self.functionality[i] for i in keep],
            [self.target[i] for i in keep],
            dict(self.provenance),
        )


class EvaluationSet(ConfiguredComponent, ABC):
    """A functional or challenge test set. ``load`` must be deterministic for its parameters."""

    kind: ClassVar[str] = "evaluation"

    @abstractmethod
    def load(self, ctx: DataContext) -> FunctionalCases:
        """Read the cases (verifying their files) and return them."""


def score_cases(cases: FunctionalCases, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Accuracy overall, per functionality and per target group, predicting toxic when score ≥ threshold.

    Each functionality entry holds ``n``, ``correct``, ``accuracy`` and its gold label (``hateful``
    share: 1.0 or 0.0 when every case of it has one label). ``worst`` names the functionality with
    the lowest accuracy (ties: the first by name).
    """
    predicted = (np.asarray(scores, dtype=float) >= threshold).astype(np.int8)
    correct = predicted == cases.labels
    by_function = _groups(cases.functionality, correct, cases.labels)
    by_target = _groups(cases.target, correct, cases.labels)
    by_target.pop("", None)
    worst = min(sorted(by_function), key=lambda name: by_function[name]["accuracy"]) if by_function else None
    hateful = cases.labels == 1
    return {
        "n": len(cases.texts),
        "threshold": float(threshold),
        "accuracy": float(correct.mean()) if len(correct) else None,
        "hateful_accuracy": float(correct[hateful].mean()) if hateful.any() else None,
        "non_hateful_accuracy": float(correct[~hateful].mean()) if (~hateful).any() else None,
        "worst": worst,
        "worst_accuracy": by_function[worst]["accuracy"] if worst else None,
        "functionality": by_function,
        "target": by_target,
    }


def _groups(keys: Sequence[str], correct: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, Any]]:
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    out = {}
    for key in sorted(members):
        index = members[key]
        hits = int(correct[index].sum())
        out[key] = {"n": len(index), "correct": hits, "accuracy": hits / len(index), "hateful": float(labels[index].mean())}
    return out


def stratified_index(cases: FunctionalCases, per_functionality: int, seed: int = 0) -> list[int]:
    """At most ``per_functionality`` cases of each functionality, spread over its target groups.

    Within a functionality the cases are shuffled with ``seed`` and taken round-robin over target
    groups, so a small subset still covers every group. ``0`` keeps every case.
    """
    if per_functionality <= 0:
        return list(range(len(cases.texts)))
    rng = np.random.default_rng([seed, 0x4C])
    chosen: list[int] = []
    for function in sorted(set(cases.functionality)):
        by_target: dict[str, list[int]] = defaultdict(list)
        for i in rng.permutation(len(cases.texts)):
            if cases.functionality[i] == function:
                by_target[cases.target[i]].append(int(i))
        queues = [by_target[t] for t in sorted(by_target)]
        taken: list[int] = []
        while len(taken) < per_functionality and any(queues):
            for queue in queues:
                if queue and len(taken) < per_functionality:
                    taken.append(queue.pop(0))
        chosen += taken
    return sorted(chosen)


def first_functional(functional: dict[str, Any] | None) -> dict[str, Any]:
    """The scored result of a cell's first functional test set (``{}`` when none was scored): what the leaderboard shows."""
    results = [r for r in (functional or {}).values() if isinstance(r, dict) and "accuracy" in r]
    return results[0] if results else {}


_LOADED: dict[str, FunctionalCases | str] = {}


def load_evaluations(
    evaluations: Sequence[Any], data_dir: Path | None, download: bool = False
) -> tuple[list[tuple[str, FunctionalCases]], dict[str, Any]]:
    """The cases of each evaluation set (loaded once per process), and why those that failed to load are not scored.

    A set that cannot load (a missing or changed file) costs its scores, not the cell's result.
    """
    from sparsebench.contracts.settings import data_dir as default_data_dir

    where = data_dir if data_dir is not None else default_data_dir()
    loaded, unscored = [], {}
    for resolved in evaluations:
        key = f"{resolved.label}@{where}"
        if key not in _LOADED:
            try:
                _LOADED[key] = resolved.build().load(DataContext(where, download=download))
            except Exception as exc:  # noqa: BLE001 - reported in the cell's details
                _LOADED[key] = f"{type(exc).__name__}: {exc}"
        entry = _LOADED[key]
        if isinstance(entry, str):
            unscored[resolved.label] = {"error": entry}
        else:
            loaded.append((resolved.label, entry))
    return loaded, unscored
