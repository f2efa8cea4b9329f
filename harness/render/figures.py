"""The report's figures, drawn with matplotlib from leaderboard records and stored arrays only.

matplotlib is imported here and nowhere else (``pip install sparsebench[report]``). Figures are
returned as inline SVG text (for the HTML report) or written as PNG/SVG files (for a paper). Labels
from plugins and datasets are drawn as plain text: mathtext is off, so a ``$`` stays a ``$``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sparsebench.analysis import roles
from sparsebench.contracts.errors import Unavailable

_REF_STYLE = {  # by role rank (sparsebench.analysis.roles.rank): the reference, another baseline, the upper bound
    0: {"color": "#555555", "linestyle": ":"},
    1: {"color": "#222222", "linestyle": "--"},
    2: {"color": "#8c8c8c", "linestyle": "-."},
}
_ORDINARY = 3
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#bcbd22", "#8c564b")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise Unavailable("the report's figures need matplotlib: pip install 'sparsebench[report]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def _style(name: str) -> Iterator[Any]:
    plt = _pyplot()
    rc = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": name, "font.size": 9, "axes.titlesize": 9,
          "figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False}
    with plt.rc_context(rc):
        yield plt


def to_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no external reference)."""
    buffer = io.StringIO()
    plt = _pyplot()
    with plt.rc_context(_SAVE_RC):  # read when saving, not when drawing: labels stay text, not glyph outlines
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return compact(text[text.index("<svg") :])


_TAG = re.compile(r"<[^>]+>")
_LONG_NUMBER = re.compile(r"(\d\.\d\d)\d+|(\d\d\.\d)\d+")


def compact(svg: str) -> str:
    """The same drawing in fewer bytes: numbers inside tags cut to two decimals (one from 10 on: 0.1 pt), indentation and
    the long fallback font list dropped. Texts between tags (the labels) are left exactly as they are."""
    svg = _TAG.sub(lambda tag: _LONG_NUMBER.sub(lambda m: m.group(1) or m.group(2), tag.group()), svg)
    svg = re.sub(r"\n[ \t]+", "\n", svg).replace("\nL ", " L ")
    svg = re.sub(r' transform="rotate\(-0 [^")]*\)"', "", svg)  # horizontal texts need no rotation
    return svg.replace(_FONTS, "'DejaVu Sans', sans-serif")


_FONTS = ("'DejaVu Sans', 'Bitstream Vera Sans', 'Computer Modern Sans Serif', 'Lucida Grande', 'Verdana', 'Geneva', 'Lucid', "
          "'Arial', 'Helvetica', 'Avant Garde', sans-serif")


def save(fig: Any, path: str, fmt: str) -> None:
    plt = _pyplot()
    with plt.rc_context(_SAVE_RC):
        fig.savefig(path, format=fmt, bbox_inches="tight", dpi=200, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)


_SAVE_RC = {"svg.fonttype": "none"}


def _order(generators: Sequence[str]) -> list[str]:
    return sorted(set(generators), key=lambda g: (roles.rank(g), g))


def _color(generators: list[str]) -> dict[str, dict[str, Any]]:
    others = [g for g in generators if roles.rank(g) == _ORDINARY]
    styles = {g: {"color": _PALETTE[i % len(_PALETTE)], "linestyle": "-"} for i, g in enumerate(others)}
    styles.update({g: _REF_STYLE[roles.rank(g)] for g in generators if roles.rank(g) != _ORDINARY})
    return styles


def _series(records: list[dict[str, Any]], classifier: str, generator: str, metric: str) -> tuple[list[float], ...]:
    points = sorted((r["level"], r[metric], r.get(f"{metric}_low"), r.get(f"{metric}_high")) for r in records
                    if r["classifier"] == classifier and r["generator"] == generator and r.get(metric) is not None
                    and not _few_flagged(r, metric))
    levels = [p[0] * 100 for p in points]
    values = [p[1] for p in points]
    lows = [p[2] if p[2] is not None else p[1] for p in points]
    highs = [p[3] if p[3] is not None else p[1] for p in points]
    return levels, values, lows, highs


