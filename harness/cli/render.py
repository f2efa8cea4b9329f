"""Rich rendering: the leaderboard table and the progress display of a run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sparsebench.analysis.columns import BY_KEY, DEFAULT, DROP_ORDER, WIDE, is_verdict
from sparsebench.analysis.leaderboard import cell_text, columns_for, footnotes, several_seeds
from sparsebench.cli.live import STATUS_STYLE, RichReporter
from sparsebench.contracts.enums import Status
from sparsebench.contracts.escaping import printable

VERDICT_STYLE = {"helps": "bold green", "hurts": "bold red", "no evidence": "dim"}


def fit_columns(records: list[dict[str, Any]], width: int, keys: Sequence[str] = DEFAULT) -> tuple[list[tuple[str, str]], list[str]]:
    """The columns of ``keys`` that fit in ``width`` characters (least important dropped first), and the hidden headers."""
    columns = columns_for(records, keys)

    def needed(cols: list[tuple[str, str]]) -> int:
        return sum(min(_MAX_WIDTH.get(k, 999), max([len(h)] + [len(cell_text(r, k)) for r in records])) + 3 for k, h in cols) + 1

    keep = {"dataset"} if len({r["dataset"] for r in records}) > 1 else set()
    keep |= {"seed"} if several_seeds(records) else set()
    shown_metric = next((r.get("verdict_metric") for r in records if r.get("verdict_metric")), None)
    for key in DROP_ORDER:
        if key in keep:  # never hidden while rows would otherwise look alike
            continue
        if needed(columns) <= width:
            break
        if key == shown_metric:  # the verdicts' metric stays beside the verdicts
            continue
        columns = [c for c in columns if c[0] != key]
    shown = {k for k, _ in columns} | ({"f1@val"} if any(k == "f1" for k, _ in columns) else set())
    blank = {"status"} if all(r["status"] == Status.DONE for r in records) else set()
    wide = columns_for(records, WIDE)
    blank |= {k for k, _ in wide if (is_verdict(k) or k == "worth") and not any(r.get(k) for r in records)}
    hidden = [h.split(" [", 1)[0] for k, h in wide if k not in shown | blank]
    return columns, hidden


_MAX_WIDTH = {"generator": 24, "classifier": 20, "dataset": 30}  # longer labels wrap inside the cell; nothing is cut


def make_console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables when the output is a file or a pipe (unless $COLUMNS says a width)."""
    console = Console(stderr=stderr)
    return console if console.is_terminal or os.environ.get("COLUMNS") else Console(stderr=stderr, width=240)


def leaderboard_table(records: list[dict[str, Any]], title: str = "", width: int = 240, keys: Sequence[str] = DEFAULT) -> tuple[Table, list[str]]:
    """The table of ``records`` fitted to ``width``, and the headers it had to hide."""
    table = Table(title=Text(title) if title else None, show_lines=False, header_style="bold")  # a suite name is data, not markup
    columns, hidden = fit_columns(records, width, keys)
    for key, head in columns:
        numeric = BY_KEY[key].numeric if key in BY_KEY else True
        no_wrap = key in ("cell", "status") or is_verdict(key)
        table.add_column(head, justify="right" if numeric else "left", no_wrap=no_wrap, max_width=_MAX_WIDTH.get(key), overflow="fold")
    for record in records:
        table.add_row(*(Text(cell_text(record, key), style=_style(record, key)) for key, _ in columns))
    return table, hidden


def _style(record: dict[str, Any], key: str) -> str:
    if key == "status":
        return STATUS_STYLE.get(record["status"], "")
    if is_verdict(key):
        return VERDICT_STYLE.get(str(record.get(key) or ""), "")
    return ""


def print_leaderboard(console: Console, records: list[dict[str, Any]], title: str, keys: Sequence[str] = DEFAULT) -> None:
    """The fitted table, then one line per hidden-column set, dataset label, test set and distinct reason.

    With several datasets in view, one table per dataset under its short label (rows keep their order within
    it): the dataset stays visible at any width, and no two datasets' rows can look alike.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["dataset"], []).append(record)
    hidden: list[str] = []
    for members in groups.values():
        head = title if len(groups) == 1 else f"{title} · dataset {members[0].get('dataset_short') or members[0]['dataset']}"
        table, missing = leaderboard_table(members, title=head, width=console.width, keys=keys)
        console.print(table)
        hidden += [h for h in missing if h not in hidden]
    for line in footnotes(records):
        console.print(Text(line, style="dim"))
    if hidden:
        console.print(Text(f"hidden: {', '.join(hidden)} (--wide shows every column, --columns +NAME adds one)", style="dim"))


def print_controls(console: Console, lines: Sequence[str]) -> None:
    """The harness's controls check after the leaderboard: passes in green, failures and warnings in yellow."""
    for line in lines:
        ok = " pass" in line and "FAIL" not in line
        console.print(Text(line, style="green" if ok else "yellow"))


def plain_table(records: list[dict[str, Any]], keys: Sequence[str] | None) -> str:
    """The terminal table as plain text (``-o board.txt``), 240 columns wide, no colours."""
    import io

    buffer = io.StringIO()
    console = Console(file=buffer, width=240, color_system=None, force_terminal=False)
    print_leaderboard(console, records, f"leaderboard: {len(records)} cells", keys or DEFAULT)
    return buffer.getvalue()


def print_pivot(console: Console, pivot: Any) -> None:
    table = Table(title=Text(pivot.title), header_style="bold")
    table.add_column("generator", max_width=24, overflow="fold")
    for level in pivot.levels:
        table.add_column(f"{level:.2%}", justify="right")
    for generator, cells in pivot.rows:
        table.add_row(Text(printable(generator)), *(Text(c) for c in cells))
    console.print(table)
    for line in pivot.notes:
        console.print(Text(printable(line), style="dim"))


def print_samples(console: Console, generation: Any, records: list[dict[str, Any]], rejected: bool) -> None:
    """A generation's texts, numbered, as plain text (never markup), then the rejection counts."""
    head = f"{generation.label} (seed {generation.seed}): {len(generation.texts):,} accepted"
    console.print(Text(printable(head), style="bold"))
    for record in records:
        mark = f"{record['index']:>5}" if record["status"] == "accepted" else "    ✗"
        line = Text(f"{mark}  ")
        if record["reason"]:
            line.append(f"[{printable(record['reason'])}] ", style="yellow")
        line.append(printable(record["text"]))
        console.print(line)
    counts = ", ".join(f"{reason} {n}" for reason, n in generation.rejected.most_common()) or "none"
    console.print(Text(printable(f"rejected by reason: {counts}"), style="dim"))
    if rejected and sum(generation.rejected.values()) and not generation.rejected_texts:
        console.print(Text("the rejected texts themselves were not stored for this generation (generated by an older sparsebench)", style="dim"))


__all__ = ["STATUS_STYLE", "RichReporter", "make_console", "print_leaderboard"]  # RichReporter: the run command's progress display
