"""How far int8 moves SmolLM2's next-token distribution from float32 on this CPU, and what it buys.

For each quantization variant and each of PyTorch's quantized engines, the last-token logits of a few
prompts are compared with float32 (Pearson correlation, top-20 overlap, same top-1 token) and a batch's
forward pass (8 sequences of 64 tokens) is timed. Variants: every linear layer int8 (``all``), every
one but ``lm_head`` (``no-head``), and every one but ``lm_head`` and the MLPs' ``down_proj``
(``no-down``, the layers whose inputs carry the largest activation outliers). Run it where the packaged model is installed:

    python benchmarks/int8_agreement.py --out int8.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import torch

PROMPTS = (
    "The capital of France is",
    "Write five rude comments about the referee:\n1.",
    "You are such an idiot, nobody",
    "Thanks for the help yesterday, it",
    "Here is a list of insults people post online:\n-",
    "The weather today is",
    "I can't believe you would say",
    "Write a comment that a forum moderator would remove:",
)


#: layers each variant keeps in float32 (by the end of their names)
VARIANTS = {"all": (), "no-head": ("lm_head",), "no-down": ("lm_head", "down_proj")}


def quantize(model: Any, engine: str, keep: tuple[str, ...]) -> Any:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    torch.backends.quantized.engine = engine
    names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not n.endswith(keep or ("\0",))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {n: per_channel_dynamic_qconfig for n in names}, inplace=False)


def agreement(reference: list[torch.Tensor], model: Any, ids: list[torch.Tensor]) -> dict[str, float]:
    corr, overlap, top1 = [], [], []
    with torch.inference_mode():
        for a, x in zip(reference, ids, strict=True):
            b = model(x).logits[0, -1]
            corr.append(float(torch.corrcoef(torch.stack([a, b]))[0, 1]))
            overlap.append(len(set(a.topk(20).indices.tolist()) & set(b.topk(20).indices.tolist())))
            top1.append(int(a.argmax() == b.argmax()))
    return {"corr_min": min(corr), "corr_mean": sum(corr) / len(corr), "top20_min": min(overlap),
            "top20_mean": sum(overlap) / len(overlap), "top1_share": sum(top1) / len(top1)}


def forward_seconds(model: Any, batch: torch.Tensor, repeats: int = 3) -> float:
    with torch.inference_mode():
        model(batch)
        started = time.perf_counter()
        for _ in range(repeats):
            model(batch)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--engines", default="x86,fbgemm,onednn")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3, help="timed forward passes per variant")
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sparsebench.plugins._weights import find_weights
    from sparsebench.plugins.generators import _models

    location = _models.dequantized_copy(find_weights("smollm2", "benchmark", reads_gguf=True))
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModelForCausalLM.from_pretrained(location).eval()
    ids = [torch.tensor([tokenizer(p)["input_ids"]]) for p in PROMPTS]
    batch = torch.randint(0, len(tokenizer), (8, 64), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference = [model(x).logits[0, -1] for x in ids]
    rows: list[dict[str, Any]] = [{"variant": "float32", "engine": "-", "forward_s": forward_seconds(model, batch, args.repeats)}]
    for engine in args.engines.split(","):
        for variant in args.variants.split(","):
            quantized = quantize(model, engine, VARIANTS[variant])
            row = {"variant": variant, "engine": engine, **agreement(reference, quantized, ids)}
            row["forward_s"] = forward_seconds(quantized, batch, args.repeats)
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}
    print(json.dumps(rows[0]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
