"""Paired differences between cells, and a verdict per generator × classifier × level.

Every cell of one (dataset, seed) is scored on the same test rows with the same bootstrap resamples
(:func:`sparsebench.protocol.metrics.evaluate_draws`), and the runner stores each cell's draws. So for a cell
and its baseline (a generator whose role is ``baseline``, :mod:`sparsebench.analysis.roles`: the reference at
the base share, any other at the same level, with the same dataset, classifier, mode and seed) the difference of their draws, resample by resample, is a paired
bootstrap of the difference: its 2.5 / 97.5 percentiles are the per-seed 95 % interval.

Across seeds the per-seed differences are pooled as in a random-effects meta-analysis: each seed
weighs ``1 / (v_s + τ²)``, where ``v_s`` is its within-seed bootstrap variance (test-set noise) and
``τ²`` the seed-to-seed variance beyond that noise (data, splits, generation and training), estimated
from how much the seeds disagree (DerSimonian–Laird). The interval is Hartung–Knapp's: the weighted
mean ± ``t(0.975, k−1)`` times the standard error estimated from the seeds' own weighted scatter,
``sqrt(Σ w_s (y_s − ȳ)² / ((k−1) Σ w_s))``. With few seeds a normal 1.96 on an estimated ``τ²`` is
far too narrow (at 3 seeds it covers about 80 %, not 95 %); the t quantile on ``k − 1`` degrees of
freedom keeps the coverage near 95 % at 3 seeds (``benchmarks/pooled_coverage.py``,
docs/reliability.md). With one seed it is that seed's paired percentile interval. Intervals are
clipped to ``[-1, 1]``, the range of a difference of bounded metrics.

The verdict reads the interval: **helps** when it lies above 0, **hurts** when below, otherwise
**no evidence**.

Python API (the HTML report uses it)::

    from sparsebench.analysis.paired import comparisons
    with ResultStore(path, create=False) as store:
        for c in comparisons(store.rows(), store.arrays):
            print(c.generator, c.classifier, c.level, c.baseline, c.metric, c.delta, c.low, c.high, c.verdict)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsebench.analysis import roles
from sparsebench.contracts.enums import Status

METRICS = ("auprc", "auroc", "pauroc@0.1", "f1@val")
#: the metric the verdicts read unless ``--metric`` says otherwise (why: docs/reliability.md, "The verdict's metric")
VERDICT_METRIC = "pauroc@0.1"
HELPS, HURTS, NO_EVIDENCE = "helps", "hurts", "no evidence"
VERDICTS = (HELPS, HURTS, NO_EVIDENCE)

ArrayLookup = Callable[[str], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class SeedDelta:
    """One seed's paired difference ``cell − baseline`` with its bootstrap interval and variance."""

    seed: int
    delta: float
    low: float
    high: float
    variance: float
    cell: str
    baseline_cell: str


@dataclass(frozen=True)
class Comparison:
    """A generator × classifier × level against one baseline, on one metric, over its seeds."""

    dataset: str
    generator: str
    classifier: str
    level: float
    mode: str
    baseline: str
    metric: str
    delta: float
    low: float
    high: float
    n_seeds: int
    verdict: str
    seeds: tuple[SeedDelta, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "seeds"}
        out["seeds"] = [s.__dict__ for s in self.seeds]
        return out


def verdict(low: float, high: float) -> str:
    """``helps`` when the interval lies above 0, ``hurts`` when below, else ``no evidence``."""
    if low > 0:
        return HELPS
    if high < 0:
        return HURTS
    return NO_EVIDENCE


def paired_seed(cell: Mapping[str, Any], base: Mapping[str, Any], cell_draws: np.ndarray, base_draws: np.ndarray, metric: str) -> SeedDelta:
    """The paired difference of one seed from the two cells' point values and their shared-resample draws."""
    if cell_draws.shape != base_draws.shape or not len(cell_draws):
        raise ValueError(f"cells {cell['cell_id']} and {base['cell_id']} have bootstrap draws of different sizes; they are not paired")
    diff = np.asarray(cell_draws, dtype=float) - np.asarray(base_draws, dtype=float)
    low, high = np.nanpercentile(diff, [2.5, 97.5])
    delta = float(cell["metrics"][metric]["value"]) - float(base["metrics"][metric]["value"])
    return SeedDelta(int(cell["seed"]), delta, _clip(low), _clip(high), float(np.nanvar(diff, ddof=1)) if len(diff) > 1 else 0.0,
                     str(cell["cell_id"]), str(base["cell_id"]))


