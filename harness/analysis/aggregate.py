"""Seeds folded into one leaderboard row: the mean, with a t-interval over seeds.

A row per (dataset, generator, classifier, level, mode) whose cells are ``done``. With two or more
seeds the interval of each metric is ``mean ± t(0.975, n-1) · sd / sqrt(n)`` over the seeds (it
captures data, split, generation and training variance together); with one seed it stays that cell's
bootstrap interval. Intervals are clipped to [0, 1], the range of every metric. Cells that are not ``done`` are kept as they are.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sparsebench.contracts.enums import Status
from sparsebench.protocol.metrics import METRIC_KEYS

_GROUP = ("dataset", "generator", "classifier", "level", "mode")
_CARRY = ("generator_role", "classifier_role", "reference", "dataset_short", "prevalence")  # the same for every seed of a configuration
_MEANS = (
    "test_positives", "test_rows", "train_size", "synthetic", "acceptance_rate", "generation_texts_per_s",
    "generation_tokens_per_s", "generation_s_per_text", "generation_s", "train_s", "train_samples_per_s",
    "predict_samples_per_s", "peak_rss_mb", "peak_gpu_mb", "cell_s",
)


def aggregate_seeds(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    others = []
    for record in records:
        if record["status"] == Status.DONE:
            groups[tuple(record[k] for k in _GROUP)].append(record)
        else:
            others.append(record)
    return [_fold(members) for members in groups.values()] + others


def _fold(members: list[dict[str, Any]]) -> dict[str, Any]:
    if len(members) == 1:
        return {**members[0], "seeds": 1}
    folded: dict[str, Any] = {k: members[0][k] for k in _GROUP}
    folded.update({k: members[0][k] for k in _CARRY if k in members[0]})
    seeds = sorted(m["seed"] for m in members)
    folded.update(cell=f"{len(members)} seeds", seed=",".join(map(str, seeds)), seeds=len(members), status=Status.DONE, reason="")
    folded["cells"] = [m["cell"] for m in members]
    for key in METRIC_KEYS:
        values = [m[key] for m in members if m.get(key) is not None]
        folded[key], folded[f"{key}_low"], folded[f"{key}_high"] = _t_interval(values)
    for key in _MEANS:
        values = [m[key] for m in members if m.get(key) is not None]
        folded[key] = sum(values) / len(values) if values else None
    return folded


def _t_interval(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, None, None
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, max(0.0, mean - half), min(1.0, mean + half)  # every metric here lies in [0, 1]
