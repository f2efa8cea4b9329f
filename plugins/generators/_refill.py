"""Continuous decoding for Falcon-7B-style models: a static cache, finished rows refilled, CUDA graphs.

:class:`._decode.Decoder` drops finished rows from its batch, so a batch shrinks as rows stop and the
last rows decode almost alone. :class:`RefillDecoder` keeps ``rows`` slots busy instead:

* one static key/value cache per layer, ``[rows, max_len, head_dim]`` (one key/value head: Falcon-7B's
  multi-query attention), allocated once;
* a decoding step that reads every buffer in place, so on a GPU it is captured as CUDA graphs (one per
  batch size in :func:`graph_sizes`) and replayed: one launch per step instead of a few hundred;
* every ``check_every`` steps the rows that sampled an end-of-sequence token or reached ``max_new``
  tokens are harvested, the live rows are compacted into the first slots (a step computes only those,
  so a finished row costs nothing while it waits and the queue's tail decodes in a small batch), and
  the free slots are refilled from the queue of prompts once at least ``min_refill`` are free;
* a refill prefills each *distinct* prompt once: a generator's prompt plan repeats its prompts (the study
  set's mixed plan cycles through 49 prompts for 39 real positives), so the keys, values and last logits of
  the ``prompt_cache`` most recently used prompts are kept, and a row of a prompt seen before starts
  from a copy of them and its own sample of the first token. A prompt not seen before shares the
  prompts' common prefix (computed once) and prefills only its own suffix, packed: the matrix products
  run over the suffixes' tokens without padding, and only the attention pads them to the longest
  suffix of a chunk (rows sorted by length).

The forward pass is written out for Falcon's layout (fused query/key/value projection with 71 query
heads over one key/value head, rotary positions, parallel attention and MLP, one layer norm) from the
model's own modules, so a model of any other layout is refused (``ValueError``). Sampling is top-k with
temperature through the Gumbel-max trick (greedy at temperature 0); top-p is not offered.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._prefill import common_prefix


@dataclass
class Finished:
    """One prompt's new token ids; ``stopped`` is True when it ended at an end-of-sequence token."""

    token_ids: list[int]
    stopped: bool