def combine(seeds: Sequence[SeedDelta]) -> tuple[float, float, float]:
    """Random-effects mean difference over seeds and its 95 % interval (see the module docstring)."""
    n = len(seeds)
    if n == 0:
        raise ValueError("no seeds to combine")
    if n == 1:
        return seeds[0].delta, seeds[0].low, seeds[0].high
    deltas = np.array([s.delta for s in seeds])
    within = np.array([s.variance for s in seeds])
    mean, half = hartung_knapp(deltas, within)
    return mean, _clip(mean - half), _clip(mean + half)


def hartung_knapp(deltas: np.ndarray, within: np.ndarray, level: float = 0.95, floor: bool = False) -> tuple[float, float]:
    """The random-effects mean of ``deltas`` and the half-width of its Hartung–Knapp interval.

    ``within`` are the per-seed (within-study) variances; the between-seed variance comes from
    :func:`between_seed_variance`. Needs at least two values. ``floor`` keeps the standard error
    at least the one the weights alone give (Knapp and Hartung's ad hoc rule), so values that agree
    by chance never make the interval narrower than their own uncertainty (used across datasets).
    """
    from scipy.stats import t

    k = len(deltas)
    within = np.maximum(np.asarray(within, dtype=float), _MIN_VARIANCE)
    weights = 1.0 / (within + between_seed_variance(deltas, within))
    mean = float(np.sum(weights * deltas) / np.sum(weights))
    scatter = float(np.sum(weights * (deltas - mean) ** 2)) / ((k - 1) * float(np.sum(weights)))
    if floor:
        scatter = max(scatter, 1.0 / float(np.sum(weights)))
    return mean, float(t.ppf(0.5 + level / 2, k - 1)) * math.sqrt(scatter)


