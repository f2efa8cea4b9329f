"""The quality of one generated set, computed once per generation and stored with every cell it feeds.

* diversity: ``distinct_1`` / ``distinct_2`` (unique word n-grams / all n-grams in the set) and
  ``self_similarity`` (mean cosine similarity between two different texts of the set);
* novelty: ``novelty`` (mean similarity of each text to its nearest real training positive, the
  only real positives a generator sees; copying shows up as 1) and ``copy_share`` (share of texts
  whose nearest training positive is more similar than ``COPY_THRESHOLD``);
* fidelity against reserve positives the generator never saw: improved ``precision`` / ``recall``
  (Kynkäänniemi et al. 2019) and ``density`` / ``coverage`` (Naeem et al. 2020) with k = 5;
* ``label_validity``: share of texts that a judge trained on real rows only scores as toxic, next to
  the judge's own recall on the real validation positives (``judge_recall``) to read it against;
* ``near_duplicates``: texts of the set that are near-duplicates of a validation or test row by the
  runner's own rule (:mod:`sparsebench.protocol.leakage`). The runner drops those while generating, so for a
  generation it made this is 0: a check that reads the stored texts, not a second definition.

The embedding metrics (self-similarity, novelty, copies, PRDC) read a seeded sample of at most
``EMBED_SAMPLE`` texts of the set (``embedded_n``); distinct-n, label validity and near-duplicates
read every text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.protocol.embedding import TFIDF_NAME, Embedder, default_embedder, similarity
from sparsebench.protocol.leakage import NEAR_DUPLICATE_JACCARD, eval_guard
from sparsebench.protocol.sparsity import Splits

COPY_THRESHOLD = 0.95
PRDC_K = 5
REFERENCE_SIZE = 400
JUDGE_POSITIVES = 1500
PAIR_SAMPLE = 500
EMBED_SAMPLE = 256  # generated texts embedded per set (a seeded sample): the embedding metrics' cost is bounded
_WORD = re.compile(r"\w+", re.UNICODE)


# --- the metrics, each on its own ------------------------------------------------------------------


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Unique word n-grams over all word n-grams of the set (lower-cased); None without any n-gram."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = _WORD.findall(text.lower())
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def mean_pairwise_similarity(embedded: Any) -> float | None:
    """Mean cosine similarity over pairs of different rows; None for fewer than two rows."""
    sims = similarity(embedded, embedded)
    n = sims.shape[0]
    if n < 2:
        return None
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def nearest_similarity(embedded: Any, reference: Any) -> np.ndarray:
    """For each row of ``embedded``, its cosine similarity to the most similar row of ``reference``."""
    return similarity(embedded, reference).max(axis=1)


def prdc(real: Any, fake: Any, k: int = PRDC_K) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` in cosine distance.

    Each point's neighbourhood is the ball reaching its k-th nearest neighbour within its own set.
    Precision: share of fake points inside some real ball; recall: share of real points inside some
    fake ball; density: mean number of real balls around a fake point, over k; coverage: share of
    real balls that hold at least one fake point.
    """
    real_real = 1.0 - similarity(real, real)
    fake_fake = 1.0 - similarity(fake, fake)
    real_fake = 1.0 - similarity(real, fake)  # (n_real, n_fake)
    k_real = min(k, real_real.shape[0] - 1)
    k_fake = min(k, fake_fake.shape[0] - 1)
    if k_real < 1 or k_fake < 1:
        raise ValueError("PRDC needs at least two real and two generated texts")
    real_radius = np.sort(real_real, axis=1)[:, k_real]  # column 0 is the point itself
    fake_radius = np.sort(fake_fake, axis=1)[:, k_fake]
    inside_real = real_fake <= real_radius[:, None] + 1e-9
    inside_fake = real_fake <= fake_radius[None, :] + 1e-9
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float(inside_fake.any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k_real),
        "coverage": float((real_fake.min(axis=1) <= real_radius + 1e-9).mean()),
    }


# --- the judge for label validity --------------------------------------------------------------------


class RealOnlyJudge:
    """TF-IDF logistic regression (balanced) trained on real rows only; "toxic" means P ≥ 0.5."""

    def __init__(self, negatives: Sequence[str], positives: Sequence[str], seed: int = 0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        texts = list(negatives) + list(positives)
        labels = [0] * len(negatives) + [1] * len(positives)
        self.model = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
            LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed),
        ).fit(texts, labels)

    def toxic_share(self, texts: Sequence[str]) -> float | None:
        if not texts:
            return None
        return float((self.model.predict_proba(list(texts))[:, 1] >= 0.5).mean())


# --- one generated set ---------------------------------------------------------------------------------


