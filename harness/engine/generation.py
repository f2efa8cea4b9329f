"""Running a generator for the runner: chunked, cached, guarded against leakage, and timed.

The texts one (dataset, seed, generator) needs are produced in fixed-size chunks, each with its own
seed, so an interrupted generation resumes at the first missing chunk and ends with exactly the
texts an uninterrupted one would have produced. Lower levels use a prefix of the same texts.

Admission (the runner's, whatever the generator): a text is dropped when it is empty, when it is an
exact duplicate of a validation or test row (:data:`EVAL_DUPLICATE`), or when it is a near-duplicate of
one (:data:`EVAL_NEAR_DUPLICATE`, :class:`sparsebench.protocol.leakage.EvalGuard`; copies of training rows are
exempt). Each drop is counted under its reason; a generator that stops short of the chunk is asked for the
rest (a top-up request, see :func:`_run_chunk`). Generators avoid exact duplicates themselves through
``GenerationRequest.is_known``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sparsebench.contracts.components import REJECTED_KEPT, GenerationRequest, Generator
from sparsebench.contracts.fingerprints import KeySet, dedup_key
from sparsebench.contracts.progress import phase
from sparsebench.protocol.leakage import EVAL_NEAR_DUPLICATE, EvalGuard, eval_guard
from sparsebench.protocol.measure import Stopwatch
from sparsebench.protocol.seeds import derive_seed
from sparsebench.protocol.sparsity import Splits
from sparsebench.storage.atomic import digest
from sparsebench.storage.cache import Chunk, GenerationCache, chunk_key

DEFAULT_CHUNK = 64
EVAL_DUPLICATE = "matches a validation or test row"
#: a generation that accepts no text in this many batches in a row, or this many raw outputs, has stalled
MAX_IDLE_BATCHES = 200
MAX_IDLE_RAW = 5000
#: requests for the rest of a chunk after the runner dropped texts and the generator stopped short
MAX_TOP_UPS = 8


class GenerationShortfall(RuntimeError):
    """The generator stopped before producing the texts a level needs."""


class GenerationStalled(RuntimeError):
    """The generator keeps yielding batches but none of them adds an accepted text."""


class ProgressGuard:
    """Counts batches and raw outputs since the last accepted text; raises when the generation stalled."""

    def __init__(self, name: str, max_batches: int = MAX_IDLE_BATCHES, max_raw: int = MAX_IDLE_RAW) -> None:
        self.name, self.max_batches, self.max_raw = name, max_batches, max_raw
        self.idle_batches = self.idle_raw = 0

    def batch(self, accepted: int, raw: int, rejected: dict[str, int]) -> None:
        """Record one batch (``rejected``: the counts so far); raises :class:`GenerationStalled` when stalled."""
        if accepted:
            self.idle_batches = self.idle_raw = 0
            return
        self.idle_batches += 1
        self.idle_raw += raw
        if self.idle_batches >= self.max_batches or self.idle_raw >= self.max_raw:
            raise GenerationStalled(
                f"{self.name} made no progress: no accepted text in its last {self.idle_batches} batches "
                f"({self.idle_raw} raw outputs; rejected so far: {_top_reasons(rejected)})"
            )


@dataclass
class GenerationResult:
    """The texts for every level of one generator, and what producing them cost."""

    texts: list[str]
    seconds: float = 0.0
    tokens: int | None = None
    raw: int | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    cached_chunks: int = 0
    chunks: int = 0

    def stats(self) -> dict[str, Any]:
        accepted = len(self.texts)
        raw = self.raw if self.raw is not None else accepted + sum(self.rejected.values())
        return {
            "generated": accepted,
            "raw_outputs": raw,
            "acceptance_rate": accepted / raw if raw else None,
            "rejected": dict(self.rejected),
            "generation_s": self.seconds,
            "texts_per_s": accepted / self.seconds if self.seconds > 0 else None,
            "new_tokens": self.tokens,
            "tokens_per_s": self.tokens / self.seconds if self.tokens and self.seconds > 0 else None,
            "s_per_text": self.seconds / accepted if accepted else None,
            "cached_chunks": self.cached_chunks,
            "chunks": self.chunks,
        }


def generate(
    generator: Generator,
    splits: Splits,
    count: int,
    seed: int,
    device: str,
    cache: GenerationCache,
    chunk_size: int = DEFAULT_CHUNK,
    identity: dict[str, Any] | None = None,
) -> GenerationResult:
    """Produce ``count`` accepted texts, reusing cached chunks.

    ``identity`` is the generator's full identity (name, parameters, version and source digest, as in
    :attr:`sparsebench.engine.grid.Resolved.identity`); the cache key includes it, so a changed generator never
    reads texts cached by an older one.
    """
    result = GenerationResult(texts=[])
    seen = _Seen(splits.known_keys)
    base_meta = {
        "generator": generator.name,
        "params": generator.config,
        "identity": identity or {},
        "code": generation_code_digest(),
        "dataset": splits.fingerprint,
        "seed": seed,
        "chunk_size": chunk_size,
    }
    n_chunks = -(-count // chunk_size)
    leaks: EvalGuard | None = None  # built on the first chunk that is not cached
    with phase(f"generating with {generator.name}", total=count) as advance:
        for index in range(n_chunks):
            wanted = min(chunk_size, count - index * chunk_size)
            meta = {**base_meta, "chunk": index, "count": wanted, "before": digest(result.texts)}
            key = chunk_key(meta)
            chunk = cache.get(key)
            if chunk is None:
                leaks = leaks or eval_guard(splits)
                chunk = _run_chunk(generator, splits, wanted, derive_seed(seed, "chunk", index), device, seen, advance, index * chunk_size, leaks)
                if len(chunk.texts) < wanted:
                    raise GenerationShortfall(
                        f"{generator.name} produced {len(chunk.texts)} of {wanted} texts in chunk {index} "
                        f"({sum(chunk.rejected.values())} rejected: {_top_reasons(chunk.rejected)})"
                    )
                cache.put(key, chunk, meta)
            else:
                result.cached_chunks += 1
                advance(len(chunk.texts))
            _absorb(result, chunk, seen)
    result.chunks = n_chunks
    return result


class _Seen:
    """The dedup keys a generation must not repeat: the splits' (held as digests) and those accepted so far."""

    def __init__(self, known: KeySet) -> None:
        self.known = known
        self.added: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self.added or key in self.known

    def update(self, keys: Iterable[str]) -> None:
        self.added.update(keys)


