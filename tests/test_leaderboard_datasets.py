"""Several datasets in one leaderboard: the dataset stays visible, short labels are stable, numbers read,
and a precision over a handful of flagged rows is marked rather than shown as if meaningful."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sparsebench.analysis.columns import short_dataset, short_datasets
from sparsebench.analysis.leaderboard import cell_text, flagged_rows, footnotes
from sparsebench.cli import cli
from sparsebench.protocol.metrics import threshold_metrics
from sparsebench.protocol.sparsity import deployment_weights

SMALL, OTHER = "toxic-mix[negatives=1500,positives=300]", "toxic-mix[negatives=2000,positives=300]"


def bench(*args: str, width: int | None = None):
    env = {"COLUMNS": str(width)} if width else {}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two datasets of one name whose rows would otherwise look alike: real-only and template × logreg at 5 %, two seeds (8 cells)."""
    results = tmp_path_factory.mktemp("results")
    args = ["run", "-d", SMALL, "-d", OTHER, "-g", "real-only", "-g", "template", "-c", "logreg", "-s", "5%", "--seeds", "0-1",
            "--bootstrap", "50", "--results", str(results), "-q"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    return results


def tables(output: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Each rich table of the output: its title, headers and rows; a row wrapped over several lines is joined back."""
    found: list[tuple[str, list[str], list[list[str]]]] = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("┏"):
            found.append((lines[i - 1].strip() if i else "", [h.strip() for h in lines[i + 1].strip("┃").split("┃")], []))
        elif line.startswith("│") and found:
            headers, rows = found[-1][1], found[-1][2]
            cells = [c.strip() for c in line.strip("│").split("│")]
            if rows and not cells[headers.index("generator")]:  # a continuation line of the row above
                rows[-1] = [(a + b) for a, b in zip(rows[-1], cells, strict=True)]
            else:
                rows.append(cells)
    return found


def table_rows(output: str) -> tuple[list[str], list[list[str]]]:
    """The headers and rows of the only table."""
    (_, headers, rows), = tables(output)
    return headers, rows


def visible_keys(headers: list[str], rows: list[list[str]]) -> list[tuple[str, ...]]:
    shown = [i for i, h in enumerate(headers) if h in ("dataset", "generator", "classifier", "level", "seed", "cell")]
    return [tuple(row[i] for i in shown) for row in rows]


@pytest.mark.parametrize("aggregate", [True, False])
def test_no_row_repeats_another_visible_key_in_a_120_column_terminal(store: Path, aggregate: bool) -> None:
    out = bench("leaderboard", "--results", str(store), *(["--aggregate"] if aggregate else []), width=120)
    assert out.exit_code == 0, out.output
    found = tables(out.stdout)  # one table per dataset, under its short label
    assert [title.rsplit(" · dataset ", 1)[1] for title, _, _ in found] == ["toxic-mix[neg=1500,pos=300]", "toxic-mix[neg=2k,pos=300]"]
    keys = [(title, *key) for title, headers, rows in found for key in visible_keys(headers, rows)]
    assert len(keys) == (4 if aggregate else 8) and len(set(keys)) == len(keys), keys
    assert max(len(line) for line in out.stdout.splitlines() if line[:1] in "┏┃┡│└") <= 120


def test_a_table_of_several_datasets_always_has_the_dataset_column(store: Path) -> None:
    out = bench("leaderboard", "--results", str(store), "--columns", "generator,level,AUPRC", "--format", "md")
    header = [h.strip() for h in out.stdout.splitlines()[0].strip("|").split("|")]
    assert header == ["dataset", "generator", "level", "seed", "AUPRC [95% CI]"]  # two seeds of one configuration: the seed too
    one = bench("leaderboard", "--results", str(store), "-d", SMALL, "--columns", "generator,level,AUPRC", width=120)
    assert table_rows(one.stdout)[0] == ["generator", "level", "seed", "AUPRC [95% CI]"]  # one dataset in view: no need
    folded = bench("leaderboard", "--results", str(store), "-d", SMALL, "--aggregate", "--columns", "generator,level,AUPRC", width=120)
    assert table_rows(folded.stdout)[0] == ["generator", "level", "AUPRC [95% CI]"]


def test_markdown_rows_are_distinct_too(store: Path) -> None:
    out = bench("leaderboard", "--results", str(store), "--aggregate", "--format", "md")
    lines = [line for line in out.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    headers = [h.strip() for h in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]
    keys = visible_keys(headers, rows)
    assert "dataset" in headers and len(set(keys)) == len(keys) == 4


def test_short_labels_do_not_depend_on_what_else_is_stored(store: Path) -> None:
    both = json.loads(bench("leaderboard", "--results", str(store), "--format", "json").stdout)
    alone = json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "-d", OTHER).stdout)
    assert {r["dataset_short"] for r in both if r["dataset"] == OTHER} == {r["dataset_short"] for r in alone} == {"toxic-mix[neg=2k,pos=300]"}
    assert short_dataset("toxic-mix") == "toxic-mix" and short_dataset("stormfront[group=user]") == "stormfront[group=user]"
    assert short_dataset("file[path=/data/sets/hostile.csv]") == "file[path=hostile.csv]"
    assert short_dataset("toxic-mix[recipe=study]") == short_datasets(["toxic-mix[recipe=study]", "toxic-mix"])["toxic-mix[recipe=study]"]
    clash = short_datasets(["file[path=/a/x.csv]", "file[path=/b/x.csv]"])
    assert clash == {"file[path=/a/x.csv]": "file[path=/a/x.csv]", "file[path=/b/x.csv]": "file[path=/b/x.csv]"}  # never one label for two


def test_the_footer_formats_mean_counts() -> None:
    records = [{"dataset": "d", "dataset_short": "d", "test_positives": 889.3333333333334, "test_rows": 4712.0, "reason": "", "status": "done"}]
    assert footnotes(records) == ["test set of d: 889.3 (mean over seeds) positives in 4,712 rows"]


def test_flagged_rows_are_recovered_from_the_stored_precision_and_recall() -> None:
    labels = np.array([1] * 100 + [0] * 1000)
    weights = deployment_weights(labels, 0.0025)
    for flagged_pos, flagged_neg in ((3, 1), (1, 0), (40, 700)):
        scores = np.zeros(len(labels))
        scores[:flagged_pos] = 0.9
        scores[100 : 100 + flagged_neg] = 0.9
        found = {k: float(v[0]) for k, v in threshold_metrics(labels, scores, weights, 0.5).items()}
        flat = {"precision@0.5": found["precision"], "recall@0.5": found["recall"], "test_positives": 100, "test_rows": 1100}
        assert flagged_rows(flat, "0.5", 0.0025) == flagged_pos + flagged_neg
    flat = {"precision@0.5": 0.0, "recall@0.5": 0.0, "test_positives": 100, "test_rows": 1100}
    assert flagged_rows(flat, "0.5", 0.0025) is None  # no true positive: the count is not recoverable


def test_a_precision_over_a_handful_of_rows_is_marked() -> None:
    record = {"precision@0.5": 1.0, "flagged@0.5": 2, "precision@val": 0.31, "flagged@val": 40}
    assert cell_text(record, "precision@0.5") == "n/a: flags 2 rows"
    assert cell_text(record, "precision@val") == "0.310"


def test_the_stored_cells_carry_their_flagged_counts(store: Path) -> None:
    rows = json.loads(bench("leaderboard", "--results", str(store), "--format", "json").stdout)
    for row in rows:
        if row["recall@val"]:
            assert isinstance(row["flagged@val"], int) and row["flagged@val"] >= 1
    folded = json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "--aggregate").stdout)
    for record in folded:
        members = [r for r in rows if r["cell"] in record["cells"]]
        counts = [r["flagged@val"] for r in members if r["flagged@val"] is not None]
        assert record.get("flagged@val") == (min(counts) if counts else None)
