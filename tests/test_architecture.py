"""The floor plan holds: imports between the core's rooms flow one way, and the core never reaches into plugins.

docs/architecture.md draws the same order. A module may import its own room and the rooms below it; an import
of a room above it (at module level or inside a function) fails here with the line that does it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sparsebench

#: the rooms, lowest first
ROOMS = ("contracts", "protocol", "hooks", "storage", "analysis", "engine", "render", "cli")
#: modules at the top of the package and the room they count as
TOP = {"testing": "render", "__init__": "cli"}
CORE = Path(sparsebench.__file__).parent


def _room(path: Path) -> str:
    rel = path.relative_to(CORE).parts
    return TOP[rel[0][:-3]] if len(rel) == 1 else rel[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def _core_modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "plugins" not in p.relative_to(CORE).parts[:1]
                  and "suites" not in p.relative_to(CORE).parts[:1])


def test_every_room_is_known() -> None:
    rooms = {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"plugins", "suites"}
    assert rooms == set(ROOMS)


def test_imports_flow_one_way() -> None:
    against = []
    for path in _core_modules():
        own = ROOMS.index(_room(path))
        for line, name in _imports(path):
            parts = name.split(".")
            if parts[0] != "sparsebench" or len(parts) < 2 or parts[1] not in ROOMS:
                continue
            if ROOMS.index(parts[1]) > own:
                against.append(f"{path.relative_to(CORE)}:{line} imports {name}")
    assert not against, "imports against the flow " + " < ".join(ROOMS) + ":\n" + "\n".join(against)


def test_the_core_never_imports_a_plugin_or_uses_relative_imports() -> None:
    bad = []
    for path in _core_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                bad.append(f"{path.relative_to(CORE)}:{node.lineno} relative import")
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{path.relative_to(CORE)}:{node.lineno} imports {n}" for n in names if n.startswith("sparsebench.plugins")]
    assert not bad, "\n".join(bad)


def test_every_room_ships_in_the_wheel() -> None:
    """setup.cfg lists packages by hand (``package_dir`` maps ``harness`` to ``sparsebench``): a room left off would be
    missing from a wheel while an editable install still imports it."""
    import configparser

    config = configparser.ConfigParser()
    config.read(CORE.parent / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    packages = {".".join(("sparsebench", *p.parent.relative_to(CORE).parts)) for p in CORE.rglob("__init__.py")
                if p.parent.relative_to(CORE).parts[:1] not in (("plugins",), ("suites",))}
    assert packages <= listed, f"add to setup.cfg [options] packages: {sorted(packages - listed)}"
