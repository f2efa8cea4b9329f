"""``charngram``: TF-IDF over character n-grams inside word boundaries + logistic regression.

What a practitioner tries first on toxic text: it trains in seconds on a CPU, needs no weights, and
character n-grams still match obfuscated and misspelled insults (``f*ck``, ``stuuupid``,
``idiots``/``idiot``) that a word vocabulary misses, which matters most when positives are few.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sparsebench import Param, Register, SpecError, hookimpl

from .logreg import LogRegClassifier


class CharNgramClassifier(LogRegClassifier):
    """logreg's model on character n-grams: only the features differ."""

    name: ClassVar[str] = "charngram"
    description: ClassVar[str] = "TF-IDF character 2-5-grams (word-bounded) + logistic regression: the cheap strong first try"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ngram_min", "int", 2, "shortest character n-gram", low=1, high=10),
        Param("ngram_max", "int", 5, "longest character n-gram", low=1, high=10),
        Param("analyzer", "str", "char_wb", "char_wb: n-grams inside word boundaries; char: across spaces too",
              choices=("char_wb", "char")),
        Param("max_features", "int", 200_000, "vocabulary size cap", low=1),
        Param("min_df", "int", 2, "ignore n-grams seen in fewer training texts", low=1),
        Param("C", "float", 4.0, "inverse regularisation strength", low=1e-6),
        Param("max_iter", "int", 1000, "solver iterations", low=1),
        Param("class_weight", "str", "balanced", "reweight classes by inverse frequency", choices=("balanced", "none")),
        Param("random_state", "int", None, "seed (set by the runner per cell)", nullable=True),
    )

    # the constructor comes from `parameters`; these annotations only type the attributes it sets
    ngram_min: int
    ngram_max: int
    analyzer: str
    max_features: int
    min_df: int
    C: float
    max_iter: int
    class_weight: str
    random_state: int | None

    def check_available(self) -> None:
        if self.ngram_min > self.ngram_max:
            raise SpecError(f"classifier 'charngram': ngram_min ({self.ngram_min}) must not exceed ngram_max ({self.ngram_max})")

    def _vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            analyzer=self.analyzer,
            ngram_range=(self.ngram_min, self.ngram_max),
            max_features=self.max_features,
            min_df=self.min_df,
            sublinear_tf=True,
            lowercase=True,
            dtype=np.float32,
        )


@hookimpl
def register_classifiers(register: Register) -> None:
    register(CharNgramClassifier)
