"""Exceptions raised by the sparsebench core.

Messages are written for people: one line that names the problem and where it is. Only the CLI
turns them into exit codes (see :mod:`sparsebench.cli.main`).
"""

from __future__ import annotations


class SparsebenchError(Exception):
    """Base class of every error the core raises on purpose."""

    exit_code = 1


class UsageError(SparsebenchError):
    """Bad input from the user: an option, a suite, a component spec, a data file."""

    exit_code = 2


class SpecError(UsageError):
    """A component spec such as ``logreg[C=2]`` that cannot be parsed or does not match a component."""


class SelectionError(UsageError):
    """A bad value of one field of a selection (``seeds``, ``levels``, ``generators``, ...).

    The message names the field as the Python API spells it; the CLI names its own option instead.
    """

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}{self.separator}{detail}")

    @property
    def separator(self) -> str:
        """``seeds: no seeds given``, but ``timeout must be a positive number``."""
        return " " if self.detail.startswith("must ") else ": "


class DataError(UsageError):
    """A data file that is missing, unreadable or does not hold what the loader needs."""


class PluginError(SparsebenchError):
    """A plugin that cannot be loaded or registered something invalid (raised only in strict mode)."""


class RegistrationError(PluginError):
    """A plugin registered an object of the wrong type, or a name that is already taken."""


class StoreError(SparsebenchError):
    """The results store cannot be opened or written."""


class Unavailable(SparsebenchError):
    """A component cannot run here (missing weights, missing optional package, no GPU).

    Raised by components; the runner records the cell as ``unavailable`` with this message.
    """


class Skip(SparsebenchError):
    """A component declines a cell on purpose; the runner records it as ``skipped``."""


class CellTimeout(SparsebenchError):
    """A cell ran past its time limit."""
