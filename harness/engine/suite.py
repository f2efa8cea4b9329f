"""Suites: TOML files that name a grid (datasets, generators, classifiers, levels, seeds) and its settings.

Shipped suites live in ``benchmarks/suites/`` (installed as ``sparsebench.suites``). A suite lists
component specs, or ``"*"`` for every registered component of that kind, and may set per-component
parameters under ``[params.<kind>.<name>]``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from sparsebench.contracts.enums import KINDS, Kind
from sparsebench.contracts.errors import SelectionError, SpecError, UsageError
from sparsebench.contracts.params import parse_spec, resolve_params
from sparsebench.engine.grid import Resolved, resolve
from sparsebench.hooks.registry import Registry
from sparsebench.protocol.sparsity import Protocol

DEFAULT_SUITE = "default"
_SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_TOP = {"name", "description", "datasets", "generators", "classifiers", "evaluations", "exclude", "seeds", "protocol", "run", "params", "only"}
_ONLY = {"seeds", "datasets", "levels"}
_PROTOCOL = {"levels", "base_share", "mode", "split", "prevalence", "calibration_levels"}
_RUN = {"timeout", "generation_timeout", "bootstrap"}
_KINDS = set(KINDS)
MAX_SEEDS = 10_000


@dataclass
class Suite:
    name: str
    description: str = ""
    datasets: list[str] = field(default_factory=lambda: ["toxic-mix"])
    generators: list[str] = field(default_factory=lambda: ["*"])
    classifiers: list[str] = field(default_factory=lambda: ["*"])
    evaluations: list[str] = field(default_factory=lambda: ["*"])
    exclude: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    protocol: Protocol = field(default_factory=Protocol)
    timeout: float | None = None
    generation_timeout: float | None = None
    bootstrap: int = 1000
    params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    source: str = ""
    #: ``[only.<kind>.<name>]``: run cells with that component only at these ``seeds`` / on these ``datasets`` / at
    #: these ``levels`` (shares of positives in training; the base share names the real-only cells)
    only: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def keeps(self, cell: Any) -> bool:
        """Whether ``cell`` passes every ``[only...]`` rule of the components it uses (see docs/suites.md)."""
        names = {"dataset": cell.dataset.label, "generator": cell.generator.name, "classifier": cell.classifier.name}
        for kind, name in names.items():
            rule = self.only.get(kind, {}).get(name, {})
            if "seeds" in rule and cell.seed not in rule["seeds"]:
                return False
            if "datasets" in rule and cell.dataset.label not in rule["datasets"]:
                return False
            if "levels" in rule and not any(math.isclose(cell.level, level) for level in rule["levels"]):
                return False
        return True

    def resolve(self, registry: Registry, kind: str, specs: list[str] | None = None) -> list[Resolved]:
        """The suite's (or the given) components of ``kind``; ``*`` expands to every registered one.

        Errors name where the spec came from: the selection's field (``generators``; the CLI names its option), or
        the suite file and key.
        """
        chosen: list[Resolved] = []
        for text in specs if specs is not None else getattr(self, kind + "s"):
            try:
                chosen += self._resolve_one(registry, kind, text)
            except SpecError as exc:
                detail = f"{exc}{_did_you_mean(registry, kind, text)}"
                if specs is not None:
                    raise SelectionError(f"{kind}s", detail) from None
                raise SpecError(f"{self.source or self.name}: {kind}s: {detail}") from None
        unique = list(dict.fromkeys(chosen))
        if not unique and kind != Kind.EVALUATION:  # a run may score no functional test set
            raise UsageError(f"no {kind}s selected (suite {self.name!r}); see `bench list`")
        return unique

    def _resolve_one(self, registry: Registry, kind: str, text: str) -> list[Resolved]:
        defaults = self.params.get(kind, {})
        if text.strip() == "*":
            names = [n for n in registry.names(kind) if f"{kind}:{n}" not in self.exclude and n not in self.exclude
                     and not getattr(registry.get(kind, n).cls, "needs_parameters", False)]
            return [resolve(registry, kind, parse_spec(n), defaults.get(n)) for n in names]
        spec = parse_spec(text)
        return [resolve(registry, kind, spec, defaults.get(spec.name))]

    def check_params(self, registry: Registry) -> None:
        """Check every ``[params.<kind>.<name>]`` table, so a typo fails before anything runs.

        Tables for components that are not registered are ignored (an optional plugin may be missing),
        unless the name is close to a registered one: then it is most likely a typo.
        """
        for kind, per_name in self.params.items():
            for name, values in per_name.items():
                where = f"{self.source or self.name}: [params.{kind}.{name}]"
                if name in registry.names(kind):
                    resolve_params(where, registry.get(kind, name).cls.parameters, values)
                elif hint := _did_you_mean(registry, kind, name):
                    raise SpecError(f"{where}: no {kind} named {name!r} is registered{hint}")


def _did_you_mean(registry: Registry, kind: str, text: str) -> str:
    name = text.split("[", 1)[0].strip()
    names = registry.names(kind)
    if name in names or name == "*":
        return ""
    by_case = [n for n in names if n.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def find_suite(name_or_path: str) -> Path:
    """A shipped suite by name, or a TOML file by path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        path = Path(name_or_path).expanduser()
        if path.suffix.lower() != ".toml":
            raise UsageError(f"suite file {path} must be a .toml file (or give a shipped suite name: {', '.join(shipped_suites())})")
        if path.is_dir():
            raise UsageError(f"suite file {path} is a directory, not a file; give the .toml file inside it")
        if not path.is_file():
            raise UsageError(f"suite file {path} does not exist")
        return path
    if not _SUITE_NAME.match(name_or_path):
        raise UsageError(f"{name_or_path!r} is not a suite name (letters, digits, '-', '_') or a path to a .toml file")
    shipped = resources.files("sparsebench.suites").joinpath(f"{name_or_path}.toml")
    if not shipped.is_file():
        raise UsageError(f"no suite named {name_or_path!r} (shipped: {', '.join(shipped_suites())}); or pass a path to a .toml file")
    return Path(str(shipped))


