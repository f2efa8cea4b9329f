"""The sparsity protocol: splits, the real base share, and the synthetic rows each level needs.

1. Texts are deduplicated (case and punctuation spacing ignored); a text seen with both labels is dropped.
2. Each class is split 70/15/15 (by default) into train / validation / test with one seeded shuffle;
   where the dataset names a group per row (the post a sentence came from), whole groups are split.
3. The training set keeps real positives at the base share (0.25 %); the training positives it does
   not keep join the reserve, which lies outside every split.
4. For a level above the base, the generator supplies ``synthetic`` positives. ``replace`` drops as many
   negatives so the training size stays fixed (the study's protocol); ``add`` keeps every real row.
5. Validation and test hold real rows only, identical for every cell of a (dataset, seed); metrics are
   weighted to the deployment prevalence.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sparsebench.contracts.components import LabelledTexts
from sparsebench.contracts.errors import DataError, UsageError
from sparsebench.contracts.fingerprints import KeySet, dedup_key, key_digest, key_set
from sparsebench.protocol.shortcuts import group_only_auroc, near_duplicates

MODES = ("replace", "add")


@dataclass(frozen=True)
class Protocol:
    """The knobs of the protocol; suites and ``bench run`` options set them."""

    base_share: float = 0.0025
    levels: tuple[float, ...] = (0.01, 0.03, 0.05)
    mode: str = "replace"
    split: tuple[float, float, float] = (0.70, 0.15, 0.15)
    prevalence: float = 0.0025
    #: extra levels for the upper-bound generator only (the exchange rate's calibration curve,
    #: :mod:`sparsebench.analysis.exchange`); a level below the base share trains on fewer real positives
    calibration_levels: tuple[float, ...] = ()

    def levels_for(self, generator: type) -> tuple[float, ...]:
        """The levels ``generator`` runs at: the base share alone for one that adds nothing, and the
        calibration levels too for the upper bound."""
        if not getattr(generator, "synthetic", True):
            return (self.base_share,)
        if getattr(generator, "role", None) == "upper-bound":
            return tuple(sorted(set(self.levels) | set(self.calibration_levels)))
        return self.levels

    def validate(self) -> Protocol:
        if not 0 < self.base_share < 1:
            raise UsageError(f"base share must be between 0 and 1 (exclusive), got {self.base_share}")
        for level in self.levels:
            if not (isinstance(level, (int, float)) and math.isfinite(level)):
                raise UsageError(f"sparsity level {level!r} is not a number")
            if level <= self.base_share:
                raise UsageError(f"sparsity level {level:g} must be above the base share {self.base_share:g}")
            if level >= 1:
                raise UsageError(f"sparsity level {level:g} must be below 1 (100 %); write 5 % as 0.05")
        if len(set(self.levels)) != len(self.levels):
            raise UsageError(f"sparsity levels repeat: {list(self.levels)}")
        for level in self.calibration_levels:
            if not (isinstance(level, (int, float)) and math.isfinite(level) and 0 < level < 1) or level == self.base_share:
                raise UsageError(f"calibration level {level!r} must be a share between 0 and 1 other than the base share {self.base_share:g}")
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if len(self.split) != 3 or any(s <= 0 for s in self.split) or abs(sum(self.split) - 1) > 1e-9:
            raise UsageError(f"split must be three positive shares that sum to 1, got {list(self.split)}")
        if not 0 < self.prevalence < 1:
            raise UsageError(f"deployment prevalence must be between 0 and 1 (exclusive), got {self.prevalence}")
        return self

    def as_dict(self) -> dict[str, object]:
        return {
            "base_share": self.base_share,
            "levels": list(self.levels),
            "mode": self.mode,
            "split": list(self.split),
            "prevalence": self.prevalence,
            "calibration_levels": list(self.calibration_levels),
        }


@dataclass
class Splits:
    """Everything the runner needs from one (dataset, seed)."""

    train_neg: list[str]
    train_pos: list[str]
    val_texts: list[str]
    val_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    reserve: list[str]
    #: the dedup keys of every text in the splits (training, validation, test; not the reserve), and of
    #: the validation and test texts: 64-bit digests, ``dedup_key(text) in known_keys`` (a set of key
    #: strings given here is converted)
    known_keys: KeySet = field(repr=False, default_factory=KeySet)
    eval_keys: KeySet = field(repr=False, default_factory=KeySet)
    fingerprint: str = ""
    #: negative controls and guards: source-only AUROCs, near-duplicates removed, warnings
    controls: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.known_keys, self.eval_keys = key_set(self.known_keys), key_set(self.eval_keys)

    def counts(self) -> dict[str, int]:
        return {
            "train_negatives": len(self.train_neg),
            "train_positives": len(self.train_pos),
            "val_rows": len(self.val_texts),
            "val_positives": int(self.val_labels.sum()),
            "test_rows": len(self.test_texts),
            "test_positives": int(self.test_labels.sum()),
            "reserve_positives": len(self.reserve),
        }


@dataclass(frozen=True)
class LevelPlan:
    """Exact training composition at one level."""

    level: float
    negatives: int
    real_positives: int
    synthetic: int

    @property
    def size(self) -> int:
        return self.negatives + self.real_positives + self.synthetic

    @property
    def share(self) -> float:
        return (self.real_positives + self.synthetic) / self.size


def deduplicate(data: LabelledTexts) -> tuple[list[int], list[str], dict[str, int]]:
    """Indices of the rows kept and the reserve kept: empty texts and duplicates dropped.

    A text seen with both labels is dropped entirely; the first of several copies is kept. Rows are
    grouped by a 64-bit digest of their key (8 bytes a row, not a dict of key strings); only rows whose
    digests meet have their keys compared, so a digest collision never merges two texts.
    """
    kept, reserve, stats, _ = _deduplicate(data)
    return kept.tolist(), reserve, stats


def _deduplicate(data: LabelledTexts) -> tuple[np.ndarray, list[str], dict[str, int], np.ndarray]:
    """:func:`deduplicate` with the rows kept as an array, and the key digest of every row of ``data`` (:func:`key_digest`)."""
    hashes, empty = _key_hashes(data.texts)
    order = np.argsort(hashes, kind="stable")  # stable: the rows of one hash stay in file order
    ordered = hashes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.empty(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(ordered)].astype(np.int64)
    single = ends - starts == 1
    keep = np.zeros(len(hashes), dtype=bool)
    keep[order[starts[single]]] = True
    conflicts = 0
    for start, end in zip(starts[~single].tolist(), ends[~single].tolist(), strict=True):
        by_key: dict[str, list[int]] = {}
        for i in order[start:end].tolist():
            by_key.setdefault(dedup_key(data.texts[i]), []).append(i)
        for key, rows in by_key.items():
            if key and len({int(data.labels[i]) for i in rows}) == 1:
                keep[rows[0]] = True
            conflicts += bool(key) and len({int(data.labels[i]) for i in rows}) > 1
    keep &= ~empty
    reserve = _new_reserve(data, ordered, order)
    kept = np.flatnonzero(keep)
    stats = {"rows_in": len(data.texts), "rows_kept": len(kept), "label_conflicts": int(conflicts)}
    return kept, reserve, stats, hashes


def _key_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The digest of each text's dedup key (:func:`key_digest`), and whether the key is empty."""
    hashes = np.empty(len(texts), dtype=np.int64)
    empty = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        key = dedup_key(text)
        hashes[i] = key_digest(key)
        empty[i] = not key
    return hashes, empty


