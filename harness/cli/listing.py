"""``bench list`` and ``bench plugins``: what is registered, with parameters; what loaded, and why not."""

from __future__ import annotations

import json
from typing import Any

import click

from sparsebench.cli.common import json_option
from sparsebench.contracts.enums import KINDS


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(["datasets", "generators", "classifiers"]))
@json_option
def list_components(kind: str | None, as_json: bool) -> None:
    """List datasets, generators and classifiers with their parameters.

    Parameters are set on the command line as NAME[param=value,...], e.g. 'logreg[C=2]'.
    """
    from sparsebench.cli.common import load
    from sparsebench.cli.render import make_console

    registry = load().registry
    kinds = [kind[:-1]] if kind else list(KINDS)
    listing = {k: [_describe(entry) for entry in registry.entries(k)] for k in kinds}
    if as_json:
        click.echo(json.dumps(listing, indent=2, default=str))
        return
    console = make_console()
    for k in kinds:
        console.print(_table(k, listing[k]))


def _describe(entry: Any) -> dict[str, Any]:
    cls = entry.cls
    info = {
        "name": entry.name,
        "plugin": entry.plugin,
        "description": cls.description,
        "parameters": [
            {"name": p.name, "type": p.type, "default": p.default, "help": p.help, "constraints": p.describe()}
            for p in cls.parameters
        ],
    }
    extra = getattr(cls, "listing", None)
    if callable(extra):
        info["details"] = extra()
    return info


def _table(kind: str, entries: list[dict[str, Any]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{kind}s", title_justify="left", header_style="bold", show_lines=True)
    table.add_column("name", no_wrap=True)
    table.add_column("description / parameters")
    table.add_column("plugin", style="dim")
    for entry in entries:
        body = Text(entry["description"])
        for param in entry["parameters"]:
            body.append(f"\n  {param['name']}", style="cyan")
            body.append(f" ({param['constraints']})", style="dim")
            if param["help"]:
                body.append(f": {param['help']}")
        for key, value in (entry.get("details") or {}).items():
            body.append(f"\n  {key}: ", style="magenta")
            body.append(str(value))
        table.add_row(Text(entry["name"]), body, Text(entry["plugin"]))
    return table


@click.command("plugins")
@json_option
def plugins(as_json: bool) -> None:
    """List plugins: built-in and installed, their version, what each registered, and load errors."""
    from rich.table import Table
    from rich.text import Text

    from sparsebench.cli.render import make_console
    from sparsebench.contracts.escaping import printable
    from sparsebench.hooks.loader import load_plugins

    loaded = load_plugins(strict=False)
    infos = [info.as_dict() for info in loaded.infos]
    for warning in loaded.warnings:
        click.secho(printable(f"warning: {warning}"), fg="yellow", err=True)
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    table = Table(header_style="bold")
    for column in ("plugin", "source", "version", "status", "registered / error"):
        table.add_column(column)
    for info in infos:
        style = {"ok": "green", "error": "red", "excluded": "yellow"}.get(info["status"], "")
        detail = info["error"] if info["status"] != "ok" else ", ".join(info["registered"]) or "(nothing)"
        table.add_row(Text(info["name"]), Text(info["source"]), Text(info["version"]), Text(info["status"], style=style), Text(detail))
    make_console().print(table)
