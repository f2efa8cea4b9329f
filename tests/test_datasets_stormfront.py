"""The ``stormfront`` dataset and group-aware splits: no post's sentences straddle train, validation and test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sparsebench.contracts.components import DataContext, LabelledTexts
from sparsebench.contracts.errors import DataError
from sparsebench.contracts.fingerprints import dedup_key
from sparsebench.plugins.datasets._catalogue import ensure_files
from sparsebench.protocol.sparsity import Protocol, make_splits


def _split_of_each_group(data: LabelledTexts, seed: int) -> dict[str, set[str]]:
    """For every group, the splits its rows landed in (rows matched back through their text).

    A text that occurs in two groups is kept once by the deduplication and cannot be traced to one
    group; those rows (102 texts in stormfront) are left out of the check.
    """
    splits = make_splits(data, Protocol(), seed)
    where: dict[str, str] = {}
    for name, texts in (("train", splits.train_neg + splits.train_pos + splits.reserve), ("val", splits.val_texts), ("test", splits.test_texts)):
        where.update({dedup_key(text): name for text in texts})
    copies = Counter(dedup_key(text) for text in data.texts)
    seen: dict[str, set[str]] = {}
    for text, group in zip(data.texts, data.groups, strict=True):
        key = dedup_key(text)
        if key in where and copies[key] == 1:
            seen.setdefault(group, set()).add(where[key])
    return seen


def _toy(groups: int, seed: int = 0) -> LabelledTexts:
    rng = np.random.default_rng(seed)
    texts, labels, names = [], [], []
    for g in range(groups):
        for s in range(int(rng.integers(1, 6))):
            texts.append(f"post {g} sentence {s} words {rng.integers(1_000_000)}")
            labels.append(int(rng.random() < 0.15))
            names.append(f"post:{g}")
    return LabelledTexts(texts=texts, labels=np.array(labels), sources=["toy"] * len(texts), groups=names)


@pytest.mark.parametrize("seed", [0, 1])
def test_no_group_straddles_the_splits(seed: int) -> None:
    data = _toy(3000)
    seen = _split_of_each_group(data, seed)
    assert len(seen) > 2900 and all(len(parts) == 1 for parts in seen.values())
    counts = {name: sum(1 for parts in seen.values() if parts == {name}) for name in ("train", "val", "test")}
    assert abs(counts["val"] / len(seen) - 0.15) < 0.01 and abs(counts["test"] / len(seen) - 0.15) < 0.01


def test_groups_change_with_the_seed_and_ungrouped_rows_still_split_per_row() -> None:
    data = _toy(2000)
    a, b = make_splits(data, Protocol(), 0), make_splits(data, Protocol(), 1)
    assert a.test_texts != b.test_texts and a.fingerprint != make_splits(data, Protocol(), 1).fingerprint
    assert make_splits(data, Protocol(), 0).fingerprint == a.fingerprint
    loose = LabelledTexts(texts=data.texts, labels=data.labels, sources=data.sources)
    assert make_splits(loose, Protocol(), 0).test_texts != a.test_texts


def test_groups_must_match_the_rows() -> None:
    with pytest.raises(ValueError, match="groups"):
        LabelledTexts(texts=["a", "b"], labels=np.array([0, 1]), sources=["s", "s"], groups=["g"])


def test_stormfront_loads_through_plugin_discovery(plugins, data_dir: Path) -> None:
    data = plugins.registry.get("dataset", "stormfront").cls().load(DataContext(data_dir, download=False))
    assert (len(data.texts), int(data.labels.sum())) == (10703, 1196)
    assert data.provenance["labels_dropped"] == {"relation": 168, "idk/skip": 73}
    assert len(set(data.groups)) == 4967 and all(g.startswith("post:") for g in data.groups)


@pytest.mark.parametrize("group", ["post", "user"])
def test_stormfront_splits_keep_each_post_or_user_whole(plugins, data_dir: Path, group: str) -> None:
    data = plugins.registry.get("dataset", "stormfront").cls(group=group).load(DataContext(data_dir, download=False))
    seen = _split_of_each_group(data, 0)
    assert all(len(parts) == 1 for parts in seen.values())
    assert {next(iter(parts)) for parts in seen.values()} == {"train", "val", "test"}


def test_stormfront_file_is_verified_never_downloaded(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="stormfront/stormfront.csv"):
        ensure_files(tmp_path, ["stormfront/stormfront.csv"], download=True)


def test_the_default_suite_runs_stormfront_baselines_at_three_seeds_and_nothing_expensive() -> None:
    import sparsebench

    cells = [c for c in sparsebench.plan(suite="default").cells if c.dataset.label == "stormfront"]
    assert {c.classifier.name for c in cells} == {"logreg", "mlp", "length"}
    assert {c.generator.name for c in cells} == {"real-only", "oversample", "real-extra", "template", "toxigen"}
    for name in ("real-only", "oversample", "real-extra"):
        assert {c.seed for c in cells if c.generator.name == name} == {0, 1, 2}
    assert {c.seed for c in cells if c.generator.name == "template"} == {c.seed for c in cells if c.generator.name == "toxigen"} == {0}
    assert len(cells) == 90  # 7 baseline configurations and real-extra at the calibration level, x 3 classifiers x 3 seeds; template, toxigen 3 x 3
