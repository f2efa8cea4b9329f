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
