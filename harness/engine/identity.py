"""What a component's result depends on besides its parameters: its version and its code.

A stored result is only reused when everything that produced it is the same. For a component that is
its name and parameters (in :class:`~sparsebench.engine.grid.Resolved`) plus what this module computes:

* ``version``: the version of the distribution that provides it (the entry point's distribution for
  installed plugins, sparsebench's own for built-ins, ``""`` for a plugin added in-process);
* ``source``: a SHA-256 over the source of the component's module, of the plugin modules it uses
  (followed through the names it imports, so ``llm`` covers ``_decode`` and ``_prompts``), and of the
  data files those modules name with a module-level :class:`~pathlib.Path` (the packaged prompts).

The core code that computes a cell is digested into :func:`protocol_code`, part of every cell's identity. No
list of modules is kept by hand: it is the runner's import closure inside the core, read from the source (every
``import`` and ``from ... import`` statement, those inside functions included, except under ``TYPE_CHECKING``).
A module that a cell's computation can reach (splits, near-duplicates, seeds, metrics, generation) is in it; the
leaderboard, the report and the CLI, which only read stored rows, are not.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

CORE = "sparsebench"
PLUGINS = "sparsebench.plugins"
#: the module that computes cells: its import closure inside the core is the protocol's code
CELL_ROOT = "sparsebench.engine.runner"


def component_identity(cls: type) -> dict[str, str]:
    """``{"version": ..., "source": ...}`` for a component class (memoised per class)."""
    return dict(_identity(cls))


@cache
def _identity(cls: type) -> tuple[tuple[str, str], ...]:
    return (("version", distribution_version(cls.__module__)), ("source", _source_digest(cls)))


def protocol_code() -> str:
    """A digest of the core code a cell's computation imports (:func:`core_closure` of the runner)."""
    return closure_digest(CELL_ROOT)


@cache
def closure_digest(root: str) -> str:
    """SHA-256 over the source files of ``root``'s import closure inside the core (memoised per process)."""
    h = hashlib.sha256()
    for name, path in sorted(core_closure(root).items()):
        h.update(name.encode() + b"\0" + _file_bytes(path) + b"\0")
    return h.hexdigest()


def core_closure(root: str) -> dict[str, Path]:
    """Every core module ``root`` imports, directly or through others, with its source file (plugins excluded)."""
    found: dict[str, Path] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        path = _core_source(name)
        if name in found or path is None:
            continue
        found[name] = path
        todo.extend(n for n in _static_imports(name, path) if n not in found)
    return found


def _core_source(name: str) -> Path | None:
    if not (name == CORE or name.startswith(CORE + ".")) or name == PLUGINS or name.startswith(PLUGINS + "."):
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _static_imports(name: str, path: Path) -> set[str]:
    """Modules named by the import statements of ``path`` (relative ones resolved), outside ``TYPE_CHECKING`` blocks."""
    tree = ast.parse(_file_bytes(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # ``from pkg import module``; non-modules drop out
    return names


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    skip = {id(n) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)}
    nodes: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if id(node) in skip:
            continue
        nodes.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return nodes


@cache
def distribution_version(module: str) -> str:
    """The version of the distribution whose ``sparsebench`` entry point loads ``module`` (or a parent)."""
    if module == CORE or module.startswith(CORE + "."):
        from sparsebench import __version__

        return __version__
    from importlib.metadata import entry_points

    for ep in entry_points(group="sparsebench"):
        target = ep.value.split(":", 1)[0].strip()
        if (module == target or module.startswith(target + ".") or target.startswith(module + ".")) and ep.dist is not None:
            return str(ep.dist.version)
    return ""


def _source_digest(cls: type) -> str:
    modules = _closure(cls)
    h = hashlib.sha256()
    for name in sorted(modules):
        module = modules[name]
        h.update(name.encode() + b"\0" + _file_bytes(_module_file(module)) + b"\0")
        for path in _data_files(module):
            h.update(str(path.name).encode() + b"\0" + _file_bytes(path) + b"\0")
    return h.hexdigest()


def _closure(cls: type) -> dict[str, ModuleType]:
    """The component's module, its non-core base classes' modules, and the plugin modules they import."""
    start = {c.__module__ for c in inspect.getmro(cls) if _is_plugin_module(c.__module__, cls.__module__)}
    found: dict[str, ModuleType] = {}
    todo = sorted(start)
    while todo:
        name = todo.pop()
        module = sys.modules.get(name)
        if module is None or name in found:
            continue
        found[name] = module
        todo.extend(n for n in _imported_modules(module) if n not in found and _is_plugin_module(n, cls.__module__))
    return found


def _imported_modules(module: ModuleType) -> set[str]:
    names = set()
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            names.add(value.__name__)
        elif inspect.isclass(value) or inspect.isfunction(value):
            names.add(getattr(value, "__module__", "") or "")
    return names


def _is_plugin_module(name: str, home: str) -> bool:
    """Plugin code (built-in plugins, or the same top-level package as the component), never the core."""
    if name.startswith(PLUGINS + ".") or name == PLUGINS:
        return True
    if name == CORE or name.startswith(CORE + "."):
        return False
    return name.split(".", 1)[0] == home.split(".", 1)[0]


def _data_files(module: ModuleType) -> list[Path]:
    return sorted({v for v in vars(module).values() if isinstance(v, Path) and v.is_file()})


def _module_file(module: ModuleType | None) -> Path | None:
    path = getattr(module, "__file__", None)
    return Path(path) if path else None


def _file_bytes(path: Path | None) -> bytes:
    if path is None:
        return b""
    try:
        return path.read_bytes()
    except OSError:
        return b""


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Why a stored cell's configuration ``old`` no longer matches ``new``: a short phrase for each difference."""
    reasons = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        reasons.append(_difference(key, old.get(key), new.get(key)))
    return "; ".join(reasons) or "identity changed"


def _difference(key: str, old: Any, new: Any) -> str:
    if old is None:
        return f"{key} was not recorded (stored by an older sparsebench)"
    if isinstance(old, dict) and isinstance(new, dict):
        inner = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        parts = []
        for k in inner:
            if k not in old:
                parts.append(f"{k} not recorded (older sparsebench)")
            elif k == "source" or k == "content" or isinstance(old.get(k), dict):
                parts.append(f"{k} changed")
            else:
                parts.append(f"{k} {old.get(k)!r} → {new.get(k)!r}")
        label = new.get("name", key)
        return f"{key} {label}: {', '.join(parts)}"
    if key == "protocol_code":
        return "the benchmark's scoring code changed"
    return f"{key} {old!r} → {new!r}"
