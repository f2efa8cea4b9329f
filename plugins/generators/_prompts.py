"""Prompt sets and the order in which a generation request uses them.

Prompt sets live in TOML files (``prompts/toxic.toml`` is packaged; users add their own with the
``prompts`` parameter). A :class:`PromptPlan` turns a set, a strategy and the real training
positives into a deterministic stream of prompts:

* ``zero-shot``: definition + policy + the task;
* ``few-shot``: the same plus ``shots`` real training positives, taken in a seeded order and rotated
  so that every training positive is shown before any is shown twice;
* ``targeted``: one identity group per prompt, cycling over the set's ``groups``;
* ``mixed``: cycles over the three (few-shot is left out when there are no positives).
"""

from __future__ import annotations

import functools
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsebench import Param, SpecError, UsageError

PACKAGED = Path(__file__).resolve().parent / "prompts" / "toxic.toml"
STRATEGIES = ("zero-shot", "few-shot", "targeted")
CHOICES = (*STRATEGIES, "mixed")
#: the prompting parameters every prompting generator shares (``llm``, ``openai``), so the two stay comparable
PROMPT_PARAMS = (
    Param("prompt_set", "str", "default", "prompt set (bench list generators shows the packaged ones)"),
    Param("prompts", "str", None, "a TOML file with your own prompt sets", nullable=True),
    Param("strategy", "str", "mixed", "prompt strategy", choices=CHOICES),
    Param("shots", "int", 2, "real training positives shown per few-shot prompt", low=1, high=10),
    Param("per_prompt", "int", 5, "comments asked for per prompt (a numbered list)", low=1, high=20),
    Param("temperature", "float", 0.9, "sampling temperature (0: greedy)", low=0.0, high=5.0),
)
_ALLOWED = {
    "zero-shot": {"count", "k"},
    "few-shot": {"count", "k", "examples"},
    "targeted": {"count", "k", "group"},
    "plain": {"system", "user"},
}
EXAMPLE_CHARS = 280


@dataclass(frozen=True)
class PromptSet:
    """One named set of templates (see ``prompts/toxic.toml`` for the fields)."""

    name: str
    description: str
    definition: str
    policy: str
    templates: dict[str, str]
    plain: str
    groups: tuple[str, ...]

    @property
    def system(self) -> str:
        return f"{self.definition.strip()}\n\n{self.policy.strip()}".strip()


@dataclass(frozen=True)
class Prompt:
    """One prompt: the system and user messages, and what it was built from."""

    system: str
    user: str
    strategy: str
    group: str | None = None
    examples: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Everything the model was shown, for detecting echoes."""
        return f"{self.system}\n{self.user}"


@functools.lru_cache(maxsize=8)
def _read(path: str) -> dict[str, PromptSet]:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read prompt file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"prompt file {path} is not valid TOML: {exc}") from None
    return {name: _parse_set(name, table, path) for name, table in raw.items()}


def _parse_set(name: str, table: Any, where: str) -> PromptSet:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: [{name}] must be a table of templates")
    missing = [key for key in ("definition", "policy", *STRATEGIES) if not isinstance(table.get(key), str)]
    if missing:
        raise UsageError(f"{where}: prompt set [{name}] lacks {', '.join(missing)}")
    groups = table.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise UsageError(f"{where}: groups of [{name}] must be a list of strings")
    prompt_set = PromptSet(
        name=name,
        description=str(table.get("description", "")),
        definition=table["definition"],
        policy=table["policy"],
        templates={key: table[key] for key in STRATEGIES},
        plain=str(table.get("plain", "{system}\n\n{user}\n")),
        groups=tuple(groups),
    )
    _check_placeholders(prompt_set, where)
    return prompt_set


def _check_placeholders(prompt_set: PromptSet, where: str) -> None:
    for key, text in [*prompt_set.templates.items(), ("plain", prompt_set.plain)]:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            raise UsageError(f"{where}: template {key!r} of [{prompt_set.name}]: {exc}") from None
        unknown = sorted(fields - _ALLOWED[key])
        if unknown:
            allowed = ", ".join("{" + f + "}" for f in sorted(_ALLOWED[key]))
            raise UsageError(f"{where}: template {key!r} of [{prompt_set.name}] uses {{{unknown[0]}}}; allowed: {allowed}")


def load_sets(extra: str | None = None) -> dict[str, PromptSet]:
    """The packaged prompt sets, with the sets of ``extra`` (a TOML file) added or replacing them."""
    sets = dict(_read(str(PACKAGED)))
    if extra:
        path = Path(extra).expanduser()
        if not path.is_file():
            raise UsageError(f"prompt file {path} does not exist")
        sets.update(_read(str(path.resolve())))
    return sets


def get_set(name: str, extra: str | None = None) -> PromptSet:
    sets = load_sets(extra)
    if name not in sets:
        raise SpecError(f"unknown prompt set {name!r} (known: {', '.join(sorted(sets))})")
    return sets[name]


def listing(extra: str | None = None) -> dict[str, str]:
    """Template texts by name, for ``bench list``."""
    shown: dict[str, str] = {}
    for prompt_set in load_sets(extra).values():
        prefix = f"prompts[{prompt_set.name}]"
        shown[prefix] = prompt_set.description
        shown[f"{prefix}.system"] = prompt_set.system
        for key, text in prompt_set.templates.items():
            shown[f"{prefix}.{key}"] = text
        shown[f"{prefix}.groups"] = ", ".join(prompt_set.groups)
    return shown


def count_phrase(k: int) -> str:
    return "one toxic comment" if k == 1 else f"{k} different toxic comments"


def clip(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """One line of at most ``limit`` characters, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


