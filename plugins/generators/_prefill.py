"""Prefill of prompts that share a token prefix: length buckets, right padding, one merged cache.

Padding every suffix of a batch to the longest one (few-shot prompts are about 100 tokens longer
than zero-shot ones) made the prefill compute two to three times the tokens it needed. Here

* the rows are sorted by suffix length and cut into buckets of similar length and a bounded
  number of tokens, each prefilled by one forward pass over the shared prefix's cache;
* suffixes are padded on the right: a real token never attends to a later one, so every row of a
  bucket sees the same causal mask, and multi-query attention gets one small mask shared by all
  rows (see :func:`._decode.uniform_causal`) instead of a dense per-row one;
* logits are computed only at the positions where some row of the bucket ends;
* the buckets' caches are copied into one cache for decoding, in the rows' original order, as
  ``[prefix, suffix, gap]``; the gap (padding) is masked out in the 2-D attention mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._kvcache import growing_cache

MAX_WASTE = 0.25


@dataclass
class Prefilled:
    logits: Any
    cache: Any
    mask: Any
    positions: Any
    tokens: int
    padded: int


def common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every prompt shares, leaving each at least one token of its own (no prompts: 0)."""
    if not prompts:
        return 0
    first = prompts[0]
    limit = min(len(p) for p in prompts) - 1
    shared = 0
    while shared < limit and all(p[shared] == first[shared] for p in prompts):
        shared += 1
    return shared


def buckets(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Row indices grouped by suffix length: at most ``budget`` padded tokens and ``MAX_WASTE`` padding each."""
    order = sorted(range(len(lengths)), key=lambda row: lengths[row])
    groups: list[list[int]] = []
    total = 0
    for row in order:
        width = lengths[row]
        group = groups[-1] if groups else None
        if group is not None:
            padded = (len(group) + 1) * width
            if padded <= max(budget, width) and (padded - total - width) <= MAX_WASTE * padded:
                group.append(row)
                total += width
                continue
        groups.append([row])
        total = width
    return groups


def layer_tensors(cache: Any) -> list[tuple[Any, Any]]:
    """The (keys, values) of each layer of a transformers cache, across cache layouts."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(layer.keys, layer.values) for layer in layers if getattr(layer, "keys", None) is not None and layer.keys.numel()]
    return list(zip(getattr(cache, "key_cache", []), getattr(cache, "value_cache", []), strict=True))


def cache_of(layers: Sequence[tuple[Any, Any]]) -> Any:
    """A new DynamicCache holding copies of the given per-layer keys and values."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for index, (keys, values) in enumerate(layers):
        cache.update(keys, values, index)
    return cache


Forward = Callable[[Any, Any, Any, Any, Any], Any]


class Prefiller:
    """Runs the bucketed prefill with ``forward(ids, mask, positions, cache, keep) -> logits[rows, kept, vocab]``."""

    def __init__(self, torch: Any, device: str, pad_id: int, budget: int, forward: Forward) -> None:
        self.torch = torch
        self.device = device
        self.pad_id = pad_id
        self.budget = budget
        self.forward = forward

    def run(self, prompts: Sequence[Sequence[int]], shared: int, prefix: Any, room: int = 0) -> Prefilled:
        """Prefill every prompt; with ``room`` the decoding cache appends up to that many tokens in place."""
        torch = self.torch
        suffixes = [list(p[shared:]) for p in prompts]
        lengths = [len(s) for s in suffixes]
        width = shared + max(lengths)
        merged: list[tuple[Any, Any]] = []
        logits: Any = None
        padded = 0
        for rows in buckets(lengths, self.budget):
            part, cache = self._bucket([suffixes[r] for r in rows], shared, prefix)
            padded += len(rows) * max(lengths[r] for r in rows)
            if logits is None:
                logits = torch.empty((len(prompts), part.shape[-1]), dtype=part.dtype, device=self.device)
            index = torch.tensor(rows, device=self.device)
            logits[index] = part
            self._merge(merged, layer_tensors(cache), index, len(prompts), width)
        own = torch.tensor(lengths, device=self.device)
        mask = (torch.arange(width, device=self.device)[None] < (shared + own)[:, None]).long()
        positions = (shared + own - 1)[:, None]
        cache = growing_cache(merged, room) if room else cache_of(merged)
        return Prefilled(logits, cache, mask, positions, sum(lengths), padded)

    def _bucket(self, suffixes: list[list[int]], shared: int, prefix: Any) -> tuple[Any, Any]:
        torch = self.torch
        width = max(len(s) for s in suffixes)
        ids = torch.full((len(suffixes), width), self.pad_id, dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            ids[row, : len(suffix)] = torch.tensor(suffix, dtype=torch.long)
        ids = ids.to(self.device)
        positions = (shared + torch.arange(width, device=self.device))[None].expand(len(suffixes), width)
        mask = torch.ones((len(suffixes), shared + width), dtype=torch.long, device=self.device)
        cache = cache_of([(k.expand(len(suffixes), -1, -1, -1), v.expand(len(suffixes), -1, -1, -1)) for k, v in prefix]) if prefix else cache_of([])
        ends = [len(s) - 1 for s in suffixes]
        keep = sorted(set(ends))
        out = self.forward(ids, mask, positions, cache, torch.tensor(keep, device=self.device))
        slot = {position: i for i, position in enumerate(keep)}
        picks = ends if out.shape[1] == width and len(keep) != width else [slot[e] for e in ends]
        rows = torch.arange(len(suffixes), device=self.device)
        return out[rows, torch.tensor(picks, device=self.device)], cache

    def _merge(self, merged: list[tuple[Any, Any]], layers: list[tuple[Any, Any]], rows: Any, batch: int, width: int) -> None:
        """Copy one bucket's keys and values into the merged per-layer tensors (allocated on first use)."""
        for index, (keys, values) in enumerate(layers):
            if index == len(merged):
                shape = (batch, keys.shape[1], width, keys.shape[-1])
                merged.append((keys.new_zeros(shape), values.new_zeros((*shape[:3], values.shape[-1]))))
            length = keys.shape[-2]
            merged[index][0][rows, :, :length] = keys
            merged[index][1][rows, :, :length] = values
