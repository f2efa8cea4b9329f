"""How far a test set's weighted AUPRC is from the truth at a given size: bias and interval coverage.

Scores are binormal (negatives N(0, 1), positives N(d, 1); AUROC = Phi(d / sqrt 2)). The true AUPRC at
the deployment prevalence comes from 4 million rows of each class, weighted to that prevalence. Each
simulated test set has the default suite's sizes; its AUPRC is computed with the harness's own
weighted metric (:func:`sparsebench.protocol.metrics.curve_metrics`, test positives weighted down to the
prevalence), and its 95 % interval with the harness's stratified bootstrap (:func:`evaluate_draws`).

Run: ``python benchmarks/auprc_bias.py [--sets 400]`` (about a minute on two cores); the numbers are
in docs/data.md.
"""

from __future__ import annotations

import argparse
import json
from math import erf

import numpy as np

from sparsebench.protocol.metrics import curve_metrics, evaluate_draws
from sparsebench.protocol.sparsity import deployment_weights

SIZES = {  # (test negatives, test positives)
    "default suite, full toxic-mix": (3375, 1337),
    "default suite, toxic-mix[negatives=4000,positives=600]": (599, 91),
    "old default (one seed, 2026-11-29)": (898, 120),
}


def true_auprc(d: float, prevalence: float, n: int = 4_000_000, seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int8)]
    scores = np.r_[rng.normal(0, 1, n), rng.normal(d, 1, n)]
    return float(curve_metrics(y, scores, deployment_weights(y, prevalence))["auprc"][0])


def simulate(d: float, size: tuple[int, int], prevalence: float, sets: int, boot: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    neg, pos = size
    y = np.r_[np.zeros(neg, dtype=np.int8), np.ones(pos, dtype=np.int8)]
    weights = deployment_weights(y, prevalence)
    values, covered = [], 0
    truth = true_auprc(d, prevalence)
    for k in range(sets):
        scores = np.r_[rng.normal(0, 1, neg), rng.normal(d, 1, pos)]
        point, draws = evaluate_draws(y, scores, weights, 0.5, boot, seed + k)
        low, high = np.percentile(draws["auprc"], [2.5, 97.5])
        values.append(point["auprc"])
        covered += low <= truth <= high
    mean = float(np.mean(values))
    return {"true_auprc": truth, "mean_estimate": mean, "bias_pct": 100 * (mean / truth - 1), "coverage_pct": 100 * covered / sets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=400)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--prevalence", type=float, default=0.0025)
    args = parser.parse_args()
    out = []
    for auroc_target, d in ((0.56, 0.21), (0.67, 0.62), (0.90, 1.81)):
        for name, size in SIZES.items():
            row = {"auroc": round(0.5 * (1 + erf(d / 2)), 3), "test": name, "negatives": size[0], "positives": size[1]}
            row.update(simulate(d, size, args.prevalence, args.sets, args.bootstrap, seed=7))
            out.append(row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
