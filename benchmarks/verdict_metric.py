"""Which metric tells the upper bound from the floor: real-extra against real-only, per metric.

Reads a results store that holds ``real-only`` and ``real-extra`` cells (any classifiers, levels and
seeds; e.g. ``bench run --suite benchmarks/suites/verdict-metric.toml``) and, for each candidate
metric, recomputes the paired difference of every real-extra cell against real-only of the same
seed on the same bootstrap resamples the harness uses (the stored test scores and labels, the
deployment weights, the bootstrap seed), pools the seeds as the verdicts do (Hartung–Knapp), and
prints per classifier and level the difference, its 95 % interval and its t statistic
(difference / standard error). The metric with the largest t statistics separates best: it turns the
same data into the most verdicts that are not "no evidence".

Candidates: AUROC; standardized partial AUROC up to a false-positive rate of 0.1 and 0.05; AUPRC;
recall at a fixed precision of 1 % and 2 % (4x and 8x the 0.25 % prevalence); F1 at the validation
threshold (from the stored draws).

Run: ``python benchmarks/verdict_metric.py --results DIR`` (seconds); the table is in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from sparsebench.analysis.paired import hartung_knapp
from sparsebench.protocol.metrics import bootstrap_chunks, partial_auroc
from sparsebench.protocol.seeds import derive_seed
from sparsebench.protocol.sparsity import deployment_weights
from sparsebench.storage.store import ResultStore

CANDIDATES = ("auroc", "pauroc@0.1", "pauroc@0.05", "auprc", "recall@p0.01", "recall@p0.02", "f1@val")


def curve_family(y: np.ndarray, scores: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Every curve candidate for each row of ``w``, from one weighted ROC / PR sweep."""
    y = y.astype(bool)
    order = np.argsort(-scores, kind="mergesort")
    last = np.r_[np.flatnonzero(np.diff(scores[order])), len(scores) - 1]
    ws = np.atleast_2d(w)[:, order]
    tp = np.cumsum(ws * y[order], axis=1)[:, last]
    fp = np.cumsum(ws * ~y[order], axis=1)[:, last]
    recall, fpr = tp / tp[:, -1:], fp / fp[:, -1:]
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
    zeros = np.zeros_like(recall[:, :1])
    tpr0, fpr0 = np.concatenate([zeros, recall], axis=1), np.concatenate([zeros, fpr], axis=1)
    out = {
        "auroc": np.sum(np.diff(fpr0, axis=1) * (tpr0[:, 1:] + tpr0[:, :-1]) / 2, axis=1),
        "pauroc@0.1": partial_auroc(fpr0, tpr0, 0.1),
        "pauroc@0.05": partial_auroc(fpr0, tpr0, 0.05),
        "auprc": np.sum(np.diff(tpr0, axis=1) * precision, axis=1),
    }
    for p in (0.01, 0.02):
        out[f"recall@p{p}"] = np.max(np.where(precision >= p, recall, 0.0), axis=1)
    return out


def cell_draws(store: ResultStore, row: dict[str, Any]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    arrays = store.arrays(row["cell_id"])
    y, scores = arrays["test_labels"].astype(int), arrays["test_scores"].astype(float)
    weights = deployment_weights(y, float(row["config"]["prevalence"]))
    point = {k: float(v[0]) for k, v in curve_family(y, scores, weights).items()}
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for boot in bootstrap_chunks(y, weights, int(row["config"]["bootstrap"]), derive_seed(int(row["seed"]), "bootstrap")):
        for key, values in curve_family(y, scores, boot).items():
            parts[key].append(values)
    draws = {k: np.concatenate(v) for k, v in parts.items()}
    point["f1@val"], draws["f1@val"] = float(row["metrics"]["f1@val"]["value"]), arrays["draws:f1@val"]
    return point, draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--results", required=True)
    args = parser.parse_args()
    with ResultStore(Path(args.results), create=False) as store:
        rows = [r for r in store.rows() if r["status"] == "done"]
        scored = {r["cell_id"]: cell_draws(store, r) for r in rows}
    name = lambda r: str(r["generator"]).split("[", 1)[0]  # noqa: E731 - a benchmark script
    refs = {(r["dataset"], r["classifier"], r["seed"]): r for r in rows if name(r) == "real-only"}
    groups: dict[tuple[str, str, float], list[tuple[dict[str, float], dict[str, float]]]] = defaultdict(list)
    for row in rows:
        ref = refs.get((row["dataset"], row["classifier"], row["seed"]))
        if name(row) != "real-extra" or ref is None:
            continue
        (pa, da), (pb, db) = scored[row["cell_id"]], scored[ref["cell_id"]]
        deltas = {m: pa[m] - pb[m] for m in CANDIDATES}
        variances = {m: float(np.var(da[m] - db[m], ddof=1)) for m in CANDIDATES}
        groups[(row["dataset"], row["classifier"], row["level"])].append((deltas, variances))
    stats: dict[str, list[float]] = defaultdict(list)
    print("| classifier | level | seeds | " + " | ".join(CANDIDATES) + " |")
    print("|---|---|---|" + "---|" * len(CANDIDATES))
    for (dataset, classifier, level), seeds in sorted(groups.items()):
        cells = []
        for metric in CANDIDATES:
            deltas = np.array([s[0][metric] for s in seeds])
            within = np.array([s[1][metric] for s in seeds])
            mean, half = hartung_knapp(deltas, within) if len(seeds) > 1 else (float(deltas[0]), 1.96 * math.sqrt(within[0]))
            se = half / float(student_t.ppf(0.975, len(seeds) - 1)) if len(seeds) > 1 else half / 1.96
            tstat = mean / se if se > 0 else float("nan")
            if level > 0.0025:  # the arms below the base share take real positives away: not in the ranking
                stats[metric].append(tstat)
                stats[f"{metric} helps"].append(float(mean - half > 0))
            cells.append(f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}] t={tstat:.1f}")
        print(f"| {classifier} | {level:.2%} | {len(seeds)} | " + " | ".join(cells) + " |")
    print()
    print("| metric | median t | mean t | arms above the base share that read 'helps' |")
    print("|---|---|---|---|")
    for metric in CANDIDATES:
        print(f"| {metric} | {np.median(stats[metric]):.1f} | {np.mean(stats[metric]):.1f} | "
              f"{int(sum(stats[metric + ' helps']))} of {len(stats[metric])} |")


if __name__ == "__main__":
    main()
