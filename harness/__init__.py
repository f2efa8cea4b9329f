"""sparsebench: does synthetic toxic text help classifiers that starve for positives?

This module is the whole API a plugin author needs (the built-in plugins use nothing else)::

    from sparsebench import GeneratedBatch, Generator, Param, hookimpl

* :data:`hookimpl` marks the hook functions of a plugin (``register_datasets``, ``register_generators``,
  ``register_classifiers``), each called with a :data:`Register` callback.
* The contracts: :class:`Dataset` (``load(ctx: DataContext) -> LabelledTexts``), :class:`Generator`
  (``generate(request: GenerationRequest) -> Iterator[GeneratedBatch]``) and :class:`Classifier`
  (the scikit-learn estimator contract over raw texts, with an optional :data:`Validation` split);
  :class:`EvaluationSet` (``load(ctx) -> FunctionalCases``) for functional test sets such as HateCheck.
* :class:`Param` declares a parameter (type, default, bounds, help); :func:`format_spec` writes
  ``name[key=value]`` labels.
* Errors that mean something to the runner: :class:`Unavailable` (cannot run here: the cell is
  ``unavailable`` with the reason), :class:`Skip` (declines a cell on purpose), :class:`DataError`
  (bad input data, with the file and line), :class:`SpecError` / :class:`UsageError` (bad parameters).
* :func:`plan` and :func:`run` are ``bench run`` from Python: a suite plus a :class:`Selection` (or its
  fields as keywords) become cells, and the cells run into a results store.
* :func:`quiet_transformers` silences transformers' load reports and progress bars while a plugin loads weights;
  :func:`phase` reports long work as a progress bar; :func:`dedup_key` is the text identity that
  ``GenerationRequest.is_known`` and the leakage guard use; :func:`sha256_file` checksums data files; :func:`data_dir` and :func:`results_dir`
  are the data and results directories (``SPARSEBENCH_DATA``, ``SPARSEBENCH_RESULTS``), for plugins that
  read data outside a :class:`DataContext` or keep a cache beside the results.

Names load on first use, so ``import sparsebench`` (and ``bench --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the core module that defines it (relative to sparsebench)
_EXPORTS: dict[str, str] = {
    "hookimpl": "hooks.specs",
    "Register": "hooks.specs",
    "Component": "contracts.components",
    "Dataset": "contracts.components",
    "Generator": "contracts.components",
    "Classifier": "contracts.components",
    "DataContext": "contracts.components",
    "LabelledTexts": "contracts.components",
    "GenerationRequest": "contracts.components",
    "GeneratedBatch": "contracts.components",
    "Validation": "contracts.components",
    "EvaluationSet": "protocol.functional",
    "FunctionalCases": "protocol.functional",
    "Param": "contracts.params",
    "format_spec": "contracts.params",
    "SparsebenchError": "contracts.errors",
    "UsageError": "contracts.errors",
    "SpecError": "contracts.errors",
    "DataError": "contracts.errors",
    "Unavailable": "contracts.errors",
    "Skip": "contracts.errors",
    "phase": "contracts.progress",
    "current_reporter": "contracts.progress",
    "dedup_key": "contracts.fingerprints",
    "sha256_file": "contracts.fingerprints",
    "user_cache_dir": "contracts.settings",
    "data_dir": "contracts.settings",
    "results_dir": "contracts.settings",
    "quiet_transformers": "protocol.transformers_logging",
    "Selection": "engine.planner",
    "plan": "engine.planner",
    "run": "engine.planner",
}

__all__ = [  # the same names as _EXPORTS (tests/test_public_api.py checks), spelled out for type checkers and linters
    "__version__", "hookimpl", "Register", "Component", "Dataset", "Generator", "Classifier", "DataContext", "LabelledTexts",
    "GenerationRequest", "GeneratedBatch", "Validation", "EvaluationSet", "FunctionalCases",
    "Param", "format_spec", "SparsebenchError", "UsageError", "SpecError",
    "DataError", "Unavailable", "Skip", "phase", "current_reporter", "dedup_key", "sha256_file", "user_cache_dir", "quiet_transformers",
    "data_dir", "results_dir",
    "Selection", "plan", "run",
]

if TYPE_CHECKING:
    from sparsebench.contracts.components import (
        Classifier,
        Component,
        DataContext,
        Dataset,
        GeneratedBatch,
        GenerationRequest,
        Generator,
        LabelledTexts,
        Validation,
    )
    from sparsebench.contracts.errors import DataError, Skip, SparsebenchError, SpecError, Unavailable, UsageError
    from sparsebench.contracts.fingerprints import dedup_key, sha256_file
    from sparsebench.contracts.params import Param, format_spec
    from sparsebench.contracts.progress import current as current_reporter
    from sparsebench.contracts.progress import phase
    from sparsebench.contracts.settings import data_dir, results_dir, user_cache_dir
    from sparsebench.engine.planner import Selection, plan, run
    from sparsebench.hooks.specs import Register, hookimpl
    from sparsebench.protocol.functional import EvaluationSet, FunctionalCases
    from sparsebench.protocol.transformers_logging import quiet_transformers


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sparsebench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), "current" if name == "current_reporter" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
