"""Single-source labelled datasets: ``fox-news``, ``tweeteval-hate`` and ``tweeteval-offensive``.

Each keeps its own labels (1 = hateful / hate / offensive). They are less sparse than toxic-mix;
the protocol still trains at the base share and keeps the unused training positives as reserve.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sparsebench import DataContext, Dataset, LabelledTexts, Param, Register, hookimpl

from ._catalogue import FILES, SOURCES, ensure_files, tweeteval_files
from ._readers import clean_text, read_fox, read_tweeteval


def _labelled(texts: list[str], labels: list[int], source: str, files: list[str]) -> LabelledTexts:
    kept = [(clean_text(t), int(y)) for t, y in zip(texts, labels, strict=True)]
    kept = [(t, y) for t, y in kept if t]
    repo = SOURCES[files[0].split("/", 1)[0]]
    return LabelledTexts(
        texts=[t for t, _ in kept],
        labels=np.array([y for _, y in kept]),
        sources=[source] * len(kept),
        provenance={"repository": repo.repo, "commit": repo.commit, "licence": repo.licence, "files": {f: FILES[f].sha256 for f in files}},
    )


class FoxNews(Dataset):
    name: ClassVar[str] = "fox-news"
    description: ClassVar[str] = "Fox News comments on 10 articles of 2016, 1 = hateful (435 of 1,528)"
    parameters: ClassVar[tuple[Param, ...]] = ()

    def load(self, ctx: DataContext) -> LabelledTexts:
        files = ["fox-news-comments/fox-news-comments.jsonl"]
        texts, labels, _ = read_fox(ensure_files(ctx.data_dir, files, ctx.download))
        return _labelled(texts, labels, "fox-news", files)


class TweetEvalTask(Dataset):
    task: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()

    def load(self, ctx: DataContext) -> LabelledTexts:
        files = tweeteval_files(self.task)
        texts, labels = read_tweeteval(ensure_files(ctx.data_dir, files, ctx.download), self.task)
        return _labelled(texts, labels or [], f"tweeteval-{self.task}", files)


class TweetEvalHate(TweetEvalTask):
    name: ClassVar[str] = "tweeteval-hate"
    task: ClassVar[str] = "hate"
    description: ClassVar[str] = "TweetEval hate: tweets against immigrants and women, 1 = hate"


class TweetEvalOffensive(TweetEvalTask):
    name: ClassVar[str] = "tweeteval-offensive"
    task: ClassVar[str] = "offensive"
    description: ClassVar[str] = "TweetEval offensive (OLID): 1 = offensive"


@hookimpl
def register_datasets(register: Register) -> None:
    for dataset in (FoxNews, TweetEvalHate, TweetEvalOffensive):
        register(dataset)
