"""SmolLM2-135M generation on the CPU: settings side by side in one process (dtype, threads, batch size).

The workload is the default suite's: the ``default`` prompt set, ``mixed`` strategy, 5 comments per
prompt, at most 128 new tokens, temperature 0.9 / top-k 50 / top-p 0.95, few-shot examples from the
11 training positives of ``toxic-mix[negatives=6000,positives=800]`` (seed 0), strict cleaning. Each
setting decodes the same prompts with the same seed; settings run in turns (``--rounds``), so a
shared machine's load falls on all of them alike. Reports new tokens/s and accepted comments/s.

Usage::

    python benchmarks/cpu_generation.py --prompts 32 --settings float32:1:16,float32:2:16,int8:2:32 --out cpu.json

(``--data`` or ``SPARSEBENCH_DATA``: the data directory.)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any


def positives(data: Path) -> tuple[str, ...]:
    from sparsebench.contracts.components import DataContext
    from sparsebench.engine.suite import load_suite
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix
    from sparsebench.protocol.sparsity import base_plan, make_splits, training_set

    suite = load_suite("default")
    splits = make_splits(ToxicMix(negatives=6000, positives=800, hard_negatives=True).load(DataContext(data, download=False, seed=0)), suite.protocol, 0)
    texts, labels, _ = training_set(splits, base_plan(splits, suite.protocol.base_share), [], 0)
    return tuple(t for t, label in zip(texts, labels, strict=True) if label == 1)


def measure(model: Any, tokenizer: Any, prompts: list[Any], texts: list[str], threads: int, batch: int, real: tuple[str, ...]) -> dict[str, Any]:
    import torch

    from sparsebench.plugins.generators._cleaning import Cleaner
    from sparsebench.plugins.generators._decode import Decoder, Sampling

    decoder = Decoder(model, tokenizer, "cpu")
    generator = torch.Generator().manual_seed(0)
    cleaner = Cleaner(reference=real)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    tokens = accepted = 0
    start = time.perf_counter()
    try:
        for at in range(0, len(prompts), batch):
            rows = decoder.complete(prompts[at : at + batch], 128, Sampling(0.9, 50, 0.95), 5, generator)
            tokens += sum(r.new_tokens for r in rows)
            report = cleaner.clean((r.text, r.finished, p) for r, p in zip(rows, texts[at : at + batch], strict=True))
            accepted += len(report.accepted)
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "new_tokens": tokens, "accepted": accepted, "new_tokens_per_s": tokens / seconds,
            "accepted_per_s": accepted / seconds, "prefilled_tokens": decoder.stats["prefilled_tokens"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--settings", default="float32:1:16,float32:2:16,int8:1:16,int8:2:16,int8:2:32", help="dtype:threads:batch,...")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SPARSEBENCH_DATA", "../shared/data")))
    parser.add_argument("--out", type=Path, default=Path("cpu_generation.json"))
    args = parser.parse_args()

    from sparsebench.plugins._weights import find_weights
    from sparsebench.plugins.generators import _models, _prompts
    from sparsebench.plugins.generators.llm import encode

    real = positives(args.data)
    weights = find_weights("smollm2", "benchmark", reads_gguf=True)
    settings = [(d, int(t), int(b)) for d, t, b in (s.split(":") for s in args.settings.split(","))]
    models = {}
    for dtype in sorted({d for d, _, _ in settings}):
        started = time.perf_counter()
        models[dtype] = _models._load_cached.__wrapped__(weights, "cpu", dtype, False)
        print(f"loaded {dtype} in {time.perf_counter() - started:.1f} s", flush=True)
    tokenizer = next(iter(models.values()))[1]
    prompt_set = _prompts.get_set("default", None)
    plan = _prompts.PromptPlan(prompt_set, "mixed", real, 5, 2, 0).take(args.prompts)
    ids = [encode(tokenizer, p, prompt_set.plain) for p in plan]
    report: dict[str, Any] = {"prompts": args.prompts, "load_average": os.getloadavg(), "runs": []}
    for round_ in range(args.rounds):
        for dtype, threads, batch in settings if round_ % 2 == 0 else settings[::-1]:
            result = measure(models[dtype][0], tokenizer, ids, [p.text for p in plan], threads, batch, real)
            result.update(dtype=dtype, threads=threads, batch=batch, round=round_, load=os.getloadavg()[0])
            report["runs"].append(result)
            print(json.dumps(result), flush=True)
            args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
