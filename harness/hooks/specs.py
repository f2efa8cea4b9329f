"""Hook specifications: plugins register components through these.

Every hook receives a ``register`` callback and calls it once per component class. Hooks only
register; the runner decides when components run and catches their failures per grid cell.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from sparsebench.contracts.enums import KINDS, Kind

PROJECT = "sparsebench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[type], None]


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset classes.

    :param register: call ``register(DatasetClass)`` for each subclass of
        :class:`sparsebench.contracts.components.Dataset` the plugin provides. A wrong type or a name that is
        already taken is reported against this plugin.
    """


@hookspec
def register_generators(register: Register) -> None:
    """Register generator classes.

    :param register: call ``register(GeneratorClass)`` for each subclass of
        :class:`sparsebench.contracts.components.Generator` the plugin provides.
    """


@hookspec
def register_classifiers(register: Register) -> None:
    """Register classifier classes.

    :param register: call ``register(ClassifierClass)`` for each subclass of
        :class:`sparsebench.contracts.components.Classifier` the plugin provides. Classifiers follow the
        scikit-learn estimator contract.
    """


@hookspec
def register_evaluations(register: Register) -> None:
    """Register evaluation sets: functional or challenge test cases scored per trained classifier.

    :param register: call ``register(EvaluationSetClass)`` for each subclass of
        :class:`sparsebench.protocol.functional.EvaluationSet` the plugin provides. Their cases are scored
        at each cell's validation threshold and never used for training, tuning or the threshold.
    """


#: hook name -> the kind of component it registers
HOOKS: dict[str, Kind] = {kind.hook: kind for kind in KINDS}
