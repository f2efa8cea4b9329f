"""The texts a generator wrote, read back from the generation cache of a results directory.

A *generation* is the sequence of cached chunks of one generator (name and parameters) for one
dataset fingerprint and seed; chunk ``i`` holds texts ``i * chunk_size`` onwards. Only reads: a chunk
that fails its digest is skipped here (the runner removes and regenerates it on its next run).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsebench.contracts.errors import UsageError
from sparsebench.storage.atomic import canonical_json, read_json_verified


@dataclass
class Generation:
    generator: str
    params: dict[str, Any]
    dataset: str
    seed: int
    texts: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_texts: list[tuple[str, str]] = field(default_factory=list)
    raw: int | None = None
    seconds: float = 0.0
    chunks: int = 0
    label: str = ""

    def sample(self, size: int, seed: int = 0) -> list[str]:
        """A seeded sample of the accepted texts, in their generated order."""
        if size >= len(self.texts):
            return list(self.texts)
        picked = sorted(random.Random(seed).sample(range(len(self.texts)), size))
        return [self.texts[i] for i in picked]


def read_generations(cache_root: Path) -> list[Generation]:
    """Every generation in the cache, its chunks joined in order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(cache_root.glob("*/*.json")) if cache_root.is_dir() else []:
        payload = read_json_verified(path)
        meta = (payload or {}).get("meta")
        if not isinstance(meta, dict) or "generator" not in meta:
            continue
        key = canonical_json({k: meta.get(k) for k in ("generator", "params", "dataset", "seed", "chunk_size")})
        groups.setdefault(key, []).append(payload)
    return [_join(chunks) for chunks in groups.values()]


def _join(chunks: list[dict[str, Any]]) -> Generation:
    chunks.sort(key=lambda p: int(p["meta"].get("chunk", 0)))
    meta = chunks[0]["meta"]
    generation = Generation(str(meta["generator"]), dict(meta.get("params") or {}), str(meta.get("dataset")), int(meta.get("seed", 0)))
    for index, chunk in enumerate(chunks):
        if int(chunk["meta"].get("chunk", -1)) != index:
            break  # a gap: later chunks belong to a sequence that was not finished
        generation.texts += [str(t) for t in chunk.get("texts", [])]
        generation.rejected.update({str(k): int(v) for k, v in (chunk.get("rejected") or {}).items()})
        generation.rejected_texts += [(str(r), str(t)) for r, t in chunk.get("rejected_texts") or []]
        generation.raw = None if chunk.get("raw") is None else (generation.raw or 0) + int(chunk["raw"])
        generation.seconds += float(chunk.get("seconds") or 0.0)
        generation.chunks += 1
    return generation


def label_generations(generations: list[Generation], rows: list[dict[str, Any]]) -> list[Generation]:
    """Give each generation the generator label and cell seed the store knows it by; drop those no stored cell used."""
    from sparsebench.protocol.seeds import derive_seed

    known: dict[tuple[str, str, str, int], tuple[str, int]] = {}
    for row in rows:
        config = row.get("config", {}).get("generator", {})
        fingerprint = (row.get("details") or {}).get("dataset_fingerprint")
        if config and fingerprint:
            name = str(config.get("name"))
            key = (name, canonical_json(config.get("params") or {}), fingerprint, derive_seed(int(row["seed"]), "generator", name))
            known[key] = (row["generator"], int(row["seed"]))
    labelled = []
    for generation in generations:
        found = known.get((generation.generator, canonical_json(generation.params), generation.dataset, generation.seed))
        if found:
            generation.label, generation.seed = found
            labelled.append(generation)
    return sorted(labelled, key=lambda g: (g.label, g.seed))


def find_generation(generations: list[Generation], name: str, seed: int | None) -> Generation:
    """The generation of generator ``name`` (a name or a label), with ``seed`` where there are several."""
    mine = [g for g in generations if name in (g.label, g.label.split("[", 1)[0])]
    if not mine:
        stored = sorted({g.label for g in generations})
        raise UsageError(f"no stored generation of {name!r}; generators with texts in the cache: {', '.join(stored) or 'none'}")
    if seed is not None:
        mine = [g for g in mine if g.seed == seed]
        if not mine:
            raise UsageError(f"{name!r} has no stored generation for seed {seed}")
    if len({(g.label, g.seed, g.dataset) for g in mine}) > 1:
        choices = "; ".join(f"{g.label} seed {g.seed} ({len(g.texts)} texts)" for g in mine)
        raise UsageError(f"{name!r} has several stored generations ({choices}): give the full label or --seed")
    return mine[0]


def as_records(generation: Generation, rejected: bool) -> list[dict[str, Any]]:
    """One record per text: its position, status and (for rejected texts) the reason."""
    records = [{"index": i, "status": "accepted", "reason": "", "text": t} for i, t in enumerate(generation.texts)]
    if rejected:
        records += [{"index": None, "status": "rejected", "reason": r, "text": t} for r, t in generation.rejected_texts]
    return records


def to_json(records: list[dict[str, Any]]) -> str:
    from sparsebench.contracts.escaping import safe_json

    return safe_json(json.dumps(records, indent=2, ensure_ascii=False)) + "\n"
