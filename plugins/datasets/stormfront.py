"""``stormfront``: sentences of a white-supremacist forum's posts, each labelled hate or not (de Gibert et al., 2018).

One platform with natural labels and no source shortcut: 10,944 sentences of 5,000 posts by 2,792 users.
Only the sentences labelled ``hate`` (1,196) and ``noHate`` (9,507) are kept. ``relation`` sentences
(168) are hate only read with their neighbours, so a sentence on its own carries no reliable label;
``idk/skip`` (73) has none. Both are dropped.

Sentences of one post share context, so each row's group is its post (the ``file_id`` before ``_``)
and the protocol never lets two sentences of one post straddle train, validation and test;
``group="user"`` keeps each user's sentences together instead.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import numpy as np

from sparsebench import DataContext, Dataset, LabelledTexts, Param, Register, hookimpl

from ._catalogue import FILES, SOURCES, ensure_files
from ._readers import clean_text, read_stormfront

FILE = "stormfront/stormfront.csv"
LABELS = {"hate": 1, "noHate": 0}
GROUPINGS = ("post", "user")


def _group(row: dict[str, str], by: str) -> str:
    return f"user:{row['user_id']}" if by == "user" else f"post:{row['file_id'].split('_', 1)[0]}"


class Stormfront(Dataset):
    name: ClassVar[str] = "stormfront"
    description: ClassVar[str] = "Stormfront forum sentences, 1 = hate (1,196 of 10,703 labelled hate/noHate), split by post"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("group", "str", "post", "rows kept together in one split: the sentences of a post, or of a user", choices=GROUPINGS),
    )

    def load(self, ctx: DataContext) -> LabelledTexts:
        rows = read_stormfront(ensure_files(ctx.data_dir, [FILE], ctx.download))
        kept = [(row, text) for row in rows if row["label"] in LABELS and (text := clean_text(row["text"]))]
        source = SOURCES["stormfront"]
        return LabelledTexts(
            texts=[text for _, text in kept],
            labels=np.array([LABELS[row["label"]] for row, _ in kept]),
            sources=["stormfront"] * len(kept),
            groups=[_group(row, self.config["group"]) for row, _ in kept],
            provenance={
                "repository": source.repo, "commit": source.commit, "licence": source.licence,
                "files": {FILE: FILES[FILE].sha256},
                "labels_dropped": dict(Counter(row["label"] for row in rows if row["label"] not in LABELS)),
                "group": self.config["group"],
            },
        )


@hookimpl
def register_datasets(register: Register) -> None:
    register(Stormfront)