class PromptPlan:
    """A deterministic stream of prompts for one request."""

    def __init__(self, prompt_set: PromptSet, strategy: str, positives: tuple[str, ...], per_prompt: int, shots: int, seed: int) -> None:
        if strategy not in CHOICES:
            raise SpecError(f"unknown prompt strategy {strategy!r} (choose from {', '.join(CHOICES)})")
        self.prompt_set = prompt_set
        self.per_prompt = per_prompt
        self.shots = shots
        rng = np.random.default_rng([seed, 0x5EED])
        self.positives = [positives[i] for i in rng.permutation(len(positives))]
        self.cycle = self._cycle(strategy)
        self.groups = prompt_set.groups
        self._group_at = int(rng.integers(len(self.groups))) if self.groups else 0
        self._example_at = 0
        self._made = 0

    def _cycle(self, strategy: str) -> tuple[str, ...]:
        if strategy == "mixed":
            return tuple(s for s in STRATEGIES if s != "few-shot" or self.positives)
        if strategy == "few-shot" and not self.positives:
            raise UsageError("the few-shot strategy needs real training positives, and the request has none")
        if strategy == "targeted" and not self.prompt_set.groups:
            raise UsageError(f"prompt set {self.prompt_set.name!r} has no groups for the targeted strategy")
        return (strategy,)

    def take(self, n: int) -> list[Prompt]:
        return [self._next() for _ in range(n)]

    def _next(self) -> Prompt:
        strategy = self.cycle[self._made % len(self.cycle)]
        self._made += 1
        values: dict[str, Any] = {"count": count_phrase(self.per_prompt), "k": self.per_prompt}
        group = None
        examples: tuple[str, ...] = ()
        if strategy == "targeted" and self.groups:
            group = self.groups[self._group_at % len(self.groups)]
            self._group_at += 1
            values["group"] = group
        if strategy == "few-shot":
            examples = self._examples()
            values["examples"] = "\n".join(f'"{clip(text)}"' for text in examples)
        user = self.prompt_set.templates[strategy].format(**values)
        return Prompt(self.prompt_set.system, user, strategy, group, examples)

    def _examples(self) -> tuple[str, ...]:
        """The next ``shots`` positives in the rotation (fewer when there are fewer positives)."""
        count = min(self.shots, len(self.positives))
        picked = [self.positives[(self._example_at + i) % len(self.positives)] for i in range(count)]
        self._example_at += count
        return tuple(picked)
