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
        self.attempts = 0

    def wants_more(self) -> bool:
        return len(self.texts) < self.request.n and self.attempts < self.limit

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def offer(self, text: str) -> None:
        key = dedup_key(text)
        if key in self.seen:
            self.reject("duplicate")
        elif self.request.is_known(text):
            self.reject("matches a real row")
        else:
            self.seen.add(key)
            self.texts.append(text)

    def batch(self) -> GeneratedBatch:
        return GeneratedBatch(texts=self.texts, raw=self.attempts, rejected={k: v for k, v in self.rejected.items() if v})
