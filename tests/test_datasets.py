"""Dataset loaders on the real shared files: checksums, counts, masks, determinism, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sparsebench.contracts.components import DataContext
from sparsebench.contracts.errors import DataError
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.plugins.datasets._catalogue import FILES, ensure_files
from sparsebench.plugins.datasets._readers import clean_text, read_civil_toxic, read_fox, read_tweeteval


def test_every_known_file_verifies(data_dir: Path) -> None:
    paths = ensure_files(data_dir, list(FILES), download=False)
    assert len(paths) == len(FILES) == 30


def test_source_counts_match_the_data_readme(data_dir: Path) -> None:
    paths = ensure_files(data_dir, list(FILES), download=False)
    assert len(read_civil_toxic(paths)) == 11304
    texts, labels, titles = read_fox(paths)
    assert (len(texts), sum(labels), len(set(titles))) == (1528, 435, 10)
    hate, hate_labels = read_tweeteval(paths, "hate")
    assert sum(hate_labels or []) == 5462 and len(hate) == len(hate_labels or [])


def test_masks_and_entities_are_normalised() -> None:
    assert clean_text("Thanks [NAME] &amp; @user  for this\n") == "Thanks @user & @user for this"
    assert dedup_key("Hello,   WORLD!!") == dedup_key("hello world")


def test_checksum_mismatch_is_reported(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data_dir / "fox-news-comments", copy / "fox-news-comments")
    target = copy / "fox-news-comments" / "fox-news-comments.jsonl"
    target.chmod(0o644)
    target.write_text(target.read_text() + "\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        ensure_files(copy, ["fox-news-comments/fox-news-comments.jsonl"], download=False)


def test_missing_files_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="SPARSEBENCH_DATA") as info:
        ensure_files(tmp_path, ["goemotions-reddit/train.tsv"], download=False)
    assert "goemotions-reddit/train.tsv" in str(info.value)


def test_toxic_mix_is_deterministic_and_keeps_a_separate_reserve(data_dir: Path) -> None:
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    mix = ToxicMix(recipe="study", negatives=2000, positives=400, hard_negatives=True)
    a = mix.load(DataContext(data_dir, download=False, seed=3))
    b = mix.load(DataContext(data_dir, download=False, seed=3))
    c = mix.load(DataContext(data_dir, download=False, seed=4))
    assert a.texts == b.texts and a.reserve == b.reserve and a.texts != c.texts
    assert (int((a.labels == 0).sum()), int(a.labels.sum())) == (2000, 400)
    assert not any("[NAME]" in t for t in a.texts)
    sampled = a.provenance["sampled"]
    assert set(sampled["positives"]) <= {"civil-comments", "fox-news", "tweeteval-hate", "tweeteval-offensive"}
    assert "goemotions" in sampled["negatives"]


def test_balanced_recipe_takes_each_collection_in_one_proportion(data_dir: Path) -> None:
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix().load(DataContext(data_dir, download=False, seed=0))
    sampled = data.provenance["sampled"]
    assert sampled["negatives"] == {"civil-comments": 4796, "fox-news": 1093, "tweeteval-hate": 7500, "tweeteval-offensive": 9460}
    assert sampled["positives"] == {"civil-comments": 1908, "fox-news": 435, "tweeteval-hate": 2985, "tweeteval-offensive": 3765}
    assert data.provenance["recipe"] == "balanced" and not data.provenance["source_shortcut"] and data.reserve == []
    assert {p for p in data.platforms} == {"news", "twitter"} and len(data.platforms) == len(data.texts)
    small = ToxicMix(negatives=2000, positives=400).load(DataContext(data_dir, download=False, seed=0))
    counts = small.provenance["sampled"]
    assert sum(counts["negatives"].values()) == 2000 and sum(counts["positives"].values()) == 400
    assert counts["negatives"] == {"civil-comments": 420, "fox-news": 96, "tweeteval-hate": 656, "tweeteval-offensive": 828}
    assert counts["positives"] == {"civil-comments": 84, "fox-news": 19, "tweeteval-hate": 131, "tweeteval-offensive": 166}


def test_balanced_counts_share_one_ratio() -> None:
    from sparsebench.plugins.datasets.toxic_mix import balanced_counts

    counts = balanced_counts({"a": (50, 100), "b": (10, 200), "c": (500, 100)})
    assert counts == {"a": (5, 100), "b": (10, 200), "c": (5, 100)}  # b limits the ratio to 0.05
    assert balanced_counts({"a": (50, 100), "b": (100, 300)}, n_neg=200, n_pos=20) == {"a": (5, 50), "b": (15, 150)}


@pytest.mark.parametrize(("name", "rows", "positives"), [("fox-news", 1528, 435), ("tweeteval-offensive", 14100, 4640)])
def test_single_source_datasets(plugins, data_dir: Path, name: str, rows: int, positives: int) -> None:
    dataset = plugins.registry.get("dataset", name).cls()
    data = dataset.load(DataContext(data_dir, download=False))
    assert abs(len(data.texts) - rows) <= 5 and int(data.labels.sum()) == positives
