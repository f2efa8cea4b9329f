"""The light classifiers (logreg, mlp, length, charngram): contract, learning, seeds, parameter errors.

Each is looked up through real plugin discovery and trained on the shared real sample (20 %
positives), so "beats chance" means an average precision well above 0.2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import clone
from sklearn.metrics import average_precision_score

from sparsebench.contracts.errors import SpecError
from sparsebench.contracts.params import parse_spec
from sparsebench.engine.grid import resolve

LIGHT = ("logreg", "mlp", "length", "charngram")
ALL = ("logreg", "mlp", "bert", "t5", "length", "charngram")
# Measured on the sample (seed 0): logreg 0.66, mlp 0.69, charngram 0.79, length 0.59; chance is 0.2.
FLOORS = {"logreg": 0.45, "mlp": 0.45, "charngram": 0.5, "length": 0.35}


def build(plugins, spec: str, seed: int | None = 0):
    classifier = resolve(plugins.registry, "classifier", parse_spec(spec)).build()
    if "random_state" in classifier.get_params():
        classifier.set_params(random_state=seed)
    return classifier


def fit_score(classifier, sample) -> np.ndarray:
    classifier.fit(sample.train_texts, sample.train_labels, validation=(sample.val_texts, sample.val_labels))
    proba = classifier.predict_proba(sample.test_texts)
    assert proba.shape == (len(sample.test_texts), 2)
    assert np.all(np.isfinite(proba))
    assert np.allclose(proba.sum(axis=1), 1.0)
    return proba[:, list(classifier.classes_).index(1)]


def test_every_classifier_is_registered_with_its_parameters(plugins) -> None:
    names = plugins.registry.names("classifier")
    for name in ALL:
        assert name in names
    bert = plugins.registry.get("classifier", "bert").cls
    assert {"model", "budget", "max_steps", "max_negatives", "device", "precision"} <= {p.name for p in bert.parameters}


def test_bench_list_shows_every_classifier_with_parameters() -> None:
    from sparsebench.cli.main import cli

    result = CliRunner().invoke(cli, ["list", "classifiers", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.output)["classifier"]}
    for name in ALL:
        assert listed[name]["parameters"], name
        assert listed[name]["description"], name
    assert any(p["name"] == "max_features" and p["default"] == 1000 for p in listed["mlp"]["parameters"])


@pytest.mark.parametrize("name", LIGHT)
def test_light_classifier_beats_chance(plugins, toxic_sample, name: str) -> None:
    scores = fit_score(build(plugins, name), toxic_sample)
    share = toxic_sample.test_labels.mean()
    assert 0.15 < share < 0.25
    assert average_precision_score(toxic_sample.test_labels, scores) >= FLOORS[name]


@pytest.mark.parametrize("name", LIGHT)
def test_same_seed_same_scores(plugins, toxic_sample, name: str) -> None:
    first = fit_score(build(plugins, name, seed=3), toxic_sample)
    second = fit_score(build(plugins, name, seed=3), toxic_sample)
    np.testing.assert_array_equal(first, second)


def test_mlp_seed_changes_the_network(plugins, toxic_sample) -> None:
    first = fit_score(build(plugins, "mlp[epochs=1]", seed=1), toxic_sample)
    second = fit_score(build(plugins, "mlp[epochs=1]", seed=2), toxic_sample)
    assert not np.allclose(first, second)


def test_mlp_is_the_studys_network(plugins, toxic_sample) -> None:
    mlp = build(plugins, "mlp[epochs=1]")
    mlp.fit(toxic_sample.train_texts, toxic_sample.train_labels)
    used = mlp.resources()
    assert used["features"] == 1000
    assert used["device"] == "cpu"
    assert used["parameters"] == 1000 * 128 + 128 + 128 + 1
    layers = [type(m).__name__ for m in mlp.model_]
    assert layers == ["Linear", "ReLU", "Dropout", "Linear"]


def test_mlp_rebalancing_sampler_draws_both_classes_equally(plugins) -> None:
    mlp = build(plugins, "mlp")
    labels = np.array([1] * 10 + [0] * 990)
    order = mlp._order(labels, np.random.default_rng(0))
    assert len(order) == len(labels)
    assert 0.4 < labels[order].mean() < 0.6
    uniform = build(plugins, "mlp[class_weight=none]")._order(labels, np.random.default_rng(0))
    assert sorted(uniform.tolist()) == list(range(len(labels)))


def test_length_sees_no_words() -> None:
    from sparsebench.plugins.classifiers.length import FEATURES, surface_features

    # Same shape, different words: identical features.
    assert surface_features("You are an idiot!") == surface_features("You are an angel!")
    assert len(surface_features("")) == len(FEATURES)
    loud = dict(zip(FEATURES, surface_features("STOP THIS!!! @user http://x.y"), strict=True))
    assert loud["mentions"] == 1 and loud["links"] == 1 and loud["all_caps_token_ratio"] > 0


def test_clone_keeps_parameters(plugins) -> None:
    for name in ALL:
        original = build(plugins, name, seed=5)
        copy = clone(original)
        assert copy.get_params() == original.get_params()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("mlp[epochs=0]", "epochs"),
        ("mlp[hidden=abc]", "hidden"),
        ("mlp[class_weight=maybe]", "class_weight"),
        ("mlp[layers=3]", "unknown parameter 'layers'"),
        ("length[model=forest]", "model"),
        ("charngram[ngram_max=11]", "ngram_max"),
        ("logreg[C=0]", "C"),
    ],
)
def test_invalid_parameters_are_rejected_when_resolved(plugins, spec: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        resolve(plugins.registry, "classifier", parse_spec(spec))


def test_inconsistent_parameters_fail_before_training(plugins) -> None:
    with pytest.raises(SpecError, match="ngram_min"):
        build(plugins, "charngram[ngram_min=5,ngram_max=3]").check_available()
    with pytest.raises(SpecError, match="device"):
        build(plugins, "mlp[device=gpu]").check_available()


def test_training_needs_both_classes(plugins) -> None:
    with pytest.raises(ValueError, match="both classes"):
        build(plugins, "length").fit(["a", "b", "c"], [0, 0, 0])
