"""Generation with rows that stop early: plain ``generate``, the ``llm`` decoder and the refill decoder, side by side.

Random weights never stop on their own, while real ones do (comments end after a few dozen tokens). An
end-of-sequence rule simulates that: every token id divisible by ``--eos-every`` (48: about one sampled
token in 48, so rows end after about 40 tokens on average, at most ``--new-tokens``) ends its row, in
all three decoders alike. One process, one model (Falcon-7B's shape, random bf16 weights; see
``gpu_generation.py``), the ``study`` prompt set (mixed strategy), top-k 50, temperature 1:

1. plain batched ``model.generate`` on the first ``--baseline-batch`` prompts (left-padded): a row that
   stops waits for the longest one of its batch;
2. the ``llm`` generator's decoder (:class:`Decoder`: shared prefix, finished rows dropped from the batch)
   in batches of ``--rows``;
3. :class:`RefillDecoder` in each of ``--variants`` (slots, eager or CUDA graphs, steps between refills):
   finished rows harvested, the rest compacted, free slots refilled from the queue; each run reports its
   seconds of prefill, decoding and harvesting.

New tokens are counted up to and including each row's end-of-sequence token. Usage (GPU machine)::

    python3 benchmarks/gpu_refill.py --tokenizer DIR --positives FILE --prompts 8192 --out refill.json

``--tiny`` runs a 2-layer model on a CPU (a check of the script).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_generation import FALCON_7B, _prompt_ids, _sync, falcon  # noqa: E402


def eos_rule(vocab: int, every: int) -> list[int]:
    return list(range(every, vocab, every))


def counted(ids: list[int], eos: set[int]) -> int:
    """New tokens up to and including the first end-of-sequence token."""
    for i, token in enumerate(ids):
        if token in eos:
            return i + 1
    return len(ids)


def distinct(tokenizer: Any, prompts: list[list[int]]) -> list[list[int]]:
    """The prompts, each made unique by its number right after their common prefix (a few tokens longer)."""
    from sparsebench.plugins.generators._prefill import common_prefix

    shared = common_prefix(prompts)
    return [p[:shared] + tokenizer(f"Request {i}.\n", add_special_tokens=False)["input_ids"] + p[shared:] for i, p in enumerate(prompts)]


def plain_generate(model: Any, prompts: list[list[int]], new_tokens: int, eos: list[int], device: str) -> dict[str, Any]:
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.zeros((len(prompts), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(p)
        mask[row, width - len(p):] = 1
    ids, mask = ids.to(device), mask.to(device)
    settings = {"do_sample": True, "top_k": 50, "top_p": 1.0, "temperature": 1.0, "pad_token_id": 0, "eos_token_id": eos}
    model.generate(ids[:8], attention_mask=mask[:8], max_new_tokens=4, **settings)  # warm-up
    _sync(device)
    start = time.perf_counter()
    out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, **settings)
    _sync(device)
    seconds = time.perf_counter() - start
    stop = set(eos)
    tokens = sum(counted(row[width:], stop) for row in out.tolist())
    return {"decoder": "plain generate", "prompts": len(prompts), "batch": len(prompts), "new_tokens": tokens, "seconds": seconds,
            "new_tokens_per_s": tokens / seconds, "steps": out.shape[1] - width}


def llm_decoder(model: Any, tokenizer: Any, prompts: list[list[int]], rows: int, new_tokens: int, eos: list[int], device: str) -> dict[str, Any]:
    import torch

    from sparsebench.plugins.generators._decode import Decoder, Sampling

    decoder = Decoder(model, tokenizer, device)
    decoder.eos = torch.tensor(eos, device=device)
    sampling = Sampling(temperature=1.0, top_k=50, top_p=1.0)
    generator = torch.Generator(device=device).manual_seed(0)
    decoder.complete(prompts[:8], 4, sampling, None, generator)  # warm-up
    _sync(device)
    start = time.perf_counter()
    tokens = 0
    for first in range(0, len(prompts), rows):
        tokens += sum(c.new_tokens for c in decoder.complete(prompts[first:first + rows], new_tokens, sampling, None, generator))
    _sync(device)
    seconds = time.perf_counter() - start
    return {"decoder": "llm Decoder (shared prefix, finished rows dropped)", "prompts": len(prompts), "batch": rows, "new_tokens": tokens,
            "seconds": seconds, "new_tokens_per_s": tokens / seconds}


def refill(model: Any, prompts: list[list[int]], rows: int, new_tokens: int, eos: list[int], vocab_limit: int, device: str,
           graph: bool, check_every: int, min_refill: int | None = None, prefill_tokens: int = 32768) -> dict[str, Any]:
    import torch

    from sparsebench.plugins.generators._refill import RefillDecoder, RefillStats

    torch.manual_seed(0)
    max_len = max(len(p) for p in prompts) + new_tokens + 1
    decoder = RefillDecoder(model, rows, max_len, eos, vocab_limit, use_graph=graph, check_every=check_every, min_refill=min_refill,
                            prefill_tokens=prefill_tokens)
    decoder.generate(prompts[: min(len(prompts), 2 * rows)][:64], new_tokens, 1.0)  # warm-up and graph capture
    decoder.cache.clear()  # the timed run prefills every prompt it starts, the warm-up's ones included
    _sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    decoder.stats = RefillStats(graph=decoder.stats.graph)
    start = time.perf_counter()
    done = decoder.generate(prompts, new_tokens, 1.0)
    _sync(device)
    seconds = time.perf_counter() - start
    tokens = sum(len(d.token_ids) for d in done)
    stats = decoder.stats
    return {"decoder": f"RefillDecoder ({'CUDA graphs' if graph else 'eager'}, refill every {check_every} steps)", "prompts": len(prompts),
            "batch": rows, "new_tokens": tokens, "seconds": seconds, "new_tokens_per_s": tokens / seconds,
            "mean_new_tokens": tokens / len(done), "stopped_share": sum(d.stopped for d in done) / len(done), "steps": stats.steps,
            "busy_slot_share": stats.busy_row_steps / max(1, stats.row_steps), "prefilled_tokens": stats.prefilled_tokens,
            "refills": stats.refills, "reused_rows": stats.reused_rows, "distinct_prompts": len({tuple(p) for p in prompts}),
            "min_refill": decoder.min_refill, "prefill_tokens": prefill_tokens, "prefill_s": stats.prefill_s, "decode_s": stats.decode_s,
            "harvest_s": stats.harvest_s,
            "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--positives", required=True)
    parser.add_argument("--prompts", type=int, default=4096)
    parser.add_argument("--rows", type=int, default=1024, help="batch of the llm decoder")
    parser.add_argument("--variants", default="2048:graph:4,1024:graph:4,2048:eager:4,2048:graph:4:distinct",
                        help="refill decoder runs, comma-separated SLOTS:eager|graph:CHECK_EVERY[:distinct][:pTOKENS]; 'distinct' makes "
                             "every prompt unique (its number after the shared prefix), so that no prompt's prefill is reused; "
                             "'p16384' prefills up to 16,384 padded tokens a forward (default 32,768, the decoder's)")
    parser.add_argument("--min-refill", type=int, default=None, help="refill only when this many slots are free (default slots/16)")
    parser.add_argument("--skip-llm", action="store_true", help="leave out the llm decoder")
    parser.add_argument("--baseline-batch", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=96)
    parser.add_argument("--eos-every", type=int, default=48)
    parser.add_argument("--out", default="gpu_refill.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()

    import torch
    import transformers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    tokenizer.chat_template = None
    positives = tuple(Path(args.positives).read_text(encoding="utf-8").split("\n@@\n"))
    device = args.device
    shape = {**FALCON_7B, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4} if args.tiny else FALCON_7B
    model = falcon(shape, device)
    common = {"prompt_set": "study", "strategy": "mixed", "per_prompt": 1}
    prompts = _prompt_ids(tokenizer, positives, args.prompts, common)
    eos = eos_rule(shape["vocab_size"], args.eos_every)
    report: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else "none", "torch": torch.__version__,
                              "transformers": transformers.__version__, "prompts": len(prompts),
                              "prompt_tokens": [min(map(len, prompts)), max(map(len, prompts))], "eos_every": args.eos_every,
                              "new_tokens_max": args.new_tokens, "runs": []}

    def record(result: dict[str, Any]) -> None:
        report["runs"].append(result)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(json.dumps(result), flush=True)

    record(plain_generate(model, prompts[: args.baseline_batch], args.new_tokens, eos, device))
    for variant in args.variants.split(","):
        slots, mode, check, *rest = variant.split(":")
        graph = mode == "graph" and device.startswith("cuda")
        chosen = distinct(tokenizer, prompts) if "distinct" in rest else prompts
        budget = next((int(r[1:]) for r in rest if r.startswith("p")), 32768)
        result = refill(model, chosen, int(slots), args.new_tokens, eos, len(tokenizer), device, graph, int(check), args.min_refill, budget)
        if "distinct" in rest:
            result["decoder"] += ", every prompt distinct"
        if budget != 32768:
            result["decoder"] += f", prefill {budget:,} tokens a forward"
        record(result)
    if not args.skip_llm:
        record(llm_decoder(model, tokenizer, prompts, args.rows, args.new_tokens, eos, device))
    print(f"{'decoder':<80} {'batch':>6} {'prompts':>7} {'new tok':>8} {'s':>7} {'new tok/s':>10} {'prefill s':>9} {'decode s':>8} "
          f"{'busy':>5} {'prefilled':>9}")
    for run in report["runs"]:
        phases = (f"{run['prefill_s']:>9.2f} {run['decode_s']:>8.2f} {run['busy_slot_share']:>5.2f} {run['prefilled_tokens']:>9}"
                  if "prefill_s" in run else "")
        print(f"{run['decoder'][:80]:<80} {run['batch']:>6} {run['prompts']:>7} {run['new_tokens']:>8} {run['seconds']:>7.2f} "
              f"{run['new_tokens_per_s']:>10.0f} {phases}")


if __name__ == "__main__":
    main()
