"""A small JSON-over-HTTP client for OpenAI-compatible servers: timeouts, retries with backoff, one-line errors.

Standard library only (``urllib``). Retried: HTTP 408, 409, 429 and 5xx, timeouts, refused and dropped
connections, and a body cut short; each wait doubles (``retry_wait``, 2x, 4x, ...; a server's
``Retry-After`` is honoured up to :data:`MAX_WAIT`). Not retried: other 4xx answers (a wrong model
name, a missing key) and a complete answer that is not JSON: those are the server's final word.
The API key travels in a header only; every message is scrubbed of it before it leaves this module.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_WAIT = 30.0
BODY_SHOWN = 160


class ServedError(RuntimeError):
    """The server is unreachable, refused the request, or answered something that is not an API response."""


class Refused(ServedError):
    """The server answered with an HTTP error that retrying does not fix (a 4xx other than 408, 409, 429)."""


class _Retryable(Exception):
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass
class Client:
    """Calls one server; counts attempts and retries (read by the generator's accounting)."""

    base_url: str
    api_key: str = ""
    timeout: float = 60.0
    max_retries: int = 4
    retry_wait: float = 1.0
    counts: dict[str, int] = field(default_factory=lambda: {"attempts": 0, "retries": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def get(self, path: str, timeout: float | None = None) -> Any:
        return self._call("GET", path, None, timeout, retries=0)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body, None, retries=self.max_retries)

    def _call(self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None, retries: int) -> Any:
        url = f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"
        for attempt in range(retries + 1):
            try:
                return self._once(method, url, body, timeout or self.timeout)
            except _Retryable as exc:
                if attempt == retries:
                    raise ServedError(self._scrub(f"{method} {url} failed after {attempt + 1} attempts: {exc}")) from None
                self._count("retries")
                time.sleep(min(MAX_WAIT, exc.wait if exc.wait is not None else self.retry_wait * 2**attempt))
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, body: dict[str, Any] | None, timeout: float) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method, headers=self._headers())  # noqa: S310 - the user's server URL
        self._count("attempts")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except TimeoutError:
            raise _Retryable(f"no answer within {timeout:g} s") from None
        except urllib.error.URLError as exc:
            raise _Retryable(f"cannot connect ({_reason(exc.reason)})") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise _Retryable(f"connection dropped ({type(exc).__name__})") from None
        return self._parse(url, raw)

    def _refusal(self, exc: urllib.error.HTTPError) -> Exception:
        try:
            text = exc.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            text = ""
        shown = " ".join(text.split())[:BODY_SHOWN]
        if exc.code in RETRY_STATUS:
            return _Retryable(f"HTTP {exc.code} {shown}".strip(), _retry_after(exc.headers.get("Retry-After")))
        return Refused(self._scrub(f"the server refused {exc.url}: HTTP {exc.code} {shown}".strip()))

    def _parse(self, url: str, raw: bytes) -> Any:
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            shown = " ".join(raw.decode("utf-8", "replace").split())[:BODY_SHOWN]
            raise ServedError(self._scrub(f"{url} answered something that is not JSON: {shown!r}")) from None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _scrub(self, message: str) -> str:
        return message.replace(self.api_key, "***") if self.api_key else message


def _reason(reason: Any) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return str(reason.strerror).lower()
    return str(reason)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
