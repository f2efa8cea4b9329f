"""A cell's code identity is the import closure of the runner inside the core, not a list kept by hand.

The package is copied to a temporary folder and run from there (``PYTHONPATH`` comes before the editable install):
an edit to a module that can change a number (near-duplicates, seeds, metrics, splits, the leakage guard) makes
the stored cell stale and the next run computes it again; an edit to a module that only reads stored rows (the
leaderboard, the report's figures, the CLI's rendering) leaves it reused.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faults.helpers import write_toxic_csv

import sparsebench
import sparsebench.plugins
import sparsebench.suites

RUN = ["run", "-d", "file[path=data.csv]", "-g", "oversample", "-c", "logreg", "-s", "5%", "--bootstrap", "10", "-q"]

#: modules whose code can change a number, and an edit to each that keeps it working
CHANGES_A_NUMBER = {
    "protocol/shortcuts.py": ("_MIN_SHARED_RARE = 3", "_MIN_SHARED_RARE = 4"),  # the near-duplicate rule
    "protocol/seeds.py": ('"\\x1f".join', '"\\x1e".join'),
    "protocol/metrics.py": ("from __future__ import annotations", "from __future__ import annotations  # edited"),
    "protocol/sparsity.py": ("from __future__ import annotations", "from __future__ import annotations  # edited"),
    "protocol/leakage.py": ("NEAR_DUPLICATE_JACCARD = 0.8", "NEAR_DUPLICATE_JACCARD = 0.7"),
}
#: modules that only read stored rows
READS_ONLY = ("render/figures.py", "analysis/leaderboard.py", "cli/render.py", "render/report_page.py")


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed package laid out as it is imported, under a temporary site folder."""
    site = tmp_path_factory.mktemp("site")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(sparsebench.__file__).parent, site / "sparsebench", ignore=ignore)
    shutil.rmtree(site / "sparsebench" / "plugins", ignore_errors=True)
    shutil.copytree(Path(sparsebench.plugins.__file__).parent, site / "sparsebench" / "plugins", ignore=ignore)
    shutil.copytree(Path(sparsebench.suites.__file__).parent, site / "sparsebench" / "suites", dirs_exist_ok=True, ignore=ignore)
    return site


def _digests(site: Path) -> tuple[str, str, str]:
    code = ("import sparsebench; from sparsebench.engine.identity import protocol_code; "
            "from sparsebench.engine.generation import generation_code_digest; "
            "print(sparsebench.__file__, protocol_code(), generation_code_digest())")
    out = subprocess.run([sys.executable, "-c", code], env=_env(site), capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith(str(site)), f"the copy was not imported: {out[0]}"
    return out[0], out[1], out[2]


def _env(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(Path(__file__).parent)])
    env["COLUMNS"] = "200"
    return env


def _edit(site: Path, module: str, old: str, new: str) -> str:
    path = site / "sparsebench" / module
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{module}: {old!r} not found; update this test's edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text


@pytest.mark.parametrize("module", sorted(CHANGES_A_NUMBER))
def test_an_edit_to_a_module_that_decides_numbers_changes_the_cell_code(copied: Path, module: str) -> None:
    _, protocol, _ = _digests(copied)
    original = _edit(copied, module, *CHANGES_A_NUMBER[module])
    try:
        assert _digests(copied)[1] != protocol
    finally:
        (copied / "sparsebench" / module).write_text(original, encoding="utf-8")


@pytest.mark.parametrize("module", READS_ONLY)
def test_an_edit_to_a_module_that_reads_results_keeps_the_cell_code(copied: Path, module: str) -> None:
    before = _digests(copied)
    path = copied / "sparsebench" / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n# edited\n", encoding="utf-8")
    try:
        assert _digests(copied) == before
    finally:
        path.write_text(original, encoding="utf-8")


def test_the_leakage_guard_is_part_of_the_generation_code(copied: Path) -> None:
    _, _, generation = _digests(copied)
    original = _edit(copied, "protocol/leakage.py", *CHANGES_A_NUMBER["protocol/leakage.py"])
    try:
        assert _digests(copied)[2] != generation
    finally:
        (copied / "sparsebench" / "protocol" / "leakage.py").write_text(original, encoding="utf-8")


def test_a_changed_near_duplicate_rule_recomputes_the_stored_cell_and_a_changed_figure_does_not(
        copied: Path, tmp_path: Path, data_dir: Path) -> None:
    """As a user would see it: run, edit the rule in the copy, run again; then edit a figure, run again."""
    with write_toxic_csv(tmp_path / "src.csv", data_dir).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    with (tmp_path / "data.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    results = str(tmp_path / "results")

    def bench(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", "from sparsebench.cli.main import main; main()", *args, "--results", results],
                              env=_env(copied), cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return " ".join((done.stdout + done.stderr).split())

    assert "computed 1, reused 0" in bench(*RUN)
    original = _edit(copied, "protocol/shortcuts.py", *CHANGES_A_NUMBER["protocol/shortcuts.py"])
    try:
        assert "the benchmark's scoring code changed" in bench(*RUN, "--dry-run")
        assert "computed 1 (1 stale), reused 0" in bench(*RUN)
    finally:
        (copied / "sparsebench" / "protocol" / "shortcuts.py").write_text(original, encoding="utf-8")
    _edit(copied, "render/figures.py", "from __future__ import annotations", "from __future__ import annotations  # edited")
    assert "computed 0, reused 1" in bench(*RUN)  # back to the original rule: the first row is right again
