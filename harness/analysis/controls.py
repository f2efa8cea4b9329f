"""The controls line after the leaderboard: the positive control, the negative controls, and datasets too small to conclude.

Reads stored rows and their paired comparisons only; the scorers themselves are in :mod:`sparsebench.protocol.shortcuts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsebench.analysis import roles
from sparsebench.contracts.enums import Status

#: a negative control passes when its AUROC is at most this (chance is 0.5)
NEGATIVE_CONTROL_MAX_AUROC = 0.60


def control_lines(rows: Sequence[dict], found: Sequence[object], metric: str | None = None) -> list[str]:
    """Plain-words lines checking the suite's positive and negative controls, then data warnings.

    ``rows`` are stored rows, ``found`` their :func:`sparsebench.analysis.paired.comparisons`; the positive
    control reads ``metric`` (default the verdict metric). Components are found by their role
    (:mod:`sparsebench.analysis.roles`): the upper bound against the reference, and each control classifier.
    """
    from sparsebench.analysis.paired import VERDICT_METRIC

    done = [r for r in rows if r.get("status") == Status.DONE]
    if not done:
        return []
    lines = [_positive_line(done, found, metric or VERDICT_METRIC)]
    return lines + [_negative_line(name, members) for name, members in _by_dataset(done).items()] + _warning_lines(done)


def _positive_line(done: list[dict], found: Sequence[object], metric: str) -> str:
    stored = {r["generator"]: roles.of(r) for r in done}

    def roles_of(generator: str) -> roles.RowRoles:
        return stored.get(generator) or roles.of({"generator": generator, "classifier": ""})

    candidates = [c for c in found if getattr(c, "metric", "") == metric and roles_of(getattr(c, "generator", "")).generator == roles.UPPER_BOUND
                  and roles_of(getattr(c, "baseline", "")).reference]
    if not candidates:
        return "positive control not run: the suite needs an upper bound (real-extra) and the reference (real-only) cells of one classifier"
    first: Any = candidates[0]
    name, base = roles.name_of(first.generator), first.baseline
    top = max(getattr(c, "level", 0.0) for c in candidates)
    at_top = [c for c in candidates if getattr(c, "level", 0.0) == top]
    passing = sorted((c for c in at_top if getattr(c, "low", 0.0) > 0), key=lambda c: (-getattr(c, "n_seeds", 0), -getattr(c, "low", 0.0)))
    if passing:
        best = passing[0]
        return (f"positive control passes: {name} at {top:.2%} beats {base} on {metric.upper()} for {len({_key(c) for c in passing})} of "
                f"{len({_key(c) for c in at_top})} classifier/dataset pairs (e.g. {_describe(best)})")
    return (f"positive control FAILS: {name} at {top:.2%} does not beat {base} on {metric.upper()} for any classifier; "
            "this suite cannot tell the upper bound from the floor")


def _negative_line(dataset: str, members: list[dict]) -> str:
    checks: dict[str, float | None] = {}
    for name in sorted({roles.name_of(r["classifier"]) for r in members if roles.of(r).classifier == roles.CONTROL}):
        checks[name] = _mean([r["metrics"]["auroc"]["value"] for r in members if roles.name_of(r["classifier"]) == name
                              and roles.of(r).reference and "auroc" in r.get("metrics", {})])
    by_seed: dict[int, dict] = {}
    for row in members:
        by_seed.setdefault(int(row["seed"]), (row.get("details") or {}).get("controls") or {})
    platform = [c["platform_only_auroc"] for c in by_seed.values() if c.get("platform_only_auroc") is not None]
    collection = [c["collection_only_auroc"] for c in by_seed.values() if c.get("collection_only_auroc") is not None]
    checks["platform-only"] = _mean(platform)
    failed = [name for name, value in checks.items() if value is not None and value > NEGATIVE_CONTROL_MAX_AUROC]
    shown = ", ".join(f"{name} AUROC {value:.2f}" for name, value in checks.items() if value is not None) or "no control measured"
    extra = f"; collection-only AUROC {_mean(collection):.2f}" if collection else ""
    if failed:
        return (f"negative controls FAIL on {dataset}: {shown} (above {NEGATIVE_CONTROL_MAX_AUROC:.2f}){extra}: "
                f"the {' and '.join(failed)} shortcut predicts the label without reading toxicity")
    return f"negative controls pass on {dataset}: {shown} (at most {NEGATIVE_CONTROL_MAX_AUROC:.2f}){extra}"


def _warning_lines(done: list[dict]) -> list[str]:
    seen: dict[tuple[str, str], None] = {}
    for row in done:
        for warning in ((row.get("details") or {}).get("controls") or {}).get("warnings", []):
            seen[(row["dataset"], warning)] = None
    return [f"warning: {dataset}: {warning}" for dataset, warning in seen]


def _by_dataset(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["dataset"], []).append(row)
    return out


def _describe(c: object) -> str:
    g = getattr
    return (f"{g(c, 'classifier')} on {g(c, 'dataset')}, {g(c, 'metric').upper()} {g(c, 'delta'):+.3f} "
            f"[{g(c, 'low'):+.3f}, {g(c, 'high'):+.3f}], {g(c, 'n_seeds')} seed{'s' if g(c, 'n_seeds') != 1 else ''}")


def _key(c: object) -> tuple[str, str]:
    return (getattr(c, "dataset", ""), getattr(c, "classifier", ""))


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def controls_for(rows: Sequence[dict], arrays: object, metric: str | None = None) -> list[str]:
    """:func:`control_lines` for stored rows, with their paired comparisons computed from ``arrays``."""
    from sparsebench.analysis.paired import comparisons

    return control_lines(rows, comparisons(rows, arrays), metric)
