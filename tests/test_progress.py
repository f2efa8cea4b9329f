"""The run's progress display: the phase under way in the grid bar, an ETA, one line per finished cell
with its headline metric, unavailable cells counted (their reason printed once, under the table), and
library warnings and progress bars kept out of the display."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console
from rich.progress import TimeRemainingColumn

from sparsebench.cli import cli
from sparsebench.cli.live import RichReporter
from sparsebench.contracts.progress import installed, phase


def _reporter() -> tuple[RichReporter, io.StringIO]:
    buffer = io.StringIO()
    return RichReporter(Console(file=buffer, width=120, color_system=None)), buffer


def test_the_grid_bar_names_the_phase_under_way_and_estimates_time_left() -> None:
    reporter, _ = _reporter()
    reporter.start(4)
    try:
        reporter.cell_started("template × logreg @ 5.00% (seed 0)")
        grid = reporter.progress.tasks[0]
        with installed(reporter), phase("generating with llm", total=10) as advance:
            advance(3)
            assert "generating with llm" in grid.description
        assert "template × logreg" in grid.description and "generating" not in grid.description
        assert any(isinstance(c, TimeRemainingColumn) for c in reporter.progress.columns)
    finally:
        reporter.stop()


def test_finished_cells_show_their_metric_and_unavailable_ones_are_counted() -> None:
    reporter, buffer = _reporter()
    reporter.start(5)
    metrics = {"auprc": {"value": 0.1234, "low": 0.05, "high": 0.2}}
    reporter.cell_finished("oversample × logreg @ 5.00% (seed 0)", "done", "", metrics=metrics)
    for level in ("1.00%", "3.00%", "5.00%"):
        reporter.cell_finished(f"oversample × t5 @ {level} (seed 0)", "unavailable", "no T5 weights here")
    reporter.cell_finished("eda × mlp @ 1.00% (seed 0)", "error", "ValueError: boom")
    assert "3 unavailable" in reporter.progress.tasks[0].description
    reporter.stop()
    out = buffer.getvalue()
    assert "oversample × logreg @ 5.00% (seed 0) · AUPRC 0.123 [0.050, 0.200]" in out
    assert "no T5 weights" not in out and "t5" not in out
    assert "eda × mlp @ 1.00% (seed 0) error · ValueError: boom" in out


def test_library_warnings_are_collected_and_printed_once_each(monkeypatch) -> None:
    for key in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(key, raising=False)
    reporter, buffer = _reporter()
    reporter.start(1)
    for _ in range(3):
        warnings.warn("weights not initialised: classifier.bias", UserWarning, stacklevel=1)
    assert os.environ["TQDM_DISABLE"] == "1" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert buffer.getvalue() == ""  # nothing reached the display while the grid ran
    reporter.stop()
    lines = [line for line in buffer.getvalue().splitlines() if "weights not initialised" in line]
    assert lines == ["warning from a library (×3): UserWarning: weights not initialised: classifier.bias"]
    with warnings.catch_warnings(record=True) as seen:  # the filter is restored after the run
        warnings.simplefilter("always")
        warnings.warn("after", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["after"]


def test_a_real_run_prints_an_unavailable_reason_once(tmp_path: Path) -> None:
    args = ["run", "-d", "toxic-mix[negatives=1500,positives=300]", "--bootstrap", "50", "-g", "oversample", "-c", "logreg", "-c", "t5",
            "-s", "1%", "-s", "5%", "--results", str(tmp_path)]
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "120"})
    assert out.exit_code == 0, out.output
    assert out.output.count("not in the local Hugging Face cache") == 1, out.output
    assert "unavailable (t5, 2 cells)" in out.output
    assert out.output.count("· AUPRC ") == 2  # the two logreg cells, each with its headline metric
