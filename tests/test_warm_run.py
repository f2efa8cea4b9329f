"""A warm run does no model work: stored cells are reused, unavailable ones are settled before any data is loaded.

The second run of the same grid must not load or split data, generate, embed (quality) or fit anything; a run
that adds a classifier reads the generation from the cache and its quality from the stored assessment.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from faults.helpers import write_toxic_csv

import sparsebench.engine.runner as runner
from sparsebench.cli import cli

GRID = ["run", "-d", "file[path=data.csv]", "-g", "template", "-g", "falcon-7b", "-s", "5%", "--bootstrap", "10", "-q"]


def bench(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.fixture()
def workdir(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with write_toxic_csv(tmp_path / "src.csv", data_dir).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    with (tmp_path / "data.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _forbid(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    def refuse(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"a warm run called {name}")
        return call
    for name in names:
        monkeypatch.setattr(runner, name, refuse(name))


def test_a_warm_run_loads_generates_embeds_and_fits_nothing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = bench(*GRID, "-c", "logreg", "--results", "results")
    assert "computed 2" in first and "unavailable" in first  # falcon-7b has no weights here
    _forbid(monkeypatch, "make_splits", "generate", "set_quality", "run_cell")
    second = bench(*GRID, "-c", "logreg", "--results", "results")
    assert "reused 1" in second  # template x logreg; the falcon-7b cell is retried and settled without data


def test_a_new_classifier_reuses_the_generation_and_its_quality(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench(*GRID, "-c", "logreg", "--results", "results")
    quality = list((workdir / "results" / "quality").rglob("*.json"))
    assert len(quality) == 1  # one generated set (template), assessed once
    _forbid(monkeypatch, "set_quality")
    out = bench(*GRID, "-c", "logreg", "-c", "length", "--results", "results")
    assert "reused 1" in out
    from sparsebench.storage.store import ResultStore

    with ResultStore(workdir / "results") as store:
        rows = [r for r in store.rows() if r["status"] == "done"]
    assert len(rows) == 2 and rows[0]["details"]["quality"] == rows[1]["details"]["quality"] != {}
    assert "error" not in rows[1]["details"]["quality"]
