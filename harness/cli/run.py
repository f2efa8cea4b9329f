"""``bench run``: choose a grid (a suite, narrowed or widened by options), run it, show its leaderboard."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from sparsebench.cli.common import cost_options, metric_option, results_option

_LEVEL_HELP = "Sparsity level (share of positives in training), e.g. 0.05 or 5%. Repeatable."
_GENERATION_TIMEOUT_HELP = (
    "Time limit for one generator's texts (all its levels). Default: the suite's run.generation_timeout, "
    "1800 s for --all and for grids picked with -d/-g/-c (they start from the default suite)."
)


@click.command("run")
@click.option("--all", "run_all", is_flag=True, help="Run the default suite: every registered generator and classifier at the default levels.")
@click.option("--suite", metavar="NAME|FILE", help="Run a suite: a shipped one by name (default, paper) or a TOML file.")
@click.option("-d", "--dataset", "datasets", multiple=True, metavar="SPEC", help="Dataset, e.g. 'toxic-mix[negatives=6000]'. Repeatable.")
@click.option("-g", "--generator", "generators", multiple=True, metavar="SPEC", help="Generator, e.g. oversample or 'llm[strategy=few-shot]'. Repeatable.")
@click.option("-c", "--classifier", "classifiers", multiple=True, metavar="SPEC", help="Classifier, e.g. 'logreg[C=2]'. Repeatable.")
@click.option("-s", "--level", "levels", multiple=True, metavar="LEVEL", help=_LEVEL_HELP)
@click.option("--seeds", metavar="LIST", help="Seeds, e.g. 0,1,2 or 0-4. Each seed re-samples data, splits and generation.")
@click.option("--mode", type=click.Choice(["replace", "add"]), help="replace: synthetic rows replace negatives (the study's); add: keep every real row.")
@click.option("--base-share", metavar="SHARE", help="Share of real positives in training (default 0.25%).")
@click.option("--prevalence", metavar="SHARE", help="Deployment prevalence the metrics are weighted to (default 0.25%).")
@click.option("--timeout", type=float, metavar="SECONDS", help="Time limit per cell (training and scoring).")
@click.option("--generation-timeout", type=float, metavar="SECONDS", help=_GENERATION_TIMEOUT_HELP)
@click.option("--bootstrap", type=click.IntRange(0, 100_000), metavar="N", help="Bootstrap resamples for the 95% intervals (default 1000; 0 disables).")
@click.option("--device", default="auto", show_default=True, metavar="DEVICE", help="auto, cpu, cuda or cuda:N (generators; classifiers set to auto).")
@click.option("--force", is_flag=True, help="Recompute cells that are already stored.")
@click.option("--executor", type=click.Choice(["sequential", "ray"]), default="sequential", show_default=True,
              help="sequential: one cell after another here; ray: spread over a Ray cluster (pip install 'sparsebench[ray]').")
@click.option("--ray-address", metavar="ADDR", envvar="RAY_ADDRESS", show_envvar=True,
              help="With --executor ray: join this cluster (see `ray start --head`); default: start a local Ray.")
@click.option("--dry-run", is_flag=True, help="Show the cells that would run, and which are already stored, then stop.")
@results_option
@click.option("--data", "data", metavar="DIR", envvar="SPARSEBENCH_DATA", show_envvar=True, help="Data directory with the source datasets.")
@click.option("--no-download", is_flag=True, help="Never download missing data files.")
@click.option("--strict-plugins", is_flag=True, help="Stop if any plugin fails to load.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-cell lines; print only the leaderboard.")
@metric_option
@cost_options
def run(run_all: bool, suite: str | None, datasets: tuple[str, ...], generators: tuple[str, ...], classifiers: tuple[str, ...],
        levels: tuple[str, ...], seeds: str | None, mode: str | None, base_share: str | None, prevalence: str | None,
        timeout: float | None, generation_timeout: float | None, bootstrap: int | None, device: str, force: bool,
        executor: str, ray_address: str | None, dry_run: bool,
        results: str | None,
        data: str | None, no_download: bool, strict_plugins: bool, quiet: bool, metric: str | None,
        label_cost: float | None, device_hour_cost: float | None) -> None:
    """Run a benchmark grid and store one row per cell.

    The grid is datasets × seeds × generators × sparsity levels × classifiers. Cells already in the
    store are reused, so running the same command again resumes where it stopped. A failing
    component becomes a row with its status and reason; the run goes on.

    \b
    Examples:
      bench run --all
      bench run --suite paper --device cuda
      bench run -g oversample -g real-extra -c logreg -s 1% -s 5% --seeds 0-2
      bench run -d "file[path=my.csv,label_column=toxic]" -g oversample -c logreg
    """
    from rich.console import Console
    from rich.text import Text

    from sparsebench.cli.render import RichReporter, make_console, print_controls, print_leaderboard
    from sparsebench.contracts.errors import UsageError
    from sparsebench.engine.planner import Selection, check_device, plan, stored_statuses
    from sparsebench.engine.planner import run as run_plan

    if not (run_all or suite or datasets or generators or classifiers):
        raise UsageError("nothing selected: pass --all for the default suite, --suite NAME, or choose with -d/-g/-c (see `bench list`)")
    if run_all and suite:
        raise UsageError("--all runs the default suite; give either --all or --suite, not both")
    check_device(device)
    _export_dirs(data, results)
    selection = Selection(
        suite, datasets, generators, classifiers, levels, seeds, mode, base_share, prevalence, timeout, generation_timeout, bootstrap,
    )
    grid = plan(selection, plugins=_load_plugins(strict_plugins))
    if dry_run:
        from sparsebench.engine.resume import stale_in

        rows = _dataset_rows(grid.cells, data)  # a dataset that refuses its parameters stops here, before the table
        _print_plan(grid.cells, stored_statuses(grid, results), stale_in(grid.cells, results))
        _print_lines(rows)
        return
    console = Console(stderr=True)
    outcome = run_plan(
        grid, results, data, device=device, force=force, download=not no_download, executor=executor, address=ray_address,
        reporter=RichReporter(console, quiet), command=shlex.join(["bench", *sys.argv[1:]]), metric=metric,
        label_cost=label_cost, device_hour_cost=device_hour_cost,
    )
    out = make_console()
    print_leaderboard(out, outcome.records, f"{grid.suite.name}: {len(outcome.records)} cells")
    print_controls(out, outcome.controls)
    if outcome.answer is not None and outcome.answer.parts:
        from sparsebench.cli.summary import print_summary

        print_summary(outcome.answer)
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(outcome.summary.statuses.items()))
    summary = outcome.summary
    stale = f" ({len(summary.stale)} stale)" if summary.stale else ""
    done = f"{len(grid.cells)} cells ({statuses}); computed {summary.computed}{stale}, reused {summary.reused} in {summary.seconds:.1f} s."
    console.print(Text(f"{done} Results: {outcome.store}"))  # a Text, never markup: the path comes from the user


def _load_plugins(strict: bool) -> Any:
    from sparsebench.cli.common import load

    return load(strict=True if strict else None)


def _print_plan(cells: list[Any], stored: dict[str, str], stale: dict[str, str]) -> None:
    """The cells, whether each is stored (``stale`` when a stored row no longer matches), and what changed."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from sparsebench.storage.store import FINAL_STATUSES

    table = Table(title=f"{len(cells)} cells", header_style="bold")
    for header in ("cell", "dataset", "generator", "classifier", "level", "seed", "stored"):
        table.add_column(header)
    for cell in cells:
        status = stored.get(cell.cell_id)
        shown = "stale" if cell.cell_id in stale else (status or "-") + (" (retried)" if status and status not in FINAL_STATUSES else "")
        values = (cell.cell_id[:8], cell.dataset.label, cell.generator.label, cell.classifier.label, f"{cell.level:.2%}", str(cell.seed), shown)
        table.add_row(*(Text(v) for v in values))
    console = Console()
    console.print(table)
    for cell_id, reason in stale.items():
        console.print(Text(f"{cell_id[:8]}: {reason}"), soft_wrap=True)


