"""``words-nb``: naive Bayes over word counts, the plugin guide's classifier (a scikit-learn pipeline)."""

import numpy as np

from sparsebench import Classifier, Param, hookimpl


class WordsNB(Classifier):
    name = "words-nb"
    description = "multinomial naive Bayes over word counts"
    parameters = (Param("alpha", "float", 1.0, "additive smoothing", low=1e-6),)

    # no __init__: sparsebench makes one from `parameters` (keyword arguments stored unchanged, as scikit-learn
    # requires), so get_params, clone and `bench list` all read the same declaration

    def fit(self, X, y, validation=None):
        from sklearn.feature_extraction.text import CountVectorizer  # heavy imports inside methods
        from sklearn.naive_bayes import MultinomialNB
        from sklearn.pipeline import make_pipeline

        labels = self._check_classes(y)  # sets classes_; a ValueError if y lacks a class
        self.model_ = make_pipeline(CountVectorizer(min_df=1), MultinomialNB(alpha=self.alpha))
        self.model_.fit(list(X), labels)
        return self

    def predict_proba(self, X):
        return np.asarray(self.model_.predict_proba(list(X)))


@hookimpl
def register_classifiers(register):
    register(WordsNB)
