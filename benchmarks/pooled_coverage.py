"""Coverage of the seed-pooled 95 % interval of a paired difference, by simulation.

The model is the one the pooling assumes (:mod:`sparsebench.analysis.paired`): seed ``s`` has a true effect
``μ + u_s`` with ``u_s ~ N(0, τ²)`` (data, split, generation and training differ by seed), and its
measured paired difference adds test-set noise ``e_s ~ N(0, v_s)``. The harness knows ``v_s`` only
through the bootstrap; here its estimate is ``v_s · χ²(df)/df`` with ``df`` = 200 (a thousand
resamples estimate a variance to about ±10 %). The within-seed variances differ between seeds by up
to ±30 %. For each ratio ``τ² / v`` and number of seeds, the share of simulated studies whose
interval holds ``μ``:

* ``DL normal`` — the DerSimonian–Laird mean ± 1.96 standard errors (what the harness did before);
* ``Hartung–Knapp`` — the same mean ± ``t(0.975, k−1)`` times the Hartung–Knapp standard error
  (:func:`sparsebench.analysis.paired.hartung_knapp`, what the harness does now).

Run: ``python benchmarks/pooled_coverage.py [--reps 4000] [--figure docs/pooled-coverage.png]``
(about half a minute on two cores); the table is in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from sparsebench.analysis.paired import between_seed_variance, hartung_knapp

RATIOS = (0.0, 0.25, 1.0, 4.0, 16.0)
SEEDS = (2, 3, 5)
_Z95 = 1.959963984540054


def dl_normal(deltas: np.ndarray, within: np.ndarray) -> tuple[float, float]:
    """The former interval: DerSimonian–Laird weights and a normal 1.96."""
    within = np.maximum(within, 1e-12)
    weights = 1.0 / (within + between_seed_variance(deltas, within))
    return float(np.sum(weights * deltas) / np.sum(weights)), _Z95 * math.sqrt(1.0 / float(np.sum(weights)))


def coverage(k: int, ratio: float, reps: int, seed: int, mu: float = 0.05, v: float = 1e-4) -> dict[str, float]:
    rng = np.random.default_rng([seed, k, int(ratio * 1000)])
    hits = {"DL normal": 0, "Hartung–Knapp": 0}
    widths: dict[str, list[float]] = {name: [] for name in hits}
    for _ in range(reps):
        v_s = v * rng.uniform(0.7, 1.3, size=k)
        y = mu + rng.normal(0, math.sqrt(ratio * v), size=k) + rng.normal(0, np.sqrt(v_s))
        v_hat = v_s * rng.chisquare(200, size=k) / 200
        for name, method in (("DL normal", dl_normal), ("Hartung–Knapp", hartung_knapp)):
            mean, half = method(y, v_hat)
            hits[name] += abs(mean - mu) <= half
            widths[name].append(2 * half)
    out: dict[str, float] = {"seeds": k, "tau2_over_v": ratio}
    for name in hits:
        out[f"{name} coverage"] = hits[name] / reps
        out[f"{name} median width / sqrt(v)"] = float(np.median(widths[name]) / math.sqrt(v))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--figure", help="write a PNG of coverage against τ²/v")
    args = parser.parse_args()
    rows = [coverage(k, ratio, args.reps, args.seed) for k in SEEDS for ratio in RATIOS]
    print(f"| seeds | τ²/v | DL normal | Hartung–Knapp | HK median width / √v |  ({args.reps:,} studies each, "
          f"Monte Carlo SE ±{100 * math.sqrt(0.95 * 0.05 / args.reps):.1f} points)")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['seeds']} | {row['tau2_over_v']:g} | {row['DL normal coverage']:.1%} | {row['Hartung–Knapp coverage']:.1%} | "
              f"{row['Hartung–Knapp median width / sqrt(v)']:.1f} |")
    print(json.dumps(rows))
    if args.figure:
        _figure(rows, args.figure)


def _figure(rows: list[dict[str, float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for k, style in zip(SEEDS, ("o", "s", "^"), strict=True):
        mine = [r for r in rows if r["seeds"] == k]
        x = [r["tau2_over_v"] + 0.05 for r in mine]
        ax.plot(x, [r["Hartung–Knapp coverage"] for r in mine], marker=style, color="tab:blue", label=f"Hartung–Knapp, {k} seeds")
        ax.plot(x, [r["DL normal coverage"] for r in mine], marker=style, color="tab:red", linestyle="--", label=f"normal 1.96, {k} seeds")
    ax.axhspan(0.93, 0.97, color="0.9", zorder=0, label="95 % ± 2 points")
    ax.axhline(0.95, color="0.4", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("seed-to-seed variance / test-set variance (τ²/v, +0.05)")
    ax.set_ylabel("coverage of the 95 % interval")
    ax.set_ylim(0.6, 1.0)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
