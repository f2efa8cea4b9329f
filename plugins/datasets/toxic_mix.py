"""``toxic-mix``: real toxic and non-toxic posts from public sources, the benchmark's default dataset.

Two recipes (``recipe=``):

* ``balanced`` (the default, shortcut-free): only the four collections that hold both labels (Civil
  Comments, Fox News, TweetEval hate, TweetEval offensive). Every collection contributes positives and
  negatives in the same proportion, so neither the collection nor the platform (news comments vs
  tweets) says anything about the label; the splits are stratified per collection. Civil Comments
  negatives are the posts most span annotators judged not toxic.
* ``study`` (the original study's layout, **with the source shortcut**): Civil Comments supplies
  positives only, GoEmotions Reddit comments and generic TweetEval tweets a negatives-only background.
  A scorer that reads only each row's source separates the classes (see docs/data.md).

Masks are unified and texts deduplicated by the protocol. Every row records its collection
(``sources``) and its platform, so the harness can score source-only negative controls.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sparsebench import DataContext, DataError, Dataset, LabelledTexts, Param, Register, hookimpl

from ._catalogue import FILES, SOURCES, ensure_files, tweeteval_files
from ._readers import clean_text, read_civil, read_fox, read_goemotions, read_tweeteval

_BACKGROUND_TASKS = ("emoji", "emotion", "irony", "sentiment")
Rows = list[tuple[str, str]]  # (source, text)
RECIPES = ("balanced", "study")
#: the collections with both labels, the balanced recipe's
BALANCED_SOURCES = ("civil-comments", "fox-news", "tweeteval-hate", "tweeteval-offensive")
STUDY_DEFAULTS = {"negatives": 60000, "positives": 6000}


def platform_of(source: str) -> str:
    """The platform a collection was posted on: news-site comments, tweets or Reddit comments."""
    if source.startswith("tweeteval"):
        return "twitter"
    return "reddit" if source == "goemotions" else "news"


def _needed_files() -> list[str]:
    paths = [p for p in FILES if p.startswith(("goemotions-reddit/", "civil-comments-toxic-spans/", "fox-news-comments/"))]
    paths += tweeteval_files("hate") + tweeteval_files("offensive")
    for task in _BACKGROUND_TASKS:
        paths += tweeteval_files(task, labelled=False)
    return paths


class ToxicMix(Dataset):
    name: ClassVar[str] = "toxic-mix"
    description: ClassVar[str] = "Civil Comments, Fox News and TweetEval posts, every collection with both labels in one proportion"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("recipe", "str", "balanced", "balanced: no source shortcut; study: the original layout, with the source shortcut",
              choices=RECIPES),
        Param("negatives", "int", 0, "non-toxic rows sampled into the splits; 0: all (balanced) or 60,000 (study); "
              "more than the recipe holds is refused", low=0),
        Param("positives", "int", 0, "toxic rows sampled into the splits; 0: as many as every collection allows at one "
              "ratio (balanced) or 6,000 (study); more than that is refused", low=0),
        Param("hard_negatives", "bool", True, "study recipe: include the non-toxic rows of TweetEval hate/offensive and Fox News"),
    )

    def load(self, ctx: DataContext) -> LabelledTexts:
        paths = ensure_files(ctx.data_dir, _needed_files(), download=ctx.download)
        key = tuple(sorted((k, str(v)) for k, v in paths.items()))
        rng = np.random.default_rng([ctx.seed, 0x7D])
        if self.config["recipe"] == "study":
            positives, negatives = _pools(key, self.config["hard_negatives"], True)
            chosen_pos, chosen_neg, reserve = self._study_sample(positives, negatives, rng)
        else:
            positives, negatives = _pools(key, True, False)
            check_balanced_request(_available(positives, negatives), self.config["negatives"], self.config["positives"])
            chosen_pos, chosen_neg = balanced_sample(positives, negatives, self.config["negatives"], self.config["positives"], rng)
            reserve = []  # spare positives come from the (balanced) training split only, see the protocol
        rows = chosen_neg + chosen_pos
        return LabelledTexts(
            texts=[text for _, text in rows],
            labels=np.array([0] * len(chosen_neg) + [1] * len(chosen_pos)),
            sources=[source for source, _ in rows],
            reserve=reserve,
            provenance=self._provenance(positives, negatives, chosen_pos, chosen_neg),
            platforms=[platform_of(source) for source, _ in rows],
        )

    def _study_sample(self, positives: Rows, negatives: Rows, rng: np.random.Generator) -> tuple[Rows, Rows, list[str]]:
        pos_idx = rng.permutation(len(positives))
        neg_idx = rng.permutation(len(negatives))
        n_neg = _study_count("negatives", self.config["negatives"], len(negatives), self.config["hard_negatives"])
        n_pos = _study_count("positives", self.config["positives"], len(positives), self.config["hard_negatives"])
        reserve = [positives[i][1] for i in pos_idx[n_pos:]]
        return [positives[i] for i in pos_idx[:n_pos]], [negatives[i] for i in neg_idx[:n_neg]], reserve

    def _provenance(self, positives: Rows, negatives: Rows, chosen_pos: Rows, chosen_neg: Rows) -> dict[str, Any]:
        return {
            "recipe": self.config["recipe"],
            "source_shortcut": self.config["recipe"] == "study",
            "sources": {name: {"repository": s.repo, "commit": s.commit, "licence": s.licence} for name, s in SOURCES.items()},
            "pool": {"positives": dict(Counter(s for s, _ in positives)), "negatives": dict(Counter(s for s, _ in negatives))},
            "sampled": {"positives": dict(Counter(s for s, _ in chosen_pos)), "negatives": dict(Counter(s for s, _ in chosen_neg))},
            "files": {path: FILES[path].sha256 for path in _needed_files()},
        }


def _study_count(what: str, asked: int, pool: int, hard_negatives: bool) -> int:
    """Rows of one label the study recipe takes: ``asked`` (0: its default, or the whole pool when smaller).

    Asking for more than the pool holds is refused (:class:`DataError`) rather than quietly capped.
    """
    if asked > pool:
        layout = "study recipe" + ("" if hard_negatives else " without hard negatives")
        raise DataError(f"toxic-mix: {what}={asked} asks for more {what} than the {layout} holds ({pool:,}); "
                        f"ask for at most {pool:,}, or 0 for {min(STUDY_DEFAULTS[what], pool):,}")
    return asked or min(STUDY_DEFAULTS[what], pool)


def _available(positives: Rows, negatives: Rows) -> dict[str, tuple[int, int]]:
    """(positives, negatives) per collection that holds both labels."""
    pos, neg = Counter(s for s, _ in positives), Counter(s for s, _ in negatives)
    return {source: (pos[source], neg[source]) for source in sorted(set(pos) & set(neg))}


def check_balanced_request(available: dict[str, tuple[int, int]], n_neg: int, n_pos: int) -> None:
    """Refuse (:class:`DataError`) a balanced request for more rows than the collections hold at one ratio.

    ``negatives`` can be at most every negative of the four collections; ``positives`` at most what
    that many negatives allow at the common ratio (Fox News limits it).
    """
    total_neg = sum(neg for _, neg in available.values())
    if n_neg > total_neg:
        raise DataError(f"toxic-mix: negatives={n_neg} asks for more negatives than the balanced recipe holds ({total_neg:,}); "
                        f"ask for at most {total_neg:,} (0: all), or recipe=study for its 60,000-row background")
    most = sum(pos for pos, _ in balanced_counts(available, n_neg, 0).values())
    if n_pos > most:
        at = f"{n_neg:,}" if n_neg else f"all {total_neg:,}"
        raise DataError(f"toxic-mix: positives={n_pos} asks for more positives than the balanced recipe gives at {at} negatives "
                        f"({most:,} at one ratio per collection); ask for at most {most:,} (0: all of them)")


def balanced_sample(positives: Rows, negatives: Rows, n_neg: int, n_pos: int, rng: np.random.Generator) -> tuple[Rows, Rows]:
    """Per collection, negatives and positives in one common ratio (see :func:`balanced_counts`)."""
    by_source: dict[str, tuple[Rows, Rows]] = {}
    for source in sorted({s for s, _ in positives} & {s for s, _ in negatives}):
        by_source[source] = ([r for r in positives if r[0] == source], [r for r in negatives if r[0] == source])
    counts = balanced_counts({s: (len(p), len(n)) for s, (p, n) in by_source.items()}, n_neg, n_pos)
    chosen_pos: Rows = []
    chosen_neg: Rows = []
    for source, (pos, neg) in by_source.items():
        want_pos, want_neg = counts[source]
        chosen_pos += [pos[i] for i in rng.permutation(len(pos))[:want_pos]]
        chosen_neg += [neg[i] for i in rng.permutation(len(neg))[:want_neg]]
    return chosen_pos, chosen_neg


def _allocate(total: int, sizes: dict[str, int]) -> dict[str, int]:
    """``total`` shared in proportion to ``sizes`` by largest remainders."""
    whole = sum(sizes.values()) or 1
    exact = {k: total * v / whole for k, v in sizes.items()}
    share = {k: math.floor(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (share[k] - exact[k], k))[: total - sum(share.values())]:
        share[k] += 1
    return share


def balanced_counts(available: dict[str, tuple[int, int]], n_neg: int = 0, n_pos: int = 0) -> dict[str, tuple[int, int]]:
    """(positives, negatives) to take from each collection, given (positives, negatives) available.

    Negatives: all of them (``n_neg`` = 0) or ``n_neg`` shared in proportion to what each collection
    has. Positives: one ratio to the negatives in every collection (to the nearest row), the largest
    every collection can supply, or lower when ``n_pos`` asks for fewer in all.
    """
    total_neg = sum(neg for _, neg in available.values())
    negatives = _allocate(min(n_neg, total_neg) if n_neg else total_neg, {s: neg for s, (_, neg) in available.items()})
    ratio = min(pos / negatives[s] for s, (pos, _) in available.items() if negatives[s])
    total_pos = math.floor(ratio * sum(negatives.values()))
    positives = _allocate(min(n_pos, total_pos) if n_pos else total_pos, negatives)
    return {s: (min(positives[s], available[s][0]), negatives[s]) for s in available}


@functools.lru_cache(maxsize=3)
def _pools(path_items: tuple[tuple[str, str], ...], hard_negatives: bool, study: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(source, cleaned text) pools of positives and negatives; cached per process (files are verified first).

    The study's pools leave out the Civil Comments negatives (its layout); the balanced recipe uses them.
    """
    paths = {key: Path(value) for key, value in path_items}
    positives: list[tuple[str, str]] = []
    negatives: list[tuple[str, str]] = []
    for text, label in zip(*read_civil(paths), strict=True):
        if label == 1:
            positives.append(("civil-comments", text))
        elif not study:
            negatives.append(("civil-comments", text))
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
    if study:
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
