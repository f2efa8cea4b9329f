"""``bench report`` over two datasets: a section each, no figure or table mixing them, labels that never overlap,
a forest plot per dataset and baseline, a page of reasonable size, and a list of sections others can extend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_figures_layout import labels, overlapping

from sparsebench.analysis.columns import header
from sparsebench.analysis.paired import VERDICT_METRIC
from sparsebench.cli import cli
from sparsebench.render import report_page as htmlreport
from sparsebench.render.report_page import ReportData, Section, build

SMALL, OTHER = "toxic-mix[negatives=1500,positives=300]", "toxic-mix[negatives=2000,positives=300]"
SHORT = {SMALL: "toxic-mix[neg=1500,pos=300]", OTHER: "toxic-mix[neg=2k,pos=300]"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two datasets of one name: real-only, oversample and template × logreg and length at 5 %, one seed (12 cells)."""
    target = tmp_path_factory.mktemp("two") / "results"
    args = ["run", "-d", SMALL, "-d", OTHER, "-g", "real-only", "-g", "oversample", "-g", "template", "-c", "logreg", "-c", "length",
            "-s", "5%", "--bootstrap", "50", "--results", str(target), "-q"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    return target


@pytest.fixture(scope="module")
def page(results: Path) -> str:
    target = results.parent / "report.html"
    out = CliRunner().invoke(cli, ["report", "--results", str(results), "-o", str(target)])
    assert out.exit_code == 0, out.output
    return target.read_text(encoding="utf-8")


def _dataset_sections(page: str) -> dict[str, str]:
    """The HTML of each dataset's section, keyed by the short label in its heading."""
    found = {}
    for match in re.finditer(r'<section id="dataset-[^"]+" class="dataset"><h2>Dataset ([^<]+)</h2>', page):
        end = page.find('<section id="dataset-', match.end())
        config = page.find('<section id="config">', match.end())
        stop = min(x for x in (end, config, len(page)) if x != -1)
        found[match.group(1)] = page[match.start() : stop]
    return found


def test_one_section_per_dataset_holds_every_figure_of_it(page: str) -> None:
    sections = _dataset_sections(page)
    assert set(sections) == set(SHORT.values())
    for short, html in sections.items():
        slug = re.sub(r"[^a-z0-9]+", "-", short.lower()).strip("-")
        for name in ("study", "auprc", "paired-oversample", "paired-real-only", "pr", "throughput"):
            assert f'<figure id="fig-{name}-{slug}"><svg' in html, (short, name)
        assert f'href="#dataset-{slug}"' in page
    outside = page[: page.find('<section id="dataset-')] + page[page.find('<section id="config">') :]
    assert "<svg" not in outside  # every figure belongs to one dataset


def test_each_forest_plot_names_its_dataset_and_baseline(page: str) -> None:
    for short, html in _dataset_sections(page).items():
        for baseline in ("oversample", "real-only"):
            svg = re.search(rf'<figure id="fig-paired-{baseline}-[^"]+">(<svg.*?</svg>)', html, re.S).group(1)
            texts = [label.text for label in labels(svg)]
            assert f"{short}: {header(VERDICT_METRIC).split(' [', 1)[0]} − {baseline}" in texts  # the verdicts' metric
            assert {"length", "logreg"} <= set(texts)  # a panel per classifier


def test_no_figure_of_the_page_has_overlapping_labels(page: str) -> None:
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) >= 14
    for svg in svgs:
        assert overlapping(svg) == []


def test_no_table_mixes_the_datasets(page: str) -> None:
    for short, html in _dataset_sections(page).items():
        other = next(s for s in SHORT.values() if s != short)
        assert other not in html
    for table in re.findall(r"<table>.*?</table>", page, re.S):
        assert sum(short in table for short in SHORT.values()) <= 1


def test_the_page_stays_small(page: str) -> None:
    assert len(page.encode("utf-8")) < 900_000


def test_sections_are_a_list_others_extend(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sparsebench.storage.store import ResultStore

    summary = Section("summary", "The answer first", lambda d: f"<p>{len(d.records)} cells over {len(d.datasets())} datasets</p>", per_dataset=False)
    per_dataset = Section("calibration", "Calibration", lambda d: f"<p>calibration of {d.dataset_short}</p>")
    monkeypatch.setattr(htmlreport, "SECTIONS", [summary, *htmlreport.SECTIONS[:3], per_dataset, *htmlreport.SECTIONS[3:]])
    with ResultStore(results, create=False) as store:
        page = build(htmlreport.load(store, None))
    assert page.index('<section id="summary">') < page.index('<section id="dataset-')
    assert "<p>12 cells over 2 datasets</p>" in page and '<a href="#summary">' in page
    for short in SHORT.values():
        assert f"<p>calibration of {short}</p>" in _dataset_sections(page)[short]


def test_a_single_dataset_keeps_the_plain_anchors(results: Path) -> None:
    from sparsebench.storage.store import ResultStore

    with ResultStore(results, create=False) as store:
        one = htmlreport.load(store, None).restricted(SMALL, SHORT[SMALL], "")
        page = build(ReportData(one.rows, one.records, one.comparisons, one.arrays, one.runs))
    assert '<section id="study">' in page and '<figure id="fig-paired-oversample"><svg' in page and 'class="dataset"' not in page
    assert f"Dataset: {SMALL}." in page


def test_the_paper_figure_asks_which_dataset_when_several_are_stored(results: Path, tmp_path: Path) -> None:
    target = tmp_path / "study.svg"
    refused = CliRunner().invoke(cli, ["report", "--results", str(results), "--format", "svg", "-o", str(target)])
    assert refused.exit_code == 2 and "pick the one to draw with --dataset" in refused.output and SHORT[OTHER] in refused.output
    assert not target.exists()
    drawn = CliRunner().invoke(cli, ["report", "--results", str(results), "--format", "svg", "-o", str(target), "-d", SHORT[OTHER]])
    assert drawn.exit_code == 0, drawn.output
    assert "precision @ val threshold" in target.read_text() and overlapping(target.read_text()) == []
