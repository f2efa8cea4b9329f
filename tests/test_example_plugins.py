"""The plugin guide's example package (docs/examples/sparsebench-example), installed by pip and run end to end.

The package is what docs/plugins.md shows, file for file: a generator, a classifier and a dataset, each its own
entry point. It is built and installed into a temporary directory (never into the venv), found through real
entry-point discovery, and run by `bench run` on the real data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench.cli import cli
from sparsebench.hooks.loader import load_plugins

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "sparsebench-example"
MODULES = ("shout.py", "words_nb.py", "olid.py")


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package built from a copy (the checkout stays clean) and installed with pip into a directory."""
    source = tmp_path_factory.mktemp("src") / "sparsebench-example"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return site


@pytest.fixture
def example(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(example_site))
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", "sparsebench-example")
    return example_site


def test_the_guide_shows_the_example_files_verbatim() -> None:
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    for name in (*(f"sparsebench_example/{m}" for m in MODULES), "pyproject.toml", "tests/test_example_plugins.py"):
        assert (EXAMPLE / name).read_text(encoding="utf-8").strip() in guide, f"docs/plugins.md must show {name} as it is"


def test_the_example_registers_through_its_entry_points(example: Path) -> None:
    plugins = load_plugins()
    infos = {i.name: i for i in plugins.infos if i.distribution == "sparsebench-example"}
    assert {n: (i.status, i.version, i.registered) for n, i in infos.items()} == {
        "olid": ("ok", "1.0", ["dataset:olid"]),
        "shout": ("ok", "1.0", ["generator:shout"]),
        "words-nb": ("ok", "1.0", ["classifier:words-nb"]),
    }


def test_the_example_runs_end_to_end(example: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = ["run", "-d", "olid", "-g", "shout", "-g", "real-only", "-c", "words-nb", "-s", "1%", "--bootstrap", "50"]
    out = CliRunner().invoke(cli, [*args, "--results", str(results), "-q"])
    assert out.exit_code == 0, out.output
    board = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--format", "json"])
    rows = {row["generator"]: row for row in json.loads(board.stdout)}
    assert set(rows) == {"shout", "real-only"}
    assert {(r["dataset"], r["classifier"], r["status"]) for r in rows.values()} == {("olid", "words-nb", "done")}
    shout, real = rows["shout"], rows["real-only"]
    assert 0 < shout["auprc"] < 1 and 0 < real["auprc"] < 1 and shout["test_rows"] == real["test_rows"] > 1000
    assert (shout["level"], real["level"]) == (0.01, 0.0025) and shout["synthetic"] > 0 and real["synthetic"] == 0
    assert 0 < shout["acceptance_rate"] <= 1
    again = CliRunner().invoke(cli, [*args, "--results", str(results), "-q"])
    assert again.exit_code == 0 and "computed 0, reused 2" in again.stderr, again.output


def test_the_example_passes_its_own_conformance_test(example: Path) -> None:
    """The guide's last step, as its author runs it: pytest on the package's test file."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example), os.environ.get("PYTHONPATH", "")])}
    test = EXAMPLE / "tests" / "test_example_plugins.py"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)], capture_output=True, text=True, env=env, check=False, cwd=example)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