class SetQuality:
    """Scores generated sets against the real rows of one (dataset, seed); the real side is prepared once.

    The reference (reserve positives for fidelity) and the judge's positives are disjoint samples of
    the reserve. Reference rows equal to a generated text are left out of that set's fidelity, and
    generated texts the judge trained on are left out of its label validity (``real-extra`` draws
    its texts from the reserve, so both would otherwise flatter it).
    """

    def __init__(self, splits: Splits, embedder: Embedder, seed: int = 0) -> None:
        self.splits = splits
        self.embedder = embedder
        self.seed = seed
        order = np.random.default_rng([seed, 0x51]).permutation(len(splits.reserve))
        n_ref = min(REFERENCE_SIZE, len(splits.reserve) // 2)
        self.reference = [splits.reserve[i] for i in order[:n_ref]]
        judge_pos = [splits.reserve[i] for i in order[n_ref : n_ref + JUDGE_POSITIVES]]
        self.judge_keys = {dedup_key(t) for t in judge_pos}
        self._judge_pos = judge_pos
        self._judge: RealOnlyJudge | None = None
        self._judge_rates: tuple[float | None, float | None] | None = None  # on the real validation rows, once
        self._real: list[Any] | None = None

    def _real_side(self) -> list[Any]:
        if self._real is None:
            self._real = self.embedder.embed([self.splits.train_pos, self.reference])
        return self._real

    def _embed(self, texts: list[str]) -> tuple[Any, Any, Any]:
        if self.embedder.name == TFIDF_NAME:  # TF-IDF needs one vocabulary for every group
            gen, train_pos, ref = self.embedder.embed([texts, self.splits.train_pos, self.reference])
            return gen, train_pos, ref
        train_pos, ref = self._real_side()
        return self.embedder.embed([texts])[0], train_pos, ref

    def assess(self, texts: Sequence[str]) -> dict[str, Any]:
        """Every quality metric of ``texts`` (one generation); {} for fewer than two texts."""
        started = time.perf_counter()
        texts = list(texts)
        if len(texts) < 2:
            return {}
        sample = np.sort(np.random.default_rng([self.seed, 0x53]).permutation(len(texts))[:EMBED_SAMPLE])
        gen, train_pos, ref = self._embed([texts[i] for i in sample])
        pairs = np.random.default_rng([self.seed, 0x52]).permutation(len(sample))[:PAIR_SAMPLE]
        nearest = nearest_similarity(gen, train_pos) if self.splits.train_pos else np.array([])
        result: dict[str, Any] = {
            "n": len(texts),
            "embedded_n": len(sample),
            "embedding": self.embedder.name,
            "distinct_1": distinct_n(texts, 1),
            "distinct_2": distinct_n(texts, 2),
            "self_similarity": mean_pairwise_similarity(gen[pairs]),
            "novelty": float(nearest.mean()) if nearest.size else None,
            "copy_share": float((nearest >= COPY_THRESHOLD).mean()) if nearest.size else None,
            "copy_threshold": COPY_THRESHOLD,
        }
        own = {dedup_key(t) for t in texts}
        keep = [i for i, t in enumerate(self.reference) if dedup_key(t) not in own]
        result["reference_size"] = len(keep)
        if len(keep) >= 2:
            result.update(prdc(ref[keep], gen))
        result.update(self._validity(texts))
        result["near_duplicates"] = len(eval_guard(self.splits).flagged(texts))
        result["near_duplicate_threshold"] = NEAR_DUPLICATE_JACCARD
        result["seconds"] = time.perf_counter() - started
        return result

    def _validity(self, texts: list[str]) -> dict[str, Any]:
        if not self._judge_pos:
            return {}
        if self._judge is None:
            self._judge = RealOnlyJudge(self.splits.train_neg, self._judge_pos, self.seed)
        unseen = [t for t in texts if dedup_key(t) not in self.judge_keys]
        if self._judge_rates is None:
            labels = np.asarray(self.splits.val_labels)
            self._judge_rates = (
                self._judge.toxic_share([self.splits.val_texts[i] for i in np.flatnonzero(labels == 1)]),
                self._judge.toxic_share([self.splits.val_texts[i] for i in np.flatnonzero(labels == 0)]),
            )
        return {
            "label_validity": self._judge.toxic_share(unseen),
            "label_validity_n": len(unseen),
            "judge_recall": self._judge_rates[0],
            "judge_false_positive_rate": self._judge_rates[1],
        }


_PREPARED: dict[tuple[str, str, int], SetQuality] = {}
_EMBEDDERS: dict[str, Embedder] = {}


def set_quality(splits: Splits, device: str = "cpu", seed: int = 0) -> SetQuality:
    """The prepared :class:`SetQuality` of ``splits`` (kept for the last (dataset, seed) of this process,
    so the embedding model loads once and the real side is embedded once)."""
    if device not in _EMBEDDERS:
        _EMBEDDERS[device] = default_embedder(device)
    key = (splits.fingerprint, device, seed)
    if key not in _PREPARED:
        _PREPARED.clear()
        _PREPARED[key] = SetQuality(splits, _EMBEDDERS[device], seed)
    return _PREPARED[key]


def assess(texts: Sequence[str], splits: Splits, embedder: Embedder, seed: int = 0) -> dict[str, Any]:
    """The quality of one generated set (see :class:`SetQuality`)."""
    return SetQuality(splits, embedder, seed).assess(texts)
