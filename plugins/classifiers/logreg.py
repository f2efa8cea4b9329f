"""``logreg``: TF-IDF + logistic regression with balanced class weights, as in the study (max_iter 1000)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from sparsebench import Classifier, Param, Register, Validation, hookimpl


class LogRegClassifier(Classifier):
    name: ClassVar[str] = "logreg"
    description: ClassVar[str] = "TF-IDF word n-grams + logistic regression, class_weight=balanced (the study's)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("C", "float", 1.0, "inverse regularisation strength", low=1e-6),
        Param("max_iter", "int", 1000, "solver iterations (the study used 1000)", low=1),
        Param("ngram_max", "int", 2, "longest word n-gram", low=1, high=5),
        Param("max_features", "int", 100_000, "vocabulary size cap", low=1),
        Param("class_weight", "str", "balanced", "reweight classes by inverse frequency", choices=("balanced", "none")),
        Param("random_state", "int", None, "seed (set by the runner per cell)", nullable=True),
    )

    # the constructor comes from `parameters`; these annotations only type the attributes it sets
    C: float
    max_iter: int
    ngram_max: int
    max_features: int
    class_weight: str
    random_state: int | None

    def _vectorizer(self) -> Any:
        """The text features; subclasses that only change the features override this alone."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=(1, self.ngram_max), max_features=self.max_features, sublinear_tf=True)

    def fit(self, X: Sequence[str], y: Any, validation: Validation | None = None) -> LogRegClassifier:
        from sklearn.linear_model import LogisticRegression

        self.check_available()
        labels = self._check_classes(y)
        self.vectorizer_ = self._vectorizer()
        features = self.vectorizer_.fit_transform(list(X))
        self.model_ = LogisticRegression(
            C=self.C,
            max_iter=self.max_iter,
            class_weight=None if self.class_weight == "none" else "balanced",
            random_state=self.random_state,
        )
        self.model_.fit(features, labels)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self.vectorizer_.transform(list(X))))

    def resources(self) -> dict[str, Any]:
        if not hasattr(self, "vectorizer_"):
            return {}
        return {"features": len(self.vectorizer_.vocabulary_), "solver_iterations": int(np.max(self.model_.n_iter_))}


@hookimpl
def register_classifiers(register: Register) -> None:
    register(LogRegClassifier)