def _new_reserve(data: LabelledTexts, ordered: np.ndarray, order: np.ndarray) -> list[str]:
    """Reserve texts whose key is new: in no row of ``data`` (hashes ``ordered``) and in no earlier reserve text."""
    seen: set[str] = set()
    reserve: list[str] = []
    for text in data.reserve:
        key = dedup_key(text)
        if not key or key in seen:
            continue
        seen.add(key)
        value = key_digest(key)
        low, high = np.searchsorted(ordered, value, side="left"), np.searchsorted(ordered, value, side="right")
        if not any(dedup_key(data.texts[i]) == key for i in order[low:high].tolist()):
            reserve.append(text)
    return reserve


def base_positive_count(negatives: int, base_share: float) -> int:
    """Real training positives so that positives / (negatives + positives) is the base share."""
    return max(1, round(base_share * negatives / (1 - base_share)))


#: fewer real training positives than this, or fewer deployment-equivalent test positives, is flagged
MIN_TRAIN_POSITIVES = 10
MIN_EFFECTIVE_TEST_POSITIVES = 5


def allocate(total: int, sizes: dict[str, int]) -> dict[str, int]:
    """``total`` shared in proportion to ``sizes`` (largest remainders), never more than a group holds."""
    whole = sum(sizes.values())
    if not whole:
        return {k: 0 for k in sizes}
    exact = {k: total * v / whole for k, v in sizes.items()}
    share = {k: min(sizes[k], math.floor(x)) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - math.floor(exact[k])), k)):
        if sum(share.values()) >= total:
            break
        if share[k] < sizes[k]:
            share[k] += 1
    return share


