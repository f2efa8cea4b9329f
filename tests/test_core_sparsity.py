"""The sparsity protocol: exact counts per level and mode, no text in two splits, seeds that reproduce."""

from __future__ import annotations

import numpy as np
import pytest

from sparsebench.contracts.components import DataContext, LabelledTexts
from sparsebench.contracts.errors import DataError, UsageError
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.protocol.sparsity import Protocol, base_positive_count, make_splits, plan_level, training_set


def synthetic_data(n_neg: int = 8000, n_pos: int = 800, dups: int = 50) -> LabelledTexts:
    texts = [f"neutral comment number {i}" for i in range(n_neg)] + [f"toxic comment number {i}" for i in range(n_pos)]
    labels = [0] * n_neg + [1] * n_pos
    texts += [f"Neutral  comment number {i}!" for i in range(dups)]  # duplicates after normalisation
    labels += [0] * dups
    texts += ["conflicting text", "conflicting text"]
    labels += [0, 1]
    return LabelledTexts(texts, np.array(labels), ["s"] * len(texts), reserve=["toxic comment number 1", "reserve only"])


@pytest.fixture(scope="module")
def splits():
    return make_splits(synthetic_data(), Protocol(), seed=0)


def test_counts_follow_the_protocol(splits) -> None:
    assert len(splits.train_neg) == 5600  # 70 % of 8,000 negatives
    assert len(splits.train_pos) == base_positive_count(5600, 0.0025) == 14
    assert len(splits.train_pos) / (len(splits.train_neg) + len(splits.train_pos)) == pytest.approx(0.0025, rel=0.02)
    assert len(splits.val_texts) == 1200 + 120 and int(splits.val_labels.sum()) == 120
    assert len(splits.test_texts) == 1200 + 120 and int(splits.test_labels.sum()) == 120
    assert len(splits.reserve) == 560 - 14 + 1  # unused training positives + the reserve's new text


def test_no_text_in_two_splits(splits) -> None:
    groups = {
        "train": splits.train_neg + splits.train_pos,
        "val": splits.val_texts,
        "test": splits.test_texts,
        "reserve": splits.reserve,
    }
    keys = {name: {dedup_key(t) for t in texts} for name, texts in groups.items()}
    names = list(keys)
    for i, a in enumerate(names):
        assert len(keys[a]) == len(groups[a]), f"duplicates inside {a}"
        for b in names[i + 1 :]:
            assert not keys[a] & keys[b], f"{a} and {b} share texts"
    assert "conflicting text" not in {t for texts in groups.values() for t in texts}


@pytest.mark.parametrize(
    ("level", "negatives", "synthetic"),
    [(0.01, 5558, 42), (0.03, 5446, 154), (0.05, 5333, 267)],
)
def test_replace_mode_keeps_the_training_size(level: float, negatives: int, synthetic: int) -> None:
    plan = plan_level(5600, 14, level, "replace")
    assert (plan.negatives, plan.real_positives, plan.synthetic) == (negatives, 14, synthetic)
    assert plan.size == 5614
    assert plan.share == pytest.approx(level, abs=0.5 / 5614)


@pytest.mark.parametrize(("level", "synthetic"), [(0.01, 43), (0.03, 159), (0.05, 281)])
def test_add_mode_keeps_every_real_row(level: float, synthetic: int) -> None:
    plan = plan_level(5600, 14, level, "add")
    assert (plan.negatives, plan.real_positives, plan.synthetic) == (5600, 14, synthetic)
    assert plan.share == pytest.approx(level, abs=1 / plan.size)


def test_training_set_composition_and_nesting(splits) -> None:
    synthetic = [f"generated {i}" for i in range(300)]
    sets = {}
    for level in (0.01, 0.05):
        plan = plan_level(len(splits.train_neg), len(splits.train_pos), level, "replace")
        texts, labels, is_synth = training_set(splits, plan, synthetic, seed=3)
        assert len(texts) == plan.size and int(labels.sum()) == plan.real_positives + plan.synthetic
        assert int(is_synth.sum()) == plan.synthetic and all(labels[is_synth] == 1)
        assert {t for t, s in zip(texts, is_synth) if s} == set(synthetic[: plan.synthetic])
        sets[level] = {t for t, y in zip(texts, labels) if y == 0}
    assert sets[0.05] <= sets[0.01]  # negatives kept at 5 % are also kept at 1 %
    with pytest.raises(ValueError, match="needs 267 synthetic texts"):
        training_set(splits, plan_level(5600, 14, 0.05, "replace"), synthetic[:10], seed=3)


