"""Every registered component passes the conformance suite that plugin authors run (sparsebench.testing)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from sparsebench import hookspecs
from sparsebench.manager import load_plugins
from sparsebench.testing import check_classifier, check_declared_parameters, check_generator

REGISTRY = load_plugins(entry_points=False).registry


@pytest.mark.parametrize("name", REGISTRY.names("classifier"))
def test_classifier_conformance(name: str) -> None:
    check_classifier(REGISTRY.get("classifier", name).cls)


@pytest.mark.parametrize("name", REGISTRY.names("generator"))
def test_generator_conformance(name: str) -> None:
    check_generator(REGISTRY.get("generator", name).cls)


@pytest.mark.parametrize("name", REGISTRY.names("dataset"))
def test_dataset_parameters(name: str) -> None:
    check_declared_parameters(REGISTRY.get("dataset", name).cls)


@pytest.mark.parametrize("hook", sorted(hookspecs.HOOKS))
def test_every_hook_is_documented_and_tested(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert ":param register:" in doc, f"{hook} needs a :param register: line in its docstring"
    tests = Path(__file__).parent
    used = [p.name for p in tests.glob("test_*.py") if p.name != Path(__file__).name and hook in p.read_text()]
    assert used, f"no test exercises the {hook} hook directly"
    docs = Path(__file__).parents[1] / "docs" / "plugins.md"
    assert hook in docs.read_text(), f"docs/plugins.md must document {hook}"


def test_conformance_catches_a_broken_classifier() -> None:
    import numpy as np

    from sparsebench.components import Classifier
    from sparsebench.params import Param

    class Forgetful(Classifier):
        name = "forgetful"
        description = "stores a parameter under another name"
        parameters = (Param("alpha", "float", 1.0),)

        def __init__(self, alpha: float = 1.0) -> None:
            self.beta = alpha

        def fit(self, X, y, validation=None):
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X):
            return np.tile([0.5, 0.5], (len(X), 1))

    with pytest.raises((AssertionError, AttributeError)):
        check_classifier(Forgetful)


def test_the_plugin_guide_examples_work() -> None:
    """The code in docs/plugins.md runs and passes the conformance suite it recommends."""
    import re

    text = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    namespace: dict = {}
    for block in blocks[:2]:
        exec(compile(block, "docs/plugins.md", "exec"), namespace)  # noqa: S102 - our own documentation
    texts = check_generator(namespace["Shout"], positives=["you idiot", "shut up, clown"], n=2)
    assert texts == ["YOU IDIOT!", "SHUT UP, CLOWN!"]
    check_classifier(namespace["Majority"], min_auprc=0.0)
    registered: list = []
    namespace["register_generators"](registered.append)
    assert registered == [namespace["Shout"]]
