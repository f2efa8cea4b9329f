"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

#: the option of ``bench run`` that sets each field of a selection (the core's errors name the field)
OPTION_OF = {
    "datasets": "-d/--dataset", "generators": "-g/--generator", "classifiers": "-c/--classifier", "evaluations": "--evaluation",
    "levels": "-s/--level", "seeds": "--seeds", "mode": "--mode", "base_share": "--base-share", "prevalence": "--prevalence",
    "timeout": "--timeout", "generation_timeout": "--generation-timeout", "device": "--device",
}

results_option = click.option(
    "--results",
    "results",
    metavar="DIR",
    envvar="SPARSEBENCH_RESULTS",
    show_envvar=True,
    help="Results directory (SQLite store and generation cache). Default: ./results",
)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


def load(strict: bool | None = None) -> Any:
    """Load plugins; warn (on stderr) about any that failed, unless strict mode made that fatal."""
    from sparsebench.hooks.loader import load_plugins

    plugins = load_plugins(strict=strict)
    context = click.get_current_context(silent=True)
    debug = bool(context and context.find_root().obj and context.find_root().obj.get("debug"))
    for info in plugins.failures:
        if debug and info.traceback:
            click.echo(info.traceback, err=True, nl=False)
        click.secho(f"warning: plugin {info.name!r} was skipped: {info.error} (see `bench plugins`)", fg="yellow", err=True)
    for warning in plugins.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    return plugins


def _check_metric(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from sparsebench.analysis.columns import resolve
    from sparsebench.analysis.paired import METRICS

    key = resolve(value)
    if key not in METRICS:
        raise click.BadParameter(f"{value!r} has no stored paired draws; choose one of: {', '.join(METRICS)}")
    return key


metric_option = click.option(
    "--metric", "metric", metavar="METRIC", callback=_check_metric,
    help=("The metric the verdicts and the worth in real positives read: pauroc@0.1 (default: the standardized partial "
          "AUROC up to a 10% false-positive rate), auroc, auprc or f1@val."),
)


def cost_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--label-cost`` and ``--device-hour-cost``: money per human label and per device hour, for the summary's cost."""
    func = click.option("--device-hour-cost", type=click.FloatRange(min=0), metavar="MONEY",
                        help="What an hour of the generator's device costs; with it the summary prices a real-label equivalent.")(func)
    return click.option("--label-cost", type=click.FloatRange(min=0), metavar="MONEY",
                        help="What one human label costs, shown beside the generated equivalent.")(func)
