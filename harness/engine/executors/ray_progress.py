"""Workers' progress shown by the driver: a small Ray actor carries phase events from tasks to the driver.

A task's reporter posts "task began" and "phase started / advanced / ended" events (advances batched, a few a second)
to a mailbox actor; the driver drains the mailbox while it waits for results and replays the events
on its own reporter, each phase named after the cell or generator it belongs to, and shows how many
tasks run and how many wait on the grid's progress line. Progress is
best-effort: a lost event never fails a task.
"""

from __future__ import annotations

import time
import uuid
from contextlib import suppress
from typing import Any

from sparsebench.contracts.progress import Reporter, SilentReporter

FLUSH_S = 0.3


class _Mailbox:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def post(self, events: list[tuple[Any, ...]]) -> None:
        self.events.extend(events)

    def take(self) -> list[tuple[Any, ...]]:
        events, self.events = self.events, []
        return events


class ProgressRelay:
    """The driver's end: makes the mailbox, hands tasks a reporter, replays their events."""

    def __init__(self, ray: Any, reporter: Reporter) -> None:
        self.ray = ray
        self.target = reporter
        self.handles: dict[str, Any] = {}
        self.running: set[str] = set()  # labels of tasks that have begun and not yet been collected
        self.shown = ""
        quiet = isinstance(reporter, SilentReporter) or getattr(reporter, "quiet", False)
        self.mailbox = None if quiet else ray.remote(num_cpus=0)(_Mailbox).remote()

    def reporter(self, label: str) -> Reporter | None:
        """The reporter a task of ``label`` uses (None: the task shows nothing)."""
        return None if self.mailbox is None else TaskReporter(self.mailbox, label)

    def drain(self) -> None:
        if self.mailbox is None:
            return
        with suppress(Exception):  # progress must never fail a run
            for event in self.ray.get(self.mailbox.take.remote(), timeout=5):
                self._replay(event)

    def _replay(self, event: tuple[Any, ...]) -> None:
        kind, key = event[0], event[1]
        if kind == "begin":
            self.running.add(key)
        elif kind == "start":
            self.handles[key] = self.target.phase_start(event[2], event[3])
        elif kind == "advance" and key in self.handles:
            self.target.phase_advance(self.handles[key], event[2])
        elif kind == "end" and key in self.handles:
            self.target.phase_end(self.handles.pop(key))

    def collected(self, label: str) -> None:
        self.running.discard(label)

    def show(self, outstanding: int) -> None:
        """Tasks running and queued, on the driver's grid line (only when it changed)."""
        if self.mailbox is None:
            return
        running = min(len(self.running), outstanding)
        line = f"{running} running, {outstanding - running} queued on Ray"
        if line != self.shown:
            self.target.cell_started(line)
            self.shown = line

    def close(self) -> None:
        self.drain()
        for handle in self.handles.values():
            self.target.phase_end(handle)
        self.handles.clear()
        if self.mailbox is not None:
            with suppress(Exception):
                self.ray.kill(self.mailbox)


class TaskReporter(SilentReporter):
    """The worker's end: phases become events in the mailbox; everything else is the driver's."""

    def __init__(self, mailbox: Any, label: str) -> None:
        self.mailbox = mailbox
        self.label = label
        self.pending: list[tuple[Any, ...]] = []
        self.advanced: dict[str, int] = {}
        self.flushed = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {"mailbox": self.mailbox, "label": self.label}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["mailbox"], state["label"])  # type: ignore[misc]

    def begin(self) -> None:
        """The task started on a worker: it counts as running, no longer queued."""
        self.pending.append(("begin", self.label))
        self._flush(force=True)

    def phase_start(self, description: str, total: int | None) -> Any:
        key = uuid.uuid4().hex
        self.pending.append(("start", key, f"{self.label} · {description}", total))
        self._flush(force=True)
        return key

    def phase_advance(self, handle: Any, amount: int) -> None:
        self.advanced[handle] = self.advanced.get(handle, 0) + amount
        self._flush()

    def phase_end(self, handle: Any) -> None:
        self._flush(force=True)
        self.pending.append(("end", handle))
        self._flush(force=True)

    def _flush(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.flushed < FLUSH_S:
            return
        events = self.pending + [("advance", key, n) for key, n in self.advanced.items() if n]
        self.pending, self.advanced, self.flushed = [], {}, time.monotonic()
        if events:
            with suppress(Exception):
                self.mailbox.post.remote(events)
