"""``openai``: prompt any served model over the OpenAI-compatible API (vLLM, TGI, SGLang, llama.cpp, Ollama, a hosted API).

    bench run -g "openai[base_url=http://127.0.0.1:8080/v1,model=smollm2]" -c logreg
    OPENAI_API_KEY=... bench run -g "openai[base_url=https://api.example.com/v1,model=NAME,api_key_env=OPENAI_API_KEY]" -c logreg

The prompts, strategies, few-shot rules and cleaning are the ``llm`` generator's (:mod:`._prompts`,
:mod:`._cleaning`), so the two are comparable on the same model. ``mode=chat`` sends the system and
user messages to ``/chat/completions`` (the server applies the model's chat template);
``mode=completions`` sends the prompt set's plain layout to ``/completions``. Each prompt is one
request with its own seed (derived from the chunk's seed and the prompt's number), sent by a pool of at
most ``max_concurrency`` threads; failures are retried with backoff (:mod:`._http`), then the cell is an
``error`` with one line saying why.

Every answer is kept in a per-request cache under the results directory (``cache/requests``,
:mod:`._requests`), keyed by the server's identity, the endpoint and the full request: a repeated or
interrupted run sends no request twice. The key named by ``api_key_env`` is read from the environment
when a request is sent; it is never stored, logged, printed or part of a cell's id.

Accounting, in the row's generator resources: requests sent and answered from the cache, retries,
prompt and completion tokens from each answer's ``usage``, the time spent waiting for the server, and
with ``price_prompt`` / ``price_completion`` (per million tokens) what the run paid and what the cache saved.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sparsebench import DataContext, GeneratedBatch, GenerationRequest, Generator, Param, Register, Unavailable, hookimpl, results_dir

from . import _prompts
from ._cleaning import Cleaner
from ._http import Client, Refused, ServedError
from ._requests import RequestCache, request_key, server_identity

MODES = ("chat", "completions")
CLEANING = ("strict", "relaxed")
PRIOR_ACCEPTANCE = 0.6
MARGIN = 1.5
IDENTITY_TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    """One completion: its text, whether the model stopped on its own, and what it cost."""

    text: str
    finished: bool
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    fingerprint: str | None


class ServedGenerator(Generator):
    name: ClassVar[str] = "openai"
    description: ClassVar[str] = "prompts any model served over the OpenAI-compatible API (vLLM, TGI, llama.cpp, Ollama, hosted); cached per request"
    chunk_size: ClassVar[int] = 64
    cpus: ClassVar[float] = 0.25  # waits on a server
    needs_parameters: ClassVar[bool] = True  # a server to call: not part of "*"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("base_url", "str", "", "the API's base URL, e.g. http://127.0.0.1:8080/v1 (required)"),
        Param("model", "str", "", "the model name the server knows (required; GET BASE_URL/models lists them)"),
        Param("api_key_env", "str", None, "NAME of the environment variable holding the API key (the key itself is never stored)", nullable=True),
        Param("mode", "str", "chat", "chat: /chat/completions with system and user messages; completions: /completions with the plain layout",
              choices=MODES),
        Param("prompt_set", "str", "default", "prompt set (bench list generators shows the packaged ones)"),
        Param("prompts", "str", None, "a TOML file with your own prompt sets", nullable=True),
        Param("strategy", "str", "mixed", "prompt strategy", choices=_prompts.CHOICES),
        Param("shots", "int", 2, "real training positives shown per few-shot prompt", low=1, high=10),
        Param("per_prompt", "int", 5, "comments asked for per prompt (a numbered list)", low=1, high=20),
        Param("temperature", "float", 0.9, "sampling temperature (0: greedy)", low=0.0, high=5.0),
        Param("top_p", "float", 0.95, "nucleus sampling mass", low=0.01, high=1.0),
        Param("max_tokens", "int", 128, "new tokens per request at most", low=1, high=32768),
        Param("send_seed", "bool", True, "send each request's seed (servers that take one reproduce the completion)"),
        Param("max_concurrency", "int", 8, "requests in flight at once", low=1, high=256),
        Param("batch_size", "int", 32, "prompts per round (a round's answers are cleaned together)", low=1),
        Param("timeout", "float", 120.0, "seconds to wait for one answer", low=0.1),
        Param("max_retries", "int", 4, "retries of a request after a 429, a 5xx, a timeout or a dropped connection", low=0, high=20),
        Param("retry_wait", "float", 1.0, "first wait before a retry in seconds; each later one doubles", low=0.0, high=60.0),
        Param("price_prompt", "float", 0.0, "price per million prompt tokens (0: not counted)", low=0.0),
        Param("price_completion", "float", 0.0, "price per million completion tokens (0: not counted)", low=0.0),
        Param("cache", "bool", True, "keep every answer in the per-request cache (results/cache/requests) and reuse it"),
        Param("cleaning", "str", "strict", "strict: all checks; relaxed: whole completions, duplicate checks only", choices=CLEANING),
        Param("min_words", "int", 3, "shortest accepted comment in words", low=1),
        Param("near_duplicate", "float", 0.6, "word-bigram Jaccard similarity that counts as a near duplicate", low=0.05, high=1.0),
        Param("patience", "int", 5, "give up after this many rounds in a row with nothing accepted", low=1),
        Param("chunk_size", "int", 64, "texts per cached chunk (the per-request cache keeps every answer regardless)", low=1),
    )

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.chunk_size = int(config.get("chunk_size") or type(self).chunk_size)  # type: ignore[misc]
        self._identity: dict[str, Any] | None = None
        self._client: Client | None = None
        self._cache: RequestCache | None = None
        self._lock = threading.Lock()
        self._totals = {"requests_sent": 0, "requests_cached": 0, "prompt_tokens": 0, "completion_tokens": 0,
                        "cached_prompt_tokens": 0, "cached_completion_tokens": 0}
        self._waited = 0.0  # seconds spent in rounds that sent requests
        self._fingerprints: set[str] = set()

    @classmethod
    def listing(cls) -> dict[str, str]:
        return _prompts.listing()

    # --- the server -----------------------------------------------------------------------------

    def check_available(self) -> None:
        if not self.config["base_url"].startswith(("http://", "https://")) or not self.config["model"]:
            raise Unavailable(f"{self.name}: pass base_url=http://HOST:PORT/v1 and model=NAME, as in "
                              f"{self.name}[base_url=http://127.0.0.1:8080/v1,model=smollm2]")
        self._api_key()
        _prompts.get_set(self.config["prompt_set"], self.config["prompts"])

    def _api_key(self) -> str:
        name = self.config["api_key_env"]
        if not name:
            return ""
        key = os.environ.get(name, "")
        if not key:
            raise Unavailable(f"{self.name}: api_key_env={name} names an environment variable that is not set")
        return key

    def client(self) -> Client:
        if self._client is None:
            config = self.config
            self._client = Client(config["base_url"], self._api_key(), config["timeout"], config["max_retries"], config["retry_wait"])
        return self._client

    def identity(self) -> dict[str, Any]:
        """The model name and what ``GET /models`` says of it (a server without that endpoint: the name only)."""
        if self._identity is None:
            try:
                listing = self.client().get("models", timeout=min(IDENTITY_TIMEOUT, self.config["timeout"]))
            except Refused:  # a server without the listing (404): the name is all there is
                listing = None
            self._identity = server_identity(self.config["model"], listing)
        return self._identity

    def fingerprint(self, ctx: DataContext) -> Any:
        """The server's identity: the same name serving another model is another generator."""
        return {"server": self.identity()}

    def resources(self) -> dict[str, Any]:
        totals = dict(self._totals)
        counts = self._client.counts if self._client else {"attempts": 0, "retries": 0}
        info: dict[str, Any] = {
            "model": self.config["model"], "server": self._identity, "mode": self.config["mode"],
            "prompt_set": self.config["prompt_set"], "strategy": self.config["strategy"],
            **totals, "attempts": counts["attempts"], "retries": counts["retries"],
            "system_fingerprints": sorted(self._fingerprints), "server_wait_s": round(self._waited, 3),
            "completion_tokens_per_s": totals["completion_tokens"] / self._waited if self._waited > 0 else None,
        }
        price_in, price_out = self.config["price_prompt"], self.config["price_completion"]
        if price_in or price_out:
            info["cost"] = (totals["prompt_tokens"] * price_in + totals["completion_tokens"] * price_out) / 1e6
            info["cost_saved_by_cache"] = (totals["cached_prompt_tokens"] * price_in + totals["cached_completion_tokens"] * price_out) / 1e6
        return info

    def _request_cache(self) -> RequestCache | None:
        if self._cache is None and self.config["cache"]:
            self._cache = RequestCache(Path(results_dir()) / "cache" / "requests")
        return self._cache

    # --- generation -----------------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        config = self.config
        prompt_set = _prompts.get_set(config["prompt_set"], config["prompts"])
        plan = _prompts.PromptPlan(prompt_set, config["strategy"], request.positives, config["per_prompt"], config["shots"], request.seed)
        cleaner = Cleaner(is_known=request.is_known, min_words=config["min_words"], near_threshold=config["near_duplicate"],
                          strict=config["cleaning"] == "strict", reference=request.positives)
        self.identity()
        accepted = prompted = idle = 0
        while accepted < request.n and idle < config["patience"]:
            prompts = plan.take(self._round_size(request.n - accepted, accepted, prompted))
            seeds = [_seed(request.seed, prompted + i) for i in range(len(prompts))]
            answers = self._answers(prompts, prompt_set.plain, seeds)
            report = cleaner.clean((a.text, a.finished, p.text) for a, p in zip(answers, prompts, strict=True))
            accepted, prompted = accepted + len(report.accepted), prompted + len(prompts)
            idle = 0 if report.accepted else idle + 1
            yield GeneratedBatch(texts=report.accepted, tokens=sum(a.completion_tokens for a in answers), raw=report.raw,
                                 rejected=dict(report.rejected), rejected_texts=report.rejected_texts)

    def _round_size(self, remaining: int, accepted: int, prompted: int) -> int:
        per_prompt = accepted / prompted if prompted and accepted else self.config["per_prompt"] * PRIOR_ACCEPTANCE
        return max(1, min(self.config["batch_size"], math.ceil(MARGIN * remaining / max(per_prompt, 0.1))))

    def _answers(self, prompts: list[_prompts.Prompt], plain: str, seeds: list[int]) -> list[Answer]:
        bodies = [self._body(prompt, plain, seed) for prompt, seed in zip(prompts, seeds, strict=True)]
        started = time.perf_counter()
        workers = min(self.config["max_concurrency"], len(bodies))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai") as pool:
            futures = [pool.submit(self._answer, body) for body in bodies]
            try:
                answers = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        if any(not a.cached for a in answers):
            self._waited += time.perf_counter() - started
        return answers

    def _body(self, prompt: _prompts.Prompt, plain: str, seed: int) -> dict[str, Any]:
        config = self.config
        body: dict[str, Any] = {"model": config["model"], "temperature": config["temperature"], "top_p": config["top_p"],
                                "max_tokens": config["max_tokens"], "n": 1}
        if config["send_seed"]:
            body["seed"] = seed
        if config["mode"] == "chat":
            body["messages"] = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        else:
            body["prompt"] = plain.format(system=prompt.system, user=prompt.user)
        return body

    def _endpoint(self) -> str:
        return "chat/completions" if self.config["mode"] == "chat" else "completions"

    def _answer(self, body: dict[str, Any]) -> Answer:
        endpoint, cache = self._endpoint(), self._request_cache()
        key = request_key(self.identity(), endpoint, body)
        entry = cache.get(key) if cache else None
        if entry is not None:
            return self._account(parse_answer(entry["response"], self.config["mode"], cached=True))
        response = self.client().post(endpoint, body)
        answer = parse_answer(response, self.config["mode"], cached=False)  # a malformed answer is never cached
        if cache:
            cache.put(key, {"server": self.identity(), "endpoint": endpoint, "body": body, "response": response})
        return self._account(answer)

    def _account(self, answer: Answer) -> Answer:
        with self._lock:
            prefix = "cached_" if answer.cached else ""
            self._totals["requests_cached" if answer.cached else "requests_sent"] += 1
            self._totals[f"{prefix}prompt_tokens"] += answer.prompt_tokens
            self._totals[f"{prefix}completion_tokens"] += answer.completion_tokens
            if answer.fingerprint:
                self._fingerprints.add(answer.fingerprint)
        return answer


def parse_answer(response: Any, mode: str, cached: bool) -> Answer:
    """The text and usage of an OpenAI-compatible answer; anything else is a :class:`ServedError`."""
    try:
        choice = response["choices"][0]
        text = choice["message"]["content"] if mode == "chat" else choice["text"]
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise TypeError("text is not a string")
        usage = response.get("usage") or {}
        return Answer(text, choice.get("finish_reason") != "length", int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0), cached, response.get("system_fingerprint"))
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        shown = " ".join(str(response).split())[:160]
        raise ServedError(f"the server's answer is not an OpenAI {mode} completion (no choices[0] text): {shown}") from None


def _seed(chunk_seed: int, number: int) -> int:
    """The seed of a chunk's ``number``-th request (31 bits: every server takes it)."""
    return int.from_bytes(hashlib.sha256(f"{chunk_seed}:{number}".encode()).digest()[:4], "little") & 0x7FFFFFFF


@hookimpl
def register_generators(register: Register) -> None:
    register(ServedGenerator)
