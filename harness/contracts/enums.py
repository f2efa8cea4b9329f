"""The names the whole harness shares, declared once: component kinds and cell statuses.

Both are :class:`~enum.StrEnum`, so a member equals its text (``Status.DONE == "done"``) and is stored,
exported and compared as that text; code that still spells a literal keeps working, and a test checks that
the store's SQL CHECK, the report's ordering and the renderer's styles cover exactly these members.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a plugin registers; each kind has one hook (``register_<kind>s``) and one contract."""

    DATASET = "dataset"
    GENERATOR = "generator"
    CLASSIFIER = "classifier"
    EVALUATION = "evaluation"  # functional test sets (HateCheck), scored after training; never trained on

    @property
    def hook(self) -> str:
        return f"register_{self.value}s"


class Status(StrEnum):
    """How a cell ended, in the order a leaderboard lists them (the best outcome first)."""

    DONE = "done"
    SKIPPED = "skipped"  # a component declined the cell on purpose (sparsebench.Skip)
    UNAVAILABLE = "unavailable"  # a component cannot run here (sparsebench.Unavailable): missing weights, package, GPU
    TIMEOUT = "timeout"
    ERROR = "error"


KINDS: tuple[Kind, ...] = tuple(Kind)
STATUSES: tuple[Status, ...] = tuple(Status)
#: statuses a rerun keeps; the others are retried
FINAL_STATUSES: frozenset[Status] = frozenset({Status.DONE, Status.SKIPPED})


class Role(StrEnum):
    """What a component is to the analysis, declared by the component (``role = "baseline"``): see
    :mod:`sparsebench.analysis.roles`. None (no role) is an ordinary component."""

    BASELINE = "baseline"
    UPPER_BOUND = "upper-bound"
    CONTROL = "control"


ROLES = tuple(Role)


def role_stamp(generator: type, classifier: type) -> dict[str, object]:
    """The ``details["roles"]`` of a row whose cell uses these two component classes (read by :mod:`sparsebench.analysis.roles`)."""
    return {
        "generator": getattr(generator, "role", None),
        "classifier": getattr(classifier, "role", None),
        "synthetic": bool(getattr(generator, "synthetic", True)),
    }
