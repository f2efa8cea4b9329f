"""``toxic-mix``: real toxic posts in a large non-toxic background, the benchmark's default dataset.

Positives: Civil Comments posts most raters judged toxic, Fox News comments labelled hateful, and
TweetEval hate / offensive tweets. Background: GoEmotions Reddit comments, TweetEval tweets of the
non-toxicity tasks and the non-hateful / non-offensive tweets of hate and offensive, and the
non-hateful Fox News comments. Masks are unified, texts deduplicated; positives that are not sampled
into the splits are kept as the reserve.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sparsebench import DataContext, Dataset, LabelledTexts, Param, Register, hookimpl
from sparsebench.sources import (
    FILES,
    SOURCES,
    clean_text,
    ensure_files,
    read_civil_toxic,
    read_fox,
    read_goemotions,
    read_tweeteval,
    tweeteval_files,
)

_BACKGROUND_TASKS = ("emoji", "emotion", "irony", "sentiment")
Rows = list[tuple[str, str]]  # (source, text)


def _needed_files() -> list[str]:
    paths = [p for p in FILES if p.startswith(("goemotions-reddit/", "civil-comments-toxic-spans/", "fox-news-comments/"))]
    paths += tweeteval_files("hate") + tweeteval_files("offensive")
    for task in _BACKGROUND_TASKS:
        paths += tweeteval_files(task, labelled=False)
    return paths


class ToxicMix(Dataset):
    name: ClassVar[str] = "toxic-mix"
    description: ClassVar[str] = "Civil Comments, Fox News and TweetEval toxic posts in a Reddit + Twitter + news background"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("negatives", "int", 60000, "background (non-toxic) rows sampled into the splits; 0 takes all", low=0),
        Param("positives", "int", 6000, "real toxic rows sampled into the splits; the rest form the reserve", low=10),
        Param("hard_negatives", "bool", True, "include the non-toxic rows of TweetEval hate/offensive and Fox News"),
    )

    def load(self, ctx: DataContext) -> LabelledTexts:
        paths = ensure_files(ctx.data_dir, _needed_files(), download=ctx.download)
        positives, negatives = _pools(tuple(sorted((k, str(v)) for k, v in paths.items())), self.config["hard_negatives"])
        rng = np.random.default_rng([ctx.seed, 0x7D])
        pos_idx = rng.permutation(len(positives))
        neg_idx = rng.permutation(len(negatives))
        n_neg = self.config["negatives"] or len(negatives)
        n_pos = min(self.config["positives"], len(positives))
        chosen_pos = [positives[i] for i in pos_idx[:n_pos]]
        chosen_neg = [negatives[i] for i in neg_idx[:n_neg]]
        reserve = [positives[i][1] for i in pos_idx[n_pos:]]
        rows = chosen_neg + chosen_pos
        return LabelledTexts(
            texts=[text for _, text in rows],
            labels=np.array([0] * len(chosen_neg) + [1] * len(chosen_pos)),
            sources=[source for source, _ in rows],
            reserve=reserve,
            provenance=self._provenance(positives, negatives, chosen_pos, chosen_neg),
        )

    @staticmethod
    def _provenance(positives: Rows, negatives: Rows, chosen_pos: Rows, chosen_neg: Rows) -> dict[str, Any]:
        return {
            "sources": {name: {"repository": s.repo, "commit": s.commit, "licence": s.licence} for name, s in SOURCES.items()},
            "pool": {"positives": dict(Counter(s for s, _ in positives)), "negatives": dict(Counter(s for s, _ in negatives))},
            "sampled": {"positives": dict(Counter(s for s, _ in chosen_pos)), "negatives": dict(Counter(s for s, _ in chosen_neg))},
            "files": {path: FILES[path].sha256 for path in _needed_files()},
        }


@functools.lru_cache(maxsize=2)
def _pools(path_items: tuple[tuple[str, str], ...], hard_negatives: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(source, cleaned text) pools of positives and negatives; cached per process (files are verified first)."""
    paths = {key: Path(value) for key, value in path_items}
    positives: list[tuple[str, str]] = [("civil-comments", t) for t in read_civil_toxic(paths)]
    negatives: list[tuple[str, str]] = []
    fox_texts, fox_labels, _ = read_fox(paths)
    for text, label in zip(fox_texts, fox_labels, strict=True):
        if label == 1:
            positives.append(("fox-news", text))
        elif hard_negatives:
            negatives.append(("fox-news", text))
    for task in ("hate", "offensive"):
        texts, labels = read_tweeteval(paths, task)
        for text, label in zip(texts, labels or [], strict=True):
            if label == 1:
                positives.append((f"tweeteval-{task}", text))
            elif hard_negatives:
                negatives.append((f"tweeteval-{task}", text))
    negatives += [("goemotions", t) for t in read_goemotions(paths)]
    for task in _BACKGROUND_TASKS:
        splits = ("val", "test") if task == "sentiment" else ("train", "val", "test")
        texts, _ = read_tweeteval(paths, task, splits)
        negatives += [(f"tweeteval-{task}", t) for t in texts]
    return _clean(positives), _clean(negatives)


def _clean(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(source, cleaned) for source, text in rows if (cleaned := clean_text(text))]


@hookimpl
def register_datasets(register: Register) -> None:
    register(ToxicMix)
