"""``bench cache``: what the generation cache holds, and pruning or clearing it.

A cached chunk is *in use* when a stored cell was computed from it: the cell's generator identity
(name, parameters, version, source) and its data fingerprint equal the chunk's. Chunks of older
versions, of changed data or code, and temporary files of killed writers are what ``prune`` removes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from sparsebench.cli.common import results_option


@dataclass
class _Entry:
    path: Path
    size: int
    generator: str
    in_use: bool


@dataclass
class _Scan:
    entries: list[_Entry] = field(default_factory=list)
    temporary: list[Path] = field(default_factory=list)


@click.group("cache", invoke_without_command=True)
@results_option
@click.pass_context
def cache(ctx: click.Context, results: str | None) -> None:
    """List the generation cache (entries and sizes per generator, and how many stored cells use them).

    \b
    Examples:
      bench cache                 what is cached, and what is in use
      bench cache prune           remove entries no stored cell was computed from
      bench cache clear --yes     remove every entry (texts are generated again when needed)
    """
    ctx.ensure_object(dict)
    ctx.obj["results"] = results
    if ctx.invoked_subcommand is None:
        _list(_scan(_directory(results)))


@cache.command("prune")
@results_option
@click.pass_context
def prune(ctx: click.Context, results: str | None) -> None:
    """Remove cached chunks no stored cell was computed from, and temporary files of killed writers."""
    scan = _scan(_directory(results or ctx.obj.get("results")))
    gone = [e for e in scan.entries if not e.in_use]
    freed = _remove([e.path for e in gone] + scan.temporary)
    click.echo(f"removed {len(gone)} unused entries and {len(scan.temporary)} temporary files ({_mb(freed)}); "
               f"kept {len(scan.entries) - len(gone)} in use")


@cache.command("clear")
@results_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def clear(ctx: click.Context, results: str | None, yes: bool) -> None:
    """Remove every cached chunk; stored results stay, and texts are generated again when needed."""
    scan = _scan(_directory(results or ctx.obj.get("results")))
    if not yes and not click.confirm(f"remove all {len(scan.entries)} cached entries?"):
        click.echo("nothing removed")
        return
    freed = _remove([e.path for e in scan.entries] + scan.temporary)
    click.echo(f"removed {len(scan.entries)} entries ({_mb(freed)})")


def _directory(results: str | None) -> Path:
    from sparsebench.contracts.settings import results_dir

    return results_dir(results)


def _scan(directory: Path) -> _Scan:
    from sparsebench.storage.atomic import read_json_verified

    used = _used(directory)
    scan = _Scan()
    root = directory / "cache"
    for path in sorted(root.glob("*/*")) if root.is_dir() else []:
        if path.name.endswith(".tmp"):
            scan.temporary.append(path)
            continue
        payload = read_json_verified(path) or {}
        meta = payload.get("meta") or {}
        ref = _reference(meta.get("identity"), meta.get("dataset"))
        scan.entries.append(_Entry(path, path.stat().st_size, str(meta.get("generator", "damaged")), ref in used))
    return scan


def _used(directory: Path) -> set[str]:
    """References (generator identity, data fingerprint) of every stored cell."""
    from sparsebench.storage.store import STORE_NAME, ResultStore

    if not (directory / STORE_NAME).exists():
        return set()
    with ResultStore(directory, create=False) as store:
        rows = store.rows()
    return {_reference(r["config"].get("generator"), (r.get("details") or {}).get("dataset_fingerprint")) for r in rows}


def _reference(identity: Any, dataset: Any) -> str:
    return json.dumps([identity, dataset], sort_keys=True, default=str)


def _list(scan: _Scan) -> None:
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    in_use: Counter[str] = Counter()
    for entry in scan.entries:
        sizes[entry.generator] += entry.size
        counts[entry.generator] += 1
        in_use[entry.generator] += entry.in_use
    from sparsebench.contracts.escaping import printable

    for generator in sorted(counts):
        click.echo(f"{printable(generator):<24} {counts[generator]:>6} entries {_mb(sizes[generator]):>10}  {in_use[generator]} in use")
    total = sum(sizes.values())
    click.echo(f"{'total':<24} {len(scan.entries):>6} entries {_mb(total):>10}  {sum(in_use.values())} in use"
               + (f"; {len(scan.temporary)} temporary files" if scan.temporary else ""))


def _remove(paths: list[Path]) -> int:
    freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed


def _mb(size: int) -> str:
    return f"{size / 2**20:.2f} MB"
