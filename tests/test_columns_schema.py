"""Every result column is declared once, in sparsebench.analysis.columns.CATALOGUE, and every reader follows it."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from sparsebench.analysis.columns import CATALOGUE, KINDS, METRIC_COLUMNS, SHARE_KEYS, TIMING_KEYS
from sparsebench.analysis.leaderboard import cell_text, flatten, to_csv, to_json
from sparsebench.protocol.metrics import METRIC_KEYS, evaluate

ROW = {
    "cell_id": "abcdef123456", "run_id": "r1", "dataset": "toxic-mix[negatives=4000]", "generator": "template", "classifier": "logreg",
    "level": 0.05, "mode": "replace", "seed": 2, "status": "done", "reason": "", "finished_at": 1.0,
    "config": {"prevalence": 0.0025},
    "metrics": {k: {"value": 0.5, "low": 0.4, "high": 0.6} for k in METRIC_KEYS},
    "timings": {k: 12.5 for k in TIMING_KEYS},
    "details": {"splits": {"test_positives": 90, "test_rows": 690}, "training": {"size": 4000, "synthetic_positives": 190},
                "generation": {"acceptance_rate": 0.75},
                "quality": {"distinct_2": 0.6, "self_similarity": 0.2, "novelty": 0.5, "copy_share": 0.0, "precision": 0.7,
                            "recall": 0.3, "label_validity": 0.9, "near_duplicates": 1},
                "functional": {"hatecheck": {"accuracy": 0.55, "worst": "slur_h", "worst_accuracy": 0.1}}},
}


def test_the_catalogue_declares_each_computed_metric_once() -> None:
    y = np.array([0, 1] * 20)
    computed = set(evaluate(y, np.linspace(0, 1, 40), np.ones(40), 0.5, n_boot=10))
    assert set(METRIC_COLUMNS) == computed == set(METRIC_KEYS)
    keys = [c.key for c in CATALOGUE]
    assert len(keys) == len(set(keys)) and all(c.kind in KINDS for c in CATALOGUE)


def test_flatten_reads_every_declared_column_from_its_source() -> None:
    flat = flatten(ROW)
    declared = {c.key for c in CATALOGUE}
    intervals = {f"{k}_{end}" for k in METRIC_COLUMNS for end in ("low", "high")}
    assert set(flat) <= declared | intervals  # nothing undeclared reaches a record
    for column in CATALOGUE:
        if column.source != "derived":
            assert flat[column.key] is not None, f"{column.key} not read from {column.source}"
    assert (flat["test_positives"], flat["q_label_validity"], flat["hc_worst"], flat["prevalence"]) == (90, 0.9, "slur_h", 0.0025)
    assert flat["auroc_low"] == 0.4 and flat["cell_s"] == 12.5


def test_exports_and_tables_follow_the_declaration() -> None:
    flat = flatten(ROW)
    header = next(csv.reader(io.StringIO(to_csv([flat]))))
    assert header[: len(flat)] == list(flat)
    assert set(json.loads(to_json([flat]))[0]) == set(flat)
    shown = {key: cell_text(flat, key) for key in ("cell", "level", "acceptance_rate", "cell_s", "auprc", "test_positives", "generation_texts_per_s")}
    assert shown == {"cell": "abcdef12", "level": "5.00%", "acceptance_rate": "75%", "cell_s": "12.5", "auprc": "0.500 [0.400, 0.600]",
                     "test_positives": "90", "generation_texts_per_s": "12.5"}
    assert {"level", "acceptance_rate", "q_label_validity", "hc_accuracy"} <= set(SHARE_KEYS)