@dataclass
class RefillStats:
    """Counters of one or more ``generate`` calls; the seconds are wall time between GPU synchronisations."""

    steps: int = 0
    refills: int = 0
    prefilled_tokens: int = 0
    reused_rows: int = 0  # rows started without a prefill of their own: a repeated or cached prompt
    busy_row_steps: int = 0  # slot-steps of rows still decoding when their step began
    row_steps: int = 0  # slot-steps computed (live rows, or the captured graph's size)
    graph: bool = False
    prefill_s: float = 0.0
    decode_s: float = 0.0
    harvest_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def chunks(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Row indices sorted by length, cut so that each chunk padded to its longest row holds at most ``budget`` tokens."""
    order = sorted(range(len(lengths)), key=lambda row: lengths[row])
    groups: list[list[int]] = []
    for row in order:
        if groups and (len(groups[-1]) + 1) * lengths[row] <= budget:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def graph_sizes(rows: int) -> list[int]:
    """The batch sizes a decoding step is captured at: eighths of ``rows`` and below, multiples of 8."""
    sizes = {rows}
    for fraction in (7 / 8, 3 / 4, 5 / 8, 1 / 2, 3 / 8, 1 / 4, 1 / 8, 1 / 16, 1 / 32):
        size = -(-int(rows * fraction) // 8) * 8
        if 8 <= size < rows:
            sizes.add(size)
    return sorted(sizes)


def check_layout(config: Any) -> None:
    """Refuse models whose attention layout the hand-written forward pass does not follow."""
    ok = (getattr(config, "model_type", "") == "falcon" and config.multi_query and config.parallel_attn and not config.alibi
          and not config.new_decoder_architecture)
    if not ok:
        raise ValueError("RefillDecoder follows Falcon-7B's layout only (multi-query, parallel attention, rotary, no ALiBi)")


class RefillDecoder:
    """Samples completions of many prompts with ``rows`` decoding slots kept full (see the module docstring)."""

    def __init__(self, model: Any, rows: int, max_len: int, eos_ids: Sequence[int], vocab_limit: int, use_graph: bool | None = None,
                 check_every: int = 8, prefill_tokens: int = 32768, min_refill: int | None = None, prompt_cache: int = 256) -> None:
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
        self.min_refill = max(1, rows // 16) if min_refill is None else max(1, min_refill)
        #: the keys, values and last logits of recently started prompts, least recently used first
        self.prompt_cache = prompt_cache
        self.cache: OrderedDict[tuple[int, ...], tuple[Any, Any, Any]] = OrderedDict()
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
        self.graphs: dict[int, Any] = {}
        self.sizes = graph_sizes(rows)
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

    def _step(self, n: int) -> None:
        """One token for each of the first ``n`` slots, all in place (the body of a CUDA graph)."""
        torch = self.torch
        functional = torch.nn.functional
        slots, pos, done = self.slots[:n], self.pos[:n], self.done[:n]
        x = self.tf.word_embeddings(self.token[:n])
        cos, sin = self._rope(pos)
        cos, sin = cos[:, None], sin[:, None]
        mask = (self.key_index[None] <= pos[:, None])[:, None, None]
        for i, layer in enumerate(self.tf.h):
            h = layer.input_layernorm(x)
            q, k, v = self._split(layer, h)
            q = self._rotate(q, cos, sin)
            k = self._rotate(k, cos[:, 0], sin[:, 0])
            keys, values = self.keys[i], self.values[i]
            keys.index_put_((slots, pos), k)
            values.index_put_((slots, pos), v)
            att = functional.scaled_dot_product_attention(q[:, None], keys[:n, None], values[:n, None], attn_mask=mask)
            x = x + layer.self_attention.dense(att.reshape(-1, self.hidden)) + layer.mlp(h)
        token = self._sample(self._logits(x))
        live = ~done
        count, out = self.count[:n], self.out[:n]
        out.index_put_((slots, count.clamp(max=self.max_new)), torch.where(live, token, out[:, 0]))
        count += live.long()
        hit = (token[:, None] == self.eos[None]).any(-1) & live
        self.stopped[:n] |= hit
        done |= hit | (count >= self.max_new)
        pos += live.long()
        self.token[:n].copy_(torch.where(live, token, self.token[:n]))

    def _prefill(self, slots: list[int], suffixes: list[list[int]], shared: int) -> Any:
        """Write each new row's suffix into its slot's cache (after the shared prefix); the logits of its last token.

        The rows' tokens are packed (no padding) for every matrix product; only the attention sees them padded
        on the right to the longest suffix, where a real token never attends to a later one.
        """
        torch = self.torch
        lengths = [len(s) for s in suffixes]
        n, width, dim, heads = len(slots), max(lengths), self.dim, self.heads
        counts = torch.tensor(lengths)
        row_of = torch.repeat_interleave(torch.arange(n), counts).to(self.device)
        col_of = torch.cat([torch.arange(length) for length in lengths]).to(self.device)
        ids = torch.tensor([token for suffix in suffixes for token in suffix], dtype=torch.long).to(self.device)
        index = torch.tensor(slots, device=self.device)
        slot_of = index[row_of]
        positions = shared + col_of
        cos, sin = self._rope(positions)
        query_at = shared + torch.arange(width, device=self.device)
        allowed = self.key_index[None, : shared + width] <= query_at[:, None]  # [width, keys]: causal after the prefix
        mask = allowed.repeat(heads, 1)[None, None]
        x = self.tf.word_embeddings(ids)
        for i, layer in enumerate(self.tf.h):
            h = layer.input_layernorm(x)
            q, k, v = self._split(layer, h)
            q = self._rotate(q, cos[:, None], sin[:, None])
            k = self._rotate(k, cos, sin)
            self.keys[i].index_put_((slot_of, positions), k)
            self.values[i].index_put_((slot_of, positions), v)
            padded = q.new_zeros((n, width, heads, dim))
            padded[row_of, col_of] = q
            folded = padded.transpose(1, 2).reshape(n, 1, heads * width, dim)
            keys = self.keys[i][index, : shared + width][:, None]
            values = self.values[i][index, : shared + width][:, None]
            att = torch.nn.functional.scaled_dot_product_attention(folded, keys, values, attn_mask=mask)
            att = att.reshape(n, heads, width, dim).transpose(1, 2)[row_of, col_of].reshape(-1, self.hidden)
            x = x + layer.self_attention.dense(att) + layer.mlp(h)
        self.stats.prefilled_tokens += int(sum(lengths))
        return self._logits(x[(torch.cumsum(counts, 0) - 1).to(self.device)])

    def _start(self, slots: list[int], logits: Any, ends: list[int]) -> None:
        """Sample each new row's first token from its prompt's last logits; ``ends`` are the prompts' lengths."""
        index = self.torch.tensor(slots, device=self.device)
        token = self._sample(logits)
        self.token[index] = token
        self.pos[index] = self.torch.tensor(ends, device=self.device)
        self.out[index] = 0
        self.out[index, 0] = token
        self.count[index] = 1
        self.stopped[index] = (token[:, None] == self.eos[None]).any(-1)
        self.done[index] = self.stopped[index] | (self.max_new <= 1)

    def _fill(self, slots: list[int], prompts: list[tuple[int, ...]], shared: int, prefix: tuple[Any, Any] | None) -> None:
        """Start ``prompts`` in ``slots``: each distinct prompt is prefilled once (or found in the prompt cache), and
        every row of it gets a copy of its keys and values and its own sample of the first token."""
        torch = self.torch
        rows_of: dict[tuple[int, ...], list[int]] = {}
        for j, prompt in enumerate(prompts):
            rows_of.setdefault(prompt, []).append(j)
        entries = {prompt: self.cache[prompt] for prompt in rows_of if prompt in self.cache}
        placed: dict[tuple[int, ...], int] = {}  # a new prompt's row whose slot already holds its prefill
        missing = [prompt for prompt in rows_of if prompt not in entries]
        for group in chunks([len(p) - shared for p in missing], self.prefill_tokens):
            new = [missing[g] for g in group]
            first = [slots[rows_of[p][0]] for p in new]
            if prefix is not None:
                index = torch.tensor(first, device=self.device)
                self.keys[:, index, :shared] = prefix[0][:, None]
                self.values[:, index, :shared] = prefix[1][:, None]
            logits = self._prefill(first, [list(p[shared:]) for p in new], shared)
            for p, slot, row in zip(new, first, logits, strict=True):
                entries[p] = (self.keys[:, slot, : len(p)], self.values[:, slot, : len(p)], row)  # views, until cached
                placed[p] = rows_of[p][0]
        self.stats.reused_rows += len(prompts) - len(missing)
        order: list[int] = []
        for prompt, rows in rows_of.items():
            keys, values, _ = entries[prompt]
            targets = [slots[j] for j in rows if j != placed.get(prompt)]
            if targets:  # a slot other than the prefilled one: copy
                index = torch.tensor(targets, device=self.device)
                self.keys[:, index, : len(prompt)] = keys[:, None]
                self.values[:, index, : len(prompt)] = values[:, None]
            order += rows
        logits = torch.stack([entries[prompts[j]][2] for j in order])
        # the cache keeps the last ``prompt_cache`` prompts; earlier ones of a larger fill would be dropped at once
        for prompt in list(rows_of)[-self.prompt_cache :] if self.prompt_cache > 0 else []:
            keys, values, last = entries[prompt]
            # clones: a slot is reused, and a row of a chunk's logits would keep the whole chunk's logits alive
            self._remember(prompt, (keys.clone(), values.clone(), last.clone()) if prompt in placed else entries[prompt])
        self._start([slots[j] for j in order], logits, [len(prompts[j]) for j in order])

    def _remember(self, prompt: tuple[int, ...], entry: tuple[Any, Any, Any]) -> None:
        """Keep ``entry`` for ``prompt`` as the most recently used, within ``prompt_cache`` prompts (0: keep none)."""
        if self.prompt_cache <= 0:
            return
        self.cache[prompt] = entry
        self.cache.move_to_end(prompt)
        while len(self.cache) > self.prompt_cache:
            self.cache.popitem(last=False)

    # --- driving ---------------------------------------------------------------------------------

    def _capture(self) -> None:
        """One CUDA graph per size in ``self.sizes``, sharing one memory pool, captured while every slot is free."""
        torch = self.torch
        pool = torch.cuda.graph_pool_handle()
        for size in reversed(self.sizes):
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):
                    self._step(size)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self._step(size)
            self.graphs[size] = graph
        self.stats.graph = True

    def _sync(self) -> float:
        import time

        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)
        return time.perf_counter()

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
            self.graphs = {}
        shared = common_prefix(prompts) if len(prompts) > 1 else 0
        self.done.fill_(True)
        self.pos.zero_()
        if self.use_graph and not self.graphs:
            self._capture()
            self.done.fill_(True)
            self.pos.zero_()
        prefix = None
        if shared and any(tuple(p) not in self.cache for p in prompts):
            self._prefill([0], [list(prompts[0][:shared])], 0)
            prefix = (self.keys[:, 0, :shared].clone(), self.values[:, 0, :shared].clone())
            self.done.fill_(True)
        results: list[Finished | None] = [None] * len(prompts)
        owner = [-1] * self.rows  # the prompt each slot decodes; slots [0, live) are taken, the rest free
        live = queue = 0
        clock = self._sync()
        while True:
            free = self.rows - live
            if queue < len(prompts) and free and (free >= self.min_refill or live == 0):
                take = list(range(live, live + min(free, len(prompts) - queue)))
                self._fill(take, [tuple(prompts[queue + j]) for j in range(len(take))], shared if prefix is not None else 0, prefix)
                for j, slot in enumerate(take):
                    owner[slot] = queue + j
                queue += len(take)
                live += len(take)
                self.stats.refills += 1
                now = self._sync()
                self.stats.prefill_s += now - clock
                clock = now
                live = self._harvest(owner, results, live)  # rows whose first token already ended them
            if live == 0:
                if queue >= len(prompts):
                    break
                continue
            size = next(s for s in self.sizes if s >= live) if self.graphs else live
            for _ in range(self.check_every):
                if self.graphs:
                    self.graphs[size].replay()
                else:
                    self._step(size)
            self.stats.steps += self.check_every
            self.stats.row_steps += self.check_every * size
            self.stats.busy_row_steps += self.check_every * live
            now = self._sync()
            self.stats.decode_s += now - clock
            live = self._harvest(owner, results, live)
            clock = self._sync()
            self.stats.harvest_s += clock - now
        return [r if r is not None else Finished([], False) for r in results]

    def _harvest(self, owner: list[int], results: list[Finished | None], live: int) -> int:
        """Collect the finished rows' tokens, move the rows still decoding into the first slots; the new ``live``."""
        torch = self.torch
        done = self.done[:live].cpu().tolist()
        finished = [slot for slot in range(live) if done[slot]]
        if not finished:
            return live
        index = torch.tensor(finished, device=self.device)
        tokens = self.out[index].cpu().tolist()
        counts = self.count[index].cpu().tolist()
        stopped = self.stopped[index].cpu().tolist()
        for slot, row, n, stop in zip(finished, tokens, counts, stopped, strict=True):
            results[owner[slot]] = Finished(row[:n], bool(stop))
            owner[slot] = -1
        kept = live - len(finished)
        holes = [slot for slot in finished if slot < kept]
        movers = [slot for slot in range(kept, live) if not done[slot]]
        if movers:
            src, dst = torch.tensor(movers, device=self.device), torch.tensor(holes, device=self.device)
            for buffer in (self.keys, self.values):
                buffer[:, dst] = buffer[:, src]
            for buffer in (self.token, self.pos, self.count, self.done, self.stopped, self.out):
                buffer[dst] = buffer[src]
            self.done[src] = True  # a free slot inside a captured graph's batch decodes nothing
            for a, b in zip(holes, movers, strict=True):
                owner[a], owner[b] = owner[b], -1
        return kept
