"""``bench report`` and ``bench samples``: read the results directory, never write the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sparsebench.cli.common import check_output, cost_options, metric_option, results_option


@click.command("report")
@results_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: report.html, or study.png / study.svg).")
@click.option("--format", "fmt", type=click.Choice(["html", "png", "svg"]), default="html", show_default=True,
              help="html: the whole report; png or svg: the study's figure alone, for a paper.")
@click.option("--samples", "sample_size", type=click.IntRange(0, 1000), default=12, show_default=True, help="Generated texts shown per generator.")
@click.option("--sample-seed", type=int, default=0, show_default=True, help="Seed of the sample of generated texts.")
@click.option("--title", default="sparsebench report", show_default=True, help="The page's title.")
@click.option("-d", "--dataset", default=None, help="With --format png/svg and several stored datasets: the one to draw (its label or short label).")
@metric_option
@cost_options
def report(results: str | None, output: str | None, fmt: str, sample_size: int, sample_seed: int, title: str, dataset: str | None,
           metric: str | None, label_cost: float | None, device_hour_cost: float | None) -> None:
    """Write one self-contained HTML report of the stored results (opens offline; no script, nothing loaded).

    \b
    It holds the study's figure (precision and recall against the level, per classifier), AUPRC
    against the level with the references, the paired differences and verdicts as a forest plot,
    precision-recall curves, throughput, controls and warnings, a sample of each generator's texts,
    and the configuration and environment of the runs.
    """
    from sparsebench.render.report_page import build, load

    target = Path(output or ("report.html" if fmt == "html" else f"study.{fmt}"))
    _check_suffix(target, fmt)
    check_output(str(target))
    with _open(results) as store:  # the figures read the stored arrays while the store is open
        data = load(store, store.path.parent / "cache" if fmt == "html" else None, metric)
        if not data.records:
            from sparsebench.contracts.errors import UsageError

            raise UsageError(f"the results store {store.path} holds no cells yet; run `bench run --all` first")
        data.title = title
        data.label_cost, data.device_hour_cost = label_cost, device_hour_cost
        if fmt == "html":
            _write(target, build(data, sample_size, sample_seed).encode("utf-8"))
        else:
            _figure(_one_dataset(data, dataset), target, fmt)
    from sparsebench.contracts.escaping import printable

    click.echo(printable(f"wrote {target} ({target.stat().st_size:,} bytes, {len(data.records)} cells)"), err=True)


def _check_suffix(target: Path, fmt: str) -> None:
    from sparsebench.contracts.errors import UsageError

    suffix = target.suffix.lower().lstrip(".")
    if suffix.replace("htm", "html").replace("htmll", "html") != fmt:
        raise UsageError(f"-o {target} does not end in .{fmt} but --format is {fmt}; change one of them")


def _one_dataset(data: Any, wanted: str | None) -> Any:
    """The report data of one dataset: the only one stored, or the one ``--dataset`` names (a figure never mixes two)."""
    from sparsebench.analysis.columns import short_datasets
    from sparsebench.contracts.errors import UsageError

    shorts = short_datasets(data.datasets())
    if wanted is None and len(shorts) == 1:
        return data
    chosen = [label for label, short in shorts.items() if wanted in (label, short)]
    if not chosen:
        names = ", ".join(shorts.values())
        raise UsageError(f"{'no dataset ' + repr(wanted) + ' is stored' if wanted else 'several datasets are stored'}; "
                         f"pick the one to draw with --dataset: {names}")
    return data.restricted(chosen[0], shorts[chosen[0]], "")


def _figure(data: Any, target: Path, fmt: str) -> None:
    import tempfile

    from sparsebench.render import figures
    from sparsebench.render.report_page import folded

    with tempfile.NamedTemporaryFile(dir=target.parent if str(target.parent) else ".", suffix=f".{fmt}", delete=False) as tmp:
        figures.save(figures.study_figure(folded(data)), tmp.name, fmt)
    _write(target, Path(tmp.name).read_bytes())
    Path(tmp.name).unlink()


def _open(results: str | None) -> Any:
    from sparsebench.contracts.settings import results_dir
    from sparsebench.storage.store import ResultStore

    return ResultStore(results_dir(results), create=False)


def _write(target: Path, data: bytes) -> None:
    from sparsebench.contracts.errors import UsageError
    from sparsebench.storage.atomic import write_bytes

    try:
        write_bytes(target, data)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None


@click.command("samples")
@click.argument("generator")
@results_option
@click.option("--seed", type=int, help="The cell seed whose generation to show (when there are several).")
@click.option("--rejected", is_flag=True, help="Also the rejected texts, with the reason for each.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True, help="Output format.")
@click.option("--limit", type=click.IntRange(1), help="Show only the first N texts.")
def samples(generator: str, results: str | None, seed: int | None, rejected: bool, fmt: str, limit: int | None) -> None:
    """The texts GENERATOR wrote in a stored run, as cached, in order (escaped: markup shows literally).

    GENERATOR is a name (llm) or a label as the leaderboard shows it (llm[strategy=few-shot]).
    """
    from sparsebench.storage.samples import as_records, find_generation, label_generations, read_generations

    with _open(results) as store:
        rows = store.rows()
        cache = store.path.parent / "cache"
    generation = find_generation(label_generations(read_generations(cache), rows), generator, seed)
    records = as_records(generation, rejected)[:limit] if limit else as_records(generation, rejected)
    if fmt == "table":
        from sparsebench.cli.render import make_console, print_samples

        print_samples(make_console(), generation, records, rejected)
        return
    from sparsebench.analysis.leaderboard import to_csv
    from sparsebench.storage.samples import to_json

    click.echo(to_json(records) if fmt == "json" else to_csv(records), nl=False)
