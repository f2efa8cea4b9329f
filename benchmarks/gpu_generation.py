"""Generation throughput on one GPU: the ``llm`` generator with a Falcon-7B-shaped model.

Random bf16 weights cost exactly what the real WizardLM-Uncensored-Falcon-7B costs per token (same
shapes: hidden 4544, 32 layers, 71 query heads with one shared key/value head, vocabulary 65024), so
this measures the speed of the real thing without its weights. Their output is gibberish, so the
generator runs with ``cleaning=relaxed`` (each completion is one text; only duplicates are dropped)
and the texts/s reported are raw decoded texts per second, not clean comments.

It measures, in one process:

1. a check that the shared-prefix decoder reproduces transformers' greedy ``generate`` (tiny Falcon);
2. the baseline: plain batched ``model.generate`` (prompt 160 tokens, 64 new tokens, batch 512);
3. the ``llm`` generator producing ``--texts`` texts with the study's prompt set, at each batch size
   given, with the shared prefix on (and once off, to show what sharing buys).

Usage (on the GPU machine)::

    python benchmarks/gpu_generation.py --tokenizer DIR --positives FILE --out results.json

``DIR`` is any saved tokenizer (the SmolLM2 one is used here: token ids above its vocabulary are
masked, which leaves the per-token cost unchanged); ``FILE`` holds real training positives separated
by lines of ``@@`` (few-shot examples).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

FALCON_7B = {
    "vocab_size": 65024,
    "hidden_size": 4544,
    "num_hidden_layers": 32,
    "num_attention_heads": 71,
    "multi_query": True,
    "parallel_attn": True,
    "bias": False,
    "alibi": False,
    "new_decoder_architecture": False,
}


def falcon(shape: dict[str, Any], device: str, **tokens: Any) -> Any:
    """A Falcon model with random bf16 weights, built directly on ``device`` (``tokens``: its special token ids)."""
    import torch
    from transformers import AutoModelForCausalLM, FalconConfig

    config = FalconConfig(**shape, **tokens)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def check_equivalence(tokenizer: Any, device: str) -> dict[str, Any]:
    """Greedy tokens of the shared-prefix decoder agree with the model run without cache on a tiny Falcon.

    Each row's prompt plus its greedy completion is run once through the plain model; every chosen
    token must be the argmax there too, up to ``1e-3`` in logit (random tiny models have near ties).
    """
    import torch

    from sparsebench.plugins.generators._decode import Decoder, Sampling

    torch.manual_seed(0)
    tiny = falcon({**FALCON_7B, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}, device).float()
    prompts = [tokenizer(f"Shared words at the start of every prompt, then {s}")["input_ids"] for s in ("one", "two three four", "five")]
    decoder = Decoder(tiny, tokenizer, device)
    got = decoder.complete(prompts, 16, Sampling(temperature=0), None, None)
    worst = 0.0
    for ids, completion in zip(prompts, got, strict=True):
        new = list(completion.token_ids)
        full = torch.tensor([list(ids) + new], device=device)
        with torch.inference_mode():
            logits = tiny(input_ids=full).logits[0, len(ids) - 1 : -1].float()[:, : len(tokenizer)]
        chosen = logits.gather(1, torch.tensor(new, device=device)[:, None]).squeeze(1)
        worst = max(worst, float((logits.max(1).values - chosen).max()))
    return {"max_logit_gap": worst, "ok": worst < 1e-3}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def baseline(model: Any, batch: int, prompt_len: int, new_tokens: int, device: str) -> dict[str, Any]:
    """Plain batched ``generate``: equal-length random prompts, sampling, a fixed number of new tokens."""
    import torch

    ids = torch.randint(100, 40000, (batch, prompt_len), device=device)
    settings = {"do_sample": True, "top_k": 50, "pad_token_id": 0, "eos_token_id": None}
    model.generate(ids[:8, :16], max_new_tokens=4, min_new_tokens=4, **settings)  # warm-up
    _sync(device)
    start = time.perf_counter()
    model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **settings)
    _sync(device)
    seconds = time.perf_counter() - start
    return {"batch": batch, "prompt_tokens": prompt_len, "new_tokens": batch * new_tokens, "seconds": seconds,
            "new_tokens_per_s": batch * new_tokens / seconds, "sequences_per_s": batch / seconds}


LLAMA_7B = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 32}


def continuous(prompts: list[list[int]], new_tokens: int, device: str) -> dict[str, Any]:
    """transformers' continuous batching (``generate_batch``, its defaults) on a Llama-7B shape with random bf16 weights.

    Falcon has no paged-attention path there, so the 7B model of the comparison is a Llama. Errors
    (an API that moved between versions) are recorded, not raised.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(LlamaConfig(**LLAMA_7B)).eval()
    finally:
        torch.set_default_dtype(previous)
    config = GenerationConfig(max_new_tokens=new_tokens, do_sample=True, top_k=50, eos_token_id=-1, pad_token_id=0)
    ids = [[min(t, 31999) for t in p] for p in prompts]
    try:
        _sync(device)
        start = time.perf_counter()
        out = model.generate_batch(inputs=ids, generation_config=config, progress_bar=False)
        _sync(device)
        seconds = time.perf_counter() - start
        tokens = sum(len(o.generated_tokens) for o in out.values())
        result: dict[str, Any] = {"prompts": len(ids), "new_tokens": tokens, "seconds": seconds, "new_tokens_per_s": tokens / seconds}
    except Exception as exc:  # noqa: BLE001 - a measurement that cannot run is reported
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    del model
    torch.cuda.empty_cache() if device.startswith("cuda") else None
    return result


