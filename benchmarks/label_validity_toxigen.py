"""How far the quality section's label-validity judge agrees with people, on ToxiGen's human ratings.

The judge is the one every generated set is scored with (:class:`sparsebench.protocol.quality.SetQuality`): a
TF-IDF logistic regression trained on real rows only (the training negatives of a split and up to
1,500 reserve positives), built exactly as for a cell of the default suite's full-scale ``toxic-mix``
at the given seed. It scores all 8,960 ToxiGen statements (written by GPT-3, rated by three people);
the ground truth is ``toxicity_human >= 4``. Printed: the AUROC of its score, its toxic share on the
rows people rated toxic (the ``label_validity`` the harness reports for the ``toxigen`` set) and on
the rest, next to the human rates.

    SPARSEBENCH_DATA=../shared/data python benchmarks/label_validity_toxigen.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
from sklearn.metrics import roc_auc_score

from sparsebench import DataContext, data_dir
from sparsebench.plugins.datasets.toxic_mix import ToxicMix
from sparsebench.plugins.generators.corpus import TOXIGEN_FILE, verified_toxigen
from sparsebench.protocol.quality import RealOnlyJudge, SetQuality
from sparsebench.protocol.sparsity import Protocol, make_splits


def ratings() -> tuple[list[str], np.ndarray]:
    with verified_toxigen(data_dir()).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], np.array([float(r["toxicity_human"]) for r in rows])


def judge_for(seed: int) -> RealOnlyJudge:
    """The judge of the default suite's full-scale toxic-mix cell at ``seed`` (the runner's seeds and splits)."""
    from sparsebench.protocol.seeds import derive_seed

    data = ToxicMix().load(DataContext(data_dir(), download=False, seed=seed))
    protocol = Protocol(levels=(0.01, 0.03, 0.05), base_share=0.0025, mode="replace", prevalence=0.0025)
    splits = make_splits(data, protocol, seed)
    quality = SetQuality(splits, embedder=None, seed=derive_seed(seed, "quality"))  # type: ignore[arg-type]
    return RealOnlyJudge(splits.train_neg, quality._judge_pos, quality.seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    texts, human = ratings()
    toxic = human >= 4
    for seed in args.seeds:
        score = judge_for(seed).model.predict_proba(texts)[:, 1]
        said = score >= 0.5
        print(json.dumps({
            "seed": seed, "file": TOXIGEN_FILE, "texts": len(texts), "human_toxic": int(toxic.sum()),
            "auroc_vs_human_ge_4": round(float(roc_auc_score(toxic, score)), 4),
            "judge_toxic_share_on_human_toxic": round(float(said[toxic].mean()), 4),
            "judge_toxic_share_on_human_not_toxic": round(float(said[~toxic].mean()), 4),
            "human_toxic_share": round(float(toxic.mean()), 4),
        }))


if __name__ == "__main__":
    main()
