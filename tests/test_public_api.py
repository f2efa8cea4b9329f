"""`import sparsebench` is the plugin API: documented, cheap to import, and the only core import of the built-ins."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import sparsebench

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
#: the built-in data catalogue and its readers still live in the core (harness/sources.py); moving them into
#: plugins/datasets/ is the one exception left, named here so that nothing else can creep in
CATALOGUE = {"datasets/single.py": "sparsebench.sources", "datasets/toxic_mix.py": "sparsebench.sources"}


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
        allowed = {CATALOGUE[key]} if (key := path.relative_to(PLUGINS).as_posix()) in CATALOGUE else set()
        if extra := _core_imports(path) - allowed:
            offenders[key] = sorted(extra)
    assert offenders == {}, f"built-in plugins must import from `sparsebench` only, as a third-party plugin does: {offenders}"


def test_the_check_sees_a_core_import(tmp_path: Path) -> None:
    module = tmp_path / "plugin.py"
    module.write_text("from sparsebench import hookimpl\n\ndef f():\n    from sparsebench.runner import Runner\n    import sparsebench.store\n")
    assert _core_imports(module) == {"sparsebench.runner", "sparsebench.store"}


def test_every_public_name_resolves_and_is_documented() -> None:
    names = [n for n in sparsebench.__all__ if n != "__version__"]
    assert sorted(names) == sorted(sparsebench._EXPORTS), "__all__ and _EXPORTS must list the same names"
    undocumented = []
    for name in names:
        value = getattr(sparsebench, name)
        if (inspect.isclass(value) or inspect.isfunction(value)) and not (inspect.getdoc(value) or "").strip():
            undocumented.append(name)
    assert undocumented == []
    assert sparsebench.Generator.__module__ == "sparsebench.components" and sparsebench.hookimpl.project_name == "sparsebench"


def test_importing_sparsebench_stays_cheap() -> None:
    code = "import sys, sparsebench; print(sorted(m for m in ('numpy', 'sklearn', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
