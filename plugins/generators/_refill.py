"""Continuous decoding for Falcon-7B-style models: a static cache, finished rows refilled, CUDA graphs.

:class:`._decode.Decoder` drops finished rows from its batch, so a batch shrinks as rows stop and the
last rows decode almost alone. :class:`RefillDecoder` keeps ``rows`` slots busy instead:

* one static key/value cache per layer, ``[rows, max_len, head_dim]`` (one key/value head: Falcon-7B's
  multi-query attention), allocated once;
* a decoding step that reads every buffer in place, so on a GPU it is captured once as a CUDA graph and
  replayed (one launch per step instead of a few hundred kernel launches);
* every ``check_every`` steps the rows that sampled an end-of-sequence token or reached ``max_new``
  tokens are harvested and their slots refilled from the queue of prompts: the prompts' shared prefix
  is computed once and copied, and only each new row's own suffix is prefilled (length-bucketed,
  right-padded, as in :mod:`._prefill`).

The forward pass is written out for Falcon's layout (fused query/key/value projection with 71 query
heads over one key/value head, rotary positions, parallel attention and MLP, one layer norm) from the
model's own modules, so a model of any other layout is refused (``ValueError``). Sampling is top-k with
temperature through the Gumbel-max trick (greedy at temperature 0); top-p is not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._prefill import buckets


@dataclass
class Finished:
    """One prompt's new token ids; ``stopped`` is True when it ended at an end-of-sequence token."""

    token_ids: list[int]
    stopped: bool


@dataclass
class RefillStats:
    steps: int = 0
    refills: int = 0
    prefilled_tokens: int = 0
    busy_row_steps: int = 0
    row_steps: int = 0
    graph: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def check_layout(config: Any) -> None:
    """Refuse models whose attention layout the hand-written forward pass does not follow."""
    ok = (getattr(config, "model_type", "") == "falcon" and config.multi_query and config.parallel_attn and not config.alibi
          and not config.new_decoder_architecture)
    if not ok:
        raise ValueError("RefillDecoder follows Falcon-7B's layout only (multi-query, parallel attention, rotary, no ALiBi)")


