"""One small llm × bert grid under the sequential and the Ray executor on one GPU: same rows?

Random weights of real shapes (SmolLM2-135M for ``llm``, MiniLM-L6 for ``bert``; their tokenizers
from ``--assets``), so nothing is downloaded. The grid: ``llm`` (relaxed cleaning: random weights
write no comment a strict cleaner keeps) and ``real-only`` × ``bert`` and ``logreg`` at 1 % and 5 %
on a CSV of toxic-mix rows. Steps, each its own process so they can run in separate device calls::

    python3 benchmarks/gpu_ray.py prepare --assets DIR --work /tmp/gpu-ray   # models (+ the CSV from DIR)
    python3 benchmarks/gpu_ray.py run --work /tmp/gpu-ray --executor sequential
    python3 benchmarks/gpu_ray.py run --work /tmp/gpu-ray --executor ray
    python3 benchmarks/gpu_ray.py compare --work /tmp/gpu-ray --out result.json

``--assets`` holds ``llm-tokenizer/``, ``bert-tokenizer/`` and ``toxic.csv``. ``--tiny`` builds
2-layer models instead (a quick check of the script on a CPU).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

SMOLLM2_135M = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                "num_key_value_heads": 3, "max_position_embeddings": 8192, "rope_theta": 100000.0, "tie_word_embeddings": True}
MINILM_L6 = {"hidden_size": 384, "intermediate_size": 1536, "num_hidden_layers": 6, "num_attention_heads": 12}
TINY = {"num_hidden_layers": 2}


def prepare(assets: Path, work: Path, tiny: bool) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(assets / "llm-tokenizer"))
    shape = {**SMOLLM2_135M, **(TINY if tiny else {})}
    llm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **shape))
    llm.save_pretrained(work / "llm")
    tokenizer.save_pretrained(work / "llm")
    bert_tokenizer = AutoTokenizer.from_pretrained(str(assets / "bert-tokenizer"))
    bert = BertForSequenceClassification(BertConfig(num_labels=2, vocab_size=len(bert_tokenizer), **{**MINILM_L6, **(TINY if tiny else {})}))
    bert.save_pretrained(work / "bert")
    bert_tokenizer.save_pretrained(work / "bert")
    shutil.copy(assets / "toxic.csv", work / "toxic.csv")


def grid(work: Path, executor: str) -> list[str]:
    llm = f"llm[model={work / 'llm'},cleaning=relaxed,max_new_tokens=48]"
    return ["run", "-d", f"file[path={work / 'toxic.csv'},conflicts=drop]", "-g", llm, "-g", "real-only", "-c", f"bert[model={work / 'bert'}]",
            "-c", "logreg", "-s", "1%", "-s", "5%", "--seeds", "0", "--bootstrap", "200", "--device", "cuda" if _cuda() else "cpu",
            "--no-download", "--executor", executor, "--results", str(work / executor), "-q"]


def run(work: Path, executor: str) -> None:
    args = grid(work, executor)
    started = time.perf_counter()
    done = subprocess.run([_bench(), *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    report = {"command": "bench " + " ".join(args), "wall_s": wall, "exit": done.returncode, "stderr_tail": done.stderr[-3000:]}
    (work / f"{executor}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("wall_s", "exit")}), done.stderr[-1500:], sep="\n")


def compare(work: Path, out: Path) -> None:
    from sparsebench.storage.store import ResultStore

    rows = {}
    for executor in ("sequential", "ray"):
        with ResultStore(work / executor, create=False) as store:
            rows[executor] = {r["cell_id"]: r for r in store.rows()}
    seq, ray = rows["sequential"], rows["ray"]
    cells = []
    for cell_id in sorted(seq):
        a, b = seq[cell_id], ray.get(cell_id, {})
        cells.append({"cell": cell_id, "generator": a["generator"].split("[")[0], "classifier": a["classifier"].split("[")[0],
                      "level": a["level"], "status": [a["status"], b.get("status")], "reason": [a["reason"], b.get("reason")],
                      "auprc": [a["metrics"].get("auprc"), b.get("metrics", {}).get("auprc")],
                      "cell_s": [a["timings"].get("cell_s"), b.get("timings", {}).get("cell_s")],
                      "gpu": [a["env"].get("gpu"), b.get("env", {}).get("gpu")]})
    report = {
        "runs": {e: json.loads((work / f"{e}.json").read_text()) for e in ("sequential", "ray")},
        "cells_stored": [len(seq), len(ray)],
        "same_cells": bool(seq) and sorted(seq) == sorted(ray),
        "same_statuses": all(c["status"][0] == c["status"][1] for c in cells),
        "same_auprc": all(c["auprc"][0] == c["auprc"][1] for c in cells),
        "cells": cells,
    }
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("cells_stored", "same_cells", "same_statuses", "same_auprc")}))
    for c in cells:
        print(c["generator"], c["classifier"], c["level"], c["status"], c["auprc"], [round(s or 0, 1) for s in c["cell_s"]], c["reason"][0][:80])
    print({e: round(r["wall_s"], 1) for e, r in report["runs"].items()})


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _bench() -> str:
    script = Path(sys.executable).with_name("bench")
    return str(script) if script.exists() else shutil.which("bench") or "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("prepare", "run", "compare"))
    parser.add_argument("--assets", type=Path, default=Path(".device/ray"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-ray"))
    parser.add_argument("--executor", choices=("sequential", "ray"), default="sequential")
    parser.add_argument("--out", type=Path, default=Path("gpu_ray.json"))
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.assets, args.work, args.tiny)
    elif args.step == "run":
        run(args.work, args.executor)
    else:
        compare(args.work, args.out)


if __name__ == "__main__":
    main()