def _few_flagged(record: dict[str, Any], metric: str) -> bool:
    """A precision over too few flagged test rows to mean anything (see :func:`sparsebench.analysis.leaderboard.flagged_rows`)."""
    from sparsebench.analysis.leaderboard import MIN_FLAGGED

    flagged = record.get(metric.replace("precision", "flagged")) if metric.startswith("precision@") else None
    return flagged is not None and flagged < MIN_FLAGGED


def _draw(ax: Any, records: list[dict[str, Any]], classifier: str, metric: str, styles: dict[str, dict[str, Any]], span: tuple[float, float]) -> None:
    for generator, style in styles.items():
        levels, values, lows, highs = _series(records, classifier, generator, metric)
        if not levels:
            continue
        if len(levels) == 1 and roles.rank(generator) == 0:  # the reference at the base share: a level line across the axis
            ax.axhspan(lows[0], highs[0], color=style["color"], alpha=0.08, linewidth=0)
            ax.axhline(values[0], label=generator, linewidth=1.2, **style)
            ax.plot(levels, values, marker="o", markersize=3, color=style["color"])
            continue
        ax.fill_between(levels, lows, highs, color=style["color"], alpha=0.12, linewidth=0)
        ax.plot(levels, values, marker="o", markersize=3, linewidth=1.4, label=generator, **style)
    ax.set_xlim(span)
    ax.set_xlabel("positives in training (%)")
    ax.grid(alpha=0.25)


def _grid(plt: Any, rows: int, cols: int) -> tuple[Any, Any]:
    fig, axes = plt.subplots(rows, cols, figsize=(2.9 * cols + 1.6, 2.3 * rows + 0.6), squeeze=False, sharex=True)
    return fig, axes


def _span(records: list[dict[str, Any]]) -> tuple[float, float]:
    levels = [r["level"] * 100 for r in records]
    return (0.0, max(levels, default=5.0) * 1.05)


def study_figure(records: list[dict[str, Any]]) -> Any:
    """Precision and recall at the validation threshold and at 0.5 against the level: a row per classifier.

    A precision over fewer than :data:`sparsebench.analysis.leaderboard.MIN_FLAGGED` flagged test rows is left out.
    """
    metrics = (("precision@val", "precision @ val threshold"), ("recall@val", "recall @ val threshold"),
               ("precision@0.5", "precision @ 0.5 (study's)"), ("recall@0.5", "recall @ 0.5 (study's)"))
    return _metric_grid("study", records, metrics)


def auprc_figure(records: list[dict[str, Any]]) -> Any:
    """AUPRC against the level, a panel per classifier; real-only, oversample, real-extra drawn as references."""
    return _metric_grid("auprc", records, (("auprc", "AUPRC (test, deployment prevalence)"),), per_row=3)


def one_dataset(items: Sequence[Any]) -> None:
    """Refuse records (or comparisons) of several datasets: a figure shows one dataset."""
    found = {item["dataset"] if isinstance(item, dict) else item.dataset for item in items}
    if len(found) > 1:
        raise ValueError(f"a figure shows one dataset, got {len(found)}; restrict the records first")


