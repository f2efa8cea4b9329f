"""A component's `parameters` are its one declaration: they drive the constructor, get_params, clone and config."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import clone

from sparsebench import Classifier, GeneratedBatch, Generator, Param
from sparsebench.hooks.loader import load_plugins


class Tiny(Classifier):
    name = "tiny"
    description = "two parameters, no __init__"
    parameters = (Param("alpha", "float", 1.0), Param("random_state", "int", None, nullable=True))

    def fit(self, X, y, validation=None):
        self._check_classes(y)
        return self

    def predict_proba(self, X):
        return np.tile([0.5, 0.5], (len(X), 1))


def test_the_constructor_comes_from_the_declaration() -> None:
    assert str(inspect.signature(Tiny.__init__)) == "(self, *, alpha=1.0, random_state=None)"
    model = Tiny(alpha=2.5)
    assert (model.alpha, model.random_state) == (2.5, None)
    assert model.get_params() == {"alpha": 2.5, "random_state": None} == model.config
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    with pytest.raises(TypeError, match="unexpected keyword argument 'beta'"):
        Tiny(beta=1)


def test_generators_and_datasets_share_the_convention() -> None:
    class Marks(Generator):
        name = "marks"
        description = "one parameter"
        parameters = (Param("marks", "int", 1),)

        def generate(self, request):
            yield GeneratedBatch(["x" + "!" * self.marks])

    shout = Marks(marks=3)
    assert shout.marks == 3 and shout.config == {"marks": 3} and Marks().config == {"marks": 1}


def test_a_hand_written_init_is_kept_for_subclasses() -> None:
    class Parent(Generator):
        name = "parent"
        description = "writes its own __init__"
        parameters = (Param("n", "int", 1),)

        def __init__(self, **config):
            super().__init__(**config)
            self.doubled = self.n * 2

        def generate(self, request):
            yield GeneratedBatch([])

    class Child(Parent):
        name = "child"

    assert Child(n=4).doubled == 8


def test_built_in_classifiers_and_datasets_declare_parameters_once() -> None:
    registry = load_plugins(entry_points=False).registry
    written = [f"{kind}:{e.name}" for kind in ("classifier", "dataset") for e in registry.entries(kind) if not getattr(e.cls.__init__, "_from_parameters", False)]
    assert written == [], "these built-ins still write __init__ by hand (a second declaration of their parameters)"
