"""Paired differences and verdicts: against a direct computation, on constructed cases, end to end."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from sparsebench.analysis.paired import HELPS, HURTS, NO_EVIDENCE, annotate, combine, comparisons, paired_seed, verdict
from sparsebench.protocol.metrics import bootstrap_weights, evaluate_draws
from sparsebench.protocol.sparsity import deployment_weights

N_BOOT = 200


def _labels(n: int, positives: int, seed: int) -> np.ndarray:
    y = np.zeros(n, dtype=np.int8)
    y[np.random.default_rng(seed).choice(n, positives, replace=False)] = 1
    return y


def _scores(y: np.ndarray, separation: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=len(y)) + separation * y


def _row(cell: str, generator: str, level: float, seed: int, point: dict[str, float]) -> dict:
    return {
        "cell_id": cell, "dataset": "d", "generator": generator, "classifier": "c", "level": level, "mode": "replace",
        "seed": seed, "status": "done", "metrics": {k: {"value": v} for k, v in point.items()},
        "config": {"generator": {"name": generator}, "base_share": 0.0025, "prevalence": 0.0025, "bootstrap": N_BOOT},
        "details": {"dataset_fingerprint": f"fp{seed}"},
    }


def test_paired_interval_equals_direct_computation_on_fixed_scores() -> None:
    y = _labels(400, 40, 0)
    weights = deployment_weights(y, 0.0025)
    a, b = _scores(y, 1.5, 1), _scores(y, 1.0, 2)
    point_a, draws_a = evaluate_draws(y, a, weights, 0.5, N_BOOT, seed=11)
    point_b, draws_b = evaluate_draws(y, b, weights, 0.5, N_BOOT, seed=11)
    seed = paired_seed(_row("a", "g", 0.05, 0, point_a), _row("b", "real-only", 0.0025, 0, point_b), draws_a["auprc"], draws_b["auprc"], "auprc")
    boot = bootstrap_weights(y, weights, N_BOOT, 11)
    direct = [average_precision_score(y, a, sample_weight=w) - average_precision_score(y, b, sample_weight=w) for w in boot]
    low, high = np.percentile(direct, [2.5, 97.5])
    assert seed.low == pytest.approx(low, abs=1e-12) and seed.high == pytest.approx(high, abs=1e-12)
    assert seed.delta == pytest.approx(average_precision_score(y, a, sample_weight=weights) - average_precision_score(y, b, sample_weight=weights), abs=1e-12)
    roc = [roc_auc_score(y, a, sample_weight=w) - roc_auc_score(y, b, sample_weight=w) for w in boot]
    roc_seed = paired_seed(_row("a", "g", 0.05, 0, point_a), _row("b", "r", 0.0025, 0, point_b), draws_a["auroc"], draws_b["auroc"], "auroc")
    assert (roc_seed.low, roc_seed.high) == pytest.approx(tuple(np.percentile(roc, [2.5, 97.5])), abs=1e-12)


def test_paired_interval_is_narrower_than_unpaired_when_scores_correlate() -> None:
    y = _labels(600, 60, 3)
    weights = deployment_weights(y, 0.0025)
    base = _scores(y, 1.0, 4)
    better = base + 0.4 * y  # the same ranking noise, a little more separation
    pa, da = evaluate_draws(y, better, weights, 0.5, N_BOOT, seed=5)
    pb, db = evaluate_draws(y, base, weights, 0.5, N_BOOT, seed=5)
    seed = paired_seed(_row("a", "g", 0.05, 0, pa), _row("b", "real-only", 0.0025, 0, pb), da["auprc"], db["auprc"], "auprc")
    unpaired = np.percentile(da["auprc"], 97.5) - np.percentile(db["auprc"], 2.5)
    assert seed.high - seed.low < unpaired
    assert seed.low > 0  # the paired test sees an improvement the overlapping intervals hide


def _constructed(separations: dict[str, float], seeds: int = 3) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    """Cells of real-only and generators whose classifier separates the classes by the given amount."""
    rows, arrays = [], {}
    for seed in range(seeds):
        y = _labels(1000, 150, 100 + seed)
        weights = deployment_weights(y, 0.0025)
        noise = _scores(y, 0.0, 200 + seed)
        for generator, separation in separations.items():
            jitter = np.random.default_rng([seed, len(generator)]).normal(scale=0.05, size=len(y))
            scores = noise + separation * y + (jitter if generator == "noise" else 0.0)
            point, draws = evaluate_draws(y, scores, weights, 0.5, N_BOOT, seed=seed)
            cell = f"{generator}-{seed}"
            level = 0.0025 if generator == "real-only" else 0.05
            rows.append(_row(cell, generator, level, seed, point))
            arrays[cell] = {f"draws:{k}": v for k, v in draws.items()}
    return rows, arrays


def test_verdicts_on_constructed_generators() -> None:
    rows, arrays = _constructed({"real-only": 2.0, "helps": 3.5, "hurts": 0.0, "noise": 2.0})
    found = {(c.generator, c.metric): c for c in comparisons(rows, arrays.__getitem__, baselines=("real-only",))}
    assert found[("helps", "auprc")].verdict == HELPS and found[("helps", "auroc")].verdict == HELPS
    assert found[("hurts", "auprc")].verdict == HURTS and found[("hurts", "auroc")].verdict == HURTS
    assert found[("noise", "auprc")].verdict == NO_EVIDENCE and found[("noise", "auroc")].verdict == NO_EVIDENCE
    helps = found[("helps", "auprc")]
    assert helps.n_seeds == 3 and len(helps.seeds) == 3
    assert min(s.delta for s in helps.seeds) <= helps.delta <= max(s.delta for s in helps.seeds)
    assert ("real-only", "auprc") not in found  # a baseline is not compared with itself


def test_comparisons_pair_only_cells_of_the_same_test_set() -> None:
    rows, arrays = _constructed({"real-only": 2.0, "helps": 3.5}, seeds=2)
    rows[0]["details"]["dataset_fingerprint"] = "another test set"  # real-only of seed 0 no longer matches
    found = [c for c in comparisons(rows, arrays.__getitem__) if c.metric == "auprc"]
    assert len(found) == 1 and found[0].n_seeds == 1 and found[0].seeds[0].seed == 1


def test_combine_includes_seed_to_seed_variation_and_clips() -> None:
    from sparsebench.analysis.paired import SeedDelta

    var = 0.005**2
    agreeing = [SeedDelta(s, 0.10, 0.09, 0.11, var, "a", "b") for s in range(3)]
    spread = [SeedDelta(s, d, d - 0.01, d + 0.01, var, "a", "b") for s, d in enumerate((0.0, 0.1, 0.2))]
    t2 = 4.302652729911275  # t(0.975, 2): three seeds leave two degrees of freedom
    mean, low, high = combine(agreeing)  # no disagreement at all: Hartung-Knapp's scatter is 0, the interval a point
    assert mean == pytest.approx(0.10) and high - low == pytest.approx(0.0, abs=1e-9)
    mean, low, high = combine(spread)  # equal weights: exactly the t-interval of the three differences
    assert mean == pytest.approx(0.1) and high - low == pytest.approx(2 * t2 * np.std([0.0, 0.1, 0.2], ddof=1) / np.sqrt(3))
    assert low < 0 < high  # consistent within seeds, but the seeds disagree
    # the case (mlp x template at 3 %): seeds +0.113, +0.100, +0.018 read "helps" under a normal 1.96; not under t(2)
    close = [SeedDelta(s, d, d - 0.02, d + 0.02, 0.01**2, "a", "b") for s, d in enumerate((0.113, 0.100, 0.018))]
    mean, low, high = combine(close)
    assert low < 0 < high and high == pytest.approx(mean + t2 * np.std([0.113, 0.100, 0.018], ddof=1) / np.sqrt(3), rel=0.02)
    assert combine([SeedDelta(0, 0.95, 0.9, 1.0, 0.9, "a", "b"), SeedDelta(1, 0.99, 0.9, 1.0, 0.9, "a", "b")])[2] == 1.0
    single = SeedDelta(0, 0.05, 0.01, 0.12, var, "a", "b")
    assert combine([single]) == (0.05, 0.01, 0.12)


def test_verdict_reads_the_interval() -> None:
    assert verdict(0.001, 0.2) == HELPS and verdict(-0.2, -0.01) == HURTS and verdict(-0.1, 0.1) == NO_EVIDENCE
    assert verdict(0.0, 0.1) == NO_EVIDENCE


def test_annotate_adds_verdict_columns() -> None:
    rows, arrays = _constructed({"real-only": 2.0, "oversample": 2.0, "helps": 3.5})
    records = [{k: r[k] for k in ("dataset", "generator", "classifier", "level", "mode")} for r in rows[:3]]
    annotate(records, comparisons(rows, arrays.__getitem__))
    by_generator = {r["generator"]: r for r in records}
    assert by_generator["helps"]["verdict"] == HELPS and by_generator["helps"]["vs_oversample"] == HELPS
    assert by_generator["helps"]["d_real_only_low"] > 0 and by_generator["helps"]["d_real_only_seeds"] == 3
    assert by_generator["real-only"]["verdict"] is None
    assert by_generator["oversample"]["verdict"] in (HELPS, HURTS, NO_EVIDENCE) and by_generator["oversample"]["vs_oversample"] is None


def test_aggregation_across_seeds_clips_to_the_metric_range() -> None:
    from sparsebench.analysis.aggregate import _t_interval

    mean, low, high = _t_interval([0.99, 0.999, 0.95])
    assert high == 1.0 and 0 < low < mean
    assert _t_interval([0.001, 0.02, 0.0])[1] == 0.0