def profile_step(model: Any, batch: int, context: int, device: str) -> dict[str, Any]:
    """Time one decoding forward pass at ``batch`` rows over ``context`` cached tokens, with and without
    the folded multi-query attention; print the top operators of the folded one."""
    import contextlib

    import torch
    from transformers import DynamicCache

    from sparsebench.plugins.generators._decode import shared_kv_attention

    cache = DynamicCache()
    ids = torch.randint(100, 40000, (batch, context), device=device)
    mask = torch.ones((batch, context + 1), dtype=torch.long, device=device)
    step = ids[:, -1:]
    position = torch.full((batch, 1), context, device=device)
    kwargs = {"attention_mask": mask, "position_ids": position, "use_cache": True, "logits_to_keep": 1, _cache_kw(model): cache}
    result: dict[str, Any] = {"batch": batch, "context": context}
    with torch.inference_mode():
        model(input_ids=ids, use_cache=True, logits_to_keep=1, **{_cache_kw(model): cache})
        for name, scope in (("plain_ms", contextlib.nullcontext), ("folded_ms", shared_kv_attention)):
            times = []
            for _ in range(5):
                _sync(device)
                start = time.perf_counter()
                with scope():
                    model(input_ids=step, **kwargs)
                _sync(device)
                times.append(time.perf_counter() - start)
                cache.crop(-1)
            result[name] = 1000 * min(times[1:])
        activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device.startswith("cuda") else [])
        with torch.profiler.profile(activities=activities) as prof, shared_kv_attention():
            model(input_ids=step, **kwargs)
            _sync(device)
    print(prof.key_averages().table(sort_by="cuda_time_total" if device.startswith("cuda") else "cpu_time_total", row_limit=12), flush=True)
    return result


def growing_steps(model: Any, batch: int, context: int, steps: int, device: str) -> dict[str, Any]:
    """Milliseconds per decoding step while the cache grows (a new key length at every step), by attention backend."""
    import torch
    from transformers import DynamicCache

    from sparsebench.plugins.generators._decode import shared_kv_attention

    result: dict[str, Any] = {"batch": batch, "context": context, "steps": steps}
    ids = torch.randint(100, 40000, (batch, context), device=device)
    for name, cudnn in (("cudnn_ms", True), ("no_cudnn_ms", False)):
        cache = DynamicCache()
        with torch.inference_mode(), shared_kv_attention(cudnn):
            model(input_ids=ids, use_cache=True, logits_to_keep=1, **{_cache_kw(model): cache})
            _sync(device)
            start = time.perf_counter()
            for step in range(steps):
                mask = torch.ones((batch, context + step + 1), dtype=torch.long, device=device)
                position = torch.full((batch, 1), context + step, device=device)
                kwargs = {"attention_mask": mask, "position_ids": position, "use_cache": True, "logits_to_keep": 1, _cache_kw(model): cache}
                model(input_ids=ids[:, -1:], **kwargs)
            _sync(device)
        result[name] = 1000 * (time.perf_counter() - start) / steps
    return result


def _cache_kw(model: Any) -> str:
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _timed(method: Any, spent: dict[str, float], key: str, device: str) -> Any:
    def wrapper(*args: Any) -> Any:
        _sync(device)
        start = time.perf_counter()
        out = method(*args)
        _sync(device)
        spent[key] += time.perf_counter() - start
        return out

    return wrapper


