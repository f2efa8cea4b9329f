"""The report's calibration figure: one per dataset, a panel per classifier, every generator configuration with a
worth placed and labelled (out-of-range worths at the axis edge with ≥ / ≤), no two labels overlapping."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from test_exchange import ARMS, _rising, _stored
from test_figures_layout import labels, overlapping
from test_summary import _write

from sparsebench.analysis.exchange import worths
from sparsebench.cli import cli
from sparsebench.render import figures

GENERATORS = {**ARMS, "gen": (0.01, 300), "gen@0.05": (0.05, 60), "bad": (0.01, -400), "great": (0.05, 5000)}


def _two_datasets() -> tuple[list[dict], dict]:
    """Datasets d and e, each with its own test sets: real-only, real-extra at four levels and four generator cells, 3 seeds."""
    rows, arrays = _stored(_rising, GENERATORS)
    other, other_arrays = _stored(_rising, GENERATORS)
    for row in other:
        row["dataset"], row["cell_id"] = "e", "e-" + row["cell_id"]
        row["details"]["dataset_fingerprint"] = "e" + row["details"]["dataset_fingerprint"]
    return rows + other, {**arrays, **{"e-" + k: v for k, v in other_arrays.items()}}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict], dict]:
    rows, arrays = _two_datasets()
    results = tmp_path_factory.mktemp("calibration") / "results"
    _write(results, rows, arrays)
    target = results.parent / "report.html"
    out = CliRunner().invoke(cli, ["report", "--results", str(results), "-o", str(target), "--metric", "auroc"])
    assert out.exit_code == 0, out.output
    return target.read_text(encoding="utf-8"), rows, arrays


def _figures(page: str) -> dict[str, str]:
    return dict(re.findall(r'<figure id="fig-calibration-([^"]+)">(<svg.*?</svg>)', page, re.S))


def test_one_calibration_figure_per_dataset_in_its_own_section(page) -> None:
    html, _, _ = page
    found = _figures(html)
    assert set(found) == {"d", "e"}
    for slug in found:
        section = html[html.index(f'<section id="dataset-{slug}"') :]
        section = section[: section.find('<section id="dataset-', 1) if '<section id="dataset-' in section[1:] else len(section)]
        assert f'<section id="calibration-{slug}">' in section and f'id="fig-calibration-{slug}"' in section
        texts = [label.text for label in labels(found[slug])]
        assert any(t.startswith(f"{slug}: AUROC against real training positives") for t in texts)
    assert html.index('id="paired-d"') < html.index('id="calibration-d"') < html.index('id="pr-d"')  # after paired


def test_every_configuration_with_a_worth_is_labelled_with_its_worth(page) -> None:
    html, rows, arrays = page
    found = worths(rows, arrays.__getitem__, "auroc")
    for slug, svg in _figures(html).items():
        texts = [label.text for label in labels(svg)]
        expected = {f"{g} @ {level:.2%}: {w.text()}" for (d, g, c, level, mode), w in found.items()
                    if d == slug and g not in ("real-only", "real-extra") and w.value is not None}
        assert len(expected) == 4 and expected <= set(texts), (expected - set(texts))
        assert any(t.startswith("bad @ 1.00%: ≤ -20") for t in texts) and any(t.startswith("great @ 5.00%: ≥ 750") for t in texts)
        assert not any(t.startswith(("real-extra @", "real-only @")) for t in texts)  # the curve's own arms are not placed on it


def test_no_two_labels_of_a_report_figure_overlap(page) -> None:
    html, _, _ = page
    for svg in _figures(html).values():
        assert overlapping(svg) == []


def _panel(n: int, dataset: str = "d") -> figures.CalibrationPanel:
    """Many configurations whose metrics nearly coincide: their labels must be spread apart, not stacked."""
    placed = tuple(figures.Placed(f"generator-{i} @ 1.00%: {10 * i} [0, {20 * i}]", f"generator-{i % 3}", 10.0 * i, 0.0, 20.0 * i,
                                  0.6 + 0.0005 * i) for i in range(n))
    return figures.CalibrationPanel(dataset, "logreg", 40, (-20.0, 0.0, 120.0, 750.0), (0.55, 0.6, 0.63, 0.7), (0.54, 0.59, 0.62, 0.68),
                                    (0.56, 0.61, 0.64, 0.71), placed)


def test_crowded_labels_are_spread_and_the_axes_keep_a_span() -> None:
    fig = figures.calibration_figure([_panel(14), _panel(2)], "auroc", "d")
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert high - low >= 0.02 - 1e-9
        xlow, xhigh = ax.get_xlim()
        assert xlow < -20 and xhigh > 750
    svg = figures.to_svg(fig)
    assert overlapping(svg) == []
    assert sum(label.text.startswith("generator-") for label in labels(svg)) == 16


def test_a_calibration_figure_refuses_two_datasets() -> None:
    with pytest.raises(ValueError, match="one dataset"):
        figures.calibration_figure([_panel(2, "d"), _panel(2, "e")])


def test_spread_keeps_order_and_gap() -> None:
    out = figures._spread([0.5, 0.5, 0.51, 0.99, 1.0], 0.1)
    assert all(b - a >= 0.1 - 1e-12 for a, b in zip(out, out[1:], strict=False)) and out[-1] <= 1.0 + 1e-12
    assert figures._spread([0.1, 0.5, 0.9], 0.1) == [0.1, 0.5, 0.9]  # labels with room stay at their points
