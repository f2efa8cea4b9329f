"""Batched sampling from a causal language model, built for many prompts that share a long prefix.

Compared with a plain batched ``generate`` call, :class:`Decoder`

* computes the key/value cache of the prompts' common token prefix (definition and policy) once and
  copies it into every row, so only each row's own suffix is prefilled;
* left-pads only the suffixes, passing explicit positions so padding never shifts a row;
* computes logits for the last position only during prefill;
* stops a row as soon as it sampled an end-of-sequence token or completed the lines it was asked
  for (a per-token newline table makes that check cheap), and drops finished rows from the batch;
* runs multi-query attention (one key/value head shared by all query heads, as in Falcon-7B) as a
  single-head attention over all query heads at once, instead of copying the keys and values once
  per head (see :func:`shared_kv_attention`);
* masks token ids the tokenizer cannot decode (models whose embedding table is padded);
* samples with temperature, top-k and top-p from its own seeded ``torch.Generator``, so results are
  reproducible for a seed on a CPU.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ._prefill import Prefiller, common_prefix, layer_tensors

MIN_SHARED = 8
KEPT_PREFIXES = 4
PREFILL_TOKENS = {"cpu": 2048, "cuda": 16384}
_UNIFORM: ContextVar[bool] = ContextVar("uniform_causal", default=False)


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.9
    top_k: int = 50
    top_p: float = 0.95


@dataclass
class Completion:
    """One row's new text; ``finished`` is False when it stopped at the token limit."""

    text: str
    finished: bool
    new_tokens: int
    token_ids: tuple[int, ...] = ()


def completed_lines(text: str) -> list[int]:
    """End offsets of the lines of ``text`` that are complete (followed by a newline), not blank and not headers."""
    ends: list[int] = []
    start = 0
    while (stop := text.find("\n", start)) != -1:
        line = text[start:stop].strip()
        if line and not line.endswith(":"):
            ends.append(stop)
        start = stop + 1
    return ends


