"""`import sparsebench` is the plugin API: documented, cheap to import, and the only core import of the built-ins."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import sparsebench

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def _core_imports(path: Path) -> set[str]:
    """Modules of the sparsebench core that ``path`` imports (anywhere in the file, not only at the top)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        found.update(m for m in modules if m.startswith("sparsebench.") and not m.startswith("sparsebench.plugins"))
    return found


def test_built_in_plugins_import_only_the_public_surface() -> None:
    offenders = {}
    for path in sorted(PLUGINS.rglob("*.py")):
        if found := _core_imports(path):
            offenders[path.relative_to(PLUGINS).as_posix()] = sorted(found)
    assert offenders == {}, f"built-in plugins must import from `sparsebench` only, as a third-party plugin does: {offenders}"


def test_the_check_sees_a_core_import(tmp_path: Path) -> None:
    module = tmp_path / "plugin.py"
    module.write_text("from sparsebench import hookimpl\n\ndef f():\n    from sparsebench.engine.runner import Runner\n    import sparsebench.storage.store\n")
    assert _core_imports(module) == {"sparsebench.engine.runner", "sparsebench.storage.store"}


def test_every_public_name_resolves_and_is_documented() -> None:
    names = [n for n in sparsebench.__all__ if n != "__version__"]
    assert sorted(names) == sorted(sparsebench._EXPORTS), "__all__ and _EXPORTS must list the same names"
    undocumented = []
    for name in names:
        value = getattr(sparsebench, name)
        if (inspect.isclass(value) or inspect.isfunction(value)) and not (inspect.getdoc(value) or "").strip():
            undocumented.append(name)
    assert undocumented == []
    assert sparsebench.Generator.__module__ == "sparsebench.contracts.components" and sparsebench.hookimpl.project_name == "sparsebench"


def test_importing_sparsebench_stays_cheap() -> None:
    code = "import sys, sparsebench; print(sorted(m for m in ('numpy', 'sklearn', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_plan_and_run_from_python_match_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sparsebench.cli import cli

    spec = dict(datasets=["toxic-mix[negatives=500,positives=100]"], generators=["oversample", "real-only"], classifiers=["logreg"], levels=["1%"], bootstrap=20)
    grid = sparsebench.plan(**spec)
    assert [(c.generator.name, c.level) for c in grid.cells] == [("oversample", 0.01), ("real-only", 0.0025)]
    args = ["run", "-d", spec["datasets"][0], "-g", "oversample", "-g", "real-only", "-c", "logreg", "-s", "1%", "--bootstrap", "20", "--dry-run"]
    listed = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and all(c.cell_id[:8] in listed.stdout for c in grid.cells), listed.output
    outcome = sparsebench.run(grid, results=tmp_path / "results")
    assert {(r["generator"], r["status"]) for r in outcome.records} == {("oversample", "done"), ("real-only", "done")}
    assert sorted(r["cell"] for r in outcome.records) == sorted(c.cell_id[:12] for c in grid.cells)  # the leaderboard's short ids
    assert outcome.store == tmp_path / "results" / "sparsebench.sqlite" and outcome.summary.computed == 2


def test_plan_errors_name_the_field_not_a_cli_option() -> None:
    import pytest

    with pytest.raises(sparsebench.UsageError, match=r"^levels: sparsity level 0.001 must be above the base share 0.0025"):
        sparsebench.plan(generators=["oversample"], classifiers=["logreg"], levels=[0.001])
    with pytest.raises(sparsebench.UsageError, match=r"^seeds: no seeds given"):
        sparsebench.plan(generators=["oversample"], classifiers=["logreg"], seeds=",")
    with pytest.raises(sparsebench.UsageError, match=r"^generators: .*'logreg'"):
        sparsebench.plan(generators=["logreg"], classifiers=["logreg"])
