"""Roles, not names: the core reads what a component is, and a third party's baseline is treated like oversample."""

from __future__ import annotations

import ast
import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench.cli import cli

HARNESS = Path(__file__).resolve().parents[1] / "harness"
BUILT_IN_NAMES = {"real-only", "oversample", "real-extra", "length"}

PLUGIN = """
from sparsebench import GeneratedBatch, Generator, hookimpl


class ReverseCopies(Generator):
    name = "reverse-copies"
    description = "a third party's baseline: the real positives with their words in reverse order"
    role = "baseline"

    def generate(self, request):
        texts = [" ".join(reversed(request.positives[(request.offset + i) % len(request.positives)].split())) for i in range(request.n)]
        yield GeneratedBatch(texts=texts, raw=len(texts))


@hookimpl
def register_generators(register):
    register(ReverseCopies)
"""


def _install(site: Path) -> None:
    """A fake installed distribution with a sparsebench entry point (as tests/test_core_plugins.py does)."""
    os.environ["SPARSEBENCH_PLUGINS"] = "sparsebench-reverse"
    (site / "sb_reverse.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "sparsebench_reverse-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sparsebench-reverse\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sparsebench]\nsparsebench-reverse = sb_reverse\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_a_third_party_baseline_gets_its_own_verdict_column(site: Path, tmp_path: Path) -> None:
    _install(site)
    results = str(tmp_path / "r")
    grid = ["-d", "toxic-mix[negatives=1500,positives=300]", "-g", "real-only", "-g", "reverse-copies", "-g", "template",
            "-c", "logreg", "-s", "5%", "--bootstrap", "50", "--results", results, "-q"]
    run = CliRunner().invoke(cli, ["run", *grid])
    assert run.exit_code == 0, run.output
    records = {r["generator"]: r for r in json.loads(CliRunner().invoke(cli, ["leaderboard", "--results", results, "--format", "json"]).output)}
    assert records["reverse-copies"]["generator_role"] == "baseline" and not records["reverse-copies"]["reference"]
    assert records["template"]["vs_reverse_copies"] in ("helps", "hurts", "no evidence")  # compared with it, like oversample
    assert records["template"]["d_reverse_copies_seeds"] == 1 and records["template"]["verdict"] in ("helps", "hurts", "no evidence")
    assert records["reverse-copies"]["verdict"] in ("helps", "hurts", "no evidence")  # itself read against the reference
    assert records["reverse-copies"]["vs_reverse_copies"] is None  # never against itself
    table = CliRunner().invoke(cli, ["leaderboard", "--results", results], env={"COLUMNS": "200"}).output
    header = next(line for line in table.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")][:2] == ["vs reverse-copies", "vs real-only"]


def _code_strings(path: Path) -> set[str]:
    """The string constants of a module's code, its docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


@pytest.mark.parametrize("module", sorted(str(p.relative_to(HARNESS)) for p in HARNESS.rglob("*.py")))
def test_the_core_never_names_a_built_in_component(module: str) -> None:
    assert not (_code_strings(HARNESS / module) & BUILT_IN_NAMES)


def test_built_ins_declare_their_roles(plugins) -> None:
    roles = {(e.kind, e.name): getattr(e.cls, "role", None) for kind in ("generator", "classifier") for e in plugins.registry.entries(kind)}
    assert roles[("generator", "real-only")] == "baseline" and roles[("generator", "oversample")] == "baseline"
    assert roles[("generator", "real-extra")] == "upper-bound" and roles[("classifier", "length")] == "control"
    assert roles[("generator", "template")] is None and roles[("classifier", "logreg")] is None


def test_an_unknown_role_is_refused_when_the_plugin_registers() -> None:
    from sparsebench.contracts.errors import RegistrationError
    from sparsebench.hooks.registry import Registry
    from sparsebench.plugins.generators.template import TemplateGenerator

    class Misspelt(TemplateGenerator):
        name = "misspelt"
        role = "baseine"

    with pytest.raises(RegistrationError, match="declares role 'baseine'; a role is one of baseline, upper-bound, control or None"):
        Registry().add("generator", Misspelt, "p")
