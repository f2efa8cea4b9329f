"""``llm``: prompt a causal language model for toxic comments, then parse, clean and deduplicate them.

The default is the packaged SmolLM2-135M-Instruct on a CPU (sized for the default suite); any
transformers causal LM works (``model=owner/name`` from the local Hugging Face cache, or a local
directory). Prompts come from TOML prompt sets (``bench list generators`` shows them); the three
strategies of the study are ``zero-shot``, ``few-shot`` and ``targeted``; ``mixed`` cycles over them.

Each round samples a batch of prompts (see :mod:`._decode` for the shared-prefix decoder), splits the
completions into candidate comments and keeps only clean, new ones (see :mod:`._cleaning`). Every
batch reports its raw candidates, accepted texts, new tokens and rejections by reason.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar

from sparsebench import GeneratedBatch, GenerationRequest, Generator, Param, Register, Unavailable, hookimpl

from .._weights import Weights, find_weights
from . import _models, _prompts
from ._cleaning import Cleaner, cleaning_params
from ._decode import Decoder, Sampling

CPU_BATCH = 96
GPU_BATCH = 512
PRIOR_ACCEPTANCE = 0.6
MARGIN = 1.5  # prompts beyond the expected need: a round that falls short costs a whole extra pass
HOW_TO = ("pass model=smollm2 (packaged), a local model directory or .gguf file, or a hub id in the local Hugging Face "
          "cache (`huggingface-cli download ID` where there is network); or set download=true")


def with_defaults(parameters: tuple[Param, ...], **defaults: Any) -> tuple[Param, ...]:
    """The same parameters with some defaults changed (for presets)."""
    unknown = set(defaults) - {p.name for p in parameters}
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}")
    return tuple(replace(p, default=defaults[p.name]) if p.name in defaults else p for p in parameters)


class LLMGenerator(Generator):
    name: ClassVar[str] = "llm"
    description: ClassVar[str] = "prompts a causal LM (transformers) with definition + policy; default: packaged SmolLM2-135M-Instruct"
    chunk_size: ClassVar[int] = 100
    gpus: ClassVar[float] = 1.0  # one GPU per generation task under the Ray executor, when run on CUDA
    listed_sets: ClassVar[tuple[str, ...] | None] = None
    test_params: ClassVar[dict[str, Any]] = {"cleaning": "relaxed", "per_prompt": 1, "max_new_tokens": 16, "chunk_size": 4}  # conformance: quick
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("model", "str", "smollm2", "'smollm2' (packaged), a local directory or .gguf file, or a hub id"),
        Param("gguf_file", "str", None, "GGUF file inside a local model directory", nullable=True),
        Param("download", "bool", False, "allow fetching hub weights at run time (off: local Hugging Face cache only)"),
        Param("trust_remote_code", "bool", False, "run code shipped with the model repository (off unless asked for)"),
        *_prompts.PROMPT_PARAMS,
        Param("top_k", "int", 50, "sample from the k most likely tokens (0: all)", low=0),
        Param("top_p", "float", 0.95, "nucleus sampling mass", low=0.01, high=1.0),
        Param("batch_size", "int", None, f"prompts per batch; none: {CPU_BATCH} on a CPU, {GPU_BATCH} on a GPU", low=1, nullable=True),
        Param("max_new_tokens", "int", 128, "new tokens per prompt at most", low=1, high=8192),
        Param("device", "str", "auto", "auto: the run's device; or cpu, cuda, cuda:1, ..."),
        Param("dtype", "str", "auto", "auto: on a CPU int8 (dynamic quantization) for GGUF weights such as the packaged SmolLM2, "
              "else float32; bfloat16 on a GPU. int8: CPU only", choices=_models.DTYPES),
        Param("threads", "int", None, "CPU threads while generating (none: the process's setting, torch's default: all cores)", low=1, nullable=True),
        Param("share_prefix", "bool", True, "prefill the prompts' common prefix once and share its cache"),
        *cleaning_params("batches"),
        Param("chunk_size", "int", 100, "texts per cached chunk (an interrupted run loses at most one chunk)", low=1),
    )

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.chunk_size = int(config.get("chunk_size") or type(self).chunk_size)  # type: ignore[misc]
        self._weights: Weights | None = None
        self._attached: str | None = None
        self._loaded: tuple[Any, Any, str] | None = None
        self._decoder: Decoder | None = None

    @classmethod
    def listing(cls) -> dict[str, str]:
        shown = _prompts.listing()
        if cls.listed_sets is None:
            return shown
        return {k: v for k, v in shown.items() if any(k.startswith(f"prompts[{name}]") for name in cls.listed_sets)}

    # --- availability and record ----------------------------------------------------------------

    def check_available(self) -> None:
        _models.require_packages()
        self._resolve()
        _prompts.get_set(self.config["prompt_set"], self.config["prompts"])
        device = self.config["device"]
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise Unavailable(f"{self.name}: device={device} was asked for, but torch sees no CUDA GPU")

    def _resolve(self) -> Weights:
        if self._weights is None:
            config = self.config
            self._weights = find_weights(config["model"], f"generator {self.name!r}", HOW_TO, gguf_file=config["gguf_file"],
                                         reads_gguf=True, download=config["download"])
        return self._weights

    def resources(self) -> dict[str, Any]:
        weights = {"model": self._attached, "weights_source": "attached"} if self._attached else self._resolve().describe()
        info: dict[str, Any] = {**weights, "prompt_set": self.config["prompt_set"], "strategy": self.config["strategy"]}
        if self._loaded is not None:
            model, _, device = self._loaded
            info.update(device=device, dtype=_models.dtype_name(model), parameters=_models.parameter_count(model))
        if self._decoder is not None:
            info["decoder"] = dict(self._decoder.stats, share_prefix=self._decoder.share_prefix)
        return info

    # --- loading --------------------------------------------------------------------------------

    def attach(self, model: Any, tokenizer: Any, device: str, label: str) -> None:
        """Use an already loaded model instead of ``model`` (benchmarks with random weights); ``label`` is recorded."""
        self._attached = label
        self._loaded = (model, tokenizer, device)
        self._decoder = None

    def _device(self, request: GenerationRequest) -> str:
        device = self.config["device"]
        return request.device if device == "auto" else device

    def _model(self, device: str) -> tuple[Any, Any]:
        if self._loaded is None or self._loaded[2] != device:
            model, tokenizer = _models.load(self._resolve(), device, self.config["dtype"], self.config["trust_remote_code"])
            self._loaded = (model, tokenizer, device)
            self._decoder = None
        return self._loaded[0], self._loaded[1]

    def decoder(self, device: str) -> Decoder:
        model, tokenizer = self._model(device)
        if self._decoder is None:
            self._decoder = Decoder(model, tokenizer, device, share_prefix=self.config["share_prefix"])
        return self._decoder

    # --- generation -----------------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        import torch

        device = self._device(request)
        decoder = self.decoder(device)
        _seed_everything(request.seed)
        generator = torch.Generator(device=device).manual_seed(request.seed)
        prompt_set = _prompts.get_set(self.config["prompt_set"], self.config["prompts"])
        config = self.config
        plan = _prompts.PromptPlan(prompt_set, config["strategy"], request.positives, config["per_prompt"], config["shots"], request.seed)
        cleaner = self._cleaner(request)
        accepted = prompted = idle = 0
        while accepted < request.n and idle < self.config["patience"]:
            prompts = plan.take(self._round_size(request.n - accepted, accepted, prompted, device))
            batch = self._round(decoder, prompts, prompt_set.plain, cleaner, generator)
            accepted, prompted = accepted + len(batch.texts), prompted + len(prompts)
            idle = 0 if batch.texts else idle + 1
            yield batch

    def _cleaner(self, request: GenerationRequest) -> Cleaner:
        return Cleaner(
            is_known=request.is_known,
            min_words=self.config["min_words"],
            near_threshold=self.config["near_duplicate"],
            strict=self.config["cleaning"] == "strict",
            reference=request.positives,
        )

    def _round_size(self, remaining: int, accepted: int, prompted: int, device: str) -> int:
        """Prompts for the next batch: what is missing at the observed yield, with a margin, at most a batch."""
        limit = self.config["batch_size"] or (CPU_BATCH if device == "cpu" else GPU_BATCH)
        per_prompt = accepted / prompted if prompted and accepted else self.config["per_prompt"] * PRIOR_ACCEPTANCE
        return max(1, min(limit, math.ceil(MARGIN * remaining / max(per_prompt, 0.1))))

    def _round(self, decoder: Decoder, prompts: list[_prompts.Prompt], plain: str, cleaner: Cleaner, generator: Any) -> GeneratedBatch:
        ids = [encode(decoder.tokenizer, prompt, plain) for prompt in prompts]
        sampling = Sampling(self.config["temperature"], self.config["top_k"], self.config["top_p"])
        stop_after = self.config["per_prompt"] if cleaner.strict else None
        with _torch_threads(self.config["threads"], decoder.device):
            completions = decoder.complete(ids, self.config["max_new_tokens"], sampling, stop_after, generator)
        report = cleaner.clean((c.text, c.finished, p.text) for c, p in zip(completions, prompts, strict=True))
        tokens = sum(c.new_tokens for c in completions)
        return GeneratedBatch(texts=report.accepted, tokens=tokens, raw=report.raw, rejected=dict(report.rejected),
                              rejected_texts=report.rejected_texts)


def encode(tokenizer: Any, prompt: _prompts.Prompt, plain: str) -> list[int]:
    """Token ids of a prompt: the model's chat template when it has one, else the prompt set's plain layout."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - some templates reject a system message: fold it into the user's
            merged = [{"role": "user", "content": f"{prompt.system}\n\n{prompt.user}"}]
            text = tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(plain.format(system=prompt.system, user=prompt.user))["input_ids"])


@contextmanager
def _torch_threads(threads: int | None, device: str) -> Iterator[None]:
    """Use ``threads`` intra-op threads on a CPU for a block (none: the process's setting), then restore it.

    With ``OMP_WAIT_POLICY=PASSIVE`` (the CLI sets it) idle threads sleep instead of spinning, so
    all cores are the better default even on a shared machine: on the 2-core machine under a load
    average of 10-14, SmolLM2 int8 wrote 1.07-2.2x the new tokens/s with two threads than with one
    (``benchmarks/cpu_generation.py``, two rounds). Before that policy, two spinning threads made
    it seven times slower, which is why the default used to be half of the cores.
    """
    import torch

    before = torch.get_num_threads()
    if device != "cpu" or not threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@hookimpl
def register_generators(register: Register) -> None:
    register(LLMGenerator)
