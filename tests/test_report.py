"""``bench report`` and ``bench samples`` over a real small run whose texts carry markup and script.

The dataset is real toxic-mix rows in a CSV where every toxic text also carries ``<script>``, rich
markup and a spreadsheet formula, so every generated copy (``oversample``) does too. The report is
loaded in headless Chromium (Debian's ``chromium``; the test skips, saying why, where it is missing).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from browser import Browser, find_chromium
from click.testing import CliRunner
from faults.helpers import write_toxic_csv

from sparsebench.cli import cli
from sparsebench.contracts.components import DataContext
from sparsebench.plugins.evaluations.hatecheck import HateCheck
from sparsebench.protocol.functional import score_cases
from sparsebench.render.figures import functional_heatmap, to_svg
from sparsebench.render.report_page import ReportData, build
from sparsebench.render.report_sections import evaluations_of, functional_matrix, quality_rows, target_rows
from sparsebench.storage.store import ResultStore

HOSTILE = ("=cmd|' /C calc'!A{i}", "<script>alert('x{i}')</script>", "[bold]loud{i}[/bold]")
FIGURES = ("fig-study", "fig-auprc", "fig-paired-oversample", "fig-paired-real-only", "fig-pr", "fig-functional", "fig-throughput")


def bench(*args: str):
    return CliRunner().invoke(cli, list(args))


def _hostile_csv(path: Path, data_dir: Path) -> Path:
    """Real rows; each toxic text starts with a formula, a script element and rich markup."""
    source = write_toxic_csv(path.with_name("plain.csv"), data_dir)
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i, row in enumerate(rows):
            if row["label"] == "1":
                row["text"] = " ".join(p.format(i=i) for p in HOSTILE) + " " + row["text"]
            writer.writerow([row["text"], row["label"]])
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A real run: references and template × logreg at 1 % and 5 % on the hostile CSV (seconds)."""
    base = tmp_path_factory.mktemp("report")
    data = _hostile_csv(base / "hostile.csv", data_dir)
    results = base / "results"
    grid = ["-g", "real-only", "-g", "oversample", "-g", "real-extra", "-g", "template", "-c", "logreg", "-s", "1%", "-s", "5%"]
    out = bench("run", "-d", f"file[path={data}]", *grid, "--bootstrap", "100", "--results", str(results), "-q")
    assert out.exit_code == 0, out.output
    return results


@pytest.fixture(scope="module")
def report(run: Path) -> Path:
    target = run.parent / "report.html"
    out = bench("report", "--results", str(run), "-o", str(target), "--samples", "50")
    assert out.exit_code == 0, out.output
    return target