@dataclass
class _ChunkState:
    """What one chunk has gathered so far, over its request and any top-up requests."""

    texts: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    kept: list[tuple[str, str]] = field(default_factory=list)  # a few rejected texts per reason, for `bench samples --rejected`
    tokens: int | None = None
    raw: int | None = None
    keys: set[str] = field(default_factory=set)  # accepted here, and dropped by the runner: known to later requests
    dropped: int = 0  # texts the runner refused


def _run_chunk(
    generator: Generator, splits: Splits, wanted: int, seed: int, device: str, seen: _Seen, advance: Any, offset: int,
    leaks: EvalGuard,
) -> Chunk:
    """The chunk's texts; when the runner dropped some and the generator stopped short, it is asked for the rest.

    A top-up request asks for the missing texts with a derived seed, the offset moved past the texts
    accepted, and the dropped texts known to ``is_known``; at most :data:`MAX_TOP_UPS`, and only while
    the runner dropped texts of the previous request and that request added some. A chunk the runner
    dropped nothing from is exactly the generator's first answer (a short one stays a shortfall).
    """
    state = _ChunkState()
    guard = ProgressGuard(generator.name)
    with Stopwatch() as watch:
        for round_ in range(MAX_TOP_UPS + 1):
            before = len(state.texts)
            request = GenerationRequest(
                n=wanted - before,
                positives=tuple(splits.train_pos),
                seed=seed if round_ == 0 else derive_seed(seed, "top-up", round_),
                device=device,
                reserve=tuple(splits.reserve) if generator.uses_reserve else (),
                is_known=lambda text: (key := dedup_key(text)) in seen or key in state.keys,
                offset=offset + before,
            )
            dropped = state.dropped
            _collect(generator, request, splits, wanted, leaks, state, guard, advance)
            if len(state.texts) >= wanted or len(state.texts) == before or state.dropped == dropped:
                break  # done, stalled, or short on its own: a generator's own shortfall stays its own
    return Chunk(texts=state.texts, seconds=watch.seconds, tokens=state.tokens, raw=state.raw, rejected=dict(state.rejected),
                 rejected_texts=state.kept)


def _collect(generator: Generator, request: GenerationRequest, splits: Splits, wanted: int, leaks: EvalGuard,
             state: _ChunkState, guard: ProgressGuard, advance: Any) -> None:
    for batch in generator.generate(request):
        state.tokens = _add(state.tokens, batch.tokens)
        state.raw = _add(state.raw, batch.raw)
        state.rejected.update(batch.rejected)
        for reason, text in batch.rejected_texts:
            _keep(state.kept, str(reason), str(text))
        before = len(state.texts)
        for text in batch.texts:
            refused = _refused(text, splits, leaks)
            if refused:
                state.rejected[refused] += 1
                state.dropped += 1
                if refused != "empty":
                    _keep(state.kept, refused, text)
                    state.keys.add(dedup_key(text))
            elif len(state.texts) < wanted:
                state.texts.append(text)
                state.keys.add(dedup_key(text))
                advance(1)
        if len(state.texts) >= wanted:
            return
        guard.batch(len(state.texts) - before, int(batch.raw if batch.raw is not None else len(batch.texts)), state.rejected)


def _refused(text: Any, splits: Splits, leaks: EvalGuard) -> str | None:
    """The runner's reason to drop a generated text, or None to admit it."""
    if not isinstance(text, str) or not text.strip():
        return "empty"
    if dedup_key(text) in splits.eval_keys:
        return EVAL_DUPLICATE
    if leaks.near_duplicate(text):
        return EVAL_NEAR_DUPLICATE
    return None


def _keep(kept: list[tuple[str, str]], reason: str, text: str) -> None:
    if sum(1 for r, _ in kept if r == reason) < REJECTED_KEPT:
        kept.append((reason, text))


def generation_code_digest() -> str:
    """A digest of the core code that decides which generated texts are accepted: this module's import closure."""
    from sparsebench.engine.identity import closure_digest

    return closure_digest(__name__)


def _absorb(result: GenerationResult, chunk: Chunk, seen: _Seen) -> None:
    result.texts.extend(chunk.texts)
    result.seconds += chunk.seconds
    result.tokens = _add(result.tokens, chunk.tokens)
    result.raw = _add(result.raw, chunk.raw)
    result.rejected.update(chunk.rejected)
    seen.update(dedup_key(t) for t in chunk.texts)


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return (total or 0) + int(value)


def _top_reasons(rejected: dict[str, int]) -> str:
    if not rejected:
        return "none"
    return ", ".join(f"{reason} {n}" for reason, n in Counter(rejected).most_common(3))
