"""BERT-base fine-tuning on one GPU: a paper-scale ``bert`` cell against a bare PyTorch loop.

Random weights built from ``BertConfig()`` (12 layers, hidden 768, the bert-base-uncased vocabulary)
cost exactly what bert-base-uncased costs per step, so this measures the study's model without its
weights. In one process:

1. build that model and save it with a tokenizer to ``--work``/bert-base-random;
2. run one ``paper``-suite cell through the CLI (``real-only`` at 0.25 % on
   ``toxic-mix[negatives=60000,positives=6000]``, seed 0, ``--device cuda``) and read its row;
3. before that, in a fresh process (cold, like the cell): rebuild the cell's training set, tokenize
   it and cut it into the plugin's length-bucketed batches with the plugin's seed, then time a bare
   loop over the same two epochs of exactly those batches (padded to a multiple of 8 as the plugin
   does on a GPU, moved to the GPU beforehand; bf16 autocast; fused AdamW; no scheduler, no
   validation, no host synchronisation).

Usage (on the GPU machine, after ``pip install --no-deps -e .``)::

    python benchmarks/gpu_bert.py --data DATA_DIR --tokenizer TOKENIZER_DIR --work /tmp/bert --out result.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def build_model(tokenizer_dir: Path, path: Path, shape: dict[str, int]) -> Path:
    """BERT-base shapes (unless ``shape`` says otherwise) with random weights and the given tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2, **shape))
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(path)
    return path


def run_cell(model_dir: Path, data: Path, results: Path, size: tuple[int, int], device: str) -> dict[str, Any]:
    """One paper-suite cell through the CLI; returns its stored timings and the plugin's resources."""
    from sparsebench.cli.main import cli
    from sparsebench.storage.store import ResultStore

    dataset = f"toxic-mix[negatives={size[0]},positives={size[1]}]"
    args = ["run", "--suite", "paper", "-d", dataset, "-g", "real-only", "-c", f"bert[model={model_dir}]",
            "--seeds", "0", "--device", device, "--data", str(data), "--no-download", "--results", str(results), "-q"]
    started = time.perf_counter()
    cli.main(args, standalone_mode=False)
    wall = time.perf_counter() - started
    with ResultStore(results, create=False) as store:
        row = next(r for r in store.rows() if r["classifier"].startswith("bert"))
    return {"command": "bench " + " ".join(args), "wall_s": wall, "status": row["status"], "reason": row["reason"],
            "timings": row["timings"], "metrics": {k: row["metrics"].get(k) for k in ("auprc", "auroc", "f1")},
            "training": row["details"].get("training"), "params": row["config"]["classifier"]["params"],
            "resources": row["details"].get("classifier_resources")}


def cell_batches(model_dir: Path, data: Path, size: tuple[int, int], epochs: int) -> tuple[list[list[int]], Any, list[list[Any]]]:
    """The cell's training rows, tokenized as the plugin does, and each epoch's batches (the plugin's seed)."""
    import numpy as np
    from transformers import AutoTokenizer

    from sparsebench.contracts.components import DataContext
    from sparsebench.engine.suite import load_suite
    from sparsebench.plugins.classifiers._torchutil import length_batches
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix
    from sparsebench.protocol.seeds import derive_seed
    from sparsebench.protocol.sparsity import base_plan, make_splits, training_set

    suite = load_suite("paper")
    dataset = ToxicMix(negatives=size[0], positives=size[1], hard_negatives=True)
    splits = make_splits(dataset.load(DataContext(data, download=False, seed=0)), suite.protocol, 0)
    texts, labels, _ = training_set(splits, base_plan(splits, suite.protocol.base_share), [], 0)
    rows = np.concatenate([np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)])  # the plugin's order
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    ids = tokenizer([texts[i] for i in rows], truncation=True, max_length=128)["input_ids"]
    rng = np.random.default_rng(derive_seed(0, "classifier"))
    return ids, labels[rows], [length_batches([len(r) for r in ids], 32, rng) for _ in range(epochs)]


def bare_loop(model_dir: Path, ids: list[list[int]], labels: Any, epochs: list[list[Any]], lr: float, device: str) -> dict[str, Any]:
    """Forward, backward and a fused AdamW step over batches padded and moved beforehand; nothing else.

    It starts cold, as the plugin does (no warm-up), over the same epochs; the second epoch alone
    shows the warm rate.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    from sparsebench.plugins.classifiers._torchutil import pad_batch

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=2).to(device).train()
    cuda = device.startswith("cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=True if cuda else None)
    multiple = 8 if cuda else 1
    ready = [[(*pad_batch([ids[i] for i in b], 0, device, multiple), torch.as_tensor(labels[b].astype("int64"), device=device))
              for b in batches] for batches in epochs]
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def step(input_ids: Any, mask: Any, target: Any) -> None:
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            logits = model(input_ids=input_ids, attention_mask=mask).logits
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
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-bert"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda", help="cuda (the measurement) or cpu (a smoke test with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="smoke test: a 1-layer model on a small toxic-mix")
    parser.add_argument("--bare-only", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    size = (3000, 400) if args.tiny else (60000, 6000)
    model_dir = args.work / "bert-random"
    if args.bare_only:
        ids, labels, epochs = cell_batches(model_dir, args.data, size, epochs=2)
        args.out.write_text(json.dumps(bare_loop(model_dir, ids, labels, epochs, 3e-5, args.device)))
        return
    import torch

    shape = {"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64} if args.tiny else {}
    started = time.perf_counter()
    build_model(args.tokenizer, model_dir, shape)
    report: dict[str, Any] = {"torch": torch.__version__, "build_s": time.perf_counter() - started}
    bare_out = args.work / "bare.json"
    subprocess.run([sys.executable, __file__, *sys.argv[1:], "--bare-only", "--out", str(bare_out)], check=True)
    report["bare"] = json.loads(bare_out.read_text())  # a fresh process: cold, like the cell below
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
