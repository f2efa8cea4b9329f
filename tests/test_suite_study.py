"""The study and paper suites ask only for rows the data has; an oversize dataset request is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench.cli import cli
from sparsebench.contracts.errors import DataError
from sparsebench.plugins.datasets.toxic_mix import check_balanced_request


def bench(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("toxic-mix[negatives=60000]", "negatives=60000 asks for more negatives than the balanced recipe holds (22,849)"),
        ("toxic-mix[negatives=60000,positives=6000]", "ask for at most 22,849"),
        ("toxic-mix[positives=9094]", "positives=9094 asks for more positives than the balanced recipe gives at all 22,849 negatives (9,093"),
        ("toxic-mix[recipe=study,negatives=200000]", "than the study recipe holds (196,253)"),
        ("toxic-mix[recipe=study,positives=30000]", "than the study recipe holds (21,841)"),
    ],
)
def test_an_oversize_request_is_refused_in_one_line(tmp_path: Path, spec: str, says: str) -> None:
    results = tmp_path / "results"
    result = bench("run", "-d", spec, "-g", "real-only", "-c", "logreg", "--seeds", "0", "--results", str(results), "-q")
    assert result.exit_code == 2, result.output
    assert says in result.output and len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    if results.exists():  # the store may be opened before the data is read; nothing is written into it
        from sparsebench.storage.store import ResultStore

        with ResultStore(results, create=False) as store:
            assert list(store.rows()) == []


def test_the_largest_request_still_runs_in_a_dry_run(tmp_path: Path) -> None:
    result = bench("run", "-d", "toxic-mix[negatives=22849,positives=9093]", "-g", "real-only", "-c", "logreg", "--seeds", "0",
                   "--dry-run", "--results", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "31,942 taken (22,849 negatives, 9,093 positives)" in " ".join(result.output.split())


def test_balanced_limits_follow_the_requested_negatives() -> None:
    available = {"a": (10, 100), "b": (50, 100)}  # collection a limits the common ratio
    check_balanced_request(available, 200, 20)  # all negatives: ratio 10 / 100, 20 positives
    check_balanced_request(available, 100, 20)  # 50 + 50 negatives: ratio 10 / 50, still 20 positives
    check_balanced_request(available, 0, 0)
    with pytest.raises(DataError, match=r"more negatives than the balanced recipe holds \(200\)"):
        check_balanced_request(available, 201, 0)
    with pytest.raises(DataError, match=r"gives at 100 negatives \(20 at one ratio"):
        check_balanced_request(available, 100, 21)
    with pytest.raises(DataError, match=r"gives at all 200 negatives \(20 at one ratio"):
        check_balanced_request(available, 0, 21)


def test_paper_suite_dry_run_shows_the_rows_it_takes(tmp_path: Path) -> None:
    result = bench("run", "--suite", "paper", "--dry-run", "--results", str(tmp_path / "r"))
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "rows of toxic-mix (seed 0): 31,942 taken (22,849 negatives, 9,093 positives)" in text
    assert "60000" not in text and "60,000" not in text


def test_study_suite_dry_run_lists_the_study_cells(tmp_path: Path) -> None:
    import sparsebench

    grid = sparsebench.plan(suite="study")
    cells = grid.cells
    # real-only once at 0.25 %; falcon-7b, real-extra, template, eda at 1 / 3 / 5 %; five classifiers; three seeds
    assert len(cells) == (1 + 4 * 3) * 5 * 3
    assert {c.dataset.label for c in cells} == {"toxic-mix[recipe=study]"}
    assert {c.generator.label for c in cells} == {"real-only", "falcon-7b", "real-extra", "template", "eda"}
    assert {c.classifier.name for c in cells} == {"bert", "t5", "logreg", "mlp", "length"}
    assert {round(c.level, 4) for c in cells} == {0.0025, 0.01, 0.03, 0.05} and {c.mode for c in cells} == {"replace"}
    bert = next(c for c in cells if c.classifier.name == "bert")
    assert bert.classifier.identity["params"]["model"] == "bert-base-uncased"
    result = bench("run", "--suite", "study", "--dry-run", "--results", str(tmp_path / "r"))
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert f"{len(cells)} cells" in text
    assert "66,000 taken (60,000 negatives, 6,000 positives) of 196,253 negatives" in text
    assert not (tmp_path / "r").exists()
