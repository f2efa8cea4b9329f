"""The leaderboard's views: fitted columns, chosen columns, the pivot, filters and output files that say what they did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench.cli import cli

SMALL = ["-d", "toxic-mix[negatives=1500,positives=300]", "--bootstrap", "100"]


def bench(*args: str, width: int | None = None):
    env = {"COLUMNS": str(width)} if width else {}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A small real grid: three references and template × logreg, levels 1 % and 5 % (7 cells, seconds)."""
    results = tmp_path_factory.mktemp("results")
    grid = ["-g", "real-only", "-g", "oversample", "-g", "real-extra", "-g", "template", "-c", "logreg", "-s", "1%", "-s", "5%"]
    result = CliRunner().invoke(cli, ["run", *SMALL, *grid, "--results", str(results), "-q"])
    assert result.exit_code == 0, result.output
    return results


def test_default_table_fits_the_width_and_says_what_it_hid(store: Path) -> None:
    out = bench("leaderboard", "--results", str(store), width=100)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 100
    assert "AUPRC [95% CI]" in table[1] and "generator" in table[1] and "level" in table[1]
    hidden = " ".join(lines[next(i for i, line in enumerate(lines) if line.startswith("hidden:")) :])
    assert "AUROC" in hidden and "train/s" in hidden and "cell s" in hidden
    assert "test set of toxic-mix[neg=1500,pos=300]: 44 positives in" in out.stdout  # the short label of the spec itself
    wide = bench("leaderboard", "--results", str(store), "--wide", width=440)  # the verdicts and worth among the columns
    assert "AUROC" in wide.stdout and "train/s" in wide.stdout and "cell s" in wide.stdout
    assert "hidden:" not in wide.stdout


def test_columns_choose_and_extend_the_default(store: Path) -> None:
    chosen = bench("leaderboard", "--results", str(store), "--columns", "generator,level,AUPRC,train/s")
    header = next(line for line in chosen.stdout.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == ["generator", "level", "AUPRC [95% CI]", "train/s"]
    extended = bench("leaderboard", "--results", str(store), "--columns", "+auroc,-cell")
    header = next(line for line in extended.stdout.splitlines() if line.startswith("┃"))
    assert "AUROC" in header and "cell" not in header.replace("classifier", "")
    bad = bench("leaderboard", "--results", str(store), "--columns", "generator,AUPCR")
    assert bad.exit_code == 2 and "unknown column 'AUPCR'" in bad.output and "'AUPRC'" in bad.output


def test_sort_accepts_the_headers_shown(store: Path) -> None:
    for name, key in (("AUPRC", "auprc"), ("train/s", "train_samples_per_s"), ("P@val", "precision@val"), ("AUPRC [95% CI]", "auprc")):
        rows = json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "--sort", name).output)
        values = [r[key] for r in rows]
        assert values == sorted(values, reverse=True), name


def test_filters_that_match_nothing_say_so(store: Path) -> None:
    out = bench("leaderboard", "--results", str(store), "-g", "nosuch")
    assert out.exit_code == 2 and "no generator 'nosuch'" in out.output and "stored: oversample, real-extra, real-only, template" in out.output
    out = bench("leaderboard", "--results", str(store), "-c", "LOGREG")
    assert out.exit_code == 2 and "did you mean 'logreg'?" in out.output
    out = bench("leaderboard", "--results", str(store), "--where", "level=5")
    assert out.exit_code == 2 and "write level=5% or level=0.05" in out.output
    out = bench("leaderboard", "--results", str(store), "--where", "auprc>0.99")
    assert out.exit_code == 1 and "no stored cell matches --where 'auprc>0.99'" in out.output
    assert len(out.output.strip().splitlines()) == 1
    both = [json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "--where", w).output) for w in ("level=5%", "level=0.05")]
    assert both[0] == both[1] and {r["level"] for r in both[0]} == {0.05} and len(both[0]) == 3


