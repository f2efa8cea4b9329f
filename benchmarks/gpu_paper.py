"""The paper suite end to end on one GPU, with random-weight stand-ins of the study's three models.

No weights travel to the GPU machine, so ``prepare`` builds models of exactly the study's shapes from
their configs, with random weights, and saves them where the plugins' ``model=DIR`` reads them:

* BERT-base (``BertConfig()``: 12 layers, hidden 768, the bert-base-uncased vocabulary of 30,522; the
  MiniLM package's tokenizer is that vocabulary);
* T5-base (12 + 12 layers, d_model 768, d_ff 3072, 12 heads, vocabulary 32,128; the same tokenizer, in
  which ``toxic`` and ``clean`` are single tokens);
* Falcon-7B (hidden 4544, 32 layers, 71 query heads over one key/value head, vocabulary 65,024; bf16;
  the SmolLM2 tokenizer, ids above its vocabulary masked), which per token costs what the real one costs.

``run`` then calls ``bench run --suite paper`` with those directories (and ``cleaning=relaxed`` for
Falcon: random weights write gibberish that the strict cleaner rejects), samples ``nvidia-smi`` every
second, and stops the run cleanly (SIGINT: finished cells stay stored) at ``--budget`` seconds.
``summary`` reads the store: each cell's phases (generation, fine-tuning, scoring, metrics with the
bootstrap), the GPU's utilisation, and the paper suite's whole grid extrapolated from the per-cell times.

Usage (GPU machine; ``--tiny`` builds 2-layer models for a CPU check of the script)::

    python3 benchmarks/gpu_paper.py prepare --minilm TOK --smollm2 TOK --work /tmp/paper
    python3 benchmarks/gpu_paper.py run --work /tmp/paper --data DATA --budget 420 -- -g falcon-7b -g real-only -s 5% --seeds 0
    python3 benchmarks/gpu_paper.py summary --work /tmp/paper --out paper.json
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BERT_BASE: dict[str, Any] = {}  # BertConfig's defaults are bert-base's
T5_BASE = {"d_model": 768, "d_ff": 3072, "d_kv": 64, "num_layers": 12, "num_decoder_layers": 12, "num_heads": 12, "vocab_size": 32128}
FALCON_7B = {"vocab_size": 65024, "hidden_size": 4544, "num_hidden_layers": 32, "num_attention_heads": 71, "multi_query": True,
             "parallel_attn": True, "bias": False, "alibi": False, "new_decoder_architecture": False}
TINY_BERT = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2}
TINY_T5 = {"num_layers": 2, "num_decoder_layers": 2, "d_model": 64, "d_ff": 128, "num_heads": 2}
TINY_FALCON = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
CLASSIFIERS = ("bert", "t5", "logreg", "mlp", "length", "charngram")


def prepare(minilm: Path, smollm2: Path, work: Path, tiny: bool, device: str) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(minilm))
    BertForSequenceClassification(BertConfig(num_labels=2, **(TINY_BERT if tiny else BERT_BASE))).save_pretrained(work / "bert-base")
    tokenizer.save_pretrained(work / "bert-base")
    pad = tokenizer.pad_token_id
    t5 = T5Config(**{**T5_BASE, **(TINY_T5 if tiny else {})}, pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=tokenizer.sep_token_id)
    T5ForConditionalGeneration(t5).save_pretrained(work / "t5-base")
    tokenizer.save_pretrained(work / "t5-base")
    small = time.perf_counter() - started
    falcon_dir = _falcon(smollm2, work / "falcon-7b", {**FALCON_7B, **(TINY_FALCON if tiny else {})}, device)
    return {"bert_t5_build_s": small, "falcon_build_and_save_s": time.perf_counter() - started - small,
            "falcon_bytes": sum(p.stat().st_size for p in falcon_dir.iterdir())}


def _falcon(tokenizer_dir: Path, path: Path, shape: dict[str, Any], device: str) -> Path:
    """Random bf16 Falcon weights built on ``device`` and saved with a tokenizer that has no chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, FalconConfig

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    tokenizer.chat_template = None  # Falcon has none: the study prompt set's plain layout is used
    config = FalconConfig(**shape, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return path


def models(work: Path) -> dict[str, str]:
    """The component specs that point the plugins at the stand-ins."""
    return {"bert": f"bert[model={work / 'bert-base'}]", "t5": f"t5[model={work / 't5-base'}]",
            "falcon-7b": f"falcon-7b[model={work / 'falcon-7b'},cleaning=relaxed]"}


def run(work: Path, data: Path, budget: float, extra: list[str], device: str) -> dict[str, Any]:
    """``bench run --suite paper`` with the stand-ins (``extra`` narrows it), stopped by SIGINT after ``budget`` s."""
    specs = models(work)
    args = [a for a in extra if a != "--"]
    chosen = _chosen(args, "-g") or ["falcon-7b", "real-only"]
    classifiers = _chosen(args, "-c") or list(CLASSIFIERS)
    args = _without(args, ("-g", "-c"))
    command = [sys.executable, "-c", "from sparsebench.cli import cli; cli()", "run", "--suite", "paper", "--device", device, "--data", str(data),
               "--no-download", "--results", str(work / "results"), "-q"]
    for name in chosen:
        command += ["-g", specs.get(name, name)]
    for name in classifiers:
        command += ["-c", specs.get(name, name)]
    command += args
    smi = _sampler(work / "nvidia-smi.csv") if device.startswith("cuda") else None
    started = time.perf_counter()
    process = subprocess.Popen(command)
    try:
        process.wait(timeout=budget)
        stopped = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # finished cells stay stored; the one in flight is not
        process.wait(timeout=60)
        stopped = True
    wall = time.perf_counter() - started
    if smi is not None:
        smi.terminate()
    result = {"command": " ".join(command), "wall_s": wall, "returncode": process.returncode, "stopped_at_budget": stopped}
    (work / "run.json").write_text(json.dumps(result, indent=2))
    return result


def _chosen(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def _without(args: list[str], flags: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in flags:
            skip = True
        else:
            out.append(a)
    return out


def _sampler(path: Path) -> subprocess.Popen[bytes]:
    query = "timestamp,utilization.gpu,utilization.memory,memory.used,power.draw,clocks.sm"
    return subprocess.Popen(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits", "-l", "1"],
                            stdout=path.open("w"), stderr=subprocess.DEVNULL)


def summary(work: Path) -> dict[str, Any]:
    from sparsebench.storage.store import ResultStore

    with ResultStore(work / "results", create=False) as store:
        rows = list(store.rows())
    cells = [_cell(r) for r in rows]
    generation: dict[str, dict[str, Any]] = {}
    for r in rows:
        gen = r.get("details", {}).get("generation") or {}
        if gen.get("generation_s") is not None and r["generator"] not in generation:
            generation[r["generator"]] = {k: gen.get(k) for k in ("generation_s", "generated", "raw_outputs", "new_tokens", "texts_per_s",
                                                                  "tokens_per_s", "s_per_text", "cached_chunks", "chunks")}
            generation[r["generator"]]["peak_gpu_mb"] = r["timings"].get("generation_peak_gpu_mb")
    report = {"cells": cells, "generation": generation, "by_classifier": _by_classifier(cells), "gpu": _gpu(work / "nvidia-smi.csv")}
    run_info = work / "run.json"
    if run_info.exists():
        report["run"] = json.loads(run_info.read_text())
    report["extrapolated"] = extrapolate(report)
    return report


def _cell(row: dict[str, Any]) -> dict[str, Any]:
    t = row["timings"]
    keys = ("cell_s", "train_s", "predict_s", "metrics_s", "functional_s", "generation_s", "peak_gpu_mb")
    return {"generator": row["generator"], "classifier": row["classifier"].split("[")[0], "level": row["level"], "seed": row["seed"],
            "status": row["status"], "reason": (row.get("reason") or "")[:160], **{k: t.get(k) for k in keys},
            "auroc": (row.get("metrics") or {}).get("auroc")}


def _by_classifier(cells: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        if c["status"] == "done":
            groups[c["classifier"]].append(c)
    return {name: {"cells": len(g), **{f"mean_{k}": statistics.fmean(c[k] or 0.0 for c in g) for k in ("cell_s", "train_s", "predict_s",
                                                                                                        "metrics_s", "functional_s")}}
            for name, g in groups.items()}


def _gpu(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    util, mem = [], []
    for line in path.read_text().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 4 and parts[1].replace(".", "").isdigit():
            util.append(float(parts[1]))
            mem.append(float(parts[3]))
    if not util:
        return {}
    return {"samples": len(util), "mean_util_pct": statistics.fmean(util), "busy_share": sum(u > 0 for u in util) / len(util),
            "median_util_pct": statistics.median(util), "max_memory_mib": max(mem)}


def extrapolate(report: dict[str, Any]) -> dict[str, Any]:
    """The whole paper suite (every generator x classifier x level x 3 seeds) from the measured per-cell times.

    Cells per seed: real-only at 0.25 % and six synthetic generators (oversample, real-extra, template,
    eda, llm, falcon-7b) at 1 / 3 / 5 %: 19 generator-levels x 6 classifiers. Falcon-7B's generation is
    counted once per seed at the 5 % level (lower levels use a prefix of its texts), at the measured
    seconds per text; the cheap generators' time is negligible; llm is counted like falcon-7b per text.
    """
    per = report["by_classifier"]
    if not per:
        return {}
    levels_per_seed = 1 + 6 * 3
    cells_s = sum(v["mean_cell_s"] for v in per.values()) * levels_per_seed
    falcon = report["generation"].get(next((g for g in report["generation"] if g.startswith("falcon-7b")), ""), {})
    generation_s = 2 * (falcon.get("generation_s") or 0.0)  # falcon-7b and llm, each once per seed
    return {"per_seed_s": cells_s + generation_s, "three_seeds_s": 3 * (cells_s + generation_s), "cells": 3 * levels_per_seed * len(CLASSIFIERS),
            "basis": {name: v["mean_cell_s"] for name, v in per.items()}, "generation_per_seed_s": generation_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--minilm", type=Path, required=True)
    p.add_argument("--smollm2", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--device", default="cuda")
    r = sub.add_parser("run")
    r.add_argument("--work", type=Path, required=True)
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--budget", type=float, default=420)
    r.add_argument("--device", default="cuda")
    r.add_argument("extra", nargs=argparse.REMAINDER)
    s = sub.add_parser("summary")
    s.add_argument("--work", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "prepare":
        args.work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(prepare(args.minilm, args.smollm2, args.work, args.tiny, args.device)), flush=True)
    elif args.step == "run":
        print(json.dumps(run(args.work, args.data, args.budget, args.extra, args.device)), flush=True)
    else:
        report = summary(args.work)
        args.out.write_text(json.dumps(report, indent=2, default=str))
        _print(report)


def _print(report: dict[str, Any]) -> None:
    heads = ("cell_s", "train_s", "pred_s", "metr_s", "func_s", "gen_s")
    print(f"{'generator':<34} {'classifier':<10} {'level':>6} {'status':<11} " + " ".join(f"{h:>7}" for h in heads))
    for c in report["cells"]:
        cols = [f"{(c[k] or 0):.1f}" for k in ("cell_s", "train_s", "predict_s", "metrics_s", "functional_s", "generation_s")]
        print(f"{c['generator'][:34]:<34} {c['classifier']:<10} {c['level']:>6.4f} {c['status']:<11} " + " ".join(f"{v:>7}" for v in cols))
    print(json.dumps({k: report.get(k) for k in ("generation", "by_classifier", "gpu", "run", "extrapolated")}, default=str))


if __name__ == "__main__":
    main()
