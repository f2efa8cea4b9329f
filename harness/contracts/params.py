"""Declared component parameters and the ``name[param=value,...]`` spec syntax."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparsebench.contracts.errors import SpecError

_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Param:
    """One parameter a component accepts, with its type, default and the help shown by ``bench list``.

    ``type`` is one of ``"int"``, ``"float"``, ``"str"``, ``"bool"``. ``choices`` limits the values;
    ``low``/``high`` are inclusive bounds for numbers. ``nullable`` lets ``none`` mean "not set".
    """

    name: str
    type: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}")

    def coerce(self, raw: Any, owner: str) -> Any:
        """Turn ``raw`` (a string from the CLI or a TOML value) into a checked value."""
        where = f"{owner}: parameter {self.name!r}"
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in {"none", "null"} and (self.nullable or self.type != "str")):
            if self.nullable:
                return None
            raise SpecError(f"{where} needs a value")
        value = self._convert(raw, where)
        self._check(value, where)
        return value

    def _convert(self, raw: Any, where: str) -> Any:
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise SpecError(f"{where} must be true or false, got {raw!r}")
        if self.type == "str":
            return str(raw)
        if isinstance(raw, bool):
            raise SpecError(f"{where} must be a number, got {raw!r}")
        try:
            number = float(raw) if self.type == "float" else _to_int(raw)
        except (TypeError, ValueError):
            raise SpecError(f"{where} must be {'a number' if self.type == 'float' else 'an integer'}, got {raw!r}") from None
        if self.type == "float" and number != number:
            raise SpecError(f"{where} must be a number, got NaN")
        return number

    def _check(self, value: Any, where: str) -> None:
        if self.choices is not None and value not in self.choices:
            options = ", ".join(str(c) for c in self.choices)
            raise SpecError(f"{where} must be one of {options}; got {value!r}")
        if self.low is not None and value < self.low:
            raise SpecError(f"{where} must be >= {self.low:g}, got {value!r}")
        if self.high is not None and value > self.high:
            raise SpecError(f"{where} must be <= {self.high:g}, got {value!r}")

    def describe(self) -> str:
        """Short text for listings: type, default and constraints."""
        parts = [f"{self.type}, default {self.default!r}"]
        if self.choices is not None:
            parts.append("one of " + "|".join(str(c) for c in self.choices))
        if self.low is not None or self.high is not None:
            low = "" if self.low is None else f"{self.low:g}"
            high = "" if self.high is None else f"{self.high:g}"
            parts.append(f"range [{low}, {high}]")
        return "; ".join(parts)


def _to_int(raw: Any) -> int:
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError(raw)
        return int(raw)
    return int(str(raw).strip().replace("_", ""))


@dataclass(frozen=True)
class Spec:
    """A parsed ``name[param=value,...]``; values stay raw until resolved against a component."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_spec(self.name, self.overrides)


def format_spec(name: str, params: Mapping[str, Any]) -> str:
    """Render ``name[k=v,...]`` with keys sorted; the inverse of :func:`parse_spec` for simple values."""
    if not params:
        return name
    inner = ",".join(f"{key}={_format_value(params[key])}" for key in sorted(params))
    return f"{name}[{inner}]"


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    text = str(value)
    if any(ch in text for ch in ',[]="') or text != text.strip():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def parse_spec(text: str) -> Spec:
    """Parse ``name`` or ``name[key=value,key="a,b"]`` into a :class:`Spec`."""
    text = text.strip()
    if "[" not in text:
        _check_name(text, text)
        return Spec(text, {})
    if not text.endswith("]"):
        raise SpecError(f"{text!r}: a spec with parameters must end with ']' as in name[key=value]")
    name, body = text[: text.index("[")], text[text.index("[") + 1 : -1]
    _check_name(name, text)
    return Spec(name, _parse_pairs(body, text))


def _check_name(name: str, text: str) -> None:
    if not _NAME.match(name):
        raise SpecError(f"{text!r}: {name!r} is not a valid component name (letters, digits, '-', '_', '.')")


def _parse_pairs(body: str, text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in _split_items(body, text):
        if "=" not in item:
            raise SpecError(f"{text!r}: {item!r} is not key=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key.isidentifier():
            raise SpecError(f"{text!r}: {key!r} is not a valid parameter name")
        if key in pairs:
            raise SpecError(f"{text!r}: parameter {key!r} given twice")
        pairs[key] = _unquote(value.strip())
    return pairs


def _split_items(body: str, text: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            current.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise SpecError(f"{text!r}: unterminated quote")
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner)
    return value


def resolve_params(owner: str, declared: Sequence[Param], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``overrides`` against ``declared`` and return every parameter's value (defaults filled in)."""
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise SpecError(f"{owner}: unknown parameter {unknown[0]!r} (known: {known})")
    values = {p.name: p.default for p in declared}
    for key, raw in overrides.items():
        values[key] = by_name[key].coerce(raw, owner)
    return values


def non_defaults(declared: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``values`` that differs from the declared defaults (for short labels)."""
    return {p.name: values[p.name] for p in declared if p.name in values and values[p.name] != p.default}
