"""The report's figures read: no two text labels overlap (measured from the SVG's own text positions),
no axis is degenerate, a forest plot shows every interval, and no figure mixes two datasets."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache

import pytest

from sparsebench.render import figures

_SVG = "{http://www.w3.org/2000/svg}"
_ANGLE = re.compile(r"rotate\(([-\d.e]+)")
_TRANSLATE = re.compile(r"translate\(([-\d.e]+)[ ,]([-\d.e]+)\)")


@dataclass(frozen=True)
class Label:
    text: str
    corners: tuple[tuple[float, float], ...]


@cache
def _width(text: str, size: float) -> float:
    """The advance width of ``text`` in DejaVu Sans (matplotlib's default, the font the SVG names first) at ``size`` px."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(family="DejaVu Sans", size=size), ismath=False)
    return float(width)


def labels(svg: str) -> list[Label]:
    """Every ``<text>`` of a matplotlib SVG (``svg.fonttype`` none) as the rotated box its glyphs cover."""
    root = ET.fromstring(svg)
    found = []
    for parent in root.iter():
        for node in parent:
            if node.tag != f"{_SVG}text":
                continue
            moved = _TRANSLATE.search(parent.get("transform") or "")  # mathtext (10⁴): <g translate> <text> <tspan x y>...
            offset = (float(moved.group(1)), float(moved.group(2))) if moved else (0.0, 0.0)
            found.append(_box(node, offset))
    return found


def _style_of(node: ET.Element) -> dict[str, str]:
    return dict(part.strip().split(":", 1) for part in (node.get("style") or "").split(";") if ":" in part)


def _box(node: ET.Element, offset: tuple[float, float]) -> Label:
    spans = [child for child in node if child.tag == f"{_SVG}tspan"]
    if spans:  # glyphs placed one by one: the box from the first glyph's start to the last glyph's end
        sizes = [float(_style_of(s).get("font-size", "10px").strip().rstrip("px")) for s in spans]
        left = offset[0] + float(spans[0].get("x", 0))
        right = offset[0] + float(spans[-1].get("x", 0)) + _width((spans[-1].text or "").strip(), sizes[-1])
        base = offset[1] + max(float(s.get("y", 0)) for s in spans)
        top = offset[1] + min(float(s.get("y", 0)) - 0.76 * size for s, size in zip(spans, sizes, strict=True))
        text = "".join((s.text or "").strip() for s in spans)
        return Label(text, ((left, top), (right, top), (right, base + 0.24 * max(sizes)), (left, base + 0.24 * max(sizes))))
    style = _style_of(node)
    size = float(style.get("font-size", "10px").strip().rstrip("px"))
    anchor = style.get("text-anchor", "start").strip()
    x, y = offset[0] + float(node.get("x", 0)), offset[1] + float(node.get("y", 0))
    transform = node.get("transform") or ""
    moved = _TRANSLATE.search(transform)  # matplotlib writes either x, y and rotate(a x y), or translate(x y) rotate(a)
    if moved:
        x, y = x + float(moved.group(1)), y + float(moved.group(2))
    text = "".join(node.itertext())
    width = _width(text, size)
    left = {"start": 0.0, "middle": -width / 2, "end": -width}[anchor]
    # glyphs span about 0.76 of the size above the baseline and 0.24 below (DejaVu Sans)
    box = [(left, -0.76 * size), (left + width, -0.76 * size), (left + width, 0.24 * size), (left, 0.24 * size)]
    turn = _ANGLE.search(transform)
    angle = math.radians(float(turn.group(1))) if turn else 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    return Label(text, tuple((x + dx * cos - dy * sin, y + dx * sin + dy * cos) for dx, dy in box))


def _overlap(a: Label, b: Label, slack: float = 0.5) -> bool:
    """Separating-axis test of two convex quadrilaterals, each shrunk by ``slack`` px along every axis."""
    ax, ay = [p[0] for p in a.corners], [p[1] for p in a.corners]
    bx, by = [p[0] for p in b.corners], [p[1] for p in b.corners]
    if max(ax) <= min(bx) or max(bx) <= min(ax) or max(ay) <= min(by) or max(by) <= min(ay):
        return False  # apart on the page's own axes already
    for shape in (a.corners, b.corners):
        for i in range(4):
            (x1, y1), (x2, y2) = shape[i], shape[(i + 1) % 4]
            axis = (y1 - y2, x2 - x1)
            norm = math.hypot(*axis) or 1.0
            pa = [(px * axis[0] + py * axis[1]) / norm for px, py in a.corners]
            pb = [(px * axis[0] + py * axis[1]) / norm for px, py in b.corners]
            if max(pa) - slack <= min(pb) + slack or max(pb) - slack <= min(pa) + slack:
                return False
    return True


def overlapping(svg: str) -> list[tuple[str, str]]:
    found = [label for label in labels(svg) if label.text.strip()]
    return [(a.text, b.text) for i, a in enumerate(found) for b in found[i + 1 :] if _overlap(a, b)]


# --- records and comparisons shaped like the default suite's ----------------------------------------

CLASSIFIERS = ("logreg", "mlp", "length", "bert[evals=1,max_length=64,max_steps=16]")
GENERATORS = ("real-extra", "oversample", "template", "eda", "llm", "falcon-7b")
LEVELS = (0.01, 0.03, 0.05)


@dataclass(frozen=True)
class Comp:
    dataset: str
    generator: str
    classifier: str
    level: float
    baseline: str
    metric: str
    delta: float
    low: float
    high: float
    verdict: str
    n_seeds: int = 3


def _comparisons(dataset: str = "toxic-mix") -> list[Comp]:
    """One comparison per generator × classifier × level against each baseline: logreg's differences near 0.1,
    length's a thousand times smaller, so a shared scale would hide length's intervals."""
    out = []
    for c, classifier in enumerate(CLASSIFIERS):
        scale = 1e-4 if classifier == "length" else 0.02 * (c + 1)
        for g, generator in enumerate(GENERATORS):
            for level in LEVELS:
                delta = scale * (g - 2) * level * 20
                for baseline in ("oversample", "real-only"):
                    out.append(Comp(dataset, generator, classifier, level, baseline, "auprc", delta, delta - scale / 2, delta + scale / 2,
                                    "helps" if delta - scale / 2 > 0 else "no evidence"))
    return out


def _records(dataset: str = "toxic-mix") -> list[dict]:
    """Folded records: precision@0.5 of bert 0 everywhere (it flags nothing); logreg's flags 2 rows at 0.25 %."""
    out = []
    for classifier in CLASSIFIERS:
        for generator in (*GENERATORS, "real-only"):
            for level in (0.0025,) if generator == "real-only" else LEVELS:
                value = 0.0 if classifier.startswith("bert") else 0.3 + level
                record = {"dataset": dataset, "generator": generator, "classifier": classifier, "level": level, "status": "done", "seed": 0}
                for metric in ("auprc", "precision@val", "recall@val", "precision@0.5", "recall@0.5"):
                    record.update({metric: value, f"{metric}_low": max(0.0, value - 0.05), f"{metric}_high": value + 0.05})
                record["flagged@0.5"] = 2 if classifier == "logreg" and generator == "real-only" else 40
                out.append(record)
    return out


@pytest.fixture(scope="module")
def forest_svgs() -> list[str]:
    return [figures.to_svg(figures.forest_figure(_comparisons(), "auprc", baseline, "toxic-mix")) for baseline in ("oversample", "real-only")]


def test_no_two_labels_of_a_forest_plot_overlap(forest_svgs: list[str]) -> None:
    for svg in forest_svgs:
        assert len(labels(svg)) > 4 * 18
        assert overlapping(svg) == []


def test_forest_plot_gives_each_classifier_its_own_scale_and_room(forest_svgs: list[str]) -> None:
    fig = figures.forest_figure(_comparisons(), "auprc", "oversample", "toxic-mix")
    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == ["bert[evals=1,max_length=64,max_steps=16]", "length", "logreg", "mlp"]
    length = axes[1]
    spans = [ax.get_xlim()[1] - ax.get_xlim()[0] for ax in axes]
    assert spans[1] < min(s for i, s in enumerate(spans) if i != 1) / 50  # length's tiny intervals get their own scale
    for ax in axes:  # every interval spans at least 5 % of its panel's width
        low, high = ax.get_xlim()
        for line in ax.collections:
            for segment in line.get_segments():
                assert abs(segment[1][0] - segment[0][0]) / (high - low) > 0.05
    assert len(length.get_yticklabels()) == 18 and fig.get_size_inches()[1] > 0.18 * 72
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_forest_plot_refuses_two_datasets() -> None:
    with pytest.raises(ValueError, match="one dataset"):
        figures.forest_figure(_comparisons("toxic-mix") + _comparisons("stormfront"), "auprc", "oversample")


@pytest.mark.parametrize("maker", ["study_figure", "auprc_figure"])
def test_metric_figures_have_no_overlapping_labels_and_no_degenerate_axis(maker: str) -> None:
    fig = getattr(figures, maker)(_records())
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert high - low >= 0.05 - 1e-9, (ax.get_title(loc="left"), low, high)
    assert overlapping(figures.to_svg(fig)) == []


def test_study_figure_leaves_out_a_precision_over_too_few_flagged_rows() -> None:
    fig = figures.study_figure(_records())
    names = sorted(CLASSIFIERS)  # a row of panels per classifier, in name order
    logreg_p05 = fig.axes[names.index("logreg") * 4 + 2]
    assert logreg_p05.get_ylabel() == "" and fig.axes[names.index("logreg") * 4].get_ylabel() == "logreg"
    real_only = [line for line in logreg_p05.get_lines() if line.get_label() == "real-only"]
    assert real_only == []  # its only point flags 2 rows: not drawn
    mlp_p05 = fig.axes[names.index("mlp") * 4 + 2]
    assert any(line.get_label() == "real-only" for line in mlp_p05.get_lines())
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize("maker", ["study_figure", "auprc_figure"])
def test_metric_figures_refuse_two_datasets(maker: str) -> None:
    with pytest.raises(ValueError, match="one dataset"):
        getattr(figures, maker)(_records("toxic-mix") + _records("stormfront"))


def test_the_overlap_check_can_fail() -> None:
    """Two labels drawn on top of each other, and ticks crowded on a narrow axis, are caught."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(1.2, 1.0))
        ax.set_xticks([0.0001 * i for i in range(12)], [f"{0.0001 * i:.4f}" for i in range(12)])
        svg = figures.to_svg(fig)
    assert overlapping(svg)
    with plt.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.text(0.5, 0.5, "first label")
        ax.text(0.52, 0.5, "second label", rotation=30)
        svg = figures.to_svg(fig)
    assert ("first label", "second label") in overlapping(svg)