def _stratified_parts(labels: np.ndarray, groups: list[str], split: tuple[float, float, float], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Train / val / test row indices, split 70/15/15 within every (collection, label) stratum.

    The strata are taken in sorted order; each one's rows (in row order) get one seeded shuffle.
    """
    strata, names = _strata(labels, groups)
    order = np.argsort(strata, kind="stable")  # the rows of one stratum together, in row order
    bounds = np.r_[0, np.cumsum(np.bincount(strata, minlength=len(names)))]
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for code in sorted(range(len(names)), key=names.__getitem__):
        index = order[bounds[code] : bounds[code + 1]]
        index = index[rng.permutation(len(index))]
        n_train = round(split[0] * len(index))
        n_val = round(split[1] * len(index))
        parts["train"].append(index[:n_train])
        parts["val"].append(index[n_train : n_train + n_val])
        parts["test"].append(index[n_train + n_val :])
    return {name: np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64) for name, pieces in parts.items()}


def _strata(labels: np.ndarray, groups: list[str]) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Each row's stratum number, and each number's (group, label): one small array, not a list per stratum."""
    names: dict[tuple[str, int], int] = {}
    rows = zip(groups, labels.tolist(), strict=True)
    strata = np.fromiter((names.setdefault((group, int(label)), len(names)) for group, label in rows), dtype=np.int64, count=len(labels))
    return strata, list(names)


def _grouped_parts(labels: np.ndarray, sources: list[str], groups: list[str], split: tuple[float, float, float],
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Like :func:`_stratified_parts`, but whole groups go to one split.

    A group's stratum is its first row's collection and whether it holds any positive; the groups of
    each stratum are shuffled and shared 70/15/15 (by default), and every row follows its group, in
    the shuffled group order (the base positives are the first of that order).
    """
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    stratum_of = [f"{sources[rows[0]]}\x1f{int(labels[rows].max())}" for rows in members.values()]
    names = list(members)
    by_group = _stratified_parts(np.zeros(len(names), dtype=np.int8), stratum_of, split, rng)
    return {part: np.array([i for g in picked for i in members[names[g]]], dtype=np.int64) for part, picked in by_group.items()}


def make_splits(data: LabelledTexts, protocol: Protocol, seed: int) -> Splits:
    """Split ``data`` for ``seed`` following ``protocol`` (see the module docstring).

    Rows are named by numpy index arrays (8 bytes a row), not lists of Python integers (36).
    """
    keep, reserve, _, digests = _deduplicate(data)
    texts = [data.texts[i] for i in keep]
    digests = digests[keep]  # the key digest of each kept text
    labels = data.labels[keep]
    sources = [data.sources[i] for i in keep]
    platforms = [data.platforms[i] for i in keep] if data.platforms else []
    rng = np.random.default_rng([seed, 0x5B])
    if data.groups:
        parts = _grouped_parts(labels, sources, [data.groups[i] for i in keep], protocol.split, rng)
    else:
        parts = _stratified_parts(labels, sources, protocol.split, rng)
    del keep
    val, test = np.sort(parts["val"]), np.sort(parts["test"])
    eval_texts = [texts[i] for i in np.concatenate([val, test])]
    near = near_duplicates([texts[i] for i in parts["train"]], eval_texts)
    train = np.delete(parts["train"], near)
    near_reserve = set(near_duplicates(reserve, eval_texts).tolist())
    del eval_texts
    reserve = [t for j, t in enumerate(reserve) if j not in near_reserve]
    negatives, pool = train[labels[train] == 0], train[labels[train] == 1]
    wanted = base_positive_count(len(negatives), protocol.base_share)
    if len(pool) < wanted:
        raise DataError(
            f"the training split has {len(pool)} positives but the base share {protocol.base_share:g} needs {wanted}; "
            f"use a dataset with more positives or a lower base share"
        )
    for name in ("val", "test"):
        if labels[parts[name]].sum() == 0 or (labels[parts[name]] == 0).sum() == 0:
            raise DataError(f"the {name} split would miss a class; the dataset needs more rows of each label")
    base, spare = _base_positives(pool.tolist(), sources, wanted, rng)
    splits = Splits(
        train_neg=[texts[i] for i in negatives],
        train_pos=[texts[i] for i in base],
        val_texts=[texts[i] for i in val],
        val_labels=labels[val].astype(np.int8),
        test_texts=[texts[i] for i in test],
        test_labels=labels[test].astype(np.int8),
        reserve=reserve + [texts[i] for i in spare],
        known_keys=KeySet.of_digests(digests[np.concatenate([negatives, np.array(base, dtype=np.int64), val, test])]),
        eval_keys=KeySet.of_digests(digests[np.concatenate([val, test])]),
    )
    splits.fingerprint = fingerprint(splits)
    splits.controls = _controls(labels, sources, platforms, train, test, protocol)
    splits.controls.update(near_duplicates_removed={"train": len(near), "reserve": len(near_reserve)})
    splits.controls["warnings"] = split_warnings(splits, protocol.prevalence)
    return splits


def _base_positives(pool: list[int], sources: list[str], wanted: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """The real training positives kept at the base share, in proportion to each collection's, and the rest (shuffled)."""
    by_source: dict[str, list[int]] = {}
    for i in pool:
        by_source.setdefault(sources[i], []).append(i)
    share = allocate(wanted, {k: len(v) for k, v in by_source.items()})
    base = sorted(i for k, v in by_source.items() for i in v[: share[k]])
    chosen = set(base)
    spare = [i for i in pool if i not in chosen]
    return base, [spare[j] for j in rng.permutation(len(spare))]


def _controls(labels: np.ndarray, sources: list[str], platforms: list[str], train: np.ndarray, test: np.ndarray, protocol: Protocol) -> dict[str, Any]:
    """Source-only scorers: platform and collection rates learnt on the training split, scored on test."""
    out: dict[str, Any] = {}
    for name, groups in (("platform", platforms), ("collection", sources)):
        if groups:
            out[f"{name}_only_auroc"] = group_only_auroc([groups[i] for i in train], labels[train], [groups[i] for i in test], labels[test])
    return out


def split_warnings(splits: Splits, prevalence: float) -> list[str]:
    """Plain-words warnings for splits too small to support a conclusion."""
    warnings = []
    if len(splits.train_pos) < MIN_TRAIN_POSITIVES:
        warnings.append(f"only {len(splits.train_pos)} real training positives (fewer than {MIN_TRAIN_POSITIVES})")
    negatives = int((splits.test_labels == 0).sum())
    effective = negatives * prevalence / (1 - prevalence)
    if effective < MIN_EFFECTIVE_TEST_POSITIVES:
        warnings.append(f"only {negatives:,} test negatives: at {prevalence:.2%} prevalence that is {effective:.1f} positives' worth "
                        f"(fewer than {MIN_EFFECTIVE_TEST_POSITIVES}); precision and AUPRC rest on a handful of rows")
    return warnings


def fingerprint(splits: Splits) -> str:
    """SHA-256 over the split contents: changes whenever any text or label of any split changes."""
    payload = [
        splits.train_neg,
        splits.train_pos,
        splits.val_texts,
        splits.val_labels.tolist(),
        splits.test_texts,
        splits.test_labels.tolist(),
        splits.reserve,
    ]
    digest = hashlib.sha256()
    for piece in _json_pieces(payload):
        digest.update(piece.encode("utf-8"))
    return digest.hexdigest()


def _json_pieces(payload: list[list[Any]], chunk: int = 10_000) -> Any:
    """The text of ``json.dumps(payload, ensure_ascii=False)`` for a list of lists, in pieces (never all at once)."""
    yield "["
    for j, part in enumerate(payload):
        yield ", [" if j else "["
        for k in range(0, len(part), chunk):
            yield (", " if k else "") + json.dumps(part[k : k + chunk], ensure_ascii=False)[1:-1]
        yield "]"
    yield "]"


def plan_level(negatives: int, real_positives: int, level: float, mode: str) -> LevelPlan:
    """How many negatives, real and synthetic positives the training set holds at ``level``."""
    total = negatives + real_positives
    if mode in MODES and round(level * total) < real_positives:  # below the base share: fewer real positives
        return LevelPlan(level, negatives, max(1, round(level * negatives / (1 - level))), 0)
    if mode == "replace":
        synthetic = max(0, round(level * total) - real_positives)
        if synthetic > negatives:
            raise UsageError(f"level {level:g} needs {synthetic} synthetic rows but only {negatives} negatives can be replaced")
        return LevelPlan(level, negatives - synthetic, real_positives, synthetic)
    if mode == "add":
        synthetic = max(0, round((level * total - real_positives) / (1 - level)))
        return LevelPlan(level, negatives, real_positives, synthetic)
    raise UsageError(f"unknown mode {mode!r}")


def base_plan(splits: Splits, base_share: float) -> LevelPlan:
    return LevelPlan(base_share, len(splits.train_neg), len(splits.train_pos), 0)


def training_set(splits: Splits, plan: LevelPlan, synthetic: Sequence[str], seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and an ``is_synthetic`` mask for one level, shuffled with ``seed``.

    Negatives dropped in ``replace`` mode are the last ones of one seeded order, so levels are nested:
    every negative kept at 5 % is also kept at 1 %.
    """
    if len(synthetic) < plan.synthetic:
        raise ValueError(f"level {plan.level:g} needs {plan.synthetic} synthetic texts, got {len(synthetic)}")
    order = np.random.default_rng([seed, 0x4E]).permutation(len(splits.train_neg))
    negatives = [splits.train_neg[i] for i in order[: plan.negatives]]
    positives = list(splits.train_pos)
    if plan.real_positives < len(positives):  # a calibration level below the base share: a seeded subset, nested
        keep = np.random.default_rng([seed, 0x50]).permutation(len(positives))[: plan.real_positives]
        positives = [positives[i] for i in sorted(keep)]
    texts = negatives + positives + list(synthetic[: plan.synthetic])
    labels = np.array([0] * len(negatives) + [1] * (plan.real_positives + plan.synthetic), dtype=np.int8)
    is_synth = np.array([False] * (len(negatives) + plan.real_positives) + [True] * plan.synthetic)
    shuffle = np.random.default_rng([seed, 0x53]).permutation(len(texts))
    return [texts[i] for i in shuffle], labels[shuffle], is_synth[shuffle]


def deployment_weights(labels: np.ndarray, prevalence: float) -> np.ndarray:
    """Sample weights that make the weighted positive share equal ``prevalence``.

    Negatives weigh 1; each positive weighs ``prevalence * n_neg / ((1 - prevalence) * n_pos)``.
    """
    labels = np.asarray(labels)
    n_pos = int((labels == 1).sum())
    n_neg = int((labels == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("deployment weights need both classes")
    weights = np.ones(len(labels), dtype=float)
    weights[labels == 1] = prevalence * n_neg / ((1 - prevalence) * n_pos)
    return weights