def shipped_suites() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("sparsebench.suites").iterdir() if p.name.endswith(".toml"))


def load_suite(name_or_path: str = DEFAULT_SUITE) -> Suite:
    path = find_suite(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the suite ({exc})") from None
    return parse_suite(data, str(path), default_name=path.stem)


def parse_suite(data: dict[str, Any], where: str, default_name: str = "suite") -> Suite:
    _no_unknown(data, _TOP, where, "")
    suite = Suite(name=str(data.get("name", default_name)), description=str(data.get("description", "")), source=where)
    for key in ("datasets", "generators", "classifiers", "evaluations", "exclude"):
        if key in data:
            setattr(suite, key, _strings(data[key], where, key))
    if "seeds" in data:
        suite.seeds = parse_seeds(data["seeds"], f"{where}: seeds")
    suite.protocol = _protocol(data.get("protocol", {}), where)
    run = _table(data.get("run", {}), where, "run")
    _no_unknown(run, _RUN, where, "run")
    suite.timeout = _positive(run.get("timeout"), where, "run.timeout")
    suite.generation_timeout = _positive(run.get("generation_timeout"), where, "run.generation_timeout")
    suite.bootstrap = int(_positive(run.get("bootstrap", 1000), where, "run.bootstrap", allow_zero=True) or 0)
    suite.params = _params(data.get("params", {}), where)
    suite.only = _only(data.get("only", {}), where)
    return suite


def _only(raw: Any, where: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``[only.<kind>.<name>]`` tables: ``seeds`` (as the top-level key), ``datasets`` (specs as listed), ``levels``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, per_name in _table(raw, where, "only").items():
        if kind not in _KINDS:
            raise UsageError(f"{where}: [only.{kind}] must be one of only.dataset, only.generator, only.classifier")
        for name, rule in _table(per_name, where, f"only.{kind}").items():
            table = _table(rule, where, f"only.{kind}.{name}")
            _no_unknown(table, _ONLY, where, f"only.{kind}.{name}")
            parsed: dict[str, Any] = {}
            if "seeds" in table:
                parsed["seeds"] = parse_seeds(table["seeds"], f"{where}: only.{kind}.{name}.seeds")
            if "datasets" in table:
                parsed["datasets"] = _strings(table["datasets"], where, f"only.{kind}.{name}.datasets")
            if "levels" in table:
                raw = _list(table["levels"], where, f"only.{kind}.{name}.levels")
                try:
                    parsed["levels"] = tuple(parse_level(v) for v in raw)
                except UsageError as exc:
                    raise UsageError(f"{where}: only.{kind}.{name}.levels: {exc}") from None
            out.setdefault(kind, {})[str(name)] = parsed
    return out


def _protocol(raw: Any, where: str) -> Protocol:
    table = _table(raw, where, "protocol")
    _no_unknown(table, _PROTOCOL, where, "protocol")
    values: dict[str, Any] = {}
    try:
        if "levels" in table:
            values["levels"] = tuple(parse_level(v) for v in _list(table["levels"], where, "protocol.levels"))
        if "calibration_levels" in table:
            raw = _list(table["calibration_levels"], where, "protocol.calibration_levels")
            values["calibration_levels"] = tuple(parse_level(v) for v in raw)
        for key in ("base_share", "prevalence"):
            if key in table:
                values[key] = parse_level(table[key])
        if "mode" in table:
            values["mode"] = str(table["mode"])
        if "split" in table:
            values["split"] = tuple(float(v) for v in _list(table["split"], where, "protocol.split"))
        return replace(Protocol(), **values).validate()
    except UsageError as exc:
        raise UsageError(f"{where}: [protocol] {exc}") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: [protocol] {exc}") from None


def _params(raw: Any, where: str) -> dict[str, dict[str, dict[str, Any]]]:
    table = _table(raw, where, "params")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, per_name in table.items():
        if kind not in _KINDS:
            raise UsageError(f"{where}: [params.{kind}] must be one of params.dataset, params.generator, params.classifier, params.evaluation")
        out[kind] = {str(name): dict(_table(values, where, f"params.{kind}.{name}")) for name, values in _table(per_name, where, f"params.{kind}").items()}
    return out


def parse_level(value: Any) -> float:
    """``0.05``, ``5%`` or ``"5 %"`` → 0.05."""
    if isinstance(value, bool):
        raise UsageError(f"sparsity level {value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(" ", "")
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"sparsity level {value!r} is not a number; write 5 % as 0.05 or 5%") from None


def parse_seeds(value: Any, where: str) -> list[int]:
    """A list of non-negative integers (also ``"0,1,2"`` or ``"0-4"``)."""
    items: list[Any]
    if isinstance(value, str):
        items = []
        for part in value.split(","):
            part = part.strip()
            if re.fullmatch(r"\d+-\d+", part):
                items += _seed_range(part, where)
            elif part:
                items.append(part)
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    seeds: list[int] = []
    for item in items:
        if isinstance(item, bool) or not re.fullmatch(r"\d+", str(item).strip()) or int(item) >= 2**32:
            raise UsageError(f"{where}: seed {item!r} must be a whole number from 0 to 4294967295")
        seeds.append(int(item))
    if not seeds:
        raise UsageError(f"{where}: no seeds given")
    return list(dict.fromkeys(seeds))


def _seed_range(part: str, where: str) -> list[int]:
    low, high = (int(x) for x in part.split("-"))
    if high < low:
        raise UsageError(f"{where}: seed range {part!r} is empty; write it low-high, as in 0-4")
    if high - low >= MAX_SEEDS:
        raise UsageError(f"{where}: seed range {part!r} has {high - low + 1:,} seeds; at most {MAX_SEEDS:,} are allowed")
    return list(range(low, high + 1))


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str, section: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        place = f"[{section}]" if section else "the top level"
        raise UsageError(f"{where}: unknown key {unknown[0]!r} in {place} (allowed: {', '.join(sorted(allowed))})")


def _table(value: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where}: {key} must be a table")
    return value


def _list(value: Any, where: str, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise UsageError(f"{where}: {key} must be a list")
    return value


def _strings(value: Any, where: str, key: str) -> list[str]:
    items = _list(value, where, key)
    if not all(isinstance(v, str) for v in items):
        raise UsageError(f"{where}: {key} must be a list of strings")
    return items


def _positive(value: Any, where: str, key: str, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)
