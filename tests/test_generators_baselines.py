"""The model-free generators: template and eda, found through real plugin discovery."""

from __future__ import annotations

import pytest

from sparsebench.contracts.components import GenerationRequest
from sparsebench.contracts.errors import SpecError, UsageError
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.hooks.loader import load_plugins

POSITIVES = (
    "What a bunch of morons, they don't know when they're being played by the media",
    "@user You are a skank Graham. John McCain would be ashamed",
    "Brian's a crook. And Trump is a bankrupt... enough said",
    "Bitch you might as well shut up since you're so worried about my business, dumb bitch",
    '"Bigot"? Hopefully your grandchildren have broken the IDIOT mold you created for yourself',
)


@pytest.fixture(scope="module")
def registry():
    return load_plugins(entry_points=False).registry


def build(registry, name: str, **overrides: object):
    return registry.get("generator", name).cls.from_overrides(overrides)


def texts_of(generator, n: int, seed: int, positives=POSITIVES, is_known=lambda text: False) -> list[str]:
    request = GenerationRequest(n=n, positives=positives, seed=seed, is_known=is_known)
    return [text for batch in generator.generate(request) for text in batch.texts]


def test_all_generators_of_this_issue_are_discovered(registry) -> None:
    assert {"llm", "falcon-7b", "template", "eda"} <= set(registry.names("generator"))


def test_template_is_deterministic_for_a_seed_and_varies_across_seeds(registry) -> None:
    generator = build(registry, "template")
    first = texts_of(generator, 300, seed=5)
    assert first == texts_of(build(registry, "template"), 300, seed=5)
    assert first != texts_of(generator, 300, seed=6)
    assert len(first) == 300 and len({dedup_key(t) for t in first}) == 300


def test_template_diversity_controls_the_number_of_distinct_comments(registry) -> None:
    def distinct(diversity: float) -> float:
        request = GenerationRequest(n=400, positives=(), seed=0)
        batch = next(build(registry, "template", diversity=diversity, max_attempts=5).generate(request))
        return len(batch.texts) / batch.raw

    assert distinct(0.1) < distinct(1.0)


def test_template_reads_like_insults_and_skips_known_texts(registry) -> None:
    first = texts_of(build(registry, "template"), 50, seed=1)
    assert all(len(text.split()) >= 3 for text in first)
    blocked = {dedup_key(t) for t in first[:10]}
    again = texts_of(build(registry, "template"), 50, seed=1, is_known=lambda text: dedup_key(text) in blocked)
    assert not blocked & {dedup_key(t) for t in again}


def test_eda_is_deterministic_and_changes_real_positives(registry) -> None:
    first = texts_of(build(registry, "eda"), 40, seed=2)
    assert first == texts_of(build(registry, "eda"), 40, seed=2)
    assert first != texts_of(build(registry, "eda"), 40, seed=3)
    originals = {dedup_key(p) for p in POSITIVES}
    assert len(first) == 40 and not originals & {dedup_key(t) for t in first}
    vocabulary = {w for p in POSITIVES for w in p.split()}
    for text in first:
        assert sum(w in vocabulary for w in text.split()) >= len(text.split()) // 2, "augmented texts stay close to real positives"


def test_eda_single_operations(registry) -> None:
    swapped = texts_of(build(registry, "eda", operations="swap", ops_per_text=1), 5, seed=0)
    assert all(sorted(t.split()) in [sorted(p.split()) for p in POSITIVES] for t in swapped), "swap keeps the words"
    deleted = texts_of(build(registry, "eda", operations="delete", ops_per_text=1), 5, seed=0)
    assert all(any(set(t.split()) <= set(p.split()) for p in POSITIVES) for t in deleted), "delete only drops words"


def test_eda_rejects_known_texts_and_bad_options(registry) -> None:
    with pytest.raises(SpecError, match="operations"):
        build(registry, "eda", operations="swap,synonyms").check_available()
    with pytest.raises(UsageError, match="none"):
        texts_of(build(registry, "eda"), 5, seed=0, positives=())
    blocked = {dedup_key(t) for t in texts_of(build(registry, "eda"), 10, seed=4)}
    again = texts_of(build(registry, "eda"), 10, seed=4, is_known=lambda text: dedup_key(text) in blocked)
    assert len(again) == 10 and not blocked & {dedup_key(t) for t in again}
