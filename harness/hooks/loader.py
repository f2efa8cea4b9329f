"""Plugin discovery: built-in plugins, then entry points of the ``sparsebench`` group, one at a time.

A plugin that fails to import, uses a hook name that does not exist, or registers something invalid
is reported (``bench plugins``) and skipped; ``strict=True`` turns any such failure into an error.
``SPARSEBENCH_PLUGINS`` limits which external plugins load (comma-separated entry-point or
distribution names; set it empty to load none).
"""

from __future__ import annotations

import difflib
import importlib
import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from sparsebench import __version__
from sparsebench.contracts.errors import PluginError
from sparsebench.hooks import specs as hookspecs
from sparsebench.hooks.registry import Registry

ENTRY_POINT_GROUP = "sparsebench"
PLUGINS_ENV = "SPARSEBENCH_PLUGINS"
STRICT_ENV = "SPARSEBENCH_STRICT_PLUGINS"

_CORE = Path(__file__).resolve().parent

DEFAULT_PLUGINS: tuple[str, ...] = (
    "sparsebench.plugins.datasets.toxic_mix",
    "sparsebench.plugins.datasets.single",
    "sparsebench.plugins.datasets.stormfront",
    "sparsebench.plugins.datasets.files",
    "sparsebench.plugins.generators.real_only",
    "sparsebench.plugins.generators.oversample",
    "sparsebench.plugins.generators.real_extra",
    "sparsebench.plugins.generators.template",
    "sparsebench.plugins.generators.eda",
    "sparsebench.plugins.generators.llm",
    "sparsebench.plugins.generators.falcon",
    "sparsebench.plugins.generators.corpus",
    "sparsebench.plugins.generators.served",
    "sparsebench.plugins.classifiers.logreg",
    "sparsebench.plugins.classifiers.mlp",
    "sparsebench.plugins.classifiers.bert",
    "sparsebench.plugins.classifiers.t5",
    "sparsebench.plugins.classifiers.length",
    "sparsebench.plugins.classifiers.charngram",
    "sparsebench.plugins.evaluations.hatecheck",
)


@dataclass
class PluginInfo:
    """What ``bench plugins`` shows for one plugin."""

    name: str
    source: str  # "builtin" or "entry point"
    version: str
    status: str = "ok"  # ok | error | excluded
    error: str = ""
    registered: list[str] = field(default_factory=list)
    distribution: str = ""
    traceback: str = ""  # the full traceback of a load failure, shown under ``bench --debug``

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "registered": list(self.registered),
        }


@dataclass
class Plugins:
    """The loaded plugin manager, the registry it filled, and a report per plugin."""

    manager: pluggy.PluginManager
    registry: Registry
    infos: list[PluginInfo]
    warnings: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[PluginInfo]:
        return [info for info in self.infos if info.status == "error"]


def load_plugins(
    builtins: Iterable[str] = DEFAULT_PLUGINS,
    extra: Iterable[tuple[str, object]] = (),
    entry_points: bool = True,
    strict: bool | None = None,
) -> Plugins:
    """Build a fresh plugin manager, load every plugin safely and fill a registry.

    ``extra`` adds ``(name, module_or_object)`` plugins directly (handy in tests).
    """
    strict = _env_flag(STRICT_ENV) if strict is None else strict
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    loader = _Loader(pm, Registry())
    for module_name in builtins:
        loader.add_builtin(module_name)
    for name, plugin in extra:
        loader.add_object(name, plugin, "extra", __version__)
    if entry_points:
        loader.add_entry_points()
    loaded = Plugins(pm, loader.registry, loader.infos, loader.warnings)
    if strict and loaded.failures:
        first = loaded.failures[0]
        raise PluginError(f"plugin {first.name!r} failed: {first.error}")
    return loaded


