"""What a component is to the analysis: its declared ``role``, read from a stored row.

A component declares ``role`` beside ``synthetic`` and ``uses_reserve``
(:class:`sparsebench.contracts.components.Component`):

* ``"baseline"`` — a generator every other generator is compared with. The baseline that adds
  nothing (``synthetic = False``, the built-in ``real-only``) is the **reference**: it runs at the
  base share, and a cell's verdict (column ``verdict``) is read against it. Any other baseline
  (``oversample``, or a third party's) is compared at the same level (column ``vs_<name>``).
* ``"upper-bound"`` — a generator of *real* positives (``real-extra``): the positive control, and the
  calibration curve of the exchange rate (:mod:`sparsebench.analysis.exchange`).
* ``"control"`` — a classifier that must not be able to learn the label (``length``): the negative control.
* None — an ordinary component.

The runner stamps each row with the roles of its generator and classifier (``details["roles"]``),
so the analysis never needs a component's name, nor the plugin that declared it. Rows written
before roles were stamped are looked up in the registry of the installed plugins.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sparsebench.contracts.enums import ROLES as ROLES
from sparsebench.contracts.enums import Role

BASELINE, UPPER_BOUND, CONTROL = Role.BASELINE, Role.UPPER_BOUND, Role.CONTROL
REFERENCE_COLUMN = "verdict"


@dataclass(frozen=True)
class RowRoles:
    generator: str | None
    classifier: str | None
    synthetic: bool = True

    @property
    def reference(self) -> bool:
        """Whether the row's generator is the reference baseline (a baseline that adds nothing)."""
        return self.generator == BASELINE and not self.synthetic


def name_of(label: str) -> str:
    """The component name of a label ``name[params]``."""
    return str(label).split("[", 1)[0]


def of(row: Mapping[str, Any]) -> RowRoles:
    """The roles of a stored row (or of a flat leaderboard record that carries ``roles``)."""
    if "generator_role" in row:  # a flat leaderboard record (sparsebench.analysis.leaderboard.flatten)
        return RowRoles(row["generator_role"], row.get("classifier_role"), not row.get("reference", False) or row["generator_role"] != BASELINE)
    stamped = row.get("roles") or (row.get("details") or {}).get("roles")
    if stamped is None:
        stamped = _installed(name_of(row["generator"]), name_of(row["classifier"]))
    return RowRoles(stamped.get("generator"), stamped.get("classifier"), bool(stamped.get("synthetic", True)))


def generator_role(row: Mapping[str, Any]) -> str | None:
    return of(row).generator


def baselines(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, bool]]:
    """``(name, is_reference)`` of every baseline generator among ``rows``: the reference first, then by name."""
    found: dict[str, bool] = {}
    for row in rows:
        roles = of(row)
        if roles.generator == BASELINE:
            found[name_of(row["generator"])] = roles.reference
    return sorted(found.items(), key=lambda item: (not item[1], item[0]))


def verdict_column(baseline: str, reference: bool) -> str:
    """The leaderboard column holding the verdict against ``baseline``: ``verdict`` or ``vs_<name>``."""
    return REFERENCE_COLUMN if reference else "vs_" + baseline.replace("-", "_")


def order(row: Mapping[str, Any]) -> int:
    """Where a row's generator sorts among references: the reference, other baselines, the upper bound, the rest."""
    roles = of(row)
    if roles.reference:
        return 0
    return {BASELINE: 1, UPPER_BOUND: 2}.get(roles.generator or "", 3)


@functools.lru_cache(maxsize=256)
def _installed_cached(generator: str, classifier: str) -> tuple[tuple[str, Any], ...]:
    from sparsebench.contracts.errors import SparsebenchError
    from sparsebench.hooks.loader import load_plugins

    registry = load_plugins().registry
    found: dict[str, Any] = {"generator": None, "classifier": None, "synthetic": True}
    for kind, name in (("generator", generator), ("classifier", classifier)):
        try:
            cls = registry.get(kind, name).cls
        except SparsebenchError:
            continue
        found[kind] = getattr(cls, "role", None)
        if kind == "generator":
            found["synthetic"] = bool(getattr(cls, "synthetic", True))
    return tuple(found.items())


def _installed(generator: str, classifier: str) -> dict[str, Any]:
    """Roles of rows stored before the runner stamped them, from the installed plugins."""
    return dict(_installed_cached(generator, classifier))


def rank(generator: str) -> int:
    """Where a generator label sorts among the references, from the installed plugins' roles (for
    figures and tables that hold only labels): 0 the reference, 1 another baseline, 2 the upper bound, 3 the rest."""
    return order({"generator": generator, "classifier": ""})
