"""The progress display of ``bench run``: quiet, and truthful about what is running.

* The grid bar names the phase under way (``generating with llm``), not only the last cell started,
  and estimates the time left.
* Each finished cell prints one line with its headline metric; errors and timeouts with their reason.
  Unavailable and skipped cells are only counted here: the leaderboard lists each reason once.
* Third-party progress bars are switched off (``TQDM_DISABLE``, ``HF_HUB_DISABLE_PROGRESS_BARS``,
  transformers' own switch) and Python warnings are collected while the grid runs, then printed once
  each, with their count, when it ends.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from sparsebench.contracts.enums import Status
from sparsebench.contracts.escaping import printable

STATUS_STYLE: dict[str, str] = {Status.DONE: "green", Status.ERROR: "red", Status.TIMEOUT: "red", Status.UNAVAILABLE: "yellow", Status.SKIPPED: "dim"}
QUIET_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
COUNTED = (Status.UNAVAILABLE, Status.SKIPPED)


class RichReporter:
    """Progress bars for the grid and for long phases (generation, training, scoring)."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=console, transient=True, disable=quiet,
        )
        self.grid: Any = None
        self.cell = ""
        self.phases: list[str] = []
        self.counted: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self._catcher: Any = None

    # --- the grid ------------------------------------------------------------------------------------

    def start(self, total_cells: int) -> None:
        _silence_third_party_bars()
        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("always")  # every one is counted here, and printed once at the end
        warnings.showwarning = self._collect_warning
        self.progress.start()
        self.grid = self.progress.add_task("cells", total=total_cells)

    def cell_started(self, label: str) -> None:
        self.cell = label
        self._describe()

    def cell_finished(self, label: str, status: str, reason: str, metrics: dict[str, Any] | None = None) -> None:
        self.progress.advance(self.grid)
        if status in COUNTED:
            self.counted[status] += 1
            self._describe()
            return
        if not self.quiet:
            self.progress.console.print(finished_line(label, status, reason, metrics))

    def _describe(self) -> None:
        if self.grid is None:
            return
        now = self.phases[-1] if self.phases else self.cell
        counts = "".join(f" · {n} {status}" for status, n in sorted(self.counted.items()))
        self.progress.update(self.grid, description=f"cells{counts} · {escape(printable(now))}" if now else f"cells{counts}")

    # --- phases --------------------------------------------------------------------------------------

    def phase_start(self, description: str, total: int | None) -> Any:
        self.phases.append(description)
        self._describe()
        return self.progress.add_task(escape(printable(description)), total=total)

    def phase_advance(self, handle: Any, amount: int) -> None:
        self.progress.advance(handle, amount)

    def phase_end(self, handle: Any) -> None:
        self.progress.remove_task(handle)
        if self.phases:
            self.phases.pop()
        self._describe()

    def note(self, message: str) -> None:
        if not self.quiet:
            self.progress.console.print(Text(printable(message), style="dim"))

    def stop(self) -> None:
        self.progress.stop()
        if self._catcher is not None:
            self._catcher.__exit__(None, None, None)
            self._catcher = None
        for message, count in self.warnings.most_common(5):
            times = f" (×{count})" if count > 1 else ""
            self.console.print(Text(f"warning from a library{times}: {printable(message)}", style="yellow"))
        if len(self.warnings) > 5:
            self.console.print(Text(f"... and {len(self.warnings) - 5} other warnings", style="yellow"))

    def _collect_warning(self, message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        name = getattr(category, "__name__", "Warning")
        self.warnings[" ".join(f"{name}: {message}".split())[:300]] += 1


def finished_line(label: str, status: str, reason: str, metrics: dict[str, Any] | None) -> Text:
    """``✓ oversample × logreg @ 5.00% (seed 0) · AUPRC 0.122 [0.030, 0.232]``, or the status and reason."""
    style = STATUS_STYLE.get(status, "")
    line = Text.assemble(("✓ " if status == Status.DONE else "✗ ", style), printable(label))
    auprc = (metrics or {}).get("auprc") or {}
    if status == Status.DONE and auprc.get("value") is not None:
        interval = f" [{auprc['low']:.3f}, {auprc['high']:.3f}]" if auprc.get("low") is not None else ""
        line.append(f" · AUPRC {auprc['value']:.3f}{interval}", style="bold")
    else:
        line.append(f" {status}", style=style)
    if reason:
        line.append(f" · {printable(reason)}", style="dim")
    return line


def _silence_third_party_bars() -> None:
    """Switch off tqdm and Hugging Face progress bars: they would tear the live display apart."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    transformers = sys.modules.get("transformers")
    if transformers is not None:  # already imported: its switch was read at import time
        try:
            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()
        except AttributeError:
            pass
