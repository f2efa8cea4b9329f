"""``mlp``: the study's small network: TF-IDF → 128 hidden units → 1 output, BCE, Adam, 5 epochs.

A sampler that draws both classes equally often rebalances the training stream, as in the study.
Torch is imported inside ``fit``; the TF-IDF features are built by scikit-learn and densified one
batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from sparsebench import Classifier, Param, Register, Validation, hookimpl

from ._torchutil import DEVICE_HELP, check_device


class MLPClassifier(Classifier):
    name: ClassVar[str] = "mlp"
    description: ClassVar[str] = "TF-IDF → 128 hidden units → 1 output, BCE + Adam, class-rebalancing sampler (the study's)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("max_features", "int", 1000, "TF-IDF vocabulary size (the study used 1000)", low=1),
        Param("ngram_max", "int", 1, "longest word n-gram", low=1, high=5),
        Param("hidden", "int", 128, "hidden units", low=1),
        Param("dropout", "float", 0.0, "dropout on the hidden layer", low=0.0, high=0.9),
        Param("epochs", "int", 5, "passes over the training set", low=1),
        Param("batch_size", "int", 64, "rows per optimizer step", low=1),
        Param("lr", "float", 1e-3, "Adam learning rate", low=1e-7, high=1.0),
        Param("class_weight", "str", "balanced", "balanced: a sampler draws both classes equally often; none: plain shuffling",
              choices=("balanced", "none")),
        Param("device", "str", "auto", DEVICE_HELP),
        Param("random_state", "int", None, "seed (set by the runner per cell)", nullable=True),
    )

    # the constructor comes from `parameters`; these annotations only type the attributes it sets
    max_features: int
    ngram_max: int
    hidden: int
    dropout: float
    epochs: int
    batch_size: int
    lr: float
    class_weight: str
    device: str
    random_state: int | None

    def check_available(self) -> None:
        import importlib.util

        from sparsebench import Unavailable

        check_device(self.name, self.device)
        if importlib.util.find_spec("torch") is None:
            raise Unavailable("classifier 'mlp' needs torch: pip install 'sparsebench[torch]'")

    def fit(self, X: Sequence[str], y: Any, validation: Validation | None = None) -> MLPClassifier:
        import torch
        from sklearn.feature_extraction.text import TfidfVectorizer

        from ._torchutil import flush_denormals, resolve_device, seeded

        self.check_available()
        labels = self._check_classes(y)
        self.device_ = resolve_device(self.name, self.device)
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, self.ngram_max), max_features=self.max_features)
        features = self._features_for_training(self.vectorizer_.fit_transform(list(X)))
        with seeded(self.random_state, self.device_) as rng, flush_denormals():
            self.model_ = self._network(features.shape[1])
            optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
            self.losses_ = [self._epoch(features, labels, optimizer, rng) for _ in range(self.epochs)]
        return self

    def _features_for_training(self, sparse: Any) -> Any:
        """A dense tensor on the device when it is small (the usual case), else the sparse matrix."""
        sparse = sparse.astype(np.float32).tocsr()
        if sparse.shape[0] * sparse.shape[1] > 50_000_000:
            return sparse
        return self._dense(sparse)

    def _network(self, n_features: int) -> Any:
        from torch import nn

        layers = [nn.Linear(n_features, self.hidden), nn.ReLU(), nn.Dropout(self.dropout), nn.Linear(self.hidden, 1)]
        return nn.Sequential(*layers).to(self.device_)

    def _order(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One epoch's row order: uniform, or drawn with replacement so both classes are equally likely."""
        if self.class_weight == "none":
            return rng.permutation(len(labels))
        weights = np.where(labels == 1, 0.5 / labels.sum(), 0.5 / (len(labels) - labels.sum()))
        return rng.choice(len(labels), size=len(labels), replace=True, p=weights / weights.sum())

    def _epoch(self, features: Any, labels: np.ndarray, optimizer: Any, rng: np.random.Generator) -> float:
        import torch

        self.model_.train()
        order, total = self._order(labels, rng), 0.0
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            inputs = features[rows] if isinstance(features, torch.Tensor) else self._dense(features[rows])
            target = torch.as_tensor(labels[rows], dtype=torch.float32, device=self.device_)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(self.model_(inputs).squeeze(1), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        return total / len(order)

    def _dense(self, rows: Any) -> Any:
        import torch

        return torch.as_tensor(rows.toarray(), dtype=torch.float32, device=self.device_)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        import torch

        features = self.vectorizer_.transform(list(X)).astype(np.float32).tocsr()
        self.model_.eval()
        scores = []
        with torch.inference_mode():
            for start in range(0, features.shape[0], 1024):
                logits = self.model_(self._dense(features[start : start + 1024])).squeeze(1)
                scores.append(torch.sigmoid(logits.float()).cpu().numpy())
        positive = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
        return np.column_stack([1.0 - positive, positive]).astype(np.float64)

    def resources(self) -> dict[str, Any]:
        if not hasattr(self, "model_"):
            return {}
        return {
            "device": self.device_,
            "features": len(self.vectorizer_.vocabulary_),
            "parameters": sum(p.numel() for p in self.model_.parameters()),
            "final_loss": self.losses_[-1],
        }


@hookimpl
def register_classifiers(register: Register) -> None:
    register(MLPClassifier)
