"""``bench leaderboard`` and ``bench show``: read the store, never write it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .common import results_option


@click.command("leaderboard")
@results_option
@click.option("--sort", "sort_key", default="auprc", show_default=True, metavar="KEY", help="Sort by any column: auprc, auroc, f1@val, train_s, ...")
@click.option("--ascending", is_flag=True, help="Sort from low to high.")
@click.option("--where", "where", multiple=True, metavar="COND", help="Filter, e.g. generator=oversample, level=5%, status!=done, auprc>0.3. Repeatable.")
@click.option("-d", "--dataset", "datasets", multiple=True, metavar="NAME", help="Only this dataset. Repeatable.")
@click.option("-g", "--generator", "generators", multiple=True, metavar="NAME", help="Only this generator. Repeatable.")
@click.option("-c", "--classifier", "classifiers", multiple=True, metavar="NAME", help="Only this classifier. Repeatable.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv", "json"]), default="table", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of the terminal.")
@click.option("--limit", type=click.IntRange(1), help="Show only the first N rows.")
@click.option("--aggregate", is_flag=True, help="One row per configuration: the mean over seeds with a 95% t-interval across seeds.")
def leaderboard(results: str | None, sort_key: str, ascending: bool, where: tuple[str, ...], datasets: tuple[str, ...],
                generators: tuple[str, ...], classifiers: tuple[str, ...], fmt: str, output: str | None, limit: int | None, aggregate: bool) -> None:
    """Rank stored cells: quality with 95% intervals, generation and training throughput.

    AUPRC (average precision) is the headline metric: at a 0.25% prevalence it is what a
    moderation queue feels. F1@val uses the threshold picked on validation, never on test.
    """

    from ..paired import annotate_rows
    from ..report import select, to_csv, to_json, to_markdown
    from ..settings import results_dir
    from ..store import ResultStore
    from .render import leaderboard_table, make_console, print_reasons

    filters = list(where) + [f"dataset={d}" for d in datasets]
    with ResultStore(results_dir(results), create=False) as store:
        rows = store.rows()
        records = select(rows, filters, sort=sort_key, descending=not ascending, aggregate=aggregate)
        annotate_rows(records, rows, store.arrays)
    records = [r for r in records if _picked(r, "generator", generators) and _picked(r, "classifier", classifiers)]
    records = records[:limit] if limit else records
    if fmt == "table" and not output:
        console = make_console()
        console.print(leaderboard_table(records, title=f"leaderboard: {len(records)} cells", width=console.width))
        print_reasons(console, records)
        return
    text = {"md": to_markdown, "csv": to_csv, "json": to_json}.get(fmt, to_markdown)(records)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(records)} rows to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _picked(record: dict[str, Any], key: str, names: tuple[str, ...]) -> bool:
    if not names:
        return True
    value = str(record[key])
    return any(value == n or value.split("[", 1)[0] == n for n in names)


@click.command("show")
@click.argument("cell")
@results_option
@click.option("--json", "as_json", is_flag=True, help="Print the stored row as JSON.")
def show(cell: str, results: str | None, as_json: bool) -> None:
    """Show one cell: configuration, status, every metric with its interval, timings, environment.

    CELL is a cell id or an unambiguous prefix of one (at least 4 characters), as in the leaderboard.
    """
    from ..paired import comparisons
    from ..settings import results_dir
    from ..store import ResultStore
    from .render import make_console

    with ResultStore(results_dir(results), create=False) as store:
        row = store.find(cell)
        paired = [c for c in comparisons(store.rows(), store.arrays) if any(s.cell == row["cell_id"] for s in c.seeds)]
    if as_json:
        click.echo(json.dumps({**row, "paired": [c.as_dict() for c in paired]}, indent=2, default=str))
        return
    _render_cell(make_console(), row)
    _render_paired(make_console(), row["cell_id"], paired)


def _render_paired(console: Any, cell_id: str, paired: list[Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not paired:
        return
    table = Table(title="paired differences (this cell − baseline, same test rows and resamples)", title_justify="left")
    for title in ("baseline", "metric", "this seed [95% CI]", "over seeds [95% CI]", "seeds", "verdict"):
        table.add_column(title)
    for comp in paired:
        mine = next(s for s in comp.seeds if s.cell == cell_id)
        table.add_row(Text(comp.baseline), Text(comp.metric), Text(f"{mine.delta:+.4f} [{mine.low:+.4f}, {mine.high:+.4f}]"),
                      Text(f"{comp.delta:+.4f} [{comp.low:+.4f}, {comp.high:+.4f}]"), Text(str(comp.n_seeds)), Text(comp.verdict))
    console.print(table)


def _render_cell(console: Any, row: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..metrics import METRIC_KEYS, summary
    from ..report import printable

    head = Table.grid(padding=(0, 2))
    for key in ("cell_id", "dataset", "generator", "classifier", "level", "mode", "seed", "status", "reason", "run_id"):
        value = f"{row[key]:.2%}" if key == "level" else printable(str(row[key]))
        head.add_row(Text(key, style="bold"), Text(value))
    console.print(head)
    if row["metrics"]:
        metrics = Table(title="metrics on test (deployment prevalence), 95% bootstrap intervals", title_justify="left")
        metrics.add_column("metric")
        metrics.add_column("value [95% CI]", justify="right")
        for key in METRIC_KEYS:
            metrics.add_row(Text(key), Text(summary(row["metrics"], key)))
        console.print(metrics)
    for title, data in (("timings", row["timings"]), ("details", _without_trace(row["details"])), ("environment", row["env"])):
        console.print(Text(title, style="bold"))
        console.print(Text(json.dumps(data, indent=2, default=str)))
    trace = row["details"].get("traceback")
    if trace:
        console.print(Text("traceback", style="bold red"))
        console.print(Text(printable(trace)))


def _without_trace(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k != "traceback"}