def between_seed_variance(deltas: np.ndarray, within: np.ndarray) -> float:
    """DerSimonian–Laird estimate of the seed-to-seed variance beyond the within-seed (test-set) noise."""
    w = 1.0 / within
    fixed = np.sum(w * deltas) / np.sum(w)
    q = float(np.sum(w * (deltas - fixed) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (q - (len(deltas) - 1)) / c) if c > 0 else 0.0


_MIN_VARIANCE = 1e-12


def comparisons(
    rows: Iterable[Mapping[str, Any]],
    arrays: ArrayLookup,
    baselines: Sequence[str] | None = None,
    metrics: Sequence[str] = METRICS,
) -> list[Comparison]:
    """Every cell that is ``done`` against each baseline of the same (dataset, classifier, mode, seed).

    ``rows`` are stored rows (:meth:`ResultStore.rows`); ``arrays(cell_id)`` returns a cell's stored
    arrays (:meth:`ResultStore.arrays`). The baselines are the generators whose role is
    ``baseline`` (:mod:`sparsebench.analysis.roles`), or the names given. The reference baseline (one that adds
    nothing) is paired at the base share, any other at the cell's own level. A baseline is not
    compared with itself; cells without stored draws (older results, other test sets) are left out.
    """
    done = [r for r in rows if r.get("status") == Status.DONE and r.get("metrics")]
    index = {_pair_key(r, _name(r), r["level"]): r for r in done}
    found = roles.baselines(done)
    chosen = [(name, reference) for name, reference in found if baselines is None or name in baselines]
    grouped: dict[tuple[Any, ...], list[SeedDelta]] = defaultdict(list)
    cache: dict[str, Mapping[str, np.ndarray]] = {}
    for row in done:
        for baseline, reference in chosen:
            if _name(row) == baseline:
                continue
            level = float(row["config"].get("base_share", row["level"])) if reference else float(row["level"])
            base = index.get(_pair_key(row, baseline, level))
            if base is None:
                continue
            for metric in metrics:
                seed = _seed_delta(row, base, metric, cache, arrays)
                if seed is not None:
                    grouped[(row["dataset"], row["generator"], row["classifier"], row["level"], row["mode"], baseline, metric)].append(seed)
    return [_comparison(key, seeds) for key, seeds in grouped.items()]


def _seed_delta(row: Mapping[str, Any], base: Mapping[str, Any], metric: str, cache: dict[str, Mapping[str, np.ndarray]],
                arrays: ArrayLookup) -> SeedDelta | None:
    for cell in (row, base):
        if cell["cell_id"] not in cache:
            cache[cell["cell_id"]] = arrays(cell["cell_id"])
    name = f"draws:{metric}"
    a, b = cache[row["cell_id"]].get(name), cache[base["cell_id"]].get(name)
    if a is None or b is None or metric not in row["metrics"] or metric not in base["metrics"] or a.shape != b.shape:
        return None
    return paired_seed(row, base, a, b, metric)


def _comparison(key: tuple[Any, ...], seeds: list[SeedDelta]) -> Comparison:
    dataset, generator, classifier, level, mode, baseline, metric = key
    ordered = tuple(sorted(seeds, key=lambda s: s.seed))
    delta, low, high = combine(ordered)
    return Comparison(dataset, generator, classifier, level, mode, baseline, metric, delta, low, high, len(ordered), verdict(low, high), ordered)


def _name(row: Mapping[str, Any]) -> str:
    return str(row.get("config", {}).get("generator", {}).get("name") or roles.name_of(row["generator"]))


def _pair_key(row: Mapping[str, Any], generator: str, level: float) -> tuple[Any, ...]:
    """What two cells must share to be paired: same test set and resamples, same classifier."""
    config = row.get("config", {})
    return (
        row["dataset"], generator, row["classifier"], round(float(level), 12), row["mode"], int(row["seed"]),
        (row.get("details") or {}).get("dataset_fingerprint"), config.get("prevalence"), config.get("bootstrap"),
        str(config.get("classifier")), str(config.get("dataset")),
    )


def _clip(value: float) -> float:
    return float(min(1.0, max(-1.0, value)))


# --- the leaderboard's view ---------------------------------------------------------------------


def annotate(records: list[dict[str, Any]], found: Iterable[Comparison], metric: str | None = None) -> list[dict[str, Any]]:
    """Add the verdicts and paired differences of ``metric`` to leaderboard records (in place).

    One verdict column per baseline (:func:`sparsebench.analysis.roles.verdict_column`): ``verdict`` against
    the reference, ``vs_<name>`` against each other baseline; ``d_<name>`` with ``_low`` / ``_high`` /
    ``_seeds`` hold the difference over seeds. A baseline gets no verdict against itself. ``metric``
    defaults to :data:`VERDICT_METRIC`; it is written to each record as ``verdict_metric``.
    """
    metric = metric or VERDICT_METRIC
    found = [c for c in found if c.metric == metric]
    table = {(c.dataset, c.generator, c.classifier, c.level, c.mode, c.baseline): c for c in found}
    columns = _verdict_columns(records, found)
    for record in records:
        record["verdict_metric"] = metric
        for baseline, column in columns:
            comp = table.get((record["dataset"], record["generator"], record["classifier"], record["level"], record["mode"], baseline))
            slug = baseline.replace("-", "_")
            record[column] = comp.verdict if comp else None
            record[f"d_{slug}"], record[f"d_{slug}_low"], record[f"d_{slug}_high"] = (comp.delta, comp.low, comp.high) if comp else (None, None, None)
            record[f"d_{slug}_seeds"] = comp.n_seeds if comp else None
    return records


def _verdict_columns(records: list[dict[str, Any]], found: list[Comparison]) -> list[tuple[str, str]]:
    """``(baseline name, column)``: the baselines among the records (by role), and any compared against."""
    named = dict(roles.baselines(records))
    for comp in found:
        named.setdefault(comp.baseline, False)
    return [(name, roles.verdict_column(name, reference)) for name, reference in sorted(named.items(), key=lambda i: (not i[1], i[0]))]


def verdict_columns(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The verdict columns present in annotated records: ``verdict`` first, then ``vs_<name>`` by name."""
    keys = {k for r in records for k in r if k == roles.REFERENCE_COLUMN or k.startswith("vs_")}
    return sorted(keys, key=lambda k: (k != roles.REFERENCE_COLUMN, k))


def annotate_rows(records: list[dict[str, Any]], rows: Iterable[Mapping[str, Any]], arrays: ArrayLookup,
                  metric: str | None = None) -> list[Comparison]:
    """:func:`comparisons` of ``rows`` written into the leaderboard ``records``; returns the comparisons."""
    found = comparisons(rows, arrays)
    annotate(records, found, metric)
    return found
