"""Bounds on a cell: a wall-time limit (``SIGALRM``) and ``SIGTERM`` treated as Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from sparsebench.contracts.errors import CellTimeout


class _Expired(BaseException):
    """Raised by the alarm inside component code. A ``BaseException`` (like Ctrl-C's), so a component's
    ``except Exception`` cannot swallow it; :func:`time_limit` turns it into :class:`CellTimeout`."""


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`CellTimeout` in the main thread once ``seconds`` have passed.

    Uses ``SIGALRM``, so it interrupts Python code and most native calls between operations; a
    native call that never returns to Python cannot be interrupted this way, and neither can a
    component that catches ``BaseException``.
    """
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    active = [True]

    def _expire(signum: int, frame: object) -> None:
        if active[0]:  # an alarm that lands while the limit is being lifted is ignored
            raise _Expired

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise CellTimeout(f"{what} ran past its limit of {seconds:g} s") from None
    finally:
        active[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat ``SIGTERM`` (what schedulers and ``kill`` send before a hard kill) like Ctrl-C.

    The runner then stops the same graceful way: finished cells are stored, the message says how to
    resume. Only the main thread can install signal handlers; elsewhere this does nothing.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