def test_same_seed_same_splits_other_seed_other_splits() -> None:
    data = synthetic_data()
    a, b, c = (make_splits(data, Protocol(), seed=s) for s in (5, 5, 6))
    assert a.fingerprint == b.fingerprint and a.test_texts == b.test_texts
    assert a.fingerprint != c.fingerprint


def test_validation_and_test_do_not_depend_on_level_or_mode() -> None:
    data = synthetic_data()
    a = make_splits(data, Protocol(levels=(0.01,), mode="replace"), seed=1)
    b = make_splits(data, Protocol(levels=(0.05, 0.1), mode="add"), seed=1)
    assert a.val_texts == b.val_texts and a.test_texts == b.test_texts and a.fingerprint == b.fingerprint


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        (Protocol(levels=(0.0025,)), "must be above the base share"),
        (Protocol(levels=(0.001,)), "must be above the base share"),
        (Protocol(levels=(1.0,)), "must be below 1"),
        (Protocol(levels=(5.0,)), "must be below 1"),
        (Protocol(levels=(0.01, 0.01)), "repeat"),
        (Protocol(mode="swap"), "mode must be one of"),
        (Protocol(split=(0.5, 0.5, 0.1)), "sum to 1"),
        (Protocol(base_share=0), "base share"),
    ],
)
def test_invalid_protocols_are_rejected(protocol: Protocol, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        protocol.validate()


def test_too_few_positives_is_a_clear_error() -> None:
    data = LabelledTexts([f"n {i}" for i in range(4000)] + ["p 1", "p 2", "p 3"], np.array([0] * 4000 + [1] * 3), ["s"] * 4003)
    with pytest.raises(DataError, match="needs 7"):
        make_splits(data, Protocol(), seed=0)


def test_toxic_mix_protocol_on_real_data(data_dir) -> None:
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(recipe="study", negatives=6000, positives=800, hard_negatives=True).load(DataContext(data_dir, download=False, seed=0))
    splits = make_splits(data, Protocol(), seed=0)
    counts = splits.counts()
    assert counts["train_positives"] == base_positive_count(counts["train_negatives"], 0.0025)
    assert counts["test_positives"] == counts["val_positives"] == 120
    test_keys = {dedup_key(t) for t in splits.test_texts}
    assert not test_keys & {dedup_key(t) for t in splits.train_neg + splits.train_pos + splits.reserve + splits.val_texts}


def _dedup_by_dicts(data: LabelledTexts) -> tuple[list[int], list[str], int]:
    """The plain algorithm: a dict of key strings (what deduplicate did before it grouped hashes)."""
    first: dict[str, int] = {}
    seen_labels: dict[str, set[int]] = {}
    for i, text in enumerate(data.texts):
        key = dedup_key(text)
        if key:
            seen_labels.setdefault(key, set()).add(int(data.labels[i]))
            first.setdefault(key, i)
    keep = sorted(i for key, i in first.items() if len(seen_labels[key]) == 1)
    seen, reserve = set(seen_labels), []
    for text in data.reserve:
        key = dedup_key(text)
        if key and key not in seen:
            seen.add(key)
            reserve.append(text)
    return keep, reserve, sum(len(v) > 1 for v in seen_labels.values())


def test_deduplicate_by_hashes_equals_the_plain_algorithm() -> None:
    """Repeats, conflicting labels, empty keys, reserve texts seen in the data or twice; and a forced hash collision."""
    from sparsebench.protocol import sparsity

    rng = np.random.default_rng(7)
    pool = [f"text {i}" for i in range(300)] + ["", "!!!", "@user", "Text 5!", "TEXT  7"]
    texts = [pool[j] for j in rng.integers(0, len(pool), 2000)]
    labels = rng.integers(0, 2, 2000) * (rng.random(2000) < 0.3)
    reserve = ["text 1", "brand new", "brand new", "Brand  NEW!", "", "text 999"]
    data = LabelledTexts(texts, labels, ["s"] * len(texts), reserve=reserve)
    keep, kept_reserve, stats = sparsity.deduplicate(data)
    assert (keep, kept_reserve, stats["label_conflicts"]) == _dedup_by_dicts(data)
    assert stats["rows_kept"] == len(keep) and 0 < stats["label_conflicts"]

    real = sparsity._key_hashes

    def colliding(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        hashes, empty = real(texts)
        return np.zeros_like(hashes), empty  # every key shares one hash: the keys themselves must decide

    sparsity._key_hashes = colliding  # type: ignore[assignment]
    try:
        assert sparsity.deduplicate(data)[0] == _dedup_by_dicts(data)[0]  # (the reserve's lookup hashes for itself)
    finally:
        sparsity._key_hashes = real


def test_the_split_fingerprint_is_the_digest_of_the_whole_json() -> None:
    """Hashed in pieces, the fingerprint stays the SHA-256 of json.dumps of the splits (stored cells keep their identity)."""
    import hashlib
    import json

    from sparsebench.protocol.sparsity import fingerprint

    texts = [f"n {i} é\u202e" for i in range(25_000)] + [f"p {i}" for i in range(400)]
    splits = make_splits(LabelledTexts(texts, np.array([0] * 25_000 + [1] * 400), ["s"] * len(texts)), Protocol(), 0)
    payload = [splits.train_neg, splits.train_pos, splits.val_texts, splits.val_labels.tolist(), splits.test_texts,
               splits.test_labels.tolist(), splits.reserve]
    assert fingerprint(splits) == hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def test_near_duplicates_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashed in blocks of 7 texts or all at once, the same candidates are found (pairs across blocks included)."""
    from sparsebench.protocol import shortcuts as controls

    rng = np.random.default_rng(3)
    words = [f"w{i}x{i * 7 % 13}" for i in range(400)]
    reference = [" ".join(rng.choice(words, 12)) for _ in range(40)]
    candidates = [" ".join(rng.choice(words, 12)) for _ in range(60)]
    candidates[5] = reference[3] + " again"  # near-duplicates in different blocks
    candidates[33] = "RT " + reference[30]
    candidates[59] = reference[0].upper()
    whole = controls.near_duplicates(candidates, reference)
    monkeypatch.setattr(controls, "_BLOCK", 7)
    assert controls.near_duplicates(candidates, reference).tolist() == whole.tolist()
    assert {5, 33, 59} <= set(whole.tolist())


def test_split_keys_are_the_keys_of_the_split_texts(splits) -> None:
    """known_keys: every training, validation and test text's key (not the reserve's); eval_keys: validation and test only."""
    in_splits = splits.train_neg + splits.train_pos + splits.val_texts + splits.test_texts
    known, evals = {dedup_key(t) for t in in_splits}, {dedup_key(t) for t in splits.val_texts + splits.test_texts}
    assert len(splits.known_keys) == len(known) and len(splits.eval_keys) == len(evals) == len(splits.val_texts) + len(splits.test_texts)
    assert all(k in splits.known_keys for k in known) and all(k in splits.eval_keys for k in evals)
    outside = [dedup_key(t) for t in splits.reserve] + ["never seen text", ""]
    assert not any(k in splits.known_keys for k in outside)
    assert not any(dedup_key(t) in splits.eval_keys for t in splits.train_neg + splits.train_pos)
    assert dedup_key("NEUTRAL comment number 3 !!") in splits.known_keys  # membership by key, whatever the spelling


def test_a_key_set_holds_digests_and_answers_like_a_set_of_strings() -> None:
    from sparsebench.contracts.fingerprints import KeySet, key_digest, key_set
    from sparsebench.protocol.sparsity import Splits

    keys = [f"key {i}" for i in range(1000)] + ["", "é \ud800", "key 1"]  # a lone surrogate hashes too
    held = KeySet(keys)
    assert len(held) == 1002 and all(k in held for k in keys) and "key 1000" not in held and 5 not in held
    assert key_digest("key 1") == key_digest("key 1") != key_digest("key 2")
    assert key_digest("abc") == 6_455_300_059_550_759_896  # BLAKE2b, not Python's per-process hash: the same in every run
    rest = held - KeySet(keys[:500])
    assert len(rest) == 502 and "key 499" not in rest and "key 500" in rest
    assert key_set(frozenset(keys)) == held and key_set(held) is held
    built = Splits([], [], [], np.zeros(0), [], np.zeros(0), [], known_keys=frozenset({"a b"}), eval_keys=frozenset())  # type: ignore[arg-type]
    assert isinstance(built.known_keys, KeySet) and "a b" in built.known_keys and "a b" not in built.eval_keys
    with pytest.raises(TypeError):
        set(held)  # type: ignore[call-overload]  # the keys are not kept: no iteration that would yield digests as keys
