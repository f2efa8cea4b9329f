"""Where sparsebench reads data and writes results: environment variables and their defaults.

* ``SPARSEBENCH_DATA``: the data directory (default: ``<user cache dir>/sparsebench/data``).
* ``SPARSEBENCH_RESULTS``: the results directory (default: ``./results``); the SQLite store and the
  generation cache live there.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SPARSEBENCH_DATA"
RESULTS_ENV = "SPARSEBENCH_RESULTS"


def user_cache_dir() -> Path:
    """The per-user cache directory (XDG on Linux), without importing platformdirs at start-up."""
    from platformdirs import user_cache_dir as _user_cache_dir

    return Path(_user_cache_dir("sparsebench", appauthor=False))


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else ``$SPARSEBENCH_DATA``, else the user cache dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return user_cache_dir() / "data"


def results_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The results directory: ``explicit``, else ``$SPARSEBENCH_RESULTS``, else ``./results``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env).expanduser()
    return Path("results")
