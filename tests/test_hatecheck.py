"""The HateCheck evaluation set on the real file, its scoring, and evaluation sets as plugins."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from sparsebench import hookimpl
from sparsebench.contracts.components import Classifier, DataContext
from sparsebench.contracts.errors import DataError
from sparsebench.engine.suite import parse_suite
from sparsebench.hooks.loader import load_plugins
from sparsebench.plugins.evaluations.hatecheck import CASES_FILE, HateCheck
from sparsebench.protocol.cell import score_functional
from sparsebench.protocol.functional import EvaluationSet, FunctionalCases, first_functional, score_cases, stratified_index


@pytest.fixture(scope="module")
def cases(data_dir: Path) -> FunctionalCases:
    return HateCheck(per_functionality=0).load(DataContext(data_dir))


def test_loader_reads_every_case_of_the_real_file(cases: FunctionalCases) -> None:
    assert len(cases.texts) == 3728
    functions = Counter(cases.functionality)
    assert len(functions) == 29
    assert int(cases.labels.sum()) == 2563 and int((cases.labels == 0).sum()) == 1165
    assert functions["counter_quote_nh"] == 173 and functions["spell_leet_h"] == 173
    targets = set(cases.target) - {""}
    assert targets == {"women", "trans people", "gay people", "black people", "disabled people", "Muslims", "immigrants"}
    for function in functions:  # every case of one functionality has the same gold label, named by its suffix
        labels = {int(y) for f, y in zip(cases.functionality, cases.labels, strict=True) if f == function}
        assert labels == ({1} if function.endswith("_h") else {0})
    assert cases.provenance["files"][CASES_FILE].startswith("ecf0dc1e93fccc90")


def test_loader_refuses_a_changed_or_missing_file(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "hatecheck").mkdir()
    with pytest.raises(DataError, match="missing hatecheck/test_suite_cases.csv"):
        HateCheck(per_functionality=0).load(DataContext(tmp_path))
    copy = tmp_path / CASES_FILE
    shutil.copyfile(data_dir / CASES_FILE, copy)
    copy.write_bytes(copy.read_bytes().replace(b"I hate women.", b"I love women."))
    with pytest.raises(DataError, match="checksum mismatch"):
        HateCheck(per_functionality=0).load(DataContext(tmp_path))


def test_stratified_subset_keeps_every_functionality_and_group(cases: FunctionalCases, data_dir: Path) -> None:
    index = stratified_index(cases, 14, seed=0)
    subset = cases.subset(index)
    assert Counter(subset.functionality) == {f: 14 for f in set(cases.functionality)}
    for function in set(cases.functionality):
        groups = {t for f, t in zip(cases.functionality, cases.target, strict=True) if f == function}
        chosen = Counter(t for f, t in zip(subset.functionality, subset.target, strict=True) if f == function)
        assert set(chosen) == groups and max(chosen.values()) - min(chosen.values()) <= 1 or len(groups) == 1
    assert index == stratified_index(cases, 14, seed=0)
    assert HateCheck(per_functionality=14).load(DataContext(data_dir)).texts == subset.texts


class FlagEverything(Classifier):
    """Scores every text as toxic: the functional tests' sanity check."""

    name = "flag-everything"
    description = "always toxic"

    def fit(self, X, y, validation=None):
        self._check_classes(y)
        return self

    def predict_proba(self, X):
        return np.tile([0.0, 1.0], (len(X), 1))


def test_a_classifier_that_flags_everything_passes_hateful_and_fails_non_hateful(cases: FunctionalCases) -> None:
    classifier = FlagEverything().fit(["a", "b"], [0, 1])
    results, seconds = score_functional(classifier, [("hatecheck", cases)], threshold=0.5)
    scored = results["hatecheck"]
    for function, entry in scored["functionality"].items():
        assert entry["accuracy"] == (1.0 if function.endswith("_h") else 0.0), function
    assert scored["accuracy"] == pytest.approx(2563 / 3728)
    assert scored["hateful_accuracy"] == 1.0 and scored["non_hateful_accuracy"] == 0.0
    assert scored["worst"].endswith("_nh") and scored["worst_accuracy"] == 0.0
    assert seconds >= 0.0
    assert first_functional(results)["worst"] == scored["worst"]


def test_scores_count_per_target_group_at_the_given_threshold() -> None:
    cases = FunctionalCases(
        texts=["a", "b", "c", "d"],
        labels=np.array([1, 1, 0, 0]),
        functionality=["threat_h", "threat_h", "negate_nh", "negate_nh"],
        target=["women", "Muslims", "women", ""],
    )
    scored = score_cases(cases, np.array([0.9, 0.4, 0.6, 0.1]), threshold=0.5)
    assert scored["functionality"]["threat_h"]["accuracy"] == 0.5
    assert scored["functionality"]["negate_nh"]["accuracy"] == 0.5
    assert scored["target"] == {
        "Muslims": {"n": 1, "correct": 0, "accuracy": 0.0, "hateful": 1.0},
        "women": {"n": 2, "correct": 1, "accuracy": 0.5, "hateful": 0.5},
    }
    assert score_cases(cases, np.array([0.9, 0.4, 0.6, 0.1]), threshold=0.3)["functionality"]["threat_h"]["accuracy"] == 1.0


class Shouting(EvaluationSet):
    name: ClassVar[str] = "shouting"
    description: ClassVar[str] = "two cases in capitals"

    def load(self, ctx: DataContext) -> FunctionalCases:
        return FunctionalCases(["YOU IDIOT", "HELLO FRIEND"], np.array([1, 0]), ["caps_h", "caps_nh"], ["", ""])


class ShoutingPlugin:
    @hookimpl
    def register_evaluations(self, register):
        register(Shouting)


def test_other_evaluation_sets_register_through_the_hook() -> None:
    loaded = load_plugins(extra=[("shouting", ShoutingPlugin())], entry_points=False)
    assert loaded.registry.names("evaluation") == ["hatecheck", "shouting"]
    suite = parse_suite({"evaluations": ["*"], "params": {"evaluation": {"hatecheck": {"per_functionality": 5}}}}, "suite.toml")
    resolved = suite.resolve(loaded.registry, "evaluation")
    assert [r.label for r in resolved] == ["hatecheck[per_functionality=5]", "shouting"]
    assert parse_suite({"evaluations": []}, "suite.toml").resolve(loaded.registry, "evaluation") == []
    assert any(i.name == "hatecheck" and "evaluation:hatecheck" in i.registered for i in loaded.infos)
