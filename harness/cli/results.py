"""``bench leaderboard`` and ``bench show``: read the store, never write it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .common import results_option

_EXTENSIONS = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json", ".html": "html", ".htm": "html", ".txt": "table"}


@click.command("leaderboard")
@results_option
@click.option("--sort", "sort_key", default="auprc", show_default=True, metavar="KEY", help="Sort by a header shown (AUPRC, train/s, ...) or a JSON key.")
@click.option("--ascending", is_flag=True, help="Sort from low to high.")
@click.option("--where", "where", multiple=True, metavar="COND", help="Filter, e.g. generator=oversample, level=5%, status!=done, AUPRC>0.3. Repeatable.")
@click.option("-d", "--dataset", "datasets", multiple=True, metavar="NAME", help="Only this dataset. Repeatable.")
@click.option("-g", "--generator", "generators", multiple=True, metavar="NAME", help="Only this generator. Repeatable.")
@click.option("-c", "--classifier", "classifiers", multiple=True, metavar="NAME", help="Only this classifier. Repeatable.")
@click.option("--columns", metavar="LIST", help="Columns to show, e.g. generator,level,auprc,auroc; or +NAME,-NAME to change the default set.")
@click.option("--wide", is_flag=True, help="Every column (the terminal table may then be cut at its width).")
@click.option("--pivot", is_flag=False, flag_value="auprc", metavar="METRIC", help="Generator × level for one metric (default AUPRC), per classifier.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv", "json", "html"]), help="Output format (default: from -o's extension, else table).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file (.md, .csv, .json, .html, .txt).")
@click.option("--limit", type=click.IntRange(1), help="Show only the first N rows.")
@click.option("--aggregate", is_flag=True, help="One row per configuration: the mean over seeds with a 95% t-interval across seeds.")
def leaderboard(results: str | None, sort_key: str, ascending: bool, where: tuple[str, ...], datasets: tuple[str, ...],
                generators: tuple[str, ...], classifiers: tuple[str, ...], columns: str | None, wide: bool, pivot: str | None,
                fmt: str | None, output: str | None, limit: int | None, aggregate: bool) -> None:
    """Rank stored cells: quality with 95% intervals, generation and training throughput.

    AUPRC (average precision) is the headline metric: at a 0.25% prevalence it is what a
    moderation queue feels. F1@val uses the threshold picked on validation, never on test.
    """
    from ..columns import choose
    from ..controls import controls_for
    from ..report import pick, select
    from .common import check_output

    fmt = _format(fmt, output)
    check_output(output)
    keys = choose(columns, wide)
    with _store(results) as store:
        rows = store.rows()
        records = select(rows, where, sort=sort_key, descending=not ascending, aggregate=aggregate, arrays=store.arrays)
        controls = controls_for(rows, store.arrays) if fmt == "table" and not output and not pivot else []
    for key, names in (("dataset", datasets), ("generator", generators), ("classifier", classifiers)):
        records = pick(records, key, names)
    records = records[:limit] if limit else records
    if pivot:
        _pivot(records, pivot, output)
    elif fmt == "table" and not output:
        from .render import make_console, print_controls, print_leaderboard

        console = make_console()
        print_leaderboard(console, records, f"leaderboard: {len(records)} cells", keys)
        print_controls(console, controls)
    else:
        _write(_render(fmt, records, keys if columns else None), output, len(records))


def _store(results: str | None) -> Any:
    from ..settings import results_dir
    from ..store import ResultStore

    return ResultStore(results_dir(results), create=False)


def _format(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one -o's extension names; a mismatch is refused."""
    from ..errors import UsageError

    if not output:
        return fmt or "table"
    suffix = Path(output).suffix.lower()
    implied = _EXTENSIONS.get(suffix)
    if implied is None and fmt is None:
        raise UsageError(f"-o {output}: cannot tell the format from {suffix or 'no extension'!r}; use .md, .csv, .json, .html or .txt, or pass --format")
    if fmt and implied and fmt != implied:
        raise UsageError(f"-o {output} names {implied} but --format is {fmt}; change one of them")
    return fmt or implied or "table"


def _render(fmt: str, records: list[dict[str, Any]], keys: Any) -> str:
    from ..columns import WIDE
    from ..report import to_csv, to_json, to_markdown

    if fmt == "md":
        return to_markdown(records, keys or WIDE)
    if fmt == "html":
        from ..htmlpage import leaderboard_page

        return leaderboard_page(records, keys or WIDE)
    if fmt == "table":
        from .render import plain_table

        return plain_table(records, keys)
    return {"csv": to_csv, "json": to_json}[fmt](records)


def _write(text: str, output: str | None, count: int) -> None:
    if output:
        from ..atomic import write_bytes
        from ..errors import UsageError

        try:
            write_bytes(Path(output), text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot write -o {output}: {exc.strerror or exc}") from None
        from ..report import printable

        click.echo(printable(f"wrote {count} rows to {output}"), err=True)
    else:
        click.echo(text, nl=False)


def _pivot(records: list[dict[str, Any]], metric: str, output: str | None) -> None:
    from ..columns import resolve
    from ..errors import UsageError

    if output:
        raise UsageError("--pivot prints terminal tables; for a file use --format md|csv|json|html (tidy rows) or `bench report`")
    from ..pivot import pivots
    from .render import make_console, print_pivot

    console = make_console()
    for table in pivots(records, resolve(metric)):
        print_pivot(console, table)


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