def run_generator(
    model: Any, tokenizer: Any, positives: tuple[str, ...], texts: int, overrides: dict[str, Any], device: str, cudnn: bool = False,
    prefill_tokens: int | None = None,
) -> dict[str, Any]:
    """The ``llm`` generator with the attached model, producing ``texts`` texts; timing and counts."""
    import torch

    from sparsebench.contracts.components import GenerationRequest
    from sparsebench.plugins.generators.llm import LLMGenerator

    generator = LLMGenerator.from_overrides(overrides)
    generator.attach(model, tokenizer, device, label="Falcon-7B shape, random bf16 weights")
    decoder = generator.decoder(device)
    decoder.cudnn_attention = bool(cudnn)
    if prefill_tokens:
        decoder.prefill_tokens = prefill_tokens
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    spent = {"prefill_s": 0.0, "decode_s": 0.0}
    for method, key in (("_prefill", "prefill_s"), ("_decode", "decode_s")):
        setattr(decoder, method, _timed(getattr(decoder, method), spent, key, device))
    request = GenerationRequest(n=texts, positives=positives, seed=0, device=device)
    _sync(device)
    start = time.perf_counter()
    accepted = tokens = raw = 0
    for batch in generator.generate(request):
        accepted += len(batch.texts)
        tokens += batch.tokens or 0
        raw += batch.raw or 0
    _sync(device)
    seconds = time.perf_counter() - start
    stats = generator.resources().get("decoder", {})
    return {
        "overrides": overrides, "texts": accepted, "raw": raw, "new_tokens": tokens, "seconds": seconds,
        "new_tokens_per_s": tokens / seconds, "texts_per_s": accepted / seconds, "decoder": stats, **spent, "cudnn_attention": cudnn,
        "prefill_tokens_per_forward": decoder.prefill_tokens,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--positives", required=True)
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--batches", default="1024,2048")
    parser.add_argument("--prefill-tokens", default="", help="also run the last batch size with these prefill budgets (comma-separated)")
    parser.add_argument("--continuous", type=int, default=0, help="also time transformers' generate_batch on this many prompts")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-unshared", action="store_true")
    parser.add_argument("--profile", action="store_true", help="time and profile one decoding step first")
    parser.add_argument("--with-cudnn", action="store_true", help="also run the first batch size with cuDNN attention allowed")
    parser.add_argument("--out", default="gpu_generation.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny Falcon instead of the 7B shape (a dry run on a CPU)")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    tokenizer.chat_template = None  # Falcon has none: the prompt set's plain layout is used
    positives = tuple(Path(args.positives).read_text(encoding="utf-8").split("\n@@\n"))
    import transformers

    device = args.device
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none"
    report: dict[str, Any] = {"gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__}
    report["equivalent_to_generate"] = check_equivalence(tokenizer, device)
    _show(report)
    shape = {**FALCON_7B, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4} if args.tiny else FALCON_7B
    model = falcon(shape, device)
    report["parameters"] = sum(p.numel() for p in model.parameters())
    if args.profile:
        report["decode_step"] = [profile_step(model, b, 224, device) for b in (1024, 2048)]
        _show(report)
    report["growing_cache"] = growing_steps(model, 512, 168, 32, device)
    _show(report)
    if not args.skip_baseline:
        report["baseline_generate"] = baseline(model, 512, 160, args.new_tokens, device)
        _show(report)
    common = {"prompt_set": "study", "strategy": "mixed", "per_prompt": 1, "max_new_tokens": args.new_tokens,
              "cleaning": "relaxed", "temperature": 1.0, "top_k": 50, "top_p": 1.0}
    first = int(args.batches.split(",")[0])
    last = int(args.batches.split(",")[-1])
    runs: list[tuple[dict[str, Any], bool, int | None]] = [({**common, "batch_size": int(b)}, False, None) for b in args.batches.split(",")]
    runs += [({**common, "batch_size": last}, False, int(t)) for t in args.prefill_tokens.split(",") if t]
    if not args.skip_unshared:
        runs.append(({**common, "batch_size": first, "share_prefix": False}, False, None))
    if args.with_cudnn:
        runs.append(({**common, "batch_size": first}, True, None))
    report["generator"] = []
    for overrides, cudnn, budget in runs:
        report["generator"].append(run_generator(model, tokenizer, positives, args.texts, overrides, device, cudnn, budget))
        _show(report)
        Path(args.out).write_text(json.dumps(report, indent=2))
    if args.continuous:
        del model
        torch.cuda.empty_cache() if device.startswith("cuda") else None
        report["continuous_batching"] = continuous(_prompt_ids(tokenizer, positives, args.continuous, common), args.new_tokens, device)
        _show(report)
    Path(args.out).write_text(json.dumps(report, indent=2))


def _prompt_ids(tokenizer: Any, positives: tuple[str, ...], n: int, common: dict[str, Any]) -> list[list[int]]:
    """The token ids of the generator's first ``n`` prompts (same prompt set, strategy and seed)."""
    from sparsebench.plugins.generators import _prompts
    from sparsebench.plugins.generators.llm import encode

    prompt_set = _prompts.get_set(common["prompt_set"], None)
    plan = _prompts.PromptPlan(prompt_set, common["strategy"], positives, common["per_prompt"], 2, 0)
    return [encode(tokenizer, prompt, prompt_set.plain) for prompt in plan.take(n)]


def _show(report: dict[str, Any]) -> None:
    print(json.dumps(report, indent=None, default=str)[-1500:], flush=True)


if __name__ == "__main__":
    main()
