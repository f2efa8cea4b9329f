"""``bench``: the entry point, global options, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from sparsebench import __version__
from sparsebench.contracts.errors import SparsebenchError

_COMMANDS = {
    "run": ("sparsebench.cli.run", "run"),
    "list": ("sparsebench.cli.listing", "list_components"),
    "plugins": ("sparsebench.cli.listing", "plugins"),
    "leaderboard": ("sparsebench.cli.results", "leaderboard"),
    "show": ("sparsebench.cli.results", "show"),
    "summary": ("sparsebench.cli.summary", "summary"),
    "cache": ("sparsebench.cli.cache", "cache"),
    "report": ("sparsebench.cli.report", "report"),
    "samples": ("sparsebench.cli.report", "samples"),
}


class BenchGroup(click.Group):
    """Loads commands on demand and turns sparsebench errors into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        import importlib

        module, attr = _COMMANDS[name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except SparsebenchError as exc:
            _fail(ctx, str(exc) if exc.exit_code == 130 else f"Error: {_in_cli_words(exc)}", exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "Interrupted. Finished cells are stored; run the same command again to resume.", 130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no raw traceback for users
            message = " ".join(str(exc).split()) or type(exc).__name__
            _fail(ctx, f"Internal error: {type(exc).__name__}: {message} (run `bench --debug ...` for the traceback)", 1)


def _in_cli_words(exc: SparsebenchError) -> str:
    """The message, with a selection field (``seeds``) named as the option that sets it (``--seeds``)."""
    from sparsebench.cli.common import OPTION_OF
    from sparsebench.contracts.errors import SelectionError

    if not isinstance(exc, SelectionError):
        return str(exc)
    options = ", ".join(OPTION_OF.get(field, field) for field in exc.field.split(", "))
    return f"{options}{exc.separator}{exc.detail}"


def _fail(ctx: click.Context, message: str, code: int) -> None:
    """Print one line (the traceback too under ``--debug``) and exit with ``code``."""
    from sparsebench.contracts.escaping import printable

    if ctx.obj and ctx.obj.get("debug"):
        traceback.print_exc()
    click.secho(printable(message).replace("\n", "\\n"), fg="yellow" if code == 130 else "red", err=True)  # one line
    ctx.exit(code)


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sparsebench")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """sparsebench: does synthetic toxic text help classifiers that starve for positives?

    Runs every generator (LLM prompting, templates, augmentation, baselines) against every
    classifier at every sparsity level, and ranks them in a leaderboard with confidence intervals
    and throughput timings.

    \b
    Quick start:
      bench run --all            run the default suite (minutes on a laptop CPU)
      bench leaderboard          show stored results
      bench list                 datasets, generators and classifiers with their parameters

    Data is read from $SPARSEBENCH_DATA; results go to ./results (or $SPARSEBENCH_RESULTS).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    # OpenMP threads that spin while waiting make torch 3-10x slower when the CPU is shared with another
    # busy process (two `bench run`, or tests); on idle cores a brief spin is 2x faster than sleeping at
    # once (sparsebench.engine.environment.openmp_wait_policy). It only takes effect
    # before torch is first imported, which no command does before this point. `bench run` measures
    # whether the cores are idle now (a quarter of a second) and chooses; the other commands sleep.
    # An explicit OMP_WAIT_POLICY in the environment wins.
    if ctx.invoked_subcommand == "run" and "OMP_WAIT_POLICY" not in os.environ:
        from sparsebench.engine.environment import openmp_wait_policy

        os.environ.update(openmp_wait_policy())
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="bench"))
