"""``bench leaderboard`` and ``bench show``: read the store, never write it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sparsebench.cli.common import metric_option, results_option

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
@metric_option
def leaderboard(results: str | None, sort_key: str, ascending: bool, where: tuple[str, ...], datasets: tuple[str, ...],
                generators: tuple[str, ...], classifiers: tuple[str, ...], columns: str | None, wide: bool, pivot: str | None,
                fmt: str | None, output: str | None, limit: int | None, aggregate: bool, metric: str | None) -> None:
    """Rank stored cells: quality with 95% intervals, generation and training throughput.

    The verdict columns read a paired difference on --metric (AUROC by default) against each
    baseline; "worth" is what a cell is worth in real positives on the same metric. F1@val uses
    the threshold picked on validation, never on test; F1/P/R@0.5 are the study's metrics.
    """
    from sparsebench.analysis.columns import choose
    from sparsebench.analysis.controls import controls_for
    from sparsebench.analysis.leaderboard import pick, select

    fmt = _format(fmt, output)
    keys = choose(columns, wide)
    if metric and not columns:  # the default view shows the verdict's metric beside the verdicts
        keys = list(dict.fromkeys(metric if k == "pauroc@0.1" else k for k in keys))
    with _store(results) as store:
        rows = store.rows()
        records = select(rows, where, sort=sort_key, descending=not ascending, aggregate=aggregate, arrays=store.arrays, metric=metric)
        controls = controls_for(rows, store.arrays, metric) if fmt == "table" and not output and not pivot else []
    for key, names in (("dataset", datasets), ("generator", generators), ("classifier", classifiers)):
        records = pick(records, key, names)
    records = records[:limit] if limit else records
    if pivot:
        _pivot(records, pivot, output)
    elif fmt == "table" and not output:
        from sparsebench.cli.render import make_console, print_controls, print_leaderboard

        console = make_console()
        print_leaderboard(console, records, f"leaderboard: {len(records)} cells", keys)
        print_controls(console, controls)
    else:
        _write(_render(fmt, records, keys if columns else None), output, len(records))


def _store(results: str | None) -> Any:
    from sparsebench.contracts.settings import results_dir
    from sparsebench.storage.store import ResultStore

    return ResultStore(results_dir(results), create=False)


def _format(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one -o's extension names; a mismatch is refused."""
    from sparsebench.contracts.errors import UsageError

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
    from sparsebench.analysis.columns import WIDE
    from sparsebench.analysis.leaderboard import to_csv, to_json, to_markdown

    if fmt == "md":
        return to_markdown(records, keys or WIDE)
    if fmt == "html":
        from sparsebench.render.html import leaderboard_page

        return leaderboard_page(records, keys or WIDE)
    if fmt == "table":
        from sparsebench.cli.render import plain_table

        return plain_table(records, keys)
    return {"csv": to_csv, "json": to_json}[fmt](records)


def _write(text: str, output: str | None, count: int) -> None:
    if output:
        from sparsebench.contracts.errors import UsageError
        from sparsebench.storage.atomic import write_bytes

        try:
            write_bytes(Path(output), text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot write -o {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {count} rows to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _pivot(records: list[dict[str, Any]], metric: str, output: str | None) -> None:
    from sparsebench.analysis.columns import resolve
    from sparsebench.contracts.errors import UsageError

    if output:
        raise UsageError("--pivot prints terminal tables; for a file use --format md|csv|json|html (tidy rows) or `bench report`")
    from sparsebench.analysis.pivot import pivots
    from sparsebench.cli.render import make_console, print_pivot

    console = make_console()
    for table in pivots(records, resolve(metric)):
        print_pivot(console, table)


@click.command("show")
@click.argument("cell")
@results_option
@click.option("--json", "as_json", is_flag=True, help="Print the stored row as JSON.")
@metric_option
def show(cell: str, results: str | None, as_json: bool, metric: str | None) -> None:
    """Show one cell: configuration, status, every metric with its interval, timings, environment.

    CELL is a cell id or an unambiguous prefix of one (at least 4 characters), as in the leaderboard.
    """
    from sparsebench.analysis.exchange import worths
    from sparsebench.analysis.paired import VERDICT_METRIC, comparisons
    from sparsebench.cli.render import make_console
    from sparsebench.contracts.settings import results_dir
    from sparsebench.storage.store import ResultStore

    metric = metric or VERDICT_METRIC
    with ResultStore(results_dir(results), create=False) as store:
        row = store.find(cell)
        rows = store.rows()
        paired = [c for c in comparisons(rows, store.arrays) if any(s.cell == row["cell_id"] for s in c.seeds)]
        worth = worths(rows, store.arrays, metric).get((row["dataset"], row["generator"], row["classifier"], row["level"], row["mode"]))
    paired.sort(key=lambda c: (c.metric != metric, c.baseline, c.metric))
    if as_json:
        click.echo(json.dumps({**row, "verdict_metric": metric, "paired": [c.as_dict() for c in paired],
                               "worth": {"metric": metric, **worth.as_dict()} if worth else None}, indent=2, default=str))
        return
    _render_cell(make_console(), row)
    _render_paired(make_console(), row["cell_id"], paired, metric)
    if worth:
        make_console().print(f"worth in real positives ({metric}, over {worth.seeds} seed{'s' if worth.seeds != 1 else ''}): {worth.text()}",
                             markup=False, highlight=False)


def _render_paired(console: Any, cell_id: str, paired: list[Any], metric: str) -> None:
    from rich.table import Table
    from rich.text import Text

    if not paired:
        return
    table = Table(title=f"paired differences (this cell − baseline, same test rows and resamples); the verdict reads {metric}",
                  title_justify="left")
    for title in ("baseline", "metric", "this seed [95% CI]", "over seeds [95% CI]", "seeds", "verdict"):
        table.add_column(title)
    for comp in paired:
        mine = next(s for s in comp.seeds if s.cell == cell_id)
        table.add_row(Text(comp.baseline), Text(comp.metric), Text(f"{mine.delta:+.4f} [{mine.low:+.4f}, {mine.high:+.4f}]"),
                      Text(f"{comp.delta:+.4f} [{comp.low:+.4f}, {comp.high:+.4f}]"), Text(str(comp.n_seeds)),
                      Text(comp.verdict if comp.metric == metric else f"({comp.verdict})"))
    console.print(table)


def _render_cell(console: Any, row: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from sparsebench.contracts.escaping import printable
    from sparsebench.protocol.metrics import METRIC_KEYS, summary

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