class Decoder:
    """Samples completions for token-id prompts with one model and tokenizer."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: str,
        share_prefix: bool = True,
        check_every: int | None = None,
        cudnn_attention: bool = False,
        prefill_tokens: int | None = None,
        grow_in_place: bool | None = None,
    ) -> None:
        import torch

        self.torch = torch
        self.cudnn_attention = cudnn_attention
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.share_prefix = share_prefix
        self.check_every = check_every or (1 if device == "cpu" else 4)
        self.pad_id = _pad_id(tokenizer, model)
        self.eos = torch.tensor(sorted(_eos_ids(tokenizer, model)), device=device, dtype=torch.long)
        self.vocab_limit = len(tokenizer)
        params = inspect.signature(model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"
        self.keep_kw = "logits_to_keep" if "logits_to_keep" in params else None
        self._newlines: Any = None
        self._prefixes: OrderedDict[tuple[int, ...], list[tuple[Any, Any]]] = OrderedDict()
        self.prefill_tokens = prefill_tokens or PREFILL_TOKENS["cpu" if device == "cpu" else "cuda"]
        self.stats = {"prefix_tokens": 0, "prefilled_tokens": 0, "padded_tokens": 0}
        #: on a CPU the decoding cache appends in place (``_kvcache``); on a GPU transformers' own cache,
        #: the one the H200 figures in docs/generators.md were measured with
        self.grow_in_place = grow_in_place if grow_in_place is not None else device == "cpu"

    # --- public ------------------------------------------------------------------------------

    def complete(
        self, prompts: Sequence[Sequence[int]], max_new_tokens: int, sampling: Sampling, stop_after: int | None, generator: Any
    ) -> list[Completion]:
        """Sample one completion per prompt, stopping a row after ``stop_after`` completed lines (None: at EOS only)."""
        with self.torch.inference_mode():
            shared = self._shared_length(prompts)
            logits, cache, mask, positions = self._prefill(prompts, shared, max_new_tokens if self.grow_in_place else 0)
            tokens, lengths, finished = self._decode(logits, cache, mask, positions, max_new_tokens, sampling, stop_after, generator)
        return self._completions(tokens, lengths, finished, stop_after)

    # --- prefill -----------------------------------------------------------------------------

    def _shared_length(self, prompts: Sequence[Sequence[int]]) -> int:
        if not self.share_prefix:
            return 0
        shared = common_prefix(prompts)
        return shared if shared >= MIN_SHARED else 0

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any, keep: Any = 1) -> Any:
        """Float logits ``[rows, vocab]`` of the last position (``keep=1``) or ``[rows, kept, vocab]`` for a tensor of positions."""
        kwargs = {self.cache_kw: cache, "attention_mask": mask, "position_ids": positions, "use_cache": True}
        if self.keep_kw and keep is not None:
            kwargs[self.keep_kw] = keep
        with shared_kv_attention(self.cudnn_attention, grouped=self.grow_in_place):
            logits = self.model(input_ids=ids, **kwargs).logits
        logits = logits[:, -1, :].float() if isinstance(keep, int) else logits.float()
        if logits.shape[-1] > self.vocab_limit:
            logits[..., self.vocab_limit :] = float("-inf")
        return logits

    def _bucket_forward(self, ids: Any, mask: Any, positions: Any, cache: Any, keep: Any) -> Any:
        with uniform_causal():
            return self._forward(ids, mask, positions, cache, keep if self.keep_kw else None)

    def _prefix_cache(self, prefix: tuple[int, ...]) -> list[tuple[Any, Any]]:
        """Per-layer keys and values of the shared prefix at batch size 1; the last few are kept for later calls."""
        if prefix in self._prefixes:
            self._prefixes.move_to_end(prefix)
            return self._prefixes[prefix]
        torch = self.torch
        ids = torch.tensor([prefix], device=self.device)
        cache = _new_cache()
        positions = torch.arange(len(prefix), device=self.device)[None]
        self._forward(ids, torch.ones_like(ids), positions, cache)
        self._prefixes[prefix] = layer_tensors(cache)
        while len(self._prefixes) > KEPT_PREFIXES:
            self._prefixes.popitem(last=False)
        self.stats["prefix_tokens"] += len(prefix)
        return self._prefixes[prefix]

    def _prefill(self, prompts: Sequence[Sequence[int]], shared: int, room: int = 0) -> tuple[Any, Any, Any, Any]:
        prefix = self._prefix_cache(tuple(prompts[0][:shared])) if shared else []
        prefiller = Prefiller(self.torch, self.device, self.pad_id, self.prefill_tokens, self._bucket_forward)
        done = prefiller.run(prompts, shared, prefix, room)
        self.stats["prefilled_tokens"] += done.tokens
        self.stats["padded_tokens"] += done.padded
        return done.logits, done.cache, done.mask, done.positions

    # --- decoding ----------------------------------------------------------------------------

    def _decode(
        self, logits: Any, cache: Any, mask: Any, position: Any, max_new: int, sampling: Sampling, stop_after: int | None, generator: Any
    ) -> tuple[Any, Any, Any]:
        torch = self.torch
        batch = logits.shape[0]
        state = _State(torch, batch, max_new, self.pad_id, self.device)
        newline = self._newline_table() if stop_after else None
        for step in range(max_new):
            token = sample(logits, sampling, generator)
            state.record(token, self.eos, newline)
            if step == max_new - 1:
                break
            if (step + 1) % self.check_every == 0:
                if stop_after:
                    self._stop_complete_rows(state, stop_after)
                if not bool(state.alive.any()):
                    break
                keep = state.compact()
                if keep is not None:
                    cache.batch_select_indices(keep)
                    mask, position, token = mask[keep], position[keep], token[keep]
            mask = torch.cat([mask, torch.ones((mask.shape[0], 1), dtype=mask.dtype, device=self.device)], dim=1)
            position = position + 1
            logits = self._forward(token[:, None], mask, position, cache)
        return state.tokens[:, :max_new].cpu(), state.lengths.cpu(), state.finished.cpu()

    def _stop_complete_rows(self, state: _State, stop_after: int) -> None:
        """Finish the live rows whose text already holds ``stop_after`` completed lines."""
        torch = self.torch
        ready = (state.newlines[state.rows] >= stop_after) & state.alive
        for index in torch.nonzero(ready).flatten().tolist():
            row = int(state.rows[index])
            text = self.tokenizer.decode(state.tokens[row, : int(state.lengths[row])].tolist(), skip_special_tokens=True)
            if len(completed_lines(text)) >= stop_after:
                state.alive[index] = False
                state.finished[row] = True

    def _newline_table(self) -> Any:
        """A boolean per token id: does its text contain a line break?"""
        if self._newlines is None:
            torch = self.torch
            size = _vocab_rows(self.model)
            table = torch.zeros(max(size, self.vocab_limit), dtype=torch.bool)
            pieces = self.tokenizer.batch_decode([[i] for i in range(self.vocab_limit)])
            for i, piece in enumerate(pieces):
                table[i] = "\n" in piece
            self._newlines = table.to(self.device)
        return self._newlines

    def _completions(self, tokens: Any, lengths: Any, finished: Any, stop_after: int | None) -> list[Completion]:
        out = []
        for row in range(tokens.shape[0]):
            n = int(lengths[row])
            ids = tuple(tokens[row, :n].tolist())
            text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
            ends = completed_lines(text)
            if stop_after and bool(finished[row]) and len(ends) >= stop_after:
                text = text[: ends[stop_after - 1] + 1]
            out.append(Completion(text, bool(finished[row]), n, ids))
        return out


class _State:
    """Per-row bookkeeping of a decoding run; ``rows`` maps batch positions to original rows."""

    def __init__(self, torch: Any, batch: int, max_new: int, pad_id: int, device: str) -> None:
        self.torch = torch
        self.max_new = max_new
        self.tokens = torch.full((batch, max_new + 1), pad_id, dtype=torch.long, device=device)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)
        self.newlines = torch.zeros(batch, dtype=torch.long, device=device)
        self.finished = torch.zeros(batch, dtype=torch.bool, device=device)
        self.rows = torch.arange(batch, device=device)
        self.alive = torch.ones(batch, dtype=torch.bool, device=device)

    def record(self, token: Any, eos: Any, newline: Any | None) -> None:
        torch = self.torch
        column = torch.where(self.alive, self.lengths[self.rows], self.max_new)
        self.tokens[self.rows, column] = token
        self.lengths[self.rows] += self.alive.long()
        if newline is not None:
            self.newlines[self.rows] += (newline[token] & self.alive).long()
        hit = torch.isin(token, eos) & self.alive
        self.finished[self.rows] |= hit
        self.alive &= ~hit

    def compact(self) -> Any:
        """Drop finished rows once they are a quarter of the batch; returns the kept indices or None."""
        dead = int((~self.alive).sum())
        if dead == 0 or dead * 4 < self.alive.numel():
            return None
        keep = self.torch.nonzero(self.alive).flatten()
        self.rows, self.alive = self.rows[keep], self.alive[keep]
        return keep


def sample(logits: Any, sampling: Sampling, generator: Any) -> Any:
    """One token per row: greedy at temperature 0, else temperature + top-k + top-p sampling."""
    import torch

    if sampling.temperature <= 0:
        return logits.argmax(-1)
    scaled = logits / sampling.temperature
    if 0 < sampling.top_k < scaled.shape[-1]:
        values, index = scaled.topk(sampling.top_k, dim=-1)
    else:
        values, index = scaled.sort(dim=-1, descending=True)
    probs = values.softmax(-1)
    if sampling.top_p < 1:
        probs = probs * ((probs.cumsum(-1) - probs) < sampling.top_p)
    pick = torch.multinomial(probs, 1, generator=generator)
    return index.gather(-1, pick).squeeze(-1)


@contextmanager
def shared_kv_attention(cudnn: bool = False, grouped: bool = False) -> Iterator[None]:
    """Compute attention with shared key/value heads without copying them per query head.

    Models such as Falcon-7B call ``scaled_dot_product_attention`` with queries of shape
    ``(batch, heads, q, d)`` and keys and values of shape ``(batch, 1, kv, d)``. PyTorch's fused kernels
    reject such mismatched heads, and its fallback copies keys and values for every head. Folding the
    heads into the query length, ``(batch, 1, heads * q, d)``, gives the same result from one fused
    kernel. Other calls pass through unchanged.

    With ``grouped`` (used on a CPU), grouped-query models (Llama, SmolLM2: 9 query heads over 3
    key/value heads) are folded the same way, ``(batch, kv_heads, groups * q, d)``: transformers is told
    to hand over the unrepeated keys (``TRANSFORMERS_SDPA_FORCE_GQA``) instead of copying them once per
    query head (``repeat_kv``). Recent transformers packs the heads itself for a one-token decoding step;
    this covers the prefill buckets too, and older versions.

    Unless ``cudnn`` is set, PyTorch's cuDNN attention backend is left out: it builds a plan for every
    new shape, and while decoding the key length grows by one at every step.
    """
    import os

    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    original = F.scaled_dot_product_attention

    def folded(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0, is_causal: bool = False, **kw: Any) -> Any:
        scale = kw.pop("scale", None)
        gqa = bool(kw.pop("enable_gqa", False))
        batch, heads, length, dim = query.shape if query.dim() == 4 else (0, 0, 0, 0)
        shared = key.shape[1] if key.dim() == 4 else 0
        uniform = _UNIFORM.get() and length > 1
        foldable = shared >= 1 and heads > shared and heads % shared == 0 and (shared == 1 or gqa)
        if not foldable or kw or not (uniform or (attn_mask is not None and not is_causal and _per_row(attn_mask))):
            if gqa:
                kw["enable_gqa"] = True
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale, **kw)
        groups = heads // shared
        if uniform:
            mask = _folded_causal(groups, length, key.shape[2], query.dtype, query.device)
        else:
            rows = attn_mask.shape[0]
            mask = attn_mask[:, :, None].expand(rows, 1, groups, length, attn_mask.shape[-1]).reshape(rows, 1, groups * length, attn_mask.shape[-1])
        out = original(query.reshape(batch, shared, groups * length, dim), key, value, attn_mask=mask, dropout_p=dropout_p, scale=scale)
        return out.reshape(batch, heads, length, dim)

    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    if cudnn:
        backends.insert(0, SDPBackend.CUDNN_ATTENTION)
    before = os.environ.get(_FORCE_GQA)
    if grouped:
        os.environ[_FORCE_GQA] = "1"
    F.scaled_dot_product_attention = folded  # type: ignore[assignment]
    try:
        with sdpa_kernel(backends):
            yield
    finally:
        F.scaled_dot_product_attention = original
        if grouped:
            if before is None:
                os.environ.pop(_FORCE_GQA, None)
            else:
                os.environ[_FORCE_GQA] = before


_FORCE_GQA = "TRANSFORMERS_SDPA_FORCE_GQA"


def _per_row(mask: Any) -> bool:
    """A 4-D mask shared by all heads (``[rows, 1, q, keys]``): the only layout that folds."""
    return mask.dim() == 4 and mask.shape[1] == 1


@contextmanager
def uniform_causal() -> Iterator[None]:
    """Declare that every row of the next forward passes sees the same causal mask (right-padded rows).

    The query block is the last ``q`` positions of the key sequence (a cached prefix before it), and a
    query attends to every key up to its own position. Multi-query attention then uses one mask of
    ``heads * q`` rows shared by the whole batch instead of expanding transformers' per-row mask.
    """
    token = _UNIFORM.set(True)
    try:
        yield
    finally:
        _UNIFORM.reset(token)


@functools.lru_cache(maxsize=32)
def _folded_causal(heads: int, length: int, keys: int, dtype: Any, device: Any) -> Any:
    """Additive mask ``[1, 1, heads * length, keys]``: query ``t`` of each head sees keys up to ``keys - length + t``."""
    import torch

    allowed = torch.arange(keys, device=device)[None] <= (keys - length + torch.arange(length, device=device))[:, None]
    bias = torch.zeros((length, keys), dtype=dtype, device=device).masked_fill(~allowed, float("-inf"))
    return bias.repeat(heads, 1)[None, None]


def _vocab_rows(model: Any) -> int:
    """Rows of the output embedding (a quantized layer keeps its weight behind a method)."""
    weight = model.get_output_embeddings().weight
    return int((weight() if callable(weight) else weight).shape[0])


def _new_cache() -> Any:
    from transformers import DynamicCache

    return DynamicCache()


def _pad_id(tokenizer: Any, model: Any) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, getattr(model.config, "pad_token_id", None)):
        if isinstance(candidate, int):
            return candidate
    return 0


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    for token in ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>"):
        found = tokenizer.convert_tokens_to_ids(token) if token in tokenizer.get_vocab() else None
        if isinstance(found, int):
            ids.add(found)
    return ids or {-1}