def test_report_is_one_self_contained_file_with_the_texts_escaped(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert re.search(r"<script", page, re.IGNORECASE) is None, "a script element in the page"
    assert re.search(r"\s(src|href)=\"(https?:|//)", page) is None and "@import" not in page
    assert re.search(r"url\((?!#)", page) is None, "a style that loads something"
    assert "&lt;script&gt;alert(&#x27;x" in page  # shown as text
    assert "[bold]loud" in page and "=cmd|&#x27; /C calc&#x27;!A" in page
    for anchor in FIGURES:
        assert f'<figure id="{anchor}"><svg' in page
    assert "Paired differences and verdicts" in page and ("no evidence" in page or "helps" in page or "hurts" in page)
    assert "oversample (seed 0)" in page and "rejected by reason" in page
    assert "Quality of the generated sets" in page and "near-dups dropped" in page and ": per target group" in page


def test_report_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    executable = find_chromium()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get as root; here it could not be)")
    browser = Browser(executable)
    try:
        browser.open(report.as_uri())
        assert browser.problems() == []
        assert browser.requests() == [report.as_uri()], "the page loaded something besides itself"
        sizes = json.loads(browser.evaluate(
            "JSON.stringify(Object.fromEntries([...document.querySelectorAll('figure')].map(f => "
            "[f.id, [f.querySelectorAll('svg').length, f.getBoundingClientRect().width, f.getBoundingClientRect().height]])))"))
        for anchor in FIGURES:
            count, width, height = sizes[anchor]
            assert count == 1 and width > 300 and height > 150, (anchor, sizes[anchor])
        assert browser.evaluate("document.scripts.length") == 0
        quality = browser.evaluate("document.querySelector('#quality table').innerText")
        assert "template" in quality and "oversample" in quality and "real-extra" in quality
        assert "derog_dehum_h (hateful)" in browser.evaluate("document.querySelector('#fig-functional svg').outerHTML")
        text = browser.evaluate("document.querySelector('#samples').innerText")
        assert "<script>alert('x" in text and "[bold]loud" in text and "=cmd|' /C calc'!A" in text
        browser.screenshot("#fig-study", tmp_path / "study.png")
        assert (tmp_path / "study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # The checks can fail: a page that logs an error and loads an image from elsewhere is caught.
        bad = tmp_path / "bad.html"
        bad.write_text("<html><body><img src='http://127.0.0.1:9/x.png'><script>console.error('boom')</script></body></html>")
        browser.open(bad.as_uri())
        assert any("boom" in p for p in browser.problems())
        assert "http://127.0.0.1:9/x.png" in browser.requests()
    finally:
        browser.close()


def test_samples_show_the_texts_literally(run: Path) -> None:
    table = bench("samples", "oversample", "--results", str(run), "--limit", "6")
    assert table.exit_code == 0, table.output
    assert "<script>alert('x" in table.stdout and "[bold]loud" in table.stdout and "=cmd|' /C calc'!A" in table.stdout
    records = json.loads(bench("samples", "oversample", "--results", str(run), "--format", "json").stdout)
    assert records and all(r["status"] == "accepted" for r in records)
    assert all(r["text"].startswith("=cmd|") and "<script>alert(" in r["text"] for r in records)
    rows = list(csv.DictReader(bench("samples", "oversample", "--results", str(run), "--format", "csv").stdout.splitlines()))
    assert len(rows) == len(records)
    assert all(r["text"].startswith("'=cmd|") for r in rows), "a spreadsheet would run the formula"


def test_samples_with_rejected_texts_and_their_reasons(tmp_path: Path) -> None:
    """eda on real data rejects unchanged and duplicate texts; each is stored with its reason (a few per reason)."""
    from collections import Counter

    from sparsebench.contracts.components import REJECTED_KEPT

    args = ["run", "-d", "toxic-mix[negatives=1500,positives=300]", "-g", "eda", "-c", "logreg", "-s", "5%", "--bootstrap", "20",
            "--results", str(tmp_path), "-q"]
    assert bench(*args).exit_code == 0
    records = json.loads(bench("samples", "eda", "--results", str(tmp_path), "--rejected", "--format", "json").stdout)
    (cell,) = json.loads(bench("leaderboard", "--results", str(tmp_path), "--format", "json").stdout)
    counts = json.loads(bench("show", cell["cell"], "--results", str(tmp_path), "--json").stdout)["details"]["generation"]["rejected"]
    rejected = Counter(r["reason"] for r in records if r["status"] == "rejected")
    assert counts and rejected == Counter({reason: min(n, REJECTED_KEPT) for reason, n in counts.items()})
    accepted = {r["text"] for r in records if r["status"] == "accepted"}
    assert len(accepted) == cell["synthetic"] or len(accepted) >= cell["synthetic"]
    table = bench("samples", "eda", "--results", str(tmp_path), "--rejected")
    assert "✗  [duplicate] " in table.stdout or "✗  [unchanged] " in table.stdout
    plain = bench("samples", "eda", "--results", str(tmp_path))
    assert "✗" not in plain.stdout and "rejected by reason:" in plain.stdout


def test_samples_of_an_unknown_generator_say_what_is_stored(run: Path) -> None:
    out = bench("samples", "llm", "--results", str(run))
    assert out.exit_code == 2 and "no stored generation of 'llm'" in out.output and "oversample" in out.output


def test_the_study_figure_for_a_paper(run: Path, tmp_path: Path) -> None:
    png, svg = tmp_path / "study.png", tmp_path / "study.svg"
    assert bench("report", "--results", str(run), "--format", "png", "-o", str(png)).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert bench("report", "--results", str(run), "--format", "svg", "-o", str(svg)).exit_code == 0
    assert "<svg" in svg.read_text() and "precision @ val threshold" in svg.read_text()
    refused = bench("report", "--results", str(run), "--format", "svg", "-o", str(tmp_path / "x.png"))
    assert refused.exit_code == 2 and "does not end in .svg" in refused.output


def _stored(run: Path) -> list[dict]:
    with ResultStore(run, create=False) as store:
        return store.rows()


def test_quality_table_has_one_row_per_generation_with_the_stored_numbers(run: Path) -> None:
    rows = _stored(run)
    found = quality_rows(rows)
    assert [(q["generator"], q["seed"]) for q in found] == [("oversample", 0), ("real-extra", 0), ("template", 0)]  # not one per level
    for entry in found:
        cells = [r for r in rows if r["generator"] == entry["generator"] and r["details"].get("quality")]
        assert len(cells) == 2 and all(c["details"]["quality"] == entry["quality"] for c in cells)
        assert entry["near_dropped"] == cells[0]["details"]["generation"]["rejected"].get("near-duplicate of a validation or test row", 0)
    oversample = found[0]["quality"]
    assert oversample["novelty"] == pytest.approx(1.0) and oversample["copy_share"] == 1.0 and oversample["near_duplicates"] == 0


def test_functional_heatmap_cells_are_the_stored_accuracies(run: Path) -> None:
    rows = _stored(run)
    (name,) = evaluations_of(rows)
    assert name.startswith("hatecheck")
    matrix = functional_matrix(rows, name)
    assert len(matrix.rows) == 29 and matrix.rows[0].endswith("_h") and matrix.rows[-1].endswith("_nh")
    assert matrix.columns == ["real-only × logreg @ 0.25%", "oversample × logreg @ 5.00%", "real-extra × logreg @ 5.00%", "template × logreg @ 5.00%"]
    for column in matrix.columns:
        generator, level = column.split(" × ")[0], float(column.split("@ ")[1].rstrip("%")) / 100
        (cell,) = [r for r in rows if r["generator"] == generator and r["level"] == pytest.approx(level)]
        stored = cell["details"]["functional"][name]["functionality"]
        assert {f: matrix.value(f, column) for f in matrix.rows} == {f: stored[f]["accuracy"] for f in stored}
    targets, table = target_rows(rows, name)
    assert len(targets) == 7 and len(table) == 4


def _flag_everything_rows(seeds: int = 2, classifiers: int = 1, generators: int = 1) -> list[dict]:
    """Rows as a cell stores them, scored on the real HateCheck cases by a classifier that flags every text."""
    from sparsebench.contracts.settings import data_dir

    cases = HateCheck(per_functionality=0).load(DataContext(data_dir()))
    scored = score_cases(cases, [1.0] * len(cases.texts), threshold=0.5)
    return [{"status": "done", "dataset": "toxic-mix", "generator": f"gen{g}", "classifier": f"flag-everything{c}", "level": 0.05, "seed": seed,
             "details": {"functional": {"hatecheck": scored}}} for seed in range(seeds) for c in range(classifiers) for g in range(generators)]


def test_a_classifier_that_flags_everything_is_all_right_on_hateful_and_all_wrong_on_non_hateful() -> None:
    matrix = functional_matrix(_flag_everything_rows(), "hatecheck")
    assert matrix.columns == ["gen0 × flag-everything0 @ 5.00%"] and matrix.seeds == [2]
    for name, hateful, (value,) in zip(matrix.rows, matrix.hateful, matrix.values, strict=True):
        assert value == (1.0 if hateful else 0.0) and hateful == name.endswith("_h")
    svg = to_svg(functional_heatmap(matrix))
    assert "counter_quote_nh (non-hateful)" in svg and "gen0 × flag-everything0 @ 5.00%" in svg
    assert "<image" not in svg and "data:" not in svg  # vector quads: the figure embeds no image to load
    (row,) = target_rows(_flag_everything_rows(), "hatecheck")[1]
    assert row[1:5] == (2, f"{2563 / 3728:.2f}", "1.00", "0.00")


def test_the_heatmap_keeps_whole_classifiers_and_names_what_it_leaves_out() -> None:
    matrix = functional_matrix(_flag_everything_rows(seeds=1, classifiers=5, generators=8), "hatecheck", max_columns=30)
    assert len(matrix.columns) == 24 and len(matrix.left_out) == 16
    assert all("flag-everything4" in c or "flag-everything3" in c for c in matrix.left_out)


def test_empty_report_says_there_is_nothing_to_show() -> None:
    page = build(ReportData(rows=[], records=[], comparisons=[], arrays=lambda cell: {}, runs=[]))
    assert "No generated set has a stored quality" in page and "No finished cell has functional scores" in page
    assert '<a href="#quality">' in page and '<a href="#functional">' in page


def test_the_report_opens_with_the_summary(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert page.index('<section id="summary">') < page.index('<section id="study">')
    summary = page[page.index('<section id="summary">') : page.index('<section id="study">')]
    assert "Summary: what each generator is worth" in summary and "template" in summary
    assert "On " in summary and ("is worth" in summary or "no generator has a worth" in summary)