class _Loader:
    def __init__(self, pm: pluggy.PluginManager, registry: Registry) -> None:
        self.pm = pm
        self.registry = registry
        self.infos: list[PluginInfo] = []
        self.warnings: list[str] = []

    def add_builtin(self, module_name: str) -> None:
        short = module_name.rsplit(".", 1)[-1].replace("_", "-")
        info = PluginInfo(short, "builtin", __version__, distribution="sparsebench")
        self.infos.append(info)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - a broken built-in is reported like any other plugin
            _fail(info, f"import failed: {_describe(exc)}", exc)
            return
        self._register(info, module)

    def add_object(self, name: str, plugin: object, source: str, version: str) -> None:
        info = PluginInfo(name, source, version)
        self.infos.append(info)
        self._register(info, plugin)

    def add_entry_points(self) -> None:
        allowed = _allowed_plugins()
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist_name = ep.dist.name if ep.dist is not None else ""
            version = ep.dist.version if ep.dist is not None else "?"
            info = PluginInfo(ep.name, "entry point", version, distribution=dist_name)
            self.infos.append(info)
            seen.update((ep.name, dist_name))
            if allowed is not None and ep.name not in allowed and dist_name not in allowed:
                info.status = "excluded"
                info.error = f"not listed in {PLUGINS_ENV}"
                self.registry.exclude(ep.name, PLUGINS_ENV)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never fatal
                _fail(info, f"import of {ep.value!r} failed: {_describe(exc)}", exc)
                continue
            self._register(info, plugin)
        for name in sorted((allowed or set()) - seen):
            self.warnings.append(f"{PLUGINS_ENV} names {name!r}, but no installed plugin has that entry point or distribution name")

    def _register(self, info: PluginInfo, plugin: object) -> None:
        if self.pm.has_plugin(info.name):
            _fail(info, f"a plugin named {info.name!r} is already loaded")
            return
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # noqa: BLE001 - pluggy rejects hookimpls whose arguments the spec lacks
            _fail(info, _describe(exc))
            return
        unknown = "; ".join(filter(None, (_unknown_hooks(self.pm, plugin), _unmarked_hooks(self.pm, plugin))))
        if unknown:
            self.pm.unregister(plugin)
            _fail(info, unknown)
            return
        self._call_hooks(info, plugin)

    def _call_hooks(self, info: PluginInfo, plugin: object) -> None:
        for hook_name, kind in hookspecs.HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                kwargs = {"register": self.registry.callback(kind, info.name)}
                try:
                    impl.function(*[kwargs[arg] for arg in impl.argnames])
                except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never fatal
                    self.registry.remove_plugin(info.name)
                    self.pm.unregister(plugin)
                    _fail(info, f"{hook_name} failed: {_describe(exc)}", exc)
                    return
        info.registered = self.registry.by_plugin(info.name)


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str:
    """A message naming hook implementations that match no spec (usually a typo), or ''."""
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        close = difflib.get_close_matches(caller.name, hookspecs.HOOKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown hook {caller.name!r}{hint}")
    return "; ".join(problems)


def _unmarked_hooks(pm: pluggy.PluginManager, plugin: object) -> str:
    """A message naming functions called like a hook (or nearly) that lack ``@hookimpl``, or ''.

    pluggy ignores unmarked functions, so without this check such a plugin would load as ``ok``
    and register nothing.
    """
    problems = []
    for attr in sorted(dir(plugin)):
        if not attr.startswith("register") or not difflib.get_close_matches(attr, hookspecs.HOOKS, n=1, cutoff=0.85):
            continue
        if callable(getattr(plugin, attr, None)) and pm.parse_hookimpl_opts(plugin, attr) is None:
            problems.append(f"function {attr!r} is not marked @hookimpl (decorate it with `@sparsebench.hookimpl`)")
    return "; ".join(problems)


def _fail(info: PluginInfo, message: str, exc: BaseException | None = None) -> None:
    info.status = "error"
    info.error = message
    if exc is not None:
        info.traceback = "".join(traceback.format_exception(exc))


def _describe(exc: BaseException) -> str:
    """One line: the exception, its message, and the file and line where it was raised."""
    text = str(exc).strip().splitlines()
    head = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    where = _location(exc)
    return f"{head} ({where})" if where else head


def _location(exc: BaseException) -> str:
    """``file, line N`` of a syntax error, else of the innermost frame in the plugin's own code.

    Frames of importlib's machinery and of the sparsebench core (this loader, the registry) are
    skipped: the line to look at is the plugin's.
    """
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_machinery(f.filename)]
    return f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else ""


def _is_machinery(filename: str) -> bool:
    return filename.startswith("<frozen") or "importlib" in Path(filename).parts or Path(filename).parent == _CORE


def _allowed_plugins() -> set[str] | None:
    raw = os.environ.get(PLUGINS_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def plugin_module(name: str) -> ModuleType:
    """Import a built-in plugin module by its dotted name (used by the conformance suite)."""
    return importlib.import_module(name)
