"""Progress reporting that components can use without knowing how it is shown.

The runner installs a :class:`Reporter` (the CLI's draws rich progress bars; tests use the silent
default). A plugin reports long work with::

    from sparsebench.contracts.progress import phase

    with phase("fine-tuning", total=max_steps) as advance:
        for step in ...:
            advance(1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

Advance = Callable[[int], None]


class Reporter(Protocol):
    def start(self, total_cells: int) -> None: ...

    def cell_started(self, label: str) -> None: ...

    def cell_finished(self, label: str, status: str, reason: str, metrics: dict[str, Any] | None = None) -> None: ...

    def phase_start(self, description: str, total: int | None) -> Any: ...

    def phase_advance(self, handle: Any, amount: int) -> None: ...

    def phase_end(self, handle: Any) -> None: ...

    def note(self, message: str) -> None: ...

    def stop(self) -> None: ...


class SilentReporter:
    """Shows nothing; the default outside the CLI."""

    def start(self, total_cells: int) -> None:
        pass

    def cell_started(self, label: str) -> None:
        pass

    def cell_finished(self, label: str, status: str, reason: str, metrics: dict[str, Any] | None = None) -> None:
        pass

    def phase_start(self, description: str, total: int | None) -> Any:
        return None

    def phase_advance(self, handle: Any, amount: int) -> None:
        pass

    def phase_end(self, handle: Any) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def stop(self) -> None:
        pass


_CURRENT: ContextVar[Reporter] = ContextVar("sparsebench_reporter", default=SilentReporter())  # noqa: B039 - stateless


def current() -> Reporter:
    """The reporter installed for this run (a silent one outside runs); plugins call ``current().note(text)``."""
    return _CURRENT.get()


@contextmanager
def installed(reporter: Reporter) -> Iterator[Reporter]:
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


@contextmanager
def phase(description: str, total: int | None = None) -> Iterator[Advance]:
    """A progress bar for one long phase; yields ``advance(n)``."""
    reporter = current()
    handle = reporter.phase_start(description, total)

    def advance(amount: int = 1) -> None:
        reporter.phase_advance(handle, amount)

    try:
        yield advance
    finally:
        reporter.phase_end(handle)
