"""The bench CLI through click's CliRunner (and one real subprocess)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench import __version__
from sparsebench.cli import cli

SMALL = ["-d", "toxic-mix[negatives=1500,positives=300]", "--bootstrap", "100", "--seeds", "0"]


def bench(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A results directory with a small real grid: 3 generators × logreg, levels 1 % and 5 %."""
    results = tmp_path_factory.mktemp("results")
    grid = ["-g", "real-only", "-g", "oversample", "-g", "real-extra", "-c", "logreg", "-s", "1%", "-s", "0.05"]
    result = CliRunner().invoke(cli, ["run", *SMALL, *grid, "--results", str(results)])
    assert result.exit_code == 0, result.output
    return results


def test_help_and_version_are_fast_and_light() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from sparsebench.cli import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert __version__ in bench("--version").output


def test_run_prints_a_leaderboard_with_one_row_per_cell(store: Path) -> None:
    result = bench("leaderboard", "--results", str(store), "--format", "json")
    records = json.loads(result.output)
    assert len(records) == 5
    assert {r["status"] for r in records} == {"done"}
    assert [r["auprc"] for r in records] == sorted((r["auprc"] for r in records), reverse=True)
    assert all(r["test_positives"] == 44 for r in records)  # 15 % of each collection's positives, rounded per collection


def test_second_run_reuses_every_cell(store: Path) -> None:
    result = bench("run", *SMALL, "-g", "real-only", "-g", "oversample", "-g", "real-extra", "-c", "logreg", "-s", "1%", "-s", "0.05", "--results", str(store))
    assert result.exit_code == 0
    assert "computed 0, reused 5" in result.output


def test_leaderboard_formats_sort_and_filter(store: Path) -> None:
    md = bench("leaderboard", "--results", str(store), "--format", "md")
    assert md.output.startswith("| cell | generator | classifier |") and md.output.count("\n| ") == 5
    rows = list(csv.DictReader(io.StringIO(bench("leaderboard", "--results", str(store), "--format", "csv").output)))
    assert len(rows) == 5 and {"auprc", "auprc_low", "auprc_high", "generation_texts_per_s", "train_samples_per_s"} <= set(rows[0])
    filtered = json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "--where", "level=5%", "-g", "oversample").output)
    assert [(r["generator"], r["level"]) for r in filtered] == [("oversample", 0.05)]
    ascending = json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "--sort", "train_s", "--ascending").output)
    assert [r["train_s"] for r in ascending] == sorted(r["train_s"] for r in ascending)
    table = bench("leaderboard", "--results", str(store))
    assert table.exit_code == 0 and "AUPRC [95% CI]" in table.output and "real-extra" in table.output


def test_leaderboard_writes_files(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "board.md"
    result = bench("leaderboard", "--results", str(store), "--format", "md", "-o", str(target))
    assert result.exit_code == 0 and target.read_text().count("| done |") == 5


def test_show_one_cell(store: Path) -> None:
    records = json.loads(bench("leaderboard", "--results", str(store), "--format", "json").output)
    cell = records[0]["cell"]
    shown = bench("show", cell[:6], "--results", str(store))
    assert shown.exit_code == 0
    assert cell in shown.output and "auprc" in shown.output and "environment" in shown.output
    row = json.loads(bench("show", cell, "--results", str(store), "--json").output)
    assert row["cell_id"] == cell and row["config"]["classifier"]["params"]["max_iter"] == 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "nothing selected"),
        (["run", "-g", "no-such-generator"], "unknown generator 'no-such-generator'"),
        (["run", "-c", "logreg[C=abc]"], "parameter 'C' must be a number"),
        (["run", "-c", "logreg[cc=1]"], "unknown parameter 'cc'"),
        (["run", "-g", "oversample", "-s", "0.001"], "must be above the base share"),
        (["run", "-g", "oversample", "-s", "100%"], "must be below 1"),
        (["run", "-g", "oversample", "-s", "five"], "is not a number"),
        (["run", "-g", "oversample", "--seeds", "-1"], "seed '-1' must be a whole number"),
        (["run", "--suite", "../../etc/passwd"], "must be a .toml file"),
        (["run", "--suite", "nope"], "no suite named 'nope'"),
        (["run", "--all", "--suite", "paper"], "either --all or --suite"),
        (["leaderboard", "--sort", "nope"], "cannot sort by 'nope'"),
        (["show", "zz"], "is not a cell id"),
        (["show", "abcdef12"], "no cell with id"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(store: Path, args: list[str], message: str) -> None:
    result = bench(*args, "--results", str(store))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_leaderboard_without_results_says_what_to_do(tmp_path: Path) -> None:
    result = bench("leaderboard", "--results", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "run `bench run --all` first" in result.output
    assert not (tmp_path / "empty" / "sparsebench.sqlite").exists()


def test_list_shows_parameters() -> None:
    listing = json.loads(bench("list", "--json").output)
    logreg = next(c for c in listing["classifier"] if c["name"] == "logreg")
    assert {p["name"] for p in logreg["parameters"]} >= {"C", "max_iter", "class_weight"}
    assert {d["name"] for d in listing["dataset"]} >= {"toxic-mix", "file", "fox-news"}
    assert "max_iter" in bench("list", "classifiers").output


def test_dry_run_lists_the_default_suite(tmp_path: Path) -> None:
    import sparsebench
    from sparsebench.hooks.loader import load_plugins

    registry = load_plugins().registry
    generators = [g for g in (registry.get("generator", n).cls for n in registry.names("generator")) if not g.needs_parameters]
    once = sum(1 if not g.synthetic else 3 for g in generators) * len(registry.names("classifier"))
    expected = len(sparsebench.plan(suite="default").cells)
    assert expected > once  # every generator x classifier x level once, the baselines at more seeds (tests/test_trust.py)
    result = bench("run", "--all", "--dry-run", "--results", str(tmp_path))
    assert result.exit_code == 0 and f"{expected} cells" in result.output


def test_console_script_in_a_subprocess(store: Path) -> None:
    bench_exe = Path(sys.executable).with_name("bench")
    out = subprocess.run([str(bench_exe), "show", "nothex!", "--results", str(store)], capture_output=True, text=True)
    assert out.returncode == 2 and "is not a cell id" in out.stderr and "Traceback" not in out.stderr


def test_aggregate_folds_seeds(tmp_path: Path) -> None:
    args = ["run", *SMALL, "-g", "oversample", "-c", "logreg", "-s", "5%", "--seeds", "0-2", "--results", str(tmp_path)]
    assert bench(*args).exit_code == 0
    cells = json.loads(bench("leaderboard", "--results", str(tmp_path), "--format", "json").output)
    (row,) = json.loads(bench("leaderboard", "--results", str(tmp_path), "--format", "json", "--aggregate").output)
    values = [c["auprc"] for c in cells]
    assert len(cells) == 3 and row["seeds"] == 3 and row["seed"] == "0,1,2"
    assert row["auprc"] == pytest.approx(sum(values) / 3)
    assert row["auprc_low"] < row["auprc"] < row["auprc_high"]
    assert "3 seeds" in bench("leaderboard", "--results", str(tmp_path), "--aggregate").output
