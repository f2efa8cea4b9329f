"""The answer first: the summary's numbers, its sentence, its cost, pooling across datasets, and the CLI that prints it."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_exchange import ARMS, _rising, _stored

from sparsebench.analysis.summary import sentences, summarise, text_lines
from sparsebench.cli import cli
from sparsebench.storage.store import CellRow, ResultStore

GEN = {**ARMS, "gen": (0.01, 300)}


def _with_cost(rows: list[dict], seconds_per_text: float = 0.5) -> list[dict]:
    for row in rows:
        if row["generator"] == "gen":
            row["timings"] = {"generation_s_per_text": seconds_per_text, "generation_s": seconds_per_text * 64}
            row["env"] = {"gpu": "", "cpu_count": 2}
    return rows


@pytest.fixture(scope="module")
def stored() -> tuple[list[dict], dict]:
    rows, arrays = _stored(_rising, GEN)
    return _with_cost(rows), arrays


def test_summary_reads_worth_baseline_slope_and_cost(stored) -> None:
    rows, arrays = stored
    found = summarise(rows, arrays.__getitem__, "auroc", label_cost=0.8, device_hour_cost=3.6)
    (part,) = found.parts
    assert part.baseline == pytest.approx(sum(r["metrics"]["auroc"]["value"] for r in rows if r["generator"] == "real-only") / 3)
    assert part.per_100 is not None and part.per_100 > 0
    (line,) = part.lines  # real-only and real-extra are the curve, not lines
    assert line.generator == "gen" and line.level == 0.01 and 120 < line.worth.value < 750
    assert line.cost.seconds_per_text == 0.5 and line.cost.texts == 60
    assert line.cost.per_real_label_s == pytest.approx(0.5 * 60 / line.worth.value)
    text = line.cost.text(3.6, 0.8)
    assert f"= {line.cost.per_real_label_s / 1000:.3g} per label (a human label: 0.8)" in text and "CPU (2 cores)" in text
    sentence = sentences(found)["d"]
    assert sentence.startswith("On d, ") and "the best, gen at 1.00%, is worth" in sentence and "100 more real positives add about +" in sentence


def test_a_generator_worth_nothing_has_no_label_equivalent_price(stored) -> None:
    rows, arrays = _stored(_rising, {**ARMS, "gen": (0.01, -400)})
    line = summarise(_with_cost(rows), arrays.__getitem__, "auroc").parts[0].lines[0]
    assert line.worth.text().startswith("≤ -20") and line.cost.per_real_label_s is None
    assert "no real-label equivalent" in line.cost.text(1.0, 1.0)


def test_two_datasets_are_pooled_with_few_datasets_honesty(stored) -> None:
    rows, arrays = stored
    other, other_arrays = _stored(_rising, GEN)
    for row in other:
        row["dataset"], row["cell_id"] = "e", "e-" + row["cell_id"]
        row["details"]["dataset_fingerprint"] = "e" + row["details"]["dataset_fingerprint"]
    lookup = {**arrays, **{"e-" + k: v for k, v in other_arrays.items()}}
    found = summarise(rows + _with_cost(other), lookup.__getitem__, "auroc")
    mean, low, high, k = found.pooled[("gen", "c")]
    assert k == 2 and low < mean < high
    per_dataset = [p.lines[0].worth for p in found.parts]
    assert high - low > max(w.high - w.low for w in per_dataset)  # t on one degree of freedom: wider than either dataset's
    assert any(line.startswith("Pooled over 2 datasets: gen with c is worth") for line in text_lines(found))


def _write(directory: Path, rows: list[dict], arrays: dict) -> None:
    with ResultStore(directory) as store:
        for row in rows:
            now = time.time()
            cell = hashlib.sha256(row["cell_id"].encode()).hexdigest()[:12]  # stored ids are hex, as the runner's
            store.write(CellRow(cell, "run", row["dataset"], row["generator"], row["classifier"], row["level"], row["mode"],
                                row["seed"], "done", "", row["config"], now, now, row["metrics"], row.get("timings", {}), row["details"],
                                row.get("env", {}), arrays=arrays[row["cell_id"]]))


def test_bench_summary_show_and_leaderboard_read_the_same_worth(stored, tmp_path: Path) -> None:
    rows, arrays = stored
    _write(tmp_path, rows, arrays)
    out = CliRunner().invoke(cli, ["summary", "--results", str(tmp_path), "--metric", "AUROC", "--device-hour-cost", "3.6"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[1].startswith("On d, ") and "gen at 1.00%: worth" in out.output
    data = json.loads(CliRunner().invoke(cli, ["summary", "--results", str(tmp_path), "--metric", "auroc", "--json"]).output)
    worth = data["parts"][0]["generators"][0]
    board = json.loads(CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path), "--metric", "auroc", "--format", "json",
                                                "-g", "gen"]).output)
    assert {r["worth_text"] for r in board} == {worth["worth_text"]} and board[0]["verdict_metric"] == "auroc"
    show = CliRunner().invoke(cli, ["show", board[0]["cell"][:8], "--results", str(tmp_path), "--metric", "auroc"])
    assert f"worth in real positives (auroc, over 3 seeds): {worth['worth_text']}" in show.output
    table = CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path), "--metric", "auroc"], env={"COLUMNS": "100"}).output
    header = [h.strip() for h in next(line for line in table.splitlines() if line.startswith("┃")).strip("┃").split("┃")]
    assert "AUROC" in header and "pAUROC@0.1" not in header  # the verdicts' metric is shown beside them, and kept at any width
    assert "verdicts: paired difference in AUROC" in table
    bad = CliRunner().invoke(cli, ["summary", "--results", str(tmp_path), "--metric", "recall@0.5"])
    assert bad.exit_code == 2 and "no stored paired draws" in bad.output