class RefillDecoder:
    """Samples completions of many prompts with ``rows`` decoding slots kept full (see the module docstring)."""

    def __init__(self, model: Any, rows: int, max_len: int, eos_ids: Sequence[int], vocab_limit: int, use_graph: bool | None = None,
                 check_every: int = 8, prefill_tokens: int = 16384) -> None:
        import torch

        check_layout(model.config)
        self.torch = torch
        self.model = model
        self.tf = model.transformer
        weight = self.tf.word_embeddings.weight
        self.device, self.dtype = weight.device, weight.dtype
        config = model.config
        self.heads = config.num_attention_heads
        self.dim = config.hidden_size // self.heads
        self.hidden = config.hidden_size
        self.rows, self.max_len = rows, max_len
        self.check_every, self.prefill_tokens = check_every, prefill_tokens
        self.vocab_limit = vocab_limit
        layers = config.num_hidden_layers
        zeros = torch.zeros
        self.keys = zeros((layers, rows, max_len, self.dim), dtype=self.dtype, device=self.device)
        self.values = zeros((layers, rows, max_len, self.dim), dtype=self.dtype, device=self.device)
        self.eos = torch.tensor(sorted(set(eos_ids)) or [-1], device=self.device)
        self.inv_freq = self.tf.rotary_emb.inv_freq.float().to(self.device)
        self.slots = torch.arange(rows, device=self.device)
        self.key_index = torch.arange(max_len, device=self.device)
        self.token = zeros(rows, dtype=torch.long, device=self.device)
        self.pos = zeros(rows, dtype=torch.long, device=self.device)
        self.count = zeros(rows, dtype=torch.long, device=self.device)
        self.done = torch.ones(rows, dtype=torch.bool, device=self.device)
        self.stopped = zeros(rows, dtype=torch.bool, device=self.device)
        self.scale = torch.ones((), device=self.device)  # 1 / temperature
        self.greedy = True
        self.top_k = 50
        self.max_new = 1
        self.out: Any = None
        self.use_graph = (self.device.type == "cuda") if use_graph is None else use_graph
        self.graph: Any = None
        self.stats = RefillStats()

    # --- the model, written out ------------------------------------------------------------------

    def _rope(self, positions: Any) -> tuple[Any, Any]:
        torch = self.torch
        freqs = positions.float()[..., None] * self.inv_freq
        angles = torch.cat([freqs, freqs], dim=-1)
        return angles.cos().to(self.dtype), angles.sin().to(self.dtype)

    @staticmethod
    def _rotate(x: Any, cos: Any, sin: Any) -> Any:
        half = x.shape[-1] // 2
        turned = x.new_empty(x.shape)
        turned[..., :half] = -x[..., half:]
        turned[..., half:] = x[..., :half]
        return x * cos + turned * sin

    def _split(self, layer: Any, h: Any) -> tuple[Any, Any, Any]:
        qkv = layer.self_attention.query_key_value(h).unflatten(-1, (self.heads + 2, self.dim))
        return qkv[..., : self.heads, :], qkv[..., self.heads, :], qkv[..., self.heads + 1, :]

    def _logits(self, x: Any) -> Any:
        logits = self.model.lm_head(self.tf.ln_f(x)).float()
        if logits.shape[-1] > self.vocab_limit:
            logits[..., self.vocab_limit :] = float("-inf")
        return logits

    def _sample(self, logits: Any) -> Any:
        torch = self.torch
        if self.greedy:
            return logits.argmax(-1)
        values, index = logits.topk(self.top_k, dim=-1)
        noise = -torch.log(-torch.log(torch.rand_like(values).clamp_(1e-20, 1.0)))
        return index.gather(-1, (values * self.scale + noise).argmax(-1, keepdim=True)).squeeze(-1)

    def _step(self) -> None:
        """One token for every slot, all in place (the body of the CUDA graph)."""
        torch = self.torch
        functional = torch.nn.functional
        x = self.tf.word_embeddings(self.token)
        cos, sin = self._rope(self.pos)
        cos, sin = cos[:, None], sin[:, None]
        mask = (self.key_index[None] <= self.pos[:, None])[:, None, None]
        for i, layer in enumerate(self.tf.h):
            h = layer.input_layernorm(x)
            q, k, v = self._split(layer, h)
            q = self._rotate(q, cos, sin)
            k = self._rotate(k, cos[:, 0], sin[:, 0])
            self.keys[i].index_put_((self.slots, self.pos), k)
            self.values[i].index_put_((self.slots, self.pos), v)
            att = functional.scaled_dot_product_attention(q[:, None], self.keys[i][:, None], self.values[i][:, None], attn_mask=mask)
            x = x + layer.self_attention.dense(att.reshape(-1, self.hidden)) + layer.mlp(h)
        token = self._sample(self._logits(x))
        live = ~self.done
        self.out.index_put_((self.slots, self.count.clamp(max=self.max_new)), torch.where(live, token, self.out[:, 0]))
        self.count += live.long()
        hit = (token[:, None] == self.eos[None]).any(-1) & live
        self.stopped |= hit
        self.done |= hit | (self.count >= self.max_new)
        self.pos += live.long()
        self.token.copy_(torch.where(live, token, self.token))

    def _prefill(self, slots: list[int], suffixes: list[list[int]], shared: int) -> None:
        """Write each new row's suffix into its slot's cache (after the shared prefix) and sample its first token."""
        torch = self.torch
        width = max(len(s) for s in suffixes)
        ids = torch.zeros((len(suffixes), width), dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            ids[row, : len(suffix)] = torch.tensor(suffix, dtype=torch.long)
        ids = ids.to(self.device)
        index = torch.tensor(slots, device=self.device)
        lengths = torch.tensor([len(s) for s in suffixes], device=self.device)
        positions = shared + torch.arange(width, device=self.device)
        cos, sin = self._rope(positions)
        keys_at = positions[None].expand(len(slots), width)
        allowed = self.key_index[None, : shared + width] <= positions[:, None]  # [width, keys]: causal after the prefix
        mask = allowed.repeat(self.heads, 1)[None, None]
        x = self.tf.word_embeddings(ids)
        for i, layer in enumerate(self.tf.h):
            h = layer.input_layernorm(x)
            q, k, v = self._split(layer, h)
            q = self._rotate(q, cos[:, None], sin[:, None])
            k = self._rotate(k, cos, sin)
            self.keys[i].index_put_((index[:, None], keys_at), k)
            self.values[i].index_put_((index[:, None], keys_at), v)
            folded = q.transpose(1, 2).reshape(len(slots), 1, self.heads * width, self.dim)
            keys = self.keys[i][index, : shared + width][:, None]
            values = self.values[i][index, : shared + width][:, None]
            att = torch.nn.functional.scaled_dot_product_attention(folded, keys, values, attn_mask=mask)
            att = att.reshape(len(slots), self.heads, width, self.dim).transpose(1, 2).reshape(len(slots), width, self.hidden)
            x = x + layer.self_attention.dense(att) + layer.mlp(h)
        last = x[torch.arange(len(slots), device=self.device), lengths - 1]
        token = self._sample(self._logits(last))
        self.token[index] = token
        self.pos[index] = shared + lengths
        self.out[index] = 0
        self.out[index, 0] = token
        self.count[index] = 1
        self.stopped[index] = (token[:, None] == self.eos[None]).any(-1)
        self.done[index] = self.stopped[index] | (self.max_new <= 1)
        self.stats.prefilled_tokens += int(sum(len(s) for s in suffixes))

    # --- driving ---------------------------------------------------------------------------------

    def _capture(self) -> None:
        torch = self.torch
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._step()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()
        self.stats.graph = True

    def _shared_prefix(self, prompts: Sequence[Sequence[int]]) -> int:
        first = prompts[0]
        limit = min(len(p) for p in prompts) - 1
        shared = 0
        while shared < limit and all(p[shared] == first[shared] for p in prompts):
            shared += 1
        return shared

    def generate(self, prompts: Sequence[Sequence[int]], max_new: int, temperature: float = 1.0, top_k: int = 50) -> list[Finished]:
        """One completion per prompt, in the prompts' order."""
        torch = self.torch
        if not prompts:
            return []
        if max(len(p) for p in prompts) + max_new > self.max_len:
            raise ValueError(f"max_len {self.max_len} is too short for prompts of {max(len(p) for p in prompts)} tokens + {max_new} new")
        with torch.inference_mode():
            return self._generate(prompts, max_new, temperature, top_k)

    def _generate(self, prompts: Sequence[Sequence[int]], max_new: int, temperature: float, top_k: int) -> list[Finished]:
        torch = self.torch
        fresh = self.out is None or self.max_new != max_new or self.greedy != (temperature <= 0) or self.top_k != top_k
        self.max_new, self.greedy, self.top_k = max_new, temperature <= 0, top_k
        self.scale.fill_(1.0 / temperature if temperature > 0 else 1.0)
        if fresh:
            self.out = torch.zeros((self.rows, max_new + 1), dtype=torch.long, device=self.device)
            self.graph = None
        shared = self._shared_prefix(prompts) if len(prompts) > 1 else 0
        if shared:
            self.done.fill_(True)
            self._prefill([0], [list(prompts[0][:shared])], 0)
            prefix_keys, prefix_values = self.keys[:, 0, :shared].clone(), self.values[:, 0, :shared].clone()
        self.done.fill_(True)
        self.pos.zero_()
        if self.use_graph and self.graph is None:
            self._capture()
            self.done.fill_(True)
            self.pos.zero_()
        results: list[Finished | None] = [None] * len(prompts)
        owner = [-1] * self.rows
        queue = 0
        while True:
            free = [slot for slot in range(self.rows) if owner[slot] < 0]
            if queue < len(prompts) and free:
                take = free[: len(prompts) - queue]
                if shared:
                    index = torch.tensor(take, device=self.device)
                    self.keys[:, index, :shared] = prefix_keys[:, None]
                    self.values[:, index, :shared] = prefix_values[:, None]
                suffixes = [list(prompts[queue + j][shared:]) for j in range(len(take))]
                for group in buckets([len(s) for s in suffixes], self.prefill_tokens):
                    self._prefill([take[j] for j in group], [suffixes[j] for j in group], shared)
                for j, slot in enumerate(take):
                    owner[slot] = queue + j
                queue += len(take)
                self.stats.refills += 1
            if all(o < 0 for o in owner):
                break
            self._harvest(owner, results)  # rows whose first token already ended them
            if all(o < 0 for o in owner) and queue >= len(prompts):
                break
            for _ in range(self.check_every):
                if self.graph is not None:
                    self.graph.replay()
                else:
                    self._step()
            self.stats.steps += self.check_every
            self.stats.row_steps += self.check_every * self.rows
            self.stats.busy_row_steps += self.check_every * sum(o >= 0 for o in owner)
            self._harvest(owner, results)
        return [r if r is not None else Finished([], False) for r in results]

    def _harvest(self, owner: list[int], results: list[Finished | None]) -> None:
        """Collect the finished rows' tokens and free their slots."""
        torch = self.torch
        done = self.done.cpu().tolist()
        slots = [slot for slot in range(self.rows) if done[slot] and owner[slot] >= 0]
        if not slots:
            return
        index = torch.tensor(slots, device=self.device)
        tokens = self.out[index].cpu().tolist()
        counts = self.count[index].cpu().tolist()
        stopped = self.stopped[index].cpu().tolist()
        for slot, row, n, stop in zip(slots, tokens, counts, stopped, strict=True):
            results[owner[slot]] = Finished(row[:n], bool(stop))
            owner[slot] = -1