def _metric_grid(name: str, records: list[dict[str, Any]], metrics: Sequence[tuple[str, str]], per_row: int = 1) -> Any:
    one_dataset(records)
    classifiers = sorted({r["classifier"] for r in records})
    styles = _color(_order([r["generator"] for r in records]))
    span = _span(records)
    with _style(name) as plt:
        if per_row > 1:  # one metric: classifiers side by side
            cols = min(per_row, len(classifiers))
            rows = -(-len(classifiers) // cols)
            fig, axes = _grid(plt, rows, cols)
            panels = [(axes[i // cols][i % cols], c, metrics[0]) for i, c in enumerate(classifiers)]
            for ax in axes.flat[len(classifiers) :]:
                ax.set_visible(False)
        else:
            fig, axes = _grid(plt, len(classifiers), len(metrics))
            panels = [(axes[i][j], c, m) for i, c in enumerate(classifiers) for j, m in enumerate(metrics)]
        for ax, classifier, (metric, title) in panels:
            _draw(ax, records, classifier, metric, styles, span)
            _floor_span(ax)
            if per_row > 1:
                ax.set_title(_fit(classifier, 34), loc="left")
            else:  # metrics head the columns, classifiers label the rows
                if ax is axes[0][metrics.index((metric, title))]:
                    ax.set_title(title, loc="left")
                if ax is axes[classifiers.index(classifier)][0]:
                    ax.set_ylabel(_fit(classifier, 24), fontsize=8)
        _legend(fig, axes)
        return fig


def _floor_span(ax: Any, least: float = 0.05) -> None:
    """A y range of at least ``least``: values that never move (0 everywhere) get an axis, not a 1e-16 one."""
    low, high = ax.get_ylim()
    if high - low < least:
        start = max((low + high) / 2 - least / 2, min(low, 0.0) - least / 20)  # values at 0 sit near the bottom, not mid-axis
        ax.set_ylim(start, start + least)


def _legend(fig: Any, axes: Any) -> None:
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(len(handles), 5), frameon=False)
        fig.set_layout_engine("constrained")


_VERDICT_COLOURS = {"helps": "#17803d", "hurts": "#b42318", "no evidence": "#777777"}


def _metric_name(metric: str) -> str:
    """The metric as the leaderboard heads it (``AUPRC``, ``pAUROC@0.1``)."""
    from sparsebench.analysis.columns import header

    return header(metric).split(" [", 1)[0]


def forest_figure(comparisons: list[Any], metric: str = "auprc", baseline: str = "", dataset: str = "") -> Any:
    """Paired differences (cell − ``baseline``) with 95 % intervals, coloured by verdict: a panel per classifier.

    The comparisons must be of one dataset (``dataset`` names it in the title). Each panel has its own x
    scale, so an interval of one classifier is not squeezed by another's; the height grows with the rows.
    """
    baseline = baseline or min({c.baseline for c in comparisons}, key=lambda b: (roles.rank(b) == 0, b), default="")
    one_dataset(comparisons)
    found = [c for c in comparisons if c.baseline == baseline and c.metric == metric]
    classifiers = sorted({c.classifier for c in found})
    rows = {name: _forest_rows(found, baseline, metric, name) for name in classifiers}
    with _style("forest") as plt:
        heights = [max(len(r), 1) for r in rows.values()] or [1]
        fig, axes = plt.subplots(len(heights), 1, figsize=(7.2, 0.2 * sum(heights) + 0.75 * len(heights) + 0.6), squeeze=False,
                                 gridspec_kw={"height_ratios": heights}, layout="constrained")
        for ax, (classifier, panel) in zip(axes[:, 0], rows.items(), strict=False):
            _forest_panel(ax, panel)
            ax.set_title(_fit(classifier, 70), loc="left", fontsize=8.5)
        axes[-1, 0].set_xlabel(f"{_metric_name(metric)} difference vs {baseline}, 95% paired interval")
        where = f"{dataset}: " if dataset else ""
        fig.suptitle(_fit(f"{where}{_metric_name(metric)} − {baseline}", 80), x=0.01, ha="left", fontsize=9.5)
        return fig


def _forest_panel(ax: Any, found: list[Any]) -> None:
    from matplotlib.ticker import MaxNLocator

    for y, comp in enumerate(found):
        colour = _VERDICT_COLOURS.get(comp.verdict, "#777777")
        ax.errorbar(comp.delta, y, xerr=[[comp.delta - comp.low], [comp.high - comp.delta]], fmt="o", color=colour, markersize=3.5, capsize=2)
    ax.axvline(0, color="#333333", linewidth=0.8)
    lows = [c.low for c in found] + [0.0]
    highs = [c.high for c in found] + [0.0]
    pad = max((max(highs) - min(lows)) * 0.06, 1e-4)
    ax.set_xlim(min(lows) - pad, max(highs) + pad)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_yticks(range(len(found)), [f"{c.generator} @ {c.level:.2%}" for c in found], fontsize=7.5)
    ax.set_ylim(len(found) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.25)


def _forest_rows(comparisons: list[Any], baseline: str, metric: str, classifier: str | None = None) -> list[Any]:
    found = [c for c in comparisons if c.baseline == baseline and c.metric == metric and classifier in (None, c.classifier)]
    return sorted(found, key=lambda c: (c.classifier, roles.rank(c.generator) == _ORDINARY, c.generator, c.level))


def _fit(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters where it can break (after a comma or a space): a title that fits."""
    lines = [""]
    for part in re.split(r"(?<=[, ])", text):
        if lines[-1] and len(lines[-1]) + len(part.rstrip()) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(line.rstrip() for line in lines)


def pr_figure(curves: list[tuple[dict[str, Any], Any, Any]]) -> Any:
    """Precision–recall curves on test (deployment prevalence): a panel per classifier × level, a curve per generator."""
    one_dataset([r for r, _, _ in curves])
    panels = sorted({(r["classifier"], r["level"]) for r, _, _ in curves if roles.rank(r["generator"]) != 0})
    styles = _color(_order([r["generator"] for r, _, _ in curves]))
    with _style("pr") as plt:
        cols = min(3, max(len(panels), 1))
        rows = max(-(-len(panels) // cols), 1)
        fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols + 1.4, 2.8 * rows + 0.6), squeeze=False)
        for index, (classifier, level) in enumerate(panels):
            ax = axes[index // cols][index % cols]
            for record, recall, precision in curves:
                same = record["classifier"] == classifier and (record["level"] == level or roles.rank(record["generator"]) == 0)
                if same:
                    ax.step(recall, precision, where="post", linewidth=1.2, label=record["generator"], **styles[record["generator"]])
            ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
            ax.set_title(_fit(f"{classifier} @ {level:.2%}", 38), loc="left")
            ax.grid(alpha=0.25)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        _legend(fig, axes)
        return fig


def throughput_figure(records: list[dict[str, Any]]) -> Any:
    """Generation texts/s and tokens/s per generator; training and prediction samples/s per classifier (log scale)."""
    bars = (
        ("generation_texts_per_s", "generator", "generation: accepted texts/s"),
        ("generation_tokens_per_s", "generator", "generation: new tokens/s"),
        ("train_samples_per_s", "classifier", "training: samples/s"),
        ("predict_samples_per_s", "classifier", "prediction: samples/s"),
    )
    from matplotlib.ticker import NullFormatter

    one_dataset(records)
    with _style("throughput") as plt:
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), squeeze=False)
        for ax, (key, by, title) in zip(axes[0], bars, strict=True):
            means = _means(records, key, by)
            ax.barh(list(means), list(means.values()), color="#4c72b0")
            if means:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks of a log axis crowd each other
            else:
                ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
            ax.invert_yaxis()
            ax.set_title(title, loc="left")
            ax.grid(axis="x", alpha=0.25)
        fig.set_layout_engine("constrained")
        return fig


def _means(records: list[dict[str, Any]], key: str, by: str) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for record in records:
        value = record.get(key)
        if isinstance(value, (int, float)) and value > 0:
            groups.setdefault(str(record[by]), []).append(float(value))
    return {name: sum(v) / len(v) for name, v in sorted(groups.items())}


def pr_curve(scores: Any, labels: Any, weights: Any) -> tuple[Any, Any]:
    """Recall and precision on test with the sample weights of the metrics (positives at the deployment prevalence)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, scores, sample_weight=weights)
    return recall, precision


def functional_heatmap(matrix: Any) -> Any:
    """Accuracy per functionality (rows, hateful ones first) × configuration (columns), 0 red to 1 green, values in %.

    Drawn as vector quads (``pcolormesh``, colour bar not rasterized): no embedded image, so the SVG loads nothing.
    """
    import numpy as np

    rows, cols = len(matrix.rows), len(matrix.columns)
    with _style("functional") as plt:
        fig, ax = plt.subplots(figsize=(max(4.5, 0.36 * cols + 3.2), 0.24 * rows + 2.6), layout="constrained")
        data = np.ma.masked_invalid(np.array([[np.nan if v is None else v for v in line] for line in matrix.values], dtype=float))
        mesh = ax.pcolormesh(data, cmap="RdYlGn", vmin=0.0, vmax=1.0, edgecolors="white", linewidth=0.3)
        for i, line in enumerate(matrix.values):
            for j, value in enumerate(line):
                if value is not None:
                    ax.text(j + 0.5, i + 0.5, f"{value * 100:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if value < 0.2 or value > 0.85 else "black")
        ax.set_xticks([j + 0.5 for j in range(cols)], matrix.columns, rotation=60, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_yticks([i + 0.5 for i in range(rows)],
                      [f"{name} ({'hateful' if h else 'non-hateful'})" for name, h in zip(matrix.rows, matrix.hateful, strict=True)], fontsize=7)
        ax.set(xlim=(0, cols), ylim=(rows, 0))
        split = sum(matrix.hateful)
        if 0 < split < rows:
            ax.axhline(split, color="#222222", linewidth=1.2)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(f"{matrix.evaluation}: accuracy (%) per functionality at the validation threshold", loc="left")
        bar = fig.colorbar(mesh, ax=ax, shrink=0.5, aspect=30, pad=0.01, label="accuracy")
        bar.solids.set_rasterized(False)
        return fig


# --- the exchange rate: the calibration curve with each generator placed on it ----------------------


@dataclass(frozen=True)
class Placed:
    """A generator configuration on the curve: its worth (x) with its 95 % interval, and its metric (y, mean over seeds)."""

    label: str
    generator: str
    worth: float
    low: float
    high: float
    value: float
    edge: str = ""  # "≥" above the curve's top, "≤" below its bottom: drawn at the axis edge


@dataclass(frozen=True)
class CalibrationPanel:
    """One classifier's calibration curve (real positives added to the reference's, mean over seeds with the seeds'
    range) and the configurations placed on it; ``unplaced`` counts those with no worth (a flat curve)."""

    dataset: str
    classifier: str
    base: float
    x: tuple[float, ...]
    y: tuple[float, ...]
    y_low: tuple[float, ...]
    y_high: tuple[float, ...]
    placed: tuple[Placed, ...] = ()
    unplaced: int = 0


_LABEL_PT = 7.5


def calibration_figure(panels: Sequence[CalibrationPanel], metric: str = "pauroc@0.1", dataset: str = "") -> Any:
    """The upper bound's calibration curve (metric against real training positives), a panel per classifier, with
    each generator configuration placed at (its worth, its metric) and its worth's interval as a horizontal bar.

    Labels sit in a column right of each panel, spread so that none overlaps, each tied to its point by a thin line.
    """
    one_dataset(panels)
    placed = _order([p.generator for panel in panels for p in panel.placed])  # a colour each, baselines too: black is the curve's
    styles = {g: {"color": _PALETTE[i % len(_PALETTE)]} for i, g in enumerate(placed)}
    heights = [max(2.3, 0.2 * len(panel.placed) + 1.1) for panel in panels]
    with _style("calibration") as plt:
        fig, axes = plt.subplots(len(panels), 1, figsize=(8.4, sum(heights) + 0.9), squeeze=False,
                                 gridspec_kw={"height_ratios": heights}, layout="constrained")
        for ax, panel, height in zip(axes[:, 0], panels, heights, strict=True):
            _calibration_panel(ax, panel, styles, height)
            ax.set_ylabel(f"{_metric_name(metric)} (mean of seeds)", fontsize=8)
        axes[-1, 0].set_xlabel("real training positives added to real-only's (below 0: taken away)")
        where = f"{dataset}: " if dataset else ""
        fig.suptitle(_fit(f"{where}{_metric_name(metric)} against real training positives, generators placed by worth", 90),
                     x=0.01, ha="left", fontsize=9.5)
        _legend(fig, axes)
        return fig


def _calibration_panel(ax: Any, panel: CalibrationPanel, styles: dict[str, dict[str, Any]], height: float) -> None:
    ax.vlines(panel.x, panel.y_low, panel.y_high, color="#8c8c8c", linewidth=2.2, alpha=0.5)
    ax.plot(panel.x, panel.y, marker="o", markersize=4, color="#555555", linewidth=1.4, label="the upper bound (the curve; bars: seeds' range)")
    ax.plot([0.0], [panel.y[list(panel.x).index(0.0)]] if 0.0 in panel.x else [], marker="s", markersize=7, color="#222222",
            # hollow, on top: seen under a cell at 0
            markerfacecolor="none", markeredgewidth=1.4, linestyle="none", label="the reference at the base share", zorder=5)
    for placed in panel.placed:
        colour = styles[placed.generator]["color"]
        marker = {"≥": ">", "≤": "<"}.get(placed.edge, "D")
        ax.errorbar(placed.worth, placed.value, xerr=[[placed.worth - placed.low], [placed.high - placed.worth]], fmt=marker,
                    color=colour, markersize=5, capsize=2.5, linewidth=1.1)
    _calibration_limits(ax, panel)
    _calibration_labels(ax, panel, styles, height)
    title = f"{panel.classifier}: real-only trains on {panel.base:.0f} real positives"
    if panel.unplaced:
        title += f"; {panel.unplaced} configuration{'s' if panel.unplaced != 1 else ''} not placed (flat curve: no worth)"
    ax.set_title(_fit(title, 70), loc="left", fontsize=8.5)
    ax.grid(alpha=0.25)


def _calibration_limits(ax: Any, panel: CalibrationPanel) -> None:
    xs = [*panel.x, *(p.low for p in panel.placed), *(p.high for p in panel.placed)]
    pad = max((max(xs) - min(xs)) * 0.04, 1.0)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ys = [*panel.y_low, *panel.y_high, *(p.value for p in panel.placed)]
    ypad = max((max(ys) - min(ys)) * 0.08, 0.005)
    ax.set_ylim(min(ys) - ypad, max(ys) + ypad)
    _floor_span(ax, 0.02)


def _calibration_labels(ax: Any, panel: CalibrationPanel, styles: dict[str, dict[str, Any]], height: float) -> None:
    """Each placed configuration's label right of the axes, in the order of its y, at least a line apart."""
    if not panel.placed:
        return
    low, high = ax.get_ylim()
    order = sorted(panel.placed, key=lambda p: p.value)
    wanted = [(p.value - low) / (high - low) for p in order]
    gap = _LABEL_PT * 1.45 / 72 / max(height - 0.7, 0.5)  # a line of text, as a fraction of the axes' height
    spread = _spread(wanted, gap)
    for placed, y in zip(order, spread, strict=True):
        ax.annotate(placed.label, xy=(placed.worth, placed.value), xycoords="data", xytext=(1.02, y), textcoords="axes fraction",
                    fontsize=_LABEL_PT, va="center", ha="left", color=styles[placed.generator]["color"], annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": styles[placed.generator]["color"], "linewidth": 0.5, "alpha": 0.5,
                                "shrinkA": 0, "shrinkB": 3})


def _spread(wanted: list[float], gap: float) -> list[float]:
    """Positions near ``wanted`` (rising) at least ``gap`` apart, kept within [0, 1] where they fit (else from 0 up)."""
    out: list[float] = []
    for y in wanted:
        out.append(max(y, out[-1] + gap) if out else y)
    overflow = out[-1] - 1.0 if out else 0.0
    if overflow > 0:
        out = [y - overflow for y in out]
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    if out and out[0] < 0:
        out = [y - out[0] for y in out]
    return out
