"""The registry that plugins fill through the ``register`` callback of each hook."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sparsebench.contracts.components import Classifier, Component, Dataset, Generator
from sparsebench.contracts.enums import ROLES, Kind
from sparsebench.contracts.errors import RegistrationError, SpecError
from sparsebench.protocol.functional import EvaluationSet

BASES: dict[str, type[Component]] = {Kind.DATASET: Dataset, Kind.GENERATOR: Generator, Kind.CLASSIFIER: Classifier, Kind.EVALUATION: EvaluationSet}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-.]*$")


@dataclass(frozen=True)
class Entry:
    """A registered component class and the plugin that registered it."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str


class Registry:
    """Components by kind and name. Names are unique within a kind."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in BASES}
        self._excluded: dict[str, str] = {}  # plugin name -> why it was not loaded

    def exclude(self, plugin: str, why: str) -> None:
        """Note a plugin that was not loaded on purpose, so a lookup of its components can say so."""
        self._excluded[plugin] = why

    def callback(self, kind: str, plugin: str) -> Callable[[type], None]:
        """The ``register`` function handed to ``plugin``'s hook for ``kind``."""

        def register(cls: type) -> None:
            self.add(kind, cls, plugin)

        return register

    def add(self, kind: str, cls: type, plugin: str) -> None:
        base = BASES[kind]
        label = getattr(cls, "__name__", repr(cls))
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise RegistrationError(
                f"plugin {plugin!r} registered {label} as a {kind}, but it is not a subclass of {base.__name__}"
            )
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistrationError(
                f"plugin {plugin!r}: {kind} class {label} needs a lower-case `name` (letters, digits, '-', '_'), got {name!r}"
            )
        role = getattr(cls, "role", None)
        if role is not None and role not in ROLES:
            raise RegistrationError(f"plugin {plugin!r}: {kind} {name!r} declares role {role!r}; a role is one of {', '.join(ROLES)} or None")
        if inspect.isabstract(cls):
            raise RegistrationError(f"plugin {plugin!r}: {kind} {name!r} ({label}) leaves abstract methods unimplemented")
        if kind == "classifier":
            _check_estimator_signature(cls, plugin)
        taken = self._entries[kind].get(name)
        if taken is not None:
            raise RegistrationError(f"plugin {plugin!r}: {kind} name {name!r} is already registered by plugin {taken.plugin!r}")
        self._entries[kind][name] = Entry(kind, name, cls, plugin)

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered (used when its hook fails half-way)."""
        for entries in self._entries.values():
            for name in [n for n, e in entries.items() if e.plugin == plugin]:
                del entries[name]

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self._entries[kind][name]
        except KeyError:
            raise SpecError(self._unknown(kind, name)) from None

    def _unknown(self, kind: str, name: str) -> str:
        if name in self._excluded:
            return f"{kind} {name!r}: its plugin {name!r} is installed but was excluded by {self._excluded[name]}"
        known = ", ".join(sorted(self._entries[kind])) or "none"
        message = f"unknown {kind} {name!r} (registered: {known}; see `bench list`)"
        if self._excluded:
            excluded = ", ".join(sorted(self._excluded))
            message += f"; not loaded, so not searched: {excluded} (excluded by {', '.join(sorted(set(self._excluded.values())))})"
        return message

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str) -> Iterator[Entry]:
        for name in self.names(kind):
            yield self._entries[kind][name]

    def by_plugin(self, plugin: str) -> list[str]:
        return [f"{e.kind}:{e.name}" for kind in BASES for e in self.entries(kind) if e.plugin == plugin]


def _check_estimator_signature(cls: type[Component], plugin: str) -> None:
    """scikit-learn's contract: ``__init__`` takes exactly the declared parameters, by keyword."""
    signature = inspect.signature(cls.__init__)
    accepted = [p.name for p in signature.parameters.values() if p.name != "self"]
    if any(p.kind is p.VAR_KEYWORD or p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        raise RegistrationError(f"plugin {plugin!r}: classifier {cls.name!r} must list its parameters in __init__ (no *args/**kwargs)")
    declared = [p.name for p in cls.parameters]
    if sorted(accepted) != sorted(declared):
        raise RegistrationError(
            f"plugin {plugin!r}: classifier {cls.name!r} declares parameters {declared} but __init__ takes {accepted}"
        )
