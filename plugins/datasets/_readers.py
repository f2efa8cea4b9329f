"""Readers of the public files in :mod:`._catalogue`, and the text clean-up the built-in datasets share.

Each reader takes the verified paths that :func:`._catalogue.ensure_files` returned, keyed by their
catalogue path, and returns the raw texts (and labels where the collection has them).
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterable
from pathlib import Path

from sparsebench import DataError

_MASKS = re.compile(r"\[NAME\]|@user\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Normalise one text: HTML entities unescaped, the sources' person masks unified, spaces collapsed.

    GoEmotions masks names as ``[NAME]`` and TweetEval as ``@user``; left alone, the mask alone would
    tell the sources apart. Both become ``@user``.
    """
    text = html.unescape(text)
    text = _MASKS.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


def read_goemotions(paths: dict[str, Path]) -> list[str]:
    texts: list[str] = []
    for split in ("train", "dev", "test"):
        with paths[f"goemotions-reddit/{split}.tsv"].open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row:
                    texts.append(row[0])
    return texts


def read_civil_toxic(paths: dict[str, Path]) -> list[str]:
    """Civil Comments posts that most annotators did not mark ``not toxic``."""
    texts, labels = read_civil(paths)
    return [text for text, label in zip(texts, labels, strict=True) if label == 1]


def read_civil(paths: dict[str, Path]) -> tuple[list[str], list[int]]:
    """Civil Comments posts with a label: 0 when most span annotators ticked ``not toxic``, else 1."""
    votes: dict[str, list[int]] = {}
    with paths["civil-comments-toxic-spans/annotations.csv"].open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            tally = votes.setdefault(row["comment_id"], [0, 0])
            tally[0] += 1
            tally[1] += row["not toxic"].strip() == "True"
    texts: list[str] = []
    labels: list[int] = []
    with paths["civil-comments-toxic-spans/comments.csv"].open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            total, not_toxic = votes.get(row["comment_id"], (0, 0))
            if total:
                texts.append(row["comment_text"])
                labels.append(int(not_toxic * 2 <= total))
    return texts, labels


def read_fox(paths: dict[str, Path]) -> tuple[list[str], list[int], list[str]]:
    """Fox News comments: texts, labels (1 hateful) and the article title of each."""
    texts, labels, titles = [], [], []
    with paths["fox-news-comments/fox-news-comments.jsonl"].open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(int(row["label"]))
                titles.append(row["title"])
    return texts, labels, titles


def read_tweeteval(paths: dict[str, Path], task: str, splits: Iterable[str] = ("train", "val", "test")) -> tuple[list[str], list[int] | None]:
    """Texts of a TweetEval task, with labels where the task's label files are among ``paths``."""
    texts: list[str] = []
    labels: list[int] = []
    has_labels = True
    for split in splits:
        texts.extend(_lines(paths[f"tweeteval/{task}/{split}_text.txt"]))
        label_path = paths.get(f"tweeteval/{task}/{split}_labels.txt")
        if label_path is None:
            has_labels = False
        else:
            labels.extend(int(x) for x in _lines(label_path))
    if has_labels and len(labels) != len(texts):
        raise DataError(f"tweeteval/{task}: {len(texts)} texts but {len(labels)} labels")
    return texts, (labels if has_labels else None)


def _lines(path: Path) -> list[str]:
    """Lines split on ``\n`` only: a stray ``\r`` inside a tweet must not shift texts against labels."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_stormfront(paths: dict[str, Path]) -> list[dict[str, str]]:
    """Stormfront sentences: one dict per row with ``file_id``, ``user_id``, ``subforum_id``, ``label``, ``text``."""
    with paths["stormfront/stormfront.csv"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"file_id", "user_id", "label", "text"} <= set(rows[0]):
        raise DataError("stormfront/stormfront.csv: expected columns file_id, user_id, label and text")
    return rows
