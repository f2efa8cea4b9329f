"""Rich rendering: the leaderboard table and the progress display of a run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..report import cell_text, columns_for, printable

STATUS_STYLE = {"done": "green", "error": "red", "timeout": "red", "unavailable": "yellow", "skipped": "dim"}


# Columns dropped first when the terminal is too narrow for all of them.
_DROP_ORDER = ("cell_s", "seed", "auroc", "train_samples_per_s", "acceptance_rate", "generation_texts_per_s", "recall@val", "precision@val", "cell")


def fit_columns(records: list[dict[str, Any]], width: int) -> list[tuple[str, str]]:
    """The leaderboard columns that fit in ``width`` characters, dropping the least important first."""
    columns = columns_for(records)

    def needed(cols: list[tuple[str, str]]) -> int:
        return sum(max([len(h)] + [len(cell_text(r, k)) for r in records]) + 3 for k, h in cols) + 1

    for key in _DROP_ORDER:
        if needed(columns) <= width:
            break
        columns = [c for c in columns if c[0] != key]
    return columns


def make_console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables when the output is a file or a pipe."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=240)


def leaderboard_table(records: list[dict[str, Any]], title: str = "", width: int = 240) -> Table:
    table = Table(title=Text(title) if title else None, show_lines=False, header_style="bold")  # a suite name is data, not markup
    columns = fit_columns(records, width)
    for key, header in columns:
        numeric = key not in ("cell", "dataset", "generator", "classifier", "status")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=key in ("cell", "status"))
    for record in records:
        cells = [Text(cell_text(record, key), style=STATUS_STYLE.get(record["status"], "") if key == "status" else "") for key, _ in columns]
        table.add_row(*cells)
    return table


def print_reasons(console: Console, records: list[dict[str, Any]]) -> None:
    for record in records:
        if record["reason"]:
            style = STATUS_STYLE.get(record["status"], "")
            console.print(Text.assemble((record["cell"][:8], "bold"), " ", (record["status"], style), ": ", printable(record["reason"])))


class RichReporter:
    """Progress bars for the grid and for long phases (generation, training, scoring)."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        )
        self.grid: Any = None

    def start(self, total_cells: int) -> None:
        self.progress.start()
        self.grid = self.progress.add_task("cells", total=total_cells)

    def cell_started(self, label: str) -> None:
        self.progress.update(self.grid, description=f"cells · {escape(printable(label))}")

    def cell_finished(self, label: str, status: str, reason: str) -> None:
        self.progress.advance(self.grid)
        if not self.quiet:
            style = STATUS_STYLE.get(status, "")
            line = Text.assemble(("✓ " if status == "done" else "✗ ", style), printable(label), " ", (status, style))
            if reason:
                line.append(f" · {printable(reason)}", style="dim")
            self.progress.console.print(line)

    def phase_start(self, description: str, total: int | None) -> Any:
        return self.progress.add_task(escape(printable(description)), total=total)

    def phase_advance(self, handle: Any, amount: int) -> None:
        self.progress.advance(handle, amount)

    def phase_end(self, handle: Any) -> None:
        self.progress.remove_task(handle)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.progress.console.print(Text(printable(message), style="dim"))

    def stop(self) -> None:
        self.progress.stop()
