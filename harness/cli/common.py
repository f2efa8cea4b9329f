"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

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
    from ..manager import load_plugins

    plugins = load_plugins(strict=strict)
    context = click.get_current_context(silent=True)
    debug = bool(context and context.find_root().obj and context.find_root().obj.get("debug"))
    from ..report import printable

    for info in plugins.failures:
        if debug and info.traceback:
            click.echo(info.traceback, err=True, nl=False)
        click.secho(printable(f"warning: plugin {info.name!r} was skipped: {info.error} (see `bench plugins`)"), fg="yellow", err=True)
    for warning in plugins.warnings:
        click.secho(printable(f"warning: {warning}"), fg="yellow", err=True)
    return plugins


def check_output(output: str | None) -> None:
    """Refuse ``-o FILE`` whose directory is missing (it is never created silently) or is a file."""
    from pathlib import Path

    from ..errors import UsageError

    if not output:
        return
    parent = Path(output).expanduser().parent
    if parent.is_dir():
        return
    problem = "is not a directory" if parent.exists() else "does not exist"
    raise UsageError(f"-o {output}: the directory {parent} {problem}; create it first (mkdir -p {parent}) or write elsewhere")