def _export_dirs(data: str | None, results: str | None) -> None:
    """Make ``--data`` and ``--results`` the process's directories, for plugins that read them (toxigen, openai's cache)."""
    import os

    from sparsebench.contracts.settings import DATA_ENV, RESULTS_ENV

    for name, value in ((DATA_ENV, data), (RESULTS_ENV, results)):
        if value:
            os.environ[name] = str(value)


def _dataset_rows(cells: list[Any], data: str | None) -> list[str]:
    """One line per dataset: the rows it really takes (read at its first seed, never downloaded).

    A dataset that refuses its parameters (more rows than it holds) stops the dry run with its one-line
    reason, as the run would; data files that are not here yet are only reported.
    """
    from sparsebench.contracts.components import DataContext
    from sparsebench.contracts.errors import DataError
    from sparsebench.contracts.settings import data_dir

    folder = data_dir(data)
    lines: dict[str, str] = {}
    for cell in cells:
        label = cell.dataset.label
        if label in lines:
            continue
        try:
            loaded = cell.dataset.build().load(DataContext(folder, download=False, seed=cell.seed))
        except DataError as exc:
            if not getattr(exc, "missing_files", None):
                raise
            lines[label] = f"rows of {label}: not read ({exc})"
            continue
        lines[label] = f"rows of {label} (seed {cell.seed}): {_rows_line(loaded)}"
    return list(lines.values())


def _print_lines(lines: list[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console()
    for line in lines:
        console.print(Text(line), soft_wrap=True)


def _rows_line(loaded: Any) -> str:
    """'31,942 taken (22,849 negatives, 9,093 positives) ...' with the pool sizes when the dataset reports them."""
    positives = int(loaded.labels.sum())
    line = f"{len(loaded.texts):,} taken ({len(loaded.texts) - positives:,} negatives, {positives:,} positives)"
    pool = (loaded.provenance or {}).get("pool")
    if isinstance(pool, dict) and all(isinstance(pool.get(k), dict) for k in ("negatives", "positives")):
        line += f" of {sum(pool['negatives'].values()):,} negatives and {sum(pool['positives'].values()):,} positives in its pool"
    if loaded.reserve:
        line += f"; {len(loaded.reserve):,} more real positives kept out of every split (reserve)"
    return line
