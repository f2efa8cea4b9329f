"""The runner's leakage guard: generated near-duplicates of validation or test rows are dropped and counted."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sparsebench.contracts.components import DataContext, GeneratedBatch, GenerationRequest, Generator
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.engine.generation import EVAL_DUPLICATE, EVAL_NEAR_DUPLICATE, generate
from sparsebench.protocol.embedding import TfidfEmbedder
from sparsebench.protocol.leakage import NEAR_DUPLICATE_JACCARD, NearDuplicateIndex, eval_guard, gram_analyzer, jaccard
from sparsebench.protocol.quality import SetQuality
from sparsebench.protocol.sparsity import Protocol, Splits, make_splits
from sparsebench.storage.cache import GenerationCache


@pytest.fixture(scope="module")
def splits(data_dir: Path) -> Splits:
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(negatives=1500, positives=300, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    return make_splits(data, Protocol(), seed=0)


def _long_rows(texts: list[str], n: int) -> list[str]:
    return [t for t in texts if len(t.split()) >= 20][:n]


def _one_word_changed(text: str, index: int = 5) -> str:
    words = text.split()
    words[index] = "pineapple" if words[index].lower() != "pineapple" else "mango"
    return " ".join(words)


def test_a_test_row_with_a_word_changed_is_flagged_and_an_unrelated_text_is_not(splits: Splits) -> None:
    index = eval_guard(splits).index
    row = _long_rows(splits.test_texts, 1)[0]
    edited = _one_word_changed(row)
    assert edited != row
    found = index.nearest(edited)
    assert found is not None and splits.test_texts.index(row) + len(splits.val_texts) == found[0]
    assert NEAR_DUPLICATE_JACCARD <= found[1] < 1.0
    assert not index.matches("Completely unrelated remark about a football match and the weather at the weekend.")
    assert not index.matches(splits.train_neg[0]) and not index.matches("")


def test_copies_of_training_rows_are_left_to_the_split_guard() -> None:
    """A training row near a test row stays in training (the split guard's call); copying it adds no new row."""
    test_row = "toxic remark 2 you absolute fool and everyone knows it"
    train_row = "toxic remark 11 you absolute fool and everyone knows it"
    splits = Splits(train_neg=["calm words"], train_pos=[train_row], val_texts=[], val_labels=np.zeros(0, dtype=np.int8),
                    test_texts=[test_row], test_labels=np.ones(1, dtype=np.int8), reserve=[],
                    known_keys=frozenset(dedup_key(t) for t in ("calm words", train_row, test_row)), eval_keys=frozenset([dedup_key(test_row)]))
    guard = eval_guard(splits)
    assert guard.index.matches(train_row)
    assert guard.flagged([train_row, train_row.upper(), "toxic remark 12 you absolute fool and everyone knows it"]) == [2]


def test_the_tweet_pairs_of_the_split_guard_are_flagged_too() -> None:
    reference = [
        "@user #EndDACA Only AMERICANS should vote for elected officials!!! Not dead or illegal people. But they want more",
        "The council voted 7-2 to approve the new transit levy after a long public hearing on Tuesday night.",
    ]
    index = NearDuplicateIndex(reference)
    assert index.flagged([
        "@user @user @user #EndDACA Only AMERICANS should vote for elected officials!! Not dead or illegal people. But they want more",
        "The council voted 5-4 to reject the transit levy; the hearing on Tuesday was short and nobody came.",  # same topic
    ]) == [0]


def test_the_index_misses_no_pair_that_brute_force_finds(splits: Splits) -> None:
    """Prefix filtering is exact: on real rows (edited and not) it flags what comparing every pair flags."""
    reference = splits.val_texts[:400] + splits.test_texts[:400]
    index = NearDuplicateIndex(reference)
    rng = random.Random(0)
    edited = []
    for text in rng.sample(reference, 150):
        words = text.split()
        for _ in range(rng.randint(1, 3)):
            if words:
                words[rng.randrange(len(words))] = rng.choice(["dog", "pineapple", "!!", "very"])
        edited.append(" ".join(words))
    queries = edited + splits.train_neg[:150] + splits.reserve[:50]
    analyze = gram_analyzer()
    sets = [frozenset(analyze(t)) for t in reference]
    brute = [i for i, q in enumerate(queries) if any(jaccard(frozenset(analyze(q)), s) >= NEAR_DUPLICATE_JACCARD for s in sets)]
    assert index.flagged(queries) == brute
    assert 30 < len(brute) < 150  # the edits straddle the threshold: some stay near, some move away


class Echo(Generator):
    """Yields edited validation/test rows and exact ones before fresh texts: a generator that leaks."""

    name = "echo"
    description = "test generator"
    leaks: list[str] = []

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        yield GeneratedBatch(list(self.leaks))
        yield GeneratedBatch([f"fresh text number {request.seed} {i} about nothing in particular" for i in range(request.n)])


def test_the_runner_drops_near_duplicates_counts_them_and_asks_for_more(splits: Splits, tmp_path: Path) -> None:
    rows = _long_rows(splits.test_texts, 4) + _long_rows(splits.val_texts, 2)
    Echo.leaks = [_one_word_changed(t) for t in rows] + rows[:1]
    result = generate(Echo(), splits, 64, seed=3, device="cpu", cache=GenerationCache(tmp_path / "cache"))
    assert len(result.texts) == 64 and not set(Echo.leaks) & set(result.texts)
    assert result.rejected == {EVAL_NEAR_DUPLICATE: 6, EVAL_DUPLICATE: 1}
    quality = SetQuality(splits, TfidfEmbedder()).assess(result.texts)
    assert quality["near_duplicates"] == 0 and SetQuality(splits, TfidfEmbedder()).assess(Echo.leaks)["near_duplicates"] == 7
    again = generate(Echo(), splits, 64, seed=3, device="cpu", cache=GenerationCache(tmp_path / "cache"))
    assert again.texts == result.texts and again.cached_chunks == 1 and again.rejected == result.rejected


class Once(Generator):
    """Answers each request once with exactly ``n`` texts, the first a leak when it is the chunk's first request."""

    name = "once"
    description = "test generator"
    leak = ""
    requests: list[tuple[int, int, int]] = []

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        Once.requests.append((request.n, request.seed, request.offset))
        texts = [f"fresh text {request.seed} {request.offset + i} about nothing in particular" for i in range(request.n)]
        if request.offset % 64 == 0:
            texts[0] = self.leak
        yield GeneratedBatch(texts)


def test_a_generator_that_stopped_short_is_asked_for_the_rest(splits: Splits, tmp_path: Path) -> None:
    Once.leak, Once.requests = _one_word_changed(_long_rows(splits.test_texts, 1)[0]), []
    result = generate(Once(), splits, 128, seed=3, device="cpu", cache=GenerationCache(tmp_path / "a"))
    assert len(result.texts) == 128 and Once.leak not in result.texts
    assert result.rejected == {EVAL_NEAR_DUPLICATE: 2}  # one per chunk, each replaced by a top-up request
    (first, top_up), (second, top_up2) = Once.requests[:2], Once.requests[2:]
    assert first[0] == second[0] == 64 and top_up[0] == top_up2[0] == 1 and top_up[1] != first[1]
    assert top_up[2] == first[2] + 63 and top_up2[2] == second[2] + 63
    Once.requests = []
    assert generate(Once(), splits, 128, seed=3, device="cpu", cache=GenerationCache(tmp_path / "b")).texts == result.texts
