"""Admission of generated texts for the model-free generators (template, eda)."""

from __future__ import annotations

from collections import Counter

from sparsebench import GeneratedBatch, GenerationRequest, dedup_key


class Admission:
    """Keeps texts new to this set and to the dataset's real rows; counts attempts and why others were refused."""

    def __init__(self, request: GenerationRequest, max_attempts: int) -> None:
        self.request = request
        self.limit = request.n * max_attempts
        self.texts: list[str] = []
        self.seen: set[str] = set()
        self.rejected: Counter[str] = Counter()
        self.rejected_texts: list[tuple[str, str]] = []
        self.attempts = 0

    def wants_more(self) -> bool:
        return len(self.texts) < self.request.n and self.attempts < self.limit

    def reject(self, reason: str, text: str | None = None) -> None:
        self.rejected[reason] += 1
        if text is not None:  # the runner keeps a few per reason
            self.rejected_texts.append((reason, text))

    def offer(self, text: str) -> None:
        key = dedup_key(text)
        if key in self.seen:
            self.reject("duplicate", text)
        elif self.request.is_known(text):
            self.reject("matches a real row", text)
        else:
            self.seen.add(key)
            self.texts.append(text)

    def batch(self) -> GeneratedBatch:
        return GeneratedBatch(texts=self.texts, raw=self.attempts, rejected={k: v for k, v in self.rejected.items() if v},
                              rejected_texts=list(self.rejected_texts))
