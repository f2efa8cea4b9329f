"""Trust guards: even oversampling across chunks, near-duplicates, dedup keys, stratified splits, controls."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sparsebench.contracts.components import DataContext, LabelledTexts
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.engine.generation import generate
from sparsebench.hooks.loader import load_plugins
from sparsebench.protocol.shortcuts import group_only_auroc, near_duplicates
from sparsebench.protocol.sparsity import Protocol, allocate, make_splits
from sparsebench.storage.cache import GenerationCache


def _splits_with(positives: int, negatives: int = 8000):
    texts = [f"ordinary comment number {i} about the weather" for i in range(negatives)]
    texts += [f"toxic remark {i} you absolute fool" for i in range(positives)]
    data = LabelledTexts(texts, np.array([0] * negatives + [1] * positives), ["s"] * (negatives + positives))
    return make_splits(data, Protocol(base_share=0.0025), seed=0)


def test_oversample_uses_each_positive_equally_often_across_chunks(tmp_path: Path) -> None:
    splits = _splits_with(positives=400)
    generator = load_plugins(entry_points=False).registry.get("generator", "oversample").cls()
    n_pos = len(splits.train_pos)
    assert n_pos == 14
    count = 64 * 9  # nine chunks, 576 texts: 41 or 42 uses per positive
    result = generate(generator, splits, count, seed=3, device="cpu", cache=GenerationCache(tmp_path), chunk_size=64)
    uses = Counter(result.texts)
    assert set(uses) == set(splits.train_pos) and len(result.texts) == count
    assert max(uses.values()) - min(uses.values()) <= 1
    for prefix in (64, 200, 333):  # every level reads a prefix: balanced there too
        head = Counter(result.texts[:prefix])
        assert max(head[p] for p in splits.train_pos) - min(head[p] for p in splits.train_pos) <= 1


def test_dedup_key_ignores_retweet_and_mention_noise() -> None:
    same = ["RT @user: Build the wall NOW!", "@user @user build the wall now", "rt @someone build the wall now https://t.co/x1"]
    assert len({dedup_key(t) for t in same}) == 1
    assert dedup_key("Art is #great") != dedup_key("is #great")  # a word starting with 'rt' is not a retweet marker


def test_near_duplicate_guard_on_realistic_pairs() -> None:
    reference = [
        "@user #EndDACA Only AMERICANS should vote for elected officials!!! Not dead or illegal people. But they want more",
        "Africa for Africans, Asia for Asians, White countries for everyone IS White Genocide.",
        "The council voted 7-2 to approve the new transit levy after a long public hearing on Tuesday night.",
    ]
    candidates = [
        "@user @user @user #EndDACA Only AMERICANS should vote for elected officials!! Not dead or illegal people. But they want more",
        "@user @user Africa for Africans, Asia for Asians, White countries for everyone IS White Genocide.To",
        "The council voted 5-4 to reject the transit levy; the hearing on Tuesday was short and nobody came.",  # same topic, different
        "Completely unrelated remark about a football match and the weather at the weekend.",
    ]
    assert near_duplicates(candidates, reference).tolist() == [0, 1]


def test_near_duplicates_are_removed_from_training_and_counted() -> None:
    rng = np.random.default_rng(0)
    vocabulary = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(3, 9))) for _ in range(3000)]
    negatives = [" ".join(rng.choice(vocabulary, size=14)) for _ in range(3000)]
    retweets = [f"RT @user: {text}!!" for text in negatives[:200]]  # exact after normalisation: dropped by dedup
    near = [f"@user {text} lol" for text in negatives[:200]]  # near copies: a word more
    texts = negatives + near + [f"you are a worthless idiot number {i}" for i in range(100)] + retweets
    labels = np.array([0] * 3200 + [1] * 100 + [0] * 200)
    splits = make_splits(LabelledTexts(texts, labels, ["s"] * len(texts)), Protocol(base_share=0.0025), seed=1)
    removed = splits.controls["near_duplicates_removed"]["train"]
    assert removed > 0
    eval_rows = splits.val_texts + splits.test_texts
    assert not near_duplicates(splits.train_neg + splits.train_pos, eval_rows).size
    assert len(splits.train_neg) + len(splits.train_pos) + len(splits.reserve) + len(eval_rows) == 3300 - removed  # retweets deduplicated


def test_base_positives_are_shared_across_collections() -> None:
    assert allocate(10, {"a": 30, "b": 60, "c": 10}) == {"a": 3, "b": 6, "c": 1}
    assert allocate(5, {"a": 1, "b": 100}) == {"a": 0, "b": 5}
    texts, labels, sources = [], [], []
    for source, n_neg, n_pos in (("x", 6000, 600), ("y", 2000, 200)):
        texts += [f"{source} calm text {i}" for i in range(n_neg)] + [f"{source} rude text {i}" for i in range(n_pos)]
        labels += [0] * n_neg + [1] * n_pos
        sources += [source] * (n_neg + n_pos)
    splits = make_splits(LabelledTexts(texts, np.array(labels), sources), Protocol(base_share=0.005), seed=0)
    kept = Counter(t.split()[0] for t in splits.train_pos)
    assert kept == {"x": 21, "y": 7}  # 28 real positives at 0.5 % of 5,600 negatives, 3:1 as the collections
    assert Counter(t.split()[0] for t in splits.test_texts) == {"x": 990, "y": 330}
    assert splits.controls["collection_only_auroc"] == 0.5


def test_source_only_controls_tell_the_recipes_apart(data_dir: Path) -> None:
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    study = make_splits(ToxicMix(recipe="study", negatives=6000, positives=800).load(DataContext(data_dir, False, 0)), Protocol(), 0)
    balanced = make_splits(ToxicMix(negatives=6000).load(DataContext(data_dir, False, 0)), Protocol(), 0)
    assert study.controls["collection_only_auroc"] > 0.9
    assert abs(balanced.controls["collection_only_auroc"] - 0.5) < 0.02 and abs(balanced.controls["platform_only_auroc"] - 0.5) < 0.02


def test_group_only_auroc() -> None:
    assert group_only_auroc(["a", "a", "b", "b"], np.array([1, 1, 0, 0]), ["a", "b", "b"], np.array([1, 0, 0])) == 1.0
    assert group_only_auroc([], np.array([]), [], np.array([])) is None


def _control_rows(length_auroc: float, platform_auroc: float) -> list[dict]:
    rows = []
    for seed in range(3):
        controls = {"platform_only_auroc": platform_auroc, "collection_only_auroc": 0.7, "warnings": ["only 7 real training positives (fewer than 10)"]}
        rows.append({"cell_id": f"l{seed}", "dataset": "d", "generator": "real-only", "classifier": "length", "seed": seed, "status": "done",
                     "metrics": {"auroc": {"value": length_auroc}}, "details": {"controls": controls}})
    return rows


def test_controls_line_says_what_passed_and_what_failed() -> None:
    from sparsebench.analysis.controls import control_lines
    from sparsebench.analysis.paired import Comparison

    helps = Comparison("d", "real-extra", "logreg", 0.05, "replace", "real-only", "auroc", 0.1, 0.05, 0.15, 3, "helps")
    noise = Comparison("d", "real-extra", "logreg", 0.05, "replace", "real-only", "auprc", 0.001, -0.002, 0.004, 3, "no evidence")
    lower = Comparison("d", "real-extra", "mlp", 0.01, "replace", "real-only", "auroc", 0.1, 0.05, 0.15, 3, "helps")
    good = control_lines(_control_rows(0.52, 0.50), [helps, noise], metric="auroc")  # the AUPRC comparison is not read
    assert good[0].startswith("positive control passes: real-extra at 5.00% beats real-only on AUROC") and "logreg on d, AUROC +0.100" in good[0]
    assert control_lines(_control_rows(0.52, 0.50), [helps, noise], metric="auprc")[0].startswith("positive control FAILS")
    assert good[1] == "negative controls pass on d: length AUROC 0.52, platform-only AUROC 0.50 (at most 0.60); collection-only AUROC 0.70"
    assert good[2] == "warning: d: only 7 real training positives (fewer than 10)"
    flat = Comparison("d", "real-extra", "logreg", 0.05, "replace", "real-only", "auroc", 0.001, -0.002, 0.004, 3, "no evidence")
    bad = control_lines(_control_rows(0.80, 0.98), [flat, lower], metric="auroc")  # the lower level's win does not count
    assert bad[0].startswith("positive control FAILS") and "cannot tell the upper bound from the floor" in bad[0]
    assert bad[1].startswith("negative controls FAIL on d: length AUROC 0.80, platform-only AUROC 0.98")


def test_suite_only_rules_thin_the_grid(tmp_path: Path) -> None:
    import sparsebench

    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\ndatasets = ["toxic-mix", "toxic-mix[negatives=4000]"]\ngenerators = ["real-only", "oversample"]\n'
        'classifiers = ["logreg", "length"]\nseeds = [0, 1, 2]\n'
        '[only.dataset."toxic-mix[negatives=4000]"]\nseeds = [0]\n'
        '[only.classifier.length]\ndatasets = ["toxic-mix[negatives=4000]"]\n'
    )
    cells = sparsebench.plan(suite=str(suite)).cells
    assert Counter((c.dataset.label, c.classifier.name) for c in cells) == {
        ("toxic-mix", "logreg"): 3 * 4, ("toxic-mix[negatives=4000]", "logreg"): 4, ("toxic-mix[negatives=4000]", "length"): 4}
    assert len(sparsebench.plan(suite=str(suite), seeds="0-1").cells) == 2 * 2 * 2 * 4  # explicit seeds lift the rules


def test_suite_only_levels_keep_the_named_levels(tmp_path: Path) -> None:
    import sparsebench

    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\ndatasets = ["toxic-mix[negatives=4000]"]\ngenerators = ["real-only", "oversample", "real-extra"]\n'
        'classifiers = ["logreg", "length"]\n[protocol]\nlevels = [0.01, 0.03, 0.05]\ncalibration_levels = [0.00125]\n'
        '[only.classifier.length]\nlevels = ["0.25%", 0.05]\n'
    )
    cells = sparsebench.plan(suite=str(suite)).cells
    by = Counter((c.classifier.name, c.generator.name, round(c.level, 5)) for c in cells)
    assert {k for k in by if k[0] == "length"} == {
        ("length", "real-only", 0.0025), ("length", "oversample", 0.05), ("length", "real-extra", 0.05)}
    assert sum(1 for k in by if k[0] == "logreg") == 1 + 3 + 4  # real-only, oversample x 3, real-extra x 4
    suite.write_text(suite.read_text().replace('levels = ["0.25%", 0.05]', 'levels = ["lots"]'))
    with pytest.raises(sparsebench.UsageError, match=r"only\.classifier\.length\.levels: sparsity level 'lots' is not a number"):
        sparsebench.plan(suite=str(suite))


def test_default_suite_covers_every_generator_classifier_and_level() -> None:
    import sparsebench

    grid = sparsebench.plan(suite="default")
    registry = grid.plugins.registry
    levels = set(grid.suite.protocol.levels)
    covered = {(c.generator.name, c.classifier.name, c.level) for c in grid.cells}
    for g in registry.names("generator"):
        if registry.get("generator", g).cls.needs_parameters:  # a file or a server to name: never part of "*"
            continue
        synthetic = getattr(registry.get("generator", g).cls, "synthetic", True)
        wanted = levels if synthetic else {grid.suite.protocol.base_share}
        for c in registry.names("classifier"):
            # bert, the costliest on a CPU, runs every generator at one level (5 %); every other classifier at all
            assert all((g, c, lv) in covered for lv in (wanted if c != "bert" or not synthetic else {0.05})), (g, c)
        assert all(any((g, c, lv) in covered for c in registry.names("classifier")) for lv in wanted), g
    full = [c for c in grid.cells if c.dataset.label == "toxic-mix"]
    for name in ("real-only", "oversample", "real-extra"):
        for clf in ("logreg", "mlp", "length"):
            assert {c.seed for c in full if c.generator.name == name and c.classifier.name == clf} == {0, 1, 2}