def test_output_format_follows_the_extension_or_is_refused(store: Path, tmp_path: Path) -> None:
    page = tmp_path / "lb.html"
    assert bench("leaderboard", "--results", str(store), "-o", str(page)).exit_code == 0
    assert page.read_text().startswith("<!DOCTYPE html>") and "<table>" in page.read_text()
    rows = tmp_path / "lb.json"
    assert bench("leaderboard", "--results", str(store), "-o", str(rows)).exit_code == 0
    assert len(json.loads(rows.read_text())) == 7
    text = tmp_path / "lb.txt"
    assert bench("leaderboard", "--results", str(store), "-o", str(text)).exit_code == 0
    assert "AUPRC [95% CI]" in text.read_text() and "\x1b" not in text.read_text()
    mismatch = bench("leaderboard", "--results", str(store), "-o", str(tmp_path / "lb.html"), "--format", "md")
    assert mismatch.exit_code == 2 and "names html but --format is md" in mismatch.output
    unknown = bench("leaderboard", "--results", str(store), "-o", str(tmp_path / "lb.xlsx"))
    assert unknown.exit_code == 2 and "cannot tell the format" in unknown.output and not (tmp_path / "lb.xlsx").exists()


def test_pivot_is_generator_by_level(store: Path) -> None:
    out = bench("leaderboard", "--results", str(store), "--pivot", "-c", "logreg")
    assert out.exit_code == 0, out.output
    assert "AUPRC of logreg on toxic-mix[neg=1500,pos=300], generator × level" in out.stdout
    header = next(line for line in out.stdout.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == ["generator", "0.25%", "1.00%", "5.00%"]
    body = [line for line in out.stdout.splitlines() if line.startswith("│")]
    assert [line.strip("│").split("│")[0].strip() for line in body] == ["real-only", "oversample", "real-extra", "template"]
    records = json.loads(bench("leaderboard", "--results", str(store), "--format", "json", "-c", "logreg", "-g", "oversample", "--where", "level=1%").output)
    assert f"{records[0]['auprc']:.3f} [{records[0]['auprc_low']:.3f}, {records[0]['auprc_high']:.3f}]" in body[1]
    f1 = bench("leaderboard", "--results", str(store), "--pivot", "F1@val")
    assert f1.exit_code == 0 and "F1@val of logreg" in f1.stdout


def test_the_default_suite_fits_120_columns_with_the_verdicts(tmp_path: Path) -> None:
    """The default suite's datasets and levels, narrowed to its widest labels: real-extra (the longest generator name)
    and an unavailable t5 (which brings the status column); the full --all run has no wider cell."""
    grid = ["-g", "real-only", "-g", "oversample", "-g", "real-extra", "-c", "logreg", "-c", "t5"]
    out = bench("run", "--suite", "default", *grid, "--bootstrap", "200", "--results", str(tmp_path), "-q", width=120)
    assert out.exit_code == 0, out.output
    board = bench("leaderboard", "--results", str(tmp_path), width=120)
    assert board.exit_code == 0, board.output
    lines = board.stdout.splitlines()
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│└") <= 120
    starts = [i for i, line in enumerate(lines) if line.startswith("┏")]  # one table per dataset of the suite
    assert len(starts) == 3
    unavailable = 0
    for start in starts:
        header = [h.strip() for h in lines[start + 1].strip("┃").split("┃")]
        assert header[:2] == ["vs oversample", "vs real-only"] and "AUPRC [95% CI]" in header
        table = lines[start : next(i for i in range(start, len(lines)) if lines[i].startswith("└"))]
        rows = [[c.strip() for c in line.strip("│").split("│")] for line in table if line.startswith("│")]
        verdicts = {row[0] for row in rows} | {row[1] for row in rows}
        assert verdicts & {"helps", "hurts", "no evidence"}, "no verdict visible"
        if "status" in header:
            unavailable += sum(row[header.index("status")] == "unavailable" for row in rows)
    assert unavailable  # t5 runs on the small toxic-mix only: its table shows the status column
    assert any(line.startswith("hidden:") for line in lines)
