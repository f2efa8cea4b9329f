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

HOSTILE = ("=cmd|' /C calc'!A{i}", "<script>alert('x{i}')</script>", "[bold]loud{i}[/bold]")
FIGURES = ("fig-study", "fig-auprc", "fig-paired", "fig-pr", "fig-throughput")


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

    from sparsebench.components import REJECTED_KEPT

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
