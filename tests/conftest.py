"""Shared fixtures: the real data directory, fresh plugin managers, small real samples."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
#: External plugins tests may load: none. Plugins installed in the environment (say the docs' example, installed to
#: try it) must not change what a test sees; a test that installs a fake distribution allows it by name.
NO_EXTERNAL_PLUGINS = ""
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any torch import, as the CLI does (harness/cli/main.py)


def _data_dir() -> Path:
    env = os.environ.get("SPARSEBENCH_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    if not (path / "README.md").exists():
        raise RuntimeError(f"test data not found at {path}: set SPARSEBENCH_DATA to the shared data directory")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets (``SPARSEBENCH_DATA``, else ``../shared/data``)."""
    return _data_dir()


@pytest.fixture(scope="session", autouse=True)
def _session_env():
    """Module- and session-scoped fixtures read data too: point them at the real data from the start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARSEBENCH_DATA", str(_data_dir()))
        patch.setenv("SPARSEBENCH_PLUGINS", NO_EXTERNAL_PLUGINS)
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test gets its own results directory and the real data directory; no external plugins."""
    monkeypatch.setenv("SPARSEBENCH_DATA", str(_data_dir()))
    monkeypatch.setenv("SPARSEBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", NO_EXTERNAL_PLUGINS)
    monkeypatch.delenv("SPARSEBENCH_STRICT_PLUGINS", raising=False)


@pytest.fixture
def plugins():
    """A fresh plugin manager with the built-in plugins (real discovery, no entry points)."""
    from sparsebench.hooks.loader import load_plugins

    return load_plugins(entry_points=False)


@dataclass
class Sample:
    """A small real sample for classifier tests: positives are common enough to learn from."""

    train_texts: list[str]
    train_labels: np.ndarray
    val_texts: list[str]
    val_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray


@pytest.fixture(scope="session")
def toxic_sample() -> Sample:
    """1,500 train / 300 validation / 600 test rows of toxic-mix with 20 % positives (seeded)."""
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data = ToxicMix(recipe="study", negatives=1920, positives=480, hard_negatives=True).load(DataContext(_data_dir(), download=False, seed=7))
    rng = np.random.default_rng(7)
    order = rng.permutation(len(data.texts))
    texts = [data.texts[i] for i in order]
    labels = data.labels[order].astype(int)
    return Sample(texts[:1500], labels[:1500], texts[1500:1800], labels[1500:1800], texts[1800:], labels[1800:])


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on ``sys.path`` for a fake installed distribution (a plugin found through its entry point)."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path
