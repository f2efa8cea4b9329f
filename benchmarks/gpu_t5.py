"""T5-base fine-tuning on one GPU: a ``t5`` cell through the CLI against a bare PyTorch loop.

Random weights with t5-base's shapes (12 + 12 layers, d_model 768, d_ff 3072, 12 heads, vocabulary
32128) cost what t5-base costs per step, so this measures the study's classifier without its weights
(the tokenizer is the packaged MiniLM one: ``toxic`` and ``clean`` are single tokens there). In one
run, as ``benchmarks/gpu_bert.py`` does for ``bert``:

1. build that model and save it with the tokenizer to ``--work``/t5-random;
2. in a fresh process (cold, like the cell): rebuild the cell's training set, tokenize it as the
   plugin does (``prefix + text``, at most 128 tokens), cut the plugin's length-bucketed batches with
   its seed, move them to the GPU beforehand, then time forward (encoder + one decoder step),
   cross-entropy of the target word's first token, backward and fused AdamW under bf16 autocast:
   no scheduler, no class weights, no validation, no host synchronisation;
3. one ``real-only`` cell at 0.25 % through ``bench run --suite paper --device cuda`` and its row.

Usage (on the GPU machine, after ``pip install --no-deps -e .``)::

    python benchmarks/gpu_t5.py --data DATA_DIR --tokenizer TOKENIZER_DIR --work /tmp/t5 --out result.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

T5_BASE = {"vocab_size": 32128, "d_model": 768, "d_ff": 3072, "d_kv": 64, "num_layers": 12, "num_heads": 12}
TINY = {"vocab_size": 32128, "d_model": 32, "d_ff": 64, "d_kv": 8, "num_layers": 1, "num_heads": 2}


def build_model(tokenizer_dir: Path, path: Path, shape: dict[str, int]) -> Path:
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = T5Config(**shape, pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id)
    T5ForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def run_cell(model_dir: Path, data: Path, results: Path, size: tuple[int, int], device: str) -> dict[str, Any]:
    dataset = f"toxic-mix[negatives={size[0]},positives={size[1]}]"
    from sparsebench.cli.main import cli
    from sparsebench.storage.store import ResultStore

    args = ["run", "--suite", "paper", "-d", dataset, "-g", "real-only", "-c", f"t5[model={model_dir}]",
            "--seeds", "0", "--device", device, "--data", str(data), "--no-download", "--results", str(results), "-q"]
    started = time.perf_counter()
    cli.main(args, standalone_mode=False)
    wall = time.perf_counter() - started
    with ResultStore(results, create=False) as store:
        row = next(r for r in store.rows() if r["classifier"].startswith("t5"))
    return {"command": "bench " + " ".join(args), "wall_s": wall, "status": row["status"], "reason": row["reason"],
            "timings": row["timings"], "training": row["details"].get("training"),
            "resources": row["details"].get("classifier_resources")}


def cell_batches(model_dir: Path, data: Path, size: tuple[int, int], epochs: int) -> tuple[Any, list[list[int]], Any, list[list[Any]]]:
    """The cell's training rows tokenized as the plugin does, and each epoch's batches (the plugin's seed)."""
    import numpy as np

    from sparsebench.contracts.components import DataContext
    from sparsebench.engine.suite import load_suite
    from sparsebench.plugins.classifiers._torchutil import length_batches
    from sparsebench.plugins.classifiers.t5 import T5Classifier
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix
    from sparsebench.protocol.seeds import derive_seed
    from sparsebench.protocol.sparsity import base_plan, make_splits, training_set

    suite = load_suite("paper")
    negatives, positives = size
    mix = ToxicMix(negatives=negatives, positives=positives, hard_negatives=True)
    splits = make_splits(mix.load(DataContext(data, download=False, seed=0)), suite.protocol, 0)
    texts, labels, _ = training_set(splits, base_plan(splits, suite.protocol.base_share), [], 0)
    rows = np.concatenate([np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)])  # the plugin's order
    from transformers import AutoTokenizer

    plugin = T5Classifier(model=str(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    plugin._prepare(tokenizer, _Config())
    ids = plugin._encode(tokenizer, [texts[i] for i in rows])
    rng = np.random.default_rng(derive_seed(0, "classifier"))
    return plugin, ids, labels[rows], [length_batches([len(r) for r in ids], 32, rng) for _ in range(epochs)]


class _Config:
    class config:  # noqa: N801 - mimics model.config for the plugin's _prepare
        decoder_start_token_id = 0
        pad_token_id = 0


def bare_loop(model_dir: Path, plugin: Any, ids: list[list[int]], labels: Any, epochs: list[list[Any]], lr: float, device: str) -> dict[str, Any]:
    import torch
    from transformers import T5ForConditionalGeneration

    from sparsebench.plugins.classifiers._torchutil import pad_batch

    model = T5ForConditionalGeneration.from_pretrained(str(model_dir)).to(device).train()
    cuda = device.startswith("cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=True if cuda else None)
    targets = torch.as_tensor(plugin.target_ids_, device=device)
    ready = [[(*pad_batch([ids[i] for i in b], 0, device, 8 if cuda else 1), targets[torch.as_tensor(labels[b].astype("int64"), device=device)])
              for b in batches] for batches in epochs]
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def step(input_ids: Any, mask: Any, target: Any) -> None:
        start = torch.zeros((input_ids.shape[0], 1), dtype=torch.long, device=device)
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            logits = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=start).logits[:, 0, :]
        torch.nn.functional.cross_entropy(logits.float(), target).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    seconds = []
    for epoch in ready:
        sync()
        started = time.perf_counter()
        for batch in epoch:
            step(*batch)
        sync()
        seconds.append(time.perf_counter() - started)
    samples = [sum(len(b) for b in batches) for batches in epochs]
    return {"steps": sum(len(e) for e in ready), "samples": sum(samples), "seconds": sum(seconds),
            "samples_per_s": sum(samples) / sum(seconds), "epoch_samples_per_s": [n / t for n, t in zip(samples, seconds, strict=True)],
            "mean_padded_length": float(sum(t[0].shape[1] for e in ready for t in e) / sum(len(e) for e in ready))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-t5"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="20000,2000", help="toxic-mix negatives,positives (the paper suite: 60000,6000)")
    parser.add_argument("--device", default="cuda", help="cuda (the measurement) or cpu (a smoke test with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="smoke test: a 1-layer model")
    parser.add_argument("--bare-only", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    model_dir = args.work / "t5-random"
    negatives, positives = (int(v) for v in args.size.split(","))
    size = (negatives, positives)
    if args.bare_only:
        plugin, ids, labels, epochs = cell_batches(model_dir, args.data, size, epochs=2)
        args.out.write_text(json.dumps(bare_loop(model_dir, plugin, ids, labels, epochs, plugin.lr, args.device)))
        return
    import torch

    started = time.perf_counter()
    build_model(args.tokenizer, model_dir, TINY if args.tiny else T5_BASE)
    report: dict[str, Any] = {"torch": torch.__version__, "build_s": time.perf_counter() - started, "size": size}
    bare_out = args.work / "bare.json"
    subprocess.run([sys.executable, __file__, *sys.argv[1:], "--bare-only", "--out", str(bare_out)], check=True)
    report["bare"] = json.loads(bare_out.read_text())
    print(json.dumps(report, indent=2), flush=True)
    report["cell"] = run_cell(model_dir, args.data, args.work / "results", size, args.device)
    report["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    used = report["cell"]["resources"] or {}
    if used.get("train_loop_samples_per_s"):
        report["plugin_train_loop_vs_bare"] = used["train_loop_samples_per_s"] / report["bare"]["samples_per_s"]
        fit_rate = used["samples_seen"] / report["cell"]["timings"]["train_s"]
        report["plugin_whole_fit_samples_per_s"] = fit_rate
        report["plugin_whole_fit_vs_bare"] = fit_rate / report["bare"]["samples_per_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({k: v for k, v in report.items() if k != "cell"}, indent=2, default=str))


if __name__ == "__main__":
    main()
