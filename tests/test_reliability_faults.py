"""Failing components become rows with a status and a reason; the run goes on.

The components come from the test-only ``faults`` plugin, loaded through a real ``sparsebench`` entry
point of a temporary installed distribution (see ``faults/helpers.py``).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import helpers
from faults.helpers import check_store

from sparsebench.cli import cli

fault_site, faults, toxic_csv = helpers.fault_site, helpers.faults, helpers.toxic_csv  # shared fixtures

GENERATOR_FAULTS = ("oversample", "fault-short", "fault-junk", "fault-raise", "fault-hang")
CLASSIFIER_FAULTS = (
    "fault-slow[delay=0]",
    "fault-raise",
    "fault-nan",
    "fault-oneclass",
    "fault-oom",
    "fault-memory",
    "fault-hang",
    "fault-stubborn",
)

# (generator, classifier) -> (status, words the reason must contain); "*" matches any classifier.
EXPECTED = {
    ("oversample", "fault-slow"): ("done", ""),  # a healthy classifier that fits well inside the 1 s limit
    ("oversample", "fault-raise"): ("error", "ValueError: fault-raise: the solver diverged"),
    ("oversample", "fault-nan"): ("error", "NaN or infinite scores for"),
    ("oversample", "fault-oneclass"): ("error", "trained on a single class"),
    ("oversample", "fault-oom"): ("error", "GPU out of memory (CUDA out of memory. Tried to allocate 2.00 GiB"),
    ("oversample", "fault-memory"): ("error", "out of memory (MemoryError); use a smaller dataset, batch size or model"),
    ("oversample", "fault-hang"): ("timeout", "ran past its limit of 1 s"),
    ("oversample", "fault-stubborn"): ("timeout", "ran past its limit of 1 s"),  # its `except Exception` cannot swallow it
    ("fault-short", "*"): ("error", "generation failed: GenerationShortfall: fault-short produced 32 of 64 texts in chunk 0"),
    ("fault-junk", "*"): (
        "error",
        "generation failed: GenerationShortfall: fault-junk produced 0 of 64 texts in chunk 0 (320 rejected: empty 320)",
    ),
    ("fault-raise", "*"): ("error", "generation failed: RuntimeError: fault-raise: the model server went away"),
    ("fault-hang", "*"): ("timeout", "generation with fault-hang ran past its limit of 1 s"),
}


def _args(csv: Path, results: Path, generators: tuple[str, ...], classifiers: tuple[str, ...], *extra: str) -> list[str]:
    args = ["run", "-d", f"file[path={csv}]", "-s", "5%", "--bootstrap", "10", "--results", str(results), "-q", *extra]
    for name in generators:
        args += ["-g", name]
    for name in classifiers:
        args += ["-c", name]
    return args


def _rows(results: Path) -> list[dict]:
    out = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--format", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_every_component_failure_becomes_a_row(faults: Path, toxic_csv: Path, tmp_path: Path) -> None:
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401 - imported here, not inside fault-oom's 1 s time limit
    results = tmp_path / "results"
    args = _args(toxic_csv, results, GENERATOR_FAULTS, CLASSIFIER_FAULTS, "--timeout", "1", "--generation-timeout", "1")
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "Traceback" not in out.output
    rows = _rows(results)
    assert len(rows) == len(GENERATOR_FAULTS) * len(CLASSIFIER_FAULTS)
    for row in rows:
        classifier = row["classifier"].split("[")[0]
        status, words = EXPECTED.get((row["generator"], classifier)) or EXPECTED[(row["generator"], "*")]
        assert (row["status"], words in row["reason"]) == (status, True), (row["generator"], row["classifier"], row["reason"])
    check_store(results)
    assert "GPU out of memory" in out.stdout  # the reasons are printed under the leaderboard


def test_a_broken_dataset_plugin_fails_its_cells(faults: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    out = CliRunner().invoke(
        cli, ["run", "-d", "fault-broken", "-g", "oversample", "-c", "logreg", "-s", "5%", "--results", str(results), "-q"]
    )
    assert out.exit_code == 0, out.output
    [row] = _rows(results)
    assert row["status"] == "error"
    assert row["reason"] == "dataset failed: KeyError: 'fault-broken: the loader hit a bug'"


def test_failed_cells_are_retried_and_done_cells_reused(faults: Path, toxic_csv: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = _args(toxic_csv, results, ("oversample", "fault-raise"), ("logreg", "fault-raise"))
    first = CliRunner().invoke(cli, args)
    again = CliRunner().invoke(cli, args)
    assert first.exit_code == again.exit_code == 0
    assert "computed 4, reused 0" in first.stderr
    assert "computed 3, reused 1" in again.stderr  # only the done cell is final
    assert sorted(r["status"] for r in _rows(results)) == ["done", "error", "error", "error"]


def test_ctrl_c_keeps_finished_cells_and_says_how_to_resume(faults: Path, toxic_csv: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = [
        "run",
        "-d",
        f"file[path={toxic_csv}]",
        "-g",
        "oversample",
        "-c",
        "logreg",
        "-c",
        "fault-ctrlc",
        "-s",
        "1%",
        "-s",
        "5%",
        "--bootstrap",
        "10",
        "--results",
        str(results),
        "-q",
    ]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 130
    assert out.stderr.strip() == "Interrupted: 1 cells finished in this run and are stored; run the same command again to resume"
    assert list(check_store(results).values()) == ["done"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("CUDA out of memory. Tried to allocate 20.00 MiB", "GPU out of memory (CUDA out of memory. Tried to allocate 20.00 MiB); lower"),
        ("weights\x1b[2J went missing", "RuntimeError: weights\\x1b[2J went missing"),
    ],
)
def test_reasons_from_plain_exceptions(message: str, expected: str) -> None:
    """An older torch raises a RuntimeError for CUDA OOM; control characters never reach a reason."""
    from sparsebench.engine.runner import _status_of

    status, reason = _status_of(RuntimeError(message))
    assert status == "error" and reason.startswith(expected)
